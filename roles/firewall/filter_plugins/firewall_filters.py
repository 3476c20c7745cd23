"""The addresses the firewall's rules accept, derived from the inventory's hosts."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any


def firewall_host_address(host_vars: Mapping[str, Any]) -> str:
    """The address a host's traffic comes from: the Cassandra listen address when set (nodes with
    several interfaces), else its default IPv4 address (network facts), else ansible_host."""
    for candidate in (
        host_vars.get("cassandra_listen_address"),
        ((host_vars.get("ansible_facts") or {}).get("default_ipv4") or {}).get("address"),
        host_vars.get("ansible_host"),
    ):
        if candidate:
            return str(candidate)
    raise ValueError(f"no address known for {host_vars.get('inventory_hostname', '?')}")


def firewall_sources(
    hosts: Iterable[str], hostvars: Mapping[str, Any], extra: Iterable[str] = ()
) -> list[str]:
    """Sorted, unique addresses of `hosts` plus `extra` addresses or CIDRs, each checked."""
    found: set[str] = set()
    for item in [*(firewall_host_address(hostvars[h]) for h in hosts), *extra]:
        text = str(item).strip()
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"firewall: {text!r} is not an IPv4 address or CIDR") from None
        if network.version != 4:
            raise ValueError(f"firewall: {text!r} is IPv6; the rules filter IPv4 (ip saddr)")
        found.add(str(network) if network.prefixlen < 32 else str(network.network_address))
    return sorted(found, key=lambda s: ipaddress.ip_network(s))


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, object]:
        return {
            "firewall_host_address": firewall_host_address,
            "firewall_sources": firewall_sources,
        }
