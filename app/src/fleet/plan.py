"""Turn validated readings into table mutations, then into write requests. No I/O here.

A *record* is one reading. It is one row of ``telemetry_by_device_day``, one row of the alerts
table for each alert it raises, and it updates the fleet's latest positions and the device
registry. Within a chunk, a device's latest-position row is coalesced to its newest reading
(older ones would lose to it anyway, as they are written ``USING TIMESTAMP <reading time>``);
that mutation carries every record of the device in the chunk, so none of them is acknowledged
before it is. Alerts of the same row (device, rule, severity, 5-minute window) are coalesced the
same way, to the window's first reading (see :func:`fleet.transform.alert_write_timestamp`).
Nothing else is written per reading: rollups are recomputed from the stored readings.

Requests (:func:`group_requests`): in the default ``batch`` mode, the rows of one partition go
in one UNLOGGED batch, which its replicas apply as one mutation. A chunk of readings in time
order holds a few readings of each device, so the bigger the chunk, the bigger the batches:
the ETL plans thousands of readings at a time (``EtlOptions.chunk_size``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from fleet.minutes import DeviceHour, DeviceMinute
from fleet.model import Device, TelemetryPoint, to_micros
from fleet.schema import (
    ALERTS,
    DEVICE_HOURS,
    DEVICE_MINUTES,
    DEVICES,
    LATEST_BY_FLEET,
    ROLLUPS,
    TELEMETRY_BY_DEVICE,
    TableSpec,
)
from fleet.transform import (
    Alert,
    HourlyRollup,
    alert_write_timestamp,
    evaluate_alerts,
    keep_first,
    rollup_write_timestamp,
)

# Rows per single-partition batch (~100 B each). Cassandra's batch_size_warn/fail thresholds
# apply to batches that span several partitions only (CASSANDRA-10876): a single-partition
# batch is one mutation, bounded by max_mutation_size (half a commit log segment, 16 MiB).
# Larger batches cost replicas less per row; the measured gain flattens out past ~100 rows
# (docs/benchmarks.md).
MAX_BATCH_STATEMENTS = 100


class WriteMode(StrEnum):
    BATCH = "batch"  # UNLOGGED batches, each holding rows of one partition (the default)
    ASYNC = "async"  # one statement per request, many in flight


@dataclass(frozen=True, slots=True)
class Mutation:
    table: TableSpec
    values: tuple[object, ...]  # in table.columns order, then the write timestamp if any
    records: tuple[int, ...]  # ids of the records this row is part of

    @property
    def partition(self) -> tuple[str, tuple[object, ...]]:
        values = self.values
        return self.table.name, tuple(values[i] for i in self.table.key_positions)


def _mutation(
    table: TableSpec, row: Mapping[str, object], records: tuple[int, ...], timestamp: int = 0
) -> Mutation:
    values = tuple(row[c] for c in table.columns)
    return Mutation(table, (*values, timestamp) if table.timestamped else values, records)


def _reading_values(p: TelemetryPoint) -> tuple[object, ...]:
    """``telemetry_by_device_day``'s row, in ``TELEMETRY_BY_DEVICE.columns`` order (the hot
    path: one per reading, built directly rather than through a dict)."""
    return (
        p.device_id,
        p.day,
        p.ts,
        p.fleet_id,
        p.model,
        p.lat,
        p.lon,
        p.speed_kmh,
        p.heading_deg,
        p.battery_pct,
        p.temp_c,
        p.zone,
    )


def _latest_row(p: TelemetryPoint) -> dict[str, object]:
    return {
        "fleet_id": p.fleet_id,
        "device_id": p.device_id,
        "model": p.model,
        "last_ts": p.ts,
        "lat": p.lat,
        "lon": p.lon,
        "speed_kmh": p.speed_kmh,
        "heading_deg": p.heading_deg,
        "battery_pct": p.battery_pct,
        "temp_c": p.temp_c,
        "zone": p.zone,
    }


def _alert_row(alert: Alert) -> dict[str, object]:
    return {
        "fleet_id": alert.fleet_id,
        "day": alert.day,
        "severity": alert.severity,
        "ts": alert.window,
        "device_id": alert.device_id,
        "alert_type": alert.alert_type,
        "value": alert.value,
        "threshold": alert.threshold,
        "message": alert.message,
    }


class WritePlanner:
    """Plans mutations chunk by chunk; registers each device once per run."""

    def __init__(self, registry: Iterable[Device] = ()) -> None:
        self._registry = {d.device_id: d for d in registry}
        self._registered: set[str] = set()

    def forget_device(self, device_id: str) -> None:
        """Its registration failed: register it again with its next chunk."""
        self._registered.discard(device_id)

    def plan(self, records: Iterable[tuple[int, TelemetryPoint]]) -> list[Mutation]:
        mutations: list[Mutation] = []
        newest: dict[str, TelemetryPoint] = {}
        ids_by_device: dict[str, list[int]] = {}
        alerts: dict[tuple[object, ...], Alert] = {}  # the window's first reading, by row
        ids_by_alert: dict[tuple[object, ...], list[int]] = {}  # every reading of the row
        for record_id, point in records:
            mutations.append(Mutation(TELEMETRY_BY_DEVICE, _reading_values(point), (record_id,)))
            for alert in evaluate_alerts(point):
                keep_first(alerts, alert)
                ids_by_alert.setdefault(alert.row_key, []).append(record_id)
            current = newest.get(point.device_id)
            if current is None or point.ts >= current.ts:
                newest[point.device_id] = point
            ids_by_device.setdefault(point.device_id, []).append(record_id)

        for key, alert in alerts.items():
            stamp = alert_write_timestamp(alert)
            mutations.append(_mutation(ALERTS, _alert_row(alert), tuple(ids_by_alert[key]), stamp))

        for device_id, point in newest.items():
            ids = tuple(ids_by_device[device_id])
            row = _latest_row(point)
            mutations.append(_mutation(LATEST_BY_FLEET, row, ids, to_micros(point.ts)))
            if device_id not in self._registered:
                self._registered.add(device_id)
                known = self._registry.get(device_id)
                device_row = {
                    "fleet_id": point.fleet_id,
                    "device_id": device_id,
                    "model": point.model,
                    # None is sent as "unset": an import never erases a known activation date
                    "activated_at": known.activated_at if known else None,
                }
                mutations.append(_mutation(DEVICES, device_row, ids))
        return mutations


def rollup_mutation(rollup: HourlyRollup) -> Mutation:
    row = {
        "fleet_id": rollup.key.fleet_id,
        "day": rollup.key.day,
        "hour": rollup.key.hour,
        "points": rollup.points,
        "active_devices": rollup.active_devices,
        "avg_speed_kmh": rollup.avg_speed_kmh,
        "max_speed_kmh": rollup.max_speed_kmh,
        "avg_battery_pct": rollup.avg_battery_pct,
        "alert_count": rollup.alert_count,
    }
    return _mutation(ROLLUPS, row, (), rollup_write_timestamp(rollup))


def minute_mutation(minute: DeviceMinute) -> Mutation:
    return _mutation(DEVICE_MINUTES, minute.row(), (), minute.write_timestamp)


def device_hour_mutation(hour: DeviceHour) -> Mutation:
    row = {column: getattr(hour, column) for column in DEVICE_HOURS.columns}
    return _mutation(DEVICE_HOURS, row, (), hour.write_timestamp)


def group_requests(
    mutations: Iterable[Mutation], mode: WriteMode, max_batch: int = MAX_BATCH_STATEMENTS
) -> list[tuple[Mutation, ...]]:
    """ASYNC: one mutation per request. BATCH: mutations of one partition, ``max_batch`` at most.

    Single-partition UNLOGGED batches are applied as one mutation by the replicas of that
    partition; multi-partition batches would only move coordination work onto one node.
    """
    if mode is WriteMode.ASYNC:
        return [(m,) for m in mutations]
    by_partition: dict[tuple[str, tuple[object, ...]], list[Mutation]] = {}
    for m in mutations:
        by_partition.setdefault(m.partition, []).append(m)
    return [
        tuple(group[i : i + max_batch])
        for group in by_partition.values()
        for i in range(0, len(group), max_batch)
    ]
