/* itest.h - helpers for integration suites: fixture trees, starting the real server, running real clients. */
#ifndef AUTOPXE_ITEST_H
#define AUTOPXE_ITEST_H

#include <stddef.h>
#include <stdint.h>
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
/* The end of a test that started a server: itest_stop, and fail the running Check test (after printing the
 * log's last 40 lines to stderr) unless the server exited cleanly; then itest_cleanup, and zero *s so that a
 * later teardown finds nothing left to stop. */
void itest_stop_clean(struct itest_server *s);

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
/* 1 as soon as the server log contains `needle`, 0 when it still does not after ms milliseconds: for a line the
 * server writes after the packet or response the test has already seen (the end of a transfer). */
int itest_log_wait(const struct itest_server *s, const char *needle, unsigned ms);
/* Value of the Prometheus sample `name` (a line "name value", as written, labels included) in the server's
 * GET /metrics, fetched with curl (5 s at most); -1 when absent or when the server does not answer. */
long long itest_metric(const struct itest_server *s, const char *name);
/* Sleep ms milliseconds. */
void itest_msleep(unsigned ms);
/* Run a shell command (printf-style) and return its stdout (caller frees; "" when it printed nothing);
 * fails the test when the command exits non-zero. */
char *itest_out_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- raw sockets on 127.0.0.1, for what curl, tftp-hpa and atftp will not send. Ports are in host order.
 * These end the running Check test (a failed assertion) on a socket error instead of returning one; the
 * caller closes the fds they return. */

/* A UDP socket (close-on-exec) bound to address src (NULL: 127.0.0.1), on a port the kernel picks. */
int itest_udp_open(const char *src);
/* Send the n bytes at p from fd to 127.0.0.1:port, in one datagram. */
void itest_udp_send(int fd, unsigned port, const void *p, size_t n);
/* Receive one datagram into buf within ms: its length, or -1 when none came; *port (may be NULL) is the
 * sender's port, which is the server's transfer id for TFTP. */
ssize_t itest_udp_recv(int fd, void *buf, size_t cap, unsigned *port, int ms);
/* The big-endian 16-bit number at p (TFTP opcodes, block numbers, error codes). */
unsigned itest_get16(const void *p);
/* Build a TFTP request in buf: the 2-byte opcode op (1 RRQ, 2 WRQ), then each string of `parts` (a
 * NULL-terminated list: name, mode, option, value, ...) with its NUL. Returns its length; fails the test when
 * it does not fit in cap. */
size_t itest_tftp_req(uint8_t *buf, size_t cap, unsigned op, const char *const *parts);
/* Build that request and send it from fd to the server at 127.0.0.1:port. */
void itest_tftp_send(int fd, unsigned port, unsigned op, const char *const *parts);
/* Send an RRQ from fd to 127.0.0.1:port for a name of any name_len bytes (NULs, control bytes, 64 KiB), in
 * octet mode, with the option "blksize <blksize>" when blksize is not 0. */
void itest_tftp_rrq_bytes(int fd, unsigned port, const char *name, size_t name_len, unsigned blksize);
/* Send ACK `block` (its low 16 bits) from fd to 127.0.0.1:port. */
void itest_tftp_ack(int fd, unsigned port, unsigned block);

/* A TCP socket (close-on-exec) bound to address src (NULL: any), connected to 127.0.0.1:port. */
int itest_tcp_connect(const char *src, unsigned port);
/* Send the len bytes of req to 127.0.0.1:port over a new connection (stopping early when the server stops
 * reading: *sent, when not NULL, says how many went), close the sending side, and read the answer until the
 * server closes, cap - 1 bytes arrive, or 5 s pass without data. The answer is in out, NUL-terminated; returns
 * its length. */
size_t itest_http_raw(unsigned port, const void *req, size_t len, char *out, size_t cap, size_t *sent);

#endif
