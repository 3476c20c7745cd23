"""Dashboard fixtures: a real Cassandra (FLEET_IT_*), a throw-away keyspace seeded through the
ETL, a read-only console role, and the FLEET_* environment the dashboard reads.

Same variables as app/tests/integration, whose helpers are reused: FLEET_IT_CONTACT_POINTS and
FLEET_IT_LOCAL_DC (optional FLEET_IT_USERNAME, FLEET_IT_PASSWORD, FLEET_IT_REPLICATION).
Without them every ``@pytest.mark.integration`` test here is skipped with that reason. The
keyspace and the role are dropped at the end of the session.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from fleet.config import load_settings
from fleet.etl import EtlOptions, EtlRun
from fleet.generator import fleet_devices, generate_history
from fleet.model import TelemetryPoint
from fleet.schema import apply_schema
from fleet.transform import alert_rows

# The integration suite's FLEET_IT_* handling: its environment, and its hook that skips every
# @pytest.mark.integration test, with the reason, when no cluster is set (needed here too when
# only this folder is collected). app/tests is on sys.path: its conftest has no __init__.py.
from integration.conftest import it_environment, pytest_collection_modifyitems  # noqa: F401

FLEETS = ("FLEET_PARIS", "FLEET_LYON")
DEVICES_PER_FLEET = 10
READINGS_PER_DEVICE = 130  # 10 s apart: 3 pages of 50 on the Devices page
CONSOLE_PASSWORD = "console-it-pw"


@dataclass(frozen=True)
class Seeded:
    """What was written, to compare the pages with."""

    env: dict[str, str]
    points: tuple[TelemetryPoint, ...]
    console_role: str

    @property
    def keyspace(self) -> str:
        return self.env["FLEET_KEYSPACE"]

    def of(self, fleet_id: str, day: date | None = None) -> list[TelemetryPoint]:
        return [p for p in self.points if p.fleet_id == fleet_id and (day is None or p.day == day)]

    def alert_counts(self, fleet_id: str, day: date) -> Counter[str]:
        return Counter(a.severity for a in alert_rows(self.of(fleet_id, day)).values())

    def readings(self, device_id: str, day: date) -> list[TelemetryPoint]:
        return sorted(
            (p for p in self.points if p.device_id == device_id and p.day == day),
            key=lambda p: p.ts,
            reverse=True,
        )


def dashboard_environment(keyspace: str, console_role: str) -> dict[str, str]:
    """The integration suite's environment, plus the dashboard's settings."""
    env = it_environment(keyspace)
    assert tuple(env["FLEET_FLEETS"].split(",")) == FLEETS
    assert int(env["FLEET_DEVICES_PER_FLEET"]) == DEVICES_PER_FLEET
    env.update(
        {
            "FLEET_DASHBOARD_MAP_STYLE": "white-bg",  # no tile server: nothing leaves the host
            "FLEET_CONSOLE_USERNAME": console_role,
            "FLEET_CONSOLE_PASSWORD": CONSOLE_PASSWORD,
        }
    )
    return env


def with_alerts(points: list[TelemetryPoint]) -> list[TelemetryPoint]:
    """Make sure every severity occurs: a few readings of PARIS-0002 get alarming values."""
    out, seen = [], 0
    for p in points:
        if p.device_id == "PARIS-0002":
            seen += 1
            if seen % 10 == 0:
                p = replace(p, speed_kmh=125.0, temp_c=41.0, battery_pct=15)  # HIGH, MEDIUM, LOW
        out.append(p)
    return out


def seed(conn: Any) -> tuple[TelemetryPoint, ...]:
    s = conn.settings
    records = len(FLEETS) * DEVICES_PER_FLEET * READINGS_PER_DEVICE
    points = with_alerts(
        list(generate_history(s.fleets, s.devices_per_fleet, s.seed, records, datetime.now(UTC)))
    )
    registry = fleet_devices(s.fleets, s.devices_per_fleet, s.seed)
    run = EtlRun(conn, "dashboard-it", EtlOptions(progress_interval_s=0), registry=registry)
    run.write(points)
    result = run.finish()
    assert result.ok and result.metrics.records_written == len(points), result.failures
    return tuple(points)


def create_console_role(conn: Any, role: str, keyspace: str) -> None:
    session = conn.session
    session.execute(
        f"CREATE ROLE IF NOT EXISTS {role} WITH LOGIN = true AND PASSWORD = %s",
        (CONSOLE_PASSWORD,),
    )
    session.execute(f"GRANT SELECT ON KEYSPACE {keyspace} TO {role}")


@pytest.fixture(scope="session")
def seeded() -> Iterator[Seeded]:
    """Schema, data and console role once per session; FLEET_* set in os.environ meanwhile."""
    from fleet.session import connect

    suffix = uuid.uuid4().hex[:10]
    keyspace, role = f"fleet_dash_{suffix}", f"fleet_console_{suffix}"
    env = dashboard_environment(keyspace, role)
    settings = load_settings(env)
    conn = connect(settings, require_keyspace=False)
    try:
        apply_schema(conn.cluster, conn.session, keyspace, settings.replication)
        points = seed(conn)
        create_console_role(conn, role, keyspace)
        with pytest.MonkeyPatch.context() as mp:
            for name, value in env.items():
                mp.setenv(name, value)
            yield Seeded(env, points, role)
    finally:
        # The pages' cached connections, shut down (on_release) before the interpreter exits:
        # a driver still running then fails to schedule its timers ("cannot schedule new
        # futures after shutdown").
        import streamlit as st

        st.cache_resource.clear()
        conn.session.execute(f"DROP ROLE IF EXISTS {role}")
        conn.session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
        conn.close()
