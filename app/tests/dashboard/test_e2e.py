"""End to end: ``fleet dashboard`` on a loopback port, every page in headless Chromium, checked
in the DOM and saved as a screenshot (docs/screenshots/<page>.png, or $FLEET_E2E_SCREENSHOTS).

Needs the FLEET_IT_* variables (see conftest.py) and Debian's ``chromium`` package, driven by
Playwright (``executable_path``: no browser is downloaded, ``playwright install`` is never run).
"""

from __future__ import annotations

import contextlib
import os
import shutil
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
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from .conftest import DEVICES_PER_FLEET, Seeded

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = Path(os.environ.get("FLEET_E2E_SCREENSHOTS", REPO / "docs" / "screenshots"))
PARIS = "FLEET_PARIS"
WIDTH, HEIGHT = 1400, 1000  # CSS pixels, device scale 1

# Most of these Playwright passes too; listed so that none depends on its defaults.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",  # software WebGL for the MapLibre maps
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
)

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


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_args(allow_hosts: tuple[str, ...]) -> list[str]:
    """The browser resolves no host name but loopback ones and ``allow_hosts`` (a deployed
    dashboard), so a page can never reach outside the machine or the lab (map tiles, fonts,
    telemetry)."""
    allowed = ("localhost", "127.0.0.1", *allow_hosts)
    resolver = "MAP * ~NOTFOUND, " + ", ".join(f"EXCLUDE {host}" for host in allowed)
    return [*CHROMIUM_ARGS, f"--host-resolver-rules={resolver}"]


def open_page(allow_hosts: tuple[str, ...] = ()) -> Iterator[Page]:
    """One page of headless Chromium (Debian's, through Playwright) for a module's tests;
    skipped without it."""
    executable = find_chromium()
    if executable is None:
        pytest.skip("no chromium on PATH: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            chromium_sandbox=False,
            args=chromium_args(allow_hosts),
        )
        try:
            context = browser.new_context(
                viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1
            )
            yield context.new_page()
        finally:
            browser.close()


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    yield from open_page()


def page_state(page: Page, check: str, timeout_s: float) -> dict[str, Any]:
    """PAGE_STATE once ``check`` (a JavaScript predicate on it) holds or an exception shows;
    Playwright polls it in the page (every 0.5 s) and fails the test after ``timeout_s``."""
    ready = f"""() => {{
      const s = {PAGE_STATE};
      return s && (s.exceptions.length > 0 || ({check})(s)) ? s : null;
    }}"""
    try:
        handle = page.wait_for_function(ready, polling=500, timeout=timeout_s * 1000)
    except PlaywrightTimeoutError:
        state = page.evaluate(PAGE_STATE)
        raise AssertionError(f"not ready in {timeout_s:g} s: {state}") from None
    return handle.json_value()  # type: ignore[no-any-return]


def wait_state(page: Page, check: str, timeout_s: float = 90) -> dict[str, Any]:
    """Wait until ``check`` holds (the data is on screen); fail on exceptions."""
    state = page_state(page, check, timeout_s)
    assert not state["exceptions"], state["exceptions"]
    page.wait_for_timeout(2_000)  # maps draw their points asynchronously (WebGL)
    return page.evaluate(PAGE_STATE)  # type: ignore[no-any-return]


def load(page: Page, url: str, check: str) -> dict[str, Any]:
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})  # shoot() made it taller
    page.goto(url)  # the new document: nothing of the previous page is left to misread
    return wait_state(page, check)


def shoot(page: Page, state: dict[str, Any], name: str) -> Path:
    """The page at WIDTH x (its content's height) CSS pixels, as PNG."""
    path = SCREENSHOTS / f"{name}.png"
    page.set_viewport_size({"width": WIDTH, "height": max(HEIGHT, int(state["height"]) + 100)})
    page.wait_for_timeout(1_500)  # let charts and maps redraw at the new size
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=path)
    assert path.stat().st_size > 20_000  # a real page, not a blank one
    return path


def today() -> Any:
    return datetime.now(UTC).date()


def test_realtime(page: Page, dashboard_url: str, seeded: Seeded) -> None:
    state = load(page, f"{dashboard_url}/", "s => s.plots >= 2 && s.maps >= 1")
    assert state["header"] == f"Realtime · {PARIS}"
    assert state["metrics"]["Active devices"] == str(DEVICES_PER_FLEET)
    assert state["metrics"]["Critical alerts"] == str(seeded.alert_counts(PARIS, today())["HIGH"])
    assert state["tables"] == 1
    shoot(page, state, "realtime")


def test_analytics(page: Page, dashboard_url: str, seeded: Seeded) -> None:
    url = f"{dashboard_url}/analytics?device=PARIS-0002&compare=PARIS-0003,PARIS-0007"
    state = load(page, url, "s => s.plots >= 6 && s.maps >= 1")
    expected = len(seeded.readings("PARIS-0002", today()))
    assert state["metrics"]["Readings"] == str(expected)
    shoot(page, state, "analytics")


def test_alerts(page: Page, dashboard_url: str, seeded: Seeded) -> None:
    state = load(page, f"{dashboard_url}/alerts", "s => s.plots >= 1")
    counts = seeded.alert_counts(PARIS, today())
    assert {k: state["metrics"][k] for k in counts} == {k: str(v) for k, v in counts.items()}
    assert state["tables"] == 1
    shoot(page, state, "alerts")


def test_devices(page: Page, dashboard_url: str, seeded: Seeded) -> None:
    url = f"{dashboard_url}/devices?device=PARIS-0002"
    state = load(page, url, "s => s.tables >= 2 && 'Battery' in s.metrics")
    newest = seeded.readings("PARIS-0002", today())[0]
    assert state["metrics"]["Battery"] == f"{newest.battery_pct} %"
    shoot(page, state, "devices")


def test_cluster(page: Page, dashboard_url: str) -> None:
    state = load(page, f"{dashboard_url}/cluster", "s => 'Nodes up' in s.metrics")
    up, total = state["metrics"]["Nodes up"].split(" / ")
    assert up == total
    shoot(page, state, "cluster")


def run_in_console(page: Page, url: str, cql: str) -> dict[str, Any]:
    """Open the CQL console, type ``cql``, press Run, wait for the result (no error allowed)."""
    load(page, f"{url}/console", "s => s.header === 'CQL console'")
    page.locator("textarea").fill(cql)
    page.get_by_role("button", name="Run", exact=True).click()
    state = wait_state(page, "s => s.successes.length > 0 || s.errors.length > 0")
    assert not state["errors"], state["errors"]
    return state


LYON_LATEST = (
    "SELECT device_id, model, last_ts, speed_kmh, battery_pct, zone "
    "FROM latest_position_by_fleet WHERE fleet_id = 'FLEET_LYON'"
)


def test_console(page: Page, dashboard_url: str) -> None:
    state = run_in_console(page, dashboard_url, LYON_LATEST)
    assert state["successes"][0].startswith(f"{DEVICES_PER_FLEET} row(s)")
    assert state["tables"] == 1
    shoot(page, state, "console")
