#!/bin/sh
# fleet_auth.sh - write endpoints from outside loopback: run in a private network namespace (unshare -n) where
# 192.0.2.1 (TEST-NET-1) sits on lo, so requests from it are not "loopback" to the server. Checks: without
# APITokenFile non-loopback writes are 403; with it, no or a wrong token is 401, the right one works (pin and
# reload); loopback needs no token; failures are counted in /metrics. Prints "auth: all checks passed".
# Env: AUTOPXE_BIN (default build/autopxe-san). Needs root (unshare -n, ip).
set -eu
if [ "${FLEET_AUTH_INNER:-}" != 1 ]; then
	exec env FLEET_AUTH_INNER=1 unshare -n "$0" "$@"
fi
bin=${AUTOPXE_BIN:-build/autopxe-san}
ip link set lo up
ip addr add 192.0.2.1/32 dev lo
dir=$(mktemp -d /tmp/autopxe-auth.XXXXXX)
chmod 755 "$dir"
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
r=$dir/rootfs
mkdir -p "$r/debian/bookworm/boot"
echo k >"$r/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64"
echo i >"$r/debian/bookworm/boot/initrd.img-6.1.0-21-amd64"
chmod -R a+rX "$dir"
conf() {
	printf 'version: 1\nRootfsPath: %s\nStateDir: %s/state\nWatch: false\nCmdlineTemplates:\n  nfs: root=/dev/nfs\n' \
		"$r" "$dir"
	[ -n "${1:-}" ] && printf 'APITokenFile: %s\n' "$1"
	return 0
}
conf >"$dir/config.yaml"
"$bin" --config "$dir/config.yaml" --tftp-listen off --http-listen 0.0.0.0:8080 serve 2>"$dir/server.log" &
pid=$!
i=0
until curl -fs -o /dev/null http://127.0.0.1:8080/healthz; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { cat "$dir/server.log"; exit 1; }
	sleep 0.1
done
fail=0
check() { # check WANT DESCRIPTION CURL-ARGS...
	want=$1 what=$2
	shift 2
	got=$(curl -s -o /dev/null -w '%{http_code}' -m 10 "$@")
	if [ "$got" = "$want" ]; then
		echo "auth: ok   $what: $got"
	else
		echo "auth: FAIL $what: got $got, want $want"
		fail=1
	fi
}
pin='{"boot":"debian/bookworm/latest/nfs"}'
out=http://192.0.2.1:8080
lo=http://127.0.0.1:8080
check 403 "no token file, from 192.0.2.1" --interface 192.0.2.1 -X POST -d "$pin" "$out/api/v1/hosts/525400000001/pin"
check 403 "no token file, reload from 192.0.2.1" --interface 192.0.2.1 -X POST "$out/api/v1/reload"
check 200 "no token file, from loopback" -X POST -d "$pin" "$lo/api/v1/hosts/525400000001/pin"
check 200 "reads need no token" --interface 192.0.2.1 "$out/api/v1/nodes"
printf 's3cret-token-%s\n' "$$" >"$dir/token"
chmod 644 "$dir/token"
conf "$dir/token" >"$dir/config.yaml"
check 200 "reload from loopback picks up APITokenFile" -X POST "$lo/api/v1/reload"
check 401 "token file, no token" --interface 192.0.2.1 -X POST -d "$pin" "$out/api/v1/hosts/525400000002/pin"
check 401 "token file, wrong token" --interface 192.0.2.1 -H "Authorization: Bearer s3cret-token-x" -X POST \
	-d "$pin" "$out/api/v1/hosts/525400000002/pin"
check 401 "token file, token prefix only" --interface 192.0.2.1 -H "Authorization: Bearer s3cret" -X DELETE \
	"$out/api/v1/hosts/525400000001/pin"
tok=$(cat "$dir/token")
check 200 "token file, right token" --interface 192.0.2.1 -H "Authorization: Bearer $tok" -X POST -d "$pin" \
	"$out/api/v1/hosts/525400000002/pin"
check 200 "right token, unpin" --interface 192.0.2.1 -H "Authorization: Bearer $tok" -X DELETE \
	"$out/api/v1/hosts/525400000002/pin"
check 200 "right token, reload" --interface 192.0.2.1 -H "Authorization: Bearer $tok" -X POST "$out/api/v1/reload"
check 200 "loopback still needs none" -X DELETE "$lo/api/v1/hosts/525400000001/pin"
n=$(curl -s "$lo/metrics" | sed -n 's/^autopxe_api_auth_failures_total //p')
if [ "$n" = 5 ]; then echo "auth: ok   failures counted: $n"; else echo "auth: FAIL failures counted: $n, want 5"; fail=1; fi
if grep -q "refused: wrong bearer token" "$dir/server.log" && ! grep -q "$tok" "$dir/server.log"; then
	echo "auth: ok   refusals logged, the token never"
else
	echo "auth: FAIL log"; fail=1
fi
kill "$pid"
wait "$pid" || { echo "auth: FAIL server exit status"; fail=1; }
pid=
if grep -q -E "AddressSanitizer|runtime error" "$dir/server.log"; then cat "$dir/server.log"; fail=1; fi
[ "$fail" = 0 ] && echo "auth: all checks passed"
exit "$fail"
