#!/bin/bash
# bench/par_probe.sh - the parallel TFTP case round by round, with where the CPU went: for finding out why a row
# of bench/tftp.sh moves, not for ratios (bench/tftp.sh keeps the best of rotated rounds for those).
#
# Usage: bench/par_probe.sh N ROUNDS pinned|plain SERVER...
#   N       concurrent curl downloads of a 4 MiB file at blksize 1468 per round
#   pinned  every server (all its threads) on CPU 0, the clients on CPU 1 (taskset); plain: as they come
#   SERVER  a path to an autopxe binary, hpa (/usr/sbin/in.tftpd) or dnsmasq (needs root and a free 127.0.0.1:69)
# Per server and round: MB/s; busy % of CPU 0 and CPU 1 (/proc/stat); the server's own CPU %; downloads that
# differ from the source; the server's sleeps per block (voluntary context switches of all its threads). The
# server figures count the process started (tftpd-hpa serves from a child per transfer: 0 there).
# Then how many autopxe transfers logged each retransmit count. Env: EXTRA, lines added to autopxe's config.
set -u
# shellcheck source=/dev/null
. "$(cd "$(dirname "$0")" && pwd)/tftp_servers.sh"
[ $# -ge 4 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
N=$1 R=$2 MODE=$3
shift 3
MB=4
BLOCKS=$(((MB * 1048576) / 1468 + 1))
t=$(mktemp -d /tmp/autopxe-probe.XXXXXX)
dl=$(mktemp -d /dev/shm/autopxe-probe.XXXXXX)
srv=() # number:port:pid
cleanup() {
	for s in "${srv[@]}"; do kill "${s##*:}" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$t" "$dl"
}
trap cleanup EXIT INT TERM
chmod 755 "$t"
mkdir -p "$t/root" "$t/rootfs/debian/bookworm/boot"
head -c $((MB * 1048576)) /dev/urandom >"$t/root/par.bin"
head -c 4096 /dev/urandom >"$t/rootfs/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64"
head -c 4096 /dev/urandom >"$t/rootfs/debian/bookworm/boot/initrd.img-6.1.0-21-amd64"
chmod -R a+rX "$t"
i=0
for b in "$@"; do
	i=$((i + 1))
	port=$((17200 + i))
	[ "$b" = dnsmasq ] && port=69
	tftp_start "$t" "$i" "$port" "$b" "${EXTRA:-}"
	srv+=("$i:$port:$!")
done
sleep 1
pre=
if [ "$MODE" = pinned ]; then
	for s in "${srv[@]}"; do taskset -a -p -c 0 "${s##*:}" >/dev/null; done
	pre="taskset -c 1"
fi
cpus() { awk '/^cpu[01] / { printf "%d ", $2 + $3 + $4 + $7 + $8 } END { print "" }' /proc/stat; }
ticks() { cat /proc/"$1"/task/*/stat 2>/dev/null | awk '{ s += $14 + $15 } END { print s + 0 }'; }
sleeps() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ { s += $2 } END { print s + 0 }'; }
for _ in $(seq "$R"); do
	for s in "${srv[@]}"; do
		n=${s%%:*}
		rest=${s#*:}
		port=${rest%%:*}
		pid=${s##*:}
		read -r a0 b0 < <(cpus)
		p0=$(ticks "$pid")
		v0=$(sleeps "$pid")
		t0=$(date +%s.%N)
		cl=()
		for k in $(seq "$N"); do
			# shellcheck disable=SC2086 # $pre is words
			$pre timeout 120 curl -s --tftp-blksize 1468 -o "$dl/$k" "tftp://127.0.0.1:$port/par.bin" &
			cl+=($!)
		done
		wait "${cl[@]}"
		t1=$(date +%s.%N)
		read -r a1 b1 < <(cpus)
		p1=$(ticks "$pid")
		v1=$(sleeps "$pid")
		bad=0
		for k in $(seq "$N"); do cmp -s "$dl/$k" "$t/root/par.bin" || bad=$((bad + 1)); done
		rm -f "$dl"/*
		awk -v t0="$t0" -v t1="$t1" -v n="$n" -v k="$N" -v mb="$MB" -v c0=$((a1 - a0)) -v c1=$((b1 - b0)) \
			-v p=$((p1 - p0)) -v v=$((v1 - v0)) -v bad="$bad" -v blocks="$BLOCKS" 'BEGIN {
			d = t1 - t0
			printf "%d %6.1f MB/s  cpu0 %3.0f%%  cpu1 %3.0f%%  server %3.0f%%  bad %d  sleeps/block %.3f\n",
				n, k * mb * 1.048576 / d, c0 / d, c1 / d, p / d, bad, v / (k * blocks)
		}'
	done
	srv=("${srv[@]:1}" "${srv[0]}")
done
cat "$t"/log* 2>/dev/null | grep -o "retransmits=[0-9]*" | sort | uniq -c | sort -rn | head -5
