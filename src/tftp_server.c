/* tftp_server.c - the TFTP front end: epoll loops in their own threads, a deadline heap, request dispatch. */
#include "tftp_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpus.h"
#include "log.h"
#include "metrics.h"
#include "snapshot.h"
#include "tftp_proto.h"
#include "tftp_session.h"
#include "util.h"

#define RX_BYTES (TFTP_MAX_PACKET + 64)
#define LISTEN_BURST 64            /* requests taken per wake-up of the listening socket */
#define C_BUCKETS 4096u            /* per-client-IP counters */
#define S_BUCKETS 8192u            /* sessions by client address+port (duplicate RRQs), per loop */
#define TFTP_MAX_LOOPS 64u

struct client_ent {
	uint8_t ip[16];
	unsigned count;
	struct client_ent *next;
};

/* One event loop: its own listening socket (SO_REUSEPORT: the kernel hashes each client address+port to one
 * loop, so a repeated RRQ finds its session), its own sessions, deadline heap and scratch buffers. */
struct tftp_loop {
	struct tftp_io io; /* epoll fd and send scratch, lent to the session code */
	struct tftp_server *srv;
	int lfd;
	pthread_t thr;
	int started;
	struct sess **heap;
	size_t heap_n, heap_cap;
	struct sess *stab[S_BUCKETS];
	struct sess *graveyard; /* ended sessions, freed after each batch of events */
	struct tftp_gap gap;    /* how long a wait for the next packet takes (busy-poll with many transfers) */
	uint8_t *rx;
	unsigned idx; /* in srv->loops; its listener is socket idx of the SO_REUSEPORT group */
};

struct tftp_server {
	int efd; /* stop: written once, never read, so every loop sees it */
	unsigned port;
	unsigned n_loops;
	struct tftp_loop *loops;
	int started, stopped;
	atomic_uint n_sessions; /* all loops, including requests being set up */

	/* TFTPThreads: auto starts a loop per online CPU and follows the CPUs the process may use (follow_cpus): loops
	 * 0..active-1 take new requests and may busy-poll; the others finish their transfers. */
	atomic_int auto_loops;
	atomic_uint active;
	_Atomic uint64_t cpu_check_ms; /* when a loop next reads the CPU budget */
	atomic_int quota_binds;        /* a cgroup CPU quota binds: no busy-poll (it would spend the quota) */
	pthread_mutex_t steer_mu;
	unsigned quota_milli; /* the quota last seen (0: none), under steer_mu */

	pthread_mutex_t cmu; /* guards ctab: touched once at the start and once at the end of a session */
	struct client_ent *ctab[C_BUCKETS];
};

static char tag_listen, tag_stop; /* epoll data.ptr markers */
/* A session's catcher socket (tid_connect) is registered as the session's address with this bit set (sessions
 * come from calloc, so the bit is free). */
#define CATCHER_BIT ((uintptr_t)1)

/* ---- addresses ---- */

static void addr_key_of(const struct sockaddr_storage *ss, struct addr_key *k)
{
	memset(k, 0, sizeof *k);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		k->ip[10] = k->ip[11] = 0xff;
		memcpy(k->ip + 12, &a->sin_addr, 4);
		k->port = ntohs(a->sin_port);
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		memcpy(k->ip, &a->sin6_addr, 16);
		k->port = ntohs(a->sin6_port);
	}
}

/* Turn a v4-mapped IPv6 address into a plain IPv4 one (dual-stack listener). */
static void unmap_v4(struct sockaddr_storage *ss, socklen_t *len)
{
	if (ss->ss_family != AF_INET6)
		return;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (!IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
		return;
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = a6->sin6_port};
	memcpy(&a4.sin_addr, a6->sin6_addr.s6_addr + 12, 4);
	memset(ss, 0, sizeof *ss);
	memcpy(ss, &a4, sizeof a4);
	*len = sizeof a4;
}

static void addr_ip_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
	const void *src = ss->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
	                                          : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (!inet_ntop(ss->ss_family, src, out, (socklen_t)len))
		snprintf(out, len, "?");
}

static unsigned addr_port(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)ss)->sin_port)
	                                : ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	addr_ip_text(ss, ip, sizeof ip);
	if (ss->ss_family == AF_INET6)
		snprintf(out, len, "[%s]:%u", ip, addr_port(ss));
	else
		snprintf(out, len, "%s:%u", ip, addr_port(ss));
}

static int addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct addr_key ka, kb;
	if (a->ss_family != b->ss_family)
		return 0;
	addr_key_of(a, &ka);
	addr_key_of(b, &kb);
	return memcmp(&ka, &kb, sizeof ka) == 0;
}

static uint32_t hash_bytes(const void *p, size_t n) { return (uint32_t)fnv1a(FNV1A_INIT, p, n); }

/* ---- per-client counters and the session index ---- */

/* Take one session slot for ip: the server-wide count and the per-client count, both against the current caps.
 * Returns the client's entry, or NULL with *why set (busy or out of memory); undo with unreserve(). */
static struct client_ent *reserve(struct tftp_server *srv, const uint8_t ip[16], unsigned max_sessions,
                                  unsigned max_per_client, const char **why)
{
	if (atomic_fetch_add(&srv->n_sessions, 1) >= max_sessions) {
		atomic_fetch_sub(&srv->n_sessions, 1);
		*why = "session limit";
		return NULL;
	}
	pthread_mutex_lock(&srv->cmu);
	struct client_ent **b = &srv->ctab[hash_bytes(ip, 16) & (C_BUCKETS - 1)];
	struct client_ent *e = *b;
	while (e && memcmp(e->ip, ip, 16) != 0)
		e = e->next;
	if (!e && (e = calloc(1, sizeof *e)) != NULL) {
		memcpy(e->ip, ip, 16);
		e->next = *b;
		*b = e;
	}
	if (!e || e->count >= max_per_client) {
		*why = e ? "per-client session limit" : "out of memory";
		e = NULL;
	} else {
		e->count++;
	}
	pthread_mutex_unlock(&srv->cmu);
	if (!e)
		atomic_fetch_sub(&srv->n_sessions, 1);
	return e;
}

static void unreserve(struct tftp_server *srv, struct client_ent *e)
{
	pthread_mutex_lock(&srv->cmu);
	if (--e->count == 0) {
		for (struct client_ent **b = &srv->ctab[hash_bytes(e->ip, 16) & (C_BUCKETS - 1)]; *b; b = &(*b)->next) {
			if (*b == e) {
				*b = e->next;
				free(e);
				break;
			}
		}
	}
	pthread_mutex_unlock(&srv->cmu);
	atomic_fetch_sub(&srv->n_sessions, 1);
}

static struct sess **stab_slot(struct tftp_loop *s, const struct addr_key *k)
{
	return &s->stab[hash_bytes(k, sizeof *k) & (S_BUCKETS - 1)];
}

static struct sess *stab_find(struct tftp_loop *s, const struct addr_key *k)
{
	for (struct sess *x = *stab_slot(s, k); x; x = x->hnext)
		if (memcmp(&x->key, k, sizeof *k) == 0)
			return x;
	return NULL;
}

static void stab_del(struct tftp_loop *s, struct sess *ss)
{
	for (struct sess **b = stab_slot(s, &ss->key); *b; b = &(*b)->hnext) {
		if (*b == ss) {
			*b = ss->hnext;
			return;
		}
	}
}

/* ---- deadline min-heap ---- */

static void heap_set(struct tftp_loop *s, size_t i, struct sess *x)
{
	s->heap[i] = x;
	x->heap_idx = i;
}

static void heap_up(struct tftp_loop *s, size_t i)
{
	struct sess *x = s->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (s->heap[p]->deadline <= x->deadline)
			break;
		heap_set(s, i, s->heap[p]);
		i = p;
	}
	heap_set(s, i, x);
}

static void heap_down(struct tftp_loop *s, size_t i)
{
	struct sess *x = s->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= s->heap_n)
			break;
		if (c + 1 < s->heap_n && s->heap[c + 1]->deadline < s->heap[c]->deadline)
			c++;
		if (s->heap[c]->deadline >= x->deadline)
			break;
		heap_set(s, i, s->heap[c]);
		i = c;
	}
	heap_set(s, i, x);
}

static int heap_push(struct tftp_loop *s, struct sess *x)
{
	if (s->heap_n == s->heap_cap) {
		size_t cap = s->heap_cap ? s->heap_cap * 2 : 256;
		struct sess **h = realloc(s->heap, cap * sizeof *h);
		if (!h)
			return -ENOMEM;
		s->heap = h;
		s->heap_cap = cap;
	}
	heap_set(s, s->heap_n++, x);
	heap_up(s, s->heap_n - 1);
	return 0;
}

static void heap_remove(struct tftp_loop *s, struct sess *x)
{
	size_t i = x->heap_idx;
	struct sess *last = s->heap[--s->heap_n];
	if (i == s->heap_n)
		return;
	heap_set(s, i, last);
	heap_up(s, i);
	heap_down(s, last->heap_idx);
}

static void set_deadline(struct tftp_loop *s, struct sess *x, uint64_t when)
{
	uint64_t old = x->deadline;
	x->deadline = when;
	if (when < old)
		heap_up(s, x->heap_idx);
	else
		heap_down(s, x->heap_idx);
}

/* ---- sending ---- */

/* A reply from a fresh socket bound to the address the request came to (used for refusals). */
static int tid_socket(const struct sockaddr_storage *local, socklen_t local_len)
{
	int fd = socket(local->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_storage b = *local;
	if (b.ss_family == AF_INET)
		((struct sockaddr_in *)&b)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&b)->sin6_port = 0;
	if (bind(fd, (struct sockaddr *)&b, local_len) != 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* Connect x->fd to the peer, so that every send goes without an address and takes the route the socket cached
 * (no routing lookup per packet: +11% in the pinned 50-transfer bench, docs/performance.md step 6). A connected
 * UDP socket no longer sees packets from other ports, which RFC 1350 wants answered with ERROR 5 while the
 * transfer goes on; so first a second, unconnected socket (the catcher, x->fd2) joins fd's port with SO_REUSEPORT
 * (same user only), and the kernel hands it what the connected one does not match. Either socket may still get
 * either kind of packet (on_sess_event checks the source), so this is a speed-up and never a change of meaning.
 * If any step fails, the transfer goes on unconnected, as it did before. */
static void tid_connect(struct tftp_loop *s, struct sess *x)
{
	struct sockaddr_storage b; /* fd's own address and port, where the catcher binds */
	socklen_t bl = sizeof b;
	int one = 1;
	if (getsockname(x->fd, (struct sockaddr *)&b, &bl) != 0 ||
	    setsockopt(x->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
		return;
	int c = socket(b.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c < 0)
		return;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = (void *)((uintptr_t)x | CATCHER_BIT)};
	if (setsockopt(c, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
	    bind(c, (struct sockaddr *)&b, bl) != 0 || epoll_ctl(s->io.epfd, EPOLL_CTL_ADD, c, &ev) != 0) {
		close(c);
		return;
	}
	if (connect(x->fd, (struct sockaddr *)&x->peer, x->peer_len) != 0) {
		epoll_ctl(s->io.epfd, EPOLL_CTL_DEL, c, NULL);
		close(c);
		return;
	}
	x->fd2 = c;
	x->connected = 1;
}

/* ---- session lifecycle ---- */

/* Take an ended session (sess_finish done) out of the loop: deadline, index, caps, epoll, its socket. */
static void unlink_sess(struct tftp_loop *s, struct sess *x)
{
	metrics_tftp_active(-1);
	heap_remove(s, x);
	stab_del(s, x);
	unreserve(s->srv, x->client);
	epoll_ctl(s->io.epfd, EPOLL_CTL_DEL, x->fd, NULL);
	close(x->fd);
	if (x->fd2 >= 0) {
		epoll_ctl(s->io.epfd, EPOLL_CTL_DEL, x->fd2, NULL);
		close(x->fd2);
	}
	/* freed after the current batch of epoll events, which may still name it */
	x->dead = 1;
	x->hnext = s->graveyard;
	s->graveyard = x;
}

/* End a session for a reason of the loop's own (superseded, server stopping). */
static void end_sess(struct tftp_loop *s, struct sess *x, enum tftp_outcome o, const char *why)
{
	sess_finish(x, o, why);
	unlink_sess(s, x);
}

/* Do what the session code asked for after an event at `now`. */
static void follow(struct tftp_loop *s, struct sess *x, enum sess_next next, uint64_t now)
{
	if (next == SESS_DONE)
		unlink_sess(s, x);
	else if (next == SESS_REARM)
		set_deadline(s, x, now + x->timeout_ms);
}

static void bury(struct tftp_loop *s)
{
	while (s->graveyard) {
		struct sess *x = s->graveyard;
		s->graveyard = x->hnext;
		free(x);
	}
}

/* A packet for session x on fd: x->fd, or (catcher) x->fd2, which only other TIDs should reach. */
static void on_sess_event(struct tftp_loop *s, struct sess *x, int fd, uint32_t events, uint64_t now)
{
	if (x->dead)
		return;
	if (fd == x->fd && (events & EPOLLOUT) && sess_writable(&s->io, x) == SESS_DONE) {
		unlink_sess(s, x);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLERR)))
		return;
	ssize_t n;
	if (fd == x->fd && x->connected) { /* the kernel lets only the peer's packets through: no address to copy */
		n = recv(fd, s->rx, RX_BYTES, MSG_DONTWAIT);
		if (n >= 0)
			follow(s, x, sess_packet(&s->io, x, s->rx, (size_t)n), now);
		return; /* n < 0: EAGAIN, or an ICMP error queued on the socket: the timer decides */
	}
	struct sockaddr_storage from = {0};
	struct iovec iov = {s->rx, RX_BYTES};
	struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
	n = recvmsg(fd, &mh, MSG_DONTWAIT);
	if (n < 0)
		return;
	socklen_t fl = mh.msg_namelen;
	unmap_v4(&from, &fl);
	if (!addr_same(&from, &x->peer)) {
		char t[INET6_ADDRSTRLEN + 8];
		addr_text(&from, t, sizeof t);
		log_debug("tftp: %s: packet from wrong TID %s", x->peer_txt, t);
		if (addr_port(&from) != 0)
			tftp_send_error(fd, &from, fl, TFTP_EBADID, "Unknown transfer ID");
		return;
	}
	follow(s, x, sess_packet(&s->io, x, s->rx, (size_t)n), now);
}

/* ---- requests on the listening socket ---- */

struct req_ctx {
	struct sockaddr_storage peer, local;
	socklen_t peer_len, local_len;
	int ifindex;
	char peer_txt[INET6_ADDRSTRLEN + 8];
};

static void refuse(struct req_ctx *r, const char *name, size_t name_len, enum tftp_err code, const char *msg,
                   enum tftp_outcome o, const char *reason)
{
	char nm[TFTP_NAME_LOG];
	sanitize(name ? name : "", name ? name_len : 0, nm, sizeof nm);
	log_warn("tftp: %s refused file=\"%s\" reason=\"%s\" outcome=%s", r->peer_txt, nm, reason,
	         tftp_outcome_name(o));
	metrics_tftp_done(o, 0, 0, 0, 0);
	if (r->local.ss_family == 0)
		return;
	int fd = tid_socket(&r->local, r->local_len);
	if (fd < 0)
		return;
	tftp_send_error(fd, &r->peer, r->peer_len, code, msg);
	close(fd);
}

/* Largest block that fits the MTU of the interface the request came in on; 0 if unknown. */
static unsigned mtu_blksize(struct tftp_loop *s, int ifindex, int family)
{
	char name[IF_NAMESIZE];
	if (ifindex <= 0 || !if_indextoname((unsigned)ifindex, name))
		return 0;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, name, sizeof ifr.ifr_name < sizeof name ? sizeof ifr.ifr_name : sizeof name);
	if (ioctl(s->lfd, SIOCGIFMTU, &ifr) != 0 || ifr.ifr_mtu <= 0)
		return 0;
	int hdr = (family == AF_INET6 ? 40 : 20) + 8 + (int)TFTP_HDR;
	int v = ifr.ifr_mtu - hdr;
	return v < (int)TFTP_MIN_BLKSIZE ? TFTP_MIN_BLKSIZE : (unsigned)v;
}

static void start_request(struct tftp_loop *s, struct req_ctx *r, const uint8_t *pkt, size_t len, uint64_t now)
{
	struct tftp_request rq;
	int rc = tftp_parse_request(pkt, len, &rq);
	if (rc == -EPROTONOSUPPORT) {
		refuse(r, rq.file, rq.file_len, TFTP_EBADOP, "unsupported transfer mode", TFTP_OUT_BAD_REQUEST,
		       "mode");
		return;
	}
	if (rc) {
		if (len >= 2 && pkt[0] == 0 && pkt[1] == TFTP_ERROR)
			return; /* never answer an ERROR */
		refuse(r, NULL, 0, TFTP_EBADOP, "illegal TFTP operation", TFTP_OUT_BAD_REQUEST, "malformed request");
		return;
	}
	if (rq.op == TFTP_WRQ) {
		refuse(r, rq.file, rq.file_len, TFTP_EACCESS, "write requests are not allowed", TFTP_OUT_DENIED,
		       "write request");
		return;
	}
	struct addr_key key;
	addr_key_of(&r->peer, &key);
	uint32_t req_hash = hash_bytes(pkt, len);
	struct sess *old = stab_find(s, &key);
	if (old) {
		if (old->req_hash == req_hash)
			return; /* the client repeated its RRQ: our session answers it */
		/* A new request from the same port: the client gave up on the old transfer (PXE ROMs ask for
		 * tsize, abort with ERROR 8 and ask again from the same port; the ERROR may still be queued). */
		end_sess(s, old, TFTP_OUT_ABORTED, "reason=\"superseded by a new request\"");
	}

	struct snapshot *snap = snapshot_current();
	if (!snap) {
		refuse(r, rq.file, rq.file_len, TFTP_EUNDEF, "server starting, retry", TFTP_OUT_BUSY, "no snapshot");
		return;
	}
	const struct config *cfg = snap->cfg;
	const char *busy = NULL;
	struct client_ent *ce = reserve(s->srv, key.ip, cfg->tftp_max_sessions, cfg->tftp_max_per_client, &busy);
	if (!ce) {
		snapshot_unref(snap);
		refuse(r, rq.file, rq.file_len, TFTP_EUNDEF, "server busy, retry", TFTP_OUT_BUSY, busy);
		return;
	}

	struct sess *x = calloc(1, sizeof *x);
	if (!x) {
		unreserve(s->srv, ce);
		snapshot_unref(snap);
		refuse(r, rq.file, rq.file_len, TFTP_EUNDEF, "server busy, retry", TFTP_OUT_BUSY, "out of memory");
		return;
	}
	x->client = ce;
	x->fd = -1;
	x->fd2 = -1;
	x->file_fd = -1;
	char local_ip[INET6_ADDRSTRLEN], peer_ip[INET6_ADDRSTRLEN];
	addr_ip_text(&r->local, local_ip, sizeof local_ip);
	addr_ip_text(&r->peer, peer_ip, sizeof peer_ip);
	struct sess_refusal why;
	if (sess_open(&s->io, x, snap, &rq, local_ip, r->local.ss_family == AF_INET6, peer_ip,
	              mtu_blksize(s, r->ifindex, r->local.ss_family), &why) != 0) {
		refuse(r, rq.file, rq.file_len, why.code, why.msg, why.outcome, why.reason);
		goto drop;
	}
	snapshot_unref(snap);
	snap = NULL;

	x->fd = tid_socket(&r->local, r->local_len);
	if (x->fd < 0) {
		refuse(r, rq.file, rq.file_len, TFTP_EUNDEF, "server busy, retry", TFTP_OUT_BUSY, strerror(-x->fd));
		goto drop;
	}
	x->peer = r->peer;
	x->peer_len = r->peer_len;
	x->key = key;
	x->req_hash = req_hash;
	memcpy(x->peer_txt, r->peer_txt, sizeof x->peer_txt);
	x->start_ms = now;
	x->deadline = now + x->timeout_ms;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = x};
	if (heap_push(s, x) != 0) {
		refuse(r, rq.file, rq.file_len, TFTP_EUNDEF, "server busy, retry", TFTP_OUT_BUSY, "out of memory");
		goto drop;
	}
	if (epoll_ctl(s->io.epfd, EPOLL_CTL_ADD, x->fd, &ev) != 0) {
		heap_remove(s, x);
		refuse(r, rq.file, rq.file_len, TFTP_EUNDEF, "server busy, retry", TFTP_OUT_BUSY, "epoll");
		goto drop;
	}
	tid_connect(s, x);
	struct sess **slot = stab_slot(s, &key);
	x->hnext = *slot;
	*slot = x;
	metrics_tftp_active(1);
	follow(s, x, sess_begin(&s->io, x), now);
	return;
drop:
	unreserve(s->srv, x->client);
	if (snap)
		snapshot_unref(snap);
	if (x->fd >= 0)
		close(x->fd);
	source_close(x);
	free(x);
}

static void on_listen(struct tftp_loop *s, uint64_t now)
{
	for (int i = 0; i < LISTEN_BURST; i++) {
		struct req_ctx r;
		memset(&r, 0, sizeof r);
		union {
			char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
			struct cmsghdr align;
		} cm;
		struct iovec iov = {s->rx, RX_BYTES};
		struct msghdr mh = {.msg_name = &r.peer,
		                    .msg_namelen = sizeof r.peer,
		                    .msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = cm.buf,
		                    .msg_controllen = sizeof cm.buf};
		ssize_t n = recvmsg(s->lfd, &mh, MSG_DONTWAIT);
		if (n < 0)
			return;
		r.peer_len = mh.msg_namelen;
		unmap_v4(&r.peer, &r.peer_len);
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;
				memcpy(&pi, CMSG_DATA(c), sizeof pi);
				struct sockaddr_in *a = (struct sockaddr_in *)&r.local;
				memset(&r.local, 0, sizeof r.local);
				a->sin_family = AF_INET;
				/* the local address (ipi_spec_dst); the header's destination may be a broadcast */
				a->sin_addr = pi.ipi_spec_dst.s_addr ? pi.ipi_spec_dst : pi.ipi_addr;
				r.local_len = sizeof *a;
				r.ifindex = pi.ipi_ifindex;
			} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
				struct in6_pktinfo pi;
				memcpy(&pi, CMSG_DATA(c), sizeof pi);
				struct sockaddr_in6 *a = (struct sockaddr_in6 *)&r.local;
				memset(&r.local, 0, sizeof r.local);
				a->sin6_family = AF_INET6;
				a->sin6_addr = pi.ipi6_addr;
				if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
					a->sin6_scope_id = pi.ipi6_ifindex;
				r.local_len = sizeof *a;
				r.ifindex = (int)pi.ipi6_ifindex;
				unmap_v4(&r.local, &r.local_len);
			}
		}
		if (addr_port(&r.peer) == 0 || r.local.ss_family == 0 || r.local.ss_family != r.peer.ss_family)
			continue; /* cannot be answered */
		addr_text(&r.peer, r.peer_txt, sizeof r.peer_txt);
		start_request(s, &r, s->rx, (size_t)n, now);
	}
}

/* ---- the loop ---- */

/* Adaptive busy-poll (TFTPBusyPoll, docs/performance.md): with a few transfers whose round trip is shorter than
 * waking a sleeping thread would make it, poll for their next ACK instead of sleeping. The ACK then finds the loop
 * running: no wake-up of this thread (on a VM, an inter-processor interrupt and a halt exit) in the round trip.
 * With up to TFTP_SPIN_SESSIONS transfers the poll follows the fastest one's measured RTT, with more the loop's own
 * measured wait for its next packet, so clients answering in a millisecond are never polled for. Every poll yields
 * the CPU, and gives up (the loop sleeps) when a yield let another task run for long: on a machine whose clients
 * share our cores, polling would only take the CPU from them. */
static unsigned spin_budget(const struct tftp_loop *s)
{
	if (s->heap_n == 0 || s->idx >= atomic_load_explicit(&s->srv->active, memory_order_relaxed))
		return 0; /* a loop beyond the usable CPUs would only poll against the one it shares a CPU with */
	if (atomic_load_explicit(&s->srv->quota_binds, memory_order_relaxed))
		return 0; /* under a CPU quota a poll spends what the transfers need, then the kernel stops us all */
	if (s->heap_n > TFTP_SPIN_SESSIONS)
		return tftp_gap_spin_us(&s->gap, s->heap[0]->busy_poll_us);
	unsigned best = 0;
	for (size_t i = 0; i < s->heap_n; i++) {
		const struct sess *x = s->heap[i];
		if (x->want_out) /* waiting for room in the socket buffer, not for the peer */
			continue;
		unsigned us = tftp_spin_us(&x->rtt, (unsigned)s->heap_n, x->busy_poll_us);
		if (us > best)
			best = us;
	}
	return best;
}

/* Poll for up to us microseconds from t0; the events taken (0: none came, or another task wanted the CPU). */
static int spin_wait(struct tftp_loop *s, struct epoll_event *evs, int max, unsigned us, uint64_t t0)
{
	for (;;) {
		int n = epoll_wait(s->io.epfd, evs, max, 0);
		uint64_t t = now_us();
		if (n != 0 || t - t0 >= us) {
			metrics_tftp_spin(n > 0);
			return n;
		}
		sched_yield();
		if (now_us() - t > TFTP_SPIN_YIELD_US) { /* somebody ran: they need this CPU more than we do */
			metrics_tftp_spin(0);
			return 0;
		}
	}
}

/* How often a loop re-reads the CPU budget (sched_getaffinity and the cgroup's quota files) while it has work. */
#define CPU_CHECK_MS 200

/* Send new requests to the first n loops (n == n_loops: the kernel's own hash again). 0 or -errno. */
static int steer(struct tftp_server *srv, unsigned n)
{
	int fd = srv->loops[0].lfd;
	if (n >= srv->n_loops) {
		int zero = 0;
		if (setsockopt(fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &zero, sizeof zero) == 0 || errno == ENOENT)
			return 0;
		n = srv->n_loops; /* a kernel without the detach: a program over all loops does as well */
	}
	struct sock_filter insns[TFTP_STEER_MAX_INSNS];
	struct sock_fprog prog = {.len = (unsigned short)tftp_steer_program(n, insns), .filter = insns};
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) == 0 ? 0 : -errno;
}

/* "2 CPUs in the affinity mask, no CPU quota" */
static void budget_txt(const struct cpu_budget *b, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%u CPU%s in the affinity mask, ", b->affinity, b->affinity == 1 ? "" : "s");
	if (n < 0 || (size_t)n >= outlen)
		return;
	if (b->quota_milli)
		snprintf(out + n, outlen - (size_t)n, "cgroup CPU quota %u.%02u", b->quota_milli / 1000u,
		         (b->quota_milli % 1000u) / 10u);
	else
		snprintf(out + n, outlen - (size_t)n, "no CPU quota");
}

/* Match the loops at work to budget b (steer_mu held). With TFTPThreads auto, active loops = usable CPUs: more
 * would take turns on one CPU, each one's busy-poll yielding to the other, and every client of a sleeping loop
 * would pay for waking it. Whatever the thread count, a binding quota turns busy-poll off. */
static void apply_budget(struct tftp_server *srv, const struct cpu_budget *b)
{
	char why[96];
	budget_txt(b, why, sizeof why);
	int binds = cpu_quota_binds(b);
	if (binds != atomic_load(&srv->quota_binds) || (binds && b->quota_milli != srv->quota_milli)) {
		atomic_store(&srv->quota_binds, binds);
		if (binds)
			log_info("tftp: busy-poll off under the CPU quota (%s)", why);
		else
			log_info("tftp: no CPU quota binds: busy-poll as configured (%s)", why);
	}
	srv->quota_milli = b->quota_milli;
	if (!atomic_load(&srv->auto_loops))
		return;
	unsigned want = b->usable < srv->n_loops ? b->usable : srv->n_loops;
	if (want == atomic_load(&srv->active))
		return;
	int rc = steer(srv, want);
	if (rc == 0) {
		atomic_store(&srv->active, want);
		metrics_tftp_loops(want);
		log_info("tftp: %u usable CPU%s: new requests go to %u of %u loops (%s)", b->usable,
		         b->usable == 1 ? "" : "s", want, srv->n_loops, why);
	} else {
		atomic_store(&srv->auto_loops, 0); /* no steering on this kernel: keep every loop at work */
		if (atomic_load(&srv->active) != srv->n_loops) {
			atomic_store(&srv->active, srv->n_loops);
			metrics_tftp_loops(srv->n_loops);
		}
		log_warn("tftp: cannot steer requests to %u of %u loops (%s); all loops stay at work", want, srv->n_loops,
		         strerror(-rc));
	}
}

/* Re-read the CPU budget (taskset -p, a cgroup cpuset or quota changed under a container), at most every
 * CPU_CHECK_MS; one loop at a time does it. */
static void follow_cpus(struct tftp_loop *s, uint64_t now)
{
	struct tftp_server *srv = s->srv;
	uint64_t due = atomic_load_explicit(&srv->cpu_check_ms, memory_order_relaxed);
	if (now < due || !atomic_compare_exchange_strong(&srv->cpu_check_ms, &due, now + CPU_CHECK_MS))
		return;
	struct cpu_budget b;
	cpu_budget_read(&b);
	pthread_mutex_lock(&srv->steer_mu);
	apply_budget(srv, &b);
	pthread_mutex_unlock(&srv->steer_mu);
}

static void *loop(void *arg)
{
	struct tftp_loop *s = arg;
	struct epoll_event evs[256];
	for (;;) {
		int timeout = -1;
		if (s->heap_n) {
			uint64_t now = now_ms(), d = s->heap[0]->deadline;
			timeout = d <= now ? 0 : (d - now > 60000 ? 60000 : (int)(d - now));
		}
		unsigned spin = timeout != 0 ? spin_budget(s) : 0;
		uint64_t t_wait = s->heap_n ? now_us() : 0;
		int n = spin ? spin_wait(s, evs, (int)ARRAY_SIZE(evs), spin, t_wait) : 0;
		if (n == 0)
			n = epoll_wait(s->io.epfd, evs, (int)ARRAY_SIZE(evs), timeout);
		if (n > 0 && t_wait)
			tftp_gap_sample(&s->gap, now_us() - t_wait);
		if (n < 0 && errno != EINTR) {
			log_error("tftp: epoll_wait: %s", strerror(errno));
			break;
		}
		uint64_t now = now_ms();
		follow_cpus(s, now);
		int stop = 0;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &tag_stop)
				stop = 1;
			else if (p == &tag_listen)
				on_listen(s, now);
			else if ((uintptr_t)p & CATCHER_BIT) {
				struct sess *x = (struct sess *)((uintptr_t)p & ~(uintptr_t)CATCHER_BIT);
				on_sess_event(s, x, x->fd2, evs[i].events, now);
			} else
				on_sess_event(s, p, ((struct sess *)p)->fd, evs[i].events, now);
		}
		if (stop)
			break;
		while (s->heap_n && s->heap[0]->deadline <= now) {
			struct sess *x = s->heap[0];
			follow(s, x, sess_timeout(&s->io, x), now);
		}
		bury(s);
	}
	while (s->heap_n)
		end_sess(s, s->heap[0], TFTP_OUT_ABORTED, "reason=\"server stopping\"");
	bury(s);
	return NULL;
}

/* ---- public API ---- */

/* Bind a listening socket for l; with reuse, SO_REUSEPORT so that every loop can bind one to the same port. */
static int open_listener(const struct listen_spec *l, int reuse, int *out_fd, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof ss);
	int family;
	int any = l->host[0] == '\0', dual = 0;
	if (any || strchr(l->host, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(l->port);
		if (!any && inet_pton(AF_INET6, l->host, &a->sin6_addr) != 1) {
			snprintf(err, errlen, "TFTP listen address '%s' is not a numeric IPv6 address", l->host);
			return -EINVAL;
		}
		dual = IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr); /* "" and "::" take IPv4 too */
		sl = sizeof *a;
		family = AF_INET6;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(l->port);
		if (inet_pton(AF_INET, l->host, &a->sin_addr) != 1) {
			snprintf(err, errlen, "TFTP listen address '%s' is not a numeric IPv4 address", l->host);
			return -EINVAL;
		}
		sl = sizeof *a;
		family = AF_INET;
	}
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && any && errno == EAFNOSUPPORT) { /* no IPv6 in this kernel: plain 0.0.0.0 */
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		memset(&ss, 0, sizeof ss);
		a->sin_family = AF_INET;
		a->sin_port = htons(l->port);
		sl = sizeof *a;
		family = AF_INET;
		fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "TFTP socket: %s", strerror(e));
		return -e;
	}
	int one = 1, zero = 0, rcv = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
		int e = errno;
		snprintf(err, errlen, "TFTP SO_REUSEPORT: %s", strerror(e));
		close(fd);
		return -e;
	}
	if (family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one, sizeof one);
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
	}
	/* on a dual-stack socket IPv4 requests come with IP_PKTINFO */
	if (family == AF_INET || dual)
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
		int e = errno;
		char t[96];
		listen_format(l, t, sizeof t);
		snprintf(err, errlen, "TFTP bind %s: %s", t, strerror(e));
		close(fd);
		return -e;
	}
	*out_fd = fd;
	return 0;
}

/* Each transfer holds a socket and usually a file: make room for TFTPMaxSessions of them. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rlim_t want = 65536;
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void loop_free(struct tftp_loop *s)
{
	while (s->heap_n) /* never started, or stopped: nothing left, but be safe */
		end_sess(s, s->heap[0], TFTP_OUT_ABORTED, "reason=\"server freed\"");
	bury(s);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->io.epfd >= 0)
		close(s->io.epfd);
	free(s->heap);
	free(s->rx);
	free(s->io.tx);
	free(s->io.na);
}

static int loop_init(struct tftp_server *srv, struct tftp_loop *s, const struct listen_spec *l, int reuse, char *err,
                     size_t errlen)
{
	s->srv = srv;
	s->io.epfd = epoll_create1(EPOLL_CLOEXEC);
	s->rx = malloc(RX_BYTES);
	s->io.tx = malloc(TFTP_TX_BYTES);
	s->io.na = malloc(TFTP_MAX_BLKSIZE);
	if (s->io.epfd < 0 || !s->rx || !s->io.tx || !s->io.na) {
		snprintf(err, errlen, "TFTP set-up: %s", strerror(errno));
		return -ENOMEM;
	}
	int rc = open_listener(l, reuse, &s->lfd, err, errlen);
	if (rc)
		return rc;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tag_listen};
	struct epoll_event es = {.events = EPOLLIN, .data.ptr = &tag_stop};
	if (epoll_ctl(s->io.epfd, EPOLL_CTL_ADD, s->lfd, &ev) != 0 ||
	    epoll_ctl(s->io.epfd, EPOLL_CTL_ADD, srv->efd, &es) != 0) {
		rc = -errno;
		snprintf(err, errlen, "TFTP epoll: %s", strerror(errno));
		return rc;
	}
	return 0;
}

int tftp_server_open(const struct listen_spec *l, unsigned threads, struct tftp_server **out, char *err,
                     size_t errlen)
{
	*out = NULL;
	int auto_loops = threads == 0;
	if (auto_loops)
		threads = online_cpus(); /* steered down to the usable ones below, so that they can grow back */
	if (threads > TFTP_MAX_LOOPS)
		threads = TFTP_MAX_LOOPS;
	struct tftp_server *s = calloc(1, sizeof *s);
	if (!s || !(s->loops = calloc(threads, sizeof *s->loops))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->efd = -1;
	atomic_init(&s->auto_loops, auto_loops && threads > 1);
	atomic_init(&s->active, threads);
	atomic_init(&s->cpu_check_ms, 0);
	atomic_init(&s->quota_binds, 0);
	pthread_mutex_init(&s->cmu, NULL);
	pthread_mutex_init(&s->steer_mu, NULL);
	metrics_tftp_loops(threads);
	for (unsigned i = 0; i < threads; i++) {
		s->loops[i].lfd = s->loops[i].io.epfd = -1;
		s->loops[i].idx = i;
	}
	int rc = 0;
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0) {
		rc = -errno;
		snprintf(err, errlen, "TFTP eventfd: %s", strerror(errno));
		goto fail;
	}
	struct listen_spec ls = *l;
	if (threads > 1 && ls.port != 0) {
		/* Sockets with SO_REUSEPORT may share a port with another process of the same user (a second autopxe
		 * left running): bind once without it first, so a port in use is still an error. */
		int probe;
		rc = open_listener(&ls, 0, &probe, err, errlen);
		if (rc)
			goto fail;
		close(probe);
	}
	for (unsigned i = 0; i < threads; i++) {
		rc = loop_init(s, &s->loops[i], &ls, threads > 1, err, errlen);
		if (rc)
			goto fail;
		s->n_loops = i + 1;
		if (i == 0) { /* with port 0 the kernel picked one: the other loops join it */
			struct sockaddr_storage ss;
			socklen_t sl = sizeof ss;
			if (getsockname(s->loops[0].lfd, (struct sockaddr *)&ss, &sl) == 0)
				s->port = addr_port(&ss);
			ls.port = (uint16_t)s->port;
		}
	}
	struct cpu_budget b;
	cpu_budget_read(&b);
	pthread_mutex_lock(&s->steer_mu);
	apply_budget(s, &b);
	pthread_mutex_unlock(&s->steer_mu);
	raise_nofile();
	*out = s;
	return 0;
fail:
	s->n_loops = threads;
	tftp_server_free(s);
	return rc;
}

int tftp_server_start(struct tftp_server *s)
{
	if (!s || s->started)
		return -EINVAL;
	for (unsigned i = 0; i < s->n_loops; i++) {
		int rc = pthread_create(&s->loops[i].thr, NULL, loop, &s->loops[i]);
		if (rc) {
			tftp_server_stop(s);
			return -rc;
		}
		s->loops[i].started = 1;
		s->started = 1;
	}
	return 0;
}

void tftp_server_stop(struct tftp_server *s)
{
	if (!s || !s->started || s->stopped)
		return;
	uint64_t one = 1;
	ssize_t w = write(s->efd, &one, sizeof one);
	(void)w;
	for (unsigned i = 0; i < s->n_loops; i++)
		if (s->loops[i].started)
			pthread_join(s->loops[i].thr, NULL);
	s->stopped = 1;
}

void tftp_server_free(struct tftp_server *s)
{
	if (!s)
		return;
	tftp_server_stop(s);
	for (unsigned i = 0; i < s->n_loops; i++)
		loop_free(&s->loops[i]);
	for (size_t i = 0; i < C_BUCKETS; i++) {
		while (s->ctab[i]) {
			struct client_ent *e = s->ctab[i];
			s->ctab[i] = e->next;
			free(e);
		}
	}
	if (s->efd >= 0)
		close(s->efd);
	pthread_mutex_destroy(&s->cmu);
	pthread_mutex_destroy(&s->steer_mu);
	free(s->loops);
	free(s);
}

unsigned tftp_server_sessions(const struct tftp_server *s)
{
	return s ? atomic_load(&((struct tftp_server *)s)->n_sessions) : 0;
}

unsigned tftp_server_port(const struct tftp_server *s) { return s ? s->port : 0; }
