"""``fleet bench``: the ETL side by side with latte, and ``etl import`` with cqlsh COPY."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from fleet.benchmark import (
    Bench,
    Tools,
    bench_schema,
    lab_data_sets,
    now_floor,
    render_markdown,
    stream_data_set,
)
from fleet.cli.context import AppContext, handle_errors, pass_app
from fleet.config import parse_env_file


@click.group()
def bench() -> None:
    """The ETL side by side with latte, and `etl import` with cqlsh COPY (`make bench`)."""


@bench.command("schema")
@click.option(
    "--grant-to",
    help="Role to grant SELECT and MODIFY on the bench keyspace (default: FLEET_USERNAME).",
)
@pass_app
@handle_errors
def bench_schema_cmd(app: AppContext, grant_to: str | None) -> None:
    """Print the bench keyspace's CQL (FLEET_KEYSPACE): the app's tables and COPY's (offline)."""
    settings = app.settings()
    click.echo(bench_schema(settings, grant_to or settings.username), nl=False)


@bench.command("run")
@click.option(
    "--latte",
    "latte_bin",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The latte binary (scripts/fetch-latte.sh).",
)
@click.option(
    "--cqlsh",
    "cqlsh_bin",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="cqlsh, for COPY FROM.",
)
@click.option(
    "--runs",
    type=click.IntRange(1, 20),
    default=3,
    show_default=True,
    help="Runs of each tool per data set.",
)
@click.option(
    "--records",
    type=click.IntRange(1000),
    default=50_000,
    show_default=True,
    help="Readings of the lab-fleets data set.",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Where bench-<time>.json and .md are written.",
)
@click.option(
    "--stream-ticks",
    type=click.IntRange(2),
    default=24,
    show_default=True,
    help="Ticks of 5 s of the streaming comparison.",
)
@click.option(
    "--command-line",
    default="make bench",
    show_default=True,
    help="The command to quote in the report.",
)
@pass_app
@handle_errors
def bench_run(
    app: AppContext,
    latte_bin: Path,
    cqlsh_bin: Path,
    runs: int,
    records: int,
    out_dir: Path,
    stream_ticks: int,
    command_line: str,
) -> None:
    """Alternate ETL and latte runs, then import and COPY runs, on empty tables; print the
    Markdown table and write it with the JSON of every run."""
    settings = app.settings()
    # The runs are processes of their own: the settings this one has, with its precedence
    # (env file < environment < --secrets-stdin).
    env = parse_env_file(app.env_file) if app.env_file is not None else {}
    env |= {**os.environ, **app.secrets}
    env["FLEET_KEYSPACE"] = settings.keyspace
    started = datetime.now(UTC)
    out_dir.mkdir(parents=True, exist_ok=True)
    with app.connect() as conn, tempfile.TemporaryDirectory(prefix="fleet-bench-") as work:
        tools = Tools((sys.executable, "-m", "fleet"), latte_bin, cqlsh_bin)

        def truncate(tables: Sequence[str]) -> None:
            for table in tables:
                conn.session.execute(f"TRUNCATE {settings.keyspace}.{table}", timeout=120.0)

        runner = Bench(
            settings,
            env,
            tools,
            Path(work),
            runs,
            truncate,
            progress=lambda line: click.echo(line, err=True),
        )
        end = now_floor()
        data_sets = [
            runner.data_set(d, end, with_copy=True) for d in lab_data_sets(settings, records)
        ]
        data_sets.append(runner.streaming(stream_data_set(settings, stream_ticks), stream_ticks))
        nodes = sum(len(hosts) for hosts in conn.describe()["datacenters"].values())
    report = {
        "started": started.isoformat(timespec="seconds"),
        "command": command_line,
        "cluster": f"{nodes} nodes, keyspace {settings.keyspace} "
        f"{settings.replication}, {settings.consistency} from {settings.local_dc}, "
        f"{settings.concurrency} requests in flight",
        "runs": runs,
        "data_sets": data_sets,
    }
    stem = out_dir / f"bench-{started:%Y%m%dT%H%M%SZ}"
    markdown = render_markdown(report)
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    stem.with_suffix(".md").write_text(markdown, encoding="utf-8")
    click.echo(markdown)
    click.echo(f"written: {stem}.json, {stem}.md", err=True)
