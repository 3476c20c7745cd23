#!/usr/bin/env bash
# Build (once) the lab hosts' base image: a debootstrap of Debian bookworm with systemd as
# PID 1, python3 and openssh-server, imported into podman. Cached by content key: the
# rootfs tarball under $FLEET_CACHE/images and the image in podman's store are reused
# until this script changes (keyed by its checksum).
set -euo pipefail
cache="${FLEET_CACHE:-$HOME/.cache/fleet-tracing}/images"
suite=bookworm
packages=systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,procps,openssh-server,sudo,ca-certificates,iptables,nftables,less
# Installed after the bootstrap, to save each converge the slowest installs (about 70 s on the
# multi_dc hosts): what the roles common, java and cassandra (cqlsh's virtualenv) install. Not
# nginx (fleet_proxy), whose service would start on every host. The roles still install them (a
# no-op here), so real hosts get them too.
baked="python3-venv python3-packaging python3-cryptography openssl openjdk-17-jre-headless"
key=$(cat "$0" | sha256sum | cut -c1-12)
image="localhost/fleet-tracing/${suite}-systemd:${key}"

if podman image exists "$image"; then
  echo "$image"
  exit 0
fi
mkdir -p "$cache"
tarball="$cache/${suite}-systemd-${key}.tar"
if [ ! -s "$tarball" ]; then
  rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  echo "building $suite rootfs with debootstrap (about a minute)..." >&2
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" >&2
  # First boot generates a machine id and SSH host keys; no host name baked in.
  : > "$rootfs/etc/machine-id"
  rm -f "$rootfs/etc/hostname" "$rootfs"/etc/ssh/ssh_host_*
  # Units that make no sense in a container (no real consoles, no kernel modules).
  for unit in getty.target console-getty.service systemd-modules-load.service \
              sys-kernel-config.mount sys-kernel-debug.mount systemd-remount-fs.service; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
  done
  mkdir -p "$rootfs/etc/systemd/system/sshd-keygen.service.d"
  cat > "$rootfs/etc/systemd/system/ssh-keygen.service" <<'UNIT'
[Unit]
Description=Generate SSH host keys on first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
[Install]
WantedBy=multi-user.target
UNIT
  ln -sf /etc/systemd/system/ssh-keygen.service "$rootfs/etc/systemd/system/multi-user.target.wants/ssh-keygen.service"
  rmdir "$rootfs/etc/systemd/system/sshd-keygen.service.d"
  cat > "$rootfs/etc/apt/sources.list" <<'SOURCES'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
  # Java's post-install (ca-certificates-java) needs /proc.
  mount -t proc proc "$rootfs/proc"
  trap 'umount "$rootfs/proc" 2>/dev/null || true; rm -rf "$rootfs"' EXIT
  echo "installing $baked into it..." >&2
  chroot "$rootfs" sh -c "apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get -q -y install $baked" >&2
  umount "$rootfs/proc"
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  # An old mtime marks the (empty) package index as stale, so the first apt run refreshes it.
  touch -d '2000-01-01' "$rootfs/var/lib/apt/lists"
  tar --numeric-owner -C "$rootfs" -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
fi
podman import \
  --change 'CMD ["/sbin/init"]' \
  --change 'STOPSIGNAL SIGRTMIN+3' \
  "$tarball" "$image" >&2
echo "$image"
