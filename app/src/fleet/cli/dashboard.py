"""``fleet dashboard`` and ``fleet bench-dashboard``: the Streamlit dashboard (the ``dashboard``
extra), run or its pages' data fetches timed."""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import datetime

import click

from fleet.cli.context import EXIT_FAILED, AppContext, handle_errors, pass_app
from fleet.cli.options import json_option
from fleet.dashboard.launch import DEFAULT_ADDRESS, DEFAULT_PORT
from fleet.metrics import to_json


@click.command()
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="HTTP port.",
)
@click.option(
    "--address",
    default=DEFAULT_ADDRESS,
    show_default=True,
    help="Address to listen on (0.0.0.0: every interface).",
)
@pass_app
@handle_errors
def dashboard(app: AppContext, port: int, address: str) -> None:
    """Run the Streamlit dashboard (headless; open http://ADDRESS:PORT)."""
    from fleet.dashboard.launch import streamlit_command, streamlit_environment
    from fleet.dashboard.settings import load_dashboard_settings

    app.settings().require_local_dc()
    load_dashboard_settings(env_file=app.env_file)
    command = streamlit_command(port, address)
    click.echo(f"dashboard on http://{address}:{port}", err=True)
    os.execvpe(command[0], command, streamlit_environment(os.environ, app.env_file))


@click.command("bench-dashboard")
@click.option("--fleet", "fleet_id", required=True, help="Fleet of the Realtime/Alerts pages.")
@click.option("--device", "device_id", required=True, help="Device of Analytics and Devices.")
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="UTC day.")
@click.option("--compare", multiple=True, help="More devices in the Analytics comparison.")
@click.option("--runs", type=click.IntRange(1), default=50, show_default=True)
@click.option("--warmup", type=click.IntRange(0), default=3, show_default=True)
@click.option(
    "--budget-ms", type=float, default=300.0, show_default=True, help="p95 budget per page."
)
@json_option
@pass_app
@handle_errors
def bench_dashboard(
    app: AppContext,
    fleet_id: str,
    device_id: str,
    day: datetime,
    compare: tuple[str, ...],
    runs: int,
    warmup: int,
    budget_ms: float,
    as_json: bool,
) -> None:
    """Time each dashboard page's data fetch (no cache); exit 1 if a p95 is over budget."""
    from fleet.dashboard.bench import BenchTarget, page_fetches, render_timings, time_fetches
    from fleet.queries import FleetQueries

    target = BenchTarget(fleet_id, device_id, day.date(), compare)
    with app.connect() as conn:
        queries = FleetQueries(
            conn.session, conn.settings.keyspace, degraded_profile=conn.degraded_profile
        )
        fetches = page_fetches(queries, conn.cluster.metadata, conn.settings.keyspace, target)
        timings = time_fetches(fetches, runs, warmup)
    if as_json:
        click.echo(to_json({"budget_ms": budget_ms, "pages": [asdict(t) for t in timings]}))
    else:
        click.echo(render_timings(timings, budget_ms))
    if any(t.p95_ms >= budget_ms for t in timings):
        raise SystemExit(EXIT_FAILED)
