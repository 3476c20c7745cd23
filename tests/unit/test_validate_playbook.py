"""playbooks/validate.yml stops a wrong inventory before any host is touched.

The checks run on the controller (no facts, no connection), so these tests run the real
playbook against inventories of hosts that do not exist: reaching one would fail differently.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "validate.yml"


def run(
    tmp_path: Path,
    inventory: str,
    extra: str,
    playbook: Path = PLAYBOOK,
    env_extra: dict[str, str] | None = None,
):
    (tmp_path / "hosts.yml").write_text(inventory)
    env = dict(
        os.environ,
        # The controller's cache (the CA's record of issued certificates): the test's own.
        FLEET_CACHE=str(tmp_path / "cache"),
        **(env_extra or {}),
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_VAULT_PASSWORD_FILE=str(ROOT / "inventories" / "lab" / "vault-password.txt"),
    )
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        str(tmp_path / "hosts.yml"),
        str(playbook),
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


WITH_APP = (
    GOOD
    + """    fleet_app:
      vars:
        fleet_app_fleets_by_dc: {dc1: [FLEET_PARIS], dc2: [FLEET_LYON]}
      children:
        fleet_etl:
          hosts:
            app-1: {fleet_app_local_dc: dc7}
            app-2: {fleet_app_local_dc: dc1}
"""
)
APP_SECRETS = (
    PASSWORD + " vault_fleet_etl_password=another-long-secret"
    " vault_fleet_dashboard_password=a-third-long-secret"
    " vault_fleet_console_password=a-fourth-long-secret"
)


def test_an_app_host_with_an_unknown_dc_is_refused(tmp_path):
    result = run(tmp_path, WITH_APP, APP_SECRETS)
    assert result.returncode != 0
    assert (
        "app-1: fleet_app_local_dc (dc7) must be one of the Cassandra data centers" in result.stdout
    )


def test_an_app_host_in_a_known_dc_passes(tmp_path):
    result = run(tmp_path, WITH_APP.replace("dc7", "dc2"), APP_SECRETS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("assignment", "detail"),
    [
        # a DC of the cluster with fleets but no ETL host (app-1 moved to dc1 as well)
        ("{dc1: [FLEET_PARIS], dc2: [FLEET_LYON]}", "(none in: dc2)"),
        # a fleet in two DCs
        ("{dc1: [FLEET_PARIS], dc2: [FLEET_PARIS]}", "each fleet in one DC only"),
        # a DC that is not in the cluster
        ("{dc1: [FLEET_PARIS], dc9: [FLEET_LYON]}", "to lists of fleets"),
    ],
)
def test_a_wrong_assignment_of_fleets_is_refused(tmp_path, assignment, detail):
    inventory = WITH_APP.replace("dc7", "dc2").replace(
        "{dc1: [FLEET_PARIS], dc2: [FLEET_LYON]}", assignment
    )
    if "(none in: dc2)" in detail:
        inventory = inventory.replace(
            "app-1: {fleet_app_local_dc: dc2}", "app-1: {fleet_app_local_dc: dc1}"
        )
    result = run(tmp_path, inventory, APP_SECRETS)
    assert result.returncode != 0
    assert "fleet_app_fleets_by_dc" in result.stdout
    assert detail in result.stdout


def test_an_app_host_without_a_dc_is_refused(tmp_path):
    result = run(
        tmp_path, WITH_APP.replace("app-1: {fleet_app_local_dc: dc7}", "app-1: {}"), APP_SECRETS
    )
    assert result.returncode != 0
    assert (
        "app-1: fleet_app_local_dc (unset) must be one of the Cassandra data centers"
        in result.stdout
    )


def test_app_secrets_are_required_when_there_is_an_app_host(tmp_path):
    result = run(tmp_path, WITH_APP.replace("dc7", "dc2"), PASSWORD)
    assert result.returncode != 0
    assert "Missing or shorter than 12 characters in the vault" in result.stdout


def test_a_wrong_vault_password_stops_before_any_host_is_touched(tmp_path):
    wrong = tmp_path / "wrong-vault-password"
    wrong.write_text("not-the-lab-password\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    env["ANSIBLE_VAULT_PASSWORD_FILE"] = str(wrong)
    cmd = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        str(ROOT / "inventories" / "lab"),
        str(PLAYBOOK),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert result.returncode != 0
    assert "Decryption failed" in result.stdout + result.stderr
    assert "unreachable=0" in result.stdout or "PLAY RECAP" not in result.stdout


@pytest.mark.parametrize(
    ("secret", "replacement", "message"),
    [
        # a placeholder long enough to pass the length check
        (
            "another-long-secret",
            "CHANGE-ME-PLEASE-NOW",
            "A placeholder (CHANGE-ME) is still in the vault",
        ),
        # two roles with one secret
        ("a-third-long-secret", "another-long-secret", "are the same secret; give each its own"),
    ],
)
def test_a_bad_secret_is_refused_without_showing_it(tmp_path, secret, replacement, message):
    result = run(tmp_path, WITH_APP.replace("dc7", "dc2"), APP_SECRETS.replace(secret, replacement))
    assert result.returncode != 0
    assert message in result.stdout
    assert replacement not in result.stdout + result.stderr  # no_log


def _certificate(path: Path, days: int) -> None:
    """A self-signed certificate valid `days` more days, as the CA's record of a host's."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, path.stem)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=300))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_certificates_close_to_expiry_are_warned_about_without_contacting_hosts(tmp_path):
    issued = tmp_path / "cache" / "pki" / tmp_path.name / "issued"
    _certificate(issued / "n1.pem", days=10)
    _certificate(issued / "n2.pem", days=200)
    _certificate(tmp_path / "cache" / "pki" / tmp_path.name / "ca.pem", days=3000)
    result = run(tmp_path, GOOD, PASSWORD)
    assert result.returncode == 0, result.stdout + result.stderr
    out = " ".join(result.stdout.split())  # messages wrap across lines
    assert re.search(r"WARNING: \S+/issued/n1\.pem expires in (9\.9|10\.0) days", out), out
    assert "n2.pem expires" not in out and "ca.pem expires" not in out
    assert "rotate_certificates.yml renews them now, without a restart" in out


def test_no_certificate_warning_without_tls(tmp_path):
    issued = tmp_path / "cache" / "pki" / tmp_path.name / "issued"
    _certificate(issued / "n1.pem", days=10)
    result = run(tmp_path, GOOD, PASSWORD + " cassandra_tls=disabled")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "expires in" not in result.stdout


WITH_DASHBOARD = (
    WITH_APP.replace("dc7", "dc2")
    + """        fleet_dashboard:
          hosts:
            app-1: {}
"""
)


def test_a_dashboard_without_users_is_refused(tmp_path):
    result = run(tmp_path, WITH_DASHBOARD, APP_SECRETS)
    assert result.returncode != 0
    assert "list its users in fleet_dashboard_users" in " ".join(result.stdout.split())


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("tiny-pw", "Missing or shorter than 12 characters"),
        ("another-long-secret", "are the same secret"),  # the ETL's
    ],
)
def test_dashboard_users_passwords_are_checked_like_the_vaults(tmp_path, password, message):
    extra = dict(item.split("=", 1) for item in APP_SECRETS.split())
    extra["fleet_dashboard_users"] = [{"name": "operator", "password": password, "groups": []}]
    result = run(tmp_path, WITH_DASHBOARD, json.dumps(extra))
    assert result.returncode != 0
    out = " ".join(result.stdout.split())
    assert message in out and "the password of dashboard user operator" in out
    assert password not in result.stdout.replace("another-long-secret-", "")


STORE = "    object_store:\n      hosts: {{{hosts}}}\n"
STORE_SECRETS = (
    PASSWORD
    + " vault_object_store_secret_key=a-store-secret-key vault_medusa_cql_password=a-medusa-secret"
)


def test_a_backup_store_passes_with_its_secrets(tmp_path):
    result = run(tmp_path, GOOD + STORE.format(hosts="backup-1: {}"), STORE_SECRETS)
    assert result.returncode == 0, result.stdout


def test_the_backups_secrets_are_required_when_there_is_a_store(tmp_path):
    result = run(tmp_path, GOOD + STORE.format(hosts="backup-1: {}"), PASSWORD)
    assert result.returncode != 0
    assert "vault_object_store_secret_key, vault_medusa_cql_password" in result.stdout


def test_two_store_hosts_are_refused(tmp_path):
    result = run(tmp_path, GOOD + STORE.format(hosts="backup-1: {}, backup-2: {}"), STORE_SECRETS)
    assert result.returncode != 0
    assert "exactly one host in group object_store (it has backup-1, backup-2)" in result.stdout


def test_a_backup_schedule_systemd_cannot_read_is_refused(tmp_path):
    inventory = GOOD.replace(
        "hosts: {n1: {cassandra_rack: rack1}}",
        "hosts: {n1: {cassandra_rack: rack1, medusa_backup_schedule: 'every tuesday'}}",
    )
    result = run(tmp_path, inventory + STORE.format(hosts="backup-1: {}"), STORE_SECRETS)
    assert result.returncode != 0
    assert 'medusa_backup_schedule "every tuesday" is not a systemd calendar event' in result.stdout
