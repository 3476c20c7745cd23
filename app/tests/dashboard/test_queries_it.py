"""The read layer against the seeded keyspace: what each query returns, exactly."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from fleet.config import load_settings
from fleet.queries import DEFAULT_ALERT_LIMIT, AlertQuery, FleetQueries
from fleet.session import connect
from fleet.transform import alert_rows

from .conftest import DEVICES_PER_FLEET, Seeded

pytestmark = pytest.mark.integration
PARIS = "FLEET_PARIS"


@pytest.fixture(scope="module")
def q(seeded: Seeded) -> Iterator[FleetQueries]:
    with connect(load_settings(seeded.env)) as conn:
        yield FleetQueries(conn.session, seeded.keyspace, degraded_profile=conn.degraded_profile)


def test_paging_states_walk_the_whole_day_once(q: FleetQueries, seeded: Seeded) -> None:
    day = datetime.now(UTC).date()
    expected = [p.ts for p in seeded.readings("PARIS-0003", day)]
    seen, state, pages = [], None, 0
    while True:
        page = q.device_day_page("PARIS-0003", day, 7, state)
        seen += [ts.to_pydatetime() for ts in page.frame["ts"]]
        pages += 1
        if page.next_state is None or page.frame.empty:
            break
        state = page.next_state
    assert seen == expected
    assert pages >= len(expected) // 7
    whole = q.device_day("PARIS-0003", day)
    assert [ts.to_pydatetime() for ts in whole["ts"]] == expected[::-1]  # oldest first


def test_per_minute_series_covers_every_reading(q: FleetQueries, seeded: Seeded) -> None:
    day = datetime.now(UTC).date()
    readings = seeded.readings("PARIS-0005", day)
    series = q.device_series("PARIS-0005", day)
    assert int(series["readings"].sum()) == len(readings)
    assert series["ts"].is_monotonic_increasing
    assert series["max_speed_kmh"].max() == max(p.speed_kmh for p in readings)
    both = q.devices_series(["PARIS-0005", "LYON-0001", "NOBODY-0001"], day)
    assert set(both["device_id"]) == {"PARIS-0005", "LYON-0001"}


def test_alert_limits_filters_and_exact_counts(q: FleetQueries, seeded: Seeded) -> None:
    day = datetime.now(UTC).date()
    alerts = list(alert_rows(seeded.of(PARIS, day)).values())  # a row per window
    overspeed = [a for a in alerts if a.alert_type == "OVERSPEED"]
    query = AlertQuery(PARIS, (day,), alert_type="OVERSPEED", limit=1)
    counts = q.alert_counts(query)
    assert sum(counts.values()) == len(overspeed) > 0
    limited = q.alerts(query)
    assert len(limited) == sum(1 for n in counts.values() if n)  # newest 1 per severity
    assert set(limited["alert_type"]) == {"OVERSPEED"}
    both = q.alerts_and_counts(query)  # counts full partitions only: all of them here
    assert both[1] == counts and both[0].equals(limited)
    whole = q.alerts_and_counts(replace(query, limit=DEFAULT_ALERT_LIMIT))  # none full
    assert whole[1] == counts and len(whole[0]) == len(overspeed)
    newest_high = max((a for a in overspeed if a.severity == "HIGH"), key=lambda a: a.window)
    row = limited.loc[limited["severity"] == "HIGH"].iloc[0]
    assert row["ts"].to_pydatetime() == newest_high.window
    assert row["message"] == newest_high.message  # the window's first reading


def test_fleet_reads(q: FleetQueries, seeded: Seeded) -> None:
    assert len(q.devices(PARIS)) == DEVICES_PER_FLEET
    assert len(q.latest_positions(PARIS)) == DEVICES_PER_FLEET
    state = q.latest_device("FLEET_LYON", "LYON-0004")
    newest = max((p for p in seeded.points if p.device_id == "LYON-0004"), key=lambda p: p.ts)
    assert state == newest  # the same reading, read back as a TelemetryPoint
    assert q.latest_device("FLEET_LYON", "NOBODY-0001") is None
    assert q.degraded == 0  # a healthy node: never the fallback
