#!/bin/sh
# storm.sh [BUILD] [NODES] - boot storm against a fresh autopxe: NODES nodes (default 1000), all at once, each fetches
# its menu over TFTP then its default kernel + initrd over HTTP; every 10th MAC is pinned to another release.
# Prints bench/storm's figures (p50/p99 per node, failures, the server's peak RSS). Env: AUTOPXE_BIN, STORM_ARGS,
# SESSIONS (TFTPMaxSessions, default 4096: lower it to see session caps turned into retries),
# STORE: on (the state store records the timeline, the default), off (StateStore: false), or both: ROUNDS
# (default 3) alternating off/on runs against fresh servers, then the best p99 of each and their ratio.
# Against an older server in the same run: BENCH_BASE=REV builds git revision REV in a temp dir (bench/base.sh), or
# BASE_BIN names such a binary (BASE_NAME labels it, default autopxe@REV or "base"); then ROUNDS (default 3) rounds
# of one storm each against fresh servers, the two binaries in alternating order, and the best (lowest) p50, p99
# and peak RSS of each with the ratios base/autopxe (>= 1: autopxe is as good or better).
# BENCH_QUICK=1: NODES defaults to 200. BENCH_SUMMARY: the rows of bench/run.sh's final table are appended there
# (bench/summary.sh): p50, p99, peak RSS (VmHWM; vs the base: target >= 0.95, i.e. unchanged within 5% noise),
# and the failed nodes (= 0).
set -eu
build=${1:-build}
if [ "${BENCH_QUICK:-0}" = 1 ]; then nodes=${2:-200}; else nodes=${2:-1000}; fi
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$here/summary.sh"
# shellcheck source=/dev/null
. "$here/base.sh"
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
run() { # run on|off [BIN LABEL]: one storm against a fresh server; its output also goes to $dir/storm.out
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
	"${2:-$bin}" --config "$dir/config.yaml" --tftp-listen "127.0.0.1:$tp" --http-listen "127.0.0.1:$hp" serve 2>"$dir/server.log" &
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
	sed "s/^storm /storm ${3:+$3 }store=$1 /" "$dir/storm.out"
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
# figs WHO: "WHO p50 p99 vmhwm_kb failed" of the last storm ("-" for a figure it did not print) to $dir/figs
figs() {
	f() { v=$(sed -n "s/^storm \(.* \)\{0,1\}$1=\([0-9.]*\).*/\2/p" "$dir/storm.out" | tail -n 1); echo "${v:--}"; }
	echo "$1 $(f p50) $(f p99) $(f server_vmhwm_kb) $(f failed)" >>"$dir/figs"
}
base_bin=${BASE_BIN:-}
base_name=${BASE_NAME:-}
cmd="${AUTOPXE_BIN:+AUTOPXE_BIN=$AUTOPXE_BIN }${STORE:+STORE=$STORE }"
if [ -n "$base_bin${BENCH_BASE:-}" ] && [ "$store" = both ]; then
	echo "storm.sh: STORE=both and a base binary do not go together" >&2
	exit 2
fi
if [ -z "$base_bin" ] && [ -n "${BENCH_BASE:-}" ]; then
	base_bin=$(base_build "$here/.." "$BENCH_BASE" "$dir/base") || { echo "storm.sh: BENCH_BASE: $base_bin" >&2; exit 2; }
fi
if [ -n "${BENCH_BASE:-}" ]; then
	base_name=${base_name:-autopxe@$BENCH_BASE}
	cmd="${cmd}BENCH_BASE=$BENCH_BASE "
elif [ -n "$base_bin" ]; then
	cmd="${cmd}BASE_BIN=$base_bin "
fi
base_name=${base_name:-base}
cmd="${cmd}${ROUNDS:+ROUNDS=$ROUNDS }bench/storm.sh $build $nodes"
st=0 # exit status: 1 when a storm had failed nodes
: >"$dir/figs"
if [ -n "$base_bin" ]; then
	k=0
	while [ "$k" -lt "${ROUNDS:-3}" ]; do
		order="base autopxe"
		[ $((k % 2)) = 0 ] || order="autopxe base"
		for who in $order; do
			if [ "$who" = base ]; then
				run "$store" "$base_bin" "$base_name" || st=$?
			else
				run "$store" "$bin" autopxe || st=$?
			fi
			figs "$who"
		done
		k=$((k + 1))
	done
	# the best (lowest) of each figure per binary ("-" if none); failed nodes summed over the rounds
	read -r b50 b99 bhwm bfail a50 a99 ahwm afail <<EOF
$(awk '{ for (i = 2; i <= 4; i++) if ($i != "-" && (!(($1, i) in m) || $i + 0 < m[$1, i])) m[$1, i] = $i + 0
	fl[$1] += $5 }
	function g(w, i) { return ((w, i) in m) ? m[w, i] : "-" }
	END { for (w = 0; w < 2; w++) { x = w ? "autopxe" : "base"; printf "%s %s %s %d ", g(x, 2), g(x, 3), g(x, 4), fl[x] }
		print "" }' "$dir/figs")
EOF
	echo "storm best of ${ROUNDS:-3} rounds, $nodes nodes: $base_name p50=$b50 p99=$b99 vmhwm_kb=$bhwm" \
		"failed=$bfail; autopxe p50=$a50 p99=$a99 vmhwm_kb=$ahwm failed=$afail"
	echo "storm ratios $base_name/autopxe: p50 $(summary_ratio "$b50" "$a50") p99 $(summary_ratio "$b99" "$a99")" \
		"peak RSS $(summary_ratio "$bhwm" "$ahwm")"
	summary_row storm "storm $nodes nodes p50 (ms, base/autopxe)" "$a50" "$base_name" "$b50" \
		"$(summary_ratio "$b50" "$a50")" - "$cmd"
	summary_row storm "storm $nodes nodes p99 (ms, base/autopxe)" "$a99" "$base_name" "$b99" \
		"$(summary_ratio "$b99" "$a99")" - "$cmd"
	summary_row storm "storm $nodes peak RSS (KiB, base/autopxe; 5% noise)" "$ahwm" "$base_name" "$bhwm" \
		"$(summary_ratio "$bhwm" "$ahwm")" ">=0.95" "$cmd"
	summary_row storm "storm $nodes nodes failed (autopxe, all rounds)" "$afail" - - - "=0" "$cmd"
	exit "$st"
fi
case $store in
on | off)
	run "$store" || st=$?
	figs autopxe
	read -r _ a50 a99 ahwm afail <"$dir/figs"
	summary_row storm "storm $nodes nodes p50 (ms)" "$a50" - - - - "$cmd"
	summary_row storm "storm $nodes nodes p99 (ms)" "$a99" - - - - "$cmd"
	summary_row storm "storm $nodes peak RSS (KiB)" "$ahwm" - - - - "$cmd"
	summary_row storm "storm $nodes nodes failed (autopxe)" "$afail" - - - "=0" "$cmd"
	exit "$st"
	;;
both)
	best_on='' best_off=''
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
