/* itest.h - helpers for integration suites: fixture trees, starting the real server, running real clients. */
#ifndef AUTOPXE_ITEST_H
#define AUTOPXE_ITEST_H

#include <stddef.h>
#include <sys/types.h>

/* A running autopxe (build/autopxe-san by default; env AUTOPXE_BIN overrides) on 127.0.0.1. */
struct itest_server {
	pid_t pid;
	char dir[256];       /* temp working dir (config, rootfs, logs live here), removed by itest_stop */
	char rootfs[300];    /* dir/rootfs */
	char config[300];    /* dir/config.yaml */
	char log[300];       /* dir/server.log: the server's stderr */
	unsigned tftp_port;  /* 0 when TFTP is off */
	unsigned http_port;  /* 0 when HTTP is off */
};

/* Make a temp dir with a Debian-like fixture tree under dir/rootfs:
 *   debian/bookworm/boot/vmlinuz-6.1.0-21-amd64 (+initrd.img-6.1.0-21-amd64), vmlinuz-6.1.0-9-amd64 (+initrd),
 *   debian/bookworm/vmlinuz -> boot/vmlinuz-6.1.0-21-amd64, initrd.img -> boot/initrd.img-6.1.0-21-amd64,
 *   debian/bookworm/etc/os-release, debian/bookworm/etc/shadow (a secret that must never be served),
 *   debian/trixie/boot/vmlinuz-6.12.9-amd64 (+initrd), ubuntu/noble/boot/vmlinuz-6.8.0-31-generic (+initrd).
 * File contents are deterministic pseudo-random bytes of the sizes given by itest_fixture_size(name).
 * Returns 0; fills s->dir/rootfs/config/log. */
int itest_prepare(struct itest_server *s);

/* Write `yaml` to s->config; "@ROOTFS@" in it is replaced by s->rootfs. */
int itest_write_config(struct itest_server *s, const char *yaml);

/* Start the server: `autopxe serve --config s->config --tftp-listen 127.0.0.1:P --http-listen 127.0.0.1:Q [extra...]`
 * with free ports picked (tftp/http: 1 = enable, 0 = "off"). Waits until it answers (up to 10 s). 0 or -1. */
int itest_start(struct itest_server *s, int tftp, int http, const char *const *extra_args);
/* SIGTERM, wait (up to 10 s, then SIGKILL), check the exit status; returns the exit status (0 = clean).
 * Also fails (returns -1) when the server log has an AddressSanitizer/UndefinedBehaviorSanitizer report. */
int itest_stop(struct itest_server *s);
/* Remove s->dir recursively. */
void itest_cleanup(struct itest_server *s);

/* Run a shell command (sh -c), capture stdout (up to 64 MiB) into *out (caller frees; may be NULL),
 * return the exit status (or -1). Commands are printed to stderr when ITEST_VERBOSE is set. */
int itest_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* sha256 of a file as 64 hex chars (via sha256sum). 0 or -1. */
int itest_sha256(const char *path, char hex[65]);
/* Create a file of `size` deterministic pseudo-random bytes (seeded by `seed`). 0 or -1. */
int itest_make_file(const char *path, unsigned long long size, unsigned seed);
/* Pick a free 127.0.0.1 port for the socket type (SOCK_DGRAM/SOCK_STREAM). */
unsigned itest_free_port(int socktype);
/* 1 when the server log contains `needle`. */
int itest_log_contains(const struct itest_server *s, const char *needle);

#endif
