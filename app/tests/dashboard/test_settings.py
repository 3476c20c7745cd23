from __future__ import annotations

from pathlib import Path

import pytest

from fleet.config import ConfigError
from fleet.dashboard.settings import load_dashboard_settings


def test_defaults() -> None:
    s = load_dashboard_settings({})
    assert (s.refresh_s, s.cache_ttl_s, s.active_minutes) == (10.0, 60.0, 15)
    assert s.map_style == "open-street-map"
    assert s.console_credentials is None
    assert (s.console_row_limit, s.console_timeout_s) == (500, 10.0)


def test_env_file_then_environment(tmp_path: Path) -> None:
    env_file = tmp_path / "fleet.env"
    env_file.write_text(
        "FLEET_CONSOLE_USERNAME=reader\nFLEET_CONSOLE_PASSWORD='s3cret'\n"
        "FLEET_DASHBOARD_REFRESH=5\n"
    )
    s = load_dashboard_settings({"FLEET_DASHBOARD_REFRESH": "30"}, env_file)
    assert s.console_credentials == ("reader", "s3cret")
    assert s.refresh_s == 30.0


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        load_dashboard_settings(
            {
                "FLEET_DASHBOARD_MAP_STYLE": "satellite",
                "FLEET_CONSOLE_USERNAME": "reader",
                "FLEET_CONSOLE_ROW_LIMIT": "0",
                "FLEET_DASHBOARD_REFRESH": "fast",
            }
        )
    problems = "\n".join(info.value.problems)
    assert len(info.value.problems) == 4
    for expected in ("MAP_STYLE", "set together", "ROW_LIMIT", "not a number"):
        assert expected in problems
