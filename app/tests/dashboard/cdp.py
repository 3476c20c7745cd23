"""A tiny Chrome DevTools Protocol driver: headless Chromium, navigate, wait, screenshot.

Only what the end-to-end test needs, over one websocket (``websockets``' sync client). The
browser resolves no host name but loopback ones and those it is given
(``--host-resolver-rules``), so a page can never reach outside the machine or the lab (map
tiles, fonts, telemetry).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM_FLAGS = (
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
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(
        self,
        executable: str,
        width: int = 1400,
        height: int = 1000,
        allow_hosts: tuple[str, ...] = (),
    ) -> None:
        """``allow_hosts``: hosts besides loopback the page may reach (a deployed dashboard)."""
        allowed = ("localhost", "127.0.0.1", *allow_hosts)
        resolver = "MAP * ~NOTFOUND, " + ", ".join(f"EXCLUDE {host}" for host in allowed)
        # Chromium's helper processes may still write the profile while it is removed.
        self._profile = tempfile.TemporaryDirectory(
            prefix="fleet-e2e-chromium-", ignore_cleanup_errors=True
        )
        self.width, self.height = width, height
        self._proc = subprocess.Popen(
            [
                executable,
                *CHROMIUM_FLAGS,
                f"--host-resolver-rules={resolver}",
                f"--user-data-dir={self._profile.name}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._ids = itertools.count(1)
        self._stack = contextlib.ExitStack()
        self._ws: ClientConnection = self._stack.enter_context(
            connect(self._page_socket(), max_size=2**27)
        )

    def _page_socket(self, timeout_s: float = 30.0) -> str:
        port_file = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._proc.returncode}")
            if port_file.exists() and port_file.read_text().strip():
                port = port_file.read_text().split()[0]
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as response:
                    targets = json.load(response)
                pages = [t for t in targets if t.get("type") == "page"]
                if pages:
                    return str(pages[0]["webSocketDebuggerUrl"])
            time.sleep(0.2)
        raise TimeoutError("chromium did not open its DevTools port")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call ``method`` and return its result (events received meanwhile are dropped)."""
        call_id = next(self._ids)
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=60))
            if message.get("id") != call_id:
                continue
            if "error" in message:
                raise RuntimeError(f"{method}: {message['error']}")
            return dict(message.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=self.width,
            height=self.height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.send("Page.navigate", url=url)

    def wait_for(self, expression: str, timeout_s: float, poll_s: float = 0.5) -> Any:
        """Poll ``expression`` until it returns something truthy; return it."""
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            last = self.evaluate(expression)
            if last:
                return last
            time.sleep(poll_s)
        raise TimeoutError(f"still {last!r} after {timeout_s:g} s: {expression[:80]}")

    def screenshot(self, path: Path, height: int) -> None:
        """The page at ``self.width`` x ``height`` CSS pixels, as PNG."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=self.width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        time.sleep(1.5)  # let charts and maps redraw at the new size
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()
