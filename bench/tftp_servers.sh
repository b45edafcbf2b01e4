# shellcheck shell=sh
# bench/tftp_servers.sh - sourced by bench/tftp.sh, bench/ab_tftp.sh and bench/par_probe.sh: how every TFTP bench
# starts its servers, so all of them run the peers with the same command lines. Everything on 127.0.0.1 only.

# tftp_dnsmasq ROOT DIR: dnsmasq serving ROOT over TFTP on 127.0.0.1:69 (its TFTP port cannot be changed; needs
# root), no DNS, up to 1000 transfers, pid and log in DIR; in the background ($! is its pid).
tftp_dnsmasq() {
	dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --enable-tftp --tftp-root="$1" \
		--listen-address=127.0.0.1 --bind-interfaces --tftp-max=1000 --user=root \
		--pid-file="$2/dnsmasq.pid" --log-facility="$2/dnsmasq.log" &
}

# tftp_start DIR I PORT SERVER [EXTRA]: start server number I of a probe in the background ($! is its pid), serving
# DIR/root on 127.0.0.1:PORT (dnsmasq: on 69, whatever PORT says). SERVER: hpa (/usr/sbin/in.tftpd), dnsmasq, or a
# path to an autopxe binary, which gets DIR/root as StaticDir, DIR/rootfs, a StateDir of its own and EXTRA (config
# lines, printf %b) in DIR/configI.yaml, and logs to DIR/logI.
tftp_start() {
	case $4 in
	hpa) /usr/sbin/in.tftpd -L -s "$1/root" -a "127.0.0.1:$3" -u "$(id -un)" & ;;
	dnsmasq) tftp_dnsmasq "$1/root" "$1" ;;
	*)
		mkdir -p "$1/state$2"
		printf 'version: 1\nRootfsPath: %s/rootfs\nStaticDir: %s/root\nWatch: false\nStateDir: %s/state%d\nTFTPMaxPerClient: 1000\nCmdlineTemplates:\n  t: ip=dhcp\n%b' \
			"$1" "$1" "$1" "$2" "${5:-}" >"$1/config$2.yaml"
		"$4" --config "$1/config$2.yaml" --tftp-listen "127.0.0.1:$3" --http-listen off serve 2>"$1/log$2" &
		;;
	esac
	# TFTP_CGROUP: a cgroup directory (v1 cpu or v2) to run the server in, e.g. one with a CPU quota; the server has
	# not bound its port yet, and its transfers (tftpd-hpa's children) stay there
	[ -z "${TFTP_CGROUP:-}" ] || echo "$!" >"$TFTP_CGROUP/cgroup.procs"
}
