"""Devices: the fleet's devices, the latest reading of one, and its day page by page (the
driver's paging state: next and previous pages), with CSV export."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import streamlit as st

from fleet.dashboard import state
from fleet.dashboard.paging import PageCursor, first_row_number
from fleet.dashboard.state import ColumnConfig

PAGE_SIZES = (50, 100, 500, 1000)
PAGE_COLUMNS: ColumnConfig = {
    "ts": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "lat": st.column_config.NumberColumn("Lat", format="%.5f"),
    "lon": st.column_config.NumberColumn("Lon", format="%.5f"),
    "speed_kmh": st.column_config.NumberColumn("Speed (km/h)", format="%.1f"),
    "heading_deg": st.column_config.NumberColumn("Heading (°)", format="%.0f"),
    "battery_pct": st.column_config.NumberColumn("Battery (%)", format="%d"),
    "temp_c": st.column_config.NumberColumn("Temp (°C)", format="%.1f"),
    "zone": "Zone",
    "model": "Model",
}
CURSOR = "dv_cursor"


def _cursor(key: tuple[object, ...]) -> PageCursor:
    """The paging cursor of this (fleet, device, day, page size); reset when one changes."""
    stored = st.session_state.get(CURSOR)
    if not stored or stored[0] != key:
        st.session_state[CURSOR] = (key, PageCursor())
    return st.session_state[CURSOR][1]


def _move(key: tuple[object, ...], cursor: PageCursor) -> None:
    st.session_state[CURSOR] = (key, cursor)


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def render() -> None:
    fleet_id, day = state.current_fleet(), state.current_day()
    keyspace = state.connection().settings.keyspace
    st.header(f"Devices · {fleet_id}")
    options = state.device_ids(keyspace, fleet_id)
    left, right = st.columns([1, 2])
    with left:
        device_id = state.select_device(options)
        page_size = st.selectbox("Rows per page", PAGE_SIZES, index=1, key="dv_page_size")
    key = (fleet_id, device_id, day, page_size)
    cursor = _cursor(key)
    data = state.devices(keyspace, fleet_id, device_id, day, page_size, cursor.state)
    with right:
        st.dataframe(
            data.devices,
            column_config={
                "device_id": "Device",
                "model": "Model",
                "activated_at": st.column_config.DatetimeColumn(
                    "Activated (UTC)", format="YYYY-MM-DD HH:mm"
                ),
            },
            hide_index=True,
            height=220,
            key="dv_devices",
        )
        st.caption(f"{len(data.devices)} devices registered in {fleet_id}")
    if device_id is None:
        return

    st.subheader(f"Latest reading · {device_id}")
    latest = data.latest
    if latest is None:
        st.info(f"{device_id} has not reported yet.")
    else:
        c1, c2, c3, c4, c5 = st.columns([1.3, 1.2, 1, 1.1, 1.3])
        c1.metric(
            "Last reading (UTC)",
            f"{latest.ts:%H:%M:%S}",
            border=True,
            help=f"{latest.ts:%Y-%m-%d %H:%M:%S.%f}"[:-3] + " UTC",
        )
        c2.metric("Speed", f"{latest.speed_kmh:.0f} km/h", border=True)
        c3.metric("Battery", f"{latest.battery_pct} %", border=True)
        c4.metric("Temperature", f"{latest.temp_c:.1f} °C", border=True)
        c5.metric("Zone", latest.zone, border=True)
        with st.expander("All fields"):
            st.json({k: str(v) for k, v in asdict(latest).items()})

    st.subheader(f"Telemetry · {day:%Y-%m-%d} (UTC), newest first")
    page = data.page
    if page is None:  # only when no device is selected
        return
    frame = page.frame
    has_next = page.next_state is not None and len(frame) == page_size
    first = first_row_number(cursor, page_size)
    st.dataframe(frame, column_config=PAGE_COLUMNS, hide_index=True, key="dv_page")
    c1, c2, c3, c4, c5 = st.columns([1, 1, 2, 2, 2])
    c1.button(
        "◀ Previous",
        disabled=not cursor.has_previous,
        key="dv_prev",
        on_click=_move,
        args=(key, cursor.back() if cursor.has_previous else cursor),
    )
    c2.button(
        "Next ▶",
        disabled=not has_next,
        key="dv_next",
        on_click=_move,
        args=(key, cursor.forward(page.next_state) if has_next else cursor),
    )
    rows = f"rows {first} to {first + len(frame) - 1}" if len(frame) else "no rows"
    c3.markdown(f"Page **{cursor.number}** · {rows}")
    c4.download_button(
        "Download this page (CSV)",
        _csv(frame),
        file_name=f"{device_id}_{day:%Y%m%d}_page{cursor.number}.csv",
        mime="text/csv",
        disabled=frame.empty,
        on_click="ignore",
        key="dv_csv",
    )
    queries = state.queries()
    c5.download_button(
        "Download the whole day (CSV)",
        lambda: _csv(queries.device_day(device_id, day)),  # read only when clicked
        file_name=f"{device_id}_{day:%Y%m%d}.csv",
        mime="text/csv",
        on_click="ignore",
        key="dv_csv_day",
    )


render()
