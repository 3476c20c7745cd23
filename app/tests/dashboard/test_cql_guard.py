"""The console's allow-list against ordinary and hostile statements."""

from __future__ import annotations

import pytest

from fleet.dashboard.cql_guard import MAX_STATEMENT_CHARS, StatementRejected, check_statement


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT * FROM devices_by_fleet", "SELECT * FROM devices_by_fleet"),
        ("  select k from t where f = 'X';  ", "select k from t where f = 'X'"),
        ("SELECT JSON * FROM t", "SELECT JSON * FROM t"),
        ("DESCRIBE TABLES", "DESCRIBE TABLES"),
        ("desc keyspace fleet_iot;", "desc keyspace fleet_iot"),
        ("SELECT 'a;b' FROM t", "SELECT 'a;b' FROM t"),
        ("SELECT 'it''s; -- not a comment' FROM t", "SELECT 'it''s; -- not a comment' FROM t"),
        ('SELECT "weird;col" FROM t', 'SELECT "weird;col" FROM t'),
        ("SELECT $$; DROP TABLE t$$ FROM t", "SELECT $$; DROP TABLE t$$ FROM t"),
        ("SELECT * FROM t WHERE zone = 'Zürich'", "SELECT * FROM t WHERE zone = 'Zürich'"),
        ("SELECT *\nFROM t\tWHERE a = 1", "SELECT *\nFROM t\tWHERE a = 1"),
    ],
)
def test_read_only_statements_pass_unchanged(text: str, expected: str) -> None:
    assert check_statement(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ;  ", "empty"),
        ("DROP KEYSPACE fleet_iot", "only read-only"),
        ("INSERT INTO t (a) VALUES (1)", "only read-only"),
        ("UPDATE t SET a = 1 WHERE k = 1", "only read-only"),
        ("DELETE FROM t WHERE k = 1", "only read-only"),
        ("TRUNCATE t", "only read-only"),
        ("ALTER TABLE t ADD c int", "only read-only"),
        ("CREATE ROLE evil WITH SUPERUSER = true", "only read-only"),
        ("GRANT ALL ON ALL KEYSPACES TO evil", "only read-only"),
        ("BEGIN BATCH INSERT INTO t (a) VALUES (1) APPLY BATCH", "only read-only"),
        ("USE system_auth", "only read-only"),
        ("LIST ROLES", "only read-only"),
        ("SELECTX * FROM t", "only read-only"),
        ("SELECT_1 FROM t", "only read-only"),
        ("(SELECT * FROM t)", "only read-only"),
        ("SELECT * FROM t; DROP TABLE t", "one statement"),
        ("SELECT * FROM t;DROP TABLE t;", "one statement"),
        ("SELECT * FROM t;;", "one statement"),
        ("SELECT 'x'; DROP TABLE t", "one statement"),
        ("SELECT * FROM t -- hidden", "comments"),
        ("SELECT * FROM t // hidden", "comments"),
        ("/* x */ DROP TABLE t", "comments"),
        ("SELECT * FROM t /* ; */", "comments"),
        ("SELECT 'unterminated FROM t", "unterminated string"),
        ('SELECT "unterminated FROM t', "unterminated quoted identifier"),
        ("SELECT $$ never closed", r"unterminated \$\$"),
        ("SELECT * FROM t\x00; DROP TABLE t", "control character"),
        ("SELECT * FROM t\x1b[2J", "control character"),
        ("\uff33\uff25\uff2c\uff25\uff23\uff34 * FROM t", "non-ASCII"),  # fullwidth
        ("\u0421ELECT * FROM t", "non-ASCII"),  # Cyrillic capital ES
        ("SELECT * FROM t WHERE a = 1 \u037e DROP TABLE t", "non-ASCII"),  # Greek question mark
        ("SELECT * FROM t WHERE a = 1 ; ", None),  # a trailing ';' alone is fine
    ],
)
def test_everything_else_is_refused_with_a_reason(text: str, reason: str | None) -> None:
    if reason is None:
        assert check_statement(text) == "SELECT * FROM t WHERE a = 1"
        return
    with pytest.raises(StatementRejected, match=reason):
        check_statement(text)


def test_a_statement_hidden_after_a_quoted_semicolon_is_refused() -> None:
    # '' is an escaped quote: the literal is x'; and ends there, so the next ';' is code.
    with pytest.raises(StatementRejected, match="one statement"):
        check_statement("SELECT * FROM t WHERE a = 'x'';'; DROP TABLE t")


def test_overlong_statements_are_refused() -> None:
    with pytest.raises(StatementRejected, match="longer than"):
        check_statement("SELECT " + "a" * MAX_STATEMENT_CHARS)


def test_the_refusal_names_the_keyword() -> None:
    with pytest.raises(StatementRejected) as info:
        check_statement("truncate telemetry_by_fleet_day")
    assert "'TRUNCATE'" in str(info.value)
    assert "SELECT" in str(info.value)
