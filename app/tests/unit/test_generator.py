from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from fleet.generator import (
    MAX_ACCEL_KMH_PER_S,
    MAX_DECEL_KMH_PER_S,
    MAX_SPEED_KMH,
    MAX_TURN_RATE_DEG_S,
    FleetSimulator,
    angle_diff,
    fleet_devices,
    generate_history,
    haversine_m,
    local_hour,
    max_turn_deg,
    zone_of,
)
from fleet.model import CITIES, TelemetryPoint, city_of_fleet
from fleet.transform import validate_point

FLEETS = ("FLEET_PARIS", "FLEET_LYON")
END = datetime(2025, 7, 15, 12, 0, tzinfo=UTC)


def by_device(points: list[TelemetryPoint]) -> dict[str, list[TelemetryPoint]]:
    tracks: dict[str, list[TelemetryPoint]] = defaultdict(list)
    for p in points:
        tracks[p.device_id].append(p)
    return tracks


@pytest.fixture(scope="module")
def day_of_points() -> list[TelemetryPoint]:
    """Two fleets x 6 devices, one reading every 30 s for 24 hours."""
    return list(generate_history(FLEETS, 6, 7, 12 * 2880, END, interval_s=30.0))


def test_exact_count_order_and_end() -> None:
    points = list(generate_history(FLEETS, 3, 1, 100, END))
    assert len(points) == 100
    assert all(p.ts <= END for p in points)
    assert all(p.ts.microsecond % 1000 == 0 for p in points)
    for track in by_device(points).values():
        assert all(a.ts < b.ts for a, b in pairwise(track))


def test_same_seed_same_output_other_seed_other_output() -> None:
    first = list(generate_history(FLEETS, 4, 123, 2000, END))
    again = list(generate_history(FLEETS, 4, 123, 2000, END))
    other = list(generate_history(FLEETS, 4, 124, 2000, END))
    assert first == again
    assert [p.lat for p in first] != [p.lat for p in other]


def test_device_identity_does_not_depend_on_other_fleets() -> None:
    alone = fleet_devices(("FLEET_PARIS",), 3, 9)
    together = fleet_devices(("FLEET_LYON", "FLEET_PARIS"), 3, 9)
    assert set(alone) <= set(together)
    assert {d.device_id for d in alone} == {"PARIS-0001", "PARIS-0002", "PARIS-0003"}
    assert all(d.activated_at is not None for d in together)


def test_no_teleporting_and_bounded_dynamics(day_of_points: list[TelemetryPoint]) -> None:
    checked = 0
    for track in by_device(day_of_points).values():
        for a, b in pairwise(track):
            dt = (b.ts - a.ts).total_seconds()
            assert dt == pytest.approx(30.0, abs=0.002)
            # moved along the heading at the new speed: never further than speed * dt
            # (+1 m for rounding the published coordinates and speed)
            assert haversine_m(a.lat, a.lon, b.lat, b.lon) <= b.speed_kmh / 3.6 * dt + 1.0
            assert b.speed_kmh - a.speed_kmh <= MAX_ACCEL_KMH_PER_S * dt + 0.1
            assert a.speed_kmh - b.speed_kmh <= MAX_DECEL_KMH_PER_S * dt + 0.1
            turn = abs(angle_diff(b.heading_deg, a.heading_deg))
            assert turn <= min(180.0, MAX_TURN_RATE_DEG_S * dt) + 0.1
            if b.speed_kmh == 0.0:
                assert (a.lat, a.lon) == (b.lat, b.lon)  # parked vehicles do not move
            checked += 1
    assert checked > 30_000


def test_turn_rate_is_bounded_and_lower_at_speed() -> None:
    points = list(generate_history(FLEETS, 5, 11, 10 * 2160, END, interval_s=5.0))
    fast_turns = []
    for track in by_device(points).values():
        for a, b in pairwise(track):
            turn = abs(angle_diff(b.heading_deg, a.heading_deg))
            # published speed is rounded to 0.1 km/h: use the lowest speed it stands for
            assert turn <= max_turn_deg(max(b.speed_kmh - 0.05, 0.0), 5.0) + 0.1
            if b.speed_kmh > 100.0:
                fast_turns.append(turn)
    assert max_turn_deg(30.0, 5.0) == MAX_TURN_RATE_DEG_S * 5.0
    assert max_turn_deg(100.0, 5.0) == MAX_TURN_RATE_DEG_S * 5.0 / 2
    assert fast_turns and max(fast_turns) <= MAX_TURN_RATE_DEG_S * 5.0 * 50.0 / 100.0 + 0.1


def test_values_stay_in_range(day_of_points: list[TelemetryPoint]) -> None:
    now = END + timedelta(seconds=1)
    for p in day_of_points:
        assert validate_point(p, now=now) == []
        assert 0.0 <= p.speed_kmh <= MAX_SPEED_KMH
        assert 0 <= p.battery_pct <= 100
        city = city_of_fleet(p.fleet_id)
        assert haversine_m(city.lat, city.lon, p.lat, p.lon) <= city.radius_km * 1200.0
        assert p.zone.startswith(f"{city.name}-")
    assert max(p.speed_kmh for p in day_of_points) > 60.0  # not a parking lot either


def _mean_by_local_hour(points: list[TelemetryPoint], attr: str, hours: range) -> float:
    return statistics.fmean(
        getattr(p, attr)
        for p in points
        if int(local_hour(city_of_fleet(p.fleet_id), p.ts)) in hours
    )


def test_daily_patterns(day_of_points: list[TelemetryPoint]) -> None:
    night_speed = _mean_by_local_hour(day_of_points, "speed_kmh", range(1, 4))
    day_speed = _mean_by_local_hour(day_of_points, "speed_kmh", range(10, 15))
    assert night_speed == 0.0  # everyone is parked at 01:00-04:00
    assert day_speed > 15.0

    # batteries drain over the working day and recharge overnight
    evening = _mean_by_local_hour(day_of_points, "battery_pct", range(19, 21))
    dawn = _mean_by_local_hour(day_of_points, "battery_pct", range(4, 6))
    assert dawn > evening + 20.0

    # warmest mid-afternoon, coldest before dawn
    afternoon = _mean_by_local_hour(day_of_points, "temp_c", range(14, 17))
    early = _mean_by_local_hour(day_of_points, "temp_c", range(3, 6))
    assert afternoon > early + 4.0


def test_rush_hour_is_slower_than_midday(day_of_points: list[TelemetryPoint]) -> None:
    moving = [p for p in day_of_points if p.speed_kmh > 5.0]
    rush = _mean_by_local_hour(moving, "speed_kmh", range(7, 9))
    midday = _mean_by_local_hour(moving, "speed_kmh", range(11, 14))
    assert rush < midday


def test_tick_at_wall_clock_and_monotonic_time() -> None:
    start = datetime(2025, 1, 1, 12, tzinfo=UTC)
    sim = FleetSimulator(("FLEET_LYON",), 2, 5, start, interval_s=5.0)
    first = sim.tick(at=start)
    second = sim.tick(at=start + timedelta(seconds=7))
    assert [p.device_id for p in first] == ["LYON-0001", "LYON-0002"]
    assert all(p.ts <= start + timedelta(seconds=7) for p in second)
    assert all((b.ts - a.ts).total_seconds() == 7.0 for a, b in zip(first, second, strict=True))
    with pytest.raises(ValueError, match="not after"):
        sim.tick(at=start + timedelta(seconds=7))


def test_bad_simulator_arguments() -> None:
    naive = datetime(2025, 1, 1)
    with pytest.raises(ValueError, match="timezone"):
        FleetSimulator(FLEETS, 1, 0, naive)
    with pytest.raises(ValueError, match="positive"):
        FleetSimulator(FLEETS, 1, 0, END, interval_s=0)
    with pytest.raises(KeyError):
        FleetSimulator(("FLEET_ATLANTIS",), 1, 0, END)


def test_zones() -> None:
    paris = CITIES["PARIS"]
    assert zone_of(paris, paris.lat, paris.lon) == "PARIS-CENTER"
    assert zone_of(paris, paris.lat + 0.1, paris.lon) == "PARIS-N"  # ~11 km north
    assert zone_of(paris, paris.lat - 0.07, paris.lon + 0.1) == "PARIS-SE"
    assert zone_of(paris, paris.lat, paris.lon - 0.15) == "PARIS-W"
