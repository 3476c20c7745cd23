"""Reads of Prometheus's HTTP API for the Operations page: range queries and the alerts.

Prometheus computes every figure (rates, quantiles, ratios); this module only turns its JSON
into data frames. Every failure (unreachable, an HTTP error, a query it refuses, an answer that
is not Prometheus's) becomes one :class:`PrometheusError` with a clear message.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pandas as pd

TIMEOUT_S = 5.0
MAX_POINTS = 11_000  # Prometheus refuses a range query of more points per series

Opener = Callable[[str, float], bytes]


class PrometheusError(Exception):
    """Prometheus could not answer the page's question."""


def _open(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()
        raise PrometheusError(_error_of(body) or f"HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PrometheusError(f"cannot reach Prometheus: {reason}") from exc


def _error_of(body: bytes) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("error"):
        return f"{data.get('errorType', 'error')}: {data['error']}"
    return None


def _get(base_url: str, path: str, params: Mapping[str, str], opener: Opener) -> Any:
    url = f"{base_url}{path}" + (f"?{urlencode(params)}" if params else "")
    body = opener(url, TIMEOUT_S)
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise PrometheusError(f"{path}: the answer is not JSON (is this Prometheus?)") from exc
    if not isinstance(data, dict) or data.get("status") != "success":
        raise PrometheusError(_error_of(body) or f"{path}: unexpected answer")
    return data.get("data")


def step_for(start: datetime, end: datetime, points: int = 240) -> float:
    """A step (s) giving about ``points`` per series, at least 15 s (the scrape interval)."""
    span = max((end - start).total_seconds(), 1.0)
    return max(15.0, math.ceil(span / min(points, MAX_POINTS)))


def query_range(
    base_url: str,
    query: str,
    start: datetime,
    end: datetime,
    step_s: float,
    opener: Opener = _open,
) -> pd.DataFrame:
    """One row per point: ``time`` (UTC), ``value``, and one column per label of the series."""
    data = _get(
        base_url,
        "/api/v1/query_range",
        {
            "query": query,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{step_s:g}",
        },
        opener,
    )
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        raise PrometheusError("query_range: the answer is not a matrix")
    rows = []
    for series in data.get("result") or ():
        labels = {str(k): str(v) for k, v in (series.get("metric") or {}).items()}
        for ts, value in series.get("values") or ():
            number = float(value)
            if math.isfinite(number):
                rows.append(
                    {**labels, "time": datetime.fromtimestamp(float(ts), UTC), "value": number}
                )
    return pd.DataFrame(rows)


ALERT_COLUMNS = ["alert", "severity", "state", "instance", "dc", "since", "summary"]


def alerts(base_url: str, opener: Opener = _open) -> pd.DataFrame:
    """The alerts Prometheus holds (firing, then pending), the oldest first in each state."""
    data = _get(base_url, "/api/v1/alerts", {}, opener)
    rows = []
    for alert in (data or {}).get("alerts") or ():
        labels = alert.get("labels") or {}
        active = alert.get("activeAt")
        rows.append(
            {
                "alert": labels.get("alertname", "?"),
                "severity": labels.get("severity", ""),
                "state": alert.get("state", ""),
                "instance": labels.get("instance", ""),
                "dc": labels.get("dc", ""),
                "since": pd.Timestamp(active) if active else pd.NaT,
                "summary": (alert.get("annotations") or {}).get("summary", ""),
            }
        )
    frame = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    if frame.empty:
        return frame
    frame["_order"] = frame["state"].map({"firing": 0, "pending": 1}).fillna(2)
    return frame.sort_values(["_order", "since"]).drop(columns="_order").reset_index(drop=True)
