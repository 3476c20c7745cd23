"""Read-backs of stored readings: a device's minutes, its hours, and a fleet's hours.

A device's day per minute (``device_analytics_by_day``) is what the Analytics page charts.

Why a table: aggregating at read time (``GROUP BY floor(ts, 1m)`` on ``telemetry_by_device_day``)
scans every reading of the day, 8,640 per device at one every 10 s, on each view; comparing three
devices took 629 ms p95 on the lab. The stored minutes are at most 1,440 rows per device-day.

Same design as the fleet's hourly rollups (:mod:`fleet.transform`): a minute row is *recomputed*
from the readings stored in ``telemetry_by_device_day``, never incremented, so replays, restarts
and concurrent ETL workers converge on the same rows. Cassandra does the arithmetic, on the slice
of the day that acknowledged records touched (one request per device, sent concurrently). Rows
are written ``USING TIMESTAMP minute_start + readings``: a recompute that saw more readings of
the minute wins over one that saw fewer, whichever lands last.

The same read gives the device's hours (:class:`fleet.transform.DeviceHour`, sums per UTC hour,
``device_hours_by_fleet_day``): the span read is widened to whole hours, the minutes written
are only those the span touched. A fleet's hour is then summed from one slice of one partition
of ``device_hours_by_fleet_day`` and three alert counts (:meth:`RollupReader.fetch`).

Consistency: the reads go at the cheapest level that still sees every acknowledged write
(:func:`read_back_consistency`: with 2 replicas per DC and LOCAL_QUORUM writes, LOCAL_ONE), and
at the write level when writes were degraded since the last read-back.

Freshness: the ETL recomputes after each run and, while streaming, every ``--rollup-every``
seconds (in a worker thread: the writes go on meanwhile); ``fleet rollup --day`` recomputes a
whole day (e.g. after a repair).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent

from fleet.model import TelemetryPoint, to_micros
from fleet.schema import ALERTS, DEVICE_HOURS, DEVICE_MINUTES, DEVICES, TELEMETRY_BY_DEVICE
from fleet.transform import SEVERITIES, DeviceHour, RollupKey

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
# Column of the stored minute -> how Cassandra computes it from the readings. Names are the
# table's columns (``minute`` aside, read back as ``ts``): what is computed is what is stored.
AGGREGATES = {
    "minute": "floor(ts, 1m)",
    "lat": "avg(lat)",
    "lon": "avg(lon)",
    "speed_kmh": "avg(speed_kmh)",
    "max_speed_kmh": "max(speed_kmh)",
    "battery_pct": "avg(CAST(battery_pct AS double))",
    "temp_c": "avg(temp_c)",
    "readings": "COUNT(*)",
}
VALUE_COLUMNS = tuple(AGGREGATES)[1:]
# Read along, not stored per minute: the device's hours are sums of these.
SUMS = ("sum(speed_kmh)", "sum(CAST(battery_pct AS double))")
MAX_CONCURRENCY = 64  # read-backs in flight: aggregate reads of ~1 ms each


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Readings of one device-day between ``first`` and ``last`` (inclusive) to recompute."""

    device_id: str
    day: date
    first: datetime
    last: datetime
    fleet_id: str

    @classmethod
    def whole_day(cls, fleet_id: str, device_id: str, day: date) -> Span:
        start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        return cls(device_id, day, start, start + timedelta(days=1) - MINUTE, fleet_id)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """The minutes to write: [start, end) on whole minutes."""
        start = self.first.replace(second=0, microsecond=0)
        return start, self.last.replace(second=0, microsecond=0) + MINUTE

    @property
    def read_bounds(self) -> tuple[datetime, datetime]:
        """The readings to read: [start, end) on whole hours, for the device's hours."""
        start = self.first.replace(minute=0, second=0, microsecond=0)
        return start, self.last.replace(minute=0, second=0, microsecond=0) + HOUR

    @property
    def fleet_hours(self) -> list[RollupKey]:
        start, end = self.read_bounds
        hours = int((end - start) / HOUR)
        return [RollupKey(self.fleet_id, self.day, start.hour + h) for h in range(hours)]


class TouchedSpans:
    """Which part of which device-day acknowledged records fell in, since the last ``take``."""

    def __init__(self) -> None:
        self._spans: dict[tuple[str, date], tuple[datetime, datetime, str]] = {}

    def add(self, point: TelemetryPoint) -> None:
        self.merge(Span(point.device_id, point.day, point.ts, point.ts, point.fleet_id))

    def merge(self, span: Span) -> None:
        """Widen the device-day's span to cover ``span`` (e.g. one whose recompute failed); a
        span whose fleet is unknown ("") keeps the fleet already known for the device-day."""
        key = (span.device_id, span.day)
        first, last, fleet = self._spans.get(key, (span.first, span.last, span.fleet_id))
        self._spans[key] = (min(first, span.first), max(last, span.last), fleet or span.fleet_id)

    def take(self) -> list[Span]:
        spans, self._spans = self._spans, {}
        return sorted(
            Span(d, day, first, last, fleet) for (d, day), (first, last, fleet) in spans.items()
        )

    def __len__(self) -> int:
        return len(self._spans)


@dataclass(frozen=True, slots=True)
class DeviceMinute:
    device_id: str
    day: date
    minute: datetime
    lat: float
    lon: float
    speed_kmh: float
    max_speed_kmh: float
    battery_pct: float
    temp_c: float
    readings: int

    def row(self) -> dict[str, object]:
        return {column: getattr(self, column) for column in DEVICE_MINUTES.columns}

    @property
    def write_timestamp(self) -> int:
        """More readings seen -> later ``USING TIMESTAMP`` (at most 60 s of 1 µs apart)."""
        return to_micros(self.minute) + min(self.readings, 59_999_999)


def read_back_consistency(write: str, local_rf: int | None) -> str:
    """The cheapest level whose reads see every write acknowledged at ``write``: R + W > RF
    in the local DC. 2 replicas and LOCAL_QUORUM (W = 2): LOCAL_ONE. Unknown RF: LOCAL_QUORUM."""
    if not local_rf:
        return "LOCAL_QUORUM"
    quorum = local_rf // 2 + 1
    acked = {"LOCAL_QUORUM": quorum, "EACH_QUORUM": quorum, "ALL": local_rf}.get(write, 1)
    needed = local_rf - acked + 1
    if needed <= 1:
        return "LOCAL_ONE"
    return "LOCAL_QUORUM" if needed <= quorum else "ALL"


@dataclass
class Fetched:
    """What one read-back found: the spans' minutes and hours, the fleet hours' stored device
    hours and alert counts, and what could not be read (recompute those again later)."""

    minutes: list[DeviceMinute] = field(default_factory=list)
    hours: list[DeviceHour] = field(default_factory=list)
    stored_hours: dict[RollupKey, list[DeviceHour]] = field(default_factory=dict)
    alert_counts: dict[RollupKey, int] = field(default_factory=dict)
    failed_spans: list[tuple[Span, Exception]] = field(default_factory=list)
    failed_keys: list[tuple[RollupKey, Exception]] = field(default_factory=list)


class RollupReader:
    """Read-backs for the rollups, all sent concurrently; lists the devices of a fleet."""

    def __init__(self, session: Session, keyspace: str) -> None:
        self._session = session
        self._aggregate = session.prepare(
            f"SELECT {', '.join((*AGGREGATES.values(), *SUMS))} "
            f"FROM {keyspace}.{TELEMETRY_BY_DEVICE.name} "
            "WHERE device_id = ? AND day = ? AND ts >= ? AND ts < ? GROUP BY floor(ts, 1m)"
        )
        self._aggregate.fetch_size = 2_000  # groups per page: a whole day (1,440) in one
        self._hours = session.prepare(
            f"SELECT {', '.join(DEVICE_HOURS.columns)} FROM {keyspace}.{DEVICE_HOURS.name} "
            "WHERE fleet_id = ? AND day = ? AND hour = ?"
        )
        self._hours.fetch_size = 5_000
        self._alerts = session.prepare(
            f"SELECT COUNT(*) FROM {keyspace}.{ALERTS.name} "
            "WHERE fleet_id = ? AND day = ? AND severity = ? AND ts >= ? AND ts < ?"
        )
        self._devices = session.prepare(
            f"SELECT device_id FROM {keyspace}.{DEVICES.name} WHERE fleet_id = ?"
        )

    def device_ids(self, fleet_id: str) -> list[str]:
        return [row[0] for row in self._session.execute(self._devices, (fleet_id,))]

    def fetch(self, spans: Sequence[Span], keys: Sequence[RollupKey], consistency: str) -> Fetched:
        """Read the spans' readings (per minute) and the fleet hours ``keys``, concurrently."""
        level = ConsistencyLevel.name_to_value[consistency]
        statements: list[tuple[Any, Sequence[object]]] = []
        for span in spans:
            statements.append((self._aggregate, (span.device_id, span.day, *span.read_bounds)))
        for key in keys:
            statements.append((self._hours, (key.fleet_id, key.day, key.hour)))
            hour_range = (key.start, key.start + HOUR)
            for severity in SEVERITIES:
                statements.append((self._alerts, (key.fleet_id, key.day, severity, *hour_range)))
        bound = []
        for prepared, params in statements:
            statement = prepared.bind(params)
            statement.consistency_level = level
            bound.append((statement, ()))
        results = execute_concurrent(
            self._session,
            bound,
            concurrency=min(MAX_CONCURRENCY, max(1, len(bound))),
            raise_on_first_error=False,
        )
        out = iter(results)
        return collect(spans, keys, out)


def collect(
    spans: Sequence[Span], keys: Sequence[RollupKey], results: Iterable[tuple[bool, Any]]
) -> Fetched:
    """Sort the results of :meth:`RollupReader.fetch` (one per span, then four per key: the
    device hours and the three severities' alert counts) into a :class:`Fetched`."""
    fetched = Fetched()
    out = iter(results)
    for span in spans:
        ok, rows = next(out)
        if not ok:
            fetched.failed_spans.append((span, rows))
            continue
        minutes, hours = to_minutes_and_hours(span, rows)
        fetched.minutes.extend(minutes)
        fetched.hours.extend(hours)
    for key in keys:
        answers = [next(out) for _ in range(1 + len(SEVERITIES))]
        error = next((rows for ok, rows in answers if not ok), None)
        if error is not None:
            fetched.failed_keys.append((key, error))
            continue
        fetched.stored_hours[key] = [to_device_hour(row) for row in answers[0][1]]
        fetched.alert_counts[key] = sum(int(next(iter(rows))[0]) for _, rows in answers[1:])
    return fetched


def to_device_hour(row: Sequence[Any]) -> DeviceHour:
    """A ``device_hours_by_fleet_day`` row (``DEVICE_HOURS.columns`` order)."""
    values = dict(zip(DEVICE_HOURS.columns, row, strict=True))
    day = values["day"]  # the driver's cassandra.util.Date
    values["day"] = day if isinstance(day, date) else day.date()
    return DeviceHour(**values)


def to_minutes_and_hours(
    span: Span, rows: Iterable[Sequence[Any]]
) -> tuple[list[DeviceMinute], list[DeviceHour]]:
    """Aggregated rows (``AGGREGATES`` then ``SUMS`` order) of ``span``'s read bounds -> the
    minutes the span touched, and the device's hours; timestamps are the driver's naive UTC."""
    start, end = span.bounds
    minutes: list[DeviceMinute] = []
    per_hour: dict[int, list[tuple[int, float, float, float]]] = {}
    for minute, *values in rows:
        at = minute.replace(tzinfo=UTC)
        fields: dict[str, Any] = dict(zip(VALUE_COLUMNS, values, strict=False))
        sum_speed, sum_battery = values[len(VALUE_COLUMNS) :]
        per_hour.setdefault(at.hour, []).append(
            (fields["readings"], sum_speed, fields["max_speed_kmh"], sum_battery)
        )
        if start <= at < end:
            minutes.append(DeviceMinute(span.device_id, span.day, at, **fields))
    hours = [
        DeviceHour(
            span.fleet_id,
            span.device_id,
            span.day,
            hour,
            points=sum(g[0] for g in groups),
            sum_speed_kmh=math.fsum(g[1] for g in groups),
            max_speed_kmh=max(g[2] for g in groups),
            sum_battery_pct=math.fsum(g[3] for g in groups),
        )
        for hour, groups in sorted(per_hour.items())
    ]
    return minutes, hours
