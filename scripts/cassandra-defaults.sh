# Sourced by the scripts that need a pinned value of the cassandra role (version, SHA-256, cqlsh
# version), so that roles/cassandra/defaults/main.yml stays the one place they are set.
#   cassandra_default NAME   prints the plain or double-quoted value of NAME
cassandra_default() {
  sed -n "s/^$1: *\"\{0,1\}\([^\" ]*\)\"\{0,1\}.*/\1/p" \
    "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/roles/cassandra/defaults/main.yml"
}
