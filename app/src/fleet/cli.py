"""``fleet`` command line.

Exit codes: 0 success; 1 some records (or rollups) failed; 2 invalid configuration, options or
input file header; 3 Cassandra unusable (unreachable, unknown DC, bad credentials, no keyspace,
no schema agreement). ``generate``, ``schema print`` and ``etl import --dry-run`` work offline.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from cassandra import DriverException
from cassandra.cluster import NoHostAvailable

from fleet import writer
from fleet.benchmark import (
    Bench,
    BenchError,
    Tools,
    bench_schema,
    lab_data_sets,
    now_floor,
    render_markdown,
    stream_data_set,
)
from fleet.config import ConfigError, Settings, load_settings, parse_env_file, parse_secrets
from fleet.csv_source import (
    MAX_LINE_LENGTH,
    CsvHeaderError,
    parse_ts,
    write_points,
    write_points_file,
)
from fleet.dashboard.launch import DEFAULT_ADDRESS, DEFAULT_PORT
from fleet.etl import (
    EtlOptions,
    EtlResult,
    check_csv,
    run_batch,
    run_import,
    run_rollup,
)
from fleet.generator import generate_history
from fleet.ledger import Ledger, verify_readings
from fleet.metrics import render_summary, to_json
from fleet.plan import WriteMode
from fleet.probe import parse_levels, render_verify, run_probe, verify
from fleet.schema import SchemaError, apply_schema, render_schema
from fleet.spool import FsyncPolicy, Spool
from fleet.stream import StreamOptions, run_stream
from fleet.writer import Connection, ConnectionCheckError

P = ParamSpec("P")
R = TypeVar("R")

EXIT_FAILED, EXIT_CONFIG, EXIT_CASSANDRA = 1, 2, 3


class CliError(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class AppContext:
    env_file: Path | None
    secrets: dict[str, str] = field(default_factory=dict)  # from --secrets-stdin
    _settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            environ = {**os.environ, **self.secrets}
            self._settings = load_settings(environ, env_file=self.env_file)
        return self._settings


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Known failures become one clear message and an exit code, not a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            raise CliError(str(exc), EXIT_CONFIG) from exc
        except CsvHeaderError as exc:
            raise CliError(str(exc), EXIT_CONFIG) from exc
        except (ConnectionCheckError, SchemaError) as exc:
            raise CliError(f"Cassandra: {exc}", EXIT_CASSANDRA) from exc
        except (DriverException, NoHostAvailable) as exc:  # e.g. the cluster went away mid-run
            raise CliError(f"Cassandra: {type(exc).__name__}: {exc}", EXIT_CASSANDRA) from exc
        except BenchError as exc:
            raise CliError(f"bench: {exc}", EXIT_FAILED) from exc

    return wrapper


def _parse_end(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        return parse_ts(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@contextmanager
def graceful_stop(
    signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
) -> Iterator[threading.Event]:
    """First signal (Ctrl-C, or SIGTERM from `systemctl stop`): stop reading input and finish
    what is in flight. Second: abort."""
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():
            restore()
            raise KeyboardInterrupt
        click.echo("stopping: finishing in-flight writes (again to abort)", err=True)
        stop.set()

    for sig in signals:
        signal.signal(sig, on_signal)
    try:
        yield stop
    finally:
        restore()


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


def history_options(func: Callable[..., R]) -> Callable[..., R]:
    """``--records``, ``--end`` and ``--interval``: which generated history to use."""
    decorators = [
        click.option("--records", type=click.IntRange(1), required=True, help="Readings."),
        click.option(
            "--end",
            callback=_parse_end,
            help="Time of the last reading, ISO-8601 with a timezone.  [default: now]",
        ),
        click.option(
            "--interval",
            type=click.FloatRange(0.1),
            default=10.0,
            show_default=True,
            help="Seconds between two readings of a device.",
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _run_etl(app: AppContext, options: EtlOptions, job: Callable[[Connection], R]) -> R:
    """Connect, let the first Ctrl-C or SIGTERM stop the input gracefully, run ``job(conn)``."""
    with _connect(app) as conn, graceful_stop() as stop:
        options.stop = stop
        return job(conn)


def _connect(app: AppContext, require_keyspace: bool = True) -> Connection:
    return writer.connect(app.settings(), require_keyspace=require_keyspace)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--env-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read FLEET_* settings from this file (default: $FLEET_ENV_FILE); "
    "the environment takes precedence.",
)
@click.option(
    "--secrets-stdin",
    is_flag=True,
    help="Read settings such as FLEET_USERNAME / FLEET_PASSWORD as a JSON object on standard "
    "input, over the environment and the env file: a secret never on a command line or in the "
    "process environment.",
)
@click.option(
    "--secrets-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read FLEET_* secrets from this env file (e.g. a service's root-only credentials), "
    "over the environment and --env-file, under --secrets-stdin: a task can use a service's "
    "credentials without ever holding them.",
)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.version_option(package_name="fleet-tracing", prog_name="fleet")
@click.pass_context
def cli(
    ctx: click.Context,
    env_file: Path | None,
    secrets_stdin: bool,
    secrets_file: Path | None,
    verbose: int,
) -> None:
    """Fleet Tracing: telemetry generator and ETL for Cassandra."""
    logging.basicConfig(
        level=max(logging.DEBUG, logging.WARNING - 10 * verbose),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        from_file = parse_env_file(secrets_file) if secrets_file is not None else {}
        unknown = sorted(k for k in from_file if not k.startswith("FLEET_"))
        if unknown:
            raise ConfigError([f"--secrets-file {secrets_file}: not FLEET_* settings: {unknown}"])
        secrets = from_file | (parse_secrets(sys.stdin.read()) if secrets_stdin else {})
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from exc
    ctx.obj = AppContext(env_file, secrets)


pass_app = click.make_pass_decorator(AppContext)


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def check(app: AppContext, as_json: bool) -> None:
    """Connect, check the local DC and credentials, and describe the cluster."""
    with _connect(app, require_keyspace=False) as conn:
        info = conn.describe()
    if as_json:
        click.echo(to_json(info))
        return
    click.echo(f"connected; local DC {info['local_dc']}")
    for dc, hosts in info["datacenters"].items():
        click.echo(f"  {dc}: {', '.join(hosts)}")
    replication = info["replication"]
    click.echo(f"keyspace {info['keyspace']}: {replication or 'missing (run fleet schema apply)'}")


@cli.group()
def schema() -> None:
    """Keyspace and tables."""


@schema.command("print")
@pass_app
@handle_errors
def schema_print(app: AppContext) -> None:
    """Print the CQL for the configured keyspace and replication (offline)."""
    settings = app.settings()
    click.echo(render_schema(settings.keyspace, settings.replication), nl=False)


@schema.command("apply")
@pass_app
@handle_errors
def schema_apply(app: AppContext) -> None:
    """Create the keyspace and tables if missing, then wait for schema agreement."""

    settings = app.settings()
    with _connect(app, require_keyspace=False) as conn:
        report = apply_schema(conn.cluster, conn.session, settings.keyspace, settings.replication)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"schema applied: {report.statements} statements on keyspace {settings.keyspace}, "
        "schema agreement reached"
    )
    # One line a deployment tool can key "changed" on.
    click.echo(f"created: {', '.join(report.created)}" if report.created else "nothing created")


@cli.group()
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

    result = _run_etl(app, options, lambda conn: run_batch(conn, records, end, interval, options))
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
    options: EtlOptions,
    as_json: bool,
) -> None:
    """Real-time feed: one reading per device of FLEET_INGEST_FLEETS per tick."""
    settings = app.settings()
    settings.require_local_dc()
    stream = StreamOptions(interval, ticks, rollup_every, stats_file)
    try:
        if spool_dir is not None:
            stream.spool = Spool(
                spool_dir, max_bytes=spool_max_mb << 20, fsync=FsyncPolicy(spool_fsync)
            )
        if ledger_dir is not None:
            stream.ledger = Ledger(ledger_dir)
    except OSError as exc:
        raise CliError(f"cannot use {exc.filename}: {exc.strerror}", EXIT_CONFIG) from exc
    with graceful_stop() as stop:
        options.stop = stop
        result = run_stream(settings, lambda: writer.connect(settings), stream, options)
    _print_result(result, as_json)


@etl.command("verify")
@click.option(
    "--ledger-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="The stream's --ledger-dir.",
)
@click.option("--since", callback=_parse_end, required=True, help="ISO-8601 with a timezone.")
@click.option("--until", callback=_parse_end, required=True, help="ISO-8601 with a timezone.")
@click.option(
    "--dc",
    "datacenters",
    multiple=True,
    required=True,
    help="Read back at LOCAL_QUORUM through this data center (repeatable).",
)
@click.option("--json", "as_json", is_flag=True)
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
        app, options, lambda conn: run_import(conn, file, rejects_path, options, max_line_length)
    )
    extra = {"rejects_file": str(rejects_path) if rejected else None}
    _print_result(result, as_json, extra)


@cli.group()
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
    with _connect(app) as conn, tempfile.TemporaryDirectory(prefix="fleet-bench-") as work:
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


@cli.command()
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="UTC day.")
@click.option("--fleet", "fleets", multiple=True, help="Fleet id (repeatable); default: all.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def rollup(app: AppContext, day: datetime, fleets: tuple[str, ...], as_json: bool) -> None:
    """Recompute a day's fleet hours, device hours and device minutes from stored telemetry
    (idempotent)."""

    settings = app.settings()
    options = EtlOptions(progress_interval_s=0.0)
    with _connect(app) as conn:
        result = run_rollup(conn, day.date(), fleets or settings.fleets, options)
    _print_result(result, as_json)


@cli.command()
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


@cli.command()
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
    import os

    from fleet.dashboard.launch import streamlit_command, streamlit_environment
    from fleet.dashboard.settings import load_dashboard_settings

    app.settings().require_local_dc()
    load_dashboard_settings(env_file=app.env_file)
    command = streamlit_command(port, address)
    click.echo(f"dashboard on http://{address}:{port}", err=True)
    os.execvpe(command[0], command, streamlit_environment(os.environ, app.env_file))


@cli.command("bench-dashboard")
@click.option("--fleet", "fleet_id", required=True, help="Fleet of the Realtime/Alerts pages.")
@click.option("--device", "device_id", required=True, help="Device of Analytics and Devices.")
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="UTC day.")
@click.option("--compare", multiple=True, help="More devices in the Analytics comparison.")
@click.option("--runs", type=click.IntRange(1), default=50, show_default=True)
@click.option("--warmup", type=click.IntRange(0), default=3, show_default=True)
@click.option(
    "--budget-ms", type=float, default=300.0, show_default=True, help="p95 budget per page."
)
@click.option("--json", "as_json", is_flag=True)
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
    with _connect(app) as conn:
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


@cli.group()
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
@pass_app
@handle_errors
def probe_write(
    app: AppContext,
    run_id: str,
    levels: tuple[str, ...],
    interval: float,
    duration: float | None,
    out: Path,
) -> None:
    """Write one row per level every INTERVAL seconds, without retries, until stopped."""
    with graceful_stop() as stop:
        counts = run_probe(app.settings(), run_id, levels, interval, out, stop, duration)
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
@click.option(
    "--dc",
    "datacenters",
    multiple=True,
    required=True,
    help="Read back at LOCAL_QUORUM through this data center (repeatable).",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also save JSON.")
@click.option("--json", "as_json", is_flag=True)
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


def main() -> None:
    cli(prog_name="fleet")
