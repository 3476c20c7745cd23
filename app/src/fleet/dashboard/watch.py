"""``fleet probe pages``: is the dashboard serving, round after round, through an outage?

Every ``interval`` seconds, for every fleet of ``FLEET_FLEETS``, every page's whole data fetch
(:func:`fleet.dashboard.bench.page_fetches`: the code the pages run, with the dashboard's own
role and read policy), uncached. Each (round, fleet) outcome is one JSON line, flushed at once:
the time, whether every page answered, the slowest page, the pages that failed and why. A drill
runs it on the app host that watches the outage, then summarizes the lines
(``drill_pages_summary`` in the drill role) against its timeline.

A connection that cannot be opened, or statements that cannot be prepared (the DC down from
the start), make a failed round, tried again at the next one: the watcher never stops on
Cassandra's errors.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from fleet.config import Settings
from fleet.dashboard.bench import BenchTarget, page_fetches
from fleet.dashboard.outage import describe_error
from fleet.queries import FleetQueries
from fleet.session import Connection, connect


@dataclass(frozen=True, slots=True)
class PagesRound:
    """One fleet's pages in one round (one JSON line)."""

    t: float  # epoch seconds when the round began
    fleet: str
    ok: bool
    ms: float  # the slowest page's fetch, or the time to fail
    failed: dict[str, str] = field(default_factory=dict)  # page -> short error

    def to_line(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


def fleet_round(
    conn: Connection,
    queries: FleetQueries,
    fleet_id: str,
    day: Any,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, dict[str, str]]:
    """Every page of ``fleet_id`` once: (slowest page in ms, failed pages with their error)."""
    keyspace = conn.settings.keyspace
    device = f"{fleet_id.removeprefix('FLEET_')}-0001"
    target = BenchTarget(fleet_id, device, day)
    slowest, failed = 0.0, {}
    started = clock()
    try:
        fetches = page_fetches(queries, conn.cluster.metadata, keyspace, target)
    except Exception as exc:  # the Devices page's first page is read up front
        return (clock() - started) * 1000.0, {"devices": describe_error(exc)}
    for page, fetch in fetches.items():
        started = clock()
        try:
            fetch()
        except Exception as exc:  # a page that cannot answer is the outcome, not a crash
            failed[page] = describe_error(exc)
        slowest = max(slowest, (clock() - started) * 1000.0)
    return slowest, failed


class PagesWatcher:
    """Round after round, every fleet's pages; the connection is (re)opened as needed."""

    def __init__(
        self,
        settings: Settings,
        out: TextIO,
        open_connection: Callable[[Settings], Connection] = connect,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.out = out
        self._open = open_connection
        self._wall = wall
        self._conn: Connection | None = None
        self._queries: FleetQueries | None = None
        self.rounds = 0
        self.failed_rounds = 0

    def round(self) -> list[PagesRound]:
        t = self._wall()
        day = datetime.fromtimestamp(t, UTC).date()
        results = []
        try:
            conn, queries = self._ready()
        except Exception as exc:  # cannot connect or prepare: the DC does not answer
            reason = describe_error(exc)
            results = [PagesRound(t, f, False, 0.0, {"*": reason}) for f in self.settings.fleets]
        else:
            for fleet in self.settings.fleets:
                ms, failed = fleet_round(conn, queries, fleet, day)
                results.append(PagesRound(t, fleet, not failed, round(ms, 1), failed))
        for result in results:
            self.out.write(result.to_line() + "\n")
        self.out.flush()
        self.rounds += 1
        self.failed_rounds += any(not r.ok for r in results)
        return results

    def _ready(self) -> tuple[Connection, FleetQueries]:
        """The connection and the prepared read layer, made at the first round that can."""
        if self._conn is None:
            self._conn = self._open(self.settings)
        if self._queries is None:
            conn = self._conn
            self._queries = FleetQueries(
                conn.session, conn.settings.keyspace, degraded_profile=conn.degraded_profile
            )
        return self._conn, self._queries

    def run(self, interval_s: float, stop: threading.Event, duration_s: float | None) -> None:
        start = next_due = time.monotonic()
        while not stop.is_set() and (duration_s is None or time.monotonic() - start < duration_s):
            self.round()
            next_due += interval_s
            stop.wait(max(0.0, next_due - time.monotonic()))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def run_pages_probe(
    settings: Settings,
    interval_s: float,
    out_path: Path,
    stop: threading.Event,
    duration_s: float | None = None,
) -> tuple[int, int]:
    """Watch until stopped; returns (rounds, rounds with a failed page)."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("a", encoding="utf-8") as out:
        watcher = PagesWatcher(settings, out)
        try:
            watcher.run(interval_s, stop, duration_s)
        finally:
            watcher.close()
    return watcher.rounds, watcher.failed_rounds
