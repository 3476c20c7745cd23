"""The decisions of the release upgrade and its rollback (playbooks/upgrade.yml,
playbooks/rollback_upgrade.yml), on `nodetool describecluster` output captured from the lab
(tests/unit/captured/nodetool-describecluster-5.0.8.txt) and on data file names as Cassandra 4.1
and 5.0 write them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "plugins" / "filter"))

import cassandra_upgrade as up

DESCRIBE = (HERE / "captured" / "nodetool-describecluster-5.0.8.txt").read_text()
NODES = ["cass-dc1-1", "cass-dc1-2", "cass-dc2-1", "cass-dc2-2"]
ADDRESSES = ["10.213.10.11", "10.213.10.12", "10.213.10.21", "10.213.10.22"]
TOPOLOGY = [
    {"node": "cass-dc1-1", "dc": "dc1", "rack": "rack1"},
    {"node": "cass-dc1-2", "dc": "dc1", "rack": "rack2"},
    {"node": "cass-dc2-1", "dc": "dc2", "rack": "rack1"},
    {"node": "cass-dc2-2", "dc": "dc2", "rack": "rack2"},
]


def record(source: str = "5.0.8", target: str = "5.0.9", **more: object) -> dict[str, object]:
    return {
        "from": source,
        "to": target,
        "snapshot": f"pre-upgrade-{target}",
        "formats_before": ["oa-big"],
        "sstables_upgraded": False,
    } | more


# -- what gossip says every node runs ------------------------------------------------------------


def test_release_versions_read_from_a_captured_describecluster():
    versions = up.cassandra_release_versions(DESCRIBE)
    assert list(versions) == ["5.0.8"] and sorted(versions["5.0.8"]) == ADDRESSES


def test_release_versions_of_a_mixed_cluster_drop_the_ports():
    text = DESCRIBE.replace(
        "5.0.8: [10.213.10.12:7000, 10.213.10.11:7000, 10.213.10.21:7000, 10.213.10.22:7000]",
        "5.0.8: [10.213.10.12:7000, 10.213.10.21:7000, 10.213.10.22:7000]\n"
        "\t5.0.9: [10.213.10.11:7000]",
    )
    assert up.cassandra_release_versions(text) == {"5.0.8": ADDRESSES[1:], "5.0.9": ADDRESSES[:1]}


def test_release_versions_without_the_block_are_empty():
    assert up.cassandra_release_versions("Cluster Information:\n\tName: fleet\n") == {}


def test_release_of_an_install_directory():
    assert up.cassandra_release_of_home("/opt/apache-cassandra-5.0.8") == "5.0.8"
    assert up.cassandra_release_of_home("/opt/apache-cassandra-5.0.9/") == "5.0.9"
    assert up.cassandra_release_of_home("/opt/cassandra") == ""
    assert up.cassandra_release_of_home(None) == ""


# -- the upgrade's plan --------------------------------------------------------------------------


def test_a_fresh_upgrade_moves_every_node():
    plan = up.cassandra_upgrade_plan(dict.fromkeys(NODES, "5.0.8"), "5.0.9")
    assert plan == {"from": "5.0.8", "to": "5.0.9", "todo": NODES, "done": [], "problems": []}


def test_after_a_canary_the_upgrade_goes_on_from_the_recorded_release():
    active = dict.fromkeys(NODES, "5.0.8") | {"cass-dc1-1": "5.0.9"}
    plan = up.cassandra_upgrade_plan(active, "5.0.9", {n: record() for n in NODES})
    assert plan["problems"] == []
    assert plan["from"] == "5.0.8" and plan["todo"] == NODES[1:] and plan["done"] == NODES[:1]


def test_a_node_on_the_target_without_a_record_is_refused():
    active = dict.fromkeys(NODES, "5.0.8") | {"cass-dc1-1": "5.0.9"}
    plan = up.cassandra_upgrade_plan(active, "5.0.9", {})
    assert plan["problems"] == [
        "cass-dc1-1 already run 5.0.9 but no upgrade to 5.0.9 is recorded on "
        "cass-dc1-1, cass-dc1-2, cass-dc2-1, cass-dc2-2: a release changed outside upgrade.yml"
    ]


def test_a_cluster_on_the_target_has_nothing_to_do():
    plan = up.cassandra_upgrade_plan(
        dict.fromkeys(NODES, "5.0.9"), "5.0.9", {n: record() for n in NODES}
    )
    assert plan == {"from": "5.0.8", "to": "5.0.9", "todo": [], "done": NODES, "problems": []}


@pytest.mark.parametrize(
    ("active", "target", "message"),
    [
        (
            dict.fromkeys(NODES, "5.0.9"),
            "5.0.8",
            "5.0.8 is older than 5.0.9, which the cluster runs",
        ),
        (dict.fromkeys(NODES, "4.1.9"), "5.0.9", "4.1.9 -> 5.0.9 changes the release series"),
        (
            dict.fromkeys(NODES, "5.0.7") | {"cass-dc2-2": "5.0.8"},
            "5.0.9",
            "several releases besides the target",
        ),
        (
            dict.fromkeys(NODES, "5.0.8") | {"cass-dc2-2": ""},
            "5.0.9",
            "no installed release found on cass-dc2-2",
        ),
        (dict.fromkeys(NODES, "5.0.8"), "latest", "'latest' is not a release"),
    ],
)
def test_refusals_of_the_upgrade(active, target, message):
    problems = up.cassandra_upgrade_plan(active, target)["problems"]
    assert any(message in problem for problem in problems), problems


# -- what every view says ------------------------------------------------------------------------


def view(address: str, release: str = "5.0.8", **more: object) -> dict[str, object]:
    return {
        "address": address,
        "active": release,
        "releases": {release: ADDRESSES},
        "streaming": False,
        "free_bytes": 10 << 30,
        "load_bytes": 1 << 20,
    } | more


def test_agreeing_views_let_the_switch_go():
    views = {n: view(a) for n, a in zip(NODES, ADDRESSES, strict=True)}
    assert up.cassandra_release_view_problems(views) == []


def test_a_node_running_another_release_than_its_link_is_refused():
    views = {n: view(a) for n, a in zip(NODES, ADDRESSES, strict=True)}
    views["cass-dc2-2"] = view(ADDRESSES[3], "5.0.9", releases={"5.0.8": ADDRESSES})
    problems = up.cassandra_release_view_problems(views)
    assert "cass-dc1-1 sees cass-dc2-2 on 5.0.8, but cass-dc2-2 points at 5.0.9" in problems
    assert "cass-dc2-2 sees cass-dc2-2 on 5.0.8, but cass-dc2-2 points at 5.0.9" in problems


def test_streaming_and_a_full_disk_are_refused_and_space_only_for_a_snapshot():
    views = {n: view(a) for n, a in zip(NODES, ADDRESSES, strict=True)}
    views["cass-dc1-2"] = view(ADDRESSES[1], streaming=True, free_bytes=512 << 10)
    problems = up.cassandra_release_view_problems(views)
    assert problems == [
        "streaming in progress on cass-dc1-2",
        "cass-dc1-2 has 512.0 KiB free, less than its 1.0 MiB of data: the snapshot taken "
        "before the switch keeps the files that compactions replace",
    ]
    assert up.cassandra_release_view_problems(views, snapshot=False) == problems[:1]


# -- the order -----------------------------------------------------------------------------------


def test_the_apps_dc_goes_first_rack_by_rack_and_a_canary_is_its_first_node():
    assert up.cassandra_switch_order(TOPOLOGY, "dc2", NODES) == [
        "cass-dc2-1",
        "cass-dc2-2",
        "cass-dc1-1",
        "cass-dc1-2",
    ]
    assert up.cassandra_switch_order(TOPOLOGY, "dc1", NODES, canary_only=True) == ["cass-dc1-1"]
    assert up.cassandra_switch_order(TOPOLOGY, "dc1", NODES[1:], canary_only=True) == ["cass-dc1-2"]
    assert up.cassandra_switch_order(TOPOLOGY, "dc1", []) == []


@given(st.permutations(TOPOLOGY), st.sampled_from(["dc1", "dc2"]), st.sets(st.sampled_from(NODES)))
def test_the_order_holds_each_node_to_do_once_the_first_dc_first(topology, first_dc, todo):
    order = up.cassandra_switch_order(topology, first_dc, sorted(todo))
    assert sorted(order) == sorted(todo)
    dcs = [next(n["dc"] for n in TOPOLOGY if n["node"] == node) for node in order]
    assert dcs == sorted(dcs, key=lambda dc: dc != first_dc)


# -- SSTable formats -----------------------------------------------------------------------------

DATA = "/var/lib/cassandra/data"
FILES = [
    f"{DATA}/fleet_iot/readings-1b2c/oa-3gzq_0h1c_1lq4w2pkc0x4pr3nyt-big-Data.db",
    f"{DATA}/fleet_iot/readings-1b2c/oa-3gzq_0h1d_0v9s02pkc0x4pr3nyt-big-Data.db",
    f"{DATA}/system/local-7ad5/nb-12-big-Data.db",
    f"{DATA}/system/peers_v2-c4325/da-1-bti-Data.db",
    f"{DATA}/fleet_iot/readings-1b2c/snapshots/pre-upgrade-5.0.9/nb-3-big-Data.db",
    f"{DATA}/fleet_iot/readings-1b2c/backups/nb-4-big-Data.db",
    f"{DATA}/fleet_iot/readings-1b2c/oa-3gzq_0h1c_1lq4w2pkc0x4pr3nyt-big-Index.db",
]


def test_formats_count_live_data_files_only():
    assert up.cassandra_sstable_formats(FILES) == {"da-bti": 1, "nb-big": 1, "oa-big": 2}
    assert up.cassandra_sstable_formats([]) == {}


# -- the rollback's plan -------------------------------------------------------------------------


def test_a_canary_rolls_back():
    active = dict.fromkeys(NODES, "5.0.8") | {"cass-dc1-1": "5.0.9"}
    plan = up.cassandra_rollback_plan(
        {n: record() for n in NODES}, active, {n: {"oa-big": 7} for n in NODES}
    )
    assert plan == {
        "from": "5.0.9",
        "to": "5.0.8",
        "todo": ["cass-dc1-1"],
        "snapshot": "pre-upgrade-5.0.9",
        "problems": [],
    }


def test_nothing_recorded_nothing_to_roll_back():
    plan = up.cassandra_rollback_plan(dict.fromkeys(NODES), dict.fromkeys(NODES, "5.0.9"))
    assert plan["problems"] == ["no upgrade is recorded on any node: nothing to roll back"]
    assert plan["todo"] == []


def test_a_rollback_after_upgradesstables_is_refused_with_the_snapshot_path():
    states = {n: record() for n in NODES} | {"cass-dc2-1": record(sstables_upgraded=True)}
    plan = up.cassandra_rollback_plan(states, dict.fromkeys(NODES, "5.0.9"))
    assert plan["problems"] == [
        "nodetool upgradesstables rewrote the SSTables of cass-dc2-1 in the format of 5.0.9, "
        "which 5.0.8 cannot read: only the snapshot 'pre-upgrade-5.0.9' taken before the "
        "upgrade brings the data back (docs/operations.md, restoring a snapshot): data written "
        "since is lost"
    ]


def test_a_rollback_with_files_in_a_new_format_is_refused():
    formats = {n: {"oa-big": 3} for n in NODES} | {"cass-dc1-2": {"oa-big": 3, "da-bti": 1}}
    plan = up.cassandra_rollback_plan(
        {n: record() for n in NODES}, dict.fromkeys(NODES, "5.0.9"), formats
    )
    assert len(plan["problems"]) == 1
    assert plan["problems"][0].startswith(
        "cass-dc1-2 holds SSTables in da-bti, a format it did not hold before the upgrade (oa-big)"
    )


def test_a_rollback_with_disagreeing_records_or_strangers_is_refused():
    states = {n: record() for n in NODES} | {"cass-dc2-2": record("5.0.7", "5.0.8")}
    active = dict.fromkeys(NODES, "5.0.9")
    assert up.cassandra_rollback_plan(states, active)["problems"] == [
        "the nodes record different upgrades: 5.0.7 -> 5.0.8; 5.0.8 -> 5.0.9"
    ]
    active["cass-dc1-2"] = "5.0.6"
    states = {n: record() for n in NODES} | {"cass-dc2-2": None}
    assert up.cassandra_rollback_plan(states, active)["problems"] == [
        "no upgrade is recorded on cass-dc2-2",
        "neither release of the upgrade runs on cass-dc1-2 (5.0.6)",
    ]
