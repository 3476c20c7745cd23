"""playbooks/validate.yml stops a wrong inventory before any host is touched.

The checks run on the controller (no facts, no connection), so these tests run the real
playbook against inventories of hosts that do not exist: reaching one would fail differently.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "validate.yml"


def run(tmp_path: Path, inventory: str, extra: str):
    (tmp_path / "hosts.yml").write_text(inventory)
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_VAULT_PASSWORD_FILE=str(ROOT / "inventories" / "lab" / "vault-password.txt"),
    )
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        str(tmp_path / "hosts.yml"),
        str(PLAYBOOK),
        "-e",
        extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, check=False)


GOOD = """
all:
  vars: {ansible_connection: ssh, ansible_host: 192.0.2.1}
  children:
    cassandra:
      children:
        dc1:
          vars: {cassandra_dc: dc1}
          hosts: {n1: {cassandra_rack: rack1}}
        dc2:
          vars: {cassandra_dc: dc2}
          hosts: {n2: {cassandra_rack: rack1}}
"""
PASSWORD = "vault_cassandra_admin_password=a-long-enough-secret"


def test_a_consistent_inventory_passes(tmp_path):
    result = run(tmp_path, GOOD, PASSWORD)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "unreachable=0" in result.stdout


def test_a_node_whose_dc_is_not_its_group_is_refused(tmp_path):
    bad = GOOD.replace(
        "hosts: {n2: {cassandra_rack: rack1}}",
        "hosts: {n2: {cassandra_rack: rack1, cassandra_dc: dc3}}",
    )
    result = run(tmp_path, bad, PASSWORD)
    assert result.returncode != 0
    assert (
        "n2: cassandra_dc (dc3) must name the inventory group of its data center" in result.stdout
    )


def test_a_missing_rack_is_refused(tmp_path):
    bad = GOOD.replace("hosts: {n1: {cassandra_rack: rack1}}", "hosts: {n1: {}}")
    result = run(tmp_path, bad, PASSWORD)
    assert result.returncode != 0
    assert "cassandra_rack must be set" in result.stdout


def test_an_inventory_without_cassandra_is_refused(tmp_path):
    result = run(tmp_path, "all:\n  hosts:\n    app-1: {ansible_host: 192.0.2.9}\n", PASSWORD)
    assert result.returncode != 0
    assert "The inventory has no hosts in group 'cassandra'." in result.stdout


def test_missing_vault_secrets_are_refused(tmp_path):
    result = run(tmp_path, GOOD, "unrelated=1")
    assert result.returncode != 0
    assert "Check that the vaulted secrets are readable" in result.stdout
