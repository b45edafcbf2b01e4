#!/bin/sh
# bench/ab_tftp.sh - A/B of TFTP builds (or tftpd-hpa) with one atftp download of 64 MiB per server and round.
#
# Usage: bench/ab_tftp.sh ROUNDS "OPTS" SERVER...
#   ROUNDS  rounds; in each, every server serves one download, and the order rotates from round to round
#   OPTS    atftp options as name=value words, e.g. "blksize=1468 windowsize=16"; or load=N: N downloads of a
#           4 MiB file at blksize 1468 at once by bench/tftp_load (TFTP_LOAD_BIN, default build/tftp_load) in
#           polling mode, every server pinned to CPU 0 and the client to the other CPUs (bench/tftp.sh's load rows)
#   SERVER  a path to an autopxe binary, the word hpa (/usr/sbin/in.tftpd), or dnsmasq (root, 127.0.0.1:69 free)
# Prints one line per server: its number (in argument order) and its MB/s of every round, sorted. Everything
# listens on 127.0.0.1 (ports from 17001 up); downloads go to /dev/shm and are compared with the source.
# docs/performance.md has the figures it gave for the lead block (step 5) and connected sockets (step 6).
set -eu
# shellcheck source=/dev/null
. "$(cd "$(dirname "$0")" && pwd)/tftp_servers.sh"
[ $# -ge 3 ] || { sed -n "2,14p" "$0" >&2; exit 2; }
R=$1
OPTS=$2
shift 2
LOAD_N=
case $OPTS in load=*) LOAD_N=${OPTS#load=} ;; esac
LOAD=${TFTP_LOAD_BIN:-build/tftp_load}
[ -z "$LOAD_N" ] || [ -x "$LOAD" ] || { echo "bench/ab_tftp: $LOAD not built" >&2; exit 2; }
for tool in atftp cmp timeout taskset; do
	command -v "$tool" >/dev/null 2>&1 || { echo "bench/ab_tftp: $tool is missing" >&2; exit 2; }
done
t=$(mktemp -d /tmp/autopxe-ab.XXXXXX)
out=$(mktemp /dev/shm/autopxe-ab.XXXXXX)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$t" "$out"
}
trap cleanup EXIT INT TERM
chmod 755 "$t"
mkdir -p "$t/root" "$t/rootfs/debian/bookworm/boot"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$t/root/big.bin"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$t/root/par.bin"
head -c 4096 /dev/urandom >"$t/rootfs/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64"
head -c 4096 /dev/urandom >"$t/rootfs/debian/bookworm/boot/initrd.img-6.1.0-21-amd64"
chmod -R a+rX "$t"
i=0
srv= # number:port entries, in the order of this round
for b in "$@"; do
	i=$((i + 1))
	port=$((17000 + i))
	[ "$b" = dnsmasq ] && port=69
	tftp_start "$t" "$i" "$port" "$b"
	pids="$pids $!"
	srv="$srv $i:$port"
done
sleep 1
if [ -n "$LOAD_N" ]; then
	for p in $pids; do taskset -a -p -c 0 "$p" >/dev/null; done
fi
: >"$t/res"
for _ in $(seq "$R"); do
	for s in $srv; do
		n=${s%%:*}
		port=${s#*:}
		if [ -n "$LOAD_N" ]; then
			v=$(timeout 300 taskset -c "1-$(($(nproc) - 1))" "$LOAD" "$port" par.bin "$t/root/par.bin" "$LOAD_N" 1468 poll) ||
				v=FAILED
			echo "$n $v" >>"$t/res"
			continue
		fi
		set --
		for o in $OPTS; do set -- "$@" --option "${o%%=*} ${o#*=}"; done
		t0=$(date +%s.%N)
		if timeout 120 atftp "$@" -g -r big.bin -l "$out" 127.0.0.1 "$port" >/dev/null 2>&1 &&
			cmp -s "$out" "$t/root/big.bin"; then
			t1=$(date +%s.%N)
			awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%d %.1f\n", n, 64 * 1048576 / 1e6 / (b - a) }' >>"$t/res"
		else
			echo "$n FAILED" >>"$t/res"
		fi
	done
	srv=$(echo "$srv" | awk '{ for (i = 2; i <= NF; i++) printf "%s ", $i; print $1 }')
done
sort -k1,1n -k2,2n "$t/res" | awk '{ v[$1] = v[$1] " " $2 } END { for (k in v) print k ":" v[k] }' | sort -n
