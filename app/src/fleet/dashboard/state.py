"""Streamlit glue shared by the pages: connections, cached fetches, the current selection.

* Connections live in ``st.cache_resource``: one per process, shared by every browser session,
  and shut down when dropped from the cache (the menu's *Clear cache*, tests), not leaked.
* Query results live in ``st.cache_data`` with a TTL: the Realtime one expires with each
  refresh, history ones after FLEET_DASHBOARD_CACHE_TTL.
* The selection (fleet, day, device) is kept in ``st.session_state`` under keys no widget owns,
  so it survives page changes (Streamlit drops the state of widgets a page does not draw).
* Degrading, in one place: every fetch goes through :func:`guarded` (the cached ones through
  :func:`cached_fetch`). When the local DC cannot answer (:data:`~fleet.dashboard.outage.
  OUTAGE_ERRORS`), the error goes to the log with its traceback, and the page shows a banner
  (DC, reason, since when, the other DCs' dashboards) above the last good result of that fetch,
  kept per process; with none, the page stops after the banner. A fragment reruns by itself
  and recovers with the first read that works, which also ends the outage.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pandas as pd
import streamlit as st
from cassandra import DriverException

from fleet.config import ConfigError, Settings, load_settings
from fleet.dashboard import fetch, instruments, operations, prom_api
from fleet.dashboard.access import Viewer, allowed, viewer_from_headers
from fleet.dashboard.app_hosts import check_all
from fleet.dashboard.certs import ServedCertificate, served_certificates
from fleet.dashboard.cluster_info import ClusterView, describe_cluster
from fleet.dashboard.outage import (
    OUTAGE_ERRORS,
    Kept,
    LastGood,
    OutageTracker,
    banner_markdown,
    clock,
    describe_error,
)
from fleet.dashboard.settings import DashboardSettings, load_dashboard_settings
from fleet.queries import AlertQuery, FleetQueries
from fleet.session import Connection, connect, tls_context
from fleet.transform import _ID_RE  # the fleet and device ids the ETL accepts

ColumnConfig = dict[str, Any]  # st.dataframe's column_config
FLEET, DAY, DEVICE, COMPARE = "sel_fleet", "sel_day", "sel_device", "sel_compare"
BANNER_SHOWN = "_outage_banner_shown"
HEALTH_TTL_S = 10.0
OPERATIONS_TTL_S = 15.0  # the scrape interval: a plot cannot change faster
CERTS_TTL_S = 300.0
BACKUPS_TTL_S = 60.0
P = ParamSpec("P")
T = TypeVar("T")
_LOG_SETUP = threading.Lock()


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


# Degrading when the local DC cannot answer.


def _log() -> logging.Logger:
    """This module's logger. Streamlit configures only its own loggers: when nothing else has
    (the deployed app), ``fleet.dashboard`` gets a stderr handler, which reaches the journal."""
    parent = logging.getLogger("fleet.dashboard")
    with _LOG_SETUP:
        if not parent.handlers and not logging.getLogger().handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
            parent.addHandler(handler)
    return logging.getLogger(__name__)


@st.cache_resource(show_spinner=False)
def outage_tracker() -> OutageTracker:
    """The local DC's current outage, shared by every session of the process."""
    return OutageTracker()


@st.cache_resource(show_spinner=False)
def last_good() -> LastGood:
    """The last good result of each fetch key, shared by every session of the process."""
    return LastGood()


def begin_run() -> None:
    """A script run, or a fragment's rerun, starts: it draws the outage banner at most once."""
    st.session_state[BANNER_SHOWN] = False


def fragment(run_every: float) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """``st.fragment(run_every=...)`` whose reruns draw their own outage banner (the app's
    script, which calls :func:`begin_run`, does not run then)."""

    def decorate(body: Callable[[], None]) -> Callable[[], None]:
        @functools.wraps(body)
        def rerun() -> None:
            begin_run()
            body()

        return st.fragment(run_every=run_every)(rerun)

    return decorate


def _local_dc() -> str:
    return settings()[0].local_dc or "?"


def _recovered() -> None:
    """A read worked: the outage, if any, is over."""
    ended = outage_tracker().succeeded()
    if ended is not None:
        now = datetime.now(UTC)
        _log().warning(
            "data center %s answers again (outage since %s, %d failed reads)",
            _local_dc(),
            clock(ended.since, now),
            ended.failures,
        )


def _failed(exc: Exception, key: Hashable | None) -> Kept | None:
    """Log ``exc``, count it in the outage and draw the banner (once per run); returns the last
    good result of ``key``, if any."""
    now = datetime.now(UTC)
    dc = _local_dc()
    reason = describe_error(exc)
    outage, new = outage_tracker().failed(reason, now)
    if new:  # the first failure of an outage, or a new reason: the traceback is worth reading
        _log().error("data center %s cannot answer: %s", dc, reason, exc_info=exc)
    else:
        _log().warning(
            "data center %s still cannot answer (failure %d since %s): %s",
            dc,
            outage.failures,
            clock(outage.since, now),
            reason,
        )
    kept = None if key is None else last_good().get(key)
    if not st.session_state.get(BANNER_SHOWN):
        st.session_state[BANNER_SHOWN] = True
        others = settings()[1].other_dashboards(dc)
        data_at = None if kept is None else kept.fetched_at
        st.error(banner_markdown(dc, outage, now, data_at, others), icon=":material/cloud_off:")
    elif kept is None:
        st.caption(f"No earlier data for the rest of this view: it shows again once {dc} answers.")
    else:
        st.caption(f"Stale: data from {clock(kept.fetched_at, now)}.")
    return kept


def tolerant(key: Hashable | None, read: Callable[[], T]) -> T | None:
    """``read()``; when the DC cannot answer, the banner and then the last good result kept for
    ``key`` (None when there is none). Results are kept by :func:`remember`, on real reads only."""
    try:
        return read()
    except OUTAGE_ERRORS as exc:
        kept = _failed(exc, key)
    return None if kept is None else kept.value


def guarded(key: Hashable | None, read: Callable[[], T]) -> T:
    """:func:`tolerant` for a page that cannot go on without the result: it stops after the
    banner when nothing was kept."""
    value = tolerant(key, read)
    if value is None:
        st.stop()
    return value


def remember(key: Hashable, value: object) -> None:
    """``value`` is the last good result of ``key``."""
    last_good().put(key, value, datetime.now(UTC))


def cached_fetch(ttl: float, max_entries: int) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """``st.cache_data`` for a page's fetch, through :func:`guarded`. The decorated function
    runs on cache misses only: each real read that works is kept (key: function name and
    arguments, hashable) and ends the outage; one that fails is not cached, so the next run
    (a fragment's refresh, the Retry of a page) reads again."""

    def decorate(read: Callable[P, T]) -> Callable[P, T]:
        def key(args: tuple[object, ...], kwargs: dict[str, object]) -> Hashable:
            return (read.__name__, args, tuple(sorted(kwargs.items())))

        @functools.wraps(read)
        def remembered(*args: P.args, **kwargs: P.kwargs) -> T:
            value = instruments.timed(read.__name__, lambda: read(*args, **kwargs))
            remember(key(args, kwargs), value)
            _recovered()
            return value

        cached = st.cache_data(ttl=ttl, show_spinner=False, max_entries=max_entries)(remembered)

        @functools.wraps(read)
        def fetch_or_degrade(*args: P.args, **kwargs: P.kwargs) -> T:
            return guarded(key(args, kwargs), lambda: cached(*args, **kwargs))

        return fetch_or_degrade

    return decorate


# Cached fetches. The keyspace is part of each key so that two configurations never mix.


@cached_fetch(ttl=REALTIME_TTL_S, max_entries=64)
def realtime(keyspace: str, fleet_id: str, day: date) -> fetch.RealtimeData:
    return fetch.fetch_realtime(queries(), fleet_id, day)


@cached_fetch(ttl=HISTORY_TTL_S, max_entries=64)
def analytics(
    keyspace: str, fleet_id: str, device_id: str, day: date, compare: tuple[str, ...]
) -> fetch.AnalyticsData:
    return fetch.fetch_analytics(queries(), fleet_id, device_id, day, compare)


@cached_fetch(ttl=HISTORY_TTL_S, max_entries=64)
def alerts(keyspace: str, query: AlertQuery) -> fetch.AlertsData:
    return fetch.fetch_alerts(queries(), query)


@cached_fetch(ttl=HISTORY_TTL_S, max_entries=256)
def devices(
    keyspace: str,
    fleet_id: str,
    device_id: str | None,
    day: date,
    page_size: int,
    paging_state: bytes | None,
) -> fetch.DevicesData:
    return fetch.fetch_devices(queries(), fleet_id, device_id, day, page_size, paging_state)


@cached_fetch(ttl=HISTORY_TTL_S, max_entries=64)
def device_ids(keyspace: str, fleet_id: str) -> list[str]:
    return queries().devices(fleet_id)["device_id"].tolist()


def cluster_view(keyspace: str) -> ClusterView | None:
    """The Cluster page's facts, from the watch connection's metadata (no query: the states are
    live even in an outage); None, after the banner, when that connection cannot be made."""
    key = ("cluster_view", keyspace)

    def read() -> ClusterView:
        view = describe_cluster(cluster_watch().cluster.metadata, keyspace)
        remember(key, view)  # not a read of the local DC: the outage goes on
        return view

    return tolerant(key, read)


def degraded_reads() -> int | None:
    """Reads retried at the degraded level since the start; None when the query connection
    cannot be set up now (its statements are prepared in the local DC): the pages that read
    through it report that outage, the Cluster page reads nothing."""
    try:
        return queries().degraded
    except OUTAGE_ERRORS:
        return None


@st.cache_data(ttl=CERTS_TTL_S, show_spinner="Reading the nodes' certificates…", max_entries=4)
def node_certificates(addresses: tuple[str, ...]) -> list[ServedCertificate] | None:
    """The certificate each node serves on the native port; None without TLS (no CA set)."""
    base, _ = settings()
    context = tls_context(base)
    if context is None:
        return None
    return served_certificates(context, list(addresses), base.port)


@st.cache_data(ttl=BACKUPS_TTL_S, show_spinner=False, max_entries=4)
def _latest_backups(keyspace: str, nodes: tuple[str, ...]) -> pd.DataFrame:
    return queries().latest_backups(nodes)


def latest_backups(keyspace: str, nodes: tuple[str, ...]) -> tuple[pd.DataFrame | None, str]:
    """Each node's latest recorded backup, read at most every BACKUPS_TTL_S; (None, why) when it
    cannot be read (the DC down, the table missing): the Cluster page says so and goes on."""
    try:
        return _latest_backups(keyspace, nodes), ""
    except (DriverException, *OUTAGE_ERRORS) as exc:
        reason = describe_error(exc)
        _log().warning("cannot read the backups' status: %s", reason)
        return None, reason


@st.cache_data(ttl=HEALTH_TTL_S, show_spinner=False, max_entries=8)
def app_health(urls: tuple[str, ...]) -> dict[str, str]:
    """Each dashboard's ``/_stcore/health`` answer, checked at most every HEALTH_TTL_S (https
    through the proxies, checked against the deployment's CA)."""
    base, _ = settings()
    return check_all(urls, context=tls_context(base))


def viewer() -> Viewer:
    """The user the proxy authenticated for this session (see :mod:`fleet.dashboard.access`)."""
    _, dash = settings()
    return viewer_from_headers(
        dict(st.context.headers), dash.auth_user_header, dash.auth_groups_header
    )


def may_use_console() -> bool:
    _, dash = settings()
    return allowed(viewer(), dash.console_groups, proxied=dash.auth_user_header is not None)


def may_reload() -> bool:
    _, dash = settings()
    return allowed(viewer(), dash.admin_groups, proxied=dash.auth_user_header is not None)


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


@st.cache_data(ttl=OPERATIONS_TTL_S, show_spinner=False, max_entries=256)
def prometheus_series(
    url: str, query: str, start: datetime, end: datetime, step_s: float
) -> pd.DataFrame:
    """A range query's points (raises prom_api.PrometheusError, which is not cached)."""
    return prom_api.query_range(url, query, start, end, step_s)


@st.cache_data(ttl=OPERATIONS_TTL_S, show_spinner=False, max_entries=4)
def prometheus_alerts(url: str) -> pd.DataFrame:
    return prom_api.alerts(url)


@st.cache_data(ttl=OPERATIONS_TTL_S, show_spinner=False, max_entries=4)
def operation_reports(directory: str) -> list[operations.Report]:
    return operations.read_reports(Path(directory))
