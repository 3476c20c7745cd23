"""Each node's last successful backup, as the Cluster page shows it: Medusa on the node records
every backup it finishes (table backup_status); a node with none, or whose last one is older
than the schedule allows (FLEET_BACKUP_MAX_AGE, computed by role fleet_dashboard from the
backup timer's calendar), gets a warning."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd


@dataclass(frozen=True, slots=True)
class BackupState:
    rows: list[dict[str, object]]  # one per node, in the order given
    problems: list[str]  # one sentence per node that needs a backup


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


def backup_state(
    latest: pd.DataFrame, nodes: Sequence[str], max_age_s: float, now: datetime
) -> BackupState:
    """``latest``: each node's latest row of backup_status (queries.latest_backups; finished_at
    in UTC). ``max_age_s`` 0: ages are shown, never warned about."""
    by_node = {str(r["node"]): r for r in latest.to_dict("records")} if len(latest) else {}
    rows: list[dict[str, object]] = []
    problems: list[str] = []
    for node in nodes:
        last = by_node.get(node)
        if last is None:
            rows.append(
                {
                    "node": node,
                    "backup": "-",
                    "finished": "-",
                    "age": "-",
                    "size": "-",
                    "state": "none",
                }
            )
            if max_age_s > 0:
                problems.append(f"{node}: no backup recorded")
            continue
        finished = pd.Timestamp(last["finished_at"]).to_pydatetime()
        age_s = max(0.0, (now - finished).total_seconds())
        too_old = max_age_s > 0 and age_s > max_age_s
        rows.append(
            {
                "node": node,
                "backup": str(last["backup_name"]),
                "finished": finished.strftime("%Y-%m-%d %H:%M UTC"),
                "age": _hours(age_s),
                "size": f"{int(last['bytes'] or 0) / 1e6:.1f} MB, {int(last['files'] or 0)} files",
                "state": "too old" if too_old else "ok",
            }
        )
        if too_old:
            problems.append(
                f"{node}: last backup {last['backup_name']} finished {_hours(age_s)} ago; "
                f"the schedule allows {_hours(max_age_s)}"
            )
    return BackupState(rows, problems)
