"""The app host: ETL and dashboard as hardened systemd services, writing and serving real data."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "lib"))

import cluster_checks as cc

testinfra_hosts = cc.hosts("fleet_app")

UNITS = ("fleet-etl", "fleet-dashboard")
ENV = "set -a; . /etc/fleet/fleet.env; . /etc/fleet/dashboard.env; set +a"


@pytest.mark.parametrize("unit", UNITS)
def test_unit_is_active_enabled_and_runs_as_fleet(host, unit):
    service = host.service(unit)
    assert service.is_running
    assert service.is_enabled
    pid = host.check_output(f"systemctl show -p MainPID --value {unit}")
    assert host.check_output(f"ps -o user= -p {pid}") == "fleet"


@pytest.mark.parametrize("unit", UNITS)
def test_unit_is_hardened(host, unit):
    props = host.check_output(
        f"systemctl show {unit} -p NoNewPrivileges -p ProtectSystem -p ProtectHome -p PrivateTmp"
    )
    assert dict(line.split("=", 1) for line in props.splitlines()) == {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
    }


def test_settings_and_secrets_are_private(host):
    for name in ("fleet.env", "etl.env", "dashboard.env"):
        f = host.file(f"/etc/fleet/{name}")
        assert (f.user, f.group, f.mode) == ("root", "fleet", 0o640)
    assert "FLEET_LOCAL_DC=dc1" in host.file("/etc/fleet/fleet.env").content_string


def test_rows_written_in_the_last_minute_are_read_in_dc2():
    reader = cc.testinfra.get_host(
        f"ansible://{cc.hosts('dc2')[0]}", ansible_inventory=cc.inventory()
    )
    now_ms = int(reader.check_output("date +%s%3N"))
    out = cc.cql(
        reader,
        "CONSISTENCY LOCAL_QUORUM; SELECT toUnixTimestamp(last_ts) FROM "
        "fleet_iot.latest_position_by_fleet WHERE fleet_id = 'FLEET_PARIS';",
    )
    assert out.rc == 0, out.stderr
    stamps = [int(line.strip()) for line in out.stdout.splitlines() if line.strip().isdigit()]
    assert stamps, out.stdout
    assert now_ms - max(stamps) < 60_000


def test_dashboard_health_answers_ok(host):
    body = host.check_output(
        'python3 -c "import urllib.request;'
        "print(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health').read().decode())\""
    )
    assert body == "ok"


def test_realtime_page_renders_the_fleet(host):
    script = (
        "import json; from pathlib import Path; import fleet.dashboard as d; "
        "from streamlit.testing.v1 import AppTest; "
        "app = str(Path(d.__file__).parent / 'app.py'); "
        "at = AppTest.from_file(app, default_timeout=90).run(); "
        "assert not at.exception, at.exception; "
        "print(json.dumps({m.label: str(m.value) for m in at.metric}))"
    )
    out = host.run(f'{ENV}; cd /tmp && /opt/fleet/venv/bin/python -c "{script}"')
    assert out.rc == 0, out.stderr
    metrics = json.loads(out.stdout.strip().splitlines()[-1])
    assert int(metrics["Active devices"].split()[0]) > 0


def test_stopped_etl_finishes_its_writes_and_exits_cleanly(host):
    """`systemctl stop` sends SIGTERM: the ETL stops reading, drains, recomputes its rollups."""
    since = host.check_output("date '+%Y-%m-%d %H:%M:%S'")
    host.run_expect([0], "systemctl stop fleet-etl")
    show = "systemctl show -p Result -p ExecMainStatus --value fleet-etl"
    assert host.check_output(show).split() == ["success", "0"]
    journal = host.check_output(f"journalctl -u fleet-etl --since '{since}' -o cat")
    assert "stopping: finishing in-flight writes" in journal
    assert " 0 failed" in journal, journal
    stats = json.loads(host.file("/var/lib/fleet-etl/stats.json").content_string)
    assert stats["records_written"] == stats["records_submitted"] > 0
    assert stats["in_flight"] == 0
    host.run_expect([0], "systemctl start fleet-etl")
    assert host.service("fleet-etl").is_running


def test_killed_etl_is_restarted_by_systemd(host):
    before = host.check_output("systemctl show -p MainPID --value fleet-etl")
    host.run_expect([0], f"kill -9 {before}")
    for _ in range(60):
        after = host.check_output("systemctl show -p MainPID --value fleet-etl")
        if after not in ("0", before) and host.service("fleet-etl").is_running:
            break
        time.sleep(1)
    assert after not in ("0", before)
    assert host.check_output("systemctl show -p NRestarts --value fleet-etl") != "0"
