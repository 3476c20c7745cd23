from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from fleet.model import Device, TelemetryPoint, to_micros
from fleet.plan import Mutation, WriteMode, WritePlanner, group_requests
from fleet.schema import (
    ALERTS,
    ALL_TABLES,
    DEVICE_HOURS,
    DEVICES,
    LATEST_BY_FLEET,
    TELEMETRY_BY_DEVICE,
    SchemaError,
    render_schema,
    split_statements,
    table_columns,
)
from fleet.transform import alert_window, alert_write_timestamp, evaluate_alerts

Factory = Callable[..., TelemetryPoint]
T0 = datetime(2025, 6, 16, 8, 0, tzinfo=UTC)


# ----------------------------------------------------------------------------- schema


def test_render_uses_keyspace_and_replication() -> None:
    cql = render_schema("fleet_it_ab12", {"dc1": 1})
    assert "$" not in cql
    statements = split_statements(cql)
    assert statements[0] == (
        "CREATE KEYSPACE IF NOT EXISTS fleet_it_ab12 WITH replication = "
        "{'class': 'NetworkTopologyStrategy', 'dc1': 1} AND durable_writes = true"
    )
    assert len(statements) == 1 + len(ALL_TABLES)
    assert all(" IF NOT EXISTS fleet_it_ab12" in s for s in statements)
    assert "'dc1': 2, 'dc2': 2" in render_schema("fleet_iot", {"dc1": 2, "dc2": 2})
    with pytest.raises(SchemaError):
        render_schema("fleet_iot", {})


def _table(cql: str, name: str) -> str:
    return next(s for s in split_statements(cql) if f".{name} (" in s)


def test_table_options() -> None:
    cql = render_schema("fleet_iot", {"dc1": 2, "dc2": 2})
    table = _table(cql, "telemetry_by_device_day")
    assert "default_time_to_live = 2592000" in table  # 30 days
    assert "'class': 'TimeWindowCompactionStrategy'" in table
    assert "'compaction_window_unit': 'DAYS', 'compaction_window_size': 1" in table
    assert "PRIMARY KEY ((fleet_id, day), hour, device_id)" in _table(cql, DEVICE_HOURS.name)
    assert "default_time_to_live = 2592000" in _table(cql, DEVICE_HOURS.name)
    assert "PRIMARY KEY ((fleet_id), device_id)" in _table(cql, "latest_position_by_fleet")
    # one copy of each reading: the second copy and the per-device latest state are gone
    assert "telemetry_by_fleet_day (" not in cql and "latest_telemetry_by_device" not in cql
    assert " counter" not in " ".join(split_statements(cql)).lower()  # no counter columns


def test_write_layout_matches_the_ddl() -> None:
    cql = render_schema("fleet_iot", {"dc1": 2})
    columns = table_columns(cql)
    assert set(columns) == {t.name for t in ALL_TABLES}
    for spec in ALL_TABLES:
        assert set(spec.columns) == set(columns[spec.name]), spec.name
        key = re.search(r"PRIMARY KEY \(\(([^)]*)\)", _table(cql, spec.name))
        partition = key.group(1) if key else spec.columns[0]
        assert tuple(c.strip() for c in partition.split(",")) == spec.partition_key


def test_insert_cql() -> None:
    assert LATEST_BY_FLEET.insert_cql("ks").endswith(" USING TIMESTAMP ?")
    insert = DEVICES.insert_cql("ks")
    assert insert == (
        "INSERT INTO ks.devices_by_fleet (fleet_id, device_id, model, activated_at) "
        "VALUES (?, ?, ?, ?)"
    )


# ----------------------------------------------------------------------------- plan


def _records(points: list[TelemetryPoint], first: int = 0) -> list[tuple[int, TelemetryPoint]]:
    return list(enumerate(points, start=first))


def test_plan_writes_every_table(point_factory: Factory) -> None:
    points = [
        point_factory(device_id="PARIS-0001", ts=T0),
        point_factory(device_id="PARIS-0001", ts=T0 + timedelta(seconds=10), speed_kmh=125.0),
        point_factory(device_id="PARIS-0002", ts=T0 + timedelta(seconds=5)),
    ]
    registry = [Device("FLEET_PARIS", "PARIS-0001", "GPS-TX-1", T0 - timedelta(days=30))]
    mutations = WritePlanner(registry).plan(_records(points))
    by_table = Counter(m.table.name for m in mutations)
    assert by_table == {
        TELEMETRY_BY_DEVICE.name: 3,  # the one row per reading
        ALERTS.name: 1,  # OVERSPEED HIGH on the second reading
        LATEST_BY_FLEET.name: 2,
        DEVICES.name: 2,
    }
    for m in mutations:
        assert len(m.values) == len(m.table.columns) + (1 if m.table.timestamped else 0)

    latest = {m.values[1]: m for m in mutations if m.table is LATEST_BY_FLEET}
    newest = dict(zip(LATEST_BY_FLEET.columns, latest["PARIS-0001"].values, strict=False))
    assert newest["last_ts"] == T0 + timedelta(seconds=10)
    assert latest["PARIS-0001"].values[-1] == to_micros(T0 + timedelta(seconds=10))
    assert latest["PARIS-0001"].records == (0, 1)  # acknowledged only with the latest row

    devices = {m.values[1]: m.values for m in mutations if m.table is DEVICES}
    assert devices["PARIS-0001"][3] == T0 - timedelta(days=30)
    assert devices["PARIS-0002"][3] is None  # unknown: sent as unset, never as null

    readings = [m for m in mutations if m.table is TELEMETRY_BY_DEVICE]
    assert readings[0].partition == (TELEMETRY_BY_DEVICE.name, ("PARIS-0001", T0.date()))


def test_alerts_of_one_window_are_one_row_holding_the_first_reading(
    point_factory: Factory,
) -> None:
    hot = [
        point_factory(ts=T0 + timedelta(seconds=s), speed_kmh=speed)
        for s, speed in ((40, 97.0), (10, 95.0), (25, 99.0), (310, 95.0))  # last: next window
    ]
    mutations = WritePlanner().plan(_records(hot))
    rows = [
        dict(zip(ALERTS.columns, m.values, strict=False)) | {"_m": m}
        for m in mutations
        if m.table is ALERTS
    ]
    assert len(rows) == 2
    first, later = sorted(rows, key=lambda r: r["ts"])
    assert first["ts"] == alert_window(T0) and first["value"] == 95.0  # the reading at +10 s
    assert first["_m"].records == (0, 1, 2)  # acknowledged with every reading it stands for
    assert first["_m"].values[-1] == alert_write_timestamp(evaluate_alerts(hot[1])[0])
    assert later["_m"].records == (3,)


def test_devices_are_registered_once_unless_forgotten(point_factory: Factory) -> None:
    planner = WritePlanner()

    def device_rows(first: int) -> int:
        records = _records([point_factory(ts=T0 + timedelta(seconds=first))], first)
        return sum(m.table is DEVICES for m in planner.plan(records))

    assert device_rows(0) == 1
    assert device_rows(1) == 0
    planner.forget_device("PARIS-0001")
    assert device_rows(2) == 1


def _mutations(point_factory: Factory, count: int) -> list[Mutation]:
    points = [
        point_factory(device_id=f"PARIS-{i % 3:04d}", ts=T0 + timedelta(seconds=i))
        for i in range(count)
    ]
    return WritePlanner().plan(_records(points))


def test_async_requests_hold_one_mutation(point_factory: Factory) -> None:
    mutations = _mutations(point_factory, 20)
    requests = group_requests(mutations, WriteMode.ASYNC)
    assert [r[0] for r in requests] == mutations
    assert all(len(r) == 1 for r in requests)


def test_batches_hold_one_partition_and_cover_everything(point_factory: Factory) -> None:
    mutations = _mutations(point_factory, 100)
    requests = group_requests(mutations, WriteMode.BATCH, max_batch=7)
    assert all(1 <= len(r) <= 7 for r in requests)
    assert all(len({m.partition for m in r}) == 1 for r in requests)
    flattened = [m for r in requests for m in r]
    assert sorted(map(id, flattened)) == sorted(map(id, mutations))
    assert len(requests) < len(mutations) / 3


def test_the_repair_deadline_is_the_smallest_gc_grace_of_the_tables_that_may_hold_deletes(
    schema_table_options: dict[str, dict[str, object]],
) -> None:
    from fleet.schema import TTL_ONLY_TABLES, repair_deadline_s

    options = schema_table_options
    # the TTL-only tables are exactly those whose CQL shortens gc_grace (3 h)
    assert {n for n, o in options.items() if o["gc_grace_seconds"] < 864000} == TTL_ONLY_TABLES
    assert repair_deadline_s(options) == 864000  # Cassandra's default, 10 days
    options["alerts_by_fleet_day"] = {"gc_grace_seconds": 172800}  # an operator lowered it
    assert repair_deadline_s(options) == 172800
    assert repair_deadline_s({n: options[n] for n in TTL_ONLY_TABLES}) is None
