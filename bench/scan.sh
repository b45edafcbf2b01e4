#!/bin/sh
# scan.sh [BUILD] - scan time of a 10,000-release tree and render time per request at that size, next to a
# 100-release tree: the main menu (one line per distro, 101 in both) and a 5-release submenu must cost the same,
# whatever the tree holds. Builds bench/scan_bench.c against the sources (-O2). Env: KEEP=1 keeps the trees.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
top=$here/..
mkdir -p "$build"
bin=$build/scan_bench
pkgs="yaml-0.1 libarchive blkid libmicrohttpd jansson"
srcs=$(ls "$top"/src/*.c "$top"/rootfs-scanner/*.c | grep -v '/src/main.c$')
# shellcheck disable=SC2086
cc -std=c11 -D_GNU_SOURCE -O2 -I"$top/src" -I"$top/rootfs-scanner" $(pkg-config --cflags $pkgs) \
	-DAUTOPXE_VERSION='"bench"' -DAUTOPXE_DATADIR='"/nonexistent"' -o "$bin" "$here/scan_bench.c" $srcs \
	$(pkg-config --libs $pkgs) -lpthread -lm
dir=$(mktemp -d /tmp/autopxe-scanbench.XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$dir"' EXIT INT TERM
echo "== 100 distros x 1 release (+5) =="
"$bin" "$dir/small" 100 1 2>/dev/null
echo "== 100 distros x 100 releases (+5): 10,005 releases =="
"$bin" "$dir/big" 100 100 500 2>/dev/null
