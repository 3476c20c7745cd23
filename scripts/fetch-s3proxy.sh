#!/usr/bin/env bash
# Put the S3Proxy jar the object_store role installs (the backups' store) in the controller's
# cache: org.gaul:s3proxy:<v>:jar:jar-with-dependencies from Maven Central, Maven checking its
# checksum against Central (--strict-checksums), then its SHA-256 against the one pinned in
# roles/object_store/defaults/main.yml (the one place version and SHA-256 are set); a mismatch
# fails loudly. Prints the jar's path. Cached under $FLEET_CACHE/s3proxy (default
# ~/.cache/fleet-tracing), and in ~/.m2.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/role-defaults.sh"
version=$(role_default object_store object_store_s3proxy_version)
pinned=$(role_default object_store object_store_s3proxy_sha256)
[ -n "$version" ] && [ -n "$pinned" ] || { echo "S3Proxy version or SHA-256 not found in roles/object_store/defaults/main.yml" >&2; exit 1; }
cache="${FLEET_CACHE:-$HOME/.cache/fleet-tracing}/s3proxy"
jar="$cache/s3proxy-${version}.jar"

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
work=$(mktemp -d "${TMPDIR:-/tmp}/s3proxy.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "fetching S3Proxy ${version} from Maven Central..." >&2
mvn -B -q --strict-checksums dependency:copy \
  -Dartifact="org.gaul:s3proxy:${version}:jar:jar-with-dependencies" -DoutputDirectory="$work" >&2
verify "$work/s3proxy-${version}-jar-with-dependencies.jar"
mv "$work/s3proxy-${version}-jar-with-dependencies.jar" "$jar"
echo "$jar"
