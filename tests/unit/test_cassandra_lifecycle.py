"""The refusals of the node lifecycle playbooks (replace, decommission), on `nodetool status`
output captured from Cassandra 5.0.9 (the same capture as test_cassandra_filters.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

PLUGINS = Path(__file__).resolve().parents[2] / "plugins" / "filter"
sys.path.insert(0, str(PLUGINS))

import cassandra_filters as cf
import cassandra_lifecycle as lc

HEADER = """Datacenter: {dc}
===============
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address       Load        Tokens  Owns (effective)  Host ID                               Rack 
"""
CAPTURED = """\
UN  10.213.10.11  121.45 KiB  16      49.5%             1f932bb0-f063-4486-a3a6-2542a8201021  rack1
DN  10.213.10.12  81.19 KiB   16      50.2%             02435362-a81c-483e-bc0e-7271d97e9718  rack2
UN  10.213.10.21  86.38 KiB   16      49.7%             3637e0c3-a5cc-4995-913e-bf3e1e42299d  rack1
UN  10.213.10.22  90.02 KiB   16      50.6%             73cdb4ca-b910-4e3d-aac1-a9c7688d3b5c  rack2
"""
# Each node's row with its state as a placeholder.
ROWS = {line.split()[1]: "{s}" + line[2:] for line in CAPTURED.splitlines()}
DC1, DC2 = ("10.213.10.11", "10.213.10.12"), ("10.213.10.21", "10.213.10.22")


def status(**states: str) -> list[dict[str, str]]:
    """`nodetool status` as one node prints it, every node UN unless given (address with dots
    as underscores: a_10_213_10_12="DN"); a state of "" leaves the node out."""
    wanted = {a: states.get("a_" + a.replace(".", "_"), "UN") for a in ROWS}
    text = ""
    for dc, members in (("dc1", DC1), ("dc2", DC2)):
        text += HEADER.format(dc=dc)
        text += "".join(ROWS[a].format(s=wanted[a]) + "\n" for a in members if wanted[a])
        text += "\n"
    return cf.cassandra_nodetool_status(text)


DEAD = "10.213.10.12"
OTHERS = ["10.213.10.11", "10.213.10.21", "10.213.10.22"]


def test_a_node_down_in_every_view_with_the_others_up_may_be_replaced():
    views = {v: status(a_10_213_10_12="DN") for v in ("cass-dc1-1", "cass-dc2-1", "cass-dc2-2")}
    assert lc.cassandra_replace_problems(views, DEAD, OTHERS) == []


def test_a_replace_is_refused_while_one_peer_still_sees_the_dead_node_up():
    views = {
        "cass-dc1-1": status(a_10_213_10_12="DN"),
        "cass-dc2-1": status(a_10_213_10_12="UN"),
    }
    problems = lc.cassandra_replace_problems(views, DEAD, OTHERS)
    assert problems == [
        "cass-dc2-1 sees 10.213.10.12 as UN, not DN: it is not dead (stop it first, or wait "
        "until every peer has convicted it)"
    ]


def test_a_replace_is_refused_with_a_second_node_down():
    views = {"cass-dc1-1": status(a_10_213_10_12="DN", a_10_213_10_22="DN")}
    problems = lc.cassandra_replace_problems(views, DEAD, OTHERS)
    assert len(problems) == 1 and problems[0].startswith("cass-dc1-1 sees 10.213.10.22 as DN:")


def test_a_replace_is_refused_for_a_node_the_cluster_does_not_know_or_no_view():
    views = {"cass-dc1-1": status(a_10_213_10_12="")}
    assert lc.cassandra_replace_problems(views, DEAD, OTHERS) == [
        "cass-dc1-1 does not know 10.213.10.12: nothing to replace there"
    ]
    assert lc.cassandra_replace_problems({}, DEAD, OTHERS) == [
        "no live node answered nodetool status"
    ]


def test_a_replacement_on_another_host_must_be_new_to_the_ring():
    views = {v: status(a_10_213_10_12="DN") for v in ("cass-dc1-1", "cass-dc2-1")}
    assert lc.cassandra_replace_problems(views, DEAD, OTHERS, "10.213.10.13") == []
    assert lc.cassandra_replace_problems(views, DEAD, OTHERS, DEAD) == []  # the same host
    problems = lc.cassandra_replace_problems(views, DEAD, OTHERS, "10.213.10.11")
    assert problems == [
        f"{viewer} already knows the replacement 10.213.10.11 (as UN): replace onto a host that "
        "was never in the ring (or decommission it and wipe it first)"
        for viewer in views
    ]


def test_a_joining_node_counts_as_not_up_normal():
    views = {"cass-dc1-1": status(a_10_213_10_12="DN", a_10_213_10_21="UJ")}
    assert "10.213.10.21 as UJ" in lc.cassandra_replace_problems(views, DEAD, OTHERS)[0]


NTS = {"class": "org.apache.cassandra.locator.NetworkTopologyStrategy", "dc1": "2", "dc2": "2"}
FREE = {a: 10 << 30 for a in ROWS}


def test_decommission_is_refused_below_any_keyspaces_replication_system_auth_included():
    replication = {
        "fleet_iot": {**NTS, "dc1": "1"},
        "system_auth": NTS,
        "system": {"class": "org.apache.cassandra.locator.LocalStrategy"},
    }
    problems = lc.cassandra_decommission_problems(status(), DEAD, replication, FREE)
    assert problems == [
        "keyspace system_auth has replication factor 2 in dc1: 1 node(s) would be left (lower "
        "it first: ALTER KEYSPACE system_auth WITH replication = ...)"
    ]


def test_decommission_of_a_third_node_in_a_dc_of_rf_2_may_go_on():
    third = {**status()[1], "address": "10.213.10.13"}
    three = [*status(), {**third, "host_id": "0c3bd4ab-75a4-4a4e-9d55-7f8e2c7f6a10"}]
    replication = {"fleet_iot": NTS, "system_auth": NTS}
    free = {**FREE, "10.213.10.13": 10 << 30}
    assert lc.cassandra_decommission_problems(three, "10.213.10.13", replication, free) == []


def test_simple_strategy_counts_every_node_of_the_cluster():
    replication = {"legacy": {"class": "SimpleStrategy", "replication_factor": "4"}}
    problems = lc.cassandra_decommission_problems(status(), DEAD, replication, FREE)
    assert problems and problems[0].startswith(
        "keyspace legacy has replication factor 4 in cluster"
    )


def test_decommission_is_refused_with_another_node_down_or_itself_not_up():
    problems = lc.cassandra_decommission_problems(status(a_10_213_10_21="DN"), DEAD, {}, FREE)
    assert problems == ["10.213.10.21 is DN: every node must be UN during a decommission"]
    problems = lc.cassandra_decommission_problems(status(a_10_213_10_12="UL"), DEAD, {}, FREE)
    assert problems == ["10.213.10.12 is UL, not UN: a decommission streams from it"]
    assert lc.cassandra_decommission_problems(status(), "10.0.0.9", {}, FREE) == [
        "10.0.0.9 is not in the cluster (nodetool status does not list it)"
    ]


def test_decommission_is_refused_when_the_remaining_nodes_lack_the_disk():
    # 81.19 KiB leave 10.213.10.12 for the one node left in dc1: 1.5 x that is needed there.
    need = lc.cassandra_stream_room(lc.cassandra_size_bytes("81.19 KiB"))
    assert need == int(int(81.19 * 1024) * 1.5)
    free = {**FREE, "10.213.10.11": need - 1}
    problems = lc.cassandra_decommission_problems(status(), DEAD, {}, free)
    assert len(problems) == 1 and problems[0].startswith("10.213.10.11 has")
    assert (
        lc.cassandra_decommission_problems(status(), DEAD, {}, {**FREE, "10.213.10.11": need}) == []
    )
    problems = lc.cassandra_decommission_problems(status(), DEAD, {}, {})
    assert problems == ["free space of 10.213.10.11 unknown"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("121.45 KiB", int(121.45 * 1024)),
        ("1.5 MiB", int(1.5 * (1 << 20))),
        ("2 GiB", 2 << 30),
        ("0 bytes", 0),
        ("?", 0),
        ("512", 512),
    ],
)
def test_sizes_as_nodetool_prints_them(text, expected):
    assert lc.cassandra_size_bytes(text) == expected


@pytest.mark.parametrize("text", ["lots", "1.5 parsecs", "-3 KiB"])
def test_a_size_that_is_not_one_is_an_error(text):
    with pytest.raises(ValueError, match="not a size"):
        lc.cassandra_size_bytes(text)


@given(st.integers(min_value=0, max_value=1 << 50), st.sampled_from(["bytes", "KiB", "MiB", "GiB"]))
def test_a_size_round_trips_within_its_unit(value, unit):
    scale = {"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]
    text = f"{value / scale:.2f} {unit}"
    assert abs(lc.cassandra_size_bytes(text) - value) <= scale * 0.01


RING = (Path(__file__).parent / "captured" / "nodetool-ring-5.0.9.txt").read_text()


def test_ring_tokens_of_every_node_from_a_captured_ring():
    """`nodetool ring` of the lab (four nodes, 16 tokens each, two DCs), captured 2026-12-03."""
    tokens = lc.cassandra_ring_tokens(RING)
    assert sorted(tokens) == ["10.213.10.11", "10.213.10.12", "10.213.10.21", "10.213.10.22"]
    assert all(len(t) == 16 for t in tokens.values())
    every = [int(t) for ts in tokens.values() for t in ts]
    assert len(set(every)) == 64  # vnodes: no token shared between nodes
    assert tokens["10.213.10.11"] == sorted(tokens["10.213.10.11"], key=int)
    assert "-8983382535157281892" in tokens["10.213.10.11"]
    assert lc.cassandra_ring_tokens(RING, "10.213.10.11") == tokens["10.213.10.11"]
    assert lc.cassandra_ring_tokens(RING, "10.0.0.9") == []


def test_a_ring_without_node_rows_gives_no_tokens():
    assert lc.cassandra_ring_tokens("Datacenter: dc1\n==========\n") == {}


# Effective ownership per DC: RF x 100 % in every DC of every keyspace checked.
def test_ownership_sums_each_dc_of_a_keyspaces_status():
    owned = lc.cassandra_ownership(status())
    assert owned == {"dc1": 99.7, "dc2": 100.3}


def test_ownership_counts_an_unknown_share_as_nothing():
    rows = status()
    rows[0] = {**rows[0], "owns": "?"}
    assert lc.cassandra_ownership(rows)["dc1"] == 50.2


def test_ownership_matching_rf_passes_within_rounding():
    replication = {"fleet_iot": {"class": "NetworkTopologyStrategy", "dc1": "2", "dc2": "2"}}
    owned = {"fleet_iot": {"dc1": 200.0, "dc2": 199.7}}
    assert lc.cassandra_ownership_problems(owned, replication) == []


def test_ownership_short_of_rf_or_doubled_or_unknown_keyspace_is_refused():
    replication = {
        "fleet_iot": {"class": "NetworkTopologyStrategy", "dc1": "2", "dc2": "2"},
        "fleet_probe": {"class": "NetworkTopologyStrategy", "dc1": "1"},
    }
    owned = {
        "fleet_iot": {"dc1": 150.0, "dc2": 200.0},
        "fleet_probe": {"dc1": 100.0, "dc2": 100.0},
        "gone": {"dc1": 100.0},
    }
    problems = lc.cassandra_ownership_problems(owned, replication)
    rf = "(replication factor x 100 %)"
    assert problems == [
        f"keyspace fleet_iot: dc1 owns 150.0 % of the ranges, 200 % expected {rf}",
        f"keyspace fleet_probe: dc2 owns 100.0 % of the ranges, 0 % expected {rf}",
        "keyspace gone is not in the cluster's schema",
    ]
