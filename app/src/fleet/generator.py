"""Realistic, reproducible telemetry: vehicles driving continuously around their fleet's city.

Each device is a small physical simulation stepped by the elapsed time ``dt`` between two
readings:

* position moves along the heading by exactly ``speed * dt`` (great-circle), so consecutive
  points are never further apart than the vehicle could drive: no teleporting;
* speed follows an hour-of-day traffic profile (rush hours slow, ring road fast, delivery stops,
  off duty at night) within 0-130 km/h and the model's top speed, with bounded acceleration;
* heading changes by at most ``MAX_TURN_RATE_DEG_S * dt`` (less at high speed) and steers back
  towards the city centre near the edge of the area;
* the battery drains while on duty (per hour and per km) and recharges while parked, which is
  at night or when it ran low;
* temperature follows the season and a daily cycle (coldest ~03:00, warmest ~15:00 local),
  heats with speed, and relaxes with a 20-minute time constant.

Every device has its own random generator seeded from ``(seed, device_id)``: the same seed and
the same clock give the same output, whatever the number of fleets or devices.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from fleet.model import City, Device, TelemetryPoint, city_of_fleet

MAX_SPEED_KMH = 130.0
MAX_ACCEL_KMH_PER_S = 5.4  # 1.5 m/s^2
MAX_DECEL_KMH_PER_S = 10.8  # 3 m/s^2
MAX_TURN_RATE_DEG_S = 6.0  # at or below 50 km/h; scaled down as 50/speed above it
EARTH_RADIUS_M = 6_371_008.8
LOW_BATTERY_PARK_PCT = 10.0  # below this the vehicle stops to charge...
RESUME_BATTERY_PCT = 50.0  # ...until this
MEAN_DRIVE_BETWEEN_STOPS_S = 12 * 60.0
ACTIVATION_EPOCH = datetime(2023, 1, 1, 8, 0, tzinfo=UTC)

# Urban cruising speed (km/h) while driving, by local hour; interpolated between hours.
_TRAFFIC_KMH = (
    *(30, 30, 30, 30, 30, 32),  # 00-05: rare night runs
    *(35, 22, 20, 26, 36, 38),  # 06-11: morning rush
    *(36, 36, 38, 36, 30, 21),  # 12-17: evening rush builds up
    *(20, 26, 42, 45, 45, 40),  # 18-23
)
_RING_ROAD_FACTOR = 2.3  # beyond 55% of the radius vehicles are on faster roads
_OCTANTS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


@dataclass(frozen=True, slots=True)
class DeviceModel:
    name: str
    max_speed_kmh: float
    drain_pct_per_h: float
    drain_pct_per_km: float
    charge_pct_per_h: float
    self_heating_c: float  # extra degrees at top speed


DEVICE_MODELS = (
    DeviceModel("GPS-TX-1", 110.0, 2.6, 0.06, 14.0, 6.0),  # delivery vans
    DeviceModel("GPS-TX-2", 90.0, 2.2, 0.05, 12.0, 9.0),  # trucks, warm cargo bay
    DeviceModel("EV-TRK-3", 130.0, 3.0, 0.08, 18.0, 5.0),  # service cars
)


class Phase(StrEnum):
    DRIVING = "DRIVING"
    STOPPED = "STOPPED"  # delivery stop: on duty, engine idle
    PARKED = "PARKED"  # off duty or charging


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


def destination(lat: float, lon: float, heading: float, distance_m: float) -> tuple[float, float]:
    """The point ``distance_m`` away along the great circle starting at ``heading``."""
    d = distance_m / EARTH_RADIUS_M
    p1, l1, h = math.radians(lat), math.radians(lon), math.radians(heading)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(h))
    l2 = l1 + math.atan2(
        math.sin(h) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(p2), (math.degrees(l2) + 540.0) % 360.0 - 180.0


def angle_diff(a: float, b: float) -> float:
    """Signed smallest rotation from ``b`` to ``a``, in (-180, 180]."""
    d = (a - b) % 360.0
    return d - 360.0 if d > 180.0 else d


def max_turn_deg(speed_kmh: float, dt_s: float) -> float:
    rate = MAX_TURN_RATE_DEG_S * min(1.0, 50.0 / max(speed_kmh, 1e-9))
    return min(180.0, rate * dt_s)


def local_hour(city: City, ts: datetime) -> float:
    utc = ts.astimezone(UTC)
    return (utc.hour + utc.minute / 60 + utc.second / 3600 + city.utc_offset_h) % 24.0


def traffic_speed_kmh(hour: float) -> float:
    low = int(hour) % 24
    frac = hour - int(hour)
    return _TRAFFIC_KMH[low] * (1 - frac) + _TRAFFIC_KMH[(low + 1) % 24] * frac


def ambient_temp_c(city: City, ts: datetime) -> float:
    """Season (about 4 C in early January to 21 C in late July) plus a +-5 C daily cycle."""
    doy = ts.astimezone(UTC).timetuple().tm_yday
    seasonal = 12.5 + 8.5 * math.sin(2 * math.pi * (doy - 111) / 365.25)
    daily = 5.0 * math.sin(2 * math.pi * (local_hour(city, ts) - 9.0) / 24.0)
    return seasonal + daily - 0.4 * (city.lat - 46.0)


def zone_of(city: City, lat: float, lon: float) -> str:
    """``PARIS-CENTER`` within a quarter of the radius, else the octant: ``PARIS-NE``..."""
    if haversine_m(city.lat, city.lon, lat, lon) < city.radius_km * 250.0:
        return f"{city.name}-CENTER"
    octant = int(((bearing_deg(city.lat, city.lon, lat, lon) + 22.5) % 360.0) // 45.0)
    return f"{city.name}-{_OCTANTS[octant]}"


class _Vehicle:
    """Mutable state of one simulated device; only :class:`FleetSimulator` drives it."""

    def __init__(self, fleet_id: str, index: int, seed: int, start: datetime, interval_s: float):
        self.city = city_of_fleet(fleet_id)
        device_id = f"{self.city.name}-{index:04d}"
        rng = random.Random(f"{seed}:{device_id}")
        self.rng = rng
        self.spec = rng.choice(DEVICE_MODELS)
        self.device = Device(
            fleet_id=fleet_id,
            device_id=device_id,
            model=self.spec.name,
            activated_at=ACTIVATION_EPOCH + timedelta(days=rng.randint(0, 700)),
        )
        self.duty_start_h = rng.uniform(5.5, 7.5)
        self.duty_end_h = rng.uniform(20.0, 23.0)
        self.pace = rng.uniform(0.85, 1.2)
        self.drain_factor = rng.uniform(0.8, 1.4)
        faulty_cooling = 10.0 if rng.random() < 0.05 else 0.0
        self.temp_offset_c = rng.gauss(0.0, 1.5) + faulty_cooling
        self.report_offset = timedelta(  # at least one choice: intervals under 1 ms give 0
            milliseconds=rng.randrange(max(1, int(min(interval_s, 10.0) * 1000)))
        )

        distance_m = self.city.radius_km * 500.0 * math.sqrt(rng.random())
        self.lat, self.lon = destination(
            self.city.lat, self.city.lon, rng.uniform(0.0, 360.0), distance_m
        )
        self.heading = rng.uniform(0.0, 360.0)
        self.speed = 0.0
        self.battery = rng.uniform(55.0, 100.0)
        self.temp = ambient_temp_c(self.city, start) + self.temp_offset_c
        self.phase = Phase.DRIVING if self._on_duty(start) else Phase.PARKED
        self.dwell_s = 0.0
        self.last_ts: datetime | None = None

    def _on_duty(self, ts: datetime) -> bool:
        return self.duty_start_h <= local_hour(self.city, ts) < self.duty_end_h

    def _next_phase(self, ts: datetime, dt: float) -> None:
        on_duty = self._on_duty(ts)
        if self.phase is Phase.PARKED:
            if on_duty and self.battery >= RESUME_BATTERY_PCT and self.speed == 0.0:
                self.phase = Phase.DRIVING
        elif not on_duty or self.battery < LOW_BATTERY_PARK_PCT:
            self.phase = Phase.PARKED
        elif self.phase is Phase.STOPPED:
            if self.speed == 0.0:
                self.dwell_s -= dt
                if self.dwell_s <= 0.0:
                    self.phase = Phase.DRIVING
        elif self.rng.random() < 1.0 - math.exp(-dt / MEAN_DRIVE_BETWEEN_STOPS_S):
            self.phase = Phase.STOPPED
            self.dwell_s = self.rng.uniform(120.0, 600.0)

    def _target_speed(self, ts: datetime, from_centre_m: float) -> float:
        if self.phase is not Phase.DRIVING:
            return 0.0
        target = traffic_speed_kmh(local_hour(self.city, ts)) * self.pace
        if from_centre_m > 0.55 * self.city.radius_km * 1000.0:
            target *= _RING_ROAD_FACTOR
        return min(target, self.spec.max_speed_kmh, MAX_SPEED_KMH)

    def step(self, ts: datetime, dt: float) -> None:
        rng, noise = self.rng, math.sqrt(dt / 10.0)
        self._next_phase(ts, dt)
        from_centre_m = haversine_m(self.city.lat, self.city.lon, self.lat, self.lon)
        target = self._target_speed(ts, from_centre_m)
        self.pace = min(1.35, max(0.75, self.pace + rng.gauss(0.0, 0.02 * noise)))

        proposed = self.speed + (target - self.speed) * (1.0 - math.exp(-dt / 15.0))
        if target > 0.0:
            proposed += rng.gauss(0.0, 2.0 * noise)
        elif proposed < 2.0:
            proposed = 0.0
        delta = min(MAX_ACCEL_KMH_PER_S * dt, max(-MAX_DECEL_KMH_PER_S * dt, proposed - self.speed))
        self.speed = min(self.spec.max_speed_kmh, MAX_SPEED_KMH, max(0.0, self.speed + delta))

        distance_m = self.speed / 3.6 * dt
        if self.speed > 0.0:
            turn = rng.gauss(0.0, 10.0 * noise)
            if from_centre_m > 0.8 * self.city.radius_km * 1000.0:
                home = bearing_deg(self.lat, self.lon, self.city.lat, self.city.lon)
                turn += 0.6 * angle_diff(home, self.heading)
            limit = max_turn_deg(self.speed, dt)
            self.heading = (self.heading + max(-limit, min(limit, turn))) % 360.0
            self.lat, self.lon = destination(self.lat, self.lon, self.heading, distance_m)

        if self.phase is Phase.PARKED and self.speed == 0.0:
            self.battery = min(100.0, self.battery + self.spec.charge_pct_per_h * dt / 3600.0)
        else:
            used = self.spec.drain_pct_per_h * dt / 3600.0
            used += self.spec.drain_pct_per_km * distance_m / 1000.0
            self.battery = max(0.0, self.battery - used * self.drain_factor)

        heat = self.spec.self_heating_c * self.speed / self.spec.max_speed_kmh
        target_temp = ambient_temp_c(self.city, ts) + self.temp_offset_c + heat
        self.temp += (target_temp - self.temp) * (1.0 - math.exp(-dt / 1200.0))
        # Noise of a mean-reverting value: it stops growing with dt beyond the time constant
        # (a day between readings would otherwise drift it past the validation range).
        self.temp += rng.gauss(0.0, 0.15 * math.sqrt(min(dt, 1200.0) / 10.0))

    def reading(self, ts: datetime) -> TelemetryPoint:
        heading = round(self.heading, 1)
        return TelemetryPoint(
            fleet_id=self.device.fleet_id,
            device_id=self.device.device_id,
            model=self.device.model,
            ts=ts,
            lat=round(self.lat, 6),
            lon=round(self.lon, 6),
            speed_kmh=round(self.speed, 1),
            heading_deg=0.0 if heading >= 360.0 else heading,
            battery_pct=round(self.battery),
            temp_c=round(self.temp, 1),
            zone=zone_of(self.city, self.lat, self.lon),
        )


def _floor_ms(ts: datetime) -> datetime:
    return ts.replace(microsecond=ts.microsecond - ts.microsecond % 1000)


class FleetSimulator:
    """All devices of the configured fleets; :meth:`tick` yields one reading per device."""

    def __init__(
        self,
        fleets: Sequence[str],
        devices_per_fleet: int,
        seed: int,
        start: datetime,
        interval_s: float = 10.0,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        if devices_per_fleet < 1 or not fleets:
            raise ValueError("need at least one fleet and one device per fleet")
        self.start = start.astimezone(UTC)
        self.interval = timedelta(seconds=interval_s)
        self._ticks = 0
        self._last_tick: datetime | None = None
        self._vehicles = [
            _Vehicle(fleet, i, seed, self.start, interval_s)
            for fleet in fleets
            for i in range(1, devices_per_fleet + 1)
        ]

    @property
    def devices(self) -> tuple[Device, ...]:
        return tuple(v.device for v in self._vehicles)

    def tick(self, at: datetime | None = None) -> list[TelemetryPoint]:
        """Advance to ``at`` (default: start + ticks * interval) and read every device.

        Each device reports a fixed few milliseconds-to-seconds before the tick time, so
        readings are never later than ``at``.
        """
        tick_time = at.astimezone(UTC) if at else self.start + self._ticks * self.interval
        if self._last_tick is not None and tick_time <= self._last_tick:
            raise ValueError(f"tick time {tick_time} is not after the previous {self._last_tick}")
        self._last_tick = tick_time
        self._ticks += 1
        points = []
        for vehicle in self._vehicles:
            ts = _floor_ms(tick_time - vehicle.report_offset)
            if vehicle.last_ts is not None:
                vehicle.step(ts, (ts - vehicle.last_ts).total_seconds())
            vehicle.last_ts = ts
            points.append(vehicle.reading(ts))
        return points


def generate_history(
    fleets: Sequence[str],
    devices_per_fleet: int,
    seed: int,
    records: int,
    end: datetime,
    interval_s: float = 10.0,
) -> Iterator[TelemetryPoint]:
    """Exactly ``records`` readings in time order, the last tick at ``end`` (never after it)."""
    if records < 0:
        raise ValueError("records must be >= 0")
    if devices_per_fleet < 1 or not fleets:
        raise ValueError("need at least one fleet and one device per fleet")
    ticks = math.ceil(records / (len(fleets) * devices_per_fleet))
    start = end - max(ticks - 1, 0) * timedelta(seconds=interval_s)
    simulator = FleetSimulator(fleets, devices_per_fleet, seed, start, interval_s)
    emitted = 0
    while emitted < records:
        for point in simulator.tick():
            yield point
            emitted += 1
            if emitted == records:
                return


def fleet_devices(fleets: Sequence[str], devices_per_fleet: int, seed: int) -> tuple[Device, ...]:
    """The device registry of a configuration (identity does not depend on the start time)."""
    return FleetSimulator(fleets, devices_per_fleet, seed, ACTIVATION_EPOCH).devices
