"""fleet.session.renew_missing_pools: which nodes lack the pool the routing needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

from cassandra.policies import HostDistance

from fleet.session import Connection, node_connections, renew_missing_pools


@dataclass(eq=False)
class Host:
    address: str
    datacenter: str
    is_up: bool = True


@dataclass
class Session:
    pools: dict[Any, dict[str, Any]]
    renewals: list[int] = field(default_factory=list)

    def get_pool_state(self) -> dict[Any, dict[str, Any]]:
        return self.pools

    def update_created_pools(self) -> None:
        self.renewals.append(1)


def connection(hosts: list[Host], session: Session) -> Connection:
    """Nodes of dc1 are LOCAL, the others IGNORED (DC-aware routing without remote hosts)."""
    cluster = SimpleNamespace(
        metadata=SimpleNamespace(all_hosts=lambda: hosts),
        profile_manager=SimpleNamespace(
            distance=lambda h: HostDistance.LOCAL if h.datacenter == "dc1" else HostDistance.IGNORED
        ),
    )
    return cast(Connection, SimpleNamespace(cluster=cluster, session=session))


def test_a_local_node_up_without_a_pool_is_renewed_once() -> None:
    a, b, remote = Host("10.0.0.1", "dc1"), Host("10.0.0.2", "dc1"), Host("10.0.1.1", "dc2")
    session = Session({a: {"shutdown": False, "open_count": 1}})
    conn = connection([a, b, remote], session)

    assert renew_missing_pools(conn) == ["10.0.0.2"]
    assert session.renewals == [1]
    # What the stats file says until the pool exists: up, no connection.
    assert [n for n in node_connections(conn) if n["address"] == "10.0.0.2"] == [
        {"address": "10.0.0.2", "dc": "dc1", "up": True, "connections": 0}
    ]


def test_a_shut_down_pool_counts_as_missing() -> None:
    a = Host("10.0.0.1", "dc1")
    session = Session({a: {"shutdown": True, "open_count": 0}})
    assert renew_missing_pools(connection([a], session)) == ["10.0.0.1"]


def test_nothing_to_do_leaves_the_driver_alone() -> None:
    up = Host("10.0.0.1", "dc1")
    down = Host("10.0.0.2", "dc1", is_up=False)  # the driver's reconnection handles it
    ignored = Host("10.0.1.1", "dc2")  # never pooled by DC-aware routing
    session = Session({up: {"shutdown": False, "open_count": 1}})

    assert renew_missing_pools(connection([up, down, ignored], session)) == []
    assert session.renewals == []
