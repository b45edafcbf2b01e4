#!/bin/sh
# run.sh FUZZDIR SECONDS - run every libFuzzer target for SECONDS on a copy of its seed corpus (+ dictionary),
# report executions per target; any crash, leak or timeout fails the run and leaves the input in FUZZDIR/artifacts.
set -u
dir=$1 secs=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0
mkdir -p "$dir/artifacts"
for bin in "$dir"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); t=${name#fuzz_}
  work="$dir/corpus-run/$t"; mkdir -p "$work"
  [ -d "$here/corpus/$t" ] && cp -f "$here/corpus/$t"/* "$work"/ 2>/dev/null
  dict=""; [ -f "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
  # per-target libFuzzer flags (first line of <target>.options), e.g. iso: fork mode that survives the known
  # libarchive loop (tests/fuzz/pending/README) while crashes and leaks still fail the run
  opts=""; [ -f "$here/$t.options" ] && opts=$(sed -n '/^-/{p;q}' "$here/$t.options")
  log="$dir/$name.log"
  # shellcheck disable=SC2086
  if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$dir/artifacts/$t-" $dict $opts "$work" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$log" | tail -n 1) # fork mode
    printf 'fuzz %-8s ok    %10s execs in %ss (corpus %s)\n' "$t" "${execs:-?}" "$secs" "$(ls "$work" | wc -l)"
    pass=$((pass + 1))
  else
    printf 'fuzz %-8s FAIL  see %s\n' "$t" "$log"
    grep -m5 -E 'ERROR|SUMMARY|runtime error' "$log" | sed 's/^/    /'
    fail=$((fail + 1))
  fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
