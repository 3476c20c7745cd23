from __future__ import annotations

import itertools
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from fleet.dashboard.bench import render_timings, time_fetches
from fleet.dashboard.cluster_info import describe_cluster


@dataclass(frozen=True)
class Rows:
    rows: int


def test_time_fetches_warms_up_then_times_each_run() -> None:
    ticks = itertools.count()
    clock = lambda: next(ticks) * 0.001  # noqa: E731 - each call advances 1 ms
    calls = {"a": 0, "b": 0}

    def fetch(name: str) -> Any:
        def run() -> Rows:
            calls[name] += 1
            return Rows(calls[name])

        return run

    timings = time_fetches({"a": fetch("a"), "b": fetch("b")}, runs=20, warmup=2, clock=clock)
    assert calls == {"a": 22, "b": 22}
    assert [t.page for t in timings] == ["a", "b"]
    first = timings[0]
    assert (first.runs, first.p50_ms, first.p95_ms, first.max_ms, first.rows) == (
        20,
        pytest.approx(1.0),
        pytest.approx(1.0),
        pytest.approx(1.0),
        22,
    )
    table = render_timings(timings, budget_ms=0.5)
    assert table.splitlines()[1].split()[:3] == ["a", "20", "22"]
    assert "NO (p95 >= 0.5 ms)" in table
    assert "yes" in render_timings(timings, budget_ms=300)
    with pytest.raises(ValueError):
        time_fetches({}, runs=0)


def host(dc: str, rack: str, address: str, up: bool | None) -> Any:
    return SimpleNamespace(
        datacenter=dc, rack=rack, endpoint=address, is_up=up, release_version="5.0.4", host_id="h"
    )


def metadata(replication: dict[str, str] | None, *hosts: Any) -> Any:
    keyspaces = {}
    if replication is not None:
        strategy = type("NetworkTopologyStrategy", (), {"dc_replication_factors": replication})
        keyspaces["fleet_iot"] = SimpleNamespace(replication_strategy=strategy())
    return SimpleNamespace(all_hosts=lambda: list(hosts), keyspaces=keyspaces)


def test_cluster_view_groups_nodes_and_reads_replication() -> None:
    view = describe_cluster(
        metadata(
            {"dc1": "2", "dc2": "2"},
            host("dc2", "rack1", "10.0.0.3:9042", True),
            host("dc1", "rack2", "10.0.0.2:9042", False),
            host("dc1", "rack1", "10.0.0.1:9042", True),
            host("dc2", "rack2", "10.0.0.4:9042", None),
        ),
        "fleet_iot",
    )
    assert view.nodes[["datacenter", "rack", "state"]].values.tolist() == [
        ["dc1", "rack1", "UP"],
        ["dc1", "rack2", "DOWN"],
        ["dc2", "rack1", "UP"],
        ["dc2", "rack2", "UNKNOWN"],
    ]
    assert (view.datacenters, view.nodes_up(), view.rows) == (["dc1", "dc2"], 2, 4)
    assert view.replication == {"dc1": 2, "dc2": 2}
    assert view.strategy == "NetworkTopologyStrategy"
    problems = view.problems({"dc1": 2, "dc2": 2})
    assert problems == [
        "dc1: 1 node(s) up for RF 2: quorum reads and writes fail",
        "dc2: 1 node(s) up for RF 2: quorum reads and writes fail",
    ]


def test_cluster_problems_missing_keyspace_dc_and_configuration() -> None:
    one = host("dc1", "rack1", "127.0.0.1:9042", True)
    assert "does not exist" in describe_cluster(metadata(None, one), "fleet_iot").problems({})[0]
    view = describe_cluster(metadata({"dc1": "1", "dc9": "1"}, one), "fleet_iot")
    assert view.problems({"dc1": 1, "dc9": 1}) == ["dc9 has 1 replica(s) configured but no node"]
    assert "FLEET_REPLICATION says" in view.problems({"dc1": 1})[0]
    assert describe_cluster(metadata({"dc1": "1"}, one), "fleet_iot").problems({"dc1": 1}) == []


def test_the_cluster_watch_connects_to_every_node_the_query_one_stays_in_its_dc() -> None:
    from cassandra.cluster import EXEC_PROFILE_DEFAULT
    from cassandra.policies import DCAwareRoundRobinPolicy, RoundRobinPolicy, TokenAwarePolicy

    from fleet.config import load_settings
    from fleet.session import build_cluster

    settings = load_settings({"FLEET_LOCAL_DC": "dc1", "FLEET_CONTACT_POINTS": "192.0.2.1"})

    def policy(watch: bool) -> object:
        cluster = build_cluster(settings, watch_every_node=watch)
        return cluster.profile_manager.profiles[EXEC_PROFILE_DEFAULT].load_balancing_policy

    assert type(policy(True)) is RoundRobinPolicy  # every node LOCAL: pooled, state known
    routing = policy(False)
    assert isinstance(routing, TokenAwarePolicy)
    assert isinstance(routing._child_policy, DCAwareRoundRobinPolicy)
    assert routing._child_policy.local_dc == "dc1"
