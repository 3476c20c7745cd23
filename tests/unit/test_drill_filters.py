"""The drills' pure logic: which levels survive a fault, counters, env files, the report."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "roles" / "drill" / "filter_plugins"))
sys.path.insert(0, str(ROOT / "plugins" / "filter"))

import drill_filters as df
from fleet_etl_stats import fleet_etl_counter_delta

LEVELS = ["ANY", "ONE", "LOCAL_ONE", "LOCAL_QUORUM", "QUORUM", "EACH_QUORUM", "ALL"]
RF = {"dc1": 2, "dc2": 2}


def _survivors(down: dict[str, int], local: str = "dc1") -> list[str]:
    expected = df.drill_expected_levels(LEVELS, RF, down, local)
    return [level for level, ok in expected.items() if ok]


def test_one_node_down_in_the_local_dc() -> None:
    # RF 2 in dc1: LOCAL_QUORUM needs both local replicas; QUORUM needs 3 of 4.
    assert _survivors({"dc1": 1}) == ["ANY", "ONE", "LOCAL_ONE", "QUORUM"]


def test_one_node_down_in_the_remote_dc() -> None:
    assert _survivors({"dc2": 1}) == ["ANY", "ONE", "LOCAL_ONE", "LOCAL_QUORUM", "QUORUM"]


def test_remote_dc_down_or_partitioned() -> None:
    assert _survivors({"dc2": 2}) == ["ANY", "ONE", "LOCAL_ONE", "LOCAL_QUORUM"]
    # More nodes down than replicas count as every replica down, never negative.
    assert _survivors({"dc2": 5}) == ["ANY", "ONE", "LOCAL_ONE", "LOCAL_QUORUM"]


def test_nothing_down_everything_survives_and_unknown_levels_are_refused() -> None:
    assert _survivors({}) == LEVELS
    try:
        df.drill_expected_levels(["SERIAL"], RF, {}, "dc1")
    except ValueError as exc:
        assert "SERIAL" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("SERIAL accepted")


def _etl(host: str, dc: str, spooled: int = 0, failed: int = 0, lost: int = 0) -> dict:
    """An ETL host's view in a drill of dc1: app-1 (dc1) could not write and spooled."""
    before = {"records_written": 100, "spooled": 0, "replayed": 0}
    seen = {"records_written": 110, "spooled": spooled // 2}
    after = {
        "records_written": 900,
        "records_failed": failed,
        "spooled": spooled,
        "replayed": spooled,
        "dropped": 0,
        "spool": {"pending_records": 0},
    }
    return {  # as playbooks/includes/drill.yml builds it from role fleet_etl's snapshots
        "host": host,
        "dc": dc,
        "levels": ["LOCAL_QUORUM", "LOCAL_ONE"],
        "delta": fleet_etl_counter_delta(after, before),
        "during": fleet_etl_counter_delta(seen, before),
        "after": after,
        "verify": {
            "generated": 800,
            "lost_total": lost,
            "read_back": {"dc1": {"missing": lost}, "dc2": {"missing": 0}},
        },
    }


def _data(
    lost: int = 0, quorum_failed: int = 12, etl_failed: int = 0, readings_lost: int = 0
) -> dict:
    def level(failed: int) -> dict:
        return {"attempted": 100, "acked": 100 - failed, "failed": failed, "errors": {}}

    events = [
        ("probe writing", 100.0),
        ("fault injected (stop)", 110.0),
        ("fault seen by every surviving node", 112.5),
        ("failover done", 131.0),
        ("dashboard answered during the fault", 133.0),
        ("fault removed", 140.0),
        ("affected nodes UN", 175.0),
        ("hints delivered", 180.0),
        ("failback done", 215.0),
    ]
    return {
        "plan": {
            "scope": "dc",
            "run_id": "r",
            "fault": "stop",
            "targets": ["n1", "n2"],
            "target_dcs": ["dc1"],
            "down": {"dc1": 2},
            "failover": True,
            "moved_fleets": ["FLEET_PARIS"],
        },
        "events": [{"event": e, "t": t} for e, t in events],
        "expected": {"LOCAL_QUORUM": True, "QUORUM": False},
        "replication": {"dc1": 2, "dc2": 2},
        "etls": [
            _etl("app-1", "dc1", spooled=40, lost=readings_lost),
            _etl("app-2", "dc2", failed=etl_failed),
        ],
        "failover": [
            {
                "host": "app-2",
                "written": {
                    "FLEET_LYON": {"first_at": 129.0},
                    "FLEET_PARIS": {"first_at": 130.2},
                },
            }
        ],
        "dashboard": {"during": {"health": "ok", "pages_ok": True, "slowest_p95_ms": 40.0}},
        # the watching dashboard's probe: both fleets every 10 s, from before the fault to after
        "pages": [
            {"t": t, "fleet": fleet, "ok": True, "ms": 80.0, "failed": {}}
            for t in range(105, 200, 10)
            for fleet in ("FLEET_PARIS", "FLEET_LYON")
        ],
        "probe": {
            "lost_total": lost,
            "datacenters": ["dc1", "dc2"],
            "levels": {"LOCAL_QUORUM": level(0), "QUORUM": level(quorum_failed)},
        },
    }


def test_report_passes_and_measures_recovery() -> None:
    report = df.drill_build_report(_data())
    assert report["ok"], report["checks"]
    assert report["drill"] == "dc_outage"
    assert report["recovery"] == {
        "fault_seen_s": 2.5,
        "failover_done_s": 21.0,
        "dashboard_answered_s": 5.0,  # its first round after the fault
        "fault_duration_s": 30.0,
        "restore_to_up_normal_s": 35.0,
        "restore_to_hints_delivered_s": 40.0,
        "repair_s": None,
        "failback_s": 35.0,
    }
    assert report["timeline"][1]["offset_s"] == 10.0
    assert report["rto_s"] == 20.2  # FLEET_PARIS written by app-2 20.2 s after the fault
    assert report["rpo_readings_lost"] == 0
    app1, app2 = report["etls"]
    assert (app1["expected_to_survive"], app2["expected_to_survive"]) == (False, True)
    assert (app1["spooled"], app1["replayed"], app1["records_written"]) == (40, 40, 800)
    assert app1["spooled_until_fault_seen"] == 20


def test_report_fails_on_a_lost_write_an_etl_failure_or_a_fault_with_no_effect() -> None:
    def failed(**kwargs: int) -> list[str]:
        report = df.drill_build_report(_data(**kwargs))
        assert not report["ok"]
        return [c["check"] for c in report["checks"] if not c["ok"]]

    assert failed(lost=1) == ["no acknowledged probe write lost"]
    assert failed(etl_failed=3) == ["app-2: its ETL lost no write"]
    assert failed(readings_lost=2) == ["app-1: every reading its ETL generated is in every DC"]
    assert failed(quorum_failed=0) == ["QUORUM refused writes during the fault"]


def test_no_rto_when_no_survivor_took_the_fleets_over() -> None:
    data = _data()
    data["failover"][0]["written"].pop("FLEET_PARIS")
    report = df.drill_build_report(data)
    assert report["rto_s"] is None and not report["ok"]


def test_timeouts_at_a_surviving_level_are_reported_not_judged() -> None:
    data = _data()
    data["probe"]["levels"]["LOCAL_QUORUM"] = {
        "attempted": 100,
        "acked": 98,
        "failed": 2,
        "errors": {"WriteTimeout": 2},
    }
    report = df.drill_build_report(data)
    assert report["ok"]
    check = next(c for c in report["checks"] if c["check"] == "LOCAL_QUORUM survived the fault")
    assert check["detail"].startswith("0 refused as unavailable, 2 failed in all of 100")
    data["probe"]["levels"]["LOCAL_QUORUM"]["errors"] = {"Unavailable": 2}
    assert not df.drill_build_report(data)["ok"]


def test_report_can_record_without_enforcing_level_expectations() -> None:
    data = {**_data(quorum_failed=0), "fail_on_unexpected": False}
    report = df.drill_build_report(data)
    assert report["ok"]
    unmet = [c for c in report["checks"] if not c["passed"]]
    assert [c["check"] for c in unmet] == ["QUORUM refused writes during the fault"]


def test_under_a_partition_the_cut_off_dcs_etl_writes_on_its_side() -> None:
    data = _data()
    data["plan"]["fault"] = "partition"
    for etl in data["etls"]:  # nobody spooled: each side wrote to its own DC
        etl["delta"]["spooled"] = etl["delta"]["replayed"] = 0
    app1 = df.drill_build_report(data)["etls"][0]
    assert app1["host"] == "app-1" and app1["expected_to_survive"] is True
    data["etls"][0]["delta"]["spooled"] = 3  # app-1 could not write to its own DC: a failure
    failed = [c["check"] for c in df.drill_build_report(data)["checks"] if not c["ok"]]
    assert failed == ["app-1: its ETL lost no write"]


def test_the_watching_dashboard_must_answer_every_round_of_the_fault() -> None:
    data = _data()
    report = df.drill_build_report(data)
    pages = report["pages"]
    assert (pages["rounds"], pages["rounds_during_fault"], pages["failed_during_fault"]) == (
        10,
        7,
        0,
    )
    assert pages["fleets"] == ["FLEET_LYON", "FLEET_PARIS"]
    data["pages"][5] = {**data["pages"][5], "ok": False, "failed": {"realtime": "NoHostAvailable"}}
    report = df.drill_build_report(data)  # t=125, FLEET_LYON: inside the fault
    failed = [c["check"] for c in report["checks"] if not c["ok"]]
    assert failed == ["the watching dashboard served every fleet throughout the fault"]
    assert report["pages"]["errors"] == ["NoHostAvailable"]


def test_only_unavailable_refusals_count_not_timeouts() -> None:
    levels = {
        "LOCAL_QUORUM": {"failed": 2, "errors": {"WriteTimeout": 1, "Unavailable": 1}},
        "QUORUM": {"failed": 1, "errors": {"NoHostAvailable": 1}},
        "LOCAL_ONE": {"failed": 0, "errors": {}},
        "EACH_QUORUM": {"failed": 1, "errors": None},
    }
    assert df.drill_probe_refused(levels) == {
        "LOCAL_QUORUM": 1,
        "QUORUM": 1,
        "LOCAL_ONE": 0,
        "EACH_QUORUM": 0,
    }
    assert df.drill_probe_refused({"LOCAL_QUORUM": {"errors": {"WriteTimeout": 3}}}) == {
        "LOCAL_QUORUM": 0
    }


# The fault's alert (tasks/alert.yml): its bound from the running Prometheus, the report's check.
RULES = {
    "data": {
        "groups": [
            {
                "name": "fleet-hosts",
                "interval": 15,
                "rules": [{"name": "CassandraNodeDown", "type": "recording"}],
            },
            {
                "name": "fleet-availability",
                "interval": 15,
                "rules": [{"name": "CassandraNodeDown", "type": "alerting", "duration": 60}],
            },
        ]
    }
}
TARGETS = {
    "data": {
        "activeTargets": [
            {"labels": {"job": "cassandra"}, "scrapeInterval": "15s", "scrapeTimeout": "10s"},
            {"labels": {"job": "cassandra"}, "scrapeInterval": "1m30s", "scrapeTimeout": "500ms"},
            {"labels": {"job": "node"}, "scrapeInterval": "5m", "scrapeTimeout": "10s"},
        ]
    }
}


def test_the_alerts_bound_is_its_for_an_evaluation_and_the_slowest_failed_scrape() -> None:
    # 60 s for + 15 s evaluation + (90 s + 0.5 s) scrape + 5 s; the node job is not the nodes'
    assert df.drill_alert_bound(RULES, TARGETS, "CassandraNodeDown", "cassandra") == {
        "for_s": 60.0,
        "bound_s": 170.5,
    }
    with pytest.raises(ValueError, match="no alerting rule 'NodeGone'"):
        df.drill_alert_bound(RULES, TARGETS, "NodeGone", "cassandra")
    with pytest.raises(ValueError, match="no 'fleet_etl' target"):
        df.drill_alert_bound(RULES, TARGETS, "CassandraNodeDown", "fleet_etl")
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        df._duration_s("15x")


@pytest.mark.parametrize(("seconds", "ok"), [(72.4, True), (96.0, False), (None, False)])
def test_the_report_judges_when_alertmanager_listed_the_alert(seconds, ok) -> None:
    alert = {
        "name": "CassandraNodeDown",
        "seconds": seconds,
        "bound_s": 95.0,
        "for_s": 60.0,
        "waited_s": 150.0,
    }
    report = df.drill_build_report({**_data(), "alert": alert})
    check = next(
        c for c in report["checks"] if c["check"] == "Alertmanager listed CassandraNodeDown in time"
    )
    assert check["ok"] is ok and report["ok"] is ok
    assert report["alert"] == alert
    assert ("not listed within 150.0 s" in check["detail"]) is (seconds is None)
    assert "alert" not in [c["check"] for c in df.drill_build_report(_data())["checks"]]


def test_the_alerts_delay_is_when_prometheus_fired_it_for_every_target() -> None:
    fault = 1796510400.0  # 2026-12-05T22:40:00Z
    alerts = [
        {
            "labels": {"alertname": "CassandraNodeDown", "instance": "n1"},
            "startsAt": "2026-12-05T22:41:12.5Z",
        },
        {
            "labels": {"alertname": "CassandraNodeDown", "instance": "n2"},
            "startsAt": "2026-12-05T22:41:20.123456789Z",
        },
        {"labels": {"alertname": "HostDown", "instance": "n3"}, "startsAt": "2026-12-05T22:40:01Z"},
    ]
    assert df.drill_alert_seconds(alerts, "CassandraNodeDown", "instance", ["n1"], fault) == 72.5
    # every target's alert, the last one counts; until then none
    assert (
        df.drill_alert_seconds(alerts, "CassandraNodeDown", "instance", ["n1", "n2"], fault) == 80.1
    )
    assert (
        df.drill_alert_seconds(alerts, "CassandraNodeDown", "instance", ["n1", "n3"], fault) is None
    )
    assert df.drill_alert_seconds([], "CassandraNodeDown", "instance", ["n1"], fault) is None
    offset = [{**alerts[0], "startsAt": "2026-12-05T23:41:12+01:00"}]
    assert df.drill_alert_seconds(offset, "CassandraNodeDown", "instance", ["n1"], fault) == 72.0
    with pytest.raises(ValueError, match="not an RFC 3339 time"):
        df.drill_alert_seconds(
            [{**alerts[0], "startsAt": "yesterday"}], "CassandraNodeDown", "instance", ["n1"], 0
        )
