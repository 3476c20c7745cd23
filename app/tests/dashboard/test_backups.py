"""The Cluster page's backups: each node's last one, and which need a warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from fleet.dashboard.backups import backup_state
from fleet.queries import BACKUP_COLUMNS

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def latest(*rows: tuple[str, datetime]) -> pd.DataFrame:
    return pd.DataFrame(
        [(node, finished, f"b-{node}", "differential", 10, 1_500_000) for node, finished in rows],
        columns=list(BACKUP_COLUMNS),
    )


def test_a_recent_backup_is_ok_an_old_one_and_a_missing_one_are_warned_about():
    got = backup_state(
        latest(("10.0.0.1", NOW - timedelta(minutes=30)), ("10.0.0.2", NOW - timedelta(hours=5))),
        ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
        max_age_s=2 * 3600,
        now=NOW,
    )
    assert [(r["node"], r["state"], r["age"]) for r in got.rows] == [
        ("10.0.0.1", "ok", "0.5 h"),
        ("10.0.0.2", "too old", "5.0 h"),
        ("10.0.0.3", "none", "-"),
    ]
    assert got.rows[0]["size"] == "1.5 MB, 10 files"
    assert got.problems == [
        "10.0.0.2: last backup b-10.0.0.2 finished 5.0 h ago; the schedule allows 2.0 h",
        "10.0.0.3: no backup recorded",
    ]


def test_no_maximum_age_shows_the_ages_without_warnings():
    got = backup_state(
        latest(("10.0.0.1", NOW - timedelta(days=9))), ["10.0.0.1", "10.0.0.2"], 0, NOW
    )
    assert [r["state"] for r in got.rows] == ["ok", "none"]
    assert got.problems == []


@given(
    st.dictionaries(
        st.sampled_from([f"10.0.0.{i}" for i in range(1, 7)]),
        st.integers(0, 30 * 86400),
    ),
    st.integers(0, 3 * 86400),
)
def test_a_node_is_warned_about_exactly_when_it_has_no_backup_or_one_too_old(ages, max_age):
    nodes = [f"10.0.0.{i}" for i in range(1, 7)]
    frame = latest(*((node, NOW - timedelta(seconds=age)) for node, age in ages.items()))
    got = backup_state(frame, nodes, max_age, NOW)
    assert [r["node"] for r in got.rows] == nodes
    warned = {p.split(":")[0] for p in got.problems}
    expected = {n for n in nodes if n not in ages or ages[n] > max_age} if max_age > 0 else set()
    assert warned == expected
