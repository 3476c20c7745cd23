"""What Medusa prints, read once here for the backup playbooks.

{{ list_backups_stdout | medusa_backup_list }}
-> [{'name': 'manual-20261205T0400Z', 'started': '2026-12-05 04:00:01',
     'finished': '2026-12-05 04:00:40', 'complete': True, 'nodes_finished': None,
     'nodes_total': None}]
"""

from __future__ import annotations

import re
from typing import Any

from ansible.errors import AnsibleFilterError

# `medusa list-backups`: "<name> (started: <ts>, finished: <ts>)" or
# "<name> (started: <ts>, finished: Incomplete [<n> of <m> nodes finished])".
_LINE = re.compile(
    r"^(?P<name>\S+) \(started: (?P<started>[0-9-]+ [0-9:]+), finished: "
    r"(?:(?P<finished>[0-9-]+ [0-9:]+)"
    r"|Incomplete \[(?P<done>\d+) of (?P<total>\d+) nodes finished\])\)$"
)
_NOTE = re.compile(r"^(Incomplete backups found\..*|)$")


def medusa_backup_list(stdout: str) -> list[dict[str, Any]]:
    """The cluster backups of `medusa list-backups [--show-all]`, in its order (oldest first)."""
    backups: list[dict[str, Any]] = []
    for line in str(stdout).splitlines():
        line = line.strip()
        match = _LINE.match(line)
        if match:
            done, total = match["done"], match["total"]
            backups.append(
                {
                    "name": match["name"],
                    "started": match["started"],
                    "finished": match["finished"],
                    "complete": match["finished"] is not None,
                    "nodes_finished": int(done) if done is not None else None,
                    "nodes_total": int(total) if total is not None else None,
                }
            )
        elif not _NOTE.match(line) and not line.startswith("["):
            # Log lines start with "[<time>]"; anything else is a format we do not know.
            raise AnsibleFilterError(f"medusa_backup_list: unexpected line {line!r}")
    return backups


def medusa_backup_nodes(
    runs: list[dict[str, Any]], status: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Each node's run of `medusa backup-node` (tasks/backup_node.yml: node, fqdn, ok, seconds,
    ...) with what the store holds of it (`medusa status --output json`: files, bytes, complete),
    matched by Medusa's name for the node (medusa.ini's fqdn: the node's address)."""
    stored = list((status or {}).get("nodes") or [])
    stored += list((status or {}).get("incomplete_nodes_list") or [])
    merged = []
    for run in runs:
        match = next((s for s in stored if s.get("fqdn") == run.get("fqdn")), None)
        merged.append(
            {
                **run,
                "files": int(match.get("num_objects") or 0) if match else 0,
                "bytes": int(match.get("size") or 0) if match else 0,
                "in_store": "complete"
                if match and match.get("finished")
                else ("incomplete" if match else "missing"),
            }
        )
    return merged


def _tokens(node: dict[str, Any]) -> list[str]:
    return sorted((str(t) for t in node.get("tokens") or []), key=int)


def medusa_topology_diff(backup: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """What differs between the cluster a backup was taken on and the cluster now, one sentence
    each; empty when a restore in place can put every node's files back on the same node.

    Both are `fleet-medusa` outputs (backup-topology, topology: {"nodes": {<address>: {dc, rack,
    tokens}}}; the backup's also says whether each node's backup finished). Compared: the node
    count, which addresses, and each node's DC, rack and tokens."""
    if not backup.get("found", True):
        return [
            "the store holds no backup of that name (`medusa list-backups` on a node lists them)"
        ]
    then: dict[str, Any] = backup.get("nodes") or {}
    now: dict[str, Any] = live.get("nodes") or {}
    differences: list[str] = []
    if len(then) != len(now):
        differences.append(f"the backup has {len(then)} nodes, the cluster {len(now)}")
    for address in sorted(set(then) - set(now)):
        differences.append(f"{address} is in the backup but not in the cluster")
    for address in sorted(set(now) - set(then)):
        differences.append(f"{address} is in the cluster but not in the backup")
    for address in sorted(set(then) & set(now)):
        old, new = then[address], now[address]
        if old.get("finished", True) in (None, False):
            differences.append(f"{address}: its backup did not finish")
        for key in ("dc", "rack"):
            if old.get(key) != new.get(key):
                differences.append(
                    f"{address}: {key} {old.get(key)} in the backup, {new.get(key)} now"
                )
        before, after = _tokens(old), _tokens(new)
        if before != after:
            moved = len(set(before) ^ set(after))
            differences.append(
                f"{address}: tokens differ ({len(before)} in the backup, {len(after)} now, "
                f"{moved} not in both)"
            )
    return differences


def medusa_schema_diff(backup: dict[str, Any], live: dict[str, Any]) -> dict[str, list[str]]:
    """What an in-place restore does to the schema outside the system keyspaces. Medusa puts the
    backup's system keyspaces back with any restore (a keyspace's too), so the schema becomes the
    backup's: "back" lists the tables dropped since that it recreates, "gone" the tables created
    since that it removes from the schema (their files stay on disk). `fleet-medusa`
    backup-topology and topology outputs in, "<keyspace>.<table>" names out."""

    def user(tables: list[str]) -> set[str]:
        return {t for t in tables or [] if not str(t).startswith("system")}

    then, now = user(backup.get("tables") or []), user(live.get("tables") or [])
    return {"back": sorted(then - now), "gone": sorted(now - then)}


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, object]:
        return {
            "medusa_backup_list": medusa_backup_list,
            "medusa_backup_nodes": medusa_backup_nodes,
            "medusa_topology_diff": medusa_topology_diff,
            "medusa_schema_diff": medusa_schema_diff,
        }
