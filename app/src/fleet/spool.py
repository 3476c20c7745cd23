"""A durable, bounded, local queue of readings: where the streaming ETL keeps what it cannot write.

When the whole local data center is down, ``fleet etl stream`` appends the readings it cannot
write here and replays them, oldest first, once writes succeed again (:mod:`fleet.replay`).
Writes are idempotent, so the contract is *at least once*: a reading appended is replayed until
it is committed, and a crash between a write and its commit only replays it again.

On disk, in one directory (mode 0700) that only this spool uses:

* ``spool-<seq:012d>.log``: segments in append order, a new one when the current one would pass
  ``segment_bytes`` and after every restart (an existing segment is never appended to again, so a
  head that outlived a lost tail cannot hide new readings). One record per line:
  ``<crc32 of the JSON, 8 lowercase hex digits> <compact JSON object of the reading>\\n`` with
  ``ts`` as integer epoch milliseconds.
* ``spool.head``: the position already committed, ``<crc32> {"segment":S,"record":R}\\n``: every
  line of the segments before ``S`` and the first ``R`` lines of segment ``S``. Replaced
  atomically (write ``.spool.head.tmp``, ``os.replace``) *before* the consumed segments are
  deleted, so a crash in between leaves only segments that the next open deletes.

``append`` returns once the bytes were handed to the OS with ``write(2)``: a ``kill -9`` loses
nothing it accepted. ``fsync`` follows :class:`FsyncPolicy` and only matters for a power loss.
Opening recovers whatever is there: a torn last line (a crash mid-write) is truncated away, a
corrupt line elsewhere is skipped and counted, files that are not the spool's are left alone.
Nothing in the directory makes opening fail; only I/O errors and a second process holding the
directory (``flock``) do.

One thread uses a spool: there is no locking.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import json
import logging
import math
import os
import re
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from fleet.model import TelemetryPoint, from_millis, to_millis

log = logging.getLogger(__name__)

HEAD_FILE = "spool.head"
HEAD_TMP_FILE = ".spool.head.tmp"
SEGMENT_RE = re.compile(r"spool-(\d{12})\.log")
MAX_LINE_BYTES = 1 << 20  # a longer line is corrupt: bounds what recovery reads into memory

_CRC_RE = re.compile(rb"[0-9a-f]{8}")
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
# Field name -> annotation ("str", "float", "int" or "datetime"), in TelemetryPoint order.
_FIELD_TYPES: dict[str, str] = {
    f.name: str(getattr(f.type, "__name__", f.type)) for f in fields(TelemetryPoint)
}
if not set(_FIELD_TYPES.values()) <= {"str", "float", "int", "datetime"}:
    raise ImportError(f"fleet.spool cannot encode TelemetryPoint fields {_FIELD_TYPES}")
_spool_ids = itertools.count(1)


class FsyncPolicy(StrEnum):
    """When appended data is forced to disk; a ``kill -9`` loses nothing under any of them."""

    ALWAYS = "always"  # after every append and commit
    INTERVAL = "interval"  # at most every fsync_interval_s, on append/commit, and on close
    NEVER = "never"  # leave it to the OS: a power loss may lose recent readings

    @classmethod
    def _missing_(cls, value: object) -> FsyncPolicy:
        """Accept any case and surrounding blanks; name the choices for anything else."""
        if isinstance(value, str):
            for policy in cls:
                if policy.value == value.strip().lower():
                    return policy
        choices = ", ".join(p.value for p in cls)
        raise ValueError(f"unknown fsync policy {value!r}: must be one of {choices}")


@dataclass(frozen=True, slots=True, order=True)
class SpoolPosition:
    """Opaque to callers: line ``record`` of segment ``seq``, at byte ``offset`` of its file."""

    seq: int
    record: int
    offset: int


@dataclass(frozen=True, slots=True)
class SpoolChunk:
    """The oldest pending readings, as :meth:`Spool.peek` returned them; commit it once written.

    Everything but ``points`` is the spool's bookkeeping.
    """

    points: tuple[TelemetryPoint, ...]
    start: SpoolPosition = field(repr=False)
    end: SpoolPosition = field(repr=False)
    nbytes: int = field(repr=False)  # bytes on disk from start to end, corrupt lines included
    owner: int = field(repr=False)  # the Spool instance that peeked it


@dataclass(slots=True)
class _Segment:
    seq: int
    path: Path
    lines: int = 0
    size: int = 0
    # Indexes of corrupt lines not yet committed: they are skipped, and not pending records.
    corrupt: set[int] = field(default_factory=set)


def encode_point(point: TelemetryPoint) -> bytes:
    """One spool line; ``ValueError`` for a reading that would not read back equal."""
    record: dict[str, object] = {}
    for name, kind in _FIELD_TYPES.items():
        value = getattr(point, name)
        if kind == "datetime":
            if not isinstance(value, datetime) or value.utcoffset() is None:
                raise ValueError(f"{name} must be a timezone-aware datetime, not {value!r}")
            millis = to_millis(value)
            if from_millis(millis) != value:
                raise ValueError(f"{name} has a precision finer than a millisecond: {value}")
            value = millis
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number, not {value!r}")
            value = float(value)
        elif kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer, not {value!r}")
        elif not isinstance(value, str):
            raise ValueError(f"{name} must be a string, not {value!r}")
        record[name] = value
    return _with_crc(json.dumps(record, separators=(",", ":")).encode("ascii"))


def decode_line(line: bytes) -> TelemetryPoint | None:
    """The reading of one spool line (newline included); ``None`` for anything else."""
    payload = _checked_payload(line)
    if payload is None:
        return None
    try:
        record = json.loads(payload)
        if not isinstance(record, dict) or record.keys() != _FIELD_TYPES.keys():
            return None
        values: dict[str, object] = {}
        for name, kind in _FIELD_TYPES.items():
            value = record[name]
            if kind in ("int", "datetime"):
                if isinstance(value, bool) or not isinstance(value, int):
                    return None
                values[name] = from_millis(value) if kind == "datetime" else value
            elif kind == "float":
                if isinstance(value, bool) or not isinstance(value, int | float):
                    return None
                values[name] = float(value)
            elif isinstance(value, str):
                values[name] = value
            else:
                return None
        return TelemetryPoint(**values)  # type: ignore[arg-type]
    except (ValueError, OverflowError, RecursionError):
        return None


def _with_crc(payload: bytes) -> bytes:
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def _checked_payload(line: bytes) -> bytes | None:
    """What follows the CRC, if the line is ``<crc> <payload>\\n`` and the CRC matches."""
    if len(line) < 11 or line[8:9] != b" " or not line.endswith(b"\n"):
        return None
    if not _CRC_RE.fullmatch(line[:8]):
        return None
    payload = line[9:-1]
    return payload if int(line[:8], 16) == zlib.crc32(payload) else None


def _lines(f: BinaryIO, start: int, end: int) -> Iterator[tuple[int, int, bytes]]:
    """``(offset, length, line)`` of each line of ``f`` in ``[start, end)``.

    The last one may lack its newline; a line longer than ``MAX_LINE_BYTES`` is given as ``b""``
    (it cannot decode) with its full length. Stops early if the file is shorter than ``end``.
    """
    f.seek(start)
    offset = start
    while offset < end:
        line = f.readline(min(MAX_LINE_BYTES, end - offset))
        if not line:
            return
        length = len(line)
        if not line.endswith(b"\n") and offset + length < end:
            while offset + length < end:  # an overlong line: skip to its end
                more = f.readline(min(MAX_LINE_BYTES, end - offset - length))
                length += len(more)
                if not more or more.endswith(b"\n"):
                    break
            line = b""
        yield offset, length, line
        offset += length


class Spool:
    """Durable FIFO of readings in ``directory``, holding at most ``max_bytes`` of pending data.

    ``append`` adds readings behind the pending ones, ``peek`` returns the oldest without removing
    them, ``commit`` removes a peeked chunk once it was written. Opening recovers the pending
    readings left by a previous run, whether it closed the spool or was killed.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        fsync: FsyncPolicy = FsyncPolicy.ALWAYS,
        fsync_interval_s: float = 1.0,
        segment_bytes: int = 4 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_bytes < 1 or segment_bytes < 1:
            raise ValueError("max_bytes and segment_bytes must be positive")
        if not fsync_interval_s >= 0:
            raise ValueError("fsync_interval_s must be >= 0")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.fsync = FsyncPolicy(fsync)
        self.fsync_interval_s = fsync_interval_s
        self.segment_bytes = segment_bytes
        self.clock = clock
        self._id = next(_spool_ids)
        self._segments: list[_Segment] = []  # ascending seq; the last one may be active
        self._active: _Segment | None = None  # opened by this instance, appended to
        self._fd: int | None = None  # of the active segment
        self._head = SpoolPosition(0, 0, 0)
        self._next_seq = 1
        self._pending_records = 0
        self._pending_bytes = 0
        self._corrupt_records = 0
        self._oldest: datetime | None = None  # cache of oldest_ts
        # Not yet fsynced: retired segments (their fds stay open until then), the active
        # segment, the head file, the directory entries.
        self._unsynced: dict[int, int] = {}
        self._active_dirty = self._head_dirty = self._dir_dirty = False
        self._last_sync = -math.inf
        self._closed = False

        created = not self.directory.exists()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if created:
            os.chmod(self.directory, 0o700)  # whatever the umask
        self._dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(self._dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._dir_fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise OSError(
                    errno.EBUSY, "spool directory in use by another process", str(directory)
                ) from None
            raise
        try:
            self._recover()
        except BaseException:
            os.close(self._dir_fd)
            raise

    # -- public API ---------------------------------------------------------------------------

    @property
    def pending_records(self) -> int:
        """Readings appended and not committed (corrupt lines are not counted)."""
        return self._pending_records

    @property
    def pending_bytes(self) -> int:
        """Bytes on disk of the pending lines; ``append`` keeps it at most ``max_bytes``."""
        return self._pending_bytes

    @property
    def corrupt_records(self) -> int:
        """Corrupt lines skipped since this spool was opened (each logged)."""
        return self._corrupt_records

    @property
    def oldest_ts(self) -> datetime | None:
        """``ts`` of the oldest pending reading: how far behind the replay is."""
        if self._pending_records <= 0:
            return None
        if self._oldest is None and not self._closed:
            chunk = self.peek(1)
            self._oldest = chunk.points[0].ts if chunk.points else None
        return self._oldest

    @property
    def closed(self) -> bool:
        return self._closed

    def append(self, points: Sequence[TelemetryPoint]) -> int:
        """Append ``points`` in order; return how many were accepted, a prefix of ``points``.

        The rest did not fit in ``max_bytes`` (or the disk is full). Accepted readings reached
        the OS before this returns. ``ValueError`` (nothing appended) for a reading that cannot
        round-trip exactly: a naive or sub-millisecond ``ts``, a field of the wrong type.
        """
        self._check_open()
        lines = [encode_point(p) for p in points]
        room = self.max_bytes - self._pending_bytes
        take = 0
        for line in lines:
            if len(line) > room:
                break
            room -= len(line)
            take += 1
        before = self._pending_records
        accepted = 0
        try:
            while accepted < take:
                segment = self._segment_for(len(lines[accepted]))
                group: list[bytes] = []
                size = segment.size
                for line in lines[accepted:take]:
                    if group and size + len(line) > self.segment_bytes:
                        break
                    group.append(line)
                    size += len(line)
                accepted += self._write(segment, group)
        except OSError as exc:
            if exc.errno not in _NO_SPACE:
                raise
            accepted = self._pending_records - before
            log.warning(
                "spool %s: %s, %d of %d readings appended",
                self.directory,
                exc.strerror,
                accepted,
                len(points),
            )
        if accepted:
            self._maybe_sync()
        return accepted

    def peek(self, limit: int) -> SpoolChunk:
        """The oldest ``limit`` pending readings, in append order, without removing them.

        Peeking again before a commit returns the same readings.
        """
        self._check_open()
        if limit < 0:
            raise ValueError("limit must be >= 0")
        points: list[TelemetryPoint] = []
        position = self._head
        nbytes = 0
        for segment in list(self._segments):
            if len(points) >= limit:
                break
            if segment.seq < position.seq:
                continue
            record, offset = (
                (position.record, position.offset) if segment.seq == position.seq else (0, 0)
            )
            try:
                with segment.path.open("rb") as f:
                    for line_offset, length, line in _lines(f, offset, segment.size):
                        if len(points) >= limit:
                            break
                        point = None if record in segment.corrupt else decode_line(line)
                        if point is not None:
                            points.append(point)
                        elif record not in segment.corrupt:
                            self._corrupt_since_scan(segment, record)
                        record += 1
                        nbytes += length
                        offset = line_offset + length
            except FileNotFoundError:
                pass
            if len(points) < limit and offset < segment.size:
                self._lost_tail(segment, record, offset)
            position = SpoolPosition(segment.seq, record, offset)
        return SpoolChunk(tuple(points), self._head, position, nbytes, self._id)

    def commit(self, chunk: SpoolChunk) -> None:
        """Remove ``chunk``'s readings, which were written; it must start at the oldest pending.

        The new head is persisted before consumed segments are deleted, so a restart does not
        replay them. ``ValueError`` for a chunk of another spool, committed already, or peeked
        before another commit.
        """
        self._check_open()
        if chunk.owner != self._id or chunk.start != self._head or chunk.end < chunk.start:
            raise ValueError("stale or out-of-order spool chunk: commit only the latest peek, once")
        if chunk.end == chunk.start:
            return
        head = chunk.end
        self._pending_records -= len(chunk.points)
        self._pending_bytes -= chunk.nbytes
        if self._pending_records <= 0:  # what may remain is corrupt lines only: skip them
            head = max(head, self._end_position())
            self._pending_records = self._pending_bytes = 0
        self._set_head(head)
        self._maybe_sync()

    def sync(self) -> None:
        """fsync whatever was appended, committed or created since the last sync, now."""
        self._check_open()
        while self._unsynced:
            _, fd = self._unsynced.popitem()
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if self._fd is not None and self._active_dirty:
            os.fsync(self._fd)
        if self._head_dirty:
            fd = os.open(self.directory / HEAD_FILE, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if self._dir_dirty:
            os.fsync(self._dir_fd)
        self._active_dirty = self._head_dirty = self._dir_dirty = False
        self._last_sync = self.clock()

    def close(self) -> None:
        """fsync (unless the policy is ``never``) and release the directory; idempotent."""
        if self._closed:
            return
        try:
            if self.fsync is not FsyncPolicy.NEVER:
                self.sync()
        finally:
            self._closed = True
            for fd in [*self._unsynced.values(), self._fd, self._dir_fd]:
                if fd is not None:
                    os.close(fd)
            self._unsynced.clear()
            self._fd = self._active = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- appending ----------------------------------------------------------------------------

    def _segment_for(self, line_bytes: int) -> _Segment:
        """The segment to append a line to: a new one if there is none or it would overflow."""
        active = self._active
        if active is not None and (
            active.size == 0 or active.size + line_bytes <= self.segment_bytes
        ):
            return active
        self._retire_active()
        seq = self._next_seq
        self._next_seq += 1
        segment = _Segment(seq, self.directory / f"spool-{seq:012d}.log")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
        self._fd = os.open(segment.path, flags, 0o600)
        self._segments.append(segment)
        self._active = segment
        self._dir_dirty = True
        return segment

    def _retire_active(self) -> None:
        """Stop appending to the active segment; keep its fd until its data is fsynced."""
        if self._fd is None or self._active is None:
            return
        if self._active_dirty and self.fsync is not FsyncPolicy.NEVER:
            self._unsynced[self._active.seq] = self._fd
        else:
            os.close(self._fd)
        self._fd, self._active, self._active_dirty = None, None, False

    def _write(self, segment: _Segment, lines: list[bytes]) -> int:
        """Write ``lines`` at the end of the active ``segment``; return how many were written.

        After an error, the whole lines written are kept (and counted) and a partial one is cut
        off before the error propagates.
        """
        assert self._fd is not None and segment is self._active
        data = b"".join(lines)
        done = 0
        try:
            while done < len(data):
                done += os.write(self._fd, data[done:])
        finally:
            count = len(lines)
            kept = len(data)
            if done < len(data):
                count, kept = 0, 0
                for line in lines:
                    if kept + len(line) > done:
                        break
                    kept += len(line)
                    count += 1
                try:
                    os.ftruncate(self._fd, segment.size + kept)
                except OSError as exc:  # the next open truncates the torn line instead
                    log.warning("spool %s: cannot cut a partial line: %s", segment.path, exc)
            if count:
                segment.lines += count
                segment.size += kept
                self._pending_records += count
                self._pending_bytes += kept
                self._active_dirty = True
        return count

    # -- committing ---------------------------------------------------------------------------

    def _end_position(self) -> SpoolPosition:
        if not self._segments:
            return self._head
        last = self._segments[-1]
        return SpoolPosition(last.seq, last.lines, last.size)

    def _set_head(self, head: SpoolPosition) -> None:
        """Persist ``head``, then delete the segments it consumed."""
        self._write_head(head)
        self._head = head
        self._oldest = None
        self._drop_consumed()

    def _write_head(self, head: SpoolPosition) -> None:
        payload = json.dumps({"segment": head.seq, "record": head.record}, separators=(",", ":"))
        data = _with_crc(payload.encode("ascii"))
        tmp = self.directory / HEAD_TMP_FILE
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            done = 0
            while done < len(data):
                done += os.write(fd, data[done:])
            if self.fsync is FsyncPolicy.ALWAYS:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.directory / HEAD_FILE)
        self._head_dirty = self.fsync is FsyncPolicy.INTERVAL
        self._dir_dirty = True

    def _drop_consumed(self) -> None:
        head = self._head
        keep: list[_Segment] = []
        for segment in self._segments:
            if segment.seq > head.seq or (segment.seq == head.seq and head.offset < segment.size):
                keep.append(segment)
                continue
            if segment is self._active:
                assert self._fd is not None
                os.close(self._fd)
                self._fd, self._active, self._active_dirty = None, None, False
            fd = self._unsynced.pop(segment.seq, None)
            if fd is not None:
                os.close(fd)
            self._unlink(segment.path)
        self._segments = keep

    def _unlink(self, path: Path) -> None:
        try:
            path.unlink(missing_ok=True)
            self._dir_dirty = True
        except OSError as exc:  # the next open deletes it: it is behind the head
            log.warning("spool: cannot delete %s: %s", path, exc)

    def _maybe_sync(self) -> None:
        if self.fsync is FsyncPolicy.ALWAYS or (
            self.fsync is FsyncPolicy.INTERVAL
            and self.clock() - self._last_sync >= self.fsync_interval_s
        ):
            self.sync()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"spool {self.directory} is closed")

    # -- damage found after opening -----------------------------------------------------------

    def _corrupt_since_scan(self, segment: _Segment, record: int) -> None:
        log.warning("spool %s: line %d is corrupt, skipped", segment.path, record + 1)
        segment.corrupt.add(record)
        self._corrupt_records += 1
        self._pending_records -= 1
        self._oldest = None

    def _lost_tail(self, segment: _Segment, record: int, offset: int) -> None:
        """``segment`` ends at ``offset`` (deleted or truncated by someone else): forget the rest.

        Without this the head could never pass it and the replay would stall.
        """
        lost = segment.lines - record - sum(1 for i in segment.corrupt if i >= record)
        log.error(
            "spool %s: file shorter than written, %d readings lost after line %d",
            segment.path,
            lost,
            record,
        )
        self._pending_records -= lost
        self._pending_bytes -= segment.size - offset
        segment.corrupt = {i for i in segment.corrupt if i < record}
        segment.lines, segment.size = record, offset
        self._oldest = None

    # -- recovery -----------------------------------------------------------------------------

    def _recover(self) -> None:
        """Find the segments and the head; count what is pending; clean up what is not."""
        found: dict[int, Path] = {}
        taken = [0]  # segment numbers never to create again, whatever holds the name
        for entry in sorted(os.scandir(self.directory), key=lambda e: e.name):
            match = SEGMENT_RE.fullmatch(entry.name)
            if match:
                taken.append(int(match.group(1)))
            if match and entry.is_file(follow_symlinks=False):
                found[int(match.group(1))] = Path(entry.path)
            elif entry.name == HEAD_TMP_FILE:  # a crash during a commit: the old head holds
                Path(entry.path).unlink(missing_ok=True)
            elif entry.name != HEAD_FILE:
                log.warning("spool %s: ignoring unknown file %s", self.directory, entry.name)
        stored = self._read_head()
        self._next_seq = max([*taken, stored[0] if stored else 0]) + 1
        head_seq, head_record = stored if stored else (min(found, default=0), 0)
        last_seq = max(found, default=0)

        head = SpoolPosition(head_seq, head_record, 0)
        for seq, path in sorted(found.items()):
            if seq < head_seq:
                log.warning("spool: deleting %s, committed before a crash", path.name)
                self._unlink(path)
                continue
            segment = _Segment(seq, path)
            try:
                skip, skip_offset = self._scan(
                    segment, head_record if seq == head_seq else 0, last=seq == last_seq
                )
            except OSError as exc:
                log.warning("spool: ignoring %s, cannot read it: %s", path, exc)
                continue
            if segment.lines == 0:
                log.warning("spool: deleting empty segment %s", path.name)
                self._unlink(path)
                continue
            if seq == head_seq:
                head = SpoolPosition(seq, skip, skip_offset)
            self._segments.append(segment)
            self._pending_bytes += segment.size - skip_offset
            self._pending_records += segment.lines - skip - len(segment.corrupt)
        self._corrupt_records = sum(len(s.corrupt) for s in self._segments)
        if self._pending_records == 0:
            head = max(head, self._end_position())
            self._pending_bytes = 0
        self._head = head
        if stored != (head.seq, head.record):
            self._write_head(head)
        self._drop_consumed()
        if self.fsync is not FsyncPolicy.NEVER:
            self.sync()
        if self._pending_records:
            log.warning(
                "spool %s: %d readings (%d bytes) pending from a previous run",
                self.directory,
                self._pending_records,
                self._pending_bytes,
            )

    def _read_head(self) -> tuple[int, int] | None:
        """``(segment, record)`` from the head file; ``None`` (replay everything) if unusable."""
        path = self.directory / HEAD_FILE
        try:
            with path.open("rb") as f:
                data = f.read(MAX_LINE_BYTES)
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("spool: cannot read %s (%s): replaying every segment", path, exc)
            return None
        payload = _checked_payload(data)
        try:
            head = json.loads(payload) if payload is not None else None
        except (ValueError, RecursionError):
            head = None
        if (
            isinstance(head, dict)
            and head.keys() == {"segment", "record"}
            and all(type(v) is int and v >= 0 for v in head.values())
        ):
            return head["segment"], head["record"]
        log.warning("spool: %s is corrupt: replaying every segment", path)
        return None

    def _scan(self, segment: _Segment, skip: int, *, last: bool) -> tuple[int, int]:
        """Count the lines of ``segment`` and its corrupt ones past the first ``skip`` (those
        are committed); return ``skip`` and its offset. The last segment loses a torn (or
        corrupt) last line. A ``skip`` past the end is not trusted: then nothing is skipped."""
        corrupt: set[int] = set()
        with segment.path.open("r+b" if last else "rb") as f:
            size = os.fstat(f.fileno()).st_size
            skip_offset = 0
            tail: tuple[int, int, bool] | None = None  # offset, length, valid of the last line
            for offset, length, line in _lines(f, 0, size):
                if segment.lines == skip:
                    skip_offset = offset
                valid = decode_line(line) is not None
                if not valid:
                    corrupt.add(segment.lines)
                tail = (offset, length, valid)
                segment.lines += 1
            segment.size = size
            if last and tail is not None and not tail[2]:
                log.warning(
                    "spool: %s ends with a torn record (%d bytes): truncated",
                    segment.path.name,
                    tail[1],
                )
                f.truncate(tail[0])
                segment.lines -= 1
                segment.size = tail[0]
                corrupt.discard(segment.lines)
        if skip > segment.lines:
            log.warning(
                "spool: the head points past the end of %s (line %d of %d): replaying all of it",
                segment.path.name,
                skip,
                segment.lines,
            )
            skip = skip_offset = 0
        elif skip == segment.lines:
            skip_offset = segment.size
        segment.corrupt = {i for i in corrupt if i >= skip}
        if segment.corrupt:
            log.warning(
                "spool: %s: %d corrupt lines skipped (first: line %d)",
                segment.path.name,
                len(segment.corrupt),
                min(segment.corrupt) + 1,
            )
        return skip, skip_offset
