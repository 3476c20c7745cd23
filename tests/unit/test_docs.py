"""The operator's documentation stays true to the code and to the measurements.

- docs/cassandra-modeling.md documents every table of the schema with its real key, TTL and
  compaction, and shows the statements the app actually prepares;
- its size figures are reproduced by scripts/partition-sizes.py;
- docs/report.md takes its performance figures from docs/benchmarks.md and its modelling
  figures from docs/cassandra-modeling.md, its diagrams are architecture.md's, and it shows
  every screenshot;
- every Mermaid diagram of docs/ is drawn by the report's converter (Graphviz).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys

import pytest
from ansible_run import ROOT, run_ansible

DOCS = ROOT / "docs"
MODELING = (DOCS / "cassandra-modeling.md").read_text()
REPORT = (DOCS / "report.md").read_text()
ARCHITECTURE = (DOCS / "architecture.md").read_text()
BENCHMARKS = (DOCS / "benchmarks.md").read_text()
SCHEMA = (ROOT / "app" / "src" / "fleet" / "schema.cql").read_text()
MERMAID = re.compile(r"```mermaid\n(.*?)```", re.S)
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def load_converter():
    path = ROOT / "scripts" / "report" / "mermaid2dot.py"
    spec = importlib.util.spec_from_file_location("mermaid2dot", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["mermaid2dot"] = module
    spec.loader.exec_module(module)
    return module


mermaid2dot = load_converter()


def section(text: str, heading: str) -> str:
    """From ``heading`` (a whole line) to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n")
    rest = text[start + len(heading) + 2 :]
    end = re.search(rf"^#{{1,{len(level)}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


def squash(text: str) -> str:
    return " ".join(text.split())


# ----------------------------------------------------------------------------- data model


def schema_tables() -> dict[str, str]:
    """Table name -> its CREATE TABLE statement (whitespace squashed)."""
    statements = re.findall(
        r"CREATE TABLE IF NOT EXISTS \$\{keyspace\}\.(\w+) \((.*?);", SCHEMA, re.S
    )
    return {name: squash(body) for name, body in statements}


@pytest.mark.parametrize("table", sorted(schema_tables()))
def test_each_table_is_documented_with_its_key_ttl_and_compaction(table):
    body = schema_tables()[table]
    doc = squash(section(MODELING, f"### {table}"))
    key = re.search(r"PRIMARY KEY \((.*?)\)\s*\)", body)
    if key:
        assert f"PRIMARY KEY ({key[1]})" in doc
    else:
        column = re.match(r"(\w+) \w+ PRIMARY KEY", body)[1]
        assert f"`{column}` alone" in doc
    order = re.search(r"CLUSTERING ORDER BY \((.*?)\)", body)
    if order and "," in order[1]:
        assert f"CLUSTERING ORDER BY ({order[1]})" in doc
    for setting in ("default_time_to_live", "gc_grace_seconds"):
        value = re.search(rf"{setting} = (\d+)", body)
        if value:
            assert f"{setting} = {value[1]}" in doc
    strategy = re.search(r"'class': '(\w+)'", body.split("compaction", 1)[-1])
    if "compaction" in body:
        assert strategy[1] in doc
    else:
        assert "default compaction" in doc


class RecordingSession:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def prepare(self, cql: str):
        self.statements.append(cql)
        return type("Prepared", (), {})()


def test_the_doc_shows_the_statements_the_app_prepares():
    queries = pytest.importorskip("fleet.queries")
    minutes = pytest.importorskip("fleet.minutes")
    session = RecordingSession()
    queries.FleetQueries(session, "fleet_iot")
    minutes.RollupReader(session, "fleet_iot")
    doc = squash(MODELING)
    assert len(session.statements) == 14
    assert not any("ALLOW FILTERING" in cql for cql in session.statements)  # refused by a guardrail
    for cql in session.statements:
        assert squash(cql) in doc, cql


def test_partition_size_figures_are_reproduced_by_the_script():
    """Fast partial run: one simulated hour gives the same value bytes per row as the doc's
    two days, except for alerts (their text depends on which rules fired)."""
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "partition-sizes.py"),
            "--day",
            "2026-07-15",
            "--hours",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    sizes = result.stdout.split("Average value bytes per row", 1)[1].split("\n\n")[1]
    rows = [line for line in sizes.splitlines() if not line.startswith("| alerts_by_fleet_day ")]
    assert "| device_hours_by_fleet_day |" in sizes
    for line in rows:
        assert f"\n{line}\n" in MODELING, line
    command = ".venv/bin/python scripts/partition-sizes.py --day 2026-01-15 --day 2026-07-15"
    assert f"$ {command}\n" in MODELING


# ----------------------------------------------------------------------------- the report


def numbers(text: str) -> set[str]:
    return set(NUMBER.findall(text))


def test_performance_figures_come_from_benchmarks():
    performance = section(REPORT, "## Performance")
    summary = section(REPORT, "## Executive summary").split("Results,", 1)[1]
    missing = numbers(performance + summary) - numbers(BENCHMARKS) - {"2026"}
    assert not missing, f"not in docs/benchmarks.md: {sorted(missing)}"


def test_modelling_figures_come_from_the_modeling_doc():
    missing = numbers(section(REPORT, "## Data modelling")) - numbers(MODELING)
    assert not missing, f"not in docs/cassandra-modeling.md: {sorted(missing)}"


def test_the_report_has_the_seeds_sections():
    headings = re.findall(r"^## (.+)$", REPORT, re.M)
    for expected in ("Executive summary", "Architecture", "Data modelling", "Performance"):
        assert expected in headings
    assert "Resilience" in headings and "Annex A: screenshots" in headings


def test_resilience_figures_come_from_the_operations_runbook():
    operations = (DOCS / "operations.md").read_text()
    missing = numbers(section(REPORT, "## Resilience")) - numbers(operations)
    assert not missing, f"not in docs/operations.md: {sorted(missing)}"


def test_the_report_shows_every_screenshot():
    shown = set(re.findall(r"!\[[^\]]*\]\((screenshots/[\w-]+\.png)\)", REPORT))
    on_disk = {f"screenshots/{p.name}" for p in (DOCS / "screenshots").glob("*.png")}
    assert shown == on_disk
    assert len(on_disk) >= 3


def test_the_reports_diagrams_are_the_architectures():
    diagrams = MERMAID.findall(REPORT)
    assert len(diagrams) >= 2
    for diagram in diagrams:
        assert diagram in MERMAID.findall(ARCHITECTURE)


# ----------------------------------------------------------------------------- diagrams


@pytest.mark.parametrize("doc", sorted(p.name for p in DOCS.glob("*.md")))
def test_every_mermaid_diagram_converts_to_graphviz(doc):
    dot = shutil.which("dot")
    assert dot, "no dot: Debian's graphviz package (scripts/install-host-packages.sh)"
    for diagram in MERMAID.findall((DOCS / doc).read_text()):
        source = mermaid2dot.to_dot(mermaid2dot.parse(diagram))
        result = subprocess.run([dot, "-Tsvg"], input=source, capture_output=True, text=True)
        assert result.returncode == 0 and "<svg" in result.stdout, result.stderr


def test_the_converter_keeps_nodes_clusters_and_edges():
    graph = mermaid2dot.parse(
        "flowchart TB\n"
        "  subgraph dc1[Data center dc1]\n"
        '    n1[(node 1<br/>seed)]\n    n2["node 2"]\n'
        "  end\n"
        "  app([app]) -->|CQL 9042| n1 -.-> n2\n"
        "  n1 --- n2\n"
    )
    assert graph.direction == "TB"
    assert graph.root.nodes == ["app"]
    assert graph.root.children[0].nodes == ["n1", "n2"]
    assert graph.labels["n1"] == "node 1\nseed" and graph.shapes["n1"] == "cylinder"
    assert graph.edges == [
        ("app", "n1", "CQL 9042", {}),
        ("n1", "n2", "", {"style": "dashed"}),
        ("n1", "n2", "", {"dir": "none"}),
    ]
    assert "subgraph cluster_dc1 {" in mermaid2dot.to_dot(graph)


@pytest.mark.parametrize(
    "source",
    [
        "sequenceDiagram\n  A->>B: hi\n",
        "flowchart LR\n  subgraph s[S]\n  a\n  end\n  a --> s\n",
        "flowchart LR\n  a & b --> c\n",
        "flowchart LR\n  subgraph s[S]\n  a\n",
        "flowchart LR\n  a[one] --> a[two]\n",
    ],
)
def test_the_converter_refuses_what_it_does_not_draw(source):
    with pytest.raises(mermaid2dot.MermaidError):
        mermaid2dot.parse(source)


@pytest.mark.parametrize(
    ("doc", "inventory"),
    [
        ("docs/architecture.md", "inventories/lab"),
        ("inventories/production.example/README.md", "inventories/production.example"),
    ],
)
def test_the_inventory_graphs_shown_are_ansibles(doc, inventory):
    command = f"$ .venv/bin/ansible-inventory -i {inventory} --graph\n"
    text = (ROOT / doc).read_text()
    shown = text.split(command, 1)[1].split("```", 1)[0]
    result = run_ansible("ansible-inventory", "-i", inventory, "--graph")
    assert result.returncode == 0, result.stderr
    assert shown == result.stdout


def test_the_cassandra_roles_example_is_playbooks_cassandra_yml():
    """The role's README shows the plays that build a cluster; they are playbooks/cassandra.yml's,
    which site.yml and both Molecule scenarios run, so the example cannot drift from what runs."""
    readme = (ROOT / "roles" / "cassandra" / "README.md").read_text()
    example = re.search(r"## Example\n.*?```yaml\n(.*?)```", readme, re.S)
    assert example, "no yaml example in roles/cassandra/README.md"
    playbook = (ROOT / "playbooks" / "cassandra.yml").read_text()
    assert example.group(1) == playbook[playbook.index("- name: ") :]
    site = (ROOT / "playbooks" / "site.yml").read_text()
    assert "ansible.builtin.import_playbook: cassandra.yml" in site
