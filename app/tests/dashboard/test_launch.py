from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fleet.cli import cli
from fleet.dashboard.launch import APP, streamlit_command, streamlit_environment

BASE_ENV = {"FLEET_LOCAL_DC": "dc1", "FLEET_REPLICATION": "dc1:1"}


def test_command_runs_the_entry_script_headless_without_usage_stats() -> None:
    command = streamlit_command(8600, "127.0.0.1", python="/py")
    assert command[:5] == ["/py", "-m", "fleet.dashboard.serve", "run", str(APP)]
    assert APP.name == "app.py" and APP.is_file()
    assert (APP.parent / "views").is_dir() and not (APP.parent / "pages").exists()
    for option in (
        "--server.port=8600",
        "--server.address=127.0.0.1",
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
    ):
        assert option in command


def test_the_browser_never_gets_error_details() -> None:
    """``none``: an uncaught exception shows a generic message only; its type, message and
    traceback go to the log. (``false``, the legacy value, still shows the traceback.)"""
    from streamlit.config import ShowErrorDetailsConfigOptions

    command = streamlit_command(8600, "127.0.0.1", python="/py")
    options = [o for o in command if o.startswith("--client.showErrorDetails=")]
    assert options == ["--client.showErrorDetails=none"]
    assert ShowErrorDetailsConfigOptions.NONE.value == "none"  # still the value in this Streamlit


def test_env_file_is_handed_over_as_fleet_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "x.env"
    assert streamlit_environment({"A": "1"}, None) == {"A": "1"}
    assert streamlit_environment({}, env_file)["FLEET_ENV_FILE"] == str(env_file.resolve())


def test_fleet_dashboard_execs_streamlit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def fake_exec(file: str, args: list[str], env: dict[str, str]) -> None:
        seen.update(file=file, args=args, env=env)

    monkeypatch.setattr("os.execvpe", fake_exec)
    env_file = tmp_path / "fleet.env"
    env_file.write_text("FLEET_KEYSPACE=fleet_demo\n")
    result = CliRunner().invoke(
        cli,
        ["--env-file", str(env_file), "dashboard", "--port", "8642", "--address", "0.0.0.0"],
        env=BASE_ENV,
    )
    assert result.exit_code == 0, result.output
    assert "--server.port=8642" in seen["args"] and "--server.address=0.0.0.0" in seen["args"]
    assert seen["env"]["FLEET_ENV_FILE"] == str(env_file.resolve())


def test_fleet_dashboard_checks_settings_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.execvpe", lambda *_: pytest.fail("must not start"))
    env = {**BASE_ENV, "FLEET_CONSOLE_USERNAME": "reader"}  # password missing
    result = CliRunner().invoke(cli, ["dashboard"], env=env)
    assert result.exit_code == 2
    assert "FLEET_CONSOLE_PASSWORD must be set together" in result.output
