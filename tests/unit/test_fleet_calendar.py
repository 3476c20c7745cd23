"""How often a backup schedule fires, read from systemd-analyze's own output."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "filter"))

from fleet_calendar import fleet_calendar_max_gap

# systemd 252 (Debian 12), TZ=UTC, --iterations=4.
HALF_HOURLY = """\
  Original form: *-*-* *:00,30:00
Normalized form: *-*-* *:00,30:00
    Next elapse: Sat 2026-12-05 07:30:00 UTC
       From now: 20min left
       Iter. #2: Sat 2026-12-05 08:00:00 UTC
       From now: 50min left
       Iter. #3: Sat 2026-12-05 08:30:00 UTC
       From now: 1h 20min left
       Iter. #4: Sat 2026-12-05 09:00:00 UTC
       From now: 1h 50min left
"""

WEEKDAYS = """\
    Next elapse: Fri 2026-12-11 02:00:00 UTC
       Iter. #2: Mon 2026-12-14 02:00:00 UTC
       Iter. #3: Tue 2026-12-15 02:00:00 UTC
"""


def test_a_regular_schedule_gives_its_period():
    assert fleet_calendar_max_gap(HALF_HOURLY) == 1800


def test_an_irregular_schedule_gives_its_longest_gap():
    assert fleet_calendar_max_gap(WEEKDAYS) == 3 * 86400


def test_one_elapse_is_not_enough():
    with pytest.raises(AnsibleFilterError, match="fewer than two"):
        fleet_calendar_max_gap("    Next elapse: Fri 2026-12-11 02:00:00 UTC\n")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
@pytest.mark.parametrize(
    ("schedule", "gap"),
    [("*-*-* *:00,30:00", 1800), ("*-*-* 02:00:00", 86400), ("hourly", 3600)],
)
def test_systemd_analyze_output_as_this_machine_prints_it(schedule, gap):
    out = subprocess.run(
        ["systemd-analyze", "calendar", "--iterations=6", schedule],
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert fleet_calendar_max_gap(out) == gap
