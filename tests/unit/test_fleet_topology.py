"""The deployment's topology, derived once (plugins/filter/fleet_topology.py): addresses, DCs,
seeds and replication, as every role and playbook reads them."""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "filter"))

import fleet_topology as ft

HOSTVARS = {
    "n1": {
        "cassandra_dc": "dc1",
        "cassandra_listen_address": "10.0.0.11",
        "ansible_host": "192.0.2.11",
    },
    "n2": {
        "cassandra_dc": "dc1",
        "ansible_facts": {"default_ipv4": {"address": "10.0.0.12"}},
        "ansible_host": "192.0.2.12",
    },
    "n3": {"cassandra_dc": "dc2", "ansible_host": "10.0.0.21"},
    "n4": {"cassandra_dc": "dc2", "ansible_host": "10.0.0.22"},
    "n5": {"cassandra_dc": "dc2", "ansible_host": "10.0.0.23"},
    "app": {"ansible_host": "10.0.0.31"},
}


def test_address_is_listen_address_then_default_ipv4_then_ansible_host():
    assert [ft.fleet_address(h, HOSTVARS) for h in ("n1", "n2", "app")] == [
        "10.0.0.11",
        "10.0.0.12",
        "10.0.0.31",
    ]


@pytest.mark.parametrize(
    ("host", "message"),
    [("x", "no address known for 'x'"), ("ghost", "'ghost' is not in the inventory")],
)
def test_an_unknown_address_is_a_clear_error(host, message):
    with pytest.raises(AnsibleFilterError, match=message):
        ft.fleet_address(host, {"x": {"ansible_facts": {}}})


def test_topology_of_two_dcs():
    topo = ft.fleet_topology(HOSTVARS, ["n1", "n2", "n3", "n4", "n5"], apps=["app"], max_rf=2)
    assert topo["addresses"] == {
        "n1": "10.0.0.11",
        "n2": "10.0.0.12",
        "n3": "10.0.0.21",
        "n4": "10.0.0.22",
        "n5": "10.0.0.23",
        "app": "10.0.0.31",
    }
    assert topo["dcs"] == {"dc1": ["n1", "n2"], "dc2": ["n3", "n4", "n5"]}
    assert topo["dc_sizes"] == {"dc1": 2, "dc2": 3}
    assert topo["dc_of"]["n4"] == "dc2"
    assert topo["seeds"] == ["n1", "n3"]
    assert topo["replication"] == {"dc1": 2, "dc2": 2}


def test_seeds_follow_inventory_order_within_each_dc():
    topo = ft.fleet_topology(HOSTVARS, ["n3", "n1", "n4", "n2", "n5"], seeds_per_dc=2)
    assert topo["seeds"] == ["n3", "n1", "n4", "n2"]
    assert topo["replication"] == {"dc2": 3, "dc1": 2}


def test_a_lone_node_without_dc_takes_the_default():
    topo = ft.fleet_topology({"solo": {"ansible_host": "10.0.0.5"}}, ["solo"], default_dc="dc1")
    assert topo["dcs"] == {"dc1": ["solo"]}
    assert topo["seeds"] == ["solo"]
    assert topo["replication"] == {"dc1": 1}


@pytest.mark.parametrize(
    ("hostvars", "nodes", "kwargs", "message"),
    [
        ({"a": {"ansible_host": "10.0.0.1"}}, ["a"], {}, "'a' has no cassandra_dc"),
        ({}, ["a"], {}, "'a' is not in the inventory"),
        (
            {
                "a": {"cassandra_dc": "d", "ansible_host": "10.0.0.1"},
                "b": {"cassandra_dc": "d", "ansible_host": "10.0.0.1"},
            },
            ["a", "b"],
            {},
            "several nodes have the address 10.0.0.1",
        ),
        (HOSTVARS, ["n1"], {"seeds_per_dc": 0}, "at least 1"),
    ],
)
def test_inconsistent_inventories_are_refused(hostvars, nodes, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        ft.fleet_topology(hostvars, nodes, **kwargs)


@given(
    dcs=st.lists(st.sampled_from(["dc1", "dc2", "dc3"]), min_size=1, max_size=12),
    seeds_per_dc=st.integers(min_value=1, max_value=4),
    max_rf=st.integers(min_value=1, max_value=5),
)
def test_properties_of_any_inventory(dcs, seeds_per_dc, max_rf):
    nodes = [f"h{i}" for i in range(len(dcs))]
    hostvars = {
        h: {"cassandra_dc": dc, "ansible_host": f"10.1.0.{i + 1}"}
        for i, (h, dc) in enumerate(zip(nodes, dcs, strict=True))
    }
    topo = ft.fleet_topology(hostvars, nodes, seeds_per_dc=seeds_per_dc, max_rf=max_rf)
    # every node is in exactly one DC, in inventory order
    assert [h for members in topo["dcs"].values() for h in members] == sorted(
        nodes, key=lambda h: (list(topo["dcs"]).index(topo["dc_of"][h]), nodes.index(h))
    )
    for dc, members in topo["dcs"].items():
        seeds = [h for h in topo["seeds"] if topo["dc_of"][h] == dc]
        assert seeds == members[: min(seeds_per_dc, len(members))]
        assert 1 <= topo["replication"][dc] == min(len(members), max_rf) <= topo["dc_sizes"][dc]
    assert topo["seeds"] == [h for h in nodes if h in topo["seeds"]]


# What Prometheus scrapes (role prometheus).
SCRAPE_HOSTVARS = {
    **HOSTVARS,
    "n4": {**HOSTVARS["n4"], "cassandra_metrics_port": 0},
    "app": {"ansible_host": "10.0.0.31", "fleet_app_local_dc": "dc1"},
    "mon": {"ansible_host": "10.0.0.41"},
    "spare": {"cassandra_dc": "dc1", "ansible_host": "10.0.0.13"},
}
SCRAPE_GROUPS = {
    "all": ["n1", "n2", "n3", "n4", "app", "mon", "spare"],
    "cassandra": ["n3", "n1", "n2", "n4"],
    "fleet_app": ["app"],
    "object_store": ["mon"],
    "monitoring": ["mon"],
}
PORTS = {
    "node_exporter": 9100,
    "cassandra": 7070,
    "prometheus": 9090,
    "alertmanager": 9093,
    "fleet_etl": 9470,
    "fleet_dashboard": 9471,
}


def test_every_platform_host_node_and_monitoring_service_is_scraped_once():
    scrape = ft.fleet_scrape_jobs(SCRAPE_HOSTVARS, SCRAPE_GROUPS, PORTS)
    jobs = {job["job_name"]: job.get("static_configs") for job in scrape}
    assert list(jobs) == [
        "node",
        "cassandra",
        "prometheus",
        "alertmanager",
        "fleet_etl",
        "fleet_dashboard",
        "fleet_probe",
    ]
    # the drills' probe: no static target, the files the drills write
    assert scrape[-1] == {
        "job_name": "fleet_probe",
        "file_sd_configs": [
            {"files": ["/etc/prometheus/file_sd/fleet_probe/*.json"], "refresh_interval": "30s"}
        ],
    }
    # every tier's hosts, once each, sorted; the spare (in no tier) is left out
    assert [t["labels"]["instance"] for t in jobs["node"]] == ["app", "mon", "n1", "n2", "n3", "n4"]
    assert jobs["node"][0] == {"targets": ["10.0.0.31:9100"], "labels": {"instance": "app"}}
    # a node's own port wins, 0 leaves it out; its DC and rack label it
    assert jobs["cassandra"] == [
        {"targets": ["10.0.0.11:7070"], "labels": {"instance": "n1", "dc": "dc1", "rack": ""}},
        {"targets": ["10.0.0.12:7070"], "labels": {"instance": "n2", "dc": "dc1", "rack": ""}},
        {"targets": ["10.0.0.21:7070"], "labels": {"instance": "n3", "dc": "dc2", "rack": ""}},
    ]
    assert jobs["prometheus"] == [{"targets": ["10.0.0.41:9090"], "labels": {"instance": "mon"}}]
    assert ft.fleet_alertmanagers(SCRAPE_HOSTVARS, SCRAPE_GROUPS, 9093) == ["10.0.0.41:9093"]
    # the app hosts' exporters, labelled with the DC the app serves
    assert jobs["fleet_etl"] == [
        {"targets": ["10.0.0.31:9470"], "labels": {"instance": "app", "dc": "dc1"}}
    ]
    assert jobs["fleet_dashboard"][0]["targets"] == ["10.0.0.31:9471"]
    # a port of 0: that exporter is off, no job
    off = ft.fleet_scrape_jobs(SCRAPE_HOSTVARS, SCRAPE_GROUPS, {**PORTS, "fleet_dashboard": 0})
    assert [job["job_name"] for job in off][-2:] == ["fleet_etl", "fleet_probe"]
    # no app host: no app job, and no probe job either
    no_app = ft.fleet_scrape_jobs(SCRAPE_HOSTVARS, {**SCRAPE_GROUPS, "fleet_app": []}, PORTS)
    assert [job["job_name"] for job in no_app][-1] == "alertmanager"


def test_a_drill_probe_target_lands_in_the_directory_the_probe_job_reads():
    target = ft.fleet_probe_scrape_target("app", SCRAPE_HOSTVARS, "9472", "drill-node-stop-1")
    assert target == {
        "path": "/etc/prometheus/file_sd/fleet_probe/app.json",
        "targets": [
            {
                "targets": ["10.0.0.31:9472"],
                "labels": {"instance": "app", "dc": "dc1", "run_id": "drill-node-stop-1"},
            }
        ],
    }
    (probe_job,) = [
        job
        for job in ft.fleet_scrape_jobs(SCRAPE_HOSTVARS, SCRAPE_GROUPS, PORTS)
        if job["job_name"] == "fleet_probe"
    ]
    assert fnmatch.fnmatch(target["path"], probe_job["file_sd_configs"][0]["files"][0])
    with pytest.raises(AnsibleFilterError, match="port must be positive"):
        ft.fleet_probe_scrape_target("app", SCRAPE_HOSTVARS, 0, "r1")
    with pytest.raises(AnsibleFilterError, match="run_id is empty"):
        ft.fleet_probe_scrape_target("app", SCRAPE_HOSTVARS, 9472, "")
    with pytest.raises(AnsibleFilterError, match="not in the inventory"):
        ft.fleet_probe_scrape_target("nowhere", SCRAPE_HOSTVARS, 9472, "r1")


def test_scraping_needs_a_monitoring_host_and_every_port():
    with pytest.raises(AnsibleFilterError, match="no host in group 'monitoring'"):
        ft.fleet_scrape_jobs(SCRAPE_HOSTVARS, {**SCRAPE_GROUPS, "monitoring": []}, PORTS)
    with pytest.raises(AnsibleFilterError, match="ports lacks 'alertmanager'"):
        ft.fleet_scrape_jobs(
            SCRAPE_HOSTVARS, SCRAPE_GROUPS, {k: v for k, v in PORTS.items() if k != "alertmanager"}
        )
