"""Pure logic of the failure drills: which consistency levels a fault should leave writable,
and the report's derived figures. Unit-tested in tests/unit/test_drill_filters.py."""

from __future__ import annotations

import math
import re
from datetime import datetime
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


def _refused(errors: dict[str, int] | None) -> int:
    """Probe writes the coordinator refused as unavailable (not timeouts) among ``errors``."""
    return sum(int(n) for name, n in (errors or {}).items() if name in UNAVAILABLE_ERRORS)


def drill_probe_refused(levels: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Probe writes refused as unavailable, per level (the probe's report's ``levels``): what a
    level expected to survive must never see (the scale check, the upgrade's and rollback's
    gates). Timeouts (a starved CPU, a slow replica) are reported, not judged, as in the drills."""
    return {level: _refused(row.get("errors")) for level, row in (levels or {}).items()}


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

    ``data`` keys: plan, events, ring, expected, replication (the keyspace's, per DC), etls (one
    per ETL host: host, dc, levels (its consistency then fallback), delta (its counters over the
    drill) and during (until the fault was seen), both by the fleet_etl_counter_delta filter,
    after (its last counters), verify: its ledger's read-back), failover (the survivors'
    results), dashboard, probe, repairs, fail_on_unexpected, alert (the fault's alert as
    Alertmanager listed it: name, seconds from the fault in place or None, bound_s, for_s,
    waited_s; empty when nothing monitors the cluster or the fault raises no alert).
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
            refused = _refused(errors)
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

    replication = data.get("replication") or {}
    etls = []
    for e in data.get("etls") or []:
        if e.get("delta") is None or e.get("after") is None:
            continue
        delta = e["delta"]
        levels = [lv for lv in e.get("levels") or [] if lv]
        survives = any(
            drill_expected_levels(levels, replication, _down_for(e, data), e["dc"]).values()
        )
        verify = e.get("verify") or {}
        missing = {
            dc: int(r.get("missing", 0)) for dc, r in (verify.get("read_back") or {}).items()
        }
        during = e.get("during") or {"records_written": 0, "spooled": 0}
        row = {
            "host": e["host"],
            "dc": e["dc"],
            "policy": " then ".join(levels) or "?",
            "expected_to_survive": survives,
            **delta,
            "written_until_fault_seen": during["records_written"],
            "spooled_until_fault_seen": during["spooled"],
            "spool_pending_after": ((e["after"].get("spool") or {}).get("pending_records")),
            "generated": verify.get("generated"),
            "lost": verify.get("lost_total"),
            "missing_by_dc": missing,
        }
        etls.append(row)
        name = e["host"]
        check(
            f"{name}: every reading its ETL generated is in every DC",
            verify.get("lost_total", 1) == 0 and bool(verify.get("generated")),
            f"{verify.get('generated')} generated during the drill, "
            f"lost {verify.get('lost_total')} (missing per DC {missing or '?'})",
        )
        check(
            f"{name}: its ETL dropped nothing and replayed its spool",
            delta["dropped"] == 0 and row["spool_pending_after"] == 0,
            f"{delta['spooled']} spooled, {delta['replayed']} replayed, "
            f"{delta['dropped']} dropped, {row['spool_pending_after']} still pending",
        )
        check(
            f"{name}: its ETL kept writing",
            delta["records_written"] > 0,
            f"{delta['records_written']} records written during the drill",
        )
        if survives:
            check(
                f"{name}: its ETL lost no write",
                delta["records_failed"] == 0 and delta["spooled"] == 0,
                f"{delta['records_failed']} failed, {delta['spooled']} spooled, "
                f"{delta['degraded_writes']} degraded ({row['policy']})",
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

    pages = drill_pages_summary(data.get("pages") or [], events)
    if pages["rounds"]:
        check(
            "the watching dashboard served every fleet throughout the fault",
            pages["rounds_during_fault"] > 0 and pages["failed_during_fault"] == 0,
            f"{pages['rounds_during_fault']} rounds of every page of "
            f"{', '.join(pages['fleets'])} during the fault, {pages['failed_during_fault']} with "
            f"a page that did not answer ({pages['rounds']} rounds in all, slowest page "
            f"{pages['slowest_ms']} ms)",
            enforced=data["plan"]["scope"] == "dc",
        )

    recovery = {
        "fault_seen_s": _between(events, "fault injected", "fault seen by every surviving node"),
        "failover_done_s": _between(events, "fault injected", "failover done"),
        "dashboard_answered_s": pages["first_ok_after_fault_s"]
        if pages["first_ok_after_fault_s"] is not None
        else _between(events, "fault injected", "dashboard answered during the fault"),
        "fault_duration_s": _between(events, "fault injected", "fault removed"),
        "restore_to_up_normal_s": _between(events, "fault removed", "affected nodes UN"),
        "restore_to_hints_delivered_s": _between(events, "fault removed", "hints delivered"),
        "repair_s": _between(events, "hints delivered", "repair done"),
        "failback_s": _between(events, "hints delivered", "failback done"),
    }
    alert = data.get("alert") or {}
    if alert:
        seconds = alert.get("seconds")
        check(
            f"Alertmanager listed {alert['name']} in time",
            seconds is not None and seconds <= float(alert["bound_s"]),
            f"after {seconds} s from the fault in place (bound {alert['bound_s']} s: the "
            f"rule's for {alert['for_s']} s, a scrape interval and timeout, an evaluation "
            "interval, 5 s)"
            if seconds is not None
            else f"not listed within {alert.get('waited_s')} s",
        )
    rto = _rto(events, data.get("failover") or [], data["plan"])
    if data["plan"].get("failover"):
        check(
            "the failed DC's fleets are ingested again by the other DCs",
            rto is not None,
            f"RTO {rto} s from the fault"
            if rto is not None
            else "no surviving ETL wrote the moved fleets",
        )
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
        "etls": etls,
        "rpo_readings_lost": sum(int(r["lost"] or 0) for r in etls),
        "rto_s": rto,
        "failover": data.get("failover") or [],
        "dashboard": data.get("dashboard") or {},
        "pages": pages,
        "repairs": data.get("repairs") or [],
        "alert": alert,
        "checks": checks,
        "ok": all(c["ok"] for c in checks),
    }


def drill_pages_summary(lines: list[dict[str, Any]], events: list[dict[str, Any]]) -> dict:
    """The dashboard probe's rounds (one line per fleet and round) against the timeline: rounds
    in all and while the fault lasted (from its injection until the nodes were UN again), those
    with a page that did not answer, and the first round that answered after the fault."""
    times = {e["event"].split(" (")[0]: float(e["t"]) for e in events}
    start = times.get("fault injected")
    end = times.get("affected nodes UN", times.get("fault removed"))
    rounds: dict[float, bool] = {}
    for line in lines:
        t = float(line["t"])
        rounds[t] = rounds.get(t, True) and bool(line.get("ok"))
    during = {t: ok for t, ok in rounds.items() if start is not None and end and start <= t <= end}
    first_ok = min((t for t, ok in rounds.items() if ok and start and t >= start), default=None)
    return {
        "rounds": len(rounds),
        "failed": sum(not ok for ok in rounds.values()),
        "rounds_during_fault": len(during),
        "failed_during_fault": sum(not ok for ok in during.values()),
        "first_ok_after_fault_s": None
        if first_ok is None or start is None
        else round(first_ok - start, 1),
        "fleets": sorted({str(line["fleet"]) for line in lines}),
        "slowest_ms": max((float(line.get("ms", 0.0)) for line in lines), default=None),
        "errors": sorted({e for line in lines for e in (line.get("failed") or {}).values()})[:5],
    }


def _down_for(etl: dict[str, Any], data: dict[str, Any]) -> dict[str, int]:
    """Nodes per DC an ETL host cannot reach during the fault. Under a partition, an app host
    of the cut-off DC stays on its side: for it, the other DCs are the ones down."""
    plan = data["plan"]
    if plan.get("fault") == "partition" and etl["dc"] in plan.get("target_dcs", []):
        return {
            dc: int(rf)
            for dc, rf in (data.get("replication") or {}).items()
            if dc not in plan["target_dcs"]
        }
    return dict(plan.get("down") or {})


def _rto(
    events: list[dict[str, Any]], failover: list[dict[str, Any]], plan: dict[str, Any]
) -> float | None:
    """Seconds from the fault until every fleet of the failed DC was written again, by the ETL
    that took it over (its first write after the failover, from its stats)."""
    if not plan.get("failover"):
        return None
    fault = next((float(e["t"]) for e in events if e["event"].startswith("fault injected")), None)
    firsts: dict[str, float] = {}
    for host in failover:
        for fleet, counts in (host.get("written") or {}).items():
            if counts.get("first_at") is not None:
                firsts[fleet] = min(firsts.get(fleet, float("inf")), float(counts["first_at"]))
    moved = plan.get("moved_fleets") or []
    if fault is None or not moved or any(f not in firsts for f in moved):
        return None
    return round(max(firsts[f] for f in moved) - fault, 1)


def _duration_s(text: str) -> float:
    """A Prometheus duration ("15s", "1m30s", "500ms") in seconds."""
    total, number = 0.0, ""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    i = 0
    while i < len(text):
        if text[i].isdigit() or text[i] == ".":
            number += text[i]
            i += 1
            continue
        unit = text[i : i + 2] if text[i : i + 2] == "ms" else text[i]
        if not number or unit not in units:
            raise ValueError(f"not a Prometheus duration: {text!r}")
        total += float(number) * units[unit]
        number, i = "", i + len(unit)
    if number:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return total


def drill_alert_bound(rules: dict[str, Any], targets: dict[str, Any], alert: str, job: str) -> dict:
    """How soon Alertmanager must list ``alert`` once its condition holds, from the running
    Prometheus's /api/v1/rules and /api/v1/targets answers: the rule's ``for``, its group's
    evaluation interval, the ``job`` targets' longest scrape interval and timeout (the failed
    scrape that starts it), and 5 s for the hand-over to Alertmanager and the caller's poll."""
    for group in rules["data"]["groups"]:
        for rule in group["rules"]:
            if rule.get("name") == alert and rule.get("type") == "alerting":
                scraped = [
                    t for t in targets["data"]["activeTargets"] if t["labels"].get("job") == job
                ]
                if not scraped:
                    raise ValueError(f"drill_alert_bound: Prometheus scrapes no {job!r} target")
                scrape = max(
                    _duration_s(t["scrapeInterval"]) + _duration_s(t["scrapeTimeout"])
                    for t in scraped
                )
                for_s = float(rule["duration"])
                return {
                    "for_s": for_s,
                    "bound_s": round(for_s + float(group["interval"]) + scrape + 5, 1),
                }
    raise ValueError(f"drill_alert_bound: Prometheus has no alerting rule {alert!r}")


def _epoch(stamp: str) -> float:
    """An RFC 3339 time as Alertmanager writes it (nanoseconds, "Z"), in seconds since the epoch."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", stamp)
    if not match:
        raise ValueError(f"not an RFC 3339 time: {stamp!r}")
    whole, fraction, zone = match.groups()
    when = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    return when.timestamp() + float("0." + (fraction or "0"))


def drill_alert_seconds(
    alerts: list[dict[str, Any]], name: str, key: str, wanted: list[str], since: float
) -> float | None:
    """Seconds from ``since`` (the fault) until Alertmanager's alert ``name`` had fired for every
    one of ``wanted`` (matched on label ``key``): the latest of their ``startsAt``, which is when
    Prometheus fired each one, not when the caller looked. None while one is missing."""
    started: dict[str, float] = {}
    for alert in alerts:
        labels = alert.get("labels") or {}
        if labels.get("alertname") == name and labels.get(key) in wanted:
            started[labels[key]] = min(
                started.get(labels[key], math.inf), _epoch(alert["startsAt"])
            )
    if set(started) != set(wanted):
        return None
    return round(max(started.values()) - float(since), 1)


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, object]:
        return {
            "drill_expected_levels": drill_expected_levels,
            "drill_build_report": drill_build_report,
            "drill_pages_summary": drill_pages_summary,
            "drill_probe_refused": drill_probe_refused,
            "drill_alert_bound": drill_alert_bound,
            "drill_alert_seconds": drill_alert_seconds,
        }
