#!/bin/sh
# scan.sh [BUILD] - scan time of a 10,000-release tree and render time per request at that size, next to a
# 100-release tree: the main menu (one line per distro, 101 in both) and a 5-release submenu must cost the same,
# whatever the tree holds. bench/scan_bench.c is linked against the library objects (make BUILD/scan_bench).
# Env: KEEP=1 keeps the trees; SCAN_RELEASES: releases per distro in the big tree (default 100: 10,005 releases;
# 10 with BENCH_QUICK=1). BENCH_SUMMARY: the rows of bench/run.sh's final table are appended there
# (bench/summary.sh): the big tree's warm scan time (no target), and the main menu's and the small submenu's render
# time in the big tree against the small one, ratio small/big, target >= 0.50: the claim is "the same cost", the
# figures are a few microseconds each, so half is the noise allowed; a cost that grew with the tree would be far
# below it.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$here/summary.sh"
if [ "${BENCH_QUICK:-0}" = 1 ]; then nr=${SCAN_RELEASES:-10}; else nr=${SCAN_RELEASES:-100}; fi
top=$here/..
mkdir -p "$build"
abs=$(cd "$build" && pwd)
bin=$abs/scan_bench
# linked by the Makefile against the library objects, with the server's own flags and libraries
make -s -C "$top" BUILD="$abs" "$bin"
dir=$(mktemp -d /tmp/autopxe-scanbench.XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$dir"' EXIT INT TERM
echo "== 100 distros x 1 release (+5) =="
"$bin" "$dir/small" 100 1 2>/dev/null >"$dir/small.out"
cat "$dir/small.out"
echo "== 100 distros x $nr releases (+5): $((100 * nr + 5)) releases =="
"$bin" "$dir/big" 100 "$nr" 500 2>/dev/null >"$dir/big.out"
cat "$dir/big.out"
# releases FILE, warm FILE, render WHAT FILE: figures from scan_bench's output
releases() { sed -n 's/^scan \([0-9]*\) releases.*/\1/p' "$1"; }
warm() { sed -n 's/^scan [0-9]* releases.* warm median \([0-9.]*\) ms.*/\1/p' "$1"; }
render() { sed -n "s/^render $1 *with *[0-9]* releases in the tree: *\([0-9.]*\) us per request.*/\1/p" "$2"; }
nb=$(releases "$dir/big.out")
ns=$(releases "$dir/small.out")
cmd="${SCAN_RELEASES:+SCAN_RELEASES=$SCAN_RELEASES }bench/scan.sh $build"
[ "${BENCH_QUICK:-0}" != 1 ] || cmd="BENCH_QUICK=1 $cmd"
summary_row scan "scan $nb releases, warm median (ms)" "$(warm "$dir/big.out")" - - - - "$cmd"
for what in "main menu" "small submenu"; do
	b=$(render "$what" "$dir/big.out")
	sm=$(render "$what" "$dir/small.out")
	summary_row scan "render $what, $nb rel. (us, $ns/$nb)" "$b" "$ns releases" "$sm" "$(summary_ratio "$sm" "$b")" \
		">=0.50" "$cmd"
done
