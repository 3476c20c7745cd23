"""What every ``fleet`` command shares: the application context, the exit codes, the mapping of
known failures to one message and an exit code, and the graceful stop on a signal."""

from __future__ import annotations

import functools
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from cassandra import DriverException
from cassandra.cluster import NoHostAvailable

import fleet.session
from fleet.benchmark import BenchError
from fleet.config import ConfigError, Settings, load_settings
from fleet.csv_source import CsvHeaderError
from fleet.exporter import ExporterError
from fleet.schema import SchemaError
from fleet.session import Connection, ConnectionCheckError

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

    def connect(self, require_keyspace: bool = True) -> Connection:
        # Looked up in fleet.session at each call: the unit tests stand in for it there.
        return fleet.session.connect(self.settings(), require_keyspace=require_keyspace)


pass_app = click.make_pass_decorator(AppContext)


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
        except ExporterError as exc:
            raise CliError(str(exc), EXIT_CONFIG) from exc

    return wrapper


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
