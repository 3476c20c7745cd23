"""The backups' store and Medusa, checked on the hosts: S3Proxy serves HTTPS from the deployment's
CA to the nodes only, refuses unsigned requests, keeps its data on its own volume; every node has
Medusa pointed at it, can list the store's backups, and a timer that takes them. Then what the
side effect's restore drill (playbooks/drill_restore.yml) reported: the backup complete and
verified and recorded for the dashboard on every node, every partition back after the damage,
the RPO and RTO measured."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "lib"))

import cluster_checks as cc

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "plugins" / "filter"))

from fleet_calendar import fleet_calendar_max_gap

NODES = cc.hosts("cassandra")
APPS = cc.hosts("fleet_app")
STORE = cc.hosts("object_store")[0]
PORT = 9443
CA = "/etc/fleet-tls/ca.pem"
REPORTS = Path(os.environ.get("FLEET_REPORTS_DIR", "/nonexistent"))


def _report(prefix: str) -> dict[str, Any]:
    found = sorted(REPORTS.glob(f"{prefix}*.json"))
    assert found, f"no {prefix}*.json in {REPORTS}"
    assert found[-1].with_suffix(".md").read_text(encoding="utf-8").startswith("# ")
    return json.loads(found[-1].read_text(encoding="utf-8"))


def _store_url() -> str:
    return f"https://{cc.host_vars(STORE)['ansible_host']}:{PORT}"


def test_the_store_runs_as_its_own_hardened_service_on_its_own_volume():
    store = cc.get_host(STORE)
    service = store.service("s3proxy")
    assert service.is_running and service.is_enabled
    assert store.user("s3proxy").shell in ("/usr/sbin/nologin", "/bin/false")
    # The data directory is a mount of its own (the lab's podman volume), owned by the service.
    assert (
        store.run("findmnt --noheadings --target /var/lib/s3proxy -o TARGET").stdout.strip()
        == "/var/lib/s3proxy"
    )
    assert store.file("/var/lib/s3proxy/data").user == "s3proxy"
    properties = store.file("/etc/s3proxy/s3proxy.properties")
    assert (properties.user, properties.group, properties.mode) == ("root", "s3proxy", 0o640)
    # On the host's address only (Java lists it as an IPv4-mapped IPv6 address), not on every one.
    listening = store.check_output(f"ss -Htln 'sport = :{PORT}'").split()
    address = cc.host_vars(STORE)["ansible_host"]
    assert listening[3] in (f"{address}:{PORT}", f"[::ffff:{address}]:{PORT}"), listening


@pytest.mark.parametrize("node", NODES)
def test_nodes_reach_the_store_over_https_from_the_ca_and_unsigned_requests_are_refused(node):
    host = cc.get_host(node)
    # Checked against the deployment's CA, for the store's address; no credentials: 403.
    probe = (
        "import ssl, urllib.request, urllib.error\n"
        f"ctx = ssl.create_default_context(cafile='{CA}')\n"
        "try:\n"
        f"    urllib.request.urlopen('{_store_url()}/fleet-backups', context=ctx, timeout=10)\n"
        "    print(200)\n"
        "except urllib.error.HTTPError as e:\n"
        "    print(e.code)\n"
    )
    code = host.check_output(f"python3 -c {shlex.quote(probe)}")
    assert code == "403"


def test_app_hosts_cannot_reach_the_store():
    app = cc.get_host(APPS[0])
    result = app.run(f"timeout 4 bash -c '</dev/tcp/{cc.host_vars(STORE)['ansible_host']}/{PORT}'")
    assert result.rc != 0


@pytest.mark.parametrize("node", NODES)
def test_medusa_is_installed_its_settings_are_root_only_and_it_lists_the_store(node):
    host = cc.get_host(node)
    version = cc.role_default("medusa", "medusa_version")
    assert host.file("/opt/medusa/MEDUSA_VERSION").content_string.strip() == version
    for path in ("/etc/medusa/medusa.ini", "/etc/medusa/s3-credentials"):
        settings = host.file(path)
        assert (settings.user, settings.mode) == ("root", 0o600), path
    # Over HTTPS with certificate checks (ssl_verify), with the store's access key.
    listed = host.run("medusa list-backups --show-all")
    assert listed.rc == 0, listed.stderr
    assert "Traceback" not in listed.stderr


@pytest.mark.parametrize("node", NODES)
def test_scheduled_backups_have_a_timer_at_the_same_time_on_every_node(node):
    host = cc.get_host(node)
    timer = host.service("medusa-backup.timer")
    assert timer.is_running and timer.is_enabled
    calendar = host.check_output("systemctl show medusa-backup.timer -p TimersCalendar --value")
    first = cc.get_host(NODES[0]).check_output(
        "systemctl show medusa-backup.timer -p TimersCalendar --value"
    )
    assert calendar == first and "OnCalendar=" in calendar


def test_the_drill_backup_is_complete_and_verified_on_every_node():
    drill = _report("drill_restore-")
    backup = drill["backup_report"]
    assert backup["ok"] is True and backup["verified"] is True
    assert {n["node"] for n in backup["nodes"]} == set(NODES)
    # Each node also recorded it in backup_status for the dashboard (fleet-medusa record, at
    # LOCAL_QUORUM; the restore then took the table back to before that row, as documented).
    assert all(n["in_store"] == "complete" and n["recorded"] for n in backup["nodes"])
    assert backup["files"] > 0 and backup["bytes"] > 0
    assert backup["digest"]["tables"], "no digest recorded at backup time"


def test_the_restore_drill_brought_every_partition_back_and_measured_rpo_and_rto():
    drill = _report("drill_restore-")
    assert drill["ok"] is True
    # The damage was seen, then every partition of every table equals its backup-time digest.
    assert drill["damaged"]["equal"] is False and drill["damaged"]["difference_count"] > 0
    assert drill["restored"]["equal"] is True and drill["restored"]["difference_count"] == 0
    assert all(t["equal"] for t in drill["restored"]["tables"].values())
    restore = drill["restore_report"]
    assert restore["ok"] is True and {n["node"] for n in restore["nodes"]} == set(NODES)
    assert all(n["ok"] and n["restore_s"] > 0 and n["start_s"] > 0 for n in restore["nodes"])
    assert 0 < drill["rpo_s"] < drill["total_s"] and 0 < drill["rto_s"] < drill["total_s"]
    assert drill["dashboard"]["pages_ok"] is True and drill["etl_resumed"] is True


def test_the_drill_restore_put_the_dropped_table_back_in_the_schema():
    drill = _report("drill_restore-")
    dropped = drill["damage"].split("DROP TABLE ")[1]
    assert f"fleet_iot.{dropped}" in drill["restore_report"]["schema"]["back"]
    tables = cc.cql(cc.get_host(NODES[0]), "DESCRIBE TABLES").stdout
    assert dropped in tables


def test_the_dashboards_know_how_old_a_backup_may_be():
    """FLEET_BACKUP_MAX_AGE is the schedule's longest gap (systemd-analyze here, TZ=UTC) plus the
    grace (role medusa's default, an hour)."""
    variables = cc.host_vars(NODES[0])
    schedule = variables["medusa_backup_schedule"]
    if "{{" in schedule:  # the lab's: lab_backup_schedule, or its every 30 minutes
        schedule = variables.get("lab_backup_schedule", "*-*-* *:00,30:00")
    analyzed = subprocess.run(
        ["systemd-analyze", "calendar", "--iterations=8", schedule],
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = fleet_calendar_max_gap(analyzed) + cc.role_default("medusa", "medusa_backup_grace")
    for app in cc.hosts("fleet_dashboard"):
        env = cc.get_host(app).file("/etc/fleet/dashboard.env").content_string
        (line,) = [entry for entry in env.splitlines() if entry.startswith("FLEET_BACKUP_MAX_AGE=")]
        assert int(line.split("=", 1)[1]) == expected, (app, schedule)
