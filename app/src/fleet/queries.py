"""Read layer: every query the dashboard (and ``fleet bench-dashboard``) runs, in one place.

* Prepared statements only, bound with values: user input never becomes CQL text here.
* One partition per query; reads that span partitions (several devices, the days and
  severities of alerts) are sent concurrently, never one after the other.
* Results are pandas DataFrames (tables, charts) or dataclasses (one reading is a
  :class:`~fleet.model.TelemetryPoint`); timestamps are timezone-aware UTC.
* Reads run at ``FLEET_CONSISTENCY``. A read that fails with ``Unavailable`` (e.g. one of two
  local replicas down under LOCAL_QUORUM) is sent again once at
  ``FLEET_DEGRADED_CONSISTENCY`` when that is set, and counted in :attr:`FleetQueries.degraded`:
  the dashboard stays up while a node is down, as the writes do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any

import pandas as pd
from cassandra import Unavailable
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Session
from cassandra.concurrent import execute_concurrent
from cassandra.query import PreparedStatement

from fleet.minutes import VALUE_COLUMNS
from fleet.model import TelemetryPoint
from fleet.schema import (
    ALERTS,
    BACKUP_STATUS,
    DEVICE_MINUTES,
    DEVICES,
    LATEST_BY_FLEET,
    ROLLUPS,
)
from fleet.schema import TELEMETRY_BY_DEVICE as BY_DEVICE_DAY
from fleet.transform import SEVERITIES

# Columns read, in the order the tables declare them (fleet.schema), partition keys left out.
DEVICE_COLUMNS = DEVICES.columns[1:]  # device_id, model, activated_at
LATEST_COLUMNS = LATEST_BY_FLEET.columns[1:]  # device_id, last_ts, model, lat, lon, ...
TELEMETRY_COLUMNS = ("ts", *BY_DEVICE_DAY.columns[4:])  # ts, model, lat, lon, ...
ALERT_COLUMNS = ALERTS.columns[2:]  # severity, ts, device_id, alert_type, value, ...
ROLLUP_COLUMNS = ROLLUPS.columns[2:]  # hour, points, active_devices, ...
# A device's day per minute, as the ETL stores it (fleet.minutes): at most 1,440 rows.
SERIES_COLUMNS = ("ts", *VALUE_COLUMNS)  # ts, lat, lon, speed_kmh, max_speed_kmh, ...
BACKUP_COLUMNS = BACKUP_STATUS.columns  # node, finished_at, backup_name, mode, files, bytes
TIMESTAMP_COLUMNS = frozenset({"ts", "last_ts", "activated_at", "finished_at"})

DAY_FETCH_SIZE = 10_000  # a device-day holds at most 8,640 readings: one round trip
DEFAULT_ALERT_LIMIT = 2_000  # newest alerts read per (day, severity) partition
MAX_CONCURRENCY = 64


@dataclass(frozen=True, slots=True)
class TelemetryPage:
    """One page of a device's day; ``next_state`` is the driver's paging state, None at the end."""

    frame: pd.DataFrame
    next_state: bytes | None


@dataclass(frozen=True, slots=True)
class AlertQuery:
    fleet_id: str
    days: tuple[date, ...]
    severities: tuple[str, ...] = SEVERITIES
    alert_type: str | None = None  # None: every type
    limit: int = DEFAULT_ALERT_LIMIT  # per (day, severity) partition, newest first

    def __post_init__(self) -> None:
        unknown = set(self.severities) - set(SEVERITIES)
        if unknown:
            raise ValueError(f"unknown severity {sorted(unknown)}; use {', '.join(SEVERITIES)}")
        if self.limit < 1:
            raise ValueError("limit must be positive")

    def partitions(self) -> list[tuple[str, date, str]]:
        return [(self.fleet_id, d, s) for d in self.days for s in self.severities]


def to_frame(rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    """Rows (tuples in ``columns`` order) -> DataFrame; naive driver timestamps become UTC."""
    frame = pd.DataFrame([tuple(row) for row in rows], columns=list(columns))
    for column in TIMESTAMP_COLUMNS.intersection(frame.columns):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


class FleetQueries:
    """Prepared reads on one keyspace; thread-safe (the dashboard shares one per process)."""

    def __init__(
        self,
        session: Session,
        keyspace: str,
        *,
        degraded_profile: str | None = None,
        concurrency: int = MAX_CONCURRENCY,
    ) -> None:
        self._session = session
        self._keyspace = keyspace
        self._backups: PreparedStatement | None = None  # prepared on first use (see latest_backups)
        self._degraded_profile = degraded_profile
        self._concurrency = concurrency
        self._lock = threading.Lock()
        self.degraded = 0  # reads answered at the degraded consistency level

        def select(columns: Sequence[str], table: str, where: str) -> PreparedStatement:
            return self._prepare(f"SELECT {', '.join(columns)} FROM {keyspace}.{table} {where}")

        alert_key = "WHERE fleet_id = ? AND day = ? AND severity = ?"
        self._devices = select(DEVICE_COLUMNS, DEVICES.name, "WHERE fleet_id = ?")
        self._latest_fleet = select(LATEST_COLUMNS, LATEST_BY_FLEET.name, "WHERE fleet_id = ?")
        self._latest_device = select(
            LATEST_BY_FLEET.columns, LATEST_BY_FLEET.name, "WHERE fleet_id = ? AND device_id = ?"
        )
        self._device_day = select(
            TELEMETRY_COLUMNS, BY_DEVICE_DAY.name, "WHERE device_id = ? AND day = ?"
        )
        self._device_day.fetch_size = DAY_FETCH_SIZE
        self._device_series = select(
            ("minute", *VALUE_COLUMNS), DEVICE_MINUTES.name, "WHERE device_id = ? AND day = ?"
        )
        self._device_series.fetch_size = DAY_FETCH_SIZE
        self._alerts = select(ALERT_COLUMNS, ALERTS.name, f"{alert_key} LIMIT ?")
        # One type of alert: its partitions are read whole and filtered here. The cluster refuses
        # ALLOW FILTERING (guardrail allow_filtering_enabled: false), and a partition is a day of
        # one fleet and severity: one row per device, rule and 5 minutes at most.
        self._alerts_whole = select(ALERT_COLUMNS, ALERTS.name, alert_key)
        self._alert_count = select(("COUNT(*)",), ALERTS.name, alert_key)
        self._alert_types = select(("alert_type",), ALERTS.name, alert_key)
        self._rollups = select(ROLLUP_COLUMNS, ROLLUPS.name, "WHERE fleet_id = ? AND day = ?")

    def _prepare(self, cql: str) -> PreparedStatement:
        prepared = self._session.prepare(cql)
        prepared.is_idempotent = True
        return prepared

    # -- execution

    def _count_degraded(self, n: int = 1) -> None:
        with self._lock:
            self.degraded += n

    def _execute(
        self, statement: Any, params: Sequence[Any] | None = None, paging_state: bytes | None = None
    ) -> Any:
        """One request; ``Unavailable`` is retried once at the degraded profile, if any."""
        try:
            return self._session.execute(statement, params, paging_state=paging_state)
        except Unavailable:
            if self._degraded_profile is None:
                raise
        result = self._session.execute(
            statement, params, paging_state=paging_state, execution_profile=self._degraded_profile
        )
        self._count_degraded()
        return result

    def _gather(self, statement: PreparedStatement, params: Sequence[Sequence[Any]]) -> list[Any]:
        """Rows of each parameter set, in order, the requests sent concurrently."""
        if not params:
            return []
        outcomes = self._concurrent(statement, params, EXEC_PROFILE_DEFAULT)
        failed = [i for i, (ok, _) in enumerate(outcomes) if not ok]
        retry = [i for i in failed if isinstance(outcomes[i][1], Unavailable)]
        if retry and self._degraded_profile is not None and len(retry) == len(failed):
            again = self._concurrent(statement, [params[i] for i in retry], self._degraded_profile)
            for i, outcome in zip(retry, again, strict=True):
                outcomes[i] = outcome
            self._count_degraded(sum(ok for ok, _ in again))
        for ok, result in outcomes:
            if not ok:
                raise result
        return [list(result) for _, result in outcomes]

    def _concurrent(
        self, statement: PreparedStatement, params: Sequence[Sequence[Any]], profile: Any
    ) -> list[tuple[bool, Any]]:
        return list(
            execute_concurrent(
                self._session,
                [(statement, p) for p in params],
                concurrency=min(self._concurrency, len(params)),
                raise_on_first_error=False,
                execution_profile=profile,
            )
        )

    # -- operations

    def latest_backups(self, nodes: Sequence[str]) -> pd.DataFrame:
        """Each node's latest recorded backup (table backup_status: Medusa on the node writes a
        row after each), one partition per node, read concurrently; a node with none has no row.
        Prepared on first use: the other pages work on a schema that predates the table."""
        if self._backups is None:
            self._backups = self._prepare(
                f"SELECT {', '.join(BACKUP_COLUMNS)} FROM {self._keyspace}.{BACKUP_STATUS.name} "
                "WHERE node = ? LIMIT 1"
            )
        per_node = self._gather(self._backups, [(node,) for node in nodes])
        return to_frame((row for rows in per_node for row in rows), BACKUP_COLUMNS)

    # -- fleets and devices

    def devices(self, fleet_id: str) -> pd.DataFrame:
        """The fleet's registered devices, by device id."""
        return to_frame(self._execute(self._devices, (fleet_id,)), DEVICE_COLUMNS)

    def latest_positions(self, fleet_id: str) -> pd.DataFrame:
        """Latest reading of every device of the fleet: one partition read."""
        return to_frame(self._execute(self._latest_fleet, (fleet_id,)), LATEST_COLUMNS)

    def latest_device(self, fleet_id: str, device_id: str) -> TelemetryPoint | None:
        """The device's latest reading (its row of the fleet's latest positions), or None."""
        row = self._execute(self._latest_device, (fleet_id, device_id)).one()
        if row is None:
            return None
        values = dict(zip(LATEST_BY_FLEET.columns, row, strict=True))
        values["ts"] = values.pop("last_ts").replace(tzinfo=UTC)  # the driver's naive UTC
        return TelemetryPoint(**values)

    # -- telemetry

    def device_day(self, device_id: str, day: date) -> pd.DataFrame:
        """Every reading of a device for a UTC day, oldest first."""
        rows = self._execute(self._device_day, (device_id, day))
        return to_frame(rows, TELEMETRY_COLUMNS).iloc[::-1].reset_index(drop=True)

    def device_series(self, device_id: str, day: date) -> pd.DataFrame:
        """A device's day per minute (averages, max speed, readings), oldest first; as fresh as
        the ETL's last recomputation (``--rollup-every``, 60 s by default)."""
        return self.devices_series((device_id,), day).drop(columns="device_id")

    def devices_series(self, device_ids: Sequence[str], day: date) -> pd.DataFrame:
        """Per-minute series of several devices (concurrent reads), with a device_id column."""
        results = self._gather(self._device_series, [(d, day) for d in device_ids])
        frames = [
            to_frame(rows, SERIES_COLUMNS).assign(device_id=device_id)
            for device_id, rows in zip(device_ids, results, strict=True)
            if rows
        ]
        if not frames:
            return to_frame([], (*SERIES_COLUMNS, "device_id"))
        return pd.concat(frames, ignore_index=True).sort_values(["device_id", "ts"])

    def device_day_page(
        self, device_id: str, day: date, page_size: int, paging_state: bytes | None = None
    ) -> TelemetryPage:
        """One page of a device's day, newest first, resumed from the driver's paging state."""
        bound = self._device_day.bind((device_id, day))
        bound.fetch_size = page_size
        result = self._execute(bound, paging_state=paging_state)
        frame = to_frame(result.current_rows, TELEMETRY_COLUMNS)
        return TelemetryPage(frame, result.paging_state)

    # -- alerts and rollups

    def alerts(self, query: AlertQuery) -> pd.DataFrame:
        """Newest ``query.limit`` alerts of each (day, severity), newest first overall."""
        return self._alerts_frame(self._alert_rows(query))

    def alert_counts(self, query: AlertQuery) -> dict[str, int]:
        """Exact number of alerts per severity over the query's days (no limit)."""
        keys = query.partitions()
        return self._by_severity(query, keys, self._count(query, keys))

    def alerts_and_counts(self, query: AlertQuery) -> tuple[pd.DataFrame, dict[str, int]]:
        """:meth:`alerts` and :meth:`alert_counts` in one pass: a partition that returned fewer
        rows than the limit was read whole, so its count is its length; only full partitions
        are counted by Cassandra (a second round trip, for those only)."""
        keys = query.partitions()
        per_partition = self._alert_rows(query)
        full = [i for i, rows in enumerate(per_partition) if len(rows) >= query.limit]
        counted = dict(zip(full, self._count(query, [keys[i] for i in full]), strict=True))
        sizes = [counted.get(i, len(rows)) for i, rows in enumerate(per_partition)]
        return self._alerts_frame(per_partition), self._by_severity(query, keys, sizes)

    def _alert_rows(self, query: AlertQuery) -> list[list[Any]]:
        keys = query.partitions()
        if query.alert_type is None:
            return self._gather(self._alerts, [(*key, query.limit) for key in keys])
        wanted = ALERT_COLUMNS.index("alert_type")
        return [
            [row for row in rows if row[wanted] == query.alert_type][: query.limit]
            for rows in self._gather(self._alerts_whole, keys)
        ]

    def _count(self, query: AlertQuery, keys: Sequence[tuple[str, date, str]]) -> list[int]:
        if query.alert_type is None:
            results = self._gather(self._alert_count, keys)
            return [int(rows[0][0]) for rows in results]
        types = self._gather(self._alert_types, keys)
        return [sum(1 for row in rows if row[0] == query.alert_type) for rows in types]

    @staticmethod
    def _alerts_frame(per_partition: Iterable[Sequence[Any]]) -> pd.DataFrame:
        frame = to_frame((row for rows in per_partition for row in rows), ALERT_COLUMNS)
        return frame.sort_values("ts", ascending=False, ignore_index=True)

    @staticmethod
    def _by_severity(
        query: AlertQuery, keys: Sequence[tuple[str, date, str]], sizes: Sequence[int]
    ) -> dict[str, int]:
        counts = dict.fromkeys(query.severities, 0)
        for (_, _, severity), n in zip(keys, sizes, strict=True):
            counts[severity] += n
        return counts

    def hourly_rollups(self, fleet_id: str, day: date) -> pd.DataFrame:
        """The fleet's hourly statistics for a day (at most 24 rows)."""
        return to_frame(self._execute(self._rollups, (fleet_id, day)), ROLLUP_COLUMNS)
