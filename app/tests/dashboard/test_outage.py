"""The outage's plain parts: error text, tracker, last good results, banner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from cassandra import ConsistencyLevel, InvalidRequest, OperationTimedOut, Unavailable
from cassandra.cluster import NoHostAvailable
from cassandra.protocol import OverloadedErrorMessage

from fleet.dashboard.outage import (
    OUTAGE_ERRORS,
    LastGood,
    Outage,
    OutageTracker,
    banner_markdown,
    clock,
    describe_error,
    elapsed,
)
from fleet.dashboard.settings import AppHost
from fleet.session import ConnectionCheckError

T0 = datetime(2025, 6, 16, 8, 30, 5, tzinfo=UTC)


def test_no_host_available_on_one_line_with_each_host() -> None:
    refused = ConnectionRefusedError(
        111, "Tried connecting to [('10.0.0.1', 9042)]. Last error: Connection refused"
    )
    exc = NoHostAvailable(
        "Unable to connect to any servers",
        {"10.0.0.1:9042": refused, "10.0.0.2:9042": OSError(None, "timed out")},
    )
    assert describe_error(exc) == (
        "NoHostAvailable: Unable to connect to any servers "
        "(10.0.0.1:9042: Connection refused; 10.0.0.2:9042: timed out)"
    )


def test_other_errors_type_and_message_on_one_line_cut_short() -> None:
    unavailable = Unavailable("Cannot achieve\nconsistency", ConsistencyLevel.LOCAL_QUORUM, 2, 0)
    assert describe_error(unavailable) == (
        "Unavailable: Cannot achieve consistency info={'consistency': 'LOCAL_QUORUM', "
        "'required_replicas': 2, 'alive_replicas': 0}"
    )
    assert describe_error(ConnectionCheckError()) == "ConnectionCheckError"
    long = describe_error(ConnectionCheckError("x" * 500), limit=50)
    assert len(long) == 50 and long.startswith("ConnectionCheckError: xxx") and long.endswith("…")


def test_outage_errors_are_the_driver_s_and_the_connection_check() -> None:
    for exc in (
        NoHostAvailable("none", {}),
        Unavailable("u"),
        OperationTimedOut(),
        InvalidRequest("i"),
        OverloadedErrorMessage(0x1001, "overloaded", {}),
        ConnectionCheckError("c"),
    ):
        assert isinstance(exc, OUTAGE_ERRORS), exc
    assert not isinstance(ValueError(), OUTAGE_ERRORS)  # a bug is not an outage


def test_tracker_keeps_the_first_failure_until_a_success() -> None:
    tracker = OutageTracker()
    assert tracker.current() is None and tracker.succeeded() is None
    outage, new = tracker.failed("A", T0)
    assert (outage, new) == (Outage(T0, T0, "A", 1), True)
    later = T0 + timedelta(seconds=10)
    assert tracker.failed("A", later) == (Outage(T0, later, "A", 2), False)
    assert tracker.failed("B", later)[1] is True  # another reason: worth a traceback again
    assert tracker.succeeded() == Outage(T0, later, "B", 3)
    assert tracker.current() is None
    assert tracker.failed("A", later)[0].since == later  # a new outage


def test_last_good_is_bounded_and_hands_out_copies() -> None:
    kept = LastGood(max_entries=2)
    frame = pd.DataFrame({"a": [1]})
    kept.put("one", frame, T0)
    kept.put("two", 2, T0)
    kept.put("one", frame, T0 + timedelta(seconds=1))  # refreshed: now the newest
    kept.put("three", 3, T0)
    assert len(kept) == 2 and kept.get("two") is None
    first = kept.get("one")
    assert first is not None and first.fetched_at == T0 + timedelta(seconds=1)
    first.value.loc[0, "a"] = 99
    frame.loc[0, "a"] = 98
    assert kept.get("one").value.loc[0, "a"] == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-3, "0 s"), (45, "45 s"), (192, "3 min 12 s"), (7500, "2 h 05 min")],
)
def test_elapsed(seconds: int, text: str) -> None:
    assert elapsed(timedelta(seconds=seconds)) == text


def test_clock_adds_the_date_when_not_today() -> None:
    assert clock(T0, T0 + timedelta(hours=1)) == "08:30:05 UTC"
    assert clock(T0, T0 + timedelta(days=1)) == "2025-06-16 08:30:05 UTC"


def test_banner_says_which_dc_what_since_when_how_old_and_where_else() -> None:
    outage = Outage(T0, T0, "NoHostAvailable: `x` down", 4)
    now = T0 + timedelta(seconds=75)
    others = (AppHost("app-2", "dc2", "http://10.213.10.32:8501/"),)
    text = banner_markdown("dc1", outage, now, T0 - timedelta(seconds=5), others)
    assert text.split("  \n") == [
        "**Data center dc1 cannot answer.** `NoHostAvailable: 'x' down`",
        "Since 08:30:05 UTC (1 min 15 s ago).",
        "Data shown may be stale: data from 08:30:00 UTC.",
        "Other data centers' dashboards: [app-2 (dc2)](http://10.213.10.32:8501/).",
    ]
    bare = banner_markdown("dc1", outage, now, None)
    assert "No earlier data for this view: it shows again once dc1 answers." in bare
    assert "Other data centers" not in bare
