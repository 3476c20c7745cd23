#!/usr/bin/env bash
# Build the app's offline wheelhouse for the app hosts: the fleet-tracing wheel built from app/
# plus every dependency (with the dashboard extra) for CPython 3.11 on x86_64 (Debian bookworm),
# packed as one tar the fleet_app role copies and installs with --no-index. Keyed by the app's
# source content; prints the path of a stable link to the current build.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache="${FLEET_CACHE:-$HOME/.cache/fleet-tracing}/app"
key=$(cd "$here/app" && git ls-files -co --exclude-standard -- pyproject.toml README.md src \
      | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)
tarball="$cache/fleet-wheelhouse-$key.tar"
link="$cache/fleet-wheelhouse.tar"
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/fleet-wheels.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  pip="$here/.venv/bin/pip"
  "$pip" wheel -q --no-deps -w "$work/wheels" "$here/app" >&2
  wheel=$(ls "$work"/wheels/fleet_tracing-*.whl)
  "$pip" download -q --only-binary=:all: --python-version 3.11 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform linux_x86_64 \
    -d "$work/wheels" "${wheel}[dashboard]" >&2
  echo "$key" > "$work/wheels/KEY"
  tar --sort=name -C "$work" -cf "$tarball.part" wheels
  mv "$tarball.part" "$tarball"
  find "$cache" -name 'fleet-wheelhouse-*.tar' ! -name "$(basename "$tarball")" -delete
fi
ln -sfn "$(basename "$tarball")" "$link"
echo "$link"
