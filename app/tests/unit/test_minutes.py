"""Device minutes (fleet.minutes): which slices are recomputed, and which write wins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fleet.minutes import (
    DeviceMinute,
    Span,
    TouchedSpans,
    read_back_consistency,
    to_minutes_and_hours,
)
from fleet.model import TelemetryPoint
from fleet.plan import minute_mutation
from fleet.schema import DEVICE_MINUTES
from fleet.transform import DeviceHour, RollupKey

T0 = datetime(2025, 6, 16, 8, 0, 25, tzinfo=UTC)


def test_touched_spans_cover_first_to_last_reading_per_device_day(
    point_factory: Callable[..., TelemetryPoint],
) -> None:
    spans = TouchedSpans()
    late = T0.replace(hour=23, minute=59, second=55)
    for ts in (T0 + timedelta(minutes=3), T0, late, late + timedelta(seconds=10)):
        spans.add(point_factory(ts=ts))
    spans.add(point_factory(device_id="PARIS-0002", ts=T0))
    assert len(spans) == 3  # PARIS-0001 on two days, PARIS-0002 on one
    taken = spans.take()
    assert len(spans) == 0 and spans.take() == []
    first = taken[0]
    assert (first.device_id, first.first, first.last) == ("PARIS-0001", T0, late)
    # whole minutes, end exclusive: 08:00 .. 23:59 -> [08:00, 24:00)
    assert first.bounds == (T0.replace(second=0), datetime(2025, 6, 17, tzinfo=UTC))
    assert taken[1].bounds[0] == datetime(2025, 6, 17, 0, 0, tzinfo=UTC)
    assert [s.device_id for s in taken] == ["PARIS-0001", "PARIS-0001", "PARIS-0002"]


def test_whole_day_span_is_the_1440_minutes_of_the_day() -> None:
    start, end = Span.whole_day("FLEET_PARIS", "PARIS-0001", T0.date()).bounds
    assert (end - start) / timedelta(minutes=1) == 1440
    assert start == datetime(2025, 6, 16, tzinfo=UTC)


def test_driver_rows_become_utc_minutes() -> None:
    span = Span("PARIS-0001", T0.date(), T0, T0, "FLEET_PARIS")
    naive = T0.replace(second=0, tzinfo=None)
    (minute,), (hour,) = to_minutes_and_hours(
        span, [(naive, 48.8, 2.3, 40.0, 65.5, 80.0, 21.5, 6, 240.0, 480.0)]
    )
    assert minute == DeviceMinute(
        "PARIS-0001", T0.date(), T0.replace(second=0), 48.8, 2.3, 40.0, 65.5, 80.0, 21.5, 6
    )
    assert hour == DeviceHour("FLEET_PARIS", "PARIS-0001", T0.date(), 8, 6, 240.0, 65.5, 480.0)


def test_the_read_covers_whole_hours_but_only_touched_minutes_are_written() -> None:
    """Readings 08:10-08:12 touched: the read is 08:00-09:00 (the device's hour), the minutes
    written are 08:10-08:12; the hour sums every minute read."""
    first = T0.replace(minute=10)
    span = Span("PARIS-0001", T0.date(), first, first + timedelta(minutes=2), "FLEET_PARIS")
    assert span.read_bounds == (T0.replace(minute=0, second=0), T0.replace(hour=9, second=0))
    assert span.fleet_hours == [RollupKey("FLEET_PARIS", T0.date(), 8)]
    rows = [
        (
            T0.replace(minute=m, second=0, tzinfo=None),
            48.8,
            2.3,
            10.0,
            20.0,
            50.0,
            20.0,
            2,
            20.0,
            100.0,
        )
        for m in (0, 10, 11, 12, 59)
    ]
    minutes, (hour,) = to_minutes_and_hours(span, rows)
    assert [m.minute.minute for m in minutes] == [10, 11, 12]
    assert (hour.points, hour.sum_speed_kmh, hour.sum_battery_pct) == (10, 100.0, 500.0)


def test_a_span_over_midnight_hours_lists_each_fleet_hour() -> None:
    span = Span("PARIS-0001", T0.date(), T0.replace(hour=22), T0.replace(hour=23), "FLEET_PARIS")
    assert [k.hour for k in span.fleet_hours] == [22, 23]


def test_read_back_consistency_is_the_cheapest_that_sees_acknowledged_writes() -> None:
    assert read_back_consistency("LOCAL_QUORUM", 2) == "LOCAL_ONE"  # W=2 of 2: R=1
    assert read_back_consistency("LOCAL_QUORUM", 3) == "LOCAL_QUORUM"  # W=2 of 3: R=2
    assert read_back_consistency("LOCAL_QUORUM", 1) == "LOCAL_ONE"
    assert read_back_consistency("LOCAL_ONE", 2) == "LOCAL_QUORUM"  # W=1 of 2: R=2
    assert read_back_consistency("LOCAL_ONE", 3) == "ALL"
    assert read_back_consistency("LOCAL_QUORUM", None) == "LOCAL_QUORUM"  # RF unknown


def test_a_recompute_that_saw_more_readings_wins_whatever_the_order(db: Any) -> None:
    """A stream refresh mid-minute (3 readings) landing after the full recompute (6) loses."""
    span = Span("PARIS-0001", T0.date(), T0, T0, "FLEET_PARIS")
    at = T0.replace(second=0, tzinfo=None)
    (partial,), _ = to_minutes_and_hours(span, [(at, 48.8, 2.3, 30.0, 40.0, 80.0, 21.0, 3, 0, 0)])
    (full,), _ = to_minutes_and_hours(span, [(at, 48.8, 2.3, 35.0, 70.0, 79.0, 21.5, 6, 0, 0)])
    assert partial.write_timestamp < full.write_timestamp
    for order in ((partial, full), (full, partial)):
        store = type(db)()  # the in-memory Cassandra of conftest.py, empty
        for minute in order:
            store.execute_async((minute_mutation(minute),), execution_profile=None)
        (row,) = store.select(DEVICE_MINUTES.name)
        assert (row["readings"], row["max_speed_kmh"]) == (6, 70.0)


def test_a_span_of_unknown_fleet_keeps_the_fleet_known_for_its_device_day(
    point_factory: Callable[..., TelemetryPoint],
) -> None:
    """A failed minute row carries no fleet: merged back, it must not lose the device-day's."""
    spans = TouchedSpans()
    spans.add(point_factory(ts=T0))
    later = T0 + timedelta(minutes=5)
    spans.merge(Span("PARIS-0001", T0.date(), later, later, ""))
    (span,) = spans.take()
    assert span.fleet_id == "FLEET_PARIS" and span.last == T0 + timedelta(minutes=5)
