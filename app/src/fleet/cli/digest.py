"""``fleet digest``: per-partition digests of the app's tables, taken and compared (the backup
playbooks record one at backup time and compare after a restore)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from fleet import digest as fd
from fleet.cli.context import (
    EXIT_CONFIG,
    EXIT_FAILED,
    AppContext,
    CliError,
    handle_errors,
    pass_app,
)
from fleet.cli.options import json_option
from fleet.metrics import to_json


@click.group()
def digest() -> None:
    """Per-partition digests of the keyspace's tables (row count and SHA-256 of the rows)."""


@digest.command()
@click.option(
    "--table", "tables", multiple=True, help="Only this table (repeatable).  [default: every table]"
)
@click.option(
    "--consistency",
    type=click.Choice(["LOCAL_QUORUM", "QUORUM", "ALL", "LOCAL_ONE", "ONE"]),
    default="LOCAL_QUORUM",
    show_default=True,
    help="Consistency of the scans.",
)
@click.option(
    "--fetch-size",
    type=click.IntRange(10, 5000),
    default=500,
    show_default=True,
    help="Rows a page.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the digest to this file (JSON) instead of standard output.",
)
@pass_app
@handle_errors
def take(
    app: AppContext, tables: tuple[str, ...], consistency: str, fetch_size: int, out: Path | None
) -> None:
    """Scan every table of the keyspace (or --table ones) and print its digest as JSON."""
    started = time.monotonic()
    taken_at = datetime.now(UTC).isoformat(timespec="seconds")
    with app.connect() as conn:
        keyspace = conn.cluster.metadata.keyspaces[conn.settings.keyspace]
        try:
            result = fd.take(conn.session, keyspace, tables, consistency, fetch_size)
        except ValueError as exc:
            raise CliError(str(exc), EXIT_CONFIG) from exc
    document = {
        "format": fd.FORMAT,
        "keyspace": conn.settings.keyspace,
        "consistency": consistency,
        "taken_at": taken_at,
        "seconds": round(time.monotonic() - started, 2),
        "tables": result,
    }
    text = json.dumps(document, indent=1, ensure_ascii=False)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        click.echo(
            f"{sum(t['partitions'] for t in result.values())} partitions, "
            f"{sum(t['rows'] for t in result.values())} rows in {len(result)} tables: {out}"
        )


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"{path}: not a digest ({exc})", EXIT_CONFIG) from exc
    if (
        not isinstance(data, dict)
        or data.get("format") != fd.FORMAT
        or not isinstance(data.get("tables"), dict)
    ):
        raise CliError(
            f"{path}: not a digest of format {fd.FORMAT} (fleet digest take)", EXIT_CONFIG
        )
    return data


@digest.command()
@click.argument("expected", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("actual", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
def compare(expected: Path, actual: Path, as_json: bool) -> None:
    """Compare two digests: exit 0 when every partition matches, 1 otherwise (listing them)."""
    report = fd.comparison_report(_load(expected), _load(actual))
    if as_json:
        click.echo(to_json(report))
    else:
        for table, verdict in report["tables"].items():
            state = "equal" if verdict["equal"] else "DIFFERENT"
            click.echo(
                f"{table}: {state} ({verdict['expected_partitions']} -> "
                f"{verdict['actual_partitions']} partitions, "
                f"{verdict['expected_rows']} -> {verdict['actual_rows']} rows)"
            )
        for line in report["differences"]:
            click.echo(f"  {line}")
        if report["difference_count"] > len(report["differences"]):
            click.echo(f"  ... {report['difference_count'] - len(report['differences'])} more")
    if not report["equal"]:
        raise SystemExit(EXIT_FAILED)
