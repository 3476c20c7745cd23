"""The write pipeline against a scripted fake session: retries, fallback, accounting."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cassandra import InvalidRequest, OperationTimedOut, Unavailable, WriteTimeout
from cassandra.cluster import EXEC_PROFILE_DEFAULT

from fleet.metrics import Metrics
from fleet.model import TelemetryPoint
from fleet.plan import Mutation, WriteMode, WritePlanner, rollup_mutation
from fleet.schema import ALERTS, LATEST_BY_FLEET, ROLLUPS, TELEMETRY_BY_DEVICE
from fleet.session import DEGRADED_PROFILE
from fleet.transform import HourlyRollup, RollupKey
from fleet.writer import PipelineOptions, WritePipeline

T0 = datetime(2025, 6, 16, 8, 0, tzinfo=UTC)
Script = Callable[[tuple[Mutation, ...], str, int], BaseException | None]


class FakeFuture:
    def __init__(self, session: FakeSession, error: BaseException | None) -> None:
        self.session = session
        self.error = error

    def add_callbacks(
        self,
        callback: Callable[..., Any],
        errback: Callable[..., Any],
        callback_args: tuple[Any, ...] = (),
        errback_args: tuple[Any, ...] = (),
    ) -> None:
        def complete() -> None:
            time.sleep(self.session.delay_s)
            with self.session.lock:
                self.session.outstanding -= 1
            if self.error is None:
                callback([], *callback_args)
            else:
                errback(self.error, *errback_args)

        if self.session.pool is None:
            complete()  # already done: the driver then calls back in the caller's thread
        else:
            self.session.pool.submit(complete)


class FakeSession:
    """Decides each request's outcome with ``script(mutations, profile, attempt)``."""

    def __init__(self, script: Script, threaded: bool = False, delay_s: float = 0.0) -> None:
        self.script = script
        self.delay_s = delay_s
        self.pool = ThreadPoolExecutor(8) if threaded else None
        self.lock = threading.Lock()
        self.outstanding = 0
        self.max_outstanding = 0
        self.calls: list[tuple[tuple[Mutation, ...], str]] = []
        self.attempts: Counter[int] = Counter()

    def execute_async(self, query: Any, *, execution_profile: Any) -> FakeFuture:
        self.attempts[id(query)] += 1
        self.calls.append((query, execution_profile))
        with self.lock:
            self.outstanding += 1
            self.max_outstanding = max(self.max_outstanding, self.outstanding)
        return FakeFuture(self, self.script(query, execution_profile, self.attempts[id(query)]))


def ok(*_: object) -> None:
    return None


def make_pipeline(
    session: FakeSession, **options: Any
) -> tuple[WritePipeline, list[tuple[TelemetryPoint, str | None]], list[Mutation]]:
    outcomes: list[tuple[TelemetryPoint, str | None]] = []
    failed_mutations: list[Mutation] = []
    defaults: dict[str, Any] = {"concurrency": 4, "max_attempts": 3, "backoff_base_s": 0.001}
    pipeline = WritePipeline(
        session=session,
        bind=tuple,  # the "statement" is the tuple of mutations
        planner=WritePlanner(),
        metrics=Metrics("test"),
        options=PipelineOptions(**{**defaults, **options}),
        on_record=lambda point, failure: outcomes.append((point, failure)),
        on_mutation_failed=lambda m, _reason: failed_mutations.append(m),
    )
    return pipeline, outcomes, failed_mutations


def readings(count: int, devices: int = 3, fast_every: int = 0) -> list[TelemetryPoint]:
    """``count`` readings over ``devices``; every ``fast_every``-th one raises OVERSPEED."""
    result = []
    for i in range(count):
        result.append(
            TelemetryPoint(
                fleet_id="FLEET_PARIS",
                device_id=f"PARIS-{i % devices:04d}",
                model="GPS-TX-1",
                ts=T0 + timedelta(seconds=i),
                lat=48.85,
                lon=2.35,
                speed_kmh=125.0 if fast_every and i % fast_every == 0 else 40.0,
                heading_deg=0.0,
                battery_pct=80,
                temp_c=20.0,
                zone="PARIS-CENTER",
            )
        )
    return result


def run(pipeline: WritePipeline, data: Sequence[TelemetryPoint], chunk: int = 25) -> Metrics:
    for i in range(0, len(data), chunk):
        pipeline.submit_points(data[i : i + chunk])
    pipeline.drain()
    return pipeline.metrics


def test_everything_acknowledged_with_bounded_concurrency() -> None:
    session = FakeSession(ok, threaded=True, delay_s=0.002)
    pipeline, outcomes, _ = make_pipeline(session, concurrency=4)
    metrics = run(pipeline, readings(200))
    assert metrics.records_written == 200
    assert metrics.records_failed == metrics.unresolved == metrics.retries == 0
    assert metrics.requests == len(session.calls)
    assert len(metrics.latencies_ms) == metrics.requests
    assert 1 <= session.max_outstanding <= 4
    assert sorted(p.ts for p, failure in outcomes if failure is None) == [
        p.ts for p in readings(200)
    ]
    assert pipeline.idle


def test_unavailable_falls_back_to_the_degraded_consistency() -> None:
    def script(_m: tuple[Mutation, ...], profile: str, _attempt: int) -> BaseException | None:
        if profile == DEGRADED_PROFILE:
            return None
        return Unavailable("one replica down", required_replicas=2, alive_replicas=1)

    session = FakeSession(script)
    pipeline, _, _ = make_pipeline(session, degraded_profile=DEGRADED_PROFILE)
    metrics = run(pipeline, readings(30))
    assert metrics.records_written == 30
    assert metrics.degraded_writes == metrics.requests == metrics.retries > 0
    assert metrics.errors == {"Unavailable": metrics.requests}
    profiles = Counter(profile for _, profile in session.calls)
    assert profiles[DEGRADED_PROFILE] == profiles[EXEC_PROFILE_DEFAULT] == metrics.requests


def test_unavailable_without_fallback_fails_after_bounded_attempts() -> None:
    session = FakeSession(lambda *_: Unavailable("down", required_replicas=2, alive_replicas=1))
    pipeline, outcomes, _ = make_pipeline(session, max_attempts=3)
    metrics = run(pipeline, readings(12))
    assert metrics.records_written == 0
    assert metrics.records_failed == 12
    assert metrics.unresolved == 0
    assert set(session.attempts.values()) == {3}
    assert all(f and f.startswith("Unavailable after 3 attempt(s)") for _, f in outcomes)
    assert len(outcomes) == 12  # each record reported exactly once


def test_timeouts_are_retried_with_backoff() -> None:
    def script(_m: tuple[Mutation, ...], _p: str, attempt: int) -> BaseException | None:
        if attempt == 1:
            return WriteTimeout("timeout", write_type=0, received_responses=1, required_responses=2)
        if attempt == 2:
            return OperationTimedOut("client timeout")
        return None

    session = FakeSession(script, threaded=True)
    pipeline, _, _ = make_pipeline(session, max_attempts=3)
    metrics = run(pipeline, readings(20))
    assert metrics.records_written == 20
    assert metrics.retries == 2 * metrics.requests
    assert metrics.errors == {
        "WriteTimeout": metrics.requests,
        "OperationTimedOut": metrics.requests,
    }
    assert metrics.degraded_writes == 0


def test_a_silent_replica_times_out_then_the_write_degrades() -> None:
    # After a crash, until the failure detector convicts the node, LOCAL_QUORUM writes time out.
    def script(_m: tuple[Mutation, ...], profile: str, _attempt: int) -> BaseException | None:
        if profile == DEGRADED_PROFILE:
            return None
        return WriteTimeout("timeout", write_type=0, received_responses=1, required_responses=2)

    session = FakeSession(script)
    pipeline, _, _ = make_pipeline(session, degraded_profile=DEGRADED_PROFILE)
    metrics = run(pipeline, readings(30))
    assert metrics.records_written == 30 and metrics.records_failed == 0
    assert metrics.degraded_writes == metrics.requests == metrics.retries > 0
    assert metrics.errors == {"WriteTimeout": metrics.requests}


def test_a_dropped_connection_is_retried() -> None:
    from cassandra.connection import ConnectionShutdown

    def script(_m: tuple[Mutation, ...], _p: str, attempt: int) -> BaseException | None:
        return ConnectionShutdown("node went away") if attempt == 1 else None

    session = FakeSession(script)
    pipeline, _, _ = make_pipeline(session, max_attempts=2)
    metrics = run(pipeline, readings(10))
    assert metrics.records_written == 10 and metrics.retries == metrics.requests


def test_non_retryable_error_fails_only_the_records_concerned() -> None:
    def script(mutations: tuple[Mutation, ...], _p: str, _a: int) -> BaseException | None:
        return InvalidRequest("bad alert") if mutations[0].table is ALERTS else None

    session = FakeSession(script)
    pipeline, outcomes, failed = make_pipeline(session)
    data = readings(40, fast_every=5)  # 8 readings raise an alert
    metrics = run(pipeline, data)
    failed_ts = sorted(p.ts for p, f in outcomes if f)
    assert failed_ts == [p.ts for p in data if p.speed_kmh > 100]
    assert metrics.records_failed == 8 and metrics.records_written == 32
    assert metrics.retries == 0
    assert {m.table for m in failed} == {ALERTS}


def test_a_failed_latest_row_fails_every_record_it_covers() -> None:
    def script(mutations: tuple[Mutation, ...], _p: str, _a: int) -> BaseException | None:
        bad = any(m.table is LATEST_BY_FLEET and m.values[1] == "PARIS-0001" for m in mutations)
        return InvalidRequest("no") if bad else None

    pipeline, outcomes, _ = make_pipeline(FakeSession(script), mode=WriteMode.ASYNC)
    metrics = run(pipeline, readings(30, devices=3), chunk=30)
    assert {p.device_id for p, f in outcomes if f} == {"PARIS-0001"}
    assert metrics.records_failed == 10 and metrics.records_written == 20
    # batched, the fleet's latest positions are one request: its failure fails all it covers
    pipeline, outcomes, _ = make_pipeline(FakeSession(script), mode=WriteMode.BATCH)
    metrics = run(pipeline, readings(30, devices=3), chunk=30)
    assert metrics.records_failed == 30 and metrics.records_written == 0


def test_binding_errors_are_reported_not_raised() -> None:
    def bind(mutations: Sequence[Mutation]) -> tuple[Mutation, ...]:
        if mutations[0].table is TELEMETRY_BY_DEVICE and mutations[0].values[0] == "PARIS-0002":
            raise TypeError("cannot serialize")
        return tuple(mutations)

    pipeline, outcomes, _ = make_pipeline(FakeSession(ok))
    pipeline.bind = bind
    metrics = run(pipeline, readings(9))
    assert metrics.records_failed == 3
    assert metrics.errors == {"TypeError": 1}  # the device-day's 3 rows: one batch
    assert all("TypeError after 1 attempt(s)" in f for _, f in outcomes if f)


def test_batch_mode_sends_fewer_requests_for_the_same_records() -> None:
    data = readings(300, devices=3)
    async_session, batch_session = FakeSession(ok), FakeSession(ok)
    async_pipeline, _, _ = make_pipeline(async_session, mode=WriteMode.ASYNC)
    batch_pipeline, _, _ = make_pipeline(batch_session, mode=WriteMode.BATCH, max_batch=20)
    assert run(async_pipeline, data, chunk=100).records_written == 300
    assert run(batch_pipeline, data, chunk=100).records_written == 300
    assert len(batch_session.calls) * 5 < len(async_session.calls)
    assert all(len({m.partition for m in call}) == 1 for call, _ in batch_session.calls)


def test_rollup_writes_are_counted_and_failures_reported() -> None:
    rollup = HourlyRollup(RollupKey("FLEET_PARIS", T0.date(), 8), 10, 2, 30.0, 60.0, 70.0, 0)
    other = HourlyRollup(RollupKey("FLEET_LYON", T0.date(), 8), 5, 1, 30.0, 60.0, 70.0, 0)

    def script(mutations: tuple[Mutation, ...], _p: str, _a: int) -> BaseException | None:
        return InvalidRequest("no") if mutations[0].values[0] == "FLEET_LYON" else None

    pipeline, _, failed = make_pipeline(FakeSession(script))
    pipeline.submit_mutations([rollup_mutation(rollup), rollup_mutation(other)])
    pipeline.drain()
    assert pipeline.metrics.rollups_written == 1
    assert [m.table for m in failed] == [ROLLUPS]
    assert len(pipeline.metrics.latencies_ms) == 0  # not part of the write-path latency


def test_backlog_is_bounded_while_submitting() -> None:
    session = FakeSession(ok, threaded=True, delay_s=0.001)
    pipeline, _, _ = make_pipeline(session, concurrency=2, max_backlog=10)
    seen: list[int] = []
    data = readings(200)
    for i in range(0, 200, 10):
        pipeline.submit_points(data[i : i + 10])
        seen.append(len(pipeline._ready))
    pipeline.drain()
    assert max(seen) <= 10 + 60  # at most one chunk's requests above the bound
    assert pipeline.metrics.records_written == 200


@pytest.mark.parametrize("stop_early", [True, False])
def test_pump_returns_at_the_deadline(stop_early: bool) -> None:
    pipeline, _, _ = make_pipeline(FakeSession(ok))
    stop = threading.Event()
    if stop_early:
        stop.set()
    started = time.monotonic()
    pipeline.pump(deadline=started + 0.2, stop=stop)
    elapsed = time.monotonic() - started
    assert elapsed < 0.1 if stop_early else 0.18 <= elapsed < 1.0
