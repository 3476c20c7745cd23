"""Counters, exact latency percentiles, periodic progress lines and the final summary.

Only the writer's event loop (one thread) updates a :class:`Metrics`; no locking is needed.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

PERCENTILES = (50.0, 95.0, 99.0)
# Upper bounds (ms) of the write latency histogram the ETL exports (fleet.exporter): from a
# local-DC acknowledgement (a few ms) to the driver's request timeout.
LATENCY_BUCKETS_MS = (1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 10000.0)


def percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence: an observed value, never interpolated."""
    if not sorted_values:
        return None
    if not 0.0 < pct <= 100.0:
        raise ValueError("pct must be in (0, 100]")
    rank = math.ceil(pct / 100.0 * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


@dataclass
class LatencyHistogram:
    """Counts of latencies per bucket of :data:`LATENCY_BUCKETS_MS` (the last one: above them
    all) and their sum: what Prometheus needs, in constant memory."""

    bounds_ms: tuple[float, ...] = LATENCY_BUCKETS_MS
    counts: list[int] = field(default_factory=list)
    sum_ms: float = 0.0

    def __post_init__(self) -> None:
        if list(self.bounds_ms) != sorted(set(self.bounds_ms)):
            raise ValueError("bucket bounds must be strictly increasing")
        self.counts = [0] * (len(self.bounds_ms) + 1)

    def observe(self, ms: float) -> None:
        self.counts[bisect.bisect_left(self.bounds_ms, ms)] += 1
        self.sum_ms += ms

    @property
    def count(self) -> int:
        return sum(self.counts)

    def copy(self) -> LatencyHistogram:
        twin = LatencyHistogram(self.bounds_ms)
        twin.counts, twin.sum_ms = list(self.counts), self.sum_ms
        return twin

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound in ms, latencies at or below it), ending with (inf, count)."""
        total = 0
        result = []
        for bound, count in zip((*self.bounds_ms, math.inf), self.counts, strict=True):
            total += count
            result.append((bound, total))
        return result


@dataclass
class FleetCounts:
    """Readings of one fleet acknowledged by this run, and when (epoch seconds)."""

    written: int = 0
    first_at: float | None = None
    last_at: float | None = None


@dataclass
class Metrics:
    """What one run wrote. Latencies are per request (a statement or a batch), in ms."""

    label: str
    clock: Callable[[], float] = time.monotonic
    records_submitted: int = 0
    records_written: int = 0
    records_failed: int = 0
    records_rejected: int = 0
    requests: int = 0
    rows_written: int = 0  # CQL rows acknowledged, every table (a batch holds several)
    retries: int = 0
    degraded_writes: int = 0
    rollups_written: int = 0  # rows of fleet hours and device minutes
    # Stream with a spool (fleet.replay): readings appended to it (held or after failing),
    # written back from it, refused because it was full (lost), and failed writes handed to it
    # (kept, or dropped when it was full).
    spooled: int = 0
    replayed: int = 0
    dropped: int = 0
    failed_spooled: int = 0
    fleets: dict[str, FleetCounts] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    latencies_ms: array[float] = field(default_factory=lambda: array("d"))
    latency_histogram: LatencyHistogram = field(default_factory=LatencyHistogram)
    started: float = 0.0
    finished: float | None = None

    def __post_init__(self) -> None:
        self.started = self.clock()

    def record_latency(self, ms: float) -> None:
        self.latencies_ms.append(ms)
        self.latency_histogram.observe(ms)

    def record_written(self, fleet_id: str, wall: Callable[[], float] = time.time) -> None:
        counts = self.fleets.setdefault(fleet_id, FleetCounts())
        counts.written += 1
        counts.last_at = wall()
        if counts.first_at is None:
            counts.first_at = counts.last_at

    @property
    def lost(self) -> int:
        """Readings neither written nor kept in a spool."""
        return self.records_failed - self.failed_spooled + self.dropped

    def record_error(self, exc: BaseException) -> None:
        self.errors[type(exc).__name__] += 1

    def finish(self) -> None:
        self.finished = self.clock()

    @property
    def elapsed_s(self) -> float:
        end = self.finished if self.finished is not None else self.clock()
        return max(end - self.started, 1e-9)

    @property
    def throughput(self) -> float:
        """Acknowledged records per second."""
        return self.records_written / self.elapsed_s

    @property
    def unresolved(self) -> int:
        """Records neither acknowledged nor reported failed: must be 0 once a run has drained."""
        return self.records_submitted - self.records_written - self.records_failed

    def latency_percentiles(self, since: int = 0) -> dict[str, float | None]:
        ordered = sorted(self.latencies_ms[since:])
        return {f"p{pct:g}": percentile(ordered, pct) for pct in PERCENTILES}

    def summary(self) -> dict[str, Any]:
        latency = self.latency_percentiles()
        return {
            "label": self.label,
            "records_submitted": self.records_submitted,
            "records_written": self.records_written,
            "records_failed": self.records_failed,
            "records_rejected": self.records_rejected,
            "requests": self.requests,
            "rows_written": self.rows_written,
            "retries": self.retries,
            "degraded_writes": self.degraded_writes,
            "rollups_written": self.rollups_written,
            "spooled": self.spooled,
            "replayed": self.replayed,
            "dropped": self.dropped,
            "lost": self.lost,
            "fleets": {
                fleet: {"written": c.written, "first_at": c.first_at, "last_at": c.last_at}
                for fleet, c in sorted(self.fleets.items())
            },
            "errors": dict(sorted(self.errors.items())),
            "elapsed_s": round(self.elapsed_s, 3),
            "throughput_rps": round(self.throughput, 1),
            "latency_ms": {k: None if v is None else round(v, 3) for k, v in latency.items()},
        }


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


class ProgressReporter:
    """Prints one line every ``interval_s`` with the latency percentiles of that interval."""

    def __init__(self, interval_s: float, out: TextIO | None = None, enabled: bool = True) -> None:
        self.interval_s = interval_s
        self.out = out if out is not None else sys.stderr
        self.enabled = enabled and interval_s > 0
        self._last_at: float | None = None
        self._last_sample = 0

    def maybe_report(self, metrics: Metrics, in_flight: int, force: bool = False) -> str | None:
        now = metrics.clock()
        if self._last_at is None:
            self._last_at = metrics.started
        if not self.enabled or (not force and now - self._last_at < self.interval_s):
            return None
        window = metrics.latency_percentiles(since=self._last_sample)
        self._last_sample = len(metrics.latencies_ms)
        self._last_at = now
        line = (
            f"[{metrics.label}] {metrics.elapsed_s:7.1f}s written={metrics.records_written} "
            f"failed={metrics.records_failed} retries={metrics.retries} "
            f"degraded={metrics.degraded_writes} in_flight={in_flight} "
            f"rate={metrics.throughput:.0f}/s p50={_fmt_ms(window['p50'])}ms "
            f"p99={_fmt_ms(window['p99'])}ms"
        )
        print(line, file=self.out, flush=True)
        return line


def render_summary(summary: dict[str, Any]) -> str:
    """Human-readable final summary (``--json`` prints ``json.dumps(summary)`` instead)."""
    lat = summary["latency_ms"]
    errors = ", ".join(f"{k}={v}" for k, v in summary["errors"].items()) or "none"
    return "\n".join(
        [
            f"{summary['label']}: {summary['records_written']}/{summary['records_submitted']} "
            f"records written, {summary['records_failed']} failed, "
            f"{summary['records_rejected']} rejected in {summary['elapsed_s']}s "
            f"({summary['throughput_rps']} records/s)",
            f"  requests={summary['requests']} retries={summary['retries']} "
            f"degraded_writes={summary['degraded_writes']} rollups={summary['rollups_written']}",
            f"  latency ms: p50={_fmt_ms(lat['p50'])} p95={_fmt_ms(lat['p95'])} "
            f"p99={_fmt_ms(lat['p99'])}",
            f"  errors: {errors}",
        ]
        + (
            [
                f"  spool: spooled={summary['spooled']} replayed={summary['replayed']} "
                f"dropped={summary['dropped']}"
            ]
            if summary.get("spooled") or summary.get("dropped")
            else []
        )
    )


def to_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2, sort_keys=False)


# Counters the stats file also keeps across runs (a restarted stream carries them on), so that
# two snapshots around a restart (a failover restarts the ETL) still give the right difference.
TOTALS = (
    "records_written",
    "records_failed",
    "degraded_writes",
    "retries",
    "requests",
    "spooled",
    "replayed",
    "dropped",
)


def previous_totals(path: Path) -> dict[str, int]:
    """The ``totals`` of the stats a previous run left in ``path``; zeros if none is readable."""
    try:
        totals = json.loads(path.read_text(encoding="utf-8")).get("totals") or {}
        return {key: int(totals.get(key, 0)) for key in TOTALS}
    except (OSError, ValueError, AttributeError, TypeError):
        return dict.fromkeys(TOTALS, 0)


def write_stats(
    path: Path,
    metrics: Metrics,
    in_flight: int = 0,
    extra: dict[str, Any] | None = None,
    base_totals: dict[str, int] | None = None,
) -> None:
    """Replace ``path`` atomically with the run's counters so far, ``extra`` (the spool, the
    nodes the driver is connected to) and, given ``base_totals`` (:func:`previous_totals`), the
    counters since the first run. Read by the drills and the operations' gates."""
    summary = metrics.summary()
    data = {**summary, **(extra or {}), "in_flight": in_flight, "updated_at": time.time()}
    if base_totals is not None:
        data["totals"] = {key: base_totals.get(key, 0) + summary[key] for key in TOTALS}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(to_json(data) + "\n", encoding="utf-8")
    os.replace(tmp, path)
