"""The typed confirmation of destructive operations (playbooks/tasks/confirm.yml), run for real on
the controller without a terminal, as CI and scripts run playbooks; and the destructive node
operations ask for it, naming the node, before the play that changes anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_run import ROOT, run_ansible

CONFIRM = ROOT / "playbooks" / "tasks" / "confirm.yml"


def _run(tmp_path: Path, extra: dict[str, Any]) -> Any:
    playbook = tmp_path / "confirm.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "A destructive step",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Ask",
                            "ansible.builtin.include_tasks": str(CONFIRM),
                            "vars": {
                                "confirm_target": "cass-dc1-3",
                                "confirm_action": "cass-dc1-3 will leave the cluster.",
                            },
                        },
                        {"name": "Changed", "ansible.builtin.debug": {"msg": "went on"}},
                    ],
                }
            ]
        )
    )
    return run_ansible(
        "ansible-playbook",
        "-i",
        "localhost,",
        "-c",
        "local",
        str(playbook),
        "-e",
        json.dumps(extra),
        vault_password_file=None,
    )


@pytest.mark.parametrize(
    "extra",
    [
        {"fleet_confirm_destructive": True},
        {"fleet_confirm_destructive": True, "confirm": "cass-dc1-2"},
    ],
)
def test_without_the_typed_name_nothing_goes_on(tmp_path, extra):
    result = _run(tmp_path, extra)
    assert result.returncode != 0
    assert "Not confirmed, nothing was changed. cass-dc1-3 will leave the cluster." in result.stdout
    assert "run again with -e confirm=cass-dc1-3" in result.stdout
    assert "went on" not in result.stdout


@pytest.mark.parametrize(
    "extra",
    [
        {"fleet_confirm_destructive": True, "confirm": "cass-dc1-3"},
        {"fleet_confirm_destructive": False},  # the lab and Molecule: disposable hosts
    ],
)
def test_the_typed_name_or_a_disposable_inventory_goes_on(tmp_path, extra):
    result = _run(tmp_path, extra)
    assert result.returncode == 0, result.stdout
    assert "went on" in result.stdout


def _plays(name: str) -> list[dict[str, Any]]:
    return yaml.safe_load((ROOT / "playbooks" / name).read_text())


@pytest.mark.parametrize(
    ("playbook", "target", "first_change"),
    [
        ("decommission_node.yml", "decommission_plan.node", "Decommission the node"),
        ("replace_node.yml", "dead_node", "Rebuild the dead node as its replacement"),
    ],
)
def test_destructive_node_operations_ask_for_the_node_before_changing_it(
    playbook, target, first_change
):
    plays = _plays(playbook)
    names = [play.get("name") for play in plays]
    asks = [
        i
        for i, play in enumerate(plays)
        for task in play.get("tasks", [])
        if task.get("ansible.builtin.include_tasks") == "tasks/confirm.yml"
        and task["vars"]["confirm_target"] == "{{ " + target + " }}"
    ]
    assert asks and asks[0] < names.index(first_change)
