"""The firewall's sources: checked, unique, sorted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(
    0, str(Path(__file__).resolve().parents[2] / "roles" / "firewall" / "filter_plugins")
)

import firewall_filters as ff


def test_sources_are_unique_sorted_and_accept_cidrs():
    got = ff.firewall_sources(
        ["10.0.0.12", "10.0.0.11"], ["10.0.0.11"], ["10.9.0.0/16", "10.0.0.11/32"]
    )
    assert got == ["10.0.0.11", "10.0.0.12", "10.9.0.0/16"]


@pytest.mark.parametrize("bad", ["not-an-address", "10.0.0.300", "2001:db8::1"])
def test_bad_sources_are_refused_with_their_value(bad):
    with pytest.raises(ValueError, match="firewall: "):
        ff.firewall_sources([], [bad])
