"""Shapes YAML accepts but Ansible then runs wrongly.

A plain scalar holding ": " is a mapping: `- --extra-vars={"a": true}` in an `argv` list is the
dict {'--extra-vars={"a"': 'true}'}, which the command module passes as one bogus argument (the
multi_dc side effect's confirmation check failed in CI that way, with empty stdout). Every item
of every `argv` and every `assert` condition in the repo's playbooks and roles must be a string.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_run import ROOT

DIRS = ("playbooks", "roles", "molecule", "tests")


class _Loader(yaml.SafeLoader):
    """Safe loader that keeps unknown tags (!vault, !unsafe) as plain values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _yaml_files() -> list[Path]:
    files = [p for d in DIRS for p in sorted((ROOT / d).rglob("*.yml"))]
    return [p for p in files if ".venv" not in p.parts and "templates" not in p.parts]


def _lists_under(node: Any, keys: tuple[str, ...], where: str = "") -> Iterator[tuple[str, list]]:
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}.{key}"
            if key in keys and isinstance(value, list):
                yield here, value
            yield from _lists_under(value, keys, here)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _lists_under(item, keys, f"{where}[{index}]")


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_argv_items_and_conditions_are_strings(path: Path) -> None:
    try:
        documents = list(yaml.load_all(path.read_text(), Loader=_Loader))
    except yaml.YAMLError:
        pytest.skip("not plain YAML (yamllint covers it)")
    bad = [
        f"{where}[{index}] = {item!r}"
        for document in documents
        for where, items in _lists_under(document, ("argv", "that", "failed_when", "when"))
        for index, item in enumerate(items)
        if not isinstance(item, (str, bool))
    ]
    assert not bad, f"{path.relative_to(ROOT)}: quote these items, they parsed as {bad}"
