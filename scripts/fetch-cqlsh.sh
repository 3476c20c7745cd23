#!/usr/bin/env bash
# A cqlsh for the controller (`make bench` compares `fleet etl import` with its COPY FROM): its
# own virtualenv, installed offline from the wheels the lab hosts use (fetch-wheels.sh), so the
# same pinned version. Prints the cqlsh path.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
wheels=$("$here/scripts/fetch-wheels.sh")
venv="${wheels}-venv"
if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --no-index --find-links "$wheels" "cqlsh==${wheels##*/cqlsh-}" >&2
  touch "$venv/.complete"
fi
echo "$venv/bin/cqlsh"
