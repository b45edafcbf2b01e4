# bench/summary.sh - sourced by the bench scripts: their rows for bench/run.sh's final table, one tab-separated
# line each, appended to the file $BENCH_SUMMARY names (nothing is written when it is unset or empty).
#
# Fields: group row autopxe peer_name peer_value ratio target verdict command
#   group       tftp | http | storm | scan | iso
#   row         a short name ending in its unit, e.g. "curl 64MiB blksize 512 (MB/s)". The ratio is always the one
#               for which >= 1 is good: autopxe/peer for rates; for lower-is-better figures (latency, RSS, time) it
#               is peer/autopxe, and the row name says so, e.g. "storm 1000 nodes p99 (ms, base/autopxe)"
#   autopxe, peer_value   the figures in the row's unit ("-" when there is none; a trailing * marks a figure
#               that had failed transfers), peer_name e.g. tftpd-hpa, nginx, udp_limit, autopxe@0452b93, or "-"
#   ratio       2 decimals, or "-" when there is no peer figure
#   target      ">=R" judges the ratio; "=N" judges the autopxe figure itself (failed transfers: =0); "-": none
#   verdict     met | MISSED | - (no target, or no figure to judge it by); computed here, by summary_row only
#   command     what reproduces the row on its own, run from the top of the tree
# shellcheck shell=sh

# summary_ratio A B: A/B with 2 decimals, or "-" unless both are numbers (a trailing * is ignored) and B > 0.
summary_ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		sub(/\*$/, "", a); sub(/\*$/, "", b)
		num = "^[0-9]+([.][0-9]*)?$"
		if (a ~ num && b ~ num && b + 0 > 0) printf "%.2f\n", a / b; else print "-"
	}'
}

# summary_row GROUP ROW AUTOPXE PEER_NAME PEER_VALUE RATIO TARGET COMMAND: append one row, verdict computed here.
summary_row() {
	[ -n "${BENCH_SUMMARY:-}" ] || return 0
	awk -v g="$1" -v row="$2" -v a="$3" -v pn="$4" -v pv="$5" -v r="$6" -v t="$7" -v cmd="$8" 'BEGIN {
		OFS = "\t"
		num = "^-?[0-9]+([.][0-9]*)?$"
		n = split("g row a pn pv r t cmd", k, " ")
		f["g"] = g; f["row"] = row; f["a"] = a; f["pn"] = pn; f["pv"] = pv; f["r"] = r; f["t"] = t; f["cmd"] = cmd
		for (i = 1; i <= n; i++) { gsub(/[\t\n]/, " ", f[k[i]]); if (f[k[i]] == "") f[k[i]] = "-" }
		if (f["r"] ~ num) f["r"] = sprintf("%.2f", f["r"])
		av = f["a"]; sub(/\*$/, "", av)
		v = "-"
		if (f["t"] ~ /^>=/) {
			if (f["r"] ~ num) v = (f["r"] + 0 >= substr(f["t"], 3) + 0) ? "met" : "MISSED"
		} else if (f["t"] ~ /^=/) {
			if (av ~ num) v = (av + 0 == substr(f["t"], 2) + 0) ? "met" : "MISSED"
		} else if (f["t"] != "-") {
			printf "bench/summary: row \"%s\": unknown target \"%s\" (>=R or =N)\n", f["row"], f["t"] > "/dev/stderr"
		}
		print f["g"], f["row"], f["a"], f["pn"], f["pv"], f["r"], f["t"], v, f["cmd"]
	}' >>"$BENCH_SUMMARY"
}
