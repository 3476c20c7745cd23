"""The Operations page's pure parts: its PromQL, the reports it lists, Prometheus's answers
turned into frames (through a fake opener: the real Prometheus is the lab's, test_monitoring.py
in Molecule multi_dc), the fetch timings the dashboard exports."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.dashboard import instruments
from fleet.dashboard.operations import (
    PANELS,
    Panel,
    parse_report,
    read_reports,
    reports_rows,
)
from fleet.dashboard.prom_api import PrometheusError, alerts, query_range, step_for

T0 = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)


def test_every_panel_groups_by_node_or_dc_and_widens_its_rate_window_with_the_step() -> None:
    write = PANELS[0]
    assert write.query("node", 15) == (
        "histogram_quantile(0.99, sum by (instance, dc, le) "
        "(rate(fleet_etl_write_latency_seconds_bucket[120s])))"
    )
    assert "sum by (dc, le)" in write.query("dc", 15)
    assert "[720s]" in write.query("node", 360)  # two steps of a 24-hour plot
    pages = next(p for p in PANELS if p.fixed_by == "page")
    assert "sum by (page, le)" in pages.query("dc", 15)
    probe = next(p for p in PANELS if p.fixed_by == "cl" and "failed" in p.title)
    assert probe.query("node", 15) == (
        'sum by (cl) (rate(fleet_probe_writes_total{outcome="failed"}[120s]))'
    )
    for panel in PANELS:  # every template formats for both groupings (no placeholder left)
        for grouping in ("node", "dc"):
            query = panel.query(grouping, 15)
            assert "{by}" not in query and "{window}" not in query
            assert query.count("{") == query.count("}")
            assert not re.search(r"\{\{|\}\}", query)
    with pytest.raises(ValueError, match="grouping"):
        write.query("rack", 15)


def test_legends_name_the_series_by_their_grouping_labels() -> None:
    panel = Panel("x", "up", "")
    assert panel.legend({"instance": "app-1", "dc": "dc1", "job": "fleet_etl"}) == "app-1 · dc1"
    assert panel.legend({"dc": "dc2"}) == "dc2"
    assert panel.legend({}) == "all"
    assert Panel("x", "up", "s", fixed_by="page").legend({"page": "realtime"}) == "realtime"


def test_a_drills_report_covers_its_timeline() -> None:
    drill = {
        "drill": "node_outage",
        "ok": True,
        "fault": "stop",
        "rpo_readings_lost": 0,
        "timeline": [
            {"event": "probe writing", "t": T0.timestamp()},
            {"event": "fault injected (stop)", "t": T0.timestamp() + 13},
            {"event": "probe stopped and verified", "t": T0.timestamp() + 138},
        ],
    }
    report = parse_report("drill-node-stop-20261206T010000Z", json.dumps(drill))
    assert (report.kind, report.ok, report.verdict) == ("drill node_outage", True, "passed")
    assert (report.start, report.end) == (T0, T0 + timedelta(seconds=138))
    assert "fault=stop" in report.summary and "rpo_readings_lost=0" in report.summary


def test_an_operations_report_covers_its_start_and_duration() -> None:
    data = {
        "operation": "add_node",
        "ok": False,
        "started_at": "2026-12-06T01:00:00Z",
        "total_s": 90.5,
        "node": "cass-dc1-3",
        "failure": "bootstrap did not finish",
    }
    report = parse_report("add-node-x", json.dumps(data))
    assert (report.kind, report.verdict) == ("add_node", "FAILED")
    assert (report.start, report.end) == (T0, T0 + timedelta(seconds=90.5))
    assert "failure: bootstrap did not finish" in report.summary
    # no verdict, no time: listed as such, named after the file
    bare = parse_report("repair-20261206T010000Z", "{}")
    assert (bare.kind, bare.verdict, bare.start, bare.end) == ("repair", "?", None, None)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("not json", "not JSON"), ("[1, 2]", "not a JSON object")],
)
def test_a_file_that_is_not_a_report_says_why(text: str, problem: str) -> None:
    report = parse_report("broken", text)
    assert report.problem is not None and problem in report.problem
    assert reports_rows([report])[0]["verdict"].startswith("? (")


@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_no_json_content_breaks_the_list(value: object) -> None:
    report = parse_report("any", json.dumps(value))
    assert reports_rows([report])[0]["report"] == "any"


def test_reports_are_listed_newest_first_and_bounded(tmp_path: Path) -> None:
    for index in range(5):
        path = tmp_path / f"op-{index}.json"
        path.write_text(json.dumps({"operation": "repair", "ok": True}))
        os.utime(path, (1000 + index, 1000 + index))
    (tmp_path / "op-4.md").write_text("# not listed")
    (tmp_path / "big.json").write_bytes(b" " * (3 << 20))
    os.utime(tmp_path / "big.json", (10, 10))
    names = [r.name for r in read_reports(tmp_path)]
    assert names == ["op-4", "op-3", "op-2", "op-1", "op-0", "big"]
    assert read_reports(tmp_path)[-1].problem == "larger than 2 MiB"
    assert [r.name for r in read_reports(tmp_path, limit=2)] == ["op-4", "op-3"]
    assert read_reports(tmp_path / "missing") == []


class FakeOpener:
    def __init__(self, body: object, raw: bytes | None = None) -> None:
        self.body = raw if raw is not None else json.dumps(body).encode()
        self.urls: list[str] = []

    def __call__(self, url: str, timeout: float) -> bytes:
        self.urls.append(url)
        return self.body


def test_a_range_query_becomes_one_row_per_point_with_its_labels() -> None:
    opener = FakeOpener(
        {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [
                    {
                        "metric": {"instance": "app-1", "dc": "dc1"},
                        "values": [[T0.timestamp(), "0.012"], [T0.timestamp() + 15, "NaN"]],
                    },
                    {
                        "metric": {"instance": "app-2", "dc": "dc2"},
                        "values": [[T0.timestamp(), "1"]],
                    },
                ],
            },
        }
    )
    frame = query_range("http://p:9090", "up", T0, T0 + timedelta(hours=1), 15, opener=opener)
    assert frame.to_dict("records") == [
        {"instance": "app-1", "dc": "dc1", "time": T0, "value": 0.012},
        {"instance": "app-2", "dc": "dc2", "time": T0, "value": 1.0},
    ]  # NaN (a quantile without samples) left out
    assert opener.urls[0].startswith("http://p:9090/api/v1/query_range?query=up&start=")
    assert "&step=15" in opener.urls[0]


@pytest.mark.parametrize(
    ("body", "raw", "message"),
    [
        (
            {"status": "error", "errorType": "bad_data", "error": "parse error"},
            None,
            "bad_data: parse error",
        ),
        (None, b"<html>proxy</html>", "not JSON"),
        (
            {"status": "success", "data": {"resultType": "vector", "result": []}},
            None,
            "not a matrix",
        ),
    ],
)
def test_what_prometheus_refuses_becomes_one_clear_error(
    body: object, raw: bytes | None, message: str
) -> None:
    with pytest.raises(PrometheusError, match=message):
        query_range("http://p:9090", "up", T0, T0, 15, opener=FakeOpener(body, raw))


def test_an_unreachable_prometheus_is_a_clear_error() -> None:
    from fleet.dashboard import prom_api

    with pytest.raises(PrometheusError, match="cannot reach Prometheus"):
        prom_api._open("http://127.0.0.1:1/api/v1/alerts", 2.0)


def test_alerts_firing_first_then_pending_oldest_first() -> None:
    def alert(name: str, state: str, at: str) -> dict[str, object]:
        return {
            "labels": {"alertname": name, "severity": "critical", "instance": "n1", "dc": "dc1"},
            "annotations": {"summary": f"{name} summary"},
            "state": state,
            "activeAt": at,
        }

    opener = FakeOpener(
        {
            "status": "success",
            "data": {
                "alerts": [
                    alert("EtlStalled", "pending", "2026-12-06T01:00:00Z"),
                    alert("CassandraNodeDown", "firing", "2026-12-06T01:02:00Z"),
                    alert("HostDown", "firing", "2026-12-06T01:01:00Z"),
                ]
            },
        }
    )
    frame = alerts("http://p:9090", opener=opener)
    assert frame["alert"].tolist() == ["HostDown", "CassandraNodeDown", "EtlStalled"]
    assert frame.loc[0, "summary"] == "HostDown summary"
    empty = alerts(
        "http://p:9090", opener=FakeOpener({"status": "success", "data": {"alerts": []}})
    )
    assert empty.empty and "alert" in empty.columns


def test_steps_keep_a_plot_to_a_few_hundred_points_never_under_the_scrape_interval() -> None:
    assert step_for(T0, T0 + timedelta(minutes=15)) == 15.0
    assert step_for(T0, T0 + timedelta(hours=24)) == 360.0
    assert step_for(T0, T0) == 15.0


def test_fetches_are_timed_by_page_and_outcome() -> None:
    def sample(suffix: str, outcome: str) -> float:
        labels = {"page": "timed_test", "outcome": outcome}
        name = f"fleet_dashboard_fetch_seconds_{suffix}"
        return instruments.REGISTRY.get_sample_value(name, labels) or 0.0

    before = {(s, o): sample(s, o) for s in ("count", "sum") for o in ("ok", "error")}
    ticks = iter([0.0, 0.25, 1.0, 1.5])
    assert instruments.timed("timed_test", lambda: 42, clock=lambda: next(ticks)) == 42

    def fail() -> None:
        raise TimeoutError("slow")

    with pytest.raises(TimeoutError):
        instruments.timed("timed_test", fail, clock=lambda: next(ticks))
    assert sample("count", "ok") - before[("count", "ok")] == 1.0
    assert sample("sum", "ok") - before[("sum", "ok")] == 0.25
    assert sample("count", "error") - before[("count", "error")] == 1.0
    assert sample("sum", "error") - before[("sum", "error")] == 0.5


def test_a_drill_marks_its_fault_events_others_their_start_and_end() -> None:
    drill = {
        "drill": "dc_outage",
        "ok": True,
        "timeline": [
            {"event": "probe writing", "t": T0.timestamp()},
            {"event": "fault injected (stop)", "t": T0.timestamp() + 10},
            {"event": "fault in place", "t": T0.timestamp() + 20},
            {"event": "fault removed", "t": T0.timestamp() + 100},
            {"event": "repair done", "t": T0.timestamp() + 150},
        ],
    }
    marks = parse_report("d", json.dumps(drill)).marks
    assert [label for _, label in marks] == [
        "fault injected (stop)",
        "fault in place",
        "fault removed",
    ]
    assert marks[0][0] == T0 + timedelta(seconds=10)
    op = parse_report("r", json.dumps({"started_at": T0.isoformat(), "total_s": 15}))
    assert op.marks == ((T0, "starts"), (T0 + timedelta(seconds=15), "ends"))
    assert parse_report("n", "{}").marks == ()
