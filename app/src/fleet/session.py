"""Connecting to Cassandra: the cluster, its execution profiles, and checks made up front.

Shared by every command and by the dashboard. The default execution profile runs at
``FLEET_CONSISTENCY``; a second profile, :data:`DEGRADED_PROFILE`, at
``FLEET_DEGRADED_CONSISTENCY`` when it is set. The driver's own retry policy is disabled
(``FallthroughRetryPolicy``): callers decide what to retry, so their counts are exact.

Reconnection: the driver's default policy backs off exponentially up to 10 minutes, so after a
two-minute outage of a DC its nodes stayed unused for minutes although they were up (measured on
the lab: 130 s of backoff). Here a down node (and the control connection) is retried after
0.5 s, 1 s, 2 s, then every ``FLEET_RECONNECT_MAX_DELAY`` seconds (default 4, jitter +-15 %),
forever: a node that comes back is used again within that many seconds.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from cassandra import AuthenticationFailed, ConsistencyLevel, UnresolvableContactPoints
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import (
    EXEC_PROFILE_DEFAULT,
    Cluster,
    ExecutionProfile,
    NoHostAvailable,
    Session,
)
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    FallthroughRetryPolicy,
    HostDistance,
    RoundRobinPolicy,
    TokenAwarePolicy,
)

from fleet.config import Settings

DEGRADED_PROFILE = "degraded"
CONNECT_TIMEOUT_S = 5.0
RECONNECT_BASE_DELAY_S = 0.5


class ConnectionCheckError(RuntimeError):
    """Cassandra cannot be used with these settings; the message says why, in one line."""


# ----------------------------------------------------------------------------- connection


def _profile(
    local_dc: str, consistency: str, timeout_s: float, watch_every_node: bool = False
) -> ExecutionProfile:
    # DC-aware routing ignores the other DCs' nodes: no connection to them, so the driver does
    # not know whether they are up. A watcher (the dashboard's Cluster page) connects to every
    # node instead, and sends no query.
    policy = (
        RoundRobinPolicy()
        if watch_every_node
        else TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=local_dc))
    )
    return ExecutionProfile(
        load_balancing_policy=policy,
        retry_policy=FallthroughRetryPolicy(),
        consistency_level=ConsistencyLevel.name_to_value[consistency],
        request_timeout=timeout_s,
    )


def build_cluster(settings: Settings, watch_every_node: bool = False) -> Cluster:
    local_dc = settings.require_local_dc()
    profiles = {
        EXEC_PROFILE_DEFAULT: _profile(
            local_dc, settings.consistency, settings.request_timeout_s, watch_every_node
        )
    }
    if settings.degraded_consistency:
        profiles[DEGRADED_PROFILE] = _profile(
            local_dc, settings.degraded_consistency, settings.request_timeout_s
        )
    credentials = settings.credentials
    return Cluster(
        contact_points=[(cp.host, cp.port) for cp in settings.contact_points],
        port=settings.port,
        execution_profiles=profiles,
        auth_provider=PlainTextAuthProvider(*credentials) if credentials else None,
        connect_timeout=CONNECT_TIMEOUT_S,
        control_connection_timeout=CONNECT_TIMEOUT_S,
        reconnection_policy=reconnection_policy(settings),
        ssl_context=tls_context(settings),
    )


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """TLS to the nodes when a CA bundle is set: the node's certificate must chain to it and,
    with hostname checking (the default), name the address the driver connects to."""
    if settings.tls_ca_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(settings.tls_ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = settings.tls_check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def reconnection_policy(settings: Settings) -> ExponentialReconnectionPolicy:
    """Bounded backoff that never gives up (the driver's default stops after 64 attempts)."""
    return ExponentialReconnectionPolicy(
        RECONNECT_BASE_DELAY_S, settings.reconnect_max_delay_s, max_attempts=None
    )


def node_connections(conn: Connection) -> list[dict[str, Any]]:
    """Every node the driver knows: its DC, whether the driver sees it up, and how many open
    connections this session holds to it (0 for the other DCs' nodes: DC-aware routing ignores
    them). Written to the ETL's stats file; the operations' pre-checks read it."""
    pools = {host: state for host, state in conn.session.get_pool_state().items()}
    nodes = []
    for host in conn.cluster.metadata.all_hosts():
        state = pools.get(host) or {}
        nodes.append(
            {
                "address": str(host.address),
                "dc": host.datacenter,
                "up": bool(host.is_up),
                "connections": 0 if state.get("shutdown") else int(state.get("open_count", 0)),
            }
        )
    return sorted(nodes, key=lambda n: (str(n["dc"]), n["address"]))


def renew_missing_pools(conn: Connection) -> list[str]:
    """Ask the driver for the connection pools it lacks to nodes it routes to, and name them.

    When a node accepts the driver's first connection but not yet its pool (the node still
    starting: "Failed to create connection pool for new host", a timeout), the driver marks the
    node up and never tries again: on the lab, an ETL started beside its DC's nodes held no
    connection to one of them after 13 minutes, and the operations' pre-checks refused to run.
    ``update_created_pools`` creates, in the background, the pool of every node that is up, not
    ignored by the load-balancing policy, and has none (or a shut-down one)."""
    pools = conn.session.get_pool_state()
    distance = conn.cluster.profile_manager.distance
    missing = [
        str(host.address)
        for host in conn.cluster.metadata.all_hosts()
        if host.is_up
        and distance(host) != HostDistance.IGNORED
        and (pools.get(host) is None or pools[host].get("shutdown"))
    ]
    if missing:
        conn.session.update_created_pools()
    return missing


def connect_dc(settings: Settings, dc: str) -> Connection:
    """A connection that reads at LOCAL_QUORUM through ``dc`` only (read-back checks)."""
    return connect(
        replace(settings, local_dc=dc, consistency="LOCAL_QUORUM", degraded_consistency=None)
    )


def known_datacenters(cluster: Cluster) -> set[str]:
    return {h.datacenter for h in cluster.metadata.all_hosts() if h.datacenter}


def explain_no_host(exc: NoHostAvailable, settings: Settings, dcs: set[str]) -> str:
    errors = exc.errors if isinstance(exc.errors, dict) else {}
    if any(isinstance(e, AuthenticationFailed) for e in errors.values()):
        who = f"user {settings.username!r}" if settings.username else "no credentials"
        return (
            f"authentication failed ({who}): check FLEET_USERNAME / FLEET_PASSWORD "
            "(or set them if the cluster requires authentication)"
        )
    tls_errors = [e for e in errors.values() if isinstance(e, ssl.SSLError)]
    if tls_errors:
        reason = getattr(tls_errors[0], "verify_message", None) or _short(tls_errors[0])
        return (
            f"TLS handshake with Cassandra failed ({reason}): check that FLEET_TLS_CA_FILE "
            f"({settings.tls_ca_file}) holds the CA that signed the nodes' certificates"
        )
    if dcs and settings.local_dc not in dcs:
        return (
            f"local DC {settings.local_dc!r} is unknown to the cluster; it has "
            f"{', '.join(sorted(dcs))}: fix FLEET_LOCAL_DC"
        )
    points = ", ".join(str(cp) for cp in settings.contact_points)
    details = "; ".join(f"{host}: {_short(err)}" for host, err in errors.items()) or str(exc)
    hint = (
        "; if the nodes require TLS, set FLEET_TLS_CA_FILE to the deployment's CA bundle"
        if settings.tls_ca_file is None
        else ""
    )
    return f"cannot reach Cassandra at {points} ({details}){hint}"


def _short(err: object) -> str:
    text = str(err.strerror if isinstance(err, OSError) and err.strerror else err)
    return text.rsplit("Last error: ", 1)[-1]


@contextmanager
def _quiet_driver() -> Iterator[None]:
    """The driver logs a traceback per failed contact point; we raise one clear error instead.

    Left alone when debugging (``-vv`` sets the level to DEBUG).
    """
    driver_log = logging.getLogger("cassandra")
    level = driver_log.level
    if driver_log.getEffectiveLevel() > logging.DEBUG:
        driver_log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        driver_log.setLevel(level)


@dataclass
class Connection:
    settings: Settings
    cluster: Cluster
    session: Session

    @property
    def degraded_profile(self) -> str | None:
        return DEGRADED_PROFILE if self.settings.degraded_consistency else None

    def close(self) -> None:
        self.cluster.shutdown()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        """Hosts by DC with their state, and the keyspace's replication if it exists."""
        hosts: dict[str, list[str]] = {}
        for host in self.cluster.metadata.all_hosts():
            state = "up" if host.is_up else "down"
            hosts.setdefault(host.datacenter or "?", []).append(f"{host.endpoint} {state}")
        keyspace = self.cluster.metadata.keyspaces.get(self.settings.keyspace)
        strategy = keyspace.replication_strategy if keyspace else None
        return {
            "local_dc": self.settings.local_dc,
            "datacenters": {dc: sorted(h) for dc, h in sorted(hosts.items())},
            "keyspace": self.settings.keyspace,
            "replication": dict(getattr(strategy, "dc_replication_factors", {}) or {})
            if keyspace
            else None,
        }


def connect(
    settings: Settings, *, require_keyspace: bool = True, watch_every_node: bool = False
) -> Connection:
    """Connect and check everything up front; raise :class:`ConnectionCheckError` otherwise.

    ``watch_every_node``: keep a connection to every node of every DC so that each node's
    up/down state is known (for monitoring; queries should use a DC-aware connection).
    """
    local_dc = settings.require_local_dc()
    try:
        cluster = build_cluster(settings, watch_every_node)
    except UnresolvableContactPoints as exc:
        raise ConnectionCheckError(
            f"cannot resolve any contact point ({', '.join(map(str, settings.contact_points))})"
        ) from exc
    try:
        with _quiet_driver():
            session = cluster.connect()
    except NoHostAvailable as exc:
        message = explain_no_host(exc, settings, known_datacenters(cluster))
        cluster.shutdown()
        raise ConnectionCheckError(message) from exc
    except AuthenticationFailed as exc:
        cluster.shutdown()
        raise ConnectionCheckError(f"authentication failed: {exc}") from exc
    dcs = known_datacenters(cluster)
    if local_dc not in dcs:
        cluster.shutdown()
        raise ConnectionCheckError(
            f"local DC {local_dc!r} is unknown to the cluster; it has {', '.join(sorted(dcs))}"
        )
    if require_keyspace and settings.keyspace not in cluster.metadata.keyspaces:
        cluster.shutdown()
        raise ConnectionCheckError(
            f"keyspace {settings.keyspace!r} does not exist: run `fleet schema apply` first"
        )
    return Connection(settings, cluster, session)
