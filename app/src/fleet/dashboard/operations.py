"""What the Operations page shows: its panels' PromQL, and the day-2 operations' reports.

Prometheus computes every figure (rates, quantiles, ratios): a panel is a query template whose
``{by}`` is the grouping the operator chose (per node or per DC) and whose ``{window}`` is the
rate window (at least two steps of the plot). The reports are the JSON files the operations'
playbooks write (role ops_report), listed with their verdict and the time window they cover, so
that the plots can be narrowed to it (a drill's fault and its effect on latency).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

GROUPINGS = {"node": "instance, dc", "dc": "dc"}
WINDOWS = {
    "15 minutes": timedelta(minutes=15),
    "1 hour": timedelta(hours=1),
    "6 hours": timedelta(hours=6),
    "24 hours": timedelta(hours=24),
    "7 days": timedelta(days=7),
}
MAX_REPORTS = 200
MAX_REPORT_BYTES = 2 << 20


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    template: str  # PromQL with {by} and {window}
    unit: str  # "s", "ratio", "bytes", "/s" or "" (a count)
    fixed_by: str | None = None  # a grouping of its own (e.g. by page), whatever is chosen

    def query(self, grouping: str, step_s: float) -> str:
        if grouping not in GROUPINGS:
            raise ValueError(f"grouping must be one of {', '.join(GROUPINGS)}")
        by = self.fixed_by or GROUPINGS[grouping]
        window = f"{max(120, math.ceil(step_s) * 2)}s"
        return self.template.format(by=by, window=window)

    def legend(self, labels: dict[str, str]) -> str:
        """The series' name in the plot: its grouping labels' values."""
        keys = [k.strip() for k in (self.fixed_by or "instance, dc").split(",")]
        return " · ".join(labels[k] for k in keys if labels.get(k)) or "all"


_LATENCY = "cassandra_client_request_latency_seconds"
_HEAP = 'jvm_memory_used_bytes{{job="cassandra", area="heap"}}'
_HEAP_MAX = 'jvm_memory_max_bytes{{job="cassandra", area="heap"}}'
PANELS: tuple[Panel, ...] = (
    Panel(
        "ETL write latency, p99",
        "histogram_quantile(0.99, sum by ({by}, le) "
        "(rate(fleet_etl_write_latency_seconds_bucket[{window}])))",
        "s",
    ),
    Panel(
        "ETL readings written",
        "sum by ({by}) (rate(fleet_etl_records_written_total[{window}]))",
        "/s",
    ),
    Panel(
        "ETL readings failed",
        "sum by ({by}) (rate(fleet_etl_records_failed_total[{window}]))",
        "/s",
    ),
    Panel(
        "ETL readings waiting in its spool", "sum by ({by}) (fleet_etl_spool_pending_records)", ""
    ),
    Panel(
        "Coordinator write latency, p99",
        f'max by ({{by}}) ({_LATENCY}{{{{operation="Write", quantile="0.99"}}}})',
        "s",
    ),
    Panel(
        "Coordinator read latency, p99",
        f'max by ({{by}}) ({_LATENCY}{{{{operation="Read", quantile="0.99"}}}})',
        "s",
    ),
    Panel(
        "Client writes",
        'sum by ({by}) (rate(cassandra_client_requests_total{{operation="Write"}}[{window}]))',
        "/s",
    ),
    Panel(
        "Client reads",
        'sum by ({by}) (rate(cassandra_client_requests_total{{operation="Read"}}[{window}]))',
        "/s",
    ),
    Panel("Pending compactions", "sum by ({by}) (cassandra_compaction_pending_tasks)", ""),
    Panel("Heap in use", f"max by ({{by}}) ({_HEAP} / {_HEAP_MAX})", "ratio"),
    Panel("Data on disk (load)", "sum by ({by}) (cassandra_storage_load_bytes)", "bytes"),
    Panel(
        "Dashboard page fetch, p95",
        "histogram_quantile(0.95, sum by ({by}, le) "
        "(rate(fleet_dashboard_fetch_seconds_bucket[{window}])))",
        "s",
        fixed_by="page",
    ),
    # The drills' probe runs only during a drill (upgrades and scale-outs too): these two show
    # what each consistency level went through during the fault, nothing in between.
    Panel(
        "Drill probe write latency, p99, by consistency level",
        "histogram_quantile(0.99, sum by ({by}, le) "
        "(rate(fleet_probe_write_latency_seconds_bucket[{window}])))",
        "s",
        fixed_by="cl",
    ),
    Panel(
        "Drill probe failed writes, by consistency level",
        'sum by ({by}) (rate(fleet_probe_writes_total{{outcome="failed"}}[{window}]))',
        "/s",
        fixed_by="cl",
    ),
)


# ----------------------------------------------------------------------------- reports


@dataclass(frozen=True, slots=True)
class Report:
    name: str  # the file name without .json
    kind: str  # the operation or the drill
    ok: bool | None  # None: the report has no verdict
    start: datetime | None
    end: datetime | None
    summary: str
    problem: str | None = None  # why it could not be read
    # Moments to mark on the plots: a drill's fault events, else the start and the end.
    marks: tuple[tuple[datetime, str], ...] = ()

    @property
    def verdict(self) -> str:
        return {True: "passed", False: "FAILED", None: "?"}[self.ok]


def _moment(value: Any) -> datetime | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _window(data: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """A drill's timeline from its first to its last event; else started_at (+ total_s)."""
    timeline = data.get("timeline")
    if isinstance(timeline, list):
        moments = [m for m in (_moment(e.get("t")) for e in timeline if isinstance(e, dict)) if m]
        if moments:
            return min(moments), max(moments)
    start = _moment(data.get("started_at"))
    total = data.get("total_s")
    if start is not None and isinstance(total, int | float) and not isinstance(total, bool):
        return start, start + timedelta(seconds=float(total))
    return start, start


def _marks(
    data: dict[str, Any], start: datetime | None, end: datetime | None
) -> tuple[tuple[datetime, str], ...]:
    timeline = data.get("timeline")
    if isinstance(timeline, list):
        faults = [
            (moment, str(event.get("event")))
            for event in timeline
            if isinstance(event, dict) and str(event.get("event", "")).startswith("fault")
            for moment in [_moment(event.get("t"))]
            if moment is not None
        ]
        if faults:
            return tuple(faults)
    if start is None:
        return ()
    return ((start, "starts"),) if end in (None, start) else ((start, "starts"), (end, "ends"))


def _summary(data: dict[str, Any]) -> str:
    parts = []
    for key in ("fault", "node", "address", "dc", "rpo_readings_lost", "rto_s", "total_s"):
        value = data.get(key)
        if value not in (None, "", []):
            parts.append(f"{key}={value}")
    failure = data.get("failure")
    if failure:
        parts.append(f"failure: {str(failure)[:200]}")
    return ", ".join(parts)


def parse_report(name: str, text: str) -> Report:
    """One report file's content; never raises: a file that is not a report says why."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        return Report(name, "?", None, None, None, "", problem=f"not JSON: {exc}")
    if not isinstance(data, dict):
        return Report(name, "?", None, None, None, "", problem="not a JSON object")
    kind = data.get("operation") or (f"drill {data['drill']}" if data.get("drill") else None)
    ok = data.get("ok")
    start, end = _window(data)
    return Report(
        name,
        str(kind or name.split("-20", 1)[0]),
        ok if isinstance(ok, bool) else None,
        start,
        end,
        _summary(data),
        marks=_marks(data, start, end),
    )


def read_reports(directory: Path, limit: int = MAX_REPORTS) -> list[Report]:
    """The newest ``limit`` reports of ``directory`` (by file time), newest first."""
    try:
        files = [p for p in directory.glob("*.json") if p.is_file()]
    except OSError:
        return []
    files.sort(key=_mtime, reverse=True)
    return [_read(p) for p in files[:limit]]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _read(path: Path) -> Report:
    name = path.stem
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            return Report(name, "?", None, None, None, "", problem="larger than 2 MiB")
        return parse_report(name, path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return Report(name, "?", None, None, None, "", problem=f"unreadable: {exc}")


def reports_rows(reports: Iterable[Report]) -> list[dict[str, Any]]:
    return [
        {
            "report": r.name,
            "operation": r.kind,
            "verdict": r.verdict if r.problem is None else f"? ({r.problem})",
            "from": r.start,
            "to": r.end,
            "summary": r.summary,
        }
        for r in reports
    ]
