"""The day-2 operations run by the side effect (side_effect.yml): their reports, read from
$FLEET_REPORTS_DIR on the controller. The playbooks already fail on a failed gate; these tests
check what each report claims, so a playbook that forgot to check something is caught too."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPORTS = Path(os.environ.get("FLEET_REPORTS_DIR", "/nonexistent"))
NODES = {"mdc-dc1-1", "mdc-dc1-2", "mdc-dc2-1", "mdc-dc2-2"}


def _report(prefix: str) -> dict[str, Any]:
    found = sorted(REPORTS.glob(f"{prefix}*.json"))
    assert found, f"no {prefix}*.json in {REPORTS}"
    markdown = found[-1].with_suffix(".md")
    assert markdown.is_file() and markdown.read_text(encoding="utf-8").startswith("# ")
    return json.loads(found[-1].read_text(encoding="utf-8"))


def test_rolling_restart_restarted_every_node_dc_by_dc_without_etl_failures():
    report = _report("rolling-restart-")
    assert report["ok"] is True
    nodes = report["nodes"]
    assert {n["node"] for n in nodes} == NODES
    assert [n["dc"] for n in nodes] == ["dc1", "dc1", "dc2", "dc2"]
    for node in nodes:  # every node went through drain -> restart -> gates, each phase timed
        assert float(node["drain_s"]) > 0 and float(node["ready_s"]) > 0, node
    assert report["etl"]["records_written"] > 0
    assert report["etl"]["records_failed"] == 0


def test_repair_repaired_every_node_primary_range():
    report = _report("repair-")
    assert report["ok"] is True and report["mode"] == "full"
    assert {n["node"] for n in report["nodes"]} == NODES
    for node in report["nodes"]:
        assert "repair -full -pr" in node["command"]
        assert node["sessions"] > 0 and "finished" in node["summary"]


@pytest.mark.parametrize(
    ("prefix", "survive", "refuse"),
    [
        # A dc1 node crashes: RF 2 per DC, so dc1 has one replica left.
        ("drill-node-kill-", {"LOCAL_ONE", "QUORUM"}, {"LOCAL_QUORUM", "EACH_QUORUM"}),
        # dc2 cut off: dc1 still has both its replicas, but 2 of 4 is no quorum.
        ("drill-dc-partition-", {"LOCAL_ONE", "LOCAL_QUORUM"}, {"QUORUM", "EACH_QUORUM"}),
    ],
)
def test_drill_lost_no_acknowledged_write(prefix, survive, refuse):
    report = _report(prefix)
    assert report["ok"] is True, [c for c in report["checks"] if not c["ok"]]
    probe = report["probe"]
    assert probe["lost_total"] == 0
    assert set(probe["datacenters"]) == {"dc1", "dc2"}
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
    # The ETL kept writing through the fault with no failed write, and the dashboard answered.
    assert report["etl"]["records_written"] > 0 and report["etl"]["records_failed"] == 0
    assert report["dashboard"]["during"]["pages_ok"] is True
    recovery = report["recovery"]
    assert recovery["restore_to_up_normal_s"] is not None
    assert recovery["restore_to_hints_delivered_s"] is not None
