"""Prometheus exposition of the streaming ETL (``fleet etl stream --metrics-listen HOST:PORT``)
and of the drills' probe (``fleet probe write --metrics-listen HOST:PORT``).

Nothing is counted twice: :class:`EtlCollector` reads, at each scrape, the run's
:class:`~fleet.metrics.Metrics` (counters and the write latency histogram, updated by the
writer's loop) and the status the stream publishes after each tick (the dict it also writes to
its stats file). Counters restart from 0 with the process, as Prometheus expects (``rate`` sees
the reset).

:class:`ProbeCollector` reads the probe's :class:`~fleet.probe.ProbeStats` the same way: its
writes per consistency level and outcome, its failures by error, its latency histograms.

Data flows one way: writer loop -> Metrics / status -> collector -> HTTP scrape.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

from fleet.metrics import LatencyHistogram, Metrics

if TYPE_CHECKING:
    from fleet.probe import ProbeStats

PREFIX = "fleet_etl"

# Metrics attribute -> (exported name without prefix and _total, help).
COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("records_written", "records_written", "Readings acknowledged by Cassandra."),
    ("records_failed", "records_failed", "Readings whose write failed after its retries."),
    ("records_rejected", "records_rejected", "Readings refused by validation."),
    ("degraded_writes", "degraded_writes", "Writes acknowledged at the degraded consistency."),
    ("retries", "write_retries", "Write requests sent again after a failure."),
    ("requests", "write_requests", "Write requests answered, rollups' too (a batch is one)."),
    ("rows_written", "rows_written", "CQL rows acknowledged, every table."),
    ("rollups_written", "rollups_written", "Rows of fleet hours and device minutes written."),
    ("spooled", "records_spooled", "Readings appended to the spool (held or after failing)."),
    ("replayed", "records_replayed", "Readings written back from the spool."),
    ("dropped", "records_dropped", "Readings refused by a full spool: lost."),
    ("failed_spooled", "failed_spooled", "Failed readings handed to the spool (kept)."),
)


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text: str) -> Listen:
    """``HOST:PORT`` (an IP address, ``[v6]:PORT``, or a name); ValueError says what is wrong."""
    value = text.strip()
    host, sep, port_text = value.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{text!r}: expected HOST:PORT, e.g. 127.0.0.1:9470")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise ValueError(f"{text!r}: {host!r} is not an IPv6 address") from exc
    elif ":" in host:
        raise ValueError(f"{text!r}: write an IPv6 address in brackets, e.g. [::1]:9470")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    return Listen(host, int(port_text))


def _buckets(histogram: LatencyHistogram) -> list[tuple[str, float]]:
    """Prometheus's cumulative buckets (upper bounds in seconds) of a histogram kept in ms."""
    return [
        ("+Inf" if math.isinf(bound) else repr(bound / 1000.0), count)
        for bound, count in histogram.cumulative()
    ]


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


class EtlCollector(Collector):
    """The ETL's counters, latency histogram and last status, read at each scrape."""

    def __init__(
        self, metrics: Metrics, status: Callable[[], Mapping[str, Any] | None] = lambda: None
    ) -> None:
        self._metrics = metrics
        self._status = status

    def collect(self) -> Iterator[Metric]:
        m = self._metrics
        for attribute, name, text in COUNTERS:
            yield CounterMetricFamily(f"{PREFIX}_{name}", text, value=getattr(m, attribute))
        errors = CounterMetricFamily(
            f"{PREFIX}_write_errors",
            "Failed write requests, by the driver's error.",
            labels=["error"],
        )
        for error, count in sorted(m.errors.items()):
            errors.add_metric([error], count)
        yield errors
        histogram = m.latency_histogram
        yield HistogramMetricFamily(
            f"{PREFIX}_write_latency_seconds",
            "Latency of acknowledged telemetry write requests (a statement or a batch; the "
            "rollups' writes are left out).",
            buckets=_buckets(histogram),
            sum_value=histogram.sum_ms / 1000.0,
        )
        yield from self._status_gauges(self._status())

    @staticmethod
    def _status_gauges(status: Mapping[str, Any] | None) -> Iterator[Metric]:
        if status is None:
            return
        gauges = {
            "connected": ("1 once the ETL holds a session to Cassandra.", status.get("connected")),
            "ingest_fleets": (
                "Fleets this ETL ingests (0: a failover moved them; it only replays its spool).",
                len(status.get("ingest_fleets") or ()),
            ),
            "in_flight": ("Write requests awaiting their answer.", status.get("in_flight")),
            "last_tick_timestamp_seconds": (
                "When the ETL last finished a tick (epoch seconds).",
                status.get("updated_at"),
            ),
        }
        spool = status.get("spool")
        if isinstance(spool, Mapping):
            gauges["spool_pending_records"] = (
                "Readings waiting in the spool.",
                spool.get("pending_records"),
            )
            gauges["spool_pending_bytes"] = ("Bytes the spool holds.", spool.get("pending_bytes"))
        for name, (text, value) in gauges.items():
            yield GaugeMetricFamily(f"{PREFIX}_{name}", text, value=_number(value))
        nodes = GaugeMetricFamily(
            f"{PREFIX}_node_connections",
            "Open connections of the ETL's session to each node (0 for the other DCs' nodes).",
            labels=["node", "dc"],
        )
        for node in status.get("nodes") or ():
            nodes.add_metric(
                [str(node.get("address")), str(node.get("dc"))], _number(node.get("connections"))
            )
        yield nodes
        deadline = status.get("repair_deadline_s")
        if deadline is not None:
            family = GaugeMetricFamily(
                "fleet_keyspace_repair_deadline_seconds",
                "How often the keyspace must be repaired at most: the smallest gc_grace_seconds of "
                "its tables that may hold deletes, read from the live schema.",
                labels=["keyspace"],
            )
            family.add_metric([str(status.get("keyspace"))], _number(deadline))
            yield family


class ProbeCollector(Collector):
    """The drill probe's writes, failures and latencies per consistency level, at each scrape."""

    def __init__(self, stats: ProbeStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        outcomes, errors, latency = self._stats.snapshot()
        writes = CounterMetricFamily(
            "fleet_probe_writes",
            "Probe writes answered, by consistency level and outcome (acked or failed; no retry).",
            labels=["cl", "outcome"],
        )
        for (level, ok), count in sorted(outcomes.items()):
            writes.add_metric([level, "acked" if ok else "failed"], count)
        yield writes
        failures = CounterMetricFamily(
            "fleet_probe_write_errors",
            "Failed probe writes, by consistency level and the driver's error.",
            labels=["cl", "error"],
        )
        for (level, error), count in sorted(errors.items()):
            failures.add_metric([level, error], count)
        yield failures
        histograms = HistogramMetricFamily(
            "fleet_probe_write_latency_seconds",
            "Latency of acknowledged probe writes, by consistency level.",
            labels=["cl"],
        )
        for level, histogram in latency.items():
            histograms.add_metric(
                [level], buckets=_buckets(histogram), sum_value=histogram.sum_ms / 1000.0
            )
        yield histograms


class ExporterError(Exception):
    """The metrics endpoint cannot listen where asked (address not local, port taken)."""


class Exporter:
    """The HTTP endpoint (``/metrics``) in a daemon thread; :meth:`close` stops it."""

    def __init__(self, registry: CollectorRegistry, listen: Listen) -> None:
        try:
            self._server, self._thread = start_http_server(
                listen.port, listen.host, registry=registry
            )
        except OSError as exc:
            raise ExporterError(f"cannot serve metrics on {listen}: {exc.strerror or exc}") from exc
        self.port = int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _serve(listen: Listen, collector: Collector) -> Exporter:
    """Serve ``collector`` and the process's own metrics (CPU, memory) at ``listen``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    return Exporter(registry, listen)


def serve_etl(
    listen: Listen, metrics: Metrics, status: Callable[[], Mapping[str, Any] | None]
) -> Exporter:
    """Serve the ETL's metrics at ``listen``."""
    return _serve(listen, EtlCollector(metrics, status))


def serve_probe(listen: Listen, stats: ProbeStats) -> Exporter:
    """Serve the drill probe's metrics at ``listen``."""
    return _serve(listen, ProbeCollector(stats))
