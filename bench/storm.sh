#!/bin/sh
# storm.sh [BUILD] [NODES] - boot storm against a fresh autopxe: NODES nodes (default 1000), all at once, each fetches
# its menu over TFTP then its default kernel + initrd over HTTP; every 10th MAC is pinned to another release.
# Prints bench/storm's figures (p50/p99 per node, failures, the server's peak RSS). Env: AUTOPXE_BIN, STORM_ARGS,
# SESSIONS (TFTPMaxSessions, default 4096: lower it to see session caps turned into retries).
set -eu
build=${1:-build}
nodes=${2:-1000}
here=$(cd "$(dirname "$0")" && pwd)
bin=${AUTOPXE_BIN:-$build/autopxe}
storm=$build/storm
if [ ! -x "$storm" ]; then
	mkdir -p "$build"
	abs=$(cd "$build" && pwd)
	make -s -C "$here/.." BUILD="$abs" "$abs/storm"
fi
dir=$(mktemp -d /tmp/autopxe-storm.XXXXXX)
chmod 755 "$dir"
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
r=$dir/rootfs
mkdir -p "$r/debian/bookworm/boot" "$r/ubuntu/noble/boot"
head -c 200000 /dev/urandom >"$r/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64"
head -c 300000 /dev/urandom >"$r/debian/bookworm/boot/initrd.img-6.1.0-21-amd64"
head -c 150000 /dev/urandom >"$r/ubuntu/noble/boot/vmlinuz-6.8.0-31-generic"
head -c 250000 /dev/urandom >"$r/ubuntu/noble/boot/initrd.img-6.8.0-31-generic"
chmod -R a+rX "$dir"
{
	printf 'version: 1\nDefaultDistro: debian/bookworm/latest/nfs\nRootfsPath: %s\nWatch: false\n' "$r"
	printf 'TFTPMaxSessions: %s\nLogLevel: warn\n' "${SESSIONS:-4096}"
	printf 'CmdlineTemplates:\n  nfs: root=/dev/nfs ip=dhcp\nHostDefaults:\n'
	i=0
	while [ "$i" -lt "$nodes" ]; do
		printf '  5254%08x: ubuntu/noble/latest/nfs\n' "$i"
		i=$((i + 10))
	done
} >"$dir/config.yaml"
port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET,int(sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
tp=$(port 2)
hp=$(port 1)
"$bin" --config "$dir/config.yaml" --tftp-listen "127.0.0.1:$tp" --http-listen "127.0.0.1:$hp" serve 2>"$dir/server.log" &
pid=$!
i=0
until curl -fs -o /dev/null "http://127.0.0.1:$hp/healthz"; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { cat "$dir/server.log"; exit 1; }
	sleep 0.1
done
# shellcheck disable=SC2086
"$storm" --tftp "127.0.0.1:$tp" --nodes "$nodes" --default-id debian/bookworm/latest/nfs --pin-every 10 \
	--pin-id ubuntu/noble/latest/nfs --root "$r" --pid "$pid" ${STORM_ARGS:-}
