"""The textfile collector's series (plugins/filter/fleet_textfile.py): what Prometheus parses."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "filter"))

from fleet_textfile import fleet_textfile

REPAIR = "fleet_repair_last_success_timestamp_seconds"


def test_samples_are_grouped_under_their_help_and_type() -> None:
    text = fleet_textfile(
        [
            {"name": REPAIR, "help": "Last repair.", "labels": {"keyspace": "a"}, "value": 1.5e9},
            {"name": "fleet_x", "help": "X.", "type": "counter", "value": 3},
            {"name": REPAIR, "help": "Last repair.", "labels": {"keyspace": "b"}, "value": "7"},
        ]
    )
    assert text.splitlines() == [
        f"# HELP {REPAIR} Last repair.",
        f"# TYPE {REPAIR} gauge",
        f'{REPAIR}{{keyspace="a"}} 1500000000.0',
        f'{REPAIR}{{keyspace="b"}} 7.0',
        "# HELP fleet_x X.",
        "# TYPE fleet_x counter",
        "fleet_x 3.0",
    ]
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert [s.labels["keyspace"] for s in families[REPAIR].samples] == ["a", "b"]
    assert fleet_textfile([]) == ""


@given(st.text(max_size=40))
def test_any_label_value_survives_the_round_trip(value: str) -> None:
    text = fleet_textfile([{"name": "fleet_t", "labels": {"path": value}, "value": 1}])
    (family,) = text_string_to_metric_families(text)
    assert family.samples[0].labels["path"] == value


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"name": "2bad", "value": 1}, "not a metric name"),
        ({"name": "ok", "type": "summary", "value": 1}, "type"),
        ({"name": "ok", "labels": {"bad-label": "x"}, "value": 1}, "not a label name"),
        ({"name": "ok", "labels": {"__name__": "x"}, "value": 1}, "not a label name"),
        ({"name": "ok", "value": "soon"}, "not a number"),
    ],
)
def test_bad_series_are_refused_with_the_reason(item: dict[str, object], reason: str) -> None:
    with pytest.raises(AnsibleFilterError, match=reason):
        fleet_textfile([item])


def test_one_name_cannot_have_two_descriptions() -> None:
    with pytest.raises(AnsibleFilterError, match="HELP or TYPE differs"):
        fleet_textfile(
            [{"name": "a", "help": "x", "value": 1}, {"name": "a", "help": "y", "value": 2}]
        )
