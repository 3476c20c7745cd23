"""In-memory stand-in for Cassandra, used by the ETL and CLI tests.

It applies mutations the way Cassandra would for these tables: rows keyed by their primary key
(parsed from schema.cql), each cell keeping the write with the highest write timestamp. The
driver itself is replaced (statements are tuples of mutations), so binding and CQL reads are
covered by test_binding.py and the integration tests instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from types import SimpleNamespace
from typing import Any, cast

import pytest
from cassandra.policies import HostDistance

import fleet.etl as etl
from fleet.config import load_settings
from fleet.metrics import Metrics
from fleet.minutes import HOUR, Fetched, Span, collect
from fleet.plan import Mutation, WriteMode, WritePlanner
from fleet.schema import (
    ALERTS,
    DEVICE_HOURS,
    DEVICES,
    TABLES,
    TELEMETRY_BY_DEVICE,
    render_schema,
    split_statements,
)
from fleet.session import Connection
from fleet.transform import SEVERITIES, RollupKey
from fleet.writer import PipelineOptions, WritePipeline


def primary_keys() -> dict[str, tuple[str, ...]]:
    keys = {}
    statements = split_statements(render_schema("ks", {"dc1": 1}))
    for spec in TABLES:
        ddl = next(s for s in statements if f"ks.{spec.name} (" in s)
        compound = re.search(r"PRIMARY KEY \(\(([^)]*)\)(?:, ([^)]*))?\)", ddl)
        if compound:
            names = compound.group(1).split(",") + (compound.group(2) or "").split(",")
        else:
            names = [re.search(r"(\w+) \w+ PRIMARY KEY", ddl).group(1)]  # type: ignore[union-attr]
        keys[spec.name] = tuple(n.strip() for n in names if n.strip())
    return keys


class MemoryCassandra:
    """Rows by primary key; a cell keeps the value of the write with the highest timestamp."""

    def __init__(self, fail: Callable[[Mutation], BaseException | None] = lambda m: None) -> None:
        self.keys = primary_keys()
        self.tables: dict[str, dict[tuple[object, ...], dict[str, tuple[int, object]]]] = {
            t.name: {} for t in TABLES
        }
        self.fail = fail
        self.down = False  # what the fake node reports to the stats (fail sets the outcomes)
        self.clock = count(1)  # client-side write timestamps: later writes, higher stamps

    def get_pool_state(self) -> dict[Any, dict[str, Any]]:
        """The driver's per-node pools: one open connection to the one node, unless down."""
        return {NODE: {"shutdown": False, "open_count": 0 if self.down else 1}}

    def update_created_pools(self) -> None:
        """The driver's call that creates missing pools: the fake node always has one."""

    def execute_async(self, mutations: tuple[Mutation, ...], *, execution_profile: Any) -> Any:
        error = next((e for m in mutations if (e := self.fail(m)) is not None), None)
        if error is None:
            for m in mutations:
                self._apply(m)
        return Done(error)

    def _apply(self, m: Mutation) -> None:
        stamp = m.values[-1] if m.table.timestamped else 10**18 + next(self.clock)
        row = dict(zip(m.table.columns, m.values, strict=False))
        key = tuple(row[c] for c in self.keys[m.table.name])
        cells = self.tables[m.table.name].setdefault(key, {})
        for column, value in row.items():
            if value is not None and (column not in cells or cells[column][0] <= stamp):
                cells[column] = (stamp, value)

    def select(self, table: str) -> list[dict[str, object]]:
        return [{c: v for c, (_, v) in cells.items()} for cells in self.tables[table].values()]


@dataclass
class Done:
    error: BaseException | None

    def add_callbacks(
        self, callback: Any, errback: Any, callback_args: Any = (), errback_args: Any = ()
    ) -> None:
        if self.error is None:
            callback([], *callback_args)
        else:
            errback(self.error, *errback_args)


class MemoryRollupReader:
    """The read-backs of :class:`fleet.minutes.RollupReader` over the stored rows, as Cassandra
    answers them (``GROUP BY floor(ts, 1m)``, a slice of device hours, alert counts); the
    answers go through the real :func:`fleet.minutes.collect`."""

    def __init__(self, session: MemoryCassandra, keyspace: str) -> None:
        self.db = session
        self.levels: list[str] = []  # the consistency of each fetch

    def device_ids(self, fleet_id: str) -> list[str]:
        rows = self.db.select(DEVICES.name)
        return sorted(str(r["device_id"]) for r in rows if r["fleet_id"] == fleet_id)

    def fetch(self, spans: list[Span], keys: list[RollupKey], consistency: str) -> Fetched:
        self.levels.append(consistency)
        results: list[tuple[bool, Any]] = [(True, self._minutes(span)) for span in spans]
        for key in keys:
            hours = [
                tuple(row[c] for c in DEVICE_HOURS.columns)
                for row in self.db.select(DEVICE_HOURS.name)
                if (row["fleet_id"], row["day"], row["hour"]) == (key.fleet_id, key.day, key.hour)
            ]
            results.append((True, hours))
            for severity in SEVERITIES:
                count = sum(
                    (row["fleet_id"], row["day"], row["severity"])
                    == (key.fleet_id, key.day, severity)
                    and key.start <= cast("datetime", row["ts"]) < key.start + HOUR
                    for row in self.db.select(ALERTS.name)
                )
                results.append((True, [(count,)]))
        return collect(spans, keys, results)

    def _minutes(self, span: Span) -> list[tuple[Any, ...]]:
        start, end = span.read_bounds
        groups: dict[datetime, list[dict[str, Any]]] = {}
        for row in self.db.select(TELEMETRY_BY_DEVICE.name):
            ts = cast("datetime", row["ts"])
            if (row["device_id"], row["day"]) == (span.device_id, span.day) and start <= ts < end:
                groups.setdefault(ts.replace(second=0, microsecond=0), []).append(row)
        aggregated = []
        for minute, rows in sorted(groups.items()):
            n = len(rows)
            aggregated.append(
                (
                    minute.replace(tzinfo=None),  # the driver's naive UTC
                    *(sum(r[c] for r in rows) / n for c in ("lat", "lon", "speed_kmh")),
                    max(r["speed_kmh"] for r in rows),
                    *(sum(r[c] for r in rows) / n for c in ("battery_pct", "temp_c")),
                    n,
                    sum(r["speed_kmh"] for r in rows),
                    float(sum(r["battery_pct"] for r in rows)),
                )
            )
        return aggregated


class FakeHost:
    """A node as the driver's metadata describes it (hashable by identity, like the driver's)."""

    address, datacenter, is_up = "127.0.0.1", "dc1", True


NODE = FakeHost()


def _table_options() -> dict[str, SimpleNamespace]:
    """Each table of schema.cql with its gc_grace_seconds as Cassandra's metadata would give it
    (864000, Cassandra's default, unless the CQL sets it)."""
    from fleet.schema import schema_template

    tables = {}
    for statement in schema_template().split(";"):
        name = re.search(r"CREATE TABLE IF NOT EXISTS \$\{keyspace\}\.(\w+)", statement)
        if name:
            grace = re.search(r"gc_grace_seconds = (\d+)", statement)
            options = {"gc_grace_seconds": int(grace.group(1)) if grace else 864000}
            tables[name.group(1)] = SimpleNamespace(options=options)
    return tables


SCHEMA_TABLE_OPTIONS = _table_options()


@dataclass
class FakeConnection:
    settings: Any
    session: MemoryCassandra
    degraded_profile: str | None = None

    @property
    def cluster(self) -> Any:
        NODE.is_up = not self.session.down
        return SimpleNamespace(
            metadata=SimpleNamespace(
                all_hosts=lambda: [NODE],
                keyspaces={self.settings.keyspace: SimpleNamespace(tables=SCHEMA_TABLE_OPTIONS)},
            ),
            profile_manager=SimpleNamespace(distance=lambda host: HostDistance.LOCAL),
        )

    def close(self) -> None:
        pass

    def __enter__(self) -> FakeConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch) -> MemoryCassandra:
    memory = MemoryCassandra()

    def make_pipeline(
        conn: Any,
        metrics: Metrics,
        planner: WritePlanner,
        mode: WriteMode,
        **kwargs: Any,
    ) -> WritePipeline:
        return WritePipeline(
            session=conn.session,
            bind=tuple,
            planner=planner,
            metrics=metrics,
            options=PipelineOptions(mode=mode, concurrency=8, backoff_base_s=0.001),
            **kwargs,
        )

    monkeypatch.setattr(etl, "make_pipeline", make_pipeline)
    monkeypatch.setattr(etl, "RollupReader", MemoryRollupReader)
    return memory


@pytest.fixture
def connection(db: MemoryCassandra) -> Callable[..., Connection]:
    """``connection(**env)``: a connection to ``db`` with 4 devices per fleet, seed 99."""

    def connect(**env: str) -> Connection:
        settings = load_settings(
            {"FLEET_LOCAL_DC": "dc1", "FLEET_DEVICES_PER_FLEET": "4", "FLEET_SEED": "99", **env}
        )
        return cast("Connection", FakeConnection(settings, db))

    return connect


@pytest.fixture
def schema_table_options() -> dict[str, dict[str, object]]:
    """Each table of schema.cql -> its options as the driver's metadata gives them."""
    return {name: dict(t.options) for name, t in SCHEMA_TABLE_OPTIONS.items()}
