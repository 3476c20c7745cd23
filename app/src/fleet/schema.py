"""The CQL schema (``schema.cql``, shipped as package data), its write layout, and applying it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from string import Template
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cassandra.cluster import Cluster, Session

SCHEMA_AGREEMENT_WAIT_S = 30.0


class SchemaError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class TableSpec:
    """How the writer inserts into a table: bind order and partition key columns."""

    name: str
    columns: tuple[str, ...]
    partition_key: tuple[str, ...]
    timestamped: bool = False  # the last bound value is USING TIMESTAMP (microseconds)
    # positions of the partition key columns in ``columns`` (the writer groups rows by them)
    key_positions: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        positions = tuple(self.columns.index(c) for c in self.partition_key)
        object.__setattr__(self, "key_positions", positions)

    def insert_cql(self, keyspace: str) -> str:
        cql = (
            f"INSERT INTO {keyspace}.{self.name} ({', '.join(self.columns)}) "
            f"VALUES ({', '.join('?' for _ in self.columns)})"
        )
        return cql + (" USING TIMESTAMP ?" if self.timestamped else "")


_READING = ("model", "lat", "lon", "speed_kmh", "heading_deg", "battery_pct", "temp_c", "zone")
_LATEST = ("last_ts", *_READING)

DEVICES = TableSpec(
    "devices_by_fleet", ("fleet_id", "device_id", "model", "activated_at"), ("fleet_id",)
)
LATEST_BY_FLEET = TableSpec(
    "latest_position_by_fleet", ("fleet_id", "device_id", *_LATEST), ("fleet_id",), True
)
TELEMETRY_BY_DEVICE = TableSpec(
    "telemetry_by_device_day",
    ("device_id", "day", "ts", "fleet_id", *_READING),
    ("device_id", "day"),
)
ALERTS = TableSpec(
    "alerts_by_fleet_day",
    (
        "fleet_id",
        "day",
        "severity",
        "ts",
        "device_id",
        "alert_type",
        "value",
        "threshold",
        "message",
    ),
    ("fleet_id", "day", "severity"),
    True,
)
ROLLUPS = TableSpec(
    "fleet_analytics_by_day",
    (
        "fleet_id",
        "day",
        "hour",
        "points",
        "active_devices",
        "avg_speed_kmh",
        "max_speed_kmh",
        "avg_battery_pct",
        "alert_count",
    ),
    ("fleet_id", "day"),
    True,
)
DEVICE_MINUTES = TableSpec(
    "device_analytics_by_day",
    (
        "device_id",
        "day",
        "minute",
        "lat",
        "lon",
        "speed_kmh",
        "max_speed_kmh",
        "battery_pct",
        "temp_c",
        "readings",
    ),
    ("device_id", "day"),
    True,
)
DEVICE_HOURS = TableSpec(
    "device_hours_by_fleet_day",
    (
        "fleet_id",
        "day",
        "hour",
        "device_id",
        "points",
        "sum_speed_kmh",
        "max_speed_kmh",
        "sum_battery_pct",
    ),
    ("fleet_id", "day"),
    True,
)
# Recomputed from stored readings, never written by a record (fleet.transform, fleet.minutes).
ROLLUP_TABLES = (ROLLUPS, DEVICE_MINUTES, DEVICE_HOURS)
# The tables the ETL writes. A reading is one row of telemetry_by_device_day; the other tables
# get one row per device (latest state, registry), alert window or rollup, not per reading.
TABLES: tuple[TableSpec, ...] = (
    DEVICES,
    LATEST_BY_FLEET,
    TELEMETRY_BY_DEVICE,
    ALERTS,
    ROLLUPS,
    DEVICE_MINUTES,
    DEVICE_HOURS,
)
# Not written by the ETL: the drill probe's table (fleet.probe).
DRILL_PROBE = TableSpec(
    "drill_probe", ("run_id", "consistency", "seq", "written_at"), ("run_id", "consistency")
)
# Not written by the app: each node's backups, written by Medusa on the node (role medusa).
BACKUP_STATUS = TableSpec(
    "backup_status",
    ("node", "finished_at", "backup_name", "mode", "files", "bytes"),
    ("node",),
)
# Every table schema.cql creates.
ALL_TABLES: tuple[TableSpec, ...] = (*TABLES, DRILL_PROBE, BACKUP_STATUS)


# Tables whose rows only ever expire by TTL and are never deleted: schema.cql gives them a short
# gc_grace_seconds (3 h), which does not bound how often they must be repaired (an expired cell
# becomes a tombstone on every replica by itself). Every other table's gc_grace_seconds does.
TTL_ONLY_TABLES = frozenset({TELEMETRY_BY_DEVICE.name, DEVICE_MINUTES.name, DEVICE_HOURS.name})


def repair_deadline_s(tables: dict[str, dict[str, object]]) -> int | None:
    """How often the keyspace must be repaired, at most: the smallest gc_grace_seconds of its
    tables that may hold deletes (``tables``: name -> CQL options, as the driver's metadata
    gives them). A replica that misses a delete and is not repaired within that time brings the
    deleted data back. None when no table bounds it."""
    graces = [
        int(str(options["gc_grace_seconds"]))
        for name, options in tables.items()
        if name not in TTL_ONLY_TABLES and "gc_grace_seconds" in options
    ]
    return min(graces) if graces else None


def schema_template() -> str:
    return resources.files("fleet").joinpath("schema.cql").read_text(encoding="utf-8")


def render_schema(keyspace: str, replication: dict[str, int]) -> str:
    if not replication:
        raise SchemaError("replication needs at least one data center")
    return Template(schema_template()).substitute(
        keyspace=keyspace,
        replication=", ".join(f"'{dc}': {rf}" for dc, rf in replication.items()),
    )


def split_statements(cql: str) -> list[str]:
    """Statements of a CQL script without ``--`` comment lines (no ``;`` inside literals)."""
    lines = [line for line in cql.splitlines() if not line.lstrip().startswith("--")]
    return [" ".join(s.split()) for s in "\n".join(lines).split(";") if s.strip()]


def table_columns(cql: str) -> dict[str, dict[str, str]]:
    """Column name -> CQL type, for each ``CREATE TABLE`` of ``cql`` (tests check the layout)."""
    tables: dict[str, dict[str, str]] = {}
    for statement in split_statements(cql):
        match = re.match(r"CREATE TABLE IF NOT EXISTS \w+\.(\w+) \( (.*)", statement)
        if match is None:
            continue
        columns = tables[match.group(1)] = {}
        for part in match.group(2).split(","):
            column = re.fullmatch(r"\s*(\w+) (\w+)(?: PRIMARY KEY)?( \).*)?", part)
            if column is None:
                break
            columns[column.group(1)] = column.group(2)
            if column.group(3):
                break
    return tables


@dataclass(frozen=True, slots=True)
class SchemaReport:
    statements: int
    warnings: tuple[str, ...]
    # What did not exist before this run: the keyspace and/or table names.
    created: tuple[str, ...] = ()


def apply_schema(
    cluster: Cluster, session: Session, keyspace: str, replication: dict[str, int]
) -> SchemaReport:
    """Create what is missing and wait until every node agrees on the schema version."""
    statements = split_statements(render_schema(keyspace, replication))
    before = cluster.metadata.keyspaces.get(keyspace)
    existing_tables = set(before.tables) if before else set()
    created = ([] if before else [keyspace]) + [
        name
        for statement in statements
        if (match := re.match(rf"CREATE TABLE IF NOT EXISTS {keyspace}\.(\w+)", statement))
        and (name := match.group(1)) not in existing_tables
    ]
    for statement in statements:
        session.execute(statement, timeout=60.0)
    if not cluster.control_connection.wait_for_schema_agreement(wait_time=SCHEMA_AGREEMENT_WAIT_S):
        raise SchemaError(
            f"nodes did not agree on the schema within {SCHEMA_AGREEMENT_WAIT_S:g}s; "
            "check `nodetool describecluster` and unreachable nodes"
        )
    warnings: list[str] = []
    existing = cluster.metadata.keyspaces.get(keyspace)
    actual = (
        getattr(existing.replication_strategy, "dc_replication_factors", None) if existing else None
    )
    if actual is not None and dict(actual) != replication:
        warnings.append(
            f"keyspace {keyspace} already exists with replication {dict(actual)}, not "
            f"{replication}: IF NOT EXISTS left it unchanged; to change it, ALTER KEYSPACE "
            "then repair"
        )
    return SchemaReport(
        statements=len(statements), warnings=tuple(warnings), created=tuple(created)
    )
