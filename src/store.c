/* store.c - pins and the per-node boot timeline in memory, persisted by a backend through one writer thread. */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "mac.h"
#include "metrics.h"
#include "render.h"
#include "snapshot.h"

#define IPMAP_SLOTS 32768 /* client IP -> MAC of its last menu fetch: open addressing, linear probing */
#define IPMAP_PROBE 64    /* slots tried; a full neighbourhood overwrites the home slot (a forgotten client) */

static const char *const state_names[NODE_NSTATES] = {"menu", "kernel", "initrd", "booted", "failed"};
static const char *const kind_names[] = {"menu", "kernel", "initrd", "file"};

const char *node_state_name(enum node_state s)
{
	return (unsigned)s < NODE_NSTATES ? state_names[s] : "?";
}

int node_state_parse(const char *name)
{
	for (int i = 0; i < NODE_NSTATES; i++)
		if (name && strcmp(name, state_names[i]) == 0)
			return i;
	return -1;
}

/* A queued item: a front-end event (file not yet classified) or a pin operation. */
enum qtype { Q_MENU, Q_FILE, Q_PIN_PUT, Q_PIN_DEL, Q_PIN_CONSUME };
struct qitem {
	enum qtype type;
	struct store_event ev;
	char ip[48];
	struct store_pin pin;
};

struct mnode {
	struct store_node n;
	struct store_event *ev; /* ring of up to keep events (ev_cap allocated) */
	size_t ev_n, ev_head, ev_cap; /* count, index of the oldest, capacity */
	int64_t file_ms;              /* when the last kernel/initrd transfer ended (not persisted) */
	int dirty;
};

struct ipent {
	char ip[48];
	uint8_t mac[6];
	int used;
};

static struct {
	int open;
	const struct store_backend *be;
	void *db;
	char degraded[512];
	struct store_opts o;
	pthread_t thr;
	int have_thr;

	pthread_mutex_t qlock; /* the queue */
	pthread_cond_t qcond, qdone;
	struct qitem *q;
	size_t qcap, qhead, qn;
	int stop, busy;
	struct qitem *pinq; /* pin operations: never dropped */
	size_t pinq_n, pinq_cap;

	pthread_mutex_t plock; /* pins */
	struct store_pin *pins;
	size_t n_pins, cap_pins;

	pthread_mutex_t nlock; /* nodes (written by the writer, read by the API) */
	struct mnode *nodes;
	size_t n_nodes, cap_nodes;
	uint32_t *nidx; /* MAC -> 1 + index into nodes (0 = free), open addressing, at most half full */
	size_t nidx_cap;

	pthread_mutex_t iplock;
	struct ipent *ipmap;

	/* shared backends (writer thread only, except degraded which is read under dlock) */
	char where[1100], origin[96];
	uint64_t pin_gen;                 /* local pin changes (plock) */
	struct store_event *backlog;      /* events not yet written */
	size_t backlog_n, backlog_cap;
	struct qitem *pend;               /* pin operations not yet written */
	size_t pend_n, pend_cap;
	int64_t retry_at, poll_at;
	pthread_mutex_t dlock;
} G = {.qlock = PTHREAD_MUTEX_INITIALIZER,
       .qcond = PTHREAD_COND_INITIALIZER,
       .qdone = PTHREAD_COND_INITIALIZER,
       .plock = PTHREAD_MUTEX_INITIALIZER,
       .nlock = PTHREAD_MUTEX_INITIALIZER,
       .iplock = PTHREAD_MUTEX_INITIALIZER,
       .dlock = PTHREAD_MUTEX_INITIALIZER};

static atomic_uint_fast64_t pin_version = 1;
static atomic_size_t pin_count; /* G.n_pins, for lock-free "any pins at all?" checks */
static atomic_uint_fast64_t n_dropped, n_be_errors, n_consumed, n_events;

static int64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* "192.0.2.1", "192.0.2.1:1234", "[2001:db8::1]:69", "::1" -> the address alone. */
static void ip_only(const char *in, char *out, size_t len)
{
	const char *s = in ? in : "";
	size_t n;
	if (*s == '[') {
		const char *e = strchr(s, ']');
		n = e ? (size_t)(e - s - 1) : strlen(s + 1);
		s++;
	} else {
		const char *c = strchr(s, ':');
		n = c && !strchr(c + 1, ':') ? (size_t)(c - s) : strlen(s);
	}
	if (n >= len)
		n = len - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

static size_t ip_slot(const char *ip) { return (size_t)(fnv1a(FNV1A_INIT, ip, strlen(ip)) % IPMAP_SLOTS); }

/* The entry of ip, or (insert) the first free slot of its neighbourhood, else its home slot. iplock held. */
static struct ipent *ip_find(const char *ip, int insert)
{
	size_t h = ip_slot(ip);
	for (size_t i = 0; i < IPMAP_PROBE; i++) {
		struct ipent *e = &G.ipmap[(h + i) % IPMAP_SLOTS];
		if (!e->used)
			return insert ? e : NULL;
		if (strcmp(e->ip, ip) == 0)
			return e;
	}
	return insert ? &G.ipmap[h] : NULL;
}

static void ip_note(const char *ip, const uint8_t mac[6])
{
	struct ipent *e;
	if (!G.ipmap || !*ip)
		return;
	pthread_mutex_lock(&G.iplock);
	e = ip_find(ip, 1);
	snprintf(e->ip, sizeof e->ip, "%s", ip);
	memcpy(e->mac, mac, 6);
	e->used = 1;
	pthread_mutex_unlock(&G.iplock);
}

static int ip_to_mac(const char *ip, uint8_t mac[6])
{
	struct ipent *e;
	int found = 0;
	if (!G.ipmap)
		return 0;
	pthread_mutex_lock(&G.iplock);
	e = ip_find(ip, 0);
	if (e) {
		memcpy(mac, e->mac, 6);
		found = 1;
	}
	pthread_mutex_unlock(&G.iplock);
	return found;
}

/* ------------------------------------------------------------------ pins */

static ssize_t pin_index(const uint8_t mac[6])
{
	for (size_t i = 0; i < G.n_pins; i++)
		if (memcmp(G.pins[i].mac, mac, 6) == 0)
			return (ssize_t)i;
	return -1;
}

/* qlock held */
static void pinq_push_locked(enum qtype t, const struct store_pin *p)
{
	if (G.pinq_n < G.pinq_cap || array_grow((void **)&G.pinq, &G.pinq_cap, G.pinq_n, sizeof *G.pinq) == 0) {
		memset(&G.pinq[G.pinq_n], 0, sizeof G.pinq[0]);
		G.pinq[G.pinq_n].type = t;
		G.pinq[G.pinq_n].pin = *p;
		G.pinq_n++;
		pthread_cond_signal(&G.qcond);
	} else {
		atomic_fetch_add(&n_be_errors, 1);
		log_error("store: out of memory queueing a pin change (kept in memory only)");
	}
}

static void pinq_push(enum qtype t, const struct store_pin *p)
{
	pthread_mutex_lock(&G.qlock);
	pinq_push_locked(t, p);
	pthread_mutex_unlock(&G.qlock);
}

/* Insert or replace in memory (plock held). 0 or -ENOMEM. */
static int pin_mem_put(const struct store_pin *p)
{
	ssize_t i = pin_index(p->mac);
	if (i >= 0) {
		G.pins[i] = *p;
		return 0;
	}
	if (array_grow((void **)&G.pins, &G.cap_pins, G.n_pins, sizeof *G.pins) != 0)
		return -ENOMEM;
	G.pins[G.n_pins++] = *p;
	atomic_store(&pin_count, G.n_pins);
	return 0;
}

static void pin_mem_del_at(size_t i)
{
	G.pins[i] = G.pins[--G.n_pins];
	atomic_store(&pin_count, G.n_pins);
}

int store_pin_set(const struct store_pin *p)
{
	int rc;
	if (!G.open)
		return -ENODEV;
	/* the memory change and its queueing are one step for the writer's poll (qlock, then plock) */
	pthread_mutex_lock(&G.qlock);
	pthread_mutex_lock(&G.plock);
	rc = pin_mem_put(p);
	G.pin_gen++;
	pthread_mutex_unlock(&G.plock);
	if (!rc)
		pinq_push_locked(Q_PIN_PUT, p);
	pthread_mutex_unlock(&G.qlock);
	if (rc)
		return rc;
	atomic_fetch_add(&pin_version, 1);
	return 0;
}

int store_pin_del(const uint8_t mac[6])
{
	struct store_pin p;
	ssize_t i;
	if (!G.open)
		return -ENODEV;
	memset(&p, 0, sizeof p);
	memcpy(p.mac, mac, 6);
	pthread_mutex_lock(&G.qlock);
	pthread_mutex_lock(&G.plock);
	i = pin_index(mac);
	if (i >= 0) {
		pin_mem_del_at((size_t)i);
		G.pin_gen++;
	}
	pthread_mutex_unlock(&G.plock);
	if (i >= 0)
		pinq_push_locked(Q_PIN_DEL, &p);
	pthread_mutex_unlock(&G.qlock);
	if (i < 0)
		return -ENOENT;
	atomic_fetch_add(&pin_version, 1);
	return 0;
}

int store_pin_get(const uint8_t mac[6], struct store_pin *out)
{
	int found = 0, expired = 0;
	ssize_t i;
	if (!G.open)
		return 0;
	pthread_mutex_lock(&G.plock);
	i = pin_index(mac);
	if (i >= 0) {
		if (G.pins[i].until && G.pins[i].until <= wall_ms() / 1000) {
			pin_mem_del_at((size_t)i);
			G.pin_gen++;
			expired = 1;
		} else {
			*out = G.pins[i];
			found = 1;
		}
	}
	pthread_mutex_unlock(&G.plock);
	if (expired) {
		struct store_pin p = {0};
		char m[18];
		memcpy(p.mac, mac, 6);
		mac_colon(mac, m);
		log_info("store: pin of %s expired", m);
		atomic_fetch_add(&pin_version, 1);
		pinq_push(Q_PIN_DEL, &p);
	}
	return found;
}

uint64_t store_pin_version(void)
{
	return atomic_load(&pin_version);
}

static void ip_note(const char *ip, const uint8_t mac[6]);

void store_note_client(const uint8_t mac[6], const char *ip)
{
	char a[48];
	if (!G.open)
		return;
	ip_only(ip, a, sizeof a);
	ip_note(a, mac);
}

int store_pin_lookup(const struct render_client *cl, char *boot, size_t len)
{
	struct store_pin p;
	if (!G.open)
		return 0;
	store_note_client(cl->mac, cl->ip);
	if (!atomic_load(&pin_count) || store_pin_get(cl->mac, &p) != 1)
		return 0;
	snprintf(boot, len, "%s", p.boot);
	return 1;
}

/* ------------------------------------------------------------------ recording */

static void queue_push(const struct qitem *it)
{
	pthread_mutex_lock(&G.qlock);
	if (G.qn == G.qcap) {
		pthread_mutex_unlock(&G.qlock);
		atomic_fetch_add(&n_dropped, 1);
		return;
	}
	G.q[(G.qhead + G.qn) % G.qcap] = *it;
	G.qn++;
	if (G.qn == 1 || G.qn * 4 == G.qcap * 3) /* wake the writer on the first item and when 3/4 full */
		pthread_cond_signal(&G.qcond);
	pthread_mutex_unlock(&G.qlock);
}

void store_record_menu(enum store_proto proto, const uint8_t mac[6], const char *ip, uint64_t bytes, uint32_t ms,
                       int ok)
{
	struct qitem it;
	if (!G.open)
		return;
	memset(&it, 0, sizeof it);
	it.type = Q_MENU;
	ip_only(ip, it.ip, sizeof it.ip);
	memcpy(it.ev.mac, mac, 6);
	it.ev.ts_ms = wall_ms();
	it.ev.kind = EV_MENU;
	it.ev.proto = proto;
	it.ev.bytes = bytes;
	it.ev.ms = ms;
	it.ev.ok = ok;
	if (atomic_load(&pin_count)) { /* the pin it was offered, before its kernel can consume it */
		struct store_pin p;
		if (store_pin_get(mac, &p) == 1)
			snprintf(it.ev.boot, sizeof it.ev.boot, "%s", p.boot);
	}
	if (ok) /* usually noted already when the menu was rendered (store_pin_lookup) */
		ip_note(it.ip, mac);
	queue_push(&it);
}

/* name as requested ("/boot/x", "boot/x", "\\boot\\x") -> the catalog-relative path "x" (or name itself). */
static const char *boot_rel(const char *name)
{
	while (*name == '/' || *name == '\\')
		name++;
	if (strncmp(name, "boot/", 5) == 0 || strncmp(name, "boot\\", 5) == 0)
		name += 5;
	return name;
}

/* The kernel of a one-shot pin was sent completely: consume it. */
static void maybe_consume(const uint8_t mac[6], const char *name)
{
	struct store_pin p;
	struct snapshot *s;
	struct boot_target bt;
	char why[256];
	int match = 0;
	if (store_pin_get(mac, &p) != 1 || !p.once)
		return;
	s = snapshot_current();
	if (!s)
		return;
	if (boot_id_resolve(s->cfg, s->cat, p.boot, &bt, why, sizeof why) == 0 && bt.kernel->kernel_path &&
	    strcmp(boot_rel(name), bt.kernel->kernel_path) == 0)
		match = 1;
	snapshot_unref(s);
	if (!match)
		return;
	/* in memory now (the next menu here falls back), in the database by the writer: atomically there, so
	 * of several instances sharing it exactly one consumes the pin */
	pthread_mutex_lock(&G.qlock);
	pthread_mutex_lock(&G.plock);
	ssize_t i = pin_index(mac);
	/* only the very pin we matched (not one set again in between with another boot) */
	if (i >= 0 && strcmp(G.pins[i].boot, p.boot) == 0 && G.pins[i].once) {
		pin_mem_del_at((size_t)i);
		G.pin_gen++;
	} else
		i = -1;
	pthread_mutex_unlock(&G.plock);
	if (i >= 0)
		pinq_push_locked(Q_PIN_CONSUME, &p);
	pthread_mutex_unlock(&G.qlock);
	if (i < 0)
		return;
	char m[18], b[STORE_BOOT_MAX];
	mac_colon(mac, m);
	sanitize(p.boot, strlen(p.boot), b, sizeof b);
	log_info("store: one-shot pin of %s to %s consumed (kernel sent)", m, b);
	atomic_fetch_add(&n_consumed, 1);
	atomic_fetch_add(&pin_version, 1);
}

void store_record_file(enum store_proto proto, const char *ip, const char *name, uint64_t bytes, uint32_t ms,
                       int ok)
{
	struct qitem it;
	if (!G.open)
		return;
	memset(&it, 0, sizeof it);
	it.type = Q_FILE;
	ip_only(ip, it.ip, sizeof it.ip);
	if (!ip_to_mac(it.ip, it.ev.mac))
		return; /* no menu from this client: not a node we follow */
	sanitize(name, strlen(name), it.ev.file, sizeof it.ev.file);
	it.ev.ts_ms = wall_ms();
	it.ev.kind = EV_FILE;
	it.ev.proto = proto;
	it.ev.bytes = bytes;
	it.ev.ms = ms;
	it.ev.ok = ok;
	if (ok == XFER_OK && atomic_load(&pin_count))
		maybe_consume(it.ev.mac, name);
	queue_push(&it);
}

void store_record_tftp(int is_menu, const uint8_t mac[6], const char *peer, const char *name, uint64_t bytes,
                       uint64_t ms, int ok)
{
	uint32_t m = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
	if (is_menu)
		store_record_menu(PROTO_TFTP, mac, peer, bytes, m, ok);
	else
		store_record_file(PROTO_TFTP, peer, name, bytes, m, ok ? XFER_OK : XFER_FAILED);
}

/* ------------------------------------------------------------------ nodes (nlock held) */

static size_t mac_slot(const uint8_t mac[6], size_t cap)
{
	uint64_t h = fnv1a(FNV1A_INIT, mac, 6);
	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* Put v (1 + a node's index) into its MAC's first free slot of table t (cap slots, not full). */
static void nidx_put(uint32_t *t, size_t cap, uint32_t v)
{
	size_t s = mac_slot(G.nodes[v - 1].n.mac, cap);
	while (t[s])
		s = (s + 1) & (cap - 1);
	t[s] = v;
}

/* Node lookup by MAC through the index: constant time, so loading a store of many nodes at start-up stays linear. */
static struct mnode *node_find(const uint8_t mac[6])
{
	if (!G.nidx_cap)
		return NULL;
	for (size_t s = mac_slot(mac, G.nidx_cap);; s = (s + 1) & (G.nidx_cap - 1)) {
		uint32_t v = G.nidx[s];
		if (!v)
			return NULL;
		if (memcmp(G.nodes[v - 1].n.mac, mac, 6) == 0)
			return &G.nodes[v - 1];
	}
}

/* Index nodes[i] (its MAC is not indexed yet); the table doubles before it is half full. -1 when out of memory. */
static int nidx_add(size_t i)
{
	if (2 * (G.n_nodes + 1) > G.nidx_cap) {
		size_t cap = G.nidx_cap ? 2 * G.nidx_cap : 1024;
		uint32_t *t = calloc(cap, sizeof *t);
		if (!t)
			return -1;
		for (size_t k = 0; k < G.nidx_cap; k++)
			if (G.nidx[k])
				nidx_put(t, cap, G.nidx[k]);
		free(G.nidx);
		G.nidx = t;
		G.nidx_cap = cap;
	}
	nidx_put(G.nidx, G.nidx_cap, (uint32_t)(i + 1));
	return 0;
}

static struct mnode *node_get(const uint8_t mac[6], int64_t ts)
{
	struct mnode *m = node_find(mac);
	if (m)
		return m;
	if (array_grow((void **)&G.nodes, &G.cap_nodes, G.n_nodes, sizeof *G.nodes) != 0)
		return NULL;
	if (G.n_nodes >= UINT32_MAX - 1)
		return NULL;
	m = &G.nodes[G.n_nodes];
	memset(m, 0, sizeof *m);
	memcpy(m->n.mac, mac, 6);
	if (nidx_add(G.n_nodes) != 0)
		return NULL;
	G.n_nodes++;
	m->n.first_ms = m->n.last_ms = ts;
	m->n.state = NODE_MENU;
	return m;
}

/* The ring grows (4, 8, ... up to keep) while it has not wrapped, so a node with few events costs little. */
static void node_add_event(struct mnode *m, const struct store_event *e)
{
	unsigned keep = G.o.keep_events ? G.o.keep_events : 1;
	if (m->ev_n == m->ev_cap && m->ev_cap < keep) {
		size_t cap = m->ev_cap ? m->ev_cap * 2 : 4;
		struct store_event *nv;
		if (cap > keep)
			cap = keep;
		nv = realloc(m->ev, cap * sizeof *nv);
		if (!nv)
			return;
		m->ev = nv;
		m->ev_cap = cap;
	}
	if (m->ev_n < keep) {
		m->ev[m->ev_n] = *e; /* not wrapped yet: ev_head is 0 */
		m->ev_n++;
	} else {
		m->ev[m->ev_head] = *e;
		m->ev_head = (m->ev_head + 1) % keep;
	}
}

/* The state machine: an event moves a node forward; a failed transfer marks it failed; a new menu starts over. */
static void node_apply(struct mnode *m, const struct store_event *e, const char *ip)
{
	if (e->ts_ms > m->n.last_ms)
		m->n.last_ms = e->ts_ms;
	if (e->ts_ms < m->n.first_ms)
		m->n.first_ms = e->ts_ms;
	if (ip && *ip)
		snprintf(m->n.ip, sizeof m->n.ip, "%s", ip);
	if (e->boot[0] && e->kind == EV_MENU)
		snprintf(m->n.boot, sizeof m->n.boot, "%s", e->boot);
	snprintf(m->n.last_event, sizeof m->n.last_event, "%s %s %s", kind_names[e->kind],
	         e->proto == PROTO_TFTP ? "tftp" : "http",
	         e->ok == XFER_PARTIAL ? "partial" : e->ok ? "ok" : "failed");
	if (!e->ok) {
		if (e->kind != EV_FILE)
			m->n.state = NODE_FAILED;
	} else if (e->kind == EV_MENU) {
		/* a new boot starts over, but not a menu whose transfer began before the kernel or initrd we already
		 * saw ended (a TFTP menu is recorded when its last ACK arrives: the client may be faster) */
		if (m->file_ms < e->ts_ms - (int64_t)e->ms)
			m->n.state = NODE_MENU;
	} else if (e->kind == EV_KERNEL) {
		m->n.state = NODE_KERNEL;
		m->file_ms = e->ts_ms;
	} else if (e->kind == EV_INITRD) {
		/* the initrd sent completely is the last thing the server hands out: booted; a Range part of it: initrd */
		m->n.state = e->ok == XFER_PARTIAL ? NODE_INITRD : NODE_BOOTED;
		m->file_ms = e->ts_ms;
	}
	m->dirty = 1;
	node_add_event(m, e);
}

/* Writer thread: what a requested file is in the current catalog (kernel, initrd or neither). */
static enum store_kind classify(const struct snapshot *s, const char *name)
{
	const char *rel = boot_rel(name);
	for (size_t d = 0; s && d < s->cat->n_distros; d++) {
		const struct scan_distro *sd = &s->cat->distros[d];
		for (size_t r = 0; r < sd->n_releases; r++) {
			const struct scan_release *sr = &sd->releases[r];
			for (size_t k = 0; k < sr->n_kernels + 1; k++) {
				const struct scan_kernel *sk = k < sr->n_kernels ? &sr->kernels[k] : sr->default_kernel;
				if (!sk)
					continue;
				if (sk->kernel_path && strcmp(rel, sk->kernel_path) == 0)
					return EV_KERNEL;
				if (sk->initrd_path && strcmp(rel, sk->initrd_path) == 0)
					return EV_INITRD;
			}
		}
	}
	return EV_FILE;
}

/* The boot id a menu offered as its default: API pin (recorded with the event) > HostDefaults > DefaultDistro. */
static void menu_boot(const struct snapshot *s, const uint8_t mac[6], char *out, size_t len)
{
	const struct cfg_host *h;
	if (out[0] || !s)
		return;
	if (!s)
		return;
	h = config_host(s->cfg, mac);
	if (h)
		snprintf(out, len, "%s", h->boot_id);
	else if (s->cfg->default_distro)
		snprintf(out, len, "%s", s->cfg->default_distro);
}

/* ------------------------------------------------------------------ shared backends (writer thread) */

/* One pin operation to the backend: 0 done (a consume of a pin already gone counts as done), -errno. */
static int pin_write(const struct store_pin *p, enum qtype t)
{
	int rc;
	if (t == Q_PIN_PUT)
		return G.be->pin_put(G.db, p);
	if (t == Q_PIN_DEL || !G.be->pin_consume)
		return G.be->pin_del(G.db, p->mac);
	rc = G.be->pin_consume(G.db, p);
	if (rc == 0) {
		char m[18];
		mac_colon(p->mac, m);
		log_info("store: one-shot pin of %s was already consumed through another instance", m);
	}
	return rc < 0 ? rc : 0;
}

static void pend_add(const struct qitem *it)
{
	if (G.pend_n == G.pend_cap && array_grow((void **)&G.pend, &G.pend_cap, G.pend_n, sizeof *G.pend) != 0) {
		atomic_fetch_add(&n_be_errors, 1);
		log_error("store: out of memory keeping a pin change for the database (kept in memory only)");
		return;
	}
	G.pend[G.pend_n++] = *it;
}

/* Keep events for the database; beyond the bound the oldest are dropped (and counted). */
static void backlog_add(const struct store_event *ev, size_t n)
{
	size_t cap = G.o.backlog ? G.o.backlog : 65536;
	if (!n)
		return;
	if (G.backlog_cap < cap) {
		struct store_event *nb = realloc(G.backlog, cap * sizeof *nb);
		if (!nb) {
			atomic_fetch_add(&n_dropped, n);
			return;
		}
		G.backlog = nb;
		G.backlog_cap = cap;
	}
	if (n > cap) {
		atomic_fetch_add(&n_dropped, n - cap);
		ev += n - cap;
		n = cap;
	}
	if (G.backlog_n + n > cap) {
		size_t drop = G.backlog_n + n - cap;
		memmove(G.backlog, G.backlog + drop, (G.backlog_n - drop) * sizeof *G.backlog);
		G.backlog_n -= drop;
		atomic_fetch_add(&n_dropped, drop);
	}
	memcpy(G.backlog + G.backlog_n, ev, n * sizeof *ev);
	G.backlog_n += n;
}

static void set_degraded(const char *why)
{
	pthread_mutex_lock(&G.dlock);
	snprintf(G.degraded, sizeof G.degraded, "%s", why);
	pthread_mutex_unlock(&G.dlock);
}

/* The shared database failed: drop the connection, keep serving from memory, retry in a second. */
static void db_lost(int rc, const char *what)
{
	char why[512];
	if (G.db)
		G.be->close(G.db);
	G.db = NULL;
	atomic_fetch_add(&n_be_errors, 1);
	snprintf(why, sizeof why,
	         "%s database unreachable (%s: %s); serving config and the last known pins, %zu events "
	         "buffered",
	         G.be->name, what, strerror(-rc), G.backlog_n);
	set_degraded(why);
	log_error("store: %s", why);
	G.retry_at = wall_ms() + 1000;
}

static int collect_pin(void *arg, const struct store_pin *p)
{
	struct store_pin **v = arg;
	size_t n = (*v)[0].created, cap = (size_t)(*v)[0].until; /* slot 0 is the header: count, capacity */
	if (n + 1 >= cap) {
		struct store_pin *nv = realloc(*v, cap * 2 * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		*v = nv;
		(*v)[0].until = (int64_t)(cap * 2);
	}
	(*v)[n + 1] = *p;
	(*v)[0].created = (int64_t)(n + 1);
	return 0;
}

/* Pins as the database has them replace the memory copy, unless a local change happened meanwhile (then the
 * next poll takes them). */
static int poll_pins(void)
{
	struct store_pin *v = calloc(17, sizeof *v);
	uint64_t gen;
	int rc, changed = 0;
	if (!v)
		return -ENOMEM;
	v[0].until = 17;
	pthread_mutex_lock(&G.qlock);
	pthread_mutex_lock(&G.plock);
	gen = G.pin_gen;
	pthread_mutex_unlock(&G.plock);
	rc = G.pinq_n ? 1 : 0;
	pthread_mutex_unlock(&G.qlock);
	if (rc) {
		free(v);
		return 0;
	}
	rc = G.be->pins_load(G.db, collect_pin, &v);
	if (rc) {
		free(v);
		return rc;
	}
	size_t n = (size_t)v[0].created;
	pthread_mutex_lock(&G.plock);
	if (gen == G.pin_gen) {
		changed = n != G.n_pins;
		for (size_t i = 0; i < n && !changed; i++) {
			ssize_t k = pin_index(v[i + 1].mac);
			changed = k < 0 || strcmp(G.pins[k].boot, v[i + 1].boot) != 0 || G.pins[k].once != v[i + 1].once ||
			          G.pins[k].until != v[i + 1].until;
		}
		if (changed) {
			G.n_pins = 0;
			for (size_t i = 0; i < n; i++)
				if (pin_mem_put(&v[i + 1]) != 0)
					break;
			atomic_store(&pin_count, G.n_pins);
		}
	}
	pthread_mutex_unlock(&G.plock);
	if (changed)
		atomic_fetch_add(&pin_version, 1);
	free(v);
	return 0;
}

static int same_event(const struct store_event *a, const struct store_event *b)
{
	return a->ts_ms == b->ts_ms && a->kind == b->kind && a->proto == b->proto && a->bytes == b->bytes &&
	       a->ms == b->ms && a->ok == b->ok && strcmp(a->file, b->file) == 0;
}

static void node_apply(struct mnode *m, const struct store_event *e, const char *ip);

/* Another instance's event: through the same state machine, unless this node already has it. */
static int poll_event(void *arg, const struct store_event *e)
{
	unsigned keep = G.o.keep_events ? G.o.keep_events : 1;
	struct mnode *m;
	(void)arg;
	pthread_mutex_lock(&G.nlock);
	m = node_find(e->mac);
	if (m && m->ev_n == keep && e->ts_ms < m->ev[m->ev_head].ts_ms) {
		pthread_mutex_unlock(&G.nlock); /* older than all this node keeps: seen before */
		return 0;
	}
	if (m) {
		for (size_t i = 0; i < m->ev_n; i++)
			if (same_event(&m->ev[(m->ev_head + i) % keep], e)) {
				pthread_mutex_unlock(&G.nlock);
				return 0;
			}
	} else {
		m = node_get(e->mac, e->ts_ms);
	}
	if (m) {
		int dirty = m->dirty;
		node_apply(m, e, NULL);
		m->dirty = dirty; /* the other instance writes its own node rows */
	}
	pthread_mutex_unlock(&G.nlock);
	return 0;
}

/* Write what is pending, then read what the other instances wrote; reconnect when the database is gone. */
static void sync_shared(int force_poll)
{
	int64_t now = wall_ms();
	struct store_node *nodes = NULL;
	size_t nn = 0;
	int rc;
	char e[512];
	if (!G.db) {
		if (now < G.retry_at && !force_poll)
			return;
		rc = G.be->open(G.where, G.origin, &G.db, e, sizeof e);
		if (rc) {
			G.db = NULL;
			G.retry_at = now + 1000;
			return;
		}
		log_info("store: %s database reachable again, writing %zu buffered events", G.be->name, G.backlog_n);
		G.poll_at = 0;
	}
	for (size_t i = 0; i < G.pend_n; i++) {
		if ((rc = pin_write(&G.pend[i].pin, G.pend[i].type)) != 0) {
			memmove(G.pend, G.pend + i, (G.pend_n - i) * sizeof *G.pend);
			G.pend_n -= i;
			db_lost(rc, "pin change");
			return;
		}
	}
	G.pend_n = 0;
	pthread_mutex_lock(&G.nlock);
	for (size_t i = 0; i < G.n_nodes; i++)
		nn += G.nodes[i].dirty ? 1 : 0;
	if (nn && (nodes = malloc(nn * sizeof *nodes)) != NULL) {
		nn = 0;
		for (size_t i = 0; i < G.n_nodes; i++)
			if (G.nodes[i].dirty)
				nodes[nn++] = G.nodes[i].n;
	} else
		nn = 0;
	pthread_mutex_unlock(&G.nlock);
	if (G.backlog_n || nn) {
		rc = G.be->batch(G.db, G.backlog, G.backlog_n, nodes, nn, G.o.keep_events);
		if (rc) {
			free(nodes);
			db_lost(rc, "writing events");
			return;
		}
		pthread_mutex_lock(&G.nlock); /* written: clean, unless they changed again meanwhile */
		for (size_t i = 0, k = 0; i < G.n_nodes && k < nn; i++) {
			struct mnode *m = &G.nodes[i];
			if (m->dirty && memcmp(m->n.mac, nodes[k].mac, 6) == 0) {
				if (m->n.last_ms == nodes[k].last_ms && m->n.state == nodes[k].state)
					m->dirty = 0;
				k++;
			}
		}
		pthread_mutex_unlock(&G.nlock);
		G.backlog_n = 0;
	}
	free(nodes);
	if (force_poll || now >= G.poll_at) {
		G.poll_at = now + (G.o.poll_ms ? G.o.poll_ms : 1000);
		if ((rc = poll_pins()) != 0 || (rc = G.be->events_poll(G.db, poll_event, NULL)) != 0) {
			db_lost(rc, "reading");
			return;
		}
	}
	if (G.degraded[0])
		set_degraded("");
}

/* Apply and persist one batch (writer thread, or store_flush without a thread). */
static void process(struct qitem *items, size_t n, struct qitem *pins, size_t np)
{
	struct snapshot *s = n ? snapshot_current() : NULL;
	struct store_event *evs = n ? calloc(n, sizeof *evs) : NULL;
	struct store_node *nodes = NULL;
	size_t ne = 0, nn = 0;
	char err[256];
	for (size_t i = 0; i < np && G.be->shared; i++)
		pend_add(&pins[i]); /* written by sync_shared() */
	for (size_t i = 0; i < np && G.db && !G.be->shared; i++) {
		int rc = pin_write(&pins[i].pin, pins[i].type);
		if (rc < 0) {
			atomic_fetch_add(&n_be_errors, 1);
			log_error("store: cannot persist a pin change: %s", strerror(-rc));
		}
	}
	if (n && !evs) {
		atomic_fetch_add(&n_dropped, n);
		goto out;
	}
	pthread_mutex_lock(&G.nlock);
	for (size_t i = 0; i < n; i++) {
		struct qitem *it = &items[i];
		struct mnode *m;
		if (it->type == Q_FILE)
			it->ev.kind = classify(s, it->ev.file);
		else
			menu_boot(s, it->ev.mac, it->ev.boot, sizeof it->ev.boot);
		m = node_get(it->ev.mac, it->ev.ts_ms);
		if (!m) {
			atomic_fetch_add(&n_dropped, 1);
			continue;
		}
		node_apply(m, &it->ev, it->ip);
		evs[ne++] = it->ev;
		atomic_fetch_add(&n_events, 1);
	}
	if (ne && !G.be->shared)
		nodes = calloc(G.n_nodes, sizeof *nodes);
	for (size_t i = 0; nodes && i < G.n_nodes; i++) {
		if (G.nodes[i].dirty) {
			nodes[nn++] = G.nodes[i].n;
			G.nodes[i].dirty = 0;
		}
	}
	pthread_mutex_unlock(&G.nlock);
	if (G.be->shared) {
		backlog_add(evs, ne); /* written by sync_shared() */
	} else if (G.db && ne && !nodes) {
		atomic_fetch_add(&n_be_errors, 1);
		log_error("store: out of memory writing %zu events", ne);
	} else if (G.db && ne) {
		int rc = G.be->batch(G.db, evs, ne, nodes, nn, G.o.keep_events);
		if (rc) {
			atomic_fetch_add(&n_be_errors, 1);
			snprintf(err, sizeof err, "%s", strerror(-rc));
			log_error("store: cannot write %zu events: %s", ne, err);
		}
	}
out:
	free(evs);
	free(nodes);
	snapshot_unref(s);
}

/* Take everything queued (qlock held): returns the items in *items (malloc'd) and the pin ops in *pins. */
static void take(struct qitem **items, size_t *n, struct qitem **pins, size_t *np)
{
	*n = G.qn;
	*items = NULL;
	if (G.qn) {
		*items = malloc(G.qn * sizeof **items);
		if (*items) {
			for (size_t i = 0; i < G.qn; i++)
				(*items)[i] = G.q[(G.qhead + i) % G.qcap];
		} else {
			atomic_fetch_add(&n_dropped, G.qn);
			*n = 0;
		}
	}
	G.qhead = 0;
	G.qn = 0;
	*pins = G.pinq;
	*np = G.pinq_n;
	G.pinq = NULL;
	G.pinq_n = G.pinq_cap = 0;
}

static void *writer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&G.qlock);
	for (;;) {
		while (!G.stop && !G.qn && !G.pinq_n) {
			if (!G.be->shared) {
				pthread_cond_wait(&G.qcond, &G.qlock);
				continue;
			}
			/* shared: wake for the next poll or reconnect even when nothing happens here */
			int64_t due = G.db ? G.poll_at : G.retry_at, now = wall_ms();
			if (due <= now)
				break;
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			int64_t ns = ts.tv_nsec + (due - now) * 1000000L;
			ts.tv_sec += ns / 1000000000L;
			ts.tv_nsec = ns % 1000000000L;
			pthread_cond_timedwait(&G.qcond, &G.qlock, &ts);
			if (wall_ms() >= due)
				break;
		}
		if (!G.qn && !G.pinq_n && G.stop)
			break;
		if (!G.stop && G.qn && G.qn * 4 < G.qcap * 3 && !G.pinq_n) {
			/* let a burst gather into one transaction: at most 50 ms */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&G.qcond, &G.qlock, &ts);
		}
		struct qitem *items, *pins;
		size_t n, np;
		take(&items, &n, &pins, &np);
		G.busy = 1;
		pthread_mutex_unlock(&G.qlock);
		process(items, n, pins, np);
		free(items);
		free(pins);
		if (G.be->shared)
			sync_shared(0);
		pthread_mutex_lock(&G.qlock);
		G.busy = 0;
		pthread_cond_broadcast(&G.qdone);
	}
	pthread_mutex_unlock(&G.qlock);
	return NULL;
}

void store_flush(void)
{
	if (!G.open)
		return;
	pthread_mutex_lock(&G.qlock);
	if (G.have_thr) {
		pthread_cond_signal(&G.qcond);
		while (G.qn || G.pinq_n || G.busy)
			pthread_cond_wait(&G.qdone, &G.qlock);
		pthread_mutex_unlock(&G.qlock);
		return;
	}
	struct qitem *items, *pins;
	size_t n, np;
	take(&items, &n, &pins, &np);
	pthread_mutex_unlock(&G.qlock);
	process(items, n, pins, np);
	free(items);
	free(pins);
	if (G.be->shared)
		sync_shared(1);
}

/* ------------------------------------------------------------------ open/close */

static int load_pin(void *arg, const struct store_pin *p)
{
	(void)arg;
	return pin_mem_put(p);
}

static int load_node(void *arg, const struct store_node *n)
{
	struct mnode *m;
	(void)arg;
	m = node_get(n->mac, n->first_ms);
	if (!m)
		return -ENOMEM;
	m->n = *n;
	return 0;
}

static int load_event(void *arg, const struct store_event *e)
{
	struct mnode *m;
	(void)arg;
	m = node_find(e->mac);
	if (m)
		node_add_event(m, e);
	return 0;
}

int store_open(const struct store_opts *o, int *degraded, char *err, size_t errlen)
{
	char e[512] = "";
	int rc;
	*degraded = 0;
	if (G.open)
		return -EBUSY;
	G.o = *o;
	if (!G.o.keep_events)
		G.o.keep_events = 1;
	if (!G.o.queue_len)
		G.o.queue_len = 16384;
	G.qcap = G.o.queue_len;
	G.q = calloc(G.qcap, sizeof *G.q);
	G.ipmap = calloc(IPMAP_SLOTS, sizeof *G.ipmap);
	if (!G.q || !G.ipmap) {
		free(G.q);
		free(G.ipmap);
		G.q = NULL;
		G.ipmap = NULL;
		return -ENOMEM;
	}
	G.db = NULL;
	G.degraded[0] = '\0';
	G.backlog_n = G.pend_n = 0;
	G.retry_at = G.poll_at = 0;
	{
		char host[64] = "";
		gethostname(host, sizeof host - 1);
		snprintf(G.origin, sizeof G.origin, "%s:%ld:%lld", host, (long)getpid(), (long long)wall_ms());
	}
	const char *dir = o->state_dir;
	char dbuf[1100];
	if (o->url && (strncmp(o->url, "postgresql://", 13) == 0 || strncmp(o->url, "postgres://", 11) == 0)) {
		G.be = &store_pg;
		snprintf(G.where, sizeof G.where, "%s", o->url);
		dir = NULL;
	} else {
		G.be = &store_sqlite;
		if (o->url && strncmp(o->url, "sqlite://", 9) == 0 && o->url[9] == '/') {
			snprintf(G.where, sizeof G.where, "%s", o->url + 9);
			snprintf(dbuf, sizeof dbuf, "%s", G.where);
			char *sl = strrchr(dbuf, '/');
			if (sl && sl != dbuf)
				*sl = '\0';
			else
				snprintf(dbuf, sizeof dbuf, "/");
			dir = dbuf;
		} else {
			snprintf(G.where, sizeof G.where, "%s/autopxe.db", dir ? dir : "");
		}
	}
	rc = !dir ? 0 : *dir ? mkdir_p(dir, 0750) : -EINVAL;
	if (rc)
		snprintf(e, sizeof e, "StateDir '%.400s': %s", dir, strerror(-rc));
	else
		rc = G.be->open(G.where, G.origin, &G.db, e, sizeof e);
	if (rc && G.be->shared) {
		G.db = NULL;
		snprintf(G.degraded, sizeof G.degraded,
		         "%s database unreachable (%s); serving config only, events buffered, retrying",
		         G.be->name, e);
		log_error("store: %s", G.degraded);
		*degraded = 1;
		G.retry_at = wall_ms() + 1000;
	} else if (rc) {
		G.db = NULL;
		snprintf(G.degraded, sizeof G.degraded, "state store unavailable, pins and timeline kept in memory only: %s",
		         e);
		log_error("store: %s", G.degraded);
		*degraded = 1;
	} else {
		if (e[0])
			log_warn("store: %s", e); /* e.g. a corrupt file moved aside */
		pthread_mutex_lock(&G.plock);
		rc = G.be->pins_load(G.db, load_pin, NULL);
		pthread_mutex_unlock(&G.plock);
		pthread_mutex_lock(&G.nlock);
		if (!rc)
			rc = G.be->nodes_load(G.db, load_node, NULL);
		if (!rc)
			rc = G.be->events_load(G.db, load_event, NULL);
		pthread_mutex_unlock(&G.nlock);
		if (rc)
			log_error("store: cannot load the saved state: %s", strerror(-rc));
		if (G.be->shared)
			log_info("store: %s (shared, this instance is %s): %zu pins, %zu nodes", G.be->name, G.origin, G.n_pins,
			         G.n_nodes);
		else
			log_info("store: %s in %s: %zu pins, %zu nodes", G.be->name, G.where, G.n_pins, G.n_nodes);
	}
	snprintf(err, errlen, "%s", G.degraded);
	G.stop = 0;
	G.open = 1;
	atomic_fetch_add(&pin_version, 1);
	if (!o->no_thread && pthread_create(&G.thr, NULL, writer, NULL) == 0)
		G.have_thr = 1;
	return 0;
}

void store_close(void)
{
	if (!G.open)
		return;
	if (G.have_thr) {
		pthread_mutex_lock(&G.qlock);
		G.stop = 1;
		pthread_cond_signal(&G.qcond);
		pthread_mutex_unlock(&G.qlock);
		pthread_join(G.thr, NULL);
		G.have_thr = 0;
	} else {
		store_flush();
	}
	if (G.be->shared && G.db && (G.backlog_n || G.pend_n))
		sync_shared(1); /* a last try (the writer did one already) */
	if (G.backlog_n)
		log_warn("store: %zu events could not be written before exit", G.backlog_n);
	G.open = 0;
	if (G.db)
		G.be->close(G.db);
	G.db = NULL;
	for (size_t i = 0; i < G.n_nodes; i++)
		free(G.nodes[i].ev);
	free(G.nodes);
	free(G.nidx);
	G.nidx = NULL;
	G.nidx_cap = 0;
	free(G.pins);
	free(G.q);
	free(G.ipmap);
	free(G.pinq);
	free(G.backlog);
	free(G.pend);
	G.backlog = NULL;
	G.pend = NULL;
	G.backlog_n = G.backlog_cap = G.pend_n = G.pend_cap = 0;
	G.nodes = NULL;
	G.pins = NULL;
	G.q = NULL;
	G.ipmap = NULL;
	G.pinq = NULL;
	atomic_store(&pin_count, 0);
	G.n_nodes = G.cap_nodes = G.n_pins = G.cap_pins = G.qn = G.qhead = G.pinq_n = G.pinq_cap = 0;
	atomic_fetch_add(&pin_version, 1);
}

int store_is_open(void)
{
	return G.open;
}

/* ------------------------------------------------------------------ reading */

enum node_state store_node_state(const struct store_node *n, int64_t now)
{
	if (n->state != NODE_BOOTED && n->state != NODE_FAILED && G.o.fail_after_s &&
	    now - n->last_ms > (int64_t)G.o.fail_after_s * 1000)
		return NODE_FAILED;
	return n->state;
}

int store_nodes(int filter, struct store_node **out, size_t *n)
{
	int64_t now = wall_ms();
	*out = NULL;
	*n = 0;
	if (!G.open)
		return 0;
	pthread_mutex_lock(&G.nlock);
	if (G.n_nodes) {
		*out = malloc(G.n_nodes * sizeof **out);
		if (!*out) {
			pthread_mutex_unlock(&G.nlock);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < G.n_nodes; i++) {
		struct store_node c = G.nodes[i].n;
		c.state = store_node_state(&c, now);
		if (filter < 0 || (int)c.state == filter)
			(*out)[(*n)++] = c;
	}
	pthread_mutex_unlock(&G.nlock);
	return 0;
}

int store_node(const uint8_t mac[6], struct store_node *node, struct store_event **ev, size_t *nev)
{
	struct mnode *m;
	unsigned keep = G.o.keep_events ? G.o.keep_events : 1;
	*ev = NULL;
	*nev = 0;
	if (!G.open)
		return 0;
	pthread_mutex_lock(&G.nlock);
	m = node_find(mac);
	if (!m) {
		pthread_mutex_unlock(&G.nlock);
		return 0;
	}
	*node = m->n;
	node->state = store_node_state(node, wall_ms());
	if (m->ev_n) {
		*ev = malloc(m->ev_n * sizeof **ev);
		if (!*ev) {
			pthread_mutex_unlock(&G.nlock);
			return -ENOMEM;
		}
		for (size_t i = 0; i < m->ev_n; i++)
			(*ev)[i] = m->ev[(m->ev_head + i) % keep];
		*nev = m->ev_n;
	}
	pthread_mutex_unlock(&G.nlock);
	return 1;
}

static int degraded_now(void)
{
	int d;
	pthread_mutex_lock(&G.dlock);
	d = G.degraded[0] != '\0';
	pthread_mutex_unlock(&G.dlock);
	return d;
}

int store_metrics(sbuf *out)
{
	size_t count[NODE_NSTATES] = {0};
	int64_t now = wall_ms();
	int rc = 0;
	if (G.open) {
		pthread_mutex_lock(&G.nlock);
		for (size_t i = 0; i < G.n_nodes; i++)
			count[store_node_state(&G.nodes[i].n, now)]++;
		pthread_mutex_unlock(&G.nlock);
	}
	rc |= sbuf_puts(out, "# HELP autopxe_nodes Nodes seen, by boot state.\n# TYPE autopxe_nodes gauge\n");
	for (int i = 0; i < NODE_NSTATES; i++)
		rc |= sbuf_printf(out, "autopxe_nodes{state=\"%s\"} %zu\n", state_names[i], count[i]);
	rc |= metrics_put(out, "autopxe_pins", "gauge", "Active API pins.", atomic_load(&pin_count));
	rc |= metrics_put(out, "autopxe_store_events_total", "counter", "Timeline events recorded.",
	                  (unsigned long long)atomic_load(&n_events));
	rc |= metrics_put(out, "autopxe_store_dropped_total", "counter", "Events dropped (queue full).",
	                  (unsigned long long)atomic_load(&n_dropped));
	rc |= metrics_put(out, "autopxe_store_errors_total", "counter", "Failed state-store writes.",
	                  (unsigned long long)atomic_load(&n_be_errors));
	rc |= metrics_put(out, "autopxe_pins_consumed_total", "counter", "One-shot pins consumed.",
	                  (unsigned long long)atomic_load(&n_consumed));
	rc |= metrics_put(out, "autopxe_store_degraded", "gauge", "1 when the state store runs in memory only.",
	                  G.open && degraded_now() ? 1 : 0);
	return rc ? -ENOMEM : 0;
}

void store_status(char *out, size_t len)
{
	pthread_mutex_lock(&G.dlock);
	snprintf(out, len, "%s", G.open ? G.degraded : "");
	pthread_mutex_unlock(&G.dlock);
}
