"""CQL console: run one read-only statement and see its rows or its error.

Statements pass the allow-list (SELECT, DESCRIBE) first; they run on the console's own
connection, as FLEET_CONSOLE_USERNAME when set, with a row limit and a timeout.
"""

from __future__ import annotations

import streamlit as st
from cassandra import DriverException
from cassandra.cluster import NoHostAvailable

from fleet.dashboard import state
from fleet.dashboard.console import run_console_statement
from fleet.dashboard.cql_guard import ALLOWED_KEYWORDS, StatementRejected

EXAMPLES = "\n".join(
    (
        "SELECT device_id, last_ts, speed_kmh, battery_pct FROM latest_position_by_fleet "
        "WHERE fleet_id = 'FLEET_PARIS'",
        "SELECT hour, points, active_devices, avg_speed_kmh FROM fleet_analytics_by_day "
        "WHERE fleet_id = 'FLEET_PARIS' AND day = '2025-06-16'",
        "DESCRIBE TABLES",
        "DESCRIBE TABLE telemetry_by_fleet_day",
    )
)
PLACEHOLDER = "SELECT * FROM devices_by_fleet WHERE fleet_id = 'FLEET_PARIS'"


def render() -> None:
    base, dash = state.settings()
    st.header("CQL console")
    if dash.console_credentials is None:
        st.warning(
            "The console uses the application's role. Set FLEET_CONSOLE_USERNAME / "
            "FLEET_CONSOLE_PASSWORD to a role granted SELECT only."
        )
    st.caption(
        f"Read-only: {', '.join(sorted(ALLOWED_KEYWORDS))}, one statement. Keyspace "
        f"`{base.keyspace}`; at most {dash.console_row_limit} rows; "
        f"timeout {dash.console_timeout_s:g} s."
    )
    with st.expander("Examples"):
        st.code(EXAMPLES, language="sql")
    with st.form("console"):
        text = st.text_area("Statement", height=120, key="cq_text", placeholder=PLACEHOLDER)
        submitted = st.form_submit_button("Run", type="primary")
    if not submitted:
        return
    try:
        result = run_console_statement(
            state.console_connection().session,
            text,
            row_limit=dash.console_row_limit,
            timeout_s=dash.console_timeout_s,
        )
    except StatementRejected as exc:
        st.error(f"Refused: {exc}")
        return
    except (DriverException, NoHostAvailable) as exc:
        st.error(f"{type(exc).__name__}: {exc}")
        return
    more = f" (first {dash.console_row_limit}; more rows not shown)" if result.truncated else ""
    st.success(f"{len(result.frame)} row(s){more} in {result.elapsed_ms:.0f} ms")
    st.dataframe(result.frame, hide_index=True, key="cq_result")


render()
