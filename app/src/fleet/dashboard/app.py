"""Entry script of the dashboard: ``fleet dashboard`` runs ``streamlit run`` on this file.

It checks the settings and the connection, applies ``?fleet=&day=&device=`` links, draws the
sidebar (the selection every page shares), then runs the page chosen in the navigation.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from fleet.config import ConfigError
from fleet.dashboard import state

PAGES = [
    st.Page("views/realtime.py", title="Realtime", icon=":material/speed:", default=True),
    st.Page("views/analytics.py", title="Analytics", icon=":material/monitoring:"),
    st.Page("views/alerts.py", title="Alerts", icon=":material/warning:"),
    st.Page("views/devices.py", title="Devices", icon=":material/directions_car:"),
    st.Page("views/cluster.py", title="Cluster", icon=":material/hub:"),
    st.Page("views/operations.py", title="Operations", icon=":material/query_stats:"),
]
# Offered only to the groups of FLEET_CONSOLE_GROUPS when a proxy authenticates users.
CONSOLE = st.Page("views/console.py", title="CQL console", icon=":material/terminal:")


def pages() -> list[st.Page]:
    try:
        console = state.may_use_console()
    except ConfigError:
        console = False  # _ready() shows the configuration error
    return [*PAGES, CONSOLE] if console else PAGES


def _ready() -> None:
    """Stop with one clear message when the settings are invalid, or with the outage banner and
    a Retry button when Cassandra cannot be reached (the next run connects again)."""
    try:
        state.settings()
    except ConfigError as exc:
        st.error(f"Invalid configuration\n\n{exc}")
        st.stop()
    if state.tolerant(None, state.connection) is None:
        st.button("Retry")
        st.stop()


def sidebar() -> None:
    base, _ = state.settings()
    fleets = list(base.fleets)
    st.session_state.setdefault(state.FLEET, fleets[0] if fleets else "FLEET_PARIS")
    st.session_state.setdefault(state.DAY, state.utc_today())
    current = state.current_fleet()
    if current not in fleets:
        fleets.append(current)
    with st.sidebar:
        st.title("Fleet Tracing")
        st.session_state["_fleet_widget"] = current
        st.selectbox(
            "Fleet",
            fleets,
            key="_fleet_widget",
            accept_new_options=True,
            on_change=state.keep,
            args=("_fleet_widget", state.FLEET),
            help="Configured fleets (FLEET_FLEETS); type another fleet id to open it.",
        )
        st.session_state["_day_widget"] = state.current_day()
        st.date_input(
            "Day (UTC)",
            key="_day_widget",
            max_value=date(2100, 1, 1),
            on_change=state.keep,
            args=("_day_widget", state.DAY),
        )
        conn = state.connection()
        st.caption(
            f"Keyspace `{conn.settings.keyspace}` · local DC `{conn.settings.local_dc}` · "
            f"reads at {conn.settings.consistency}"
        )
        who = state.viewer()
        if who.name:
            groups = ", ".join(sorted(who.groups)) or "read-only"
            st.caption(f"Signed in as **{who.name}** ({groups})")
        if state.may_reload() and st.button(
            "Reload data", help="Forget every cached query result, for every user"
        ):
            st.cache_data.clear()


def main() -> None:
    st.set_page_config(
        page_title="Fleet Tracing", page_icon=":material/local_shipping:", layout="wide"
    )
    page = st.navigation(pages())
    state.begin_run()
    _ready()
    state.adopt_query_params()
    sidebar()
    if not state.valid_id(state.current_fleet()):
        st.error("A fleet id is 1-64 letters, digits or _.:- characters.")
        st.stop()
    page.run()


main()
