"""CQL console: run one read-only statement and see its rows or its error.

Statements pass the allow-list (SELECT, DESCRIBE) first; they run on the console's own
connection, as FLEET_CONSOLE_USERNAME when set, with a row limit and a timeout.
"""

from __future__ import annotations

import logging
import time

import streamlit as st

from fleet.dashboard import state
from fleet.dashboard.console import (
    STATEMENT_ERRORS,
    ConsoleResult,
    StatementBudget,
    run_console_statement,
)
from fleet.dashboard.cql_guard import ALLOWED_KEYWORDS, StatementRejected
from fleet.dashboard.outage import describe_error
from fleet.dashboard.settings import DashboardSettings

EXAMPLES = "\n".join(
    (
        "SELECT device_id, last_ts, speed_kmh, battery_pct FROM latest_position_by_fleet "
        "WHERE fleet_id = 'FLEET_PARIS'",
        "SELECT hour, points, active_devices, avg_speed_kmh FROM fleet_analytics_by_day "
        "WHERE fleet_id = 'FLEET_PARIS' AND day = '2025-06-16'",
        "DESCRIBE TABLES",
        "DESCRIBE TABLE telemetry_by_device_day",
    )
)
PLACEHOLDER = "SELECT * FROM devices_by_fleet WHERE fleet_id = 'FLEET_PARIS'"
CONSOLE_RATE_WINDOW_S = 60.0


_LOG = logging.getLogger("fleet.dashboard.console")


def _refused(user: str, reason: str, text: str) -> str:
    """Logged with the user (the journal of fleet-dashboard), shown to them."""
    _LOG.warning("console: refused for %s: %s; statement: %.300r", user, reason, text)
    return f"Refused: {reason}"


def _run(text: str, dash: DashboardSettings, user: str) -> ConsoleResult | str:
    """The statement's rows, or why it was refused or failed by its own fault; the DC's
    failures propagate to :func:`state.tolerant`."""
    budget = st.session_state.setdefault(
        "_console_budget", StatementBudget(dash.console_rate, CONSOLE_RATE_WINDOW_S)
    )
    wait = budget.take(time.monotonic())
    if wait:
        return _refused(
            user,
            f"more than {dash.console_rate} statements a minute; try again in {wait:g} s",
            text,
        )
    try:
        return run_console_statement(
            state.console_connection().session,
            text,
            row_limit=dash.console_row_limit,
            timeout_s=dash.console_timeout_s,
        )
    except StatementRejected as exc:
        return _refused(user, str(exc), text)
    except STATEMENT_ERRORS as exc:
        # The cluster's own refusals (guardrails, permissions, syntax) are logged too, and shown
        # as the cluster worded them.
        _LOG.warning("console: the cluster refused for %s: %s; statement: %.300r", user, exc, text)
        return describe_error(exc)


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
    user = state.viewer().name or "anonymous"
    outcome = state.tolerant(None, lambda: _run(text, dash, user))
    if outcome is None:  # the DC cannot answer: the banner says so
        return
    if isinstance(outcome, str):
        st.error(outcome)
        return
    result = outcome
    more = f" (first {dash.console_row_limit}; more rows not shown)" if result.truncated else ""
    st.success(f"{len(result.frame)} row(s){more} in {result.elapsed_ms:.0f} ms")
    st.dataframe(result.frame, hide_index=True, key="cq_result")


render()
