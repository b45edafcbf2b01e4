/* itest.c - integration-test helpers: fixture trees, the real server as a child process, real clients via sh,
 * raw TFTP/HTTP clients. */
#include "itest.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int mkdirs(const char *path)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0755) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	}
	return mkdir(buf, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

int itest_make_file(const char *path, unsigned long long size, unsigned seed)
{
	char dir[1024];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		if (mkdirs(dir))
			return -1;
	}
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	uint64_t x = 0x9e3779b97f4a7c15ULL ^ seed;
	unsigned char buf[65536];
	while (size) {
		size_t n = size < sizeof buf ? (size_t)size : sizeof buf;
		for (size_t i = 0; i < n; i += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			for (size_t k = 0; k < 8 && i + k < n; k++)
				buf[i + k] = (unsigned char)(x >> (8 * k));
		}
		if (fwrite(buf, 1, n, f) != n) {
			fclose(f);
			return -1;
		}
		size -= n;
	}
	return fclose(f) == 0 ? 0 : -1;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

int itest_prepare(struct itest_server *s)
{
	memset(s, 0, sizeof *s);
	snprintf(s->dir, sizeof s->dir, "/tmp/autopxe-it.XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	chmod(s->dir, 0755);
	snprintf(s->rootfs, sizeof s->rootfs, "%s/rootfs", s->dir);
	snprintf(s->config, sizeof s->config, "%s/config.yaml", s->dir);
	snprintf(s->log, sizeof s->log, "%s/server.log", s->dir);
	static const struct {
		const char *path;
		unsigned long long size;
	} files[] = {
	    {"debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", 300000},
	    {"debian/bookworm/boot/initrd.img-6.1.0-21-amd64", 700001},
	    {"debian/bookworm/boot/vmlinuz-6.1.0-9-amd64", 1024},
	    {"debian/bookworm/boot/initrd.img-6.1.0-9-amd64", 512},
	    {"debian/trixie/boot/vmlinuz-6.12.9-amd64", 4096},
	    {"debian/trixie/boot/initrd.img-6.12.9-amd64", 0},
	    {"ubuntu/noble/boot/vmlinuz-6.8.0-31-generic", 5000},
	    {"ubuntu/noble/boot/initrd.img-6.8.0-31-generic", 6000},
	};
	char p[1200];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", s->rootfs, files[i].path);
		if (itest_make_file(p, files[i].size, (unsigned)i + 1))
			return -1;
	}
	snprintf(p, sizeof p, "%s/debian/bookworm/etc", s->rootfs);
	mkdirs(p);
	snprintf(p, sizeof p, "%s/debian/bookworm/etc/os-release", s->rootfs);
	write_text(p, "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n");
	snprintf(p, sizeof p, "%s/debian/bookworm/etc/shadow", s->rootfs);
	write_text(p, "root:SECRET-SHADOW-CONTENT:19000:0:99999:7:::\n");
	chmod(p, 0640);
	snprintf(p, sizeof p, "%s/debian/bookworm/vmlinuz", s->rootfs);
	if (symlink("boot/vmlinuz-6.1.0-21-amd64", p))
		return -1;
	snprintf(p, sizeof p, "%s/debian/bookworm/initrd.img", s->rootfs);
	if (symlink("boot/initrd.img-6.1.0-21-amd64", p))
		return -1;
	return 0;
}

int itest_write_config(struct itest_server *s, const char *yaml)
{
	FILE *f = fopen(s->config, "w");
	if (!f)
		return -1;
	for (const char *p = yaml; *p;) {
		const char *m = strstr(p, "@ROOTFS@");
		if (!m) {
			fputs(p, f);
			break;
		}
		fwrite(p, 1, (size_t)(m - p), f);
		fputs(s->rootfs, f);
		p = m + 8;
	}
	/* every test server keeps its pins and timeline in its own dir, never in the shared /var/lib/autopxe */
	const char *first = yaml + strspn(yaml, " \t\r\n");
	if (!strstr(yaml, "StateDir:") && *first != '{' && *first != '-')
		fprintf(f, "%sStateDir: %s/state\n", *yaml && yaml[strlen(yaml) - 1] != '\n' ? "\n" : "", s->dir);
	return fclose(f);
}

unsigned itest_free_port(int socktype)
{
	int fd = socket(AF_INET, socktype, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &l)) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	close(fd);
	return ntohs(a.sin_port);
}

static int tcp_ready(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

int itest_log_contains(const struct itest_server *s, const char *needle)
{
	FILE *f = fopen(s->log, "r");
	if (!f)
		return 0;
	char line[8192];
	int found = 0;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

int itest_log_wait(const struct itest_server *s, const char *needle, unsigned ms)
{
	for (unsigned waited = 0;; waited += 10) {
		if (itest_log_contains(s, needle))
			return 1;
		if (waited >= ms)
			return 0;
		itest_msleep(10);
	}
}

int itest_start(struct itest_server *s, int tftp, int http, const char *const *extra)
{
	const char *bin = getenv("AUTOPXE_BIN");
	if (!bin)
		bin = "build/autopxe-san";
	s->tftp_port = tftp ? itest_free_port(SOCK_DGRAM) : 0;
	s->http_port = http ? itest_free_port(SOCK_STREAM) : 0;
	char tl[64], hl[64];
	if (tftp)
		snprintf(tl, sizeof tl, "127.0.0.1:%u", s->tftp_port);
	else
		snprintf(tl, sizeof tl, "off");
	if (http)
		snprintf(hl, sizeof hl, "127.0.0.1:%u", s->http_port);
	else
		snprintf(hl, sizeof hl, "off");
	const char *argv[64] = {bin, "--config", s->config, "--tftp-listen", tl, "--http-listen", hl};
	int n = 7;
	for (size_t i = 0; extra && extra[i] && n < 62; i++)
		argv[n++] = extra[i];
	argv[n++] = "serve";
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
		closefrom(3); /* the server must not inherit the test's fds (Check's temp files, sockets) */
		setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=86", 0);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	s->pid = pid;
	for (int i = 0; i < 200; i++) { /* up to 10 s */
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			s->pid = 0;
			return -1;
		}
		if (itest_log_contains(s, "serving (pid"))
			return (!http || tcp_ready(s->http_port)) ? 0 : -1;
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return -1;
}

int itest_stop(struct itest_server *s)
{
	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	int st = 0;
	for (int i = 0; i < 200; i++) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid)
			goto done;
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &st, 0);
	s->pid = 0;
	return -1;
done:
	s->pid = 0;
	if (itest_log_contains(s, "AddressSanitizer") || itest_log_contains(s, "runtime error:") ||
	    itest_log_contains(s, "LeakSanitizer"))
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void itest_cleanup(struct itest_server *s)
{
	if (s->pid > 0)
		itest_stop(s);
	if (getenv("ITEST_KEEP") || !s->dir[0])
		return;
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "itest: could not remove %s\n", s->dir);
}

void itest_stop_clean(struct itest_server *s)
{
	int rc = itest_stop(s);
	if (rc != 0)
		itest_run(NULL, "tail -n 40 '%s' >&2", s->log);
	ck_assert_msg(rc == 0, "server exit status %d (sanitizer report or unclean exit, see %s)", rc, s->log);
	itest_cleanup(s);
	memset(s, 0, sizeof *s);
}

int itest_run(char **out, const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (getenv("ITEST_VERBOSE"))
		fprintf(stderr, "+ %s\n", cmd);
	FILE *p = popen(cmd, "r");
	free(cmd);
	if (!p)
		return -1;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += r;
		if (cap - len < 2 && cap < (64u << 20)) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		} else if (cap - len < 2) {
			break;
		}
	}
	if (buf)
		buf[len] = '\0';
	int st = pclose(p);
	if (out)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int itest_sha256(const char *path, char hex[65])
{
	char *out = NULL;
	int rc = itest_run(&out, "sha256sum '%s'", path);
	if (rc != 0 || !out || strlen(out) < 64) {
		free(out);
		return -1;
	}
	memcpy(hex, out, 64);
	hex[64] = '\0';
	free(out);
	return 0;
}

void itest_msleep(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

char *itest_out_of(const char *fmt, ...)
{
	char cmd[8192], *out = NULL;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int rc = itest_run(&out, "%s", cmd);
	ck_assert_msg(rc == 0, "command failed (%d): %s\n%s", rc, cmd, out ? out : "");
	return out ? out : strdup("");
}

long long itest_metric(const struct itest_server *s, const char *name)
{
	char *out = NULL;
	long long v = -1;
	if (itest_run(&out, "curl -s --max-time 5 http://127.0.0.1:%u/metrics", s->http_port) == 0 && out) {
		size_t n = strlen(name);
		for (char *l = out; l && *l;) {
			char *e = strchr(l, '\n');
			if (strncmp(l, name, n) == 0 && l[n] == ' ')
				v = strtoll(l + n + 1, NULL, 10);
			l = e ? e + 1 : NULL;
		}
	}
	free(out);
	return v;
}

/* ------------------------------------------------------------------ raw sockets */

static struct sockaddr_in loopback(unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	return a;
}

/* A socket of `type` (close-on-exec) bound to src, or left unbound when src is NULL and bind_default is 0. */
static int open_bound(int type, const char *src, int bind_default)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	if (src || bind_default) {
		struct sockaddr_in a = {.sin_family = AF_INET};
		ck_assert_msg(inet_pton(AF_INET, src ? src : "127.0.0.1", &a.sin_addr) == 1, "bad address %s", src);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	}
	return fd;
}

int itest_udp_open(const char *src) { return open_bound(SOCK_DGRAM, src, 1); }

void itest_udp_send(int fd, unsigned port, const void *p, size_t n)
{
	struct sockaddr_in to = loopback(port);
	ck_assert_int_eq((long)sendto(fd, p, n, 0, (struct sockaddr *)&to, sizeof to), (long)n);
}

ssize_t itest_udp_recv(int fd, void *buf, size_t cap, unsigned *port, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, ms) != 1)
		return -1;
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&from, &fl);
	if (port)
		*port = ntohs(from.sin_port);
	return n;
}

unsigned itest_get16(const void *p)
{
	const uint8_t *b = p;
	return (unsigned)b[0] << 8 | b[1];
}

/* Append each string of parts with its NUL at buf + o; the new length. */
static size_t put_parts(uint8_t *buf, size_t o, size_t cap, const char *const *parts)
{
	for (size_t i = 0; parts[i]; i++) {
		size_t l = strlen(parts[i]);
		ck_assert_uint_lt(o + l + 1, cap);
		memcpy(buf + o, parts[i], l + 1);
		o += l + 1;
	}
	return o;
}

size_t itest_tftp_req(uint8_t *buf, size_t cap, unsigned op, const char *const *parts)
{
	ck_assert_uint_ge(cap, 2);
	buf[0] = (uint8_t)(op >> 8);
	buf[1] = (uint8_t)op;
	return put_parts(buf, 2, cap, parts);
}

void itest_tftp_send(int fd, unsigned port, unsigned op, const char *const *parts)
{
	uint8_t req[1024];
	itest_udp_send(fd, port, req, itest_tftp_req(req, sizeof req, op, parts));
}

void itest_tftp_rrq_bytes(int fd, unsigned port, const char *name, size_t name_len, unsigned blksize)
{
	char bs[16];
	snprintf(bs, sizeof bs, "%u", blksize);
	const char *const opts[] = {"octet", blksize ? "blksize" : NULL, bs, NULL};
	size_t cap = name_len + 64;
	uint8_t *p = malloc(cap);
	ck_assert_ptr_nonnull(p);
	p[0] = 0;
	p[1] = 1;
	memcpy(p + 2, name, name_len);
	p[2 + name_len] = 0;
	itest_udp_send(fd, port, p, put_parts(p, 3 + name_len, cap, opts));
	free(p);
}

void itest_tftp_ack(int fd, unsigned port, unsigned block)
{
	uint8_t a[4] = {0, 4, (uint8_t)(block >> 8), (uint8_t)block};
	itest_udp_send(fd, port, a, sizeof a);
}

int itest_tcp_connect(const char *src, unsigned port)
{
	int fd = open_bound(SOCK_STREAM, src, 0);
	struct sockaddr_in to = loopback(port);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&to, sizeof to), 0);
	return fd;
}

size_t itest_http_raw(unsigned port, const void *req, size_t len, char *out, size_t cap, size_t *sent)
{
	int fd = itest_tcp_connect(NULL, port);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	size_t off = 0;
	while (off < len) {
		ssize_t w = send(fd, (const char *)req + off, len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break; /* the server may answer (and close) before reading a huge request */
		off += (size_t)w;
	}
	if (sent)
		*sent = off;
	shutdown(fd, SHUT_WR);
	size_t got = 0;
	ssize_t r;
	while (got < cap - 1 && (r = recv(fd, out + got, cap - 1 - got, 0)) > 0)
		got += (size_t)r;
	out[got] = '\0';
	close(fd);
	return got;
}
