"""Bind every kind of mutation with the driver's real serializers, typed from schema.cql.

No server: ``prepare`` is answered from the DDL, as Cassandra would, so a value of the wrong
type for its column (a naive datetime, a float in an int column...) fails here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from cassandra import cqltypes
from cassandra.protocol import ColumnMetadata
from cassandra.query import (
    UNSET_VALUE,
    BatchStatement,
    BatchType,
    BoundStatement,
    PreparedStatement,
)

from fleet.minutes import Span, to_minutes_and_hours
from fleet.model import Device, TelemetryPoint
from fleet.plan import (
    Mutation,
    WritePlanner,
    device_hour_mutation,
    minute_mutation,
    rollup_mutation,
)
from fleet.schema import DEVICES, ROLLUPS, TABLES, render_schema, table_columns
from fleet.transform import HourlyRollup, RollupKey
from fleet.writer import StatementBinder

CQL_TYPES = {
    "text": cqltypes.UTF8Type,
    "int": cqltypes.Int32Type,
    "double": cqltypes.DoubleType,
    "timestamp": cqltypes.DateType,
    "date": cqltypes.SimpleDateType,
}
T0 = datetime(2025, 6, 16, 8, 0, tzinfo=UTC)


class PreparingSession:
    def __init__(self) -> None:
        self.types = table_columns(render_schema("ks", {"dc1": 1}))
        self.prepared: list[PreparedStatement] = []

    def prepare(self, query: str) -> PreparedStatement:
        match = re.fullmatch(
            r"INSERT INTO ks\.(\w+) \(([^)]*)\) VALUES \([?, ]*\)( USING TIMESTAMP \?)?", query
        )
        assert match, query
        table, names = match.group(1), [n.strip() for n in match.group(2).split(",")]
        columns = [ColumnMetadata("ks", table, n, CQL_TYPES[self.types[table][n]]) for n in names]
        if match.group(3):
            columns.append(ColumnMetadata("ks", table, "[timestamp]", cqltypes.LongType))
        spec = next(t for t in TABLES if t.name == table)
        statement = PreparedStatement(
            column_metadata=columns,
            query_id=table.encode(),
            routing_key_indexes=[names.index(c) for c in spec.partition_key],
            query=query,
            keyspace="ks",
            protocol_version=5,
            result_metadata=None,
            result_metadata_id=None,
        )
        self.prepared.append(statement)
        return statement


@pytest.fixture
def binder() -> StatementBinder:
    return StatementBinder(PreparingSession(), "ks")  # type: ignore[arg-type]


def _mutations(point_factory: Callable[..., TelemetryPoint]) -> list[Mutation]:
    points = [
        point_factory(ts=T0, speed_kmh=130.0, battery_pct=3, temp_c=47.0),
        point_factory(ts=T0 + timedelta(seconds=10)),
        point_factory(device_id="PARIS-0002", ts=T0),
    ]
    registry = [Device("FLEET_PARIS", "PARIS-0001", "GPS-TX-1", T0 - timedelta(days=3))]
    mutations = WritePlanner(registry).plan(list(enumerate(points)))
    rollup = HourlyRollup(RollupKey("FLEET_PARIS", T0.date(), 8), 3, 2, 40.0, 130.0, 50.0, 3)
    # a minute as the driver returns it: naive UTC, COUNT(*) as a Python int
    (minute,), (hour,) = to_minutes_and_hours(
        Span("PARIS-0001", T0.date(), T0, T0, "FLEET_PARIS"),
        [(T0.replace(tzinfo=None), 48.8, 2.3, 40.0, 65.5, 80.0, 21.5, 6, 240.0, 480.0)],
    )
    return [
        *mutations,
        rollup_mutation(rollup),
        minute_mutation(minute),
        device_hour_mutation(hour),
    ]


def test_every_mutation_binds_with_its_column_types(
    binder: StatementBinder, point_factory: Callable[..., TelemetryPoint]
) -> None:
    mutations = _mutations(point_factory)
    assert {m.table.name for m in mutations} == {t.name for t in TABLES}
    for mutation in mutations:
        bound = binder([mutation])
        assert isinstance(bound, BoundStatement)
        assert bound.is_idempotent
        assert bound.routing_key  # the partition key serializes: token-aware routing works
        assert len(bound.values) == len(mutation.values)


def test_unknown_values_are_unset_not_null(
    binder: StatementBinder, point_factory: Callable[..., TelemetryPoint]
) -> None:
    devices = {m.values[1]: m for m in _mutations(point_factory) if m.table is DEVICES}
    unknown = binder([devices["PARIS-0002"]])
    assert unknown.values[DEVICES.columns.index("activated_at")] is UNSET_VALUE
    known = binder([devices["PARIS-0001"]])
    assert known.values[DEVICES.columns.index("activated_at")] not in (UNSET_VALUE, None)


def test_rollup_write_timestamp_is_bound(
    binder: StatementBinder, point_factory: Callable[..., TelemetryPoint]
) -> None:
    rollup = next(m for m in _mutations(point_factory) if m.table is ROLLUPS)
    bound = binder([rollup])
    assert bound.values[-1] == cqltypes.LongType.serialize(rollup.values[-1], 5)


def test_several_mutations_make_one_unlogged_idempotent_batch(
    binder: StatementBinder, point_factory: Callable[..., TelemetryPoint]
) -> None:
    mutations = [m for m in _mutations(point_factory) if m.table.name == "telemetry_by_device_day"]
    same_partition = [m for m in mutations if m.values[0] == "PARIS-0001"]
    assert len(same_partition) == 2
    batch = binder(same_partition)
    assert isinstance(batch, BatchStatement)
    assert batch.batch_type == BatchType.UNLOGGED
    assert batch.is_idempotent
    assert len(batch._statements_and_parameters) == 2


def test_a_wrongly_typed_value_is_caught(
    binder: StatementBinder, point_factory: Callable[..., TelemetryPoint]
) -> None:
    good = next(m for m in _mutations(point_factory) if m.table.name == "telemetry_by_device_day")
    heading = good.table.columns.index("heading_deg")
    values = (*good.values[:heading], "not a number", *good.values[heading + 1 :])
    wrong = Mutation(good.table, values, good.records)
    with pytest.raises(TypeError):
        binder([wrong])
