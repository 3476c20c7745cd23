"""Operations: the cluster and the app over time, from Prometheus (FLEET_PROMETHEUS_URL), the
alerts it holds, and the day-2 operations' reports (FLEET_REPORTS_DIR) with their verdicts.

Every figure is Prometheus's (rates, quantiles, ratios: fleet.dashboard.operations.PANELS);
choosing a report narrows the plots to its time window and marks its start and end (a drill's
fault and its effect on latency). Prometheus unreachable: one message, the reports still listed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from fleet.dashboard import charts, state
from fleet.dashboard.operations import GROUPINGS, PANELS, WINDOWS, Report, reports_rows
from fleet.dashboard.prom_api import PrometheusError, step_for
from fleet.dashboard.state import ColumnConfig

REPORT_MARGIN = timedelta(minutes=5)
REPORT_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,128}")  # what a report's file name may be
REPORT_COLUMNS: ColumnConfig = {
    "report": st.column_config.TextColumn("Report"),
    "operation": st.column_config.TextColumn("Operation"),
    "verdict": st.column_config.TextColumn("Verdict"),
    "from": st.column_config.DatetimeColumn("From (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "to": st.column_config.DatetimeColumn("To (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "summary": st.column_config.TextColumn("Summary", width="large"),
}
ALERT_COLUMNS: ColumnConfig = {
    "alert": "Alert",
    "severity": "Severity",
    "state": "State",
    "instance": "Instance",
    "dc": "DC",
    "since": st.column_config.DatetimeColumn("Since (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "summary": st.column_config.TextColumn("Summary", width="large"),
}


def _verdict_color(value: object) -> str:
    text = str(value)
    if text == "passed":
        return "color: #1a7f37"
    return "color: #d1242f; font-weight: bold" if text == "FAILED" else ""


def _reports(directory: str) -> Report | None:
    """The reports table; the report the operator selected, if any."""
    st.subheader("Operations' reports")
    reports = state.operation_reports(directory)
    if not reports:
        st.info(f"No report in `{directory}` yet: the day-2 playbooks copy theirs here.")
        return None
    frame = pd.DataFrame(reports_rows(reports))
    event = st.dataframe(
        frame.style.map(_verdict_color, subset=["verdict"]),
        column_config=REPORT_COLUMNS,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="ops_reports",
    )
    rows = event.selection.rows if event is not None else []
    st.caption("Select a report to plot its time window (link: `?report=<name>`).")
    if rows:
        return reports[rows[0]]
    linked = st.query_params.get("report")
    report = next((r for r in reports if r.name == linked), None)
    if linked and report is None:
        shown = linked if REPORT_NAME.fullmatch(linked) else "(not a report name)"
        st.warning(f"No report named `{shown}` in `{directory}`.")
    if linked and st.button("Back to the live window"):
        del st.query_params["report"]
        st.rerun()
    return report


def _alerts(url: str) -> bool:
    """The alerts Prometheus holds; False (after one message) when it cannot be reached."""
    try:
        alerts = state.prometheus_alerts(url)
    except PrometheusError as exc:
        st.error(f"Prometheus ({url}) did not answer: {exc}")
        return False
    firing = int((alerts["state"] == "firing").sum()) if not alerts.empty else 0
    st.subheader(f"Alerts · {firing} firing")
    if alerts.empty:
        st.success("No alert is firing or pending.")
    else:
        st.dataframe(alerts, column_config=ALERT_COLUMNS, hide_index=True, key="ops_alerts")
    return True


def _window(report: Report | None) -> tuple[datetime, datetime, list[tuple[datetime, str]]]:
    now = datetime.now(UTC)
    if report is not None and report.start is not None:
        end = report.end or report.start
        st.info(f"Window of report **{report.name}** ({report.kind}, {report.verdict}).")
        return report.start - REPORT_MARGIN, min(now, end + REPORT_MARGIN), list(report.marks)
    label = st.session_state.get("ops_window", "1 hour")
    return now - WINDOWS.get(label, WINDOWS["1 hour"]), now, []


def _panels(url: str, grouping: str, report: Report | None) -> None:
    start, end, marks = _window(report)
    step = step_for(start, end)
    # Rounded to the step: the cached answer serves every rerun within one step.
    end = datetime.fromtimestamp(end.timestamp() // step * step, UTC)
    st.caption(
        f"{start:%Y-%m-%d %H:%M:%S} to {end:%H:%M:%S} UTC, one point every {step:g} s, "
        f"per {grouping}."
    )
    columns = st.columns(2)
    for index, panel in enumerate(PANELS):
        with columns[index % 2]:
            try:
                frame = state.prometheus_series(url, panel.query(grouping, step), start, end, step)
            except PrometheusError as exc:
                st.warning(f"{panel.title}: {exc}")
                continue
            if frame.empty:
                st.caption(f"**{panel.title}**: no data in this window.")
                continue
            labels = frame.drop(columns=["time", "value"])
            frame = frame.assign(
                series=[panel.legend(row) for row in labels.astype(str).to_dict("records")]
            )
            st.plotly_chart(
                charts.operations_line(frame, panel.title, panel.unit, marks),
                key=f"ops_{index}",
            )


def render() -> None:
    st.header("Operations")
    _, dash = state.settings()
    url = dash.prometheus_url
    reachable = url is not None and _alerts(url)
    report = _reports(str(dash.reports_dir))
    if url is None:
        st.info("FLEET_PROMETHEUS_URL is not set: no metrics to plot.")
        return
    if not reachable:
        return
    c1, c2 = st.columns(2)
    c1.selectbox(
        "Window",
        list(WINDOWS),
        index=1,
        key="ops_window",
        disabled=report is not None,
        help="A selected report sets the window to its own, 5 minutes either side.",
    )
    grouping = c2.radio("Per", list(GROUPINGS), horizontal=True, key="ops_grouping")
    _panels(url, grouping, report)


render()
