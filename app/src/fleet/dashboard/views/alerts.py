"""Alerts: filters (severity, date range, type), counters per severity, timeline, and a table
whose device links open the Devices page on that device."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from fleet.dashboard import charts, state
from fleet.dashboard.kpi import ALL, MAX_ALERT_DAYS, busiest_devices, days_between, severities_for
from fleet.queries import DEFAULT_ALERT_LIMIT, AlertQuery
from fleet.transform import ALERT_RULES, ALERT_WINDOW, SEVERITIES

TIMELINE_DEVICES = 40
ALERT_WINDOW_MIN = int(ALERT_WINDOW.total_seconds() // 60)


def device_link(fleet_id: str, day: date, device_id: str) -> str:
    """Relative link to the Devices page with the selection in the query string."""
    return "devices?" + urlencode({"fleet": fleet_id, "day": day.isoformat(), "device": device_id})


def _filters(day: date) -> tuple[str, tuple[date, ...], str]:
    c1, c2, c3 = st.columns([2, 2, 1])
    severity = (
        c1.segmented_control("Severity", [ALL, *SEVERITIES], default=ALL, key="al_severity") or ALL
    )
    picked = c2.date_input(
        f"Days (UTC, at most {MAX_ALERT_DAYS})",
        value=(day, day),
        key="al_days",
    )
    alert_type = c3.selectbox("Type", [ALL, *(r.alert_type for r in ALERT_RULES)], key="al_type")
    start, end = (picked[0], picked[-1]) if picked else (day, day)
    try:
        days = days_between(start, end)
    except ValueError as exc:
        st.warning(f"{exc}; showing the last {MAX_ALERT_DAYS} days of the range.")
        days = days_between(end - timedelta(days=MAX_ALERT_DAYS - 1), end)
    return severity, days, alert_type


def _open_device(table: pd.DataFrame, rows: list[int], fleet_id: str) -> None:
    if not rows:
        st.caption("Select a row to open its device, or use the link in the Device column.")
        return
    picked = table.iloc[rows[0]]
    if st.button(f"Open {picked['device_id']} in Devices", type="primary"):
        st.session_state[state.FLEET] = fleet_id
        st.session_state[state.DEVICE] = picked["device_id"]
        st.session_state[state.DAY] = picked["ts"].date()
        st.switch_page("views/devices.py")


def render() -> None:
    fleet_id, day = state.current_fleet(), state.current_day()
    keyspace = state.connection().settings.keyspace
    st.header(f"Alerts · {fleet_id}")
    severity, days, alert_type = _filters(day)
    query = AlertQuery(
        fleet_id,
        days,
        severities_for(severity),
        None if alert_type == ALL else alert_type,
        DEFAULT_ALERT_LIMIT,
    )
    data = state.alerts(keyspace, query)

    cols = st.columns(len(SEVERITIES) + 1)
    cols[0].metric("All", data.total, border=True)
    for col, sev in zip(cols[1:], SEVERITIES, strict=True):
        col.metric(sev, data.counts.get(sev, "-"), border=True)
    period = f"{days[0]:%Y-%m-%d}" + (f" → {days[-1]:%Y-%m-%d}" if len(days) > 1 else "")
    st.caption(
        f"{period} (UTC) · {alert_type if alert_type != ALL else 'all types'} · one alert per "
        f"device, rule and severity in each {ALERT_WINDOW_MIN}-minute window, "
        "with the window's first reading"
    )
    alerts = data.alerts
    if alerts.empty:
        st.info("No alert for these filters.")
        return
    if len(alerts) < data.total:
        st.caption(
            f"Showing the newest {len(alerts)} of {data.total} alerts "
            f"({DEFAULT_ALERT_LIMIT} per day and severity)."
        )

    st.subheader("Timeline")
    busiest = busiest_devices(alerts, TIMELINE_DEVICES)
    if alerts["device_id"].nunique() > TIMELINE_DEVICES:
        st.caption(f"The {TIMELINE_DEVICES} devices with the most alerts.")
    st.plotly_chart(
        charts.alert_timeline(alerts[alerts["device_id"].isin(busiest)]), key="al_timeline"
    )

    st.subheader("Alerts")
    links = [
        device_link(fleet_id, ts.date(), device_id)
        for ts, device_id in zip(alerts["ts"], alerts["device_id"], strict=True)
    ]
    table = alerts.assign(link=links)
    event = st.dataframe(
        table[["ts", "severity", "alert_type", "link", "value", "threshold", "message"]],
        column_config={
            "ts": st.column_config.DatetimeColumn(
                "Window (UTC)", format="YYYY-MM-DD HH:mm", help="Start of the alert's window"
            ),
            "severity": "Severity",
            "alert_type": "Type",
            "message": "Message",
            "link": st.column_config.LinkColumn(
                "Device", display_text=r"device=([^&]+)$", help="Open in the Devices page"
            ),
            "value": st.column_config.NumberColumn("Value", format="%.1f"),
            "threshold": st.column_config.NumberColumn("Threshold", format="%g"),
        },
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="al_table",
    )
    _open_device(table, event.selection.rows, fleet_id)


render()
