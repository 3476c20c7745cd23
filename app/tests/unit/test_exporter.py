"""The ETL's Prometheus exposition (fleet.exporter) and the latency histogram behind it."""

from __future__ import annotations

import math
import socket
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, CollectorRegistry

from fleet.cli import cli
from fleet.exporter import (
    COUNTERS,
    EtlCollector,
    Exporter,
    ExporterError,
    Listen,
    ProbeCollector,
    parse_listen,
    serve_etl,
)
from fleet.metrics import LATENCY_BUCKETS_MS, LatencyHistogram, Metrics
from fleet.probe import Attempt, ProbeStats


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9470", Listen("127.0.0.1", 9470)),
        (" 10.213.10.31:1 ", Listen("10.213.10.31", 1)),
        ("[::1]:65535", Listen("::1", 65535)),
        ("app-1.example:9470", Listen("app-1.example", 9470)),
    ],
)
def test_listen_addresses(text: str, expected: Listen) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("9470", "expected HOST:PORT"),
        (":9470", "expected HOST:PORT"),
        ("127.0.0.1:", "port must be a number"),
        ("127.0.0.1:0", "port must be a number"),
        ("127.0.0.1:65536", "port must be a number"),
        ("127.0.0.1:http", "port must be a number"),
        ("::1:9470", "in brackets"),
        ("[zz]:9470", "not an IPv6 address"),
    ],
)
def test_bad_listen_addresses_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_listen(text)


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), max_size=200))
def test_histogram_counts_every_latency_once_in_the_first_bucket_that_holds_it(
    latencies: list[float],
) -> None:
    histogram = LatencyHistogram()
    for ms in latencies:
        histogram.observe(ms)
    cumulative = histogram.cumulative()
    assert [bound for bound, _ in cumulative] == [*LATENCY_BUCKETS_MS, math.inf]
    assert [count for _, count in cumulative] == [
        sum(ms <= bound for ms in latencies) for bound, _ in cumulative
    ]
    assert histogram.count == len(latencies)
    assert histogram.sum_ms == pytest.approx(sum(latencies))


def test_histogram_bounds_must_increase() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        LatencyHistogram(bounds_ms=(5.0, 1.0))


def _families(
    collector: Collector,
) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        family.name: {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for sample in family.samples
        }
        for family in text_string_to_metric_families(text)
    }


def test_the_collector_reads_the_runs_counters_histogram_and_status() -> None:
    metrics = Metrics("stream")
    metrics.records_written = 40
    metrics.records_failed = 2
    metrics.retries = 3
    metrics.spooled = 5
    metrics.errors["WriteTimeout"] = 2
    for ms in (0.5, 3.0, 3.0, 40.0, 20_000.0):
        metrics.record_latency(ms)
    status = {
        "connected": True,
        "ingest_fleets": ["FLEET_PARIS", "FLEET_LYON"],
        "in_flight": 7,
        "updated_at": 1_800_000_000.0,
        "spool": {"pending_records": 12, "pending_bytes": 3456, "oldest_ts": None},
        "nodes": [{"address": "10.0.0.1", "dc": "dc1", "up": True, "connections": 2}],
    }
    families = _families(EtlCollector(metrics, lambda: status))
    written = families["fleet_etl_records_written"]
    assert written == {("fleet_etl_records_written_total", ()): 40.0}
    assert families["fleet_etl_records_failed"][("fleet_etl_records_failed_total", ())] == 2.0
    assert families["fleet_etl_write_retries"][("fleet_etl_write_retries_total", ())] == 3.0
    assert families["fleet_etl_records_spooled"][("fleet_etl_records_spooled_total", ())] == 5.0
    errors = families["fleet_etl_write_errors"]
    assert errors == {("fleet_etl_write_errors_total", (("error", "WriteTimeout"),)): 2.0}
    latency = families["fleet_etl_write_latency_seconds"]
    bucket = "fleet_etl_write_latency_seconds_bucket"
    assert latency[(bucket, (("le", "0.001"),))] == 1.0
    assert latency[(bucket, (("le", "0.005"),))] == 3.0
    assert latency[(bucket, (("le", "0.05"),))] == 4.0
    assert latency[(bucket, (("le", "10.0"),))] == 4.0
    assert latency[(bucket, (("le", "+Inf"),))] == 5.0
    assert latency[("fleet_etl_write_latency_seconds_count", ())] == 5.0
    assert latency[("fleet_etl_write_latency_seconds_sum", ())] == pytest.approx(20.0465)
    gauges = {name: next(iter(samples.values())) for name, samples in families.items()}
    assert gauges["fleet_etl_connected"] == 1.0
    assert gauges["fleet_etl_ingest_fleets"] == 2.0
    assert gauges["fleet_etl_in_flight"] == 7.0
    assert gauges["fleet_etl_last_tick_timestamp_seconds"] == 1_800_000_000.0
    assert gauges["fleet_etl_spool_pending_records"] == 12.0
    assert gauges["fleet_etl_spool_pending_bytes"] == 3456.0
    assert families["fleet_etl_node_connections"] == {
        ("fleet_etl_node_connections", (("dc", "dc1"), ("node", "10.0.0.1"))): 2.0
    }
    # every counter of the run is exported, each under one name
    assert len({name for _, name, _ in COUNTERS}) == len(COUNTERS)
    assert all(hasattr(metrics, attribute) for attribute, _, _ in COUNTERS)


def test_before_the_first_tick_only_the_counters_are_served() -> None:
    families = _families(EtlCollector(Metrics("stream"), lambda: None))
    assert "fleet_etl_records_written" in families
    assert "fleet_etl_connected" not in families
    # a status without a spool (no --spool-dir): no spool gauges, and odd values are NaN
    families = _families(EtlCollector(Metrics("stream"), lambda: {"in_flight": "?"}))
    assert "fleet_etl_spool_pending_records" not in families
    assert math.isnan(families["fleet_etl_in_flight"][("fleet_etl_in_flight", ())])


def test_the_endpoint_serves_over_http_and_stops() -> None:
    metrics = Metrics("stream")
    metrics.records_written = 3
    exporter = serve_etl(Listen("127.0.0.1", 0), metrics, lambda: None)
    try:
        url = f"http://127.0.0.1:{exporter.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read().decode()
        assert "fleet_etl_records_written_total 3.0" in body
        assert "process_cpu_seconds_total" in body  # the process's own, beside the ETL's
    finally:
        exporter.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=2)


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ExporterError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            Exporter(CollectorRegistry(), Listen("127.0.0.1", port))


def test_the_stream_refuses_a_bad_listen_address_before_connecting() -> None:
    result = CliRunner().invoke(
        cli,
        ["etl", "stream", "--metrics-listen", "localhost"],
        env={"FLEET_LOCAL_DC": "dc1", "FLEET_REPLICATION": "dc1:1"},
    )
    assert result.exit_code == 2
    assert "expected HOST:PORT" in result.output


def _probe_stats() -> ProbeStats:
    stats = ProbeStats(("LOCAL_QUORUM", "EACH_QUORUM"))
    for seq, ms in enumerate((2.0, 4.0, 30.0), start=1):
        stats.record(Attempt(seq, "LOCAL_QUORUM", 1000.0 + seq, True, ms))
    stats.record(Attempt(1, "EACH_QUORUM", 1001.0, True, 8.0))
    stats.record(Attempt(2, "EACH_QUORUM", 1002.0, False, 0.4, "Unavailable"))
    stats.record(Attempt(3, "EACH_QUORUM", 1003.0, False, 2000.0, "WriteTimeout"))
    stats.record(Attempt(4, "EACH_QUORUM", 1004.0, False, 0.3, "Unavailable"))
    return stats


def test_the_probe_collector_serves_writes_failures_and_latency_per_level() -> None:
    families = _families(ProbeCollector(_probe_stats()))
    writes = "fleet_probe_writes_total"
    assert families["fleet_probe_writes"] == {
        (writes, (("cl", "EACH_QUORUM"), ("outcome", "acked"))): 1.0,
        (writes, (("cl", "EACH_QUORUM"), ("outcome", "failed"))): 3.0,
        (writes, (("cl", "LOCAL_QUORUM"), ("outcome", "acked"))): 3.0,
    }
    errors = "fleet_probe_write_errors_total"
    assert families["fleet_probe_write_errors"] == {
        (errors, (("cl", "EACH_QUORUM"), ("error", "Unavailable"))): 2.0,
        (errors, (("cl", "EACH_QUORUM"), ("error", "WriteTimeout"))): 1.0,
    }
    # failed writes' latencies stay out of the histogram: they measure the error, not a write
    latency = families["fleet_probe_write_latency_seconds"]
    bucket, local = "fleet_probe_write_latency_seconds_bucket", ("cl", "LOCAL_QUORUM")
    assert latency[(bucket, (local, ("le", "0.005")))] == 2.0
    assert latency[(bucket, (local, ("le", "0.05")))] == 3.0
    assert latency[("fleet_probe_write_latency_seconds_count", (local,))] == 3.0
    assert latency[("fleet_probe_write_latency_seconds_sum", (local,))] == pytest.approx(0.036)
    each = ("cl", "EACH_QUORUM")
    assert latency[("fleet_probe_write_latency_seconds_count", (each,))] == 1.0


def test_a_probe_snapshot_is_a_copy_the_writer_cannot_change() -> None:
    stats = _probe_stats()
    outcomes, errors, latency = stats.snapshot()
    stats.record(Attempt(5, "LOCAL_QUORUM", 1005.0, True, 1.0))
    stats.record(Attempt(5, "EACH_QUORUM", 1005.0, False, 1.0, "Unavailable"))
    assert outcomes[("LOCAL_QUORUM", True)] == 3
    assert errors[("EACH_QUORUM", "Unavailable")] == 2
    assert latency["LOCAL_QUORUM"].count == 3
    assert stats.count("LOCAL_QUORUM", True) == 4


def test_the_probe_refuses_a_bad_listen_address_before_connecting(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "probe",
            "write",
            "--run-id",
            "r1",
            "--out",
            str(tmp_path / "acks.jsonl"),
            "--metrics-listen",
            "10.0.0.1",
        ],
    )
    assert result.exit_code == 2
    assert "expected HOST:PORT" in result.output
