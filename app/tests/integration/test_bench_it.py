"""`fleet bench`'s runs against a real node: the ETL, the importer and cqlsh COPY FROM, each as
its own process, read back as the bench reads them. latte runs only where it is built
(FLEET_IT_LATTE; `make bench` builds it, CI does not: 6 min of compiling)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fleet.benchmark import COPY_TABLE_CQL, Bench, DataSet, Tools, now_floor
from fleet.schema import ALL_TABLES, apply_schema

pytestmark = pytest.mark.integration


@pytest.fixture
def bench(conn: Any, it_env: dict[str, str], tmp_path: Path) -> Iterator[Bench]:
    """A keyspace of its own (the bench truncates its tables), dropped afterwards."""
    settings = replace(conn.settings, keyspace=f"{conn.settings.keyspace}_bench")
    ks = settings.keyspace
    apply_schema(conn.cluster, conn.session, ks, settings.replication)
    conn.session.execute(COPY_TABLE_CQL.format(ks=ks), timeout=60)
    latte = Path(os.environ.get("FLEET_IT_LATTE", "/nonexistent"))
    cqlsh = Path(os.environ.get("FLEET_IT_CQLSH", "/nonexistent"))

    def truncate(tables: Any) -> None:
        for table in tables:
            conn.session.execute(f"TRUNCATE {ks}.{table}", timeout=120)

    env = {**os.environ, **it_env, "FLEET_KEYSPACE": ks}
    tools = Tools((sys.executable, "-m", "fleet"), latte, cqlsh)
    try:
        yield Bench(settings, env, tools, tmp_path, runs=1, truncate=truncate)
    finally:
        conn.session.execute(f"DROP KEYSPACE IF EXISTS {ks}", timeout=120)


DATA = DataSet(
    "it",
    "two fleets of 10 devices",
    {"FLEET_FLEETS": "FLEET_NANTES,FLEET_LILLE", "FLEET_INGEST_FLEETS": "FLEET_NANTES,FLEET_LILLE"},
    2_000,
    5.0,
)


def test_etl_and_import_runs_are_measured_as_a_user_runs_them(bench: Bench) -> None:
    end = now_floor() - timedelta(hours=2)
    app_tables = [t.name for t in ALL_TABLES]
    etl = bench.measure(lambda: bench.etl(DATA, end), app_tables)
    assert (etl.tool, etl.records, etl.failed) == ("etl", 2_000, 0)
    assert etl.rows > etl.records > etl.requests > 0  # batches: several rows per request
    assert etl.cpu_s > 0 and etl.elapsed_s > 0 and etl.load_before is not None
    assert etl.latency_ms["p50"] is not None

    csv, lines = bench.generate_csv(DATA, end)
    assert lines == 2_000 and len(csv.read_text(encoding="utf-8").splitlines()) == 2_001
    imported = bench.measure(lambda: bench.etl_import(DATA, csv), app_tables)
    assert (imported.tool, imported.records, imported.failed) == ("import", 2_000, 0)
    assert imported.rows == etl.rows  # the same readings: the same rows

    if not bench.tools.cqlsh.exists():
        pytest.skip("FLEET_IT_CQLSH not set: COPY FROM not run")
    copied = bench.measure(lambda: bench.copy(DATA, csv, lines), ["copy_readings"])
    assert (copied.tool, copied.rows, copied.failed) == ("copy", 2_000, 0)


def test_latte_writes_the_etl_rows(bench: Bench, conn: Any) -> None:
    if not bench.tools.latte.exists():
        pytest.skip("FLEET_IT_LATTE not set: latte is built by `make bench` only")
    run = bench.measure(lambda: bench.latte(DATA, now_floor()), ["telemetry_by_device_day"])
    assert (run.records, run.failed) == (2_000, 0)
    count = conn.session.execute(
        f"SELECT COUNT(*) FROM {bench.settings.keyspace}.telemetry_by_device_day", timeout=60
    ).one()[0]
    assert count == 2_000
