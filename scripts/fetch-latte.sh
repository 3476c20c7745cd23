#!/usr/bin/env bash
# Build latte (the Cassandra load generator `make bench` compares the ETL with) once into the
# controller cache, keyed by version: cargo install --locked, so the same crate versions every
# time. Prints the binary's path. Takes ~12 min on 2 cores the first time, nothing afterwards.
# The Rust toolchain: the one on PATH or in ~/.cargo (rustup), else Debian's cargo package.
set -euo pipefail
version=${FLEET_LATTE_VERSION:-0.29.0}
root="${FLEET_CACHE:-$HOME/.cache/fleet-tracing}/latte-${version}"
if [ -x "$root/bin/latte" ] && [ -f "$root/.complete" ]; then echo "$root/bin/latte"; exit 0; fi
cargo=$(command -v cargo || true)
[ -n "$cargo" ] || { [ -x "$HOME/.cargo/bin/cargo" ] && cargo="$HOME/.cargo/bin/cargo"; } || true
if [ -z "$cargo" ]; then
  echo "installing Debian's cargo (no Rust toolchain found)" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    cargo pkg-config libssl-dev >/dev/null
  cargo=$(command -v cargo)
fi
echo "building latte-cli ${version} into $root (once; ~12 min on 2 cores)" >&2
# CARGO_TARGET_DIR outside the clone and keyed by version: an interrupted build resumes.
CARGO_TARGET_DIR="${FLEET_CACHE:-$HOME/.cache/fleet-tracing}/latte-build-${version}" \
  nice -n 10 "$cargo" install --quiet --locked --root "$root" --version "$version" latte-cli >&2
"$root/bin/latte" --version >&2
touch "$root/.complete"
rm -rf "${FLEET_CACHE:-$HOME/.cache/fleet-tracing}/latte-build-${version}"  # ~1 GB of objects
echo "$root/bin/latte"
