"""End to end against a real Cassandra (see conftest.py for the FLEET_IT_* variables)."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from math import fsum
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fleet.cli import cli
from fleet.csv_source import write_points_file
from fleet.etl import EtlOptions, EtlRun, run_batch, run_import
from fleet.generator import fleet_devices, generate_history
from fleet.minutes import Span
from fleet.model import TelemetryPoint
from fleet.plan import WriteMode, minute_mutation
from fleet.schema import ALL_TABLES, apply_schema
from fleet.session import Connection, ConnectionCheckError
from fleet.spool import Spool
from fleet.stream import StreamOptions, run_stream
from fleet.transform import (
    RollupKey,
    alert_rows,
    compute_hourly_rollup,
    rollup_write_timestamp,
)

pytestmark = pytest.mark.integration

QUIET = EtlOptions(progress_interval_s=0)

# One unit of the rollups' third decimal (round(..., 3)), with room for the float itself.
ROUNDING_UNIT = 1.001e-3


def naive(ts: datetime) -> datetime:
    """The driver returns timestamps as naive UTC datetimes."""
    return ts.astimezone(UTC).replace(tzinfo=None)


def rows(conn: Any, cql: str, *params: object) -> list[Any]:
    ks = conn.settings.keyspace
    return list(conn.session.execute(cql.replace("{ks}", ks), params, timeout=60))


def count_rows(conn: Any, table: str, **key: object) -> int:
    where = " AND ".join(f"{column} = %s" for column in key)
    found = rows(conn, f"SELECT count(*) AS n FROM {{ks}}.{table} WHERE {where}", *key.values())
    return int(found[0].n)


def now_ms() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


def assert_telemetry_stored(conn: Any, points: Iterable[TelemetryPoint]) -> None:
    """Every reading is in telemetry_by_device_day, with its values, and nothing else is."""
    by_device_day: dict[tuple[str, date], set[tuple[datetime, float, float, int]]] = defaultdict(
        set
    )
    for p in points:
        by_device_day[(p.device_id, p.day)].add((naive(p.ts), p.lat, p.speed_kmh, p.battery_pct))
    for (device_id, day), expected in by_device_day.items():
        stored = rows(
            conn,
            "SELECT ts, lat, speed_kmh, battery_pct FROM {ks}.telemetry_by_device_day "
            "WHERE device_id = %s AND day = %s",
            device_id,
            day,
        )
        assert {(r.ts, r.lat, r.speed_kmh, r.battery_pct) for r in stored} == expected


def assert_latest(conn: Any, points: Iterable[TelemetryPoint]) -> None:
    newest: dict[str, TelemetryPoint] = {}
    for p in points:
        if p.device_id not in newest or p.ts > newest[p.device_id].ts:
            newest[p.device_id] = p
    for fleet_id in {p.fleet_id for p in newest.values()}:
        stored = {
            r.device_id: r
            for r in rows(
                conn, "SELECT * FROM {ks}.latest_position_by_fleet WHERE fleet_id = %s", fleet_id
            )
        }
        expected = {d: p for d, p in newest.items() if p.fleet_id == fleet_id}
        assert set(stored) == set(expected)
        for device_id, p in expected.items():
            assert stored[device_id].last_ts == naive(p.ts)
            assert (stored[device_id].lat, stored[device_id].lon) == (p.lat, p.lon)
    device_id, p = next(iter(newest.items()))
    one = rows(
        conn,
        "SELECT * FROM {ks}.latest_position_by_fleet WHERE fleet_id = %s AND device_id = %s",
        p.fleet_id,
        device_id,
    )
    assert one[0].last_ts == naive(p.ts) and one[0].battery_pct == p.battery_pct


def assert_alerts_and_rollups(conn: Any, points: list[TelemetryPoint]) -> None:
    alerts: Counter[tuple[str, date, str]] = Counter()
    for alert in alert_rows(points).values():
        alerts[(alert.fleet_id, alert.day, alert.severity)] += 1
    for (fleet_id, day, severity), count in alerts.items():
        found = count_rows(
            conn, "alerts_by_fleet_day", fleet_id=fleet_id, day=day, severity=severity
        )
        assert found == count

    by_key: dict[RollupKey, list[TelemetryPoint]] = defaultdict(list)
    for p in points:
        by_key[RollupKey.of(p)].append(p)
    for key, key_points in by_key.items():
        expected = compute_hourly_rollup(key, key_points)
        assert expected is not None
        stored = rows(
            conn,
            "SELECT points, active_devices, avg_speed_kmh, max_speed_kmh, avg_battery_pct, "
            "alert_count, WRITETIME(points) AS written FROM {ks}.fleet_analytics_by_day "
            "WHERE fleet_id = %s AND day = %s AND hour = %s",
            key.fleet_id,
            key.day,
            key.hour,
        )
        assert len(stored) == 1, key
        row = stored[0]
        assert (row.points, row.active_devices, row.alert_count) == (
            expected.points,
            expected.active_devices,
            expected.alert_count,
        )
        # The stored hour sums its devices' hour sums (each already a rounded double), the
        # reference sums every reading at once: when the exact average lies on a rounding boundary
        # of the third decimal, the two may round apart by one unit (seen once: 9.853 vs 9.854).
        assert row.avg_speed_kmh == pytest.approx(expected.avg_speed_kmh, abs=ROUNDING_UNIT)
        assert row.max_speed_kmh == expected.max_speed_kmh
        assert row.avg_battery_pct == pytest.approx(expected.avg_battery_pct, abs=ROUNDING_UNIT)
        assert row.written == rollup_write_timestamp(expected)


def assert_device_minutes(conn: Any, points: list[TelemetryPoint]) -> None:
    """device_analytics_by_day holds each minute's aggregate of exactly the stored readings."""
    by_minute: dict[tuple[str, date], dict[datetime, list[TelemetryPoint]]] = defaultdict(dict)
    for p in points:
        minute = p.ts.replace(second=0, microsecond=0)
        by_minute[(p.device_id, p.day)].setdefault(minute, []).append(p)
    for (device_id, day), minutes in by_minute.items():
        stored = rows(
            conn,
            "SELECT minute, speed_kmh, max_speed_kmh, battery_pct, readings, "
            "WRITETIME(readings) AS written FROM {ks}.device_analytics_by_day "
            "WHERE device_id = %s AND day = %s",
            device_id,
            day,
        )
        assert [r.minute for r in stored] == [naive(m) for m in sorted(minutes)]
        for row in stored:
            readings = minutes[row.minute.replace(tzinfo=UTC)]
            assert row.readings == len(readings)
            assert row.max_speed_kmh == max(p.speed_kmh for p in readings)
            assert row.speed_kmh == pytest.approx(
                fsum(p.speed_kmh for p in readings) / len(readings)
            )
            assert row.battery_pct == pytest.approx(
                sum(p.battery_pct for p in readings) / len(readings)
            )
            minute_us = int(row.minute.replace(tzinfo=UTC).timestamp()) * 1_000_000
            assert row.written == minute_us + len(readings)


def test_schema_apply_twice(conn: Any) -> None:
    s = conn.settings
    report = apply_schema(conn.cluster, conn.session, s.keyspace, s.replication)
    assert report.statements == 1 + len(ALL_TABLES)
    assert report.warnings == ()
    assert report.created == ()  # the session fixture applied it already: nothing new
    keyspace = conn.cluster.metadata.keyspaces[s.keyspace]
    assert set(keyspace.tables) == {t.name for t in ALL_TABLES}
    assert dict(keyspace.replication_strategy.dc_replication_factors) == s.replication
    options = keyspace.tables["telemetry_by_device_day"].options
    assert options["default_time_to_live"] == 30 * 86400
    assert "TimeWindowCompactionStrategy" in options["compaction"]["class"]


def test_batch_writes_everything_and_replays_idempotently(
    with_fleets: Callable[..., Any],
) -> None:
    conn = with_fleets("FLEET_PARIS", "FLEET_LYON", devices=10)
    s = conn.settings
    end = now_ms() - timedelta(seconds=30)
    expected = list(generate_history(s.fleets, s.devices_per_fleet, s.seed, 3000, end, 10.0))

    result = run_batch(conn, 3000, end, 10.0, QUIET)
    m = result.metrics
    assert result.ok, result.failures
    assert (m.records_submitted, m.records_written, m.records_failed) == (3000, 3000, 0)
    assert m.unresolved == 0 and m.records_rejected == 0
    assert 0 < len(m.latencies_ms) < m.requests  # rollup batches: no latency sample
    assert result.rollups and result.minutes_recomputed
    assert m.rollups_written == (
        len(result.rollups) + result.minutes_recomputed + result.hours_recomputed
    )

    assert_telemetry_stored(conn, expected)
    assert_latest(conn, expected)
    assert_alerts_and_rollups(conn, expected)
    assert_device_minutes(conn, expected)
    registry = {d.device_id: d for d in fleet_devices(s.fleets, s.devices_per_fleet, s.seed)}
    for fleet_id in s.fleets:
        devices = rows(conn, "SELECT * FROM {ks}.devices_by_fleet WHERE fleet_id = %s", fleet_id)
        assert len(devices) == 10
        for d in devices:
            assert d.model == registry[d.device_id].model
            assert d.activated_at == naive(registry[d.device_id].activated_at)

    # the ETL restarts and sends the same history again, in the other mode: nothing changes
    replay = run_batch(conn, 3000, end, 10.0, replace(QUIET, mode=WriteMode.BATCH))
    assert replay.ok and replay.metrics.records_written == 3000
    assert_telemetry_stored(conn, expected)
    assert_alerts_and_rollups(conn, expected)
    assert_device_minutes(conn, expected)


def test_a_minute_recomputed_from_fewer_readings_never_replaces_one_from_more(
    with_fleets: Callable[..., Any],
) -> None:
    """A stream refresh that saw part of a minute can land after the whole minute's recompute."""
    conn = with_fleets("FLEET_LILLE", devices=2)
    s = conn.settings
    end = now_ms().replace(second=55, microsecond=0) - timedelta(minutes=5)
    points = list(generate_history(s.fleets, s.devices_per_fleet, s.seed, 24, end, 10.0))
    assert run_batch(conn, 24, end, 10.0, QUIET).ok  # 2 devices x 12 readings
    assert_device_minutes(conn, points)
    reader = EtlRun(conn, "read", QUIET).reader()
    device_days = sorted({(p.fleet_id, p.device_id, p.day) for p in points})
    spans = [Span.whole_day(f, d, day) for f, d, day in device_days]
    fetched = reader.fetch(spans, [], "LOCAL_ONE")
    stored = fetched.minutes
    assert sum(m.readings for m in stored) == 24
    assert sum(h.points for h in fetched.hours) == 24  # the same read gives the device hours
    assert not fetched.failed_spans
    run = EtlRun(conn, "late", QUIET)
    stale = [replace(m, readings=m.readings - 1, max_speed_kmh=999.0) for m in stored]
    run.pipeline.submit_mutations(minute_mutation(m) for m in stale)
    run.pipeline.drain()
    assert run.metrics.rollups_written == len(stored)
    assert_device_minutes(conn, points)  # unchanged: the full minutes keep their later stamps
    fuller = replace(stored[0], readings=stored[0].readings + 1, max_speed_kmh=123.0)
    run.pipeline.submit_mutations([minute_mutation(fuller)])
    run.pipeline.drain()
    (row,) = rows(
        conn,
        "SELECT readings, max_speed_kmh FROM {ks}.device_analytics_by_day "
        "WHERE device_id = %s AND day = %s AND minute = %s",
        fuller.device_id,
        fuller.day,
        naive(fuller.minute),
    )
    assert (row.readings, row.max_speed_kmh) == (fuller.readings, 123.0)


class Borrowed(Connection):
    """The session's shared connection, lent to a stream that closes what it opened."""

    def close(self) -> None:
        pass


def stream(conn: Any, interval_s: float, ticks: int, **options: Any) -> Any:
    borrowed = Borrowed(conn.settings, conn.cluster, conn.session)
    opener = options.pop("open_connection", lambda: borrowed)
    return run_stream(conn.settings, opener, StreamOptions(interval_s, ticks, **options), QUIET)


def test_stream_three_ticks(with_fleets: Callable[..., Any]) -> None:
    conn = with_fleets("FLEET_MARSEILLE", devices=6)
    started = datetime.now(UTC)
    result = stream(conn, 0.5, 3)
    assert result.ok, result.failures
    assert result.metrics.records_written == 18
    stored = rows(
        conn, "SELECT * FROM {ks}.latest_position_by_fleet WHERE fleet_id = %s", "FLEET_MARSEILLE"
    )
    assert len(stored) == 6
    assert all(r.last_ts >= naive(started) - timedelta(seconds=1) for r in stored)
    for r in stored:
        days = {naive(started).date(), r.last_ts.date()}
        track = [
            row
            for day in days
            for row in rows(
                conn,
                "SELECT ts FROM {ks}.telemetry_by_device_day WHERE device_id = %s AND day = %s",
                r.device_id,
                day,
            )
        ]
        assert len(track) == 3
    rollup_points = sum(
        row.points
        for day in {naive(started).date(), datetime.now(UTC).date()}
        for row in rows(
            conn,
            "SELECT points FROM {ks}.fleet_analytics_by_day WHERE fleet_id = %s AND day = %s",
            "FLEET_MARSEILLE",
            day,
        )
    )
    assert rollup_points == 18
    minute_readings = sum(
        row.readings
        for r in stored
        for day in {naive(started).date(), datetime.now(UTC).date()}
        for row in rows(
            conn,
            "SELECT readings FROM {ks}.device_analytics_by_day WHERE device_id = %s AND day = %s",
            r.device_id,
            day,
        )
    )
    assert minute_readings == 18


def test_import_loads_good_rows_and_reports_bad_ones(
    with_fleets: Callable[..., Any], tmp_path: Path
) -> None:
    conn = with_fleets("FLEET_TOULOUSE", devices=5)
    end = now_ms() - timedelta(hours=1)
    good = list(generate_history(("FLEET_TOULOUSE",), 5, 77, 200, end, 10.0))
    path = tmp_path / "toulouse.csv"
    write_points_file(good, path)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("FLEET_TOULOUSE,TOULOUSE-0001,GPS-TX-1,not-a-date,43.6,1.4,10,0,50,20,Z\n")
        handle.write("FLEET_TOULOUSE,TOULOUSE-0001,GPS-TX-1,2025-01-01T00:00:00Z,43.6,1.4\n")
        handle.write(
            "FLEET_TOULOUSE,TOULOUSE-0002,GPS-TX-1,2025-01-01T00:00:00Z,143,1.4,1,0,5,2,Z\n"
        )
    rejects = tmp_path / "rejects.csv"

    result, rejected = run_import(conn, path, rejects, QUIET)
    assert result.ok, result.failures
    assert rejected == 3 and result.metrics.records_rejected == 3
    assert result.metrics.records_written == 200
    with rejects.open(encoding="utf-8", newline="") as handle:
        reported = list(csv.DictReader(handle))
    assert [int(r["line"]) for r in reported] == [202, 203, 204]
    assert "not an ISO-8601 timestamp" in reported[0]["reason"]
    assert reported[1]["reason"] == "expected 11 fields, got 6"
    assert reported[2]["reason"].startswith("lat 143.0 out of range")

    assert_telemetry_stored(conn, good)
    assert_latest(conn, good)
    assert_alerts_and_rollups(conn, good)
    devices = rows(
        conn, "SELECT * FROM {ks}.devices_by_fleet WHERE fleet_id = %s", "FLEET_TOULOUSE"
    )
    assert len(devices) == 5 and all(d.activated_at is None for d in devices)


def test_latest_state_never_goes_back_in_time(
    with_fleets: Callable[..., Any], point_factory: Callable[..., TelemetryPoint]
) -> None:
    conn = with_fleets("FLEET_NANTES", devices=1)
    newer = point_factory(
        fleet_id="FLEET_NANTES",
        device_id="NANTES-0001",
        zone="NANTES-CENTER",
        ts=now_ms() - timedelta(minutes=1),
        lat=47.2,
    )
    older = replace(newer, ts=newer.ts - timedelta(hours=2), lat=47.1)
    for point in (newer, older):  # the late, older reading arrives last
        run = EtlRun(conn, "late", QUIET)
        run.write([point])
        assert run.finish().ok
    stored = rows(
        conn,
        "SELECT last_ts, lat FROM {ks}.latest_position_by_fleet WHERE fleet_id = %s",
        "FLEET_NANTES",
    )
    assert [(r.last_ts, r.lat) for r in stored] == [(naive(newer.ts), 47.2)]


def test_batch_and_async_modes_write_the_same_rows(with_fleets: Callable[..., Any]) -> None:
    """The default (batch) mode writes every row the async mode writes, in fewer requests."""
    conn = with_fleets("FLEET_STRASBOURG", devices=10)
    points = list(generate_history(("FLEET_STRASBOURG",), 10, 7, 1000, now_ms(), 10.0))
    results = []
    for mode in (WriteMode.ASYNC, WriteMode.BATCH):
        run = EtlRun(conn, f"modes/{mode}", replace(QUIET, mode=mode, rollups=False))
        run.write(points)
        results.append(run.finish())
    assert all(r.ok and r.metrics.records_written == 1000 for r in results)
    slow, fast = (r.metrics for r in results)
    assert fast.rows_written == slow.rows_written == slow.requests
    assert fast.requests * 10 < slow.requests  # 100 rows of a device-day per batch at most


def test_connection_check_names_the_problem(it_settings: Any) -> None:
    from fleet.session import ConnectionCheckError, connect

    with pytest.raises(ConnectionCheckError, match=r"local DC 'nowhere' is unknown.*it has"):
        connect(replace(it_settings, local_dc="nowhere"))
    with pytest.raises(ConnectionCheckError, match="does not exist: run `fleet schema apply`"):
        connect(replace(it_settings, keyspace="fleet_it_missing_keyspace"))
    if it_settings.username:
        with pytest.raises(ConnectionCheckError, match="authentication failed"):
            connect(replace(it_settings, password=it_settings.password + "-wrong"))


def test_cli_end_to_end(it_env: dict[str, str], conn: Any) -> None:
    env = {**it_env, "FLEET_FLEETS": "FLEET_BORDEAUX", "FLEET_DEVICES_PER_FLEET": "4"}
    runner = CliRunner()
    applied = runner.invoke(cli, ["schema", "apply"], env=env)
    assert applied.exit_code == 0, applied.output
    batch = runner.invoke(
        cli, ["etl", "batch", "--records", "200", "--json", "--progress", "0"], env=env
    )
    assert batch.exit_code == 0, batch.output
    summary = json.loads(batch.stdout)
    assert summary["ok"] is True and summary["records_written"] == 200
    assert summary["latency_ms"]["p99"] is not None
    check = runner.invoke(cli, ["check", "--json"], env=env)
    assert check.exit_code == 0
    assert json.loads(check.stdout)["replication"] == conn.settings.replication


def test_probe_writes_then_proves_nothing_acknowledged_was_lost(
    it_env: dict[str, str], conn: Any, tmp_path: Path
) -> None:
    acks, out, dc = tmp_path / "acks.jsonl", tmp_path / "verify.json", conn.settings.local_dc
    runner = CliRunner()
    levels = "LOCAL_ONE,LOCAL_QUORUM,QUORUM,EACH_QUORUM"
    write = runner.invoke(
        cli,
        [
            *("probe", "write", "--run-id", "it-1", "--cl", levels),
            *("--interval", "0.05", "--duration", "1", "--out", str(acks)),
        ],
        env=it_env,
    )
    assert write.exit_code == 0, write.output
    lines = acks.read_text(encoding="utf-8").splitlines()
    sent = len(lines) // 4
    assert sent >= 5 and len(lines) == 4 * sent
    assert f"LOCAL_QUORUM: {sent} acked, 0 failed" in write.output

    args = ["probe", "verify", "--run-id", "it-1", "--acks", str(acks), "--dc", dc]
    verified = runner.invoke(cli, [*args, "--out", str(out)], env=it_env)
    assert verified.exit_code == 0, verified.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["lost_total"] == 0
    for level in levels.split(","):
        assert report["levels"][level]["acked"] == sent
        assert report["read_back"][dc][level]["found"] == sent

    # A row missing from the table is reported as lost, and the command fails.
    conn.session.execute(
        f"DELETE FROM {conn.settings.keyspace}.drill_probe "
        "WHERE run_id = 'it-1' AND consistency = 'QUORUM' AND seq = 2"
    )
    again = runner.invoke(cli, args, env=it_env)
    assert again.exit_code == 1
    assert "lost acknowledged writes: 1" in again.output


def test_stream_started_without_cassandra_replays_its_spool_into_cassandra(
    with_fleets: Callable[..., Any], tmp_path: Path
) -> None:
    """Cassandra unreachable for the first attempts: the stream spools what it generates, then
    replays it into the real node; every reading is stored, once."""
    conn = with_fleets("FLEET_TOULOUSE", devices=4)
    started = datetime.now(UTC) - timedelta(seconds=15)  # devices report up to 10 s early
    borrowed = Borrowed(conn.settings, conn.cluster, conn.session)
    attempts: list[int] = []

    def open_connection() -> Connection:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionCheckError("cannot reach Cassandra (test)")
        return borrowed

    spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
    result = stream(conn, 0.3, 12, spool=spool, open_connection=open_connection)
    m = result.metrics
    assert result.ok and m.spooled > 0 and m.replayed == m.spooled and m.dropped == 0
    stored = sum(
        rows(
            conn,
            "SELECT count(*) AS n FROM {ks}.telemetry_by_device_day "
            "WHERE device_id = %s AND day = %s AND ts >= %s",
            f"TOULOUSE-{i:04d}",
            day,
            started,
        )[0].n
        for i in range(1, 5)
        for day in {started.date(), datetime.now(UTC).date()}
    )
    assert stored == 12 * 4  # every reading of this run (earlier tests wrote TOULOUSE too)


def test_digest_sees_every_row_and_names_the_partition_a_delete_changed(
    it_env: dict[str, str], conn: Any, tmp_path: Path
) -> None:
    env = {**it_env, "FLEET_FLEETS": "FLEET_NANTES", "FLEET_DEVICES_PER_FLEET": "3"}
    runner = CliRunner()
    batch = runner.invoke(cli, ["etl", "batch", "--records", "90", "--progress", "0"], env=env)
    assert batch.exit_code == 0, batch.output
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    taken = runner.invoke(
        cli, ["digest", "take", "--fetch-size", "10", "--out", str(before)], env=env
    )
    assert taken.exit_code == 0, taken.output
    digest = json.loads(before.read_text())
    ks = conn.settings.keyspace
    assert "backup_status" not in digest["tables"]  # the backups' bookkeeping is left out
    for table, summary in digest["tables"].items():
        count = conn.session.execute(f"SELECT count(*) FROM {ks}.{table}", timeout=60).one()[0]
        assert summary["rows"] == count, table
    assert digest["tables"]["devices_by_fleet"]["by_partition"]['["s:FLEET_NANTES"]']["rows"] == 3

    device = conn.session.execute(
        f"SELECT device_id FROM {ks}.devices_by_fleet WHERE fleet_id = 'FLEET_NANTES' LIMIT 1"
    ).one()[0]
    conn.session.execute(
        f"DELETE FROM {ks}.devices_by_fleet WHERE fleet_id = 'FLEET_NANTES' AND device_id = %s",
        (device,),
    )
    again = runner.invoke(
        cli, ["digest", "take", "--table", "devices_by_fleet", "--out", str(after)], env=env
    )
    assert again.exit_code == 0, again.output
    compared = runner.invoke(cli, ["digest", "compare", "--json", str(before), str(after)])
    assert compared.exit_code == 1
    report = json.loads(compared.stdout)
    assert (
        report["tables"]["devices_by_fleet"]["actual_rows"]
        == digest["tables"]["devices_by_fleet"]["rows"] - 1
    )
    assert any(
        'devices_by_fleet ["s:FLEET_NANTES"]: expected 3 rows' in d for d in report["differences"]
    )
    unknown = runner.invoke(cli, ["digest", "take", "--table", "no_such_table"], env=env)
    assert unknown.exit_code == 2 and "no table no_such_table" in unknown.output
