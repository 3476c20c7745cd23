"""Domain types shared by every stage: sources produce them, transform and writer consume them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta


@dataclass(frozen=True, slots=True)
class City:
    """A fleet's home area: vehicles drive around ``(lat, lon)`` within ``radius_km``."""

    name: str
    lat: float
    lon: float
    radius_km: float
    utc_offset_h: int  # standard time; daily profiles ignore daylight saving on purpose


# Fleets are named FLEET_<CITY>; the order sets which cities a fleet *count* picks.
CITIES: dict[str, City] = {
    c.name: c
    for c in (
        City("PARIS", 48.8566, 2.3522, 18.0, 1),
        City("LYON", 45.7640, 4.8357, 12.0, 1),
        City("MARSEILLE", 43.2965, 5.3698, 12.0, 1),
        City("TOULOUSE", 43.6047, 1.4442, 10.0, 1),
        City("LILLE", 50.6292, 3.0573, 9.0, 1),
        City("BORDEAUX", 44.8378, -0.5792, 10.0, 1),
        City("NANTES", 47.2184, -1.5536, 9.0, 1),
        City("STRASBOURG", 48.5734, 7.7521, 8.0, 1),
    )
}


def city_of_fleet(fleet_id: str) -> City:
    """``FLEET_PARIS`` -> the PARIS city; ``KeyError`` for an unknown fleet."""
    return CITIES[fleet_id.removeprefix("FLEET_")]


@dataclass(frozen=True, slots=True)
class Device:
    fleet_id: str
    device_id: str
    model: str
    activated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TelemetryPoint:
    """One reading of one device. ``ts`` is timezone-aware UTC with millisecond precision."""

    fleet_id: str
    device_id: str
    model: str
    ts: datetime
    lat: float
    lon: float
    speed_kmh: float
    heading_deg: float
    battery_pct: int
    temp_c: float
    zone: str

    @property
    def day(self) -> date:
        """The UTC day: partitions and rollups are keyed by UTC days and hours."""
        return self.ts.astimezone(UTC).date()

    @property
    def hour(self) -> int:
        return self.ts.astimezone(UTC).hour

    @property
    def key(self) -> tuple[str, datetime]:
        """Primary key of a reading: a replayed reading overwrites itself."""
        return self.device_id, self.ts


# Field order of a reading: the CSV columns, and what is read back from the telemetry tables.
TELEMETRY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TelemetryPoint))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_millis(ts: datetime) -> int:
    """Milliseconds since the epoch (CQL ``timestamp`` precision), exact; ``ts`` must be aware."""
    return (ts - _EPOCH) // _MS


def from_millis(ms: int) -> datetime:
    return _EPOCH + ms * _MS


def to_micros(ts: datetime) -> int:
    """Microseconds since the epoch, for ``USING TIMESTAMP``."""
    return to_millis(ts) * 1000
