"""Read layer without Cassandra: statements, degraded fallback, frames."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from cassandra import ConsistencyLevel, ReadTimeout, Unavailable

import fleet.queries as queries
from fleet.queries import AlertQuery, FleetQueries, to_frame

from .fakes import FakeResult, FakeSession

UNAVAILABLE = Unavailable("1 replica down", ConsistencyLevel.LOCAL_QUORUM, 2, 1)
DAY = date(2025, 6, 16)


def test_every_statement_is_prepared_idempotent_and_bounded_by_a_partition_key() -> None:
    session = FakeSession(lambda *_: FakeResult([]))
    q = FleetQueries(session, "ks")  # type: ignore[arg-type]
    prepared = [v for v in vars(q).values() if hasattr(v, "cql")]
    assert len(prepared) >= 10
    for statement in prepared:
        assert statement.is_idempotent
        assert statement.cql.startswith("SELECT ") and " FROM ks." in statement.cql
        assert " WHERE " in statement.cql
        where = statement.cql.split(" WHERE ", 1)[1]
        assert where.startswith(("fleet_id = ?", "device_id = ?"))


def test_unavailable_is_retried_once_at_the_degraded_profile() -> None:
    def answer(_stmt: Any, _params: Any, profile: Any) -> FakeResult:
        if profile == "degraded":
            return FakeResult([("PARIS-0001", "GPS-TX-1", datetime(2025, 6, 16, 8, 0))])
        raise UNAVAILABLE

    session = FakeSession(answer)
    q = FleetQueries(session, "ks", degraded_profile="degraded")  # type: ignore[arg-type]
    frame = q.devices("FLEET_PARIS")
    assert frame["device_id"].tolist() == ["PARIS-0001"]
    assert frame["activated_at"].iloc[0] == datetime(2025, 6, 16, 8, 0, tzinfo=UTC)
    assert [c[2] for c in session.calls] == ["default", "degraded"]
    assert q.degraded == 1


def test_without_a_degraded_profile_or_for_other_errors_the_error_propagates() -> None:
    session = FakeSession(lambda *_: (_ for _ in ()).throw(UNAVAILABLE))
    with pytest.raises(Unavailable):
        FleetQueries(session, "ks").devices("F")  # type: ignore[arg-type]
    timeout = ReadTimeout("slow", consistency=ConsistencyLevel.LOCAL_QUORUM)
    session = FakeSession(lambda *_: (_ for _ in ()).throw(timeout))
    with pytest.raises(ReadTimeout):
        FleetQueries(session, "ks", degraded_profile="degraded").devices("F")  # type: ignore[arg-type]
    assert len(session.calls) == 1


def fake_concurrent(outcomes_by_profile: dict[str, list[tuple[bool, Any]]]) -> Any:
    calls: list[tuple[str, list[Any]]] = []

    def run(_session: Any, statements: Any, *, execution_profile: Any, **_kw: Any) -> list[Any]:
        params = [p for _, p in statements]
        calls.append((execution_profile, params))
        return outcomes_by_profile[execution_profile][: len(params)]

    run.calls = calls  # type: ignore[attr-defined]
    return run


def test_concurrent_reads_retry_only_the_unavailable_partitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    count = [(1,)]
    run = fake_concurrent(
        {
            "default": [(True, [(5,)]), (False, UNAVAILABLE), (True, [(7,)])],
            "degraded": [(True, count)],
        }
    )
    monkeypatch.setattr(queries, "execute_concurrent", run)
    monkeypatch.setattr(queries, "EXEC_PROFILE_DEFAULT", "default")
    session = FakeSession(lambda *_: FakeResult([]))
    q = FleetQueries(session, "ks", degraded_profile="degraded")  # type: ignore[arg-type]
    counts = q.alert_counts(AlertQuery("F", (DAY,)))
    assert counts == {"HIGH": 5, "MEDIUM": 1, "LOW": 7}
    assert run.calls[1] == ("degraded", [("F", DAY, "MEDIUM")])  # type: ignore[attr-defined]
    assert q.degraded == 1


def test_a_partition_failing_otherwise_fails_the_read(monkeypatch: pytest.MonkeyPatch) -> None:
    timeout = ReadTimeout("slow", consistency=ConsistencyLevel.LOCAL_QUORUM)
    run = fake_concurrent({"default": [(False, UNAVAILABLE), (False, timeout), (True, [(1,)])]})
    monkeypatch.setattr(queries, "execute_concurrent", run)
    monkeypatch.setattr(queries, "EXEC_PROFILE_DEFAULT", "default")
    q = FleetQueries(FakeSession(lambda *_: FakeResult([])), "ks", degraded_profile="degraded")  # type: ignore[arg-type]
    with pytest.raises(Unavailable):
        q.alert_counts(AlertQuery("F", (DAY,)))
    assert len(run.calls) == 1  # no partial degraded retry: the page shows the error


def test_device_day_page_passes_the_paging_state_and_returns_the_next() -> None:
    session = FakeSession(lambda *_: FakeResult([], paging_state=b"next"))
    q = FleetQueries(session, "ks")  # type: ignore[arg-type]
    page = q.device_day_page("PARIS-0001", DAY, 50, b"start")
    statement = session.calls[0][0]
    assert statement.values == ("PARIS-0001", DAY) and statement.fetch_size == 50
    assert page.next_state == b"next" and page.frame.empty


def test_alert_query_checks_its_values() -> None:
    with pytest.raises(ValueError, match="unknown severity"):
        AlertQuery("F", (DAY,), ("URGENT",))
    with pytest.raises(ValueError, match="limit"):
        AlertQuery("F", (DAY,), limit=0)
    query = AlertQuery("F", (DAY, date(2025, 6, 17)), ("HIGH", "LOW"))
    assert query.partitions() == [
        ("F", DAY, "HIGH"),
        ("F", DAY, "LOW"),
        ("F", date(2025, 6, 17), "HIGH"),
        ("F", date(2025, 6, 17), "LOW"),
    ]


def test_to_frame_makes_timestamps_utc_and_keeps_empty_columns() -> None:
    frame = to_frame([(datetime(2025, 6, 16, 8, 0), 1.5)], ("ts", "speed_kmh"))
    assert str(frame["ts"].dtype).endswith("UTC]")
    assert to_frame([], ("ts", "lat")).columns.tolist() == ["ts", "lat"]


def test_only_partitions_that_filled_the_limit_are_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HIGH returned 2 rows (the limit): counted by Cassandra; MEDIUM and LOW were read whole."""
    ts = datetime(2025, 6, 16, 8, 0)
    row = ("HIGH", ts, "PARIS-0001", "OVERSPEED", 130.0, 120.0, "fast")
    calls: list[list[Any]] = []

    def run(_session: Any, statements: Any, **_kw: Any) -> list[Any]:
        params = [p for _, p in statements]
        calls.append(params)
        if len(calls) == 1:  # the alerts, newest 2 per partition
            return [(True, [row, row]), (True, [row]), (True, [])]
        return [(True, [(41,)])]  # COUNT(*) of the full partition only

    monkeypatch.setattr(queries, "execute_concurrent", run)
    q = FleetQueries(FakeSession(lambda *_: FakeResult([])), "ks")  # type: ignore[arg-type]
    frame, counts = q.alerts_and_counts(AlertQuery("F", (DAY,), limit=2))
    assert counts == {"HIGH": 41, "MEDIUM": 1, "LOW": 0}
    assert len(frame) == 3
    assert calls[1] == [("F", DAY, "HIGH")]
    calls.clear()
    q.alerts_and_counts(AlertQuery("F", (DAY,), limit=5))
    assert len(calls) == 1  # nothing filled the limit: no COUNT(*) round trip
