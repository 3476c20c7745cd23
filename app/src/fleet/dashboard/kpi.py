"""Pure computations behind the cards, filters and counters of the pages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

from fleet.transform import SEVERITIES

ALL = "ALL"
MAX_ALERT_DAYS = 7  # an alert query reads (days x severities) partitions, concurrently


@dataclass(frozen=True, slots=True)
class FleetKpis:
    devices: int  # devices with a latest position
    active_devices: int  # ...that reported within the activity window
    avg_speed_kmh: float | None  # over active devices; None when there is none
    avg_battery_pct: float | None
    critical_alerts: int


def active_mask(latest: pd.DataFrame, now: datetime, window: timedelta) -> pd.Series:
    """Devices whose last reading is within ``window`` of ``now`` (a reading from the future,
    clock skew, counts as active)."""
    return latest["last_ts"] >= pd.Timestamp(now - window)


def fleet_kpis(
    latest: pd.DataFrame, now: datetime, window: timedelta, critical_alerts: int
) -> FleetKpis:
    active = latest[active_mask(latest, now, window)] if len(latest) else latest

    def mean(column: str) -> float | None:
        return round(float(active[column].mean()), 1) if len(active) else None

    return FleetKpis(
        devices=len(latest),
        active_devices=len(active),
        avg_speed_kmh=mean("speed_kmh"),
        avg_battery_pct=mean("battery_pct"),
        critical_alerts=critical_alerts,
    )


def filter_devices(
    latest: pd.DataFrame,
    search: str = "",
    zones: Iterable[str] = (),
    min_speed_kmh: float = 0.0,
    max_battery_pct: int = 100,
) -> pd.DataFrame:
    """Rows matching every filter: device id or model containing ``search`` (any case), in one
    of ``zones`` (all when empty), at least ``min_speed_kmh``, at most ``max_battery_pct``."""
    mask = (latest["speed_kmh"] >= min_speed_kmh) & (latest["battery_pct"] <= max_battery_pct)
    needle = search.strip().lower()
    if needle:
        text = latest["device_id"].str.lower() + " " + latest["model"].str.lower()
        mask &= text.str.contains(needle, regex=False)
    zone_list = list(zones)
    if zone_list:
        mask &= latest["zone"].isin(zone_list)
    return latest[mask]


def severities_for(choice: str) -> tuple[str, ...]:
    """The severities one filter choice covers: ``ALL`` or one of :data:`SEVERITIES`."""
    if choice == ALL:
        return SEVERITIES
    if choice not in SEVERITIES:
        raise ValueError(f"unknown severity {choice!r}")
    return (choice,)


def days_between(start: date, end: date) -> tuple[date, ...]:
    """Every day from ``start`` to ``end`` inclusive; at most :data:`MAX_ALERT_DAYS`."""
    if end < start:
        start, end = end, start
    count = (end - start).days + 1
    if count > MAX_ALERT_DAYS:
        raise ValueError(f"choose at most {MAX_ALERT_DAYS} days (got {count})")
    return tuple(start + timedelta(days=i) for i in range(count))


def busiest_devices(alerts: pd.DataFrame, limit: int) -> list[str]:
    """Device ids with the most alerts first (ties by id), at most ``limit``."""
    counts = alerts.groupby("device_id").size().reset_index(name="n")
    ordered = counts.sort_values(["n", "device_id"], ascending=[False, True])
    return ordered["device_id"].head(limit).tolist()
