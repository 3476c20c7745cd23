"""Device minutes (fleet.minutes): which slices are recomputed, and which write wins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fleet.minutes import DeviceMinute, Span, TouchedSpans, to_minutes
from fleet.model import TelemetryPoint
from fleet.plan import minute_mutation
from fleet.schema import DEVICE_MINUTES

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
    start, end = Span.whole_day("PARIS-0001", T0.date()).bounds
    assert (end - start) / timedelta(minutes=1) == 1440
    assert start == datetime(2025, 6, 16, tzinfo=UTC)


def test_driver_rows_become_utc_minutes() -> None:
    span = Span("PARIS-0001", T0.date(), T0, T0)
    naive = T0.replace(second=0, tzinfo=None)
    (minute,) = to_minutes(span, [(naive, 48.8, 2.3, 40.0, 65.5, 80.0, 21.5, 6)])
    assert minute == DeviceMinute(
        "PARIS-0001", T0.date(), T0.replace(second=0), 48.8, 2.3, 40.0, 65.5, 80.0, 21.5, 6
    )


def test_a_recompute_that_saw_more_readings_wins_whatever_the_order(db: Any) -> None:
    """A stream refresh mid-minute (3 readings) landing after the full recompute (6) loses."""
    span = Span("PARIS-0001", T0.date(), T0, T0)
    at = T0.replace(second=0, tzinfo=None)
    (partial,) = to_minutes(span, [(at, 48.8, 2.3, 30.0, 40.0, 80.0, 21.0, 3)])
    (full,) = to_minutes(span, [(at, 48.8, 2.3, 35.0, 70.0, 79.0, 21.5, 6)])
    assert partial.write_timestamp < full.write_timestamp
    for order in ((partial, full), (full, partial)):
        store = type(db)()  # the in-memory Cassandra of conftest.py, empty
        for minute in order:
            store.execute_async((minute_mutation(minute),), execution_profile=None)
        (row,) = store.select(DEVICE_MINUTES.name)
        assert (row["readings"], row["max_speed_kmh"]) == (6, 70.0)
