"""Drill probe: sequence-numbered writes at chosen consistency levels, then their read-back.

``fleet probe write`` writes one row per consistency level every ``interval`` seconds into
``drill_probe`` (partition = run and level, clustering = sequence number), with no retry, and
records every attempt as one JSON line, flushed at once: acknowledged or failed, the error's
type, the time and the latency. A drill runs it while it breaks the cluster.

``fleet probe verify`` reads that file and the table back at LOCAL_QUORUM through each data
center. An acknowledged write missing from a DC is *lost*; a failed write found anyway is
counted too (a timeout does not mean "not written"). Lost must be 0.

Data flows one way: attempts -> acks file -> :func:`summarize` + :func:`read_back` -> report.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from cassandra import ConsistencyLevel
from cassandra.cluster import Session
from cassandra.query import SimpleStatement

from fleet.config import Settings
from fleet.exporter import ExporterError, Listen, serve_probe
from fleet.metrics import LatencyHistogram, percentile
from fleet.schema import DRILL_PROBE
from fleet.session import connect, connect_dc

log = logging.getLogger(__name__)

# Consistency levels a probe may write at (serial levels make no sense for a blind insert).
PROBE_LEVELS = ("ANY", "ONE", "TWO", "LOCAL_ONE", "LOCAL_QUORUM", "QUORUM", "EACH_QUORUM", "ALL")
MAX_OUTSTANDING = 1000
READ_PAGE_SIZE = 5000


@dataclass(frozen=True, slots=True)
class Attempt:
    """One probe write and its outcome (one line of the acks file)."""

    seq: int
    cl: str
    t: float  # epoch seconds when the write was sent
    ok: bool
    ms: float
    error: str | None = None

    def to_line(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_line(cls, line: str) -> Attempt:
        data = json.loads(line)
        return cls(
            seq=int(data["seq"]),
            cl=str(data["cl"]),
            t=float(data["t"]),
            ok=bool(data["ok"]),
            ms=float(data["ms"]),
            error=data.get("error"),
        )


def parse_levels(levels: Iterable[str]) -> tuple[str, ...]:
    """Upper-cased, deduplicated, in the given order; unknown levels raise ValueError."""
    result: list[str] = []
    for level in (lv.strip().upper() for lv in levels):
        if level not in PROBE_LEVELS:
            raise ValueError(f"unknown consistency level {level!r}; use {', '.join(PROBE_LEVELS)}")
        if level not in result:
            result.append(level)
    if not result:
        raise ValueError("give at least one consistency level")
    return tuple(result)


# ----------------------------------------------------------------------------- writing


Outcomes = dict[tuple[str, bool], int]  # (level, acknowledged) -> writes
Failures = dict[tuple[str, str], int]  # (level, error type) -> failed writes


class ProbeStats:
    """Outcomes so far, per level: what the probe prints at its end and serves to Prometheus.

    The writer's thread records, the exporter's thread reads a :meth:`snapshot`; a lock keeps
    the two apart."""

    def __init__(self, levels: Iterable[str]) -> None:
        self._lock = threading.Lock()
        self._outcomes: Counter[tuple[str, bool]] = Counter()
        self._errors: Counter[tuple[str, str]] = Counter()
        self._latency = {level: LatencyHistogram() for level in levels}

    def record(self, attempt: Attempt) -> None:
        with self._lock:
            self._outcomes[(attempt.cl, attempt.ok)] += 1
            if attempt.ok:
                self._latency[attempt.cl].observe(attempt.ms)
            else:
                self._errors[(attempt.cl, attempt.error or "unknown")] += 1

    def count(self, level: str, ok: bool) -> int:
        with self._lock:
            return self._outcomes[(level, ok)]

    def snapshot(self) -> tuple[Outcomes, Failures, dict[str, LatencyHistogram]]:
        """(outcomes by (level, ok), failures by (level, error), acked latencies by level),
        copies the caller may read at leisure."""
        with self._lock:
            latency = {level: h.copy() for level, h in self._latency.items()}
            return dict(self._outcomes), dict(self._errors), latency


class ProbeWriter:
    """Sends one write per level every ``interval_s``; outcomes go to ``out`` as JSON lines."""

    def __init__(
        self,
        session: Session,
        keyspace: str,
        run_id: str,
        levels: tuple[str, ...],
        out: TextIO,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._insert = session.prepare(DRILL_PROBE.insert_cql(keyspace))
        self._insert.is_idempotent = True
        self._run_id = run_id
        self._levels = levels
        self._out = out
        self._clock = clock
        self._wall = wall
        self._done: queue.Queue[Attempt] = queue.Queue()
        self._slots = threading.BoundedSemaphore(MAX_OUTSTANDING)
        self.stats = ProbeStats(levels)

    def run(self, interval_s: float, stop: threading.Event, duration_s: float | None) -> int:
        """Write until ``stop`` is set (or ``duration_s`` passed); returns the last sequence."""
        seq = 0
        start = next_due = self._clock()
        while not stop.is_set() and (duration_s is None or self._clock() - start < duration_s):
            seq += 1
            for level in self._levels:
                self._send(seq, level)
            self._flush()
            next_due += interval_s
            stop.wait(max(0.0, next_due - self._clock()))
        self._wait_outstanding()
        self._flush()
        return seq

    def _send(self, seq: int, level: str) -> None:
        if not self._slots.acquire(timeout=30.0):
            self._done.put(Attempt(seq, level, self._wall(), False, 0.0, "ProbeBackPressure"))
            return
        sent_at, started = self._wall(), self._clock()
        bound = self._insert.bind((self._run_id, level, seq, datetime.fromtimestamp(sent_at, UTC)))
        bound.consistency_level = ConsistencyLevel.name_to_value[level]
        try:
            future = self._session.execute_async(bound)
        except Exception as exc:  # e.g. NoHostAvailable raised before sending
            self._slots.release()
            self._done.put(Attempt(seq, level, sent_at, False, 0.0, type(exc).__name__))
            return

        def done(_: object, error: BaseException | None = None) -> None:
            ms = (self._clock() - started) * 1000.0
            name = None if error is None else type(error).__name__
            self._done.put(Attempt(seq, level, sent_at, error is None, round(ms, 3), name))
            self._slots.release()

        future.add_callbacks(done, lambda exc: done(None, exc))

    def _flush(self) -> None:
        while True:
            try:
                attempt = self._done.get_nowait()
            except queue.Empty:
                break
            self.stats.record(attempt)
            self._out.write(attempt.to_line() + "\n")
        self._out.flush()

    def _wait_outstanding(self, timeout_s: float = 120.0) -> None:
        deadline = self._clock() + timeout_s
        taken = 0
        while taken < MAX_OUTSTANDING and self._clock() < deadline:
            if self._slots.acquire(timeout=0.5):
                taken += 1
            self._flush()
        for _ in range(taken):
            self._slots.release()


def run_probe(
    settings: Settings,
    run_id: str,
    levels: tuple[str, ...],
    interval_s: float,
    out_path: Path,
    stop: threading.Event,
    duration_s: float | None = None,
    metrics_listen: Listen | None = None,
) -> dict[str, dict[str, int]]:
    """Connect, write until stopped, return {level: {"acked": n, "failed": n}}. With
    ``metrics_listen``, serve the outcomes to Prometheus meanwhile: a probe that cannot listen
    there says so and writes anyway (its writes are the drill's evidence, its metrics are not)."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with connect(settings) as conn, out_path.open("a", encoding="utf-8") as out:
        writer = ProbeWriter(conn.session, settings.keyspace, run_id, levels, out)
        exporter = None
        if metrics_listen is not None:
            try:
                exporter = serve_probe(metrics_listen, writer.stats)
            except ExporterError as exc:
                log.warning("%s; the probe writes without serving its metrics", exc)
        try:
            writer.run(interval_s, stop, duration_s)
        finally:
            if exporter is not None:
                exporter.close()
    stats = writer.stats
    return {
        level: {"acked": stats.count(level, True), "failed": stats.count(level, False)}
        for level in levels
    }


# ----------------------------------------------------------------------------- verifying


def read_attempts(path: Path) -> Iterator[Attempt]:
    """The acks file's attempts; a torn last line (the probe was killed mid-write) is skipped."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield Attempt.from_line(line)
            except (ValueError, KeyError, TypeError):
                log.warning("%s:%d: unreadable probe line skipped", path, number)


@dataclass
class LevelSummary:
    attempted: int = 0
    acked: int = 0
    failed: int = 0
    errors: dict[str, int] | None = None
    failure_windows: list[dict[str, Any]] | None = None
    ack_latency_ms: dict[str, float | None] | None = None


def _windows(failures: list[Attempt], gap: int = 1) -> list[dict[str, Any]]:
    """Runs of consecutive failed sequence numbers: when each started and ended, and its size."""
    windows: list[dict[str, Any]] = []
    for attempt in sorted(failures, key=lambda a: a.seq):
        last = windows[-1] if windows else None
        if last is not None and attempt.seq - last["last_seq"] <= gap:
            last.update(last_seq=attempt.seq, to=attempt.t, writes=last["writes"] + 1)
        else:
            windows.append(
                {
                    "first_seq": attempt.seq,
                    "last_seq": attempt.seq,
                    "from": attempt.t,
                    "to": attempt.t,
                    "writes": 1,
                }
            )
    return windows


def summarize(attempts: Iterable[Attempt]) -> dict[str, LevelSummary]:
    """Per level: attempts, acks, failures by error type, failure windows, ack latency."""
    by_level: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        by_level.setdefault(attempt.cl, []).append(attempt)
    result: dict[str, LevelSummary] = {}
    for level, items in by_level.items():
        failures = [a for a in items if not a.ok]
        latencies = sorted(a.ms for a in items if a.ok)
        result[level] = LevelSummary(
            attempted=len(items),
            acked=len(items) - len(failures),
            failed=len(failures),
            errors=dict(sorted(Counter(a.error or "?" for a in failures).items())),
            failure_windows=_windows(failures),
            ack_latency_ms={
                "p50": percentile(latencies, 50.0),
                "p99": percentile(latencies, 99.0),
                "max": latencies[-1] if latencies else None,
            },
        )
    return result


def read_back(session: Session, keyspace: str, run_id: str, level: str) -> set[int]:
    """Sequence numbers stored for ``(run_id, level)``, read at LOCAL_QUORUM (paged)."""
    statement = SimpleStatement(
        f"SELECT seq FROM {keyspace}.{DRILL_PROBE.name} WHERE run_id = %s AND consistency = %s",
        consistency_level=ConsistencyLevel.LOCAL_QUORUM,
        fetch_size=READ_PAGE_SIZE,
    )
    return {row.seq for row in session.execute(statement, (run_id, level), timeout=60.0)}


def compare(
    attempts: list[Attempt], stored: dict[str, set[int]]
) -> dict[str, dict[str, int | list[int]]]:
    """For one DC's read-back: per level, lost acks (with a sample) and failed-but-stored."""
    out: dict[str, dict[str, int | list[int]]] = {}
    for level in sorted({a.cl for a in attempts}):
        present = stored.get(level, set())
        acked = {a.seq for a in attempts if a.cl == level and a.ok}
        failed = {a.seq for a in attempts if a.cl == level and not a.ok}
        lost = sorted(acked - present)
        out[level] = {
            "found": len(present),
            "lost": len(lost),
            "lost_sample": lost[:20],
            "failed_but_stored": len(failed & present),
        }
    return out


def verify(settings: Settings, run_id: str, acks: Path, datacenters: tuple[str, ...]) -> dict:
    """The probe's report: per-level summary and, per DC, what LOCAL_QUORUM reads find."""
    attempts = list(read_attempts(acks))
    levels = sorted({a.cl for a in attempts})
    by_dc: dict[str, dict[str, dict[str, int | list[int]]]] = {}
    for dc in datacenters:
        with connect_dc(settings, dc) as conn:
            stored = {lv: read_back(conn.session, settings.keyspace, run_id, lv) for lv in levels}
        by_dc[dc] = compare(attempts, stored)
    summary = summarize(attempts)
    lost_total = sum(int(row["lost"]) for rows in by_dc.values() for row in rows.values())
    return {
        "run_id": run_id,
        "acks_file": str(acks),
        "datacenters": list(datacenters),
        "first_write": min((a.t for a in attempts), default=None),
        "last_write": max((a.t for a in attempts), default=None),
        "levels": {lv: asdict(s) for lv, s in sorted(summary.items())},
        "read_back": by_dc,
        "lost_total": lost_total,
    }


def render_verify(report: dict) -> str:
    """A short table: one line per level with acks, failures and lost per DC."""
    dcs = report["datacenters"]
    header = f"{'level':<13} {'sent':>6} {'acked':>6} {'failed':>6}  " + "  ".join(
        f"lost@{dc:<6}" for dc in dcs
    )
    lines = [f"probe run {report['run_id']}", header]
    for level, s in report["levels"].items():
        lost = "  ".join(f"{report['read_back'][dc][level]['lost']:>10}" for dc in dcs)
        errors = ", ".join(f"{k}={v}" for k, v in (s["errors"] or {}).items())
        line = f"{level:<13} {s['attempted']:>6} {s['acked']:>6} {s['failed']:>6}  {lost}"
        lines.append(line + (f"  ({errors})" if errors else ""))
    lines.append(f"lost acknowledged writes: {report['lost_total']}")
    return "\n".join(lines)
