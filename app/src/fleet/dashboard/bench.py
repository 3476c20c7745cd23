"""``fleet bench-dashboard``: time each page's data fetch, exactly as the pages run it.

Caching is bypassed: every run is a real round trip. The Devices fetch reads the day's second
page (with the first page's paging state) so that paging is part of what is measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from fleet.dashboard.cluster_info import describe_cluster
from fleet.dashboard.fetch import fetch_alerts, fetch_analytics, fetch_devices, fetch_realtime
from fleet.metrics import percentile
from fleet.queries import AlertQuery, FleetQueries
from fleet.transform import SEVERITIES


@dataclass(frozen=True, slots=True)
class BenchTarget:
    fleet_id: str
    device_id: str
    day: date
    compare: tuple[str, ...] = ()  # extra devices of the Analytics comparison
    alert_days: int = 7  # the Alerts page's date range, ending at ``day``
    page_size: int = 100


@dataclass(frozen=True, slots=True)
class PageTiming:
    page: str
    runs: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    rows: int  # rows the fetch returned (last run), to show what was measured


class Fetched(Protocol):
    @property
    def rows(self) -> int: ...


def page_fetches(
    q: FleetQueries, metadata: Any, keyspace: str, t: BenchTarget
) -> dict[str, Callable[[], Fetched]]:
    """One zero-argument callable per page, doing that page's whole fetch."""
    first_page = q.device_day_page(t.device_id, t.day, t.page_size)
    days = tuple(t.day - timedelta(days=i) for i in reversed(range(t.alert_days)))
    return {
        "realtime": lambda: fetch_realtime(q, t.fleet_id, t.day),
        "analytics": lambda: fetch_analytics(q, t.fleet_id, t.device_id, t.day, t.compare),
        "alerts": lambda: fetch_alerts(q, AlertQuery(t.fleet_id, days, SEVERITIES)),
        "devices": lambda: fetch_devices(
            q, t.fleet_id, t.device_id, t.day, t.page_size, first_page.next_state
        ),
        "cluster": lambda: describe_cluster(metadata, keyspace),
    }


def time_fetches(
    fetches: dict[str, Callable[[], Fetched]],
    runs: int,
    warmup: int = 3,
    pages: Sequence[str] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> list[PageTiming]:
    """``warmup`` untimed calls, then ``runs`` timed ones, for each selected page in turn."""
    if runs < 1:
        raise ValueError("runs must be >= 1")
    timings = []
    for page in pages or list(fetches):
        fetch = fetches[page]
        for _ in range(warmup):
            fetch()
        samples = []
        rows = 0
        for _ in range(runs):
            started = clock()
            rows = fetch().rows
            samples.append((clock() - started) * 1000.0)
        samples.sort()
        timings.append(
            PageTiming(
                page=page,
                runs=runs,
                p50_ms=percentile(samples, 50.0) or 0.0,
                p95_ms=percentile(samples, 95.0) or 0.0,
                max_ms=samples[-1],
                rows=rows,
            )
        )
    return timings


def render_timings(timings: Sequence[PageTiming], budget_ms: float) -> str:
    lines = [f"{'page':<10} {'runs':>5} {'rows':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  ok"]
    for t in timings:
        ok = "yes" if t.p95_ms < budget_ms else f"NO (p95 >= {budget_ms:g} ms)"
        lines.append(
            f"{t.page:<10} {t.runs:>5} {t.rows:>7} {t.p50_ms:>8.1f} {t.p95_ms:>8.1f} "
            f"{t.max_ms:>8.1f}  {ok}"
        )
    return "\n".join(lines)
