"""Integration fixtures: a real Cassandra, one throw-away keyspace per test session.

Set FLEET_IT_CONTACT_POINTS (e.g. ``127.0.0.1`` or ``10.0.0.5:9042``) and FLEET_IT_LOCAL_DC;
optionally FLEET_IT_USERNAME / FLEET_IT_PASSWORD and FLEET_IT_REPLICATION (default
``<local dc>:1``, which fits a single node). The keyspace ``fleet_it_<random>`` is dropped at the
end of the session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from fleet.config import Settings, load_settings
from fleet.schema import apply_schema

CONTACT_POINTS = os.environ.get("FLEET_IT_CONTACT_POINTS", "")
LOCAL_DC = os.environ.get("FLEET_IT_LOCAL_DC", "")
SKIP_REASON = (
    "integration tests need a real Cassandra: set FLEET_IT_CONTACT_POINTS and FLEET_IT_LOCAL_DC "
    "(optional FLEET_IT_USERNAME, FLEET_IT_PASSWORD, FLEET_IT_REPLICATION)"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every ``@pytest.mark.integration`` test, with the reason, when no cluster is set."""
    if CONTACT_POINTS and LOCAL_DC:
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if item.get_closest_marker("integration"):
            item.add_marker(skip)


def it_environment(keyspace: str) -> dict[str, str]:
    env = {
        "FLEET_CONTACT_POINTS": CONTACT_POINTS,
        "FLEET_LOCAL_DC": LOCAL_DC,
        "FLEET_KEYSPACE": keyspace,
        "FLEET_REPLICATION": os.environ.get("FLEET_IT_REPLICATION", f"{LOCAL_DC}:1"),
        "FLEET_FLEETS": "FLEET_PARIS,FLEET_LYON",
        "FLEET_DEVICES_PER_FLEET": "10",
        "FLEET_SEED": "20250616",
        "FLEET_CONCURRENCY": "32",
        "FLEET_REQUEST_TIMEOUT": "20",
    }
    for name in ("USERNAME", "PASSWORD"):
        value = os.environ.get(f"FLEET_IT_{name}")
        if value:
            env[f"FLEET_{name}"] = value
    return env


@pytest.fixture(scope="session")
def it_env() -> dict[str, str]:
    return it_environment(f"fleet_it_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def it_settings(it_env: dict[str, str]) -> Settings:
    return load_settings(it_env)


@pytest.fixture(scope="session")
def conn(it_settings: Settings) -> Iterator[Any]:
    """Connected, schema applied once; the keyspace is dropped afterwards."""
    from fleet.session import connect

    connection = connect(it_settings, require_keyspace=False)
    try:
        apply_schema(
            connection.cluster, connection.session, it_settings.keyspace, it_settings.replication
        )
        yield connection
    finally:
        connection.session.execute(f"DROP KEYSPACE IF EXISTS {it_settings.keyspace}", timeout=120)
        connection.close()


@pytest.fixture
def with_fleets(conn: Any) -> Callable[..., Any]:
    """The same session configured for other fleets, so that tests never share partitions."""

    def configure(*fleets: str, devices: int | None = None) -> Any:
        settings = replace(
            conn.settings,
            fleets=fleets,
            ingest_fleets=fleets,
            devices_per_fleet=devices or conn.settings.devices_per_fleet,
        )
        return replace(conn, settings=settings)

    return configure
