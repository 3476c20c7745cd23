"""A device's day per minute (``device_analytics_by_day``): what the Analytics page charts.

Why a table: aggregating at read time (``GROUP BY floor(ts, 1m)`` on ``telemetry_by_device_day``)
scans every reading of the day, 8,640 per device at one every 10 s, on each view; comparing three
devices took 629 ms p95 on the lab. The stored minutes are at most 1,440 rows per device-day.

Same design as the fleet's hourly rollups (:mod:`fleet.transform`): a minute row is *recomputed*
from the readings stored in ``telemetry_by_device_day``, never incremented, so replays, restarts
and concurrent ETL workers converge on the same rows. Cassandra does the arithmetic, on the slice
of the day that acknowledged records touched (one request per device, sent concurrently). Rows
are written ``USING TIMESTAMP minute_start + readings``: a recompute that saw more readings of
the minute wins over one that saw fewer, whichever lands last.

Freshness: the ETL recomputes after each run and, while streaming, every ``--rollup-every``
seconds; ``fleet rollup --day`` recomputes a whole day (e.g. after a repair).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args

from fleet.model import TelemetryPoint, to_micros
from fleet.schema import DEVICE_MINUTES, DEVICES, TELEMETRY_BY_DEVICE

MINUTE = timedelta(minutes=1)
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
MAX_CONCURRENCY = 32


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Readings of one device-day between ``first`` and ``last`` (inclusive) to recompute."""

    device_id: str
    day: date
    first: datetime
    last: datetime

    @classmethod
    def whole_day(cls, device_id: str, day: date) -> Span:
        start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        return cls(device_id, day, start, start + timedelta(days=1) - MINUTE)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) on whole minutes."""
        start = self.first.replace(second=0, microsecond=0)
        return start, self.last.replace(second=0, microsecond=0) + MINUTE


class TouchedSpans:
    """Which part of which device-day acknowledged records fell in, since the last ``take``."""

    def __init__(self) -> None:
        self._spans: dict[tuple[str, date], tuple[datetime, datetime]] = {}

    def add(self, point: TelemetryPoint) -> None:
        self.merge(Span(point.device_id, point.day, point.ts, point.ts))

    def merge(self, span: Span) -> None:
        """Widen the device-day's span to cover ``span`` (e.g. one whose recompute failed)."""
        key = (span.device_id, span.day)
        first, last = self._spans.get(key, (span.first, span.last))
        self._spans[key] = (min(first, span.first), max(last, span.last))

    def take(self) -> list[Span]:
        spans, self._spans = self._spans, {}
        return sorted(Span(d, day, first, last) for (d, day), (first, last) in spans.items())

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


@dataclass(frozen=True, slots=True)
class Recomputed:
    minutes: list[DeviceMinute]
    failures: list[tuple[Span, Exception]]


class MinuteReader:
    """Computes the minutes of spans from stored readings; lists the devices of a fleet."""

    def __init__(self, session: Session, keyspace: str) -> None:
        self._session = session
        self._aggregate = session.prepare(
            f"SELECT {', '.join(AGGREGATES.values())} FROM {keyspace}.{TELEMETRY_BY_DEVICE.name} "
            "WHERE device_id = ? AND day = ? AND ts >= ? AND ts < ? GROUP BY floor(ts, 1m)"
        )
        self._aggregate.fetch_size = 2_000  # groups per page: a whole day (1,440) in one
        self._devices = session.prepare(
            f"SELECT device_id FROM {keyspace}.{DEVICES.name} WHERE fleet_id = ?"
        )

    def device_ids(self, fleet_id: str) -> list[str]:
        return [row[0] for row in self._session.execute(self._devices, (fleet_id,))]

    def recompute(self, spans: Sequence[Span]) -> Recomputed:
        if not spans:
            return Recomputed([], [])
        params = [(s.device_id, s.day, *s.bounds) for s in spans]
        results = execute_concurrent_with_args(
            self._session,
            self._aggregate,
            params,
            concurrency=min(MAX_CONCURRENCY, len(params)),
            raise_on_first_error=False,
        )
        minutes: list[DeviceMinute] = []
        failures: list[tuple[Span, Exception]] = []
        for span, (ok, rows) in zip(spans, results, strict=True):
            if not ok:
                failures.append((span, rows))
                continue
            minutes.extend(to_minutes(span, rows))
        return Recomputed(minutes, failures)


def to_minutes(span: Span, rows: Iterable[Sequence[Any]]) -> list[DeviceMinute]:
    """Aggregated rows (``AGGREGATES`` order) of ``span`` -> minutes; the driver's naive UTC."""
    out = []
    for minute, *values in rows:
        fields: dict[str, Any] = dict(zip(VALUE_COLUMNS, values, strict=True))
        out.append(DeviceMinute(span.device_id, span.day, minute.replace(tzinfo=UTC), **fields))
    return out
