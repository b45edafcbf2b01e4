#!/bin/bash
# build-ipxe.sh - build iPXE (undionly.kpxe, ipxe.efi, snponly.efi, ipxe.lkrn) with autopxe's chain-loading script embedded.
#
# Exit status: 0 ok, 1 build failed, 2 bad usage, 3 build tools missing, 4 no iPXE source tree.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DEFAULT_GIT_URL=https://github.com/ipxe/ipxe.git
ALL_TARGETS="undionly.kpxe ipxe.efi snponly.efi ipxe.lkrn"

usage() {
	cat <<EOF
Usage: embedded/build-ipxe.sh [OPTIONS]

Build iPXE with autopxe's chain-loading script (embedded/autopxe.ipxe) built in via EMBED=,
and install the binaries where autopxe serves them from.

Source (one of):
  --src DIR           an iPXE source tree (the repository root, or its src/ directory)
  --git-url URL       clone iPXE from URL (default: $DEFAULT_GIT_URL)
  --git-ref REF       branch or tag to clone (default: the repository's default branch)

What to build:
  --server ADDR       boot server address baked in (default: \${next-server} from DHCP);
                      IPv6 addresses in brackets: [2001:db8::1]
  --http-port N       autopxe's HTTP port (default 80)
  --tftp-port N       autopxe's TFTP port (default 69)
  --script FILE       embed FILE instead of embedded/autopxe.ipxe (same @...@ placeholders)
  --targets LIST      comma- or space-separated subset of: $ALL_TARGETS
                      (default: all; also ipxe.pxe, undionly.kkpxe, ipxe.iso, ipxe.usb)
  --legacy            force the flags old trees need with gcc >= 10 (NO_WERROR=1 EXTRA_CFLAGS=-fcommon)
  --no-legacy         never add them (default: add them when the tree predates -fno-common,
                      i.e. iPXE before 2021, and retry with them if a modern build fails)
  --make-arg ARG      extra argument for iPXE's make (repeatable), e.g. --make-arg DEBUG=tftp

Where:
  --out DIR           install the binaries into DIR (default: /usr/local/share/autopxe/ipxe,
                      the default IPXEDir)
  --work DIR          working directory for the clone and the rendered script
                      (default: \${XDG_CACHE_HOME:-\$HOME/.cache}/autopxe-ipxe)
  -j, --jobs N        parallel make jobs (default: number of CPUs)

Other:
  --print-script      print the rendered script without comments (fits QEMU -append for a stock
                      ipxe.lkrn) and exit; needs no compiler or source tree
  --dry-run           print the exact commands (git, make, install) without running them
  -h, --help          this text

Build dependencies (Debian): gcc make binutils perl liblzma-dev git (git only when cloning);
mtools and xorriso only for ipxe.usb / ipxe.iso.

Examples:
  make ipxe IPXE_ARGS='--src ~/ipxe --out /usr/local/share/autopxe/ipxe'
  embedded/build-ipxe.sh --server 192.0.2.10 --http-port 8080 --src ~/ipxe --out ./ipxe
  qemu-system-x86_64 -kernel /usr/lib/ipxe/ipxe.lkrn -append "\$(embedded/build-ipxe.sh --print-script \\
      --server 10.0.2.2 --http-port 8080 --tftp-port 6969)" ...
EOF
}

die() { # die STATUS MESSAGE...
	local st=$1
	shift
	printf 'build-ipxe: error: %s\n' "$*" >&2
	exit "$st"
}
note() { printf 'build-ipxe: %s\n' "$*" >&2; }

need_arg() { # need_arg OPTION ARGC [VALUE]
	[ "$2" -ge 2 ] || die 2 "option $1 needs a value (see --help)"
	case "${3-}" in --*) die 2 "option $1 needs a value, got option '$3' (see --help)" ;; esac
}

valid_port() { # valid_port OPTION VALUE
	case "$2" in
	'' | *[!0-9]* | 0*) die 2 "$1 must be a port number 1..65535, got '$2'" ;;
	esac
	[ "${#2}" -le 5 ] && [ "$2" -le 65535 ] || die 2 "$1 must be a port number 1..65535, got '$2'"
}

SRC="" GIT_URL="" GIT_REF="" SERVER="" HTTP_PORT=80 TFTP_PORT=69 SCRIPT="$HERE/autopxe.ipxe"
TARGETS="$ALL_TARGETS" LEGACY=auto OUT=/usr/local/share/autopxe/ipxe WORK="" JOBS="" PRINT=0 DRY=0
MAKE_ARGS=()
while [ $# -gt 0 ]; do
	case "$1" in
	--src) need_arg "$1" $# "${2-}"; SRC=$2; shift ;;
	--src=*) SRC=${1#*=} ;;
	--git-url) need_arg "$1" $# "${2-}"; GIT_URL=$2; shift ;;
	--git-url=*) GIT_URL=${1#*=} ;;
	--git-ref) need_arg "$1" $# "${2-}"; GIT_REF=$2; shift ;;
	--git-ref=*) GIT_REF=${1#*=} ;;
	--server) need_arg "$1" $# "${2-}"; SERVER=$2; shift ;;
	--server=*) SERVER=${1#*=} ;;
	--http-port) need_arg "$1" $# "${2-}"; HTTP_PORT=$2; shift ;;
	--http-port=*) HTTP_PORT=${1#*=} ;;
	--tftp-port) need_arg "$1" $# "${2-}"; TFTP_PORT=$2; shift ;;
	--tftp-port=*) TFTP_PORT=${1#*=} ;;
	--script) need_arg "$1" $# "${2-}"; SCRIPT=$2; shift ;;
	--script=*) SCRIPT=${1#*=} ;;
	--targets) need_arg "$1" $# "${2-}"; TARGETS=$2; shift ;;
	--targets=*) TARGETS=${1#*=} ;;
	--legacy) LEGACY=yes ;;
	--no-legacy) LEGACY=no ;;
	--make-arg) need_arg "$1" $# "${2-}"; MAKE_ARGS+=("$2"); shift ;;
	--make-arg=*) MAKE_ARGS+=("${1#*=}") ;;
	--out) need_arg "$1" $# "${2-}"; OUT=$2; shift ;;
	--out=*) OUT=${1#*=} ;;
	--work) need_arg "$1" $# "${2-}"; WORK=$2; shift ;;
	--work=*) WORK=${1#*=} ;;
	-j[0-9]*) JOBS=${1#-j} ;;
	-j | --jobs) need_arg "$1" $# "${2-}"; JOBS=$2; shift ;;
	--jobs=*) JOBS=${1#*=} ;;
	--print-script) PRINT=1 ;;
	--dry-run | -n) DRY=1 ;;
	-h | --help) usage; exit 0 ;;
	*) die 2 "unknown option '$1' (see --help)" ;;
	esac
	shift
done

# ---- validate options ----
valid_port --http-port "$HTTP_PORT"
valid_port --tftp-port "$TFTP_PORT"
if [ -n "$SERVER" ]; then
	case "$SERVER" in
	*[!A-Za-z0-9.:_%\[\]\$\{\}/-]*) die 2 "--server '$SERVER' is not a host name or address" ;;
	esac
fi
[ -n "$SRC" ] && [ -n "$GIT_URL" ] && die 2 "give either --src or --git-url, not both"
[ -n "$SRC" ] && [ -n "$GIT_REF" ] && die 2 "--git-ref only applies when cloning (without --src)"
if [ -n "$JOBS" ]; then
	case "$JOBS" in '' | *[!0-9]* | 0) die 2 "--jobs must be a positive number, got '$JOBS'" ;; esac
else
	JOBS=$(nproc 2>/dev/null || echo 2)
fi
[ -f "$SCRIPT" ] || die 2 "script '$SCRIPT' not found"
[ -n "$OUT" ] || die 2 "--out must not be empty"

BIOS_GOALS=() EFI_GOALS=() WANTED=()
for t in ${TARGETS//,/ }; do
	case "$t" in
	undionly.kpxe | undionly.kkpxe | ipxe.lkrn | ipxe.pxe | ipxe.iso | ipxe.usb) BIOS_GOALS+=("bin/$t") ;;
	ipxe.efi | snponly.efi) EFI_GOALS+=("bin-x86_64-efi/$t") ;;
	*) die 2 "unknown target '$t' (known: $ALL_TARGETS ipxe.pxe undionly.kkpxe ipxe.iso ipxe.usb)" ;;
	esac
	WANTED+=("$t")
done
[ ${#WANTED[@]} -gt 0 ] || die 2 "--targets is empty"

# ---- the script: placeholders replaced, optionally comments stripped ----
render_script() { # render_script STRIP
	local server=${SERVER:-'${next-server}'}
	# sed replacement text: escape the characters sed treats specially
	local s_server
	s_server=$(printf '%s' "$server" | sed 's/[\/&]/\\&/g')
	sed -e "s/@SERVER@/$s_server/g" -e "s/@HTTP_PORT@/$HTTP_PORT/g" -e "s/@TFTP_PORT@/$TFTP_PORT/g" "$SCRIPT" |
		if [ "$1" = 1 ]; then sed -e '1!{/^[[:space:]]*#/d;}' -e '/^[[:space:]]*$/d'; else cat; fi
}

if [ "$PRINT" = 1 ]; then
	text=$(render_script 1)
	if grep -q '@[A-Z_]*@' <<<"$text"; then
		die 2 "script '$SCRIPT' has placeholders this tool does not know: $(grep -o '@[A-Z_]*@' <<<"$text" | sort -u | tr '\n' ' ')"
	fi
	[ "${#text}" -lt 2047 ] || note "warning: script is ${#text} bytes; ipxe.lkrn accepts at most 2047 on its command line"
	printf '%s\n' "$text"
	exit 0
fi

# ---- tools ----
missing=()
for tool in gcc make perl ld ar objcopy; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ -z "$SRC" ]; then command -v git >/dev/null 2>&1 || missing+=("git"); fi
if command -v gcc >/dev/null 2>&1 && ! printf '#include <lzma.h>\n' | gcc -E -x c - >/dev/null 2>&1; then
	missing+=("lzma.h")
fi
if [ ${#missing[@]} -gt 0 ] && [ "$DRY" = 0 ]; then
	die 3 "missing build tools: ${missing[*]} (Debian: apt-get install gcc make binutils perl liblzma-dev git)"
fi

# ---- source tree ----
WORK=${WORK:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/autopxe-ipxe}
CMDS=() # for --dry-run and for the log: every command exactly as run
run() {
	local q
	q=$(printf '%q ' "$@")
	q=${q% }
	if [ "$DRY" = 1 ]; then
		printf '%s\n' "$q"
		return 0
	fi
	note "+ $q"
	"$@"
}

CLONED=0
if [ -n "$SRC" ]; then
	[ -e "$SRC" ] || die 4 "no iPXE source tree: '$SRC' does not exist"
	SRC=$(cd "$SRC" && pwd)
	if [ -f "$SRC/src/Makefile.housekeeping" ]; then
		IPXE_SRC="$SRC/src"
	elif [ -f "$SRC/Makefile.housekeeping" ]; then
		IPXE_SRC="$SRC"
	else
		die 4 "no iPXE source tree in '$SRC' (expected $SRC/src/Makefile.housekeeping); give the root of an iPXE checkout"
	fi
else
	GIT_URL=${GIT_URL:-$DEFAULT_GIT_URL}
	IPXE_SRC="$WORK/ipxe/src"
	CLONED=1
	if [ "$DRY" = 0 ] && [ -f "$IPXE_SRC/Makefile.housekeeping" ]; then
		note "reusing the clone in $WORK/ipxe (remove it to clone afresh)"
	else
		[ "$DRY" = 1 ] || { mkdir -p "$WORK" && rm -rf "$WORK/ipxe"; } || die 1 "cannot create work directory '$WORK'"
		clone=(git clone --depth 1)
		[ -n "$GIT_REF" ] && clone+=(--branch "$GIT_REF")
		clone+=("$GIT_URL" "$WORK/ipxe")
		run "${clone[@]}" ||
			die 4 "cannot clone iPXE from '$GIT_URL' (no network? give a local tree with --src DIR)"
	fi
fi

# Trees from before iPXE's 2021 move to -fno-common define the same globals in several files;
# gcc >= 10 refuses that unless -fcommon, and newer warnings break their -Werror build.
LEGACY_ARGS=(NO_WERROR=1 EXTRA_CFLAGS=-fcommon)
if [ "$LEGACY" = auto ] && [ -f "$IPXE_SRC/Makefile.housekeeping" ]; then
	# (the 2019 tree mentions -fno-common in a comment: only a CFLAGS line counts)
	if grep -Eq '^[[:space:]]*CFLAGS[[:space:]]*\+=.*-fno-common' "$IPXE_SRC/Makefile.housekeeping"; then
		LEGACY=auto-modern
	else
		LEGACY=yes
	fi
fi

# ---- render, build, install ----
EMBED_FILE="$WORK/autopxe-embedded.ipxe"
if [ "$DRY" = 0 ]; then
	mkdir -p "$WORK" || die 1 "cannot create work directory '$WORK'"
	render_script 0 >"$EMBED_FILE.tmp" && mv "$EMBED_FILE.tmp" "$EMBED_FILE"
	if grep -q '@[A-Z_]*@' "$EMBED_FILE"; then
		die 2 "script '$SCRIPT' has placeholders this tool does not know: $(grep -o '@[A-Z_]*@' "$EMBED_FILE" | sort -u | tr '\n' ' ')"
	fi
fi

make_goals() { # make_goals GOAL... : one make per BIN directory (iPXE builds one platform per invocation)
	local args=(make -C "$IPXE_SRC" -j"$JOBS" "$@" "EMBED=$EMBED_FILE")
	[ "$LEGACY" = yes ] && args+=("${LEGACY_ARGS[@]}")
	[ ${#MAKE_ARGS[@]} -gt 0 ] && args+=("${MAKE_ARGS[@]}")
	if run "${args[@]}"; then return 0; fi
	if [ "$LEGACY" = auto-modern ]; then
		note "the build failed; retrying with the flags older trees need: ${LEGACY_ARGS[*]}"
		LEGACY=yes
		args+=("${LEGACY_ARGS[@]}")
		run "${args[@]}" && return 0
	fi
	die 1 "iPXE build failed in $IPXE_SRC (see the compiler output above; --legacy may help for old trees)"
}

START=$(date +%s)
[ ${#BIOS_GOALS[@]} -gt 0 ] && make_goals "${BIOS_GOALS[@]}"
[ ${#EFI_GOALS[@]} -gt 0 ] && make_goals "${EFI_GOALS[@]}"

run install -d "$OUT" || die 1 "cannot create output directory '$OUT'"
for g in "${BIOS_GOALS[@]}" "${EFI_GOALS[@]}"; do
	run install -m 0644 "$IPXE_SRC/$g" "$OUT/${g#*/}" || die 1 "cannot install $g into '$OUT'"
done
[ "$DRY" = 1 ] && exit 0

{
	printf 'built: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	if [ "$CLONED" = 1 ]; then printf 'source: %s %s\n' "$GIT_URL" "${GIT_REF:-(default branch)}"; else
		printf 'source: %s\n' "$SRC"; fi
	printf 'ipxe commit: %s\n' "$(git -C "$IPXE_SRC" rev-parse HEAD 2>/dev/null || echo unknown)"
	printf 'server: %s  http-port: %s  tftp-port: %s  legacy flags: %s\n' "${SERVER:-\${next-server\}}" \
		"$HTTP_PORT" "$TFTP_PORT" "$([ "$LEGACY" = yes ] && echo yes || echo no)"
} >"$OUT/autopxe-ipxe-build.txt" || die 1 "cannot write $OUT/autopxe-ipxe-build.txt"
note "built ${WANTED[*]} in $(($(date +%s) - START)) s; installed into $OUT"
