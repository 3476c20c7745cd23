"""Every page through Streamlit's AppTest, against the seeded keyspace (see conftest.py)."""

from __future__ import annotations

import base64
import json
import statistics
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from fleet.dashboard.launch import APP

from .conftest import DEVICES_PER_FLEET, Seeded

pytestmark = pytest.mark.integration

PARIS = "FLEET_PARIS"


def today() -> Any:
    return datetime.now(UTC).date()


def open_page(page: str | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.query_params.update(query)
    at.run()
    if page is not None:
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def plotly_specs(at: AppTest) -> list[dict[str, Any]]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def values(array: Any) -> list[Any]:
    """A plotly array from a figure's JSON: a list, or typed binary data (``bdata``)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def frame(at: AppTest, *columns: str) -> Any:
    """The page's table that has these columns (only selectable tables carry their key)."""
    found = [df.value for df in at.dataframe if set(columns) <= set(df.value.columns)]
    assert len(found) == 1, f"{len(found)} tables with columns {columns}"
    return found[0]


def test_realtime_kpis_map_and_table(seeded: Seeded) -> None:
    at = open_page()
    latest: dict[str, Any] = {}
    for p in seeded.of(PARIS):
        if p.device_id not in latest or p.ts > latest[p.device_id].ts:
            latest[p.device_id] = p
    shown = metrics(at)
    assert shown["Active devices"] == str(DEVICES_PER_FLEET)
    speed = round(statistics.fmean(p.speed_kmh for p in latest.values()), 1)
    battery = round(statistics.fmean(p.battery_pct for p in latest.values()), 1)
    assert shown["Avg speed"] == f"{speed:.1f} km/h"
    assert shown["Avg battery"] == f"{battery:.1f} %"
    assert shown["Critical alerts"] == str(seeded.alert_counts(PARIS, today())["HIGH"])
    assert int(shown["Critical alerts"]) > 0

    fleet_map, histogram = plotly_specs(at)
    points = fleet_map["data"][0]
    assert points["type"] == "scattermap" and len(values(points["lat"])) == DEVICES_PER_FLEET
    assert sorted(values(points["hovertext"])) == sorted(latest)
    assert fleet_map["layout"]["map"]["style"] == "white-bg"
    assert histogram["data"][0]["type"] == "histogram"

    table = frame(at, "device_id", "last_ts", "zone")
    assert sorted(table["device_id"]) == sorted(latest)
    at.text_input(key="rt_search").input("paris-0002").run()
    assert frame(at, "device_id", "last_ts", "zone")["device_id"].tolist() == ["PARIS-0002"]


def test_realtime_of_another_fleet_from_the_sidebar(seeded: Seeded) -> None:
    at = open_page()
    at.selectbox(key="_fleet_widget").set_value("FLEET_LYON").run()
    assert at.header[0].value == "Realtime · FLEET_LYON"
    assert frame(at, "device_id", "last_ts", "zone")["device_id"].str.startswith("LYON-").all()
    assert metrics(at)["Critical alerts"] == str(seeded.alert_counts("FLEET_LYON", today())["HIGH"])


def test_analytics_device_day_comparison_and_rollups(seeded: Seeded) -> None:
    at = open_page("analytics")
    readings = seeded.readings("PARIS-0001", today())
    assert at.selectbox(key="_device_widget").value == "PARIS-0001"
    shown = metrics(at)
    assert shown["Readings"] == str(len(readings))
    assert shown["Max speed"] == f"{max(p.speed_kmh for p in readings):.1f} km/h"
    specs = plotly_specs(at)
    assert len(specs) == 5  # speed, battery, temperature, trail, rollups
    trail = specs[3]["data"]
    assert trail[0]["type"] == "scattermap" and values(trail[-1]["text"]) == ["start", "end"]
    hours = {p.hour for p in seeded.of(PARIS, today())}
    assert len(frame(at, "hour", "points")) == len(hours)

    at.multiselect(key="an_compare").set_value(["PARIS-0003", "PARIS-0004"]).run()
    assert not at.exception
    comparison = plotly_specs(at)[4]
    assert sorted(t["name"] for t in comparison["data"]) == [
        "PARIS-0001",
        "PARIS-0003",
        "PARIS-0004",
    ]


def test_alerts_counters_filters_table_and_links(seeded: Seeded) -> None:
    at = open_page("alerts")
    expected = seeded.alert_counts(PARIS, today())
    assert min(expected.values()) > 0 and len(expected) == 3
    shown = metrics(at)
    assert shown == {
        "All": str(sum(expected.values())),
        "HIGH": str(expected["HIGH"]),
        "MEDIUM": str(expected["MEDIUM"]),
        "LOW": str(expected["LOW"]),
    }
    table = frame(at, "severity", "link")
    assert len(table) == sum(expected.values())
    link = table.loc[table["link"].str.endswith("PARIS-0002"), "link"].iloc[0]
    assert link == f"devices?fleet={PARIS}&day={today().isoformat()}&device=PARIS-0002"

    at.segmented_control(key="al_severity").set_value("HIGH").run()
    assert metrics(at)["HIGH"] == str(expected["HIGH"]) and metrics(at)["LOW"] == "-"
    assert set(frame(at, "severity", "link")["severity"]) == {"HIGH"}

    at.segmented_control(key="al_severity").set_value("ALL").run()
    at.selectbox(key="al_type").set_value("BATTERY_LOW").run()
    battery = frame(at, "severity", "link")
    assert set(battery["alert_type"]) == {"BATTERY_LOW"}
    assert metrics(at)["All"] == str(len(battery))


def test_device_link_opens_the_devices_page_on_that_device(seeded: Seeded) -> None:
    at = open_page("devices", fleet=PARIS, device="PARIS-0002", day=today().isoformat())
    assert at.selectbox(key="_device_widget").value == "PARIS-0002"
    assert at.header[0].value == f"Devices · {PARIS}"
    # The selection is kept on the other pages.
    at.switch_page("views/analytics.py").run()
    assert at.selectbox(key="_device_widget").value == "PARIS-0002"


def test_analytics_link_with_a_comparison(seeded: Seeded) -> None:
    at = open_page("analytics", device="PARIS-0004", compare="PARIS-0005,LYON-0001,PARIS-0004")
    assert at.selectbox(key="_device_widget").value == "PARIS-0004"
    assert at.multiselect(key="an_compare").value == ["PARIS-0005"]  # other fleets, itself: no


def test_devices_latest_point_and_real_paging(seeded: Seeded) -> None:
    at = open_page("devices")
    devices = frame(at, "device_id", "activated_at")
    assert len(devices) == DEVICES_PER_FLEET and devices["device_id"].iloc[0] == "PARIS-0001"
    readings = seeded.readings("PARIS-0001", today())
    newest = readings[0]
    shown = metrics(at)
    assert shown["Battery"] == f"{newest.battery_pct} %"
    assert shown["Speed"] == f"{newest.speed_kmh:.0f} km/h"

    at.selectbox(key="dv_page_size").set_value(50).run()
    pages = [readings[i : i + 50] for i in range(0, len(readings), 50)]
    for number, expected in enumerate(pages, start=1):
        page = frame(at, "ts", "speed_kmh", "zone")
        assert len(page) == len(expected)
        assert page["ts"].iloc[0].to_pydatetime() == expected[0].ts
        assert page["speed_kmh"].tolist() == [p.speed_kmh for p in expected]
        assert f"Page **{number}**" in at.markdown[-1].value
        if number < len(pages):
            at.button(key="dv_next").click().run()
    assert at.button(key="dv_next").disabled
    at.button(key="dv_prev").click().run()
    assert frame(at, "ts", "speed_kmh", "zone")["ts"].iloc[0].to_pydatetime() == pages[-2][0].ts
    downloads = {b.label for b in at.download_button}
    assert downloads == {"Download this page (CSV)", "Download the whole day (CSV)"}


def test_cluster_nodes_and_replication(seeded: Seeded) -> None:
    at = open_page("cluster")
    shown = metrics(at)
    up, total = (int(n) for n in shown["Nodes up"].split(" / "))
    assert up == total >= 1
    assert shown["Local DC"] == seeded.env["FLEET_LOCAL_DC"]
    assert not at.warning, [w.value for w in at.warning]
    replication = frame(at, "datacenter", "replication factor")
    configured = dict(item.split(":") for item in seeded.env["FLEET_REPLICATION"].split(","))
    assert dict(zip(replication["datacenter"], replication["replication factor"], strict=True)) == {
        dc: int(rf) for dc, rf in configured.items()
    }
    assert any(seeded.console_role in c.value for c in at.caption)


def test_cluster_backups_per_node_and_the_age_warning(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each node's last backup as Medusa records it (backup_status), and a warning once it is
    older than FLEET_BACKUP_MAX_AGE allows."""
    from datetime import timedelta

    from fleet.config import load_settings
    from fleet.dashboard import state
    from fleet.session import connect

    conn = connect(load_settings(seeded.env))
    try:
        node = conn.cluster.metadata.all_hosts()[0].address
        finished = datetime.now(UTC) - timedelta(hours=3)
        conn.session.execute(
            f"INSERT INTO {seeded.keyspace}.backup_status "
            "(node, finished_at, backup_name, mode, files, bytes) VALUES (%s, %s, %s, %s, %s, %s)",
            (node, finished, "scheduled-test", "differential", 40, 2_000_000),
        )
    finally:
        conn.close()
    state._latest_backups.clear()
    at = open_page("cluster")
    backups = frame(at, "node", "backup", "state")
    shown = backups.set_index("node").loc[node]
    assert (shown["backup"], shown["state"], shown["age"]) == ("scheduled-test", "ok", "3.0 h")
    assert not at.warning, [w.value for w in at.warning]

    monkeypatch.setenv("FLEET_BACKUP_MAX_AGE", "3600")
    state.settings.clear()
    try:
        at = open_page("cluster")
        warnings = [w.value for w in at.warning]
        assert any(f"{node}: last backup scheduled-test finished 3.0 h ago" in w for w in warnings)
        assert (
            frame(at, "node", "backup", "state").set_index("node").loc[node]["state"] == "too old"
        )
    finally:
        state.settings.clear()


def test_operations_lists_the_reports_and_says_when_prometheus_does_not_answer(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """Without Prometheus (an unreachable URL) the page says so once and still lists the
    reports with their verdicts; without FLEET_PROMETHEUS_URL it says that instead."""
    from fleet.dashboard import state

    (tmp_path / "repair-1.json").write_text(json.dumps({"operation": "repair", "ok": True}))
    (tmp_path / "drill-2.json").write_text(json.dumps({"drill": "dc_outage", "ok": False}))
    monkeypatch.setenv("FLEET_REPORTS_DIR", str(tmp_path))
    monkeypatch.setenv("FLEET_PROMETHEUS_URL", "http://127.0.0.1:1")
    state.settings.clear()
    try:
        at = AppTest.from_file(str(APP), default_timeout=90)
        at.run()
        at.switch_page("views/operations.py").run()
        assert not at.exception, [e.message for e in at.exception]
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and "cannot reach Prometheus" in errors[0], errors
        reports = frame(at, "report", "verdict")
        assert dict(zip(reports["report"], reports["verdict"], strict=True)) == {
            "repair-1": "passed",
            "drill-2": "FAILED",
        }
        assert not at.get("plotly_chart")
        monkeypatch.delenv("FLEET_PROMETHEUS_URL")
        state.settings.clear()
        at = open_page("operations")
        assert any("FLEET_PROMETHEUS_URL is not set" in i.value for i in at.info)
        # a link to a report that is not there says so, quoting only a plausible name
        at = AppTest.from_file(str(APP), default_timeout=90)
        at.query_params["report"] = "repair-9"
        at.run()
        at.switch_page("views/operations.py").run()
        assert [w.value for w in at.warning] == [f"No report named `repair-9` in `{tmp_path}`."]
        at.query_params["report"] = "![x](http://example.invalid/x.png)"
        at.switch_page("views/operations.py").run()
        assert "(not a report name)" in at.warning[0].value
    finally:
        state.settings.clear()


def run_console(at: AppTest, statement: str) -> AppTest:
    at.text_area(key="cq_text").input(statement)
    return at.button[0].click().run()


def test_console_runs_reads_and_refuses_the_rest(seeded: Seeded) -> None:
    at = open_page("console")
    assert not at.warning  # a console role is configured
    run_console(at, "SELECT device_id, model FROM devices_by_fleet WHERE fleet_id = 'FLEET_LYON'")
    assert at.success[0].value.startswith(f"{DEVICES_PER_FLEET} row(s)")
    assert frame(at, "device_id", "model")["device_id"].str.startswith("LYON-").all()

    run_console(at, "DROP TABLE devices_by_fleet")
    assert at.error[0].value.startswith("Refused: only read-only statements")
    run_console(at, "SELECT * FROM devices_by_fleet; DROP TABLE devices_by_fleet")
    assert "one statement at a time" in at.error[0].value
    run_console(at, "SELECT * FROM no_such_table")
    assert at.error[0].value.startswith("InvalidRequest")


def test_console_without_its_own_role_warns_and_uses_the_app_role(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fleet.dashboard import state

    monkeypatch.delenv("FLEET_CONSOLE_USERNAME")
    monkeypatch.delenv("FLEET_CONSOLE_PASSWORD")
    state.settings.clear()
    state.console_connection.clear()
    try:
        at = open_page("console")
        assert "uses the application's role" in at.warning[0].value
        run_console(at, "SELECT count(*) FROM devices_by_fleet WHERE fleet_id = 'FLEET_PARIS'")
        assert frame(at, "count")["count"].tolist() == [DEVICES_PER_FLEET]
    finally:
        state.settings.clear()  # the next test reads the environment again
        state.console_connection.clear()


def test_console_role_is_read_only_in_cassandra_itself(seeded: Seeded) -> None:
    """Even a statement that got past the allow-list could not write: the role may only read."""
    from cassandra import Unauthorized

    from fleet.config import load_settings
    from fleet.session import connect

    settings = load_settings(
        {**seeded.env, "FLEET_USERNAME": seeded.console_role, "FLEET_PASSWORD": "console-it-pw"}
    )
    with connect(settings) as conn:
        rows = conn.session.execute(
            f"SELECT count(*) FROM {seeded.keyspace}.devices_by_fleet WHERE fleet_id = %s", (PARIS,)
        )
        assert rows.one()[0] == DEVICES_PER_FLEET
        with pytest.raises(Unauthorized):
            conn.session.execute(
                f"INSERT INTO {seeded.keyspace}.devices_by_fleet (fleet_id, device_id) "
                "VALUES ('FLEET_PARIS', 'INTRUDER')"
            )
