"""Settings from environment variables and an optional env file.

Every value is read and checked here, before anything connects to Cassandra: all problems are
collected and raised together as one :class:`ConfigError`.

Precedence (highest first): the process environment, then the env file given by ``--env-file``
or ``FLEET_ENV_FILE``, then the defaults below.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from fleet.model import CITIES

T = TypeVar("T")
N = TypeVar("N", int, float)

# Write consistency levels that make sense for this application (no SERIAL levels).
WRITE_CONSISTENCY_LEVELS = (
    "ANY",
    "ONE",
    "TWO",
    "THREE",
    "QUORUM",
    "ALL",
    "LOCAL_QUORUM",
    "EACH_QUORUM",
    "LOCAL_ONE",
)

_KEYSPACE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")
_DC_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_FLEET_PREFIX = "FLEET_"
_ENV_LINE_RE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


class ConfigError(ValueError):
    """One or more settings are invalid; ``problems`` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in self.problems))


@dataclass(frozen=True, slots=True)
class ContactPoint:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Settings:
    contact_points: tuple[ContactPoint, ...]
    port: int
    local_dc: str | None
    keyspace: str
    username: str | None
    password: str | None
    consistency: str
    degraded_consistency: str | None
    concurrency: int
    request_timeout_s: float
    write_attempts: int
    reconnect_max_delay_s: float
    replication: dict[str, int]
    fleets: tuple[str, ...]
    ingest_fleets: tuple[str, ...]
    devices_per_fleet: int
    seed: int
    # TLS: the CA bundle that signs the nodes' certificates (None: plaintext), and whether the
    # node's address must be in its certificate (it is with the deployment's CA).
    tls_ca_file: Path | None = None
    tls_check_hostname: bool = True

    @property
    def credentials(self) -> tuple[str, str] | None:
        if self.username is None or self.password is None:
            return None
        return self.username, self.password

    def require_local_dc(self) -> str:
        """The local DC; commands that talk to Cassandra call this first."""
        if not self.local_dc:
            raise ConfigError(["FLEET_LOCAL_DC is required for commands that connect to Cassandra"])
        return self.local_dc


def parse_secrets(text: str) -> dict[str, str]:
    """``--secrets-stdin``: a JSON object of ``FLEET_*`` names to strings (any character,
    quotes and ``#`` included, which an env file line could not carry safely)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"--secrets-stdin: not a JSON object ({exc.msg})"]) from None
    if not isinstance(data, dict):
        raise ConfigError(["--secrets-stdin: a JSON object of FLEET_* settings expected"])
    problems = [
        f"--secrets-stdin: {key!r} must be a FLEET_* name with a string value"
        for key, value in data.items()
        if not (isinstance(key, str) and key.startswith("FLEET_") and isinstance(value, str))
    ]
    if problems:
        raise ConfigError(problems)
    return dict(data)


def parse_env_file(path: Path) -> dict[str, str]:
    """Parse ``KEY=VALUE`` lines; ``#`` comments, blank lines, ``export`` and quotes allowed."""
    values: dict[str, str] = {}
    problems: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"env file {path}: cannot read ({exc.strerror or exc})"]) from exc
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ENV_LINE_RE.match(line)
        if match is None:
            problems.append(f"env file {path}:{lineno}: expected KEY=VALUE, got {raw!r}")
            continue
        key, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    if problems:
        raise ConfigError(problems)
    return values


class _Reader:
    """Reads typed values from a mapping, collecting problems instead of raising."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def raw(self, key: str, default: str) -> str:
        value = self.env.get(key)
        return default if value is None or value.strip() == "" else value.strip()

    def parsed(self, key: str, default: str, parse: Callable[[str], T], fallback: T) -> T:
        text = self.raw(key, default)
        try:
            return parse(text)
        except ValueError as exc:
            self.problems.append(f"{key}={text!r}: {exc}")
            return fallback

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        return self._bounded(key, default, low, high, int, "not an integer")

    def number(self, key: str, default: float, low: float, high: float) -> float:
        return self._bounded(key, default, low, high, float, "not a number")

    def _bounded(
        self, key: str, default: N, low: N, high: N, convert: Callable[[str], N], invalid: str
    ) -> N:
        def parse(text: str) -> N:
            try:
                value = convert(text)
            except ValueError:
                raise ValueError(invalid) from None
            if not low <= value <= high:
                raise ValueError(f"must be between {low:g} and {high:g}")
            return value

        return self.parsed(key, str(default), parse, default)


def parse_contact_points(text: str, default_port: int) -> tuple[ContactPoint, ...]:
    """``host``, ``host:port``, ``[v6addr]`` or ``[v6addr]:port``, comma separated."""
    points: list[ContactPoint] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            raise ValueError("empty entry in the list")
        host, port_text = item, ""
        if item.startswith("["):
            end = item.find("]")
            if end < 0:
                raise ValueError(f"{item!r}: missing ']'")
            host, rest = item[1:end], item[end + 1 :]
            if rest and not rest.startswith(":"):
                raise ValueError(f"{item!r}: expected ':port' after ']'")
            port_text = rest[1:]
        elif item.count(":") == 1:
            host, port_text = item.split(":")
        if not host or any(c.isspace() for c in host):
            raise ValueError(f"{item!r}: invalid host")
        port = default_port
        if port_text:
            if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
                raise ValueError(f"{item!r}: port must be 1-65535")
            port = int(port_text)
        points.append(ContactPoint(host, port))
    return tuple(points)


def parse_replication(text: str) -> dict[str, int]:
    """``dc1:2,dc2:2`` -> ``{"dc1": 2, "dc2": 2}``."""
    replication: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        dc, sep, rf_text = item.partition(":")
        dc, rf_text = dc.strip(), rf_text.strip()
        if not sep or not _DC_RE.match(dc):
            raise ValueError(f"{item!r}: expected DC:RF, e.g. dc1:2")
        if not rf_text.isdigit() or not 1 <= int(rf_text) <= 10:
            raise ValueError(f"{item!r}: replication factor must be 1-10")
        if dc in replication:
            raise ValueError(f"DC {dc!r} listed twice")
        replication[dc] = int(rf_text)
    return replication


def parse_fleets(text: str) -> tuple[str, ...]:
    """A count (``3``: the first three known cities) or a list: ``FLEET_PARIS,FLEET_LYON``."""
    cities = list(CITIES)
    if text.isdigit():
        count = int(text)
        if not 1 <= count <= len(cities):
            raise ValueError(f"fleet count must be 1-{len(cities)}")
        return tuple(f"{_FLEET_PREFIX}{city}" for city in cities[:count])
    fleets = tuple(part.strip().upper() for part in text.split(","))
    unknown = [f for f in fleets if f.removeprefix(_FLEET_PREFIX) not in CITIES]
    if unknown or any(not f.startswith(_FLEET_PREFIX) for f in fleets):
        raise ValueError(
            f"unknown fleet(s) {', '.join(unknown) or text}; use FLEET_<CITY> with CITY in "
            f"{', '.join(cities)}, or a count"
        )
    if len(set(fleets)) != len(fleets):
        raise ValueError("a fleet is listed twice")
    return fleets


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _parse_ca_file(text: str) -> Path:
    path = Path(text)
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise ValueError(f"cannot read ({exc.strerror or exc})") from None
    if b"-----BEGIN CERTIFICATE-----" not in head:
        raise ValueError("not a PEM certificate bundle")
    return path


def _parse_consistency(text: str) -> str:
    level = text.upper()
    if level not in WRITE_CONSISTENCY_LEVELS:
        raise ValueError(
            f"unknown consistency level; use one of {', '.join(WRITE_CONSISTENCY_LEVELS)}"
        )
    return level


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | str | None = None
) -> Settings:
    """Build :class:`Settings`; raise :class:`ConfigError` listing every invalid value."""
    process_env = dict(os.environ if environ is None else environ)
    file_name = env_file or process_env.get("FLEET_ENV_FILE")
    merged: dict[str, str] = parse_env_file(Path(file_name)) if file_name else {}
    merged.update(process_env)
    r = _Reader(merged)

    port = r.integer("FLEET_PORT", 9042, 1, 65535)
    contact_points = r.parsed(
        "FLEET_CONTACT_POINTS",
        "127.0.0.1",
        lambda text: parse_contact_points(text, port),
        (ContactPoint("127.0.0.1", port),),
    )
    local_dc = r.raw("FLEET_LOCAL_DC", "") or None
    if local_dc is not None and not _DC_RE.match(local_dc):
        r.problems.append(f"FLEET_LOCAL_DC={local_dc!r}: invalid data center name")

    keyspace = r.raw("FLEET_KEYSPACE", "fleet_iot")
    if not _KEYSPACE_RE.match(keyspace):
        r.problems.append(
            f"FLEET_KEYSPACE={keyspace!r}: must start with a letter, then letters, digits or _ "
            "(48 characters at most)"
        )

    username = r.raw("FLEET_USERNAME", "") or None
    password = r.env.get("FLEET_PASSWORD") or None
    if (username is None) != (password is None):
        r.problems.append("FLEET_USERNAME and FLEET_PASSWORD must be set together")

    consistency = r.parsed("FLEET_CONSISTENCY", "LOCAL_QUORUM", _parse_consistency, "LOCAL_QUORUM")
    # Unset: LOCAL_ONE. Set but empty: no fallback.
    degraded_text = r.env.get("FLEET_DEGRADED_CONSISTENCY", "LOCAL_ONE").strip()
    degraded = (
        r.parsed("FLEET_DEGRADED_CONSISTENCY", degraded_text, _parse_consistency, None)
        if degraded_text
        else None
    )
    if degraded is not None and degraded == consistency:
        r.problems.append(
            f"FLEET_DEGRADED_CONSISTENCY={degraded}: same as FLEET_CONSISTENCY; "
            "leave it empty to disable the fallback"
        )

    replication = r.parsed("FLEET_REPLICATION", "dc1:2,dc2:2", parse_replication, {})
    if local_dc and replication and local_dc not in replication:
        r.problems.append(
            f"FLEET_LOCAL_DC={local_dc!r} has no replicas in FLEET_REPLICATION "
            f"({', '.join(f'{dc}:{rf}' for dc, rf in replication.items())})"
        )

    fleets = r.parsed("FLEET_FLEETS", "FLEET_PARIS,FLEET_LYON", parse_fleets, ())
    # Unset: every fleet. "none": no fleet (a failover moved this DC's fleets elsewhere).
    ingest_text = r.raw("FLEET_INGEST_FLEETS", "")
    ingest = (
        fleets
        if not ingest_text
        else ()
        if ingest_text.lower() == "none"
        else r.parsed("FLEET_INGEST_FLEETS", ingest_text, parse_fleets, ())
    )
    outside = [f for f in ingest if f not in fleets]
    if outside:
        r.problems.append(
            f"FLEET_INGEST_FLEETS: {', '.join(outside)} not in FLEET_FLEETS ({', '.join(fleets)})"
        )

    settings = Settings(
        contact_points=contact_points,
        port=port,
        local_dc=local_dc,
        keyspace=keyspace,
        username=username,
        password=password,
        consistency=consistency,
        degraded_consistency=degraded,
        concurrency=r.integer("FLEET_CONCURRENCY", 64, 1, 4096),
        request_timeout_s=r.number("FLEET_REQUEST_TIMEOUT", 10.0, 0.1, 600.0),
        write_attempts=r.integer("FLEET_WRITE_ATTEMPTS", 5, 1, 50),
        reconnect_max_delay_s=r.number("FLEET_RECONNECT_MAX_DELAY", 4.0, 0.5, 60.0),
        replication=replication,
        fleets=fleets,
        ingest_fleets=ingest,
        devices_per_fleet=r.integer("FLEET_DEVICES_PER_FLEET", 25, 1, 5000),
        seed=r.integer("FLEET_SEED", 42, 0, 2**63 - 1),
        tls_ca_file=r.parsed("FLEET_TLS_CA_FILE", "", _parse_ca_file, None)
        if r.raw("FLEET_TLS_CA_FILE", "")
        else None,
        tls_check_hostname=r.parsed("FLEET_TLS_CHECK_HOSTNAME", "true", _parse_bool, True),
    )
    if r.problems:
        raise ConfigError(r.problems)
    return settings
