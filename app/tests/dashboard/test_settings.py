from __future__ import annotations

from pathlib import Path

import pytest

from fleet.config import ConfigError
from fleet.dashboard.settings import AppHost, load_dashboard_settings


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


def test_app_hosts_name_dc_and_url() -> None:
    s = load_dashboard_settings(
        {
            "FLEET_APP_HOSTS": " app-1@dc1=http://10.213.10.31:8501/ , "
            "app-2.lab@dc2=https://dash.example/fleet?x=1"
        }
    )
    assert s.app_hosts == (
        AppHost("app-1", "dc1", "http://10.213.10.31:8501/"),
        AppHost("app-2.lab", "dc2", "https://dash.example/fleet?x=1"),
    )
    assert s.app_hosts[0].health_url == "http://10.213.10.31:8501/_stcore/health"
    assert s.app_hosts[1].health_url == "https://dash.example/fleet/_stcore/health"
    assert s.other_dashboards("dc1") == (s.app_hosts[1],)
    assert s.other_dashboards(None) == s.app_hosts


@pytest.mark.parametrize("value", ["", "   "])
def test_no_app_hosts_by_default(value: str) -> None:
    assert load_dashboard_settings({"FLEET_APP_HOSTS": value}).app_hosts == ()
    assert load_dashboard_settings({}).other_dashboards("dc1") == ()


def test_each_invalid_app_host_is_a_problem() -> None:
    entries = [
        "app-1@dc1=http://10.0.0.1:8501/",  # fine
        "app-2=http://10.0.0.2:8501/",  # no DC
        "app-3@dc3",  # no URL
        "app 4@dc1=http://10.0.0.4/",  # space in the name
        "app-5@dc/5=http://10.0.0.5/",  # DC
        "app-6@dc1=ftp://10.0.0.6/",  # scheme
        "app-7@dc1=http:///nohost",  # no host
        "",  # empty entry
        "app-1@dc2=http://10.0.0.9/",  # same name twice
    ]
    with pytest.raises(ConfigError) as info:
        load_dashboard_settings({"FLEET_APP_HOSTS": ",".join(entries)})
    problems = info.value.problems
    assert len(problems) == 8, problems
    expected = [
        "entry 2 ('app-2=http://10.0.0.2:8501/'): expected name@dc=url",
        "entry 3 ('app-3@dc3'): expected name@dc=url",
        "entry 4 ('app 4@dc1=http://10.0.0.4/'): invalid host name 'app 4'",
        "entry 5 ('app-5@dc/5=http://10.0.0.5/'): invalid data center 'dc/5'",
        "entry 6 ('app-6@dc1=ftp://10.0.0.6/'): 'ftp://10.0.0.6/' is not an http(s) URL",
        "entry 7 ('app-7@dc1=http:///nohost'): 'http:///nohost' is not an http(s) URL",
        "entry 8 is empty",
        "entry 9: host 'app-1' listed twice",
    ]
    assert problems == [f"FLEET_APP_HOSTS {e}" for e in expected]


def test_app_host_problems_come_with_the_others() -> None:
    with pytest.raises(ConfigError) as info:
        load_dashboard_settings({"FLEET_APP_HOSTS": "nope", "FLEET_DASHBOARD_REFRESH": "0"})
    assert len(info.value.problems) == 2


def test_the_operations_settings() -> None:
    from fleet.dashboard.settings import DEFAULT_REPORTS_DIR
    from fleet.exporter import Listen

    s = load_dashboard_settings({})
    assert (s.metrics_listen, s.prometheus_url, s.reports_dir) == (None, None, DEFAULT_REPORTS_DIR)
    s = load_dashboard_settings(
        {
            "FLEET_DASHBOARD_METRICS_LISTEN": "10.0.0.31:9471",
            "FLEET_PROMETHEUS_URL": "http://10.0.0.41:9090/",
            "FLEET_REPORTS_DIR": "/srv/reports",
        }
    )
    assert s.metrics_listen == Listen("10.0.0.31", 9471)
    assert s.prometheus_url == "http://10.0.0.41:9090"
    assert s.reports_dir == Path("/srv/reports")
    with pytest.raises(ConfigError) as info:
        load_dashboard_settings(
            {"FLEET_DASHBOARD_METRICS_LISTEN": "9471", "FLEET_PROMETHEUS_URL": "10.0.0.41:9090"}
        )
    problems = "\n".join(info.value.problems)
    assert "FLEET_DASHBOARD_METRICS_LISTEN" in problems and "FLEET_PROMETHEUS_URL" in problems
