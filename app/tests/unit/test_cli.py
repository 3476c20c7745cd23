"""The command line: offline commands, connection errors, and the ETL commands wired to the
in-memory stand-in for Cassandra (see conftest.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cassandra import InvalidRequest
from click.testing import CliRunner

from fleet.cli import cli

FIXTURE = Path(__file__).parent / "fixtures" / "bad_telemetry.csv"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("FLEET_"):
            monkeypatch.delenv(key)


def invoke(*args: str, **env: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_generate_is_reproducible(tmp_path: Path) -> None:
    outputs = []
    for name in ("a.csv", "b.csv"):
        code, _, err = invoke(
            "generate",
            "--out",
            str(tmp_path / name),
            "--records",
            "250",
            "--end",
            "2025-06-16T09:00:00Z",
            FLEET_DEVICES_PER_FLEET="5",
            FLEET_SEED="7",
        )
        assert code == 0, err
        outputs.append((tmp_path / name).read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]
    lines = outputs[0].splitlines()
    assert len(lines) == 251
    assert lines[0].startswith("fleet_id,device_id,model,ts,")
    code, stdout, _ = invoke("generate", "--out", "-", "--records", "3", FLEET_SEED="8")
    assert code == 0 and len(stdout.splitlines()) == 4


def test_schema_print_uses_settings() -> None:
    code, stdout, _ = invoke(
        "schema",
        "print",
        FLEET_KEYSPACE="fleet_test",
        FLEET_REPLICATION="dc1:1",
        FLEET_LOCAL_DC="dc1",
    )
    assert code == 0
    assert "CREATE KEYSPACE IF NOT EXISTS fleet_test" in stdout
    assert "{'class': 'NetworkTopologyStrategy', 'dc1': 1}" in stdout


def test_env_file_option(tmp_path: Path) -> None:
    env_file = tmp_path / "fleet.env"
    env_file.write_text("FLEET_KEYSPACE=from_env_file\n", encoding="utf-8")
    code, stdout, _ = invoke("--env-file", str(env_file), "schema", "print")
    assert code == 0 and "from_env_file.devices_by_fleet" in stdout


def test_invalid_configuration_exits_2_before_connecting() -> None:
    code, _, err = invoke(
        "etl",
        "batch",
        "--records",
        "10",
        FLEET_LOCAL_DC="dc1",
        FLEET_CONCURRENCY="many",
        FLEET_CONTACT_POINTS="host:70000",
    )
    assert code == 2
    assert "FLEET_CONCURRENCY='many': not an integer" in err
    assert "FLEET_CONTACT_POINTS" in err
    code, _, err = invoke("check")
    assert code == 2 and "FLEET_LOCAL_DC is required" in err


def test_unreachable_cluster_is_one_clear_error() -> None:
    # port 1 on loopback refuses at once: nothing leaves the machine
    code, _, err = invoke("check", FLEET_LOCAL_DC="dc1", FLEET_CONTACT_POINTS="127.0.0.1:1")
    assert code == 3
    assert err.startswith("Error: Cassandra: cannot reach Cassandra at 127.0.0.1:1")
    assert "Traceback" not in err


def test_import_dry_run_reports_rejects(tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    code, stdout, _ = invoke("etl", "import", str(FIXTURE), "--dry-run", "--rejects", str(rejects))
    assert code == 0
    assert stdout.startswith("10 valid, 9 rejected")
    assert rejects.read_text(encoding="utf-8").startswith('line,reason,raw\n3,"expected 11 fields')


def test_import_with_a_bad_header_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("device,lat,lon\nx,1,2\n", encoding="utf-8")
    code, _, err = invoke("etl", "import", str(bad), "--dry-run")
    assert code == 2 and "missing column(s): fleet_id, device_id" in err


@pytest.fixture
def memory_cluster(db: Any, connection: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """``fleet`` commands connect to the in-memory stand-in (see conftest.py)."""
    import fleet.session

    def connect(settings: Any, require_keyspace: bool = True) -> Any:
        conn = connection()
        conn.settings = settings
        return conn

    monkeypatch.setattr(fleet.session, "connect", connect)
    return db


ENV = {"FLEET_LOCAL_DC": "dc1", "FLEET_DEVICES_PER_FLEET": "3", "FLEET_SEED": "5"}


def test_etl_batch_json_summary(memory_cluster: Any) -> None:
    code, stdout, err = invoke(
        "etl",
        "batch",
        "--records",
        "300",
        "--mode",
        "batch",
        "--json",
        "--progress",
        "0",
        "--end",
        "2025-06-16T09:00:00Z",
        **ENV,
    )
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["ok"] is True
    assert summary["label"] == "batch/batch"
    assert (summary["records_written"], summary["records_failed"]) == (300, 0)
    assert summary["rollups_recomputed"] > 0 and summary["minutes_recomputed"] > 0
    assert summary["rollups_written"] == (
        summary["rollups_recomputed"]
        + summary["minutes_recomputed"]
        + summary["device_hours_recomputed"]
    )
    assert len(memory_cluster.tables["telemetry_by_device_day"]) == 300


def test_etl_batch_failures_exit_1_and_are_saved(memory_cluster: Any, tmp_path: Path) -> None:
    memory_cluster.fail = lambda m: (
        InvalidRequest("nope") if m.table.name == "devices_by_fleet" else None
    )
    failed = tmp_path / "failed.csv"
    code, stdout, err = invoke(
        "etl", "batch", "--records", "60", "--failed-out", str(failed), "--progress", "0", **ENV
    )
    assert code == 1
    assert "0/60 records written, 60 failed" in stdout
    assert f"failed records written to {failed}" in err
    assert "InvalidRequest after 1 attempt(s): nope" in err
    assert len(failed.read_text(encoding="utf-8").splitlines()) == 61


def test_etl_import_and_stream(memory_cluster: Any, tmp_path: Path) -> None:
    rejects, stats = tmp_path / "rejects.csv", tmp_path / "stats.json"
    code, stdout, err = invoke(
        "etl",
        "import",
        str(FIXTURE),
        "--rejects",
        str(rejects),
        "--json",
        "--progress",
        "0",
        **ENV,
    )
    assert code == 0, err
    summary = json.loads(stdout)
    assert (summary["records_written"], summary["records_rejected"]) == (10, 9)
    assert summary["rejects_file"] == str(rejects)

    code, stdout, err = invoke(
        "etl",
        "stream",
        "--interval",
        "0.05",
        "--ticks",
        "2",
        "--progress",
        "0",
        "--stats-file",
        str(stats),
        **{**ENV, "FLEET_FLEETS": "FLEET_NANTES"},
    )
    assert code == 0, err
    assert "6/6 records written, 0 failed" in stdout
    counters = json.loads(stats.read_text(encoding="utf-8"))
    assert (counters["records_written"], counters["records_failed"]) == (6, 0)
    assert counters["in_flight"] == 0 and counters["updated_at"] > 0


def test_rollup_recomputes_a_day(memory_cluster: Any) -> None:
    end = "2025-06-16T09:00:00Z"
    args = ("etl", "batch", "--records", "120", "--progress", "0", "--end", end, "--no-rollups")
    code, _, err = invoke(*args, **ENV)
    assert code == 0, err
    code, stdout, err = invoke("rollup", "--day", "2025-06-16", "--json", **ENV)
    assert code == 0, err
    assert json.loads(stdout)["rollups_recomputed"] == 2  # two fleets, hour 08 UTC only


def test_bench_schema_is_the_app_schema_plus_copy_table_and_grants() -> None:
    env = {**ENV, "FLEET_KEYSPACE": "fleet_bench"} | {
        "FLEET_USERNAME": "fleet_etl",
        "FLEET_PASSWORD": "x",
    }
    code, stdout, err = invoke("bench", "schema", **env)
    assert code == 0, err
    assert "CREATE KEYSPACE IF NOT EXISTS fleet_bench" in stdout
    assert "CREATE TABLE IF NOT EXISTS fleet_bench.telemetry_by_device_day" in stdout
    assert "CREATE TABLE IF NOT EXISTS fleet_bench.copy_readings" in stdout
    assert "GRANT MODIFY ON KEYSPACE fleet_bench TO fleet_etl;" in stdout


def test_graceful_stop_sets_stop_on_the_first_signal_and_aborts_on_the_second() -> None:
    import signal

    from fleet.cli.context import graceful_stop

    before = signal.getsignal(signal.SIGTERM)
    with graceful_stop() as stop:
        os.kill(os.getpid(), signal.SIGTERM)  # what `systemctl stop` sends the ETL and probe
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is before


def test_secrets_on_stdin_override_the_environment_and_the_env_file(tmp_path: Path) -> None:
    """What playbooks pass instead of `environment:`: never on a command line or in the
    process environment, any character allowed."""
    env_file = tmp_path / "fleet.env"
    env_file.write_text("FLEET_USERNAME=from_file\nFLEET_PASSWORD=file\n", encoding="utf-8")
    secrets = json.dumps({"FLEET_USERNAME": "fleet_admin", "FLEET_PASSWORD": "p'a\"s#s=1"})
    result = CliRunner().invoke(
        cli,
        ["--env-file", str(env_file), "--secrets-stdin", "bench", "schema"],
        input=secrets,
        env={**ENV, "FLEET_KEYSPACE": "fleet_bench", "FLEET_USERNAME": "from_env"},
    )
    assert result.exit_code == 0, result.stderr
    assert "TO fleet_admin;" in result.stdout  # the role granted: stdin's user


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("FLEET_PASSWORD=x", "not a JSON object"),
        ('["FLEET_PASSWORD"]', "a JSON object of FLEET_* settings expected"),
        ('{"PASSWORD": "x"}', "'PASSWORD' must be a FLEET_* name"),
        ('{"FLEET_PASSWORD": 3}', "'FLEET_PASSWORD' must be a FLEET_* name with a string value"),
    ],
)
def test_bad_secrets_on_stdin_are_a_config_error(stdin: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["--secrets-stdin", "bench", "schema"], input=stdin, env=ENV)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "FLEET_PASSWORD=x" not in result.stderr  # a value is never echoed


def test_a_secrets_file_layers_a_services_credentials_over_the_env_file(tmp_path: Path) -> None:
    """What the drills pass: the ETL's root-only env file, never its values."""
    env_file = tmp_path / "fleet.env"
    env_file.write_text("FLEET_USERNAME=from_file\nFLEET_PASSWORD=file\n", encoding="utf-8")
    secrets = tmp_path / "etl.env"
    secrets.write_text("FLEET_USERNAME=fleet_etl\nFLEET_PASSWORD='p#s'\n", encoding="utf-8")
    args = ["--env-file", str(env_file), "--secrets-file", str(secrets), "bench", "schema"]
    result = CliRunner().invoke(cli, args, env={**ENV, "FLEET_USERNAME": "from_env"})
    assert result.exit_code == 0, result.stderr
    assert "TO fleet_etl;" in result.stdout
    # --secrets-stdin still wins over the file.
    stdin = json.dumps({"FLEET_USERNAME": "fleet_admin", "FLEET_PASSWORD": "x"})
    args = ["--secrets-file", str(secrets), "--secrets-stdin", "bench", "schema"]
    result = CliRunner().invoke(cli, args, input=stdin, env=ENV)
    assert "TO fleet_admin;" in result.stdout


def test_a_secrets_file_with_other_settings_is_refused(tmp_path: Path) -> None:
    secrets = tmp_path / "bad.env"
    secrets.write_text("PATH=/tmp\nFLEET_PASSWORD=x\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--secrets-file", str(secrets), "bench", "schema"], env=ENV)
    assert result.exit_code == 2 and "not FLEET_* settings: ['PATH']" in result.stderr
