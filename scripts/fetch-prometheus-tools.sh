#!/usr/bin/env bash
# Put promtool, from the same Debian package the monitoring hosts install (prometheus), in the
# controller's cache, for the alert rules' unit tests (tests/unit/test_alert_rules.py): the
# package is downloaded and unpacked, never installed (installing it would start a Prometheus on the
# controller). Prints promtool's path. Cached under $FLEET_CACHE/prometheus-tools/<version>.
set -euo pipefail
cache="${FLEET_CACHE:-$HOME/.cache/fleet-tracing}/prometheus-tools"
candidate() { apt-cache policy prometheus 2>/dev/null | awk '/Candidate:/ { print $2 }'; }
version=$(candidate)
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  version=$(candidate)
fi
[ -n "$version" ] && [ "$version" != "(none)" ] || { echo "apt knows no prometheus package" >&2; exit 1; }
dest="$cache/$(echo "$version" | tr ':~+' '___')"
if [ -x "$dest/promtool" ] && "$dest/promtool" --version >/dev/null 2>&1; then
  echo "$dest/promtool"
  exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/prometheus-tools.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"  # apt downloads as its own user (_apt)
echo "fetching Debian's prometheus $version for promtool..." >&2
(cd "$work" && apt-get download -q "prometheus=$version" >&2)
dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
mkdir -p "$dest"
install -m 0755 "$work/root/usr/bin/promtool" "$dest/promtool"
"$dest/promtool" --version >&2
echo "$dest/promtool"
