"""``fleet`` command line.

Exit codes: 0 success; 1 some records (or rollups) failed; 2 invalid configuration, options or
input file header; 3 Cassandra unusable (unreachable, unknown DC, bad credentials, no keyspace,
no schema agreement). ``generate``, ``schema print`` and ``etl import --dry-run`` work offline.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from fleet.cli import bench, check, dashboard, digest, etl, generate, probe, schema
from fleet.cli.context import EXIT_CONFIG, AppContext, CliError
from fleet.config import ConfigError, parse_env_file, parse_secrets

__all__ = ["cli", "main"]


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


# Each module declares its commands; the root group takes them here (`fleet --help` lists them
# by name).
cli.add_command(check.check)
cli.add_command(schema.schema)
cli.add_command(etl.etl)
cli.add_command(etl.rollup)
cli.add_command(generate.generate)
cli.add_command(bench.bench)
cli.add_command(dashboard.dashboard)
cli.add_command(dashboard.bench_dashboard)
cli.add_command(probe.probe)
cli.add_command(digest.digest)


def main() -> None:
    cli(prog_name="fleet")
