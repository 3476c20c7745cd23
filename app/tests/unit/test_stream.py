"""The streaming ETL through an outage, against the in-memory stand-in (see conftest.py): what it
cannot write waits in a real spool on disk and is replayed in order; it starts without
Cassandra; it never drops silently; its ledger and stats say what happened."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cassandra.cluster import NoHostAvailable

import fleet.replay
import fleet.stream
from fleet.etl import EtlOptions
from fleet.ledger import Ledger, generated_keys, read_ticks
from fleet.model import to_millis
from fleet.session import Connection, ConnectionCheckError
from fleet.spool import Spool
from fleet.stream import StreamOptions, run_stream

QUIET = EtlOptions(progress_interval_s=0, rollups=False)
START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
DEVICES = 4  # the connection fixture's devices per fleet


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fleet.replay, "BACKOFF_BASE_S", 0.005)
    monkeypatch.setattr(fleet.replay, "BACKOFF_MAX_S", 0.02)
    monkeypatch.setattr(fleet.stream, "CONNECT_RETRY_BASE_S", 0.005)


class TickClock:
    """``now`` for the simulator: one call per tick, 5 s apart; ``down`` ticks make every write
    fail with NoHostAvailable (the whole local DC lost)."""

    def __init__(self, db: Any, down: range) -> None:
        self.calls = 0
        self.down = down
        db.fail = lambda m: NoHostAvailable("no host", {}) if self.outage else None

    @property
    def outage(self) -> bool:
        return self.calls in self.down

    def __call__(self) -> datetime:
        self.calls += 1
        return START + timedelta(seconds=5 * self.calls)


def stored_keys(db: Any) -> set[tuple[str, int]]:
    return {(r["device_id"], to_millis(r["ts"])) for r in db.select("telemetry_by_device_day")}


def ledger_keys(directory: Path) -> set[tuple[str, int]]:
    ticks = read_ticks(directory, START, START + timedelta(days=1))
    return {(key[0], ms) for key, stamps in generated_keys(ticks).items() for ms in stamps}


def test_an_outage_is_spooled_then_replayed_in_full(
    db: Any, connection: Callable[..., Connection], tmp_path: Path
) -> None:
    conn = connection(FLEET_FLEETS="FLEET_LILLE")
    clock = TickClock(db, down=range(4, 9))  # 5 ticks of 4 readings while the DC is lost
    stats = tmp_path / "stats.json"
    options = StreamOptions(
        0.01,
        30,
        stats_file=stats,
        spool=Spool(tmp_path / "spool", max_bytes=1 << 20),
        ledger=Ledger(tmp_path / "ledger"),
    )
    result = run_stream(conn.settings, lambda: conn, options, QUIET, now=clock)

    m = result.metrics
    assert result.ok and m.lost == 0 and m.dropped == 0
    assert m.spooled >= 5 * DEVICES and m.replayed == m.spooled
    # the writes in flight when it went down, and the replays tried while it was still down
    assert m.failed_spooled == m.records_failed > 0
    generated = ledger_keys(tmp_path / "ledger")
    assert len(generated) == 30 * DEVICES
    assert stored_keys(db) == generated  # every generated reading, nothing else
    final = json.loads(stats.read_text(encoding="utf-8"))
    assert final["spool"]["pending_records"] == 0
    assert (final["spooled"], final["replayed"], final["dropped"]) == (m.spooled, m.spooled, 0)
    assert final["fleets"]["FLEET_LILLE"]["written"] == 30 * DEVICES
    assert final["nodes"] == [{"address": "127.0.0.1", "dc": "dc1", "up": True, "connections": 1}]


def test_what_the_spool_holds_is_replayed_by_the_next_run(
    db: Any, connection: Callable[..., Connection], tmp_path: Path
) -> None:
    conn = connection(FLEET_FLEETS="FLEET_LILLE")
    clock = TickClock(db, down=range(2, 100))  # still down when the first run stops
    spool_dir = tmp_path / "spool"
    first = run_stream(
        conn.settings,
        lambda: conn,
        StreamOptions(0.01, 5, spool=Spool(spool_dir, max_bytes=1 << 20)),
        QUIET,
        now=clock,
    )
    assert first.ok and first.metrics.replayed == 0
    held = Spool(spool_dir, max_bytes=1 << 20)
    assert held.pending_records == first.metrics.spooled >= 4 * DEVICES
    held.close()

    clock.down = range(0)  # the DC is back
    second = run_stream(
        conn.settings,
        lambda: conn,
        StreamOptions(0.01, 10, spool=Spool(spool_dir, max_bytes=1 << 20)),
        QUIET,
        now=clock,
    )
    # the first run's readings, then the second run's first ones, queued behind them
    assert second.ok and second.metrics.replayed == first.metrics.spooled + second.metrics.spooled
    assert len(stored_keys(db)) == (5 + 10) * DEVICES


def test_the_stream_starts_without_cassandra_and_catches_up(
    db: Any, connection: Callable[..., Connection], tmp_path: Path
) -> None:
    conn = connection(FLEET_FLEETS="FLEET_LILLE")
    attempts: list[int] = []

    def open_connection() -> Connection:
        attempts.append(1)
        if len(attempts) < 4:
            raise ConnectionCheckError("cannot reach Cassandra at 10.0.0.1:9042 (refused)")
        return conn

    stats = tmp_path / "stats.json"
    options = StreamOptions(
        0.01,
        40,
        stats_file=stats,
        spool=Spool(tmp_path / "spool", max_bytes=1 << 20),
        ledger=Ledger(tmp_path / "ledger"),
    )
    result = run_stream(conn.settings, open_connection, options, QUIET, now=TickClock(db, range(0)))
    assert len(attempts) == 4  # the first one before the first tick, then in the background
    assert (
        result.ok
        and result.metrics.spooled > 0
        and result.metrics.replayed == result.metrics.spooled
    )
    assert stored_keys(db) == ledger_keys(tmp_path / "ledger")
    assert json.loads(stats.read_text(encoding="utf-8"))["connected"] is True


def test_without_a_spool_an_unreachable_cluster_fails_at_once(
    connection: Callable[..., Connection],
) -> None:
    conn = connection(FLEET_FLEETS="FLEET_LILLE")

    def unreachable() -> Connection:
        raise ConnectionCheckError("cannot reach Cassandra")

    with pytest.raises(ConnectionCheckError):
        run_stream(conn.settings, unreachable, StreamOptions(0.01, 3), QUIET)


def test_a_full_spool_drops_counts_and_fails_the_run(
    db: Any, connection: Callable[..., Connection], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    conn = connection(FLEET_FLEETS="FLEET_LILLE")
    clock = TickClock(db, down=range(1, 100))
    spool = Spool(tmp_path / "spool", max_bytes=1000)  # a handful of readings
    result = run_stream(
        conn.settings, lambda: conn, StreamOptions(0.01, 10, spool=spool), QUIET, now=clock
    )
    m = result.metrics
    assert m.dropped > 0 and m.spooled + m.dropped == 10 * DEVICES
    assert not result.ok and m.lost == m.dropped
    assert "spool full" in caplog.text and "readings dropped" in caplog.text


def test_no_fleet_to_ingest_only_replays(
    db: Any, connection: Callable[..., Connection], tmp_path: Path
) -> None:
    conn = connection(FLEET_FLEETS="FLEET_LILLE,FLEET_NANTES", FLEET_INGEST_FLEETS="none")
    spool_dir = tmp_path / "spool"
    with Spool(spool_dir, max_bytes=1 << 20) as spool:
        spool.append(_readings(conn, 8))
    result = run_stream(
        conn.settings,
        lambda: conn,
        StreamOptions(0.01, 5, spool=Spool(spool_dir, max_bytes=1 << 20)),
        QUIET,
    )
    assert result.ok and result.metrics.replayed == 8 and len(stored_keys(db)) == 8


def _readings(conn: Connection, count: int) -> list[Any]:
    from fleet.generator import generate_history

    points: Iterator[Any] = generate_history(("FLEET_LILLE",), 4, 1, count, START, 10.0)
    return list(points)


def test_the_stats_totals_carry_on_across_runs(
    db: Any, connection: Callable[..., Connection], tmp_path: Path
) -> None:
    conn = connection(FLEET_FLEETS="FLEET_LILLE")
    stats = tmp_path / "stats.json"
    for ticks in (3, 2):  # a restart in between, as a failover does
        run_stream(conn.settings, lambda: conn, StreamOptions(0.01, ticks, stats_file=stats), QUIET)
    final = json.loads(stats.read_text(encoding="utf-8"))
    assert final["records_written"] == 2 * DEVICES  # this run
    assert final["totals"]["records_written"] == 5 * DEVICES  # both runs
    stats.write_text("not json", encoding="utf-8")  # a damaged file starts the totals again
    run_stream(conn.settings, lambda: conn, StreamOptions(0.01, 1, stats_file=stats), QUIET)
    assert json.loads(stats.read_text(encoding="utf-8"))["totals"]["records_written"] == DEVICES


class _Pipeline:
    """Settles every submitted reading at once, failed while ``down``; records chunk sizes."""

    def __init__(self) -> None:
        self.down = True
        self.sizes: list[int] = []

    def submit_points(self, points: Any, on_record: Any) -> None:
        self.sizes.append(len(points))
        for point in points:
            on_record(point, "NoHostAvailable" if self.down else None)


def test_a_failing_replay_tries_one_reading_then_doubles_back(
    connection: Callable[..., Connection], tmp_path: Path
) -> None:
    from fleet.metrics import Metrics
    from fleet.replay import SpoolReplay

    conn = connection()
    metrics = Metrics("t")
    replay = SpoolReplay(Spool(tmp_path / "spool", max_bytes=1 << 20), metrics, chunk_size=8)
    pipeline = _Pipeline()
    replay.attach(pipeline, lambda point, failure: None)  # type: ignore[arg-type]
    replay.store(_readings(conn, 40))
    for _ in range(3):  # the DC is down: a full chunk once, then the oldest reading alone
        replay.step()
        replay._next_try = 0.0  # skip the backoff
    pipeline.down = False
    while replay.holding:
        replay.step()
    assert pipeline.sizes == [8, 1, 1, 1, 2, 4, 8, 8, 8, 8, 1]
    assert metrics.replayed == 40 and metrics.failed_spooled == 10


def test_a_wall_clock_stepping_back_skips_a_tick_and_the_stream_goes_on(
    db: Any, connection: Callable[..., Connection]
) -> None:
    """An NTP step backwards: the simulator refuses a tick time before the previous one; the
    stream skips that tick instead of dying."""
    conn = connection(FLEET_FLEETS="FLEET_LILLE")
    # the simulator starts at 0, then ticks at 5, 10, 7 (before 10: skipped) and 15
    times = iter(START + timedelta(seconds=s) for s in (0, 5, 10, 7, 15))
    result = run_stream(
        conn.settings, lambda: conn, StreamOptions(0.01, 4), QUIET, now=lambda: next(times)
    )
    assert result.ok
    assert result.metrics.records_written == 3 * DEVICES  # the tick at 7 s was skipped


def test_the_metrics_endpoint_serves_the_runs_counters_and_status_while_it_runs(
    db: Any,
    connection: Callable[..., Connection],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    import urllib.request

    from fleet.exporter import Listen

    conn = connection(FLEET_FLEETS="FLEET_LILLE")
    served: list[Any] = []
    real_serve = fleet.stream.serve_etl

    def serve(listen: Any, metrics: Any, status: Any) -> Any:
        exporter = real_serve(listen, metrics, status)
        served.append(exporter)
        return exporter

    monkeypatch.setattr(fleet.stream, "serve_etl", serve)
    scraped: list[str] = []
    original = fleet.stream.write_stats

    def scrape_after_each_tick(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        url = f"http://127.0.0.1:{served[0].port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            scraped.append(response.read().decode())

    monkeypatch.setattr(fleet.stream, "write_stats", scrape_after_each_tick)
    # scraped right after each tick's stats (the hook above): what Prometheus would see then
    options = StreamOptions(
        0.01, 2, stats_file=tmp_path / "stats.json", metrics_listen=Listen("127.0.0.1", 0)
    )
    run_stream(conn.settings, lambda: conn, options, QUIET)
    assert len(scraped) >= 2
    assert f"fleet_etl_records_written_total {float(DEVICES)}" in scraped[0]
    assert "fleet_etl_connected 1.0" in scraped[0]
    assert "fleet_etl_ingest_fleets 1.0" in scraped[0]
    deadline = f'fleet_keyspace_repair_deadline_seconds{{keyspace="{conn.settings.keyspace}"}}'
    assert f"{deadline} 864000.0" in scraped[0]  # from the schema's metadata
    with pytest.raises(OSError):  # closed with the run
        urllib.request.urlopen(f"http://127.0.0.1:{served[0].port}/metrics", timeout=2)
