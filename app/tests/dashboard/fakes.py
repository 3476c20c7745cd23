"""Small stand-ins for driver objects, for unit tests of the read layer and the console, and for
the read layer itself when AppTest drives the pages without Cassandra."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from fleet.model import TelemetryPoint
from fleet.queries import (
    ALERT_COLUMNS,
    BACKUP_COLUMNS,
    DEVICE_COLUMNS,
    LATEST_COLUMNS,
    ROLLUP_COLUMNS,
    SERIES_COLUMNS,
    TELEMETRY_COLUMNS,
    AlertQuery,
    TelemetryPage,
    to_frame,
)


@dataclass
class FakePrepared:
    cql: str
    fetch_size: int | None = None
    is_idempotent: bool = False

    def bind(self, values: Sequence[Any]) -> FakeBound:
        return FakeBound(self, tuple(values))


@dataclass
class FakeBound:
    prepared: FakePrepared
    values: tuple[Any, ...]
    fetch_size: int | None = None


@dataclass
class FakeResult:
    rows: list[tuple[Any, ...]]
    column_names: list[str] = field(default_factory=list)
    paging_state: bytes | None = None

    @property
    def current_rows(self) -> list[tuple[Any, ...]]:
        return self.rows

    @property
    def has_more_pages(self) -> bool:
        return self.paging_state is not None

    def one(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def __iter__(self) -> Any:
        return iter(self.rows)


@dataclass
class FakeSession:
    """``answer(statement, params, profile)`` returns a FakeResult or raises."""

    answer: Callable[[Any, Any, Any], FakeResult]
    calls: list[tuple[Any, Any, Any]] = field(default_factory=list)

    def prepare(self, cql: str) -> FakePrepared:
        return FakePrepared(cql)

    def execute(
        self,
        statement: Any,
        parameters: Any = None,
        timeout: Any = None,
        paging_state: bytes | None = None,
        execution_profile: Any = "default",
    ) -> FakeResult:
        self.calls.append((statement, parameters, execution_profile))
        return self.answer(statement, parameters, execution_profile)


@dataclass
class FakeQueries:
    """Stands for :class:`~fleet.queries.FleetQueries` when AppTest drives the pages: a fleet of
    three devices that reported ``now``, or, while ``down`` is set, that error on every read
    (what a DC without a live replica answers)."""

    now: datetime
    down: Exception | None = None
    reads: int = 0
    degraded: int = 0

    def _read(self) -> None:
        self.reads += 1
        if self.down is not None:
            raise self.down

    def latest_backups(self, nodes: Sequence[str]) -> pd.DataFrame:
        """The first node backed up an hour before ``now``; the others never."""
        self._read()
        rows = [(nodes[0], self.now - timedelta(hours=1), "scheduled-x", "differential", 9, 10**6)]
        return to_frame(rows[: len(nodes)], BACKUP_COLUMNS)

    def devices(self, fleet_id: str) -> pd.DataFrame:
        self._read()
        rows = [(f"PARIS-000{i}", "GPS-TX-1", self.now - timedelta(days=30)) for i in (1, 2, 3)]
        return to_frame(rows, DEVICE_COLUMNS)

    def latest_positions(self, fleet_id: str) -> pd.DataFrame:
        self._read()
        rows = [
            (
                f"PARIS-000{i}",
                self.now,
                "GPS-TX-1",
                48.85 + i / 100,
                2.35,
                30.0 * i,
                90.0,
                80,
                21.5,
                "C",
            )
            for i in (1, 2, 3)
        ]
        return to_frame(rows, LATEST_COLUMNS)

    def alert_counts(self, query: AlertQuery) -> dict[str, int]:
        self._read()
        return dict.fromkeys(query.severities, 2)

    def alerts_and_counts(self, query: AlertQuery) -> tuple[pd.DataFrame, dict[str, int]]:
        self._read()
        return to_frame([], ALERT_COLUMNS), dict.fromkeys(query.severities, 0)

    def device_series(self, device_id: str, day: date) -> pd.DataFrame:
        self._read()
        return to_frame([], SERIES_COLUMNS)

    def devices_series(self, device_ids: Sequence[str], day: date) -> pd.DataFrame:
        self._read()
        return to_frame([], (*SERIES_COLUMNS, "device_id"))

    def hourly_rollups(self, fleet_id: str, day: date) -> pd.DataFrame:
        self._read()
        return to_frame([], ROLLUP_COLUMNS)

    def latest_device(self, fleet_id: str, device_id: str) -> TelemetryPoint | None:
        self._read()
        return None

    def device_day_page(
        self, device_id: str, day: date, page_size: int, paging_state: bytes | None = None
    ) -> TelemetryPage:
        self._read()
        return TelemetryPage(to_frame([], TELEMETRY_COLUMNS), None)

    def device_day(self, device_id: str, day: date) -> pd.DataFrame:
        self._read()
        return to_frame([], TELEMETRY_COLUMNS)
