"""``fleet probe pages``: every page of every fleet per round, as JSON lines; an outage is a
failed round, never a crash, and the watcher reconnects by itself."""

from __future__ import annotations

import io
import json
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from cassandra.cluster import NoHostAvailable

import fleet.dashboard.watch as watch
from fleet.config import load_settings
from fleet.session import ConnectionCheckError

SETTINGS = load_settings({"FLEET_LOCAL_DC": "dc2", "FLEET_FLEETS": "FLEET_PARIS,FLEET_LYON"})


class Cluster:
    """What the pages need: a DC that answers or not, per round."""

    def __init__(self) -> None:
        self.state = ["unreachable", "down", "up"]  # one per round
        self.connects = 0

    def connect(self, settings: Any) -> Any:
        self.connects += 1
        if self.state[0] == "unreachable":
            raise ConnectionCheckError("cannot reach Cassandra at 10.0.0.21:9042 (refused)")
        return SimpleNamespace(
            settings=settings,
            session=None,
            degraded_profile=None,
            cluster=SimpleNamespace(metadata=None),
            close=lambda: None,
        )

    def fetches(self, queries: Any, metadata: Any, keyspace: str, target: Any) -> dict[str, Any]:
        def page() -> Any:
            if self.state[0] == "down":
                raise NoHostAvailable("Unable to complete the operation", {"10.0.0.21": "refused"})
            return SimpleNamespace(rows=1)

        return {"realtime": page, "alerts": page, "cluster": lambda: SimpleNamespace(rows=1)}


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Cluster:
    fake = Cluster()
    monkeypatch.setattr(watch, "page_fetches", fake.fetches)
    monkeypatch.setattr(watch, "FleetQueries", lambda *a, **k: object())
    return fake


def test_rounds_through_an_outage_are_recorded_and_never_raise(cluster: Cluster) -> None:
    out = io.StringIO()
    watcher = watch.PagesWatcher(SETTINGS, out, open_connection=cluster.connect, wall=lambda: 1.0)
    outcomes = []
    for _ in range(3):
        outcomes.append([(r.fleet, r.ok, sorted(r.failed)) for r in watcher.round()])
        cluster.state.pop(0)
    assert outcomes == [
        [("FLEET_PARIS", False, ["*"]), ("FLEET_LYON", False, ["*"])],  # no connection
        [
            ("FLEET_PARIS", False, ["alerts", "realtime"]),
            ("FLEET_LYON", False, ["alerts", "realtime"]),
        ],
        [("FLEET_PARIS", True, []), ("FLEET_LYON", True, [])],
    ]
    assert (watcher.rounds, watcher.failed_rounds, cluster.connects) == (3, 2, 2)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 6 and lines[0]["failed"]["*"].startswith("ConnectionCheckError")
    assert "NoHostAvailable" in lines[2]["failed"]["realtime"] and "Traceback" not in out.getvalue()


def test_the_probe_stops_when_asked(cluster: Cluster) -> None:
    cluster.state = ["up"] * 1000
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    watcher = watch.PagesWatcher(SETTINGS, io.StringIO(), open_connection=cluster.connect)
    watcher.run(0.05, stop, None)
    assert 2 <= watcher.rounds <= 10 and watcher.failed_rounds == 0
