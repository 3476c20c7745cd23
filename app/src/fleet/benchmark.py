"""``fleet bench``: the ETL side by side with latte, and ``fleet etl import`` with cqlsh COPY.

What is compared, on one cluster, in one run:

- ``fleet etl batch --records N`` (the default path, rollups included) against latte writing
  the same readings, one prepared INSERT each, into the same table of the same keyspace at the
  same consistency, DC, contact points and concurrency (``telemetry.rn``, shipped with the
  package);
- ``fleet etl import FILE`` against ``cqlsh -e "COPY ... FROM FILE"`` of the same generated CSV.

Runs alternate (ETL, latte, ETL, latte, ...), so that a drift of the cluster (compaction, a
JIT warming up) weighs on both alike, and each starts on empty tables (TRUNCATE). Each run is
its own process, started as a user would; its client CPU is that process's user + system time
(``wait4``). The machine's load average is recorded before each run. Everything measured goes
to a JSON file, and a Markdown table is printed from it (:func:`render_markdown`).

Pure parts (parsers, statistics, the table) are unit-tested on captured outputs; running it
needs a cluster, latte and cqlsh: ``make bench`` (playbooks/bench.yml) provides all three and
stops the lab's streaming ETL and dashboard meanwhile.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from fleet.config import Settings
from fleet.csv_source import CSV_COLUMNS
from fleet.model import to_millis
from fleet.schema import ALL_TABLES, TELEMETRY_BY_DEVICE, render_schema

# The table COPY FROM loads: the CSV's columns, one partition per device (the CSV has no day).
COPY_TABLE = "copy_readings"
COPY_TABLE_CQL = (
    "CREATE TABLE IF NOT EXISTS {ks}.copy_readings (fleet_id text, device_id text, model text, "
    "ts timestamp, lat double, lon double, speed_kmh double, heading_deg double, "
    "battery_pct int, temp_c double, zone text, PRIMARY KEY ((device_id), ts))"
)
LATENCY_KEYS = ("p50", "p95", "p99")


class BenchError(RuntimeError):
    """A run failed or its output could not be read: the message says which and why."""


@dataclass(frozen=True)
class RunResult:
    tool: str  # etl, latte, import, copy
    records: int  # readings loaded (latte: cycles, one reading each)
    rows: int  # CQL rows acknowledged
    requests: int  # None-free: COPY's requests are not reported, 0
    failed: int
    elapsed_s: float
    cpu_s: float  # the client process's user + system time
    latency_ms: dict[str, float | None] = field(default_factory=dict)  # per request
    load_before: float | None = None  # 1-minute load average when the run started

    @property
    def records_per_s(self) -> float:
        return self.records / self.elapsed_s

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.elapsed_s

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.elapsed_s

    @property
    def cpu_per_1000(self) -> float:
        return 1000 * self.cpu_s / max(self.records, 1)

    def figures(self) -> dict[str, float | None]:
        return {
            "records_per_s": self.records_per_s,
            "rows_per_s": self.rows_per_s,
            "requests_per_s": self.requests_per_s,
            "cpu_s_per_1000": self.cpu_per_1000,
            "elapsed_s": self.elapsed_s,
            **{f"{k}_ms": self.latency_ms.get(k) for k in LATENCY_KEYS},
        }


# ----------------------------------------------------------------------------- parsing


def from_etl_summary(tool: str, summary: Mapping[str, Any], cpu_s: float) -> RunResult:
    """A run of ``fleet etl batch|import --json`` from its summary."""
    latency = summary.get("latency_ms") or {}
    return RunResult(
        tool=tool,
        records=int(summary["records_written"]),
        rows=int(summary["rows_written"]),
        requests=int(summary["requests"]),
        failed=int(summary["records_failed"]) + int(summary.get("records_rejected", 0)),
        elapsed_s=float(summary["elapsed_s"]),
        cpu_s=cpu_s,
        latency_ms={k: latency.get(k) for k in LATENCY_KEYS},
    )


def from_latte_report(report: Mapping[str, Any], cpu_s: float) -> RunResult:
    """A ``latte run -o FILE`` report (latte 0.29): one reading per cycle."""
    result = report["result"]
    levels = [float(p) for p in report["percentiles"]]
    latency = result["request_latency"]["percentiles"]
    by_level = {level: entry["value"] for level, entry in zip(levels, latency, strict=True)}
    return RunResult(
        tool="latte",
        records=int(result["cycle_count"]) - int(result["error_count"]),
        rows=int(result["request_count"]) - int(result["error_count"]),
        requests=int(result["request_count"]),
        failed=int(result["error_count"]),
        elapsed_s=float(result["elapsed_time_s"]),
        cpu_s=cpu_s,
        latency_ms={f"p{level:g}": by_level.get(level) for level in (50.0, 95.0, 99.0)},
    )


_COPY_DONE = re.compile(
    r"(\d+) rows imported from \d+ files? in "
    r"(?:(\d+) days?, (\d+) hours?, (\d+) minutes?,? and )?([\d.]+) seconds \((\d+) skipped\)"
)


def from_copy_output(text: str, lines: int, cpu_s: float) -> RunResult:
    """cqlsh COPY FROM's closing line: ``N rows imported from 1 files in 0 day, 0 hour,
    0 minute, and S seconds (K skipped).`` (cqlsh 6.2; older ones print only the seconds)."""
    match = _COPY_DONE.search(text)
    if match is None:
        raise BenchError(f"cqlsh COPY: no closing line in its output: {text[-500:]!r}")
    days, hours, minutes = (int(g or 0) for g in match.group(2, 3, 4))
    seconds = ((days * 24 + hours) * 60 + minutes) * 60 + float(match.group(5))
    rows = int(match.group(1))
    return RunResult(
        tool="copy",
        records=rows,
        rows=rows,
        requests=0,
        failed=lines - rows,
        elapsed_s=seconds,
        cpu_s=cpu_s,
        latency_ms=dict.fromkeys(LATENCY_KEYS),
    )


# ----------------------------------------------------------------------------- statistics


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max, and the spread (max - min) relative to the median."""
    median = statistics.median(values)
    low, high = min(values), max(values)
    return {
        "median": median,
        "min": low,
        "max": high,
        "spread_pct": 100 * (high - low) / median if median else math.nan,
    }


def summarize(runs: Sequence[RunResult]) -> dict[str, dict[str, dict[str, float]]]:
    """Per tool, per figure: median and spread over its runs (a figure never measured, such as
    COPY's latency, is left out)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for tool in dict.fromkeys(r.tool for r in runs):
        figures = [r.figures() for r in runs if r.tool == tool]
        out[tool] = {
            name: spread([float(v) for f in figures if (v := f[name]) is not None])
            for name in figures[0]
            if all(f[name] is not None for f in figures)
        }
    return out


def ratio(
    summary: Mapping[str, Mapping[str, Mapping[str, float]]],
    tool: str,
    figure: str,
    reference: str,
    reference_figure: str,
) -> float:
    """``tool``'s median ``figure`` divided by ``reference``'s median ``reference_figure``."""
    return summary[tool][figure]["median"] / summary[reference][reference_figure]["median"]


# ----------------------------------------------------------------------------- table

_COLUMNS = (
    ("records_per_s", "records/s", "{:,.0f}"),
    ("rows_per_s", "CQL rows/s", "{:,.0f}"),
    ("requests_per_s", "requests/s", "{:,.0f}"),
    ("p50_ms", "p50 ms", "{:.1f}"),
    ("p95_ms", "p95 ms", "{:.1f}"),
    ("p99_ms", "p99 ms", "{:.1f}"),
    ("cpu_s_per_1000", "client CPU s / 1,000 records", "{:.3f}"),
    ("elapsed_s", "seconds", "{:.1f}"),
)


def _cell(figures: Mapping[str, Mapping[str, float]], name: str, fmt: str) -> str:
    if name not in figures:
        return "-"
    f = figures[name]
    return f"{fmt.format(f['median'])} ({fmt.format(f['min'])}-{fmt.format(f['max'])})"


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown: one table per data set, medians (min-max) over the runs."""
    lines = [
        f"# `fleet bench` {report['started']}",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Cluster: {report['cluster']}. {report['runs']} runs of each tool, alternating; "
        "each starts on empty tables. Medians, (min-max) over the runs. Latencies are per "
        "request: one statement (latte), one batch (ETL). Client CPU: the process's user + "
        "system time.",
        "",
    ]
    for data_set in report["data_sets"]:
        summary = data_set["summary"]
        lines += [
            f"## {data_set['name']}",
            "",
            data_set["description"],
            "",
            "| tool | " + " | ".join(title for _, title, _ in _COLUMNS) + " | failed |",
            "|---|" + "---:|" * (len(_COLUMNS) + 1),
        ]
        for tool, figures in summary.items():
            failed = sum(r["failed"] for r in data_set["runs"] if r["tool"] == tool)
            cells = " | ".join(_cell(figures, name, fmt) for name, _, fmt in _COLUMNS)
            lines.append(f"| {tool} | {cells} | {failed} |")
        lines.append("")
        for line in data_set["ratios"]:
            lines.append(f"- {line}")
        loads = [r["load_before"] for r in data_set["runs"] if r["load_before"] is not None]
        if loads:
            lines.append(f"- load average before the runs: {min(loads):.2f}-{max(loads):.2f}")
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- running


@dataclass(frozen=True)
class DataSet:
    name: str
    description: str
    env: dict[str, str]  # on top of the ETL's settings: fleets, devices
    records: int
    interval_s: float
    other_mode: str | None = None  # one more ETL run in this write mode


@dataclass(frozen=True)
class Tools:
    fleet: Sequence[str]  # how to start the fleet CLI, e.g. (python, -m, fleet)
    latte: Path
    cqlsh: Path


def workload_path() -> Path:
    """The latte workload shipped with the package."""
    return Path(str(resources.files("fleet").joinpath("latte/telemetry.rn")))


def bench_schema(settings: Settings, grant_to: str | None) -> str:
    """The bench keyspace: the app's tables, COPY's table, and the ETL role's permissions."""
    cql = render_schema(settings.keyspace, settings.replication)
    cql += "\n" + COPY_TABLE_CQL.format(ks=settings.keyspace) + ";\n"
    if grant_to:
        for permission in ("SELECT", "MODIFY"):
            cql += f"GRANT {permission} ON KEYSPACE {settings.keyspace} TO {grant_to};\n"
    return cql


def tls_args_latte(settings: Settings) -> list[str]:
    """latte over TLS, checked against the same CA as the app, when the app uses TLS."""
    if settings.tls_ca_file is None:
        return []
    return ["--ssl", "--ssl-ca", str(settings.tls_ca_file)]


def tls_args_cqlsh(settings: Settings) -> list[str]:
    return [] if settings.tls_ca_file is None else ["--ssl"]


def tls_env_cqlsh(settings: Settings) -> dict[str, str]:
    """cqlsh reads its CA and whether to check the node from the environment."""
    if settings.tls_ca_file is None:
        return {}
    return {"SSL_CERTFILE": str(settings.tls_ca_file), "SSL_VALIDATE": "true"}


def run_process(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> tuple[int, float, str]:
    """Run ``argv``; its exit code, its CPU seconds (user + system, from ``wait4``) and its
    output (stdout then stderr, through a file: no pipe to fill while waiting)."""
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        proc = subprocess.Popen(argv, env=dict(env), cwd=cwd, stdout=out, stderr=out)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return proc.returncode, usage.ru_utime + usage.ru_stime, out.read()


def _history_args(data_set: DataSet, end: datetime) -> tuple[str, ...]:
    """Which generated readings: the same for the ETL, the CSV and (by its -P) latte."""
    return (
        "--records",
        str(data_set.records),
        "--interval",
        f"{data_set.interval_s:g}",
        "--end",
        end.isoformat(),
    )


def _json_tail(text: str) -> dict[str, Any]:
    """The JSON object a ``--json`` command printed last (log lines may precede it)."""
    start = text.rfind("\n{")
    try:
        parsed: dict[str, Any] = json.loads(text[start + 1 :] if start >= 0 else text)
    except json.JSONDecodeError as exc:
        raise BenchError(f"no JSON summary in the output: {text[-500:]!r}") from exc
    return parsed


@dataclass
class Bench:
    """Runs the comparisons on the cluster of ``settings`` (its bench keyspace)."""

    settings: Settings
    env: dict[str, str]  # the environment of every run: the ETL's settings, bench keyspace
    tools: Tools
    workdir: Path
    runs: int = 3
    truncate: Callable[[Sequence[str]], None] = lambda tables: None
    loadavg: Callable[[], float] = lambda: os.getloadavg()[0]
    progress: Callable[[str], None] = lambda line: None

    def _env(self, data_set: DataSet) -> dict[str, str]:
        return {**self.env, **data_set.env}

    def _fleet(self, data_set: DataSet, *args: str) -> tuple[float, str]:
        code, cpu, out = run_process([*self.tools.fleet, *args], self._env(data_set), self.workdir)
        if code not in (0, 1):  # 1: some records failed, reported in the summary
            raise BenchError(f"fleet {' '.join(args[:2])} exited {code}: {out[-800:]}")
        return cpu, out

    def etl(self, data_set: DataSet, end: datetime, mode: str | None = None) -> RunResult:
        """``fleet etl batch`` as a user runs it (default mode), or in ``mode``."""
        cpu, out = self._fleet(
            data_set,
            "etl",
            "batch",
            *(() if mode is None else ("--mode", mode)),
            *_history_args(data_set, end),
            "--json",
            "--progress",
            "0",
        )
        return from_etl_summary(
            "etl" if mode is None else f"etl --mode {mode}", _json_tail(out), cpu
        )

    def latte(
        self,
        data_set: DataSet,
        end: datetime,
        rate: float | None = None,
        duration_s: float | None = None,
    ) -> RunResult:
        """latte writing ``data_set``'s readings as fast as it can, or at ``rate`` requests/s
        for ``duration_s`` seconds (the streaming comparison)."""
        env = self._env(data_set)
        fleets = env.get("FLEET_FLEETS", ",".join(self.settings.fleets)).split(",")
        devices = len(fleets) * int(env.get("FLEET_DEVICES_PER_FLEET", "25"))
        ticks = math.ceil(data_set.records / devices)
        start = end - (ticks - 1) * timedelta(seconds=data_set.interval_s)
        report = self.workdir / "latte.json"
        s = self.settings
        argv = [
            str(self.tools.latte),
            "run",
            str(workload_path()),
            "--quiet",
            "--warmup",
            "0",
            "--duration",
            str(data_set.records) if duration_s is None else f"{duration_s:g}s",
            *(() if rate is None else ("--rate", f"{rate:g}")),
            "--concurrency",
            str(s.concurrency),
            "--consistency",
            s.consistency,
            "--datacenter",
            s.require_local_dc(),
            "--request-timeout",
            f"{s.request_timeout_s:g}s",
            "--output",
            str(report),
            "-P",
            f'keyspace="{s.keyspace}"',  # a Rune expression: a string literal
            "-P",
            f"devices={devices}",
            "-P",
            f"fleets={len(fleets)}",
            "-P",
            f"interval_ms={int(data_set.interval_s * 1000)}",
            "-P",
            f"start_ms={to_millis(start)}",
            *tls_args_latte(s),
            *(cp.host for cp in s.contact_points),
        ]
        latte_env = {
            **env,
            "CASSANDRA_USER": s.username or "",
            "CASSANDRA_PASSWORD": s.password or "",
        }
        report.unlink(missing_ok=True)
        code, cpu, out = run_process(argv, latte_env, self.workdir)
        if code != 0 or not report.exists():
            raise BenchError(f"latte exited {code}: {out[-800:]}")
        return from_latte_report(json.loads(report.read_text(encoding="utf-8")), cpu)

    def etl_stream(self, data_set: DataSet, ticks: int) -> RunResult:
        """The streaming ETL at its normal rate (one reading per device per interval)."""
        cpu, out = self._fleet(
            data_set,
            "etl",
            "stream",
            "--ticks",
            str(ticks),
            "--interval",
            f"{data_set.interval_s:g}",
            "--json",
            "--progress",
            "0",
        )
        return from_etl_summary("etl stream", _json_tail(out), cpu)

    def streaming(self, data_set: DataSet, ticks: int) -> dict[str, Any]:
        """The stream for ``ticks`` intervals, then latte at the stream's request rate for as
        long: per-request latencies at the same load, one uniform and one in bursts."""
        app_tables = [t.name for t in ALL_TABLES]
        stream = self.measure(lambda: self.etl_stream(data_set, ticks), app_tables)
        rate = stream.requests_per_s
        duration = ticks * data_set.interval_s
        latte = self.measure(
            lambda: replace(self.latte(data_set, now_floor(), rate, duration), tool="latte -r"),
            [TELEMETRY_BY_DEVICE.name],
        )
        runs = [stream, latte]
        summary = summarize(runs)
        p50 = summary["etl stream"].get("p50_ms", {}).get("median")
        ref = summary["latte -r"].get("p50_ms", {}).get("median")
        ratios = [f"requests/s: stream {rate:.1f}, latte -r {latte.requests_per_s:.1f}"]
        if p50 and ref:
            ratios.append(f"p50 per request, stream ÷ latte -r: **{p50 / ref:.2f}**")
        return _section(data_set, stream.records, runs, summary, ratios)

    def generate_csv(self, data_set: DataSet, end: datetime) -> tuple[Path, int]:
        path = self.workdir / f"{data_set.name}.csv"
        self._fleet(
            data_set,
            "generate",
            "--out",
            str(path),
            *_history_args(data_set, end),
        )
        return path, data_set.records

    def etl_import(self, data_set: DataSet, csv: Path) -> RunResult:
        cpu, out = self._fleet(data_set, "etl", "import", str(csv), "--json", "--progress", "0")
        return from_etl_summary("import", _json_tail(out), cpu)

    def copy(self, data_set: DataSet, csv: Path, lines: int) -> RunResult:
        s = self.settings
        credentials = self.workdir / "credentials"  # not on the command line: ps shows it
        credentials.touch(mode=0o600)
        credentials.write_text(
            f"[plain_text_auth]\nusername = {s.username or ''}\npassword = {s.password or ''}\n",
            encoding="utf-8",
        )
        columns = ", ".join(CSV_COLUMNS)
        # COPY takes the session's consistency level (it has no option of its own for it).
        statement = (
            f"CONSISTENCY {s.consistency}; "
            f"COPY {s.keyspace}.{COPY_TABLE} ({columns}) FROM '{csv}' WITH HEADER = true "
            "AND MAXINSERTERRORS = -1"
        )
        host = s.contact_points[0]
        argv = [str(self.tools.cqlsh), "--credentials", str(credentials), host.host, str(host.port)]
        env = {**self._env(data_set), **tls_env_cqlsh(s)}
        code, cpu, out = run_process(
            [*argv, *tls_args_cqlsh(s), "-e", statement], env, self.workdir
        )
        if code != 0:
            raise BenchError(f"cqlsh COPY exited {code}: {out[-800:]}")
        return from_copy_output(out, lines, cpu)

    def measure(self, run: Callable[[], RunResult], tables: Sequence[str]) -> RunResult:
        self.truncate(tables)
        load = self.loadavg()
        result = run()
        result = RunResult(**{**asdict(result), "load_before": load})
        self.progress(
            f"{result.tool:>6}: {result.records:,} records, {result.rows_per_s:,.0f} rows/s, "
            f"{result.records_per_s:,.0f} records/s, {result.elapsed_s:.1f} s, "
            f"{result.failed} failed"
        )
        return result

    def data_set(self, data_set: DataSet, end: datetime, with_copy: bool) -> dict[str, Any]:
        """Alternating ETL and latte runs, then import and COPY runs, and their summary."""
        app_tables = [t.name for t in ALL_TABLES]
        runs: list[RunResult] = []
        for _ in range(self.runs):
            runs.append(self.measure(lambda: self.etl(data_set, end), app_tables))
            runs.append(self.measure(lambda: self.latte(data_set, end), [TELEMETRY_BY_DEVICE.name]))
        if data_set.other_mode:  # once: why the default is the default
            runs.append(
                self.measure(lambda: self.etl(data_set, end, data_set.other_mode), app_tables)
            )
        if with_copy:
            csv, lines = self.generate_csv(data_set, end)
            for _ in range(self.runs):
                runs.append(self.measure(lambda: self.etl_import(data_set, csv), app_tables))
                runs.append(self.measure(lambda: self.copy(data_set, csv, lines), [COPY_TABLE]))
        summary = summarize(runs)
        ratios = [
            f"ETL ÷ latte, records/s ÷ rows/s: "
            f"**{ratio(summary, 'etl', 'records_per_s', 'latte', 'rows_per_s'):.2f}** "
            "(target ≥ 1.5)",
            "ETL ÷ latte, CQL rows/s: "
            f"{ratio(summary, 'etl', 'rows_per_s', 'latte', 'rows_per_s'):.2f}",
        ]
        if with_copy:
            ratios.append(
                "import ÷ COPY FROM, CQL rows/s: "
                f"**{ratio(summary, 'import', 'rows_per_s', 'copy', 'rows_per_s'):.2f}** "
                "(target ≥ 1)"
            )
        return _section(data_set, data_set.records, runs, summary, ratios)


def _section(
    data_set: DataSet,
    records: int,
    runs: Sequence[RunResult],
    summary: dict[str, dict[str, dict[str, float]]],
    ratios: list[str],
) -> dict[str, Any]:
    """One data set of the report: its runs, their summary and the ratios that matter."""
    return {
        "name": data_set.name,
        "description": data_set.description,
        "records": records,
        "interval_s": data_set.interval_s,
        "env": data_set.env,
        "runs": [asdict(r) | r.figures() for r in runs],
        "summary": summary,
        "ratios": ratios,
    }


def lab_data_sets(settings: Settings, records: int) -> list[DataSet]:
    """The lab's own fleets at the streaming rate, and the dashboard benchmark's data set."""
    devices = settings.devices_per_fleet * len(settings.fleets)
    return [
        DataSet(
            "lab-fleets",
            f"The lab's fleets ({', '.join(settings.fleets)}, {devices} devices), a reading "
            f"every 5 s: {records:,} readings.",
            {},
            records,
            5.0,
            other_mode="async",
        ),
        DataSet(
            "fleet-1000",
            "One fleet of 1,000 devices reporting once a minute (`fleet bench-dashboard`'s data "
            "set): 60,000 readings, a few per device-day partition in each chunk.",
            {
                "FLEET_FLEETS": settings.fleets[0],
                "FLEET_INGEST_FLEETS": settings.fleets[0],
                "FLEET_DEVICES_PER_FLEET": "1000",
            },
            60_000,
            60.0,
        ),
    ]


def stream_data_set(settings: Settings, ticks: int) -> DataSet:
    """One ETL host's share at the deployed rate: its fleets, a reading every 5 s."""
    fleets = settings.ingest_fleets or settings.fleets
    devices = settings.devices_per_fleet * len(fleets)
    return DataSet(
        "streaming",
        f"`fleet etl stream` for {ticks} ticks of 5 s ({', '.join(fleets)}, {devices} devices: "
        f"{devices / 5:g} readings/s, rollups every 60 s as deployed), then latte at the same "
        "request rate (`latte run -r`) for as long. The stream sends each tick's requests at "
        "once; latte spreads them evenly.",
        {"FLEET_FLEETS": ",".join(fleets), "FLEET_INGEST_FLEETS": ",".join(fleets)},
        ticks * devices,
        5.0,
    )


def now_floor() -> datetime:
    """Runs end on a whole minute in the past: the same readings in every run."""
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
