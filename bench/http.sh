#!/bin/sh
# bench/http.sh - autopxe's HTTP front end against nginx on loopback: 64 MiB download and menu requests/s.
#
# Usage: bench/http.sh [BUILD_DIR]      (uses BUILD_DIR/autopxe, default build/; AUTOPXE_BIN overrides)
# Env:   BENCH_DURATION (wrk seconds, default 10; 2 with BENCH_QUICK=1), BENCH_STRICT=1 (exit 1 when a target is
#        missed), BENCH_SUMMARY (a file to append the rows of bench/run.sh's final table to: bench/summary.sh)
# Needs: curl, wrk, nginx (nginx-light). Everything listens on 127.0.0.1 only and stops by itself.
#
# Downloads alternate between the servers (best of 5 each), and so do the wrk runs (best of 2 each).
# Both servers log every request to a file (autopxe's access log at LogLevel info, nginx's access_log),
# use sendfile, and get the same number of threads/workers (the number of cores).
# Targets (issue 18): file download >= 1.0x nginx; rendered menu >= 1.0x nginx serving the same bytes as a static file.
set -eu

BUILD=${1:-build}
BIN=${AUTOPXE_BIN:-$BUILD/autopxe}
if [ "${BENCH_QUICK:-0}" = 1 ]; then DUR=${BENCH_DURATION:-2}; else DUR=${BENCH_DURATION:-10}; fi
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. "$here/summary.sh"
CORES=$(nproc 2>/dev/null || echo 2)
MAC=bc2411b01ade

for tool in curl wrk nginx; do
	command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || { echo "bench/http: $tool is missing" >&2; exit 2; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$BIN" ] || { echo "bench/http: $BIN not built (make BUILD=$BUILD $BUILD/autopxe)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/autopxe-bench-http.XXXXXX)
chmod 755 "$tmp"
apid=
npid=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -n "$apid" ] && kill "$apid" 2>/dev/null && wait "$apid" 2>/dev/null
	[ -n "$npid" ] && kill "$npid" 2>/dev/null && wait "$npid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# A loopback TCP port nobody listens on (from /proc/net/tcp{,6}), starting at $1.
free_port() {
	p=$1
	while awk -v p="$(printf '%04X' "$p")" 'NR > 1 && $4 == "0A" { split($2, a, ":"); if (a[2] == p) f = 1 }
		END { exit f ? 0 : 1 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; do
		p=$((p + 1))
	done
	echo "$p"
}

# ---- fixture: one release with a 64 MiB kernel
rel=$tmp/rootfs/debian/bookworm
mkdir -p "$rel/boot" "$rel/etc" "$tmp/www"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$rel/boot/vmlinuz-6.1.0-21-amd64"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$rel/boot/initrd.img-6.1.0-21-amd64"
head -c 4096 /dev/urandom >"$rel/boot/vmlinuz-6.1.0-9-amd64"
head -c 4096 /dev/urandom >"$rel/boot/initrd.img-6.1.0-9-amd64"
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n' >"$rel/etc/os-release"
chmod -R a+rX "$tmp"
ln "$rel/boot/vmlinuz-6.1.0-21-amd64" "$tmp/www/kernel" # the very same files (and page cache) for nginx
ln "$rel/boot/vmlinuz-6.1.0-9-amd64" "$tmp/www/small"
# wrk script: a different MAC on every request, so every menu is rendered (the cache cannot help)
cat >"$tmp/macs.lua" <<'EOF'
math.randomseed(42)
request = function()
	return wrk.format("GET", string.format("/autopxe-02%05x%05x", math.random(0, 1048575), math.random(0, 1048575)))
end
EOF

APORT=$(free_port $((20000 + $$ % 20000)))
NPORT=$(free_port $((APORT + 1)))
cat >"$tmp/config.yaml" <<EOF
version: 1
DefaultDistro: debian/bookworm/latest/overlayfs
RootfsPath: $tmp/rootfs
Env:
  nfs-server: 192.0.2.10
CmdlineTemplates:
  overlayfs: root=/dev/nfs nfsroot=\${nfs-server}:\${rootfs-path} ip=dhcp rootovl
  nfsrw: root=/dev/nfs nfsroot=\${nfs-server}:\${rootfs-path} ip=dhcp rw
HostDefaults:
  $MAC: debian/bookworm/6.1.0-9-amd64/nfsrw
HTTPThreads: $CORES
HTTPMaxPerClient: 256
Watch: false
StateDir: $tmp/state
LogLevel: ${BENCH_LOGLEVEL:-info}
EOF
"$BIN" --config "$tmp/config.yaml" --tftp-listen off --http-listen "127.0.0.1:$APORT" serve 2>"$tmp/autopxe.log" &
apid=$!
i=0
until curl -sf -o /dev/null "http://127.0.0.1:$APORT/healthz"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "bench/http: autopxe did not start:" >&2; cat "$tmp/autopxe.log" >&2; exit 1; }
	sleep 0.1
done

curl -sf -o "$tmp/www/menu.ipxe" "http://127.0.0.1:$APORT/autopxe-$MAC"
chmod a+r "$tmp/www/menu.ipxe"

mkdir -p "$tmp/nginx"
cat >"$tmp/nginx.conf" <<EOF
worker_processes $CORES;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log $tmp/nginx/access.log;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types { text/plain ipxe; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$NPORT;
        root $tmp/www;
    }
}
EOF
"$NGINX" -p "$tmp/nginx" -c "$tmp/nginx.conf" 2>"$tmp/nginx/stderr.log" &
npid=$!
i=0
until curl -sf -o /dev/null "http://127.0.0.1:$NPORT/menu.ipxe"; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "bench/http: nginx did not start:" >&2; cat "$tmp/nginx/stderr.log" >&2; exit 1; }
	sleep 0.1
done

# same bytes from both?
curl -sf "http://127.0.0.1:$NPORT/menu.ipxe" | cmp -s - "$tmp/www/menu.ipxe" ||
	{ echo "bench/http: menu differs" >&2; exit 1; }
curl -sf "http://127.0.0.1:$APORT/boot/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64" | cmp -s - "$tmp/www/kernel" ||
	{ echo "bench/http: kernel differs" >&2; exit 1; }

# best of 5 single downloads each, bytes/s; the two servers alternate so both see the same machine load
best_downloads() {
	ba=0
	bn=0
	for _ in 1 2 3 4 5; do
		s=$(curl -sf -o /dev/null -w '%{speed_download}' "$1")
		ba=$(awk -v a="$ba" -v b="$s" 'BEGIN { print (b > a) ? b : a }')
		s=$(curl -sf -o /dev/null -w '%{speed_download}' "$2")
		bn=$(awk -v a="$bn" -v b="$s" 'BEGIN { print (b > a) ? b : a }')
	done
	echo "$ba $bn"
}
rps() {
	wrk -t2 -c64 -d"${DUR}s" ${2:+-s "$2"} "$1" | awk '/^Requests\/sec:/ { print $2 }'
}
# best of 2 runs each, alternating: "autopxe nginx" requests/s
rps_pair() {
	a1=$(rps "$1")
	n1=$(rps "$2")
	a2=$(rps "$1")
	n2=$(rps "$2")
	awk -v a1="$a1" -v a2="$a2" -v n1="$n1" -v n2="$n2" 'BEGIN { print (a1 > a2 ? a1 : a2), (n1 > n2 ? n1 : n2) }'
}

A_URL="http://127.0.0.1:$APORT/boot/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64"
N_URL="http://127.0.0.1:$NPORT/kernel"
dls=$(best_downloads "$A_URL" "$N_URL")
a_dl=${dls% *}
n_dl=${dls#* }
p=$(rps_pair "http://127.0.0.1:$APORT/autopxe-$MAC" "http://127.0.0.1:$NPORT/menu.ipxe")
a_rps=${p% *}
n_rps=${p#* }
a_mrps=$(rps "http://127.0.0.1:$APORT/" "$tmp/macs.lua")
p=$(rps_pair "http://127.0.0.1:$APORT/boot/debian/bookworm/boot/vmlinuz-6.1.0-9-amd64" "http://127.0.0.1:$NPORT/small")
a_frps=${p% *}
n_frps=${p#* }

menu_bytes=$(wc -c <"$tmp/www/menu.ipxe")
cmd="${AUTOPXE_BIN:+AUTOPXE_BIN=$AUTOPXE_BIN }${BENCH_LOGLEVEL:+BENCH_LOGLEVEL=$BENCH_LOGLEVEL }"
cmd="${cmd}BENCH_DURATION=$DUR bench/http.sh $BUILD"
mib() { awk -v b="$1" 'BEGIN { if (b == "") print "-"; else printf "%.1f\n", b / 1048576 }'; }
whole() { awk -v r="$1" 'BEGIN { if (r == "") print "-"; else printf "%.0f\n", r }'; }
summary_row http "64 MiB download (MiB/s)" "$(mib "$a_dl")" nginx "$(mib "$n_dl")" "$(summary_ratio "$a_dl" "$n_dl")" \
	">=1.00" "$cmd"
summary_row http "menu rendered vs nginx static (req/s)" "$(whole "$a_rps")" nginx "$(whole "$n_rps")" \
	"$(summary_ratio "$a_rps" "$n_rps")" ">=1.00" "$cmd"
summary_row http "menu, a new MAC per request (req/s)" "$(whole "$a_mrps")" nginx "$(whole "$n_rps")" \
	"$(summary_ratio "$a_mrps" "$n_rps")" - "$cmd"
summary_row http "4 KiB file (req/s)" "$(whole "$a_frps")" nginx "$(whole "$n_frps")" \
	"$(summary_ratio "$a_frps" "$n_frps")" - "$cmd"
awk -v ad="$a_dl" -v nd="$n_dl" -v ar="$a_rps" -v nr="$n_rps" -v af="$a_frps" -v nf="$n_frps" -v am="$a_mrps" \
	-v mb="$menu_bytes" \
	-v cores="$CORES" -v dur="$DUR" 'BEGIN {
	printf "bench/http: loopback, %d cores, wrk -t2 -c64 -d%ss (best of 2)\n", cores, dur
	printf "  64 MiB download (best of 5): autopxe %8.1f MiB/s   nginx %8.1f MiB/s   ratio %.2f (target >= 1.00)\n",
	    ad / 1048576, nd / 1048576, ad / nd
	printf "  menu (%d B):  autopxe rendered %9.0f req/s   nginx static %9.0f req/s   ratio %.2f (target >= 1.00)\n",
	    mb, ar, nr, ar / nr
	printf "  menu, a new MAC per request (every one rendered): autopxe %9.0f req/s   ratio %.2f (for reference)\n",
	    am, am / nr
	printf "  4 KiB file: autopxe %9.0f req/s   nginx %9.0f req/s   ratio %.2f (for reference)\n", af, nf, af / nf
	ok = (ad / nd >= 1.0) && (ar / nr >= 1.0)
	printf "  targets: %s\n", ok ? "met" : "MISSED"
	exit ok ? 0 : 3
}' || { [ "${BENCH_STRICT:-0}" = 1 ] && exit 1; }
exit 0
