"""The alert rules (roles/prometheus/templates/fleet-rules.yml.j2), rendered with the role's
defaults, pass promtool's unit tests (tests/prometheus/fleet-rules.test.yml) and promtool's
check. promtool is Debian's, as on the monitoring hosts: `make unit` passes it in FLEET_PROMTOOL
(scripts/fetch-prometheus-tools.sh)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible_run import ROOT, run_ansible

TESTS = ROOT / "tests" / "prometheus" / "fleet-rules.test.yml"
PROMTOOL = os.environ.get("FLEET_PROMTOOL", "")

pytestmark = pytest.mark.skipif(
    not PROMTOOL,
    reason="FLEET_PROMTOOL unset (make unit sets it: scripts/fetch-prometheus-tools.sh)",
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    here = tmp_path_factory.mktemp("rules")
    out = here / "fleet-rules.yml"
    result = run_ansible(
        "ansible-playbook",
        "tests/prometheus/render.yml",
        "-e",
        f"rules_out={out}",
        vault_password_file=None,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    shutil.copy(TESTS, here / TESTS.name)
    return here


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, check=False)


def test_the_rules_pass_promtools_check(rendered: Path):
    result = promtool("check", "rules", str(rendered / "fleet-rules.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_fires_on_its_series_and_not_on_others(rendered: Path):
    result = promtool("test", "rules", str(rendered / TESTS.name))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_every_rule_has_a_test(rendered: Path):
    rules = yaml.safe_load((rendered / "fleet-rules.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load(TESTS.read_text())["tests"]
    tested = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert alerts == tested


def test_a_broken_rule_fails_the_tests(rendered: Path, tmp_path: Path):
    """The tests are not vacuous: a threshold moved by the template's defaults breaks them."""
    broken = (rendered / "fleet-rules.yml").read_text().replace("> 0.5", "> 5", 1)
    assert broken != (rendered / "fleet-rules.yml").read_text()
    (tmp_path / "fleet-rules.yml").write_text(broken)
    shutil.copy(TESTS, tmp_path / TESTS.name)
    result = promtool("test", "rules", str(tmp_path / TESTS.name))
    assert result.returncode != 0
    assert "CassandraWriteLatencyHigh" in result.stdout + result.stderr
