"""How often a systemd calendar event fires, from `systemd-analyze calendar --iterations=N`
run with TZ=UTC (systemd's own parser: the schedule is never re-implemented here).

    {{ analyze.stdout | fleet_calendar_max_gap }}  -> 1800 for "*-*-* *:00,30:00"

The longest gap between consecutive elapses: for an irregular schedule (weekdays only, say),
the longest a healthy schedule leaves between two backups.
"""

from __future__ import annotations

import re
from datetime import datetime
from itertools import pairwise

from ansible.errors import AnsibleFilterError

_ELAPSE = re.compile(
    r"^\s*(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC\s*$"
)


def fleet_calendar_max_gap(stdout: str) -> int:
    """Seconds of the longest gap between the elapses listed (at least two needed)."""
    times = [
        datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
        for m in map(_ELAPSE.match, str(stdout).splitlines())
        if m
    ]
    if len(times) < 2:
        raise AnsibleFilterError(
            "fleet_calendar_max_gap: fewer than two elapses in the output of "
            "`systemd-analyze calendar --iterations=N` (run it with TZ=UTC and N >= 2)"
        )
    return int(max((b - a).total_seconds() for a, b in pairwise(times)))


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, object]:
        return {"fleet_calendar_max_gap": fleet_calendar_max_gap}
