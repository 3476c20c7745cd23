"""Running the project's Ansible tools from tests: its ansible.cfg, its venv, no host reached."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LAB_VAULT_PASSWORD = ROOT / "inventories" / "lab" / "vault-password.txt"


def run_ansible(
    tool: str, *args: str, vault_password_file: Path | None = LAB_VAULT_PASSWORD
) -> subprocess.CompletedProcess[str]:
    """``tool`` (ansible-playbook, ansible-inventory, …) from the venv, run from the clone."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    if vault_password_file is not None:
        env["ANSIBLE_VAULT_PASSWORD_FILE"] = str(vault_password_file)
    return subprocess.run(
        [str(BIN / tool), *args], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )


def inventory_list(inventory: Path) -> dict[str, Any]:
    """``ansible-inventory --list``: groups with their hosts and children, ``_meta.hostvars``."""
    result = run_ansible("ansible-inventory", "-i", str(inventory), "--list")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def group_hosts(listing: dict[str, Any], group: str) -> list[str]:
    """Hosts of ``group`` and of its descendants, in inventory order."""
    entry = listing.get(group, {})
    hosts = list(entry.get("hosts", []))
    for child in entry.get("children", []):
        hosts += [h for h in group_hosts(listing, child) if h not in hosts]
    return hosts
