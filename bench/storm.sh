#!/bin/sh
# storm.sh [BUILD] [NODES] - boot storm against a fresh autopxe: NODES nodes (default 1000), all at once, each fetches
# its menu over TFTP then its default kernel + initrd over HTTP; every 10th MAC is pinned to another release.
# Prints bench/storm's figures (p50/p99 per node, failures, the server's peak RSS). Env: AUTOPXE_BIN, STORM_ARGS,
# SESSIONS (TFTPMaxSessions, default 4096: lower it to see session caps turned into retries),
# STORE: on (the state store records the timeline, the default), off (StateStore: false), or both: ROUNDS
# (default 3) alternating off/on runs against fresh servers, then the best p99 of each and their ratio.
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
store=${STORE:-on}
run() { # run on|off: one storm against a fresh server; its output also goes to $dir/storm.out
	{
		printf 'version: 1\nDefaultDistro: debian/bookworm/latest/nfs\nRootfsPath: %s\nWatch: false\n' "$r"
		printf 'TFTPMaxSessions: %s\nLogLevel: warn\n' "${SESSIONS:-4096}"
		if [ "$1" = on ]; then
			rm -rf "$dir/state"
			printf 'StateDir: %s/state\n' "$dir"
		else
			printf 'StateStore: false\n'
		fi
		printf 'CmdlineTemplates:\n  nfs: root=/dev/nfs ip=dhcp\nHostDefaults:\n'
		i=0
		while [ "$i" -lt "$nodes" ]; do
			printf '  5254%08x: ubuntu/noble/latest/nfs\n' "$i"
			i=$((i + 10))
		done
	} >"$dir/config.yaml"
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
	rc=0
	# shellcheck disable=SC2086
	"$storm" --tftp "127.0.0.1:$tp" --nodes "$nodes" --default-id debian/bookworm/latest/nfs --pin-every 10 \
		--pin-id ubuntu/noble/latest/nfs --root "$r" --pid "$pid" ${STORM_ARGS:-} >"$dir/storm.out" || rc=$?
	sed "s/^storm /storm store=$1 /" "$dir/storm.out"
	if [ "$1" = on ]; then
		sleep 0.3 # the writer batches for up to 50 ms
		booted=$(curl -fs "http://127.0.0.1:$hp/metrics" | sed -n 's/^autopxe_nodes{state="booted"} //p')
		echo "storm store=on nodes_booted_in_timeline=${booted:-?}"
	fi
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	pid=
	return "$rc"
}
port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET,int(sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
p99() { sed -n 's/^storm node_ms .*p99=\([0-9.]*\).*/\1/p' "$dir/storm.out"; }
case $store in
on | off) run "$store" ;;
both)
	best_on= best_off=
	k=0
	while [ "$k" -lt "${ROUNDS:-3}" ]; do
		for m in off on; do
			run "$m"
			v=$(p99)
			if [ "$m" = on ]; then
				best_on=$(awk -v a="$best_on" -v b="$v" 'BEGIN{print (a=="" || b+0 < a+0) ? b : a}')
			else
				best_off=$(awk -v a="$best_off" -v b="$v" 'BEGIN{print (a=="" || b+0 < a+0) ? b : a}')
			fi
		done
		k=$((k + 1))
	done
	awk -v on="$best_on" -v off="$best_off" -v r="${ROUNDS:-3}" \
		'BEGIN{printf "storm store p99_ms best of %s: off=%s on=%s ratio_on_off=%.3f\n", r, off, on, (off > 0 ? on / off : 0)}'
	;;
*) echo "storm.sh: STORE takes on, off or both" >&2; exit 2 ;;
esac
