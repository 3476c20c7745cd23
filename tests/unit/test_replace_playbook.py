"""playbooks/replace_node.yml refuses wrong arguments before it touches any host: the checks run
on the controller, so these tests run the real playbook against hosts that do not exist
(reaching one would fail differently)."""

from __future__ import annotations

import pytest
from test_validate_playbook import GOOD, PASSWORD, ROOT, run

PLAYBOOK = ROOT / "playbooks" / "replace_node.yml"
# n3, a spare of dc1 in another rack than n1.
INVENTORY = GOOD.replace(
    "hosts: {n1: {cassandra_rack: rack1}}",
    "hosts: {n1: {cassandra_rack: rack1}, n3: {cassandra_rack: rack2}}",
)


@pytest.mark.parametrize(
    ("extra", "got"),
    [
        ("", "got dead_node=nothing, new_node=the same host"),
        ("dead_node=n9", "got dead_node=n9, new_node=the same host"),
        ("dead_node=n1 new_node=n9", "got dead_node=n1, new_node=n9"),
        ("dead_node=n1 new_node=n2", "got dead_node=n1, new_node=n2"),  # another DC
        ("dead_node=n1 new_node=n3", "got dead_node=n1, new_node=n3"),  # another rack
    ],
)
def test_a_wrong_replacement_is_refused_before_any_host_is_touched(tmp_path, extra, got):
    result = run(tmp_path, INVENTORY, f"{PASSWORD} {extra}", playbook=PLAYBOOK)
    assert result.returncode != 0
    assert "Usage: -e dead_node=<a host of group cassandra>" in result.stdout
    assert got in " ".join(result.stdout.split())
    assert "unreachable=1" not in result.stdout  # it stopped before contacting a host


def test_lifecycle_host_lists_keep_the_inventory_order():
    """Seeds are the first nodes of each DC in the group's order (fleet_topology): a replacement
    configured from a group built with `difference` (a set operation, any order) got other seeds
    than site.yml writes, and the next site.yml rewrote its cassandra.yaml and restarted it."""
    for name in ("replace_node.yml", "add_node.yml", "decommission_node.yml"):
        text = (ROOT / "playbooks" / name).read_text(encoding="utf-8")
        assert "groups['cassandra'] | difference(" not in text, name
