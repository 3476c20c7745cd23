"""Analytics: one device's day (speed, battery, temperature, trail), a comparison of several
devices, and the fleet's hourly rollups."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fleet.dashboard import charts, state

MAX_COMPARED = 5


def render() -> None:
    fleet_id, day = state.current_fleet(), state.current_day()
    keyspace = state.connection().settings.keyspace
    _, dash = state.settings()
    st.header(f"Analytics · {fleet_id} · {day:%Y-%m-%d}")
    options = state.device_ids(keyspace, fleet_id)
    left, right = st.columns([1, 2])
    with left:
        device_id = state.select_device(options)
    if device_id is None:
        return
    others = [d for d in options if d != device_id]
    pending = st.session_state.pop(state.COMPARE, None)
    if pending is not None:  # from a ?compare= link: only devices of this fleet
        st.session_state["an_compare"] = [d for d in pending if d in others][:MAX_COMPARED]
    with right:
        compare = st.multiselect(
            "Compare with",
            others,
            max_selections=MAX_COMPARED,
            key="an_compare",
        )
    data = state.analytics(keyspace, fleet_id, device_id, day, tuple(compare))
    history = data.history

    st.subheader(f"{device_id} on {day:%Y-%m-%d}")
    if history.empty:
        st.info(f"No reading of {device_id} on {day:%Y-%m-%d} (UTC).")
    else:
        battery = history["battery_pct"]
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("Readings", int(history["readings"].sum()), border=True)
        c2.metric("Max speed", f"{history['max_speed_kmh'].max():.1f} km/h", border=True)
        c3.metric(
            "Battery (last minute)",
            f"{battery.iloc[-1]:.0f} %",
            delta=f"{battery.iloc[-1] - battery.iloc[0]:+.0f} % over the day",
            border=True,
        )
        c4.metric("Max temperature", f"{history['temp_c'].max():.1f} °C", border=True)
        st.caption(
            "Per-minute averages stored by the ETL (device_analytics_by_day): up to a minute "
            "behind the readings."
        )
        charts_col, map_col = st.columns([3, 2])
        with charts_col:
            tabs = st.tabs([label.split(" (")[0] for label in charts.METRICS.values()])
            for tab, metric in zip(tabs, charts.METRICS, strict=True):
                with tab:
                    st.plotly_chart(charts.metric_line(history, metric), key=f"an_{metric}")
        with map_col:
            st.markdown("**Trail** (green: first minute, black: last)")
            st.plotly_chart(charts.trail_map(history, dash.map_style), key="an_trail")

    st.subheader("Multi-device comparison")
    if not compare:
        st.caption("Pick devices under “Compare with” to overlay them.")
    else:
        metric = st.radio(
            "Metric",
            list(charts.METRICS),
            format_func=charts.METRICS.get,
            horizontal=True,
            key="an_metric",
        )
        both = pd.concat([history.assign(device_id=device_id), data.comparison], ignore_index=True)
        st.plotly_chart(charts.metric_line(both, metric, color="device_id"), key="an_compare_chart")

    st.subheader(f"Fleet hourly rollups · {fleet_id}")
    if data.rollups.empty:
        st.info("No rollup for this day: run `fleet rollup --day …` or the ETL.")
    else:
        st.plotly_chart(charts.rollup_chart(data.rollups), key="an_rollups")
        st.dataframe(data.rollups, hide_index=True, key="an_rollup_table")


render()
