/* http_server.c - the HTTP front end (libmicrohttpd): menus, files, metrics, health and the JSON API. */
#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "api_fleet.h"
#include "autoexec.h"
#include "cpus.h"
#include "http_range.h"
#include "log.h"
#include "mac.h"
#include "metrics.h"
#include "render.h"
#include "snapshot.h"
#include "status_page.h"
#include "store.h"
#include "util.h"
#include "vfs.h"

/*
 * Decisions the issue left open:
 * - The request path is decoded by us, once and strictly (http_path_decode), from the raw request target
 *   MHD hands to the URI log callback: %00 and control bytes are a 400, never a truncated name. MHD's own
 *   unescaping (which turns %00 into a NUL that would cut the string) is not used for routing.
 * - Range: one range is served as 206; several ranges are answered with the whole file (200), unless none
 *   is satisfiable (416); a malformed Range or last < first is ignored (200), as RFC 9110 allows.
 * - /healthz: 200 "ok", 200 "degraded: <error>" after a failed reload (the old snapshot still serves),
 *   503 before the first snapshot.
 * - Menus are rendered from the snapshot and kept in a small direct-mapped cache keyed by (MAC, client IP,
 *   submenu) and tagged with the snapshot generation (rendering is deterministic), so a client polling its
 *   menu, or a benchmark, costs no re-render; a reload changes the generation and so every key. API documents
 *   are built per request. The snapshot reference is dropped once the response is built.
 * - GET/HEAD are answered in the access handler's second call: libmicrohttpd 0.9.75 closes a connection whose
 *   response was queued in the first one, which would cost keep-alive.
 * - Requests MHD answers itself (414, 431, 400 for a malformed request line or header) get an access line and
 *   count as route "rejected". What fires in 0.9.75 (measured): when MHD had parsed the request line, the URI
 *   callback and the completion callback, where MHD_CONNECTION_INFO_HTTP_STATUS gives MHD's status; when it
 *   had not (request line too long, malformed), only the external logger ("HTTP response code is N") and the
 *   connection's close. That case is noted per thread by the logger and logged at the next close, on that
 *   thread, of a connection with no request in flight. A one-word request line is closed by MHD without an
 *   answer and cannot be told from a bare connect: it is not logged.
 */

#define HS_PATH_MAX 4096            /* longest decoded request path we route */
#define HS_MEMORY_LIMIT (16 * 1024) /* per connection: request line + headers must fit (zeroed per request) */

enum hs_method { M_GET = 1, M_HEAD = 2, M_POST = 4, M_OTHER = 8, M_DELETE = 16 };
#define HS_BODY_MAX 8192 /* request bodies we read (pins); longer ones are refused */

static atomic_ullong auth_failures; /* write requests refused (no or wrong token) */

/* Rendered menus, direct-mapped by (MAC, client IP, submenu) and tagged with the snapshot generation:
 * rendering is deterministic, so a hit queues the very same (refcounted) MHD response again. */
#define MC_SLOTS 1024
#define MC_SUB_MAX 64
struct mc_entry {
	uint64_t gen; /* snapshot generation; 0 = empty */
	uint64_t pinv; /* store_pin_version() it was rendered under */
	uint8_t mac[6];
	char ip[INET6_ADDRSTRLEN];
	char sub[MC_SUB_MAX];
	struct MHD_Response *resp; /* our reference */
	size_t len;
};

struct http_server {
	int fd;
	unsigned port;
	struct MHD_Daemon *mhd;
	int mhd_owns_fd;
	_Atomic(http_reload_fn) reload;
	atomic_int starting; /* MHD messages are errors while starting, debug afterwards */
	unsigned threads, max_conns, per_ip, timeout_s;
	int allow_remote_reload;
	pthread_mutex_t mc_lock;
	struct mc_entry *mc; /* MC_SLOTS entries, NULL = no cache */
};

/* One connection (MHD's socket context): where it comes from, and whether a request of ours is in flight. */
struct conn {
	uint64_t t0;
	int in_flight; /* on_uri called, on_completed not yet */
	char ip[INET6_ADDRSTRLEN];
};

/* A response MHD made itself before any request callback, noted by on_mhd_log for the next connection of
 * this thread that closes with no request in flight (see the decisions above). */
static _Thread_local unsigned mhd_reject_status;

/* One request, created in the URI log callback (first thing MHD tells us), freed on completion. */
struct req {
	uint64_t t0;
	char *raw;        /* request target as sent */
	const char *route;
	unsigned status;  /* 0 until we queue a response */
	uint64_t bytes;   /* body bytes we queued */
	int seen;   /* the access handler was called once */
	int queued;
	int have_mac;
	uint8_t mac[6];
	int loopback;
	char ip[INET6_ADDRSTRLEN];
	char method[40]; /* sanitised, for the log */
	unsigned m;      /* enum hs_method */
	char *body;      /* POST/DELETE body, NUL-terminated, at most HS_BODY_MAX */
	size_t body_len;
	int body_too_big;
};

/* ------------------------------------------------------------------ addresses */

/* Client address as text and whether it is loopback (see http_addr_text). */
static void addr_text(const struct sockaddr *sa, char *out, size_t len, int *loopback)
{
	*loopback = http_addr_text(sa, out, len);
}

/* The local address a connection arrived on (for the API's absolute URLs). */
static int local_addr(struct MHD_Connection *c, char *out, size_t len, int *is_v6)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int lb;
	*is_v6 = 0;
	if (!ci || getsockname(ci->connect_fd, (struct sockaddr *)&ss, &sl) != 0)
		return -errno;
	addr_text((struct sockaddr *)&ss, out, len, &lb);
	*is_v6 = strchr(out, ':') != NULL;
	return 0;
}

/* ------------------------------------------------------------------ responses */

static enum MHD_Result queue(struct MHD_Connection *c, struct req *r, unsigned status, struct MHD_Response *resp,
                             uint64_t body)
{
	enum MHD_Result ret;
	if (!resp)
		return MHD_NO; /* out of memory: MHD closes the connection */
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES) {
		r->queued = 1;
		r->status = status;
		r->bytes = body;
	}
	return ret;
}

/* A short text body; allow (may be NULL) becomes the Allow header. */
static enum MHD_Result send_text(struct MHD_Connection *c, struct req *r, int head, unsigned status, const char *text,
                                 const char *allow)
{
	size_t n = strlen(text);
	struct MHD_Response *resp = MHD_create_response_from_buffer(n, (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	return queue(c, r, status, resp, head ? 0 : n);
}

/* Send an sbuf's bytes (taken over: b is reset). */
static enum MHD_Result send_sbuf(struct MHD_Connection *c, struct req *r, int head, unsigned status,
                                 const char *ctype, sbuf *b)
{
	size_t n = b->len;
	char *data = b->data ? sbuf_steal(b) : NULL;
	struct MHD_Response *resp =
	    data ? MHD_create_response_from_buffer(n, data, MHD_RESPMEM_MUST_FREE)
	         : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return queue(c, r, status, resp, head ? 0 : n);
}

static enum MHD_Result send_no_snapshot(struct MHD_Connection *c, struct req *r, int head)
{
	return send_text(c, r, head, MHD_HTTP_SERVICE_UNAVAILABLE, "no configuration loaded yet\n", NULL);
}

/* ------------------------------------------------------------------ handlers */

struct hctx {
	struct http_server *srv;
	struct MHD_Connection *c;
	struct req *r;
	const char *path; /* decoded, starts with '/' */
	size_t len;
	int head;
	unsigned method;
};

static enum MHD_Result h_healthz(struct hctx *h)
{
	struct snapshot *s = snapshot_current();
	char msg[600], body[700];
	if (!s)
		return send_text(h->c, h->r, h->head, MHD_HTTP_SERVICE_UNAVAILABLE, "no snapshot loaded\n", NULL);
	snapshot_unref(s);
	if (snapshot_last_error(msg, sizeof(msg))) {
		sbuf b = SBUF_INIT;
		snprintf(body, sizeof(body), "degraded: last reload failed: %s\n", msg);
		if (sbuf_puts(&b, body) != 0)
			return MHD_NO;
		return send_sbuf(h->c, h->r, h->head, MHD_HTTP_OK, "text/plain; charset=utf-8", &b);
	}
	store_status(msg, sizeof(msg));
	if (msg[0]) { /* still serving (200): menus come from config and the last known pins */
		sbuf b = SBUF_INIT;
		snprintf(body, sizeof(body), "state degraded: %s\n", msg);
		if (sbuf_puts(&b, body) != 0)
			return MHD_NO;
		return send_sbuf(h->c, h->r, h->head, MHD_HTTP_OK, "text/plain; charset=utf-8", &b);
	}
	return send_text(h->c, h->r, h->head, MHD_HTTP_OK, "ok\n", NULL);
}

static enum MHD_Result h_metrics(struct hctx *h)
{
	sbuf b = SBUF_INIT;
	if (metrics_render(&b) != 0 || store_metrics(&b) != 0 ||
	    sbuf_printf(&b,
	                "# HELP autopxe_api_auth_failures_total Write requests refused for a missing or wrong token.\n"
	                "# TYPE autopxe_api_auth_failures_total counter\nautopxe_api_auth_failures_total %llu\n",
	                (unsigned long long)atomic_load(&auth_failures)) != 0) {
		sbuf_free(&b);
		return send_text(h->c, h->r, h->head, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	}
	return send_sbuf(h->c, h->r, h->head, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &b);
}

static enum MHD_Result h_catalog(struct hctx *h)
{
	struct snapshot *s = snapshot_current();
	sbuf b = SBUF_INIT;
	int rc;
	if (!s)
		return send_no_snapshot(h->c, h->r, h->head);
	rc = api_catalog_json(s, &b);
	snapshot_unref(s);
	if (rc != 0) {
		sbuf_free(&b);
		return send_text(h->c, h->r, h->head, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	}
	return send_sbuf(h->c, h->r, h->head, MHD_HTTP_OK, "application/json", &b);
}

static enum MHD_Result h_pin(struct hctx *h);

static enum MHD_Result h_host(struct hctx *h)
{
	static const char prefix[] = "/api/v1/hosts/";
	const char *m = h->path + sizeof(prefix) - 1;
	const char *slash = strchr(m, '/');
	struct snapshot *s;
	char local[INET6_ADDRSTRLEN], base[1024];
	int v6 = 0, rc;
	sbuf b = SBUF_INIT;
	if (mac_parse(m, slash ? (size_t)(slash - m) : strlen(m), h->r->mac) != 0 || (slash && strcmp(slash, "/pin")))
		return send_text(h->c, h->r, h->head, MHD_HTTP_NOT_FOUND, "not a MAC address\n", NULL);
	h->r->have_mac = 1;
	if (slash)
		return h_pin(h);
	if (!(h->method & (M_GET | M_HEAD)))
		return send_text(h->c, h->r, h->head, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", "GET, HEAD");
	s = snapshot_current();
	if (!s)
		return send_no_snapshot(h->c, h->r, h->head);
	if (local_addr(h->c, local, sizeof(local), &v6) != 0)
		local[0] = '\0';
	snapshot_http_base(s, local, v6, base, sizeof(base));
	rc = api_host_json(s, h->r->mac, h->r->ip, base, &b);
	snapshot_unref(s);
	if (rc != 0) {
		sbuf_free(&b);
		return send_text(h->c, h->r, h->head, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	}
	return send_sbuf(h->c, h->r, h->head, MHD_HTTP_OK, "application/json", &b);
}

/* ------------------------------------------------------------------ write access (issue 16)
 * Write endpoints (pins, reload) are open to loopback; from elsewhere they need "Authorization: Bearer <token>"
 * with the token in APITokenFile (read per request, so a reload or an edited file takes effect at once). Without
 * a token file they stay loopback-only (reload: unless AllowRemoteReload). Tokens compare in constant time. */

/* Equal in time independent of where they differ (and of b's content beyond a's length). 1 equal. */
static int ct_equal(const char *a, size_t la, const char *b, size_t lb)
{
	unsigned char d = (unsigned char)(la != lb);
	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ (i < lb ? b[i] : 0));
	return d == 0;
}

/* The token of file path (first line, surrounding blanks removed). 0 or -errno / -ENODATA (empty). */
static int read_token(const char *path, char *out, size_t len)
{
	char buf[512];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t a = 0, b;
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	b = strcspn(buf, "\r\n");
	while (a < b && (buf[a] == ' ' || buf[a] == '\t'))
		a++;
	while (b > a && (buf[b - 1] == ' ' || buf[b - 1] == '\t'))
		b--;
	if (b == a || b - a >= len) {
		explicit_bzero(buf, sizeof buf);
		return -ENODATA;
	}
	memcpy(out, buf + a, b - a);
	out[b - a] = '\0';
	explicit_bzero(buf, sizeof buf);
	return 0;
}

/* 1 when this request may write; else 0 with a reply queued in *ret (401/403/503), logged and counted. */
static int write_allowed(struct hctx *h, int remote_ok_without_token, enum MHD_Result *ret)
{
	struct snapshot *s;
	char tok[512], why[160] = "";
	const char *hdr;
	int have_file = 0, rc = 0;
	unsigned status = MHD_HTTP_FORBIDDEN;
	if (h->r->loopback)
		return 1;
	s = snapshot_current();
	if (s && s->cfg->api_token_file) {
		have_file = 1;
		rc = read_token(s->cfg->api_token_file, tok, sizeof tok);
	}
	snapshot_unref(s);
	hdr = MHD_lookup_connection_value(h->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!have_file) {
		if (remote_ok_without_token)
			return 1;
		snprintf(why, sizeof why, "write requests are only allowed from loopback (no APITokenFile)");
	} else if (rc != 0) {
		log_error("HTTP: APITokenFile cannot be read: %s", rc == -ENODATA ? "empty" : strerror(-rc));
		snprintf(why, sizeof why, "API token not available on the server");
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
	} else if (!hdr || strncasecmp(hdr, "Bearer ", 7) != 0) {
		snprintf(why, sizeof why, "a bearer token is required (Authorization: Bearer <token>)");
		status = MHD_HTTP_UNAUTHORIZED;
	} else {
		const char *t = hdr + 7;
		int ok;
		while (*t == ' ')
			t++;
		ok = ct_equal(tok, strlen(tok), t, strlen(t));
		explicit_bzero(tok, sizeof tok);
		if (ok)
			return 1;
		snprintf(why, sizeof why, "wrong bearer token");
		status = MHD_HTTP_UNAUTHORIZED;
	}
	explicit_bzero(tok, sizeof tok);
	atomic_fetch_add(&auth_failures, 1);
	{
		char p[200];
		sanitize(h->path, h->len, p, sizeof p);
		log_warn("HTTP: %s %s %s refused: %s", h->r->ip, h->r->method, p, why);
	}
	{
		sbuf b = SBUF_INIT;
		size_t n;
		char *data;
		struct MHD_Response *resp;
		if (api_message_json(0, why, &b) != 0) {
			*ret = MHD_NO;
			return 0;
		}
		n = b.len;
		data = sbuf_steal(&b);
		resp = data ? MHD_create_response_from_buffer(n, data, MHD_RESPMEM_MUST_FREE) : NULL;
		if (!resp) {
			free(data);
			*ret = MHD_NO;
			return 0;
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
		if (status == MHD_HTTP_UNAUTHORIZED)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"autopxe\"");
		*ret = queue(h->c, h->r, status, resp, n);
	}
	return 0;
}

static enum MHD_Result send_json_msg(struct hctx *h, unsigned status, int ok, const char *msg)
{
	sbuf b = SBUF_INIT;
	if (api_message_json(ok, msg, &b) != 0)
		return MHD_NO;
	return send_sbuf(h->c, h->r, 0, status, "application/json", &b);
}

static enum MHD_Result send_doc(struct hctx *h, int rc, sbuf *b)
{
	if (rc != 0) {
		sbuf_free(b);
		return send_text(h->c, h->r, h->head, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	}
	return send_sbuf(h->c, h->r, h->head, MHD_HTTP_OK, "application/json", b);
}

/* GET/POST/DELETE /api/v1/hosts/<mac>/pin (mac already parsed into h->r->mac) */
static enum MHD_Result h_pin(struct hctx *h)
{
	struct store_pin p;
	struct snapshot *s;
	struct boot_target bt;
	char err[600], why[512], m[18], b_log[STORE_BOOT_MAX];
	enum MHD_Result ret;
	sbuf b = SBUF_INIT;
	int rc;
	if (!store_is_open())
		return send_json_msg(h, MHD_HTTP_SERVICE_UNAVAILABLE, 0, "the state store is off (StateStore: false)");
	if (h->method & (M_GET | M_HEAD)) {
		if (store_pin_get(h->r->mac, &p) != 1)
			return send_text(h->c, h->r, h->head, MHD_HTTP_NOT_FOUND, "no pin\n", NULL);
		s = snapshot_current();
		rc = api_pin_json(&p, s, &b);
		snapshot_unref(s);
		return send_doc(h, rc, &b);
	}
	if (!write_allowed(h, 0, &ret))
		return ret;
	mac_colon(h->r->mac, m);
	if (h->method == M_DELETE) {
		if (store_pin_del(h->r->mac) != 0)
			return send_json_msg(h, MHD_HTTP_NOT_FOUND, 0, "no pin for this MAC");
		log_info("HTTP: %s removed the pin of %s", h->r->ip, m);
		return send_json_msg(h, MHD_HTTP_OK, 1, "pin removed");
	}
	if (h->r->body_too_big)
		return send_json_msg(h, MHD_HTTP_CONTENT_TOO_LARGE, 0, "body too large");
	memset(&p, 0, sizeof p);
	if (api_pin_parse(h->r->body, h->r->body_len, (int64_t)time(NULL), &p, err, sizeof err) != 0)
		return send_json_msg(h, MHD_HTTP_BAD_REQUEST, 0, err);
	memcpy(p.mac, h->r->mac, 6);
	p.created = (int64_t)time(NULL);
	s = snapshot_current();
	if (!s)
		return send_no_snapshot(h->c, h->r, 0);
	if (boot_id_resolve(s->cfg, s->cat, p.boot, &bt, why, sizeof why) != 0) {
		snapshot_unref(s);
		snprintf(err, sizeof err, "boot id does not resolve: %s", why);
		return send_json_msg(h, MHD_HTTP_UNPROCESSABLE_CONTENT, 0, err);
	}
	if (store_pin_set(&p) != 0) {
		snapshot_unref(s);
		return send_json_msg(h, MHD_HTTP_INTERNAL_SERVER_ERROR, 0, "cannot store the pin");
	}
	rc = api_pin_json(&p, s, &b);
	snapshot_unref(s);
	sanitize(p.boot, strlen(p.boot), b_log, sizeof b_log);
	log_info("HTTP: %s pinned %s to %s%s", h->r->ip, m, b_log, p.once ? " (once)" : "");
	if (rc != 0) {
		sbuf_free(&b);
		return MHD_NO;
	}
	return send_sbuf(h->c, h->r, 0, MHD_HTTP_OK, "application/json", &b);
}

static int64_t wall_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every node (for the counts) and those matching filter (-1 = all). 0 or -ENOMEM; caller frees *sel. */
static int nodes_and_counts(int filter, struct store_node **sel, size_t *n, size_t counts[NODE_NSTATES])
{
	struct store_node *all;
	size_t na, k = 0;
	memset(counts, 0, NODE_NSTATES * sizeof counts[0]);
	*sel = NULL;
	*n = 0;
	if (store_nodes(-1, &all, &na) != 0)
		return -ENOMEM;
	for (size_t i = 0; i < na; i++) {
		counts[all[i].state]++;
		if (filter < 0 || (int)all[i].state == filter)
			all[k++] = all[i];
	}
	*sel = all;
	*n = k;
	return 0;
}

/* GET /api/v1/nodes[?state=S] and /api/v1/nodes/<mac> */
static enum MHD_Result h_nodes(struct hctx *h)
{
	static const char prefix[] = "/api/v1/nodes";
	const char *rest = h->path + sizeof(prefix) - 1;
	int64_t now = wall_now_ms();
	sbuf b = SBUF_INIT;
	int rc;
	if (*rest == '\0' || strcmp(rest, "/") == 0) {
		const char *st = MHD_lookup_connection_value(h->c, MHD_GET_ARGUMENT_KIND, "state");
		int filter = -1;
		size_t counts[NODE_NSTATES], n;
		struct store_node *nodes;
		if (st && *st && (filter = node_state_parse(st)) < 0)
			return send_text(h->c, h->r, h->head, MHD_HTTP_BAD_REQUEST,
			                 "state must be one of menu, kernel, initrd, booted, failed\n", NULL);
		if (nodes_and_counts(filter, &nodes, &n, counts) != 0)
			return send_text(h->c, h->r, h->head, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
		rc = api_nodes_json(nodes, n, counts, now, &b);
		free(nodes);
		return send_doc(h, rc, &b);
	}
	if (*rest != '/' || mac_parse(rest + 1, strlen(rest + 1), h->r->mac) != 0)
		return send_text(h->c, h->r, h->head, MHD_HTTP_NOT_FOUND, "not a MAC address\n", NULL);
	h->r->have_mac = 1;
	{
		struct store_node node;
		struct store_event *ev;
		size_t nev;
		rc = store_node(h->r->mac, &node, &ev, &nev);
		if (rc == 0)
			return send_text(h->c, h->r, h->head, MHD_HTTP_NOT_FOUND, "node not seen\n", NULL);
		if (rc < 0)
			return send_text(h->c, h->r, h->head, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
		rc = api_node_json(&node, ev, nev, now, &b);
		free(ev);
		return send_doc(h, rc, &b);
	}
}

/* GET / : the status page (server-rendered, src/status_page.c) */
static enum MHD_Result h_status(struct hctx *h)
{
	sbuf b = SBUF_INIT;
	size_t counts[NODE_NSTATES], n;
	struct store_node *nodes;
	char why[512];
	int rc;
	if (nodes_and_counts(-1, &nodes, &n, counts) != 0)
		return send_text(h->c, h->r, h->head, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	store_status(why, sizeof why);
	rc = status_page_render(nodes, n, counts, wall_now_ms(), store_is_open(), why, &b);
	free(nodes);
	if (rc != 0) {
		sbuf_free(&b);
		return send_text(h->c, h->r, h->head, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	}
	return send_sbuf(h->c, h->r, h->head, MHD_HTTP_OK, "text/html; charset=utf-8", &b);
}

static enum MHD_Result h_reload(struct hctx *h)
{
	http_reload_fn fn = atomic_load(&h->srv->reload);
	char msg[1024] = "";
	sbuf b = SBUF_INIT;
	unsigned status;
	int ok;
	enum MHD_Result ret;
	if (!write_allowed(h, h->srv->allow_remote_reload, &ret))
		return ret;
	if (!fn) {
		snprintf(msg, sizeof(msg), "reload is not available");
		ok = 0;
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
	} else {
		ok = fn(msg, sizeof(msg)) == 0;
		status = ok ? MHD_HTTP_OK : MHD_HTTP_INTERNAL_SERVER_ERROR;
		if (!msg[0])
			snprintf(msg, sizeof(msg), ok ? "reloaded" : "reload failed");
	}
	if (api_message_json(ok, msg, &b) != 0)
		return MHD_NO;
	return send_sbuf(h->c, h->r, 0, status, "application/json", &b);
}

static size_t mc_slot(const uint8_t mac[6], const char *ip, const char *sub)
{
	uint64_t x = fnv1a(FNV1A_INIT, mac, 6);
	x = fnv1a(x, ip, strlen(ip));
	x = fnv1a(x, "/", 1);
	x = fnv1a(x, sub, strlen(sub));
	return (size_t)(x % MC_SLOTS);
}

/* Queue a cached menu for this client when there is one for generation gen. 1 = queued (*ret set), 0 = miss. */
static int mc_try(struct hctx *h, uint64_t gen, const char *sub, enum MHD_Result *ret)
{
	struct http_server *srv = h->srv;
	struct mc_entry *e;
	int hit = 0;
	if (!srv->mc || strlen(sub) >= MC_SUB_MAX)
		return 0;
	e = &srv->mc[mc_slot(h->r->mac, h->r->ip, sub)];
	pthread_mutex_lock(&srv->mc_lock);
	if (e->gen == gen && e->pinv == store_pin_version() && e->resp && memcmp(e->mac, h->r->mac, 6) == 0 && strcmp(e->ip, h->r->ip) == 0 &&
	    strcmp(e->sub, sub) == 0) {
		hit = 1;
		*ret = MHD_queue_response(h->c, MHD_HTTP_OK, e->resp); /* MHD takes its own reference */
		if (*ret == MHD_YES) {
			h->r->queued = 1;
			h->r->status = MHD_HTTP_OK;
			h->r->bytes = h->head ? 0 : e->len;
		}
	}
	pthread_mutex_unlock(&srv->mc_lock);
	return hit;
}

/* Keep resp (we add a reference of our own by not destroying it) for later hits. */
static void mc_store(struct hctx *h, uint64_t gen, uint64_t pinv, const char *sub, struct MHD_Response *resp,
                     size_t len)
{
	struct http_server *srv = h->srv;
	struct mc_entry *e, old;
	if (!srv->mc || strlen(sub) >= MC_SUB_MAX) {
		MHD_destroy_response(resp);
		return;
	}
	e = &srv->mc[mc_slot(h->r->mac, h->r->ip, sub)];
	pthread_mutex_lock(&srv->mc_lock);
	old = *e;
	e->gen = gen;
	e->pinv = pinv;
	memcpy(e->mac, h->r->mac, 6);
	snprintf(e->ip, sizeof(e->ip), "%s", h->r->ip);
	snprintf(e->sub, sizeof(e->sub), "%s", sub);
	e->resp = resp;
	e->len = len;
	pthread_mutex_unlock(&srv->mc_lock);
	if (old.resp)
		MHD_destroy_response(old.resp); /* freed once the connections using it are done */
}

/* The menu cache's key for a request beyond (MAC, IP): the iPXE submenu, or '#' (never in a submenu name), the
 * dialect, whether the name carried a MAC and whether menu.c32 was in BootDir (it may appear without a reload). */
static void menu_cache_key(const struct menu_request *rq, int menu_c32, char *out, size_t len)
{
	if (rq->kind == MENU_IPXE)
		snprintf(out, len, "%s", rq->submenu);
	else
		snprintf(out, len, "#%c%d%d", rq->kind == MENU_GRUB ? 'g' : rq->kind == MENU_GRUB_LOADER ? 'l' : 'p',
		         rq->has_mac, menu_c32);
}

static enum MHD_Result h_menu(struct hctx *h, const struct menu_request *rq)
{
	char submenu[sizeof rq->submenu + 4];
	struct snapshot *s = snapshot_current();
	struct render_client cl;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	sbuf b = SBUF_INIT;
	uint64_t gen, pinv;
	size_t n;
	char *data;
	int rc;
	if (!s)
		return send_no_snapshot(h->c, h->r, h->head);
	gen = s->generation;
	/* only GRUB/PXELINUX templates see menu_c32: no stat on the iPXE menu path (cache hits included) */
	int menu_c32 = rq->kind != MENU_IPXE && vfs_boot_has(s->vfs, "menu.c32");
	menu_cache_key(rq, menu_c32, submenu, sizeof submenu);
	if (rq->has_mac) /* a cached menu is not rendered: note the client here */
		store_note_client(h->r->mac, h->r->ip);
	pinv = store_pin_version(); /* before rendering: a pin change while we render makes the entry stale */
	if (mc_try(h, gen, submenu, &ret)) {
		snapshot_unref(s);
		return ret;
	}
	memset(&cl, 0, sizeof(cl));
	memcpy(cl.mac, h->r->mac, 6);
	cl.ip = h->r->ip;
	cl.via = RENDER_HTTP;
	cl.file_base = NULL;
	cl.menu_c32 = menu_c32;
	rc = render_request(s->cfg, s->cat, s->tmpl, &cl, rq, &b);
	snapshot_unref(s);
	if (rc == -ENOENT) {
		sbuf_free(&b);
		return send_text(h->c, h->r, h->head, MHD_HTTP_NOT_FOUND, "no such submenu\n", NULL);
	}
	if (rc != 0 || !b.data) {
		sbuf_free(&b);
		return send_text(h->c, h->r, h->head, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render the menu\n", NULL);
	}
	n = b.len;
	data = sbuf_steal(&b);
	resp = MHD_create_response_from_buffer(n, data, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(h->c, MHD_HTTP_OK, resp);
	if (ret == MHD_YES) {
		h->r->queued = 1;
		h->r->status = MHD_HTTP_OK;
		h->r->bytes = h->head ? 0 : n;
	}
	mc_store(h, gen, pinv, submenu, resp, n); /* hands over our reference */
	return ret;
}

static const char *content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {".ipxe", "text/plain; charset=utf-8"}, {".txt", "text/plain; charset=utf-8"},
	    {".cfg", "text/plain; charset=utf-8"},  {".html", "text/html; charset=utf-8"},
	    {".json", "application/json"},          {".iso", "application/x-iso9660-image"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (str_ends_with(path, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

/* Up to this many bytes of a file are read into memory and sent from there, so the header and the body leave
 * in one send (one TCP segment for a small file, one wake-up of the client) instead of a send and a sendfile.
 * A 4 KiB file at 64 wrk connections on 2 cores: 17,000-19,200 req/s before, 20,100-21,800 after. */
#define SMALL_FILE_MAX (64 * 1024)

/* A response holding bytes [start, start+len) of fd, or NULL (too big, a short read, no memory): the caller
 * then streams from the fd as usual. The fd is not closed here. */
static struct MHD_Response *small_file_response(int fd, uint64_t start, uint64_t len)
{
	if (len == 0 || len > SMALL_FILE_MAX)
		return NULL;
	char *buf = malloc((size_t)len);
	if (!buf)
		return NULL;
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, buf + got, (size_t)len - got, (off_t)(start + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	struct MHD_Response *resp =
	    got == len ? MHD_create_response_from_buffer((size_t)len, buf, MHD_RESPMEM_MUST_FREE) : NULL;
	if (!resp)
		free(buf);
	return resp;
}

static enum MHD_Result h_file(struct hctx *h)
{
	struct snapshot *s = snapshot_current();
	struct MHD_Connection *c = h->c;
	struct MHD_Response *resp;
	struct stat st;
	char etag[HTTP_ETAG_MAX], lm[HTTP_DATE_MAX], cr[96];
	uint64_t start = 0, len, size;
	enum http_range_result rr = HTTP_RANGE_NONE;
	unsigned status = MHD_HTTP_OK;
	int fd;
	if (!s)
		return send_no_snapshot(c, h->r, h->head);
	fd = vfs_open(s->vfs, h->path, h->len, &st, NULL);
	snapshot_unref(s);
	if (fd < 0) {
		switch (fd) {
		case -ENOENT:
		case -EISDIR:
		case -EINVAL:
		case -ENOTDIR:
		case -ELOOP:
			return send_text(c, h->r, h->head, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
		case -EACCES:
		case -EPERM:
		case -EXDEV:
			return send_text(c, h->r, h->head, MHD_HTTP_FORBIDDEN, "forbidden\n", NULL);
		case -EMFILE:
		case -ENFILE:
			return send_text(c, h->r, h->head, MHD_HTTP_SERVICE_UNAVAILABLE, "busy\n", NULL);
		default:
			return send_text(c, h->r, h->head, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot open\n", NULL);
		}
	}
	size = (uint64_t)st.st_size;
	http_etag_format(size, (uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec,
	                 (uint64_t)st.st_ino, etag, sizeof(etag));
	http_date_format(st.st_mtim.tv_sec, lm, sizeof(lm));

	if (http_not_modified(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH),
	                      MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MODIFIED_SINCE), etag,
	                      st.st_mtim.tv_sec)) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, lm);
		return queue(c, h->r, MHD_HTTP_NOT_MODIFIED, resp, 0);
	}
	len = size;
	if (http_if_range_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE), etag,
	                     st.st_mtim.tv_sec))
		rr = http_range_parse(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE), size, &start,
		                      &len);
	if (rr == HTTP_RANGE_UNSATISFIABLE) {
		static const char msg[] = "range not satisfiable\n";
		close(fd);
		resp = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
		return queue(c, h->r, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp, h->head ? 0 : sizeof(msg) - 1);
	}
	if (rr == HTTP_RANGE_PARTIAL) {
		status = MHD_HTTP_PARTIAL_CONTENT;
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)start,
		         (unsigned long long)(start + len - 1), (unsigned long long)size);
	} else {
		start = 0;
		len = size;
	}
	resp = small_file_response(fd, start, len);
	if (resp)
		close(fd);
	else if (!(resp = MHD_create_response_from_fd_at_offset64(len, fd, start))) { /* takes the fd */
		close(fd);
		return MHD_NO;
	}
	if (status == MHD_HTTP_PARTIAL_CONTENT)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type(h->path));
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, lm);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	return queue(c, h->r, status, resp, h->head ? 0 : len);
}

/* ------------------------------------------------------------------ routing */

typedef enum MHD_Result (*route_fn)(struct hctx *h);

/* autoexec.ipxe for stock iPXE builds: the chain script, pointing at the address the client reached us on. */
static enum MHD_Result h_autoexec(struct hctx *h)
{
	struct snapshot *s = snapshot_current();
	if (!s)
		return send_no_snapshot(h->c, h->r, h->head);
	char local[INET6_ADDRSTRLEN + 2] = "";
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(h->c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (ci && getsockname(ci->connect_fd, (struct sockaddr *)&ss, &sl) == 0)
		http_addr_text((const struct sockaddr *)&ss, local, sizeof local);
	sbuf b = SBUF_INIT;
	int rc = autoexec_render(s->cfg, local, &b);
	snapshot_unref(s);
	if (rc != 0) {
		sbuf_free(&b);
		return send_text(h->c, h->r, h->head, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render autoexec.ipxe\n", NULL);
	}
	return send_sbuf(h->c, h->r, h->head, MHD_HTTP_OK, "text/plain; charset=utf-8", &b);
}

static const struct route {
	const char *path;
	int prefix;       /* 1: path is a prefix */
	unsigned methods; /* allowed */
	const char *allow;
	const char *name; /* metrics route */
	route_fn fn;
} routes[] = {
    {"/" AUTOEXEC_NAME, 0, M_GET | M_HEAD, "GET, HEAD", "autoexec", h_autoexec},
    {"/healthz", 0, M_GET | M_HEAD, "GET, HEAD", "healthz", h_healthz},
    {"/metrics", 0, M_GET | M_HEAD, "GET, HEAD", "metrics", h_metrics},
    {"/api/v1/catalog", 0, M_GET | M_HEAD, "GET, HEAD", "api", h_catalog},
    {"/api/v1/hosts/", 1, M_GET | M_HEAD | M_POST | M_DELETE, "GET, HEAD, POST, DELETE", "api", h_host},
    {"/api/v1/nodes", 1, M_GET | M_HEAD, "GET, HEAD", "api", h_nodes},
    {"/", 0, M_GET | M_HEAD, "GET, HEAD", "status", h_status},
    {"/api/v1/reload", 0, M_POST, "POST", "api", h_reload},
};

static unsigned method_of(const char *m)
{
	if (strcmp(m, MHD_HTTP_METHOD_GET) == 0)
		return M_GET;
	if (strcmp(m, MHD_HTTP_METHOD_HEAD) == 0)
		return M_HEAD;
	if (strcmp(m, MHD_HTTP_METHOD_POST) == 0)
		return M_POST;
	if (strcmp(m, MHD_HTTP_METHOD_DELETE) == 0)
		return M_DELETE;
	return M_OTHER;
}

static enum MHD_Result dispatch(struct hctx *h)
{
	struct menu_request mrq;
	int mr;
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		const struct route *rt = &routes[i];
		size_t n = strlen(rt->path);
		if (rt->prefix ? strncmp(h->path, rt->path, n) != 0 : strcmp(h->path, rt->path) != 0)
			continue;
		h->r->route = rt->name;
		if (!(h->method & rt->methods))
			return send_text(h->c, h->r, h->head, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", rt->allow);
		return rt->fn(h);
	}
	if (strncmp(h->path, "/api/", 5) == 0 || strcmp(h->path, "/api") == 0) {
		h->r->route = "api";
		return send_text(h->c, h->r, h->head, MHD_HTTP_NOT_FOUND, "no such API endpoint\n", NULL);
	}
	mr = menu_name_parse(h->path, h->len, &mrq);
	memcpy(h->r->mac, mrq.mac, 6);
	if (mr != 0) {
		h->r->route = "menu";
		if (!(h->method & (M_GET | M_HEAD)))
			return send_text(h->c, h->r, h->head, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
			                 "GET, HEAD");
		if (mr < 0)
			return send_text(h->c, h->r, h->head, MHD_HTTP_NOT_FOUND, "bad MAC address or submenu\n", NULL);
		h->r->have_mac = mrq.has_mac;
		return h_menu(h, &mrq);
	}
	h->r->route = "file";
	if (!(h->method & (M_GET | M_HEAD)))
		return send_text(h->c, h->r, h->head, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", "GET, HEAD");
	if (strcmp(h->path, "/") == 0)
		return send_text(h->c, h->r, h->head, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
	return h_file(h);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct req *r = calloc(1, sizeof(*r));
	(void)cls;
	if (!r)
		return NULL;
	r->t0 = now_us();
	r->route = "other";
	snprintf(r->method, sizeof(r->method), "-");
	r->raw = strdup(uri ? uri : "");
	addr_text(ci ? ci->client_addr : NULL, r->ip, sizeof(r->ip), &r->loopback);
	const union MHD_ConnectionInfo *sc = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (sc && sc->socket_context)
		((struct conn *)sc->socket_context)->in_flight = 1;
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
	struct http_server *srv = cls;
	struct req *r = *req_cls;
	char path[HS_PATH_MAX];
	struct hctx h;
	int rc;
	(void)url;
	(void)version;
	(void)upload_data;
	if (!r || !r->raw)
		return MHD_NO; /* out of memory in on_uri */
	if (r->queued) { /* a body after we answered (POST): discard */
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* libmicrohttpd 0.9.75 closes the connection when a response is queued in the first call (headers
	 * just parsed): answer GET/HEAD in the second call so keep-alive works. Other methods are answered
	 * at once (405s, reload) and their connection is closed, which also ends any body they send. */
	if (!r->seen) {
		r->seen = 1;
		r->m = method_of(method);
		if (r->m & (M_GET | M_HEAD | M_POST | M_DELETE)) /* POST/DELETE: their body comes first */
			return MHD_YES;
	}
	if (*upload_data_size != 0) { /* a body: kept for POST/DELETE (up to HS_BODY_MAX), else ignored */
		if ((r->m & (M_POST | M_DELETE)) && !r->body_too_big) {
			size_t n = *upload_data_size;
			char *nb;
			if (r->body_len + n > HS_BODY_MAX || !(nb = realloc(r->body, r->body_len + n + 1))) {
				r->body_too_big = 1;
			} else {
				memcpy(nb + r->body_len, upload_data, n);
				r->body = nb;
				r->body_len += n;
				r->body[r->body_len] = '\0';
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	memset(&h, 0, sizeof(h));
	h.srv = srv;
	h.c = c;
	h.r = r;
	h.method = method_of(method);
	sanitize(method, strnlen(method, 8), r->method, sizeof(r->method));
	h.head = h.method == M_HEAD;
	h.path = path;
	rc = http_path_decode(r->raw, strlen(r->raw), path, sizeof(path), &h.len);
	if (rc == -ENAMETOOLONG)
		return send_text(c, r, h.head, MHD_HTTP_URI_TOO_LONG, "request path too long\n", NULL);
	if (rc != 0)
		return send_text(c, r, h.head, MHD_HTTP_BAD_REQUEST, "bad request path\n", NULL);
	return dispatch(&h);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe)
{
	struct req *r = *req_cls;
	char path[256], macs[18] = "-";
	(void)cls;
	if (!r)
		return;
	*req_cls = NULL;
	const union MHD_ConnectionInfo *sc = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (sc && sc->socket_context)
		((struct conn *)sc->socket_context)->in_flight = 0;
	if (!r->status && toe == MHD_REQUEST_TERMINATED_WITH_ERROR) {
		/* MHD answered after the request line (431, a malformed header): its status, as route "rejected" */
		const union MHD_ConnectionInfo *hs = MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
		if (hs && hs->http_status >= 400) {
			r->status = hs->http_status;
			r->route = "rejected";
			if (mhd_reject_status == r->status)
				mhd_reject_status = 0; /* the logger's note was about this request */
		}
	}
	sanitize(r->raw ? r->raw : "", r->raw ? strlen(r->raw) : 0, path, sizeof(path));
	if (r->have_mac)
		mac_colon(r->mac, macs);
	if (r->status) {
		uint32_t ms = (uint32_t)((now_us() - r->t0) / 1000);
		int done = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
		metrics_http_request(r->route, r->status, r->bytes);
		if (r->m == M_GET && strcmp(r->route, "menu") == 0 && r->have_mac)
			store_record_menu(PROTO_HTTP, r->mac, r->ip, r->bytes, ms, done && r->status == 200);
		else if (r->m == M_GET && strcmp(r->route, "file") == 0 && r->raw)
			store_record_file(PROTO_HTTP, r->ip, r->raw, r->bytes, ms,
			                  !done                 ? XFER_FAILED
			                  : r->status == 200    ? XFER_OK
			                  : r->status == 206    ? XFER_PARTIAL
			                                        : XFER_FAILED);
		log_info("http %s %s \"%s\" %u %llu %.1fms mac=%s%s", r->ip, r->method, path, r->status,
		         (unsigned long long)r->bytes, (double)(now_us() - r->t0) / 1000.0, macs,
		         strcmp(r->route, "rejected") == 0             ? " (rejected by libmicrohttpd)"
		         : toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
		                                                      : " (incomplete)");
	} else {
		log_info("http %s %s \"%s\" - 0 %.1fms (no response: %d)", r->ip, r->method, path,
		         (double)(now_us() - r->t0) / 1000.0, (int)toe);
	}
	free(r->raw);
	free(r->body);
	free(r);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx, enum MHD_ConnectionNotificationCode t)
{
	(void)cls;
	metrics_http_active(t == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
	if (t == MHD_CONNECTION_NOTIFY_STARTED) {
		struct conn *k = calloc(1, sizeof(*k)); /* NULL: this connection's rejections go unlogged */
		if (k) {
			const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
			int loopback;
			k->t0 = now_us();
			addr_text(ci ? ci->client_addr : NULL, k->ip, sizeof(k->ip), &loopback);
		}
		*socket_ctx = k;
		return;
	}
	struct conn *k = *socket_ctx;
	*socket_ctx = NULL;
	if (k && !k->in_flight && mhd_reject_status) {
		/* MHD refused a request before telling us of it (414, malformed request line): all we know is the
		 * client and the status */
		unsigned status = mhd_reject_status;
		mhd_reject_status = 0;
		metrics_http_request("rejected", status, 0);
		log_info("http %s - \"-\" %u 0 %.1fms mac=- (rejected by libmicrohttpd)", k->ip, status,
		         (double)(now_us() - k->t0) / 1000.0);
	}
	free(k);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *srv = cls;
	char msg[512], clean[600];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg))
		n = (int)sizeof(msg) - 1;
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		n--;
	sanitize(msg, (size_t)n, clean, sizeof(clean));
	/* "Error processing request (HTTP response code is 414 (...)). Closing connection." (0.9.75) */
	const char *code = strstr(msg, "HTTP response code is ");
	unsigned long long status;
	char digits[4] = "";
	if (code) {
		for (int i = 0; i < 3 && code[22 + i] >= '0' && code[22 + i] <= '9'; i++)
			digits[i] = code[22 + i];
		if (parse_uint(digits, 400, 599, &status) == 0)
			mhd_reject_status = (unsigned)status;
	}
	if (atomic_load(&srv->starting))
		log_error("HTTP: libmicrohttpd: %s", clean);
	else
		log_debug("HTTP: libmicrohttpd: %s", clean);
}

/* ------------------------------------------------------------------ lifecycle */

int http_server_open(const struct listen_spec *l, const struct config *cfg, struct http_server **out, char *err,
                     size_t errlen)
{
	struct http_server *s;
	struct addrinfo hints, *ai = NULL;
	char port[8];
	const char *host = l->host[0] ? l->host : NULL;
	int fd = -1, rc, one = 1, zero = 0;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	*out = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_family = host ? AF_UNSPEC : AF_INET6; /* any address: [::] dual-stack, else 0.0.0.0 */
	snprintf(port, sizeof(port), "%u", (unsigned)l->port);
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0 || !ai) {
		snprintf(err, errlen, "bad listen address '%s': %s", l->host, gai_strerror(rc));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 && !host && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)) { /* kernel without IPv6 */
		freeaddrinfo(ai);
		ai = NULL;
		hints.ai_family = AF_INET;
		if (getaddrinfo(NULL, port, &hints, &ai) != 0 || !ai) {
			snprintf(err, errlen, "cannot resolve 0.0.0.0");
			return -EINVAL;
		}
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	}
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		freeaddrinfo(ai);
		return rc;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6) {
		/* "::" and "any" accept IPv4 too; a specific v6 address is v6 only by nature */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	}
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot listen on %s%s%s:%u: %s", host && strchr(host, ':') ? "[" : "",
		         host ? host : "*", host && strchr(host, ':') ? "]" : "", (unsigned)l->port, strerror(errno));
		close(fd);
		freeaddrinfo(ai);
		return rc;
	}
	freeaddrinfo(ai);
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->fd = fd;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		s->port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
		                                   : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	s->threads = cfg->http_threads;
	if (s->threads == 0)
		s->threads = usable_cpus();
	if (s->threads > 256)
		s->threads = 256;
	s->max_conns = cfg->http_max_conns ? cfg->http_max_conns : 2048;
	if (s->max_conns < s->threads)
		s->max_conns = s->threads;
	s->per_ip = cfg->http_max_per_client;
	s->timeout_s = cfg->http_timeout_s;
	s->allow_remote_reload = cfg->allow_remote_reload;
	pthread_mutex_init(&s->mc_lock, NULL);
	s->mc = calloc(MC_SLOTS, sizeof(*s->mc)); /* NULL: run without the cache */
	*out = s;
	return 0;
}

int http_server_start(struct http_server *s)
{
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_TURBO;
	if (!s || s->mhd)
		return -EINVAL;
	atomic_store(&s->starting, 1);
	{
		/* libmicrohttpd wants the logger as the very first variadic option (not inside the array), so that
		 * its messages about the other options reach it */
		struct MHD_OptionItem opts[] = {
		    {MHD_OPTION_LISTEN_SOCKET, s->fd, NULL},
		    {MHD_OPTION_CONNECTION_LIMIT, s->max_conns, NULL},
		    {MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->per_ip, NULL},
		    {MHD_OPTION_CONNECTION_TIMEOUT, s->timeout_s, NULL},
		    {MHD_OPTION_CONNECTION_MEMORY_LIMIT, HS_MEMORY_LIMIT, NULL},
		    {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, s},
		    {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
		    {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s},
		    {MHD_OPTION_LISTEN_BACKLOG_SIZE, SOMAXCONN, NULL},
		    {s->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, s->threads, NULL},
		    {MHD_OPTION_END, 0, NULL},
		};
		s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
		                          MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	}
	atomic_store(&s->starting, 0);
	if (!s->mhd) {
		log_error("HTTP: cannot start libmicrohttpd");
		return -EIO;
	}
	s->mhd_owns_fd = 1;
	return 0;
}

void http_server_stop(struct http_server *s)
{
	if (!s || !s->mhd)
		return;
	MHD_stop_daemon(s->mhd); /* joins the threads and closes the listening socket */
	s->mhd = NULL;
	s->fd = -1;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	http_server_stop(s);
	if (!s->mhd_owns_fd && s->fd >= 0)
		close(s->fd);
	for (size_t i = 0; s->mc && i < MC_SLOTS; i++)
		if (s->mc[i].resp)
			MHD_destroy_response(s->mc[i].resp);
	free(s->mc);
	pthread_mutex_destroy(&s->mc_lock);
	free(s);
}

unsigned http_server_port(const struct http_server *s)
{
	return s ? s->port : 0;
}

void http_server_set_reload(struct http_server *s, http_reload_fn fn)
{
	if (s)
		atomic_store(&s->reload, fn);
}
