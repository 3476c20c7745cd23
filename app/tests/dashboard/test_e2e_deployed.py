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
from playwright.sync_api import Page

from .test_e2e import LYON_LATEST, load, open_page, run_in_console, shoot

URL = os.environ.get("FLEET_E2E_URL", "").rstrip("/")
DEVICES = int(os.environ.get("FLEET_E2E_DEVICES", "25"))  # per fleet (fleet_app_devices_per_fleet)
NODES = int(os.environ.get("FLEET_E2E_NODES", "4"))
FLEET = "FLEET_PARIS"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not URL, reason="set FLEET_E2E_URL to a deployed dashboard"),
]


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    yield from open_page(allow_hosts=(urlsplit(URL).hostname or "",))


def test_realtime_shows_every_device_of_the_fleet_on_the_map(page: Page) -> None:
    state = load(page, f"{URL}/", "s => s.plots >= 2 && s.maps >= 1")
    assert state["header"] == f"Realtime · {FLEET}"
    assert state["metrics"]["Active devices"] == str(DEVICES)
    assert state["metrics"]["Avg speed"].endswith("km/h")
    assert state["tables"] == 1
    shoot(page, state, "realtime")


def test_analytics_of_a_device_today_with_two_compared(page: Page) -> None:
    url = f"{URL}/analytics?device=PARIS-0001&compare=PARIS-0002,PARIS-0003"
    state = load(page, url, "s => s.plots >= 6 && s.maps >= 1")
    assert int(state["metrics"]["Readings"].replace(",", "")) > 0
    shoot(page, state, "analytics")


def test_alerts(page: Page) -> None:
    state = load(page, f"{URL}/alerts", "s => s.plots >= 1 && s.tables >= 1")
    assert {"HIGH", "MEDIUM", "LOW"} <= set(state["metrics"])
    shoot(page, state, "alerts")


def test_devices(page: Page) -> None:
    url = f"{URL}/devices?device=PARIS-0001"
    state = load(page, url, "s => s.tables >= 2 && 'Battery' in s.metrics")
    assert state["metrics"]["Battery"].endswith("%")
    shoot(page, state, "devices")


def test_cluster_shows_both_dcs_up(page: Page) -> None:
    state = load(page, f"{URL}/cluster", "s => 'Nodes up' in s.metrics")
    assert state["metrics"]["Nodes up"] == f"{NODES} / {NODES}"
    shoot(page, state, "cluster")


def test_operations_plots_the_cluster_and_the_etl_from_prometheus(page: Page) -> None:
    state = load(page, f"{URL}/operations", "s => s.plots >= 8")
    assert state["header"] == "Operations"
    shoot(page, state, "operations")


def test_console_runs_a_read_only_query(page: Page) -> None:
    state = run_in_console(page, URL, LYON_LATEST)
    assert state["successes"][0].startswith(f"{DEVICES} row(s)")
    shoot(page, state, "console")
