"""Metrics and alerts on the hosts (playbooks/monitoring.yml): the node exporter on every host,
the JMX exporter agent in every Cassandra node, Prometheus and Alertmanager on the monitoring host.
Prometheus is asked, on the monitoring host, what it scrapes and what it holds: every target the
inventory implies is up, the Cassandra series have plausible values after the ETL has written,
every alert rule is loaded and no "down" alert fires on the healthy cluster. The firewall lets
only the monitoring host scrape."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "lib"))

import cluster_checks as cc

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "roles" / "drill" / "filter_plugins"))

import drill_filters

NODES = cc.hosts("cassandra")
APPS = cc.hosts("fleet_app")
MONITORING = cc.hosts("monitoring")[0]
PLATFORM = sorted(set(NODES) | set(APPS) | set(cc.hosts("object_store")) | {MONITORING})
NODE_EXPORTER, AGENT, PROMETHEUS, ALERTMANAGER = 9100, 7070, 9090, 9093
ETL_METRICS = cc.role_default("fleet_etl", "fleet_etl_metrics_port")
DASHBOARD_METRICS = cc.role_default("fleet_dashboard", "fleet_dashboard_metrics_port")
APP_PYTHON = f"{cc.role_default('fleet_app', 'fleet_app_home')}/venv/bin/python"
KEYSPACE = cc.role_default("fleet_app", "fleet_app_keyspace")
REPORTS = Path(os.environ.get("FLEET_REPORTS_DIR", "/nonexistent"))
# Where the drills register their probe with Prometheus (plugins/filter/fleet_topology.py).
PROBE_TARGETS = cc.fleet_topology.PROBE_SD_DIR
DCS = sorted({cc.host_vars(n)["cassandra_dc"] for n in NODES})


def _get(host: Any, url: str) -> Any:
    """GET url from host (python3's urllib: the hosts have no curl), as JSON."""
    return json.loads(_text(host, url))


def _text(host: Any, url: str) -> str:
    probe = (
        f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=10).read().decode())"
    )
    return str(host.check_output(f"python3 -c {shlex.quote(probe)}"))


def _prometheus(path: str) -> Any:
    monitoring = cc.get_host(MONITORING)
    return _get(monitoring, f"http://{cc.address(monitoring)}:{PROMETHEUS}{path}")


def _query(expr: str) -> list[dict[str, Any]]:
    from urllib.parse import quote

    answer = _prometheus(f"/api/v1/query?query={quote(expr)}")
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def _by_instance(expr: str) -> dict[str, float]:
    return {row["metric"]["instance"]: float(row["value"][1]) for row in _query(expr)}


def _connects(source: str, target: str, port: int) -> bool:
    address = cc.address(cc.get_host(target))
    probe = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(({address!r}, {port}), timeout=3).close()\n"
        "    print('open')\n"
        "except OSError:\n"
        "    print('closed')\n"
    )
    return cc.get_host(source).check_output(f"python3 -c {shlex.quote(probe)}") == "open"


def test_the_services_run_on_their_hosts_addresses_only():
    monitoring = cc.get_host(MONITORING)
    for unit, port in (("prometheus", PROMETHEUS), ("prometheus-alertmanager", ALERTMANAGER)):
        service = monitoring.service(unit)
        assert service.is_running and service.is_enabled, unit
        listening = monitoring.check_output(f"ss -Htln 'sport = :{port}'").split()
        assert listening[3] == f"{cc.address(monitoring)}:{port}", listening
    for name in PLATFORM:
        host = cc.get_host(name)
        assert host.service("prometheus-node-exporter").is_running, name
        listening = host.check_output(f"ss -Htln 'sport = :{NODE_EXPORTER}'").split()
        assert listening[3] == f"{cc.address(host)}:{NODE_EXPORTER}", (name, listening)


def test_every_target_the_inventory_implies_is_scraped_and_up():
    expected = (
        {("node", h) for h in PLATFORM}
        | {("cassandra", h) for h in NODES}
        | {("prometheus", MONITORING), ("alertmanager", MONITORING)}
        | {(job, h) for h in APPS for job in ("fleet_etl", "fleet_dashboard")}
    )
    deadline = time.monotonic() + 90  # a target restarted by the side effect: a few scrapes
    while True:
        targets = _prometheus("/api/v1/targets?state=active")["data"]["activeTargets"]
        seen = {(t["labels"]["job"], t["labels"]["instance"]): t for t in targets}
        down = {key: t["lastError"] for key, t in seen.items() if t["health"] != "up"}
        if (set(seen) == expected and not down) or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert set(seen) == expected
    assert not down
    # Each app target carries the DC its app serves.
    for name in APPS:
        for job in ("fleet_etl", "fleet_dashboard"):
            assert seen[(job, name)]["labels"]["dc"] == cc.host_vars(name)["fleet_app_local_dc"]
    # Each node's target carries its DC and rack, as the inventory sets them.
    for name in NODES:
        labels = seen[("cassandra", name)]["labels"]
        settings = cc.host_vars(name)
        assert (labels["dc"], labels["rack"]) == (
            settings["cassandra_dc"],
            settings["cassandra_rack"],
        )


def test_the_cassandra_series_hold_plausible_values_after_the_etl_has_written():
    load = _by_instance('cassandra_storage_load_bytes{job="cassandra"}')
    assert sorted(load) == NODES and all(value > 0 for value in load.values()), load
    # Coordinated by the nodes of both DCs (each ETL writes through its own DC's nodes), counted
    # since each node's last restart (the side effect's upgrade restarted them all).
    writes = _by_instance('cassandra_client_requests_total{job="cassandra", operation="Write"}')
    assert sorted(writes) == NODES, writes
    for dc in DCS:
        assert sum(writes[n] for n in cc.hosts(dc)) > 0, (dc, writes)
    p99 = _by_instance(
        'cassandra_client_request_latency_seconds{operation="Write", quantile="0.99"}'
    )
    assert sorted(p99) == NODES and all(0 <= value < 10 for value in p99.values()), p99
    sstables = _query(f'cassandra_table_live_sstables{{keyspace="{KEYSPACE}"}}')
    assert {row["metric"]["instance"] for row in sstables} == set(NODES)
    assert not _query(
        'cassandra_table_live_sstables{keyspace=~"system.*"}'
    )  # left out by the rules
    heap = _by_instance('jvm_memory_used_bytes{job="cassandra", area="heap"}')
    heap_max = _by_instance('jvm_memory_max_bytes{job="cassandra", area="heap"}')
    assert sorted(heap) == NODES and all(0 < heap[n] <= heap_max[n] for n in NODES), (
        heap,
        heap_max,
    )
    memory = _by_instance('node_memory_MemTotal_bytes{job="node"}')
    assert sorted(memory) == PLATFORM


def test_the_apps_own_series_count_what_the_etl_writes():
    """The ETLs' counters move with what they write, their latency histogram counts the same
    requests, and the dashboards serve their fetch histogram and process metrics."""
    before = _by_instance("fleet_etl_records_written_total")
    assert sorted(before) == APPS and all(v > 0 for v in before.values()), before
    deadline = time.monotonic() + 60
    while True:  # two scrapes later, every ETL has written more
        after = _by_instance("fleet_etl_records_written_total")
        if all(after.get(h, 0) > before[h] for h in APPS) or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert all(after[h] > before[h] for h in APPS), (before, after)
    # The histogram counts the readings' write requests; the rollups' are requests too. One
    # expression: both counters of the same scrape.
    observed = _by_instance("fleet_etl_write_latency_seconds_count")
    assert all(observed[h] > 0 for h in APPS), observed
    unobserved = _by_instance(
        "fleet_etl_write_requests_total - fleet_etl_write_latency_seconds_count"
    )
    assert sorted(unobserved) == APPS and all(v >= 0 for v in unobserved.values()), unobserved
    p99 = _by_instance(
        "histogram_quantile(0.99, sum by (instance, le) "
        "(rate(fleet_etl_write_latency_seconds_bucket[5m])))"
    )
    assert sorted(p99) == APPS and all(0 < v < 10 for v in p99.values()), p99
    assert _by_instance("fleet_etl_connected") == dict.fromkeys(APPS, 1.0)
    assert not any(_by_instance("fleet_etl_records_dropped_total").values())
    dashboards = _by_instance('process_cpu_seconds_total{job="fleet_dashboard"}')
    assert sorted(dashboards) == APPS
    for name in APPS:  # the fetch histogram's family, served before any page is opened
        host = cc.get_host(name)
        metrics = _text(
            cc.get_host(MONITORING), f"http://{cc.address(host)}:{DASHBOARD_METRICS}/metrics"
        )
        assert "# TYPE fleet_dashboard_fetch_seconds histogram" in metrics, name


def test_the_maintenance_series_what_repairs_backups_and_certificates_left_on_the_hosts():
    """Every node's last repair of the app's keyspace (written by the repairs the scenario ran),
    the deadline the ETLs read from the live schema (Cassandra's default gc_grace: the telemetry
    tables are TTL-only), every platform host's certificate and CA expiry, in the future, and
    every node's last backup."""
    repaired = _by_instance(
        f'time() - fleet_repair_last_success_timestamp_seconds{{keyspace="{KEYSPACE}"}}'
    )
    assert all(0 <= repaired[n] < 86400 for n in NODES), repaired
    deadline = _by_instance(f'fleet_keyspace_repair_deadline_seconds{{keyspace="{KEYSPACE}"}}')
    assert deadline == dict.fromkeys(APPS, 864000.0), deadline
    assert not _query('ALERTS{alertname="CassandraRepairOverdue"}')
    days = _query("(fleet_certificate_expiry_timestamp_seconds - time()) / 86400")
    kinds = {(row["metric"]["instance"], row["metric"]["certificate"]) for row in days}
    assert {(host, kind) for host in PLATFORM for kind in ("host", "ca")} <= kinds
    assert all(float(row["value"][1]) > 30 for row in days), days
    hosts = [row["metric"] for row in days if row["metric"]["certificate"] == "host"]
    assert all(m["subject"] == f"CN={m['instance']}" for m in hosts), hosts
    # Every node's last finished backup (the restore drill's at least), younger than the most the
    # schedule allows, which the medusa role computed as the dashboard does.
    age = _by_instance("time() - fleet_backup_last_success_timestamp_seconds")
    allowed = _by_instance("fleet_backup_max_age_seconds")
    assert all(0 <= age[n] < allowed[n] for n in NODES), (age, allowed)
    assert all(v > 0 for v in _by_instance("fleet_backup_last_size_bytes").values())
    assert not _query('ALERTS{alertname=~"BackupTooOld|CertificateExpiresSoon"}')


def test_every_alert_rule_is_loaded_and_no_down_alert_fires_on_the_healthy_cluster():
    groups = _prometheus("/api/v1/rules")["data"]["groups"]
    loaded = {rule["name"] for group in groups for rule in group["rules"]}
    assert {
        "HostDown",
        "CassandraNodeDown",
        "CassandraDatacenterDown",
        "CassandraWriteLatencyHigh",
        "CassandraDroppedMutations",
        "DiskAlmostFull",
        "CassandraHeapPressure",
        "FleetServiceDown",
        "EtlStalled",
        "EtlWritesFailing",
        "CassandraRepairOverdue",
        "CertificateExpiresSoon",
        "BackupTooOld",
    } <= loaded
    assert all(rule["health"] == "ok" for group in groups for rule in group["rules"])
    firing = [
        a["labels"]
        for a in _prometheus("/api/v1/alerts")["data"]["alerts"]
        if a["state"] == "firing"
    ]
    assert not [a for a in firing if a["alertname"].endswith("Down")], firing
    # Prometheus sends to the monitoring host's Alertmanager, which runs the role's configuration.
    managers = _prometheus("/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    monitoring = cc.get_host(MONITORING)
    assert [m["url"] for m in managers] == [
        f"http://{cc.address(monitoring)}:{ALERTMANAGER}/api/v2/alerts"
    ]
    status = _get(monitoring, f"http://{cc.address(monitoring)}:{ALERTMANAGER}/api/v2/status")
    assert "CassandraDatacenterDown" in status["config"]["original"]  # the inhibition


def _probe_reports() -> list[tuple[str, dict[str, Any]]]:
    """The operations' reports whose probe Prometheus scraped (drills, upgrades, scale-outs)."""
    found = []
    for path in sorted(REPORTS.glob("*.json")):
        probe = json.loads(path.read_text(encoding="utf-8")).get("probe")
        if isinstance(probe, dict) and probe.get("metrics"):
            found.append((path.stem, probe))
    return found


def test_the_drill_probes_were_scraped_while_they_ran_then_unregistered():
    """Each probe the operations ran was a Prometheus target while it wrote (job fleet_probe,
    labelled with its run), gone once it stopped. What Prometheus last scraped never exceeds
    what the probe's own acks file counted; a failure window that ended two scrapes before the
    probe's last write shows in full (the fault's effect, per consistency level). A probe that
    wrote for less than two scrape intervals may have been missed and is not looked for."""
    active = _prometheus("/api/v1/targets?state=active")["data"]["activeTargets"]
    assert [t["labels"] for t in active if t["labels"]["job"] == "fleet_probe"] == []
    left = cc.get_host(MONITORING).check_output(f"ls -A {PROBE_TARGETS}")
    assert left == "", left
    scraped = {
        (r["metric"]["run_id"], r["metric"]["cl"], r["metric"]["outcome"]): float(r["value"][1])
        for r in _query(
            "max by (run_id, cl, outcome) (max_over_time(fleet_probe_writes_total[1d]))"
        )
    }
    reports = _probe_reports()
    assert reports, f"no report in {REPORTS} names its probe's metrics"
    scrape_s = max(drill_filters._duration_s(t["scrapeInterval"]) for t in active)
    for name, probe in reports:
        run_id = probe["metrics"]["labels"]["run_id"]
        assert probe["metrics"]["labels"]["instance"] in APPS, name
        if probe["last_write"] - probe["first_write"] < 2 * scrape_s:
            continue  # too short to be sure of a scrape
        for cl, level in probe["levels"].items():
            acked = scraped.get((run_id, cl, "acked"), 0.0)
            failed = scraped.get((run_id, cl, "failed"), 0.0)
            assert 0 < acked <= level["acked"], (name, cl, acked, level["acked"])
            assert failed <= level["failed"], (name, cl, failed, level["failed"])
            ends = [window["to"] for window in level["failure_windows"]]
            if ends and probe["last_write"] - max(ends) > 2 * scrape_s:
                assert failed == level["failed"], (name, cl, failed, level["failed"])


@pytest.mark.parametrize(
    ("target", "port"),
    [
        (NODES[0], NODE_EXPORTER),
        (NODES[0], AGENT),
        (APPS[0], NODE_EXPORTER),
        (APPS[0], ETL_METRICS),
        (APPS[0], DASHBOARD_METRICS),
    ],
)
def test_only_the_monitoring_host_may_scrape(target, port):
    assert _connects(MONITORING, target, port)
    source = APPS[1] if target == APPS[0] else APPS[0]
    assert not _connects(source, target, port)


# Run on an app host with the deployed app and its settings (the unit's two environment files):
# the Operations page as Streamlit renders it, summed up as JSON.
OPERATIONS_PAGE = """
import json, os
from pathlib import Path
from fleet.config import parse_env_file
for name in ("fleet.env", "dashboard.env"):
    os.environ.update(parse_env_file(Path("/etc/fleet") / name))
from streamlit.testing.v1 import AppTest
from fleet.dashboard.launch import APP
at = AppTest.from_file(str(APP), default_timeout=60)
at.run()
at.switch_page("views/operations.py").run()
charts = {}
for chart in at.get("plotly_chart"):
    spec = json.loads(chart.proto.spec)
    charts[spec["layout"]["title"]["text"]] = sorted(t.get("name", "") for t in spec["data"])
tables = [df.value for df in at.dataframe]
reports = [t for t in tables if "verdict" in t.columns]
print(json.dumps({
    "problems": [e.value for e in at.error] + [e.message for e in at.exception]
                + [w.value for w in at.warning],
    "charts": charts,
    "reports": reports[0][["report", "verdict"]].to_dict("records") if reports else [],
}))
"""


@pytest.mark.parametrize("app", APPS)
def test_the_operations_page_plots_from_prometheus_and_lists_the_reports(app):
    """The deployed dashboard's Operations page: the ETLs' write latency (and every other panel
    with data) from Prometheus, per node and DC, and the operations' reports the playbooks
    copied to this host, each with its verdict."""
    host = cc.get_host(app)
    page = json.loads(
        host.check_output(
            f"{APP_PYTHON} -c {shlex.quote(OPERATIONS_PAGE)} 2>/dev/null"
        ).splitlines()[-1]
    )
    assert page["problems"] == []
    etl = [f"{h} · {cc.host_vars(h)['fleet_app_local_dc']}" for h in APPS]
    assert page["charts"]["ETL write latency, p99"] == etl
    assert page["charts"]["ETL readings written"] == etl
    # every node of the inventory (a spare the scale check added and removed within the window
    # may be plotted too)
    nodes = {f"{n} · {cc.host_vars(n)['cassandra_dc']}" for n in NODES}
    assert nodes <= set(page["charts"]["Coordinator write latency, p99"])
    assert nodes <= set(page["charts"]["Heap in use"])
    copied = set(host.check_output("ls /var/lib/fleet-reports").split())
    listed = {row["report"] for row in page["reports"]}
    assert listed == {name.removesuffix(".json") for name in copied if name.endswith(".json")}
    assert all(row["verdict"] in ("passed", "FAILED") for row in page["reports"]), page["reports"]
