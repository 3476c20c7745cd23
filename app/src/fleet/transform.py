"""Validation, alert rules and hourly rollups: pure functions of telemetry points.

Rollup design (idempotent under replay, restarts and concurrent workers)
-----------------------------------------------------------------------
A rollup row of ``fleet_analytics_by_day`` is *recomputed* for a (fleet, UTC hour); it is never
incremented. Telemetry rows are upserts keyed by (device_id, ts), so a replayed reading
overwrites itself and the stored set is the same however often it was written. From that set the
ETL recomputes, per device and hour it touched, a :class:`DeviceHour` of sums (readings, speed,
battery, top speed; one aggregate read of the device's day, :mod:`fleet.minutes`), stored in
``device_hours_by_fleet_day``; the fleet's hour is then the sum of its devices' hours (one slice
of one partition, :func:`fleet_hour_rollup`, ``math.fsum`` so the order does not matter), and
its alert count is the number of alert rows of the hour (three counts, one per severity
partition). The sums are the sums of the readings: :func:`compute_hourly_rollup`, which works
on the readings themselves, is the reference the tests compare with.

Alert design (bounded partitions, same idempotence)
---------------------------------------------------
A device that stays beyond a threshold breaks the rule at every reading (every 5 s when
streaming). Writing one alert row per reading made a fleet's daily partition grow with devices
times readings (over a million rows a day for 1,000 devices, see docs/cassandra-modeling.md).
An alert row is instead one (device, rule, severity, 5-minute window): the row is keyed by the
window's start (:attr:`Alert.window`), and every reading of the window that breaks the rule at
that severity writes the same row. The row holds the window's *first* such reading whatever the
order in which readings arrive: it is written ``USING TIMESTAMP`` window end minus the reading's
offset in the window (:func:`alert_write_timestamp`), so an earlier reading always has the later
timestamp; :func:`keep_first` applies the same rule in memory. :func:`alert_rows` is the set of
rows a set of readings leaves in the table, and the rollups' ``alert_count`` counts those rows
(windows never span hours).

Two workers (or a restarted worker) may recompute the same hour while data is still arriving.
Device hours and fleet hours are written ``USING TIMESTAMP hour_start_us + points``
(:func:`rollup_write_timestamp`): among concurrent recomputations the one that saw more readings
wins whatever the arrival order, and recomputing identical data writes identical cells. A
worker sums the device hours it just computed over those it read back, keeping per device the
one with more readings, which is what the table will hold. The last recomputation, run after
every write is acknowledged, sees everything and settles the row. Cassandra counters are not
used: a retried counter increment is counted twice.

Limit: correcting an existing reading in place (same key, same count) does not change the write
timestamp; delete the rollup row before recomputing in that case.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from fleet.model import TelemetryPoint, to_micros

FUTURE_TOLERANCE = timedelta(minutes=5)
OLDEST_ACCEPTED = datetime(2000, 1, 1, tzinfo=UTC)
SEVERITIES = ("HIGH", "MEDIUM", "LOW")
# An alert row per (device, rule, severity) and window; divides an hour (rollups count rows).
ALERT_WINDOW = timedelta(minutes=5)
_ALERT_WINDOW_S = int(ALERT_WINDOW.total_seconds())
_ALERT_WINDOW_US = _ALERT_WINDOW_S * 1_000_000

# Physical limits for validation (inclusive). Speeds above the generator's 130 km/h are
# plausible readings (and raise OVERSPEED alerts); beyond 250 km/h a road vehicle's GPS is wrong.
RANGES: dict[str, tuple[float, float]] = {
    "lat": (-90.0, 90.0),
    "lon": (-180.0, 180.0),
    "speed_kmh": (0.0, 250.0),
    "heading_deg": (0.0, 360.0),
    "battery_pct": (0, 100),
    "temp_c": (-40.0, 85.0),
}
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")  # fullmatch: no trailing newline
_SHOWN = 40  # characters of a rejected value quoted in a reason


class ValidationError(ValueError):
    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("; ".join(reasons))


def _show(value: object) -> str:
    """``repr`` for a reason, cut short: never raises (an int past Python's 4,300-digit limit
    has no repr) and never quotes a huge value whole."""
    try:
        text = repr(value)
    except ValueError:
        text = f"<int of {value.bit_length()} bits>" if isinstance(value, int) else "<unprintable>"
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def validate_point(
    point: TelemetryPoint, *, now: datetime, future_tolerance: timedelta = FUTURE_TOLERANCE
) -> list[str]:
    """Every reason ``point`` cannot be stored; empty when it is valid."""
    reasons: list[str] = []
    for name in ("fleet_id", "device_id", "model", "zone"):
        value = getattr(point, name)
        if not isinstance(value, str) or not _ID_RE.fullmatch(value):
            reasons.append(f"{name} {_show(value)}: 1-64 letters, digits or _.:- expected")
    for name, (low, high) in RANGES.items():
        value = getattr(point, name)
        expects_int = name == "battery_pct"
        numeric = (int,) if expects_int else (int, float)
        if isinstance(value, bool) or not isinstance(value, numeric):
            kind = "an integer" if expects_int else "a number"
            reasons.append(f"{name} {_show(value)}: {kind} expected")
        elif not (low <= value <= high):  # also rejects NaN
            reasons.append(f"{name} {_show(value)} out of range [{low:g}, {high:g}]")
    ts = point.ts
    if not isinstance(ts, datetime) or ts.utcoffset() is None:
        reasons.append(f"ts {ts!r}: a timezone-aware timestamp expected")
    elif ts > now + future_tolerance:
        reasons.append(f"ts {ts.isoformat()} is in the future (now {now.isoformat()})")
    elif ts < OLDEST_ACCEPTED:
        reasons.append(f"ts {ts.isoformat()} is before {OLDEST_ACCEPTED.date()}")
    return reasons


# ----------------------------------------------------------------------------- alerts


def alert_window(ts: datetime) -> datetime:
    """Start of the alert window holding ``ts`` (UTC)."""
    return datetime.fromtimestamp(to_micros(ts) // _ALERT_WINDOW_US * _ALERT_WINDOW_S, tz=UTC)


@dataclass(frozen=True, slots=True)
class Alert:
    """One reading breaking one rule; ``ts`` is the reading's time."""

    fleet_id: str
    device_id: str
    ts: datetime
    alert_type: str
    severity: str
    value: float
    threshold: float
    message: str

    @property
    def window(self) -> datetime:
        """The row's ``ts``: the start of the 5-minute window of the reading."""
        return alert_window(self.ts)

    @property
    def day(self) -> date:
        return self.window.date()

    @property
    def row_key(self) -> tuple[str, date, str, datetime, str, str]:
        """The primary key of the alert row it writes (partition, then clustering columns)."""
        return (
            self.fleet_id,
            self.day,
            self.severity,
            self.window,
            self.device_id,
            self.alert_type,
        )


@dataclass(frozen=True, slots=True)
class AlertRule:
    """Fires at the most severe threshold reached; ``above``: value >= t, else value <= t."""

    alert_type: str
    metric: str
    above: bool
    thresholds: tuple[tuple[str, float], ...]  # most severe first
    unit: str

    def evaluate(self, point: TelemetryPoint) -> Alert | None:
        value = float(getattr(point, self.metric))
        for severity, threshold in self.thresholds:
            if (value >= threshold) if self.above else (value <= threshold):
                sign = ">=" if self.above else "<="
                return Alert(
                    fleet_id=point.fleet_id,
                    device_id=point.device_id,
                    ts=point.ts,
                    alert_type=self.alert_type,
                    severity=severity,
                    value=value,
                    threshold=threshold,
                    message=(
                        f"{self.metric} {value:g} {self.unit} {sign} {threshold:g} {self.unit}"
                        f" at {point.ts.astimezone(UTC):%H:%M:%S}"
                    ),
                )
        return None


ALERT_RULES: tuple[AlertRule, ...] = (
    AlertRule("TEMP_HIGH", "temp_c", True, (("HIGH", 45.0), ("MEDIUM", 40.0), ("LOW", 35.0)), "C"),
    AlertRule(
        "BATTERY_LOW", "battery_pct", False, (("HIGH", 5.0), ("MEDIUM", 10.0), ("LOW", 20.0)), "%"
    ),
    AlertRule(
        "OVERSPEED", "speed_kmh", True, (("HIGH", 120.0), ("MEDIUM", 110.0), ("LOW", 90.0)), "km/h"
    ),
)


def evaluate_alerts(point: TelemetryPoint, rules: Iterable[AlertRule] = ALERT_RULES) -> list[Alert]:
    """At most one alert per rule for a reading."""
    return [alert for rule in rules if (alert := rule.evaluate(point)) is not None]


def alert_write_timestamp(alert: Alert) -> int:
    """``USING TIMESTAMP`` for an alert row: the window's first reading has the latest one."""
    window_us = to_micros(alert.window)
    return window_us + _ALERT_WINDOW_US - 1 - (to_micros(alert.ts) - window_us)


def keep_first(rows: dict[tuple[object, ...], Alert], alert: Alert) -> None:
    """Put ``alert`` in ``rows`` (by row key) unless the row holds an earlier reading: what the
    table keeps, as the latest write timestamp wins."""
    kept = rows.get(alert.row_key)
    if kept is None or alert_write_timestamp(alert) > alert_write_timestamp(kept):
        rows[alert.row_key] = alert


def alert_rows(points: Iterable[TelemetryPoint]) -> dict[tuple[object, ...], Alert]:
    """The alert rows these readings leave in the table, by row key, whatever their order."""
    rows: dict[tuple[object, ...], Alert] = {}
    for point in points:
        for alert in evaluate_alerts(point):
            keep_first(rows, alert)
    return rows


# ----------------------------------------------------------------------------- rollups


@dataclass(frozen=True, slots=True, order=True)
class RollupKey:
    fleet_id: str
    day: date
    hour: int

    @classmethod
    def of(cls, point: TelemetryPoint) -> RollupKey:
        return cls(point.fleet_id, point.day, point.hour)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time(self.hour), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class HourlyRollup:
    key: RollupKey
    points: int
    active_devices: int
    avg_speed_kmh: float
    max_speed_kmh: float
    avg_battery_pct: float
    alert_count: int


def compute_hourly_rollup(key: RollupKey, points: Iterable[TelemetryPoint]) -> HourlyRollup | None:
    """Rollup of the readings of ``key``'s fleet and hour; ``None`` when there are none.

    Readings with the same (device_id, ts) count once (the last one wins, as in the table).
    """
    unique: dict[tuple[str, datetime], TelemetryPoint] = {}
    for point in points:
        if RollupKey.of(point) != key:
            raise ValueError(f"reading {point.key} is outside rollup {key}")
        unique[point.key] = point
    if not unique:
        return None
    rows = unique.values()
    count = len(unique)
    return HourlyRollup(
        key=key,
        points=count,
        active_devices=len({p.device_id for p in rows}),
        avg_speed_kmh=round(math.fsum(p.speed_kmh for p in rows) / count, 3),
        max_speed_kmh=max(p.speed_kmh for p in rows),
        avg_battery_pct=round(math.fsum(p.battery_pct for p in rows) / count, 3),
        alert_count=len(alert_rows(rows)),
    )


def _hour_write_timestamp(key: RollupKey, points: int) -> int:
    """``USING TIMESTAMP`` for an hour's row: more readings seen -> later timestamp (see above)."""
    return to_micros(key.start) + min(points, 3_599_999_999)


def rollup_write_timestamp(rollup: HourlyRollup) -> int:
    return _hour_write_timestamp(rollup.key, rollup.points)


@dataclass(frozen=True, slots=True)
class DeviceHour:
    """A device's readings of one UTC hour, as sums: what a fleet's hour adds up."""

    fleet_id: str
    device_id: str
    day: date
    hour: int
    points: int
    sum_speed_kmh: float
    max_speed_kmh: float
    sum_battery_pct: float

    @property
    def key(self) -> RollupKey:
        return RollupKey(self.fleet_id, self.day, self.hour)

    @property
    def write_timestamp(self) -> int:
        """More readings seen -> later ``USING TIMESTAMP``, as for the fleet's rows."""
        return _hour_write_timestamp(self.key, self.points)


def device_hours(points: Iterable[TelemetryPoint]) -> list[DeviceHour]:
    """The device hours of a set of readings (duplicates of a key count once): the reference
    for what the ETL computes from stored minutes."""
    unique = {p.key: p for p in points}
    groups: dict[tuple[str, str, date, int], list[TelemetryPoint]] = {}
    for p in unique.values():
        groups.setdefault((p.fleet_id, p.device_id, p.day, p.hour), []).append(p)
    return [
        DeviceHour(
            *group_key,
            points=len(rows),
            sum_speed_kmh=math.fsum(p.speed_kmh for p in rows),
            max_speed_kmh=max(p.speed_kmh for p in rows),
            sum_battery_pct=math.fsum(float(p.battery_pct) for p in rows),
        )
        for group_key, rows in sorted(groups.items())
    ]


def fleet_hour_rollup(
    key: RollupKey,
    stored: Iterable[DeviceHour],
    fresh: Iterable[DeviceHour],
    alert_count: int,
) -> HourlyRollup | None:
    """The fleet's hour from its device hours: those read back (``stored``) overlaid with those
    just computed (``fresh``), keeping per device the one with more readings, as the table's
    write timestamps will. ``None`` when no device has a reading in the hour."""
    by_device: dict[str, DeviceHour] = {}
    for hour in (*stored, *fresh):
        if hour.key != key:
            raise ValueError(f"device hour {hour.device_id} {hour.key} is outside rollup {key}")
        kept = by_device.get(hour.device_id)
        if kept is None or hour.write_timestamp >= kept.write_timestamp:
            by_device[hour.device_id] = hour
    rows = [h for h in by_device.values() if h.points > 0]
    if not rows:
        return None
    count = sum(h.points for h in rows)
    return HourlyRollup(
        key=key,
        points=count,
        active_devices=len(rows),
        avg_speed_kmh=round(math.fsum(h.sum_speed_kmh for h in rows) / count, 3),
        max_speed_kmh=max(h.max_speed_kmh for h in rows),
        avg_battery_pct=round(math.fsum(h.sum_battery_pct for h in rows) / count, 3),
        alert_count=alert_count,
    )


def rollup_keys(points: Iterable[TelemetryPoint]) -> set[RollupKey]:
    return {RollupKey.of(p) for p in points}
