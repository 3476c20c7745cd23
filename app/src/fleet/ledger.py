"""What a streaming ETL generated, and the check that every such reading is stored.

``fleet etl stream --ledger-dir DIR`` appends one JSON line per tick: the tick's time and the
key (device, timestamp) of every reading it generated, ``{"t": ms, "r": {"PARIS-0001": ms}}``.
Files rotate at ``file_bytes`` and only the newest ``keep_files`` are kept, so the ledger is
bounded (4 x 16 MiB by default: about a day at 50 devices every 5 s).

``fleet etl verify`` reads the ticks of a time window back and, through each data center at
LOCAL_QUORUM, the readings stored for those devices and days; a generated reading missing from
a DC is *lost*. The drills use it for their RPO: every reading generated during the drill must
be in every DC after hints and repair.

Data flows one way: ticks -> ledger files -> :func:`read_ticks` -> :func:`verify_readings`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cassandra.concurrent import execute_concurrent_with_args

from fleet.config import Settings
from fleet.model import TelemetryPoint, from_millis, to_millis
from fleet.schema import TELEMETRY_BY_DEVICE
from fleet.session import connect_dc

log = logging.getLogger(__name__)

_FILE_RE = re.compile(r"^ledger-(\d{8})\.jsonl$")
MAX_LISTED_MISSING = 20
READ_CONCURRENCY = 16


@dataclass(frozen=True, slots=True)
class Tick:
    at_ms: int
    readings: dict[str, int]  # device id -> reading timestamp (epoch ms)


class Ledger:
    """Append-only, size-bounded record of generated readings (one writer thread)."""

    def __init__(self, directory: Path, file_bytes: int = 16 << 20, keep_files: int = 4) -> None:
        if file_bytes < 1024 or keep_files < 1:
            raise ValueError("file_bytes must be >= 1024 and keep_files >= 1")
        self.directory = directory
        self.file_bytes = file_bytes
        self.keep_files = keep_files
        directory.mkdir(parents=True, exist_ok=True)
        numbers = [n for n, _ in _ledger_files(directory)]
        self._number = numbers[-1] if numbers else 1
        self._file = self._open()

    def _open(self) -> Any:
        return (self.directory / f"ledger-{self._number:08d}.jsonl").open("a", encoding="utf-8")

    def record(self, at: datetime, points: Sequence[TelemetryPoint]) -> None:
        """One line for the tick at ``at``, flushed to the OS (a crash of the process keeps it)."""
        if not points:
            return
        line = json.dumps(
            {"t": to_millis(at), "r": {p.device_id: to_millis(p.ts) for p in points}},
            separators=(",", ":"),
        )
        if self._file.tell() + len(line) + 1 > self.file_bytes and self._file.tell() > 0:
            self._rotate()
        self._file.write(line + "\n")
        self._file.flush()

    def _rotate(self) -> None:
        self._file.close()
        self._number += 1
        self._file = self._open()
        files = _ledger_files(self.directory)
        for _, path in files[: max(0, len(files) - self.keep_files)]:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        self._file.close()


def _ledger_files(directory: Path) -> list[tuple[int, Path]]:
    found = []
    for path in directory.iterdir() if directory.is_dir() else ():
        match = _FILE_RE.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def read_ticks(directory: Path, since: datetime, until: datetime) -> Iterator[Tick]:
    """Ticks with ``since <= t <= until``, oldest first; unreadable lines are skipped."""
    low, high = to_millis(since), to_millis(until)
    for _, path in _ledger_files(directory):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    data = json.loads(line)
                    tick = Tick(int(data["t"]), {str(k): int(v) for k, v in data["r"].items()})
                except (ValueError, KeyError, TypeError, AttributeError):
                    log.warning("%s:%d: unreadable ledger line skipped", path, number)
                    continue
                if low <= tick.at_ms <= high:
                    yield tick


def generated_keys(ticks: Iterable[Tick]) -> dict[tuple[str, date], set[int]]:
    """Generated reading timestamps (ms) per (device, UTC day): the partitions to read back."""
    keys: dict[tuple[str, date], set[int]] = {}
    for tick in ticks:
        for device_id, ms in tick.readings.items():
            keys.setdefault((device_id, from_millis(ms).date()), set()).add(ms)
    return keys


def missing_keys(
    generated: dict[tuple[str, date], set[int]], stored: dict[tuple[str, date], set[int]]
) -> list[tuple[str, int]]:
    """(device, timestamp ms) of every generated reading not in ``stored``, sorted."""
    return sorted(
        (key[0], ms) for key, wanted in generated.items() for ms in wanted - stored.get(key, set())
    )


def summarize_dc(generated_total: int, missing: list[tuple[str, int]]) -> dict[str, Any]:
    """One DC's read-back: counts and a sample of what is missing."""
    return {
        "found": generated_total - len(missing),
        "missing": len(missing),
        "missing_sample": [f"{d} {from_millis(ms).isoformat()}" for d, ms in missing][
            :MAX_LISTED_MISSING
        ],
    }


def read_stored(
    session: Any, keyspace: str, generated: dict[tuple[str, date], set[int]]
) -> dict[tuple[str, date], set[int]]:
    """Stored reading timestamps of each (device, day), between its first and last generated."""
    select = session.prepare(
        f"SELECT ts FROM {keyspace}.{TELEMETRY_BY_DEVICE.name} "
        "WHERE device_id = ? AND day = ? AND ts >= ? AND ts <= ?"
    )
    keys = sorted(generated)
    params = [
        (key[0], key[1], from_millis(min(generated[key])), from_millis(max(generated[key])))
        for key in keys
    ]
    results = execute_concurrent_with_args(
        session, select, params, concurrency=READ_CONCURRENCY, raise_on_first_error=True
    )
    # The driver returns naive UTC datetimes.
    return {
        key: {to_millis(row.ts.replace(tzinfo=UTC)) for row in result.result_or_exc}
        for key, result in zip(keys, results, strict=True)
    }


def verify_readings(
    settings: Settings,
    directory: Path,
    since: datetime,
    until: datetime,
    datacenters: Sequence[str],
) -> dict[str, Any]:
    """The ledger's readings of ``[since, until]`` looked up in every DC (LOCAL_QUORUM)."""
    ticks = list(read_ticks(directory, since, until))
    generated = generated_keys(ticks)
    total = sum(len(v) for v in generated.values())
    missing: dict[str, list[tuple[str, int]]] = {}
    for dc in datacenters:
        with connect_dc(settings, dc) as conn:
            missing[dc] = missing_keys(
                generated, read_stored(conn.session, settings.keyspace, generated)
            )
    return {
        "ledger": str(directory),
        "since": since.isoformat(),
        "until": until.isoformat(),
        "ticks": len(ticks),
        "devices": len({device_id for device_id, _ in generated}),
        "generated": total,
        "datacenters": list(datacenters),
        "read_back": {dc: summarize_dc(total, keys) for dc, keys in missing.items()},
        # A reading missing from any DC is lost for the RPO.
        "lost_total": len({key for keys in missing.values() for key in keys}),
    }
