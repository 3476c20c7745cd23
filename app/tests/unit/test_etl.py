"""ETL runs end to end against the in-memory stand-in for Cassandra (see conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cassandra import InvalidRequest

from fleet.csv_source import open_csv, read_points, write_points_file
from fleet.etl import EtlOptions, EtlResult, run_batch, run_import, run_rollup
from fleet.generator import generate_history
from fleet.model import TelemetryPoint
from fleet.plan import WriteMode
from fleet.schema import ALERTS, DEVICE_MINUTES, ROLLUPS
from fleet.session import Connection
from fleet.stream import StreamOptions, run_stream
from fleet.transform import (
    RollupKey,
    alert_rows,
    compute_hourly_rollup,
    evaluate_alerts,
    rollup_write_timestamp,
)

FIXTURE = Path(__file__).parent / "fixtures" / "bad_telemetry.csv"
END = datetime(2025, 6, 16, 9, 0, tzinfo=UTC)
QUIET = EtlOptions(progress_interval_s=0)


def stream(
    conn: Connection,
    interval_s: float,
    ticks: int | None,
    options: EtlOptions,
    now: Callable[[], datetime] | None = None,
    **stream_options: Any,
) -> EtlResult:
    """``fleet etl stream`` on an open connection (no spool: connected up front)."""
    return run_stream(
        conn.settings,
        lambda: conn,
        StreamOptions(interval_s, ticks, **stream_options),
        options,
        **({"now": now} if now else {}),
    )


def expected_rollups(points: list[TelemetryPoint]) -> dict[tuple[object, ...], Any]:
    by_key: dict[RollupKey, list[TelemetryPoint]] = {}
    for p in points:
        by_key.setdefault(RollupKey.of(p), []).append(p)
    return {(k.fleet_id, k.day, k.hour): compute_hourly_rollup(k, v) for k, v in by_key.items()}


def expected_minutes(points: list[TelemetryPoint]) -> dict[tuple[object, ...], list[float]]:
    """(device, day, minute) -> speeds of its readings."""
    by_key: dict[tuple[object, ...], list[float]] = {}
    for p in points:
        minute = p.ts.replace(second=0, microsecond=0)
        by_key.setdefault((p.device_id, p.day, minute), []).append(p.speed_kmh)
    return by_key


def assert_minutes_match(db: Any, points: list[TelemetryPoint]) -> None:
    expected = expected_minutes(points)
    stored = db.tables[DEVICE_MINUTES.name]
    assert set(stored) == set(expected)
    for key, speeds in expected.items():
        cells = stored[key]
        stamp, readings = cells["readings"]
        assert readings == len(speeds)
        assert stamp == int(key[2].timestamp()) * 1_000_000 + readings  # minute + readings
        assert cells["max_speed_kmh"][1] == max(speeds)
        assert cells["speed_kmh"][1] == pytest.approx(sum(speeds) / len(speeds))


def test_batch_stores_every_table_and_exact_rollups(
    db: Any, connection: Callable[..., Connection]
) -> None:
    conn = connection()
    s = conn.settings
    points = list(generate_history(s.fleets, 4, 99, 2000, END, 10.0))
    result = run_batch(conn, 2000, END, 10.0, QUIET)
    assert result.ok
    m = result.metrics
    assert m.records_written == 2000
    assert len(result.rollups) > 0 and result.minutes_recomputed > 0
    assert m.rollups_written == (
        len(result.rollups) + result.minutes_recomputed + result.hours_recomputed
    )
    assert 0 < len(m.latencies_ms) < m.requests  # rollup batches: no latency sample
    assert len(db.tables["telemetry_by_device_day"]) == 2000  # one row per reading
    assert "telemetry_by_fleet_day" not in db.tables
    assert len(db.tables["latest_position_by_fleet"]) == 8
    assert len(db.tables["devices_by_fleet"]) == 8
    assert {(r["fleet_id"], r["hour"]) for r in db.select("device_hours_by_fleet_day")} == {
        (fleet_id, hour) for fleet_id, _day, hour in expected_rollups(points)
    }
    latest = {r["device_id"]: r["last_ts"] for r in db.select("latest_position_by_fleet")}
    assert latest["PARIS-0001"] == max(p.ts for p in points if p.device_id == "PARIS-0001")

    expected = expected_rollups(points)
    stored = db.tables[ROLLUPS.name]
    assert set(stored) == set(expected)
    for key, rollup in expected.items():
        cells = stored[key]
        assert cells["points"] == (rollup_write_timestamp(rollup), rollup.points)
        assert cells["avg_speed_kmh"][1] == rollup.avg_speed_kmh
        assert cells["alert_count"][1] == rollup.alert_count
    assert_minutes_match(db, points)
    assert_alerts_match(db, points)


def assert_alerts_match(db: Any, points: list[TelemetryPoint]) -> None:
    """One row per (device, rule, severity, window), holding the window's first reading."""
    expected = alert_rows(points)
    assert expected and len(expected) < sum(len(evaluate_alerts(p)) for p in points)
    stored = db.tables[ALERTS.name]
    assert set(stored) == set(expected)
    for key, alert in expected.items():
        assert (stored[key]["value"][1], stored[key]["message"][1]) == (alert.value, alert.message)


def test_alerts_hold_the_first_reading_when_readings_arrive_newest_first(
    db: Any, connection: Callable[..., Connection], tmp_path: Path
) -> None:
    conn = connection()
    points = list(generate_history(conn.settings.fleets, 4, 99, 2000, END, 10.0))
    source = tmp_path / "newest-first.csv"
    write_points_file(reversed(points), source)
    result, rejected = run_import(
        conn, source, tmp_path / "rejects.csv", replace(QUIET, chunk_size=7)
    )
    assert result.ok and rejected == 0 and result.metrics.records_written == 2000
    assert_alerts_match(db, points)


def test_replay_in_the_other_mode_changes_nothing(
    db: Any, connection: Callable[..., Connection]
) -> None:
    conn = connection()
    assert run_batch(conn, 1200, END, 10.0, QUIET).ok
    before = {
        t: {k: {c: v for c, (_, v) in row.items()} for k, row in rows.items()}
        for t, rows in db.tables.items()
    }
    rollups_before = dict(db.tables[ROLLUPS.name])
    replay = run_batch(conn, 1200, END, 10.0, replace(QUIET, mode=WriteMode.BATCH))
    assert replay.ok and replay.metrics.records_written == 1200
    after = {
        t: {k: {c: v for c, (_, v) in row.items()} for k, row in rows.items()}
        for t, rows in db.tables.items()
    }
    assert after == before
    assert db.tables[ROLLUPS.name] == rollups_before  # same cells, same write timestamps


def test_failed_records_are_reported_and_saved_for_reimport(
    db: Any, connection: Callable[..., Connection], tmp_path: Path
) -> None:
    db.fail = lambda m: (
        InvalidRequest("alerts unavailable") if m.table.name == "alerts_by_fleet_day" else None
    )
    conn = connection()
    failed_out = tmp_path / "failed.csv"
    result = run_batch(conn, 3000, END, 10.0, replace(QUIET, failed_out=failed_out))
    m = result.metrics
    assert not result.ok
    assert m.records_failed > 0 and m.records_written + m.records_failed == 3000
    assert m.unresolved == 0
    assert result.failed_file == failed_out
    assert result.failures and "InvalidRequest after 1 attempt(s)" in result.failures[0]
    with open_csv(failed_out) as lines:
        saved = list(read_points(lines, now=END, on_reject=lambda r: pytest.fail(r.reason)))
    assert len(saved) == m.records_failed
    assert all(evaluate_alerts(p) for p in saved)  # exactly the readings that raise alerts
    generated = generate_history(conn.settings.fleets, 4, 99, 3000, END, 10.0)
    assert len(saved) == sum(1 for p in generated if evaluate_alerts(p))


def test_import_writes_good_rows_and_rejects_bad_ones(
    db: Any, connection: Callable[..., Connection], tmp_path: Path
) -> None:
    conn = connection()
    rejects = tmp_path / "rejects.csv"
    result, rejected = run_import(conn, FIXTURE, rejects, QUIET)
    assert result.ok and rejected == 9
    assert result.metrics.records_written == 10 and result.metrics.records_rejected == 9
    assert len(db.tables["telemetry_by_device_day"]) == 10
    assert rejects.read_text(encoding="utf-8").count("\n") == 10
    devices = db.select("devices_by_fleet")
    assert len(devices) == 8 and all("activated_at" not in d for d in devices)


def test_stream_sends_one_reading_per_device_per_tick(
    db: Any, connection: Callable[..., Connection]
) -> None:
    conn = connection(FLEET_FLEETS="FLEET_LILLE")
    result = stream(conn, 0.05, 3, QUIET)
    assert result.ok and result.metrics.records_written == 12
    per_device: dict[object, int] = {}
    for row in db.select("telemetry_by_device_day"):
        per_device[row["device_id"]] = per_device.get(row["device_id"], 0) + 1
    assert per_device == {f"LILLE-{i:04d}": 3 for i in range(1, 5)}
    assert sum(r["points"] for r in db.select(ROLLUPS.name)) == 12
    assert sum(r["readings"] for r in db.select(DEVICE_MINUTES.name)) == 12


def test_rollup_rows_that_failed_are_recomputed_at_the_next_refresh(
    db: Any, connection: Callable[..., Connection]
) -> None:
    failed: list[Any] = []

    def fail_first_minutes(m: Any) -> BaseException | None:
        if m.table is DEVICE_MINUTES and len(failed) < 4:
            failed.append(m)
            return InvalidRequest("minutes unavailable")
        return None

    db.fail = fail_first_minutes
    conn = connection(FLEET_FLEETS="FLEET_LILLE")
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    minutes = (start + timedelta(minutes=i) for i in range(10))  # one tick per minute
    result = stream(conn, 0.05, 3, QUIET, now=lambda: next(minutes), rollup_every_s=0.0)
    assert len(failed) == 4 and result.rollup_retries == 4
    assert result.ok and result.rollup_failures == []  # all written at a later refresh
    assert result.metrics.records_written == 12
    stored = db.select(DEVICE_MINUTES.name)
    assert sum(r["readings"] for r in stored) == 12  # the failed minutes too
    assert len({r["minute"] for r in stored}) == 3  # one minute per tick


def test_rollups_that_fail_in_the_last_refresh_fail_the_run(
    db: Any, connection: Callable[..., Connection]
) -> None:
    db.fail = lambda m: InvalidRequest("minutes unavailable") if m.table is DEVICE_MINUTES else None
    result = run_batch(connection(), 100, END, 10.0, QUIET)
    assert result.metrics.records_written == 100 and result.rollup_retries == 0
    assert not result.ok and len(result.rollup_failures) == result.minutes_recomputed > 0
    assert "minutes unavailable" in result.rollup_failures[0]


def test_stream_stops_when_asked(db: Any, connection: Callable[..., Connection]) -> None:
    conn = connection(FLEET_FLEETS="FLEET_LILLE")
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    result = stream(conn, 0.1, None, replace(QUIET, stop=stop))
    timer.join()
    ticks = result.metrics.records_written // 4
    assert result.ok and 2 <= ticks <= 6
    assert result.metrics.records_submitted == result.metrics.records_written


def test_rollup_command_recomputes_a_whole_day(
    db: Any, connection: Callable[..., Connection]
) -> None:
    conn = connection()
    assert run_batch(conn, 800, END, 10.0, replace(QUIET, rollups=False)).ok
    assert db.tables[ROLLUPS.name] == {} and db.tables[DEVICE_MINUTES.name] == {}
    result = run_rollup(conn, END.date(), conn.settings.fleets, QUIET)
    assert result.ok
    points = list(generate_history(conn.settings.fleets, 4, 99, 800, END, 10.0))
    assert set(db.tables[ROLLUPS.name]) == set(expected_rollups(points))
    assert_minutes_match(db, points)
    empty = run_rollup(conn, date(2020, 1, 1), ("FLEET_PARIS",), QUIET)
    assert empty.rollups == [] and empty.minutes_recomputed == 0
    assert END - timedelta(hours=1) < max(p.ts for p in points) <= END
