#!/bin/sh
# storm_two.sh [BUILD] [NODES] - boot storm of NODES nodes (default 1000) through one autopxe, then through two
# instances sharing one PostgreSQL (NODES/2 each, both storms at once), same run; prints both and the ratio.
# Needs root (PostgreSQL 15 runs as nobody, started here in a temp dir on 127.0.0.1) and bench/storm.
# Env: AUTOPXE_BIN (default BUILD/autopxe). Every node: menu over TFTP, kernel + initrd over HTTP (bench/storm.c).
set -eu
build=${1:-build}
nodes=${2:-1000}
bin=${AUTOPXE_BIN:-$build/autopxe}
storm=$build/storm
pgbin=/usr/lib/postgresql/15/bin
[ -x "$storm" ] || make -s "$storm"
[ "$(id -u)" = 0 ] && [ -x "$pgbin/initdb" ] || { echo "storm_two: needs root and postgresql 15"; exit 2; }
dir=$(mktemp -d /tmp/autopxe-storm2.XXXXXX)
chmod 755 "$dir"
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	[ -d "$dir/pg" ] && runuser -u nobody -- "$pgbin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET,int(sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }
r=$dir/rootfs
mkdir -p "$r/debian/bookworm/boot"
head -c 200000 /dev/urandom >"$r/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64"
head -c 300000 /dev/urandom >"$r/debian/bookworm/boot/initrd.img-6.1.0-21-amd64"
chmod -R a+rX "$dir"
pgport=$(port 1)
chown nobody "$dir"
runuser -u nobody -- "$pgbin/initdb" -D "$dir/pg" -A trust -U autopxe --no-sync >/dev/null
runuser -u nobody -- "$pgbin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w -o "-h 127.0.0.1 -p $pgport -k $dir" start >/dev/null
printf 'version: 1\nDefaultDistro: debian/bookworm/latest/nfs\nRootfsPath: %s\nWatch: false\nLogLevel: warn\n' "$r" >"$dir/config.yaml"
printf 'TFTPMaxSessions: 4096\nStateURL: postgresql://autopxe@127.0.0.1:%s/postgres\n' "$pgport" >>"$dir/config.yaml"
printf 'CmdlineTemplates:\n  nfs: root=/dev/nfs ip=dhcp\n' >>"$dir/config.yaml"
start() { # start NAME: an instance on fresh ports; sets $tp_NAME $hp_NAME
	tp=$(port 2)
	hp=$(port 1)
	"$bin" --config "$dir/config.yaml" --tftp-listen "127.0.0.1:$tp" --http-listen "127.0.0.1:$hp" serve 2>"$dir/$1.log" &
	pids="$pids $!"
	i=0
	until curl -fs -o /dev/null "http://127.0.0.1:$hp/healthz"; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { cat "$dir/$1.log"; exit 1; }
		sleep 0.1
	done
	eval "tp_$1=$tp hp_$1=$hp"
}
field() { sed -n "s/^storm .*$2=\([0-9.]*\).*/\1/p" "$1" | head -1; }
p99() { sed -n 's/^storm node_ms .*p99=\([0-9.]*\).*/\1/p' "$1"; }
stop_all() { for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done; pids=; }
# one instance, all nodes
start one
"$storm" --tftp "127.0.0.1:$tp_one" --nodes "$nodes" --default-id debian/bookworm/latest/nfs --root "$r" \
	--mac-base 525400100000 >"$dir/one.out" || true
sed 's/^storm /storm one: /' "$dir/one.out" | grep -v '^storm one: fail' || true
stop_all
# two instances, half each, at once
start a
start b
half=$((nodes / 2))
"$storm" --tftp "127.0.0.1:$tp_a" --nodes "$half" --default-id debian/bookworm/latest/nfs --root "$r" \
	--mac-base 525400200000 --src-base 127.20.0.1 >"$dir/a.out" &
sa=$!
"$storm" --tftp "127.0.0.1:$tp_b" --nodes "$((nodes - half))" --default-id debian/bookworm/latest/nfs --root "$r" \
	--mac-base 525400300000 --src-base 127.30.0.1 >"$dir/b.out" &
sb=$!
wait "$sa" || true
wait "$sb" || true
sed 's/^storm /storm two-a: /' "$dir/a.out" | grep -v 'fail ' || true
sed 's/^storm /storm two-b: /' "$dir/b.out" | grep -v 'fail ' || true
sleep 1.5 # the writers batch for 50 ms and poll each other every second
booted=$(psql -X -h 127.0.0.1 -p "$pgport" -U autopxe -d postgres -Atc "SELECT count(*) FROM nodes WHERE state = 3")
events=$(psql -X -h 127.0.0.1 -p "$pgport" -U autopxe -d postgres -Atc "SELECT count(*) FROM events")
seen=$(curl -fs "http://127.0.0.1:$hp_a/metrics" | sed -n 's/^autopxe_nodes{state="booted"} //p')
stop_all
w1=$(field "$dir/one.out" wall_ms)
wa=$(field "$dir/a.out" wall_ms)
wb=$(field "$dir/b.out" wall_ms)
w2=$((wa > wb ? wa : wb))
pa=$(p99 "$dir/a.out")
pb=$(p99 "$dir/b.out")
echo "storm_two nodes=$nodes one: wall_ms=$w1 p99=$(p99 "$dir/one.out") failed=$(field "$dir/one.out" failed)"
echo "storm_two nodes=$nodes two: wall_ms=$w2 p99_a=$pa p99_b=$pb failed=$(($(field "$dir/a.out" failed) + $(field "$dir/b.out" failed)))"
echo "storm_two db: nodes_booted=$booted events=$events (one run + two run); instance a sees booted=$seen"
python3 -c "import sys; print('storm_two ratio wall one/two = %.2f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$w1" "$w2"
