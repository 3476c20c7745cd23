"""``fleet etl`` (batch, stream, verify, import) and ``fleet rollup``: the commands that write
telemetry and its rollups, and what they share: their options and their summary."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from fleet.cli.context import (
    EXIT_CONFIG,
    EXIT_FAILED,
    AppContext,
    CliError,
    graceful_stop,
    handle_errors,
    pass_app,
)
from fleet.cli.options import (
    datacenters_option,
    history_options,
    json_option,
    metrics_listen_option,
    parse_end,
)
from fleet.csv_source import MAX_LINE_LENGTH
from fleet.etl import EtlOptions, EtlResult, check_csv, run_batch, run_import, run_rollup
from fleet.exporter import Listen
from fleet.ledger import Ledger, verify_readings
from fleet.metrics import render_summary, to_json
from fleet.plan import WriteMode
from fleet.session import Connection
from fleet.spool import FsyncPolicy, Spool
from fleet.stream import StreamOptions, run_stream

R = TypeVar("R")


def _print_result(result: EtlResult, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    summary = result.metrics.summary()
    summary.update(
        {
            "ok": result.ok,
            "interrupted": result.interrupted,
            "rollups_recomputed": len(result.rollups),
            "minutes_recomputed": result.minutes_recomputed,
            "device_hours_recomputed": result.hours_recomputed,
            "rollup_retries": result.rollup_retries,
            "rollup_failures": result.rollup_failures,
            "failures_sample": result.failures,
            "failed_records_file": str(result.failed_file) if result.failed_file else None,
            **(extra or {}),
        }
    )
    if as_json:
        click.echo(to_json(summary))
    else:
        click.echo(render_summary(summary))
        for key, value in (extra or {}).items():
            click.echo(f"  {key}: {value}")
    for line in result.failures:
        click.echo(f"failed: {line}", err=True)
    for line in result.rollup_failures:
        click.echo(f"rollup failed: {line}", err=True)
    if result.failed_file:
        click.echo(f"failed records written to {result.failed_file}", err=True)
    if not result.ok:
        raise SystemExit(EXIT_FAILED)


progress_option = click.option(
    "--progress",
    "progress_s",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds between progress lines on stderr (0: none).",
)


def etl_options(func: Callable[..., R]) -> Callable[..., R]:
    """Options shared by the commands that write telemetry, handed over as ``options``."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        mode: str,
        no_rollups: bool,
        failed_out: Path | None,
        progress_s: float,
        **kwargs: Any,
    ) -> R:
        options = EtlOptions(
            mode=WriteMode(mode),
            rollups=not no_rollups,
            progress_interval_s=progress_s,
            failed_out=failed_out,
        )
        return func(*args, options=options, **kwargs)

    decorators = [
        click.option(
            "--mode",
            type=click.Choice([m.value for m in WriteMode]),
            default=WriteMode.BATCH.value,
            show_default=True,
            help="batch: UNLOGGED batches, one partition's rows each (the fastest: `make bench` "
            "measures both); async: one statement per request. FLEET_CONCURRENCY in flight.",
        ),
        click.option(
            "--no-rollups",
            is_flag=True,
            help="Do not recompute the fleet hours, device hours and device minutes.",
        ),
        click.option(
            "--failed-out",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Write records that could not be written to this CSV (importable again).",
        ),
        progress_option,
        click.option("--json", "as_json", is_flag=True, help="Print the final summary as JSON."),
    ]
    for decorator in reversed(decorators):
        wrapper = decorator(wrapper)
    return wrapper


def _run_etl(app: AppContext, options: EtlOptions, job: Callable[[Connection, EtlOptions], R]) -> R:
    """Connect, let the first Ctrl-C or SIGTERM stop the input gracefully, run
    ``job(conn, options)`` with that stop in its options."""
    with app.connect() as conn, graceful_stop() as stop:
        return job(conn, replace(options, stop=stop))


@click.group()
def etl() -> None:
    """Load telemetry into Cassandra."""


@etl.command("batch")
@history_options
@etl_options
@pass_app
@handle_errors
def etl_batch(
    app: AppContext,
    records: int,
    end: datetime,
    interval: float,
    options: EtlOptions,
    as_json: bool,
) -> None:
    """Backfill history: N readings of every configured device, ending now."""

    result = _run_etl(
        app, options, lambda conn, opts: run_batch(conn, records, end, interval, opts)
    )
    _print_result(result, as_json)


@etl.command("stream")
@click.option(
    "--interval",
    type=click.FloatRange(0.05),
    default=5.0,
    show_default=True,
    help="Seconds between ticks; each tick sends one reading per device.",
)
@click.option("--ticks", type=click.IntRange(1), help="Stop after N ticks (default: Ctrl-C).")
@click.option(
    "--rollup-every",
    type=click.FloatRange(1.0),
    default=60.0,
    show_default=True,
    help="Seconds between rollup recomputations (fleet hours, device hours and minutes).",
)
@click.option(
    "--stats-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Rewrite this JSON file with the counters so far after every tick.",
)
@click.option(
    "--spool-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep readings that cannot be written in this directory and replay them in order "
    "once writes succeed (default: none, such readings fail).",
)
@click.option(
    "--spool-max-mb",
    type=click.IntRange(1, 1 << 20),
    default=256,
    show_default=True,
    help="Bound of the spool; readings that do not fit are dropped (counted, logged).",
)
@click.option(
    "--spool-fsync",
    type=click.Choice([p.value for p in FsyncPolicy]),
    default=FsyncPolicy.ALWAYS.value,
    show_default=True,
    help="always: fsync every append; interval: at most every second; never: leave it to the "
    "OS (a crash of the process loses nothing, a power loss may).",
)
@click.option(
    "--ledger-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Record the key of every generated reading here, for `fleet etl verify`.",
)
@metrics_listen_option("counters, write latency histogram, spool")
@etl_options
@pass_app
@handle_errors
def etl_stream(
    app: AppContext,
    interval: float,
    ticks: int | None,
    rollup_every: float,
    stats_file: Path | None,
    spool_dir: Path | None,
    spool_max_mb: int,
    spool_fsync: str,
    ledger_dir: Path | None,
    metrics_listen: Listen | None,
    options: EtlOptions,
    as_json: bool,
) -> None:
    """Real-time feed: one reading per device of FLEET_INGEST_FLEETS per tick."""
    settings = app.settings()
    settings.require_local_dc()
    try:
        spool = (
            Spool(spool_dir, max_bytes=spool_max_mb << 20, fsync=FsyncPolicy(spool_fsync))
            if spool_dir is not None
            else None
        )
        ledger = Ledger(ledger_dir) if ledger_dir is not None else None
    except OSError as exc:
        raise CliError(f"cannot use {exc.filename}: {exc.strerror}", EXIT_CONFIG) from exc
    stream = StreamOptions(
        interval,
        ticks,
        rollup_every,
        stats_file,
        spool=spool,
        ledger=ledger,
        metrics_listen=metrics_listen,
    )
    with graceful_stop() as stop:
        result = run_stream(settings, app.connect, stream, replace(options, stop=stop))
    _print_result(result, as_json)


@etl.command("verify")
@click.option(
    "--ledger-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="The stream's --ledger-dir.",
)
@click.option("--since", callback=parse_end, required=True, help="ISO-8601 with a timezone.")
@click.option("--until", callback=parse_end, required=True, help="ISO-8601 with a timezone.")
@datacenters_option
@json_option
@pass_app
@handle_errors
def etl_verify(
    app: AppContext,
    ledger_dir: Path,
    since: datetime,
    until: datetime,
    datacenters: tuple[str, ...],
    as_json: bool,
) -> None:
    """Check that every reading the stream generated in [SINCE, UNTIL] is stored in each DC;
    exit 1 if one is missing."""
    report = verify_readings(app.settings(), ledger_dir, since, until, datacenters)
    if as_json:
        click.echo(to_json(report))
    else:
        click.echo(
            f"{report['generated']} readings of {report['devices']} devices generated "
            f"in {report['ticks']} ticks"
        )
        for dc, row in report["read_back"].items():
            click.echo(f"  {dc}: {row['found']} found, {row['missing']} missing")
            for key in row["missing_sample"]:
                click.echo(f"    missing {key}")
        click.echo(f"lost: {report['lost_total']}")
    if report["lost_total"]:
        raise SystemExit(EXIT_FAILED)


@etl.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Rejected lines (line,reason,raw); default FILE.rejects.csv, "
    "created only if a line is rejected.",
)
@click.option("--dry-run", is_flag=True, help="Only check the file (offline).")
@click.option(
    "--max-line-length",
    type=click.IntRange(1),
    default=MAX_LINE_LENGTH,
    show_default=True,
    help="Longer lines are rejected without being read whole (characters).",
)
@etl_options
@pass_app
@handle_errors
def etl_import(
    app: AppContext,
    file: Path,
    rejects: Path | None,
    dry_run: bool,
    max_line_length: int,
    options: EtlOptions,
    as_json: bool,
) -> None:
    """Load a telemetry CSV; bad lines are reported and skipped."""

    rejects_path = rejects or file.with_suffix(".rejects.csv")
    if dry_run:
        valid, rejected = check_csv(file, rejects_path, max_line_length)
        summary = {
            "valid": valid,
            "rejected": rejected,
            "rejects_file": str(rejects_path) if rejected else None,
        }
        click.echo(
            to_json(summary)
            if as_json
            else f"{valid} valid, {rejected} rejected"
            + (f" (see {rejects_path})" if rejected else "")
        )
        return
    result, rejected = _run_etl(
        app, options, lambda conn, opts: run_import(conn, file, rejects_path, opts, max_line_length)
    )
    extra = {"rejects_file": str(rejects_path) if rejected else None}
    _print_result(result, as_json, extra)


@click.command()
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="UTC day.")
@click.option("--fleet", "fleets", multiple=True, help="Fleet id (repeatable); default: all.")
@json_option
@pass_app
@handle_errors
def rollup(app: AppContext, day: datetime, fleets: tuple[str, ...], as_json: bool) -> None:
    """Recompute a day's fleet hours, device hours and device minutes from stored telemetry
    (idempotent)."""

    settings = app.settings()
    options = EtlOptions(progress_interval_s=0.0)
    with app.connect() as conn:
        result = run_rollup(conn, day.date(), fleets or settings.fleets, options)
    _print_result(result, as_json)
