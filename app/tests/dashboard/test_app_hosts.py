"""The dashboards table: health checks against a real local HTTP server, this host's row."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from fleet.dashboard.app_hosts import check_all, check_health, hosts_table, is_this_host
from fleet.dashboard.settings import AppHost


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Health(http.server.BaseHTTPRequestHandler):
    """``/_stcore/health`` answers ``ok``; ``/sick/...`` 503; ``/slow/...`` ``ok`` after 1 s."""

    def do_GET(self) -> None:
        if self.path.startswith("/slow/"):
            threading.Event().wait(1.0)
        status = 503 if self.path.startswith("/sick/") else 200
        body = b"ok" if status == 200 else b"unavailable"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_health_ok_http_error_refused_and_timeout(server: str) -> None:
    assert check_health(f"{server}/_stcore/health") == "ok"
    assert check_health(f"{server}/sick/_stcore/health") == "HTTP 503"
    assert check_health(f"http://127.0.0.1:{free_port()}/_stcore/health") == "Connection refused"
    assert check_health(f"{server}/slow/_stcore/health", timeout_s=0.2) == "timed out"


def test_all_hosts_are_checked_at_once(server: str) -> None:
    urls = [f"{server}/slow/_stcore/health", f"{server}/slow/a/_stcore/health"]
    started = time.monotonic()
    assert check_all(urls, timeout_s=5) == dict.fromkeys(urls, "ok")
    assert time.monotonic() - started < 1.8  # 1 s each, side by side
    assert check_all([]) == {}


def test_this_host_by_short_or_full_name() -> None:
    assert is_this_host("app-1", "app-1")
    assert is_this_host("app-1", "app-1.lab.example")
    assert is_this_host("app-1.lab.example", "app-1.lab.example")
    assert not is_this_host("app-2", "app-1.lab.example")


def test_hosts_table_in_configured_order(server: str) -> None:
    hosts = (
        AppHost("app-2", "dc2", "http://10.0.0.32:8501/"),
        AppHost("app-1", "dc1", f"{server}/"),
    )
    table = hosts_table(hosts, {f"{server}/_stcore/health": "ok"}, hostname="app-1")
    assert table.to_dict("records") == [
        {
            "name": "app-2",
            "dc": "dc2",
            "url": "http://10.0.0.32:8501/",
            "this_host": False,
            "health": "?",
        },
        {"name": "app-1", "dc": "dc1", "url": f"{server}/", "this_host": True, "health": "ok"},
    ]
