"""Streamlit glue shared by the pages: connections, cached fetches, the current selection.

* Connections live in ``st.cache_resource``: one per process, shared by every browser session,
  and shut down when dropped from the cache (the menu's *Clear cache*, tests), not leaked.
* Query results live in ``st.cache_data`` with a TTL: the Realtime one expires with each
  refresh, history ones after FLEET_DASHBOARD_CACHE_TTL.
* The selection (fleet, day, device) is kept in ``st.session_state`` under keys no widget owns,
  so it survives page changes (Streamlit drops the state of widgets a page does not draw).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import streamlit as st

from fleet.config import ConfigError, Settings, load_settings
from fleet.dashboard import fetch
from fleet.dashboard.settings import DashboardSettings, load_dashboard_settings
from fleet.queries import AlertQuery, FleetQueries
from fleet.session import Connection, connect
from fleet.transform import _ID_RE  # the fleet and device ids the ETL accepts

ColumnConfig = dict[str, Any]  # st.dataframe's column_config
FLEET, DAY, DEVICE, COMPARE = "sel_fleet", "sel_day", "sel_device", "sel_compare"


def utc_today() -> date:
    return datetime.now(UTC).date()


@st.cache_resource(show_spinner=False)
def settings() -> tuple[Settings, DashboardSettings]:
    """Raises :class:`~fleet.config.ConfigError` (not cached): ``app.py`` shows it and stops."""
    return load_settings(), load_dashboard_settings()


def _release(conn: Connection) -> None:
    conn.close()


@st.cache_resource(show_spinner="Connecting to Cassandra…", on_release=_release)
def connection() -> Connection:
    """Raises :class:`~fleet.session.ConnectionCheckError` (not cached, retried next run)."""
    return connect(settings()[0], require_keyspace=True)


@st.cache_resource(show_spinner="Connecting to every node…", on_release=_release)
def cluster_watch() -> Connection:
    """A connection to every node of every DC, for the Cluster page's up/down states only
    (the query connection is DC-aware and does not watch the other DCs' nodes)."""
    return connect(settings()[0], require_keyspace=False, watch_every_node=True)


@st.cache_resource(show_spinner=False)
def queries() -> FleetQueries:
    conn = connection()
    keyspace = conn.settings.keyspace
    return FleetQueries(conn.session, keyspace, degraded_profile=conn.degraded_profile)


@st.cache_resource(show_spinner="Connecting the console…", on_release=_release)
def console_connection() -> Connection:
    """The console's own connection, as FLEET_CONSOLE_USERNAME when set (else the app's role);
    its own even as the app's role, so that its ``USE`` and its release touch nothing else."""
    base, dash = settings()
    credentials = dash.console_credentials
    if credentials is not None:
        base = replace(base, username=credentials[0], password=credentials[1])
    conn = connect(base)
    conn.session.set_keyspace(base.keyspace)  # unqualified table names in the console
    return conn


def _ttls() -> tuple[float, float]:
    """(realtime, history) cache TTLs, fixed at import; defaults if the settings are invalid
    (``app.py`` then stops before any fetch)."""
    try:
        dash = load_dashboard_settings()
    except ConfigError:
        return 10.0, 60.0
    return dash.refresh_s, dash.cache_ttl_s


REALTIME_TTL_S, HISTORY_TTL_S = _ttls()


# Cached fetches. The keyspace is part of each key so that two configurations never mix.


@st.cache_data(ttl=REALTIME_TTL_S, show_spinner=False, max_entries=64)
def realtime(keyspace: str, fleet_id: str, day: date) -> fetch.RealtimeData:
    return fetch.fetch_realtime(queries(), fleet_id, day)


@st.cache_data(ttl=HISTORY_TTL_S, show_spinner=False, max_entries=64)
def analytics(
    keyspace: str, fleet_id: str, device_id: str, day: date, compare: tuple[str, ...]
) -> fetch.AnalyticsData:
    return fetch.fetch_analytics(queries(), fleet_id, device_id, day, compare)


@st.cache_data(ttl=HISTORY_TTL_S, show_spinner=False, max_entries=64)
def alerts(keyspace: str, query: AlertQuery) -> fetch.AlertsData:
    return fetch.fetch_alerts(queries(), query)


@st.cache_data(ttl=HISTORY_TTL_S, show_spinner=False, max_entries=256)
def devices(
    keyspace: str,
    fleet_id: str,
    device_id: str | None,
    day: date,
    page_size: int,
    paging_state: bytes | None,
) -> fetch.DevicesData:
    return fetch.fetch_devices(queries(), fleet_id, device_id, day, page_size, paging_state)


@st.cache_data(ttl=HISTORY_TTL_S, show_spinner=False, max_entries=64)
def device_ids(keyspace: str, fleet_id: str) -> list[str]:
    return queries().devices(fleet_id)["device_id"].tolist()


# Selection carried across pages.


def valid_id(value: str) -> bool:
    return bool(_ID_RE.match(value))


def adopt_query_params() -> None:
    """``?fleet=…&day=YYYY-MM-DD&device=…&compare=A,B`` (links from the Alerts page, bookmarks)
    set the selection; anything malformed is ignored. The parameters are consumed."""
    params = st.query_params
    fleet_id, device_id, day = params.get("fleet"), params.get("device"), params.get("day")
    compare = [d for d in params.get("compare", "").split(",") if valid_id(d)]
    if compare:
        st.session_state[COMPARE] = compare
    if fleet_id and valid_id(fleet_id):
        st.session_state[FLEET] = fleet_id
    if device_id and valid_id(device_id):
        st.session_state[DEVICE] = device_id
    if day:
        with contextlib.suppress(ValueError):  # a malformed day is ignored
            st.session_state[DAY] = date.fromisoformat(day)
    for name in ("fleet", "device", "day", "compare"):
        params.pop(name, None)


def current_fleet() -> str:
    return str(st.session_state[FLEET])


def current_day() -> date:
    return st.session_state.get(DAY) or utc_today()


def keep(widget_key: str, state_key: str) -> None:
    """on_change callback: copy a widget's value to its persistent selection key."""
    st.session_state[state_key] = st.session_state[widget_key]


def select_device(options: Sequence[str], label: str = "Device") -> str | None:
    """A device picker bound to the selection: it shows the selected device of any page."""
    if not options:
        st.info("This fleet has no devices yet.")
        return None
    chosen = st.session_state.get(DEVICE)
    if chosen not in options:
        chosen = options[0]
        st.session_state[DEVICE] = chosen
    st.session_state["_device_widget"] = chosen
    st.selectbox(
        label, options, key="_device_widget", on_change=keep, args=("_device_widget", DEVICE)
    )
    return str(st.session_state[DEVICE])
