"""Series for the node exporter's textfile collector (role node_exporter, tasks textfile.yml):
what the operations record on a host (its last repair per keyspace, its certificates' expiry),
rendered in Prometheus's text format so that Prometheus scrapes them with the host.

    {{ [{'name': 'fleet_repair_last_success_timestamp_seconds', 'help': '...', 'type': 'gauge',
         'labels': {'keyspace': 'fleet_iot'}, 'value': 1796520000}] | fleet_textfile }}
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_TYPES = ("gauge", "counter", "untyped")


def _escape(value: str, quote: bool) -> str:
    out = value.replace("\\", "\\\\").replace("\n", "\\n")
    return out.replace('"', '\\"') if quote else out


def _value(raw: Any, name: str) -> str:
    try:
        number = float(raw)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"fleet_textfile: {name}: {raw!r} is not a number") from exc
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return repr(number)


def fleet_textfile(series: Iterable[Mapping[str, Any]]) -> str:
    """Each item: name, help, type (gauge by default), labels (a mapping), value. The samples of
    one name are grouped under its HELP and TYPE lines (which must agree), in the order the names
    first appear; names and labels are checked."""
    families: dict[str, tuple[str, str, list[str]]] = {}
    for item in series:
        name = str(item.get("name", ""))
        if not _NAME.match(name):
            raise AnsibleFilterError(f"fleet_textfile: {name!r} is not a metric name")
        kind = str(item.get("type", "gauge"))
        if kind not in _TYPES:
            raise AnsibleFilterError(f"fleet_textfile: {name}: type {kind!r} is not {_TYPES}")
        text = str(item.get("help", ""))
        help_text, family_kind, samples = families.setdefault(name, (text, kind, []))
        if (help_text, family_kind) != (text, kind):
            raise AnsibleFilterError(f"fleet_textfile: {name}: HELP or TYPE differs")
        labels = item.get("labels") or {}
        for label in labels:
            if not _LABEL.match(str(label)) or str(label).startswith("__"):
                raise AnsibleFilterError(f"fleet_textfile: {name}: {label!r} is not a label name")
        pairs = ",".join(f'{k}="{_escape(str(v), quote=True)}"' for k, v in labels.items())
        samples.append(f"{name}{{{pairs}}}" if pairs else name)
        samples[-1] += f" {_value(item.get('value'), name)}"
    lines = []
    for name, (text, kind, samples) in families.items():
        lines += [f"# HELP {name} {_escape(text, quote=False)}", f"# TYPE {name} {kind}", *samples]
    return "\n".join(lines) + "\n" if lines else ""


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, object]:
        return {"fleet_textfile": fleet_textfile}
