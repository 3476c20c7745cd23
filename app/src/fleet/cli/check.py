"""``fleet check``: can the configured cluster be used."""

from __future__ import annotations

import click

from fleet.cli.context import AppContext, handle_errors, pass_app
from fleet.cli.options import json_option
from fleet.metrics import to_json


@click.command()
@json_option
@pass_app
@handle_errors
def check(app: AppContext, as_json: bool) -> None:
    """Connect, check the local DC and credentials, and describe the cluster."""
    with app.connect(require_keyspace=False) as conn:
        info = conn.describe()
    if as_json:
        click.echo(to_json(info))
        return
    click.echo(f"connected; local DC {info['local_dc']}")
    for dc, hosts in info["datacenters"].items():
        click.echo(f"  {dc}: {', '.join(hosts)}")
    replication = info["replication"]
    click.echo(f"keyspace {info['keyspace']}: {replication or 'missing (run fleet schema apply)'}")
