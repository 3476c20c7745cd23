"""Shared helpers for unit and integration tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from fleet.model import TelemetryPoint


def make_point(**overrides: object) -> TelemetryPoint:
    """A valid reading; override any field."""
    values: dict[str, object] = {
        "fleet_id": "FLEET_PARIS",
        "device_id": "PARIS-0001",
        "model": "GPS-TX-1",
        "ts": datetime(2025, 6, 16, 8, 30, 0, tzinfo=UTC),
        "lat": 48.8566,
        "lon": 2.3522,
        "speed_kmh": 42.0,
        "heading_deg": 90.0,
        "battery_pct": 80,
        "temp_c": 21.5,
        "zone": "PARIS-CENTER",
    }
    values.update(overrides)
    return TelemetryPoint(**values)  # type: ignore[arg-type]


@pytest.fixture
def point_factory() -> Callable[..., TelemetryPoint]:
    return make_point
