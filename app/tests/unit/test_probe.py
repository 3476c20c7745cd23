"""The drill probe: levels, the acks file, summaries, the lost-write check, and its metrics
endpoint while it writes (against a session that acknowledges every write at once)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from fleet import probe
from fleet.config import load_settings
from fleet.exporter import Listen
from fleet.probe import Attempt, compare, parse_levels, read_attempts, render_verify, summarize


def _attempts() -> list[Attempt]:
    # LOCAL_QUORUM acked 1-6; QUORUM failed 3-4 (Unavailable) and 6 (WriteTimeout).
    out = []
    for seq in range(1, 7):
        t = 1000.0 + seq
        out.append(Attempt(seq, "LOCAL_QUORUM", t, True, 2.0 + seq))
        failed = seq in (3, 4, 6)
        error = None if not failed else ("WriteTimeout" if seq == 6 else "Unavailable")
        out.append(Attempt(seq, "QUORUM", t, not failed, 0.5 if failed else 5.0, error))
    return out


def test_levels_are_checked_deduplicated_and_upper_cased() -> None:
    assert parse_levels(["local_quorum", "QUORUM", "LOCAL_QUORUM"]) == ("LOCAL_QUORUM", "QUORUM")
    with pytest.raises(ValueError, match="unknown consistency level 'SERIAL'"):
        parse_levels(["serial"])
    with pytest.raises(ValueError, match="at least one"):
        parse_levels([])


def test_acks_file_round_trip_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "acks.jsonl"
    attempts = _attempts()
    path.write_text("".join(a.to_line() + "\n" for a in attempts) + '{"seq": 7, "cl"')
    assert list(read_attempts(path)) == attempts


def test_summary_counts_failures_by_type_and_window() -> None:
    summary = summarize(_attempts())
    quorum = summary["QUORUM"]
    assert (quorum.attempted, quorum.acked, quorum.failed) == (6, 3, 3)
    assert quorum.errors == {"Unavailable": 2, "WriteTimeout": 1}
    assert quorum.failure_windows == [
        {"first_seq": 3, "last_seq": 4, "from": 1003.0, "to": 1004.0, "writes": 2},
        {"first_seq": 6, "last_seq": 6, "from": 1006.0, "to": 1006.0, "writes": 1},
    ]
    assert quorum.ack_latency_ms == {"p50": 5.0, "p99": 5.0, "max": 5.0}
    local = summary["LOCAL_QUORUM"]
    assert (local.failed, local.failure_windows, local.errors) == (0, [], {})
    assert local.ack_latency_ms == {"p50": 5.0, "p99": 8.0, "max": 8.0}


def test_compare_finds_lost_acks_and_failed_writes_that_were_stored() -> None:
    stored = {"LOCAL_QUORUM": {1, 2, 3, 5, 6}, "QUORUM": {1, 2, 5, 6}}
    result = compare(_attempts(), stored)
    assert result["LOCAL_QUORUM"] == {
        "found": 5,
        "lost": 1,
        "lost_sample": [4],
        "failed_but_stored": 0,
    }
    # seq 6 timed out at QUORUM but reached the replicas: stored, not lost.
    assert result["QUORUM"] == {"found": 4, "lost": 0, "lost_sample": [], "failed_but_stored": 1}


def test_render_verify_shows_one_line_per_level() -> None:
    attempts = _attempts()
    report = {
        "run_id": "r1",
        "datacenters": ["dc1"],
        "levels": {lv: vars(s) for lv, s in summarize(attempts).items()},
        "read_back": {"dc1": compare(attempts, {"LOCAL_QUORUM": set(range(1, 7))})},
        "lost_total": 3,
    }
    text = render_verify(report)
    quorum_line = "QUORUM             6      3      3           3"
    assert f"{quorum_line}  (Unavailable=2, WriteTimeout=1)" in text
    assert text.endswith("lost acknowledged writes: 3")


# ----------------------------------------------------------------------------- run_probe


class _Bound:
    consistency_level: int | None = None


class _Prepared:
    is_idempotent = False

    def bind(self, _values: object) -> _Bound:
        return _Bound()


class _Answered:
    """A write Cassandra acknowledges at once."""

    def add_callbacks(self, callback: Callable[..., None], _errback: object) -> None:
        callback(None)


class _Session:
    def prepare(self, _cql: str) -> _Prepared:
        return _Prepared()

    def execute_async(self, _bound: _Bound) -> _Answered:
        return _Answered()


@contextmanager
def _connected(_settings: object) -> Iterator[SimpleNamespace]:
    yield SimpleNamespace(session=_Session())


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
        return response.read().decode()


def test_the_probe_serves_its_outcomes_while_it_writes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(probe, "connect", _connected)
    settings = load_settings({"FLEET_LOCAL_DC": "dc1"})
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    stop = threading.Event()
    levels = ("LOCAL_QUORUM", "QUORUM")
    acks = tmp_path / "acks.jsonl"
    runner = threading.Thread(
        target=probe.run_probe,
        args=(settings, "r1", levels, 0.02, acks, stop, None, Listen("127.0.0.1", port)),
    )
    runner.start()
    try:
        deadline = time.monotonic() + 10
        body = ""
        while 'fleet_probe_writes_total{cl="QUORUM",outcome="acked"}' not in body:
            assert time.monotonic() < deadline, body
            time.sleep(0.05)
            with contextlib.suppress(OSError):
                body = _scrape(port)
        assert 'fleet_probe_write_latency_seconds_count{cl="LOCAL_QUORUM"}' in body
    finally:
        stop.set()
        runner.join(timeout=10)
    assert sum(1 for _ in read_attempts(acks)) > 0
    with pytest.raises(OSError):  # the endpoint closed with the probe
        _scrape(port)


def test_a_probe_whose_metrics_port_is_taken_writes_anyway(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(probe, "connect", _connected)
    settings = load_settings({"FLEET_LOCAL_DC": "dc1"})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = Listen("127.0.0.1", taken.getsockname()[1])
        counts = probe.run_probe(
            settings, "r1", ("ONE",), 0.01, tmp_path / "acks.jsonl", threading.Event(), 0.1, listen
        )
    assert counts["ONE"]["acked"] > 0
    assert counts["ONE"]["failed"] == 0
    assert f"cannot serve metrics on {listen}" in caplog.text
