"""The console's cost check against a real node: the keys come from the driver's metadata, the
refused statements never reach Cassandra, and keyed reads run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fleet.config import load_settings
from fleet.dashboard.console import run_console_statement, table_keys
from fleet.dashboard.cql_cost import TableKeys
from fleet.dashboard.cql_guard import StatementRejected
from fleet.session import connect

from .conftest import Seeded

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def session(seeded: Seeded) -> Iterator[Any]:
    with connect(load_settings(seeded.env)) as conn:
        conn.session.set_keyspace(seeded.keyspace)  # as the dashboard's console connection
        yield conn.session


def test_keys_come_from_the_schema_metadata(session: Any, seeded: Seeded) -> None:
    assert table_keys(session, None, "telemetry_by_device_day") == TableKeys(
        ("device_id", "day"), ("ts",)
    )
    assert table_keys(session, seeded.keyspace, "devices_by_fleet") == TableKeys(
        ("fleet_id",), ("device_id",)
    )
    assert table_keys(session, None, "no_such_table") is None
    assert table_keys(session, "no_such_keyspace", "devices_by_fleet") is None


@pytest.mark.parametrize(
    "text",
    [
        "SELECT count(*) FROM telemetry_by_device_day",
        "SELECT * FROM telemetry_by_device_day WHERE speed_kmh > 100 ALLOW FILTERING",
        "SELECT * FROM telemetry_by_device_day WHERE device_id IN "
        + "("
        + ", ".join(f"'PARIS-{i:04d}'" for i in range(1, 12))
        + ") AND day IN "
        + "("
        + ", ".join(f"'2025-06-{d:02d}'" for d in range(1, 11))
        + ")",
    ],
)
def test_scans_are_refused_before_cassandra(session: Any, text: str) -> None:
    with pytest.raises(StatementRejected):
        run_console_statement(session, text, row_limit=10, timeout_s=5)


def test_keyed_aggregates_and_bounded_reads_run(session: Any, seeded: Seeded) -> None:
    point = seeded.points[0]
    text = (
        f"SELECT count(*) FROM telemetry_by_device_day WHERE device_id = '{point.device_id}' "
        f"AND day = '{point.day}'"
    )
    result = run_console_statement(session, text, row_limit=10, timeout_s=10)
    assert result.frame.iloc[0, 0] == len(seeded.readings(point.device_id, point.day))
    listing = run_console_statement(
        session, "SELECT * FROM devices_by_fleet", row_limit=5, timeout_s=10
    )
    assert len(listing.frame) == 5 and listing.truncated
