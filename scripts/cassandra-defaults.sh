# Sourced by the scripts that need a pinned value of the cassandra role (version, SHA-256, cqlsh
# version), so that roles/cassandra/defaults/main.yml stays the one place they are set.
#   cassandra_default NAME        prints the plain or double-quoted value of NAME
#   cassandra_release_sha256 V    prints the SHA-256 pinned for release V in cassandra_releases
#   cassandra_releases            prints every release of cassandra_releases, one per line
__cassandra_defaults_file() {
  echo "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/roles/cassandra/defaults/main.yml"
}
cassandra_default() {
  sed -n "s/^$1: *\"\{0,1\}\([^\" ]*\)\"\{0,1\}.*/\1/p" "$(__cassandra_defaults_file)"
}
# The entries of the cassandra_releases mapping: the indented '"<version>": "<sha256>"' lines
# that follow its key.
__cassandra_release_lines() {
  sed -n '/^cassandra_releases:/,/^[^ ]/{s/^  "\([^"]*\)": *"\([0-9a-f]*\)".*/\1 \2/p}' "$(__cassandra_defaults_file)"
}
cassandra_release_sha256() {
  __cassandra_release_lines | awk -v v="$1" '$1 == v { print $2 }'
}
cassandra_releases() {
  __cassandra_release_lines | cut -d' ' -f1
}
