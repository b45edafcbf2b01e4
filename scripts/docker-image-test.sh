#!/bin/bash
# docker-image-test.sh - build the Dockerfile with buildah (no Docker engine, no registry) and run the image's binary.
#
# Steps: a Debian 12 minbase tarball made once with debootstrap (cached in $CACHE), imported as the base
# image; `buildah build --isolation chroot --storage-driver vfs` of the unchanged Dockerfile with that base;
# then `buildah run`: autopxe --version, autopxe check-config on config.yaml.example (with a small fixture
# rootfs mounted at /pxe/rootfs), an --env variable reaching a rendered menu, the user and the file
# capability, and the HEALTHCHECK command against a server started inside the image.
#
# Exit status: 0 passed, 1 failed, 77 skipped (buildah cannot run here, or AUTOPXE_SKIP_IMAGE_TEST is set
# for a quicker local `make integration`; the reason is printed).
# Options: --keep (keep the built image, and record in $CACHE/image.tree which source tree it was built from,
# so tests/e2e/run.sh can boot a machine from it), --reuse (test the image kept by --keep without
# rebuilding), --refresh (rebuild the cached base tarball), --fingerprint (print the source tree's
# fingerprint and exit).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)

CACHE=${AUTOPXE_TEST_CACHE:-/var/cache/autopxe-test}
IMAGE=localhost/autopxe-test:latest
BASE=localhost/autopxe-test-base:bookworm
KEEP=0 REFRESH=0 REUSE=0
# What the Dockerfile's COPY takes (.dockerignore), hashed: names the tree an image was built from.
fingerprint() {
	find . \( -name .git -o -name .ci -o -name build -o -name 'build-*' -o -path ./bench/results \
		-o -path './tests/fuzz/corpus*' -o -path './tests/fuzz/crash-*' \) -prune -o \
		-type f ! -name '*.o' ! -name '*.d' ! -name '*.log' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum |
		sha256sum | cut -d' ' -f1
}
for a in "$@"; do
	case "$a" in
	--fingerprint) fingerprint; exit 0 ;;
	--keep) KEEP=1 ;;
	--refresh) REFRESH=1 ;;
	--reuse) REUSE=1 KEEP=1 ;;
	-h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "docker-image-test: unknown option $a" >&2; exit 2 ;;
	esac
done

say() { printf '== docker-image-test: %s\n' "$*" >&2; }
skip() {
	printf 'SKIP: docker-image-test: %s\n' "$*" >&2
	exit 77
}
fail() {
	printf 'FAIL: docker-image-test: %s\n' "$*" >&2
	exit 1
}

# ---- can buildah run here? ----
[ -z "${AUTOPXE_SKIP_IMAGE_TEST:-}" ] || skip "AUTOPXE_SKIP_IMAGE_TEST is set"
command -v buildah >/dev/null 2>&1 || skip "buildah is not installed (Debian: apt-get install buildah)"
[ "$(id -u)" = 0 ] || skip "needs root for --isolation chroot with the vfs driver (running as uid $(id -u))"
STORE=(--root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver vfs)
mkdir -p "$CACHE" || skip "cannot create the cache directory $CACHE"
# One run at a time per cache: runs share the storage and prune it.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$CACHE/lock"
	flock 9
fi
buildah "${STORE[@]}" info >/dev/null 2>&1 || skip "buildah cannot initialise its storage: $(buildah "${STORE[@]}" info 2>&1 | tail -n 1)"

T0=$(date +%s)
TREE=$(fingerprint)
# --reuse tests the kept image as it is: it still stands for the tree it was built from
[ "$REUSE" = 0 ] || TREE=$(cut -d' ' -f1 "$CACHE/image.tree" 2>/dev/null || echo unknown)
rm -f "$CACHE/image.tree" # until this run has built (or checked) the image
WORK=$(mktemp -d /tmp/autopxe-image-test.XXXXXX)
CTR=""
# buildah run does not pass SIGTERM on to the command: stop the server process itself, found by PID
# among buildah's descendants, then buildah exits on its own.
descendants() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}
stop_server() {
	[ -n "${SRV_PID:-}" ] || return 0
	local p
	for p in $(descendants "$SRV_PID"); do
		case "$(ps -o comm= -p "$p" 2>/dev/null)" in autopxe) kill "$p" 2>/dev/null || true ;; esac
	done
	for _ in $(seq 1 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
	kill "$SRV_PID" 2>/dev/null || true
	wait "$SRV_PID" 2>/dev/null || true
}
cleanup() {
	stop_server
	[ -n "$CTR" ] && buildah "${STORE[@]}" rm "$CTR" >/dev/null 2>&1 || true
	if [ "$KEEP" = 0 ]; then
		rm -f "$CACHE/image.tree"
		buildah "${STORE[@]}" rmi "$IMAGE" >/dev/null 2>&1 || true
		buildah "${STORE[@]}" rmi --prune >/dev/null 2>&1 || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# ---- base image: debootstrap once, then import ----
TARBALL="$CACHE/debian-bookworm-minbase.tar"
if [ "$REFRESH" = 1 ] || [ ! -s "$TARBALL" ]; then
	command -v debootstrap >/dev/null 2>&1 || skip "no cached base ($TARBALL) and debootstrap is not installed"
	mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}$/\1/p' /etc/apt/sources.list.d/*.sources \
		2>/dev/null | head -n 1)
	[ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}\(http[^[:space:]]*\/debian\/\{0,1\}\)[[:space:]].*/\2/p' \
		/etc/apt/sources.list 2>/dev/null | head -n 1)
	mirror=${mirror:-http://deb.debian.org/debian}
	say "debootstrap --variant=minbase bookworm from $mirror (once; cached in $TARBALL)"
	t=$(date +%s)
	debootstrap --variant=minbase bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$WORK/debootstrap.log" >&2; fail "debootstrap failed"; }
	rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
	tar -C "$WORK/rootfs" --numeric-owner -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
	rm -rf "$WORK/rootfs"
	say "debootstrap took $(($(date +%s) - t)) s"
	buildah "${STORE[@]}" rmi -f "$BASE" >/dev/null 2>&1 || true
fi
if ! buildah "${STORE[@]}" inspect --type image "$BASE" >/dev/null 2>&1; then
	say "importing $TARBALL as $BASE"
	c=$(buildah "${STORE[@]}" from scratch)
	buildah "${STORE[@]}" add "$c" "$TARBALL" / >/dev/null
	buildah "${STORE[@]}" config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$c"
	buildah "${STORE[@]}" commit --quiet "$c" "$BASE" >/dev/null
	buildah "${STORE[@]}" rm "$c" >/dev/null
fi

# ---- build the Dockerfile as it is ----
# Layers: the two dependency stages are built first and tagged, so that they survive the pruning at the
# end and later runs rebuild only from the source COPY on (vfs stores every layer as a full copy).
BARGS=(--isolation chroot --pull=never --layers --format docker
	--build-arg BUILD_IMAGE="$BASE" --build-arg RUNTIME_IMAGE="$BASE" -f Dockerfile)
buildah "${STORE[@]}" rmi --prune >/dev/null 2>&1 || true
t=$(date +%s)
if [ "$REUSE" = 1 ] && buildah "${STORE[@]}" inspect --type image "$IMAGE" >/dev/null 2>&1; then
	say "reusing $IMAGE (--reuse)"
	: >"$WORK/build.log"
else
	say "buildah build (isolation chroot, storage vfs)"
	for target in build-deps runtime-base; do
		buildah "${STORE[@]}" build "${BARGS[@]}" --target "$target" -t "localhost/autopxe-test-$target" . \
			>>"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; fail "buildah build --target $target failed"; }
	done
	buildah "${STORE[@]}" build "${BARGS[@]}" -t "$IMAGE" . >>"$WORK/build.log" 2>&1 ||
		{ tail -n 40 "$WORK/build.log" >&2; fail "buildah build failed (log above)"; }
fi
BUILD_S=$(($(date +%s) - t))
grep -h '^== docker-build' "$WORK/build.log" >&2 || true
say "image built in $BUILD_S s"

# ---- run the image's binary ----
CTR=$(buildah "${STORE[@]}" from --pull-never "$IMAGE")
brun() { buildah "${STORE[@]}" run --isolation chroot --network host "$@"; }

out=$(brun "$CTR" -- /usr/local/bin/autopxe --version) || fail "autopxe --version failed in the image"
want="autopxe $(cat VERSION)"
[ "$out" = "$want" ] || fail "autopxe --version printed '$out', expected '$want'"
say "autopxe --version: $out"

# A small rootfs fixture so that the example config (RootfsPath: /pxe/rootfs/) has something to scan.
mkdir -p "$WORK/rootfs/debian/bookworm/boot"
printf 'kernel' >"$WORK/rootfs/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64"
printf 'initrd' >"$WORK/rootfs/debian/bookworm/boot/initrd.img-6.1.0-21-amd64"
chmod -R a+rX "$WORK/rootfs"
cp config.yaml.example "$WORK/config.yaml"
chmod a+r "$WORK/config.yaml"
MOUNTS=(-v "$WORK/rootfs:/pxe/rootfs:ro" -v "$WORK/config.yaml:/config.yaml:ro")
out=$(brun "${MOUNTS[@]}" "$CTR" -- /usr/local/bin/autopxe check-config --config /config.yaml 2>&1) ||
	{ printf '%s\n' "$out" >&2; fail "autopxe check-config on config.yaml.example failed in the image"; }
printf '%s\n' "$out" | grep -q '^/config.yaml: ok (1 distros, 1 releases, 1 kernels' ||
	{ printf '%s\n' "$out" >&2; fail "check-config did not report the fixture (1 distro, 1 release, 1 kernel)"; }
say "check-config: $(printf '%s\n' "$out" | tail -n 1)"

# `docker run -e NAME=value` reaches the command-line templates as ${NAME}.
printf '%s\n' 'version: 1' 'DefaultDistro: debian/bookworm/latest/t' 'RootfsPath: /pxe/rootfs/' 'CmdlineTemplates:' \
	'  t: root=/dev/nfs nfsroot=${NFS_SERVER}:${rootfs-path} ip=dhcp' >"$WORK/env.yaml"
chmod a+r "$WORK/env.yaml"
out=$(brun --env NFS_SERVER=192.0.2.77 -v "$WORK/rootfs:/pxe/rootfs:ro" -v "$WORK/env.yaml:/config.yaml:ro" "$CTR" -- \
	/usr/local/bin/autopxe render --config /config.yaml --mac 525400123456 2>&1) ||
	{ printf '%s\n' "$out" >&2; fail "autopxe render failed in the image"; }
printf '%s\n' "$out" | grep -q 'nfsroot=192.0.2.77:/pxe/rootfs/debian/bookworm ip=dhcp' ||
	{ printf '%s\n' "$out" >&2; fail "--env NFS_SERVER did not reach the menu's kernel command line"; }
say "render with --env NFS_SERVER=192.0.2.77: nfsroot=192.0.2.77:/pxe/rootfs/debian/bookworm"

# The image's contract: unprivileged user, capability on the binary, entrypoint and command.
user=$(brun "$CTR" -- id -un) || fail "id failed in the image"
[ "$user" = autopxe ] || fail "the image runs as '$user', expected the unprivileged user autopxe"
cfg=$(buildah "${STORE[@]}" inspect --type image --format '{{.Docker.Config.Entrypoint}} {{.Docker.Config.Cmd}} {{.Docker.Config.User}}' "$IMAGE")
[ "$cfg" = "[/usr/local/bin/autopxe] [serve --config /config.yaml] autopxe:autopxe" ] ||
	fail "unexpected entrypoint/cmd/user: $cfg"
hc=$(buildah "${STORE[@]}" inspect --type image --format '{{.Docker.Config.Healthcheck.Test}}' "$IMAGE")
case "$hc" in *'/healthz'*) ;; *) fail "no HEALTHCHECK on /healthz in the image config: $hc" ;; esac
mnt=$(buildah "${STORE[@]}" mount "$CTR")
caps=$(getcap "$mnt/usr/local/bin/autopxe" 2>/dev/null || true)
buildah "${STORE[@]}" umount "$CTR" >/dev/null
case "$caps" in *cap_net_bind_service*) ;; *) fail "the binary lost cap_net_bind_service in the image (getcap: '$caps')" ;; esac
say "user autopxe, cap_net_bind_service on the binary, entrypoint/cmd/healthcheck as documented"

# The HEALTHCHECK command itself, against a server started from the image on a free loopback port.
# (chroot isolation shares the host's network, so 127.0.0.1 is the same on both sides.)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18080)
# buildah itself in the background (not a subshell), and `timeout` inside so the server cannot outlive us.
buildah "${STORE[@]}" run --isolation chroot --network host "${MOUNTS[@]}" "$CTR" -- timeout 120 \
	/usr/local/bin/autopxe serve --config /config.yaml --tftp-listen off --http-listen "127.0.0.1:$port" \
	>"$WORK/serve.log" 2>&1 &
SRV_PID=$!
hcmd=$(printf '%s' "$hc" | sed -n 's/^\[CMD bash -c \(.*\)\]$/\1/p')
[ -n "$hcmd" ] || fail "cannot read the healthcheck command from '$hc'"
ok=0
for _ in $(seq 1 50); do
	if brun --env AUTOPXE_HTTP_PORT="$port" "$CTR" -- bash -c "$hcmd" >/dev/null 2>&1; then ok=1; break; fi
	sleep 0.2
done
stop_server
SRV_PID=""
[ "$ok" = 1 ] || { cat "$WORK/serve.log" >&2; fail "the HEALTHCHECK command never succeeded against a running server"; }
say "HEALTHCHECK command succeeded against autopxe serve in the image"
# and it must fail when nothing listens there
if brun --env AUTOPXE_HTTP_PORT="$port" "$CTR" -- bash -c "$hcmd" >/dev/null 2>&1; then
	fail "the HEALTHCHECK command succeeded with no server running"
fi

size=$(buildah "${STORE[@]}" images --format '{{.Size}}' "$IMAGE" 2>/dev/null | head -n 1)
if [ "$KEEP" = 1 ]; then
	printf '%s %s\n' "$TREE" "$IMAGE" >"$CACHE/image.tree"
	say "kept $IMAGE (built from tree $TREE; tests/e2e/run.sh boots a machine from it)"
fi
say "PASS in $(($(date +%s) - T0)) s (image build $BUILD_S s, image size $size)"
