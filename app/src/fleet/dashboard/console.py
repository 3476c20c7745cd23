"""Running one console statement: allow-listed, with a row limit and a timeout.

The row limit is the statement's fetch size: only the first page is read, so a large result
costs one page, and the statement text is never rewritten (no ``LIMIT`` appended).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd
from cassandra import RequestValidationException
from cassandra.protocol import RequestValidationException as ServerRefused
from cassandra.query import SimpleStatement

from fleet.dashboard.cql_cost import TableKeys, check_cost
from fleet.dashboard.cql_guard import check_statement

_SHOWN_AS_IS = (str, int, float, bool, datetime, date)
# The statement's own fault (syntax, unknown table, not granted): shown to the user as is. Any
# other driver error means the DC cannot answer: the dashboard's outage banner.
STATEMENT_ERRORS: tuple[type[Exception], ...] = (RequestValidationException, ServerRefused)


class StatementBudget:
    """At most ``limit`` statements in any ``window_s`` seconds (one per browser session): a
    user, or a script driving the page, cannot keep the console's role busy."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._times: list[float] = []

    def take(self, now: float) -> float:
        """0 and one statement counted when allowed; else the seconds to wait."""
        self._times = [t for t in self._times if now - t < self.window_s]
        if len(self._times) >= self.limit:
            return round(self.window_s - (now - self._times[0]), 1)
        self._times.append(now)
        return 0.0


@dataclass(frozen=True, slots=True)
class ConsoleResult:
    statement: str
    frame: pd.DataFrame
    truncated: bool  # more rows exist than the row limit
    elapsed_ms: float


def display_value(value: Any) -> Any:
    """Scalars as they are; blobs as hex; collections, UUIDs, decimals... as text."""
    if value is None or isinstance(value, _SHOWN_AS_IS):
        return value
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


def table_keys(session: Any, keyspace: str | None, table: str) -> TableKeys | None:
    """The table's key columns from the driver's schema metadata; None when it is unknown."""
    try:
        tables = session.cluster.metadata.keyspaces[keyspace or session.keyspace].tables
        meta = tables[table]
    except (AttributeError, KeyError, TypeError):
        return None
    return TableKeys(
        tuple(c.name for c in meta.partition_key), tuple(c.name for c in meta.clustering_key)
    )


def run_console_statement(
    session: Any, text: str, *, row_limit: int, timeout_s: float
) -> ConsoleResult:
    """Check ``text`` (:class:`~fleet.dashboard.cql_guard.StatementRejected` if refused, by
    its kind or its cost), run it, and return at most ``row_limit`` rows. Driver errors
    propagate to the caller."""
    statement = check_statement(text)
    check_cost(statement, lambda keyspace, table: table_keys(session, keyspace, table))
    query = SimpleStatement(statement, fetch_size=row_limit)
    started = time.perf_counter()
    result = session.execute(query, timeout=timeout_s)
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    rows = [[display_value(v) for v in row] for row in result.current_rows]
    columns = list(result.column_names or [])
    frame = pd.DataFrame(rows, columns=columns) if columns else pd.DataFrame()
    return ConsoleResult(statement, frame, bool(result.has_more_pages), elapsed_ms)
