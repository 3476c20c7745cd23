#!/usr/bin/env python3
"""Mermaid flowchart (stdin) -> Graphviz dot (stdout), for the PDF of `make report`.

GitHub draws the docs' Mermaid diagrams itself; Debian has no Mermaid renderer, so the report's
PDF draws the same source with Graphviz. Only the flowchart subset the docs use is accepted,
and anything else is an error (tests/unit/test_docs.py converts every diagram of docs/):

    flowchart LR|RL|TB|TD|BT              (or graph ...)
    subgraph ID[Label] ... end             (nested; ID["Label"] or a bare ID too)
    A[Box]  A[(Database)]  A([Rounded])  A((Circle))  A{Decision}
    A --> B   A --- B   A -.-> B   A ==> B   A -->|label| B   (chains: A --> B --> C)
    %% comment
Labels may be quoted and may contain <br/> line breaks.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

SHAPES = (  # opening, closing, Graphviz shape; longest openings first
    ("[(", ")]", "cylinder"),
    ("([", "])", "box"),
    ("((", "))", "circle"),
    ("[", "]", "box"),
    ("{", "}", "diamond"),
)
ARROWS = {  # Mermaid link -> Graphviz edge attributes
    "-.->": {"style": "dashed"},
    "==>": {"penwidth": "2"},
    "-->": {},
    "---": {"dir": "none"},
}
DIRECTIONS = {"LR": "LR", "RL": "RL", "TB": "TB", "TD": "TB", "BT": "BT"}
ID = r"[A-Za-z_][A-Za-z0-9_]*"
ARROW_RE = re.compile(r"\s*(-\.->|==>|-->|---)\s*(?:\|([^|]*)\|\s*)?")


class MermaidError(ValueError):
    pass


@dataclass
class Cluster:
    id: str
    label: str
    nodes: list[str] = field(default_factory=list)
    children: list[Cluster] = field(default_factory=list)


@dataclass
class Graph:
    direction: str = "TB"
    root: Cluster = field(default_factory=lambda: Cluster("", ""))
    labels: dict[str, str] = field(default_factory=dict)
    shapes: dict[str, str] = field(default_factory=dict)
    edges: list[tuple[str, str, str, dict[str, str]]] = field(default_factory=list)


def clean_label(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return re.sub(r"<br\s*/?>", "\n", text)


def parse_node(text: str, pos: int, line: str) -> tuple[str, str | None, str | None, int]:
    """A node reference at ``pos``: its id, label and shape (None when bare), and the end."""
    match = re.compile(ID).match(text, pos)
    if match is None:
        raise MermaidError(f"expected a node id at column {pos + 1}: {line!r}")
    node_id, pos = match.group(0), match.end()
    for opening, closing, shape in SHAPES:
        if text.startswith(opening, pos):
            end = text.find(closing, pos + len(opening))
            if end < 0:
                raise MermaidError(f"unclosed {opening!r} in {line!r}")
            return node_id, clean_label(text[pos + len(opening) : end]), shape, end + len(closing)
    return node_id, None, None, pos


def parse(source: str) -> Graph:
    graph = Graph()
    stack = [graph.root]
    lines = [(n, raw.strip()) for n, raw in enumerate(source.splitlines(), 1)]
    lines = [(n, line) for n, line in lines if line and not line.startswith("%%")]
    if not lines:
        raise MermaidError("empty diagram")
    header = lines[0][1].split()
    if len(header) != 2 or header[0] not in ("flowchart", "graph") or header[1] not in DIRECTIONS:
        raise MermaidError(f"only 'flowchart <direction>' diagrams are supported: {lines[0][1]!r}")
    graph.direction = DIRECTIONS[header[1]]
    clusters: set[str] = set()
    placed: set[str] = set()

    def declare(node_id: str, label: str | None, shape: str | None) -> None:
        if node_id in clusters:
            raise MermaidError(f"links to subgraph {node_id!r} are not supported")
        if label is not None:
            if node_id in graph.labels and graph.labels[node_id] != label:
                raise MermaidError(f"node {node_id!r} has two labels")
            graph.labels[node_id], graph.shapes[node_id] = label, shape or "box"
        if node_id not in placed:
            placed.add(node_id)
            stack[-1].nodes.append(node_id)

    for number, line in lines[1:]:
        try:
            if line == "end":
                if len(stack) == 1:
                    raise MermaidError("'end' without 'subgraph'")
                stack.pop()
                continue
            if line.startswith("subgraph "):
                node_id, label, _, end = parse_node(line, len("subgraph "), line)
                if line[end:].strip():
                    raise MermaidError(f"unexpected text after the subgraph: {line!r}")
                cluster = Cluster(node_id, label if label is not None else node_id)
                clusters.add(node_id)
                stack[-1].children.append(cluster)
                stack.append(cluster)
                continue
            node_id, label, shape, pos = parse_node(line, 0, line)
            declare(node_id, label, shape)
            while pos < len(line):
                arrow = ARROW_RE.match(line, pos)
                if arrow is None:
                    raise MermaidError(f"unsupported syntax at column {pos + 1}: {line!r}")
                target, label, shape, pos = parse_node(line, arrow.end(), line)
                declare(target, label, shape)
                edge_label = clean_label(arrow.group(2) or "")
                graph.edges.append((node_id, target, edge_label, ARROWS[arrow.group(1)]))
                node_id = target
        except MermaidError as exc:
            raise MermaidError(f"line {number}: {exc}") from None
    if len(stack) != 1:
        raise MermaidError(f"subgraph {stack[-1].id!r} has no 'end'")
    return graph


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: Graph) -> str:
    out = [
        "digraph mermaid {",
        f"  rankdir={graph.direction}; newrank=true; nodesep=0.3; ranksep=0.45;",
        '  fontname="DejaVu Sans"; fontsize=11;',
        '  node [fontname="DejaVu Sans", fontsize=10, style="rounded,filled",'
        ' fillcolor="#eef3fb", color="#4a6fa5", margin="0.12,0.06"];',
        '  edge [fontname="DejaVu Sans", fontsize=9, color="#4d4d4d", fontcolor="#333333"];',
    ]

    def node_line(node_id: str, indent: str) -> str:
        shape = graph.shapes.get(node_id, "box")
        style = ', style="filled"' if shape != "box" else ""
        label = quote(graph.labels.get(node_id, node_id))
        return f"{indent}{node_id} [label={label}, shape={shape}{style}];"

    def emit(cluster: Cluster, depth: int) -> None:
        indent = "  " * (depth + 1)
        for node_id in cluster.nodes:
            out.append(node_line(node_id, indent))
        for child in cluster.children:
            out.append(f"{indent}subgraph cluster_{child.id} {{")
            out.append(
                f'{indent}  label={quote(child.label)}; style="rounded,dashed"; color="#7f7f7f";'
            )
            emit(child, depth + 1)
            out.append(f"{indent}}}")

    emit(graph.root, 0)
    for source, target, label, attributes in graph.edges:
        attrs = dict(attributes)
        if label:
            attrs["label"] = label
        text = ", ".join(f"{k}={quote(v)}" for k, v in attrs.items())
        out.append(f"  {source} -> {target}" + (f" [{text}];" if text else ";"))
    out.append("}")
    return "\n".join(out) + "\n"


def main() -> int:
    try:
        sys.stdout.write(to_dot(parse(sys.stdin.read())))
    except MermaidError as exc:
        print(f"mermaid2dot: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
