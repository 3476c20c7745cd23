"""When the local data center cannot answer: what failed, since when, and what can still be shown.

Plain Python (``state.py`` holds one of each object per process and draws the banner):

* :data:`OUTAGE_ERRORS` are the failures that mean "the DC cannot answer now" (no replica up,
  timeouts, a connection that cannot be made). Anything else is a bug and propagates.
* :class:`OutageTracker` remembers the first failure of the current outage, shared by every
  browser session, until the first successful read ends it.
* :class:`LastGood` keeps the last successful result of each fetch (bounded), so that a page
  shows slightly old data with its age instead of nothing.
* :func:`banner_markdown` is the text every page shows meanwhile: no traceback, no file path;
  the details go to the log.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cassandra import DriverException
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionException
from cassandra.protocol import ErrorMessage

from fleet.dashboard.settings import AppHost
from fleet.session import ConnectionCheckError

# DriverException covers Unavailable, ReadTimeout, OperationTimedOut, ReadFailure...; not
# NoHostAvailable, a connection dropped mid-request (ConnectionException), nor the server's
# errors the driver raises as they came (ErrorMessage: overloaded, bootstrapping, server error).
OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    DriverException,
    NoHostAvailable,
    ConnectionException,
    ErrorMessage,
    ConnectionCheckError,
)
REASON_CHARS = 240


def _last_error(err: object) -> str:
    """The useful end of a per-host error (the driver prefixes "Tried connecting to ...")."""
    text = str(err.strerror if isinstance(err, OSError) and err.strerror else err)
    return text.rsplit("Last error: ", 1)[-1]


def describe_error(exc: BaseException, limit: int = REASON_CHARS) -> str:
    """``Type: reason`` on one line, at most ``limit`` characters; never a traceback."""
    if isinstance(exc, NoHostAvailable):
        message = str(exc.args[0]) if exc.args else ""
        errors = exc.errors if isinstance(exc.errors, dict) else {}
        hosts = "; ".join(f"{host}: {_last_error(err)}" for host, err in errors.items())
        reason = f"{message} ({hosts})" if hosts else message
    else:
        reason = str(exc)
    reason = " ".join(reason.split())
    text = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class Outage:
    since: datetime  # first failure of this outage (UTC)
    last: datetime  # latest failure
    reason: str  # the latest failure, as describe_error
    failures: int


class OutageTracker:
    """The current outage of the local DC, if any; thread-safe (one per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: Outage | None = None

    def current(self) -> Outage | None:
        with self._lock:
            return self._current

    def failed(self, reason: str, now: datetime) -> tuple[Outage, bool]:
        """Record a failure; also returns whether it is new (first of an outage, or a new
        reason): worth a traceback in the log, where a repeat is worth one line."""
        with self._lock:
            before = self._current
            if before is None:
                self._current = Outage(now, now, reason, 1)
            else:
                self._current = replace(
                    before, last=now, reason=reason, failures=before.failures + 1
                )
            return self._current, before is None or before.reason != reason

    def succeeded(self) -> Outage | None:
        """A read worked: the outage (returned, to be logged) is over."""
        with self._lock:
            ended, self._current = self._current, None
            return ended


@dataclass(frozen=True, slots=True)
class Kept:
    value: Any
    fetched_at: datetime  # when it was read (UTC)


class LastGood:
    """The last successful result of each fetch key, the least recently stored dropped first."""

    def __init__(self, max_entries: int = 512) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, Kept] = OrderedDict()
        self.max_entries = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: Hashable, value: Any, now: datetime) -> None:
        """Keeps a copy: the caller's object goes on to a page, which may change it."""
        kept = Kept(copy.deepcopy(value), now)
        with self._lock:
            self._entries[key] = kept
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def get(self, key: Hashable) -> Kept | None:
        """A copy, for the same reason."""
        with self._lock:
            kept = self._entries.get(key)
        return None if kept is None else Kept(copy.deepcopy(kept.value), kept.fetched_at)


def clock(at: datetime, now: datetime) -> str:
    """``HH:MM:SS UTC``, with the date when it is not ``now``'s day."""
    return f"{at:%H:%M:%S} UTC" if at.date() == now.date() else f"{at:%Y-%m-%d %H:%M:%S} UTC"


def elapsed(delta: timedelta) -> str:
    """``45 s``, ``3 min 12 s``, ``2 h 05 min``."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def banner_markdown(
    dc: str,
    outage: Outage,
    now: datetime,
    data_at: datetime | None,
    others: Sequence[AppHost] = (),
) -> str:
    """The banner: which DC, what failed, since when, how old the data shown is (``data_at``;
    None: nothing read yet for this view), and the dashboards of the other DCs."""
    reason = outage.reason.replace("`", "'")  # shown as code: no markdown, no LaTeX in it
    lines = [
        f"**Data center {dc} cannot answer.** `{reason}`",
        f"Since {clock(outage.since, now)} ({elapsed(now - outage.since)} ago).",
    ]
    if data_at is None:
        lines.append(f"No earlier data for this view: it shows again once {dc} answers.")
    else:
        lines.append(f"Data shown may be stale: data from {clock(data_at, now)}.")
    if others:
        links = ", ".join(f"[{h.name} ({h.dc})]({h.url})" for h in others)
        lines.append(f"Other data centers' dashboards: {links}.")
    return "  \n".join(lines)
