"""Two data centers of two nodes each, as deployed by playbooks/site.yml."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "lib"))

import cluster_checks as cc

testinfra_hosts = cc.hosts("cassandra")


def test_every_node_sees_two_up_normal_nodes_per_dc(host):
    nodes = cc.status(host)
    by_dc: dict[str, list[str]] = {}
    for node in nodes:
        by_dc.setdefault(node["dc"], []).append(node["status_state"])
    assert by_dc == {"dc1": ["UN", "UN"], "dc2": ["UN", "UN"]}


def test_one_schema_version_and_gossiping_snitch(host):
    out = cc.nodetool(host, "describecluster")
    versions = cc.cassandra_filters.cassandra_schema_versions(out)
    assert len(versions) == 1, versions
    assert "UNREACHABLE" not in versions
    assert len(next(iter(versions.values()))) == 4
    info = cc.cassandra_filters.cassandra_describecluster(out)
    assert info["snitch"].endswith("GossipingPropertyFileSnitch")


def test_node_reports_its_inventory_dc_and_rack(host):
    expected = host.ansible.get_variables()
    out = cc.cql(host, "SELECT data_center, rack FROM system.local").stdout
    row = [line for line in out.splitlines() if "|" in line][1]
    dc, rack = (cell.strip() for cell in row.split("|"))
    assert (dc, rack) == (expected["cassandra_dc"], expected["cassandra_rack"])


def test_seeds_are_the_first_node_of_each_dc(host):
    yaml = host.file("/etc/cassandra/cassandra.yaml").content_string
    assert "- seeds: 10.213.30.11:7000,10.213.30.21:7000" in yaml


def test_admin_logs_in_and_default_superuser_is_refused(host):
    cc.assert_only_admin_logs_in(host)


def test_system_keyspaces_replicate_to_both_dcs(host):
    cc.assert_system_replication(host, {"dc1": 2, "dc2": 2})


@pytest.fixture(scope="module")
def dc_hosts():
    return {dc: [cc.get_host(h) for h in cc.hosts(dc)] for dc in ("dc1", "dc2")}


# Runs once (it does not take the per-host `host` fixture): a row written at LOCAL_QUORUM
# through dc1 is read back at LOCAL_QUORUM through dc2.
def test_local_quorum_write_in_dc1_is_read_in_dc2(dc_hosts):
    writer, reader = dc_hosts["dc1"][0], dc_hosts["dc2"][0]
    marker = str(uuid.uuid4())
    setup = (
        "CREATE KEYSPACE IF NOT EXISTS molecule_check WITH replication = "
        "{'class': 'NetworkTopologyStrategy', 'dc1': 2, 'dc2': 2}; "
        "CREATE TABLE IF NOT EXISTS molecule_check.kv (k text PRIMARY KEY, v text); "
        "CONSISTENCY LOCAL_QUORUM; "
        f"INSERT INTO molecule_check.kv (k, v) VALUES ('probe', '{marker}');"
    )
    written = cc.cql(writer, setup)
    assert written.rc == 0, written.stderr
    read = cc.cql(
        reader, "CONSISTENCY LOCAL_QUORUM; SELECT v FROM molecule_check.kv WHERE k = 'probe';"
    )
    assert read.rc == 0, read.stderr
    assert marker in read.stdout
