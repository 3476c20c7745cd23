from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest

from fleet.csv_source import (
    CSV_COLUMNS,
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
