#!/bin/sh
# netns_loss.sh - TFTP and HTTP downloads from autopxe through random UDP loss between two network namespaces.
#
# Two namespaces joined by a veth pair (server 192.0.2.1, client 192.0.2.2: TEST-NET-1, never routed), nftables
# dropping `numgen random` UDP and TCP packets on the INPUT hook of each namespace (this kernel has no netem; dropping on OUTPUT
# would make sendto() fail with EPERM, which is not loss). For each loss rate, one TFTP download per
# (blksize, windowsize) variant plus one HTTP download run side by side; each must finish with the right sha256
# and the server must not give up on any of them (its retry budget below).
#
# Client: tests/fault/tftpget.c, built here. It asks blksize, tsize and windowsize only (like iPXE, which asks
# blksize and tsize) and re-ACKs duplicates and gaps at once (RFC 7440). Not curl: curl always adds the RFC 2349
# "timeout" option (6 s by default, never below 1 s) and the server honours it, so every lost packet would cost
# curl's 1-6 s instead of the server's TFTPTimeout. Not atftp 0.8.0: under 5% loss it ignores a duplicated DATA
# block, waits for its own timeout and then aborts the transfer itself ("tftp: unknown error"), while the server
# keeps retransmitting to a client that has gone.
#
# Server retry budget (config below): the default TFTPTimeout (1000 ms) and TFTPRetries 20. The server's
# retransmission timeout adapts to the measured round trip (a veth RTT is ~0.02-0.05 ms) with a 10 ms floor and
# doubles per lost round; only waits of TFTPTimeout or more count as retries, so a block is given up after
# ~8 short waits plus 21 long ones lost in a row. At 20% loss each way a round (DATA + ACK) fails with p = 0.36:
# 29 in a row is p = 1.4e-13 per block, never in practice, even for the 32,768 blocks of 16 MiB at blksize 512.
# Time is dominated by that 10 ms floor: with windowsize 1 every lost DATA or ACK costs one timeout
# (measured: 16 MiB at blksize 512, 20% loss, ~6.5 min; with the old fixed 100 ms timer it took ~54 min).
#
# HTTP: TCP's own minimum retransmission timeout is 200 ms and backs off exponentially; at 20% loss each way a
# 16 MiB download would take over half an hour. The connected routes in both namespaces get `rto_min 10ms`
# (what a LAN-tuned host would set) so TCP recovers at LAN speed too. The server is unchanged by this.
#
# Env: AUTOPXE_BIN (default build/autopxe-san), LOSS_KB (file size, default 16384 = 16 MiB), LOSSES (default
#      "5 20"), VARIANTS (default "512:1 1468:1 512:8 1468:8"), MAX_S (per download, default 7200), CC.
# Exit 0 all ok, 1 a download failed, 77 not permitted here (not root, or no netns/veth/nft).
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${AUTOPXE_BIN:-build/autopxe-san}
kb=${LOSS_KB:-16384}
losses=${LOSSES:-5 20}
variants=${VARIANTS:-512:1 1468:1 512:8 1468:8}
max_s=${MAX_S:-7200}

skip() { echo "fault: SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root for ip netns"
for t in ip nft curl sha256sum bc; do command -v "$t" >/dev/null 2>&1 || skip "$t not installed"; done
[ -x "$bin" ] || { echo "fault: no server binary $bin"; exit 1; }
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac

S=apx-s-$$ C=apx-c-$$ VS=apxs$$ VC=apxc$$
dir=$(mktemp -d /tmp/autopxe-fault.XXXXXX)
chmod 755 "$dir"
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$S" 2>/dev/null
	ip netns del "$C" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -o "$dir/tftpget" "$here/tftpget.c" || { echo "fault: cannot build tftpget"; exit 1; }
ip netns add "$S" 2>/dev/null || skip "ip netns add not permitted"
ip netns add "$C" || skip "ip netns add not permitted"
ip link add "$VS" netns "$S" type veth peer name "$VC" netns "$C" || skip "veth not available"
ip -n "$S" addr add 192.0.2.1/24 dev "$VS"
ip -n "$C" addr add 192.0.2.2/24 dev "$VC"
for n in "$S" "$C"; do ip -n "$n" link set lo up; done
ip -n "$S" link set "$VS" up
ip -n "$C" link set "$VC" up
ip -n "$S" route change 192.0.2.0/24 dev "$VS" proto kernel scope link src 192.0.2.1 rto_min 10ms ||
	echo "fault: could not set rto_min on the server route (HTTP at 20% loss will be slow)"
ip -n "$C" route change 192.0.2.0/24 dev "$VC" proto kernel scope link src 192.0.2.2 rto_min 10ms ||
	echo "fault: could not set rto_min on the client route (HTTP at 20% loss will be slow)"

kern=debian/bookworm/boot/vmlinuz-6.1.0-21-amd64
mkdir -p "$dir/rootfs/debian/bookworm/boot" "$dir/out"
head -c $((kb * 1024)) /dev/urandom >"$dir/rootfs/$kern"
head -c 1000 /dev/urandom >"$dir/rootfs/debian/bookworm/boot/initrd.img-6.1.0-21-amd64"
want=$(sha256sum "$dir/rootfs/$kern" | cut -d' ' -f1)
cat >"$dir/config.yaml" <<EOF
version: 1
DefaultDistro: debian/bookworm/latest/nfs
RootfsPath: $dir/rootfs
CmdlineTemplates:
  nfs: root=/dev/nfs ip=dhcp
Watch: false
TFTPRetries: 20
# At 20% loss each way TCP's retransmission backoff can leave a connection silent for over 30 s (the default
# HTTPTimeout, which closes idle connections against slowloris): let the HTTP download ride that out.
HTTPTimeout: 600
EOF
chmod -R a+rX "$dir"
ip netns exec "$S" env ASAN_OPTIONS=detect_leaks=1:exitcode=86 "$bin" --config "$dir/config.yaml" \
	--tftp-listen 192.0.2.1:69 --http-listen 192.0.2.1:80 serve 2>"$dir/server.log" &
pid=$!
i=0
until ip netns exec "$C" curl -fs -o /dev/null --max-time 1 http://192.0.2.1/healthz; do
	i=$((i + 1))
	[ "$i" -lt 50 ] || { echo "fault: server did not start"; cat "$dir/server.log"; exit 1; }
	sleep 0.2
done

set_loss() {
	for n in "$S" "$C"; do
		ip netns exec "$n" nft delete table inet apxloss 2>/dev/null
		[ "$1" -gt 0 ] || continue
		ip netns exec "$n" nft -f - <<EOF || skip "nftables not usable in a namespace"
table inet apxloss {
	chain in { type filter hook input priority 0; policy accept; meta l4proto { udp, tcp } numgen random mod 100 < $1 counter drop; }
}
EOF
	done
}
dropped() {
	ip netns exec "$1" nft list table inet apxloss 2>/dev/null | sed -n 's/.*packets \([0-9]*\).*/\1/p'
}
metric() {
	ip netns exec "$C" curl -s --max-time 5 http://192.0.2.1/metrics | sed -n "s/^$1 //p"
}

# start LABEL CMD...: run in the client namespace in the background, timing it; result in $dir/out/LABEL.*
start() {
	label=$1
	shift
	(
		t0=$(date +%s.%N)
		ip netns exec "$C" timeout "$max_s" "$@" >"$dir/out/$label.log" 2>&1
		rc=$?
		t1=$(date +%s.%N)
		echo "$rc $(echo "$t1 - $t0" | bc)" >"$dir/out/$label.res"
	) &
}
ok=0 bad=0
report() { # LABEL DESCRIPTION
	read -r rc secs <"$dir/out/$1.res"
	got=$(sha256sum "$dir/out/$1.got" 2>/dev/null | cut -d' ' -f1)
	if [ "$rc" = 0 ] && [ "$got" = "$want" ]; then
		r=ok
		ok=$((ok + 1))
	else
		r="FAIL (exit $rc, sha256 ${got:-none})"
		bad=$((bad + 1))
		tail -n 3 "$dir/out/$1.log" | sed 's/^/    /'
	fi
	extra=$(sed -n 's/^tftpget: ok [0-9]* bytes in [0-9]* blocks ([^)]*) in [0-9.]* s, \(.*\)$/\1/p' "$dir/out/$1.log")
	printf 'fault %-40s %s in %7.1f s %s\n' "$2" "$r" "$secs" "${extra:+($extra)}"
}

echo "fault: ${kb} KiB file, server TFTPTimeout 1000 ms (adaptive, 10 ms floor), TFTPRetries 20; variants run side by side per loss rate"
for loss in $losses; do
	set_loss "$loss"
	to0=$(metric 'autopxe_tftp_transfers_total{outcome="timeout"}')
	labels=
	for v in $variants; do
		b=${v%:*} w=${v#*:}
		l="l${loss}-b${b}-w${w}"
		labels="$labels $l"
		start "$l" "$dir/tftpget" -b "$b" -w "$w" -T "$max_s" 192.0.2.1 "boot/$kern" "$dir/out/$l.got"
	done
	start "l${loss}-http" curl -sS -o "$dir/out/l${loss}-http.got" "http://192.0.2.1/boot/$kern"
	wait_all=0
	while [ "$wait_all" = 0 ]; do
		wait_all=1
		for l in $labels "l${loss}-http"; do [ -f "$dir/out/$l.res" ] || wait_all=0; done
		[ "$wait_all" = 1 ] || sleep 0.5
	done
	for v in $variants; do
		b=${v%:*} w=${v#*:}
		report "l${loss}-b${b}-w${w}" "loss=$loss% tftp blksize=$b windowsize=$w"
	done
	report "l${loss}-http" "loss=$loss% http"
	to1=$(metric 'autopxe_tftp_transfers_total{outcome="timeout"}')
	echo "fault loss=$loss%: dropped on input: server ns $(dropped "$S"), client ns $(dropped "$C") packets;" \
		"transfers the server gave up: $((to1 - to0))"
	[ "$((to1 - to0))" = 0 ] || bad=$((bad + 1))
done
set_loss 0
echo "fault: server retransmits $(metric autopxe_tftp_retransmits_total)"
kill "$pid"
wait "$pid"
st=$?
pid=
if [ "$st" != 0 ] || grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' "$dir/server.log"; then
	echo "fault: server exit status $st or sanitizer report:"
	tail -n 20 "$dir/server.log"
	bad=$((bad + 1))
fi
if [ "$bad" = 0 ]; then
	echo "fault: all $ok downloads ok"
	exit 0
fi
echo "fault: $bad failed, $ok ok"
exit 1
