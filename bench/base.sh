# bench/base.sh - sourced by bench/run.sh and bench/storm.sh: build the server of an older revision, to measure a
# baseline in the same run as the current build (issue 18: "peak RSS ... unchanged or lower").
# shellcheck shell=sh

# base_build TOP REV DIR: `git archive REV` of the checkout at TOP into DIR/src, built there with its own Makefile
# into DIR/build. Prints the binary's path (DIR/build/autopxe), or one line saying why not and returns 1.
base_build() {
	git -C "$1" rev-parse -q --verify "$2^{commit}" >/dev/null 2>&1 ||
		{ echo "$2 is not a commit in $1 (not a git checkout, or a shallow clone)"; return 1; }
	mkdir -p "$3/src" || { echo "cannot create $3/src"; return 1; }
	git -C "$1" archive --format=tar "$2" | tar -x -C "$3/src" 2>"$3/tar.log" ||
		{ echo "git archive $2 | tar failed: $(tail -n 1 "$3/tar.log")"; return 1; }
	make -s -C "$3/src" BUILD="$3/build" "$3/build/autopxe" >"$3/make.log" 2>&1 ||
		{ echo "make of $2 failed: $(tail -n 1 "$3/make.log")"; return 1; }
	echo "$3/build/autopxe"
}
