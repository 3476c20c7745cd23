"""The Cluster page's table of dashboards (FLEET_APP_HOSTS): which one this is, and whether each
answers, from Streamlit's own health endpoint (plain Python; the page caches the checks)."""

from __future__ import annotations

import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd

from fleet.dashboard.settings import AppHost

HEALTH_TIMEOUT_S = 2.0
HOST_COLUMNS = ("name", "dc", "url", "this_host", "health")
# The dashboards are on the deployment's own network: never through an HTTP(S)_PROXY.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))

Opener = Callable[..., Any]  # urlopen-like: (url, timeout=...) -> a response context


def check_health(
    url: str, timeout_s: float = HEALTH_TIMEOUT_S, opener: Opener = _DIRECT.open
) -> str:
    """``ok`` when ``url`` answers 200 ``ok``; else a short reason (``HTTP 503``, ``timed
    out``, ``Connection refused``...), never an exception."""
    try:
        with opener(url, timeout=timeout_s) as response:
            body = response.read(64).decode("utf-8", "replace").strip()
            return "ok" if response.status == 200 and body == "ok" else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, OSError) and reason.strerror:
            return reason.strerror
        return str(reason)
    except TimeoutError:
        return "timed out"
    except OSError as exc:  # e.g. the connection reset while reading
        return exc.strerror or type(exc).__name__


def opener_for(context: ssl.SSLContext | None) -> Opener:
    """Direct (no HTTP(S)_PROXY); https URLs checked against ``context`` (the deployment's CA)
    when given, else the system's CAs."""
    if context is None:
        return _DIRECT.open
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    ).open


def check_all(
    urls: Sequence[str],
    timeout_s: float = HEALTH_TIMEOUT_S,
    context: ssl.SSLContext | None = None,
) -> dict[str, str]:
    """:func:`check_health` of every URL at once: the table waits for the slowest, not the sum."""
    if not urls:
        return {}
    opener = opener_for(context)
    with ThreadPoolExecutor(max_workers=len(urls), thread_name_prefix="fleet-health") as pool:
        return dict(
            zip(urls, pool.map(lambda u: check_health(u, timeout_s, opener), urls), strict=True)
        )


def is_this_host(name: str, hostname: str | None = None) -> bool:
    """``name`` is this machine's host name (short or fully qualified)."""
    here = socket.gethostname() if hostname is None else hostname
    return name in (here, here.split(".", 1)[0])


def hosts_table(
    hosts: Sequence[AppHost], health: Mapping[str, str], hostname: str | None = None
) -> pd.DataFrame:
    """One row per dashboard, in the order of FLEET_APP_HOSTS; health by health URL."""
    rows = [
        (h.name, h.dc, h.url, is_this_host(h.name, hostname), health.get(h.health_url, "?"))
        for h in hosts
    ]
    return pd.DataFrame.from_records(rows, columns=list(HOST_COLUMNS))
