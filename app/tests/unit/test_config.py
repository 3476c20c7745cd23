from __future__ import annotations

from pathlib import Path

import pytest

from fleet.config import (
    ConfigError,
    ContactPoint,
    load_settings,
    parse_contact_points,
    parse_replication,
)

BASE = {"FLEET_LOCAL_DC": "dc1"}


def test_defaults() -> None:
    s = load_settings(BASE)
    assert s.contact_points == (ContactPoint("127.0.0.1", 9042),)
    assert s.keyspace == "fleet_iot"
    assert s.consistency == "LOCAL_QUORUM"
    assert s.degraded_consistency == "LOCAL_ONE"
    assert s.concurrency == 64
    assert s.replication == {"dc1": 2, "dc2": 2}
    assert s.fleets == ("FLEET_PARIS", "FLEET_LYON")
    assert s.credentials is None


def test_local_dc_only_required_to_connect() -> None:
    s = load_settings({})
    assert s.local_dc is None
    with pytest.raises(ConfigError, match="FLEET_LOCAL_DC is required"):
        s.require_local_dc()


def test_contact_points_hosts_ports_and_ipv6() -> None:
    points = parse_contact_points("10.0.0.1, node2:9142,[::1],[fe80::2]:9043", 9042)
    assert points == (
        ContactPoint("10.0.0.1", 9042),
        ContactPoint("node2", 9142),
        ContactPoint("::1", 9042),
        ContactPoint("fe80::2", 9043),
    )
    assert str(points[2]) == "[::1]:9042"


@pytest.mark.parametrize("text", ["a,,b", "host:0", "host:99999", "host:x", "[::1", "[::1]x"])
def test_bad_contact_points(text: str) -> None:
    with pytest.raises(ValueError):
        parse_contact_points(text, 9042)


def test_contact_points_use_configured_port() -> None:
    s = load_settings({**BASE, "FLEET_CONTACT_POINTS": "a,b:1234", "FLEET_PORT": "9999"})
    assert s.contact_points == (ContactPoint("a", 9999), ContactPoint("b", 1234))


def test_replication_parsing() -> None:
    assert parse_replication("dc1:1") == {"dc1": 1}
    assert parse_replication("eu-west:3, us_east:2") == {"eu-west": 3, "us_east": 2}
    for bad in ("dc1", "dc1:0", "dc1:two", "dc1:2,dc1:3", ":2"):
        with pytest.raises(ValueError):
            parse_replication(bad)


def test_every_problem_is_listed_at_once() -> None:
    env = {
        "FLEET_LOCAL_DC": "dc1",
        "FLEET_PORT": "0",
        "FLEET_CONSISTENCY": "STRONG",
        "FLEET_CONCURRENCY": "-3",
        "FLEET_REPLICATION": "dc1:x",
        "FLEET_KEYSPACE": "1bad",
        "FLEET_USERNAME": "cassandra",
        "FLEET_FLEETS": "FLEET_NYC",
    }
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    problems = "\n".join(info.value.problems)
    for key in (
        "FLEET_PORT",
        "FLEET_CONSISTENCY",
        "FLEET_CONCURRENCY",
        "FLEET_REPLICATION",
        "FLEET_KEYSPACE",
        "FLEET_USERNAME and FLEET_PASSWORD",
        "FLEET_FLEETS",
    ):
        assert key in problems
    assert len(info.value.problems) == 7
    assert "FLEET_PORT='0'" in str(info.value)


def test_local_dc_must_have_replicas() -> None:
    with pytest.raises(ConfigError, match=r"dc3.*no replicas"):
        load_settings({"FLEET_LOCAL_DC": "dc3", "FLEET_REPLICATION": "dc1:2,dc2:2"})
    assert load_settings({"FLEET_LOCAL_DC": "dc1", "FLEET_REPLICATION": "dc1:1"}).replication == {
        "dc1": 1
    }


def test_degraded_consistency_unset_empty_or_same() -> None:
    assert load_settings({**BASE, "FLEET_DEGRADED_CONSISTENCY": ""}).degraded_consistency is None
    assert (
        load_settings({**BASE, "FLEET_DEGRADED_CONSISTENCY": "one"}).degraded_consistency == "ONE"
    )
    with pytest.raises(ConfigError, match="same as FLEET_CONSISTENCY"):
        load_settings({**BASE, "FLEET_DEGRADED_CONSISTENCY": "LOCAL_QUORUM"})
    with pytest.raises(ConfigError, match="unknown consistency"):
        load_settings({**BASE, "FLEET_DEGRADED_CONSISTENCY": "SERIAL"})


def test_fleets_by_count_or_names() -> None:
    assert load_settings({"FLEET_FLEETS": "3"}).fleets == (
        "FLEET_PARIS",
        "FLEET_LYON",
        "FLEET_MARSEILLE",
    )
    assert load_settings({"FLEET_FLEETS": "fleet_lille"}).fleets == ("FLEET_LILLE",)
    with pytest.raises(ConfigError, match="fleet count"):
        load_settings({"FLEET_FLEETS": "99"})
    with pytest.raises(ConfigError, match="listed twice"):
        load_settings({"FLEET_FLEETS": "FLEET_LYON,FLEET_LYON"})


def test_credentials() -> None:
    s = load_settings({**BASE, "FLEET_USERNAME": "app", "FLEET_PASSWORD": "s3cret with space"})
    assert s.credentials == ("app", "s3cret with space")


def test_env_file_and_precedence(tmp_path: Path) -> None:
    env_file = tmp_path / "fleet.env"
    env_file.write_text(
        "# comment\n"
        "\n"
        "export FLEET_LOCAL_DC=dc2\n"
        'FLEET_KEYSPACE="from_file"\n'
        "FLEET_CONCURRENCY=8  # inline comment\n"
        "FLEET_REPLICATION='dc1:1,dc2:1'\n",
        encoding="utf-8",
    )
    s = load_settings({"FLEET_CONCURRENCY": "16"}, env_file=env_file)
    assert (s.local_dc, s.keyspace, s.replication) == ("dc2", "from_file", {"dc1": 1, "dc2": 1})
    assert s.concurrency == 16  # the environment wins over the file

    via_variable = load_settings({"FLEET_ENV_FILE": str(env_file)})
    assert via_variable.keyspace == "from_file"


def test_env_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.env"
    bad.write_text("FLEET_LOCAL_DC=dc1\nthis is not an assignment\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.env:2: expected KEY=VALUE"):
        load_settings({}, env_file=bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({}, env_file=tmp_path / "missing.env")
