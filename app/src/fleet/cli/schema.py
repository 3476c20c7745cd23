"""``fleet schema``: the keyspace and tables, printed or applied."""

from __future__ import annotations

import click

from fleet.cli.context import AppContext, handle_errors, pass_app
from fleet.schema import apply_schema, render_schema


@click.group()
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
    with app.connect(require_keyspace=False) as conn:
        report = apply_schema(conn.cluster, conn.session, settings.keyspace, settings.replication)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"schema applied: {report.statements} statements on keyspace {settings.keyspace}, "
        "schema agreement reached"
    )
    # One line a deployment tool can key "changed" on.
    click.echo(f"created: {', '.join(report.created)}" if report.created else "nothing created")
