"""Per-partition digests: equal data gives equal digests whatever the paging, and any changed,
missing or extra cell, row or partition is found and named."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from fleet import digest as fd
from fleet.cli import cli

CELLS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.dates(),
    st.datetimes(),
)
# Rows of (partition key, clustering, value), grouped by partition as a token scan returns them.
TABLES = st.dictionaries(
    st.text(min_size=1, max_size=4),
    st.lists(
        st.tuples(st.integers(0, 50), CELLS), min_size=1, max_size=6, unique_by=lambda r: r[0]
    ),
    max_size=6,
)


def rows_of(table: dict[str, list[tuple[int, object]]]) -> list[tuple[object, ...]]:
    return [
        (key, ck, value)
        for key, rows in table.items()
        for ck, value in sorted(rows, key=lambda r: r[0])
    ]


def document(table: dict[str, list[tuple[int, object]]]) -> dict[str, object]:
    return {
        "format": fd.FORMAT,
        "keyspace": "fleet_iot",
        "tables": {"t": fd.table_summary(fd.digest_rows(rows_of(table), 1))},
    }


def test_types_are_part_of_a_cell():
    cells = [1, 1.0, "1", True, b"\x01", None, date(2026, 1, 1), "d:2026-01-01"]
    assert len({fd.encode_value(v) for v in cells}) == len(cells)


def test_driver_values_have_one_spelling():
    assert fd.encode_value(datetime(2026, 12, 5, 4, 0, tzinfo=UTC)) == "t:2026-12-05T04:00:00+00:00"
    assert fd.encode_value(Decimal("1.50")) == "d:1.50"
    assert fd.encode_value(UUID(int=1)) == "u:00000000-0000-0000-0000-000000000001"
    assert fd.encode_value({3, 1, 2}) == fd.encode_value({2, 3, 1})
    assert fd.encode_value(float("nan")) == fd.encode_value(float("nan"))
    assert fd.encode_value({"a": 1}) != fd.encode_value({"a": "1"})


@given(TABLES)
def test_a_digest_counts_every_partition_and_row(table):
    summary = fd.table_summary(fd.digest_rows(rows_of(table), 1))
    assert summary["partitions"] == len(table)
    assert summary["rows"] == sum(len(rows) for rows in table.values())
    assert set(summary["by_partition"]) == {fd.partition_label([k]) for k in table}


@given(TABLES)
def test_equal_data_gives_equal_digests_whatever_the_partition_order(table):
    reordered = dict(reversed(list(table.items())))
    assert fd.compare(document(table), document(reordered)) == []


@given(TABLES.filter(bool), st.data())
def test_a_changed_cell_is_found_in_its_partition_only(table, data):
    key = data.draw(st.sampled_from(sorted(table)))
    rows = table[key]
    index = data.draw(st.integers(0, len(rows) - 1))
    ck, value = rows[index]
    new = data.draw(CELLS.filter(lambda v: fd.encode_value(v) != fd.encode_value(value)))
    changed = {**table, key: [*rows[:index], (ck, new), *rows[index + 1 :]]}
    differences = fd.compare(document(table), document(changed))
    assert [(d.table, d.partition) for d in differences] == [("t", fd.partition_label([key]))]


@given(TABLES.filter(bool), st.data())
def test_a_lost_partition_and_a_new_one_are_both_named(table, data):
    lost = data.draw(st.sampled_from(sorted(table)))
    after = {k: v for k, v in table.items() if k != lost}
    after["\u00e9new-key"] = [(0, "row written after the backup")]
    differences = {d.partition: d for d in fd.compare(document(table), document(after))}
    assert differences[fd.partition_label([lost])].actual == "no partition"
    assert differences[fd.partition_label(["\u00e9new-key"])].expected == "no partition"


def test_missing_and_extra_tables_and_another_keyspace_are_differences():
    a = document({"k": [(1, "v")]})
    b = {**a, "tables": {"other": a["tables"]["t"]}}
    found = {(d.table, d.expected, d.actual) for d in fd.compare(a, b)}
    assert found == {("t", "the table", "no table"), ("other", "no table", "the table")}
    assert fd.compare(a, {**a, "keyspace": "other"})[0].table == "*"


def test_rows_out_of_token_order_are_refused():
    with pytest.raises(ValueError, match="not in token order"):
        fd.digest_rows([("a", 1), ("b", 1), ("a", 2)], 1)


def test_compare_command_exits_1_and_names_the_partition(tmp_path):
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps(document({"p1": [(1, "x")], "p2": [(1, "y")]})))
    after.write_text(json.dumps(document({"p1": [(1, "x")], "p2": [(1, "z")]})))
    result = CliRunner().invoke(cli, ["digest", "compare", str(before), str(after)])
    assert result.exit_code == 1
    assert "t: DIFFERENT (2 -> 2 partitions, 2 -> 2 rows)" in result.output
    assert fd.partition_label(["p2"]) in result.output
    same = CliRunner().invoke(cli, ["digest", "compare", "--json", str(before), str(before)])
    assert same.exit_code == 0 and json.loads(same.output)["equal"] is True


@pytest.mark.parametrize("content", ["not json", "[]", '{"format": 99, "tables": {}}'])
def test_compare_refuses_a_file_that_is_not_a_digest(tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = CliRunner().invoke(cli, ["digest", "compare", str(bad), str(bad)])
    assert result.exit_code == 2
    assert "not a digest" in result.output
