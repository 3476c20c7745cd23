"""Properties of issue 19: no input stops an import, the generator or the stream's source.

Whole files are generated as bytes (valid rows, rows broken in one known way, arbitrary text and
bytes, long and blank lines, any line breaks) and imported through the real path (``run_import``
on the in-memory Cassandra of conftest, and ``check_csv``): every non-blank line is loaded or
rejected with a reason, a valid row is always loaded, and only loaded rows reach the tables.
Which lines a file holds is worked out here independently (a regular expression over the bytes).
"""

from __future__ import annotations

import csv
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.csv_source import (
    CSV_COLUMNS,
    MAX_LINE_LENGTH,
    RAW_SHOWN,
    REASON_SHOWN,
    CsvHeaderError,
)
from fleet.etl import EtlOptions, EtlRun, check_csv, run_import
from fleet.generator import FleetSimulator, generate_history
from fleet.model import CITIES, TelemetryPoint
from fleet.schema import TELEMETRY_BY_DEVICE
from fleet.session import Connection
from fleet.transform import RANGES, validate_point

# A run of the whole file takes ~15 s here on 2 slow cores; the fixtures (db, tmp_path) are
# shared by a test's examples, which clear what they use.
PROPERTIES = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
OPTIONS = EtlOptions(progress_interval_s=0, rollups=False, chunk_size=7)
POINT_FIELDS = tuple(f.name for f in fields(TelemetryPoint))
FLEETS = tuple(f"FLEET_{name}" for name in CITIES)
_BREAK = re.compile(rb"\r\n|\r|\n")  # universal newlines, as open_csv reads
_TEXT_BREAK = re.compile(r"\r\n|\r|\n")

# ----------------------------------------------------------------------------- strategies

ALNUM = string.ascii_letters + string.digits
ID_CHARS = ALNUM + "_.:-"
OFFSETS = st.integers(-86_399, 86_399).map(lambda s: timezone(timedelta(seconds=s)))
# Valid readings are older than the import's clock; milliseconds, as stored.
INSTANTS = st.datetimes(datetime(2000, 1, 2), datetime(2024, 12, 31)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=UTC)
)


def ids(max_size: int) -> st.SearchStrategy[str]:
    return st.builds(str.__add__, st.sampled_from(ALNUM), st.text(ID_CHARS, max_size=max_size))


def iso(instant: datetime, tz: tzinfo, sep: str, spec: str, zulu: bool) -> str:
    text = instant.astimezone(tz).isoformat(sep, spec)
    return text[:-6] + "Z" if zulu and text.endswith("+00:00") else text


def valid_numbers(low: float, high: float) -> st.SearchStrategy[str]:
    formatted = st.floats(low, high).flatmap(
        lambda x: st.sampled_from([repr(x), f"{x:.6f}", f"{x:e}"])
    )
    tiny = st.sampled_from(["5e-324", "1e-400", "-0.0", "0", "+0.5", ".5", "5.", "0e0"])
    return st.one_of(formatted, tiny)


VALID_TEXT: dict[str, st.SearchStrategy[str]] = {
    "fleet_id": ids(63),
    "model": ids(63),
    "zone": ids(63),
    "ts": st.builds(
        iso,
        INSTANTS,
        OFFSETS,
        st.sampled_from("T "),
        st.sampled_from(["auto", "milliseconds"]),
        st.booleans(),
    ),
    "battery_pct": st.integers(0, 100).flatmap(
        lambda n: st.sampled_from([str(n), f"+{n}", f"{n:03d}"])
    ),
    **{name: valid_numbers(*RANGES[name]) for name in RANGES if name != "battery_pct"},
}
# How a field is written: padding is stripped, quotes are CSV's.
DECORATIONS = st.sampled_from(["{}", " {} ", "\t{}", '"{}"', '" {} "'])


def out_of_range(low: float, high: float) -> st.SearchStrategy[str]:
    above = st.floats(min_value=high, exclude_min=True, allow_infinity=False)
    below = st.floats(max_value=low, exclude_max=True, allow_infinity=False)
    return st.one_of(above, below).map(repr)


def timestamp_text(low: datetime, high: datetime) -> st.SearchStrategy[str]:
    instants = st.datetimes(low, high).map(lambda d: d.replace(tzinfo=UTC))
    return st.builds(iso, instants, OFFSETS, st.just("T"), st.just("auto"), st.booleans())


BAD_NUMBERS = st.one_of(
    st.sampled_from(
        ("nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1e999", "", "abc", "4_5", "0x1p3")
    ),
    st.sampled_from(("\u0663", "\uff11", "1.2.3", "--1", "1e", "e1", ".")),
    st.integers(309, 2000).map(lambda n: "9" * n),  # beyond the float range
)
BAD_IDS = st.one_of(
    st.sampled_from(["", " ", "-lead", ".x", "a b", "a\x00b", "\ufeffa", "\u00e9", "a/b", 'a"b']),
    st.text(ID_CHARS, min_size=64, max_size=100).map(lambda s: "A" + s),
)
BAD_TEXT: dict[str, st.SearchStrategy[str]] = {
    "fleet_id": BAD_IDS,
    "device_id": BAD_IDS,
    "model": BAD_IDS,
    "zone": BAD_IDS,
    "ts": st.one_of(
        st.sampled_from(
            ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "16/06/2025", "", "T")
        ),
        st.sampled_from(("0001-01-01T00:00:00+00:00:01", "9999-12-31T23:59:59.999999-00:00:01")),
        st.sampled_from(("2025-13-01T00:00:00Z", "2025-06-16T08:00:00+24:00", "+10000-01-01T00Z")),
        st.sampled_from(("2025-06-16x08:00:00Z", '2025-06-16T08:00:00"+02:00', "20250616T0800Z")),
        INSTANTS.map(lambda d: d.replace(tzinfo=None).isoformat()),  # no timezone
        timestamp_text(datetime(1, 1, 2), datetime(1999, 12, 31, 23)),  # too old
        timestamp_text(datetime(2200, 1, 1), datetime(9999, 12, 30)),  # in the future
    ),
    "battery_pct": st.one_of(
        st.sampled_from(["50.5", "1e2", "", "x", "\u0667\u0660", "+-1", "0x10", "1_0", "nan"]),
        st.integers(101, 10**30).map(str),
        st.integers(-(10**30), -1).map(str),
    ),
    **{
        name: st.one_of(BAD_NUMBERS, out_of_range(*RANGES[name]))
        for name in RANGES
        if name != "battery_pct"
    },
}
INVALID_UTF8 = st.sampled_from([b"\xff", b"\xfe", b"\x80", b"\xbf", b"\xc0", b"\xf5", b"\xe2\x82"])
JUNK_ALPHABET = list(',"\ufeff\x00 \t\r\nab019.-+:eEZT')  # no digit 2: never a valid timestamp
JUNK = st.one_of(
    st.binary(max_size=120),
    st.text(max_size=120).map(lambda t: t.encode("utf-8")),
    st.lists(st.text(st.sampled_from(JUNK_ALPHABET), max_size=12), max_size=14).map(
        lambda parts: ",".join(parts).encode("utf-8")
    ),
    st.tuples(st.text(min_size=1, max_size=4), st.integers(1, 3 * MAX_LINE_LENGTH)).map(
        lambda t: (t[0] * t[1])[: t[1]].encode("utf-8", "surrogatepass")
    ),
    st.sampled_from([b"", b" ", b"\t", b"  \t ", b"\xef\xbb\xbf", b"\x00"]),
)
BREAKS = st.sampled_from([b"\n", b"\r\n", b"\r"])


@dataclass
class ImportFile:
    data: bytes = b""
    valid: dict[int, TelemetryPoint] = field(default_factory=dict)  # by byte offset
    broken: list[int] = field(default_factory=list)  # byte offsets

    def line_at(self, offset: int) -> int:
        return 1 + len(_BREAK.findall(self.data, 0, offset))


def row_text(draw: st.DrawFn, header: list[str], values: dict[str, str]) -> str:
    return ",".join(draw(DECORATIONS).format(values[name]) for name in header)


def valid_values(draw: st.DrawFn, index: int) -> dict[str, str]:
    values = {name: draw(strategy) for name, strategy in VALID_TEXT.items()}
    values["device_id"] = f"{draw(ids(40))}-{index}"  # a key of its own
    return values


def expected_point(values: dict[str, str]) -> TelemetryPoint:
    ts = datetime.fromisoformat(values["ts"].replace("Z", "+00:00")).astimezone(UTC)
    return TelemetryPoint(
        **{name: values[name] for name in ("fleet_id", "device_id", "model", "zone")},
        ts=ts,
        battery_pct=int(values["battery_pct"]),
        **{name: float(values[name]) for name in RANGES if name != "battery_pct"},
    )


def broken_row(draw: st.DrawFn, header: list[str], index: int) -> bytes:
    """A valid row broken in one way that no parser may let through."""
    values = valid_values(draw, index)
    how = draw(st.sampled_from(["field", "comma", "no comma", "quote", "bom", "nul", "bytes"]))
    if how == "field":
        name = draw(st.sampled_from(CSV_COLUMNS))
        values[name] = draw(BAD_TEXT[name])
    line = row_text(draw, header, values)
    if how == "no comma":
        commas = [i for i, c in enumerate(line) if c == ","]
        at = draw(st.sampled_from(commas))
        line = line[:at] + line[at + 1 :]
    elif how in ("comma", "quote", "bom", "nul"):
        at = draw(st.integers(0, len(line)))
        insert = {"comma": ",", "quote": '"', "bom": "\ufeff", "nul": "\x00"}[how]
        line = line[:at] + insert + line[at:]
    encoded = line.encode("utf-8")
    if how == "bytes":  # rows are ASCII: any byte offset is a character boundary
        at = draw(st.integers(0, len(encoded)))
        encoded = encoded[:at] + draw(INVALID_UTF8) + encoded[at:]
    return encoded


@st.composite
def import_files(draw: st.DrawFn, limit: int = MAX_LINE_LENGTH) -> ImportFile:
    header = list(draw(st.permutations(CSV_COLUMNS)))
    bom = draw(st.sampled_from(["", "\ufeff", "\ufeff\ufeff"]))
    names = ",".join(draw(st.sampled_from(["{}", " {} ", '"{}"'])).format(n) for n in header)
    file = ImportFile((bom + names).encode("utf-8") + draw(BREAKS))
    count = draw(st.integers(0, 25))
    for index in range(count):
        kind = draw(st.sampled_from(["valid", "broken", "long", "junk"]))
        offset = len(file.data)
        if kind == "valid":
            values = valid_values(draw, index)
            file.valid[offset] = expected_point(values)
            line = row_text(draw, header, values).encode("utf-8")
        elif kind == "long":  # valid if it were read whole: padding is stripped
            values = valid_values(draw, index)
            line = row_text(draw, header, values).encode("utf-8")
            line += b" " * (limit + 1 - len(line) + draw(st.integers(0, 2 * limit)))
            file.broken.append(offset)
        elif kind == "broken":
            line = broken_row(draw, header, index)
            file.broken.append(offset)
        else:
            line = draw(JUNK)
        last = index == count - 1
        file.data += line + (draw(st.sampled_from([b"", b"\n"])) if last else draw(BREAKS))
    return file


def data_lines(data: bytes, limit: int = MAX_LINE_LENGTH) -> dict[int, str]:
    """The lines an import must load or reject, by number: not blank, or too long."""
    lines = _TEXT_BREAK.split(data.decode("utf-8-sig", "surrogateescape"))
    return {n: line for n, line in enumerate(lines[1:], 2) if len(line) > limit or line.strip()}


def shown(line: str) -> str:
    return line[:RAW_SHOWN] + ("\u2026" if len(line) > RAW_SHOWN else "")


def read_rejects(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as handle:
        return list(csv.DictReader(handle))


def clear(db: Any, *paths: Path) -> None:
    for rows in db.tables.values():
        rows.clear()
    for path in paths:
        path.unlink(missing_ok=True)


def stored_points(db: Any) -> dict[str, dict[str, object]]:
    """The readings in ``telemetry_by_device_day``, by device, as far as their columns go."""
    rows = db.select(TELEMETRY_BY_DEVICE.name)
    return {str(r["device_id"]): {k: v for k, v in r.items() if k in POINT_FIELDS} for r in rows}


# ----------------------------------------------------------------------------- the CSV path


@PROPERTIES
@given(file=import_files())
def test_every_line_is_loaded_or_rejected_and_only_loaded_lines_are_stored(
    file: ImportFile, db: Any, connection: Callable[..., Connection], tmp_path: Path
) -> None:
    source, rejects, dry = tmp_path / "in.csv", tmp_path / "rejects.csv", tmp_path / "dry.csv"
    clear(db, rejects, dry)
    source.write_bytes(file.data)

    result, rejected = run_import(connection(), source, rejects, OPTIONS)

    lines = data_lines(file.data)
    m = result.metrics
    assert result.ok and m.records_rejected == rejected
    assert m.records_written + rejected == len(lines)
    expected = {p.device_id: p for p in file.valid.values()}
    stored = stored_points(db)
    assert m.records_written == len(expected) and set(stored) == set(expected)
    assert stored == {d: {k: getattr(p, k) for k in stored[d]} for d, p in expected.items()}
    reported = {int(r["line"]): r for r in read_rejects(rejects)}
    assert len(reported) == rejected and set(reported) <= set(lines)
    assert {file.line_at(o) for o in file.broken} <= set(reported)
    assert not {file.line_at(o) for o in file.valid} & set(reported)
    for number, reject in reported.items():
        assert reject["raw"] == shown(lines[number])
        assert 0 < len(reject["reason"]) <= REASON_SHOWN + 1
        assert not reject["reason"].startswith("unexpected error"), reject
    assert check_csv(source, dry) == (m.records_written, rejected)


HEADER_PARTS = st.lists(
    st.one_of(
        st.sampled_from(CSV_COLUMNS),
        st.sampled_from(["", " ", '"', "\ufeff", "\x00", "zone\x00", "lat,lat", "\u00e9"]),
        st.text(max_size=8),
    ),
    max_size=14,
)


@PROPERTIES
@given(
    first=st.one_of(
        HEADER_PARTS.map(lambda parts: ",".join(parts).encode("utf-8", "surrogatepass")),
        st.binary(max_size=200),
        st.integers(MAX_LINE_LENGTH - 100, MAX_LINE_LENGTH + 100).map(lambda n: b"a," * n),
    ),
    rest=JUNK,
)
def test_any_first_line_is_a_header_or_stops_the_import_before_any_write(
    first: bytes, rest: bytes, db: Any, connection: Callable[..., Connection], tmp_path: Path
) -> None:
    source, rejects = tmp_path / "in.csv", tmp_path / "rejects.csv"
    clear(db, rejects)
    row = b"FLEET_LYON,LYON-0001,GPS-TX-1,2024-06-16T08:00:00Z,45.7,4.8,10,90,70,20,LYON-E"
    source.write_bytes(first + b"\n" + row + b"\n" + rest)
    try:
        result, rejected = run_import(connection(), source, rejects, OPTIONS)
    except CsvHeaderError:
        assert all(not rows for rows in db.tables.values())
        assert not rejects.exists()
        return
    assert result.ok
    assert result.metrics.records_written + rejected == len(data_lines(source.read_bytes()))


# ----------------------------------------------------------------------------- validation

HUGE_INT = st.integers(0, 9).map(lambda k: 10**4000 + k)  # big, within the int-string limit
EXTREME_TIMES = st.builds(
    lambda d, tz: d.replace(tzinfo=tz),
    st.sampled_from([datetime.min, datetime.max]),
    st.one_of(st.none(), OFFSETS),
)
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE_INT,
    st.floats(),
    st.text(max_size=80),
    st.binary(max_size=16),
    st.datetimes(),
    st.datetimes(timezones=OFFSETS),
    EXTREME_TIMES,
    st.dates(),
    st.timedeltas(),
    st.lists(st.integers(), max_size=3),
)


@PROPERTIES
@given(values=st.fixed_dictionaries({name: ANY_VALUE for name in POINT_FIELDS}))
def test_validate_point_answers_for_any_field_values(values: dict[str, Any]) -> None:
    reasons = validate_point(TelemetryPoint(**values), now=datetime.now(UTC))
    assert isinstance(reasons, list) and all(isinstance(r, str) for r in reasons)


VALID_POINT_FIELDS: dict[str, Any] = {
    **dict.fromkeys(("fleet_id", "device_id", "model", "zone"), "X1"),
    "ts": datetime(2024, 1, 1, tzinfo=UTC),
    **dict.fromkeys(("lat", "lon", "speed_kmh", "heading_deg", "temp_c"), 1.0),
    "battery_pct": 50,
}


# Found by these properties in validate_point (fleet.transform), fixed since.
def test_validate_point_with_an_int_beyond_the_int_string_limit() -> None:
    point = TelemetryPoint(**{**VALID_POINT_FIELDS, "battery_pct": 10**4300})
    assert validate_point(point, now=datetime.now(UTC))


class NoOffset(tzinfo):
    def utcoffset(self, dt: datetime | None) -> None:
        return None


def test_validate_point_with_a_timezone_without_offset() -> None:
    point = TelemetryPoint(**{**VALID_POINT_FIELDS, "ts": datetime(2024, 1, 1, tzinfo=NoOffset())})
    assert validate_point(point, now=datetime.now(UTC)) == [
        f"ts {point.ts!r}: a timezone-aware timestamp expected"
    ]


def test_an_id_with_a_trailing_newline_is_rejected() -> None:
    point = TelemetryPoint(**{**VALID_POINT_FIELDS, "fleet_id": "FLEET_LYON\n"})
    assert validate_point(point, now=datetime.now(UTC))


# ----------------------------------------------------------------------------- the generator

FLEET_LISTS = st.lists(st.sampled_from(FLEETS), min_size=1, max_size=3, unique=True)
INTERVALS = st.floats(1e-6, 7 * 86_400.0)


@PROPERTIES
@given(
    fleets=FLEET_LISTS,
    devices=st.integers(1, 3),
    seed=st.integers(0, 2**63 - 1),
    records=st.integers(0, 60),
    end=st.datetimes(datetime(2005, 1, 1), datetime(2100, 1, 1), timezones=OFFSETS),
    interval=INTERVALS,
)
def test_generated_history_is_valid(
    fleets: list[str], devices: int, seed: int, records: int, end: datetime, interval: float
) -> None:
    points = list(generate_history(fleets, devices, seed, records, end, interval))
    assert len(points) == records
    for point in points:
        assert point.ts <= end
        assert validate_point(point, now=end) == [], point


TICK_GAPS = st.lists(st.integers(1, 7 * 86_400 * 10**6), min_size=1, max_size=6)  # microseconds


def simulated(
    fleets: list[str], devices: int, seed: int, start: datetime, interval: float, gaps: list[int]
) -> list[TelemetryPoint]:
    """The stream's source: ticks at the given wall-clock gaps after ``start``."""
    simulator = FleetSimulator(fleets, devices, seed, start, interval)
    points: list[TelemetryPoint] = []
    at = start
    for gap in gaps:
        at += timedelta(microseconds=gap)
        tick = simulator.tick(at=at)
        assert len(tick) == len(fleets) * devices
        assert all(p.ts <= at and validate_point(p, now=at) == [] for p in tick), tick
        points.extend(tick)
    return points


@PROPERTIES
@given(
    fleets=FLEET_LISTS,
    devices=st.integers(1, 3),
    seed=st.integers(0, 2**63 - 1),
    start=st.datetimes(datetime(2000, 1, 2), datetime(2100, 1, 1), timezones=OFFSETS),
    interval=INTERVALS,
    gaps=TICK_GAPS,
)
def test_stream_source_ticks_at_any_times_give_valid_readings(
    fleets: list[str], devices: int, seed: int, start: datetime, interval: float, gaps: list[int]
) -> None:
    simulated(fleets, devices, seed, start, interval, gaps)


@PROPERTIES
@given(
    fleets=FLEET_LISTS,
    seed=st.integers(0, 2**63 - 1),
    start=st.datetimes(datetime(2000, 1, 2), datetime(2024, 1, 1), timezones=OFFSETS),
    gaps=TICK_GAPS,
    spoiled=st.lists(
        st.tuples(st.integers(0, 10**6), st.sampled_from(POINT_FIELDS), ANY_VALUE), max_size=8
    ),
)
def test_written_or_rejected_each_reading_once_never_an_exception(
    fleets: list[str],
    seed: int,
    start: datetime,
    gaps: list[int],
    spoiled: list[tuple[int, str, Any]],
    db: Any,
    connection: Callable[..., Connection],
) -> None:
    """EtlRun.write (batch and stream): generated readings, some with a field replaced by any
    value; the invalid ones are counted as rejected and never stored."""
    clear(db)
    points = simulated(fleets, 2, seed, start, 10.0, gaps)
    for index, name, value in spoiled:
        at = index % len(points)
        points[at] = replace(points[at], **{name: value})
    now = datetime.now(UTC)
    valid = {p.key for p in points if not validate_point(p, now=now)}

    run = EtlRun(connection(), "properties", OPTIONS)
    run.write(points)
    m = run.finish().metrics

    assert m.records_written + m.records_rejected == len(points)
    stored = {(r["device_id"], r["ts"]) for r in db.select(TELEMETRY_BY_DEVICE.name)}
    assert stored == valid
