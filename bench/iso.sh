#!/bin/sh
# iso.sh [BUILD] - serving a 50 MiB initrd out of an ISO: stream through libarchive per request (bench/iso_stream.c,
# in-process, so a lower bound: no HTTP) versus extract once into CacheDir and serve the plain file over HTTP with
# autopxe (curl: time to first byte and throughput, whole file and a Range from 40 MiB). Also the one-time cost of
# the first scan (probe + extract) and of later scans (manifest). Env: AUTOPXE_BIN, ENTRIES (other files, 3000).
# BENCH_SUMMARY: the rows of bench/run.sh's final table are appended there (bench/summary.sh): the extracted file
# over HTTP against the stream, whole-file MiB/s and time to first byte of the whole file and of the Range (ratio
# stream/autopxe), and the first scan's time; no targets (this script states none).
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$here/summary.sh"
top=$here/..
mkdir -p "$build"
abs=$(cd "$build" && pwd)
bin=${AUTOPXE_BIN:-$abs/autopxe}
[ -x "$bin" ] || make -s -C "$top" BUILD="$abs" "$abs/autopxe"
make -s -C "$top" BUILD="$abs" "$abs/iso_stream"
dir=$(mktemp -d /tmp/autopxe-isobench.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
src=$dir/src
mkdir -p "$src/casper" "$src/pool"
head -c 12582912 /dev/urandom >"$src/casper/vmlinuz"
head -c 52428800 /dev/urandom >"$src/casper/initrd"
# a real installer image has thousands of entries before and after the boot files
i=0
while [ "$i" -lt "${ENTRIES:-3000}" ]; do
	d=$src/pool/p$((i / 100))
	[ -d "$d" ] || mkdir -p "$d"
	printf '%s\n' "$i" >"$d/pkg$i.deb"
	i=$((i + 1))
done
mkdir -p "$dir/rootfs/iso"
xorriso -as mkisofs -R -J -V 'BENCH_LIVE' -o "$dir/rootfs/iso/bench.iso" "$src" >/dev/null 2>&1
chmod -R a+rX "$dir"
echo "ISO: $(du -h "$dir/rootfs/iso/bench.iso" | cut -f1), $(find "$src" | wc -l) entries; initrd 50 MiB"
"$abs/iso_stream" "$dir/rootfs/iso/bench.iso" casper/initrd 41943040 5 >"$dir/stream.out"
cat "$dir/stream.out"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 1\nRootfsPath: %s/rootfs\nCacheDir: %s/cache\nStateDir: %s/state\nWatch: false\nLogLevel: warn\nUser: root\n' \
	"$dir" "$dir" "$dir" >"$dir/config.yaml"
# shellcheck disable=SC2016 # ${iso-url} is the template's, not ours
printf 'CmdlineTemplates:\n  live: boot=casper iso-url=${iso-url}\n' >>"$dir/config.yaml"
t0=$(date +%s%N)
"$bin" -c "$dir/config.yaml" scan >/dev/null 2>&1
t1=$(date +%s%N)
"$bin" -c "$dir/config.yaml" scan >/dev/null 2>&1
t2=$(date +%s%N)
echo "extract once: first scan (probe + extract 62 MiB) $(((t1 - t0) / 1000000)) ms; later scans (manifest) $(((t2 - t1) / 1000000)) ms"
"$bin" -c "$dir/config.yaml" --tftp-listen off --http-listen "127.0.0.1:$port" serve 2>"$dir/log" &
pid=$!
for _ in $(seq 1 50); do curl -s "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
url=http://127.0.0.1:$port/boot/iso/bench.iso/casper/initrd
for what in whole range; do
	r=
	[ "$what" = range ] && r="-r 41943040-"
	# shellcheck disable=SC2086
	for _ in 1 2 3 4 5; do curl -s $r -o /dev/null -w '%{time_starttransfer} %{time_total} %{size_download}\n' "$url"; done |
		sort -n | awk -v w="$what" 'NR==3 { printf "extracted file over HTTP (autopxe), %-5s: time to first byte %.2f ms, %d bytes in %.1f ms (%.0f MiB/s), median of 5\n", w, $1*1000, $3, $2*1000, $3/1048576/$2 }'
done | tee "$dir/http.out"
# fig FILE WORD KEY: a figure of the line naming WORD (whole|range); KEY ttfb (ms) or rate (MiB/s)
fig() {
	case $3 in
	ttfb) sed -n "s/.*, $2 *: time to first byte \([0-9.]*\) ms.*/\1/p" "$1" ;;
	rate) sed -n "s/.*, $2 *: .*(\([0-9.]*\) MiB\/s).*/\1/p" "$1" ;;
	esac
}
cmd="${AUTOPXE_BIN:+AUTOPXE_BIN=$AUTOPXE_BIN }${ENTRIES:+ENTRIES=$ENTRIES }bench/iso.sh $build"
h_rate=$(fig "$dir/http.out" whole rate) s_rate=$(fig "$dir/stream.out" "whole file" rate)
h_ttfb=$(fig "$dir/http.out" whole ttfb) s_ttfb=$(fig "$dir/stream.out" "whole file" ttfb)
h_rttfb=$(fig "$dir/http.out" range ttfb) s_rttfb=$(fig "$dir/stream.out" range ttfb)
summary_row iso "ISO initrd 50 MiB over HTTP (MiB/s)" "$h_rate" iso_stream "$s_rate" \
	"$(summary_ratio "$h_rate" "$s_rate")" - "$cmd"
summary_row iso "ISO initrd first byte (ms, stream/autopxe)" "$h_ttfb" iso_stream "$s_ttfb" \
	"$(summary_ratio "$s_ttfb" "$h_ttfb")" - "$cmd"
summary_row iso "ISO Range@40MiB first byte (ms, stream/autopxe)" "$h_rttfb" iso_stream "$s_rttfb" \
	"$(summary_ratio "$s_rttfb" "$h_rttfb")" - "$cmd"
summary_row iso "ISO first scan, probe + extract 62 MiB (ms)" "$(((t1 - t0) / 1000000))" - - - - "$cmd"
