"""Pure logic of the failover: who ingests which fleets when data centers are lost, and whether
a streaming ETL sees the nodes of its DC. Unit-tested in tests/unit/test_failover_filters.py."""

from __future__ import annotations

from typing import Any


def fleet_failover_assignment(
    fleets_by_dc: dict[str, list[str]], failed_dcs: list[str], etl_dcs: list[str]
) -> dict[str, list[str]]:
    """Fleets per DC once ``failed_dcs`` are lost: a failed DC ingests nothing, its fleets go
    to the surviving DCs that run an ETL (``etl_dcs``), one by one in turn, in sorted order.

    With no failed DC this is the inventory's assignment. Raises ValueError when a failed DC is
    unknown or no surviving DC runs an ETL.
    """
    known = set(fleets_by_dc) | set(etl_dcs)
    unknown = sorted(set(failed_dcs) - known)
    if unknown:
        raise ValueError(
            f"unknown data center(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    survivors = sorted(dc for dc in set(etl_dcs) if dc not in failed_dcs)
    moved = [f for dc in sorted(failed_dcs) for f in fleets_by_dc.get(dc, [])]
    if moved and not survivors:
        raise ValueError(f"no surviving data center runs an ETL to take over {', '.join(moved)}")
    assignment = {
        dc: ([] if dc in failed_dcs else list(fleets)) for dc, fleets in fleets_by_dc.items()
    }
    for dc in survivors:
        assignment.setdefault(dc, [])
    for i, fleet in enumerate(moved):
        assignment[survivors[i % len(survivors)]].append(fleet)
    return assignment


def fleet_failover_overrides(
    assignment: dict[str, list[str]],
    fleets_by_dc: dict[str, list[str]],
    host_dcs: dict[str, str],
    failed_dcs: list[str],
) -> dict[str, dict[str, Any] | None]:
    """Per ETL host: the override its failover file must hold (``{"failed_dcs", "ingest"}``),
    or None where the inventory's assignment applies (no file)."""
    out: dict[str, dict[str, Any] | None] = {}
    for host, dc in sorted(host_dcs.items()):
        ingest = list(assignment.get(dc, []))
        same = ingest == list(fleets_by_dc.get(dc, []))
        out[host] = (
            None
            if same or not failed_dcs
            else {
                "failed_dcs": sorted(failed_dcs),
                "ingest": ingest,
            }
        )
    return out


def fleet_etl_unseen(
    stats: dict[str, Any],
    expected_nodes: int | None = None,
    now: float | None = None,
    max_age_s: float = 60.0,
) -> list[str]:
    """What keeps a streaming ETL (its stats file) from writing to every node of its DC: nodes
    it sees down or holds no connection to, nodes of its DC it does not know at all, and stats
    older than ``max_age_s`` at ``now`` (the ETL is not running its loop)."""
    if not stats:
        return ["no stats (is fleet-etl running?)"]
    if now is not None:
        age = float(now) - float(stats.get("updated_at") or 0.0)
        if age > max_age_s:
            return [f"its stats are {age:.0f} s old (is fleet-etl running?)"]
    dc = stats.get("local_dc")
    nodes = [n for n in stats.get("nodes") or [] if n.get("dc") == dc]
    problems = [
        f"{n.get('address')} ({'down' if not n.get('up') else 'no connection'})"
        for n in nodes
        if not n.get("up") or not int(n.get("connections") or 0)
    ]
    if expected_nodes is not None and len(nodes) < int(expected_nodes):
        problems.append(f"knows {len(nodes)} of the {expected_nodes} nodes of {dc}")
    if "nodes" not in stats:
        problems.append("its stats have no node list (an ETL older than this playbook?)")
    return problems


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, object]:
        return {
            "fleet_failover_assignment": fleet_failover_assignment,
            "fleet_failover_overrides": fleet_failover_overrides,
            "fleet_etl_unseen": fleet_etl_unseen,
        }
