"""Telemetry CSV files: writing them (``fleet generate``) and reading them back (``etl import``).

Reading checks the header first (a wrong header stops the import before anything is written).
Then each line is parsed and validated on its own: a bad line is reported with its line number
and reason to a rejects CSV (``line,reason,raw``) and skipped; the good lines are loaded.
One record per physical line: quoted fields must not contain line breaks.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from fleet.model import TELEMETRY_FIELDS, TelemetryPoint
from fleet.transform import FUTURE_TOLERANCE, validate_point

CSV_COLUMNS = TELEMETRY_FIELDS
REJECT_COLUMNS = ("line", "reason", "raw")
_FLOATS = ("lat", "lon", "speed_kmh", "heading_deg", "temp_c")


class CsvHeaderError(ValueError):
    """The file cannot be imported at all (empty, or wrong columns)."""


@dataclass(frozen=True, slots=True)
class Reject:
    line: int
    reason: str
    raw: str


def format_ts(ts: datetime) -> str:
    """``2025-07-14T08:00:03.427Z``: UTC, milliseconds."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def parse_ts(text: str) -> datetime:
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"ts {text!r}: not an ISO-8601 timestamp") from None
    if ts.tzinfo is None:
        raise ValueError(f"ts {text!r}: no timezone (use Z or +hh:mm)")
    ts = ts.astimezone(UTC)
    return ts.replace(microsecond=ts.microsecond - ts.microsecond % 1000)


def point_to_row(p: TelemetryPoint) -> list[str]:
    row = {
        "fleet_id": p.fleet_id,
        "device_id": p.device_id,
        "model": p.model,
        "ts": format_ts(p.ts),
        "battery_pct": str(p.battery_pct),
        "zone": p.zone,
    }
    row.update({name: repr(float(getattr(p, name))) for name in _FLOATS})
    return [row[c] for c in CSV_COLUMNS]


def write_points(points: Iterable[TelemetryPoint], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for point in points:
        writer.writerow(point_to_row(point))
        count += 1
    return count


def write_points_file(points: Iterable[TelemetryPoint], path: Path) -> int:
    with path.open("w", encoding="utf-8", newline="") as out:
        return write_points(points, out)


def parse_fields(values: dict[str, str]) -> TelemetryPoint:
    """Typed point from the text fields; ``ValueError`` names every field that is not parsable."""
    problems: list[str] = []
    parsed: dict[str, object] = {}
    for name in ("fleet_id", "device_id", "model", "zone"):
        parsed[name] = values[name].strip()
    for name in _FLOATS:
        text = values[name].strip()
        try:
            parsed[name] = float(text)
        except ValueError:
            problems.append(f"{name} {text!r}: not a number")
    text = values["battery_pct"].strip()
    try:
        parsed["battery_pct"] = int(text)
    except ValueError:
        problems.append(f"battery_pct {text!r}: not an integer")
    try:
        parsed["ts"] = parse_ts(values["ts"].strip())
    except ValueError as exc:
        problems.append(str(exc))
    if problems:
        raise ValueError("; ".join(problems))
    return TelemetryPoint(**parsed)  # type: ignore[arg-type]


def check_header(header: list[str]) -> list[str]:
    names = [h.strip() for h in header]
    missing = [c for c in CSV_COLUMNS if c not in names]
    unknown = [n for n in names if n not in CSV_COLUMNS]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    problems = []
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s): {', '.join(unknown)}")
    if duplicated:
        problems.append(f"duplicated column(s): {', '.join(duplicated)}")
    if problems:
        raise CsvHeaderError(
            f"bad header ({'; '.join(problems)}); expected {','.join(CSV_COLUMNS)}"
        )
    return names


def read_points(
    lines: Iterable[str],
    *,
    now: datetime,
    on_reject: Callable[[Reject], None],
    future_tolerance: timedelta = FUTURE_TOLERANCE,
) -> Iterator[TelemetryPoint]:
    """Valid points of a CSV given as lines; each bad line goes to ``on_reject``."""
    iterator = iter(lines)
    first = next(iterator, None)
    if first is None or not first.strip():
        raise CsvHeaderError(f"no header line; expected {','.join(CSV_COLUMNS)}")
    header = check_header(next(csv.reader([first.lstrip("\ufeff")])))
    for lineno, raw_line in enumerate(iterator, start=2):
        raw = raw_line.rstrip("\r\n")
        if not raw.strip():
            continue
        reason, point = _parse_line(raw, header, now, future_tolerance)
        if point is None:
            on_reject(Reject(lineno, reason, raw))
        else:
            yield point


def _parse_line(
    raw: str, header: list[str], now: datetime, future_tolerance: timedelta
) -> tuple[str, TelemetryPoint | None]:
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid UTF-8", None
    try:
        fields = next(csv.reader([raw], strict=True))
    except csv.Error as exc:
        return f"malformed CSV: {exc}", None
    if len(fields) != len(header):
        return f"expected {len(header)} fields, got {len(fields)}", None
    try:
        point = parse_fields(dict(zip(header, fields, strict=True)))
    except ValueError as exc:
        return str(exc), None
    reasons = validate_point(point, now=now, future_tolerance=future_tolerance)
    if reasons:
        return "; ".join(reasons), None
    return "", point


def open_csv(path: Path) -> io.TextIOWrapper:
    """Open for :func:`read_points`: BOM tolerated, undecodable bytes kept for the rejects file."""
    return path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="")


class LazyCsvFile:
    """A CSV file created, with its header, at the first row only: no empty files.

    Used for rejects (``REJECT_COLUMNS``; ``surrogateescape`` writes back the original bytes of
    a line that was not UTF-8) and for records that could not be written (``CSV_COLUMNS``: fix
    the cause and import that file again).
    """

    def __init__(self, path: Path, header: Sequence[str], errors: str = "strict") -> None:
        self.path = path
        self.header = tuple(header)
        self.errors = errors
        self.count = 0
        self._out: TextIO | None = None
        self._writer: Any = None

    def write_row(self, row: Sequence[object]) -> None:
        if self._writer is None:
            self._out = self.path.open("w", encoding="utf-8", errors=self.errors, newline="")
            self._writer = csv.writer(self._out, lineterminator="\n")
            self._writer.writerow(self.header)
        self._writer.writerow(row)
        self.count += 1

    def write_reject(self, reject: Reject) -> None:
        self.write_row((reject.line, reject.reason, reject.raw))

    def write_point(self, point: TelemetryPoint) -> None:
        self.write_row(point_to_row(point))

    def close(self) -> None:
        if self._out is not None:
            self._out.close()

    def __enter__(self) -> LazyCsvFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
