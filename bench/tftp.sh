#!/bin/sh
# bench/tftp.sh - autopxe's TFTP server against tftpd-hpa and dnsmasq on loopback: MB/s, ratio to the best peer.
#
# Usage: bench/tftp.sh [BUILD_DIR]      (uses BUILD_DIR/autopxe, default build/; AUTOPXE_BIN overrides)
# Env:   BENCH_RUNS (rounds per case, the best figure of each server is kept; default 5), BENCH_PAR_MB (size of
#        each parallel download, default 4), BENCH_DL_DIR (where downloads land, default /dev/shm: memory)
# Needs: curl, atftp, /usr/sbin/in.tftpd (tftpd-hpa), dnsmasq (dnsmasq-base; skipped unless we are root and
#        127.0.0.1:69 is free: dnsmasq's TFTP port cannot be changed). Everything listens on 127.0.0.1 only,
#        every client runs under `timeout`; at 5 rounds single cases take ~4 minutes, parallel ones ~15.
#
# Cases, on the same files with the same clients. Every case is BENCH_RUNS rounds; in each round every server runs
# once, and the order rotates from round to round, so no server always comes first after a heavy case:
#   one 64 MiB file: curl at blksize 512 and 1468; atftp at blksize 1468 with windowsize 1, 4, 16
#   (windowsize 4/16 only where the server acknowledges it: neither peer does, so the ratio is against the best peer
#   at windowsize 1); 50 and 200 parallel curl downloads of a 4 MiB file (BENCH_PAR_MB) at blksize 1468, three ways: as they come;
#   "nice": the clients at nice 10; "pinned": the server (all its threads and children) on CPU 0, the clients on the
#   other CPUs. On a real network the clients are other machines; on loopback 200 curl processes share the cores with
#   the server, and every ACK wakes a curl that preempts the thread that woke it (perf on autopxe: ~31% of its samples
#   inside sendmmsg's cond_resched). That costs a server with a thread per core (autopxe, dnsmasq) far more than one
#   with a process per transfer (tftpd-hpa), for reasons that have nothing to do with serving. Lowering the clients'
#   priority, or pinning, the same for every server, keeps the clients from preempting the server, as separate
#   machines would; pinning also limits every server to one core. All rows are printed. Pinned rows need taskset and
#   2+ CPUs.
# After the table, each single row's autopxe figure as a fraction of bench/udp_limit (BUILD_DIR/udp_limit, make
# bench builds it): the same packet pattern between two bare loopback sockets (blocking and polling, sendmmsg and
# UDP GSO, the best of them), the kernel's ceiling on this machine.
# Every download is compared with its source. A figure marked * had failed transfers; a failure from autopxe makes
# the script exit 1 (a peer's failures are reported, not fatal). BENCH_CASES="single", "parallel" or "quota" runs
# only those (the default is all three);
# one parallel case alone: par50, par200, nice50, nice200, pinned50, pinned200, load50 or load200 (words can be
# combined). load50/load200: the same N downloads of par.bin, with the server pinned to CPU 0 as in the pinned rows,
# all made by bench/tftp_load (BUILD_DIR/tftp_load, make bench builds it): one process on the other CPUs that
# drives every transfer from one epoll loop and polls instead of sleeping. 50 or 200 curl processes keep a whole
# core at 100% by themselves, so the curl rows measure curl; and on loopback a server pays, inside its own sends,
# for waking every client that sleeps (sock_def_readable: 7% of autopxe's samples), which clients on other machines
# would pay themselves. With this client the pinned server is what runs out first, as on a real network.
# quota: atftp at blksize 1468 (lock-step) with every server, all its threads and tftpd-hpa's children, in a cgroup
# of its own with a CPU quota of half a CPU (v1 cpu.cfs_quota_us or v2 cpu.max), as under `docker run --cpus=0.5`
# or systemd's CPUQuota=50%; needs root and a cpu controller to write to (skipped otherwise, with the reason). A
# server that polls for ACKs spends the quota and is then stopped until the period ends; autopxe does not poll
# under a quota (docs/tftp.md, "CPUs and quotas"), so it runs the same sleeping path as the peers, which never poll:
# target >= 0.95, at parity within the noise (polling there, as before, autopxe
# was at 0.77x tftpd-hpa and 0.84x dnsmasq in bench/ab_tftp.sh with TFTP_CGROUP).
# The pinned curl rows also print how busy the clients' CPUs were (/proc/stat, the lowest round of each server), a
# row of their own in the final table: at ~100% for every server those rows measure the clients, not the servers.
# BENCH_QUICK=1 (bench/run.sh's smoke mode): BENCH_RUNS defaults to 1 and BENCH_CASES to "single pinned50 load50
# quota".
# BENCH_SUMMARY: a file to append this run's rows to, for bench/run.sh's final table (bench/summary.sh): every row
# vs the best peer at equal options (target >= 1.05), windowsize 4/16 vs tftpd-hpa's window 1 (16: >= 5.00), the
# udp_limit fractions, and the failed transfers of autopxe (= 0).
set -eu

BUILD=${1:-build}
BIN=${AUTOPXE_BIN:-$BUILD/autopxe}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$here/summary.sh"
# shellcheck source=/dev/null
. "$here/tftp_servers.sh"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	RUNS=${BENCH_RUNS:-1}
	cases=${BENCH_CASES:-single pinned50 load50 quota}
else
	RUNS=${BENCH_RUNS:-5}
	cases=${BENCH_CASES:-single parallel quota}
fi
BIG_MB=64                 # single transfers
PAR_MB=${BENCH_PAR_MB:-4} # each of the parallel downloads
HPA=/usr/sbin/in.tftpd
LOAD=${TFTP_LOAD_BIN:-$BUILD/tftp_load}

for tool in curl atftp cmp timeout; do
	command -v "$tool" >/dev/null 2>&1 || { echo "bench/tftp: $tool is missing" >&2; exit 2; }
done
[ -x "$HPA" ] || { echo "bench/tftp: $HPA (tftpd-hpa) is missing" >&2; exit 2; }
[ -x "$BIN" ] || { echo "bench/tftp: $BIN not built (make BUILD=$BUILD $BUILD/autopxe)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/autopxe-bench-tftp.XXXXXX)
chmod 755 "$tmp"
pids=
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || true
	done
	for p in $pids; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp" "${dl:-}"
	[ -z "${cg_dir:-}" ] || rmdir "$cg_dir" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# A loopback UDP port nobody uses (from /proc/net/udp{,6}), starting at $1.
free_udp_port() {
	p=$1
	while awk -v p="$(printf '%04X' "$p")" 'NR > 1 { split($2, a, ":"); if (a[2] == p) f = 1 } END { exit f ? 0 : 1 }' \
		/proc/net/udp /proc/net/udp6 2>/dev/null; do
		p=$((p + 1))
	done
	echo "$p"
}

# ---- fixture: the same files for every server (autopxe serves them from StaticDir)
root=$tmp/root
mkdir -p "$root" "$tmp/rootfs/debian/bookworm/boot"
# downloads go to memory (tmpfs), so that writing them back to disk does not land on the next server's figure
if dl=$(mktemp -d "${BENCH_DL_DIR:-/dev/shm}/autopxe-bench-dl.XXXXXX" 2>/dev/null); then :; else
	dl=$tmp/dl
	mkdir -p "$dl"
fi
head -c $((BIG_MB * 1024 * 1024)) /dev/urandom >"$root/big.bin"
head -c $((PAR_MB * 1024 * 1024)) /dev/urandom >"$root/par.bin"
head -c 4096 /dev/urandom >"$tmp/rootfs/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64"
head -c 4096 /dev/urandom >"$tmp/rootfs/debian/bookworm/boot/initrd.img-6.1.0-21-amd64"
chmod -R a+rX "$tmp"
cat >"$tmp/config.yaml" <<EOF
version: 1
RootfsPath: $tmp/rootfs
StaticDir: $root
CmdlineTemplates:
  nfsrw: root=/dev/nfs ip=dhcp rw
Watch: false
StateDir: $tmp/state
TFTPMaxPerClient: 1000
EOF

# ---- servers: name:port:pid
servers=""
p1=$(free_udp_port 16900)
"$BIN" --config "$tmp/config.yaml" --tftp-listen "127.0.0.1:$p1" --http-listen off serve 2>"$tmp/autopxe.log" &
pids="$pids $!"
for _ in $(seq 100); do
	grep -q "serving (pid" "$tmp/autopxe.log" 2>/dev/null && break
	sleep 0.1
done
grep -q "serving (pid" "$tmp/autopxe.log" || { cat "$tmp/autopxe.log" >&2; exit 2; }
servers="autopxe:$p1:$!"

p2=$(free_udp_port $((p1 + 1)))
"$HPA" -L -s "$root" -a "127.0.0.1:$p2" -u "$(id -un)" &
pids="$pids $!"
servers="$servers tftpd-hpa:$p2:$!"

if [ "$(id -u)" = 0 ] && command -v dnsmasq >/dev/null 2>&1 && [ "$(free_udp_port 69)" = 69 ]; then
	tftp_dnsmasq "$root" "$tmp"
	pids="$pids $!"
	servers="$servers dnsmasq:69:$!"
else
	echo "bench/tftp: dnsmasq skipped (needs root and a free 127.0.0.1:69)" >&2
fi
sleep 0.5

fails=$tmp/fails # one line per failed transfer: the server's name
: >"$fails"
prefix= # run clients under this (parallel cases)
ncpu=$(nproc)
# pin SERVER CPULIST: move a server (name:port:pid; every thread, and children forked later) to CPULIST
pin() { taskset -a -p -c "$2" "${1##*:}" >/dev/null; }
results=$tmp/results # lines: case server MB/s

now() { date +%s.%N; }
mbps() { awk -v b="$1" -v t0="$2" -v t1="$3" 'BEGIN { printf "%.1f", b / 1e6 / (t1 - t0) }'; }

# client_get CLIENT OPTS PORT NAME OUT   (atftp OPTS: name=value words, each becomes --option "name value")
client_get() {
	# shellcheck disable=SC2086 # $prefix and the curl options are words
	case $1 in
	curl) $prefix timeout 120 curl -s $2 -o "$5" "tftp://127.0.0.1:$3/$4" ;;
	atftp)
		port=$3 file=$4 out=$5 opts=$2
		set --
		for o in $opts; do
			set -- "$@" --option "${o%%=*} ${o#*=}"
		done
		timeout 120 atftp "$@" -g -r "$file" -l "$out" 127.0.0.1 "$port" >/dev/null 2>&1
		;;
	esac
}

# rotated R: the server list starting at entry R mod n, so that each server goes first in turn (a server measured
# right after a heavy case would otherwise always pay for its aftermath: exiting clients, freed memory)
rotated() {
	r=$1
	n=0
	for s in $servers; do n=$((n + 1)); done
	k=$((r % n))
	out=
	i=0
	for s in $servers; do
		[ "$i" -ge "$k" ] && out="$out $s"
		i=$((i + 1))
	done
	i=0
	for s in $servers; do
		[ "$i" -lt "$k" ] && out="$out $s"
		i=$((i + 1))
	done
	echo "$out"
}

# keep CASE SERVER VALUE: remember the best figure of a server in a case
keep() {
	echo "$1|$2|$3" >>"$tmp/runs"
}

# single_once NAME PORT CLIENT OPTS: one download of big.bin; MB/s, or FAILED
single_once() {
	out=$dl/single
	rm -f "$out"
	t0=$(now)
	if client_get "$3" "$4" "$2" big.bin "$out" && cmp -s "$out" "$root/big.bin"; then
		t1=$(now)
		mbps $((BIG_MB * 1024 * 1024)) "$t0" "$t1"
	else
		echo FAILED
	fi
	rm -f "$out"
}

# client_ticks: "busy total" jiffies of CPUs 1.. (where the pinned rows' clients run), from /proc/stat
client_ticks() {
	awk '/^cpu[0-9]+ / && $1 != "cpu0" { t = 0; for (i = 2; i <= NF; i++) t += $i; b += t - $5 - $6; a += t }
		END { print b, a }' /proc/stat
}
# busy_pct "B0 T0" "B1 T1": busy % between two client_ticks
busy_pct() {
	awk -v x="$1" -v y="$2" 'BEGIN { split(x, a, " "); split(y, b, " "); d = b[2] - a[2]
		printf "%.0f", (d > 0 ? 100 * (b[1] - a[1]) / d : 0) }'
}

# parallel_once NAME PORT N [nice|pinned|load] SERVER: N concurrent curl downloads of par.bin; aggregate MB/s, or
# FAILED:k. load: the N downloads from bench/tftp_load, the one-process client, with the server pinned as above.
parallel_once() {
	if [ "${4:-}" = load ]; then
		pin "$5" 0
		v=$(timeout 300 taskset -c "1-$((ncpu - 1))" "$LOAD" "$2" par.bin "$root/par.bin" "$3" 1468 poll) || true
		pin "$5" "0-$((ncpu - 1))"
		case $v in [0-9]*) echo "$v" ;; FAILED:*) echo "$v" ;; *) echo "FAILED:$3" ;; esac
		return 0
	fi
	case ${4:-} in
	pinned)
		pin "$5" 0
		prefix="taskset -c 1-$((ncpu - 1))"
		;;
	nice) prefix="nice -n 10" ;;
	esac
	rm -rf "$dl/par"
	mkdir -p "$dl/par"
	[ "${4:-}" != pinned ] || k0=$(client_ticks)
	t0=$(now)
	i=0
	cpids=
	while [ "$i" -lt "$3" ]; do
		i=$((i + 1))
		(client_get curl "--tftp-blksize 1468" "$2" par.bin "$dl/par/$i" || echo "$i" >>"$dl/par/failed") &
		cpids="$cpids $!"
	done
	for j in $cpids; do
		wait "$j" || true
	done
	t1=$(now)
	if [ "${4:-}" = pinned ]; then
		pin "$5" "0-$((ncpu - 1))"
		k1=$(client_ticks)
		echo "$c|${1}|$(busy_pct "$k0" "$k1")" >>"$tmp/clientcpu"
	fi
	prefix=
	bad=0
	[ -e "$dl/par/failed" ] && bad=$(wc -l <"$dl/par/failed")
	i=0
	while [ "$i" -lt "$3" ]; do
		i=$((i + 1))
		cmp -s "$dl/par/$i" "$root/par.bin" || bad=$((bad + 1))
	done
	rm -rf "$dl/par"
	if [ "$bad" -gt 0 ]; then
		echo "FAILED:$bad"
	else
		mbps $(($3 * PAR_MB * 1024 * 1024)) "$t0" "$t1"
	fi
}

# measure CASE KIND ARGS...: $RUNS rounds; in round r every server runs once, the order rotated by r; the best
# figure per server is kept. KIND single: ARGS = CLIENT OPTS; parallel: ARGS = N [nice|pinned].
measure() {
	c=$1
	kind=$2
	shift 2
	: >"$tmp/runs"
	for r in $(seq "$RUNS"); do
		for s in $(rotated "$r"); do
			name=${s%%:*}
			port=${s#*:}
			port=${port%%:*}
			if [ "$kind" = single ]; then
				v=$(single_once "$name" "$port" "$1" "$2")
			else
				v=$(parallel_once "$name" "$port" "$1" "${2:-}" "$s")
			fi
			case $v in
			FAILED*)
				k=${v#FAILED}
				k=${k#:}
				echo "bench/tftp: $c from $name (round $r): ${k:-1} FAILED" >&2
				for _ in $(seq "${k:-1}"); do echo "$name"; done >>"$fails"
				echo "$name" >>"$tmp/failed_cases.$name"
				keep "$c" "$name" 0
				;;
			*) keep "$c" "$name" "$v" ;;
			esac
		done
	done
	for s in $servers; do
		name=${s%%:*}
		best=$(awk -F'|' -v n="$name" '$2 == n && $3 + 0 > b { b = $3 + 0 } END { printf "%.1f", b }' "$tmp/runs")
		m=
		[ -e "$tmp/failed_cases.$name" ] && m='*'
		rm -f "$tmp/failed_cases.$name"
		echo "$c|$name|$best$m" >>"$results"
	done
}
single() { measure "$1" single "$2" "$3"; }
parallel() { measure "$1" parallel "$2" "${3:-}"; }

all=$servers
case " $cases " in *" single "*)
	single "curl 64MiB blksize 512" curl "--tftp-blksize 512"
	single "curl 64MiB blksize 1468" curl "--tftp-blksize 1468"
	single "atftp 64MiB blksize 1468 window 1" atftp "blksize=1468"
	servers=${all%% *} # neither peer acknowledges windowsize (RFC 7440)
	single "atftp 64MiB blksize 1468 window 4" atftp "windowsize=4 blksize=1468"
	single "atftp 64MiB blksize 1468 window 16" atftp "windowsize=16 blksize=1468"
	servers=$all
	;;
esac
# par WORD CASE N [nice|pinned]: one parallel case, when BENCH_CASES has "parallel" or WORD
: >"$tmp/words" # lines: case|WORD (what reproduces it alone)
par() {
	case " $cases " in *" parallel "* | *" $1 "*) ;; *) return 0 ;; esac
	echo "$2|$1" >>"$tmp/words"
	shift
	parallel "$@"
}
pin_ok=0
[ "$ncpu" -ge 2 ] && command -v taskset >/dev/null 2>&1 && pin_ok=1
# The tftp_load rows first: rounds straight after 200 curl processes start on a machine still settling.
if [ $pin_ok = 1 ] && [ -x "$LOAD" ]; then
	par load50 "50 x tftp_load ${PAR_MB}MiB 1468 pinned" 50 load
	par load200 "200 x tftp_load ${PAR_MB}MiB 1468 pinned" 200 load
elif [ $pin_ok = 1 ]; then
	case " $cases " in *" parallel "* | *" load"*)
		echo "bench/tftp: tftp_load rows skipped ($LOAD not built: make BUILD=$BUILD $LOAD)" >&2
		;;
	esac
fi
par par50 "50 x curl ${PAR_MB}MiB blksize 1468" 50
par par200 "200 x curl ${PAR_MB}MiB blksize 1468" 200
par nice50 "50 x curl ${PAR_MB}MiB 1468 clients nice 10" 50 nice
par nice200 "200 x curl ${PAR_MB}MiB 1468 clients nice 10" 200 nice
if [ $pin_ok = 1 ]; then
	par pinned50 "50 x curl ${PAR_MB}MiB 1468 pinned" 50 pinned
	par pinned200 "200 x curl ${PAR_MB}MiB 1468 pinned" 200 pinned
else
	case " $cases " in *" parallel "* | *" pinned"* | *" load"*)
		echo "bench/tftp: pinned cases skipped (need taskset and 2+ CPUs)" >&2
		;;
	esac
fi

# ---- the quota row
QUOTA_PERIOD_US=100000
QUOTA_US=50000
# cg_find: the cpu controller's hierarchy (v1 with "cpu" first, else v2) and this shell's cgroup in it: sets cg_v1
# and cg_home; 1 (cg_why says why) when there is none
cg_find() {
	m=$(awk '{ for (i = 7; i <= NF && $i != "-"; i++); t = $(i + 1); o = "," $(i + 3) ","
		if (t == "cgroup" && o ~ /,cpu,/) { print "1 " $5; f = 1; exit }
		if (t == "cgroup2" && v2 == "") v2 = $5 }
		END { if (!f && v2 != "") print "0 " v2 }' /proc/self/mountinfo)
	[ -n "$m" ] || { cg_why="no cpu controller mounted"; return 1; }
	cg_v1=${m%% *}
	point=${m#* }
	if [ "$cg_v1" = 1 ]; then
		path=$(awk -F: '{ n = split($2, c, ","); for (i = 1; i <= n; i++) if (c[i] == "cpu") {
			sub(/^[^:]*:[^:]*:/, ""); print; exit } }' /proc/self/cgroup)
	else
		path=$(sed -n 's/^0:://p' /proc/self/cgroup)
	fi
	cg_home=$point${path%/}
}
# cg_setup: a new cgroup cg_dir under cg_home with the quota; 1 (cg_why) when it cannot be made
cg_setup() {
	[ "$(id -u)" = 0 ] || { cg_why="not root"; return 1; }
	cg_find || return 1
	if [ "$cg_v1" = 0 ] && ! echo +cpu >"$cg_home/cgroup.subtree_control" 2>/dev/null; then
		cg_why="cannot enable the cpu controller under $cg_home"
		return 1
	fi
	cg_dir=$cg_home/autopxe-bench-$$
	mkdir "$cg_dir" 2>/dev/null || { cg_why="cannot create $cg_dir"; cg_dir=; return 1; }
	if [ "$cg_v1" = 1 ]; then
		echo "$QUOTA_PERIOD_US" >"$cg_dir/cpu.cfs_period_us" && echo "$QUOTA_US" >"$cg_dir/cpu.cfs_quota_us"
	else
		echo "$QUOTA_US $QUOTA_PERIOD_US" >"$cg_dir/cpu.max"
	fi || { cg_why="cannot set the quota in $cg_dir"; return 1; }
}
# cg_move DIR: every server (name:port:pid) into cgroup DIR; 1 (cg_why) if one cannot go
cg_move() {
	for s in $servers; do
		echo "${s##*:}" >"$1/cgroup.procs" 2>/dev/null || { cg_why="cannot move ${s%%:*} into $1"; return 1; }
	done
}
case " $cases " in *" quota "*)
	if cg_setup && cg_move "$cg_dir"; then
		echo "atftp 64MiB 1468 under 0.5 CPU quota|quota" >>"$tmp/words"
		single "atftp 64MiB 1468 under 0.5 CPU quota" atftp "blksize=1468"
	else
		echo "bench/tftp: quota row skipped ($cg_why)" >&2
	fi
	if [ -n "${cg_dir:-}" ]; then
		cg_move "$cg_home" || echo "bench/tftp: $cg_why" >&2
		rmdir "$cg_dir" 2>/dev/null && cg_dir=
	fi
	;;
esac

# ---- report: MB/s per server and autopxe / best peer (windowed cases: against the peers' window-1 figure)
echo
awk -F'|' -v servers="$all" '
	BEGIN { n = split(servers, sv, " "); for (i = 1; i <= n; i++) { split(sv[i], a, ":"); name[i] = a[1] } }
	{ if (!($1 in seen)) { order[++nc] = $1; seen[$1] = 1 } v[$1, $2] = $3 }
	END {
		printf "%-38s", "case (MB/s)"
		for (i = 1; i <= n; i++) printf " %10s", name[i]
		printf " %12s\n", "vs best peer"
		for (c = 1; c <= nc; c++) {
			k = order[c]; best = 0; ref = k
			if (k ~ /window (4|16)$/) { ref = k; sub(/window (4|16)$/, "window 1", ref) }
			for (i = 2; i <= n; i++) if ((ref, name[i]) in v && v[ref, name[i]] + 0 > best) best = v[ref, name[i]] + 0
			printf "%-38s", k
			for (i = 1; i <= n; i++) printf " %10s", ((k, name[i]) in v) ? v[k, name[i]] : "n/a"
			if (best > 0) printf " %11.2fx", v[k, name[1]] / best; else printf " %12s", "-"
			printf "\n"
		}
	}' "$results"
# ---- the physical limit: bench/udp_limit moves the same bytes in the same packet pattern (1 or W datagrams of
# 4 + blksize bytes per 4-byte ACK) between two loopback sockets with no file and no protocol: what the kernel does
# here. Every variant that applies (sleeping or polling sides; for windows also one UDP GSO send per window), best
# of $RUNS each, run now, under the same load as the rows above: the fastest this kernel moves that pattern.
LIMIT=${UDP_LIMIT_BIN:-$BUILD/udp_limit}
: >"$tmp/limits" # lines: case|autopxe|udp_limit
if [ -x "$LIMIT" ] && grep -q '^atftp 64MiB blksize 1468 window\|^curl 64MiB' "$results"; then
	echo
	printf '%-38s %10s %10s %12s\n' "physical limit (MB/s)" autopxe udp_limit "fraction"
	for spec in "curl 64MiB blksize 512|512|1" "curl 64MiB blksize 1468|1468|1" \
		"atftp 64MiB blksize 1468 window 1|1468|1" "atftp 64MiB blksize 1468 window 4|1468|4" \
		"atftp 64MiB blksize 1468 window 16|1468|16"; do
		k=${spec%%|*} rest=${spec#*|}
		b=${rest%%|*} w=${rest#*|}
		best=0
		variants="plain poll"
		[ "$w" -gt 1 ] && variants="$variants gso gso,poll"
		for _ in $(seq "$RUNS"); do
			for v in $variants; do
				# shellcheck disable=SC2046 # the variant's words are separate arguments
				r=$(timeout 60 "$LIMIT" $((64 * 1024 * 1024)) "$b" "$w" $(echo "$v" | tr , ' ' | sed 's/plain//') \
					2>/dev/null) || continue
				best=$(awk -v a="$best" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
			done
		done
		a=$(awk -F'|' -v k="$k" '$1 == k && $2 == "autopxe" { print $3 }' "$results")
		[ -n "$a" ] || continue
		echo "$k|$a|$best" >>"$tmp/limits"
		awk -v k="$k" -v a="$a" -v l="$best" 'BEGIN { printf "%-38s %10s %10s %11.2fx\n", k, a, l, (l > 0 ? (a + 0) / l : 0) }'
	done
fi
# ---- how busy the clients' CPUs were in the pinned curl rows: at ~100% for every server, those rows measure the
# clients (50 or 200 curl processes on the CPUs left to them), and the servers can only tie (docs/performance.md)
: >>"$tmp/clientcpu"
if [ -s "$tmp/clientcpu" ]; then
	echo
	cl="CPU 1"
	[ "$ncpu" -le 2 ] || cl="CPUs 1-$((ncpu - 1))"
	echo "the clients' $cl busy in the pinned curl rows (/proc/stat), lowest round per server:"
	awk -F'|' '{ k = $1 SUBSEP $2; if (!(k in lo) || $3 + 0 < lo[k]) lo[k] = $3 + 0
		if (!($1 in seen)) { order[++n] = $1; seen[$1] = 1 } if (!($2 in sv)) { names[++m] = $2; sv[$2] = 1 } }
		END { for (c = 1; c <= n; c++) { printf "  %-36s", order[c]
			for (j = 1; j <= m; j++) printf " %s %d%%", names[j], lo[order[c], names[j]]; printf "\n" } }' \
		"$tmp/clientcpu"
fi
printf 'failed transfers:'
for s in $all; do
	printf ' %s %s' "${s%%:*}" "$(grep -cx "${s%%:*}" "$fails" || true)"
done
echo
# ---- the rows for bench/run.sh's final table (bench/summary.sh; nothing is written unless BENCH_SUMMARY is set)
pre=${AUTOPXE_BIN:+AUTOPXE_BIN=$AUTOPXE_BIN }
awk -F'|' -v servers="$all" -v pre="$pre" -v runs="$RUNS" -v build="$BUILD" '
	BEGIN { n = split(servers, sv, " "); for (i = 1; i <= n; i++) { split(sv[i], s, ":"); name[i] = s[1] } }
	FILENAME ~ /words$/ { word[$1] = $2; next }
	FILENAME ~ /limits$/ { lim[++nl] = $0; next }
	{ if (!($1 in seen)) { order[++nc] = $1; seen[$1] = 1 } v[$1, $2] = $3 }
	function ratio(x, y) { return (x != "-" && y + 0 > 0) ? sprintf("%.2f", x / y) : "-" }
	END {
		for (c = 1; c <= nc; c++) {
			k = order[c]
			cmd = pre ((k in word) ? "BENCH_CASES=" word[k] : "BENCH_CASES=single BENCH_RUNS=" runs) " bench/tftp.sh " build
			a = ((k, name[1]) in v) ? v[k, name[1]] : "-"
			if (k ~ /window (4|16)$/) { # neither peer does RFC 7440: against tftpd-hpa lock-step
				ref = k; sub(/window (4|16)$/, "window 1", ref)
				pn = "tftpd-hpa(w1)"; pv = ((ref, "tftpd-hpa") in v) ? v[ref, "tftpd-hpa"] : "-"
				t = (k ~ /16$/) ? ">=5.00" : "-"
			} else {
				pn = "-"; pv = "-"; t = (k ~ /CPU quota/) ? ">=0.95" : ">=1.05"
				for (i = 2; i <= n; i++)
					if ((k, name[i]) in v && (pv == "-" || v[k, name[i]] + 0 > pv + 0)) { pn = name[i]; pv = v[k, name[i]] }
			}
			printf "%s (MB/s)|%s|%s|%s|%s|%s|%s\n", k, a, pn, pv, ratio(a, pv), t, cmd
		}
		for (j = 1; j <= nl; j++) {
			split(lim[j], f, "|")
			printf "limit: %s (MB/s)|%s|udp_limit|%s|%s|-|%s\n", f[1], f[2], f[3], ratio(f[2], f[3]),
			    pre "BENCH_CASES=single BENCH_RUNS=" runs " bench/tftp.sh " build
		}
	}' "$tmp/words" "$tmp/limits" "$results" | while IFS='|' read -r row a pn pv r t cmd; do
	summary_row tftp "$row" "$a" "$pn" "$pv" "$r" "$t" "$cmd"
done
awk -F'|' -v pre="$pre" -v build="$BUILD" '
	FILENAME ~ /words$/ { word[$1] = $2; next }
	FILENAME ~ /results$/ { r = $3; sub(/[*]$/, "", r); if ($2 != "autopxe" && r + 0 > best[$1]) { best[$1] = r + 0; bp[$1] = $2 }; next }
	{ k = $1 SUBSEP $2; if (!(k in lo) || $3 + 0 < lo[k]) lo[k] = $3 + 0; if (!($1 in seen)) { order[++n] = $1; seen[$1] = 1 } }
	END { for (c = 1; c <= n; c++) { k = order[c]; p = bp[k]
		printf "%s: clients busy, lowest round (%%)|%d|%s|%s|%s|-|%s\n", k, lo[k, "autopxe"], (p == "" ? "-" : p),
		    (p == "" ? "-" : lo[k, p]), (p == "" || lo[k, p] == 0 ? "-" : sprintf("%.2f", lo[k, "autopxe"] / lo[k, p])),
		    pre "BENCH_CASES=" word[k] " bench/tftp.sh " build } }' "$tmp/words" "$results" "$tmp/clientcpu" |
	while IFS='|' read -r row a pn pv r t cmd; do
		summary_row tftp "$row" "$a" "$pn" "$pv" "$r" "$t" "$cmd"
	done
summary_row tftp "failed transfers (autopxe)" "$(grep -cx autopxe "$fails" || true)" - - - "=0" \
	"${pre}BENCH_CASES='$cases' BENCH_RUNS=$RUNS bench/tftp.sh $BUILD"
! grep -qx autopxe "$fails"
