# Sourced by the scripts that need a pinned value of a role (versions, SHA-256s), so that the
# role's defaults/main.yml stays the one place it is set.
#   role_default ROLE NAME        prints the plain or double-quoted value of NAME in ROLE's defaults
#   cassandra_default NAME        the same for role cassandra
#   cassandra_release_sha256 V    prints the SHA-256 pinned for release V in cassandra_releases
#   cassandra_releases            prints every release of cassandra_releases, one per line
__role_defaults_file() {
  echo "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/roles/$1/defaults/main.yml"
}
__cassandra_defaults_file() {
  __role_defaults_file cassandra
}
role_default() {
  sed -n "s/^$2: *\"\{0,1\}\([^\" ]*\)\"\{0,1\}.*/\1/p" "$(__role_defaults_file "$1")"
}
cassandra_default() {
  role_default cassandra "$1"
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
