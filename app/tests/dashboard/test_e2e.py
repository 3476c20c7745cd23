"""End to end: ``fleet dashboard`` on a loopback port, every page in headless Chromium, checked
in the DOM and saved as a screenshot (docs/screenshots/<page>.png, or $FLEET_E2E_SCREENSHOTS).

Needs the FLEET_IT_* variables (see conftest.py) and Debian's ``chromium`` package.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from .cdp import Browser, find_chromium
from .conftest import DEVICES_PER_FLEET, Seeded

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = Path(os.environ.get("FLEET_E2E_SCREENSHOTS", REPO / "docs" / "screenshots"))
PARIS = "FLEET_PARIS"

# Ready: the script finished, nothing is loading, no exception; returns what the checks need.
PAGE_STATE = """(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return null;
  if (document.querySelector('[data-testid="stSkeleton"], [data-testid="stSpinner"]')) return null;
  const main = document.querySelector('[data-testid="stMainBlockContainer"]');
  const texts = (selector) => [...document.querySelectorAll(selector)].map(e => e.innerText.trim());
  const heading = main && main.querySelector('h1, h2');
  return {
    header: heading ? heading.innerText.trim() : '',
    metrics: Object.fromEntries([...document.querySelectorAll('[data-testid="stMetric"]')].map(
      m => [m.querySelector('[data-testid="stMetricLabel"]').innerText.trim(),
            m.querySelector('[data-testid="stMetricValue"]').innerText.trim()])),
    plots: document.querySelectorAll('.js-plotly-plot').length,
    maps: document.querySelectorAll('.js-plotly-plot canvas.maplibregl-canvas').length,
    tables: document.querySelectorAll('[data-testid="stDataFrame"]').length,
    exceptions: texts('[data-testid="stException"]'),
    errors: texts('[data-testid="stAlertContentError"]'),
    successes: texts('[data-testid="stAlertContentSuccess"]'),
    height: main ? main.scrollHeight : 0,
  };
})()"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_dashboard(env: dict[str, str]) -> Iterator[str]:
    """``fleet dashboard`` on a free loopback port with ``env`` added, until the block ends."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet", "dashboard", "--port", str(port), "--address", "127.0.0.1"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    output = proc.stdout.read() if proc.stdout else ""
                    pytest.fail(f"fleet dashboard did not start:\n{output}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def dashboard_url(seeded: Seeded) -> Iterator[str]:
    with running_dashboard(seeded.env) as url:
        yield url


def open_browser(allow_hosts: tuple[str, ...] = ()) -> Iterator[Browser]:
    """Headless Chromium for a module's tests (skipped without it); see cdp.Browser."""
    executable = find_chromium()
    if executable is None:
        pytest.skip("no chromium on PATH: apt-get install -y chromium")
    with Browser(executable, allow_hosts=allow_hosts) as b:
        yield b


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from open_browser()


def wait_state(browser: Browser, check: Any, timeout_s: float = 90) -> dict[str, Any]:
    """Poll the page until ``check(state)`` holds (the data is on screen); fail on exceptions."""
    deadline = time.monotonic() + timeout_s
    state = None
    while time.monotonic() < deadline:
        state = browser.evaluate(PAGE_STATE)
        assert not state or not state["exceptions"], state["exceptions"]
        if state and check(state):
            time.sleep(2.0)  # maps draw their points asynchronously (WebGL)
            return browser.evaluate(PAGE_STATE)  # type: ignore[no-any-return]
        time.sleep(0.5)
    raise AssertionError(f"not ready in {timeout_s:g} s: {state}")


def load(browser: Browser, url: str, check: Any) -> dict[str, Any]:
    browser.open(url)
    time.sleep(1.0)  # the previous page may still report "notRunning"
    return wait_state(browser, check)


def shoot(browser: Browser, state: dict[str, Any], name: str) -> Path:
    path = SCREENSHOTS / f"{name}.png"
    browser.screenshot(path, max(browser.height, int(state["height"]) + 100))
    assert path.stat().st_size > 20_000  # a real page, not a blank one
    return path


def today() -> Any:
    return datetime.now(UTC).date()


def test_realtime(browser: Browser, dashboard_url: str, seeded: Seeded) -> None:
    state = load(browser, f"{dashboard_url}/", lambda s: s["plots"] >= 2 and s["maps"] >= 1)
    assert state["header"] == f"Realtime · {PARIS}"
    assert state["metrics"]["Active devices"] == str(DEVICES_PER_FLEET)
    assert state["metrics"]["Critical alerts"] == str(seeded.alert_counts(PARIS, today())["HIGH"])
    assert state["tables"] == 1
    shoot(browser, state, "realtime")


def test_analytics(browser: Browser, dashboard_url: str, seeded: Seeded) -> None:
    url = f"{dashboard_url}/analytics?device=PARIS-0002&compare=PARIS-0003,PARIS-0007"
    state = load(browser, url, lambda s: s["plots"] >= 6 and s["maps"] >= 1)
    expected = len(seeded.readings("PARIS-0002", today()))
    assert state["metrics"]["Readings"] == str(expected)
    shoot(browser, state, "analytics")


def test_alerts(browser: Browser, dashboard_url: str, seeded: Seeded) -> None:
    state = load(browser, f"{dashboard_url}/alerts", lambda s: s["plots"] >= 1)
    counts = seeded.alert_counts(PARIS, today())
    assert {k: state["metrics"][k] for k in counts} == {k: str(v) for k, v in counts.items()}
    assert state["tables"] == 1
    shoot(browser, state, "alerts")


def test_devices(browser: Browser, dashboard_url: str, seeded: Seeded) -> None:
    url = f"{dashboard_url}/devices?device=PARIS-0002"
    state = load(browser, url, lambda s: s["tables"] >= 2 and "Battery" in s["metrics"])
    newest = seeded.readings("PARIS-0002", today())[0]
    assert state["metrics"]["Battery"] == f"{newest.battery_pct} %"
    shoot(browser, state, "devices")


def test_cluster(browser: Browser, dashboard_url: str) -> None:
    state = load(browser, f"{dashboard_url}/cluster", lambda s: "Nodes up" in s["metrics"])
    up, total = state["metrics"]["Nodes up"].split(" / ")
    assert up == total
    shoot(browser, state, "cluster")


def run_in_console(browser: Browser, url: str, cql: str) -> dict[str, Any]:
    """Open the CQL console, type ``cql``, press Run, wait for the result (no error allowed)."""
    load(browser, f"{url}/console", lambda s: s["header"] == "CQL console")
    browser.evaluate("document.querySelector('textarea').focus()")
    browser.send("Input.insertText", text=cql)
    browser.evaluate(
        "[...document.querySelectorAll('button')].find(b => b.innerText.trim() === 'Run').click()"
    )
    state = wait_state(browser, lambda s: s["successes"] or s["errors"])
    assert not state["errors"], state["errors"]
    return state


LYON_LATEST = (
    "SELECT device_id, model, last_ts, speed_kmh, battery_pct, zone "
    "FROM latest_position_by_fleet WHERE fleet_id = 'FLEET_LYON'"
)


def test_console(browser: Browser, dashboard_url: str) -> None:
    state = run_in_console(browser, dashboard_url, LYON_LATEST)
    assert state["successes"][0].startswith(f"{DEVICES_PER_FLEET} row(s)")
    assert state["tables"] == 1
    shoot(browser, state, "console")
