#!/usr/bin/env bash
# Install the Debian packages the controller needs (idempotent: apt runs only when one is missing).
set -euo pipefail
packages=(podman runc netavark aardvark-dns debootstrap iptables nftables uidmap
          maven openjdk-17-jre-headless python3-venv rsync chromium
          vagrant                                                        # make vagrant-validate
          pandoc weasyprint graphviz fonts-dejavu-core poppler-utils)    # make report
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
