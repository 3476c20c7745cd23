#!/usr/bin/env bash
# make report: docs/report.md -> docs/report.pdf with Debian's pandoc (Markdown -> HTML), Graphviz
# (the Mermaid diagrams, via scripts/report/mermaid.lua) and WeasyPrint (HTML -> PDF). The
# screenshots are docs/screenshots/*.png; the cover's date is the last commit of docs/report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in pandoc dot weasyprint pdfinfo python3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: run make host-packages" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

date=$(git log -1 --format=%cs -- docs/report.md 2>/dev/null || true)
{ echo '<style>'; cat scripts/report/report.css; echo '</style>'; } > "$work/style.html"
pandoc docs/report.md --from=markdown --to=html5 --standalone \
  --shift-heading-level-by=-1 --number-sections --toc --toc-depth=2 \
  --metadata subtitle="Telemetry on a two-data-center Apache Cassandra 5.0 cluster, deployed by Ansible" \
  --metadata author="Fleet Tracing project" --metadata date="${date:-$(date -u +%F)}" \
  --metadata lang=en --template=scripts/report/template.html --include-in-header="$work/style.html" \
  --lua-filter=scripts/report/mermaid.lua --output="$work/report.html"
weasyprint --base-url "$PWD/docs/" "$work/report.html" docs/report.pdf
echo "docs/report.pdf: $(pdfinfo docs/report.pdf | awk '/^Pages:/ {print $2}') pages"
