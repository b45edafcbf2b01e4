#!/bin/sh
# bench/run.sh BUILD_DIR - every benchmark in one go (make bench): TFTP vs tftpd-hpa/dnsmasq and the loopback limit,
# HTTP vs nginx, the boot storm (against the revision before issue 18, built here), the scan/render scaling and ISO
# stream-vs-extract. Each script prints its own figures as it goes; at the end comes one table of every row: the
# autopxe figure, the best peer's, their ratio (always the way round where >= 1 is good), the target and its
# verdict, and a footnote with the command that reproduces the row on its own. docs/performance.md ("make bench:
# the one table") says how to read it.
#
# Env:
#   BENCH_QUICK=1   a smoke run of the whole table (about 3 minutes on 2 cores): tftp's single rows once each and
#                   only its "50 x ... pinned" parallel rows and the quota row, http with 2 s wrk runs, storm at 200 nodes without the
#                   baseline, scan at 1,005 releases, iso as always. The figures are rough; verdicts are printed
#                   but a missed target never fails a quick run (tests/bench_smoke.sh, make bench-smoke).
#   BENCH_SUMMARY   the file the scripts append their rows to (tab-separated: group, row, autopxe, peer_name,
#                   peer_value, ratio, target, verdict, command; bench/summary.sh). Unset: a temp file. When set,
#                   it is emptied first and kept, for scripts that read the rows.
#   BENCH_BASE      the revision storm.sh measures against in the same run (peak RSS "unchanged or lower"): built
#                   from `git archive` in a temp dir. Default 0452b93 (before issue 18); "none" skips it; in quick
#                   mode only when set. Without a git checkout the baseline rows are left out, saying why.
#   BENCH_STRICT=1  exit 1 when a target is missed as well (never in quick mode)
#   BENCH_ONLY      the scripts to run, default "tftp http storm scan iso"
# Exit status: 1 if a bench script failed (or, with BENCH_STRICT=1, a target was missed), else 0.
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=/dev/null
. "$here/base.sh"
quick=${BENCH_QUICK:-0}
[ "$quick" = 1 ] || quick=0
scratch=$(mktemp -d /tmp/autopxe-bench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM
summary=${BENCH_SUMMARY:-$scratch/summary.tsv}
: >"$summary" || exit 1
export BENCH_SUMMARY="$summary" BENCH_QUICK="$quick"
[ "$quick" = 0 ] || export BENCH_STRICT=0
notes=$scratch/notes # lines printed under the table
: >"$notes"

load() { uptime | sed 's/.*load average: *//'; }
rev=$(git -C "$top" rev-parse --short HEAD 2>/dev/null) || rev="(not a git checkout)"
[ -z "$(git -C "$top" status --porcelain --untracked-files=no 2>/dev/null)" ] || rev="$rev+changes"
echo "bench: autopxe $rev, nproc $(nproc), load average at start: $(load)"
[ "$quick" = 0 ] || echo "bench: BENCH_QUICK=1: a smoke run; rough figures, missed targets do not fail it"

# ---- the baseline for storm.sh
if [ -n "${BENCH_BASE+set}" ]; then
	base=$BENCH_BASE
elif [ "$quick" = 1 ]; then
	base=none
	echo "storm: no baseline in quick mode (BENCH_BASE=REV asks for one)" >>"$notes"
else
	base=0452b93
fi
[ "$base" != none ] || base=
base_bin=
if [ -n "$base" ]; then
	echo "=== baseline $base for bench/storm.sh: git archive + make in $scratch/base"
	if out=$(base_build "$top" "$base" "$scratch/base"); then
		base_bin=$out
	else
		echo "bench: baseline skipped: $out"
		echo "storm: baseline $base skipped (no base/autopxe rows): $out" >>"$notes"
	fi
fi

fail=0
for b in ${BENCH_ONLY:-tftp http storm scan iso}; do
	echo "=== bench/$b.sh"
	rc=0
	if [ "$b" = storm ] && [ -n "$base_bin" ]; then
		BASE_BIN=$base_bin BENCH_BASE=$base sh "$here/storm.sh" "$build" || rc=$?
	elif [ "$b" = storm ]; then
		(unset BENCH_BASE BASE_BIN; sh "$here/storm.sh" "$build") || rc=$?
	else
		sh "$here/$b.sh" "$build" || rc=$?
	fi
	if [ "$rc" != 0 ]; then
		echo "bench/$b.sh failed"
		echo "bench/$b.sh FAILED (exit $rc): its rows may be missing or partial" >>"$notes"
		fail=1
	fi
done

# ---- the one table: rows in the order written, the command of each as a footnote (equal commands share one)
echo
echo "=== every benchmark (autopxe $rev; ratios: >= 1 is good; verdicts against the issue 18 targets)"
awk -F'\t' '
	{
		n++; for (i = 1; i <= 9; i++) f[n, i] = $i
		if (!($9 in ref)) { ref[$9] = ++nc; cmd[nc] = $9 }
		if (length($2) > rw) rw = length($2)
		if (length($4) > pw) pw = length($4)
	}
	END {
		if (rw < 3) rw = 3
		if (pw < 9) pw = 9
		fmt = "%-5s %-" rw "s %9s %-" pw "s %9s %6s %6s %-6s %s\n"
		printf fmt, "group", "row", "autopxe", "best peer", "", "ratio", "target", "verdict", "cmd"
		for (r = 1; r <= n; r++)
			printf fmt, f[r, 1], f[r, 2], f[r, 3], f[r, 4], f[r, 4] == "-" ? "" : f[r, 5], f[r, 6], f[r, 7], f[r, 8],
			    "[" ref[f[r, 9]] "]"
		print ""
		print "commands (from the top of the tree):"
		for (c = 1; c <= nc; c++) printf "[%d] %s\n", c, cmd[c]
	}' "$summary"
met=$(awk -F'\t' '$8 == "met" { n++ } END { print n + 0 }' "$summary")
missed=$(awk -F'\t' '$8 == "MISSED" { n++ } END { print n + 0 }' "$summary")
echo
cat "$notes"
echo "load average at end: $(load)"
echo "targets: $met met, $missed missed"
[ "$fail" = 0 ] || exit 1
[ "$quick" = 1 ] || [ "${BENCH_STRICT:-0}" != 1 ] || [ "$missed" = 0 ] || exit 1
exit 0
