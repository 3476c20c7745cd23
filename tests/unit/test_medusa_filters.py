"""Medusa's output as the backup playbooks read it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "filter"))

import medusa_filters as mf

LISTING = """\
scheduled-20261205-0200 (started: 2026-12-05 02:00:00, finished: 2026-12-05 02:00:41)
manual-20261205T040000Z (started: 2026-12-05 04:00:02, finished: Incomplete [3 of 4 nodes finished])

Incomplete backups found. You can run "medusa status --backup-name <name>" for more details
"""


def test_complete_and_incomplete_backups_are_read_in_order():
    got = mf.medusa_backup_list(LISTING)
    assert [b["name"] for b in got] == ["scheduled-20261205-0200", "manual-20261205T040000Z"]
    assert got[0] == {
        "name": "scheduled-20261205-0200",
        "started": "2026-12-05 02:00:00",
        "finished": "2026-12-05 02:00:41",
        "complete": True,
        "nodes_finished": None,
        "nodes_total": None,
    }
    assert got[1]["complete"] is False and (got[1]["nodes_finished"], got[1]["nodes_total"]) == (
        3,
        4,
    )


def test_no_backup_and_log_lines_give_an_empty_list():
    assert mf.medusa_backup_list("[2026-12-05 04:00:00,000] INFO: Using credentials ...\n") == []


def test_an_unknown_line_is_an_error_not_a_silent_skip():
    with pytest.raises(AnsibleFilterError, match="unexpected line"):
        mf.medusa_backup_list("backup-1 started yesterday\n")


STATUS = {
    "nodes": [
        {"fqdn": "10.0.0.11", "finished": 1.0, "size": 2048, "num_objects": 40},
        {"fqdn": "10.0.0.21", "finished": 2.0, "size": 1024, "num_objects": 30},
    ],
    "incomplete_nodes_list": [{"fqdn": "10.0.0.12", "finished": None, "size": 0, "num_objects": 0}],
}


def test_each_run_gets_what_the_store_holds_of_its_node():
    runs = [
        {"node": "cass-dc1-1", "fqdn": "10.0.0.11", "ok": True, "seconds": 12.5},
        {"node": "cass-dc2-1", "fqdn": "10.0.0.21", "ok": True, "seconds": 10.0},
        {"node": "cass-dc1-2", "fqdn": "10.0.0.12", "ok": False, "seconds": 3.0},
        {"node": "cass-dc2-2", "fqdn": "10.0.0.22", "ok": False, "seconds": 1.0},
    ]
    got = {n["node"]: n for n in mf.medusa_backup_nodes(runs, STATUS)}
    assert (got["cass-dc1-1"]["files"], got["cass-dc1-1"]["bytes"]) == (40, 2048)
    assert got["cass-dc1-1"]["in_store"] == "complete" and got["cass-dc1-1"]["seconds"] == 12.5
    assert got["cass-dc2-1"]["bytes"] == 1024
    assert got["cass-dc1-2"]["in_store"] == "incomplete"
    assert got["cass-dc2-2"]["in_store"] == "missing" and got["cass-dc2-2"]["files"] == 0


def test_no_status_leaves_every_node_missing():
    got = mf.medusa_backup_nodes([{"node": "a", "fqdn": "10.0.0.1", "ok": True}], None)
    assert got == [
        {"node": "a", "fqdn": "10.0.0.1", "ok": True, "files": 0, "bytes": 0, "in_store": "missing"}
    ]


def _node(dc: str, rack: str, tokens: list[int], finished: float | None = 1.0) -> dict:
    return {"dc": dc, "rack": rack, "tokens": [str(t) for t in tokens], "finished": finished}


BACKUP = {
    "found": True,
    "nodes": {
        "10.0.0.11": _node("dc1", "rack1", [-9, 3]),
        "10.0.0.12": _node("dc1", "rack1", [-5, 7]),
        "10.0.0.21": _node("dc2", "rack1", [-8, 4]),
    },
}


def _live(nodes: dict) -> dict:
    return {"nodes": {a: {k: v for k, v in n.items() if k != "finished"} for a, n in nodes.items()}}


def test_the_same_cluster_has_no_difference_whatever_the_token_order():
    live = _live(BACKUP["nodes"])
    live["nodes"]["10.0.0.11"]["tokens"] = ["3", "-9"]
    assert mf.medusa_topology_diff(BACKUP, live) == []


def test_every_difference_is_listed():
    live = _live(BACKUP["nodes"])
    del live["nodes"]["10.0.0.12"]
    live["nodes"]["10.0.0.13"] = {"dc": "dc1", "rack": "rack1", "tokens": ["-5", "7"]}
    live["nodes"]["10.0.0.21"] = {"dc": "dc3", "rack": "rack2", "tokens": ["-8", "5"]}
    live["nodes"]["10.0.0.22"] = {"dc": "dc2", "rack": "rack1", "tokens": ["1"]}
    got = mf.medusa_topology_diff(BACKUP, live)
    assert got == [
        "the backup has 3 nodes, the cluster 4",
        "10.0.0.12 is in the backup but not in the cluster",
        "10.0.0.13 is in the cluster but not in the backup",
        "10.0.0.22 is in the cluster but not in the backup",
        "10.0.0.21: dc dc2 in the backup, dc3 now",
        "10.0.0.21: rack rack1 in the backup, rack2 now",
        "10.0.0.21: tokens differ (2 in the backup, 2 now, 2 not in both)",
    ]


def test_an_unfinished_node_backup_and_a_missing_backup_are_differences():
    backup = {"found": True, "nodes": dict(BACKUP["nodes"])}
    backup["nodes"]["10.0.0.12"] = _node("dc1", "rack1", [-5, 7], finished=None)
    assert mf.medusa_topology_diff(backup, _live(BACKUP["nodes"])) == [
        "10.0.0.12: its backup did not finish"
    ]
    assert mf.medusa_topology_diff({"found": False, "nodes": {}}, _live(BACKUP["nodes"])) == [
        "the store holds no backup of that name (`medusa list-backups` on a node lists them)"
    ]


@given(
    st.dictionaries(
        st.ip_addresses(v=4).map(str),
        st.tuples(
            st.sampled_from(["dc1", "dc2"]),
            st.sampled_from(["rack1", "rack2"]),
            st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=8, unique=True),
        ),
        max_size=6,
    ),
    st.randoms(use_true_random=False),
)
def test_a_cluster_is_always_its_own_backup_and_any_token_move_is_seen(nodes, rnd):
    backup = {"found": True, "nodes": {a: _node(dc, rack, t) for a, (dc, rack, t) in nodes.items()}}
    live = _live(backup["nodes"])
    for node in live["nodes"].values():
        rnd.shuffle(node["tokens"])
    assert mf.medusa_topology_diff(backup, live) == []
    if nodes:
        address = rnd.choice(sorted(nodes))
        live["nodes"][address]["tokens"] = [*live["nodes"][address]["tokens"][1:], "42"]
        expected_same = sorted(backup["nodes"][address]["tokens"], key=int) == sorted(
            live["nodes"][address]["tokens"], key=int
        )
        assert (mf.medusa_topology_diff(backup, live) == []) == expected_same


def test_the_schema_diff_lists_tables_a_restore_brings_back_and_removes():
    backup = {"tables": ["fleet_iot.a", "fleet_iot.b", "system.local", "system_auth.roles"]}
    live = {"tables": ["fleet_iot.a", "fleet_iot.c", "system.local", "system_views.x"]}
    assert mf.medusa_schema_diff(backup, live) == {"back": ["fleet_iot.b"], "gone": ["fleet_iot.c"]}
    assert mf.medusa_schema_diff(backup, backup) == {"back": [], "gone": []}
