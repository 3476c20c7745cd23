"""ETL runs: source -> validation -> write pipeline -> rollups -> metrics.

The CLI only parses options and prints; each command is one function here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

from fleet.csv_source import (
    CSV_COLUMNS,
    MAX_LINE_LENGTH,
    REJECT_COLUMNS,
    LazyCsvFile,
    Reject,
    format_ts,
    open_csv,
    read_points,
)
from fleet.generator import fleet_devices, generate_history
from fleet.metrics import Metrics, ProgressReporter
from fleet.minutes import Fetched, RollupReader, Span, TouchedSpans, read_back_consistency
from fleet.model import Device, TelemetryPoint
from fleet.plan import (
    Mutation,
    WriteMode,
    WritePlanner,
    device_hour_mutation,
    minute_mutation,
    rollup_mutation,
)
from fleet.replay import SpoolReplay
from fleet.schema import DEVICE_HOURS, DEVICE_MINUTES, DEVICES, ROLLUPS
from fleet.session import Connection
from fleet.transform import (
    DeviceHour,
    HourlyRollup,
    RollupKey,
    fleet_hour_rollup,
    validate_point,
)
from fleet.writer import WritePipeline, make_pipeline

log = logging.getLogger(__name__)

MAX_LISTED_FAILURES = 20
# Readings planned at a time. Readings come in time order, a few per device per second: the
# larger the chunk, the more readings of one device-day partition share one batch (1,000
# devices reporting once a minute: 50 per batch). ~1 KB of memory per reading while planned.
CHUNK_SIZE = 50_000


@dataclass(frozen=True)
class EtlOptions:
    mode: WriteMode = WriteMode.BATCH
    chunk_size: int = CHUNK_SIZE
    rollups: bool = True
    progress_interval_s: float = 5.0
    progress_out: TextIO | None = None
    failed_out: Path | None = None
    stop: threading.Event | None = None  # set: stop reading input, finish what is in flight


@dataclass
class EtlResult:
    metrics: Metrics
    failures: list[str] = field(default_factory=list)  # the first MAX_LISTED_FAILURES
    rollups: list[HourlyRollup] = field(default_factory=list)
    minutes_recomputed: int = 0  # rows of device_analytics_by_day submitted
    hours_recomputed: int = 0  # rows of device_hours_by_fleet_day submitted
    rollup_retries: int = 0  # failed recomputes or writes, tried again at the next refresh
    rollup_failures: list[str] = field(default_factory=list)  # failed in the last refresh
    failed_file: Path | None = None
    interrupted: bool = False  # stopped (Ctrl-C) before the input was exhausted

    @property
    def ok(self) -> bool:
        m = self.metrics
        return m.lost == 0 and m.unresolved == 0 and not self.rollup_failures


class EtlRun:
    """One run's pipeline and bookkeeping: what to roll up, which records failed."""

    def __init__(
        self,
        conn: Connection,
        label: str,
        options: EtlOptions,
        registry: Iterable[Device] = (),
        metrics: Metrics | None = None,
        replay: SpoolReplay | None = None,
    ) -> None:
        self.conn = conn
        self.options = options
        self.metrics = metrics or Metrics(label)
        self.planner = WritePlanner(registry)
        self.touched: set[RollupKey] = set()  # fleet hours to recompute besides the spans'
        self.spans = TouchedSpans()  # device minutes and hours
        self.result = EtlResult(self.metrics)
        self._failed = LazyCsvFile(options.failed_out, CSV_COLUMNS) if options.failed_out else None
        self._reader: RollupReader | None = None
        self._fleet_of: dict[str, str] = {}  # device -> fleet, for rollup rows that failed
        self._last_refresh = False
        settings = conn.settings
        self._read_level = read_back_consistency(
            settings.consistency, settings.replication.get(settings.local_dc or "")
        )
        self._degraded_seen = 0  # metrics.degraded_writes at the last read-back
        self._refresh: tuple[Future[Fetched], list[Span], list[RollupKey]] | None = None
        self._refresh_pool: ThreadPoolExecutor | None = None
        self.pipeline: WritePipeline = make_pipeline(
            conn,
            self.metrics,
            self.planner,
            options.mode,
            progress=ProgressReporter(options.progress_interval_s, options.progress_out),
            on_record=self._on_record,
            on_mutation_failed=self._on_mutation_failed,
        )
        self.replay = replay  # the stream's spool: failed readings wait there, then replay
        if replay is not None:
            replay.attach(self.pipeline, self._on_record)

    def _on_record(self, point: TelemetryPoint, failure: str | None) -> None:
        if failure is None:
            self.spans.add(point)
            self._fleet_of[point.device_id] = point.fleet_id
            self.metrics.record_written(point.fleet_id)
            return
        if self.replay is not None:  # kept for a replay (or dropped, counted, if it is full)
            self.replay.store([point])
            self.metrics.failed_spooled += 1
            return
        if len(self.result.failures) < MAX_LISTED_FAILURES:
            self.result.failures.append(f"{point.device_id} {format_ts(point.ts)}: {failure}")
        if self._failed is not None:
            self._failed.write_point(point)

    def _on_mutation_failed(self, mutation: Mutation, reason: str) -> None:
        if mutation.table is DEVICES:
            self.planner.forget_device(str(mutation.values[DEVICES.columns.index("device_id")]))
            return
        row: dict[str, Any] = dict(zip(mutation.table.columns, mutation.values, strict=False))
        if mutation.table is ROLLUPS:
            key = RollupKey(row["fleet_id"], row["day"], row["hour"])
            self.touched.add(key)
            self._rollup_failed(f"{key.fleet_id} {key.day} {key.hour:02d}h: {reason}")
        elif mutation.table is DEVICE_MINUTES:
            device_id = row["device_id"]
            fleet_id = self._fleet_of.get(device_id, "")
            span = Span(device_id, row["day"], row["minute"], row["minute"], fleet_id)
            self.spans.merge(span)
            self._rollup_failed(f"{span.device_id} {span.first:%F %H:%M}: {reason}")
        elif mutation.table is DEVICE_HOURS:
            key = RollupKey(row["fleet_id"], row["day"], row["hour"])
            start = key.start
            self.spans.merge(Span(row["device_id"], key.day, start, start, key.fleet_id))
            self._rollup_failed(f"{row['device_id']} {key.day} {key.hour:02d}h: {reason}")

    def _rollup_failed(self, message: str) -> None:
        """What failed was put back to be recomputed: at the next refresh, or, when this was
        the run's last one, never: then the run fails."""
        if self._last_refresh:
            self.result.rollup_failures.append(message)
        else:
            self.result.rollup_retries += 1
            log.warning("rollup failed, retried at the next refresh: %s", message)

    def write(self, points: Iterable[TelemetryPoint], *, validate: bool = True) -> None:
        """Submit ``points`` chunk by chunk; invalid ones are counted as rejected."""
        chunk: list[TelemetryPoint] = []
        stop = self.options.stop
        for point in points:
            if stop is not None and stop.is_set():
                break
            if validate:
                reasons = validate_point(point, now=datetime.now(UTC))
                if reasons:
                    self.metrics.records_rejected += 1
                    log.warning("rejected %s %s: %s", point.device_id, point.ts, "; ".join(reasons))
                    continue
            chunk.append(point)
            if len(chunk) >= self.options.chunk_size:
                self._submit(chunk)
                chunk = []
        self._submit(chunk)

    def _submit(self, points: list[TelemetryPoint]) -> None:
        """Write ``points``, or queue them behind the readings the spool holds."""
        if self.replay is not None and self.replay.holding:
            self.replay.store(points)
        else:
            self.pipeline.submit_points(points)

    def pump(self, deadline: float, stop: threading.Event) -> None:
        """Handle writes until ``deadline``, replaying the spool chunk after chunk, and take in
        the rollups' read-back when it is done."""
        clock = self.metrics.clock
        while not stop.is_set():
            if self.replay is not None:
                self.replay.step()
            self._collect_refresh(wait=False)
            self.pipeline.pump(deadline=min(deadline, clock() + 0.25), stop=stop)
            if clock() >= deadline:
                return

    def refresh_rollups(self, spans: Sequence[Span] | None = None, *, wait: bool = True) -> None:
        """Recompute the device minutes and hours and the fleet hours touched since the last
        refresh (or those of the given ``spans`` of device-days, and ``touched``).

        The reads run in a worker thread; ``wait=False`` (streaming) returns at once and
        :meth:`pump` submits the rows when they are read. One refresh at a time: while one is
        being read, another ``wait=False`` request is skipped (its spans wait for the next)."""
        if self._refresh is not None:
            if not wait:
                return
            self._collect_refresh(wait=True)
        taken = self.spans.take() if spans is None else list(spans)
        keys = sorted(self.touched.union(*(span.fleet_hours for span in taken)))
        self.touched = set()
        if not taken and not keys:
            return
        # Degraded writes (one replica) since the last read-back: read at the write level.
        degraded = self.metrics.degraded_writes != self._degraded_seen
        self._degraded_seen = self.metrics.degraded_writes
        level = self.conn.settings.consistency if degraded else self._read_level
        if self._refresh_pool is None:
            self._refresh_pool = ThreadPoolExecutor(1, thread_name_prefix="fleet-rollups")
        future = self._refresh_pool.submit(self.reader().fetch, taken, keys, level)
        self._refresh = (future, taken, keys)
        if wait:
            self._collect_refresh(wait=True)

    def _collect_refresh(self, *, wait: bool) -> None:
        if self._refresh is None or not (wait or self._refresh[0].done()):
            return
        future, spans, keys = self._refresh
        self._refresh = None
        try:
            fetched = future.result()
        except Exception as exc:  # the whole read-back failed (e.g. no host): all again later
            fetched = Fetched(
                failed_spans=[(span, exc) for span in spans],
                failed_keys=[(key, exc) for key in keys],
            )
        self._submit_rollups(fetched, keys)

    def _submit_rollups(self, fetched: Fetched, keys: Sequence[RollupKey]) -> None:
        for span, exc in fetched.failed_spans:  # e.g. a replica down
            self.metrics.record_error(exc)
            self.spans.merge(span)
            self._rollup_failed(f"{span.device_id} {span.day}: {type(exc).__name__}: {exc}")
        for key, exc in fetched.failed_keys:
            self.metrics.record_error(exc)
            self.touched.add(key)
            self._rollup_failed(f"{key}: {type(exc).__name__}: {exc}")
        # A fleet hour with a device hour that could not be read waits for the next refresh.
        pending = {key for span, _ in fetched.failed_spans for key in span.fleet_hours}
        fresh: dict[RollupKey, list[DeviceHour]] = {}
        for hour in fetched.hours:
            fresh.setdefault(hour.key, []).append(hour)
        rollups = []
        for key in keys:
            if key in pending or key not in fetched.stored_hours:
                continue
            rollup = fleet_hour_rollup(
                key, fetched.stored_hours[key], fresh.get(key, []), fetched.alert_counts[key]
            )
            if rollup is not None:
                rollups.append(rollup)
        self.pipeline.submit_mutations(minute_mutation(m) for m in fetched.minutes)
        self.pipeline.submit_mutations(device_hour_mutation(h) for h in fetched.hours)
        self.pipeline.submit_mutations(rollup_mutation(r) for r in rollups)
        self.result.minutes_recomputed += len(fetched.minutes)
        self.result.hours_recomputed += len(fetched.hours)
        self.result.rollups.extend(rollups)

    def reader(self) -> RollupReader:
        if self._reader is None:
            self._reader = RollupReader(self.conn.session, self.conn.settings.keyspace)
        return self._reader

    def finish(self, spans: Sequence[Span] | None = None) -> EtlResult:
        self.result.interrupted = bool(self.options.stop and self.options.stop.is_set())
        self.pipeline.drain()
        self._collect_refresh(wait=True)  # a streaming refresh still being read
        self.pipeline.drain()
        self._last_refresh = True  # what fails from here on is not retried: reported
        if self.options.rollups:
            self.refresh_rollups(spans)
            self.pipeline.drain()
        if self._refresh_pool is not None:
            self._refresh_pool.shutdown(wait=True)
        self.metrics.finish()
        if self._failed is not None:
            self._failed.close()
            self.result.failed_file = self._failed.path if self._failed.count else None
        if self.metrics.unresolved:  # a bug if it ever happens: say so loudly
            log.error("%d records neither written nor failed", self.metrics.unresolved)
        return self.result


def _registry(conn: Connection) -> tuple[Device, ...]:
    s = conn.settings
    return fleet_devices(s.fleets, s.devices_per_fleet, s.seed)


def run_batch(
    conn: Connection, records: int, end: datetime, interval_s: float, options: EtlOptions
) -> EtlResult:
    """History backfill: ``records`` readings ending at ``end``, generated while writing."""
    s = conn.settings
    run = EtlRun(conn, f"batch/{options.mode}", options, registry=_registry(conn))
    run.write(generate_history(s.fleets, s.devices_per_fleet, s.seed, records, end, interval_s))
    return run.finish()


def run_import(
    conn: Connection,
    path: Path,
    rejects_path: Path,
    options: EtlOptions,
    max_line_length: int = MAX_LINE_LENGTH,
) -> tuple[EtlResult, int]:
    """Load a CSV file; bad lines go to ``rejects_path``. Returns the result and reject count."""
    run = EtlRun(conn, "import", options)
    with (
        open_csv(path) as lines,
        LazyCsvFile(rejects_path, REJECT_COLUMNS, "surrogateescape") as rj,
    ):

        def on_reject(reject: Reject) -> None:
            rj.write_reject(reject)
            run.metrics.records_rejected += 1

        points = read_points(
            lines, now=datetime.now(UTC), on_reject=on_reject, max_line_length=max_line_length
        )
        run.write(points, validate=False)
        return run.finish(), rj.count


def check_csv(
    path: Path, rejects_path: Path, max_line_length: int = MAX_LINE_LENGTH
) -> tuple[int, int]:
    """Offline ``import --dry-run``: (valid rows, rejected rows); rejects written as in import."""
    valid = 0
    with (
        open_csv(path) as lines,
        LazyCsvFile(rejects_path, REJECT_COLUMNS, "surrogateescape") as rj,
    ):
        for _ in read_points(
            lines,
            now=datetime.now(UTC),
            on_reject=rj.write_reject,
            max_line_length=max_line_length,
        ):
            valid += 1
        return valid, rj.count


def run_rollup(
    conn: Connection, day: date, fleets: Sequence[str], options: EtlOptions
) -> EtlResult:
    """Recompute ``day``'s hourly rollups of ``fleets``, and the minutes of their registered
    devices, from stored telemetry."""
    run = EtlRun(conn, "rollup", replace(options, rollups=True))
    run.touched = {RollupKey(f, day, hour) for f in fleets for hour in range(24)}
    reader = run.reader()
    spans = [Span.whole_day(f, d, day) for f in fleets for d in reader.device_ids(f)]
    return run.finish(spans)
