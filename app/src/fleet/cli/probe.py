"""``fleet probe``: the drills' probe, its sequence-numbered writes and their check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from fleet.cli.context import EXIT_FAILED, AppContext, graceful_stop, handle_errors, pass_app
from fleet.cli.options import datacenters_option, json_option, metrics_listen_option
from fleet.exporter import Listen
from fleet.metrics import to_json
from fleet.probe import parse_levels, render_verify, run_probe, verify

R = TypeVar("R")


@click.group()
def probe() -> None:
    """Drill probe: sequence-numbered writes at chosen consistency levels, and their check."""


def _levels(
    _ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    try:
        return parse_levels(level for item in value for level in item.split(","))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def probe_run_options(out_help: str) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """``--duration`` and ``--out``: how long a probe runs and where it appends its outcomes."""

    def decorate(func: Callable[..., R]) -> Callable[..., R]:
        func = click.option(
            "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help=out_help
        )(func)
        return click.option(
            "--duration", type=click.FloatRange(0.1), help="Seconds (default: until SIGTERM)."
        )(func)

    return decorate


@probe.command("write")
@click.option("--run-id", required=True, help="Names this drill's rows (partition key).")
@click.option(
    "--cl",
    "levels",
    multiple=True,
    default=("LOCAL_ONE", "LOCAL_QUORUM", "QUORUM", "EACH_QUORUM"),
    show_default=True,
    callback=_levels,
    help="Consistency level to write at (repeatable or comma separated).",
)
@click.option("--interval", type=click.FloatRange(0.01), default=0.5, show_default=True)
@probe_run_options("Acks file: one JSON line per attempt (appended).")
@metrics_listen_option("writes and failures per level, latency histograms; if taken, none")
@pass_app
@handle_errors
def probe_write(
    app: AppContext,
    run_id: str,
    levels: tuple[str, ...],
    interval: float,
    duration: float | None,
    out: Path,
    metrics_listen: Listen | None,
) -> None:
    """Write one row per level every INTERVAL seconds, without retries, until stopped."""
    with graceful_stop() as stop:
        counts = run_probe(
            app.settings(), run_id, levels, interval, out, stop, duration, metrics_listen
        )
    for level, count in counts.items():
        click.echo(f"{level}: {count['acked']} acked, {count['failed']} failed")


@probe.command("pages")
@click.option("--interval", type=click.FloatRange(0.5), default=5.0, show_default=True)
@probe_run_options("One JSON line per fleet and round (appended).")
@pass_app
@handle_errors
def probe_pages(app: AppContext, interval: float, duration: float | None, out: Path) -> None:
    """Fetch every dashboard page's data for every fleet every INTERVAL seconds, as the
    dashboard reads it, until stopped; record each outcome."""
    from fleet.dashboard.watch import run_pages_probe

    with graceful_stop() as stop:
        rounds, failed = run_pages_probe(app.settings(), interval, out, stop, duration)
    click.echo(f"{rounds} rounds, {failed} with a page that did not answer")


@probe.command("verify")
@click.option("--run-id", required=True)
@click.option("--acks", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@datacenters_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also save JSON.")
@json_option
@pass_app
@handle_errors
def probe_verify(
    app: AppContext,
    run_id: str,
    acks: Path,
    datacenters: tuple[str, ...],
    out: Path | None,
    as_json: bool,
) -> None:
    """Read every probe row back per DC; exit 1 if an acknowledged write is missing."""
    report = verify(app.settings(), run_id, acks, datacenters)
    if out is not None:
        out.write_text(to_json(report) + "\n", encoding="utf-8")
    click.echo(to_json(report) if as_json else render_verify(report))
    if report["lost_total"]:
        raise SystemExit(EXIT_FAILED)
