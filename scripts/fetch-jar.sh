#!/usr/bin/env bash
# Put a jar a role installs in the controller's cache, from Maven Central: Maven checks it against
# Central's checksum (--strict-checksums), then this script against the SHA-256 pinned in the role's
# defaults/main.yml (the one place version and SHA-256 are set); a mismatch fails loudly. Prints
# the jar's path. Cached under $FLEET_CACHE/<name> (default ~/.cache/fleet-tracing), and in ~/.m2.
#   scripts/fetch-jar.sh s3proxy        the backups' store (role object_store)
#   scripts/fetch-jar.sh jmx-exporter   the Prometheus JMX exporter agent (role cassandra)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/role-defaults.sh"
name=${1:?usage: fetch-jar.sh s3proxy|jmx-exporter}
case "$name" in
  s3proxy)
    role=object_store version_var=object_store_s3proxy_version sha_var=object_store_s3proxy_sha256
    coordinates="org.gaul:s3proxy:%s:jar:jar-with-dependencies" file="s3proxy-%s-jar-with-dependencies.jar" ;;
  jmx-exporter)
    role=cassandra version_var=cassandra_jmx_exporter_version sha_var=cassandra_jmx_exporter_sha256
    coordinates="io.prometheus.jmx:jmx_prometheus_javaagent:%s" file="jmx_prometheus_javaagent-%s.jar" ;;
  *) echo "fetch-jar.sh: unknown jar '$name' (s3proxy or jmx-exporter)" >&2; exit 2 ;;
esac
version=$(role_default "$role" "$version_var")
pinned=$(role_default "$role" "$sha_var")
[ -n "$version" ] && [ -n "$pinned" ] || { echo "$version_var or $sha_var not found in roles/$role/defaults/main.yml" >&2; exit 1; }
cache="${FLEET_CACHE:-$HOME/.cache/fleet-tracing}/$name"
jar="$cache/$name-${version}.jar"

verify() {
  local actual
  actual=$(sha256sum "$1" | cut -d' ' -f1)
  [ "$actual" = "$pinned" ] || { echo "SHA-256 mismatch for $1: got $actual, pinned $pinned" >&2; return 1; }
}

if [ -s "$jar" ] && verify "$jar"; then
  echo "$jar"
  exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck disable=SC2059 # the formats are this script's own
artifact=$(printf "$coordinates" "$version") fetched="$work/$(printf "$file" "$version")"
echo "fetching $artifact from Maven Central..." >&2
mvn -B -q --strict-checksums dependency:copy -Dartifact="$artifact" -DoutputDirectory="$work" >&2
verify "$fetched"
mv "$fetched" "$jar"
echo "$jar"
