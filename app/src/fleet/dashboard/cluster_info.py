"""The Cluster page's facts, from the driver's cluster metadata (no query is sent)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

NODE_COLUMNS = ("datacenter", "rack", "address", "state", "version", "host_id")


@dataclass(frozen=True, slots=True)
class ClusterView:
    nodes: pd.DataFrame  # one row per node, by DC, rack and address
    keyspace: str
    replication: dict[str, int] | None  # RF per DC; None when the keyspace does not exist
    strategy: str | None

    @property
    def rows(self) -> int:
        return len(self.nodes)

    @property
    def hosts(self) -> tuple[str, ...]:
        """Each node's address without the port (the driver's endpoints read address:port), as
        TLS handshakes and Medusa's records name the nodes."""
        return tuple(sorted({str(a).rsplit(":", 1)[0] for a in self.nodes["address"]}))

    @property
    def datacenters(self) -> list[str]:
        return sorted(set(self.nodes["datacenter"]))

    def nodes_up(self) -> int:
        return int((self.nodes["state"] == "UP").sum())

    def problems(self, expected: dict[str, int]) -> list[str]:
        """Differences an operator should look at: replication not as configured, replicas in a
        DC without nodes, a DC with fewer nodes up than its replication factor."""
        if self.replication is None:
            return [f"keyspace {self.keyspace} does not exist: run `fleet schema apply`"]
        found: list[str] = []
        if self.replication != expected:
            found.append(
                f"replication of {self.keyspace} is {self.replication}, "
                f"FLEET_REPLICATION says {expected}"
            )
        for dc, rf in sorted(self.replication.items()):
            up = int(((self.nodes["datacenter"] == dc) & (self.nodes["state"] == "UP")).sum())
            if dc not in self.datacenters:
                found.append(f"{dc} has {rf} replica(s) configured but no node")
            elif up < rf:
                found.append(f"{dc}: {up} node(s) up for RF {rf}: quorum reads and writes fail")
        return found


def _state(host: Any) -> str:
    if host.is_up is None:
        return "UNKNOWN"
    return "UP" if host.is_up else "DOWN"


def describe_cluster(metadata: Any, keyspace: str) -> ClusterView:
    """``metadata`` is ``Cluster.metadata``: hosts with DC, rack and state, and keyspaces."""
    rows = [
        (
            h.datacenter or "?",
            h.rack or "?",
            str(h.endpoint),
            _state(h),
            str(h.release_version or ""),
            str(h.host_id or ""),
        )
        for h in metadata.all_hosts()
    ]
    nodes = pd.DataFrame.from_records(rows, columns=list(NODE_COLUMNS))
    nodes = nodes.sort_values(["datacenter", "rack", "address"], ignore_index=True)
    ks = metadata.keyspaces.get(keyspace)
    if ks is None:
        return ClusterView(nodes, keyspace, None, None)
    strategy = ks.replication_strategy
    factors = getattr(strategy, "dc_replication_factors", None)
    if factors is None:  # SimpleStrategy: one factor for the whole cluster
        factors = {"(all)": getattr(strategy, "replication_factor", 0)}
    return ClusterView(
        nodes,
        keyspace,
        {dc: int(rf) for dc, rf in factors.items()},
        type(strategy).__name__,
    )
