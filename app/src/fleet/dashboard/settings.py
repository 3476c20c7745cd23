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
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fleet.config import ConfigError, _Reader, parse_env_file

MAP_STYLES = ("open-street-map", "carto-positron", "carto-darkmatter", "white-bg")


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    refresh_s: float
    cache_ttl_s: float
    active_minutes: int
    map_style: str
    console_credentials: tuple[str, str] | None  # (role, password); None: the app's role
    console_row_limit: int
    console_timeout_s: float


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
    settings = DashboardSettings(
        refresh_s=r.number("FLEET_DASHBOARD_REFRESH", 10.0, 1.0, 3600.0),
        cache_ttl_s=r.number("FLEET_DASHBOARD_CACHE_TTL", 60.0, 0.0, 86400.0),
        active_minutes=r.integer("FLEET_DASHBOARD_ACTIVE_MINUTES", 15, 1, 7 * 24 * 60),
        map_style=map_style,
        console_credentials=(username, password) if username and password else None,
        console_row_limit=r.integer("FLEET_CONSOLE_ROW_LIMIT", 500, 1, 10_000),
        console_timeout_s=r.number("FLEET_CONSOLE_TIMEOUT", 10.0, 0.5, 300.0),
    )
    if r.problems:
        raise ConfigError(r.problems)
    return settings
