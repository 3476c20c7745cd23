"""Cluster: nodes by data center and rack with their state, and the keyspace's replication,
from the driver's cluster metadata, through a connection that watches every node of every DC;
then every dashboard of the deployment (FLEET_APP_HOSTS) with its health. The dashboards are
drawn even when the cluster cannot be: they say where else to look."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from fleet.config import Settings
from fleet.dashboard import state
from fleet.dashboard.app_hosts import HEALTH_TIMEOUT_S, hosts_table
from fleet.dashboard.backups import backup_state
from fleet.dashboard.certs import EXPIRY_WARNING_DAYS, certificates_rows
from fleet.dashboard.cluster_info import ClusterView
from fleet.dashboard.settings import DashboardSettings


def _state_color(value: object) -> str:
    return {"UP": "color: #1a7f37", "DOWN": "color: #d1242f; font-weight: bold"}.get(str(value), "")


def _health_color(value: object) -> str:
    return "color: #1a7f37" if value == "ok" else "color: #d1242f; font-weight: bold"


def _cluster(view: ClusterView, base: Settings) -> None:
    degraded = state.degraded_reads()
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Data centers", len(view.datacenters), border=True)
    c2.metric("Nodes up", f"{view.nodes_up()} / {len(view.nodes)}", border=True)
    c3.metric("Local DC", base.local_dc or "?", border=True)
    c4.metric(
        "Degraded reads",
        "-" if degraded is None else degraded,
        border=True,
        help=f"reads retried at {base.degraded_consistency} since the dashboard started",
    )
    for problem in view.problems(base.replication):
        st.warning(problem)

    for dc in view.datacenters:
        nodes = view.nodes[view.nodes["datacenter"] == dc]
        racks = sorted(set(nodes["rack"]))
        st.subheader(f"{dc} · {len(nodes)} node(s) in {len(racks)} rack(s)")
        st.dataframe(
            nodes.drop(columns=["datacenter"]).style.map(_state_color, subset=["state"]),
            column_config={
                "rack": "Rack",
                "address": "Address",
                "state": "State",
                "version": "Cassandra",
                "host_id": "Host id",
            },
            hide_index=True,
            key=f"cl_{dc}",
        )

    st.subheader(f"Keyspace {view.keyspace}")
    if view.replication is None:
        st.error("The keyspace does not exist: run `fleet schema apply`.")
    else:
        st.markdown(f"Strategy **{view.strategy}**")
        st.dataframe(
            [{"datacenter": dc, "replication factor": rf} for dc, rf in view.replication.items()],
            hide_index=True,
            key="cl_replication",
        )


def _certificates(view: ClusterView) -> None:
    st.subheader("TLS certificates")
    certs = state.node_certificates(view.hosts)
    if certs is None:
        st.caption("Plaintext connections (FLEET_TLS_CA_FILE is not set).")
        return
    now = datetime.now(UTC)
    for cert in certs:
        if cert.error:
            st.warning(f"{cert.address}: no verified certificate ({cert.error})")
        elif cert.expires_soon(now):
            st.warning(
                f"{cert.address}: certificate expires in {cert.days_left(now)} days: "
                "run playbooks/rotate_certificates.yml"
            )
    st.dataframe(certificates_rows(certs, now), hide_index=True, key="cl_certs")
    st.caption(
        f"Served on the native port, verified against the CA bundle; read at most every "
        f"{state.CERTS_TTL_S / 60:g} min. Under {EXPIRY_WARNING_DAYS} days left is a warning."
    )


def _backup_color(value: object) -> str:
    return {"ok": "color: #1a7f37"}.get(str(value), "color: #d1242f; font-weight: bold")


def _backups(view: ClusterView, base: Settings, dash: DashboardSettings) -> None:
    st.subheader("Backups")
    addresses = view.hosts
    latest, reason = state.latest_backups(base.keyspace, addresses)
    if latest is None:
        st.warning(f"The backups' status cannot be read now: {reason}")
        return
    backups = backup_state(latest, addresses, dash.backup_max_age_s, datetime.now(UTC))
    for problem in backups.problems:
        st.warning(problem)
    st.dataframe(
        pd.DataFrame(backups.rows).style.map(_backup_color, subset=["state"]),
        column_config={
            "node": "Node",
            "backup": "Last backup",
            "finished": "Finished",
            "age": "Age",
            "size": "Size in the store",
            "state": "State",
        },
        hide_index=True,
        key="cl_backups",
    )
    allowed = (
        f"a warning past {dash.backup_max_age_s / 3600:g} h (the schedule's interval and the "
        "time a backup may take)"
        if dash.backup_max_age_s
        else "no age is checked (FLEET_BACKUP_MAX_AGE is not set)"
    )
    st.caption(
        f"Each node records the backups it finishes (Medusa, table backup_status); {allowed}. "
        f"Read at most every {state.BACKUPS_TTL_S:g} s."
    )


def _app_hosts(dash: DashboardSettings) -> None:
    st.subheader("Dashboards")
    if not dash.app_hosts:
        st.caption("Set FLEET_APP_HOSTS (name@dc=url, ...) to list every dashboard here.")
        return
    health = state.app_health(tuple(h.health_url for h in dash.app_hosts))
    table = hosts_table(dash.app_hosts, health)
    st.dataframe(
        table.style.map(_health_color, subset=["health"]),
        column_config={
            "name": "Host",
            "dc": "Reads from",
            "url": st.column_config.LinkColumn("Dashboard"),
            "this_host": st.column_config.CheckboxColumn("This host"),
            "health": st.column_config.TextColumn(
                "Health", help=f"GET /_stcore/health ({HEALTH_TIMEOUT_S:g} s timeout)"
            ),
        },
        hide_index=True,
        key="cl_app_hosts",
    )
    st.caption(f"Health checked at most every {state.HEALTH_TTL_S:g} s.")


def render() -> None:
    base, dash = state.settings()
    st.header("Cluster")
    view = state.cluster_view(base.keyspace)
    if view is not None:
        _cluster(view, base)
        _certificates(view)
        _backups(view, base, dash)
    _app_hosts(dash)
    credentials = dash.console_credentials
    role = credentials[0] if credentials else f"{base.username or 'no login'} (application role)"
    fallback = base.degraded_consistency
    degraded = f", {fallback} when replicas are missing" if fallback else ""
    st.caption(f"Reads at {base.consistency}{degraded} · CQL console role: {role}")


render()
