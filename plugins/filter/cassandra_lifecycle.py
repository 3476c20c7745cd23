"""The go/no-go decisions of the node lifecycle playbooks (replace, add, decommission), as pure
functions of what the nodes report, so every refusal is unit-tested on captured output.

    {{ views | cassandra_replace_problems(dead_address, other_addresses) }}
    {{ status | cassandra_decommission_problems(address, replication, free_bytes) }}

A view or status is `nodetool status` parsed by `cassandra_nodetool_status`
(plugins/filter/cassandra_filters.py).
    {{ '1.5 MiB' | cassandra_size_bytes }}
    {{ load_bytes | cassandra_stream_room }}
    {{ ring_text | cassandra_ring_tokens }}
    {{ status_text | cassandra_ownership }}
    {{ owned | cassandra_ownership_problems(replication) }}

Each *_problems filter returns a list of sentences, empty when the operation may go on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_UNITS = {
    "bytes": 1,
    "B": 1,
    "KiB": 1 << 10,
    "MiB": 1 << 20,
    "GiB": 1 << 30,
    "TiB": 1 << 40,
    "KB": 1 << 10,
    "MB": 1 << 20,
    "GB": 1 << 30,
    "TB": 1 << 40,
}
# Free space a node needs for data streamed to it (a replacement, a decommission's receivers),
# as a multiple of that data: compactions of the streamed SSTables need room of their own.
STREAM_FREE_MARGIN = 1.5

_SIZE = re.compile(r"^\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>[A-Za-z]+)?\s*$")
_RING_LINE = re.compile(
    r"^(?P<address>\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]+:[0-9a-fA-F:]*)\s+(?P<rack>\S+)\s+"
    r"(?P<status>Up|Down|\?)\s+(?P<state>Normal|Leaving|Joining|Moving)\s+"
    r"(?P<load>\?|\d+(?:\.\d+)?\s*\S+)\s+(?P<owns>\S+)\s+(?P<token>-?\d+)\s*$"
)


def cassandra_size_bytes(text: str) -> int:
    """A size as nodetool prints it (`121.45 KiB`, `1.5 MiB`, `0 bytes`) in bytes; `?` (not
    known yet) is 0."""
    if text is None or str(text).strip() in ("", "?"):
        return 0
    match = _SIZE.match(str(text))
    if not match or (match.group("unit") or "bytes") not in _UNITS:
        raise ValueError(f"cassandra_size_bytes: not a size: {text!r}")
    return int(float(match.group("value")) * _UNITS[match.group("unit") or "bytes"])


def cassandra_stream_room(load_bytes: int | str, margin: float = STREAM_FREE_MARGIN) -> int:
    """Free bytes a node needs to receive `load_bytes` of streamed data."""
    return int(int(load_bytes) * margin)


def cassandra_ring_tokens(
    text: str, address: str | None = None
) -> dict[str, list[str]] | list[str]:
    """`nodetool ring`: {address: [its tokens, sorted as integers]}; given an address, that
    node's tokens only ([] when the ring does not list it)."""
    tokens: dict[str, list[int]] = {}
    for line in text.splitlines():
        match = _RING_LINE.match(line.strip())
        if match:
            tokens.setdefault(match.group("address"), []).append(int(match.group("token")))
    ring = {node: [str(t) for t in sorted(values)] for node, values in tokens.items()}
    return ring if address is None else ring.get(address, [])


Status = Sequence[Mapping[str, str]]


def cassandra_replace_problems(
    views: Mapping[str, Status], dead: str, others: Sequence[str], new: str | None = None
) -> list[str]:
    """Why the node at `dead` must not be replaced now, from every live node's parsed `nodetool
    status` (views: {viewer: nodes}): it must be DN in every view (a node some peer still sees
    up is not dead: replacing it would fight it for its tokens), and every other node (`others`,
    the addresses the inventory expects besides the dead one and its replacement) UN in every
    view (a replacement streams from the replicas: a second node down may hold the only copy).
    A replacement on another host (`new`, its address) must be unknown to every view: a node
    that is or was in the ring would bring its own tokens."""
    problems: list[str] = []
    if not views:
        return ["no live node answered nodetool status"]
    for viewer, view in views.items():
        seen = {n["address"]: n["status_state"] for n in view}
        if dead not in seen:
            problems.append(f"{viewer} does not know {dead}: nothing to replace there")
        elif seen[dead] != "DN":
            problems.append(
                f"{viewer} sees {dead} as {seen[dead]}, not DN: it is not dead (stop it first, or "
                "wait until every peer has convicted it)"
            )
        if new is not None and new != dead and new in seen:
            problems.append(
                f"{viewer} already knows the replacement {new} (as {seen[new]}): replace onto a "
                "host that was never in the ring (or decommission it and wipe it first)"
            )
        for address in others:
            state = seen.get(address, "absent")
            if state != "UN":
                problems.append(
                    f"{viewer} sees {address} as {state}: every other node must be UN before a "
                    "replacement streams from them"
                )
    return problems


def cassandra_decommission_problems(
    nodes: Status,
    node: str,
    replication: Mapping[str, Mapping[str, str]],
    free_bytes: Mapping[str, int],
    margin: float = STREAM_FREE_MARGIN,
) -> list[str]:
    """Why the node at `node` must not be decommissioned, from one parsed `nodetool status`,
    every keyspace's replication as the cluster holds it (replication: {keyspace: {class, <dc>:
    rf, ...}}, system_auth included) and the free bytes of the other nodes' data directories
    (free_bytes: {address: bytes}).

    Refused: the node unknown or not UN; any other node not UN; a keyspace whose replication
    factor in the node's DC (SimpleStrategy: in the cluster) would exceed the nodes left there;
    a remaining node of the DC with less free space than its share of the node's load (load /
    nodes left in the DC) times `margin`."""
    me = next((n for n in nodes if n["address"] == node), None)
    if me is None:
        return [f"{node} is not in the cluster (nodetool status does not list it)"]
    problems: list[str] = []
    if me["status_state"] != "UN":
        problems.append(f"{node} is {me['status_state']}, not UN: a decommission streams from it")
    problems += [
        f"{n['address']} is {n['status_state']}: every node must be UN during a decommission"
        for n in nodes
        if n["address"] != node and n["status_state"] != "UN"
    ]
    dc = me["dc"]
    left = [n for n in nodes if n["dc"] == dc and n["address"] != node]
    for keyspace, options in sorted(replication.items()):
        strategy = str(options.get("class", "")).rsplit(".", 1)[-1]
        if strategy == "NetworkTopologyStrategy":
            rf, room, where = int(options.get(dc, 0) or 0), len(left), f"{dc}"
        elif strategy == "SimpleStrategy":
            rf, room, where = int(options.get("replication_factor", 0)), len(nodes) - 1, "cluster"
        else:  # LocalStrategy, EverywhereStrategy: nothing to keep
            continue
        if rf > room:
            problems.append(
                f"keyspace {keyspace} has replication factor {rf} in {where}: {room} node(s) would "
                f"be left (lower it first: ALTER KEYSPACE {keyspace} WITH replication = ...)"
            )
    if left:
        share = cassandra_stream_room(cassandra_size_bytes(me["load"]) // len(left), margin)
        for n in left:
            free = free_bytes.get(n["address"])
            if free is None:
                problems.append(f"free space of {n['address']} unknown")
            elif free < share:
                problems.append(
                    f"{n['address']} has {free} bytes free, less than its share of {node}'s load "
                    f"({int(share)} bytes with a {margin}x margin)"
                )
    return problems


def cassandra_ownership(status: Status) -> dict[str, float]:
    """Effective ownership summed per DC, from `nodetool status <keyspace>` parsed by
    `cassandra_nodetool_status` ({dc: percent}); a node whose share is unknown (`?`) counts 0."""
    owned: dict[str, float] = {}
    for node in status:
        share = node["owns"].rstrip("%")
        value = float(share) if share.replace(".", "", 1).isdigit() else 0.0
        owned[node["dc"]] = round(owned.get(node["dc"], 0.0) + value, 1)
    return owned


def cassandra_ownership_problems(
    owned: Mapping[str, Mapping[str, float]],
    replication: Mapping[str, Mapping[str, str]],
    tolerance: float = 0.5,
) -> list[str]:
    """Keyspaces whose effective ownership in a DC is not replication factor x 100 %.

    owned: {keyspace: {dc: percent}} (cassandra_ownership of each keyspace's status); replication
    as the cluster holds it ({keyspace: {class, <dc>: rf}}). Every DC of a NetworkTopologyStrategy
    keyspace must own each range RF times: less means ranges without their replicas (a node
    left or joined without streaming), more means ranges counted twice. nodetool prints shares
    rounded to 0.1 %, hence the tolerance."""
    problems: list[str] = []
    for keyspace, per_dc in sorted(owned.items()):
        options = replication.get(keyspace)
        if options is None:
            problems.append(f"keyspace {keyspace} is not in the cluster's schema")
            continue
        wanted = {
            dc: 100.0 * int(rf)
            for dc, rf in options.items()
            if dc not in ("class", "replication_factor")
        }
        for dc in sorted(set(wanted) | set(per_dc)):
            got, want = per_dc.get(dc, 0.0), wanted.get(dc, 0.0)
            if abs(got - want) > tolerance:
                problems.append(
                    f"keyspace {keyspace}: {dc} owns {got:.1f} % of the ranges, "
                    f"{want:.0f} % expected (replication factor x 100 %)"
                )
    return problems


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, object]:
        return {
            "cassandra_size_bytes": cassandra_size_bytes,
            "cassandra_stream_room": cassandra_stream_room,
            "cassandra_ring_tokens": cassandra_ring_tokens,
            "cassandra_replace_problems": cassandra_replace_problems,
            "cassandra_decommission_problems": cassandra_decommission_problems,
            "cassandra_ownership": cassandra_ownership,
            "cassandra_ownership_problems": cassandra_ownership_problems,
        }
