"""The dashboard pointed at a contact point where nothing listens: the real driver, the real
``fleet dashboard``; the page shows the outage banner with a Retry button, never a traceback.

No node is used, but these run with the other integration tests (FLEET_IT_CONTACT_POINTS and
FLEET_IT_LOCAL_DC set; the local DC names the banner's DC), and the browser one with the
end-to-end tests (Debian's ``chromium``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import streamlit as st
from playwright.sync_api import Page
from streamlit.testing.v1 import AppTest

from fleet.dashboard import state
from fleet.dashboard.launch import APP

from .test_degrade import assert_no_dump, banners
from .test_e2e import free_port, open_page, page_state, running_dashboard

LOCAL_DC = os.environ.get("FLEET_IT_LOCAL_DC") or "dc1"
OTHER = "app-2@dc-other=http://127.0.0.1:9/"


def unreachable_environment() -> dict[str, str]:
    """A port nothing listens on (bound, then released), and the dashboard's usual settings."""
    return {
        "FLEET_CONTACT_POINTS": f"127.0.0.1:{free_port()}",
        "FLEET_LOCAL_DC": LOCAL_DC,
        "FLEET_REPLICATION": f"{LOCAL_DC}:1",
        "FLEET_KEYSPACE": "fleet_unreachable",
        "FLEET_DASHBOARD_MAP_STYLE": "white-bg",
        "FLEET_APP_HOSTS": OTHER,
    }


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    env = unreachable_environment()
    for name in [n for n in os.environ if n.startswith("FLEET_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    st.cache_resource.clear()  # the settings, any connection and outage of an earlier test
    yield env
    st.cache_resource.clear()


@pytest.mark.integration
def test_nothing_listening_shows_the_banner_and_retry(unreachable: dict[str, str]) -> None:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert_no_dump(at)
    [banner] = banners(at)
    address = unreachable["FLEET_CONTACT_POINTS"]
    assert f"**Data center {LOCAL_DC} cannot answer.**" in banner
    assert f"`ConnectionCheckError: cannot reach Cassandra at {address} (" in banner
    assert "Since " in banner and "[app-2 (dc-other)](http://127.0.0.1:9/)" in banner
    assert [b.label for b in at.button] == ["Retry"]

    at.button[0].click().run()  # still nothing there: the same outage, no traceback
    assert_no_dump(at)
    assert len(banners(at)) == 1
    outage = state.outage_tracker().current()
    assert outage is not None and outage.failures == 2


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    yield from open_page()


@pytest.mark.integration
@pytest.mark.e2e
def test_deployed_command_shows_the_banner_in_the_browser(page: Page) -> None:
    env = unreachable_environment()
    with running_dashboard(env) as url:
        page.goto(f"{url}/")
        shown = page_state(page, "s => s.errors.length > 0", timeout_s=60)
        assert shown["errors"], shown
        assert not shown["exceptions"], shown["exceptions"]
        [banner] = shown["errors"]
        assert f"Data center {LOCAL_DC} cannot answer." in banner
        assert f"cannot reach Cassandra at {env['FLEET_CONTACT_POINTS']}" in banner
        assert "app-2 (dc-other)" in banner
        text = page.locator("body").inner_text()
        assert "Retry" in text
        assert "Traceback" not in text and 'File "' not in text
