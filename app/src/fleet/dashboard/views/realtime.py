"""Realtime: KPIs, map of every device's latest position, device table, speed distribution.

Everything below the header is a fragment that reruns itself every FLEET_DASHBOARD_REFRESH
seconds; its cache entry expires at the same pace, so each refresh reads Cassandra once. In an
outage it keeps refreshing (banner and last good data meanwhile) and recovers by itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from fleet.dashboard import charts, state
from fleet.dashboard.kpi import active_mask, filter_devices, fleet_kpis
from fleet.dashboard.state import ColumnConfig

TABLE_COLUMNS: ColumnConfig = {
    "device_id": st.column_config.TextColumn("Device"),
    "model": st.column_config.TextColumn("Model"),
    "last_ts": st.column_config.DatetimeColumn("Last reading (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "speed_kmh": st.column_config.NumberColumn("Speed (km/h)", format="%.1f"),
    "battery_pct": st.column_config.ProgressColumn(
        "Battery", format="%d%%", min_value=0, max_value=100
    ),
    "temp_c": st.column_config.NumberColumn("Temp (°C)", format="%.1f"),
    "zone": st.column_config.TextColumn("Zone"),
    "lat": st.column_config.NumberColumn("Lat", format="%.5f"),
    "lon": st.column_config.NumberColumn("Lon", format="%.5f"),
}


def _fmt(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.1f} {unit}"


def render() -> None:
    fleet_id = state.current_fleet()
    _, dash = state.settings()
    st.header(f"Realtime · {fleet_id}")
    st.caption(
        f"Latest position of every device; refreshes every {dash.refresh_s:g} s. "
        f"Active: reported within {dash.active_minutes} min."
    )

    @state.fragment(run_every=dash.refresh_s)
    def live() -> None:
        now = datetime.now(UTC)
        data = state.realtime(state.connection().settings.keyspace, fleet_id, now.date())
        latest = data.latest
        window = timedelta(minutes=dash.active_minutes)
        kpis = fleet_kpis(latest, now, window, data.critical_alerts)
        c1, c2, c3, c4 = st.columns(4)
        c1.metric(
            "Active devices",
            kpis.active_devices,
            border=True,
            help=f"of {kpis.devices} devices with a position",
        )
        c2.metric("Avg speed", _fmt(kpis.avg_speed_kmh, "km/h"), border=True)
        c3.metric("Avg battery", _fmt(kpis.avg_battery_pct, "%"), border=True)
        c4.metric(
            "Critical alerts", kpis.critical_alerts, border=True, help="HIGH alerts today (UTC)"
        )
        if latest.empty:
            st.info(f"No position for {fleet_id} yet: is the ETL running for this fleet?")
            return
        st.plotly_chart(charts.fleet_map(latest, dash.map_style), key="fleet_map")

        st.subheader("Devices")
        f1, f2, f3, f4 = st.columns([2, 2, 1, 1])
        search = f1.text_input("Device or model contains", key="rt_search")
        zones = f2.multiselect("Zones", sorted(latest["zone"].unique()), key="rt_zones")
        min_speed = f3.number_input("Min speed", 0.0, 250.0, 0.0, 5.0, key="rt_speed")
        max_battery = f4.number_input("Max battery %", 0, 100, 100, 5, key="rt_battery")
        active_only = st.toggle("Active devices only", key="rt_active")
        rows = latest[active_mask(latest, now, window)] if active_only else latest
        shown = filter_devices(rows, search, zones, min_speed, int(max_battery))
        st.dataframe(
            shown[list(TABLE_COLUMNS)],
            column_config=TABLE_COLUMNS,
            hide_index=True,
            key="rt_table",
        )
        st.caption(f"{len(shown)} of {len(latest)} devices · click a header to sort")
        st.subheader("Speed distribution")
        st.plotly_chart(charts.speed_histogram(shown), key="speed_hist")
        st.caption(f"Read at {data.read_at:%H:%M:%S} UTC")

    live()


render()
