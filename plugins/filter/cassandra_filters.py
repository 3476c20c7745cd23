"""Parsers for Cassandra tool output, shared by the role's tasks and the operations playbooks.

Each filter turns the text of one command into plain data so that health gates compare
columns instead of grepping strings.
"""

from __future__ import annotations

import ast
import re

_STATUS_LINE = re.compile(
    r"^(?P<status>[UD])(?P<state>[NLJM])\s+(?P<address>\S+)\s+"
    r"(?P<load>\?|[\d.]+\s*\S+)\s+(?P<tokens>\d+)\s+(?P<owns>\S+)\s+"
    r"(?P<host_id>[0-9a-f-]{36})\s+(?P<rack>\S+)\s*$"
)
_DC_LINE = re.compile(r"^Datacenter:\s*(?P<dc>\S+)")
_SCHEMA_LINE = re.compile(r"^\s+(?P<version>[0-9a-fA-F-]{36}|UNREACHABLE):\s*\[(?P<hosts>.*)\]")
_KEYSPACE_ROW = re.compile(r"^\s*(?P<name>\w+)\s*\|\s*(?P<replication>\{.*\})\s*$")


def cassandra_nodetool_status(text: str) -> list[dict[str, str]]:
    """Parse `nodetool status` into one dict per node.

    Keys: dc, status (U/D), state (N/L/J/M), status_state (e.g. UN), address, load, tokens,
    owns, host_id, rack. Lines that are not node rows are ignored.
    """
    nodes: list[dict[str, str]] = []
    dc = ""
    for line in text.splitlines():
        dc_match = _DC_LINE.match(line)
        if dc_match:
            dc = dc_match.group("dc")
            continue
        row = _STATUS_LINE.match(line.strip())
        if row:
            node = {key: value.strip() for key, value in row.groupdict().items()}
            node["dc"] = dc
            node["status_state"] = node["status"] + node["state"]
            nodes.append(node)
    return nodes


def cassandra_schema_versions(text: str) -> dict[str, list[str]]:
    """Parse the `Schema versions:` block of `nodetool describecluster`.

    Returns {schema_version: [addresses]}; UNREACHABLE nodes appear under that key.
    """
    versions: dict[str, list[str]] = {}
    in_block = False
    for line in text.splitlines():
        if line.strip().startswith("Schema versions:"):
            in_block = True
            continue
        if not in_block:
            continue
        match = _SCHEMA_LINE.match(line)
        if match:
            hosts = [h.strip() for h in match.group("hosts").split(",") if h.strip()]
            versions[match.group("version")] = hosts
        elif line.strip() and not line.startswith(" "):
            break
    return versions


def cassandra_schema_agreed(text: str, members: list[str] | None = None) -> bool:
    """`nodetool describecluster` shows one schema version and no UNREACHABLE node.

    With `members` (the ring's addresses), an unreachable address outside the ring is ignored:
    gossip keeps a decommissioned or replaced node's address for days after it left.
    """
    versions = cassandra_schema_versions(text)
    unreachable = versions.pop("UNREACHABLE", [])
    if members is not None:
        unreachable = [address for address in unreachable if address in members]
    return len(versions) == 1 and not unreachable


def cassandra_describecluster(text: str) -> dict[str, str]:
    """Parse the `Cluster Information:` header of `nodetool describecluster`."""
    info: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"^\s+(Name|Snitch|DynamicEndPointSnitch|Partitioner):\s*(.+)$", line)
        if match:
            info[match.group(1).lower()] = match.group(2).strip()
    return info


def cassandra_keyspace_replication(text: str) -> dict[str, dict[str, str]]:
    """Parse `SELECT keyspace_name, replication FROM system_schema.keyspaces` from cqlsh."""
    result: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        match = _KEYSPACE_ROW.match(line)
        if match:
            result[match.group("name")] = {
                str(k): str(v) for k, v in ast.literal_eval(match.group("replication")).items()
            }
    return result


def cassandra_pending_compactions(text: str) -> int:
    """`pending tasks: N` of `nodetool compactionstats` (-1 when the line is missing)."""
    match = re.search(r"^pending tasks:?\s+(\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else -1


def _normalise(replication: dict[str, object]) -> dict[str, str]:
    out = {str(k): str(v) for k, v in replication.items()}
    out["class"] = out.get("class", "").rsplit(".", 1)[-1]
    return out


def cassandra_keyspaces_needing(
    text: str, keyspaces: list[str], wanted: dict[str, object]
) -> list[str]:
    """Keyspaces (of those given) whose replication differs from `wanted`."""
    current = cassandra_keyspace_replication(text)
    target = _normalise(wanted)
    return [ks for ks in keyspaces if _normalise(current.get(ks, {})) != target]


# TLS of a cluster, in the order a running cluster goes through them (one step per rolling
# restart, playbooks/enable_tls.yml): nodes first accept TLS from peers and clients, then send it
# to peers, then refuse plaintext. Going down is the same steps in reverse.
TLS_PHASES = ("disabled", "accept", "prefer", "required")
_PEM_FACTORY = {"class_name": "org.apache.cassandra.security.PEMBasedSslContextFactory"}


def cassandra_tls_options(phase: str, keystore: str, truststore: str) -> dict[str, object]:
    """The cassandra.yaml encryption settings of a TLS phase (see TLS_PHASES).

    Clients (9042) need no certificate of their own; nodes (7000) must present one signed by
    the deployment's CA, for the address they connect from (require_endpoint_verification).
    """
    if phase not in TLS_PHASES:
        raise ValueError(f"unknown TLS phase {phase!r}; use one of {', '.join(TLS_PHASES)}")
    if phase == "disabled":
        return {
            "client_encryption_options": {"enabled": False},
            "server_encryption_options": {"internode_encryption": "none"},
        }
    stores = {
        "ssl_context_factory": dict(_PEM_FACTORY),
        "keystore": keystore,
        "truststore": truststore,
    }
    return {
        "client_encryption_options": {
            **stores,
            "enabled": True,
            "optional": phase != "required",
            "require_client_auth": False,
        },
        "server_encryption_options": {
            **stores,
            "internode_encryption": "none" if phase == "accept" else "all",
            # Unset, Cassandra makes it true whenever a keystore exists: always explicit here.
            "optional": phase != "required",
            "require_client_auth": True,
            "require_endpoint_verification": True,
        },
    }


def cassandra_tls_phase(config: dict[str, object] | None) -> str:
    """The TLS phase a deployed cassandra.yaml (parsed) is in; "disabled" for none at all."""
    config = config or {}
    client = config.get("client_encryption_options") or {}
    server = config.get("server_encryption_options") or {}
    if not isinstance(client, dict) or not isinstance(server, dict):
        return "disabled"
    internode = str(server.get("internode_encryption", "none"))
    if internode == "none":
        return "accept" if client.get("enabled") is True else "disabled"
    if server.get("optional") is False and client.get("optional") is False:
        return "required"
    return "prefer"


def cassandra_tls_step_problems(target: str, deployed: dict[str, str]) -> list[str]:
    """Nodes that cannot go to `target` in one rolling restart: their deployed phase (nodes
    without data are absent from `deployed`) is more than one step away."""
    if target not in TLS_PHASES:
        return [f"unknown TLS phase {target!r}; use one of {', '.join(TLS_PHASES)}"]
    wanted = TLS_PHASES.index(target)
    problems = []
    for host, phase in sorted(deployed.items()):
        current = TLS_PHASES.index(phase) if phase in TLS_PHASES else 0
        if abs(current - wanted) > 1:
            step = TLS_PHASES[current + (1 if wanted > current else -1)]
            problems.append(f"{host} is at {phase!r}: its next step towards {target!r} is {step!r}")
    return problems


def cassandra_tls_plan(deployed: dict[str, str], target: str) -> dict[str, object]:
    """The rolling steps from the nodes' deployed phases to `target`: from the phase furthest
    behind (every node has reached it), one phase per step; [] when every node is there."""
    if target not in TLS_PHASES:
        raise ValueError(f"unknown TLS phase {target!r}; use one of {', '.join(TLS_PHASES)}")
    wanted = TLS_PHASES.index(target)
    current = [TLS_PHASES.index(p) if p in TLS_PHASES else 0 for p in deployed.values()] or [wanted]
    start = max(current, key=lambda index: abs(index - wanted))
    step = 1 if wanted >= start else -1
    return {
        "from": TLS_PHASES[start],
        "steps": [TLS_PHASES[i] for i in range(start + step, wanted + step, step)],
    }


_PERMISSION_ROW = re.compile(
    r"^\s*(?P<role>\S+)\s*\|\s*(?P<username>\S+)\s*\|\s*(?P<resource><[^>]*>)\s*\|\s*"
    r"(?P<permission>[A-Z]+)\s*$"
)
_RESOURCES = (
    (re.compile(r"^<all keyspaces>$"), "ALL KEYSPACES"),
    (re.compile(r"^<keyspace (\w+)>$"), "KEYSPACE {0}"),
    (re.compile(r"^<table (\w+\.\w+)>$"), "TABLE {0}"),
    (re.compile(r"^<all roles>$"), "ALL ROLES"),
    (re.compile(r"^<role (\w+)>$"), "ROLE {0}"),
    (re.compile(r"^<all functions>$"), "ALL FUNCTIONS"),
    (re.compile(r"^<all functions in (\w+)>$"), "ALL FUNCTIONS IN KEYSPACE {0}"),
    (re.compile(r"^<function (\w+\.\w+\([\w, <>]*\))>$"), "FUNCTION {0}"),
    (re.compile(r"^<all mbeans>$"), "ALL MBEANS"),
    (re.compile(r"^<mbean ([^'>]+)>$"), "MBEAN '{0}'"),
)


def cassandra_resource_cql(resource: str) -> str:
    """`<keyspace fleet_iot>` (as LIST PERMISSIONS shows it) -> `KEYSPACE fleet_iot` (CQL)."""
    for pattern, template in _RESOURCES:
        match = pattern.match(resource.strip())
        if match:
            return template.format(*match.groups())
    raise ValueError(f"unknown Cassandra resource {resource!r}")


def cassandra_permissions(text: str) -> list[dict[str, str]]:
    """Rows of cqlsh `LIST ALL PERMISSIONS OF <role> NORECURSIVE`: role, resource, permission."""
    return [
        {k: m.group(k) for k in ("role", "resource", "permission")}
        for m in map(_PERMISSION_ROW.match, text.splitlines())
        if m and m.group("role") != "role"
    ]


def cassandra_grant_plan(
    text: str, role: str, keyspace: str, wanted: list[str]
) -> dict[str, list[str]]:
    """Statements that make `role`'s own permissions exactly `wanted` on `keyspace`: GRANT the
    missing ones, REVOKE everything else it holds (any resource), from LIST ALL PERMISSIONS.
    An entry of `wanted` is a permission on the keyspace ("SELECT") or on one of its tables
    ("MODIFY ON backup_status")."""
    held = {
        (p["resource"], p["permission"]) for p in cassandra_permissions(text) if p["role"] == role
    }
    target = set()
    for entry in wanted:
        permission, _, table = str(entry).partition(" ON ")
        resource = f"<table {keyspace}.{table.strip()}>" if table else f"<keyspace {keyspace}>"
        target.add((resource, permission.strip().upper()))
    return {
        "grant": [
            f"GRANT {perm} ON {cassandra_resource_cql(res)} TO {role}"
            for res, perm in sorted(target - held)
        ],
        "revoke": [
            f"REVOKE {perm} ON {cassandra_resource_cql(res)} FROM {role}"
            for res, perm in sorted(held - target)
        ],
    }


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, object]:
        return {
            "cassandra_nodetool_status": cassandra_nodetool_status,
            "cassandra_schema_versions": cassandra_schema_versions,
            "cassandra_schema_agreed": cassandra_schema_agreed,
            "cassandra_describecluster": cassandra_describecluster,
            "cassandra_keyspace_replication": cassandra_keyspace_replication,
            "cassandra_keyspaces_needing": cassandra_keyspaces_needing,
            "cassandra_pending_compactions": cassandra_pending_compactions,
            "cassandra_tls_options": cassandra_tls_options,
            "cassandra_tls_phase": cassandra_tls_phase,
            "cassandra_tls_step_problems": cassandra_tls_step_problems,
            "cassandra_tls_plan": cassandra_tls_plan,
            "cassandra_permissions": cassandra_permissions,
            "cassandra_resource_cql": cassandra_resource_cql,
            "cassandra_grant_plan": cassandra_grant_plan,
        }
