"""Per-partition digests of a keyspace's tables, to prove that a restore brought back every row.

A digest of a table maps each partition (its key values) to its row count and a SHA-256 of its
rows, every column in the table's order, rows in clustering order. Two digests of the same data
are equal whatever the node, the paging or the run; a changed, missing or extra cell, row or
partition changes them. Taken at backup time (``fleet digest take``, recorded in the backup's
report), taken again after a restore, and compared (``fleet digest compare``).

The scan reads each table in token order (``SELECT token(<partition key>), <columns>``), paged,
at the connection's consistency (LOCAL_QUORUM for the backup playbooks): rows of one partition
arrive together, so memory holds one partition's hash state at a time.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

FORMAT = 1
# Tables a digest leaves out unless asked for by name: the backups' own bookkeeping, whose row of
# a backup is written after that backup's snapshot (so a restore can never bring it back).
NOT_DIGESTED = frozenset({"backup_status"})
FIELD_SEP = b"\x1f"
ROW_SEP = b"\x1e"


def encode_value(value: Any) -> str:
    """One cell as text that is the same for equal values and differs between unequal ones
    (the type is part of it: the int 1, the float 1.0 and the text "1" differ)."""
    if value is None:
        return "N"
    if isinstance(value, bool):
        return f"b:{int(value)}"
    if isinstance(value, int):
        return f"i:{value}"
    if isinstance(value, float):
        # repr() round-trips every float exactly; NaN and infinities have one spelling each.
        return f"f:{value!r}" if math.isfinite(value) else f"f:{value}"
    if isinstance(value, str):
        return "s:" + value
    if isinstance(value, bytes | bytearray | memoryview):
        return "x:" + bytes(value).hex()
    if isinstance(value, datetime):
        return "t:" + value.isoformat()
    if isinstance(value, date):
        return "d:" + value.isoformat()
    if isinstance(value, time):
        return "h:" + value.isoformat()
    if isinstance(value, timedelta):
        return f"g:{value.total_seconds()!r}"
    if isinstance(value, Decimal | UUID):
        return f"{type(value).__name__[0].lower()}:{value}"
    if isinstance(value, Mapping):
        return "m:" + json.dumps([[encode_value(k), encode_value(v)] for k, v in value.items()])
    if isinstance(value, list | tuple | set | frozenset) or _is_driver_collection(value):
        items = list(value)
        if isinstance(value, set | frozenset):
            items = sorted(items, key=encode_value)
        return "l:" + json.dumps([encode_value(v) for v in items])
    # The driver's own types (cassandra.util.Date, Time, Duration, ...) print their value.
    return f"o:{type(value).__name__}:{value}"


def _is_driver_collection(value: Any) -> bool:
    # cassandra.util.SortedSet and similar: iterable, ordered by the server, not a str.
    return hasattr(value, "__iter__") and type(value).__module__.startswith("cassandra")


def partition_label(key: Sequence[Any]) -> str:
    """A partition's key values as one JSON text, the key of a digest's partitions."""
    return json.dumps([encode_value(v) for v in key], ensure_ascii=False)


@dataclass
class PartitionDigest:
    rows: int = 0
    _hash: Any = field(default_factory=hashlib.sha256, repr=False)

    def add(self, row: Sequence[Any]) -> None:
        self.rows += 1
        self._hash.update(FIELD_SEP.join(encode_value(v).encode() for v in row) + ROW_SEP)

    def result(self) -> dict[str, Any]:
        return {"rows": self.rows, "sha256": self._hash.hexdigest()}


def digest_rows(rows: Iterable[Sequence[Any]], key_columns: int) -> dict[str, dict[str, Any]]:
    """Partitions of rows that arrive grouped by partition (token order): the first
    ``key_columns`` values of each row are its partition key, the rest its other columns."""
    partitions: dict[str, dict[str, Any]] = {}
    current_key: tuple[Any, ...] | None = None
    current: PartitionDigest | None = None
    for row in rows:
        key = tuple(row[:key_columns])
        if key != current_key:
            if current is not None and current_key is not None:
                _store(partitions, current_key, current)
            current_key, current = key, PartitionDigest()
        assert current is not None
        current.add(row)
    if current is not None and current_key is not None:
        _store(partitions, current_key, current)
    return partitions


def _store(
    partitions: dict[str, dict[str, Any]], key: tuple[Any, ...], digest: PartitionDigest
) -> None:
    label = partition_label(key)
    if label in partitions:
        raise ValueError(f"partition {label} came back twice: the rows are not in token order")
    partitions[label] = digest.result()


def table_summary(partitions: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A table's totals and one SHA-256 over its partitions (sorted by key)."""
    overall = hashlib.sha256()
    for label in sorted(partitions):
        overall.update(f"{label}\t{partitions[label]['sha256']}\n".encode())
    return {
        "partitions": len(partitions),
        "rows": sum(int(p["rows"]) for p in partitions.values()),
        "sha256": overall.hexdigest(),
        "by_partition": dict(sorted(partitions.items())),
    }


@dataclass(frozen=True)
class Difference:
    table: str
    partition: str | None
    expected: str
    actual: str

    def describe(self) -> str:
        where = self.table if self.partition is None else f"{self.table} {self.partition}"
        return f"{where}: expected {self.expected}, found {self.actual}"


def _state(partition: Mapping[str, Any] | None) -> str:
    if partition is None:
        return "no partition"
    return f"{partition['rows']} rows sha256 {str(partition['sha256'])[:12]}"


def compare(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[Difference]:
    """Every table and partition whose rows differ between two digests (``take``'s output),
    tables in name order, partitions in key order; empty when they are equal."""
    if expected.get("keyspace") != actual.get("keyspace"):
        return [
            Difference(
                "*",
                None,
                f"keyspace {expected.get('keyspace')}",
                f"keyspace {actual.get('keyspace')}",
            )
        ]
    differences: list[Difference] = []
    want, got = expected.get("tables", {}), actual.get("tables", {})
    for table in sorted(set(want) | set(got)):
        if table not in got:
            differences.append(Difference(table, None, "the table", "no table"))
            continue
        if table not in want:
            differences.append(Difference(table, None, "no table", "the table"))
            continue
        if want[table]["sha256"] == got[table]["sha256"]:
            continue
        left, right = want[table]["by_partition"], got[table]["by_partition"]
        for label in sorted(set(left) | set(right)):
            a, b = left.get(label), right.get(label)
            if a != b:
                differences.append(Difference(table, label, _state(a), _state(b)))
    return differences


def comparison_report(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> dict[str, Any]:
    """What ``fleet digest compare --json`` prints: per-table verdicts and the differences."""
    differences = compare(expected, actual)
    tables = sorted(set(expected.get("tables", {})) | set(actual.get("tables", {})))
    differing = {d.table for d in differences}
    return {
        "equal": not differences,
        "tables": {
            t: {
                "equal": t not in differing and "*" not in differing,
                "expected_partitions": expected.get("tables", {}).get(t, {}).get("partitions"),
                "actual_partitions": actual.get("tables", {}).get(t, {}).get("partitions"),
                "expected_rows": expected.get("tables", {}).get(t, {}).get("rows"),
                "actual_rows": actual.get("tables", {}).get(t, {}).get("rows"),
            }
            for t in tables
        },
        "differences": [d.describe() for d in differences[:100]],
        "difference_count": len(differences),
    }


def take(
    session: Any,
    keyspace: Any,
    tables: Sequence[str] = (),
    consistency: str = "LOCAL_QUORUM",
    fetch_size: int = 500,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Digest ``tables`` (default: every table but NOT_DIGESTED) of ``keyspace`` (the driver's
    KeyspaceMetadata), scanning each whole table through ``session`` at ``consistency``,
    ``fetch_size`` rows a page."""
    from cassandra import ConsistencyLevel
    from cassandra.metadata import protect_name
    from cassandra.query import SimpleStatement

    unknown = sorted(set(tables) - set(keyspace.tables))
    if unknown:
        raise ValueError(
            f"no table {', '.join(unknown)} in keyspace {keyspace.name} "
            f"(it has {', '.join(sorted(keyspace.tables)) or 'none'})"
        )
    level = ConsistencyLevel.name_to_value[consistency]
    result: dict[str, Any] = {}
    for name in sorted(tables or set(keyspace.tables) - NOT_DIGESTED):
        table = keyspace.tables[name]
        key = [c.name for c in table.partition_key]
        columns = key + [c for c in table.columns if c not in key]
        statement = SimpleStatement(
            f"SELECT {', '.join(protect_name(c) for c in columns)} "
            f"FROM {protect_name(keyspace.name)}.{protect_name(name)}",
            fetch_size=fetch_size,
            consistency_level=level,
        )
        rows = session.execute(statement, timeout=timeout_s)
        result[name] = table_summary(digest_rows(rows, len(key)))
    return result
