"""Pure logic of the failover (roles/fleet_failover/filter_plugins): who ingests which fleets
when data centers are lost, each ETL host's override, and what an ETL does not see."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_PATH = (
    Path(__file__).resolve().parents[2] / "roles/fleet_failover/filter_plugins/failover_filters.py"
)
_SPEC = importlib.util.spec_from_file_location("failover_filters", _PATH)
assert _SPEC and _SPEC.loader
ff = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ff)

FLEETS = {"dc1": ["FLEET_PARIS", "FLEET_LILLE"], "dc2": ["FLEET_LYON"]}
HOSTS = {"app-1": "dc1", "app-2": "dc2"}


def test_no_failed_dc_is_the_inventory_assignment() -> None:
    assert ff.fleet_failover_assignment(FLEETS, [], ["dc1", "dc2"]) == FLEETS
    overrides = ff.fleet_failover_overrides(FLEETS, FLEETS, HOSTS, [])
    assert overrides == {"app-1": None, "app-2": None}  # failback: every file removed


def test_a_failed_dcs_fleets_go_to_the_survivor() -> None:
    assignment = ff.fleet_failover_assignment(FLEETS, ["dc1"], ["dc1", "dc2"])
    assert assignment == {"dc1": [], "dc2": ["FLEET_LYON", "FLEET_PARIS", "FLEET_LILLE"]}
    assert ff.fleet_failover_overrides(assignment, FLEETS, HOSTS, ["dc1"]) == {
        "app-1": {"failed_dcs": ["dc1"], "ingest": []},  # fenced
        "app-2": {"failed_dcs": ["dc1"], "ingest": ["FLEET_LYON", "FLEET_PARIS", "FLEET_LILLE"]},
    }


def test_several_survivors_share_the_fleets_in_turn() -> None:
    fleets = {**FLEETS, "dc3": []}
    assignment = ff.fleet_failover_assignment(fleets, ["dc1"], ["dc1", "dc2", "dc3"])
    assert assignment == {"dc1": [], "dc2": ["FLEET_LYON", "FLEET_PARIS"], "dc3": ["FLEET_LILLE"]}
    # a survivor whose share did not change keeps no file
    hosts = {**HOSTS, "app-3": "dc3"}
    overrides = ff.fleet_failover_overrides(assignment, fleets, hosts, ["dc1"])
    assert overrides["app-3"] == {"failed_dcs": ["dc1"], "ingest": ["FLEET_LILLE"]}


def test_a_survivor_without_an_etl_takes_nothing() -> None:
    fleets = {**FLEETS, "dc3": []}
    assignment = ff.fleet_failover_assignment(fleets, ["dc1"], ["dc1", "dc2"])
    assert assignment["dc3"] == [] and len(assignment["dc2"]) == 3


@pytest.mark.parametrize(
    ("failed", "etl_dcs", "message"),
    [
        (["dc9"], ["dc1", "dc2"], "unknown data center(s) dc9"),
        (["dc1", "dc2"], ["dc1", "dc2"], "no surviving data center runs an ETL"),
        (["dc2"], ["dc2"], "no surviving data center runs an ETL to take over FLEET_LYON"),
    ],
)
def test_impossible_failovers_are_refused(failed, etl_dcs, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ff.fleet_failover_assignment(FLEETS, failed, etl_dcs)


def _stats(**node_overrides: object) -> dict:
    nodes = [
        {"address": "10.0.0.11", "dc": "dc1", "up": True, "connections": 1},
        {"address": "10.0.0.12", "dc": "dc1", "up": True, "connections": 2},
        {"address": "10.0.0.21", "dc": "dc2", "up": True, "connections": 0},  # ignored: remote
    ]
    nodes[1].update(node_overrides)
    return {"local_dc": "dc1", "nodes": nodes, "updated_at": 1000.0}


def test_an_etl_connected_to_every_node_of_its_dc_sees_them_all() -> None:
    assert ff.fleet_etl_unseen(_stats(), 2, now=1010.0) == []


@pytest.mark.parametrize(
    ("stats", "expected", "now", "problem"),
    [
        (_stats(up=False), 2, 1010.0, "10.0.0.12 (down)"),
        (_stats(connections=0), 2, 1010.0, "10.0.0.12 (no connection)"),
        (_stats(), 3, 1010.0, "knows 2 of the 3 nodes of dc1"),
        (_stats(), 2, 1100.0, "its stats are 100 s old (is fleet-etl running?)"),
        ({}, 2, 1010.0, "no stats (is fleet-etl running?)"),
    ],
)
def test_what_an_etl_does_not_see_is_named(stats, expected, now, problem) -> None:
    assert problem in ff.fleet_etl_unseen(stats, expected, now=now)
