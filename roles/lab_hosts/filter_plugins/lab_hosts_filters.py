"""The lab hosts' podman volumes, named once here for the tasks that create and remove them.

A host lists the directories that must outlive its container in `lab_hosts_volumes` (e.g. the
backup store's data); each becomes the named volume `<host>-<path, slashes as dashes>`:

    {{ groups['lab'] | lab_hosts_volumes(hostvars) }}
    -> [{'host': 'backup-1', 'name': 'backup-1-var-lib-s3proxy', 'path': '/var/lib/s3proxy',
         'mount': 'backup-1-var-lib-s3proxy:/var/lib/s3proxy'}]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

_PATH = re.compile(r"^(/[A-Za-z0-9._-]+)+$")


def lab_hosts_volumes(hosts: Iterable[str], hostvars: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every volume of these hosts, in inventory order: host, name, path and podman's mount."""
    volumes: list[dict[str, str]] = []
    for host in hosts:
        paths = (hostvars.get(host) or {}).get("lab_hosts_volumes") or []
        if not isinstance(paths, list):
            raise AnsibleFilterError(f"lab_hosts_volumes of {host!r} must be a list of paths")
        for path in paths:
            if not isinstance(path, str) or not _PATH.match(path) or "/../" in f"{path}/":
                raise AnsibleFilterError(
                    f"lab_hosts_volumes of {host!r}: {path!r} is not an absolute directory path"
                )
            name = f"{host}-{path.strip('/').replace('/', '-')}"
            volumes.append({"host": host, "name": name, "path": path, "mount": f"{name}:{path}"})
    return volumes


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, object]:
        return {"lab_hosts_volumes": lab_hosts_volumes}
