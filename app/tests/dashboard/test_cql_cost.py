"""The console's cost check (fleet.dashboard.cql_cost): scans refused with a reason, keyed
reads let through. The keys are the real tables' (test_console_it.py reads them from a node)."""

from __future__ import annotations

import pytest

from fleet.dashboard.cql_cost import MAX_IN_COMBINATIONS, TableKeys, check_cost, restrictions
from fleet.dashboard.cql_guard import StatementRejected, check_statement, masked

KEYS = {
    "telemetry_by_device_day": TableKeys(("device_id", "day"), ("ts",)),
    "devices_by_fleet": TableKeys(("fleet_id",), ("device_id",)),
    "CamelCase": TableKeys(("Id",)),
}


def keys_of(_keyspace: str | None, table: str) -> TableKeys | None:
    return KEYS.get(table)


def check(text: str) -> None:
    check_cost(check_statement(text), keys_of)


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * FROM devices_by_fleet",  # no aggregate: the row limit bounds the read
        "SELECT count(*) FROM devices_by_fleet WHERE fleet_id = 'FLEET_PARIS'",
        "select COUNT(*) from fleet_iot.telemetry_by_device_day "
        "where device_id = 'PARIS-0001' and day = '2025-06-16'",
        "SELECT max(speed_kmh) FROM telemetry_by_device_day WHERE device_id IN ('a', 'b') "
        "AND day = '2025-06-16' AND ts > '2025-06-16 08:00:00+0000'",
        "SELECT * FROM devices_by_fleet WHERE fleet_id = 'ALLOW FILTERING'",  # a literal
        "SELECT * FROM devices_by_fleet WHERE (fleet_id) IN (('a'), ('b'))",
        "SELECT count(*) FROM unknown_table",  # not known here: Cassandra answers
        "DESCRIBE TABLES",
        'SELECT count(*) FROM "CamelCase" WHERE "Id" = 1',
    ],
)
def test_keyed_reads_pass(text: str) -> None:
    check(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("SELECT count(*) FROM telemetry_by_device_day", "reads every partition"),
        ("select Count (*) from fleet_iot.devices_by_fleet", "restrict fleet_id with = or IN"),
        (
            "SELECT avg(speed_kmh) FROM telemetry_by_device_day WHERE device_id = 'a'",
            "restrict device_id, day",
        ),
        (
            "SELECT max(speed_kmh) FROM telemetry_by_device_day WHERE token(device_id, day) > 0",
            "reads every partition",
        ),
        (
            "SELECT * FROM telemetry_by_device_day WHERE speed_kmh > 100 ALLOW FILTERING",
            "FILTERING",
        ),
        ("SELECT * FROM unknown_table WHERE x = 1 allow   filtering", "FILTERING"),
        ('SELECT count(*) FROM "CamelCase"', "restrict Id"),
    ],
)
def test_scans_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(StatementRejected, match=reason):
        check(text)


def test_a_cartesian_in_list_is_refused_under_the_character_limit() -> None:
    """11 devices x 10 days: 110 partitions from a statement of a few hundred characters."""
    devices = ", ".join(f"'D-{i}'" for i in range(11))
    days = ", ".join(f"'2025-06-{d:02d}'" for d in range(1, 11))
    text = (
        f"SELECT * FROM telemetry_by_device_day WHERE device_id IN ({devices}) AND day IN ({days})"
    )
    assert len(text) < 400
    with pytest.raises(StatementRejected, match="110 key combinations"):
        check(text)
    ten_days = text.replace(f"IN ({devices})", "IN ('D-1')")
    check(ten_days)  # 10 combinations: fine
    assert MAX_IN_COMBINATIONS == 100


def test_restrictions_count_values_per_key_column() -> None:
    where = masked(" a = 'x, y' AND b IN (1, 2, 3) AND (c, d) IN ((1, 2), (3, 4)) AND e > 5")
    assert restrictions(where) == {"a": 1, "b": 3, "c": 2, "d": 2}
    assert restrictions(" a IN ()") == {"a": 0}


def test_masked_blanks_string_literals_only() -> None:
    text = "SELECT \"ALLOW\" FROM t WHERE a = 'AND x' AND b = $$ALLOW FILTERING$$"
    out = masked(text)
    assert len(out) == len(text)
    assert "'     '" in out and "$$               $$" in out and '"ALLOW"' in out
