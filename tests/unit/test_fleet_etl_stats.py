"""The ETL counters' differences (plugins/filter/fleet_etl_stats.py) the operations report."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "filter"))

from fleet_etl_stats import (
    COUNTERS,
    fleet_etl_counter_delta,
    fleet_etl_losses,
    fleet_etl_summary,
    fleet_etl_within,
)


def test_counter_delta() -> None:
    before = {"records_written": 10, "records_failed": 1, "degraded_writes": 0, "spooled": 4}
    after = {"records_written": 60, "records_failed": 1, "degraded_writes": 7, "retries": 9}
    assert fleet_etl_counter_delta(after, before) == {
        "records_written": 50,
        "records_failed": 0,
        "degraded_writes": 7,
        "retries": 9,
        "requests": 0,
        # lower than before: the ETL restarted (a failover) and counts from 0 again
        "spooled": 0,
        "replayed": 0,
        "dropped": 0,
    }
    # the totals, kept across the ETL's restarts, win when both snapshots have them
    before["totals"] = {"records_written": 10, "spooled": 4}
    after["totals"] = {"records_written": 75, "spooled": 9}
    delta = fleet_etl_counter_delta(after, before)
    assert (delta["records_written"], delta["spooled"]) == (65, 5)


@given(
    st.dictionaries(st.sampled_from(COUNTERS), st.integers(0, 10**9)),
    st.dictionaries(st.sampled_from(COUNTERS), st.integers(0, 10**9)),
)
def test_a_delta_is_never_negative_nor_more_than_the_later_count(before, after) -> None:
    delta = fleet_etl_counter_delta(after, before)
    assert set(delta) == set(COUNTERS)
    assert all(0 <= delta[key] <= after.get(key, 0) for key in COUNTERS)


def test_summary_sums_each_hosts_delta_and_is_none_without_an_etl() -> None:
    before = {"records_written": 10, "records_failed": 0, "spooled": 0}
    hostvars = {
        "app-1": {
            "fleet_etl_stats": {"before": before, "after": {**before, "records_written": 30}}
        },
        "app-2": {
            "fleet_etl_stats": {
                "before": before,
                "after": {**before, "records_written": 15, "records_failed": 2},
            }
        },
    }
    summary = fleet_etl_summary(["app-1", "app-2"], hostvars)
    assert (summary["records_written"], summary["records_failed"], summary["spooled"]) == (25, 2, 0)
    assert [(h["host"], h["records_written"]) for h in summary["hosts"]] == [
        ("app-1", 20),
        ("app-2", 5),
    ]
    assert (
        fleet_etl_summary(["app-1"], hostvars, before="after", after="after")["hosts"][0][
            "records_written"
        ]
        == 0
    )
    assert fleet_etl_summary([], hostvars) is None


def test_verdict_counts_failed_and_spooled_writes_against_the_policy() -> None:
    zero = dict.fromkeys(COUNTERS, 0)
    summary = {
        **zero,
        "records_written": 40,
        "records_failed": 1,
        "spooled": 2,
        "hosts": [
            {"host": "app-1", **zero, "records_written": 20, "records_failed": 1},
            {"host": "app-2", **zero, "records_written": 20, "spooled": 2},
        ],
    }
    assert not fleet_etl_within(summary)
    assert not fleet_etl_within(summary, 2)
    assert fleet_etl_within(summary, "3")  # as Ansible passes an inventory value
    assert fleet_etl_within(None)  # no ETL: nothing measured, nothing lost
    assert fleet_etl_losses(summary) == (
        "the ETLs wrote 40, failed 1 writes and spooled 2 readings "
        "(app-1: 1 failed, 0 spooled, app-2: 0 failed, 2 spooled)"
    )
    assert fleet_etl_losses(None) == "no ETL streamed"


def test_the_counters_are_those_the_etl_keeps_in_its_stats_file() -> None:
    """The filter runs on the controller without the app; its list is the stats file's `totals`
    (fleet.metrics.TOTALS), checked here so that the two cannot drift."""
    from fleet.metrics import TOTALS

    assert COUNTERS == TOTALS
