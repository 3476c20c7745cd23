"""Telemetry CSV files: writing them (``fleet generate``) and reading them back (``etl import``).

Reading checks the header first (a wrong header stops the import before anything is written).
Then each line is parsed and validated on its own: a bad line is reported with its line number
and reason to a rejects CSV (``line,reason,raw``, the raw text cut at ``RAW_SHOWN`` characters)
and skipped; the good lines are loaded. No line, whatever it holds, stops the import.
One record per physical line (ended by ``\n``, ``\r\n`` or ``\r``): quoted fields must not
contain line breaks. A line longer than ``max_line_length`` characters is rejected without
being read whole: a file is read in bounded pieces.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from fleet.model import TELEMETRY_FIELDS, TelemetryPoint
from fleet.transform import FUTURE_TOLERANCE, validate_point

log = logging.getLogger(__name__)

CSV_COLUMNS = TELEMETRY_FIELDS
REJECT_COLUMNS = ("line", "reason", "raw")
_FLOATS = ("lat", "lon", "speed_kmh", "heading_deg", "temp_c")

MAX_LINE_LENGTH = 4096  # characters; a telemetry row has about 100
RAW_SHOWN = 200  # characters of a rejected line kept in the rejects file
REASON_SHOWN = 500  # characters of a reject's reason
VALUE_SHOWN = 40  # characters of a field quoted in a reason
_SKIP_PIECE = 65536  # characters read at a time while skipping the rest of a long line
# Plain ASCII decimal notation: no "nan", "inf", "1_000", non-ASCII digits or hex.
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INT_RE = re.compile(r"[+-]?\d+", re.ASCII)
# ISO-8601 extended format; fromisoformat alone takes any character as the T, or before the
# offset ("2025-06-16x08:00:00\"+02:00"), and letters after the fraction's digits.
_TS_RE = re.compile(
    r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?"
    r"(?:[Zz]|[+-]\d\d(?::?\d\d(?::?\d\d(?:\.\d+)?)?)?)?",
    re.ASCII,
)


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


def cap(text: str, limit: int) -> str:
    """``text`` cut at ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[:limit] + "\u2026"


def _shown(text: str) -> str:
    """A field as quoted in a reason: ``repr``, at most ``VALUE_SHOWN`` characters of it."""
    return repr(text) if len(text) <= VALUE_SHOWN else repr(text[:VALUE_SHOWN]) + "\u2026"


def parse_ts(text: str) -> datetime:
    """UTC, truncated to milliseconds; ``ValueError`` for anything but ISO-8601 (extended
    format) with an offset, within years 1-9999 once in UTC."""
    try:
        if not _TS_RE.fullmatch(text):
            raise ValueError
        ts = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise ValueError(f"ts {_shown(text)}: not an ISO-8601 timestamp") from None
    if ts.tzinfo is None:
        raise ValueError(f"ts {_shown(text)}: no timezone (use Z or +hh:mm)")
    try:
        ts = ts.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00, 9999-12-31T23:59-01:00
        raise ValueError(f"ts {_shown(text)}: out of range in UTC") from None
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
        if not _FLOAT_RE.fullmatch(text):
            problems.append(f"{name} {_shown(text)}: not a number")
        elif not math.isfinite(number := float(text)):  # 1e999
            problems.append(f"{name} {_shown(text)}: not a finite number")
        else:
            parsed[name] = number
    text = values["battery_pct"].strip()
    try:
        if not _INT_RE.fullmatch(text):
            raise ValueError
        parsed["battery_pct"] = int(text)
    except ValueError:  # also more digits than the int-string conversion limit
        problems.append(f"battery_pct {_shown(text)}: not an integer")
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
    max_line_length: int = MAX_LINE_LENGTH,
) -> Iterator[TelemetryPoint]:
    """Valid points of a CSV given as lines (a text file is read in bounded pieces); each bad
    line goes to ``on_reject``. Only a bad or missing header raises (``CsvHeaderError``)."""
    physical = enumerate(physical_lines(lines, max_line_length), start=1)
    _, (first, too_long) = next(physical, (0, ("", False)))
    if too_long:
        raise CsvHeaderError(f"header line longer than {max_line_length} characters")
    if not first.strip():
        raise CsvHeaderError(f"no header line; expected {','.join(CSV_COLUMNS)}")
    try:
        names = next(csv.reader([first.lstrip("\ufeff")]), [])
    except csv.Error as exc:
        raise CsvHeaderError(f"bad header ({exc}); expected {','.join(CSV_COLUMNS)}") from None
    header = check_header(names)
    for lineno, (raw, too_long) in physical:
        if too_long:
            reason, point = f"line longer than {max_line_length} characters", None
        elif not raw.strip():
            continue
        else:
            reason, point = _check_line(lineno, raw, header, now, future_tolerance)
        if point is None:
            on_reject(Reject(lineno, cap(reason, REASON_SHOWN), cap(raw, RAW_SHOWN)))
        else:
            yield point


def physical_lines(lines: Iterable[str], limit: int) -> Iterator[tuple[str, bool]]:
    """Each line without its line break, and whether it is longer than ``limit`` characters
    (then only its first ``limit + 1`` are returned). A text file is read ``limit + 1``
    characters at a time, so a longer line is never held whole."""
    if not isinstance(lines, io.TextIOBase):
        for line in lines:
            text = line.rstrip("\r\n")
            yield (text[: limit + 1], True) if len(text) > limit else (text, False)
        return
    after_cr = False  # a piece ended with \r: a \n alone next is the rest of a \r\n
    while piece := lines.readline(limit + 1):
        if after_cr and piece == "\n":
            after_cr = False
            continue
        text = piece.rstrip("\r\n")
        too_long = len(text) > limit  # limit + 1 characters and no line break yet
        if too_long:  # skip the rest of the line
            while piece and not piece.endswith(("\n", "\r")):
                piece = lines.readline(_SKIP_PIECE)
        after_cr = piece.endswith("\r")
        yield text, too_long


def _check_line(
    lineno: int, raw: str, header: list[str], now: datetime, future_tolerance: timedelta
) -> tuple[str, TelemetryPoint | None]:
    """:func:`_parse_line`, and a line it fails on rejected rather than the import stopped."""
    try:
        return _parse_line(raw, header, now, future_tolerance)
    except Exception as exc:  # a bug: said loudly, but one line must not abort the import
        log.exception("line %d: unexpected error", lineno)
        return f"unexpected error: {type(exc).__name__}: {exc}", None


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
