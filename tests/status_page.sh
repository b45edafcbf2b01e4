#!/bin/sh
# status_page.sh - the status page at / in headless Chromium: a server on loopback, three nodes booted with curl
# (menu, kernel, initrd; one stops after its kernel, one is pinned), then Chromium loads / , runs its script
# (which polls /api/v1/nodes) and dumps the DOM: the table must list the nodes with their states and the counts
# must match; then the pin form is driven over the DevTools protocol (tests/cdp_eval.py): a pin set with it, and
# cleared with it, changes that node's next menu. Screenshots (desktop and phone width) go to $OUT (default
# build/test-output).
# Prints "status page: ok". Env: AUTOPXE_BIN (default build/autopxe-san), OUT.
set -eu
bin=${AUTOPXE_BIN:-build/autopxe-san}
out=${OUT:-build/test-output}
mkdir -p "$out"
out=$(cd "$out" && pwd)
dir=$(mktemp -d /tmp/autopxe-status.XXXXXX)
chmod 755 "$dir"
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
r=$dir/rootfs
mkdir -p "$r/debian/bookworm/boot" "$r/ubuntu/noble/boot"
head -c 100000 /dev/urandom >"$r/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64"
head -c 200000 /dev/urandom >"$r/debian/bookworm/boot/initrd.img-6.1.0-21-amd64"
head -c 100000 /dev/urandom >"$r/ubuntu/noble/boot/vmlinuz-6.8.0-31-generic"
head -c 200000 /dev/urandom >"$r/ubuntu/noble/boot/initrd.img-6.8.0-31-generic"
chmod -R a+rX "$dir"
printf 'version: 1\nRootfsPath: %s\nStateDir: %s/state\nWatch: false\nDefaultDistro: debian/bookworm/latest/nfs\nCmdlineTemplates:\n  nfs: root=/dev/nfs\n' \
	"$r" "$dir" >"$dir/config.yaml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tport=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --config "$dir/config.yaml" --tftp-listen "127.0.0.1:$tport" --http-listen "127.0.0.1:$port" serve \
	2>"$dir/server.log" &
pid=$!
base=http://127.0.0.1:$port
i=0
until curl -fs -o /dev/null "$base/healthz"; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { cat "$dir/server.log"; exit 1; }
	sleep 0.1
done
# node 1 boots fully from 127.0.0.11, node 2 stops after its kernel (127.0.0.12), node 3 is pinned to ubuntu
curl -fs -o /dev/null -X POST -d '{"boot":"ubuntu/noble/latest/nfs","once":true}' "$base/api/v1/hosts/52:54:00:00:00:03/pin"
boot() { # boot MAC IP [kernel-only]
	menu=$(curl -fs --interface "$2" "$base/autopxe-$1")
	k=$(printf '%s\n' "$menu" | sed -n 's/^kernel --name vmlinuz \([^ ]*\) .*/\1/p' | head -n 1)
	i=$(printf '%s\n' "$menu" | sed -n 's/^initrd --name initrd \([^ ]*\).*/\1/p' | head -n 1)
	curl -fs -o /dev/null --interface "$2" "$base$k"
	[ -n "${3:-}" ] || curl -fs -o /dev/null --interface "$2" "$base$i"
}
boot 525400000001 127.0.0.11
boot 525400000002 127.0.0.12 kernel-only
boot 525400000003 127.0.0.13
sleep 0.3
profile=$(mktemp -d /tmp/autopxe-chromium.XXXXXX)
chrome() {
	chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --user-data-dir="$profile" --virtual-time-budget=4000 "$@" \
		2>>"$dir/chromium.log"
}
chrome --dump-dom "$base/" >"$dir/dom.html"
chrome --window-size=1280,900 --screenshot="$out/status-page.png" "$base/" >/dev/null
chrome --window-size=390,844 --screenshot="$out/status-page-phone.png" "$base/" >/dev/null
fail=0
# the pin form, driven over the DevTools protocol: set a pin for node 1, then clear it; each changes its next menu
printf '%s\n' --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
	--disable-component-update --disable-sync --user-data-dir="$profile" >"$dir/flags"
wait_js='new Promise(function(ok){var n=0;(function w(){var m=document.getElementById("msg");
 if((m&&m.textContent)||n++>100)ok(m?m.textContent:"no #msg");else setTimeout(w,50);})();})'
ready_js='new Promise(function(ok){var n=0;(function w(){var e=document.getElementById("shown");
 if((e&&e.textContent)||n++>100)ok(e?e.textContent:"");else setTimeout(w,50);})();})'
set_js='document.getElementById("pin-mac").value="52:54:00:00:00:01";
 document.getElementById("pin-boot").value="ubuntu/noble/latest/nfs";
 document.getElementById("pin-once").checked=false;
 document.getElementById("pin-form").requestSubmit();"submitted"'
clear_js='document.getElementById("pin-mac").value="525400000001";document.getElementById("pin-clear").click();"clicked"'
# keyboard use: every control has a label, nothing is taken out of the tab order
a11y_js='"unlabelled="+Array.prototype.filter.call(document.querySelectorAll("input"),function(i){return !i.labels.length;}).length
 +" untabbable="+Array.prototype.filter.call(document.querySelectorAll("input,button,[tabindex]"),function(e){return e.tabIndex<0||e.disabled;}).length'
python3 "$(dirname "$0")/cdp_eval.py" "$dir/flags" "$base/" "$ready_js" "$a11y_js" "$set_js" "$wait_js" \
	>"$dir/cdp1.out" 2>&1 || true
if grep -q '"unlabelled=0 untabbable=0"' "$dir/cdp1.out"; then
	echo "status page: every input labelled, all in the tab order"
else
	echo "status page: MISSING labels or tab order"; fail=1
fi
cat "$dir/cdp1.out"
if grep -q 'pinned 52:54:00:00:00:01 to ubuntu/noble/latest/nfs' "$dir/cdp1.out" &&
	curl -fs --interface 127.0.0.11 "$base/autopxe-525400000001" | grep -q 'choose --default ubuntu/noble/latest/nfs'; then
	echo "status page: the form's pin changed the next menu"
else
	echo "status page: MISSING pin through the form"; fail=1
fi
python3 "$(dirname "$0")/cdp_eval.py" "$dir/flags" "$base/" "$ready_js" "$clear_js" "$wait_js" >"$dir/cdp2.out" 2>&1 || true
cat "$dir/cdp2.out"
if grep -q 'pin removed' "$dir/cdp2.out" &&
	curl -fs --interface 127.0.0.11 "$base/autopxe-525400000001" | grep -q 'choose --default debian/bookworm/latest/nfs'; then
	echo "status page: the form's clear button removed it"
else
	echo "status page: MISSING clear through the form"; fail=1
fi
# a 200-node storm (bench/storm: menus over TFTP, kernels and initrds over HTTP, spread over 2 s): a screenshot
# while it runs, then the page must count all 200 as booted
storm=${STORM_BIN:-$dir/storm}
[ -x "$storm" ] || ${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -o "$storm" "$(dirname "$0")/../bench/storm.c"
"$storm" --tftp "127.0.0.1:$tport" --nodes 200 --mac-base 525400a00000 --spread-ms 2000 \
	--default-id debian/bookworm/latest/nfs --root "$r" >"$dir/storm.out" 2>&1 &
spid=$!
sleep 1
chrome --window-size=1280,1400 --screenshot="$out/status-page-storm.png" "$base/" >/dev/null
wait "$spid" || { echo "status page: storm failed"; cat "$dir/storm.out"; fail=1; }
sleep 0.3
chrome --dump-dom "$base/?state=booted" >"$dir/dom2.html"
if grep -q 'id="count-booted">201<' "$dir/dom2.html"; then
	echo "status page: 200-node storm counted (201 booted: the storm and node 3; node 1 refetched its menu)"
else
	echo "status page: MISSING storm nodes: $(grep -o 'id="count-[a-z]*">[0-9]*' "$dir/dom2.html" | tr '\n' ' ')"
	fail=1
fi
rm -rf "$profile"
need() {
	if grep -q -- "$1" "$dir/dom.html"; then echo "status page: has $2"; else echo "status page: MISSING $2"; fail=1; fi
}
need '<td data-label="MAC" class="mac">52:54:00:00:00:01</td><td data-label="State" class="state s-booted">booted' "node 1 booted"
need '<td data-label="MAC" class="mac">52:54:00:00:00:02</td><td data-label="State" class="state s-kernel">kernel' "node 2 at kernel"
need 'ubuntu/noble/latest/nfs' "node 3's pinned boot id"
need 'id="count-booted">2<' "2 booted in the counts"
need 'id="count-kernel">1<' "1 at kernel in the counts"
need '3 of 3 nodes' "the script ran (poll + render)"
need 'name="viewport"' "a viewport for phones"
need '<label for="pin-mac">' "labelled form fields"
for f in status-page.png status-page-phone.png status-page-storm.png; do
	if [ -s "$out/$f" ]; then echo "status page: screenshot $out/$f"; else echo "status page: MISSING $f"; fail=1; fi
done
kill "$pid"
wait "$pid" || fail=1
pid=
if grep -q -E "AddressSanitizer|runtime error" "$dir/server.log"; then cat "$dir/server.log"; fail=1; fi
[ "$fail" = 0 ] && echo "status page: ok"
exit "$fail"
