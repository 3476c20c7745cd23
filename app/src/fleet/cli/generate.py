"""``fleet generate``: generated readings to a CSV file (offline)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from fleet.cli.context import AppContext, handle_errors, pass_app
from fleet.cli.options import history_options
from fleet.csv_source import write_points, write_points_file
from fleet.generator import generate_history


@click.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    required=True,
    help="CSV file to write ('-' for stdout).",
)
@history_options
@pass_app
@handle_errors
def generate(app: AppContext, out: Path, records: int, end: datetime, interval: float) -> None:
    """Write N generated readings to a CSV file (offline; same seed, same file)."""
    s = app.settings()
    points = generate_history(s.fleets, s.devices_per_fleet, s.seed, records, end, interval)
    if str(out) == "-":
        count = write_points(points, sys.stdout)
    else:
        count = write_points_file(points, out)
        click.echo(f"wrote {count} readings to {out}", err=True)
