"""inventories/production.example: what the roles need, and nothing that could reach a real host.

Everything runs on the controller: ``ansible-inventory``, ``playbooks/validate.yml`` (asserts
only, no facts) and the cassandra role's own seed selection (``group_by``). The example's
addresses are documentation ranges (RFC 5737), which are never routed.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from ansible_run import ROOT, group_hosts, inventory_list, run_ansible

EXAMPLE = ROOT / "inventories" / "production.example"
DCS = ("dc_paris", "dc_lyon")
DOCUMENTATION_RANGES = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24")]
SECRETS = (
    "vault_cassandra_admin_password",
    "vault_fleet_etl_password",
    "vault_fleet_dashboard_password",
    "vault_fleet_console_password",
    "vault_fleet_proxy_operator_password",
    "vault_fleet_proxy_viewer_password",
)


@pytest.fixture(scope="module")
def listing() -> dict:
    return inventory_list(EXAMPLE)


def hostvars(listing: dict, host: str) -> dict:
    return listing["_meta"]["hostvars"][host]


def test_one_group_per_data_center_under_cassandra(listing):
    assert listing["cassandra"]["children"] == list(DCS)
    for dc in DCS:
        nodes = group_hosts(listing, dc)
        assert len(nodes) == 3, dc
        for node in nodes:
            assert hostvars(listing, node)["cassandra_dc"] == dc


def test_every_node_of_a_dc_is_in_its_own_rack(listing):
    for dc in DCS:
        racks = [hostvars(listing, node)["cassandra_rack"] for node in group_hosts(listing, dc)]
        assert len(set(racks)) == len(racks) == 3, (dc, racks)


def test_replication_fits_the_data_centers(listing):
    node = hostvars(listing, "cass-par-1")
    rf = node["fleet_replication_factor"]
    assert all(rf <= len(group_hosts(listing, dc)) for dc in DCS)
    rf_ref = "{{ fleet_replication_factor }}"
    assert node["cassandra_allocate_tokens_for_local_replication_factor"] == rf_ref
    assert hostvars(listing, "app-par-1")["fleet_app_replication_max_rf"] == rf_ref


def test_explicit_heap_and_two_seeds_per_dc(listing):
    for node in group_hosts(listing, "cassandra"):
        settings = hostvars(listing, node)
        size = re.fullmatch(r"([0-9]+)([MG])", settings["cassandra_heap_size"])
        assert size, settings["cassandra_heap_size"]
        assert int(size[1]) * (1 if size[2] == "G" else 1 / 1024) <= 31
        assert settings["cassandra_seeds_per_dc"] == 2


def test_the_cassandra_role_picks_the_first_two_nodes_of_each_dc_as_seeds(tmp_path: Path):
    playbook = tmp_path / "seeds.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Sort the nodes as site.yml does",
                    "hosts": "cassandra",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Topology",
                            "ansible.builtin.include_role": {
                                "name": "cassandra",
                                "tasks_from": "topology.yml",
                            },
                        },
                        {
                            "name": "Show the seeds",
                            "ansible.builtin.debug": {
                                "msg": "SEEDS={{ groups['cassandra_seed'] | sort | join(',') }}"
                            },
                            "run_once": True,
                        },
                    ],
                }
            ]
        )
    )
    result = run_ansible("ansible-playbook", "-i", str(EXAMPLE), str(playbook))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SEEDS=cass-lyo-1,cass-lyo-2,cass-par-1,cass-par-2" in result.stdout


def test_each_dc_has_an_app_host_ingesting_its_own_fleets(listing):
    assert group_hosts(listing, "fleet_etl") == ["app-par-1", "app-lyo-1"]
    assert group_hosts(listing, "fleet_dashboard") == ["app-par-1", "app-lyo-1"]
    assert hostvars(listing, "app-par-1")["fleet_app_local_dc"] == "dc_paris"
    assert hostvars(listing, "app-lyo-1")["fleet_app_local_dc"] == "dc_lyon"
    assert hostvars(listing, "app-par-1")["fleet_app_fleets_by_dc"] == {
        "dc_paris": ["FLEET_PARIS"],
        "dc_lyon": ["FLEET_LYON"],
    }


def test_secrets_come_from_the_vault_and_are_placeholders(listing):
    for host in group_hosts(listing, "all"):
        settings = hostvars(listing, host)
        for secret in SECRETS:
            assert settings[secret] == "CHANGE-ME", (host, secret)
    assert hostvars(listing, "cass-par-1")["cassandra_admin_password"] == (
        "{{ vault_cassandra_admin_password }}"
    )
    assert hostvars(listing, "app-par-1")["fleet_schema_admin_password"] == (
        "{{ vault_cassandra_admin_password }}"
    )
    vault = EXAMPLE / "group_vars" / "all" / "vault.yml"
    assert not vault.read_text().startswith("$ANSIBLE_VAULT")  # a template, not a secret


def test_addresses_are_documentation_ranges_and_host_keys_are_checked(listing):
    for host in group_hosts(listing, "all"):
        settings = hostvars(listing, host)
        address = ipaddress.ip_address(settings["ansible_host"])
        assert any(address in network for network in DOCUMENTATION_RANGES), host
        assert settings["ansible_ssh_host_key_checking"] is True


def test_validate_refuses_the_placeholder_secrets_before_touching_any_host(listing):
    result = run_ansible("ansible-playbook", "-i", str(EXAMPLE), "playbooks/validate.yml")
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "Missing or shorter than 12 characters in the vault" in out
    # Everything else in the inventory passed; no host was contacted.
    assert "ok: [cass-lyo-3]" in out and "ok: [app-lyo-1]" in out
    assert "UNREACHABLE" not in out
    recap = out.split("PLAY RECAP", 1)[1]
    assert recap.count("unreachable=0") == len(group_hosts(listing, "all"))


def test_validate_passes_once_real_secrets_are_given():
    secrets = {name: f"a-real-secret-for-{name}" for name in SECRETS}
    result = run_ansible(
        "ansible-playbook",
        "-i",
        str(EXAMPLE),
        "playbooks/validate.yml",
        "-e",
        json.dumps(secrets),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_copy_with_its_own_encrypted_vault_passes(tmp_path: Path):
    """The README's steps: own secrets, encrypted with the environment's own vault id."""
    env = tmp_path / "prod"
    shutil.copytree(EXAMPLE, env)
    vault = env / "group_vars" / "all" / "vault.yml"
    vault.write_text(yaml.safe_dump({name: f"a-real-secret-for-{name}" for name in SECRETS}))
    password = tmp_path / "prod-vault-password"
    password.write_text("a-password-of-this-environment\n")
    vault_id = f"prod@{password}"
    encrypt = run_ansible(
        "ansible-vault",
        "encrypt",
        "--vault-id",
        vault_id,
        "--encrypt-vault-id",
        "prod",
        str(vault),
        vault_password_file=None,
    )
    assert encrypt.returncode == 0, encrypt.stderr
    assert vault.read_text().startswith("$ANSIBLE_VAULT;1.2;AES256;prod\n")

    validate = ("ansible-playbook", "-i", str(env), "playbooks/validate.yml")
    result = run_ansible(*validate, "--vault-id", vault_id, vault_password_file=None)
    assert result.returncode == 0, result.stdout + result.stderr
    # The lab's password (ansible.cfg) does not open it.
    result = run_ansible(*validate, vault_password_file=None)
    assert result.returncode != 0
    assert "Decryption failed" in result.stdout + result.stderr
