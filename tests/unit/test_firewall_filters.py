"""The firewall's addresses: one rule for where a host's traffic comes from, checked sources."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(
    0, str(Path(__file__).resolve().parents[2] / "roles" / "firewall" / "filter_plugins")
)

import firewall_filters as ff

HOSTVARS = {
    "n1": {"cassandra_listen_address": "10.0.0.11", "ansible_host": "192.0.2.11"},
    "n2": {
        "ansible_facts": {"default_ipv4": {"address": "10.0.0.12"}},
        "ansible_host": "192.0.2.12",
    },
    "app": {"ansible_host": "10.0.0.31"},
}


def test_listen_address_then_default_ipv4_then_ansible_host():
    assert [ff.firewall_host_address(HOSTVARS[h]) for h in ("n1", "n2", "app")] == [
        "10.0.0.11",
        "10.0.0.12",
        "10.0.0.31",
    ]


def test_a_host_without_any_address_is_an_error():
    with pytest.raises(ValueError, match="no address known for x"):
        ff.firewall_host_address({"inventory_hostname": "x"})


def test_sources_are_unique_sorted_and_accept_cidrs():
    got = ff.firewall_sources(["n2", "n1", "n1"], HOSTVARS, ["10.9.0.0/16", "10.0.0.11/32"])
    assert got == ["10.0.0.11", "10.0.0.12", "10.9.0.0/16"]


@pytest.mark.parametrize("bad", ["not-an-address", "10.0.0.300", "2001:db8::1"])
def test_bad_sources_are_refused_with_their_value(bad):
    with pytest.raises(ValueError, match="firewall: "):
        ff.firewall_sources([], HOSTVARS, [bad])
