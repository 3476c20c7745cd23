"""Dashboard settings, read like every other ``FLEET_*`` setting (environment, then env file).

FLEET_DASHBOARD_REFRESH         seconds between two refreshes of the Realtime page (default 10)
FLEET_DASHBOARD_CACHE_TTL       seconds a history query result is reused (default 60)
FLEET_DASHBOARD_ACTIVE_MINUTES  a device that reported within this many minutes is active (15)
FLEET_DASHBOARD_MAP_STYLE       MapLibre style of the maps (default open-street-map; white-bg
                                needs no tiles, for hosts without Internet access)
FLEET_CONSOLE_USERNAME / FLEET_CONSOLE_PASSWORD
                                role of the CQL console; set both, to a role granted SELECT only
FLEET_CONSOLE_ROW_LIMIT         rows the console shows at most (default 500)
FLEET_CONSOLE_TIMEOUT           seconds a console statement may run (default 10)
FLEET_CONSOLE_RATE              statements a browser session may run per minute (default 10)
FLEET_AUTH_USER_HEADER          request header in which the authenticating proxy in front of the
                                dashboard sends the user name (e.g. X-Fleet-User); unset: no proxy,
                                no access control (a dashboard run by hand)
FLEET_AUTH_GROUPS_HEADER        request header with the user's groups, comma-separated
FLEET_CONSOLE_GROUPS            groups that may use the CQL console (default: console)
FLEET_ADMIN_GROUPS              groups that may drop the cached query results (default: admin)
FLEET_APP_HOSTS                 every dashboard of the deployment, one per data center, as
                                comma-separated ``name@dc=url`` entries, e.g.
                                ``app-1@dc1=http://10.213.10.31:8501/,app-2@dc2=http://...``;
                                the Cluster page lists them with their health, and the outage
                                banner links the other DCs' ones (default: none)
FLEET_DASHBOARD_METRICS_LISTEN  HOST:PORT where the dashboard serves its Prometheus metrics (page
                                fetch latencies); unset: not served
FLEET_PROMETHEUS_URL            Prometheus's base URL (e.g. http://10.213.10.51:9090): the
                                Operations page plots from it; unset: that page says so
FLEET_REPORTS_DIR               directory of the day-2 operations' JSON reports the Operations
                                page lists (default /var/lib/fleet-reports)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from fleet.config import _DC_RE, ConfigError, _Reader, parse_env_file
from fleet.dashboard.access import parse_groups
from fleet.exporter import Listen, parse_listen

DEFAULT_REPORTS_DIR = Path("/var/lib/fleet-reports")
MAP_STYLES = ("open-street-map", "carto-positron", "carto-darkmatter", "white-bg")
_HOST_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$")


@dataclass(frozen=True, slots=True)
class AppHost:
    """One dashboard of the deployment: its host name, the DC it reads from, its address."""

    name: str
    dc: str
    url: str

    @property
    def health_url(self) -> str:
        """Streamlit's own liveness endpoint (``ok`` once the server runs), under the
        dashboard's path; its query string, if any, left out."""
        parts = urlsplit(self.url)
        return urlunsplit(
            (parts.scheme, parts.netloc, parts.path.rstrip("/") + "/_stcore/health", "", "")
        )


def _app_host(entry: str) -> AppHost:
    """``name@dc=url``; ValueError saying what is wrong with this entry."""
    target, sep, url = entry.partition("=")
    name, at, dc = target.strip().partition("@")
    name, dc, url = name.strip(), dc.strip(), url.strip()
    if not sep or not at:
        raise ValueError("expected name@dc=url")
    if not _HOST_NAME_RE.match(name):
        raise ValueError(f"invalid host name {name!r}")
    if not _DC_RE.match(dc):
        raise ValueError(f"invalid data center {dc!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise ValueError(f"{url!r} is not an http(s) URL")
    return AppHost(name, dc, url)


def parse_app_hosts(text: str) -> tuple[tuple[AppHost, ...], list[str]]:
    """The hosts of ``FLEET_APP_HOSTS`` and a problem per invalid entry (empty text: none)."""
    if not text.strip():
        return (), []
    hosts: list[AppHost] = []
    problems: list[str] = []
    for number, entry in enumerate(text.split(","), start=1):
        if not entry.strip():
            problems.append(f"FLEET_APP_HOSTS entry {number} is empty")
            continue
        try:
            host = _app_host(entry)
        except ValueError as exc:
            problems.append(f"FLEET_APP_HOSTS entry {number} ({entry.strip()!r}): {exc}")
            continue
        if any(h.name == host.name for h in hosts):
            problems.append(f"FLEET_APP_HOSTS entry {number}: host {host.name!r} listed twice")
            continue
        hosts.append(host)
    return tuple(hosts), problems


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    refresh_s: float
    cache_ttl_s: float
    active_minutes: int
    map_style: str
    console_credentials: tuple[str, str] | None  # (role, password); None: the app's role
    console_row_limit: int
    console_timeout_s: float
    console_rate: int = 10
    app_hosts: tuple[AppHost, ...] = ()  # every dashboard of the deployment (FLEET_APP_HOSTS)
    auth_user_header: str | None = None
    auth_groups_header: str | None = None
    console_groups: frozenset[str] = frozenset({"console"})
    admin_groups: frozenset[str] = frozenset({"admin"})
    # Seconds a node's last backup may be old before the Cluster page warns (0: not checked).
    backup_max_age_s: float = 0.0
    metrics_listen: Listen | None = None  # FLEET_DASHBOARD_METRICS_LISTEN
    prometheus_url: str | None = None  # FLEET_PROMETHEUS_URL, without a trailing /
    reports_dir: Path = DEFAULT_REPORTS_DIR

    def other_dashboards(self, local_dc: str | None) -> tuple[AppHost, ...]:
        """The dashboards reading from another DC than ``local_dc``: where to go in an outage."""
        return tuple(h for h in self.app_hosts if h.dc != local_dc)


_HEADER_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def _optional_listen(text: str) -> Listen | None:
    return parse_listen(text) if text else None


def _optional_base_url(text: str) -> str | None:
    """``http(s)://HOST[:PORT][/path]`` without a trailing /; empty: None."""
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ValueError("expected http(s)://HOST:PORT[/path]")
    return text.rstrip("/")


def _header(r: _Reader, key: str) -> str | None:
    value = r.raw(key, "")
    if value and not _HEADER_RE.match(value):
        r.problems.append(f"{key}={value!r}: a header name is letters, digits and -")
        return None
    return value or None


def _groups(r: _Reader, key: str, default: str) -> frozenset[str]:
    text = r.raw(key, default)
    groups = parse_groups(text)
    if len(groups) != len([p for p in text.split(",") if p.strip()]):
        r.problems.append(f"{key}={text!r}: group names are 1-64 letters, digits, _ . -")
    return groups


def load_dashboard_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | str | None = None
) -> DashboardSettings:
    """Same precedence as :func:`fleet.config.load_settings`; every problem reported at once."""
    process_env = dict(os.environ if environ is None else environ)
    file_name = env_file or process_env.get("FLEET_ENV_FILE")
    merged = parse_env_file(Path(file_name)) if file_name else {}
    merged.update(process_env)
    r = _Reader(merged)
    map_style = r.raw("FLEET_DASHBOARD_MAP_STYLE", MAP_STYLES[0])
    if map_style not in MAP_STYLES:
        r.problems.append(
            f"FLEET_DASHBOARD_MAP_STYLE={map_style!r}: use one of {', '.join(MAP_STYLES)}"
        )
    username = r.raw("FLEET_CONSOLE_USERNAME", "") or None
    password = r.env.get("FLEET_CONSOLE_PASSWORD") or None
    if (username is None) != (password is None):
        r.problems.append("FLEET_CONSOLE_USERNAME and FLEET_CONSOLE_PASSWORD must be set together")
    app_hosts, host_problems = parse_app_hosts(r.env.get("FLEET_APP_HOSTS", ""))
    r.problems.extend(host_problems)
    settings = DashboardSettings(
        refresh_s=r.number("FLEET_DASHBOARD_REFRESH", 10.0, 1.0, 3600.0),
        cache_ttl_s=r.number("FLEET_DASHBOARD_CACHE_TTL", 60.0, 0.0, 86400.0),
        active_minutes=r.integer("FLEET_DASHBOARD_ACTIVE_MINUTES", 15, 1, 7 * 24 * 60),
        map_style=map_style,
        console_credentials=(username, password) if username and password else None,
        console_row_limit=r.integer("FLEET_CONSOLE_ROW_LIMIT", 500, 1, 10_000),
        console_timeout_s=r.number("FLEET_CONSOLE_TIMEOUT", 10.0, 0.5, 300.0),
        console_rate=r.integer("FLEET_CONSOLE_RATE", 10, 1, 600),
        app_hosts=app_hosts,
        auth_user_header=_header(r, "FLEET_AUTH_USER_HEADER"),
        auth_groups_header=_header(r, "FLEET_AUTH_GROUPS_HEADER"),
        console_groups=_groups(r, "FLEET_CONSOLE_GROUPS", "console"),
        admin_groups=_groups(r, "FLEET_ADMIN_GROUPS", "admin"),
        backup_max_age_s=r.number("FLEET_BACKUP_MAX_AGE", 0.0, 0.0, 3650 * 86400.0),
        metrics_listen=r.parsed("FLEET_DASHBOARD_METRICS_LISTEN", "", _optional_listen, None),
        prometheus_url=r.parsed("FLEET_PROMETHEUS_URL", "", _optional_base_url, None),
        reports_dir=Path(r.raw("FLEET_REPORTS_DIR", "") or DEFAULT_REPORTS_DIR),
    )
    if r.problems:
        raise ConfigError(r.problems)
    return settings
