from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from fleet.dashboard.kpi import (
    ALL,
    MAX_ALERT_DAYS,
    busiest_devices,
    days_between,
    filter_devices,
    fleet_kpis,
    severities_for,
)

NOW = datetime(2025, 6, 16, 12, 0, tzinfo=UTC)


def latest(*rows: tuple[str, str, int, float, int, str]) -> pd.DataFrame:
    """(device_id, model, minutes ago, speed, battery, zone) per device."""
    return pd.DataFrame(
        [
            {
                "device_id": d,
                "model": m,
                "last_ts": pd.Timestamp(NOW - timedelta(minutes=ago)),
                "speed_kmh": speed,
                "battery_pct": battery,
                "zone": zone,
            }
            for d, m, ago, speed, battery, zone in rows
        ]
    )


FLEET = latest(
    ("PARIS-0001", "GPS-TX-1", 1, 40.0, 80, "PARIS-N"),
    ("PARIS-0002", "EV-TRK-3", 5, 60.0, 50, "PARIS-S"),
    ("PARIS-0003", "GPS-TX-2", 90, 0.0, 10, "PARIS-N"),  # silent for 1.5 h
)


def test_kpis_count_and_average_active_devices_only() -> None:
    kpis = fleet_kpis(FLEET, NOW, timedelta(minutes=15), critical_alerts=4)
    assert (kpis.devices, kpis.active_devices, kpis.critical_alerts) == (3, 2, 4)
    assert kpis.avg_speed_kmh == 50.0
    assert kpis.avg_battery_pct == 65.0


def test_kpis_of_a_silent_or_empty_fleet_have_no_averages() -> None:
    silent = fleet_kpis(FLEET, NOW + timedelta(days=1), timedelta(minutes=15), 0)
    assert (silent.devices, silent.active_devices, silent.avg_speed_kmh) == (3, 0, None)
    empty = fleet_kpis(FLEET.iloc[0:0], NOW, timedelta(minutes=15), 0)
    assert (empty.devices, empty.active_devices, empty.avg_battery_pct) == (0, 0, None)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, ["PARIS-0001", "PARIS-0002", "PARIS-0003"]),
        ({"search": "ev-trk"}, ["PARIS-0002"]),
        ({"search": " 0003 "}, ["PARIS-0003"]),
        ({"zones": ["PARIS-N"]}, ["PARIS-0001", "PARIS-0003"]),
        ({"min_speed_kmh": 45.0}, ["PARIS-0002"]),
        ({"max_battery_pct": 50}, ["PARIS-0002", "PARIS-0003"]),
        ({"zones": ["PARIS-N"], "max_battery_pct": 20}, ["PARIS-0003"]),
        ({"search": "nothing"}, []),
    ],
)
def test_device_filters(kwargs: dict[str, object], expected: list[str]) -> None:
    assert filter_devices(FLEET, **kwargs)["device_id"].tolist() == expected  # type: ignore[arg-type]


def test_severity_choices() -> None:
    assert severities_for(ALL) == ("HIGH", "MEDIUM", "LOW")
    assert severities_for("LOW") == ("LOW",)
    with pytest.raises(ValueError, match="unknown severity"):
        severities_for("CRITICAL")


def test_days_between_is_inclusive_ordered_and_bounded() -> None:
    d = date(2025, 6, 30)
    assert days_between(d, d) == (d,)
    assert days_between(d, date(2025, 7, 2)) == (d, date(2025, 7, 1), date(2025, 7, 2))
    assert days_between(date(2025, 7, 2), d)[0] == d  # reversed range
    assert len(days_between(d, d + timedelta(days=MAX_ALERT_DAYS - 1))) == MAX_ALERT_DAYS
    with pytest.raises(ValueError, match=f"at most {MAX_ALERT_DAYS} days"):
        days_between(d, d + timedelta(days=MAX_ALERT_DAYS))


def test_busiest_devices_by_count_then_id() -> None:
    alerts = pd.DataFrame({"device_id": ["B", "A", "C", "C", "B", "D"]})
    assert busiest_devices(alerts, 3) == ["B", "C", "A"]
