from __future__ import annotations

import io
import json

import pytest

from fleet.metrics import Metrics, ProgressReporter, percentile, render_summary, to_json


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile(values, 0)


def test_summary_throughput_and_latencies() -> None:
    clock = FakeClock()
    metrics = Metrics("batch/async", clock=clock)
    for ms in [5.0, 1.0, 3.0, 2.0, 4.0, 100.0]:
        metrics.record_latency(ms)
    metrics.records_submitted, metrics.records_written, metrics.records_failed = 10, 8, 2
    metrics.record_error(TimeoutError())
    metrics.record_error(TimeoutError())
    clock.now += 4.0
    metrics.finish()
    clock.now += 100.0  # after finish, time no longer counts
    summary = metrics.summary()
    assert summary["elapsed_s"] == 4.0
    assert summary["throughput_rps"] == 2.0
    assert summary["latency_ms"] == {"p50": 3.0, "p95": 100.0, "p99": 100.0}
    assert summary["errors"] == {"TimeoutError": 2}
    assert metrics.unresolved == 0
    assert json.loads(to_json(summary)) == summary
    text = render_summary(summary)
    assert "8/10 records written, 2 failed" in text
    assert "p50=3.0 p95=100.0 p99=100.0" in text


def test_progress_lines_are_periodic_and_windowed() -> None:
    clock = FakeClock()
    metrics = Metrics("stream", clock=clock)
    out = io.StringIO()
    progress = ProgressReporter(5.0, out)
    metrics.record_latency(50.0)
    assert progress.maybe_report(metrics, in_flight=3) is None  # too early
    clock.now += 5.0
    first = progress.maybe_report(metrics, in_flight=3)
    assert first is not None and "in_flight=3" in first and "p99=50.0ms" in first
    metrics.record_latency(2.0)
    clock.now += 5.0
    second = progress.maybe_report(metrics, in_flight=0)
    assert second is not None and "p99=2.0ms" in second  # only this interval's samples
    assert out.getvalue().count("\n") == 2
    assert ProgressReporter(0, out).maybe_report(metrics, 0, force=True) is None  # disabled
