#!/bin/sh
# run.sh - the e2e boot suite: prepare assets, build the QEMU/iPXE harness, run every scenario, always clean up.
# Usage: tests/e2e/run.sh [BUILD_DIR]      (make e2e; BUILD_DIR holds the autopxe binary, default build)
# Environment: E2E_ONLY=s1,s2 (subset), E2E_CACHE (asset cache), E2E_TIMEOUT_SCALE (slow machines),
#              E2E_KEEP=1 (keep the work dir), E2E_VERBOSE=1 (print every command), CC,
#              E2E_SERVER=BUILD/autopxe-san (serve from the sanitizer build; its reports fail the scenario).
# Closing line: "N passed, N failed". Exit status: 0 when nothing failed.
set -eu

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
CC=${CC:-cc}

fail_setup() {
	echo "e2e: $*" >&2
	echo "0 passed, 1 failed"
	exit 1
}

# ---- tools the scenarios need (scripts/deps.sh --test installs them in CI)
missing=""
for t in qemu-system-x86_64 busybox cpio gzip dpkg-deb apt-get pkg-config; do
	command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
for f in /usr/lib/ipxe/ipxe.lkrn /usr/lib/ipxe/qemu/efi-virtio.rom /usr/lib/ipxe/undionly.kpxe \
	/usr/lib/ipxe/snponly.efi /usr/share/OVMF/OVMF_CODE.fd /usr/share/OVMF/OVMF_VARS.fd; do
	[ -r "$f" ] || missing="$missing $f"
done
if [ "$(id -u)" -eq 0 ]; then
	for t in ip dnsmasq; do
		command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
	done
fi
[ -z "$missing" ] || fail_setup "missing:$missing (run scripts/deps.sh --test as root)"
SERVER=${E2E_SERVER:-$BUILD/autopxe}
[ -x "$SERVER" ] || fail_setup "$SERVER not built (make e2e builds it)"

# ---- assets (cached: a rerun takes well under a second)
ASSETS=$(tests/e2e/assets.sh) || fail_setup "asset preparation failed"
eval "$ASSETS"
export E2E_KVER E2E_KERNEL E2E_INITRD

# ---- the harness
HARNESS=$BUILD/e2e/check_e2e
mkdir -p "$BUILD/e2e"
if [ ! -x "$HARNESS" ] || [ -n "$(find tests/e2e/check_e2e.c -newer "$HARNESS")" ]; then
	# shellcheck disable=SC2046
	$CC -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter -O1 -g \
		-fsanitize=address,undefined -fno-omit-frame-pointer \
		$(pkg-config --cflags check) tests/e2e/check_e2e.c $(pkg-config --libs check) -o "$HARNESS.tmp" ||
		fail_setup "cannot build the harness"
	mv "$HARNESS.tmp" "$HARNESS"
fi

# ---- work dir, and the cleanup that runs on every path
E2E_RUNID=$$
WORK=$(mktemp -d /tmp/autopxe-e2e.XXXXXX)
chmod 755 "$WORK" # the server drops to 'nobody' when started as root and must read the trees
RUNNER="" DOCKERD=""
# shellcheck disable=SC2317 # called by the traps
cleanup() {
	exit_status=$?
	trap - EXIT INT TERM HUP
	if [ -n "$RUNNER" ] && kill -0 "$RUNNER" 2>/dev/null; then
		kill -TERM "$RUNNER" 2>/dev/null || true
		sleep 1
		kill -KILL "$RUNNER" 2>/dev/null || true
	fi
	if [ -n "$DOCKERD" ]; then # dockerd stops its containerd (and any container left) itself
		kill -TERM "$DOCKERD" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$DOCKERD" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$DOCKERD" 2>/dev/null || true
		# it leaves its network-namespace bind mount under the exec root
		awk -v d="$WORK/docker-exec/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r |
			while read -r m; do umount -l "$m" 2>/dev/null || true; done
	fi
	# the harness sweeps its own leftovers; when it was killed itself, stop what its pid list names
	# (pid + start time, so a reused pid is never hit), then the namespaces of this run by name
	if [ -f "$WORK/pids" ]; then
		for sig in TERM KILL; do
			while read -r pid st id what; do
				cur=$(cut -d' ' -f22 "/proc/$pid/stat" 2>/dev/null || true)
				if [ -z "$cur" ] || [ "$cur" != "$st" ]; then continue; fi
				echo "e2e: stopping leftover $what (pid $pid) of $id with SIG$sig" >&2
				kill "-$sig" "$pid" 2>/dev/null || true
			done <"$WORK/pids"
			[ "$sig" = KILL ] || sleep 2
		done
	fi
	if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null 2>&1; then
		for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^ape2e-$E2E_RUNID-" || true); do
			ip netns del "$ns" 2>/dev/null || true
		done
	fi
	if [ -n "${E2E_KEEP:-}" ] || [ "$exit_status" -ne 0 ]; then
		echo "e2e: logs kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
	exit "$exit_status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ "$(id -u)" -ne 0 ]; then
	echo "e2e: not root: scenarios that need namespaces or ports 69/80 will be skipped" >&2
fi
echo "e2e: kernel $E2E_KVER, autopxe $SERVER, work dir $WORK" >&2

# ---- the container image for s9_container: the one `scripts/docker-image-test.sh --keep` built from this very
# tree (make integration runs it before make e2e); built here when it is missing and s9 is selected.
IMG_CACHE=${AUTOPXE_TEST_CACHE:-/var/cache/autopxe-test}
E2E_IMAGE="" E2E_IMAGE_WHY="" E2E_IMAGE_FAIL="" E2E_DOCKER_WHY=""
kept_tree() { cut -d' ' -f1 "$IMG_CACHE/image.tree" 2>/dev/null || true; }
# like the harness's own selection: E2E_ONLY lists substrings of scenario ids
wanted() {
	[ -z "${E2E_ONLY:-}" ] && return 0
	for t in $(printf '%s' "$E2E_ONLY" | tr ',' ' '); do
		case "$1" in *"$t"*) return 0 ;; esac
	done
	return 1
}
if ! wanted s9_podman && ! wanted s9b_docker; then
	:
elif [ "$(id -u)" -ne 0 ]; then
	E2E_IMAGE_WHY="needs root (podman on the image test's storage)"
elif ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
	E2E_IMAGE_WHY="podman or runc is not installed (scripts/deps.sh --test)"
else
	tree=$(scripts/docker-image-test.sh --fingerprint)
	if [ "$(kept_tree)" != "$tree" ]; then
		echo "e2e: no image of this tree kept yet: scripts/docker-image-test.sh --keep" >&2
		img_rc=0
		scripts/docker-image-test.sh --keep >&2 || img_rc=$?
		[ "$img_rc" = 0 ] || [ "$img_rc" = 77 ] || E2E_IMAGE_FAIL=1
	fi
	if [ "$(kept_tree)" = "$tree" ]; then
		E2E_IMAGE=$(cut -d' ' -f2 "$IMG_CACHE/image.tree")
		# podman (docker's CLI) on the storage buildah built into, with settings these VMs need and an ordinary
		# host does not: crun refuses their hybrid cgroup layout (runc copes), no CAP_SYS_RESOURCE (so podman
		# must not raise rlimits: the shell's own, nproc at most 32768, which is what podman itself keeps here),
		# and no systemd to log events to.
		nproc=$(awk '/^Max processes/ {print $4}' /proc/self/limits)
		nofile=$(awk '/^Max open files/ {print $4 ":" $5}' /proc/self/limits)
		[ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
		cat >"$WORK/containers.conf" <<-EOF
			[containers]
			default_ulimits = ["nofile=$nofile", "nproc=$nproc:$nproc"]
			[engine]
			runtime = "runc"
			cgroup_manager = "cgroupfs"
			events_logger = "file"
		EOF
		cat >"$WORK/storage.conf" <<-EOF
			[storage]
			driver = "vfs"
			graphroot = "$IMG_CACHE/storage"
			runroot = "$IMG_CACHE/run"
		EOF
		export CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf"
		# Debian's Docker engine, when dockerd starts here: a private one for this run (no iptables rules, no
		# bridge: only host networking, which is how the image is run), with the same image loaded into it.
		if ! wanted s9b_docker; then
			:
		elif ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
			E2E_DOCKER_WHY="Debian's docker.io (dockerd) is not installed (scripts/deps.sh --test)"
		else
			sock=$WORK/docker.sock
			dockerd --iptables=false --ip6tables=false --bridge=none --data-root "$IMG_CACHE/docker" \
				--exec-root "$WORK/docker-exec" --pidfile "$WORK/dockerd.pid" -H "unix://$sock" \
				>"$WORK/dockerd.log" 2>&1 &
			DOCKERD=$!
			up=0
			for _ in $(seq 1 60); do
				DOCKER_HOST=unix://$sock docker version >/dev/null 2>&1 && { up=1; break; }
				kill -0 "$DOCKERD" 2>/dev/null || break
				sleep 0.5
			done
			if [ "$up" = 1 ] && podman save --format docker-archive "$E2E_IMAGE" 2>/dev/null |
				DOCKER_HOST=unix://$sock docker load >&2; then
				export DOCKER_HOST=unix://$sock
				echo "e2e: dockerd $(DOCKER_HOST=unix://$sock docker version --format '{{.Server.Version}}') started, $E2E_IMAGE loaded" >&2
			else
				E2E_DOCKER_WHY="dockerd did not start or load the image here (see dockerd.log in the work dir)"
				tail -n 5 "$WORK/dockerd.log" >&2 || true
			fi
		fi
	elif [ -n "$E2E_IMAGE_FAIL" ]; then
		E2E_IMAGE_WHY="scripts/docker-image-test.sh --keep failed (its output is above)"
	else
		E2E_IMAGE_WHY="the image cannot be built here (scripts/docker-image-test.sh said why, above)"
	fi
fi
export E2E_IMAGE E2E_IMAGE_WHY E2E_IMAGE_FAIL E2E_DOCKER_WHY

E2E_AUTOPXE=$SERVER E2E_WORK=$WORK E2E_RESULTS=$WORK/results.tsv E2E_SRCDIR=$ROOT E2E_RUNID=$E2E_RUNID \
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} CK_FORK=yes \
	"$HARNESS" &
RUNNER=$!
set +e
wait "$RUNNER"
rc=$?
set -e
RUNNER=""
exit "$rc"
