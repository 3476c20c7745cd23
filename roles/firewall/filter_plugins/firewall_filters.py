"""The addresses the firewall's rules accept: checked, unique, sorted."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable


def firewall_sources(*groups: Iterable[str]) -> list[str]:
    """Sorted, unique addresses or CIDRs of every list given, each checked (the hosts' addresses
    come from fleet_address, plugins/filter/fleet_topology.py)."""
    found: set[str] = set()
    for item in [item for group in groups for item in group]:
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
            "firewall_sources": firewall_sources,
        }
