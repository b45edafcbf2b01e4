#!/bin/sh
# bench/tftp.sh - autopxe's TFTP server against tftpd-hpa and dnsmasq on loopback: MB/s, ratio to the best peer.
#
# Usage: bench/tftp.sh [BUILD_DIR]      (uses BUILD_DIR/autopxe, default build/; AUTOPXE_BIN overrides)
# Env:   BENCH_RUNS (runs per single-transfer case, best is kept; default 3)
# Needs: curl, atftp, /usr/sbin/in.tftpd (tftpd-hpa), dnsmasq (dnsmasq-base; skipped unless we are root and
#        127.0.0.1:69 is free: dnsmasq's TFTP port cannot be changed). Everything listens on 127.0.0.1 only,
#        every client runs under `timeout`; single cases take ~2 minutes, parallel ones 5-15.
#
# Cases, on the same files with the same clients, servers in turn:
#   one 64 MiB file: curl at blksize 512 and 1468; atftp at blksize 1468 with windowsize 1, 4, 16
#   (windowsize 4/16 only where the server acknowledges it: neither peer does, so the ratio is against the best peer
#   at windowsize 1); 50 and 200 parallel curl downloads of an 8 MiB file at blksize 1468, three ways: as they come;
#   "nice": the clients at nice 10; "pinned": the server (all its threads and children) on CPU 0, the clients on the
#   other CPUs. On a real network the clients are other machines; on loopback 200 curl processes share the cores with
#   the server, and every ACK wakes a curl that preempts the thread that woke it (perf on autopxe: ~31% of its samples
#   inside sendmmsg's cond_resched). That costs a server with a thread per core (autopxe, dnsmasq) far more than one
#   with a process per transfer (tftpd-hpa), for reasons that have nothing to do with serving. Lowering the clients'
#   priority, or pinning, the same for every server, keeps the clients from preempting the server, as separate
#   machines would; pinning also limits every server to one core. All rows are printed. Pinned rows need taskset and
#   2+ CPUs.
# After the table, each single row's autopxe figure as a fraction of bench/udp_limit (BUILD_DIR/udp_limit, make
# bench builds it): the same packet pattern between two bare loopback sockets, the kernel's ceiling on this machine.
# Every download is compared with its source. A figure marked * had failed transfers; a failure from autopxe makes
# the script exit 1 (a peer's failures are reported, not fatal). BENCH_CASES="single" or "parallel" runs only those.
set -eu

BUILD=${1:-build}
BIN=${AUTOPXE_BIN:-$BUILD/autopxe}
RUNS=${BENCH_RUNS:-3}
HPA=/usr/sbin/in.tftpd

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
	rm -rf "$tmp"
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
mkdir -p "$root" "$tmp/rootfs/debian/bookworm/boot" "$tmp/dl"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$root/big.bin"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$root/par.bin"
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
	dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --enable-tftp --tftp-root="$root" \
		--listen-address=127.0.0.1 --bind-interfaces --tftp-max=1000 --user=root \
		--pid-file="$tmp/dnsmasq.pid" --log-facility="$tmp/dnsmasq.log" &
	pids="$pids $!"
	servers="$servers dnsmasq:69:$!"
else
	echo "bench/tftp: dnsmasq skipped (needs root and a free 127.0.0.1:69)" >&2
fi
sleep 0.5

fails=$tmp/fails # one line per failed transfer: the server's name
: >"$fails"
mark=
prefix= # run clients under this (parallel cases)
cases=${BENCH_CASES:-single parallel}
ncpu=$(nproc)
# pin SERVER CPULIST: move a server (name:port:pid; every thread, and children forked later) to CPULIST
pin() { taskset -a -p -c "$2" "${1##*:}" >/dev/null; }
results=$tmp/results # lines: case server MB/s

now() { date +%s.%N; }
mbps() { awk -v b="$1" -v t0="$2" -v t1="$3" 'BEGIN { printf "%.1f", b / 1e6 / (t1 - t0) }'; }

# client_get CLIENT OPTS PORT NAME OUT   (atftp OPTS: name=value words, each becomes --option "name value")
client_get() {
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

# single CASE CLIENT OPTS: best of $RUNS downloads of big.bin from every server
single() {
	for s in $servers; do
		name=${s%%:*}
		port=${s#*:}
		port=${port%%:*}
		best=0
		for _ in $(seq "$RUNS"); do
			out=$tmp/dl/single
			rm -f "$out"
			t0=$(now)
			if client_get "$2" "$3" "$port" big.bin "$out" && cmp -s "$out" "$root/big.bin"; then
				t1=$(now)
				r=$(mbps $((64 * 1024 * 1024)) "$t0" "$t1")
				best=$(awk -v a="$best" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
			else
				echo "bench/tftp: $1 from $name FAILED" >&2
				echo "$name" >>"$fails"
				mark='*'
			fi
		done
		echo "$1|$name|$best$mark" >>"$results"
		mark=
	done
}

# parallel CASE N [nice|pinned]: N concurrent curl downloads of par.bin from every server; aggregate MB/s.
# nice: clients at nice 10; pinned: the server on CPU 0 and the clients on CPUs 1.. for the duration.
parallel() {
	for s in $servers; do
		name=${s%%:*}
		port=${s#*:}
		port=${port%%:*}
		case ${3:-} in
		pinned)
			pin "$s" 0
			prefix="taskset -c 1-$((ncpu - 1))"
			;;
		nice) prefix="nice -n 10" ;;
		esac
		rm -rf "$tmp/dl/par"
		mkdir -p "$tmp/dl/par"
		t0=$(now)
		i=0
		cpids=
		while [ "$i" -lt "$2" ]; do
			i=$((i + 1))
			(client_get curl "--tftp-blksize 1468" "$port" par.bin "$tmp/dl/par/$i" || echo "$i" >>"$tmp/dl/par/failed") &
			cpids="$cpids $!"
		done
		for j in $cpids; do
			wait "$j" || true
		done
		t1=$(now)
		bad=0
		[ -e "$tmp/dl/par/failed" ] && bad=$(wc -l <"$tmp/dl/par/failed")
		i=0
		while [ "$i" -lt "$2" ]; do
			i=$((i + 1))
			cmp -s "$tmp/dl/par/$i" "$root/par.bin" || bad=$((bad + 1))
		done
		if [ "$bad" -gt 0 ]; then
			echo "bench/tftp: $1 from $name: $bad FAILED" >&2
			for _ in $(seq "$bad"); do echo "$name"; done >>"$fails"
			mark='*'
		fi
		[ "${3:-}" != pinned ] || pin "$s" "0-$((ncpu - 1))"
		prefix=
		echo "$1|$name|$(mbps $(($2 * 8 * 1024 * 1024)) "$t0" "$t1")$mark" >>"$results"
		mark=
	done
}

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
case " $cases " in *" parallel "*)
	parallel "50 x curl 8MiB blksize 1468" 50
	parallel "200 x curl 8MiB blksize 1468" 200
	parallel "50 x curl 8MiB 1468 clients nice 10" 50 nice
	parallel "200 x curl 8MiB 1468 clients nice 10" 200 nice
	if [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
		parallel "50 x curl 8MiB 1468 pinned" 50 pinned
		parallel "200 x curl 8MiB 1468 pinned" 200 pinned
	else
		echo "bench/tftp: pinned cases skipped (need taskset and 2+ CPUs)" >&2
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
# here. Best of $RUNS, run now, under the same load as the rows above.
LIMIT=${UDP_LIMIT_BIN:-$BUILD/udp_limit}
if [ -x "$LIMIT" ] && grep -q '^atftp 64MiB\|^curl 64MiB' "$results"; then
	echo
	printf '%-38s %10s %10s %12s\n' "physical limit (MB/s)" autopxe udp_limit "fraction"
	for spec in "curl 64MiB blksize 512|512|1" "curl 64MiB blksize 1468|1468|1" \
		"atftp 64MiB blksize 1468 window 1|1468|1" "atftp 64MiB blksize 1468 window 4|1468|4" \
		"atftp 64MiB blksize 1468 window 16|1468|16"; do
		k=${spec%%|*} rest=${spec#*|}
		b=${rest%%|*} w=${rest#*|}
		best=0
		for _ in $(seq "$RUNS"); do
			r=$(timeout 60 "$LIMIT" $((64 * 1024 * 1024)) "$b" "$w" 2>/dev/null) || continue
			best=$(awk -v a="$best" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
		done
		a=$(awk -F'|' -v k="$k" '$1 == k && $2 == "autopxe" { print $3 }' "$results")
		[ -n "$a" ] || continue
		awk -v k="$k" -v a="$a" -v l="$best" 'BEGIN { printf "%-38s %10s %10s %11.2fx\n", k, a, l, (l > 0 ? (a + 0) / l : 0) }'
	done
fi
printf 'failed transfers:'
for s in $all; do
	printf ' %s %s' "${s%%:*}" "$(grep -cx "${s%%:*}" "$fails" || true)"
done
echo
! grep -qx autopxe "$fails"
