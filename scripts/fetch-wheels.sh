#!/usr/bin/env bash
# Download the wheels a tool of the lab hosts is installed from offline, with its dependencies,
# into the controller cache, keyed by version (the one pinned in the role's defaults). Hosts run
# Debian bookworm's CPython 3.11 on x86_64. Prints the wheelhouse's path.
#   scripts/fetch-wheels.sh          # cqlsh (role cassandra: cassandra_cqlsh_version)
#   scripts/fetch-wheels.sh medusa   # Medusa (role medusa: medusa_version)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/role-defaults.sh"
case "${1:-cqlsh}" in
  cqlsh) name=cqlsh; version=$(role_default cassandra cassandra_cqlsh_version); spec="cqlsh==${version}" ;;
  medusa) name=medusa; version=$(role_default medusa medusa_version); spec="cassandra-medusa==${version}" ;;
  *) echo "unknown tool '$1' (cqlsh or medusa)" >&2; exit 2 ;;
esac
[ -n "$version" ] || { echo "no version pinned for $name in its role's defaults" >&2; exit 1; }
dest="${FLEET_CACHE:-$HOME/.cache/fleet-tracing}/wheels/${name}-${version}"
if [ -f "$dest/.complete" ]; then echo "$dest"; exit 0; fi
mkdir -p "$dest"
"$here/.venv/bin/pip" download -q --only-binary=:all: --python-version 3.11 \
  --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --implementation cp \
  -d "$dest" "$spec" >&2
touch "$dest/.complete"
echo "$dest"
