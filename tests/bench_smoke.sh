#!/bin/sh
# tests/bench_smoke.sh [BUILD] - so the benchmarks cannot rot: runs `BENCH_QUICK=1 bench/run.sh BUILD` (every bench
# script, short) and checks its final table: a row for every group (tftp, http, storm, scan, iso), every autopxe
# figure a number, every ratio a number wherever there is a peer figure ("-" only where there is none), autopxe's
# failed TFTP transfers 0, and the closing "targets:" line. Missed targets do not fail it: quick figures are rough.
# make bench-smoke (and make test) runs it. The whole output of the run is kept in BENCH_SMOKE_LOG if that is set.
set -eu
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/autopxe-bench-smoke.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
log=${BENCH_SMOKE_LOG:-$tmp/run.log}
rows=$tmp/rows.tsv
cd "$top"
rc=0
t0=$(date +%s)
BENCH_QUICK=1 BENCH_SUMMARY="$rows" bench/run.sh "$build" >"$log" 2>&1 || rc=$?
t1=$(date +%s)
# the final table, from its heading to the end
table=$tmp/table
sed -n '/^=== every benchmark/,$p' "$log" >"$table"
cat "$table"
echo "bench_smoke: BENCH_QUICK=1 bench/run.sh took $((t1 - t0)) s"
bad=0
problem() {
	echo "bench_smoke: FAIL: $*"
	bad=1
}
[ "$rc" = 0 ] || problem "bench/run.sh exited $rc (a bench script failed; its output follows)"
[ -s "$table" ] || problem "no final table in the output of bench/run.sh"
for g in tftp http storm scan iso; do
	grep -q "^$g " "$table" || problem "the table has no $g row"
	awk -F'\t' -v g="$g" '$1 == g { f = 1 } END { exit !f }' "$rows" || problem "no $g row in BENCH_SUMMARY"
done
awk -F'\t' '
	function num(v) { return v ~ /^-?[0-9]+([.][0-9]+)?\*?$/ }
	NF != 9 { printf "row %d has %d fields, not 9: %s\n", NR, NF, $0; bad = 1; next }
	!num($3) { printf "%s \"%s\": the autopxe figure is \"%s\", not a number\n", $1, $2, $3; bad = 1 }
	$4 != "-" && !($6 ~ /^[0-9]+[.][0-9][0-9]$/) {
		printf "%s \"%s\": peer %s = \"%s\" but the ratio is \"%s\", not a number\n", $1, $2, $4, $5, $6; bad = 1 }
	$4 == "-" && $6 != "-" { printf "%s \"%s\": a ratio (%s) without a peer\n", $1, $2, $6; bad = 1 }
	$8 != "met" && $8 != "MISSED" && $8 != "-" { printf "%s \"%s\": verdict \"%s\"\n", $1, $2, $8; bad = 1 }
	END { exit bad }' "$rows" >"$tmp/bad" || problem "$(cat "$tmp/bad")"
failed=$(awk -F'\t' '$1 == "tftp" && $2 == "failed transfers (autopxe)" { print $3 }' "$rows")
[ "$failed" = 0 ] || problem "failed transfers (autopxe): \"$failed\", not 0"
tail -n 1 "$log" | grep -q '^targets: [0-9]* met, [0-9]* missed$' || problem "the last line is not \"targets: N met, M missed\""
if [ "$bad" != 0 ]; then
	echo "bench_smoke: the output of bench/run.sh, last 80 lines:"
	tail -n 80 "$log"
	exit 1
fi
echo "bench_smoke: ok"
