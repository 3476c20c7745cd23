"""Cassandra writes: prepared statements and the write pipeline.

Connecting is in :mod:`fleet.session`.

Write policy (RF=2 per DC, LOCAL_QUORUM): a quorum of 2 replicas is 2, so one local replica
down makes writes to its token ranges fail with ``Unavailable`` once the node is known down, and
time out (``WriteTimeout``) while it is not yet (a crash, a partition). Such a request is then
retried at once at ``FLEET_DEGRADED_CONSISTENCY`` (e.g. LOCAL_ONE) if set, and counted as a
degraded write; hints and repair bring the second replica up to date. Other timeouts, client-side
``OperationTimedOut``, dropped connections and overload errors are retried with exponential
backoff and jitter, up to ``FLEET_WRITE_ATTEMPTS`` attempts in all. Every statement is an
idempotent upsert, so a retry after a timeout (which may have been applied) is safe. Anything
else fails at once. Whatever happens, each record ends either acknowledged or reported failed
with its reason.

The driver's own retry policy is disabled (``FallthroughRetryPolicy``): every retry goes
through this module, so the counts are exact.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cassandra import (
    OperationTimedOut,
    Unavailable,
    WriteFailure,
    WriteTimeout,
)
from cassandra.cluster import (
    EXEC_PROFILE_DEFAULT,
    NoHostAvailable,
    Session,
)
from cassandra.connection import ConnectionException
from cassandra.protocol import IsBootstrappingErrorMessage, OverloadedErrorMessage
from cassandra.query import UNSET_VALUE, BatchStatement, BatchType, PreparedStatement

from fleet.metrics import Metrics, ProgressReporter
from fleet.model import TelemetryPoint
from fleet.plan import MAX_BATCH_STATEMENTS, Mutation, WriteMode, WritePlanner, group_requests
from fleet.schema import ROLLUP_TABLES, TABLES
from fleet.session import DEGRADED_PROFILE, Connection

log = logging.getLogger(__name__)

POLL_EVERY = 256  # records planned between two looks at the in-flight requests

RETRYABLE = (
    ConnectionException,  # the coordinator's connection died mid-request (e.g. a node crashed)
    WriteTimeout,
    OperationTimedOut,
    WriteFailure,
    NoHostAvailable,
    OverloadedErrorMessage,
    IsBootstrappingErrorMessage,
)


# ----------------------------------------------------------------------------- statements


class StatementBinder:
    """Prepared, idempotent INSERTs; one mutation -> bound statement, more -> UNLOGGED batch."""

    def __init__(self, session: Session, keyspace: str) -> None:
        self._prepared: dict[str, PreparedStatement] = {}
        for spec in TABLES:
            prepared = session.prepare(spec.insert_cql(keyspace))
            prepared.is_idempotent = True
            self._prepared[spec.name] = prepared

    @staticmethod
    def _values(mutation: Mutation) -> list[object]:
        # None is never written as null (a tombstone): it leaves the column as it is.
        return [UNSET_VALUE if v is None else v for v in mutation.values]

    def __call__(self, mutations: Sequence[Mutation]) -> Any:
        if len(mutations) == 1:
            m = mutations[0]
            return self._prepared[m.table.name].bind(self._values(m))
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        batch.is_idempotent = True
        for m in mutations:
            batch.add(self._prepared[m.table.name], self._values(m))
        return batch


# ----------------------------------------------------------------------------- pipeline


class ResponseFutureLike(Protocol):
    def add_callbacks(
        self,
        callback: Callable[..., Any],
        errback: Callable[..., Any],
        callback_args: tuple[Any, ...] = (),
        errback_args: tuple[Any, ...] = (),
    ) -> Any: ...


class SessionLike(Protocol):
    def execute_async(self, query: Any, *, execution_profile: Any) -> ResponseFutureLike: ...


@dataclass(eq=False)
class _Request:
    mutations: tuple[Mutation, ...]
    record_ids: frozenset[int]
    statement: Any = None
    attempts: int = 0
    degraded: bool = False


RecordCallback = Callable[[TelemetryPoint, str | None], None]


@dataclass(eq=False)
class _Record:
    point: TelemetryPoint
    callback: RecordCallback | None
    pending: int = 0
    failure: str | None = None


@dataclass
class PipelineOptions:
    mode: WriteMode = WriteMode.BATCH
    concurrency: int = 64
    max_attempts: int = 5
    degraded_profile: str | None = None
    backoff_base_s: float = 0.05
    backoff_max_s: float = 2.0
    max_batch: int = MAX_BATCH_STATEMENTS
    max_backlog: int | None = None  # requests planned but not sent; default 4 x concurrency


@dataclass
class WritePipeline:
    """Bounded in-flight asynchronous writes with retries; one thread runs the event loop.

    Driver callbacks only enqueue events; completions, retries and metrics are handled in the
    caller's thread by :meth:`pump` / :meth:`drain`, so no state is shared between threads.
    """

    session: SessionLike
    bind: Callable[[Sequence[Mutation]], Any]
    planner: WritePlanner
    metrics: Metrics
    options: PipelineOptions = field(default_factory=PipelineOptions)
    progress: ProgressReporter | None = None
    on_record: RecordCallback | None = None
    on_mutation_failed: Callable[[Mutation, str], None] | None = None
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._clock = self.metrics.clock
        # (request, latency in ms, error or None), put by driver threads
        self._events: queue.SimpleQueue[tuple[_Request, float, BaseException | None]] = (
            queue.SimpleQueue()
        )
        self._ready: deque[_Request] = deque()
        self._retry_heap: list[tuple[float, int, _Request]] = []
        self._seq = itertools.count()
        self._records: dict[int, _Record] = {}
        self._next_record = 0
        self._in_flight = 0
        self._max_backlog = self.options.max_backlog or 4 * self.options.concurrency

    # -- input

    def submit_points(
        self, points: Sequence[TelemetryPoint], on_record: RecordCallback | None = None
    ) -> None:
        """Plan and queue the writes of ``points``; blocks while the backlog is full.

        Each record's outcome goes to ``on_record`` if given (the spool's replay), else to the
        pipeline's ``on_record``."""
        if not points:
            return
        records = [(self._next_record + i, p) for i, p in enumerate(points)]
        self._next_record += len(points)
        callback = on_record or self.on_record
        for record_id, point in records:
            self._records[record_id] = _Record(point, callback)
        self.metrics.records_submitted += len(points)
        self._enqueue(self.planner.plan(self._polling(records)))
        while len(self._ready) > self._max_backlog:
            self._step(None, None)

    def _polling(
        self, records: Sequence[tuple[int, TelemetryPoint]]
    ) -> Iterator[tuple[int, TelemetryPoint]]:
        """``records``, handling completions and sending queued requests every
        ``POLL_EVERY`` of them: planning a large chunk does not leave the cluster idle."""
        for i, record in enumerate(records):
            if i % POLL_EVERY == POLL_EVERY - 1:
                self._poll()
            yield record

    def _poll(self) -> None:
        """Handle what has completed and send what may be sent, without waiting."""
        self._launch()
        self._handle_events(None)
        self._launch()

    def _handle_events(self, event: tuple[_Request, float, BaseException | None] | None) -> None:
        """Handle ``event`` if any, then every event already queued, without waiting."""
        while True:
            if event is not None:
                self._handle(*event)
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return

    def submit_mutations(self, mutations: Iterable[Mutation]) -> None:
        """Queue mutations that are not records (rollups)."""
        self._enqueue(list(mutations))

    def _enqueue(self, mutations: list[Mutation]) -> None:
        for group in group_requests(mutations, self.options.mode, self.options.max_batch):
            ids = frozenset(rid for m in group for rid in m.records)
            for rid in ids:
                self._records[rid].pending += 1
            self._ready.append(_Request(group, ids))

    # -- event loop

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def idle(self) -> bool:
        return not (self._in_flight or self._ready or self._retry_heap)

    def pump(self, deadline: float | None = None, stop: threading.Event | None = None) -> None:
        """Process events until idle (``deadline`` None) or until ``deadline`` / ``stop``."""
        while not (stop is not None and stop.is_set()):
            now = self._clock()
            if deadline is not None and now >= deadline:
                self._launch()
                return
            if not self._step(deadline, stop):
                if deadline is None:
                    return
                remaining = max(0.0, deadline - self._clock())
                if stop is not None:
                    stop.wait(remaining)
                else:
                    time.sleep(remaining)
                return

    def drain(self) -> None:
        self.pump(None)
        if self.progress:
            self.progress.maybe_report(self.metrics, self._in_flight, force=True)

    def _launch(self) -> None:
        now = self._clock()
        while self._retry_heap and self._retry_heap[0][0] <= now:
            self._ready.appendleft(heapq.heappop(self._retry_heap)[2])
        while self._ready and self._in_flight < self.options.concurrency:
            self._send(self._ready.popleft())

    def _step(self, deadline: float | None, stop: threading.Event | None) -> bool:
        """Send what may be sent, then handle events; False when there is nothing to do."""
        self._launch()
        if self.idle:
            return False
        now = self._clock()
        waits = [5.0]
        if self._retry_heap:
            waits.append(self._retry_heap[0][0] - now)
        if deadline is not None:
            waits.append(deadline - now)
        if stop is not None:
            waits.append(0.25)
        if self.progress and self.progress.enabled:
            waits.append(self.progress.interval_s)
        try:
            event = self._events.get(timeout=max(0.0, min(waits)))
        except queue.Empty:
            event = None
        self._handle_events(event)
        if self.progress:
            self.progress.maybe_report(self.metrics, self._in_flight)
        return True

    def _send(self, request: _Request) -> None:
        self._in_flight += 1
        request.attempts += 1
        started = self._clock()
        try:
            if request.statement is None:
                request.statement = self.bind(request.mutations)
            profile = DEGRADED_PROFILE if request.degraded else EXEC_PROFILE_DEFAULT
            future = self.session.execute_async(request.statement, execution_profile=profile)
        except Exception as exc:  # binding or driver error before sending: handled as a failure
            self._events.put((request, 0.0, exc))
            return
        future.add_callbacks(
            self._on_success,
            self._on_error,
            callback_args=(request, started),
            errback_args=(request, started),
        )

    # Driver callbacks (driver thread): hand over, nothing else.
    def _on_success(self, _result: Any, request: _Request, started: float) -> None:
        self._events.put((request, (self._clock() - started) * 1000.0, None))

    def _on_error(self, exc: BaseException, request: _Request, started: float) -> None:
        self._events.put((request, (self._clock() - started) * 1000.0, exc))

    # -- outcomes (event loop thread)

    def _handle(self, request: _Request, latency_ms: float, exc: BaseException | None) -> None:
        self._in_flight -= 1
        if exc is None:
            self.metrics.requests += 1
            self.metrics.rows_written += len(request.mutations)
            if request.record_ids:  # rollup writes are not part of the write-path latency
                self.metrics.record_latency(latency_ms)
            if request.degraded:
                self.metrics.degraded_writes += 1
            self.metrics.rollups_written += sum(m.table in ROLLUP_TABLES for m in request.mutations)
            self._settle(request, None)
            return
        self.metrics.record_error(exc)
        can_retry = request.attempts < self.options.max_attempts
        fallback = self.options.degraded_profile and not request.degraded
        # Unavailable: the coordinator knows a replica is down. WriteTimeout: a replica did not
        # answer in time, e.g. one that crashed and is not yet convicted by the failure detector
        # (the drills measured 10-30 s of these after a kill -9 or a partition). Either way the
        # idempotent write goes again at once at the degraded level.
        if can_retry and fallback and isinstance(exc, (Unavailable, WriteTimeout)):
            request.degraded = True
            self.metrics.retries += 1
            self._ready.appendleft(request)
            return
        if can_retry and isinstance(exc, (*RETRYABLE, Unavailable)):
            self.metrics.retries += 1
            delay = min(
                self.options.backoff_max_s,
                self.options.backoff_base_s * 2 ** (request.attempts - 1),
            )
            due = self._clock() + delay * (0.5 + self.rng.random() / 2)
            heapq.heappush(self._retry_heap, (due, next(self._seq), request))
            return
        self.metrics.requests += 1
        reason = f"{type(exc).__name__} after {request.attempts} attempt(s): {exc}"
        for m in request.mutations:
            if self.on_mutation_failed:
                self.on_mutation_failed(m, reason)
        self._settle(request, reason)

    def _settle(self, request: _Request, failure: str | None) -> None:
        for rid in request.record_ids:
            record = self._records[rid]
            record.pending -= 1
            if failure and record.failure is None:
                record.failure = failure
            if record.pending == 0:
                del self._records[rid]
                if record.failure:
                    self.metrics.records_failed += 1
                else:
                    self.metrics.records_written += 1
                if record.callback:
                    record.callback(record.point, record.failure)


def make_pipeline(
    conn: Connection,
    metrics: Metrics,
    planner: WritePlanner,
    mode: WriteMode,
    *,
    progress: ProgressReporter | None = None,
    on_record: RecordCallback | None = None,
    on_mutation_failed: Callable[[Mutation, str], None] | None = None,
) -> WritePipeline:
    settings = conn.settings
    return WritePipeline(
        session=conn.session,
        bind=StatementBinder(conn.session, settings.keyspace),
        planner=planner,
        metrics=metrics,
        options=PipelineOptions(
            mode=mode,
            concurrency=settings.concurrency,
            max_attempts=settings.write_attempts,
            degraded_profile=conn.degraded_profile,
        ),
        progress=progress,
        on_record=on_record,
        on_mutation_failed=on_mutation_failed,
    )
