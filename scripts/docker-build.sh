#!/bin/bash
# docker-build.sh - the Dockerfile's build stage as a script: deps, compile, unit tests, optional iPXE, staged install.
#
# The Dockerfile runs it twice: `--deps-only` (cached layer), then `--no-deps --build B --stage /stage`.
# Tests run it directly on the host (`--no-deps`), so what the image contains is checked even without Docker.
#
# Environment (the Dockerfile's build args): BUILD_IPXE=1 also builds iPXE with embedded/build-ipxe.sh,
# IPXE_ARGS extra arguments for it; RUN_TESTS=0 skips `make unit`; JOBS parallel make jobs.
#
# Exit status: 0 ok, 1 a step failed, 2 bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

# Compile, set the capability, and what `make unit` runs besides the compiler (tests/check_iso.c builds
# ISO, squashfs and ext4 images): keep in step with the unit suites.
BUILD_PKGS="build-essential pkg-config libyaml-dev libarchive-dev libblkid-dev libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev check
  libcap2-bin xorriso squashfs-tools e2fsprogs"
IPXE_PKGS="gcc make binutils perl liblzma-dev git ca-certificates"
PREFIX=/usr/local

usage() {
	cat <<EOF
Usage: scripts/docker-build.sh [--deps-only | --no-deps] [--build DIR] [--stage DIR] [--no-test] [--ipxe]

  --deps-only     only apt-get install the build dependencies (needs root) and stop
  --no-deps       do not install anything (the host already has the packages)
  --build DIR     out-of-tree build directory (default: build-docker)
  --stage DIR     install into DIR as the image's root (default: /stage): binary with
                  cap_net_bind_service, templates, man page, systemd unit, example config, iPXE binaries
  --no-test       skip \`make unit\` (same as RUN_TESTS=0)
  --ipxe          build iPXE too (same as BUILD_IPXE=1; arguments from IPXE_ARGS)
  -h, --help      this text
EOF
}

step() { printf '== docker-build: %s\n' "$*" >&2; }
die() {
	printf 'docker-build: error: %s\n' "$*" >&2
	exit 1
}

DEPS=1 DEPS_ONLY=0 BUILD=build-docker STAGE=/stage
RUN_TESTS=${RUN_TESTS:-1} BUILD_IPXE=${BUILD_IPXE:-0} IPXE_ARGS=${IPXE_ARGS:-}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
while [ $# -gt 0 ]; do
	case "$1" in
	--deps-only) DEPS_ONLY=1 ;;
	--no-deps) DEPS=0 ;;
	--build) [ $# -ge 2 ] || { usage >&2; exit 2; }; BUILD=$2; shift ;;
	--stage) [ $# -ge 2 ] || { usage >&2; exit 2; }; STAGE=$2; shift ;;
	--no-test) RUN_TESTS=0 ;;
	--ipxe) BUILD_IPXE=1 ;;
	-h | --help) usage; exit 0 ;;
	*) printf 'docker-build: unknown option %s\n' "$1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
case "$RUN_TESTS$BUILD_IPXE" in [01][01]) ;; *) die "RUN_TESTS and BUILD_IPXE take 0 or 1" ;; esac
[ "$DEPS_ONLY" = 1 ] && [ "$DEPS" = 0 ] && { printf 'docker-build: --deps-only and --no-deps conflict\n' >&2; exit 2; }

if [ "$DEPS" = 1 ]; then
	pkgs=$BUILD_PKGS
	[ "$BUILD_IPXE" = 1 ] && pkgs="$pkgs $IPXE_PKGS"
	[ "$(id -u)" = 0 ] || die "installing packages needs root (or pass --no-deps)"
	step "apt-get install $(echo $pkgs)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
	rm -rf /var/lib/apt/lists/*
fi
[ "$DEPS_ONLY" = 1 ] && exit 0

for t in make cc pkg-config setcap; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' not found (install: $(echo $BUILD_PKGS))"
done

t0=$(date +%s)
step "make all (BUILD=$BUILD)"
make -j"$JOBS" BUILD="$BUILD" PREFIX="$PREFIX" all
if [ "$RUN_TESTS" = 1 ]; then
	step "make unit"
	make -j"$JOBS" BUILD="$BUILD" PREFIX="$PREFIX" unit
else
	step "make unit skipped (RUN_TESTS=0)"
fi

step "install into $STAGE"
mkdir -p "$STAGE"
STAGE=$(cd "$STAGE" && pwd)
make BUILD="$BUILD" PREFIX="$PREFIX" DESTDIR="$STAGE" install >/dev/null
# Let the unprivileged user bind ports 69 and 80 without any other privilege.
setcap cap_net_bind_service=+ep "$STAGE$PREFIX/bin/autopxe" || die "setcap failed (filesystem without xattrs?)"

if [ "$BUILD_IPXE" = 1 ]; then
	step "iPXE: embedded/build-ipxe.sh $IPXE_ARGS"
	# shellcheck disable=SC2086
	embedded/build-ipxe.sh --work "$BUILD/ipxe-work" --out "$STAGE$PREFIX/share/autopxe/ipxe" $IPXE_ARGS
fi

# What the runtime stage relies on; fail here rather than ship a broken image.
for f in bin/autopxe share/autopxe/templates/main.ipxe.tmpl; do
	[ -e "$STAGE$PREFIX/$f" ] || die "missing from the staged tree: $PREFIX/$f"
done
"$STAGE$PREFIX/bin/autopxe" --version >/dev/null || die "the staged binary does not run"
step "done in $(($(date +%s) - t0)) s: $(du -sh "$STAGE" | cut -f1) staged in $STAGE"
