from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from fleet.dashboard.console import display_value, run_console_statement
from fleet.dashboard.cql_guard import StatementRejected

from .fakes import FakeResult, FakeSession


def test_refused_statements_never_reach_cassandra() -> None:
    session = FakeSession(lambda *_: FakeResult([]))
    with pytest.raises(StatementRejected):
        run_console_statement(session, "SELECT 1 FROM t; DROP TABLE t", row_limit=5, timeout_s=1)
    assert session.calls == []


def test_row_limit_is_the_fetch_size_and_the_text_is_not_rewritten() -> None:
    seen: dict[str, Any] = {}

    def answer(statement: Any, _params: Any, _profile: Any) -> FakeResult:
        seen["cql"], seen["fetch_size"] = statement.query_string, statement.fetch_size
        return FakeResult([("a", 1), ("b", 2)], ["k", "v"], paging_state=b"more")

    session = FakeSession(answer)
    result = run_console_statement(session, " select k, v from t ; ", row_limit=2, timeout_s=3)
    assert seen == {"cql": "select k, v from t", "fetch_size": 2}
    assert result.frame.to_dict("list") == {"k": ["a", "b"], "v": [1, 2]}
    assert result.truncated
    assert result.statement == "select k, v from t"


def test_values_are_made_displayable() -> None:
    uid = uuid.UUID(int=1)
    assert display_value(b"\x01\xff") == "0x01ff"
    assert display_value(uid) == str(uid)
    assert display_value(Decimal("1.50")) == "1.50"
    assert display_value({"a", "b"}) in ("{'a', 'b'}", "{'b', 'a'}")
    assert display_value(3) == 3 and display_value(None) is None
