"""The day-2 operations run by the side effect (side_effect.yml): their reports, read from
$FLEET_REPORTS_DIR on the controller. The playbooks already fail on a failed gate; these tests
check what each report claims, so a playbook that forgot to check something is caught too."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "lib"))

import cluster_checks as cc

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "roles" / "drill" / "filter_plugins"))

from drill_filters import UNAVAILABLE_ERRORS as UNAVAILABLE

REPORTS = Path(os.environ.get("FLEET_REPORTS_DIR", "/nonexistent"))
# The scenario's hosts, from its inventory: nodes and their DCs in inventory order, the ETL hosts
# by DC and the fleets each DC ingests.
NODES = cc.hosts("cassandra")
DC_OF = {node: cc.host_vars(node)["cassandra_dc"] for node in NODES}
DCS = list(dict.fromkeys(DC_OF.values()))
ETLS = {cc.host_vars(host)["fleet_app_local_dc"]: host for host in cc.hosts("fleet_etl")}
FLEETS_BY_DC = cc.host_vars(cc.hosts("fleet_etl")[0])["fleet_app_fleets_by_dc"]
# The DC drills stop the first app host's DC (drill_target_dc's default).
LOST_DC = cc.host_vars(cc.hosts("fleet_app")[0])["fleet_app_local_dc"]
(SURVIVING_DC,) = [dc for dc in DCS if dc != LOST_DC]


# Side-effect steps left out of this run (ANSIBLE_SKIP_TAGS: `make test` leaves some out for time,
# see the Makefile's MULTI_DC_SKIP): their reports are not looked for.
SKIPPED = set(filter(None, os.environ.get("ANSIBLE_SKIP_TAGS", "").split(",")))


def _ran(tag: str) -> Any:
    return pytest.mark.skipif(tag in SKIPPED, reason=f"side-effect step {tag} skipped in this run")


def _report(prefix: str) -> dict[str, Any]:
    found = sorted(REPORTS.glob(f"{prefix}*.json"))
    assert found, f"no {prefix}*.json in {REPORTS}"
    markdown = found[-1].with_suffix(".md")
    assert markdown.is_file() and markdown.read_text(encoding="utf-8").startswith("# ")
    return json.loads(found[-1].read_text(encoding="utf-8"))


@_ran("rolling_restart")
def test_rolling_restart_restarted_every_node_dc_by_dc_without_etl_failures():
    report = _report("rolling-restart-")
    assert report["ok"] is True
    nodes = report["nodes"]
    assert {n["node"] for n in nodes} == set(NODES)
    assert [n["dc"] for n in nodes] == [DC_OF[node] for node in NODES]  # DC by DC
    for node in nodes:  # every node went through drain -> restart -> gates, each phase timed
        assert float(node["drain_s"]) > 0 and float(node["ready_s"]) > 0, node
    assert report["etl"]["records_written"] > 0
    assert report["etl"]["records_failed"] == 0


def test_certificates_and_ca_rotated_on_every_node_without_restart_or_etl_failure():
    report = _report("rotate-certificates-")
    assert report["ok"] is True
    ca = report["ca"]
    assert ca["rotated"] is True and ca["before"]["issuer"] != ca["after"]["issuer"]
    nodes = report["nodes"]
    assert {n["node"] for n in nodes} == set(NODES)
    for node in nodes:  # both ports serve a new serial from the new CA, from the same process
        assert node["serial_before"] != node["serial_after"], node
        assert node["issuer_before"] == ca["before"]["issuer"], node
        assert node["issuer_after"] == ca["after"]["issuer"], node
        assert node["restarted"] is False
    assert report["etl"]["records_written"] > 0
    assert report["etl"]["records_failed"] == 0 and report["etl"]["spooled"] == 0


@_ran("repair")
def test_repair_repaired_every_node_primary_range():
    report = _report("repair-")
    assert report["ok"] is True and report["mode"] == "full"
    assert {n["node"] for n in report["nodes"]} == set(NODES)
    for node in report["nodes"]:
        assert "repair -full -pr" in node["command"]
        assert node["sessions"] > 0 and "finished" in node["summary"]


@pytest.mark.parametrize(
    ("prefix", "survive", "refuse"),
    [
        # A dc1 node is destroyed and replaced: RF 2 per DC, so dc1 has one replica left.
        ("drill-node-destroy-", {"LOCAL_ONE", "QUORUM"}, {"LOCAL_QUORUM", "EACH_QUORUM"}),
        # dc1 stopped, probed from dc2: dc2 has both its replicas, but 2 of 4 is no quorum.
        ("drill-dc-stop-", {"LOCAL_ONE", "LOCAL_QUORUM"}, {"QUORUM", "EACH_QUORUM"}),
    ],
)
def test_drill_lost_no_acknowledged_write(prefix, survive, refuse):
    report = _report(prefix)
    assert report["ok"] is True, [c for c in report["checks"] if not c["ok"]]
    probe = report["probe"]
    assert probe["lost_total"] == 0
    assert set(probe["datacenters"]) == set(DCS)
    expected = report["expected_to_survive"]
    assert {lv for lv, ok in expected.items() if ok} == survive
    assert {lv for lv, ok in expected.items() if not ok} == refuse
    for level in refuse:  # the fault was real: those levels were refused while it lasted
        assert probe["levels"][level]["failed"] > 0
    for level in survive:
        assert "Unavailable" not in probe["levels"][level]["errors"]
    for dc, levels in probe["read_back"].items():
        for level, row in levels.items():
            assert row["lost"] == 0, (dc, level, row)
    # Every reading every ETL generated is in both DCs, and the dashboard answered.
    assert report["rpo_readings_lost"] == 0
    assert {e["host"] for e in report["etls"]} == set(ETLS.values())
    for etl in report["etls"]:
        assert etl["generated"] > 0 and etl["lost"] == 0 and etl["dropped"] == 0, etl
        assert etl["spool_pending_after"] == 0, etl
    assert report["dashboard"]["during"]["pages_ok"] is True
    recovery = report["recovery"]
    assert recovery["restore_to_up_normal_s"] is not None
    assert recovery["restore_to_hints_delivered_s"] is not None


def test_the_destroyed_node_was_replaced_with_its_tokens_and_repaired():
    """The node drill's destroy fault brings the node back through replace_node.yml: the node it
    targets (the last of the first app host's DC), its tokens and host ID kept, a new bootstrap,
    its primary ranges repaired, no ETL write failed meanwhile."""
    drill = _report("drill-node-destroy-")
    report = _report("replace-node-")
    assert report["ok"] is True
    assert [report["node"]] == drill["targets"] == [cc.hosts(LOST_DC)[-1]]
    assert report["seed"] is False and len(report["dead"]["tokens"]) > 0
    assert report["host_id"] == report["dead"]["host_id"]
    assert float(report["joined_s"]) > 0 and float(report["restart_s"]) > 0
    assert report["repair"]["sessions"] > 0 and "finished" in report["repair"]["summary"]
    assert report["etl"]["records_written"] > 0
    assert report["etl"]["records_failed"] == 0 and report["etl"]["spooled"] == 0
    events = [e["event"] for e in drill["timeline"]]
    assert events.index("fault injected (destroy)") < events.index(
        "replaced and repaired (replace_node.yml)"
    )


def test_the_destroyed_node_raised_its_down_alert_in_time():
    """While the node was down, Alertmanager listed CassandraNodeDown for it within the bound the
    running Prometheus implies (the rule's for, an evaluation, a failed scrape, 5 s); the DC
    drill (every node of dc1 stopped) waited for CassandraDatacenterDown the same way."""
    alert = _report("drill-node-destroy-")["alert"]
    assert alert["name"] == "CassandraNodeDown"
    assert float(alert["for_s"]) > 0
    assert alert["seconds"] is not None and float(alert["for_s"]) < float(
        alert["seconds"]
    ) <= float(alert["bound_s"])
    dc_alert = _report("drill-dc-stop-")["alert"]
    assert dc_alert["name"] == "CassandraDatacenterDown"
    assert dc_alert["seconds"] is not None and float(dc_alert["seconds"]) <= float(
        dc_alert["bound_s"]
    )


def _owns_rf_times_100_in_every_dc(ownership: dict[str, dict[str, float]]) -> None:
    """A lifecycle report's ownership ({keyspace: {dc: %}}, checked by the playbook against the
    replication the cluster holds): every DC of the scenario owns each app keyspace a whole
    number of times (its replication factor), at least once."""
    assert ownership, "no ownership in the report"
    for keyspace, per_dc in ownership.items():
        assert sorted(per_dc) == sorted(DCS), keyspace
        for dc, percent in per_dc.items():
            times = round(percent / 100)
            assert times >= 1 and abs(percent - 100 * times) <= 0.5, (keyspace, dc)


def test_the_replacement_left_every_dc_owning_its_replicas():
    _owns_rf_times_100_in_every_dc(_report("replace-node-")["ownership"])


def test_a_spare_node_was_added_and_decommissioned_under_load_losing_nothing():
    """scale_check.yml: the spare joins the first app host's DC (add_node.yml), the DC's other
    nodes are cleaned up one at a time, the spare leaves (decommission_node.yml); decommissioning
    it again and adding it again (its host held a node) are refused; site.yml runs without it;
    while the spare was in the ring, restoring a backup taken without it was refused (another
    topology); meanwhile the probe wrote at every level, no write was refused as unavailable
    (every node stayed up; a timeout of a starved CPU is reported, not judged, as in the drills)
    and nothing acknowledged was lost."""
    scale = _report("scale-")
    add, gone = _report("add-node-"), _report("decommission-node-")
    assert scale["ok"] is True
    assert [(step["step"], step["ok"]) for step in scale["steps"]] == [
        ("create the spare host (lab_up.yml)", True),
        ("add_node.yml", True),
        ("site.yml with the spare changes nothing", True),
        ("restore.yml of a backup without the spare (refused)", True),
        ("decommission_node.yml", True),
        ("decommission_node.yml again (refused)", True),
        ("add_node.yml again (refused)", True),
        ("site.yml without the spare", True),
    ]
    refused = [step["rc"] != 0 for step in scale["steps"]]
    assert refused == [False] * 3 + [True, False] + [True] * 2 + [False]
    assert add["node"] == gone["node"] == scale["spare"] not in NODES
    assert scale["started_at"] <= add["started_at"] <= gone["started_at"]
    assert add["ok"] is True and gone["ok"] is True and gone["failure"] is None
    assert add["dc"] == gone["dc"] == LOST_DC
    assert float(add["bootstrap"]["seconds"]) > 0 and int(add["bootstrap"]["load_bytes"]) > 0
    assert sorted(c["node"] for c in add["cleanups"]) == sorted(cc.hosts(LOST_DC))
    assert all(float(c["seconds"]) > 0 for c in add["cleanups"])
    assert sorted(gone["remaining"]) == sorted(NODES)
    assert float(gone["stream_s"]) > 0
    for report in (add, gone):
        _owns_rf_times_100_in_every_dc(report["ownership"])
        assert report["etl"]["records_written"] > 0
        assert report["etl"]["records_failed"] == 0
    probe = scale["probe"]
    assert probe["lost_total"] == 0
    assert sorted(probe["datacenters"]) == sorted(DCS)
    assert scale["probe_refused"] == 0
    for level, outcome in probe["levels"].items():
        refused = {k: v for k, v in (outcome["errors"] or {}).items() if k in UNAVAILABLE}
        assert outcome["acked"] > 0 and not refused, (level, outcome["errors"])


def test_dc_drill_failed_the_lost_dcs_fleets_over_and_back():
    lost_etl, surviving_etl = ETLS[LOST_DC], ETLS[SURVIVING_DC]
    lost_fleets, surviving_fleets = FLEETS_BY_DC[LOST_DC], FLEETS_BY_DC[SURVIVING_DC]
    all_fleets = sorted(lost_fleets + surviving_fleets)
    report = _report("drill-dc-stop-")
    assert report["target_dcs"] == [LOST_DC]
    etls = {e["host"]: e for e in report["etls"]}
    # The lost DC's ETL could not write: what it generated waited in its spool and was replayed.
    assert etls[lost_etl]["spooled"] > 0
    assert etls[lost_etl]["replayed"] >= etls[lost_etl]["spooled"]
    # The surviving DC's ETL took the lost DC's fleets over; RTO measured from the fault.
    assert [h["host"] for h in report["failover"]] == [surviving_etl]
    assert sorted(report["failover"][0]["ingest"]) == all_fleets
    assert 0 < report["rto_s"] < 300
    assert report["dashboard"]["during"]["host"] == surviving_etl
    assert sorted(report["dashboard"]["during"]["fleets"]) == all_fleets
    # The surviving DC's dashboard answered every page of every fleet in every round of the outage
    pages = report["pages"]
    assert pages["fleets"] == all_fleets
    assert pages["rounds_during_fault"] > 0 and pages["failed_during_fault"] == 0
    failover = _report(f"failover-{LOST_DC}-")
    assert failover["moved"] == lost_fleets
    failback = _report("failback-")
    assert failback["restored_dcs"] == [LOST_DC]
    assert {r["node"] for r in failback["repairs"]} == {n for n in NODES if DC_OF[n] == LOST_DC}
    ingest = {h["host"]: h["ingest"] for h in failback["hosts"]}
    assert ingest == {lost_etl: lost_fleets, surviving_etl: surviving_fleets}


def test_aborted_drill_removed_its_fault_before_failing():
    """aborted_drill.yml: the fault's gate failed; the run still restored the node and stopped."""
    report = _report("drill-aborted-")
    assert report["ok"] is False
    assert report["abort"]["step"] == "probe and fault"
    assert "expected nodes down" in report["abort"]["task"]
    events = [e["event"] for e in report["events"]]
    order = ["fault injected (kill)", "fault removed", "affected nodes UN", "hints delivered"]
    assert [e for e in events if e in order] == order, events
    assert not any(e.startswith("fault seen") for e in events)


def _reports(prefix: str) -> list[dict[str, Any]]:
    return [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(REPORTS.glob(f"{prefix}*.json"))
    ]


def _probe_lost_nothing_and_survivors_refused_nothing(report: dict[str, Any]) -> None:
    probe = report["probe"]
    assert probe["lost_total"] == 0
    assert sorted(probe["datacenters"]) == sorted(DCS)
    for level, outcome in probe["levels"].items():
        assert outcome["acked"] > 0, level
        if report["expected_to_survive"][level]:  # one node of the app's DC down at a time
            refused = {k: v for k, v in (outcome["errors"] or {}).items() if k in UNAVAILABLE}
            assert not refused, (level, outcome["errors"])
    assert report["etl"]["records_written"] > 0
    assert report["etl"]["records_failed"] == 0


def test_the_cluster_was_upgraded_under_load_after_a_canary_and_its_rollback():
    """upgrade_check.yml: a canary (the first node of the app's DC) moved to the new release,
    site.yml refused the mixed cluster, the rollback brought the canary back, the whole upgrade
    moved every node DC by DC (the app's DC first) and site.yml at the new release changed nothing.
    Every switch passed its gates; the probe lost nothing; the SSTable format was checked."""
    check = _report("upgrade-check-")
    assert check["ok"] is True
    assert [(step["step"], step["ok"]) for step in check["steps"]] == [
        ("upgrade.yml, canary only", True),
        ("site.yml with the inventory's release (refused)", True),
        ("rollback_upgrade.yml", True),
        ("upgrade.yml", True),
        ("site.yml at the new release changes nothing", True),
    ]
    assert [step["rc"] != 0 for step in check["steps"]] == [False, True, False, False, False]
    source, target = check["from"], check["to"]
    upgrades = [r for r in _reports("upgrade-2") if r["started_at"] >= check["started_at"]]
    (rollback,) = [r for r in _reports("rollback-") if r["started_at"] >= check["started_at"]]
    assert len(upgrades) == 2
    canary, full = upgrades
    app_dc_nodes = [node for node in NODES if DC_OF[node] == LOST_DC]
    # The canary: one node of the app's DC, then the way back.
    assert canary["canary_only"] is True and canary["ok"] is True
    assert canary["order"] == app_dc_nodes[:1] and len(canary["nodes"]) == 1
    assert canary["sstables"] == {}
    assert rollback["ok"] is True and (rollback["from"], rollback["to"]) == (target, source)
    assert rollback["order"] == canary["order"]
    assert set(rollback["releases_after"].values()) == {source}
    # The whole upgrade: every node, the app's DC first, each gated.
    assert full["ok"] is True and (full["from"], full["to"]) == (source, target)
    assert sorted(full["order"]) == sorted(NODES)
    assert [DC_OF[node] for node in full["order"]][: len(app_dc_nodes)] == [LOST_DC] * len(
        app_dc_nodes
    )
    assert set(full["releases_after"].values()) == {target}
    for node in full["nodes"] + canary["nodes"] + rollback["nodes"]:
        assert node["ok"] is True and node["log_errors"] == [], node
        assert float(node["drain_s"]) > 0 and float(node["ready_s"]) > 0, node
    assert full["snapshot"] == f"pre-upgrade-{target}"
    # The format did not change between these patch releases: checked on every node, skipped.
    assert sorted(full["sstables"]) == sorted(NODES)
    for node, sstables in full["sstables"].items():
        assert sstables["current"] and sstables["stale"] == 0 and sstables["rewritten"] is False, (
            node
        )
    for report in (canary, rollback, full):
        _probe_lost_nothing_and_survivors_refused_nothing(report)
