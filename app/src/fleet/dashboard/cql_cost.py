"""The console's cost check: refuse the read-only statements that still make every node work.

:mod:`fleet.dashboard.cql_guard` decides what *kind* of statement may run; this module refuses,
with the reason and what to do instead, the SELECTs whose cost grows with the table, not with
the result (the row limit only bounds what comes back):

* ``ALLOW FILTERING``: the nodes read and drop rows to find the ones asked for;
* an aggregate (``count(*)``, ``sum``, ``avg``, ``min``, ``max``) over partitions that are not
  all named: every partition of the table is read, even to return one row;
* ``IN`` lists whose combinations over the key columns exceed :data:`MAX_IN_COMBINATIONS`: one
  read per combination, fanned out by the coordinator.

It reads the statement with literals masked (their text never matches a keyword) and the
table's keys from the driver's schema metadata. A table it does not know (or a statement it
cannot parse) is left to Cassandra, which refuses what is wrong; this is a guard against
expensive statements, not a CQL parser. The server-side limits (the console role, guardrails,
timeouts) are the first line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from fleet.dashboard.cql_guard import StatementRejected, masked

MAX_IN_COMBINATIONS = 100
_NAME = r'(?:"(?:[^"]|"")+"|\w+)'
_FROM = re.compile(rf"\bFROM\s+({_NAME})(?:\s*\.\s*({_NAME}))?", re.IGNORECASE | re.ASCII)
_WHERE = re.compile(r"\bWHERE\b", re.IGNORECASE)
_WHERE_END = re.compile(
    r"\b(?:GROUP\s+BY|ORDER\s+BY|PER\s+PARTITION\s+LIMIT|LIMIT|ALLOW\s+FILTERING)\b", re.IGNORECASE
)
_AND = re.compile(r"\bAND\b", re.IGNORECASE)
_FILTERING = re.compile(r"\bALLOW\s+FILTERING\b", re.IGNORECASE)
_AGGREGATE = re.compile(r"\b(COUNT|SUM|AVG|MIN|MAX)\s*\(", re.IGNORECASE)
_EQUALS = re.compile(rf"^\s*({_NAME})\s*=", re.ASCII)
_IN = re.compile(rf"^\s*({_NAME})\s+IN\s*\((.*)\)\s*$", re.IGNORECASE | re.ASCII | re.DOTALL)
_TUPLE_IN = re.compile(
    rf"^\s*\(\s*({_NAME}(?:\s*,\s*{_NAME})*)\s*\)\s+IN\s*\((.*)\)\s*$",
    re.IGNORECASE | re.ASCII | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class TableKeys:
    partition: tuple[str, ...]
    clustering: tuple[str, ...] = ()


# (keyspace or None for the session's, table) -> its keys, or None when unknown
KeysOf = Callable[[str | None, str], TableKeys | None]


def _name(text: str) -> str:
    """A CQL identifier as stored: unquoted ones are case-insensitive (lower case)."""
    if text.startswith('"'):
        return text[1:-1].replace('""', '"')
    return text.lower()


def _top_level(text: str, separator: re.Pattern[str] | str) -> list[str]:
    """``text`` split on ``separator`` outside parentheses."""
    parts: list[str] = []
    depth = start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0:
            match = (
                separator.match(text, i)
                if isinstance(separator, re.Pattern)
                else (separator if text.startswith(separator, i) else None)
            )
            if match:
                end = match.end() if isinstance(match, re.Match) else i + len(separator)
                parts.append(text[start:i])
                start = i = end
                continue
        i += 1
    parts.append(text[start:])
    return parts


def _values(inside: str) -> int:
    return 0 if not inside.strip() else len(_top_level(inside, ","))


def restrictions(where: str) -> dict[str, int]:
    """Key column -> how many values an ``=`` or ``IN`` restriction gives it (ranges, tokens
    and CONTAINS are not listed: they do not name partitions)."""
    out: dict[str, int] = {}
    for condition in _top_level(where, _AND):
        if match := _TUPLE_IN.match(condition):
            count = _values(match.group(2))
            for column in match.group(1).split(","):
                out[_name(column.strip())] = count
        elif match := _IN.match(condition):
            out[_name(match.group(1))] = _values(match.group(2))
        elif match := _EQUALS.match(condition):
            out[_name(match.group(1))] = 1
    return out


def check_cost(statement: str, keys_of: KeysOf) -> None:
    """:class:`StatementRejected` if ``statement`` (checked by ``check_statement``) would scan."""
    code = masked(statement)
    if not code.lstrip().upper().startswith("SELECT"):
        return
    if _FILTERING.search(code):
        raise StatementRejected(
            "ALLOW FILTERING makes the nodes read and drop rows: restrict the partition key "
            "with = or IN instead"
        )
    table = _FROM.search(code)
    if table is None:
        return
    first, second = table.group(1), table.group(2)
    keyspace, name = (_name(first), _name(second)) if second else (None, _name(first))
    keys = keys_of(keyspace, name)
    if keys is None:
        return
    where_at = _WHERE.search(code, table.end())
    where = ""
    if where_at is not None:
        end = _WHERE_END.search(code, where_at.end())
        where = code[where_at.end() : end.start() if end else len(code)]
    restricted = restrictions(where)
    partition_named = all(restricted.get(c, 0) > 0 for c in keys.partition)
    if _AGGREGATE.search(code[: table.start()]) and not partition_named:
        columns = ", ".join(keys.partition)
        raise StatementRejected(
            f"an aggregate over {name} without its partition key reads every partition of "
            f"the table: restrict {columns} with = or IN"
        )
    combinations = math.prod(
        restricted[c] for c in (*keys.partition, *keys.clustering) if c in restricted
    )
    if combinations > MAX_IN_COMBINATIONS:
        raise StatementRejected(
            f"the IN lists select {combinations:,} key combinations (at most "
            f"{MAX_IN_COMBINATIONS}): query fewer values at a time"
        )
