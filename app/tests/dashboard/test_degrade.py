"""A dashboard that degrades, never dumps: the pages through AppTest, without Cassandra.

The read layer is :class:`~.fakes.FakeQueries` and the connection a stand-in; a test sets
``fake.down`` to the error a DC without a live replica gives, and clears ``st.cache_data`` where
the cache entry would have expired between two refreshes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import streamlit as st
from cassandra import ConsistencyLevel, OperationTimedOut, ReadTimeout, Unavailable
from cassandra.cluster import NoHostAvailable
from streamlit.testing.v1 import AppTest

from fleet.config import load_settings
from fleet.dashboard import state
from fleet.dashboard.launch import APP
from fleet.session import ConnectionCheckError

from .fakes import FakeQueries
from .test_bench_and_cluster import host, metadata

APP_HOSTS = "app-1@dc1=http://192.0.2.31:8501/,app-2@dc2=http://192.0.2.32:8501/"
ENV = {
    "FLEET_CONTACT_POINTS": "192.0.2.1",  # never reached: the connection is a stand-in
    "FLEET_LOCAL_DC": "dc1",
    "FLEET_REPLICATION": "dc1:2,dc2:2",
    "FLEET_KEYSPACE": "fleet_iot",
    "FLEET_FLEETS": "FLEET_PARIS",
    "FLEET_DASHBOARD_MAP_STYLE": "white-bg",
    "FLEET_APP_HOSTS": APP_HOSTS,
}
NO_HOST = NoHostAvailable(
    "Unable to complete the operation against any hosts",
    {"10.213.10.11:9042": ConnectionRefusedError(111, "Connection refused")},
)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeQueries]:
    """FLEET_* as in ENV only, a fresh process (empty caches, no outage) and a healthy DC."""
    for name in [n for n in os.environ if n.startswith("FLEET_")]:
        monkeypatch.delenv(name)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    queries = FakeQueries(datetime.now(UTC))
    connection = SimpleNamespace(settings=load_settings(ENV))
    monkeypatch.setattr(state, "connection", lambda: connection)
    monkeypatch.setattr(state, "queries", lambda: queries)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield queries
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.run()
    if page is not None:
        at.switch_page(f"views/{page}.py").run()
    return at


def expire(at: AppTest) -> AppTest:
    """The next refresh, once the cached results have expired."""
    st.cache_data.clear()
    return at.run()


def rendered(at: AppTest) -> str:
    """Everything the page shows, main area and sidebar, as the protobuf text of each element."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    return "\n".join(parts)


def assert_no_dump(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    shown = rendered(at)
    assert "Traceback" not in shown and 'File "' not in shown


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def banners(at: AppTest) -> list[str]:
    return [e.value for e in at.error if "cannot answer" in e.value]


def test_realtime_keeps_its_last_data_under_a_banner_and_recovers(fake: FakeQueries) -> None:
    at = open_page()
    assert metrics(at)["Active devices"] == "3" and not at.error
    key = ("realtime", ("fleet_iot", "FLEET_PARIS", datetime.now(UTC).date()), ())
    kept = state.last_good().get(key)
    assert kept is not None

    fake.down = NO_HOST
    expire(at)
    assert_no_dump(at)
    [banner] = banners(at)
    outage = state.outage_tracker().current()
    assert outage is not None
    assert "**Data center dc1 cannot answer.**" in banner
    assert "NoHostAvailable: Unable to complete the operation against any hosts" in banner
    assert "10.213.10.11:9042: Connection refused" in banner
    assert f"Since {outage.since:%H:%M:%S} UTC (0 s ago)" in banner
    assert f"Data shown may be stale: data from {kept.fetched_at:%H:%M:%S} UTC." in banner
    assert "[app-2 (dc2)](http://192.0.2.32:8501/)" in banner and "app-1" not in banner
    assert metrics(at)["Active devices"] == "3"  # the last good data, still shown
    assert f"Read at {kept.value.read_at:%H:%M:%S} UTC" in [c.value for c in at.caption]

    expire(at)  # still down: the same outage, the same start
    assert state.outage_tracker().current().since == outage.since  # type: ignore[union-attr]
    assert len(banners(at)) == 1 and metrics(at)["Active devices"] == "3"

    fake.down = None
    expire(at)
    assert_no_dump(at)
    assert not at.error and metrics(at)["Active devices"] == "3"
    assert state.outage_tracker().current() is None


def test_with_nothing_read_yet_the_page_shows_the_banner_only(fake: FakeQueries) -> None:
    fake.down = NO_HOST
    at = open_page()
    assert_no_dump(at)
    [banner] = banners(at)
    assert "No earlier data for this view: it shows again once dc1 answers." in banner
    assert not at.metric
    assert at.header[0].value == "Realtime · FLEET_PARIS"  # the page itself is there

    fake.down = None
    at.run()  # failures are not cached: the next refresh reads again
    assert not at.error and metrics(at)["Active devices"] == "3"


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (Unavailable("no", ConsistencyLevel.LOCAL_QUORUM, 2, 0), "Unavailable: no"),
        (ReadTimeout("slow", consistency=ConsistencyLevel.LOCAL_ONE), "ReadTimeout: slow"),
        (OperationTimedOut("errors={}, last_host=10.0.0.1:9042"), "OperationTimedOut: errors="),
    ],
)
def test_every_driver_failure_gets_the_banner(
    fake: FakeQueries, error: Exception, shown: str
) -> None:
    at = open_page("alerts")
    assert metrics(at)["All"] == "0"
    fake.down = error
    expire(at)
    assert_no_dump(at)
    [banner] = banners(at)
    assert f"`{shown}" in banner
    assert metrics(at)["All"] == "0"  # stale, from before


def test_one_banner_per_page_however_many_fetches_fail(fake: FakeQueries) -> None:
    at = open_page("analytics")  # device list, then the device's day
    assert not at.error
    fake.down = NO_HOST
    expire(at)
    assert_no_dump(at)
    assert len(banners(at)) == 1
    assert any(c.value.startswith("Stale: data from ") for c in at.caption)
    assert at.selectbox(key="_device_widget").value == "PARIS-0001"


def test_a_device_never_read_stops_the_page_after_the_banner(fake: FakeQueries) -> None:
    at = open_page("devices")
    fake.down = NO_HOST
    at.selectbox(key="_device_widget").set_value("PARIS-0002").run()  # not read before
    assert_no_dump(at)
    [banner] = banners(at)  # the device list is still cached: only the device's day fails
    assert "No earlier data for this view" in banner
    assert not at.metric and not at.download_button


def test_failures_are_logged_with_their_traceback_once(
    fake: FakeQueries, caplog: pytest.LogCaptureFixture
) -> None:
    at = open_page()
    fake.down = NO_HOST
    with caplog.at_level(logging.WARNING, logger="fleet.dashboard"):
        expire(at)
        expire(at)
        fake.down = None
        expire(at)
    first, again, recovered = [r for r in caplog.records if r.name == "fleet.dashboard.state"]
    assert first.levelno == logging.ERROR and first.exc_info is not None
    assert "data center dc1 cannot answer: NoHostAvailable" in first.getMessage()
    assert again.levelno == logging.WARNING and again.exc_info is None
    assert "still cannot answer (failure 2 since" in again.getMessage()
    assert "data center dc1 answers again" in recovered.getMessage()


def test_connecting_degrades_with_a_retry_button(
    fake: FakeQueries, monkeypatch: pytest.MonkeyPatch
) -> None:
    working = state.connection

    def refused() -> Any:
        raise ConnectionCheckError("cannot reach Cassandra at 192.0.2.1:9042 (timed out)")

    monkeypatch.setattr(state, "connection", refused)
    at = open_page()
    assert_no_dump(at)
    [banner] = banners(at)
    assert "`ConnectionCheckError: cannot reach Cassandra at 192.0.2.1:9042 (timed out)`" in banner
    assert "Since " in banner and "app-2 (dc2)" in banner
    assert [b.label for b in at.button] == ["Retry"]
    assert not at.sidebar.selectbox  # the app stops before its sidebar

    monkeypatch.setattr(state, "connection", working)
    at.button[0].click().run()
    assert not at.error and metrics(at)["Active devices"] == "3"


def test_the_console_degrades_but_shows_the_statement_errors(
    fake: FakeQueries, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cassandra import InvalidRequest

    def console_session(error: Exception) -> Any:
        def execute(*_: Any, **__: Any) -> Any:
            raise error

        return SimpleNamespace(session=SimpleNamespace(execute=execute))

    at = open_page("console")
    monkeypatch.setattr(state, "console_connection", lambda: console_session(NO_HOST))
    at.text_area(key="cq_text").input("SELECT * FROM devices_by_fleet")
    at.button[0].click().run()
    assert_no_dump(at)
    assert len(banners(at)) == 1

    bad = InvalidRequest("unconfigured table nope")
    monkeypatch.setattr(state, "console_connection", lambda: console_session(bad))
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["InvalidRequest: unconfigured table nope"]


def test_cluster_page_lists_the_dashboards_even_when_the_cluster_cannot_be_read(
    fake: FakeQueries, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "check_all", lambda urls, **_: {urls[0]: "ok", urls[1]: "timed out"})

    def unreachable() -> Any:
        raise ConnectionCheckError("cannot reach Cassandra at 192.0.2.1:9042 (timed out)")

    monkeypatch.setattr(state, "cluster_watch", unreachable)
    at = open_page("cluster")
    assert_no_dump(at)
    assert len(banners(at)) == 1
    assert "Nodes up" not in metrics(at)
    [table] = [df.value for df in at.dataframe]
    assert table.to_dict("list") == {
        "name": ["app-1", "app-2"],
        "dc": ["dc1", "dc2"],
        "url": ["http://192.0.2.31:8501/", "http://192.0.2.32:8501/"],
        "this_host": [False, False],
        "health": ["ok", "timed out"],
    }

    hosts = [host("dc1", "r1", "10.0.0.1:9042", False), host("dc2", "r1", "10.0.0.3:9042", True)]
    watch = SimpleNamespace(cluster=SimpleNamespace(metadata=metadata({"dc1": "2"}, *hosts)))
    monkeypatch.setattr(state, "cluster_watch", lambda: watch)
    at.run()
    assert not banners(at)
    assert metrics(at)["Nodes up"] == "1 / 2"
    assert len(at.dataframe) == 5  # dc1, dc2, replication, backups, dashboards


def test_cluster_page_shows_the_backups_and_says_when_they_cannot_be_read(
    fake: FakeQueries, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "check_all", lambda urls, **_: dict.fromkeys(urls, "ok"))
    hosts = [host("dc1", "r1", "10.0.0.1:9042", True), host("dc2", "r1", "10.0.0.3:9042", True)]
    watch = SimpleNamespace(
        cluster=SimpleNamespace(metadata=metadata({"dc1": "2", "dc2": "2"}, *hosts))
    )
    monkeypatch.setattr(state, "cluster_watch", lambda: watch)
    monkeypatch.setenv("FLEET_BACKUP_MAX_AGE", "5400")
    state.settings.clear()
    state._latest_backups.clear()
    try:
        at = open_page("cluster")
        assert_no_dump(at)
        backups = next(df.value for df in at.dataframe if "backup" in df.value.columns)
        assert backups[["node", "backup", "state"]].values.tolist() == [
            ["10.0.0.1", "scheduled-x", "ok"],
            ["10.0.0.3", "-", "none"],
        ]
        warnings = [w.value for w in at.warning]
        assert "10.0.0.3: no backup recorded" in warnings
        assert not [w for w in warnings if w.startswith("10.0.0.1")]

        # The table unreadable (a schema that predates it, a DC down): said, and the page goes on.
        fake.down = Unavailable("no replica", consistency=ConsistencyLevel.LOCAL_QUORUM)
        state._latest_backups.clear()
        at.run()
        assert_no_dump(at)
        assert any("The backups' status cannot be read now" in w.value for w in at.warning)
        assert len(at.dataframe) == 4  # dc1, dc2, replication, dashboards
    finally:
        state.settings.clear()
        state._latest_backups.clear()
