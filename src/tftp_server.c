/* tftp_server.c - the TFTP front end: epoll loops in their own threads, a deadline heap, one socket per transfer. */
#include "tftp_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
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

#include "autoexec.h"
#include "log.h"
#include "mac.h"
#include "metrics.h"
#include "render.h"
#include "snapshot.h"
#include "store.h"
#include "tftp_proto.h"
#include "util.h"
#include "vfs.h"

#define BATCH 64                   /* DATA packets per sendmmsg */
#define TX_BYTES (4u << 20)         /* shared scratch for one batch of blocks */
#define RX_BYTES (TFTP_MAX_PACKET + 64)
/* Lock-step (windowsize 1) file transfers read ahead this much per pread instead of one block per ACK: a syscall
 * fewer per round trip, where the round trip is all there is. Allocated on the first block, per session. */
#define RA_BYTES (16u << 10)
#define LISTEN_BURST 64            /* requests taken per wake-up of the listening socket */
#define TIMEOUT_CAP_MS 60000u
#define RTO_MIN_MS 10u /* floor of the adaptive retransmission timeout */
#define NAME_LOG 256
#define C_BUCKETS 4096u            /* per-client-IP counters */
#define S_BUCKETS 8192u            /* sessions by client address+port (duplicate RRQs), per loop */
#define TFTP_MAX_LOOPS 64u

/* A client address reduced to 16 bytes (IPv4 as ::ffff:a.b.c.d) + port. */
struct addr_key {
	uint8_t ip[16];
	uint16_t port;
};

struct client_ent {
	uint8_t ip[16];
	unsigned count;
	struct client_ent *next;
};

struct sess {
	int fd;       /* our TID socket */
	int file_fd;  /* source file, -1 for a menu */
	char *mem;    /* rendered menu (owned), NULL for a file */
	size_t mem_len;
	struct stat st0; /* the file as opened: a change before the end fails the transfer */
	uint8_t *ra;     /* read-ahead (lock-step file transfers): ra_len bytes of the file from ra_off */
	uint64_t ra_off;
	size_t ra_len;
	int netascii;
	uint64_t src_size;  /* source bytes (before netascii) */
	uint64_t size;      /* bytes on the wire (tsize) */
	/* netascii encoder state at `base` and at `next_tx` */
	uint64_t na_base_off, na_tx_off;
	int na_base_pend, na_tx_pend;

	struct sockaddr_storage peer;
	socklen_t peer_len;
	struct addr_key key;
	char peer_txt[INET6_ADDRSTRLEN + 8];

	struct tftp_params p;
	uint64_t last_blk; /* absolute number of the final (short) block */
	uint64_t base;     /* first block not yet acknowledged */
	uint64_t win_end;  /* last block of the current window (0 while the OACK waits for ACK 0) */
	uint64_t next_tx;  /* next block to transmit in this window */
	uint64_t acked;    /* highest block acknowledged */
	int oack_phase;
	int want_out; /* EPOLLOUT armed: the socket buffer was full */

	uint64_t start_ms, deadline;
	/* timeout_ms: the wait now running; timeout_init_ms: TFTPTimeout, the first wait and the adaptive ceiling;
	 * retries: waits of at least TFTPTimeout that expired in a row (the shorter adaptive ones are free) */
	unsigned timeout_ms, timeout_init_ms, retries, max_retries, retransmits;
	struct tftp_rtt rtt;
	uint64_t sent_us; /* when the current window (or OACK) went out */
	int fresh;        /* ... for the first time: an ACK completing it is an RTT sample (Karn) */
	size_t heap_idx;

	int is_menu;
	uint8_t mac[6];
	char name[NAME_LOG];
	struct client_ent *client;
	struct sess *hnext;
	uint32_t req_hash; /* of the RRQ packet: an identical one is a retransmission */
	int dead;          /* ended; waiting in the graveyard */
};

/* One event loop: its own listening socket (SO_REUSEPORT: the kernel hashes each client address+port to one
 * loop, so a repeated RRQ finds its session), its own sessions, deadline heap and scratch buffers. */
struct tftp_loop {
	struct tftp_server *srv;
	int lfd, epfd;
	pthread_t thr;
	int started;
	struct sess **heap;
	size_t heap_n, heap_cap;
	struct sess *stab[S_BUCKETS];
	struct sess *graveyard; /* ended sessions, freed after each batch of events */
	uint8_t *rx, *tx, *na;
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH][2];
	uint8_t hdr[BATCH][TFTP_HDR];
};

struct tftp_server {
	int efd; /* stop: written once, never read, so every loop sees it */
	unsigned port;
	unsigned n_loops;
	struct tftp_loop *loops;
	int started, stopped;
	atomic_uint n_sessions; /* all loops, including requests being set up */

	pthread_mutex_t cmu; /* guards ctab: touched once at the start and once at the end of a session */
	struct client_ent *ctab[C_BUCKETS];
};

static char tag_listen, tag_stop; /* epoll data.ptr markers */

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

static uint32_t hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

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

static void send_error_fd(int fd, const struct sockaddr_storage *to, socklen_t tolen, enum tftp_err code,
                          const char *msg)
{
	uint8_t buf[160];
	size_t n = tftp_build_error(code, msg, buf, sizeof buf);
	if (n && sendto(fd, buf, n, MSG_DONTWAIT, (const struct sockaddr *)to, tolen) < 0)
		log_debug("tftp: sending ERROR %d: %s", code, strerror(errno));
}

static ssize_t src_read(struct sess *x, uint64_t off, void *buf, size_t len)
{
	if (x->mem) {
		if (off >= x->mem_len)
			return 0;
		size_t n = x->mem_len - off < len ? (size_t)(x->mem_len - off) : len;
		memcpy(buf, x->mem + off, n);
		return (ssize_t)n;
	}
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(x->file_fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Bytes in absolute block b. */
static size_t block_len(const struct sess *x, uint64_t b)
{
	uint64_t off = (b - 1) * x->p.blksize;
	uint64_t left = x->size > off ? x->size - off : 0;
	return left < x->p.blksize ? (size_t)left : x->p.blksize;
}

/* Produce one netascii block from the state (*off, *pend) into out. Returns its length or -errno. */
static ssize_t na_block(struct tftp_loop *s, struct sess *x, uint64_t *off, int *pend, uint8_t *out)
{
	size_t o = 0;
	for (;;) {
		if (*pend >= 0 && o < x->p.blksize) {
			out[o++] = (uint8_t)*pend;
			*pend = -1;
		}
		if (o == x->p.blksize)
			break;
		ssize_t r = src_read(x, *off, s->na, x->p.blksize - o);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		size_t used;
		o += tftp_netascii_encode(s->na, (size_t)r, &used, out + o, x->p.blksize - o, pend);
		*off += used;
	}
	return (ssize_t)o;
}

/* Has the file changed since it was opened (in-place rewrite or truncation)? */
static int file_changed(const struct sess *x)
{
	struct stat st;
	if (x->file_fd < 0)
		return 0;
	if (fstat(x->file_fd, &st) != 0)
		return 1;
	return st.st_size != x->st0.st_size || st.st_mtim.tv_sec != x->st0.st_mtim.tv_sec ||
	       st.st_mtim.tv_nsec != x->st0.st_mtim.tv_nsec;
}

/* Prepare n blocks from x->next_tx in s->mm/iov. 0 or -EIO (the source changed or failed). */
static int fill_batch(struct tftp_loop *s, struct sess *x, unsigned n)
{
	uint64_t b0 = x->next_tx;
	if (b0 + n - 1 >= x->last_blk && file_changed(x))
		return -EIO;
	if (x->netascii) {
		for (unsigned i = 0; i < n; i++) {
			uint8_t *slot = s->tx + (size_t)i * x->p.blksize;
			ssize_t r = na_block(s, x, &x->na_tx_off, &x->na_tx_pend, slot);
			if (r < 0 || (size_t)r != block_len(x, b0 + i))
				return -EIO;
			s->iov[i][1] = (struct iovec){slot, (size_t)r};
		}
	} else {
		uint64_t off = (b0 - 1) * x->p.blksize;
		size_t total = 0;
		for (unsigned i = 0; i < n; i++)
			total += block_len(x, b0 + i);
		const uint8_t *base;
		if (x->mem) {
			base = (const uint8_t *)x->mem + off;
		} else if (x->p.windowsize == 1 && total <= RA_BYTES && (x->ra || (x->ra = malloc(RA_BYTES)))) {
			if (off < x->ra_off || off + total > x->ra_off + x->ra_len) {
				ssize_t r = src_read(x, off, x->ra, RA_BYTES);
				if (r < 0 || (size_t)r < total)
					return -EIO;
				x->ra_off = off;
				x->ra_len = (size_t)r;
			}
			base = x->ra + (off - x->ra_off);
		} else {
			ssize_t r = total ? src_read(x, off, s->tx, total) : 0;
			if (r < 0 || (size_t)r != total)
				return -EIO; /* shrank under us */
			base = s->tx;
		}
		size_t at = 0;
		for (unsigned i = 0; i < n; i++) {
			size_t l = block_len(x, b0 + i);
			s->iov[i][1] = (struct iovec){(void *)(base + at), l};
			at += l;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		tftp_data_header(tftp_wire_block(b0 + i), s->hdr[i]);
		s->iov[i][0] = (struct iovec){s->hdr[i], TFTP_HDR};
		s->mm[i].msg_hdr = (struct msghdr){.msg_name = &x->peer,
		                                   .msg_namelen = x->peer_len,
		                                   .msg_iov = s->iov[i],
		                                   .msg_iovlen = 2};
		s->mm[i].msg_len = 0;
	}
	return 0;
}

static void arm_out(struct tftp_loop *s, struct sess *x, int on)
{
	if (x->want_out == on)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = x};
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, x->fd, &ev) == 0)
		x->want_out = on;
}

/* Transmit what is left of the current window (or the OACK). 0, or -EIO when the source failed. */
static int transmit(struct tftp_loop *s, struct sess *x)
{
	if (x->oack_phase) {
		uint8_t buf[128];
		size_t n = tftp_build_oack(&x->p, buf, sizeof buf);
		if (sendto(x->fd, buf, n, MSG_DONTWAIT, (struct sockaddr *)&x->peer, x->peer_len) < 0 &&
		    (errno == EAGAIN || errno == ENOBUFS))
			arm_out(s, x, 1);
		else
			arm_out(s, x, 0);
		return 0;
	}
	unsigned per = TX_BYTES / x->p.blksize;
	if (per > BATCH)
		per = BATCH;
	while (x->next_tx <= x->win_end) {
		uint64_t left = x->win_end - x->next_tx + 1;
		unsigned n = left < per ? (unsigned)left : per;
		/* netascii: keep the encoder state so a short send can rewind to the first unsent block */
		uint64_t na_off = x->na_tx_off;
		int na_pend = x->na_tx_pend;
		int rc = fill_batch(s, x, n);
		if (rc)
			return rc;
		int sent = sendmmsg(x->fd, s->mm, n, MSG_DONTWAIT);
		if (sent < 0)
			sent = 0;
		if ((unsigned)sent < n) {
			if (x->netascii) { /* re-derive the state after the blocks that did go out */
				x->na_tx_off = na_off;
				x->na_tx_pend = na_pend;
				for (int i = 0; i < sent; i++)
					if (na_block(s, x, &x->na_tx_off, &x->na_tx_pend, s->tx) < 0)
						return -EIO;
			}
			x->next_tx += (unsigned)sent;
			if (errno == EAGAIN || errno == ENOBUFS || sent > 0) {
				arm_out(s, x, 1);
				return 0;
			}
			/* another send error: let the retransmit timer deal with it */
			log_debug("tftp: %s send: %s", x->peer_txt, strerror(errno));
			arm_out(s, x, 0);
			return 0;
		}
		x->next_tx += n;
	}
	arm_out(s, x, 0);
	return 0;
}

/* Open a window at `base`. */
static void window_open(struct sess *x)
{
	x->next_tx = x->base;
	x->win_end = x->base + x->p.windowsize - 1;
	if (x->win_end > x->last_blk)
		x->win_end = x->last_blk;
	x->na_tx_off = x->na_base_off;
	x->na_tx_pend = x->na_base_pend;
}

/* ---- session lifecycle ---- */

/* Release what a session reads from: the file, the rendered menu, the read-ahead buffer. */
static void source_close(struct sess *x)
{
	if (x->file_fd >= 0)
		close(x->file_fd);
	x->file_fd = -1;
	free(x->mem);
	x->mem = NULL;
	free(x->ra);
	x->ra = NULL;
}

static void sess_end(struct tftp_loop *s, struct sess *x, enum tftp_outcome o, const char *why)
{
	uint64_t bytes = x->acked * (uint64_t)x->p.blksize;
	if (bytes > x->size)
		bytes = x->size;
	char mac[24] = "";
	if (x->is_menu) {
		char m[18];
		mac_colon(x->mac, m);
		snprintf(mac, sizeof mac, " mac=%s", m);
	}
	char rtt[24] = "-";
	if (x->rtt.valid)
		snprintf(rtt, sizeof rtt, "%llu", (unsigned long long)x->rtt.srtt_us);
	log_info("tftp: %s file=\"%s\"%s bytes=%llu blksize=%u windowsize=%u ms=%llu rtt_us=%s retransmits=%u "
	         "outcome=%s%s%s",
	         x->peer_txt, x->name, mac, (unsigned long long)bytes, x->p.blksize, x->p.windowsize,
	         (unsigned long long)(now_ms() - x->start_ms), rtt, x->retransmits, tftp_outcome_name(o),
	         why ? " " : "", why ? why : "");
	metrics_tftp_done(o, bytes, x->p.blksize, x->p.windowsize, x->retransmits);
	store_record_tftp(x->is_menu, x->mac, x->peer_txt, x->name, bytes, now_ms() - x->start_ms, o == TFTP_OUT_OK);
	metrics_tftp_active(-1);
	heap_remove(s, x);
	stab_del(s, x);
	unreserve(s->srv, x->client);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, x->fd, NULL);
	close(x->fd);
	source_close(x);
	/* freed after the current batch of epoll events, which may still name it */
	x->dead = 1;
	x->hnext = s->graveyard;
	s->graveyard = x;
}

static void bury(struct tftp_loop *s)
{
	while (s->graveyard) {
		struct sess *x = s->graveyard;
		s->graveyard = x->hnext;
		free(x);
	}
}

static void fail_io(struct tftp_loop *s, struct sess *x)
{
	send_error_fd(x->fd, &x->peer, x->peer_len, TFTP_EUNDEF, "file changed or unreadable during transfer");
	sess_end(s, x, TFTP_OUT_IO_ERROR, "reason=\"source changed or read error\"");
}

static void on_timeout(struct tftp_loop *s, struct sess *x, uint64_t now)
{
	if (x->timeout_ms >= x->timeout_init_ms || x->p.timeout_s) {
		if (x->retries >= x->max_retries) {
			sess_end(s, x, TFTP_OUT_TIMEOUT, NULL);
			return;
		}
		x->retries++;
	}
	x->retransmits++;
	x->fresh = 0;
	if (!x->p.timeout_s) {
		unsigned cap = x->timeout_init_ms * 8 < TIMEOUT_CAP_MS ? x->timeout_init_ms * 8 : TIMEOUT_CAP_MS;
		x->timeout_ms = x->timeout_ms * 2 < cap ? x->timeout_ms * 2 : cap;
	}
	if (!x->oack_phase)
		window_open(x);
	if (transmit(s, x) != 0) {
		fail_io(s, x);
		return;
	}
	set_deadline(s, x, now + x->timeout_ms);
}

/* Advance the netascii base state from x->base to block `to` (exclusive) without sending. */
static int na_seek(struct tftp_loop *s, struct sess *x, uint64_t to)
{
	for (uint64_t b = x->base; b < to; b++)
		if (na_block(s, x, &x->na_base_off, &x->na_base_pend, s->tx) < 0)
			return -EIO;
	return 0;
}

static void on_ack(struct tftp_loop *s, struct sess *x, uint16_t wire, uint64_t now)
{
	uint64_t k;
	enum tftp_ack_action a = tftp_ack_classify(x->base, x->oack_phase ? 0 : x->win_end, wire, &k);
	if (a == TFTP_ACK_IGNORE)
		return; /* duplicates never trigger a burst (Sorcerer's Apprentice) */
	if (a == TFTP_ACK_WINDOW && k == x->last_blk && !x->oack_phase) {
		x->acked = k;
		sess_end(s, x, TFTP_OUT_OK, NULL);
		return;
	}
	if (a == TFTP_ACK_PARTIAL)
		x->retransmits++;
	if (x->netascii) {
		if (a == TFTP_ACK_WINDOW && !x->oack_phase) {
			x->na_base_off = x->na_tx_off;
			x->na_base_pend = x->na_tx_pend;
		} else if (a == TFTP_ACK_PARTIAL && na_seek(s, x, k + 1) != 0) {
			fail_io(s, x);
			return;
		}
	}
	if (a == TFTP_ACK_WINDOW && x->fresh) {
		uint64_t t = now_us();
		tftp_rtt_sample(&x->rtt, t > x->sent_us ? t - x->sent_us : 0);
	}
	x->oack_phase = 0;
	x->acked = k;
	x->base = k + 1;
	x->retries = 0;
	x->timeout_ms = x->p.timeout_s ? x->p.timeout_s * 1000u : tftp_rto_ms(&x->rtt, RTO_MIN_MS, x->timeout_init_ms);
	window_open(x);
	/* after a partial ACK part of the new window was sent before: its ACK would not time one transmission */
	x->fresh = a == TFTP_ACK_WINDOW;
	x->sent_us = now_us();
	if (transmit(s, x) != 0) {
		fail_io(s, x);
		return;
	}
	set_deadline(s, x, now + x->timeout_ms);
}

static void on_sess_event(struct tftp_loop *s, struct sess *x, uint32_t events, uint64_t now)
{
	if (x->dead)
		return;
	if (events & EPOLLOUT) {
		if (transmit(s, x) != 0) {
			fail_io(s, x);
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLERR)))
		return;
	struct sockaddr_storage from = {0};
	struct iovec iov = {s->rx, RX_BYTES};
	struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n = recvmsg(x->fd, &mh, MSG_DONTWAIT);
	if (n < 0)
		return; /* EAGAIN, or an ICMP error queued on the socket: the timer decides */
	socklen_t fl = mh.msg_namelen;
	unmap_v4(&from, &fl);
	if (!addr_same(&from, &x->peer)) {
		char t[INET6_ADDRSTRLEN + 8];
		addr_text(&from, t, sizeof t);
		log_debug("tftp: %s: packet from wrong TID %s", x->peer_txt, t);
		if (addr_port(&from) != 0)
			send_error_fd(x->fd, &from, fl, TFTP_EBADID, "Unknown transfer ID");
		return;
	}
	struct tftp_packet pk;
	if (tftp_parse_packet(s->rx, (size_t)n, &pk) != 0)
		return; /* runts, requests sent to our TID, unknown opcodes: ignored, the timer goes on */
	switch (pk.op) {
	case TFTP_ACK:
		on_ack(s, x, pk.block, now);
		break;
	case TFTP_ERROR: {
		char m[128], why[192];
		sanitize(pk.msg, pk.msg_len, m, sizeof m);
		snprintf(why, sizeof why, "client_error=%u:\"%s\"", pk.code, m);
		sess_end(s, x, TFTP_OUT_ABORTED, why);
		break;
	}
	default:
		send_error_fd(x->fd, &x->peer, x->peer_len, TFTP_EBADOP, "illegal TFTP operation");
		sess_end(s, x, TFTP_OUT_BAD_REQUEST, "reason=\"unexpected packet\"");
		break;
	}
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
	char nm[NAME_LOG];
	sanitize(name ? name : "", name ? name_len : 0, nm, sizeof nm);
	log_warn("tftp: %s refused file=\"%s\" reason=\"%s\" outcome=%s", r->peer_txt, nm, reason,
	         tftp_outcome_name(o));
	metrics_tftp_done(o, 0, 0, 0, 0);
	if (r->local.ss_family == 0)
		return;
	int fd = tid_socket(&r->local, r->local_len);
	if (fd < 0)
		return;
	send_error_fd(fd, &r->peer, r->peer_len, code, msg);
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

/* Size of the netascii encoding of the source. */
static int na_total(struct tftp_loop *s, struct sess *x, uint64_t *out)
{
	uint64_t off = 0, n = 0;
	for (;;) {
		ssize_t r = src_read(x, off, s->na, TFTP_MAX_BLKSIZE);
		if (r < 0)
			return (int)r;
		if (r == 0)
			break;
		n += tftp_netascii_size(s->na, (size_t)r);
		off += (uint64_t)r;
	}
	if (off != x->src_size)
		return -EIO;
	*out = n;
	return 0;
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
		sess_end(s, old, TFTP_OUT_ABORTED, "reason=\"superseded by a new request\"");
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
	x->file_fd = -1;
	sanitize(rq.file, rq.file_len, x->name, sizeof x->name);

	char sub[128];
	int m = menu_request_parse(rq.file, rq.file_len, x->mac, sub, sizeof sub);
	if (m == 0 && autoexec_request_match(rq.file, rq.file_len)) {
		/* Stock iPXE asks its TFTP server for autoexec.ipxe: answer with the chain script, pointing at the
		 * address this request came in on. */
		char local_ip[INET6_ADDRSTRLEN];
		addr_ip_text(&r->local, local_ip, sizeof local_ip);
		sbuf out = SBUF_INIT;
		if (autoexec_render(cfg, local_ip, &out) != 0 || !(x->mem = sbuf_steal(&out))) {
			sbuf_free(&out);
			refuse(r, rq.file, rq.file_len, TFTP_EUNDEF, "cannot render autoexec.ipxe", TFTP_OUT_IO_ERROR,
			       "render failed");
			goto drop;
		}
		x->mem_len = x->src_size = strlen(x->mem);
	} else if (m < 0) {
		refuse(r, rq.file, rq.file_len, TFTP_ENOTFOUND, "file not found", TFTP_OUT_NOT_FOUND, "bad menu name");
		goto drop;
	} else if (m == 1) {
		char local_ip[INET6_ADDRSTRLEN], peer_ip[INET6_ADDRSTRLEN], base[512];
		addr_ip_text(&r->local, local_ip, sizeof local_ip);
		addr_ip_text(&r->peer, peer_ip, sizeof peer_ip);
		snapshot_http_base(snap, local_ip, r->local.ss_family == AF_INET6, base, sizeof base);
		struct render_client cl = {.ip = peer_ip, .via = RENDER_TFTP, .file_base = base[0] ? base : NULL};
		memcpy(cl.mac, x->mac, 6);
		sbuf out = SBUF_INIT;
		rc = render_menu(snap->cfg, snap->cat, snap->tmpl, &cl, sub, &out);
		if (rc) {
			sbuf_free(&out);
			if (rc == -ENOENT)
				refuse(r, rq.file, rq.file_len, TFTP_ENOTFOUND, "file not found", TFTP_OUT_NOT_FOUND,
				       "unknown submenu");
			else
				refuse(r, rq.file, rq.file_len, TFTP_EUNDEF, "cannot render menu", TFTP_OUT_IO_ERROR,
				       "render failed");
			goto drop;
		}
		x->mem_len = out.len;
		x->mem = sbuf_steal(&out);
		if (!x->mem) {
			refuse(r, rq.file, rq.file_len, TFTP_EUNDEF, "server busy, retry", TFTP_OUT_BUSY, "out of memory");
			goto drop;
		}
		x->is_menu = 1;
		x->src_size = x->mem_len;
		metrics_tftp_menu();
	} else {
		int fd = vfs_open(snap->vfs, rq.file, rq.file_len, &x->st0, NULL);
		if (fd < 0) {
			if (fd == -EACCES)
				refuse(r, rq.file, rq.file_len, TFTP_EACCESS, "access violation", TFTP_OUT_DENIED,
				       "refused name");
			else if (fd == -ENOENT || fd == -EISDIR || fd == -EINVAL || fd == -ENOTDIR)
				refuse(r, rq.file, rq.file_len, TFTP_ENOTFOUND, "file not found", TFTP_OUT_NOT_FOUND,
				       fd == -ENOENT ? "not found" : "not a regular file");
			else
				refuse(r, rq.file, rq.file_len, TFTP_EUNDEF, "cannot open file, retry", TFTP_OUT_IO_ERROR,
				       strerror(-fd));
			goto drop;
		}
		x->file_fd = fd;
		x->src_size = (uint64_t)x->st0.st_size;
	}
	x->netascii = rq.mode == TFTP_MODE_NETASCII;
	x->size = x->src_size;
	x->na_base_pend = x->na_tx_pend = -1;
	if (x->netascii && na_total(s, x, &x->size) != 0) {
		refuse(r, rq.file, rq.file_len, TFTP_EUNDEF, "read error", TFTP_OUT_IO_ERROR, "read error");
		goto drop;
	}

	struct tftp_limits lim = {.max_blksize = cfg->tftp_max_blksize,
	                          .mtu_blksize = mtu_blksize(s, r->ifindex, r->local.ss_family),
	                          .max_window = cfg->tftp_max_window,
	                          .window_bytes = TFTP_WINDOW_BYTES};
	tftp_negotiate(&rq.opt, &lim, x->size, &x->p);
	x->last_blk = tftp_block_count(x->size, x->p.blksize);
	x->timeout_init_ms = cfg->tftp_timeout_ms ? cfg->tftp_timeout_ms : 1000;
	x->timeout_ms = x->p.timeout_s ? x->p.timeout_s * 1000u : x->timeout_init_ms;
	x->max_retries = cfg->tftp_retries;
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
	x->base = 1;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = x};
	if (heap_push(s, x) != 0) {
		refuse(r, rq.file, rq.file_len, TFTP_EUNDEF, "server busy, retry", TFTP_OUT_BUSY, "out of memory");
		goto drop;
	}
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, x->fd, &ev) != 0) {
		heap_remove(s, x);
		refuse(r, rq.file, rq.file_len, TFTP_EUNDEF, "server busy, retry", TFTP_OUT_BUSY, "epoll");
		goto drop;
	}
	struct sess **slot = stab_slot(s, &key);
	x->hnext = *slot;
	*slot = x;
	metrics_tftp_active(1);

	if (x->p.oack) {
		x->oack_phase = 1;
	} else {
		window_open(x);
	}
	x->fresh = 1;
	x->sent_us = now_us();
	if (transmit(s, x) != 0)
		fail_io(s, x);
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
		int n = epoll_wait(s->epfd, evs, (int)ARRAY_SIZE(evs), timeout);
		if (n < 0 && errno != EINTR) {
			log_error("tftp: epoll_wait: %s", strerror(errno));
			break;
		}
		uint64_t now = now_ms();
		int stop = 0;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &tag_stop)
				stop = 1;
			else if (p == &tag_listen)
				on_listen(s, now);
			else
				on_sess_event(s, p, evs[i].events, now);
		}
		if (stop)
			break;
		while (s->heap_n && s->heap[0]->deadline <= now)
			on_timeout(s, s->heap[0], now);
		bury(s);
	}
	while (s->heap_n)
		sess_end(s, s->heap[0], TFTP_OUT_ABORTED, "reason=\"server stopping\"");
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
		sess_end(s, s->heap[0], TFTP_OUT_ABORTED, "reason=\"server freed\"");
	bury(s);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->epfd >= 0)
		close(s->epfd);
	free(s->heap);
	free(s->rx);
	free(s->tx);
	free(s->na);
}

static int loop_init(struct tftp_server *srv, struct tftp_loop *s, const struct listen_spec *l, int reuse, char *err,
                     size_t errlen)
{
	s->srv = srv;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->rx = malloc(RX_BYTES);
	s->tx = malloc(TX_BYTES);
	s->na = malloc(TFTP_MAX_BLKSIZE);
	if (s->epfd < 0 || !s->rx || !s->tx || !s->na) {
		snprintf(err, errlen, "TFTP set-up: %s", strerror(errno));
		return -ENOMEM;
	}
	int rc = open_listener(l, reuse, &s->lfd, err, errlen);
	if (rc)
		return rc;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tag_listen};
	struct epoll_event es = {.events = EPOLLIN, .data.ptr = &tag_stop};
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) != 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, srv->efd, &es) != 0) {
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
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}
	if (threads > TFTP_MAX_LOOPS)
		threads = TFTP_MAX_LOOPS;
	struct tftp_server *s = calloc(1, sizeof *s);
	if (!s || !(s->loops = calloc(threads, sizeof *s->loops))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->efd = -1;
	pthread_mutex_init(&s->cmu, NULL);
	for (unsigned i = 0; i < threads; i++)
		s->loops[i].lfd = s->loops[i].epfd = -1;
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
	free(s->loops);
	free(s);
}

unsigned tftp_server_sessions(const struct tftp_server *s)
{
	return s ? atomic_load(&((struct tftp_server *)s)->n_sessions) : 0;
}

unsigned tftp_server_port(const struct tftp_server *s) { return s ? s->port : 0; }
