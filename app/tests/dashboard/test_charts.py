from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from fleet.dashboard import charts

T0 = datetime(2025, 6, 16, 8, 0, tzinfo=UTC)


def positions(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "device_id": [f"PARIS-{i:04d}" for i in range(n)],
            "model": "GPS-TX-1",
            "last_ts": [T0 + timedelta(seconds=i) for i in range(n)],
            "ts": [T0 + timedelta(seconds=i) for i in range(n)],
            "lat": [48.85 + i * 0.001 for i in range(n)],
            "lon": [2.35 + i * 0.001 for i in range(n)],
            "speed_kmh": [float(i) for i in range(n)],
            "battery_pct": 80,
            "temp_c": 20.0,
            "zone": "PARIS-N",
        }
    )


def test_fleet_map_has_one_point_per_device_coloured_by_speed() -> None:
    fig = charts.fleet_map(positions(25), "white-bg")
    trace = fig.data[0]
    assert trace.type == "scattermap"
    assert len(trace.lat) == 25 and list(trace.hovertext)[:2] == ["PARIS-0000", "PARIS-0001"]
    assert list(trace.marker.color) == [float(i) for i in range(25)]
    assert fig.layout.map.style == "white-bg"
    assert 9 <= fig.layout.map.zoom <= 13


def test_trail_marks_start_and_end() -> None:
    fig = charts.trail_map(positions(10), "white-bg")
    assert len(fig.data[0].lat) == 10
    ends = fig.data[-1]
    assert list(ends.text) == ["start", "end"] and list(ends.lat) == [48.85, 48.859]


def test_single_point_zoom_and_histogram() -> None:
    assert charts._zoom(positions(1)) == 13.0
    hist = charts.speed_histogram(positions(30))
    assert hist.data[0].type == "histogram" and len(hist.data[0].x) == 30


def test_alert_timeline_colours_by_severity() -> None:
    alerts = pd.DataFrame(
        {
            "ts": [T0, T0 + timedelta(minutes=1)],
            "device_id": ["A", "B"],
            "severity": ["HIGH", "LOW"],
            "alert_type": ["OVERSPEED", "OVERSPEED"],
            "message": ["m", "m"],
            "value": [125.0, 95.0],
            "threshold": [120.0, 90.0],
        }
    )
    fig = charts.alert_timeline(alerts)
    colours = {t.name.split(",")[0]: t.marker.color for t in fig.data}
    assert colours == {"HIGH": charts.SEVERITY_COLORS["HIGH"], "LOW": charts.SEVERITY_COLORS["LOW"]}


def test_rollup_chart_has_bars_and_a_speed_line() -> None:
    rollups = pd.DataFrame(
        {"hour": [7, 8], "active_devices": [10, 12], "avg_speed_kmh": [30.0, 25.5]}
    )
    fig = charts.rollup_chart(rollups)
    assert [t.type for t in fig.data] == ["bar", "scatter"]
    assert list(fig.data[1].y) == [30.0, 25.5] and fig.data[1].yaxis == "y2"


def test_an_operations_panel_marks_a_reports_events_with_stepped_labels() -> None:
    from datetime import UTC, datetime, timedelta

    import pandas as pd

    from fleet.dashboard.charts import operations_line

    t0 = datetime(2026, 12, 6, 2, 41, tzinfo=UTC)
    frame = pd.DataFrame(
        {"time": [t0, t0 + timedelta(seconds=15)], "value": [0.01, 0.02], "series": ["a", "a"]}
    )
    marks = [(t0 + timedelta(seconds=s), f"event {s}") for s in (1, 2, 3, 4, 5)]
    fig = operations_line(frame, "ETL write latency, p99", "s", marks)
    assert fig.layout.title.text == "ETL write latency, p99"
    assert fig.layout.yaxis.ticksuffix == "s"
    assert [a.text for a in fig.layout.annotations] == [label for _, label in marks]
    assert [round(a.y, 1) for a in fig.layout.annotations] == [1.0, 0.9, 0.8, 0.7, 1.0]
    assert len(fig.layout.shapes) == 5
    assert operations_line(frame, "x", "ratio").layout.yaxis.tickformat == ".0%"
