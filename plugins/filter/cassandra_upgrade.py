"""The go/no-go decisions of the release upgrade and its rollback (playbooks/upgrade.yml,
playbooks/rollback_upgrade.yml), as pure functions of what the nodes report, so every refusal
is unit-tested on captured output.

    {{ describecluster_text | cassandra_release_versions }}
    {{ '/opt/apache-cassandra-5.0.9' | cassandra_release_of_home }}
    {{ active | cassandra_upgrade_plan(target, states) }}
    {{ data_file_paths | cassandra_sstable_formats }}
    {{ states | cassandra_rollback_plan(active, formats) }}
    {{ views | cassandra_release_view_problems }}
    {{ topology | cassandra_switch_order(first_dc, todo, canary_only) }}

`active` maps each node to the release its <prefix>/cassandra link points at, `states` each node
to the upgrade record the upgrade left on it ({from, to, snapshot, formats_before,
sstables_upgraded}) or None, `formats` each node to cassandra_sstable_formats of its data files.
Each plan carries `problems`: sentences, empty when the operation may go on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_RELEASE = re.compile(r"^\d+\.\d+\.\d+$")
_VERSIONS_LINE = re.compile(r"^\s*(?P<release>\d+\.\d+\.\d+\S*):\s*\[(?P<hosts>[^\]]*)\]\s*$")
_HOME = re.compile(r"apache-cassandra-(?P<release>[^/]+)/?$")
# <version>-<generation>-<format>-Data.db: "oa-3gzq_0h1c_1lq4w2pkc0x4pr3nyt-big-Data.db",
# "nb-12-big-Data.db".
_DATA_FILE = re.compile(r"(?:^|/)(?P<version>[a-z]{2})-[^-/]+-(?P<format>[a-z]+)-Data\.db$")


def _release_key(release: str) -> tuple[int, ...]:
    return tuple(int(part) for part in release.split(".")[:3])


def _series(release: str) -> tuple[int, ...]:
    return _release_key(release)[:2]


def cassandra_release_versions(text: str) -> dict[str, list[str]]:
    """Parse the `Database versions:` block of `nodetool describecluster`.

    Returns {release: [addresses without port]}: every node's release as gossip tells this node.
    """
    versions: dict[str, list[str]] = {}
    in_block = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Database versions:"):
            in_block = True
            continue
        if not in_block:
            continue
        match = _VERSIONS_LINE.match(line)
        if match:
            hosts = [h.strip() for h in match.group("hosts").split(",") if h.strip()]
            versions[match.group("release")] = [
                h.rsplit(":", 1)[0] if h.count(":") == 1 else h for h in hosts
            ]
        elif stripped and stripped.endswith(":"):
            break
    return versions


def cassandra_release_of_home(path: str | None) -> str:
    """The release of an install directory (<prefix>/apache-cassandra-<release>), '' if none."""
    match = _HOME.search(path or "")
    return match.group("release") if match else ""


def cassandra_upgrade_plan(
    active: Mapping[str, str],
    target: str,
    states: Mapping[str, Mapping[str, object] | None] | None = None,
) -> dict[str, object]:
    """What upgrade.yml does to reach `target`: {from, to, todo, done, problems}.

    A fresh upgrade starts from one release on every node. A cluster already partly on the
    target (a canary run, an interrupted one) goes on only when every node records an upgrade
    to that target. Downgrades and changes of release series (5.0 -> 5.1, 4.1 -> 5.0) are refused.
    """
    states = states or {}
    problems: list[str] = []
    if not _RELEASE.match(target or ""):
        return {
            "from": None,
            "to": target,
            "todo": [],
            "done": [],
            "problems": [f"'{target}' is not a release (expected e.g. 5.0.9)"],
        }
    missing = sorted(node for node, release in active.items() if not release)
    if missing:
        problems.append(f"no installed release found on {', '.join(missing)}")
    others = sorted({release for release in active.values() if release and release != target})
    todo = [node for node, release in active.items() if release != target]
    done = [node for node, release in active.items() if release == target]
    recorded = sorted(
        {str(state.get("from")) for state in states.values() if state and state.get("to") == target}
    )
    source = others[0] if len(others) == 1 else (recorded[0] if len(recorded) == 1 else None)
    if len(others) > 1:
        problems.append(
            "the nodes run several releases besides the target: "
            + "; ".join(
                f"{release} on {', '.join(n for n, r in active.items() if r == release)}"
                for release in others
            )
            + ": bring them to one release first"
        )
    if done and todo:
        unrecorded = sorted(node for node in active if (states.get(node) or {}).get("to") != target)
        if unrecorded:
            problems.append(
                f"{', '.join(done)} already run {target} but no upgrade to {target} is recorded on "
                f"{', '.join(unrecorded)}: a release changed outside upgrade.yml"
            )
    if source and _RELEASE.match(source):
        if _release_key(target) < _release_key(source):
            problems.append(
                f"{target} is older than {source}, which the cluster runs: a downgrade is a "
                "rollback (playbooks/rollback_upgrade.yml, while no SSTable was rewritten)"
            )
        elif _series(target) != _series(source):
            problems.append(
                f"{source} -> {target} changes the release series: upgrade.yml upgrades within "
                "one series (patch releases); see docs/operations.md for a series upgrade"
            )
    return {"from": source, "to": target, "todo": todo, "done": done, "problems": problems}


def cassandra_sstable_formats(paths: Sequence[str]) -> dict[str, int]:
    """Count the data files by SSTable version and format: {"oa-big": 12, "nb-big": 3}.

    Snapshots and incremental backups hold hard links to old files: they are not counted.
    """
    formats: dict[str, int] = {}
    for path in paths:
        if "/snapshots/" in path or "/backups/" in path:
            continue
        match = _DATA_FILE.search(path)
        if match:
            key = f"{match.group('version')}-{match.group('format')}"
            formats[key] = formats.get(key, 0) + 1
    return dict(sorted(formats.items()))


def cassandra_rollback_plan(
    states: Mapping[str, Mapping[str, object] | None],
    active: Mapping[str, str],
    formats: Mapping[str, Mapping[str, int]] | None = None,
) -> dict[str, object]:
    """What rollback_upgrade.yml does: {from, to, todo, snapshot, problems}.

    `from` is the upgrade's target (what the nodes to roll back run), `to` the release they ran
    before it. Refused when no upgrade is recorded, when the records disagree, when a node ran
    `nodetool upgradesstables`, or when a node holds SSTables in a format it did not hold before
    the upgrade (the older release could not read them): then only the snapshot restores.
    """
    formats = formats or {}
    problems: list[str] = []
    recorded = {node: state for node, state in states.items() if state}
    pairs = sorted({(str(s.get("from")), str(s.get("to"))) for s in recorded.values()})
    if not recorded:
        return {
            "from": None,
            "to": None,
            "todo": [],
            "snapshot": None,
            "problems": ["no upgrade is recorded on any node: nothing to roll back"],
        }
    if len(pairs) > 1:
        problems.append(
            "the nodes record different upgrades: " + "; ".join(f"{a} -> {b}" for a, b in pairs)
        )
    source, target = pairs[0]
    snapshot = str(next(iter(recorded.values())).get("snapshot") or "")
    unrecorded = sorted(node for node in active if node not in recorded)
    if unrecorded:
        problems.append(f"no upgrade is recorded on {', '.join(unrecorded)}")
    strangers = sorted(node for node, release in active.items() if release not in (source, target))
    if strangers and len(pairs) == 1:
        problems.append(
            "neither release of the upgrade runs on "
            + ", ".join(f"{node} ({active[node] or 'none'})" for node in strangers)
        )
    restore = (
        f"only the snapshot '{snapshot}' taken before the upgrade brings the data back "
        "(docs/operations.md, restoring a snapshot): data written since is lost"
    )
    rewritten = sorted(node for node, state in recorded.items() if state.get("sstables_upgraded"))
    if rewritten:
        problems.append(
            f"nodetool upgradesstables rewrote the SSTables of {', '.join(rewritten)} in the "
            f"format of {target}, which {source} cannot read: {restore}"
        )
    for node, state in sorted(recorded.items()):
        before = set(state.get("formats_before") or [])  # type: ignore[arg-type]
        new = sorted(set(formats.get(node, {})) - before) if before else []
        if new and node not in rewritten:
            problems.append(
                f"{node} holds SSTables in {', '.join(new)}, a format it did not hold before the "
                f"upgrade ({', '.join(sorted(before))}): {restore}"
            )
    todo = [node for node, release in active.items() if release == target]
    return {"from": target, "to": source, "todo": todo, "snapshot": snapshot, "problems": problems}


def _size(value: object) -> str:
    number = float(value or 0)  # type: ignore[arg-type]
    for unit in ("B", "KiB", "MiB", "GiB"):
        if number < 1024 or unit == "GiB":
            return f"{number:.1f} {unit}" if unit != "B" else f"{int(number)} B"
        number /= 1024
    return f"{number:.1f} GiB"


def cassandra_release_view_problems(
    views: Mapping[str, Mapping[str, object]], snapshot: bool = True
) -> list[str]:
    """What stops a release switch in the nodes' own views (role cassandra, release_view.yml).

    A view: {address, active (the release its stable path points at), releases ({release:
    [addresses]}, from its describecluster), streaming (bool), free_bytes, load_bytes}. Refused:
    streaming on a node; a view where a node runs another release than its stable path points at
    (a release changed without a restart, or gossip not settled); with `snapshot` (an upgrade
    takes one), less free space on a node than its load (a snapshot outlives the compactions that
    follow the switch).
    """
    problems: list[str] = []
    expected = {str(v.get("address")): str(v.get("active")) for v in views.values()}
    names = {str(v.get("address")): node for node, v in views.items()}
    streaming = sorted(node for node, v in views.items() if v.get("streaming"))
    if streaming:
        problems.append(f"streaming in progress on {', '.join(streaming)}")
    for node, view in sorted(views.items()):
        releases = view.get("releases") or {}
        seen = {
            address: release
            for release, addresses in releases.items()  # type: ignore[union-attr]
            for address in addresses
        }
        for address, release in sorted(expected.items()):
            if seen.get(address) != release:
                problems.append(
                    f"{node} sees {names[address]} on {seen.get(address) or 'no release'}, "
                    f"but {names[address]} points at {release or 'no release'}"
                )
        free, load = int(view.get("free_bytes") or 0), int(view.get("load_bytes") or 0)  # type: ignore[call-overload]
        if snapshot and free < load:
            problems.append(
                f"{node} has {_size(free)} free, less than its {_size(load)} of data: the snapshot "
                "taken before the switch keeps the files that compactions replace"
            )
    return problems


def cassandra_switch_order(
    topology: Sequence[Mapping[str, str]],
    first_dc: str,
    todo: Sequence[str],
    canary_only: bool = False,
) -> list[str]:
    """The nodes of `todo` in switch order: `first_dc` (the app's DC) first, then DC by DC,
    rack by rack, by name; with canary_only, the first of them only.
    """
    wanted = set(todo)
    ordered = sorted(
        (n for n in topology if n["node"] in wanted),
        key=lambda n: (n["dc"] != first_dc, n["dc"], n["rack"], n["node"]),
    )
    names = [n["node"] for n in ordered]
    return names[:1] if canary_only else names


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, object]:
        return {
            "cassandra_release_versions": cassandra_release_versions,
            "cassandra_release_of_home": cassandra_release_of_home,
            "cassandra_upgrade_plan": cassandra_upgrade_plan,
            "cassandra_sstable_formats": cassandra_sstable_formats,
            "cassandra_rollback_plan": cassandra_rollback_plan,
            "cassandra_release_view_problems": cassandra_release_view_problems,
            "cassandra_switch_order": cassandra_switch_order,
        }
