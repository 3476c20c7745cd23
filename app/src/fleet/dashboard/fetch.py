"""What each page reads, as one call per page: the pages cache these, the benchmark times them.

A page's independent queries run in parallel (one thread each, waiting on the driver), so a
page costs its slowest query, not their sum.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd

from fleet.model import TelemetryPoint
from fleet.queries import AlertQuery, FleetQueries, TelemetryPage

_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fleet-fetch")
CRITICAL = "HIGH"


@dataclass(frozen=True, slots=True)
class RealtimeData:
    latest: pd.DataFrame  # latest position of every device of the fleet
    critical_alerts: int  # HIGH alerts of the day
    read_at: datetime  # UTC; older than the page's refresh when it shows kept data in an outage

    @property
    def rows(self) -> int:
        return len(self.latest)


@dataclass(frozen=True, slots=True)
class AnalyticsData:
    history: pd.DataFrame  # the device's day per minute, oldest first
    comparison: pd.DataFrame  # the compared devices' day per minute, with device_id
    rollups: pd.DataFrame  # the fleet's hourly statistics

    @property
    def rows(self) -> int:
        return len(self.history) + len(self.comparison) + len(self.rollups)


@dataclass(frozen=True, slots=True)
class AlertsData:
    alerts: pd.DataFrame  # newest first, at most query.limit per (day, severity)
    counts: dict[str, int]  # exact, per severity

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def rows(self) -> int:
        return len(self.alerts)


@dataclass(frozen=True, slots=True)
class DevicesData:
    devices: pd.DataFrame
    latest: TelemetryPoint | None
    page: TelemetryPage | None

    @property
    def rows(self) -> int:
        return len(self.devices) + (len(self.page.frame) if self.page else 0)


def fetch_realtime(q: FleetQueries, fleet_id: str, day: date) -> RealtimeData:
    counts = _POOL.submit(q.alert_counts, AlertQuery(fleet_id, (day,), (CRITICAL,)))
    latest = q.latest_positions(fleet_id)
    return RealtimeData(latest, counts.result()[CRITICAL], datetime.now(UTC))


def fetch_analytics(
    q: FleetQueries, fleet_id: str, device_id: str, day: date, compare: Sequence[str] = ()
) -> AnalyticsData:
    rollups = _POOL.submit(q.hourly_rollups, fleet_id, day)
    others = [d for d in compare if d != device_id]
    comparison = _POOL.submit(q.devices_series, others, day)
    history = q.device_series(device_id, day)
    return AnalyticsData(history, comparison.result(), rollups.result())


def fetch_alerts(q: FleetQueries, query: AlertQuery) -> AlertsData:
    return AlertsData(*q.alerts_and_counts(query))


def fetch_devices(
    q: FleetQueries,
    fleet_id: str,
    device_id: str | None,
    day: date,
    page_size: int,
    paging_state: bytes | None = None,
) -> DevicesData:
    if device_id is None:
        return DevicesData(q.devices(fleet_id), None, None)
    latest = _POOL.submit(q.latest_device, fleet_id, device_id)
    page = _POOL.submit(q.device_day_page, device_id, day, page_size, paging_state)
    devices = q.devices(fleet_id)
    return DevicesData(devices, latest.result(), page.result())
