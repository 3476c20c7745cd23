#!/usr/bin/env bash
# Download the wheels the lab hosts install offline (cqlsh and its dependencies) into the
# controller cache, keyed by version. Hosts run Debian bookworm's CPython 3.11 on x86_64.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/cassandra-defaults.sh"
version=$(cassandra_default cassandra_cqlsh_version)
dest="${FLEET_CACHE:-$HOME/.cache/fleet-tracing}/wheels/cqlsh-${version}"
if [ -f "$dest/.complete" ]; then echo "$dest"; exit 0; fi
mkdir -p "$dest"
"$here/.venv/bin/pip" download -q --only-binary=:all: --python-version 3.11 \
  --platform manylinux2014_x86_64 --implementation cp -d "$dest" "cqlsh==${version}" >&2
touch "$dest/.complete"
echo "$dest"
