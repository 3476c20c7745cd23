"""The app hosts: ETL and dashboard as hardened systemd services, writing and serving real data.

Shared by the app scenario (its verifier's directory) and multi_dc (additional_files_or_dirs):
hosts, DCs and fleets come from the scenario's inventory."""

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
def test_unit_is_active_enabled_and_runs_as_its_own_user(host, unit):
    service = host.service(unit)
    assert service.is_running
    assert service.is_enabled
    pid = host.check_output(f"systemctl show -p MainPID --value {unit}")
    assert host.check_output(f"ps -o user= -p {pid}") == unit  # fleet-etl, fleet-dashboard


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
    shared = host.file("/etc/fleet/fleet.env")  # no secret in it
    assert (shared.user, shared.group, shared.mode) == ("root", "fleet", 0o640)
    for name in ("etl.env", "dashboard.env"):  # read by systemd only
        f = host.file(f"/etc/fleet/{name}")
        assert (f.user, f.group, f.mode) == ("root", "root", 0o600)
    variables = host.ansible.get_variables()
    dc, fleets_by_dc = variables["fleet_app_local_dc"], variables["fleet_app_fleets_by_dc"]
    settings = host.file("/etc/fleet/fleet.env").content_string
    assert f"FLEET_LOCAL_DC={dc}" in settings
    # every dashboard shows every fleet, in DC order; each ETL ingests its own DC's share
    every_fleet = [fleet for fleets in fleets_by_dc.values() for fleet in fleets]
    assert f"FLEET_FLEETS={','.join(every_fleet)}" in settings
    assert f"FLEET_INGEST_FLEETS={','.join(fleets_by_dc[dc])}" in settings
    assert not host.file("/etc/fleet/failover.env").exists  # failed back after the DC drill


@pytest.mark.parametrize("dc", cc.topology()["dcs"])
def test_each_etls_fleet_is_written_now_and_read_in_every_dc(host, dc):
    fleet = _settings(host)["FLEET_INGEST_FLEETS"]
    reader = cc.get_host(cc.topology()["dcs"][dc][0])
    now_ms = int(reader.check_output("date +%s%3N"))
    out = cc.cql(
        reader,
        "CONSISTENCY LOCAL_QUORUM; SELECT toUnixTimestamp(last_ts) FROM "
        f"fleet_iot.latest_position_by_fleet WHERE fleet_id = '{fleet}';",
    )
    assert out.rc == 0, out.stderr
    stamps = [int(line.strip()) for line in out.stdout.splitlines() if line.strip().isdigit()]
    assert stamps, out.stdout
    assert now_ms - max(stamps) < 60_000


def test_dashboards_list_every_app_host(host):
    hosts = _settings(host, "dashboard.env")["FLEET_APP_HOSTS"].split(",")
    expected = [
        f"{name}@{cc.host_vars(name)['fleet_app_local_dc']}=https://{cc.host_vars(name)['ansible_host']}:443/"
        for name in cc.hosts("fleet_dashboard")
    ]
    assert expected and hosts == expected


def test_etl_stats_show_a_connection_to_every_node_of_its_dc(host):
    stats = json.loads(host.file("/var/lib/fleet-etl/stats.json").content_string)
    local = [n for n in stats["nodes"] if n["dc"] == stats["local_dc"]]
    expected = len(cc.topology()["dcs"][stats["local_dc"]])
    assert len(local) == expected and all(n["up"] and n["connections"] > 0 for n in local), local
    assert stats["spool"]["pending_records"] == 0 and stats["dropped"] == 0


def _settings(host, name: str = "fleet.env") -> dict[str, str]:
    lines = host.file(f"/etc/fleet/{name}").content_string.splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


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


def test_spool_keeps_what_the_etl_cannot_write_through_a_kill_and_replays_it(host):
    """The ETL's DC made unreachable from its host (TCP resets on 9042): readings go to the
    spool; a kill -9 then loses none of them (the new process starts without Cassandra and keeps
    spooling); once reachable again the spool is replayed and every reading generated meanwhile
    is in every DC (`fleet etl verify` on the ETL's ledger)."""
    if host.backend.get_hostname() != cc.hosts("fleet_etl")[-1]:
        pytest.skip("run once, on the last ETL host")
    env = _settings(host)
    nodes = ", ".join(env["FLEET_CONTACT_POINTS"].split(","))
    since = host.check_output("date -u +%Y-%m-%dT%H:%M:%SZ")
    block = (
        "table inet fleet_test {\n  chain output {\n    type filter hook output priority 0;\n"
        f"    ip daddr {{ {nodes} }} tcp dport 9042 reject with tcp reset\n  }}\n}}\n"
    )
    host.run_expect([0], f"nft -f - <<'EOF'\n{block}EOF")
    try:
        stats = _wait(host, lambda s: (s["spool"] or {}).get("pending_records", 0) > 0)
        time.sleep(10)  # the writes in flight at the cut fail and join the spool
        pid = host.check_output("systemctl show -p MainPID --value fleet-etl")
        held = _stats(host)["spool"]["pending_records"]
        host.run_expect([0], f"kill -9 {pid}")
        stats = _wait(
            host,
            lambda s: s["connected"] is False and s["spool"]["pending_records"] >= held,
            what="the restarted ETL spooling without a connection",
        )
        assert stats["connect_error"], stats
    finally:
        host.run("nft delete table inet fleet_test")
    stats = _wait(
        host,
        lambda s: s["connected"] and s["spool"]["pending_records"] == 0 and s["replayed"] > 0,
        what="the spool replayed",
    )
    assert stats["dropped"] == 0
    time.sleep(25)  # the readings of verify's window are all written by then
    until = host.check_output("date -u -d '-20 seconds' +%Y-%m-%dT%H:%M:%SZ")
    dcs = " ".join(f"--dc {dc}" for dc in cc.topology()["dcs"])
    verify = host.run(
        "set -a; . /etc/fleet/fleet.env; . /etc/fleet/etl.env; set +a; "
        "fleet etl verify --ledger-dir /var/lib/fleet-etl/ledger "
        f"--since {since} --until {until} {dcs} --json"
    )
    report = json.loads(verify.stdout)
    assert verify.rc == 0 and report["lost_total"] == 0, report
    assert report["generated"] > 0


def _stats(host) -> dict:
    return json.loads(host.file("/var/lib/fleet-etl/stats.json").content_string)


def _wait(host, ready, what: str = "the spool holding readings", seconds: int = 120) -> dict:
    stats: dict = {}
    for _ in range(seconds):
        try:
            stats = _stats(host)
        except ValueError:  # rewritten at this very moment
            time.sleep(1)
            continue
        if ready(stats):
            return stats
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}: {stats}")
