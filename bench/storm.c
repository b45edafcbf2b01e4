/* storm.c - boot-storm load tool: N simulated nodes each fetch their menu over TFTP, then kernel + initrd over HTTP. */
/*
 * Every node is what an iPXE client does at power-on, minus DHCP: RRQ "autopxe-<mac>" (blksize, tsize and
 * optionally windowsize), ACK the blocks, check the menu is its own (its MAC in colon form; the expected
 * `choose --default <id>`), then follow the default entry's `kernel` and `initrd` URLs over HTTP/1.1
 * (keep-alive, one connection per node). ERROR 0 from the server (a session cap: "busy, retry") makes the
 * node back off and ask again, as a real client's retry would. All nodes start at once (or --spread ms).
 * One thread, one epoll set; every node has its own source address (127.x.y.z: all of 127/8 is loopback)
 * so the server's per-client caps see 1,000 machines, not one.
 *
 * Prints key=value lines (the integration suite parses them):
 *   storm nodes=N ok=N failed=N busy=N tftp_timeouts=N http_retries=N wall_ms=N
 *   storm node_ms p50=N p90=N p99=N max=N
 *   storm server_vmhwm_kb=N            (with --pid)
 *   storm fail node=I mac=M reason="..."  (first 20 failures)
 * Exit status 0 when every node booted, 1 otherwise, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MENU_MAX (256u * 1024)
#define HDR_MAX 8192
#define MAX_FAIL_PRINT 20

enum phase { P_WAIT, P_TFTP, P_HTTP, P_DONE, P_FAILED };

struct fetch {
	char path[512];
	uint64_t want_len;    /* expected body bytes from --root, UINT64_MAX = unknown */
	const uint8_t *want; /* the expected bytes (shared, from the cache below) */
};

struct node {
	unsigned idx;
	uint8_t mac[6];
	struct sockaddr_in src;
	enum phase phase;
	int fd;
	uint64_t t_start, t_end, deadline;
	/* TFTP */
	uint16_t tid;      /* server's transfer port, 0 until the first reply */
	unsigned blksize, window, in_window;
	uint16_t expect;   /* next DATA block number on the wire */
	uint8_t last_pkt[600];
	size_t last_len;
	unsigned tries, busy;
	char *menu;
	size_t menu_len;
	/* HTTP */
	struct sockaddr_in http;
	struct fetch get[2];
	int n_get, cur_get, connected, sent;
	char hdr[HDR_MAX];
	size_t hdr_len;
	int in_body, conn_close;
	uint64_t body_left, body_got;
	int body_bad;
	unsigned http_tries;
	char why[160];
};

static struct {
	struct sockaddr_in tftp;
	unsigned nodes, blksize, window, timeout_ms, tries, busy_max, spread_ms, wall_s;
	uint64_t mac_base;
	uint32_t src_base; /* host order; 0 = let the kernel choose (127.0.0.1) */
	unsigned pin_every;
	const char *pin_id, *default_id, *root, *file_prefix;
	long pid;
	int no_http, verbose;
} opt = {.nodes = 100, .blksize = 1468, .window = 1, .timeout_ms = 1000, .tries = 8, .busy_max = 200,
         .wall_s = 120, .mac_base = 0x525400000000ull, .src_base = (127u << 24) | (100u << 16) | 1u,
         .file_prefix = "/boot/"};

static int epfd;
static unsigned long n_busy, n_timeouts, n_http_retries;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Mark n failed; `fmt` holds at most one "%s", replaced by arg. */
static void fail(struct node *n, const char *fmt, const char *arg)
{
	if (n->phase == P_FAILED || n->phase == P_DONE)
		return;
	const char *m = strstr(fmt, "%s");
	if (m)
		snprintf(n->why, sizeof n->why, "%.*s%s%s", (int)(m - fmt), fmt, arg ? arg : "", m + 2);
	else
		snprintf(n->why, sizeof n->why, "%s", fmt);
	n->phase = P_FAILED;
	n->t_end = now_ms();
	if (n->fd >= 0) {
		close(n->fd);
		n->fd = -1;
	}
}

static int watch(struct node *n, uint32_t ev, int op)
{
	struct epoll_event e = {.events = ev, .data.ptr = n};
	return epoll_ctl(epfd, op, n->fd, &e);
}

/* ---- TFTP ---- */

static size_t put_str(uint8_t *p, size_t at, const char *s)
{
	size_t l = strlen(s) + 1;
	memcpy(p + at, s, l);
	return at + l;
}

static void tftp_send_last(struct node *n)
{
	struct sockaddr_in to = opt.tftp;
	if (n->tid)
		to.sin_port = htons(n->tid);
	if (sendto(n->fd, n->last_pkt, n->last_len, 0, (struct sockaddr *)&to, sizeof to) < 0 && opt.verbose)
		fprintf(stderr, "storm: node %u sendto: %s\n", n->idx, strerror(errno));
}

static void tftp_start(struct node *n, uint64_t now)
{
	n->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n->fd < 0)
		return fail(n, "socket: %s", strerror(errno));
	if (opt.src_base && bind(n->fd, (struct sockaddr *)&n->src, sizeof n->src) != 0)
		return fail(n, "bind: %s", strerror(errno));
	if (watch(n, EPOLLIN, EPOLL_CTL_ADD) != 0)
		return fail(n, "epoll: %s", strerror(errno));
	char name[40], num[16];
	snprintf(name, sizeof name, "autopxe-%02x%02x%02x%02x%02x%02x", n->mac[0], n->mac[1], n->mac[2], n->mac[3],
	         n->mac[4], n->mac[5]);
	uint8_t *p = n->last_pkt;
	p[0] = 0;
	p[1] = 1;
	size_t at = put_str(p, 2, name);
	at = put_str(p, at, "octet");
	snprintf(num, sizeof num, "%u", opt.blksize);
	at = put_str(p, at, "blksize");
	at = put_str(p, at, num);
	at = put_str(p, at, "tsize");
	at = put_str(p, at, "0");
	if (opt.window > 1) {
		snprintf(num, sizeof num, "%u", opt.window);
		at = put_str(p, at, "windowsize");
		at = put_str(p, at, num);
	}
	n->last_len = at;
	n->tid = 0;
	n->blksize = 512;
	n->window = 1;
	n->in_window = 0;
	n->expect = 1;
	n->tries = 0;
	n->menu_len = 0;
	n->phase = P_TFTP;
	n->deadline = now + opt.timeout_ms;
	tftp_send_last(n);
}

static void tftp_ack(struct node *n, uint16_t blk)
{
	n->last_pkt[0] = 0;
	n->last_pkt[1] = 4;
	n->last_pkt[2] = (uint8_t)(blk >> 8);
	n->last_pkt[3] = (uint8_t)blk;
	n->last_len = 4;
	tftp_send_last(n);
}

static void http_begin(struct node *n, uint64_t now);

/* Expected length and hash of a served file (--root), cached by path. 0 or -1. */
static struct fetch exp_cache[64];
static size_t exp_n;

static int load_expected(struct fetch *f)
{
	f->want_len = UINT64_MAX;
	if (!opt.root)
		return 0;
	for (size_t i = 0; i < exp_n; i++) {
		if (strcmp(exp_cache[i].path, f->path) == 0) {
			f->want_len = exp_cache[i].want_len;
			f->want = exp_cache[i].want;
			return 0;
		}
	}
	size_t pl = strlen(opt.file_prefix);
	if (strncmp(f->path, opt.file_prefix, pl) != 0)
		return -1;
	char p[1200];
	snprintf(p, sizeof p, "%s/%s", opt.root, f->path + pl);
	FILE *fp = fopen(p, "rb");
	if (!fp || exp_n == sizeof exp_cache / sizeof exp_cache[0])
		return fp ? fclose(fp), -1 : -1;
	size_t cap = 1 << 16, len = 0, r;
	uint8_t *buf = malloc(cap);
	while (buf && (r = fread(buf + len, 1, cap - len, fp)) > 0) {
		len += r;
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(fp);
	if (!buf)
		return -1;
	f->want = buf;
	f->want_len = len;
	exp_cache[exp_n++] = *f;
	return 0;
}

/* The menu is complete: check it is this node's, then take the default entry's kernel and initrd URLs. */
static void menu_done(struct node *n, uint64_t now)
{
	close(n->fd);
	n->fd = -1;
	n->menu[n->menu_len] = '\0';
	char macc[18];
	snprintf(macc, sizeof macc, "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1], n->mac[2], n->mac[3],
	         n->mac[4], n->mac[5]);
	if (strncmp(n->menu, "#!ipxe", 6) != 0)
		return fail(n, "menu does not start with #!ipxe%s", NULL);
	if (!strstr(n->menu, macc))
		return fail(n, "menu does not name the node's MAC %s", macc);
	const char *want = opt.pin_every && n->idx % opt.pin_every == 0 ? opt.pin_id : opt.default_id;
	const char *d = strstr(n->menu, "choose --default ");
	if (!d)
		return fail(n, "menu has no choose --default%s", NULL);
	d += 17;
	char id[256];
	size_t l = strcspn(d, " \n");
	if (l >= sizeof id)
		return fail(n, "default id too long%s", NULL);
	memcpy(id, d, l);
	id[l] = '\0';
	if (want && strcmp(id, want) != 0)
		return fail(n, "menu's default is %s, not the expected one", id);
	if (opt.no_http) {
		n->phase = P_DONE;
		n->t_end = now;
		return;
	}
	char label[300];
	snprintf(label, sizeof label, "\n:%s\n", id);
	const char *sec = strstr(n->menu, label);
	if (!sec)
		return fail(n, "no label for the default entry %s", id);
	sec += strlen(label);
	const char *end = strstr(sec, "\n:");
	n->n_get = 0;
	for (const char *line = sec; line && (!end || line < end) && n->n_get < 2;) {
		const char *nl = strchr(line, '\n');
		if (strncmp(line, "kernel ", 7) == 0 || strncmp(line, "initrd ", 7) == 0) {
			const char *u = strstr(line, "http://");
			if (u && (!nl || u < nl)) {
				unsigned a, b, c, e, port;
				int used = 0;
				if (sscanf(u, "http://%u.%u.%u.%u:%u%n", &a, &b, &c, &e, &port, &used) != 5)
					return fail(n, "unexpected URL in the menu%s", NULL);
				const char *path = u + used;
				size_t pl = strcspn(path, " \n");
				struct fetch *f = &n->get[n->n_get++];
				if (pl >= sizeof f->path)
					return fail(n, "URL too long%s", NULL);
				memcpy(f->path, path, pl);
				f->path[pl] = '\0';
				n->http.sin_family = AF_INET;
				n->http.sin_port = htons((uint16_t)port);
				n->http.sin_addr.s_addr = htonl(a << 24 | b << 16 | c << 8 | e);
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	if (n->n_get == 0)
		return fail(n, "the default entry %s loads nothing over HTTP", id);
	for (int g = 0; g < n->n_get; g++)
		if (load_expected(&n->get[g]) != 0)
			return fail(n, "cannot read the expected file for %s", n->get[g].path);
	http_begin(n, now);
}

static void tftp_input(struct node *n, uint64_t now)
{
	uint8_t buf[65536 + 4];
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	ssize_t r = recvfrom(n->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
	if (r < 4 || from.sin_addr.s_addr != opt.tftp.sin_addr.s_addr)
		return;
	uint16_t port = ntohs(from.sin_port), op = (uint16_t)(buf[0] << 8 | buf[1]);
	if (n->tid && port != n->tid)
		return; /* a stale reply from an earlier attempt's transfer port */
	if (op == 5) {
		unsigned code = (unsigned)(buf[2] << 8 | buf[3]);
		char msg[128];
		snprintf(msg, sizeof msg, "%.*s", (int)(r - 4 > 100 ? 100 : r - 4), (char *)buf + 4);
		if (code == 0 && ++n->busy <= opt.busy_max) { /* a cap: back off and ask again */
			n_busy++;
			close(n->fd);
			n->fd = -1;
			unsigned shift = n->busy < 6 ? n->busy : 6;
			unsigned backoff = (20u << shift) + (unsigned)(rand() % 50);
			n->phase = P_WAIT;
			n->deadline = now + backoff;
			return;
		}
		char why[160];
		snprintf(why, sizeof why, "%u \"%s\"", code, msg);
		return fail(n, "TFTP ERROR %s", why);
	}
	n->tid = port;
	if (op == 6) { /* OACK */
		if (n->expect != 1 || n->menu_len)
			return;
		for (size_t at = 2; at < (size_t)r;) {
			const char *k = (const char *)buf + at;
			size_t kl = strnlen(k, (size_t)r - at);
			if (at + kl + 1 >= (size_t)r)
				break;
			const char *v = k + kl + 1;
			size_t vl = strnlen(v, (size_t)r - (at + kl + 1));
			if (strcasecmp(k, "blksize") == 0)
				n->blksize = (unsigned)atoi(v);
			else if (strcasecmp(k, "windowsize") == 0)
				n->window = (unsigned)atoi(v);
			at += kl + 1 + vl + 1;
		}
		if (n->blksize < 8 || n->blksize > 65464 || n->window < 1)
			return fail(n, "bad OACK%s", NULL);
		tftp_ack(n, 0);
		n->deadline = now + opt.timeout_ms;
		return;
	}
	if (op != 3)
		return fail(n, "unexpected TFTP opcode%s", NULL);
	uint16_t blk = (uint16_t)(buf[2] << 8 | buf[3]);
	size_t dl = (size_t)r - 4;
	if (blk != n->expect) {
		/* a gap in a window, or a duplicate: acknowledge what we have (RFC 7440) */
		if (blk != (uint16_t)(n->expect - 1) || n->window > 1) {
			n->in_window = 0;
			tftp_ack(n, (uint16_t)(n->expect - 1));
		}
		return;
	}
	if (dl > n->blksize)
		return fail(n, "DATA larger than blksize%s", NULL);
	if (n->menu_len + dl >= MENU_MAX)
		return fail(n, "menu too large%s", NULL);
	memcpy(n->menu + n->menu_len, buf + 4, dl);
	n->menu_len += dl;
	n->expect++;
	n->tries = 0;
	n->deadline = now + opt.timeout_ms;
	if (dl < n->blksize) {
		tftp_ack(n, blk);
		return menu_done(n, now_ms());
	}
	if (++n->in_window >= n->window) {
		n->in_window = 0;
		tftp_ack(n, blk);
	}
}

/* ---- HTTP ---- */

static void http_request(struct node *n)
{
	char req[800];
	int l = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: autopxe\r\nUser-Agent: autopxe-storm\r\n\r\n",
	                 n->get[n->cur_get].path);
	if (send(n->fd, req, (size_t)l, MSG_NOSIGNAL) != l)
		return fail(n, "HTTP send: %s", strerror(errno));
	n->sent = 1;
	n->hdr_len = 0;
	n->in_body = 0;
	n->body_got = 0;
	n->body_bad = 0;
}

static void http_connect(struct node *n, uint64_t now)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (n->fd < 0)
		return fail(n, "socket: %s", strerror(errno));
	if (opt.src_base && bind(n->fd, (struct sockaddr *)&n->src, sizeof n->src) != 0)
		return fail(n, "bind: %s", strerror(errno));
	n->connected = 0;
	n->sent = 0;
	if (connect(n->fd, (struct sockaddr *)&n->http, sizeof n->http) != 0 && errno != EINPROGRESS)
		return fail(n, "connect: %s", strerror(errno));
	if (watch(n, EPOLLOUT | EPOLLIN, EPOLL_CTL_ADD) != 0)
		return fail(n, "epoll: %s", strerror(errno));
	n->deadline = now + 10u * opt.timeout_ms;
}

/* Retry a broken connection (bounded): the request in progress is asked again. */
static void http_retry(struct node *n, uint64_t now, const char *why)
{
	if (++n->http_tries > 3)
		return fail(n, "HTTP: %s", why);
	n_http_retries++;
	http_connect(n, now);
}

static void http_begin(struct node *n, uint64_t now)
{
	n->phase = P_HTTP;
	n->cur_get = 0;
	n->http_tries = 0;
	http_connect(n, now);
}

static void body_bytes(struct node *n, const char *p, size_t len, uint64_t now)
{
	if (len > n->body_left)
		len = (size_t)n->body_left;
	struct fetch *f = &n->get[n->cur_get];
	if (f->want_len != UINT64_MAX &&
	    (n->body_got + len > f->want_len || memcmp(f->want + n->body_got, p, len) != 0))
		n->body_bad = 1;
	n->body_got += len;
	n->body_left -= len;
	if (n->body_left)
		return;
	if (f->want_len != UINT64_MAX && (n->body_got != f->want_len || n->body_bad))
		return fail(n, "body of %s differs from the file", f->path);
	if (++n->cur_get == n->n_get) {
		n->phase = P_DONE;
		n->t_end = now_ms();
		close(n->fd);
		n->fd = -1;
		return;
	}
	n->deadline = now + 10u * opt.timeout_ms;
	if (n->conn_close)
		http_connect(n, now);
	else
		http_request(n);
}

static void http_input(struct node *n, uint64_t now)
{
	char buf[65536];
	for (;;) {
		ssize_t r = recv(n->fd, buf, sizeof buf, 0);
		if (r < 0) {
			if (errno == EAGAIN)
				return;
			return http_retry(n, now, strerror(errno));
		}
		if (r == 0)
			return http_retry(n, now, "connection closed early");
		size_t off = 0;
		if (!n->in_body) {
			size_t take = (size_t)r < HDR_MAX - 1 - n->hdr_len ? (size_t)r : HDR_MAX - 1 - n->hdr_len;
			memcpy(n->hdr + n->hdr_len, buf, take);
			size_t before = n->hdr_len;
			n->hdr_len += take;
			n->hdr[n->hdr_len] = '\0';
			char *e = strstr(n->hdr, "\r\n\r\n");
			if (!e) {
				if (n->hdr_len >= HDR_MAX - 1)
					return fail(n, "HTTP header too long%s", NULL);
				continue;
			}
			size_t hl = (size_t)(e - n->hdr) + 4;
			off = hl - before;
			unsigned code = 0;
			if (sscanf(n->hdr, "HTTP/1.%*u %u", &code) != 1 || code != 200) {
				char c[16];
				snprintf(c, sizeof c, "%u", code);
				return fail(n, "HTTP status %s", c);
			}
			const char *cl = strcasestr(n->hdr, "\r\nContent-Length:");
			if (!cl)
				return fail(n, "HTTP response without Content-Length%s", NULL);
			n->body_left = strtoull(cl + 17, NULL, 10);
			n->conn_close = strcasestr(n->hdr, "\r\nConnection: close") != NULL;
			n->in_body = 1;
			if (n->body_left == 0) {
				body_bytes(n, "", 0, now);
				if (n->phase != P_HTTP)
					return;
				continue;
			}
		}
		if ((size_t)r > off) {
			body_bytes(n, buf + off, (size_t)r - off, now);
			if (n->phase != P_HTTP)
				return;
		}
	}
}

static void http_event(struct node *n, uint32_t ev, uint64_t now)
{
	if (!n->connected && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int err = 0;
		socklen_t el = sizeof err;
		getsockopt(n->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err)
			return http_retry(n, now, strerror(err));
		n->connected = 1;
		watch(n, EPOLLIN, EPOLL_CTL_MOD);
		http_request(n);
		if (n->phase != P_HTTP)
			return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
		http_input(n, now);
}

/* ---- driver ---- */

static void on_deadline(struct node *n, uint64_t now)
{
	if (n->phase == P_WAIT) {
		tftp_start(n, now);
		return;
	}
	if (n->phase == P_TFTP) {
		if (++n->tries > opt.tries)
			return fail(n, "TFTP: no answer after %s retransmissions", "all");
		n_timeouts++;
		n->in_window = 0;
		tftp_send_last(n);
		n->deadline = now + opt.timeout_ms;
		return;
	}
	if (n->phase == P_HTTP)
		http_retry(n, now, "HTTP timeout");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static long status_kb(long pid, const char *key)
{
	char p[64], line[256];
	snprintf(p, sizeof p, "/proc/%ld/status", pid);
	FILE *f = fopen(p, "r");
	long v = -1;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			v = strtol(line + kl + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static int parse_hostport(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *c = strrchr(s, ':');
	if (!c || (size_t)(c - s) >= sizeof host)
		return -1;
	memcpy(host, s, (size_t)(c - s));
	host[c - s] = '\0';
	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(c + 1));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 && a->sin_port ? 0 : -1;
}

static const char usage[] =
    "usage: storm --tftp ADDR:PORT [--nodes N] [--blksize B] [--windowsize W] [--timeout-ms T] [--tries N]\n"
    "             [--busy-max N] [--spread-ms MS] [--wall-s S] [--mac-base HEX12] [--src-base A.B.C.D|none]\n"
    "             [--default-id ID] [--pin-every K --pin-id ID] [--root DIR] [--pid SERVER_PID] [--no-http] [-v]\n"
    "Node i has MAC mac-base+i and source address src-base+i (skipping .0/.255); with --pin-every K the nodes\n"
    "with i %% K == 0 must get --pin-id as their default, the others --default-id. --root DIR checks every\n"
    "HTTP body against DIR/<path after /boot/> byte for byte.\n";

int main(int argc, char **argv)
{
	int have_tftp = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && (i++, 1))
		if (ARG("--tftp")) {
			if (parse_hostport(v, &opt.tftp) != 0)
				return fprintf(stderr, "storm: bad --tftp %s\n", v), 2;
			have_tftp = 1;
		} else if (ARG("--nodes"))
			opt.nodes = (unsigned)atoi(v);
		else if (ARG("--blksize"))
			opt.blksize = (unsigned)atoi(v);
		else if (ARG("--windowsize"))
			opt.window = (unsigned)atoi(v);
		else if (ARG("--timeout-ms"))
			opt.timeout_ms = (unsigned)atoi(v);
		else if (ARG("--tries"))
			opt.tries = (unsigned)atoi(v);
		else if (ARG("--busy-max"))
			opt.busy_max = (unsigned)atoi(v);
		else if (ARG("--spread-ms"))
			opt.spread_ms = (unsigned)atoi(v);
		else if (ARG("--wall-s"))
			opt.wall_s = (unsigned)atoi(v);
		else if (ARG("--mac-base"))
			opt.mac_base = strtoull(v, NULL, 16);
		else if (ARG("--src-base")) {
			struct in_addr ia;
			if (strcmp(v, "none") == 0)
				opt.src_base = 0;
			else if (inet_pton(AF_INET, v, &ia) == 1)
				opt.src_base = ntohl(ia.s_addr);
			else
				return fprintf(stderr, "storm: bad --src-base %s\n", v), 2;
		} else if (ARG("--default-id"))
			opt.default_id = v;
		else if (ARG("--pin-every"))
			opt.pin_every = (unsigned)atoi(v);
		else if (ARG("--pin-id"))
			opt.pin_id = v;
		else if (ARG("--root"))
			opt.root = v;
		else if (ARG("--pid"))
			opt.pid = atol(v);
		else if (strcmp(a, "--no-http") == 0)
			opt.no_http = 1;
		else if (strcmp(a, "-v") == 0)
			opt.verbose = 1;
		else
			return fputs(usage, stderr), 2;
#undef ARG
	}
	if (!have_tftp || opt.nodes == 0 || opt.nodes > 100000 || opt.blksize < 8 || opt.window < 1 ||
	    (opt.pin_every && !opt.pin_id))
		return fputs(usage, stderr), 2;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	srand((unsigned)getpid());
	epfd = epoll_create1(EPOLL_CLOEXEC);
	struct node *nodes = calloc(opt.nodes, sizeof *nodes);
	if (!nodes || epfd < 0)
		return perror("storm"), 1;
	uint64_t t0 = now_ms();
	uint32_t src = opt.src_base;
	for (unsigned i = 0; i < opt.nodes; i++) {
		struct node *n = &nodes[i];
		n->idx = i;
		n->fd = -1;
		uint64_t m = opt.mac_base + i;
		for (int k = 0; k < 6; k++)
			n->mac[k] = (uint8_t)(m >> (8 * (5 - k)));
		if (opt.src_base) {
			while ((src & 0xff) == 0 || (src & 0xff) == 0xff)
				src++;
			n->src.sin_family = AF_INET;
			n->src.sin_addr.s_addr = htonl(src++);
		}
		n->menu = malloc(MENU_MAX + 1);
		if (!n->menu)
			return perror("storm"), 1;
		n->phase = P_WAIT;
		n->t_start = t0 + (opt.spread_ms ? (uint64_t)i * opt.spread_ms / opt.nodes : 0);
		n->deadline = n->t_start;
	}
	struct epoll_event evs[512];
	uint64_t wall_end = t0 + (uint64_t)opt.wall_s * 1000u;
	unsigned left = opt.nodes;
	while (left) {
		uint64_t now = now_ms(), next = UINT64_MAX;
		if (now >= wall_end)
			break;
		for (unsigned i = 0; i < opt.nodes; i++) {
			struct node *n = &nodes[i];
			if (n->phase == P_DONE || n->phase == P_FAILED)
				continue;
			if (n->deadline <= now)
				on_deadline(n, now);
			if ((n->phase == P_WAIT || n->phase == P_TFTP || n->phase == P_HTTP) && n->deadline < next)
				next = n->deadline;
		}
		int timeout = next == UINT64_MAX ? 100 : (next <= now ? 0 : (int)(next - now > 100 ? 100 : next - now));
		int k = epoll_wait(epfd, evs, (int)(sizeof evs / sizeof evs[0]), timeout);
		now = now_ms();
		for (int j = 0; j < k; j++) {
			struct node *n = evs[j].data.ptr;
			if (n->phase == P_TFTP)
				tftp_input(n, now);
			else if (n->phase == P_HTTP)
				http_event(n, evs[j].events, now);
		}
		left = 0;
		for (unsigned i = 0; i < opt.nodes; i++)
			left += nodes[i].phase != P_DONE && nodes[i].phase != P_FAILED;
	}
	uint64_t wall = now_ms() - t0;
	unsigned ok = 0, failed = 0;
	uint64_t *ms = calloc(opt.nodes, sizeof *ms);
	for (unsigned i = 0; i < opt.nodes; i++) {
		struct node *n = &nodes[i];
		if (n->phase != P_DONE && n->phase != P_FAILED)
			fail(n, "unfinished when the wall-clock limit (%s s) was reached", "--wall-s");
		if (n->phase == P_DONE) {
			ms[ok++] = n->t_end - n->t_start;
		} else {
			if (failed < MAX_FAIL_PRINT)
				printf("storm fail node=%u mac=%02x%02x%02x%02x%02x%02x reason=\"%s\"\n", i, n->mac[0], n->mac[1],
				       n->mac[2], n->mac[3], n->mac[4], n->mac[5], n->why);
			failed++;
		}
	}
	qsort(ms, ok, sizeof *ms, cmp_u64);
#define PCT(p) (ok ? (unsigned long long)ms[(size_t)((ok - 1) * (p) / 100)] : 0ull)
	printf("storm nodes=%u ok=%u failed=%u busy=%lu tftp_timeouts=%lu http_retries=%lu wall_ms=%llu\n", opt.nodes, ok,
	       failed, n_busy, n_timeouts, n_http_retries, (unsigned long long)wall);
	printf("storm node_ms p50=%llu p90=%llu p99=%llu max=%llu\n", PCT(50), PCT(90), PCT(99), PCT(100));
	if (opt.pid > 0)
		printf("storm server_vmhwm_kb=%ld server_vmrss_kb=%ld\n", status_kb(opt.pid, "VmHWM"),
		       status_kb(opt.pid, "VmRSS"));
	for (unsigned i = 0; i < opt.nodes; i++)
		free(nodes[i].menu);
	for (size_t i = 0; i < exp_n; i++)
		free((void *)exp_cache[i].want);
	free(nodes);
	free(ms);
	close(epfd);
	return failed ? 1 : 0;
}
