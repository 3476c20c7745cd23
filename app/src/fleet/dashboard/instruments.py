"""The dashboard's own Prometheus metrics: how long each page's data fetch takes.

One registry per process (module state, as Streamlit imports modules once per process), served
at FLEET_DASHBOARD_METRICS_LISTEN by :func:`serve` (started once, from ``st.cache_resource``).
Only real reads are timed (cache misses): a cached page costs nothing worth measuring.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from prometheus_client import Histogram
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import CollectorRegistry

from fleet.exporter import Exporter, Listen

T = TypeVar("T")

REGISTRY = CollectorRegistry(auto_describe=False)
ProcessCollector(registry=REGISTRY)
FETCH_SECONDS = Histogram(
    "fleet_dashboard_fetch_seconds",
    "Time to fetch a page's data from Cassandra (cache misses), by page and outcome.",
    ["page", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)


def timed(page: str, read: Callable[[], T], clock: Callable[[], float] = time.perf_counter) -> T:
    """``read()``, its duration observed under ``page`` with outcome ok or error."""
    start = clock()
    outcome = "error"
    try:
        value = read()
        outcome = "ok"
        return value
    finally:
        FETCH_SECONDS.labels(page=page, outcome=outcome).observe(clock() - start)


def serve(listen: Listen) -> Exporter:
    return Exporter(REGISTRY, listen)
