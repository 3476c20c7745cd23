"""Pure logic of the failure drills: which consistency levels a fault should leave writable,
and the report's derived figures. Unit-tested in tests/unit/test_drill_filters.py."""

from __future__ import annotations

from typing import Any

# Errors meaning "this consistency level cannot be met now" (as opposed to timeouts).
UNAVAILABLE_ERRORS = ("Unavailable", "NoHostAvailable")


def _quorum(replicas: int) -> int:
    return replicas // 2 + 1


def drill_expected_levels(
    levels: list[str], replication: dict[str, Any], down: dict[str, Any], local_dc: str
) -> dict[str, bool]:
    """For each level: can a write from ``local_dc`` still succeed with ``down`` nodes per DC?

    Worst case: a DC with d nodes down may have min(d, RF) replicas of a range down (with as
    many nodes as replicas, every range loses them all).
    """
    rf = {dc: int(value) for dc, value in replication.items()}
    alive = {dc: rf[dc] - min(int(down.get(dc, 0)), rf[dc]) for dc in rf}
    total_rf, total_alive = sum(rf.values()), sum(alive.values())
    local = alive.get(local_dc, 0)
    rules = {
        "ANY": True,
        "ONE": total_alive >= 1,
        "TWO": total_alive >= 2,
        "THREE": total_alive >= 3,
        "LOCAL_ONE": local >= 1,
        "QUORUM": total_alive >= _quorum(total_rf),
        "LOCAL_QUORUM": local >= _quorum(rf.get(local_dc, 0)),
        "EACH_QUORUM": all(alive[dc] >= _quorum(rf[dc]) for dc in rf),
        "ALL": total_alive == total_rf,
    }
    unknown = [level for level in levels if level not in rules]
    if unknown:
        raise ValueError(f"unknown consistency level(s): {', '.join(unknown)}")
    return {level: rules[level] for level in levels}


def drill_counter_delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, int]:
    """Difference of the ETL's cumulative counters between two snapshots of its stats file."""
    keys = ("records_written", "records_failed", "degraded_writes", "retries", "requests")
    return {key: int(after.get(key, 0)) - int(before.get(key, 0)) for key in keys}


def drill_env(text: str) -> dict[str, str]:
    """KEY=VALUE lines of an env file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _offsets(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    start = events[0]["t"] if events else 0.0
    return [{**e, "offset_s": round(float(e["t"]) - float(start), 1)} for e in events]


def _between(events: list[dict[str, Any]], first: str, last: str) -> float | None:
    times = {e["event"].split(" (")[0]: float(e["t"]) for e in events}
    if first in times and last in times:
        return round(times[last] - times[first], 1)
    return None


def drill_build_report(data: dict[str, Any]) -> dict[str, Any]:
    """Assemble the drill's report from what the playbook collected, and judge it.

    ``data`` keys: plan, events, ring, expected, etl_expected, etl_policy, etl_before,
    etl_after, dashboard, probe, repairs, fail_on_unexpected.
    """
    events = _offsets(list(data.get("events") or []))
    probe = data["probe"]
    levels = probe.get("levels", {})
    expected = data["expected"]
    strict = bool(data.get("fail_on_unexpected", True))
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str, enforced: bool = True) -> None:
        checks.append(
            {"check": name, "ok": bool(ok) or not enforced, "passed": bool(ok), "detail": detail}
        )

    check(
        "no acknowledged probe write lost",
        probe.get("lost_total", 1) == 0,
        f"lost {probe.get('lost_total')} (read back at LOCAL_QUORUM from "
        f"{', '.join(probe.get('datacenters', []))})",
    )
    for level, survives in expected.items():
        row = levels.get(level, {})
        failed, attempted = int(row.get("failed", 0)), int(row.get("attempted", 0))
        check(f"{level} written throughout", attempted > 0, f"{attempted} probe writes")
        if survives:
            # Availability is what the level promises: the coordinator never answered
            # Unavailable. Timeouts (a slow replica, a starved CPU) are reported, not judged.
            errors = dict(row.get("errors") or {})
            refused = sum(n for name, n in errors.items() if name in UNAVAILABLE_ERRORS)
            check(
                f"{level} survived the fault",
                refused == 0,
                f"{refused} refused as unavailable, {failed} failed in all of {attempted}"
                + (f" ({errors})" if errors else ""),
                enforced=strict,
            )
        else:
            check(
                f"{level} refused writes during the fault",
                failed > 0,
                f"{failed} failed of {attempted} ({row.get('errors') or {}})",
                enforced=strict,
            )

    etl = None
    if data.get("etl_before") is not None and data.get("etl_after") is not None:
        delta = drill_counter_delta(data["etl_after"], data["etl_before"])
        etl_survives = any(data.get("etl_expected", {}).values())
        etl = {"policy": data.get("etl_policy"), "expected_to_survive": etl_survives, **delta}
        check(
            "ETL kept writing",
            delta["records_written"] > 0,
            f"{delta['records_written']} records written during the drill",
        )
        if etl_survives:
            check(
                "ETL lost no write",
                delta["records_failed"] == 0,
                f"{delta['records_failed']} failed, {delta['degraded_writes']} degraded "
                f"({data.get('etl_policy')})",
                enforced=strict,
            )

    for phase, result in (data.get("dashboard") or {}).items():
        check(
            f"dashboard answers ({phase})",
            result.get("health") == "ok" and bool(result.get("pages_ok")),
            f"health {result.get('health')!r}, every page's data: "
            f"{'ok' if result.get('pages_ok') else result.get('error')}, "
            f"slowest p95 {result.get('slowest_p95_ms')} ms",
        )

    recovery = {
        "fault_seen_s": _between(events, "fault injected", "fault seen by every surviving node"),
        "fault_duration_s": _between(events, "fault injected", "fault removed"),
        "restore_to_up_normal_s": _between(events, "fault removed", "affected nodes UN"),
        "restore_to_hints_delivered_s": _between(events, "fault removed", "hints delivered"),
        "repair_s": _between(events, "hints delivered", "repair done"),
    }
    return {
        "drill": f"{data['plan']['scope']}_outage",
        "run_id": data["plan"]["run_id"],
        "fault": data["plan"]["fault"],
        "targets": data["plan"]["targets"],
        "target_dcs": data["plan"]["target_dcs"],
        "timeline": events,
        "recovery": recovery,
        "ring_during_fault": data.get("ring") or {},
        "expected_to_survive": expected,
        "probe": probe,
        "etl": etl,
        "dashboard": data.get("dashboard") or {},
        "repairs": data.get("repairs") or [],
        "checks": checks,
        "ok": all(c["ok"] for c in checks),
    }


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, object]:
        return {
            "drill_expected_levels": drill_expected_levels,
            "drill_counter_delta": drill_counter_delta,
            "drill_env": drill_env,
            "drill_build_report": drill_build_report,
        }
