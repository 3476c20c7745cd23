"""Every role declares its entry points in meta/argument_specs.yml, and they stay true.

- ``main`` lists every variable of defaults/main.yml, and nothing else that is not required;
  a ``default`` it states is the one defaults/main.yml sets;
- every task file that a playbook, a role or a Molecule scenario includes with ``tasks_from`` is
  an entry point, and every entry point but ``main`` is a task file of the role;
- the literal values of defaults/main.yml and those the inventories set for a role's variables
  (group_vars, host_vars and hosts.yml; vaulted files and Jinja values skipped) pass Ansible's own
  validation against ``main``, as they must at run time, where Ansible validates every include.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROOT = Path(__file__).resolve().parents[2]
ROLES_DIR = ROOT / "roles"
ROLES = sorted(path.name for path in ROLES_DIR.iterdir() if (path / "tasks").is_dir())
INCLUDE_ACTIONS = frozenset(
    f"{prefix}{action}"
    for prefix in ("", "ansible.builtin.", "ansible.legacy.")
    for action in ("include_role", "import_role")
)
TYPE_KEYS = ("type", "elements", "choices")


class Opaque:
    """A value behind an Ansible YAML tag (``!vault``, ``!unsafe``): never checked."""


class AnsibleYamlLoader(yaml.SafeLoader):
    """Safe YAML that reads Ansible's tags as :class:`Opaque` instead of failing."""


def _opaque(_loader: yaml.SafeLoader, _suffix: str, _node: yaml.Node) -> Opaque:
    return Opaque()


AnsibleYamlLoader.add_multi_constructor("!", _opaque)


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=AnsibleYamlLoader)


def is_literal(value: Any) -> bool:
    """True unless ``value`` holds a Jinja template or a tagged value somewhere."""
    if isinstance(value, Opaque):
        return False
    if isinstance(value, str):
        return "{{" not in value and "{%" not in value
    if isinstance(value, dict):
        return all(is_literal(k) and is_literal(v) for k, v in value.items())
    if isinstance(value, list):
        return all(is_literal(item) for item in value)
    return True


@cache
def argument_specs(role: str) -> dict[str, Any]:
    path = ROLES_DIR / role / "meta" / "argument_specs.yml"
    assert path.is_file(), f"{role}: no meta/argument_specs.yml"
    data = load_yaml(path)
    assert isinstance(data, dict) and isinstance(data.get("argument_specs"), dict), path
    return data["argument_specs"]


def options(role: str, entry_point: str = "main") -> dict[str, dict[str, Any]]:
    opts = argument_specs(role)[entry_point].get("options") or {}
    assert isinstance(opts, dict), f"{role}/{entry_point}: options must be a mapping"
    return opts


@cache
def defaults(role: str) -> dict[str, Any]:
    path = ROLES_DIR / role / "defaults" / "main.yml"
    return (load_yaml(path) or {}) if path.is_file() else {}


def validation_errors(role: str, values: dict[str, Any]) -> list[str]:
    """What Ansible's validation of ``main`` says of ``values`` (required options aside)."""
    spec = {
        name: {key: val for key, val in opt.items() if key != "required"}
        for name, opt in options(role).items()
    }
    result = ArgumentSpecValidator(spec).validate(values)
    return list(result.error_messages)


def _includes(node: Any) -> Iterator[dict[str, Any]]:
    """Every include_role / import_role argument mapping under ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in INCLUDE_ACTIONS and isinstance(value, dict):
                yield value
            yield from _includes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _includes(item)


@cache
def tasks_from_uses() -> dict[str, dict[str, list[str]]]:
    """role -> entry point -> files including it with ``tasks_from``."""
    uses: dict[str, dict[str, list[str]]] = {}
    for top in ("playbooks", "roles", "molecule"):
        for path in sorted((ROOT / top).rglob("*.y*ml")):
            if path.suffix not in (".yml", ".yaml") or "inventory" in path.parts:
                continue
            for include in _includes(load_yaml(path)):
                role, tasks_from = include.get("name"), include.get("tasks_from")
                if not isinstance(role, str) or not isinstance(tasks_from, str):
                    continue
                if not is_literal(role) or not is_literal(tasks_from):
                    continue
                entry = Path(tasks_from).name.removesuffix(".yml").removesuffix(".yaml")
                where = str(path.relative_to(ROOT))
                uses.setdefault(role, {}).setdefault(entry, []).append(where)
    return uses


def _hosts_file_vars(group: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Variables of a YAML inventory's groups and hosts, with where they are set."""
    if not isinstance(group, dict):
        return
    if isinstance(group.get("vars"), dict):
        yield where, group["vars"]
    for host, host_vars in (group.get("hosts") or {}).items():
        if isinstance(host_vars, dict):
            yield f"{where} host {host}", host_vars
    for name, child in (group.get("children") or {}).items():
        yield from _hosts_file_vars(child, f"{where}:{name}")


@cache
def inventory_vars() -> list[tuple[str, dict[str, Any]]]:
    """(where, variables) of every inventory's group_vars, host_vars and hosts.yml, unvaulted."""
    found: list[tuple[str, dict[str, Any]]] = []
    for inventory in sorted((ROOT / "inventories").iterdir()):
        for sub in ("group_vars", "host_vars"):
            for path in sorted((inventory / sub).rglob("*")):
                if not path.is_file() or path.suffix not in ("", ".yml", ".yaml", ".json"):
                    continue
                if path.read_text().lstrip().startswith("$ANSIBLE_VAULT"):
                    continue
                data = load_yaml(path)
                if isinstance(data, dict):
                    found.append((str(path.relative_to(ROOT)), data))
        hosts = inventory / "hosts.yml"
        if hosts.is_file():
            for group, body in (load_yaml(hosts) or {}).items():
                found.extend(_hosts_file_vars(body, f"{hosts.relative_to(ROOT)} {group}"))
    return found


# ----------------------------------------------------------------------------- the specs


@pytest.mark.parametrize("role", ROLES)
def test_every_entry_point_is_described(role: str) -> None:
    specs = argument_specs(role)
    assert "main" in specs, f"{role}: no entry point main"
    for name, spec in specs.items():
        assert spec.get("short_description"), f"{role}/{name}: no short_description"
        for option, opt in options(role, name).items():
            assert opt.get("type"), f"{role}/{name}: {option} has no type"
            assert opt.get("description"), f"{role}/{name}: {option} has no description"
            assert opt["type"] != "list" or opt.get("elements"), f"{role}/{name}: {option}"
            assert not (opt.get("required") and "default" in opt), f"{role}/{name}: {option}"


@pytest.mark.parametrize("role", ROLES)
def test_main_lists_every_default_and_only_defaults_or_required(role: str) -> None:
    declared = options(role)
    missing = sorted(set(defaults(role)) - set(declared))
    assert not missing, f"{role}: defaults/main.yml variables missing from main: {missing}"
    extra = sorted(
        name
        for name, opt in declared.items()
        if name not in defaults(role) and not opt.get("required")
    )
    assert not extra, f"{role}: main options neither in defaults/main.yml nor required: {extra}"


@pytest.mark.parametrize("role", ROLES)
def test_stated_defaults_are_the_role_defaults(role: str) -> None:
    for name, opt in options(role).items():
        if "default" not in opt:
            continue
        assert name in defaults(role), f"{role}: {name} states a default the role does not have"
        value = defaults(role)[name]
        assert is_literal(value), f"{role}: {name} defaults to a template; describe it instead"
        assert opt["default"] == value, f"{role}: {name} default {opt['default']!r} != {value!r}"


@pytest.mark.parametrize("role", ROLES)
def test_an_option_has_one_type_in_every_entry_point(role: str) -> None:
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    for entry in argument_specs(role):
        for name, opt in options(role, entry).items():
            kind = {key: opt.get(key) for key in TYPE_KEYS}
            first = seen.setdefault(name, (entry, kind))
            assert first[1] == kind, (
                f"{role}: {name} is {kind} in {entry}, {first[1]} in {first[0]}"
            )


# ----------------------------------------------------------------------------- entry points


@pytest.mark.parametrize("role", ROLES)
def test_every_tasks_from_is_an_entry_point(role: str) -> None:
    used = tasks_from_uses().get(role, {})
    undeclared = {
        entry: files for entry, files in used.items() if entry not in argument_specs(role)
    }
    assert not undeclared, f"{role}: tasks_from without an entry point: {undeclared}"


@pytest.mark.parametrize("role", ROLES)
def test_every_entry_point_is_a_task_file(role: str) -> None:
    for entry in argument_specs(role):
        if entry == "main":
            continue
        assert (ROLES_DIR / role / "tasks" / f"{entry}.yml").is_file(), f"{role}: {entry}"


def test_tasks_from_are_found() -> None:
    uses = tasks_from_uses()
    assert "precheck" in uses.get("cassandra", {}), uses
    assert "facts" in uses.get("pki", {}), uses


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize("role", ROLES)
def test_literal_defaults_pass_the_main_spec(role: str) -> None:
    values = {name: value for name, value in defaults(role).items() if is_literal(value)}
    assert validation_errors(role, values) == [], f"{role}: defaults/main.yml"


@pytest.mark.parametrize("role", ROLES)
def test_inventory_values_pass_the_main_spec(role: str) -> None:
    declared = options(role)
    for where, variables in inventory_vars():
        values = {
            name: value
            for name, value in variables.items()
            if name in declared and is_literal(value)
        }
        if values:
            assert validation_errors(role, values) == [], f"{role}: {where} sets {values}"


def test_inventories_set_role_variables() -> None:
    """The check above reads real values: the inventories set some of the roles' variables."""
    declared = {name for role in ROLES for name in options(role)}
    checked = {
        name
        for _, variables in inventory_vars()
        for name, value in variables.items()
        if name in declared and is_literal(value)
    }
    assert {"cassandra_dc", "cassandra_heap_size", "fleet_app_fleets_by_dc"} <= checked, checked


def test_a_type_mismatch_is_caught() -> None:
    """The validation the tests rely on refuses what Ansible would refuse at an include."""
    assert validation_errors("cassandra", {"cassandra_seeds_per_dc": "two"})
    assert validation_errors("cassandra", {"cassandra_tls": "maybe"})
    assert validation_errors("fleet_app", {"fleet_app_fleets_by_dc": ["dc1"]})
    assert not validation_errors("cassandra", {"cassandra_seeds_per_dc": "2"})
