"""End to end against a *deployed* dashboard (e.g. the lab's, `make lab`): every page in
headless Chromium with the live data the streaming ETL writes, checked in the DOM and saved as
a screenshot (docs/screenshots/<page>.png, or $FLEET_E2E_SCREENSHOTS).

Skipped unless FLEET_E2E_URL is set:
  FLEET_E2E_URL=http://10.213.10.31:8501 FLEET_E2E_DEVICES=25 FLEET_E2E_NODES=4 \
    pytest app/tests/dashboard/test_e2e_deployed.py
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from .cdp import Browser
from .test_e2e import LYON_LATEST, load, open_browser, run_in_console, shoot

URL = os.environ.get("FLEET_E2E_URL", "").rstrip("/")
DEVICES = int(os.environ.get("FLEET_E2E_DEVICES", "25"))  # per fleet (fleet_app_devices_per_fleet)
NODES = int(os.environ.get("FLEET_E2E_NODES", "4"))
FLEET = "FLEET_PARIS"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not URL, reason="set FLEET_E2E_URL to a deployed dashboard"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from open_browser(allow_hosts=(urlsplit(URL).hostname or "",))


def test_realtime_shows_every_device_of_the_fleet_on_the_map(browser: Browser) -> None:
    state = load(browser, f"{URL}/", lambda s: s["plots"] >= 2 and s["maps"] >= 1)
    assert state["header"] == f"Realtime · {FLEET}"
    assert state["metrics"]["Active devices"] == str(DEVICES)
    assert state["metrics"]["Avg speed"].endswith("km/h")
    assert state["tables"] == 1
    shoot(browser, state, "realtime")


def test_analytics_of_a_device_today_with_two_compared(browser: Browser) -> None:
    url = f"{URL}/analytics?device=PARIS-0001&compare=PARIS-0002,PARIS-0003"
    state = load(browser, url, lambda s: s["plots"] >= 6 and s["maps"] >= 1)
    assert int(state["metrics"]["Readings"].replace(",", "")) > 0
    shoot(browser, state, "analytics")


def test_alerts(browser: Browser) -> None:
    state = load(browser, f"{URL}/alerts", lambda s: s["plots"] >= 1 and s["tables"] >= 1)
    assert {"HIGH", "MEDIUM", "LOW"} <= set(state["metrics"])
    shoot(browser, state, "alerts")


def test_devices(browser: Browser) -> None:
    url = f"{URL}/devices?device=PARIS-0001"
    state = load(browser, url, lambda s: s["tables"] >= 2 and "Battery" in s["metrics"])
    assert state["metrics"]["Battery"].endswith("%")
    shoot(browser, state, "devices")


def test_cluster_shows_both_dcs_up(browser: Browser) -> None:
    state = load(browser, f"{URL}/cluster", lambda s: "Nodes up" in s["metrics"])
    assert state["metrics"]["Nodes up"] == f"{NODES} / {NODES}"
    shoot(browser, state, "cluster")


def test_console_runs_a_read_only_query(browser: Browser) -> None:
    state = run_in_console(browser, URL, LYON_LATEST)
    assert state["successes"][0].startswith(f"{DEVICES} row(s)")
    shoot(browser, state, "console")
