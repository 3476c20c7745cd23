"""The deployment's topology, derived once from the inventory: every role and playbook that needs
a node's address, its data center, the seeds or the replication per DC reads it from here.

    {{ 'cass-dc1-1' | fleet_address(hostvars) }}
    {{ hostvars | fleet_topology(groups['cassandra'], seeds_per_dc=1, max_rf=3) }}
    {{ hostvars | fleet_scrape_jobs(groups, ports) }}     (role prometheus: what it scrapes)
    {{ drill_plan.app_host | fleet_probe_scrape_target(hostvars, port, run_id) }}
                                                  (role drill: its probe, scraped while it runs)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError


def fleet_address(host: str, hostvars: Mapping[str, Any]) -> str:
    """The address a host serves on and sends from: its `cassandra_listen_address` when set (a
    node with several interfaces), else its default IPv4 address (gathered facts), else
    `ansible_host`."""
    if host not in hostvars:
        raise AnsibleFilterError(f"fleet_address: {host!r} is not in the inventory")
    host_vars = hostvars[host]
    facts = host_vars.get("ansible_facts") or {}
    for candidate in (
        host_vars.get("cassandra_listen_address"),
        (facts.get("default_ipv4") or {}).get("address"),
        host_vars.get("ansible_host"),
    ):
        if candidate:
            return str(candidate)
    raise AnsibleFilterError(
        f"fleet_address: no address known for {host!r}: set cassandra_listen_address or "
        "ansible_host, or gather its facts"
    )


def fleet_topology(
    hostvars: Mapping[str, Any],
    nodes: Iterable[str],
    apps: Iterable[str] = (),
    default_dc: str | None = None,
    seeds_per_dc: int = 1,
    max_rf: int = 3,
) -> dict[str, Any]:
    """The cluster as the inventory describes it.

    nodes: the Cassandra hosts in inventory order; apps: app hosts whose addresses are needed too;
    default_dc: the DC of a node that sets no `cassandra_dc` (none: such a node is an error).
    Returns nodes, addresses (nodes and apps), dc_of (node -> DC), dcs (DC -> its nodes, in
    order of first appearance), dc_sizes, seeds (the first `seeds_per_dc` nodes of each DC, the
    same list for every caller) and replication (DC -> min(nodes in the DC, max_rf))."""
    node_list = list(nodes)
    seeds_per_dc, max_rf = int(seeds_per_dc), int(max_rf)
    if seeds_per_dc < 1 or max_rf < 1:
        raise AnsibleFilterError("fleet_topology: seeds_per_dc and max_rf must be at least 1")
    dc_of: dict[str, str] = {}
    for host in node_list:
        if host not in hostvars:
            raise AnsibleFilterError(f"fleet_topology: {host!r} is not in the inventory")
        dc = hostvars[host].get("cassandra_dc", default_dc)
        if not dc:
            raise AnsibleFilterError(f"fleet_topology: {host!r} has no cassandra_dc")
        dc_of[host] = str(dc)
    dcs: dict[str, list[str]] = {}
    for host in node_list:
        dcs.setdefault(dc_of[host], []).append(host)
    addresses = {host: fleet_address(host, hostvars) for host in [*node_list, *apps]}
    shared = sorted(
        {
            a
            for a in (addresses[h] for h in node_list)
            if [addresses[n] for n in node_list].count(a) > 1
        }
    )
    if shared:
        raise AnsibleFilterError(
            f"fleet_topology: several nodes have the address {', '.join(shared)}"
        )
    return {
        "nodes": node_list,
        "addresses": addresses,
        "dc_of": dc_of,
        "dcs": dcs,
        "dc_sizes": {dc: len(members) for dc, members in dcs.items()},
        "seeds": [host for host in node_list if dcs[dc_of[host]].index(host) < seeds_per_dc],
        "replication": {dc: min(len(members), max_rf) for dc, members in dcs.items()},
    }


# The inventory groups whose hosts run the platform (and so a node exporter): a host in none of
# them (a spare not yet added, the controller) is not scraped.
TIERS = ("cassandra", "fleet_app", "object_store", "monitoring")
# The app's own exporters on every host of fleet_app (fleet etl stream, fleet dashboard).
APP_JOBS = ("fleet_etl", "fleet_dashboard")
# The drills' probe (fleet probe write) runs only during a drill: a static target would be down
# between drills. The drill writes its app host's target into this directory while the probe
# runs (one file per app host: one probe at a time holds its port), Prometheus reads it there.
PROBE_JOB = "fleet_probe"
PROBE_SD_DIR = "/etc/prometheus/file_sd/fleet_probe"


def _target(host: str, hostvars: Mapping[str, Any], port: int, **labels: str) -> dict[str, Any]:
    return {
        "targets": [f"{fleet_address(host, hostvars)}:{port}"],
        "labels": {"instance": host, **labels},
    }


def _hosts(groups: Mapping[str, Iterable[str]], *names: str) -> list[str]:
    return sorted({host for name in names for host in groups.get(name, ())})


def fleet_scrape_jobs(
    hostvars: Mapping[str, Any], groups: Mapping[str, Iterable[str]], ports: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Prometheus `scrape_configs` (static targets, hosts sorted by name, labelled `instance` by
    inventory name). `ports`: node_exporter, prometheus, alertmanager, cassandra, the default
    of the nodes' agent port (a node's own `cassandra_metrics_port` wins; 0 leaves it out), and
    fleet_etl and fleet_dashboard, the app hosts' ETL and dashboard metrics ports (0: not
    served), their targets labelled with the host's `fleet_app_local_dc`. With app hosts, a
    last job, `fleet_probe`, reads the drills' probe targets from files (no static target)."""
    for key in ("node_exporter", "cassandra", "prometheus", "alertmanager", *APP_JOBS):
        if key not in ports:
            raise AnsibleFilterError(f"fleet_scrape_jobs: ports lacks {key!r}")
    monitoring = _hosts(groups, "monitoring")
    if not monitoring:
        raise AnsibleFilterError(
            "fleet_scrape_jobs: the inventory has no host in group 'monitoring'"
        )
    nodes = []
    for host in _hosts(groups, "cassandra"):
        port = int(hostvars[host].get("cassandra_metrics_port", ports["cassandra"]))
        if port > 0:
            settings = hostvars[host]
            labels = {
                "dc": str(settings.get("cassandra_dc", "")),
                "rack": str(settings.get("cassandra_rack", "")),
            }
            nodes.append(_target(host, hostvars, port, **labels))
    apps = _hosts(groups, "fleet_app")
    app_jobs = [
        (
            job,
            [
                _target(
                    h, hostvars, int(ports[job]), dc=str(hostvars[h].get("fleet_app_local_dc", ""))
                )
                for h in apps
            ]
            if int(ports[job]) > 0
            else [],
        )
        for job in APP_JOBS
    ]
    jobs = [
        (
            "node",
            [_target(h, hostvars, int(ports["node_exporter"])) for h in _hosts(groups, *TIERS)],
        ),
        ("cassandra", nodes),
        ("prometheus", [_target(h, hostvars, int(ports["prometheus"])) for h in monitoring]),
        ("alertmanager", [_target(h, hostvars, int(ports["alertmanager"])) for h in monitoring]),
        *app_jobs,
    ]
    static = [{"job_name": name, "static_configs": targets} for name, targets in jobs if targets]
    # Prometheus reads the files when they change; every 30 s too, should it miss a change.
    files = {"files": [f"{PROBE_SD_DIR}/*.json"], "refresh_interval": "30s"}
    probe = {"job_name": PROBE_JOB, "file_sd_configs": [files]}
    return [*static, probe] if apps else static


def fleet_probe_scrape_target(
    host: str, hostvars: Mapping[str, Any], port: Any, run_id: str
) -> dict[str, Any]:
    """Where the drill writes its probe's target on the monitoring hosts (`path`) and what
    (`targets`, Prometheus's file_sd format): the app host's address and the probe's metrics
    port, labelled like the app's jobs (`instance`, `dc`) and with the drill's `run_id`."""
    if int(port) <= 0:
        raise AnsibleFilterError(f"fleet_probe_scrape_target: port must be positive, not {port!r}")
    if not run_id:
        raise AnsibleFilterError("fleet_probe_scrape_target: run_id is empty")
    dc = str(hostvars.get(host, {}).get("fleet_app_local_dc", ""))
    return {
        "path": f"{PROBE_SD_DIR}/{host}.json",
        "targets": [_target(host, hostvars, int(port), dc=dc, run_id=str(run_id))],
    }


def fleet_alertmanagers(
    hostvars: Mapping[str, Any], groups: Mapping[str, Iterable[str]], port: int
) -> list[str]:
    """Where Prometheus sends its alerts: every monitoring host's Alertmanager, address:port."""
    return [f"{fleet_address(host, hostvars)}:{int(port)}" for host in _hosts(groups, "monitoring")]


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, object]:
        return {
            "fleet_address": fleet_address,
            "fleet_topology": fleet_topology,
            "fleet_scrape_jobs": fleet_scrape_jobs,
            "fleet_probe_scrape_target": fleet_probe_scrape_target,
            "fleet_alertmanagers": fleet_alertmanagers,
        }
