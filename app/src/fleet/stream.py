"""The streaming ETL (``fleet etl stream``): one reading per device per tick, forever.

It ingests ``FLEET_INGEST_FLEETS`` (its data center's share of the fleets; a failover moves a
lost DC's share to the survivors). Readings it cannot write wait in a durable spool and are
replayed in order (:mod:`fleet.replay`); with a spool it also *starts* without Cassandra: when
the first connection attempt fails, the connection is opened in the background, retried with a
bounded backoff, and readings go to the spool until it succeeds, so a restart during an outage
of its DC (a failover restarts it) loses nothing. Without a spool it fails at once when
Cassandra cannot be reached, as before.

After every tick the stats file (``--stats-file``) gets the counters, the spool, and every node
with the driver's view of it (up, open connections): the operations' pre-checks read it. With
``--metrics-listen`` the same counters and status are served to Prometheus (:mod:`fleet.exporter`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fleet.config import Settings
from fleet.etl import EtlOptions, EtlResult, EtlRun
from fleet.exporter import Exporter, Listen, serve_etl
from fleet.generator import FleetSimulator
from fleet.ledger import Ledger
from fleet.metrics import Metrics, previous_totals, write_stats
from fleet.replay import SpoolReplay
from fleet.schema import repair_deadline_s
from fleet.session import Connection, ConnectionCheckError, node_connections, renew_missing_pools
from fleet.spool import Spool

log = logging.getLogger(__name__)

CONNECT_RETRY_BASE_S = 1.0
# How often the stream asks the driver for the pools it lacks (fleet.session.renew_missing_pools).
POOL_CHECK_EVERY_S = 30.0


@dataclass(frozen=True)
class StreamOptions:
    interval_s: float = 5.0
    ticks: int | None = None
    rollup_every_s: float = 60.0
    stats_file: Path | None = None
    spool: Spool | None = None
    ledger: Ledger | None = None
    metrics_listen: Listen | None = None


class BackgroundConnector:
    """Opens the connection in a worker thread, again after each failure (1 s doubling up to
    the reconnection bound), so that the tick loop never waits for Cassandra."""

    def __init__(
        self,
        open_connection: Callable[[], Connection],
        max_delay_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open = open_connection
        self._max_delay_s = max_delay_s
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fleet-connect")
        self._future: Future[Connection] | None = None
        self._delay = CONNECT_RETRY_BASE_S
        self._next_try = 0.0
        self.last_error: str | None = None

    def poll(self) -> Connection | None:
        """The connection once opened; None while an attempt runs or waits for its retry."""
        if self._future is None:
            if self._clock() < self._next_try:
                return None
            self._future = self._pool.submit(self._open)
            return None
        if not self._future.done():
            return None
        future, self._future = self._future, None
        try:
            conn = future.result()
        except ConnectionCheckError as exc:
            if str(exc) != self.last_error:
                log.warning("Cassandra unreachable, readings go to the spool: %s", exc)
            self.last_error = str(exc)
            self._next_try = self._clock() + self._delay
            self._delay = min(self._max_delay_s, self._delay * 2)
            return None
        self.last_error = None
        return conn

    def close(self) -> None:
        """Stop retrying; a connection opened meanwhile is shut down."""
        future, self._future = self._future, None
        self._pool.shutdown(wait=True)
        if future is not None and future.done() and future.exception() is None:
            future.result().close()


def _stats(
    settings: Settings, conn: Connection | None, spool: Spool | None, error: str | None
) -> dict[str, Any]:
    oldest = spool.oldest_ts if spool is not None else None
    return {
        "local_dc": settings.local_dc,
        "ingest_fleets": list(settings.ingest_fleets),
        "connected": conn is not None,
        "connect_error": error,
        "spool": None
        if spool is None
        else {
            "pending_records": spool.pending_records,
            "pending_bytes": spool.pending_bytes,
            "oldest_ts": oldest.isoformat() if oldest else None,
        },
        "nodes": node_connections(conn) if conn is not None else [],
    }


def _repair_deadline(conn: Connection | None, keyspace: str) -> int | None:
    """The keyspace's repair deadline as the live schema sets it (the driver's metadata)."""
    meta = conn.cluster.metadata.keyspaces.get(keyspace) if conn is not None else None
    if meta is None:
        return None
    return repair_deadline_s({name: dict(t.options) for name, t in meta.tables.items()})


def run_stream(
    settings: Settings,
    open_connection: Callable[[], Connection],
    stream: StreamOptions,
    options: EtlOptions,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> EtlResult:
    """One reading per device every ``interval_s`` (wall clock) until ``ticks`` or stopped."""
    stop = options.stop or threading.Event()
    metrics = Metrics("stream")
    replay = SpoolReplay(stream.spool, metrics) if stream.spool is not None else None
    # No fleet to ingest (a failover moved them all): the run only replays its spool.
    simulator = (
        FleetSimulator(
            settings.ingest_fleets,
            settings.devices_per_fleet,
            settings.seed,
            now(),
            stream.interval_s,
        )
        if settings.ingest_fleets
        else None
    )
    connector: BackgroundConnector | None = None
    conn: Connection | None = None
    status: dict[str, Any] | None = None  # the last tick's, for the exporter
    exporter: Exporter | None = None
    run: EtlRun | None = None
    totals = previous_totals(stream.stats_file) if stream.stats_file is not None else None
    clock = metrics.clock
    done = 0
    try:
        if stream.metrics_listen is not None:
            exporter = serve_etl(stream.metrics_listen, metrics, lambda: status)
        try:
            conn = open_connection()
        except ConnectionCheckError as exc:
            if replay is None:
                raise
            log.warning("Cassandra unreachable at start, readings go to the spool: %s", exc)
            connector = BackgroundConnector(open_connection, settings.reconnect_max_delay_s)
            connector.last_error = str(exc)
        next_due = last_rollup = last_pool_check = clock()
        while not stop.is_set():
            if run is None and conn is None and connector is not None:
                conn = connector.poll()
            if run is None and conn is not None:
                registry = simulator.devices if simulator else ()
                run = EtlRun(conn, "stream", options, registry, metrics=metrics, replay=replay)
            if simulator is not None:
                at = now()
                try:
                    points = simulator.tick(at=at)
                except ValueError as exc:  # the wall clock stepped back (NTP): skip the tick
                    log.warning("tick skipped: %s", exc)
                    points = []
                if run is not None:
                    run.write(points)
                elif replay is not None:
                    replay.store(points)
                # After the write or the spool: a crash in between leaves a reading stored but
                # not in the ledger (harmless), never one in the ledger that nothing holds.
                if stream.ledger is not None:
                    stream.ledger.record(at, points)
            done += 1
            if stream.ticks is not None and done >= stream.ticks:
                break
            if (
                run is not None
                and options.rollups
                and clock() - last_rollup >= stream.rollup_every_s
            ):
                run.refresh_rollups(wait=False)  # read in the background: writes go on
                last_rollup = clock()
            next_due += stream.interval_s
            if clock() > next_due + stream.interval_s:
                log.warning(
                    "stream is %.1fs behind schedule: writes are slower than the interval",
                    clock() - next_due,
                )
                next_due = clock()
            if run is not None:
                run.pump(next_due, stop)
            else:
                stop.wait(max(0.0, next_due - clock()))
            if conn is not None and clock() - last_pool_check >= POOL_CHECK_EVERY_S:
                last_pool_check = clock()
                if renewed := renew_missing_pools(conn):
                    log.warning(
                        "no connection pool to %s: asked the driver for one", ", ".join(renewed)
                    )
            if stream.stats_file is not None or exporter is not None:
                in_flight = run.pipeline.in_flight if run is not None else 0
                error = connector.last_error if connector is not None else None
                extra = _stats(settings, conn, stream.spool, error)
            if exporter is not None:
                status = {
                    **extra,
                    "in_flight": in_flight,
                    "updated_at": time.time(),
                    "keyspace": settings.keyspace,
                    "repair_deadline_s": _repair_deadline(conn, settings.keyspace),
                }
            if stream.stats_file is not None:
                write_stats(stream.stats_file, metrics, in_flight, extra, totals)
        if run is not None and replay is not None:
            replay.flush()
        result = run.finish() if run is not None else _unconnected_result(metrics, options)
        if stream.stats_file is not None:
            extra = _stats(settings, conn, stream.spool, None)
            write_stats(stream.stats_file, metrics, 0, extra, totals)
        return result
    finally:
        if exporter is not None:
            exporter.close()
        if connector is not None:
            connector.close()
        if conn is not None:
            conn.close()
        if stream.spool is not None:
            stream.spool.close()  # what it holds waits on disk for the next run
        if stream.ledger is not None:
            stream.ledger.close()


def _unconnected_result(metrics: Metrics, options: EtlOptions) -> EtlResult:
    """Stopped before Cassandra could be reached: everything generated is in the spool."""
    metrics.finish()
    result = EtlResult(metrics)
    result.interrupted = bool(options.stop and options.stop.is_set())
    return result
