"""Helpers shared by the Molecule testinfra suites: run cqlsh/nodetool on a node and parse
the output with the same parsers the Ansible role uses (plugins/filter/cassandra_filters.py),
and the cluster the scenario's inventory describes (plugins/filter/fleet_topology.py, as the
roles derive it), so that no test restates a host, a DC, a seed or a replication factor."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import testinfra.utils.ansible_runner

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugins" / "filter"))

import cassandra_filters
import cassandra_lifecycle  # noqa: F401 (for the tests: cc.cassandra_lifecycle)
import fleet_topology

# On every node's PATH (the cassandra role's documented output), whatever its install paths.
NODETOOL = "nodetool"
CQLSH = "cqlsh"


def inventory() -> str:
    """The Molecule scenario's inventory directory (its hosts file and linked group_vars)."""
    return str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)


def runner() -> testinfra.utils.ansible_runner.AnsibleRunner:
    """The scenario's inventory, read once per test session (testinfra's own cache per inventory):
    each new runner would run `ansible-inventory --list` again."""
    return testinfra.utils.ansible_runner.AnsibleRunner.get_runner(inventory())


def hosts(pattern: str) -> list[str]:
    return runner().get_hosts(pattern)


def get_host(name: str) -> Any:
    """A testinfra host for an inventory host of the scenario (outside the per-host fixture)."""
    import testinfra

    return testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory())


def host_vars(name: str) -> dict[str, Any]:
    return runner().get_variables(name)


def topology(max_rf_var: str = "cassandra_system_keyspaces_max_rf", max_rf: int = 3) -> dict:
    """The cluster as the inventory describes it (nodes, addresses, dc_of, dcs, seeds,
    replication capped by the inventory's `max_rf_var`, else the role default `max_rf`)."""
    nodes, apps = hosts("cassandra"), hosts("fleet_app")
    variables = {name: host_vars(name) for name in nodes + apps}
    first = variables[nodes[0]]
    return fleet_topology.fleet_topology(
        variables,
        nodes,
        apps,
        seeds_per_dc=int(first.get("cassandra_seeds_per_dc", 1)),
        max_rf=int(first.get(max_rf_var, max_rf)),
    )


def resolved(variables: dict[str, Any], value: Any) -> Any:
    """A value as Ansible would template it, for the simple ``{{ name }}`` references inventories
    use (the vault's values): testinfra's variables come untemplated."""
    if isinstance(value, str):
        match = re.fullmatch(r"\{\{\s*(\w+)\s*\}\}", value.strip())
        if match and match.group(1) in variables:
            return resolved(variables, variables[match.group(1)])
    return value


def role_default(role: str, name: str) -> Any:
    """A literal value of a role's defaults/main.yml (e.g. the release the role installs)."""
    import yaml

    return yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())[name]


def address(host: Any) -> str:
    return host.ansible.get_variables()["ansible_host"]


def nodetool(host: Any, *args: str) -> str:
    return host.check_output(" ".join([NODETOOL, *args]))


def status(host: Any) -> list[dict[str, str]]:
    return cassandra_filters.cassandra_nodetool_status(nodetool(host, "status"))


def cql(host: Any, statements: str, *, login: str = "") -> Any:
    """Run CQL through cqlsh on the node (as the admin from root's credentials by default)."""
    return host.run(f'{CQLSH} {login} {address(host)} 9042 -e "{statements}"')


def assert_only_admin_logs_in(host: Any) -> None:
    """The vaulted admin is a superuser that can log in; cassandra/cassandra is refused."""
    ok = cql(host, "SELECT role, is_superuser FROM system_auth.roles WHERE role = 'admin'")
    assert ok.rc == 0, ok.stderr
    assert "True" in ok.stdout
    refused = cql(host, "SELECT now() FROM system.local", login="-u cassandra -p cassandra")
    assert refused.rc != 0
    assert "AuthenticationFailed" in refused.stderr or "Bad credentials" in refused.stderr


SYSTEM_KEYSPACES = ("system_auth", "system_distributed", "system_traces")


def assert_system_replication(host: Any, per_dc: dict[str, int]) -> None:
    """The replicated system keyspaces use NetworkTopologyStrategy with these factors."""
    out = cql(host, "SELECT keyspace_name, replication FROM system_schema.keyspaces").stdout
    replication = cassandra_filters.cassandra_keyspace_replication(out)
    expected = {"class": "org.apache.cassandra.locator.NetworkTopologyStrategy"}
    expected |= {dc: str(rf) for dc, rf in per_dc.items()}
    assert {ks: replication.get(ks) for ks in SYSTEM_KEYSPACES} == dict.fromkeys(
        SYSTEM_KEYSPACES, expected
    )
