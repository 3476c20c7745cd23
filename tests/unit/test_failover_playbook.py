"""playbooks/failover.yml refuses a wrong request before it touches any host: the checks run on
the controller, so these tests run the real playbook against hosts that do not exist (reaching
one would fail differently)."""

from __future__ import annotations

import pytest
from test_validate_playbook import APP_SECRETS, ROOT, WITH_APP, run

INVENTORY = WITH_APP.replace("dc7", "dc2")
PLAYBOOK = ROOT / "playbooks" / "failover.yml"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "",
            "Name the lost data center: ansible-playbook playbooks/failover.yml -e failed_dc=<dc>",
        ),
        (
            "failed_dc=dc9",
            "Data centers to fail over (dc9) must be data centers of group cassandra",
        ),
    ],
)
def test_a_wrong_failover_is_refused_before_any_host_is_touched(tmp_path, extra, message):
    result = run(tmp_path, INVENTORY, f"{APP_SECRETS} {extra}", playbook=PLAYBOOK)
    assert result.returncode != 0
    assert message in result.stdout
    assert "unreachable=1" not in result.stdout  # it stopped before contacting a host
