from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from fleet.cli import cli
from fleet.csv_source import (
    CSV_COLUMNS,
    RAW_SHOWN,
    REASON_SHOWN,
    REJECT_COLUMNS,
    CsvHeaderError,
    LazyCsvFile,
    Reject,
    format_ts,
    open_csv,
    parse_ts,
    read_points,
    write_points,
)
from fleet.generator import generate_history
from fleet.model import TelemetryPoint

FIXTURE = Path(__file__).parent / "fixtures" / "bad_telemetry.csv"
NOW = datetime(2025, 6, 16, 9, 0, tzinfo=UTC)
HEADER = ",".join(CSV_COLUMNS)


def read_all(lines: list[str] | io.TextIOBase) -> tuple[list[TelemetryPoint], list[Reject]]:
    rejects: list[Reject] = []
    points = list(read_points(lines, now=NOW, on_reject=rejects.append))
    return points, rejects


def test_round_trip_is_exact() -> None:
    points = list(generate_history(("FLEET_PARIS", "FLEET_LYON"), 3, 5, 300, NOW))
    buffer = io.StringIO()
    assert write_points(points, buffer) == 300
    buffer.seek(0)
    read, rejects = read_all(buffer)
    assert rejects == []
    assert read == points


def test_fixture_bad_lines_are_reported_with_line_and_reason() -> None:
    with open_csv(FIXTURE) as lines:
        points, rejects = read_all(lines)
    assert len(points) == 10
    assert all(p.device_id for p in points)
    got = {r.line: r.reason for r in rejects}
    assert sorted(got) == [3, 5, 8, 10, 12, 14, 16, 18, 20]
    assert got[3] == "expected 11 fields, got 9"
    assert got[5] == "lat 'abc': not a number"
    assert got[8].startswith("lat 95.5 out of range")
    assert got[10] == "battery_pct '85.5': not an integer"
    assert "no timezone" in got[12]
    assert "in the future" in got[14]
    assert got[16] == "malformed CSV: unexpected end of data"
    assert got[18].startswith("device_id '': ")
    assert got[20].startswith("speed_kmh -5.0 out of range")
    raw_by_line = {r.line: r.raw for r in rejects}
    assert raw_by_line[5] == FIXTURE.read_text(encoding="utf-8").splitlines()[4]


def test_header_is_checked_before_any_row() -> None:
    with pytest.raises(CsvHeaderError, match=r"missing column.*zone"):
        read_all([HEADER.replace(",zone", ""), "whatever"])
    with pytest.raises(CsvHeaderError, match=r"unknown column.*colour"):
        read_all([HEADER + ",colour"])
    with pytest.raises(CsvHeaderError, match=r"duplicated column.*lat"):
        read_all([HEADER + ",lat"])
    with pytest.raises(CsvHeaderError, match="no header"):
        read_all([])


def test_columns_in_any_order_bom_crlf_and_blank_lines() -> None:
    columns = list(reversed(CSV_COLUMNS))
    row = {
        "fleet_id": "FLEET_LYON",
        "device_id": "LYON-0009",
        "model": "GPS-TX-2",
        "ts": "2025-06-16T10:15:00+02:00",
        "lat": "45.76",
        "lon": "4.83",
        "speed_kmh": "50",
        "heading_deg": "0",
        "battery_pct": "64",
        "temp_c": "19.5",
        "zone": "LYON-CENTER",
    }
    lines = [
        "\ufeff" + ",".join(columns) + "\r\n",
        "\r\n",
        ",".join(row[c] for c in columns) + "\r\n",
    ]
    points, rejects = read_all(lines)
    assert rejects == []
    assert points[0].ts == datetime(2025, 6, 16, 8, 15, tzinfo=UTC)
    assert points[0].speed_kmh == 50.0


def test_quoted_fields_and_invalid_utf8(tmp_path: Path) -> None:
    good = "FLEET_LYON,LYON-0001,GPS-TX-1,2025-06-16T08:00:00Z,45.7,4.8,10,90,70,20,LYON-E"
    path = tmp_path / "in.csv"
    path.write_bytes(
        (HEADER + "\n" + good.replace("GPS-TX-1", '"GPS-TX-1"') + "\n").encode()
        + b"FLEET_LYON,LYON-\xff01,GPS-TX-1,2025-06-16T08:00:00Z,45.7,4.8,10,90,70,20,LYON-E\n"
    )
    rejects_path = tmp_path / "rejects.csv"
    with (
        open_csv(path) as lines,
        LazyCsvFile(rejects_path, REJECT_COLUMNS, "surrogateescape") as out,
    ):
        points = list(read_points(lines, now=NOW, on_reject=out.write_reject))
    assert [p.model for p in points] == ["GPS-TX-1"]
    assert out.count == 1
    data = rejects_path.read_bytes()
    assert data.startswith(b"line,reason,raw\n3,not valid UTF-8,")
    assert b"LYON-\xff01" in data  # the original bytes are kept


def test_rejects_file_is_a_csv_with_line_reason_raw(tmp_path: Path) -> None:
    rejects_path = tmp_path / "rejects.csv"
    with open_csv(FIXTURE) as lines, LazyCsvFile(rejects_path, REJECT_COLUMNS) as out:
        list(read_points(lines, now=NOW, on_reject=out.write_reject))
    with rejects_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["line"]) for r in rows] == [3, 5, 8, 10, 12, 14, 16, 18, 20]
    assert all(r["reason"] and r["raw"] for r in rows)


def test_no_rejects_no_file(tmp_path: Path) -> None:
    with LazyCsvFile(tmp_path / "none.csv", REJECT_COLUMNS) as out:
        pass
    assert out.count == 0
    assert not (tmp_path / "none.csv").exists()


def test_timestamps() -> None:
    ts = parse_ts("2025-06-16T08:50:03.427891Z")
    assert ts == datetime(2025, 6, 16, 8, 50, 3, 427000, tzinfo=UTC)  # ms precision, like CQL
    assert format_ts(ts) == "2025-06-16T08:50:03.427Z"
    with pytest.raises(ValueError, match="no timezone"):
        parse_ts("2025-06-16T08:50:03")
    with pytest.raises(ValueError, match="not an ISO-8601"):
        parse_ts("16/06/2025")


def test_shipped_sample_is_valid() -> None:
    sample = resources.files("fleet").joinpath("data/sample_telemetry.csv")
    with sample.open("r", encoding="utf-8") as lines:
        points, rejects = read_all(lines)
    assert rejects == []
    assert len(points) >= 300
    assert {p.fleet_id for p in points} == {"FLEET_PARIS", "FLEET_LYON"}


GOOD_ROW = dict(
    zip(
        CSV_COLUMNS,
        (
            *("FLEET_LYON", "LYON-0001", "GPS-TX-1", "2025-06-16T08:00:00Z"),
            *("45.7", "4.8", "10", "90", "70", "20", "LYON-E"),
        ),
        strict=True,
    )
)


def row_with(**values: str) -> str:
    return ",".join({**GOOD_ROW, **values}[c] for c in CSV_COLUMNS)


@pytest.mark.parametrize(
    ("line", "reason"),
    [  # each of these raised out of read_points, or was loaded, before issue 19
        (row_with(ts="0001-01-01T00:00:00+14:00"), "ts '0001-01-01T00:00:00+14:00': out of range"),
        (row_with(ts="9999-12-31T23:59:59-14:00"), "ts '9999-12-31T23:59:59-14:00': out of range"),
        (row_with(battery_pct="9" * 4301), "battery_pct '999"),  # int-string conversion limit
        (row_with(lat="9" * 400), "lat '999"),  # inf
        (row_with(lat="nan"), "lat 'nan': not a number"),
        (row_with(speed_kmh="-inf"), "speed_kmh '-inf': not a number"),
        (row_with(lat="4_5.7"), "lat '4_5.7': not a number"),  # was 45.7
        (row_with(ts='2025-06-16T08:00:00"+02:00'), "ts '2025-06-16T08:00:00\"+02:00': not an"),
        (
            row_with(battery_pct="\u0667\u0660"),
            "battery_pct '\u0667\u0660': not an integer",
        ),  # was 70
        (row_with(zone="LYON\x00E"), "zone 'LYON\\x00E'"),
        (row_with(zone="\ufeffLYON-E"), "zone '\\ufeffLYON-E'"),
        (row_with(zone='"LYON-E'), "malformed CSV: unexpected end of data"),
        (row_with(zone="LYON-\udcff"), "not valid UTF-8"),
    ],
)
def test_inputs_that_once_crashed_or_loaded_are_rejected(line: str, reason: str) -> None:
    rejects: list[Reject] = []
    points = list(
        read_points([HEADER, line], now=NOW, on_reject=rejects.append, max_line_length=10_000)
    )
    assert points == []
    assert len(rejects) == 1 and rejects[0].line == 2
    assert rejects[0].reason.startswith(reason)
    assert len(rejects[0].reason) <= REASON_SHOWN + 1
    assert rejects[0].raw == line[:RAW_SHOWN] + ("\u2026" if len(line) > RAW_SHOWN else "")


class SpyText(io.TextIOWrapper):
    """Records the longest piece a read returned."""

    longest = 0

    def readline(self, size: int | None = -1, /) -> str:
        piece = super().readline(-1 if size is None else size)
        self.longest = max(self.longest, len(piece))
        return piece


def test_a_line_over_the_limit_is_rejected_unread_and_numbering_goes_on() -> None:
    good = row_with()
    long_line = row_with(zone="LYON-E" + " " * 2_000_000)  # valid once stripped, if read whole
    at_limit = "x" * 4096  # fits: read with its \r\n, which a piece may split
    data = f"{HEADER}\r\n{good}\r\n{long_line}\r\n{good}\r{at_limit}\r\n\ny\n{good}"
    stream = SpyText(io.BytesIO(data.encode()), encoding="utf-8", newline="")
    rejects: list[Reject] = []
    points = list(read_points(stream, now=NOW, on_reject=rejects.append))
    assert len(points) == 3
    assert [(r.line, r.reason) for r in rejects] == [
        (3, "line longer than 4096 characters"),
        (5, "expected 11 fields, got 1"),
        (7, "expected 11 fields, got 1"),
    ]
    assert rejects[0].raw == long_line[:RAW_SHOWN] + "\u2026"
    assert stream.longest <= 65536  # never the whole 2 MB line


def test_line_limit_at_its_edge_with_every_line_break() -> None:
    fits, over = row_with(zone="LYON-E" + " " * 40), row_with(zone="LYON-E" + " " * 41)
    size = len(over)
    for limit in (size - 1, size):
        for brk in ("\n", "\r\n", "\r"):
            data = brk.join([HEADER, fits, over, fits]) + brk
            stream = io.TextIOWrapper(io.BytesIO(data.encode()), encoding="utf-8", newline="")
            rejects: list[Reject] = []
            points = list(
                read_points(stream, now=NOW, on_reject=rejects.append, max_line_length=limit)
            )
            expected = [3] if limit < size else []
            assert [r.line for r in rejects] == expected, (limit, brk)
            assert len(points) == 3 - len(expected)


def test_a_header_over_the_limit_is_a_header_error() -> None:
    with pytest.raises(CsvHeaderError, match="header line longer than 20 characters"):
        list(read_points([HEADER], now=NOW, on_reject=pytest.fail, max_line_length=20))
    with pytest.raises(CsvHeaderError, match="missing column"):
        read_all(["\ufeff\ufeff\r\n", row_with()])


def test_import_dry_run_takes_the_line_limit(tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    args = ["etl", "import", str(FIXTURE), "--dry-run", "--rejects", str(rejects)]
    result = CliRunner().invoke(cli, [*args, "--max-line-length", "85"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("0 valid, 19 rejected")  # every valid row has 97 or more
    assert "line longer than 85 characters" in rejects.read_text(encoding="utf-8")
    result = CliRunner().invoke(cli, [*args, "--max-line-length", "20"])
    assert result.exit_code == 2 and "header line longer than 20 characters" in result.output
