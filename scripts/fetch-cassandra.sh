#!/usr/bin/env bash
# Build the controller-side Cassandra distribution the `cassandra` role copies to lab hosts.
#
# Maven Central has no apache-cassandra:<v>:tar.gz:bin artifact for the 5.0 line (the last
# one published there is 4.0-alpha2), so we assemble the server's lib/ from
# org.apache.cassandra:cassandra-all:<v> and its runtime dependencies, with Maven checking
# every artifact's checksum against Central (--strict-checksums). The jars are packed into a
# byte-reproducible tar whose SHA-256 is pinned in roles/cassandra/defaults/main.yml; a
# mismatch fails loudly. Launch scripts and configuration come from the role's templates.
#
#   scripts/fetch-cassandra.sh            # the role's cassandra_version
#   scripts/fetch-cassandra.sh 5.0.8      # another release of cassandra_releases (upgrades)
#   scripts/fetch-cassandra.sh --all      # every release of cassandra_releases
# A version without a pinned SHA-256 is built anyway and its SHA-256 printed, to be pinned in
# cassandra_releases (the role refuses to install an unpinned release).
#
# Prints the tarball path. Cached under $FLEET_CACHE/cassandra (default ~/.cache/fleet-tracing).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/role-defaults.sh"
if [ "${1:-}" = "--all" ]; then
  for v in $(cassandra_releases); do "$0" "$v"; done
  exit 0
fi
version=${1:-$(cassandra_default cassandra_version)}
[ -n "$version" ] || { echo "cassandra_version not found in roles/cassandra/defaults/main.yml" >&2; exit 1; }
case "$version" in
  [0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "not a Cassandra release: '$version' (expected e.g. 5.0.8, or --all)" >&2; exit 2 ;;
esac
pinned=$(cassandra_release_sha256 "$version")
cache="${FLEET_CACHE:-$HOME/.cache/fleet-tracing}/cassandra"
name="apache-cassandra-${version}"
tarball="$cache/${name}-mvn.tar"

verify() {
  local actual
  actual=$(sha256sum "$1" | cut -d' ' -f1)
  if [ -n "$pinned" ] && [ "$actual" != "$pinned" ]; then
    echo "SHA-256 mismatch for $1: got $actual, pinned $pinned" >&2
    return 1
  fi
  [ -n "$pinned" ] || echo "no SHA-256 pinned yet; computed $actual" >&2
}

if [ -s "$tarball" ] && verify "$tarball"; then
  echo "$tarball"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cassandra-dist.XXXXXX")
trap 'rm -rf "$work"' EXIT
cat > "$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>fleet-tracing</groupId><artifactId>cassandra-dist</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId><artifactId>cassandra-all</artifactId>
      <version>${version}</version>
    </dependency>
  </dependencies>
</project>
POM
echo "fetching cassandra-all ${version} and its runtime dependencies from Maven Central..." >&2
mvn -B -q --strict-checksums -f "$work/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$work/$name/lib" >&2
# Native artifacts for other platforms are dead weight on linux/x86_64 hosts.
find "$work/$name/lib" \( -name '*-osx-*' -o -name '*-windows-*' -o -name '*-linux-aarch_64*' \
  -o -name '*-linux-riscv64*' \) -delete
(cd "$work/$name/lib" && sha256sum ./*.jar > ../SHA256SUMS.jars)
echo "cassandra-all ${version} + runtime dependencies from Maven Central" > "$work/$name/SOURCE"
mkdir -p "$cache"
tar --format=gnu --sort=name --mtime='2000-01-01 00:00:00Z' --owner=0 --group=0 \
  --numeric-owner --mode='go-w' -C "$work" -cf "$tarball.part" "$name"
verify "$tarball.part"
mv "$tarball.part" "$tarball"
echo "$tarball"
