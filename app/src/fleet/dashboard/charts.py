"""Plotly figures of the pages (pure: DataFrame in, figure out)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

SEVERITY_COLORS = {"HIGH": "#d62728", "MEDIUM": "#ff7f0e", "LOW": "#e6c229"}
METRICS = {
    "speed_kmh": "Speed (km/h)",
    "battery_pct": "Battery (%)",
    "temp_c": "Temperature (°C)",
}
SPEED_SCALE = "Turbo"
MAP_HEIGHT = 480


def _zoom(frame: pd.DataFrame) -> float:
    """A zoom level that fits the points (about 10 for a city, more for a short trail)."""
    span = max(frame["lat"].max() - frame["lat"].min(), frame["lon"].max() - frame["lon"].min())
    if span <= 0:
        return 13.0
    for zoom, limit in ((13.0, 0.02), (12.0, 0.05), (11.0, 0.12), (10.0, 0.3), (9.0, 0.6)):
        if span <= limit:
            return zoom
    return 7.0


def _center(frame: pd.DataFrame) -> dict[str, float]:
    return {"lat": float(frame["lat"].mean()), "lon": float(frame["lon"].mean())}


def _speed_map(
    frame: pd.DataFrame, map_style: str, marker_size: int, **kwargs: object
) -> go.Figure:
    """Points of ``frame`` on a map, coloured by speed, framed to fit them."""
    fig = px.scatter_map(
        frame,
        lat="lat",
        lon="lon",
        color="speed_kmh",
        color_continuous_scale=SPEED_SCALE,
        range_color=(0, max(130.0, float(frame["speed_kmh"].max() or 0))),
        labels={"speed_kmh": "km/h"},
        zoom=_zoom(frame),
        center=_center(frame),
        map_style=map_style,
        height=MAP_HEIGHT,
        **kwargs,  # type: ignore[arg-type]
    )
    fig.update_traces(marker={"size": marker_size})
    fig.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0})
    return fig


def fleet_map(latest: pd.DataFrame, map_style: str) -> go.Figure:
    """Latest position of each device, coloured by speed, details on hover."""
    hover = {
        "model": True,
        "speed_kmh": ":.1f",
        "battery_pct": True,
        "temp_c": ":.1f",
        "zone": True,
        "last_ts": True,
        "lat": ":.5f",
        "lon": ":.5f",
    }
    return _speed_map(latest, map_style, 9, hover_name="device_id", hover_data=hover)


def trail_map(history: pd.DataFrame, map_style: str) -> go.Figure:
    """A device's path over the day; points coloured by speed, start and end marked."""
    hover = {"ts": True, "speed_kmh": ":.1f", "battery_pct": ":.0f"}
    fig = _speed_map(history, map_style, 6, hover_data=hover)
    ends = history.iloc[[0, -1]]
    fig.add_trace(
        go.Scattermap(
            lat=ends["lat"],
            lon=ends["lon"],
            mode="markers",
            marker={"size": 14, "color": ["#2ca02c", "#000000"]},
            text=["start", "end"],
            hoverinfo="text",
            name="start / end",
            showlegend=False,
        )
    )
    return fig


def speed_histogram(latest: pd.DataFrame) -> go.Figure:
    top = max(130.0, float(latest["speed_kmh"].max() or 0.0))
    fig = px.histogram(latest, x="speed_kmh", labels={"speed_kmh": "Speed (km/h)"}, height=300)
    fig.update_traces(xbins={"start": 0.0, "end": top + 5.0, "size": 5.0})
    fig.update_layout(
        yaxis_title="devices", xaxis_range=[0, top + 5.0], margin={"t": 10, "b": 10}, bargap=0.05
    )
    return fig


def metric_line(history: pd.DataFrame, metric: str, color: str | None = None) -> go.Figure:
    """One metric over time; one line per device when ``color`` is ``device_id``."""
    fig = px.line(
        history,
        x="ts",
        y=metric,
        color=color,
        labels={"ts": "time (UTC)", metric: METRICS[metric]},
        height=300,
    )
    fig.update_layout(margin={"t": 10, "b": 10})
    return fig


def rollup_chart(rollups: pd.DataFrame) -> go.Figure:
    """Hourly active devices (bars) and average speed (line) of the fleet."""
    fig = go.Figure()
    fig.add_bar(x=rollups["hour"], y=rollups["active_devices"], name="active devices")
    fig.add_scatter(
        x=rollups["hour"],
        y=rollups["avg_speed_kmh"],
        name="avg speed (km/h)",
        yaxis="y2",
        mode="lines+markers",
    )
    fig.update_layout(
        height=320,
        margin={"t": 10, "b": 10},
        xaxis={"title": "hour (UTC)", "dtick": 1, "range": [-0.5, 23.5]},
        yaxis={"title": "active devices"},
        yaxis2={"title": "km/h", "overlaying": "y", "side": "right", "rangemode": "tozero"},
        legend={"orientation": "h", "y": 1.1},
    )
    return fig


def alert_timeline(alerts: pd.DataFrame) -> go.Figure:
    """Each alert at its time, one row per device, coloured by severity."""
    fig = px.scatter(
        alerts,
        x="ts",
        y="device_id",
        color="severity",
        symbol="alert_type",
        color_discrete_map=SEVERITY_COLORS,
        category_orders={"severity": list(SEVERITY_COLORS)},
        hover_data={"message": True, "value": True, "threshold": True},
        labels={"ts": "time (UTC)", "device_id": "device"},
        height=max(300, min(900, 24 * alerts["device_id"].nunique() + 120)),
    )
    fig.update_layout(
        margin={"t": 40, "b": 10}, legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"}
    )
    return fig


_AXIS = {"s": ".3~s", "ratio": ".0%", "bytes": ".3~s", "/s": ".3~s", "": ""}
_SUFFIX = {"s": "s", "bytes": "B", "/s": "/s"}


def operations_line(
    frame: pd.DataFrame,
    title: str,
    unit: str,
    marks: Sequence[tuple[datetime, str]] = (),
) -> go.Figure:
    """One Operations panel: ``frame`` has time, value and series (the legend); ``marks`` draw a
    dashed vertical line each (a report's events)."""
    fig = px.line(frame, x="time", y="value", color="series", title=title)
    fig.update_layout(
        height=280,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend_title_text="",
        xaxis_title=None,
        yaxis_title=None,
    )
    fig.update_yaxes(
        tickformat=_AXIS.get(unit, ""), ticksuffix=_SUFFIX.get(unit, ""), rangemode="tozero"
    )
    for row, (at, label) in enumerate(marks):  # labels stepped down: events seconds apart
        x = at.timestamp() * 1000
        fig.add_vline(x=x, line_dash="dash", line_color="#888")
        fig.add_annotation(
            x=x,
            y=1 - 0.1 * (row % 4),
            yref="paper",
            text=label,
            showarrow=False,
            xanchor="left",
            font={"size": 10},
            bgcolor="rgba(255,255,255,0.7)",
        )
    return fig
