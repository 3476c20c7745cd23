"""Options that more than one command group takes, declared once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import click

from fleet.csv_source import parse_ts
from fleet.exporter import Listen, parse_listen

R = TypeVar("R")


def parse_end(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        return parse_ts(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def history_options(func: Callable[..., R]) -> Callable[..., R]:
    """``--records``, ``--end`` and ``--interval``: which generated history to use."""
    decorators = [
        click.option("--records", type=click.IntRange(1), required=True, help="Readings."),
        click.option(
            "--end",
            callback=parse_end,
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


# The verifications read back through each data center named.
datacenters_option = click.option(
    "--dc",
    "datacenters",
    multiple=True,
    required=True,
    help="Read back at LOCAL_QUORUM through this data center (repeatable).",
)

json_option = click.option("--json", "as_json", is_flag=True)


def _listen(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Listen | None:
    try:
        return None if value is None else parse_listen(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def metrics_listen_option(what: str) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """``--metrics-listen HOST:PORT``: serve ``what`` to Prometheus at http://HOST:PORT/metrics."""
    return click.option(
        "--metrics-listen",
        callback=_listen,
        metavar="HOST:PORT",
        help=f"Serve Prometheus metrics ({what}) at http://HOST:PORT/metrics.",
    )
