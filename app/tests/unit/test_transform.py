from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from fleet.generator import generate_history
from fleet.model import TelemetryPoint
from fleet.plan import rollup_mutation
from fleet.schema import ROLLUPS
from fleet.transform import (
    HourlyRollup,
    RollupKey,
    alert_rows,
    alert_window,
    alert_write_timestamp,
    compute_hourly_rollup,
    device_hours,
    evaluate_alerts,
    fleet_hour_rollup,
    rollup_keys,
    rollup_write_timestamp,
    validate_point,
)

Factory = Callable[..., TelemetryPoint]
NOW = datetime(2025, 6, 16, 9, 0, tzinfo=UTC)


# ----------------------------------------------------------------------------- validation


def test_valid_point_has_no_reasons(point_factory: Factory) -> None:
    assert validate_point(point_factory(), now=NOW) == []


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("lat", 91.0, "lat 91.0 out of range"),
        ("lon", -180.5, "lon -180.5 out of range"),
        ("speed_kmh", -1.0, "speed_kmh -1.0 out of range"),
        ("speed_kmh", 300.0, "speed_kmh 300.0 out of range"),
        ("speed_kmh", float("nan"), "speed_kmh nan out of range"),
        ("heading_deg", 361.0, "heading_deg 361.0 out of range"),
        ("battery_pct", 101, "battery_pct 101 out of range"),
        ("battery_pct", 55.5, "battery_pct 55.5: an integer expected"),
        ("battery_pct", True, "battery_pct True: an integer expected"),
        ("temp_c", "hot", "temp_c 'hot': a number expected"),
        ("temp_c", -60.0, "temp_c -60.0 out of range"),
        ("device_id", "", "device_id '': 1-64 letters"),
        ("zone", "bad zone", "zone 'bad zone': 1-64 letters"),
        ("ts", datetime(2025, 6, 16, 8, 30), "timezone-aware timestamp expected"),
        ("ts", datetime(1999, 1, 1, tzinfo=UTC), "is before 2000-01-01"),
    ],
)
def test_invalid_fields(point_factory: Factory, field: str, value: object, expected: str) -> None:
    reasons = validate_point(point_factory(**{field: value}), now=NOW)
    assert len(reasons) == 1
    assert expected in reasons[0]


def test_future_tolerance(point_factory: Factory) -> None:
    assert validate_point(point_factory(ts=NOW + timedelta(minutes=4)), now=NOW) == []
    reasons = validate_point(point_factory(ts=NOW + timedelta(minutes=6)), now=NOW)
    assert reasons and "in the future" in reasons[0]
    strict = validate_point(
        point_factory(ts=NOW + timedelta(seconds=2)), now=NOW, future_tolerance=timedelta(0)
    )
    assert strict


def test_all_reasons_are_reported(point_factory: Factory) -> None:
    reasons = validate_point(point_factory(lat=100.0, battery_pct=-1, zone=""), now=NOW)
    assert len(reasons) == 3


# ----------------------------------------------------------------------------- alerts


def _alerts(point: TelemetryPoint) -> dict[str, str]:
    return {a.alert_type: a.severity for a in evaluate_alerts(point)}


@pytest.mark.parametrize(
    ("temp", "severity"),
    [(34.9, None), (35.0, "LOW"), (39.9, "LOW"), (40.0, "MEDIUM"), (45.0, "HIGH"), (60.0, "HIGH")],
)
def test_temperature_thresholds(point_factory: Factory, temp: float, severity: str | None) -> None:
    assert _alerts(point_factory(temp_c=temp)).get("TEMP_HIGH") == severity


@pytest.mark.parametrize(
    ("battery", "severity"),
    [(21, None), (20, "LOW"), (11, "LOW"), (10, "MEDIUM"), (6, "MEDIUM"), (5, "HIGH"), (0, "HIGH")],
)
def test_battery_thresholds(point_factory: Factory, battery: int, severity: str | None) -> None:
    assert _alerts(point_factory(battery_pct=battery)).get("BATTERY_LOW") == severity


@pytest.mark.parametrize(
    ("speed", "severity"),
    [(89.9, None), (90.0, "LOW"), (110.0, "MEDIUM"), (119.9, "MEDIUM"), (120.0, "HIGH")],
)
def test_overspeed_thresholds(point_factory: Factory, speed: float, severity: str | None) -> None:
    assert _alerts(point_factory(speed_kmh=speed)).get("OVERSPEED") == severity


def test_one_reading_can_raise_several_alerts(point_factory: Factory) -> None:
    point = point_factory(temp_c=46.0, battery_pct=4, speed_kmh=95.0)
    alerts = evaluate_alerts(point)
    assert {(a.alert_type, a.severity) for a in alerts} == {
        ("TEMP_HIGH", "HIGH"),
        ("BATTERY_LOW", "HIGH"),
        ("OVERSPEED", "LOW"),
    }
    speed = next(a for a in alerts if a.alert_type == "OVERSPEED")
    assert (speed.value, speed.threshold, speed.ts, speed.day) == (95.0, 90.0, point.ts, point.day)
    assert speed.message == "speed_kmh 95 km/h >= 90 km/h at 08:30:00"
    assert evaluate_alerts(point_factory()) == []


@pytest.mark.parametrize(
    ("ts", "window"),
    [
        (datetime(2025, 6, 16, 8, 30, tzinfo=UTC), datetime(2025, 6, 16, 8, 30, tzinfo=UTC)),
        (
            datetime(2025, 6, 16, 8, 34, 59, 999000, tzinfo=UTC),
            datetime(2025, 6, 16, 8, 30, tzinfo=UTC),
        ),
        (datetime(2025, 6, 16, 8, 35, tzinfo=UTC), datetime(2025, 6, 16, 8, 35, tzinfo=UTC)),
        (datetime(2025, 6, 16, 23, 59, 59, tzinfo=UTC), datetime(2025, 6, 16, 23, 55, tzinfo=UTC)),
        # a reading stamped in another time zone lands in the UTC window of the same instant
        (
            datetime(2025, 6, 16, 10, 33, tzinfo=timezone(timedelta(hours=2))),
            datetime(2025, 6, 16, 8, 30, tzinfo=UTC),
        ),
    ],
)
def test_alert_window(ts: datetime, window: datetime) -> None:
    assert alert_window(ts) == window


def _hot(point_factory: Factory, minute: float, speed: float = 95.0) -> TelemetryPoint:
    ts = datetime(2025, 6, 16, 8, 0, tzinfo=UTC) + timedelta(minutes=minute)
    return point_factory(ts=ts, speed_kmh=speed)


def test_a_lasting_condition_is_one_row_per_window(point_factory: Factory) -> None:
    # 15 minutes over 90 km/h, one reading every 5 s: 180 readings, 3 windows.
    readings = [_hot(point_factory, i / 12) for i in range(180)]
    rows = alert_rows(readings)
    assert len(rows) == 3
    assert sorted(a.ts for a in rows.values()) == [
        readings[0].ts,
        readings[60].ts,
        readings[120].ts,
    ]
    assert {a.window for a in rows.values()} == {a.ts for a in rows.values()}


def test_alert_rows_keep_the_first_reading_whatever_the_order(point_factory: Factory) -> None:
    readings = [_hot(point_factory, m, speed) for m, speed in ((1, 95.0), (2, 99.0), (4.5, 97.0))]
    expected = alert_rows(readings)
    (only,) = expected.values()
    assert (only.ts, only.value) == (readings[0].ts, 95.0)
    for seed in range(5):
        shuffled = readings[:]
        random.Random(seed).shuffle(shuffled)
        assert alert_rows(shuffled) == expected
    # the write timestamps order them the same way: the first reading's wins in Cassandra
    stamps = [alert_write_timestamp(evaluate_alerts(p)[0]) for p in readings]
    assert stamps == sorted(stamps, reverse=True)
    window_us = int(only.window.timestamp()) * 1_000_000
    assert all(window_us <= s < window_us + 300_000_000 for s in stamps)


def test_each_severity_and_rule_is_its_own_row(point_factory: Factory) -> None:
    readings = [
        _hot(point_factory, 1, 95.0),  # OVERSPEED LOW
        _hot(point_factory, 2, 125.0),  # OVERSPEED HIGH in the same window
        point_factory(ts=_hot(point_factory, 3).ts, speed_kmh=95.0, battery_pct=4),  # + BATTERY
        point_factory(device_id="PARIS-0002", ts=_hot(point_factory, 3).ts, speed_kmh=95.0),
    ]
    keys = {(a.device_id, a.alert_type, a.severity) for a in alert_rows(readings).values()}
    assert keys == {
        ("PARIS-0001", "OVERSPEED", "LOW"),
        ("PARIS-0001", "OVERSPEED", "HIGH"),
        ("PARIS-0001", "BATTERY_LOW", "HIGH"),
        ("PARIS-0002", "OVERSPEED", "LOW"),
    }


# ----------------------------------------------------------------------------- rollups

KEY = RollupKey("FLEET_PARIS", date(2025, 6, 16), 8)


def _hour_points(point_factory: Factory) -> list[TelemetryPoint]:
    base = KEY.start
    return [
        point_factory(
            device_id="PARIS-0001", ts=base + timedelta(minutes=1), speed_kmh=10.0, battery_pct=90
        ),
        point_factory(
            device_id="PARIS-0001", ts=base + timedelta(minutes=2), speed_kmh=30.0, battery_pct=80
        ),
        point_factory(
            device_id="PARIS-0002", ts=base + timedelta(minutes=3), speed_kmh=112.0, battery_pct=10
        ),
    ]


def test_rollup_values(point_factory: Factory) -> None:
    rollup = compute_hourly_rollup(KEY, _hour_points(point_factory))
    assert rollup == HourlyRollup(
        key=KEY,
        points=3,
        active_devices=2,
        avg_speed_kmh=round(152.0 / 3, 3),
        max_speed_kmh=112.0,
        avg_battery_pct=60.0,
        alert_count=2,  # OVERSPEED MEDIUM + BATTERY_LOW MEDIUM on the third reading
    )
    assert compute_hourly_rollup(KEY, []) is None


def test_rollup_rejects_readings_of_another_hour_or_fleet(point_factory: Factory) -> None:
    with pytest.raises(ValueError, match="outside rollup"):
        compute_hourly_rollup(KEY, [point_factory(ts=KEY.start + timedelta(hours=1))])
    with pytest.raises(ValueError, match="outside rollup"):
        compute_hourly_rollup(KEY, [point_factory(fleet_id="FLEET_LYON", ts=KEY.start)])


def test_rollup_is_the_same_under_replay_and_any_order(point_factory: Factory) -> None:
    points = _hour_points(point_factory)
    once = compute_hourly_rollup(KEY, points)
    replayed = points + points[:2] + points  # the ETL restarted and sent readings again
    random.Random(3).shuffle(replayed)
    assert compute_hourly_rollup(KEY, replayed) == once
    assert rollup_write_timestamp(compute_hourly_rollup(KEY, replayed)) == rollup_write_timestamp(
        once
    )


def test_rollup_keys_are_utc_hours(point_factory: Factory) -> None:
    late = point_factory(ts=datetime(2025, 6, 16, 23, 59, 59, tzinfo=UTC))
    early = point_factory(ts=datetime(2025, 6, 17, 1, 30, tzinfo=timezone(timedelta(hours=2))))
    assert rollup_keys([late, early]) == {RollupKey("FLEET_PARIS", date(2025, 6, 16), 23)}


class LwwStore:
    """What Cassandra does with our writes: telemetry upserts by key, and for the rollup row
    the cell with the highest write timestamp wins (ties: the greater value)."""

    def __init__(self) -> None:
        self.telemetry: dict[tuple[str, datetime], TelemetryPoint] = {}
        self.rollup: tuple[int, tuple[object, ...]] | None = None

    def write_telemetry(self, points: Iterable[TelemetryPoint]) -> None:
        for p in points:
            self.telemetry[p.key] = p

    def recompute(self) -> tuple[int, tuple[object, ...]]:
        """A worker reads the hour and prepares its rollup write (not applied yet)."""
        rollup = compute_hourly_rollup(KEY, self.telemetry.values())
        assert rollup is not None
        mutation = rollup_mutation(rollup)
        assert mutation.table is ROLLUPS
        return mutation.values[-1], mutation.values[:-1]  # (USING TIMESTAMP, cells)

    def apply(self, write: tuple[int, tuple[object, ...]]) -> None:
        if self.rollup is None or (write[0], repr(write[1])) > (
            self.rollup[0],
            repr(self.rollup[1]),
        ):
            self.rollup = write


def _hour_of_readings() -> list[TelemetryPoint]:
    end = KEY.start + timedelta(minutes=59, seconds=50)
    generated = generate_history(("FLEET_PARIS",), 6, 21, 6 * 360, end, interval_s=10.0)
    points = [p for p in generated if RollupKey.of(p) == KEY]
    assert len(points) > 2100
    return points


def test_two_workers_converge_to_the_full_rollup() -> None:
    points = _hour_of_readings()
    expected = compute_hourly_rollup(KEY, points)
    store = LwwStore()
    worker_a = [p for p in points if p.device_id <= "PARIS-0003"]
    worker_b = [p for p in points if p.device_id > "PARIS-0003"]

    store.write_telemetry(worker_a[: len(worker_a) // 2])
    stale = store.recompute()  # A recomputes early, its write is delayed in the network
    store.write_telemetry(worker_a[len(worker_a) // 2 :])
    store.write_telemetry(worker_b)
    final_b = store.recompute()  # B finishes last and sees everything
    store.apply(final_b)
    store.apply(stale)  # the stale, smaller rollup arrives after the complete one

    assert store.rollup == final_b
    cells = dict(zip(ROLLUPS.columns, store.rollup[1], strict=True))
    assert cells["points"] == expected.points == len(points)
    assert cells["avg_speed_kmh"] == expected.avg_speed_kmh
    assert cells["alert_count"] == expected.alert_count


def test_restarted_worker_replays_without_double_counting() -> None:
    points = _hour_of_readings()
    store = LwwStore()
    store.write_telemetry(points[:1000])
    store.apply(store.recompute())
    # crash; the restarted worker resumes from an earlier checkpoint: 400 readings again
    store.write_telemetry(points[600:])
    first = store.recompute()
    store.apply(first)
    store.write_telemetry(points)  # and a full replay for good measure
    second = store.recompute()
    assert second == first  # same cells, same timestamp: a no-op for Cassandra
    store.apply(second)
    cells = dict(zip(ROLLUPS.columns, store.rollup[1], strict=True))
    assert cells["points"] == len(points)
    assert cells["active_devices"] == 6


def test_write_timestamp_grows_with_readings_within_the_hour(point_factory: Factory) -> None:
    points = _hour_points(point_factory)
    small = compute_hourly_rollup(KEY, points[:2])
    full = compute_hourly_rollup(KEY, points)
    start_us = int(KEY.start.timestamp()) * 1_000_000
    assert start_us < rollup_write_timestamp(small) < rollup_write_timestamp(full)
    assert rollup_write_timestamp(full) - start_us == 3


# ----------------------------------------------------------------------------- device hours


def _random_hour(seed: int, devices: int, per_device: int) -> list[TelemetryPoint]:
    rng = random.Random(seed)
    start = datetime(2025, 6, 16, 8, tzinfo=UTC)
    return [
        TelemetryPoint(
            "FLEET_PARIS",
            f"PARIS-{d:04d}",
            "GPS-TX-1",
            start + timedelta(seconds=rng.randrange(3600)),
            48.8,
            2.3,
            round(rng.uniform(0, 140), 1),
            90.0,
            rng.randrange(101),
            20.0,
            "Z1",
        )
        for d in range(devices)
        for _ in range(per_device)
    ]


@pytest.mark.parametrize("seed", range(5))
def test_a_fleet_hour_summed_from_device_hours_is_the_rollup_of_its_readings(seed: int) -> None:
    """What the ETL stores (device hours, then their sum) equals the rollup computed from the
    readings themselves, duplicates included."""
    points = _random_hour(seed, devices=7, per_device=40)
    points += points[:15]  # replayed readings count once
    key = RollupKey("FLEET_PARIS", date(2025, 6, 16), 8)
    reference = compute_hourly_rollup(key, points)
    summed = fleet_hour_rollup(key, [], device_hours(points), reference.alert_count)
    assert summed == reference


def test_the_device_hour_with_more_readings_wins_as_in_the_table() -> None:
    """Another worker's stored hour with more readings beats the one just computed, and a fresh
    hour with more readings beats a stale stored one: the write timestamps' rule."""
    points = _random_hour(1, devices=2, per_device=30)
    key = RollupKey("FLEET_PARIS", date(2025, 6, 16), 8)
    full = device_hours(points)
    partial = device_hours(points[:10] + points[30:40])
    assert fleet_hour_rollup(key, full, partial, 0) == fleet_hour_rollup(key, [], full, 0)
    assert fleet_hour_rollup(key, partial, full, 0) == fleet_hour_rollup(key, [], full, 0)
    assert fleet_hour_rollup(key, [], [], 0) is None
    other = RollupKey("FLEET_PARIS", date(2025, 6, 16), 9)
    with pytest.raises(ValueError, match="outside rollup"):
        fleet_hour_rollup(other, [], full, 0)
