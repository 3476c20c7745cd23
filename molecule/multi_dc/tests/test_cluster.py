"""The data centers of the scenario's inventory (two of two nodes), as deployed by
playbooks/site.yml: every expectation is derived from the inventory (cc.topology())."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "lib"))

import cluster_checks as cc

testinfra_hosts = cc.hosts("cassandra")
TOPOLOGY = cc.topology()


def test_every_node_sees_two_up_normal_nodes_per_dc(host):
    nodes = cc.status(host)
    by_dc: dict[str, list[str]] = {}
    for node in nodes:
        by_dc.setdefault(node["dc"], []).append(node["status_state"])
    assert by_dc == {dc: ["UN"] * len(members) for dc, members in TOPOLOGY["dcs"].items()}


def test_one_schema_version_and_gossiping_snitch(host):
    """One schema version held by every node of the ring, nothing in the ring unreachable. Gossip
    keeps the address of the node the side effect decommissioned as UNREACHABLE for days: as in
    the playbooks' gates (cassandra_schema_agreed), an address outside the ring is not a node."""
    out = cc.nodetool(host, "describecluster")
    ring = [node["address"] for node in cc.status(host)]
    assert cc.cassandra_filters.cassandra_schema_agreed(out, ring), out
    versions = cc.cassandra_filters.cassandra_schema_versions(out)
    versions.pop("UNREACHABLE", None)
    assert len(versions) == 1, versions
    assert sorted(next(iter(versions.values()))) == sorted(ring)
    assert len(ring) == len(TOPOLOGY["nodes"])
    info = cc.cassandra_filters.cassandra_describecluster(out)
    assert info["snitch"].endswith("GossipingPropertyFileSnitch")


def test_each_dc_owns_the_app_keyspaces_rf_times_over(host):
    """Effective ownership of every keyspace of the app (the non-system ones) sums to RF x 100 %
    in each DC, as every node sees it, RF as the cluster holds it: no range lost or doubled by
    the node replacement the side effect ran."""
    out = cc.cql(host, "SELECT keyspace_name, replication FROM system_schema.keyspaces").stdout
    replication = cc.cassandra_filters.cassandra_keyspace_replication(out)
    app_keyspaces = {ks: opts for ks, opts in replication.items() if not ks.startswith("system")}
    assert app_keyspaces
    for keyspace, options in app_keyspaces.items():
        owned = cc.cassandra_lifecycle.cassandra_ownership(
            cc.cassandra_filters.cassandra_nodetool_status(cc.nodetool(host, "status", keyspace))
        )
        expected = {dc: 100.0 * int(options[dc]) for dc in TOPOLOGY["dcs"]}
        assert owned == pytest.approx(expected, abs=0.5), keyspace


def test_node_reports_its_inventory_dc_and_rack(host):
    expected = host.ansible.get_variables()
    out = cc.cql(host, "SELECT data_center, rack FROM system.local").stdout
    row = [line for line in out.splitlines() if "|" in line][1]
    dc, rack = (cell.strip() for cell in row.split("|"))
    assert (dc, rack) == (expected["cassandra_dc"], expected["cassandra_rack"])


def test_seeds_are_the_first_node_of_each_dc(host):
    yaml = host.file("/etc/cassandra/cassandra.yaml").content_string
    port = host.ansible.get_variables().get("cassandra_storage_port", 7000)
    seeds = ",".join(f"{TOPOLOGY['addresses'][seed]}:{port}" for seed in TOPOLOGY["seeds"])
    assert [dcs[0] for dcs in TOPOLOGY["dcs"].values()] == TOPOLOGY["seeds"]
    assert f"- seeds: {seeds}" in yaml


def test_admin_logs_in_and_default_superuser_is_refused(host):
    cc.assert_only_admin_logs_in(host)


def test_system_keyspaces_replicate_to_both_dcs(host):
    cc.assert_system_replication(host, TOPOLOGY["replication"])


@pytest.fixture(scope="module")
def dc_hosts():
    return {dc: [cc.get_host(h) for h in members] for dc, members in TOPOLOGY["dcs"].items()}


# Runs once (it does not take the per-host `host` fixture): a row written at LOCAL_QUORUM
# through the first DC is read back at LOCAL_QUORUM through the last.
def test_local_quorum_write_in_one_dc_is_read_in_the_other(dc_hosts):
    (first, *_, last) = dc_hosts
    writer, reader = dc_hosts[first][0], dc_hosts[last][0]
    replication = ", ".join(f"'{dc}': {rf}" for dc, rf in TOPOLOGY["replication"].items())
    marker = str(uuid.uuid4())
    setup = (
        "CREATE KEYSPACE IF NOT EXISTS molecule_check WITH replication = "
        f"{{'class': 'NetworkTopologyStrategy', {replication}}}; "
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


ROLE_RELEASE = cc.role_default("cassandra", "cassandra_version")


def test_every_node_runs_the_roles_release_its_stable_path_points_at(host):
    """The scenario converged at the previous patch release (its inventory's cassandra_version)
    and the last side effect upgraded it (upgrade_check.yml): every node runs the role's release,
    from its own directory, the previous one still installed beside it for a rollback."""
    previous = host.ansible.get_variables()["cassandra_version"]
    assert previous != ROLE_RELEASE
    assert host.file("/opt/cassandra").linked_to == f"/opt/apache-cassandra-{ROLE_RELEASE}"
    assert cc.nodetool(host, "version").strip() == f"ReleaseVersion: {ROLE_RELEASE}"
    assert host.file(f"/opt/apache-cassandra-{previous}/lib/cassandra-all-{previous}.jar").exists
    # No restart left pending by the switches: the next site.yml changes nothing.
    assert not host.file("/etc/cassandra/restart-pending").exists
