"""The streaming ETL's way through an outage: hold what cannot be written, replay it in order.

A reading whose writes failed after all their attempts goes to the durable spool
(:mod:`fleet.spool`) instead of being dropped. While the spool holds anything, new readings are
appended behind it rather than written, so that the order is kept and a dead DC is not hammered
with retries; the oldest chunk is replayed through the same write pipeline, and committed (gone
from the spool) only once every reading in it was acknowledged. A chunk with a failure stays at
the head and is tried again after a backoff (1 s doubling to 8 s), as the oldest reading alone
until a write succeeds again (then chunks double back to their size): a dead DC costs one
failing reading per try, not a chunk. Writes are idempotent (same key, same values; the
latest-position tables are written USING TIMESTAMP of the reading), so a chunk replayed twice,
e.g. after a crash between the write and the commit, changes nothing.

The spool refuses what does not fit in its bound: those readings are *dropped*, counted and
logged (at most every 10 s), never silently.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from fleet.metrics import Metrics
from fleet.model import TelemetryPoint
from fleet.spool import Spool, SpoolChunk
from fleet.writer import RecordCallback, WritePipeline

log = logging.getLogger(__name__)

REPLAY_CHUNK = 500
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 8.0
DROP_LOG_EVERY_S = 10.0


class SpoolReplay:
    """Stores failed or held readings in ``spool`` and replays them through a write pipeline
    once one is attached (the stream holds readings before it could first connect)."""

    def __init__(
        self,
        spool: Spool,
        metrics: Metrics,
        chunk_size: int = REPLAY_CHUNK,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spool = spool
        self.metrics = metrics
        self.pipeline: WritePipeline | None = None
        self.on_written: RecordCallback | None = None
        self.chunk_size = chunk_size
        self._size = chunk_size  # 1 after a failed chunk, doubling back to chunk_size
        self.clock = clock
        self._chunk: SpoolChunk | None = None
        self._left = 0
        self._failed = 0
        self._backoff = BACKOFF_BASE_S
        self._next_try = 0.0
        self._dropped_unlogged = 0
        self._last_drop_log = float("-inf")

    def attach(self, pipeline: WritePipeline, on_written: RecordCallback) -> None:
        """Replay through ``pipeline``; ``on_written`` gets every reading written back."""
        self.pipeline, self.on_written = pipeline, on_written

    @property
    def holding(self) -> bool:
        """True while readings wait in the spool: new ones must queue behind them."""
        return self._chunk is not None or self.spool.pending_records > 0

    def store(self, points: Sequence[TelemetryPoint]) -> int:
        """Append ``points`` to the spool; what does not fit is dropped and counted. Returns how
        many were kept."""
        if not points:
            return 0
        accepted = self.spool.append(points)
        self.metrics.spooled += accepted
        dropped = len(points) - accepted
        if dropped:
            self.metrics.dropped += dropped
            self._dropped_unlogged += dropped
        if self._dropped_unlogged and self.clock() - self._last_drop_log >= DROP_LOG_EVERY_S:
            log.error(
                "spool full (%d bytes pending): %d readings dropped since the last message, "
                "%d in all",
                self.spool.pending_bytes,
                self._dropped_unlogged,
                self.metrics.dropped,
            )
            self._dropped_unlogged = 0
            self._last_drop_log = self.clock()
        return accepted

    def step(self) -> None:
        """Send the oldest chunk when none is in flight and its backoff has passed."""
        if self.pipeline is None or self._chunk is not None or self.clock() < self._next_try:
            return
        chunk = self.spool.peek(self._size)
        if not chunk.points:
            return
        self._chunk, self._left, self._failed = chunk, len(chunk.points), 0
        self.pipeline.submit_points(chunk.points, on_record=self._on_record)

    def flush(self) -> None:
        """At the end of a run: replay what the spool holds, chunk after chunk, until it is
        empty or a chunk fails; what is left waits on disk for the next run."""
        if self.pipeline is None:
            return
        self._size = self.chunk_size
        while self.spool.pending_records:
            self._next_try, before = 0.0, self.metrics.replayed
            self.step()
            self.pipeline.drain()
            if self.metrics.replayed == before:  # the chunk failed: Cassandra still cannot
                return

    def _on_record(self, point: TelemetryPoint, failure: str | None) -> None:
        if failure is None:
            if self.on_written is not None:
                self.on_written(point, None)
        else:  # still in the spool: not lost
            self._failed += 1
            self.metrics.failed_spooled += 1
        self._left -= 1
        if self._left == 0:
            self._settle()

    def _settle(self) -> None:
        chunk, self._chunk = self._chunk, None
        assert chunk is not None
        if self._failed == 0:
            self.spool.commit(chunk)
            self.metrics.replayed += len(chunk.points)
            self._backoff = BACKOFF_BASE_S
            self._size = min(self.chunk_size, self._size * 2)
            self._next_try = self.clock()
            if not self.spool.pending_records:
                log.warning("spool replayed: %d readings in all", self.metrics.replayed)
            return
        self._next_try = self.clock() + self._backoff
        self._size = 1
        log.warning(
            "replay of %d spooled readings failed (%d not written); %d pending, next try in %.0f s",
            len(chunk.points),
            self._failed,
            self.spool.pending_records,
            self._backoff,
        )
        self._backoff = min(BACKOFF_MAX_S, self._backoff * 2)
