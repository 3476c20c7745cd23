"""`fleet bench`'s pure parts: reading each tool's output, the statistics and the table. The
outputs are captured from real runs on the lab (latte 0.29, cqlsh 6.2, `fleet etl batch`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from fleet.benchmark import (
    BenchError,
    RunResult,
    from_copy_output,
    from_etl_summary,
    from_latte_report,
    render_markdown,
    run_process,
    spread,
    summarize,
    workload_path,
)

FIXTURES = Path(__file__).parent / "fixtures"
# `fleet etl batch --records 50000 --json` on the lab (the fields fleet bench reads)
ETL_SUMMARY = {
    "records_written": 50000,
    "records_failed": 0,
    "records_rejected": 0,
    "requests": 626,
    "rows_written": 59042,
    "elapsed_s": 6.784,
    "latency_ms": {"p50": 272.414, "p95": 433.268, "p99": 480.822},
}
COPY_OUTPUT = (
    "Starting copy of fleet_bench.copy_readings with columns [fleet_id, device_id].\n"
    "Processed: 20000 rows; Rate:   10281 rows/s; Avg. rate:    6751 rows/s\n\n"
    "20000 rows imported from 1 files in 0 day, 0 hour, 0 minute, and 2.963 seconds (0 skipped).\n"
)


def test_an_etl_summary_is_a_run() -> None:
    run = from_etl_summary("etl", ETL_SUMMARY, cpu_s=2.8)
    assert (run.records, run.rows, run.requests, run.failed) == (50000, 59042, 626, 0)
    assert run.records_per_s == pytest.approx(50000 / 6.784)
    assert run.cpu_per_1000 == pytest.approx(0.056)
    assert run.latency_ms == {"p50": 272.414, "p95": 433.268, "p99": 480.822}


def test_a_latte_report_is_a_run() -> None:
    report = json.loads((FIXTURES / "latte-0.29-report.json").read_text(encoding="utf-8"))
    run = from_latte_report(report, cpu_s=0.5)
    assert (run.tool, run.records, run.rows, run.requests, run.failed) == (
        "latte",
        20000,
        20000,
        20000,
        0,
    )
    assert run.elapsed_s == pytest.approx(17.299, abs=1e-3)
    assert run.latency_ms["p50"] == pytest.approx(34.832, abs=1e-3)  # request latency
    assert run.latency_ms["p50"] <= run.latency_ms["p95"] <= run.latency_ms["p99"]


@pytest.mark.parametrize(
    ("line", "seconds"),
    [
        (COPY_OUTPUT, 2.963),
        (
            "5 rows imported from 1 files in 1 day, 2 hours, 3 minutes, and 2.5 seconds "
            "(0 skipped).",
            93782.5,
        ),
        ("50 rows imported from 1 files in 0.5 seconds (0 skipped).", 0.5),  # older cqlsh
    ],
)
def test_copy_from_closing_line(line: str, seconds: float) -> None:
    run = from_copy_output(line, lines=int(line.split(" rows imported")[0].split()[-1]), cpu_s=1)
    assert run.elapsed_s == pytest.approx(seconds)
    assert run.failed == 0


def test_copy_without_its_closing_line_is_an_error_not_a_zero() -> None:
    with pytest.raises(BenchError, match="no closing line"):
        from_copy_output("Failed to import 20000 rows", lines=20000, cpu_s=1)


def _run(tool: str, records: int, elapsed: float, **extra: Any) -> RunResult:
    return RunResult(tool, records, records, records, 0, elapsed, 1.0, {"p50": 1.0}, **extra)


def test_summary_medians_spread_and_ratio_in_the_table() -> None:
    runs = [
        _run("etl", 50000, 10.0, load_before=1.5),
        _run("latte", 50000, 40.0, load_before=1.2),
        _run("etl", 50000, 12.5, load_before=1.4),
        _run("latte", 50000, 50.0, load_before=1.3),
        _run("etl", 50000, 8.0, load_before=1.1),
        _run("latte", 50000, 45.0, load_before=1.0),
    ]
    summary = summarize(runs)
    assert summary["etl"]["records_per_s"]["median"] == pytest.approx(5000)
    assert summary["latte"]["rows_per_s"]["median"] == pytest.approx(50000 / 45)
    assert "p95_ms" not in summary["etl"]  # never measured: left out, not zero
    assert spread([1.0, 2.0, 4.0]) == {"median": 2.0, "min": 1.0, "max": 4.0, "spread_pct": 150.0}
    report = {
        "started": "2026-12-02T10:00:00+00:00",
        "command": "make bench",
        "cluster": "4 nodes",
        "runs": 3,
        "data_sets": [
            {
                "name": "lab-fleets",
                "description": "the lab's fleets",
                "runs": [r.__dict__ for r in runs],
                "summary": summary,
                "ratios": ["ETL ÷ latte: **4.50**"],
            }
        ],
    }
    table = render_markdown(report)
    assert "| etl | 5,000 (4,000-6,250) |" in table
    assert "- ETL ÷ latte: **4.50**" in table
    assert "load average before the runs: 1.00-1.50" in table


def test_run_process_measures_the_child_cpu_and_keeps_its_output(tmp_path: Path) -> None:
    burn = "x = sum(i * i for i in range(3_000_000)); print('done', x > 0)"
    code, cpu, out = run_process([sys.executable, "-c", burn], {}, tmp_path)
    assert code == 0 and "done True" in out
    assert cpu > 0.05  # the child's own CPU, measured by wait4


def test_the_latte_workload_ships_with_the_package() -> None:
    text = workload_path().read_text(encoding="utf-8")
    assert "telemetry_by_device_day" in text and "pub async fn run(ctx, i)" in text


def test_latte_and_cqlsh_use_tls_with_the_apps_ca_when_it_does(tmp_path) -> None:
    from fleet.benchmark import tls_args_cqlsh, tls_args_latte, tls_env_cqlsh
    from fleet.config import load_settings
    from tls_material import issue_certificates

    plain = load_settings({"FLEET_LOCAL_DC": "dc1"})
    assert tls_args_latte(plain) == tls_args_cqlsh(plain) == [] and tls_env_cqlsh(plain) == {}
    ca, _, _ = issue_certificates(tmp_path, "127.0.0.1")
    tls = load_settings({"FLEET_LOCAL_DC": "dc1", "FLEET_TLS_CA_FILE": str(ca)})
    assert tls_args_latte(tls) == ["--ssl", "--ssl-ca", str(ca)]
    assert tls_args_cqlsh(tls) == ["--ssl"]
    assert tls_env_cqlsh(tls) == {"SSL_CERTFILE": str(ca), "SSL_VALIDATE": "true"}
