"""The streaming ETL's counters (`fleet etl stream --stats-file`, read by the fleet_etl role's
stats.yml into ``fleet_etl_stats[<snapshot>]``) between two snapshots: per host and summed.
Used by every operation that reports what the ETLs did meanwhile (rolling restart, repair-free
certificate rotation, TLS enabling, the drills). Unit-tested in tests/unit/test_fleet_etl_stats.py.
"""

from __future__ import annotations

from typing import Any

# The counters the ETL keeps in its stats file's `totals` (fleet.metrics.TOTALS: the controller
# may not have the app installed; tests/unit/test_fleet_etl_stats.py checks they are equal).
COUNTERS = (
    "records_written",
    "records_failed",
    "degraded_writes",
    "retries",
    "requests",
    "spooled",
    "replayed",
    "dropped",
)


def fleet_etl_counter_delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, int]:
    """Difference of the ETL's counters between two snapshots of its stats file.

    Its ``totals`` (kept across restarts: a failover restarts the ETL) when both have them.
    Otherwise a counter that went down means a restart in between: the later process counted
    from 0, so its value is the delta's lower bound.
    """
    if "totals" in after and "totals" in before:
        after, before = after["totals"], before["totals"]
    delta = {}
    for key in COUNTERS:
        a, b = int(after.get(key) or 0), int(before.get(key) or 0)
        delta[key] = a - b if a >= b else a
    return delta


def fleet_etl_summary(
    hosts: list[str], hostvars: Any, before: str = "before", after: str = "after"
) -> dict[str, Any] | None:
    """The ETLs' counters between snapshots ``before`` and ``after`` of each host (the fleet_etl
    role's ``fleet_etl_stats``): per host and summed; None when there is no ETL (nothing
    measured)."""
    per_host = []
    for host in hosts:
        stats = hostvars[host]["fleet_etl_stats"]
        per_host.append({"host": host, **fleet_etl_counter_delta(stats[after], stats[before])})
    if not per_host:
        return None
    return {**{key: sum(e[key] for e in per_host) for key in COUNTERS}, "hosts": per_host}


def fleet_etl_within(summary: dict[str, Any] | None, max_failures: int = 0) -> bool:
    """The operations' verdict on the ETLs: failed writes plus spooled readings (writes the
    cluster refused, kept for later) at most ``max_failures``; True without an ETL."""
    return summary is None or summary["records_failed"] + summary["spooled"] <= int(max_failures)


def fleet_etl_losses(summary: dict[str, Any] | None) -> str:
    """What the ETLs lost, for the operations' messages: the sums, then each host's."""
    if summary is None:
        return "no ETL streamed"
    per_host = ", ".join(
        f"{h['host']}: {h['records_failed']} failed, {h['spooled']} spooled"
        for h in summary["hosts"]
    )
    return (
        f"the ETLs wrote {summary['records_written']}, failed {summary['records_failed']} "
        f"writes and spooled {summary['spooled']} readings ({per_host})"
    )


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, object]:
        return {
            "fleet_etl_counter_delta": fleet_etl_counter_delta,
            "fleet_etl_summary": fleet_etl_summary,
            "fleet_etl_within": fleet_etl_within,
            "fleet_etl_losses": fleet_etl_losses,
        }
