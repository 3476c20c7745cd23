"""The parsers behind every health gate, on real output captured from Cassandra 5.0.9."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[2] / "plugins" / "filter"
sys.path.insert(0, str(PLUGINS))

import cassandra_filters as cf

STATUS = """Datacenter: dc1
===============
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address       Load        Tokens  Owns (effective)  Host ID                               Rack 
UN  10.213.10.11  121.45 KiB  16      49.5%             1f932bb0-f063-4486-a3a6-2542a8201021  rack1
DN  10.213.10.12  81.19 KiB   16      50.2%             02435362-a81c-483e-bc0e-7271d97e9718  rack2

Datacenter: dc2
===============
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address       Load        Tokens  Owns (effective)  Host ID                               Rack 
UJ  10.213.10.22  ?           16      50.6%             73cdb4ca-b910-4e3d-aac1-a9c7688d3b5c  rack2
UN  10.213.10.21  86.38 KiB   16      49.7%             3637e0c3-a5cc-4995-913e-bf3e1e42299d  rack1
"""

DESCRIBE = """Cluster Information:
\tName: Fleet Tracing Lab
\tSnitch: org.apache.cassandra.locator.GossipingPropertyFileSnitch
\tDynamicEndPointSnitch: enabled
\tPartitioner: org.apache.cassandra.dht.Murmur3Partitioner
\tSchema versions:
\t\td03783d7-b468-3c1a-82f1-8e30b2edde8b: [10.213.10.11, 10.213.10.21]

\t\tUNREACHABLE: [10.213.10.12]

Stats for all nodes:
\tLive: 3
"""

KEYSPACES = """
 keyspace_name      | replication
--------------------+-------------------------------------------------------------------------------------
        system_auth | {'class': 'org.apache.cassandra.locator.NetworkTopologyStrategy', 'dc1': '2', 'dc2': '2'}
      system_schema |                             {'class': 'org.apache.cassandra.locator.LocalStrategy'}
 system_distributed | {'class': 'org.apache.cassandra.locator.SimpleStrategy', 'replication_factor': '3'}

(3 rows)
"""


def test_status_parses_every_column_per_dc():
    nodes = cf.cassandra_nodetool_status(STATUS)
    assert [(n["dc"], n["address"], n["status_state"], n["rack"]) for n in nodes] == [
        ("dc1", "10.213.10.11", "UN", "rack1"),
        ("dc1", "10.213.10.12", "DN", "rack2"),
        ("dc2", "10.213.10.22", "UJ", "rack2"),
        ("dc2", "10.213.10.21", "UN", "rack1"),
    ]
    assert nodes[0]["load"] == "121.45 KiB"
    assert nodes[2]["load"] == "?"
    assert nodes[1]["host_id"] == "02435362-a81c-483e-bc0e-7271d97e9718"
    assert nodes[0]["owns"] == "49.5%"


def test_status_ignores_noise():
    assert cf.cassandra_nodetool_status("error: connection refused\n") == []


def test_schema_versions_include_unreachable():
    versions = cf.cassandra_schema_versions(DESCRIBE)
    assert versions == {
        "d03783d7-b468-3c1a-82f1-8e30b2edde8b": ["10.213.10.11", "10.213.10.21"],
        "UNREACHABLE": ["10.213.10.12"],
    }


def test_describecluster_header():
    info = cf.cassandra_describecluster(DESCRIBE)
    assert info["name"] == "Fleet Tracing Lab"
    assert info["snitch"].endswith("GossipingPropertyFileSnitch")


def test_keyspaces_needing_alteration():
    wanted = {"class": "NetworkTopologyStrategy", "dc1": 2, "dc2": 2}
    todo = cf.cassandra_keyspaces_needing(
        KEYSPACES, ["system_auth", "system_distributed", "system_traces"], wanted
    )
    assert todo == ["system_distributed", "system_traces"]


COMPACTIONSTATS = """concurrent compactors            2          
pending tasks                    7          
compactions completed            5          
data compacted                   144165     
compaction throughput (MiB/s)    64.0       
"""


def test_pending_compactions_from_5_0_compactionstats() -> None:
    assert cf.cassandra_pending_compactions(COMPACTIONSTATS) == 7
    assert cf.cassandra_pending_compactions("pending tasks: 3\n") == 3  # 4.x layout
    assert cf.cassandra_pending_compactions("error: JMX refused\n") == -1


def test_schema_agreed_needs_one_version_and_nothing_unreachable() -> None:
    assert not cf.cassandra_schema_agreed(DESCRIBE)  # one version, but 10.213.10.12 unreachable
    agreed = DESCRIBE.replace("\t\tUNREACHABLE: [10.213.10.12]\n", "")
    assert cf.cassandra_schema_agreed(agreed)
    split = agreed.replace(
        "[10.213.10.11, 10.213.10.21]",
        "[10.213.10.11]\n\t\t11111111-2222-3333-4444-555555555555: [10.213.10.21]",
    )
    assert not cf.cassandra_schema_agreed(split)


def test_schema_agreed_ignores_unreachable_addresses_that_left_the_ring() -> None:
    ring = ["10.213.10.11", "10.213.10.21"]
    assert cf.cassandra_schema_agreed(DESCRIBE, ring)  # 10.213.10.12 left: gossip still lists it
    assert not cf.cassandra_schema_agreed(DESCRIBE, [*ring, "10.213.10.12"])


# ----------------------------------------------------------------------------- TLS phases


@pytest.mark.parametrize("phase", cf.TLS_PHASES)
def test_tls_phase_of_the_generated_options_round_trips(phase):
    options = cf.cassandra_tls_options(phase, "/k.pem", "/ca.pem")
    assert cf.cassandra_tls_phase(options) == phase


def test_tls_required_refuses_plaintext_everywhere_and_verifies_peers():
    options = cf.cassandra_tls_options("required", "/k.pem", "/ca.pem")
    client, server = options["client_encryption_options"], options["server_encryption_options"]
    assert client["enabled"] is True and client["optional"] is False
    assert server["internode_encryption"] == "all" and server["optional"] is False
    assert server["require_client_auth"] is True and server["require_endpoint_verification"]
    assert server["keystore"] == client["keystore"] == "/k.pem"


def test_tls_accept_still_sends_plaintext_to_peers_but_listens_for_tls():
    server = cf.cassandra_tls_options("accept", "/k", "/t")["server_encryption_options"]
    assert server["internode_encryption"] == "none" and server["optional"] is True


def test_tls_phase_of_a_config_without_encryption_is_disabled():
    assert cf.cassandra_tls_phase({}) == "disabled"
    assert cf.cassandra_tls_phase(None) == "disabled"
    assert cf.cassandra_tls_phase({"client_encryption_options": "junk"}) == "disabled"


def test_tls_unknown_phase_is_refused():
    with pytest.raises(ValueError, match="unknown TLS phase"):
        cf.cassandra_tls_options("on", "/k", "/t")
    assert cf.cassandra_tls_step_problems("on", {}) != []


def test_tls_steps_of_more_than_one_phase_are_refused_with_the_next_step():
    deployed = {"n1": "disabled", "n2": "accept"}
    problems = cf.cassandra_tls_step_problems("required", deployed)
    assert problems == [
        "n1 is at 'disabled': its next step towards 'required' is 'accept'",
        "n2 is at 'accept': its next step towards 'required' is 'prefer'",
    ]
    assert cf.cassandra_tls_step_problems("prefer", deployed) == [
        "n1 is at 'disabled': its next step towards 'prefer' is 'accept'"
    ]
    assert cf.cassandra_tls_step_problems("accept", deployed) == []
    assert cf.cassandra_tls_step_problems("disabled", {"n1": "required"}) == [
        "n1 is at 'required': its next step towards 'disabled' is 'prefer'"
    ]
    # A fresh cluster (no node holds data) may start in any phase.
    assert cf.cassandra_tls_step_problems("required", {}) == []


@pytest.mark.parametrize(
    ("deployed", "target", "start", "steps"),
    [
        (
            {"a": "disabled", "b": "disabled"},
            "required",
            "disabled",
            ["accept", "prefer", "required"],
        ),
        # An interrupted run: the plan starts from the node furthest behind.
        ({"a": "prefer", "b": "accept"}, "required", "accept", ["prefer", "required"]),
        ({"a": "required", "b": "required"}, "required", "required", []),
        (
            {"a": "required", "b": "prefer"},
            "disabled",
            "required",
            ["prefer", "accept", "disabled"],
        ),
        ({}, "required", "required", []),
    ],
)
def test_tls_plan_goes_one_phase_per_step_from_the_node_furthest_behind(
    deployed, target, start, steps
):
    plan = cf.cassandra_tls_plan(deployed, target)
    assert plan == {"from": start, "steps": steps}
    # Every step is allowed by the guard of the step before.
    reached = dict(deployed)
    for step in steps:
        assert cf.cassandra_tls_step_problems(step, reached) == []
        reached = dict.fromkeys(reached, step)


# ----------------------------------------------------------------------------- permissions

# cqlsh 6.2 against Cassandra 5.0.9: LIST ALL PERMISSIONS OF fleet_dashboard NORECURSIVE, after a
# stray grant by hand.
PERMISSIONS = """
 role            | username        | resource                  | permission
-----------------+-----------------+---------------------------+------------
 fleet_dashboard | fleet_dashboard |      <keyspace fleet_iot> |     SELECT
 fleet_dashboard | fleet_dashboard | <table system_auth.roles> |     SELECT
 fleet_dashboard | fleet_dashboard |           <all keyspaces> |     MODIFY

(3 rows)
"""


def test_permissions_are_parsed_per_row():
    rows = cf.cassandra_permissions(PERMISSIONS)
    assert rows == [
        {"role": "fleet_dashboard", "resource": "<keyspace fleet_iot>", "permission": "SELECT"},
        {
            "role": "fleet_dashboard",
            "resource": "<table system_auth.roles>",
            "permission": "SELECT",
        },
        {"role": "fleet_dashboard", "resource": "<all keyspaces>", "permission": "MODIFY"},
    ]
    assert cf.cassandra_permissions("\n(0 rows)\n") == []


def test_grants_are_made_exact_revoking_what_the_inventory_does_not_list():
    plan = cf.cassandra_grant_plan(PERMISSIONS, "fleet_dashboard", "fleet_iot", ["select"])
    assert plan == {
        "grant": [],
        "revoke": [
            "REVOKE MODIFY ON ALL KEYSPACES FROM fleet_dashboard",
            "REVOKE SELECT ON TABLE system_auth.roles FROM fleet_dashboard",
        ],
    }
    fresh = cf.cassandra_grant_plan("", "fleet_etl", "fleet_iot", ["SELECT", "MODIFY"])
    assert fresh == {
        "grant": [
            "GRANT MODIFY ON KEYSPACE fleet_iot TO fleet_etl",
            "GRANT SELECT ON KEYSPACE fleet_iot TO fleet_etl",
        ],
        "revoke": [],
    }


def test_a_grant_may_name_one_table_of_the_keyspace():
    held = "role | username | resource | permission\n------\n medusa | medusa | <keyspace fleet_iot> | MODIFY\n"
    plan = cf.cassandra_grant_plan(held, "medusa", "fleet_iot", ["MODIFY ON backup_status"])
    assert plan == {
        "grant": ["GRANT MODIFY ON TABLE fleet_iot.backup_status TO medusa"],
        "revoke": ["REVOKE MODIFY ON KEYSPACE fleet_iot FROM medusa"],
    }


@pytest.mark.parametrize(
    ("resource", "cql"),
    [
        ("<all functions in fleet_iot>", "ALL FUNCTIONS IN KEYSPACE fleet_iot"),
        ("<function fleet_iot.f(int, text)>", "FUNCTION fleet_iot.f(int, text)"),
        ("<role admin>", "ROLE admin"),
        ("<all roles>", "ALL ROLES"),
        (
            "<mbean org.apache.cassandra.db:type=Tables>",
            "MBEAN 'org.apache.cassandra.db:type=Tables'",
        ),
    ],
)
def test_resources_convert_to_cql(resource, cql):
    assert cf.cassandra_resource_cql(resource) == cql


def test_an_unknown_resource_is_an_error_not_a_wrong_statement():
    with pytest.raises(ValueError, match="unknown Cassandra resource"):
        cf.cassandra_resource_cql("<keyspace x; DROP>")
