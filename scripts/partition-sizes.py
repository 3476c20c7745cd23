#!/usr/bin/env python3
"""Partition sizes of the Fleet Tracing tables, from the app's own code (offline, no Cassandra).

Runs the generator for whole UTC days at the ETL's interval and counts, per table, the rows
each partition gets; rows' value bytes come from the CQL column types and the generated
values' lengths. Prints the Markdown tables of docs/cassandra-modeling.md:

    .venv/bin/python scripts/partition-sizes.py --day 2026-01-15 --day 2026-07-15
"""

from __future__ import annotations

import argparse
import statistics
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from fleet.generator import FleetSimulator
from fleet.schema import TABLES, render_schema, table_columns
from fleet.transform import ALERT_RULES, SEVERITIES, evaluate_alerts

FIXED_BYTES = {"double": 8, "timestamp": 8, "int": 4, "date": 4}


def value_bytes(columns: dict[str, str], skip: tuple[str, ...], text: dict[str, float]) -> str:
    """Bytes of a row's values, partition key columns (stored once per partition) left out."""
    sizes = [
        FIXED_BYTES[kind] if kind in FIXED_BYTES else text.get(name)
        for name, kind in columns.items()
        if name not in skip
    ]
    return "n/a (no such value generated)" if None in sizes else f"{sum(sizes):.0f}"


def record_lengths(lengths: dict[str, list[int]], item: object, names: tuple[str, ...]) -> None:
    """UTF-8 lengths of text values, from the first 100,000 of each."""
    for name in names:
        values = lengths.setdefault(name, [])
        if len(values) < 100_000:
            values.append(len(getattr(item, name).encode()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleets", default="FLEET_PARIS,FLEET_LYON")
    parser.add_argument("--devices-per-fleet", type=int, default=25)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between readings")
    parser.add_argument("--day", action="append", type=date.fromisoformat, required=True)
    parser.add_argument("--hours", type=int, default=24, help="hours of each day to simulate")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    fleets = args.fleets.split(",")
    ticks = int(args.hours * 3600 / args.interval)
    columns = table_columns(render_schema("ks", {"dc1": 1}))
    keys = {t.name: t.partition_key for t in TABLES}

    print(f"Fleets {', '.join(fleets)}, {args.devices_per_fleet} devices each, one reading per")
    print(f"device every {args.interval:g} s, seed {args.seed}; {args.hours} h simulated per day.")
    print()
    print(
        "| day | readings | per device (largest) | readings breaking a rule | HIGH alerts "
        "| MEDIUM alerts | LOW alerts | largest alert partition |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    lengths: dict[str, list[int]] = {}
    per_device: Counter[str] = Counter()
    by_type: Counter[tuple[date, str, str]] = Counter()
    for day in args.day:
        start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        sim = FleetSimulator(fleets, args.devices_per_fleet, args.seed, start, args.interval)
        alerts: Counter[tuple[str, str]] = Counter()
        rows: set[tuple[object, ...]] = set()  # alert rows: one per device, rule, severity, window
        breaking = 0
        per_device.clear()
        for i in range(1, ticks + 1):
            for point in sim.tick(start + i * timedelta(seconds=args.interval)):
                if point.day != day:  # a device reporting a few ms before midnight
                    continue
                per_device[point.device_id] += 1
                record_lengths(lengths, point, ("fleet_id", "device_id", "model", "zone"))
                raised = evaluate_alerts(point)
                breaking += bool(raised)
                for alert in raised:
                    if alert.row_key in rows:
                        continue
                    rows.add(alert.row_key)
                    alerts[alert.fleet_id, alert.severity] += 1
                    by_type[day, alert.alert_type, alert.severity] += 1
                    record_lengths(lengths, alert, ("severity", "alert_type", "message"))
        by_severity = {s: sum(n for (_, sev), n in alerts.items() if sev == s) for s in SEVERITIES}
        largest = max(alerts.values(), default=0)
        print(
            f"| {day} | {sum(per_device.values()):,} | {max(per_device.values()):,} "
            f"| {breaking:,} | {by_severity['HIGH']:,} | {by_severity['MEDIUM']:,} "
            f"| {by_severity['LOW']:,} | {largest:,} |"
        )

    print()
    print("Alerts by rule and severity (both fleets):")
    print()
    print("| day | rule | HIGH | MEDIUM | LOW |")
    print("| --- | --- | ---: | ---: | ---: |")
    for day in args.day:
        for rule in ALERT_RULES:
            counts = [by_type[day, rule.alert_type, severity] for severity in SEVERITIES]
            print(f"| {day} | {rule.alert_type} | " + " | ".join(f"{n:,}" for n in counts) + " |")

    text = {name: statistics.fmean(values) for name, values in lengths.items()}
    print()
    print("Average value bytes per row (partition key columns excluded; text at the generated")
    print("values' mean UTF-8 length):")
    print()
    print("| table | value bytes per row |")
    print("| --- | ---: |")
    for table, key in keys.items():
        print(f"| {table} | {value_bytes(columns[table], key, text)} |")


if __name__ == "__main__":
    main()
