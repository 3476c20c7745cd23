"""The durable spool: exact round trips, order, bounds, recovery from damage and from kill -9."""

from __future__ import annotations

import errno
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import zlib
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import fleet
from fleet.model import TelemetryPoint, from_millis
from fleet.spool import (
    HEAD_FILE,
    SEGMENT_RE,
    FsyncPolicy,
    Spool,
    SpoolChunk,
    decode_line,
    encode_point,
)

T0 = datetime(2025, 6, 16, 8, 0, tzinfo=UTC)


def reading(i: int) -> TelemetryPoint:
    """Reading number ``i``: its index is in ``battery_pct`` and its ``ts``."""
    return TelemetryPoint(
        fleet_id="FLEET_PARIS",
        device_id=f"PARIS-{i % 7:04d}",
        model="GPS-TX-1",
        ts=T0 + timedelta(milliseconds=i),
        lat=48.8566 + i / 1000,
        lon=2.3522,
        speed_kmh=42.5,
        heading_deg=90.0,
        battery_pct=i,
        temp_c=21.5,
        zone="PARIS-CENTER",
    )


LINE = len(encode_point(reading(0)))  # every reading(i) below 10 has this size on disk


def open_spool(directory: Path, **kwargs: object) -> Spool:
    options: dict[str, object] = {"max_bytes": 1 << 20, "fsync": FsyncPolicy.NEVER}
    options.update(kwargs)
    return Spool(directory, **options)  # type: ignore[arg-type]


def drain(spool: Spool) -> list[TelemetryPoint]:
    return list(spool.peek(spool.pending_records + 1).points)


def segments(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if SEGMENT_RE.fullmatch(p.name))


def test_round_trip_is_exact_for_every_field(tmp_path: Path) -> None:
    odd = TelemetryPoint(
        fleet_id='FLEET_ÉTÉ "quoted"\n',
        device_id="Ω-0001\t\\",
        model="",
        ts=datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=timezone(timedelta(hours=2))),
        lat=-0.0,
        lon=5e-324,
        speed_kmh=math.inf,
        heading_deg=1.7976931348623157e308,
        battery_pct=-(2**70),
        temp_c=0.1 + 0.2,
        zone="😀 \u2028",
    )
    points = [reading(1), odd]
    with open_spool(tmp_path / "s") as spool:
        assert spool.append(points) == 2
        assert list(spool.peek(5).points) == points
    with open_spool(tmp_path / "s") as spool:
        back = drain(spool)
    assert back == points
    for original, restored in zip(points, back, strict=True):
        for f in fields(TelemetryPoint):
            if f.name != "ts":  # repr tells -0.0 from 0.0
                assert repr(getattr(restored, f.name)) == repr(getattr(original, f.name))
        assert restored.ts == original.ts and restored.ts.tzinfo is UTC


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"ts": datetime(2025, 1, 1)}, "timezone-aware"),
        ({"ts": T0 + timedelta(microseconds=1)}, "millisecond"),
        ({"battery_pct": 80.0}, "integer"),
        ({"lat": "48.8"}, "number"),
        ({"zone": None}, "string"),
    ],
)
def test_append_refuses_what_would_not_round_trip(
    tmp_path: Path, override: dict[str, object], problem: str
) -> None:
    values = {f.name: getattr(reading(1), f.name) for f in fields(TelemetryPoint)}
    bad = TelemetryPoint(**{**values, **override})  # type: ignore[arg-type]
    with open_spool(tmp_path) as spool:
        with pytest.raises(ValueError, match=problem):
            spool.append([reading(0), bad])
        assert spool.pending_records == 0 and segments(tmp_path) == []


def test_decode_rejects_anything_but_a_spool_line() -> None:
    line = encode_point(reading(3))
    assert decode_line(line) == reading(3)
    flipped = line.replace(b'"PARIS-0003"', b'"PARIS-0004"')
    for bad in (line[:-1], flipped, b"", b"\n", line[:8] + b"x" + line[9:], b"zz" + line[2:]):
        assert decode_line(bad) is None


def test_order_is_kept_across_segment_rotation(tmp_path: Path) -> None:
    expected = [reading(i) for i in range(40)]
    with open_spool(tmp_path, segment_bytes=3 * LINE + 10) as spool:
        for start, size in ((0, 1), (1, 7), (8, 2), (10, 30)):
            assert spool.append(expected[start : start + size]) == size
        assert len(segments(tmp_path)) >= 13  # 2 or 3 lines per segment
        assert all((tmp_path / n).stat().st_size <= 3 * LINE + 10 for n in segments(tmp_path))
        assert drain(spool) == expected
    with open_spool(tmp_path, segment_bytes=3 * LINE + 10) as spool:
        assert drain(spool) == expected


def test_peek_commit_peek(tmp_path: Path) -> None:
    with open_spool(tmp_path, segment_bytes=4 * LINE) as spool:
        assert spool.peek(10).points == () and spool.oldest_ts is None
        spool.append([reading(i) for i in range(10)])
        assert (spool.pending_records, spool.pending_bytes) == (10, 10 * LINE)
        assert spool.oldest_ts == reading(0).ts
        first = spool.peek(5)
        assert first == spool.peek(5)  # peeking again without a commit: the same readings
        assert [p.battery_pct for p in first.points] == [0, 1, 2, 3, 4]
        spool.commit(first)
        assert (spool.pending_records, spool.pending_bytes) == (5, 5 * LINE)
        assert spool.oldest_ts == reading(5).ts
        assert segments(tmp_path) == ["spool-000000000002.log", "spool-000000000003.log"]
        second = spool.peek(100)
        assert [p.battery_pct for p in second.points] == [5, 6, 7, 8, 9]
        spool.append([reading(10)])  # behind a chunk in flight, like the replay does
        spool.commit(second)
        assert drain(spool) == [reading(10)] and spool.oldest_ts == reading(10).ts
        spool.commit(spool.peek(1))
        assert (spool.pending_records, spool.pending_bytes, spool.oldest_ts) == (0, 0, None)
        assert segments(tmp_path) == []  # an empty spool keeps no segment
        assert spool.peek(3).points == ()
        spool.commit(spool.peek(0))  # an empty chunk commits nothing
        assert spool.append([reading(11)]) == 1
        assert drain(spool) == [reading(11)]


def test_stale_or_foreign_chunks_are_refused(tmp_path: Path) -> None:
    with open_spool(tmp_path) as spool:
        spool.append([reading(i) for i in range(6)])
        small, large = spool.peek(2), spool.peek(4)
        spool.commit(small)
        for chunk in (small, large):  # committed already / peeked before that commit
            with pytest.raises(ValueError, match="stale or out-of-order"):
                spool.commit(chunk)
        chunk = spool.peek(2)
    with open_spool(tmp_path) as reopened:
        with pytest.raises(ValueError, match="stale or out-of-order"):
            reopened.commit(chunk)
        assert [p.battery_pct for p in drain(reopened)] == [2, 3, 4, 5]
    forged = SpoolChunk(chunk.points, chunk.start, chunk.end, chunk.nbytes, owner=-1)
    with open_spool(tmp_path) as spool, pytest.raises(ValueError):
        spool.commit(forged)


def test_reopen_after_commit_does_not_replay(tmp_path: Path) -> None:
    with open_spool(tmp_path, segment_bytes=2 * LINE) as spool:
        spool.append([reading(i) for i in range(7)])
        spool.commit(spool.peek(3))  # ends inside a segment
    with open_spool(tmp_path, segment_bytes=2 * LINE) as spool:
        assert spool.pending_records == 4
        assert [p.battery_pct for p in drain(spool)] == [3, 4, 5, 6]
        spool.commit(spool.peek(4))
    with open_spool(tmp_path, segment_bytes=2 * LINE) as spool:
        assert spool.pending_records == 0 and drain(spool) == []
        spool.append([reading(7)])  # a new segment: numbers are never reused
        assert segments(tmp_path) == ["spool-000000000005.log"]
    with open_spool(tmp_path) as spool:
        assert drain(spool) == [reading(7)]


def test_reopen_without_commit_replays_everything(tmp_path: Path) -> None:
    expected = [reading(i) for i in range(9)]
    with open_spool(tmp_path, segment_bytes=4 * LINE) as spool:
        spool.append(expected[:5])
        spool.peek(3)  # peeked, never committed (the writes failed)
        spool.append(expected[5:])
    for _ in range(2):
        with open_spool(tmp_path, segment_bytes=4 * LINE) as spool:
            assert (spool.pending_records, spool.pending_bytes) == (9, 9 * LINE)
            assert spool.oldest_ts == expected[0].ts
            assert drain(spool) == expected


def test_bounded_size_refuses_what_does_not_fit(tmp_path: Path) -> None:
    with open_spool(tmp_path, max_bytes=3 * LINE + LINE // 2, segment_bytes=LINE) as spool:
        assert spool.append([reading(i) for i in range(5)]) == 3
        assert spool.pending_bytes == 3 * LINE
        assert spool.append([reading(5)]) == 0
        assert spool.append([]) == 0
        spool.commit(spool.peek(1))
        assert spool.append([reading(6), reading(7)]) == 1
        assert [p.battery_pct for p in drain(spool)] == [1, 2, 6]
        disk = sum((tmp_path / n).stat().st_size for n in segments(tmp_path))
        assert disk == spool.pending_bytes <= spool.max_bytes
    with open_spool(tmp_path, max_bytes=LINE) as smaller:  # a lower bound than what is held
        assert smaller.pending_records == 3 and smaller.append([reading(8)]) == 0


def test_a_full_disk_keeps_the_whole_lines_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = open_spool(tmp_path)
    real_write = os.write
    calls = 0

    def write(fd: int, data: bytes) -> int:
        nonlocal calls
        if fd != spool._fd:
            return real_write(fd, data)
        calls += 1
        if calls == 1:
            return real_write(fd, bytes(data[: 2 * LINE + LINE // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", write)
    assert spool.append([reading(i) for i in range(5)]) == 2
    monkeypatch.undo()
    assert (tmp_path / segments(tmp_path)[0]).stat().st_size == 2 * LINE
    assert spool.append([reading(5)]) == 1
    spool.close()
    with open_spool(tmp_path) as spool:
        assert [p.battery_pct for p in drain(spool)] == [0, 1, 5]
        assert spool.corrupt_records == 0


def test_torn_tail_is_truncated(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with open_spool(tmp_path) as spool:
        spool.append([reading(i) for i in range(3)])
    last = tmp_path / segments(tmp_path)[-1]
    with last.open("ab") as f:
        f.write(encode_point(reading(3))[:50])  # killed in the middle of a write
    with caplog.at_level(logging.WARNING), open_spool(tmp_path) as spool:
        assert drain(spool) == [reading(i) for i in range(3)]
        assert spool.corrupt_records == 0
    assert "torn record" in caplog.text
    assert last.stat().st_size == 3 * LINE

    data = bytearray(last.read_bytes())
    data[-5] ^= 0x01  # a complete last line whose CRC does not match: torn as well
    last.write_bytes(bytes(data))
    with open_spool(tmp_path) as spool:
        assert drain(spool) == [reading(0), reading(1)]
    assert last.stat().st_size == 2 * LINE


def test_corrupt_middle_line_is_skipped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with open_spool(tmp_path) as spool:
        spool.append([reading(i) for i in range(5)])
    path = tmp_path / segments(tmp_path)[0]
    data = bytearray(path.read_bytes())
    data[2 * LINE + 30] ^= 0x20  # inside the JSON of the third reading
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING), open_spool(tmp_path) as spool:
        assert spool.corrupt_records == 1
        assert spool.pending_records == 4 and spool.pending_bytes == 5 * LINE
        assert [p.battery_pct for p in drain(spool)] == [0, 1, 3, 4]
        spool.commit(spool.peek(2))
        assert [p.battery_pct for p in drain(spool)] == [3, 4]
        spool.commit(spool.peek(2))
        assert segments(tmp_path) == [] and spool.pending_bytes == 0
    assert "1 corrupt lines skipped (first: line 3)" in caplog.text


def test_damage_found_after_opening_is_skipped(tmp_path: Path) -> None:
    with open_spool(tmp_path) as spool:
        spool.append([reading(i) for i in range(4)])
        path = tmp_path / segments(tmp_path)[0]
        data = bytearray(path.read_bytes())
        data[LINE + 30] ^= 0x20
        path.write_bytes(bytes(data))
        assert [p.battery_pct for p in drain(spool)] == [0, 2, 3]
        assert (spool.corrupt_records, spool.pending_records) == (1, 3)
        with path.open("r+b") as f:  # someone cut the file
            f.truncate(3 * LINE)
        assert [p.battery_pct for p in drain(spool)] == [0, 2]
        assert spool.pending_records == 2
        spool.commit(spool.peek(10))
        assert (spool.pending_records, spool.pending_bytes) == (0, 0)


def test_garbage_and_unknown_files_are_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with open_spool(tmp_path) as spool:
        spool.append([reading(i) for i in range(3)])
    (tmp_path / "spool-000000000002.log").write_bytes(b"\x00\xff garbage\n" * 3)
    (tmp_path / "spool-000000000003.log").write_bytes(b"")
    (tmp_path / "spool-000000000004.log").mkdir()
    (tmp_path / "spool-1.log").write_text("not a segment")
    (tmp_path / "notes.txt").write_text("hello")
    with caplog.at_level(logging.WARNING), open_spool(tmp_path) as spool:
        assert [p.battery_pct for p in drain(spool)] == [0, 1, 2]
        assert spool.corrupt_records == 3
        assert spool.append([reading(3)]) == 1  # next to the directory named like a segment
        assert "spool-000000000005.log" in segments(tmp_path)
        spool.commit(spool.peek(10))
        assert segments(tmp_path) == ["spool-000000000004.log"]  # the directory is left alone
    for name in ("notes.txt", "spool-1.log", "spool-000000000004.log"):
        assert f"ignoring unknown file {name}" in caplog.text
    assert "deleting empty segment spool-000000000003.log" in caplog.text
    assert (tmp_path / "notes.txt").read_text() == "hello"


@pytest.mark.parametrize(
    "head",
    [b"", b"\x00\xff\x00 not a head", b'00000000 {"segment":1,"record":2}\n', b"[]\n" * 9],
)
def test_an_unusable_head_replays_everything(
    tmp_path: Path, head: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with open_spool(tmp_path) as spool:
        spool.append([reading(i) for i in range(4)])
        spool.commit(spool.peek(2))
    (tmp_path / HEAD_FILE).write_bytes(head)
    with caplog.at_level(logging.WARNING), open_spool(tmp_path) as spool:
        assert [p.battery_pct for p in drain(spool)] == [0, 1, 2, 3]
    assert "replaying every segment" in caplog.text


def test_a_head_past_the_end_is_not_trusted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with open_spool(tmp_path) as spool:
        spool.append([reading(i) for i in range(3)])
        spool.commit(spool.peek(1))
    head = (tmp_path / HEAD_FILE).read_text()
    (tmp_path / HEAD_FILE).write_bytes(_head_line(1, 99))
    assert head != (tmp_path / HEAD_FILE).read_text()
    with caplog.at_level(logging.WARNING), open_spool(tmp_path) as spool:
        assert [p.battery_pct for p in drain(spool)] == [0, 1, 2]  # at least once
    assert "points past the end" in caplog.text
    (tmp_path / HEAD_FILE).write_bytes(_head_line(7, 0))  # all before segment 7 is committed
    with open_spool(tmp_path) as spool:
        assert spool.pending_records == 0 and segments(tmp_path) == []
        spool.append([reading(3)])
        assert segments(tmp_path) == ["spool-000000000008.log"]


def _head_line(segment: int, record: int) -> bytes:
    payload = f'{{"segment":{segment},"record":{record}}}'.encode()
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def test_directory_is_private_and_used_by_one_process(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "spool"
    with open_spool(directory) as spool:
        assert directory.stat().st_mode & 0o777 == 0o700
        with pytest.raises(OSError, match="in use by another process"):
            open_spool(directory)
        spool.append([reading(0)])
        assert all((directory / n).stat().st_mode & 0o777 == 0o600 for n in segments(directory))
    spool.close()  # idempotent
    assert spool.closed
    with pytest.raises(ValueError, match="closed"):
        spool.append([reading(1)])
    with open_spool(directory) as again:
        assert again.pending_records == 1


@pytest.mark.parametrize(
    ("text", "policy"),
    [("always", FsyncPolicy.ALWAYS), ("interval", FsyncPolicy.INTERVAL), (" NEVER", "never")],
)
def test_fsync_policy_from_text(text: str, policy: FsyncPolicy) -> None:
    assert FsyncPolicy(text) is FsyncPolicy(policy)


@pytest.mark.parametrize("text", ["", "sometimes", "1"])
def test_bad_fsync_policy_names_the_choices(text: str) -> None:
    with pytest.raises(ValueError, match=r"must be one of always, interval, never") as info:
        FsyncPolicy(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        # per call: append (new segment: its data and the directory entry), append, append
        # nothing, append, commit (head file, directory), close
        (FsyncPolicy.ALWAYS, [2, 1, 0, 1, 2, 0]),
        # the clock is at 0.1, 0.5, 0.6, 1.2, 1.3, then close: one sync due, then the rest
        (FsyncPolicy.INTERVAL, [0, 0, 0, 2, 0, 2]),
        (FsyncPolicy.NEVER, [0, 0, 0, 0, 0, 0]),
    ],
)
def test_fsync_calls_follow_the_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: FsyncPolicy, expected: list[int]
) -> None:
    now = [0.0]
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    spool = open_spool(tmp_path, fsync=policy, fsync_interval_s=1.0, clock=lambda: now[0])
    counts = []

    def step(at: float, action: object) -> None:
        now[0] = at
        del synced[:]
        action()  # type: ignore[operator]
        counts.append(len(synced))

    step(0.1, lambda: spool.append([reading(0)]))
    step(0.5, lambda: spool.append([reading(1)]))
    step(0.6, lambda: spool.append([]))
    step(1.2, lambda: spool.append([reading(2)]))
    step(1.3, lambda: spool.commit(spool.peek(1)))
    step(1.4, spool.close)
    assert counts == expected


# Small readings with awkward values: any text, signed zeros, infinities, huge integers.
READINGS = st.builds(
    TelemetryPoint,
    fleet_id=st.text(max_size=8),
    device_id=st.text(max_size=8),
    model=st.sampled_from(["GPS-TX-1", ""]),
    ts=st.integers(-(2**45), 2**45).map(from_millis),
    lat=st.floats(allow_nan=False),
    lon=st.floats(-180, 180),
    speed_kmh=st.floats(allow_nan=False, allow_infinity=False),
    heading_deg=st.just(0.0),
    battery_pct=st.integers(),
    temp_c=st.floats(-40, 60),
    zone=st.text(max_size=4),
)


class SpoolMachine(RuleBasedStateMachine):
    """Any interleaving of append, peek, commit and reopen holds the appended, uncommitted
    readings, in order; each append accepts the prefix that fits."""

    MAX_BYTES = 2500
    SEGMENT_BYTES = 700

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="spool-"))
        self.spool = self._open()
        self.model: list[TelemetryPoint] = []
        self.chunk: SpoolChunk | None = None

    def _open(self) -> Spool:
        return open_spool(
            self.directory, max_bytes=self.MAX_BYTES, segment_bytes=self.SEGMENT_BYTES
        )

    @rule(points=st.lists(READINGS, max_size=6))
    def append(self, points: list[TelemetryPoint]) -> None:
        room = self.MAX_BYTES - sum(len(encode_point(p)) for p in self.model)
        fits = 0
        for point in points:
            room -= len(encode_point(point))
            if room < 0:
                break
            fits += 1
        assert self.spool.append(points) == fits
        self.model.extend(points[:fits])

    @rule(limit=st.integers(0, 8))
    def peek(self, limit: int) -> None:
        self.chunk = self.spool.peek(limit)
        assert list(self.chunk.points) == self.model[:limit]

    @precondition(lambda self: self.chunk is not None)
    @rule()
    def commit(self) -> None:
        assert self.chunk is not None
        self.spool.commit(self.chunk)
        del self.model[: len(self.chunk.points)]
        if self.chunk.points:
            with pytest.raises(ValueError):
                self.spool.commit(self.chunk)
        self.chunk = None

    @rule()
    def reopen(self) -> None:
        self.spool.close()
        self.spool = self._open()
        self.chunk = None

    @invariant()
    def holds_the_model(self) -> None:
        assert self.spool.pending_records == len(self.model)
        assert self.spool.pending_bytes == sum(len(encode_point(p)) for p in self.model)
        assert list(self.spool.peek(len(self.model) + 1).points) == self.model
        assert self.spool.oldest_ts == (self.model[0].ts if self.model else None)
        assert self.spool.corrupt_records == 0

    def teardown(self) -> None:
        self.spool.close()
        shutil.rmtree(self.directory)


SpoolMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None, database=None
)
TestSpoolMachine = SpoolMachine.TestCase


CHILD = """
import os, random, signal, sys, threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from fleet.model import TelemetryPoint
from fleet.spool import Spool

directory, policy, seed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
spool = Spool(directory, max_bytes=1 << 30, fsync=policy, segment_bytes=4096)
delay = random.Random(seed).uniform(0.05, 0.25)
kill = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL))
t0 = datetime(2025, 6, 16, tzinfo=UTC)
for i in range(10**7):
    point = TelemetryPoint("FLEET_PARIS", f"PARIS-{i % 50:04d}", "GPS-TX-1",
        t0 + timedelta(milliseconds=i), 48.8, 2.3, 30.0, 90.0, i, 20.0, "PARIS-CENTER")
    assert spool.append([point]) == 1
    print(i, flush=True)
    if i == 0:
        kill.start()
"""


@pytest.mark.parametrize(("policy", "seed"), [("never", 1), ("interval", 2), ("always", 3)])
def test_kill_9_loses_nothing_appended(tmp_path: Path, policy: str, seed: int) -> None:
    src = str(Path(fleet.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), policy, str(seed)],
        capture_output=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    printed = [int(line) for line in child.stdout.decode().split("\n")[:-1]]
    assert printed == list(range(len(printed))) and printed
    with open_spool(tmp_path, max_bytes=1 << 30) as spool:
        held = [p.battery_pct for p in drain(spool)]
        assert spool.corrupt_records == 0
    # Every acknowledged reading, in order; at most one more (appended, killed before print).
    assert held[: len(printed)] == printed
    assert len(held) in (len(printed), len(printed) + 1)
    assert held == list(range(len(held)))
