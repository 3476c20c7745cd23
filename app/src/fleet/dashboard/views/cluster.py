"""Cluster: nodes by data center and rack with their state, and the keyspace's replication,
from the driver's cluster metadata, through a connection that watches every node of every DC."""

from __future__ import annotations

import streamlit as st

from fleet.dashboard import state
from fleet.dashboard.cluster_info import describe_cluster


def _state_color(value: object) -> str:
    return {"UP": "color: #1a7f37", "DOWN": "color: #d1242f; font-weight: bold"}.get(str(value), "")


def render() -> None:
    base, dash = state.settings()
    view = describe_cluster(state.cluster_watch().cluster.metadata, base.keyspace)
    st.header("Cluster")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Data centers", len(view.datacenters), border=True)
    c2.metric("Nodes up", f"{view.nodes_up()} / {len(view.nodes)}", border=True)
    c3.metric("Local DC", base.local_dc or "?", border=True)
    c4.metric(
        "Degraded reads",
        state.queries().degraded,
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
    credentials = dash.console_credentials
    role = credentials[0] if credentials else f"{base.username or 'no login'} (application role)"
    fallback = base.degraded_consistency
    degraded = f", {fallback} when replicas are missing" if fallback else ""
    st.caption(f"Reads at {base.consistency}{degraded} · CQL console role: {role}")


render()
