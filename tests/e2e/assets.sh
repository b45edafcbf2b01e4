#!/bin/sh
# assets.sh - prepare (and cache) the e2e boot assets: a real Debian kernel and a marker-printing busybox initramfs.
# Usage: tests/e2e/assets.sh [CACHE_DIR]   (default $E2E_CACHE, else /var/cache/autopxe-e2e, else ~/.cache/autopxe-e2e)
# Prints shell assignments on stdout for the harness:  E2E_KVER=...  E2E_KERNEL=...  E2E_INITRD=...
# The kernel is unpacked from the linux-image .deb (apt-get download + dpkg-deb --fsys-tarfile), never installed.
# Needs: apt-get, dpkg-deb, tar, busybox-static (/bin/busybox), cpio, gzip. Reruns with a warm cache take < 1 s.
set -eu

CACHE=${1:-${E2E_CACHE:-/var/cache/autopxe-e2e}}
usable() { mkdir -p "$1" 2>/dev/null && [ -w "$1" ]; }
populated() { ls "$1"/vmlinuz-* >/dev/null 2>&1 && [ -s "$1/initrd-marker.img" ]; }
if ! usable "$CACHE" && ! populated "$CACHE"; then
	CACHE=${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/autopxe-e2e
	usable "$CACHE" || CACHE=${TMPDIR:-/tmp}/autopxe-e2e-cache-$(id -u)
	mkdir -p "$CACHE"
fi
log() { echo "assets: $*" >&2; }

# ---- kernel: newest cached vmlinuz-*, else download the package linux-image-amd64 depends on
kernel=$(ls -1 "$CACHE"/vmlinuz-* 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$kernel" ]; then
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
	if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ]; then
		log "no package lists: apt-get update"
		apt-get update -qq >&2
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
	fi
	[ -n "$pkg" ] || { log "cannot find the linux-image package (apt-cache depends linux-image-amd64)"; exit 1; }
	tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	log "downloading $pkg (not installing it)"
	# apt-get download writes into the cwd; as root it warns that it runs unsandboxed (harmless)
	if ! (cd "$tmp" && apt-get download -qq "$pkg") >"$tmp/download.log" 2>&1; then
		grep -v -i 'unsandboxed' "$tmp/download.log" >&2 || true
	fi
	deb=$(ls -1 "$tmp"/*.deb 2>/dev/null | head -n 1 || true)
	[ -n "$deb" ] || { log "apt-get download $pkg produced no .deb"; exit 1; }
	dpkg-deb --fsys-tarfile "$deb" | tar -C "$tmp" -x --wildcards './boot/vmlinuz-*'
	src=$(ls -1 "$tmp"/boot/vmlinuz-* | head -n 1)
	cp "$src" "$CACHE/.vmlinuz.part"
	mv "$CACHE/.vmlinuz.part" "$CACHE/$(basename "$src")"
	kernel=$CACHE/$(basename "$src")
	rm -rf "$tmp"
	trap - EXIT
fi
kver=${kernel##*/vmlinuz-}

# ---- initramfs: rebuilt when its /init text (or busybox) changes; the stamp is the text's checksum
BB=${BUSYBOX:-/bin/busybox}
[ -x "$BB" ] || { log "$BB missing (package busybox-static)"; exit 1; }
init_text=$(cat <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec >/dev/console 2>&1 </dev/console
echo "AUTOPXE-E2E-MARKER initramfs reached, kernel $(/bin/busybox uname -r)"
echo "AUTOPXE-E2E-CMDLINE[$(/bin/busybox cat /proc/cmdline)]"
echo "AUTOPXE-E2E-DONE"
/bin/busybox poweroff -f
INIT
)
stamp=$( (printf '%s' "$init_text"; cksum < "$BB") | cksum | awk '{print $1}')
initrd=$CACHE/initrd-marker.img
if [ ! -s "$initrd" ] || [ "$(cat "$CACHE/initrd-marker.stamp" 2>/dev/null)" != "$stamp" ]; then
	stage=$(mktemp -d "$CACHE/.stage.XXXXXX")
	trap 'rm -rf "$stage"' EXIT
	mkdir -p "$stage/bin" "$stage/proc" "$stage/sys" "$stage/dev"
	cp "$BB" "$stage/bin/busybox"
	ln -s busybox "$stage/bin/sh"
	# /dev/console lets the kernel give init a console before devtmpfs is mounted (needs root; harmless without)
	mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
	printf '%s\n' "$init_text" > "$stage/init"
	chmod 755 "$stage/init"
	(cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet --owner=0:0) | gzip -6 > "$initrd.part"
	mv "$initrd.part" "$initrd"
	echo "$stamp" > "$CACHE/initrd-marker.stamp"
	rm -rf "$stage"
	trap - EXIT
	log "built $initrd"
fi

echo "E2E_KVER=$kver"
echo "E2E_KERNEL=$kernel"
echo "E2E_INITRD=$initrd"
