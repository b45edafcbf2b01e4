#!/bin/sh
# deps.sh - install the Debian 12 packages autopxe needs. As root: apt-get update + install (only when
# something is missing). Otherwise: print the exact apt-get line and exit 1 if anything is missing.
# Usage: scripts/deps.sh [--test]   (--test adds what the test suite, e2e boots and benchmarks use)
set -eu
BUILD="build-essential pkg-config libyaml-dev libarchive-dev libblkid-dev libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev check"
TEST="curl tftp-hpa atftp tftpd-hpa dnsmasq-base nginx-light wrk valgrind clang libclang-rt-14-dev
  xorriso squashfs-tools e2fsprogs qemu-system-x86 ipxe-qemu ipxe busybox-static cpio gzip ovmf
  iproute2 nftables procps psmisc python3 buildah debootstrap xz-utils liblzma-dev podman runc docker.io chromium
  grub-efi-amd64-bin grub-common pxelinux syslinux-common postgresql python3-yaml"
PKGS=$BUILD
[ "${1:-}" = "--test" ] && PKGS="$BUILD $TEST"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && { echo "deps: all packages present"; exit 0; }
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing:$missing"
  echo "deps: run as root:  apt-get update && apt-get install -y --no-install-recommends$missing"
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: installed$missing"
