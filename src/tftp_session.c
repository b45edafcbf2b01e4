/* tftp_session.c - one TFTP transfer: its source, windows of blocks, ACKs, the retransmission timer, its end. */
#include "tftp_session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "autoexec.h"
#include "log.h"
#include "mac.h"
#include "metrics.h"
#include "render.h"
#include "store.h"
#include "util.h"
#include "vfs.h"

/* Lock-step (windowsize 1) file transfers read ahead this much per pread instead of one block per ACK: a syscall
 * fewer per round trip, where the round trip is all there is. Allocated on the first block, per session. */
#define RA_BYTES (16u << 10)
#define TIMEOUT_CAP_MS 60000u
#define RTO_MIN_MS 10u /* floor of the adaptive retransmission timeout */
/* UDP GSO: at most this many bytes (and TFTP_BATCH datagrams) per sendmsg; the kernel cuts it into datagrams */
#define GSO_BYTES 65000u

void tftp_send_error(int fd, const struct sockaddr_storage *to, socklen_t tolen, enum tftp_err code, const char *msg)
{
	uint8_t buf[160];
	size_t n = tftp_build_error(code, msg, buf, sizeof buf);
	if (n && sendto(fd, buf, n, MSG_DONTWAIT, (const struct sockaddr *)to, tolen) < 0)
		log_debug("tftp: sending ERROR %d: %s", code, strerror(errno));
}

/* ---- reading the source ---- */

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
static ssize_t na_block(struct tftp_io *io, struct sess *x, uint64_t *off, int *pend, uint8_t *out)
{
	size_t o = 0;
	for (;;) {
		if (*pend >= 0 && o < x->p.blksize) {
			out[o++] = (uint8_t)*pend;
			*pend = -1;
		}
		if (o == x->p.blksize)
			break;
		ssize_t r = src_read(x, *off, io->na, x->p.blksize - o);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		size_t used;
		o += tftp_netascii_encode(io->na, (size_t)r, &used, out + o, x->p.blksize - o, pend);
		*off += used;
	}
	return (ssize_t)o;
}

/* Size of the netascii encoding of the source. */
static int na_total(struct tftp_io *io, struct sess *x, uint64_t *out)
{
	uint64_t off = 0, n = 0;
	for (;;) {
		ssize_t r = src_read(x, off, io->na, TFTP_MAX_BLKSIZE);
		if (r < 0)
			return (int)r;
		if (r == 0)
			break;
		n += tftp_netascii_size(io->na, (size_t)r);
		off += (uint64_t)r;
	}
	if (off != x->src_size)
		return -EIO;
	*out = n;
	return 0;
}

/* Advance the netascii base state from x->base to block `to` (exclusive) without sending. */
static int na_seek(struct tftp_io *io, struct sess *x, uint64_t to)
{
	for (uint64_t b = x->base; b < to; b++)
		if (na_block(io, x, &x->na_base_off, &x->na_base_pend, io->tx) < 0)
			return -EIO;
	return 0;
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

/* ---- opening and closing the source ---- */

int sess_open(struct tftp_io *io, struct sess *x, const struct snapshot *snap, const struct tftp_request *rq,
              const char *local_ip, int local_v6, const char *peer_ip, unsigned mtu_blksize,
              struct sess_refusal *why)
{
#define REFUSE(c, m, o, r) \
	do { \
		*why = (struct sess_refusal){.code = (c), .msg = (m), .outcome = (o), .reason = (r)}; \
		return -1; \
	} while (0)
	const struct config *cfg = snap->cfg;
	sanitize(rq->file, rq->file_len, x->name, sizeof x->name);

	struct menu_request mrq;
	int m = menu_name_parse(rq->file, rq->file_len, &mrq);
	memcpy(x->mac, mrq.mac, 6);
	if (m == 0 && autoexec_request_match(rq->file, rq->file_len)) {
		/* Stock iPXE asks its TFTP server for autoexec.ipxe: answer with the chain script, pointing at the
		 * address this request came in on. */
		sbuf out = SBUF_INIT;
		if (autoexec_render(cfg, local_ip, &out) != 0 || !(x->mem = sbuf_steal(&out))) {
			sbuf_free(&out);
			REFUSE(TFTP_EUNDEF, "cannot render autoexec.ipxe", TFTP_OUT_IO_ERROR, "render failed");
		}
		x->mem_len = x->src_size = strlen(x->mem);
	} else if (m < 0) {
		REFUSE(TFTP_ENOTFOUND, "file not found", TFTP_OUT_NOT_FOUND, "bad menu name");
	} else if (m == 1) {
		char base[512];
		snapshot_http_base(snap, local_ip, local_v6, base, sizeof base);
		struct render_client cl = {.ip = peer_ip, .via = RENDER_TFTP, .file_base = base[0] ? base : NULL,
		                           .menu_c32 = mrq.kind != MENU_IPXE && vfs_boot_has(snap->vfs, "menu.c32")};
		memcpy(cl.mac, x->mac, 6);
		sbuf out = SBUF_INIT;
		int rc = render_request(snap->cfg, snap->cat, snap->tmpl, &cl, &mrq, &out);
		if (rc) {
			sbuf_free(&out);
			if (rc == -ENOENT)
				REFUSE(TFTP_ENOTFOUND, "file not found", TFTP_OUT_NOT_FOUND, "unknown submenu");
			REFUSE(TFTP_EUNDEF, "cannot render menu", TFTP_OUT_IO_ERROR, "render failed");
		}
		x->mem_len = out.len;
		x->mem = sbuf_steal(&out);
		if (!x->mem)
			REFUSE(TFTP_EUNDEF, "server busy, retry", TFTP_OUT_BUSY, "out of memory");
		x->is_menu = mrq.has_mac ? 1 : 2; /* 2: a generic config, no MAC to log */
		x->src_size = x->mem_len;
		metrics_tftp_menu();
	} else {
		int fd = vfs_open(snap->vfs, rq->file, rq->file_len, &x->st0, NULL);
		if (fd == -EACCES)
			REFUSE(TFTP_EACCESS, "access violation", TFTP_OUT_DENIED, "refused name");
		if (fd == -ENOENT || fd == -EISDIR || fd == -EINVAL || fd == -ENOTDIR)
			REFUSE(TFTP_ENOTFOUND, "file not found", TFTP_OUT_NOT_FOUND,
			       fd == -ENOENT ? "not found" : "not a regular file");
		if (fd < 0)
			REFUSE(TFTP_EUNDEF, "cannot open file, retry", TFTP_OUT_IO_ERROR, strerror(-fd));
		x->file_fd = fd;
		x->src_size = (uint64_t)x->st0.st_size;
	}
	x->netascii = rq->mode == TFTP_MODE_NETASCII;
	x->size = x->src_size;
	x->na_base_pend = x->na_tx_pend = -1;
	if (x->netascii && na_total(io, x, &x->size) != 0)
		REFUSE(TFTP_EUNDEF, "read error", TFTP_OUT_IO_ERROR, "read error");
#undef REFUSE

	struct tftp_limits lim = {.max_blksize = cfg->tftp_max_blksize,
	                          .mtu_blksize = mtu_blksize,
	                          .max_window = cfg->tftp_max_window,
	                          .window_bytes = TFTP_WINDOW_BYTES};
	tftp_negotiate(&rq->opt, &lim, x->size, &x->p);
	x->last_blk = tftp_block_count(x->size, x->p.blksize);
	x->timeout_init_ms = cfg->tftp_timeout_ms ? cfg->tftp_timeout_ms : 1000;
	x->timeout_ms = x->p.timeout_s ? x->p.timeout_s * 1000u : x->timeout_init_ms;
	x->max_retries = cfg->tftp_retries;
	x->busy_poll_us = cfg->tftp_busy_poll_us;
	x->base = 1;
	return 0;
}

void source_close(struct sess *x)
{
	if (x->file_fd >= 0)
		close(x->file_fd);
	x->file_fd = -1;
	free(x->mem);
	x->mem = NULL;
	free(x->ra);
	x->ra = NULL;
}

/* ---- sending ---- */

/* Prepare n blocks from x->next_tx in io->mm/iov. 0 or -EIO (the source changed or failed). */
static int fill_batch(struct tftp_io *io, struct sess *x, unsigned n)
{
	uint64_t b0 = x->next_tx;
	if (b0 + n - 1 >= x->last_blk && file_changed(x))
		return -EIO;
	if (x->netascii) {
		for (unsigned i = 0; i < n; i++) {
			uint8_t *slot = io->tx + (size_t)i * x->p.blksize;
			ssize_t r = na_block(io, x, &x->na_tx_off, &x->na_tx_pend, slot);
			if (r < 0 || (size_t)r != block_len(x, b0 + i))
				return -EIO;
			io->iov[i][1] = (struct iovec){slot, (size_t)r};
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
			ssize_t r = total ? src_read(x, off, io->tx, total) : 0;
			if (r < 0 || (size_t)r != total)
				return -EIO; /* shrank under us */
			base = io->tx;
		}
		size_t at = 0;
		for (unsigned i = 0; i < n; i++) {
			size_t l = block_len(x, b0 + i);
			io->iov[i][1] = (struct iovec){(void *)(base + at), l};
			at += l;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		tftp_data_header(tftp_wire_block(b0 + i), io->hdr[i]);
		io->iov[i][0] = (struct iovec){io->hdr[i], TFTP_HDR};
		io->mm[i].msg_hdr = (struct msghdr){.msg_name = x->connected ? NULL : &x->peer,
		                                    .msg_namelen = x->connected ? 0 : x->peer_len,
		                                    .msg_iov = io->iov[i],
		                                    .msg_iovlen = 2};
		io->mm[i].msg_len = 0;
	}
	return 0;
}

/* Windowed file/menu blocks b0.. as n back-to-back DATA packets of 4 + blksize bytes in io->tx (the last may be
 * shorter), for one UDP_SEGMENT sendmsg. Returns the bytes filled or -EIO. */
static ssize_t fill_gso(struct tftp_io *io, struct sess *x, unsigned n)
{
	uint64_t b0 = x->next_tx;
	if (b0 + n - 1 >= x->last_blk && file_changed(x))
		return -EIO;
	size_t stride = TFTP_HDR + x->p.blksize, total = 0, at = 0;
	uint64_t off = (b0 - 1) * x->p.blksize;
	for (unsigned i = 0; i < n; i++) {
		size_t l = block_len(x, b0 + i);
		uint8_t *slot = io->tx + (size_t)i * stride;
		tftp_data_header(tftp_wire_block(b0 + i), slot);
		io->iov[i][0] = (struct iovec){slot + TFTP_HDR, l};
		total += l;
		at = (size_t)i * stride + TFTP_HDR + l;
	}
	if (x->mem) {
		for (unsigned i = 0; i < n; i++)
			memcpy(io->iov[i][0].iov_base, x->mem + off + (size_t)i * x->p.blksize, io->iov[i][0].iov_len);
		return (ssize_t)at;
	}
	/* one preadv for the window (the gaps between the payloads hold the headers) */
	struct iovec v[TFTP_BATCH];
	for (unsigned i = 0; i < n; i++)
		v[i] = io->iov[i][0];
	ssize_t r = total ? preadv(x->file_fd, v, (int)n, (off_t)off) : 0;
	if (r >= 0 && (size_t)r < total) { /* a short read (rare on files): finish block by block */
		size_t done = (size_t)r;
		for (unsigned i = 0; i < n; i++) {
			size_t l = v[i].iov_len, base = (size_t)i * x->p.blksize;
			if (done >= base + l)
				continue;
			size_t skip = done > base ? done - base : 0;
			ssize_t k = src_read(x, off + base + skip, (uint8_t *)v[i].iov_base + skip, l - skip);
			if (k < 0 || (size_t)k != l - skip)
				return -EIO;
			done = base + l;
		}
		r = (ssize_t)total;
	}
	if (r < 0 || (size_t)r != total)
		return -EIO;
	return (ssize_t)at;
}

/* Send n blocks from x->next_tx with one UDP_SEGMENT sendmsg. n (all sent), 0 (socket full), -EIO (source), or
 * -EOPNOTSUPP (this path cannot take GSO: the caller falls back to sendmmsg for the session). */
static int send_gso(struct tftp_io *io, struct sess *x, unsigned n)
{
	ssize_t len = fill_gso(io, x, n);
	if (len < 0)
		return -EIO;
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cm;
	memset(&cm, 0, sizeof cm);
	struct iovec one = {io->tx, (size_t)len};
	struct msghdr mh = {.msg_name = x->connected ? NULL : &x->peer,
	                    .msg_namelen = x->connected ? 0 : x->peer_len,
	                    .msg_iov = &one,
	                    .msg_iovlen = 1,
	                    .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	uint16_t seg = (uint16_t)(TFTP_HDR + x->p.blksize);
	memcpy(CMSG_DATA(c), &seg, sizeof seg);
	if (sendmsg(x->fd, &mh, MSG_DONTWAIT) == len)
		return (int)n;
	if (errno == EAGAIN || errno == ENOBUFS)
		return 0;
	log_debug("tftp: %s: UDP GSO send: %s; sendmmsg from now on", x->peer_txt, strerror(errno));
	return -EOPNOTSUPP;
}

/* The one block fill_batch prepared, as one contiguous packet through send() (connected) or sendto(): no msghdr
 * or iovec for the kernel to copy in, no msg_len to copy out. Lock-step transfers send every block this way; the
 * payload (at most TFTP_MAX_BLKSIZE, at the start of io->tx if it was read there) is copied behind the header in
 * the last TFTP_MAX_PACKET bytes of io->tx. 1 (sent) or -1 with errno. */
static int send_one(struct tftp_io *io, struct sess *x)
{
	uint8_t *pkt = io->tx + TFTP_TX_BYTES - TFTP_MAX_PACKET;
	size_t l = io->iov[0][1].iov_len;
	memcpy(pkt, io->hdr[0], TFTP_HDR);
	memcpy(pkt + TFTP_HDR, io->iov[0][1].iov_base, l);
	ssize_t r = x->connected ? send(x->fd, pkt, TFTP_HDR + l, MSG_DONTWAIT)
	                         : sendto(x->fd, pkt, TFTP_HDR + l, MSG_DONTWAIT, (struct sockaddr *)&x->peer,
	                                  x->peer_len);
	return r < 0 ? -1 : 1;
}

static void arm_out(struct tftp_io *io, struct sess *x, int on)
{
	if (x->want_out == on)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = x};
	if (epoll_ctl(io->epfd, EPOLL_CTL_MOD, x->fd, &ev) == 0)
		x->want_out = on;
}

/* Transmit what is left of the current window (or the OACK). 0, or -EIO when the source failed. */
static int transmit(struct tftp_io *io, struct sess *x)
{
	if (x->oack_phase) {
		uint8_t buf[128];
		size_t n = tftp_build_oack(&x->p, buf, sizeof buf);
		if (sendto(x->fd, buf, n, MSG_DONTWAIT, (struct sockaddr *)&x->peer, x->peer_len) < 0 &&
		    (errno == EAGAIN || errno == ENOBUFS))
			arm_out(io, x, 1);
		else
			arm_out(io, x, 0);
		return 0;
	}
	unsigned per = TFTP_TX_BYTES / x->p.blksize;
	if (per > TFTP_BATCH)
		per = TFTP_BATCH;
	while (x->next_tx <= x->win_end) {
		uint64_t left = x->win_end - x->next_tx + 1;
		unsigned n = left < per ? (unsigned)left : per;
		/* netascii: keep the encoder state so a short send can rewind to the first unsent block */
		uint64_t na_off = x->na_tx_off;
		int na_pend = x->na_tx_pend;
		unsigned stride = TFTP_HDR + x->p.blksize, gper = GSO_BYTES / stride;
		int gso = !x->netascii && !x->no_gso && x->p.windowsize > 1 && gper >= 2;
		/* The first block of a GSO window goes out on its own: the client, asleep since its ACK, starts waking
		 * up while the rest of the window is read and cut (+10% median at windowsize 16, docs/performance.md step 5). */
		if (gso && x->next_tx == x->base && n >= 3)
			n = 1;
		else if (gso && n >= 2) {
			unsigned g = n < gper ? n : gper;
			int k = send_gso(io, x, g);
			if (k == -EIO)
				return k;
			if (k > 0) {
				x->next_tx += (unsigned)k;
				continue;
			}
			if (k == 0) {
				arm_out(io, x, 1);
				return 0;
			}
			x->no_gso = 1; /* and send this batch with sendmmsg */
		}
		int rc = fill_batch(io, x, n);
		if (rc)
			return rc;
		int sent = n == 1 ? send_one(io, x) : sendmmsg(x->fd, io->mm, n, MSG_DONTWAIT);
		if (sent < 0)
			sent = 0;
		if ((unsigned)sent < n) {
			if (x->netascii) { /* re-derive the state after the blocks that did go out */
				x->na_tx_off = na_off;
				x->na_tx_pend = na_pend;
				for (int i = 0; i < sent; i++)
					if (na_block(io, x, &x->na_tx_off, &x->na_tx_pend, io->tx) < 0)
						return -EIO;
			}
			x->next_tx += (unsigned)sent;
			if (errno == EAGAIN || errno == ENOBUFS || sent > 0) {
				arm_out(io, x, 1);
				return 0;
			}
			/* another send error: let the retransmit timer deal with it */
			log_debug("tftp: %s send: %s", x->peer_txt, strerror(errno));
			arm_out(io, x, 0);
			return 0;
		}
		x->next_tx += n;
	}
	arm_out(io, x, 0);
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

/* ---- the state machine ---- */

void sess_finish(struct sess *x, enum tftp_outcome o, const char *why)
{
	uint64_t bytes = x->acked * (uint64_t)x->p.blksize;
	if (bytes > x->size)
		bytes = x->size;
	char mac[24] = "";
	if (x->is_menu == 1) {
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
	if (x->is_menu != 2) /* a generic GRUB/PXELINUX config belongs to no node */
		store_record_tftp(x->is_menu == 1, x->mac, x->peer_txt, x->name, bytes, now_ms() - x->start_ms,
		                  o == TFTP_OUT_OK);
	source_close(x);
}

static enum sess_next fail_io(struct sess *x)
{
	tftp_send_error(x->fd, &x->peer, x->peer_len, TFTP_EUNDEF, "file changed or unreadable during transfer");
	sess_finish(x, TFTP_OUT_IO_ERROR, "reason=\"source changed or read error\"");
	return SESS_DONE;
}

enum sess_next sess_begin(struct tftp_io *io, struct sess *x)
{
	if (x->p.oack)
		x->oack_phase = 1;
	else
		window_open(x);
	x->fresh = 1;
	x->sent_us = now_us();
	return transmit(io, x) != 0 ? fail_io(x) : SESS_WAIT;
}

enum sess_next sess_writable(struct tftp_io *io, struct sess *x)
{
	return transmit(io, x) != 0 ? fail_io(x) : SESS_WAIT;
}

enum sess_next sess_timeout(struct tftp_io *io, struct sess *x)
{
	if (x->timeout_ms >= x->timeout_init_ms || x->p.timeout_s) {
		if (x->retries >= x->max_retries) {
			sess_finish(x, TFTP_OUT_TIMEOUT, NULL);
			return SESS_DONE;
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
	if (transmit(io, x) != 0)
		return fail_io(x);
	return SESS_REARM;
}

static enum sess_next on_ack(struct tftp_io *io, struct sess *x, uint16_t wire)
{
	uint64_t k;
	enum tftp_ack_action a = tftp_ack_classify(x->base, x->oack_phase ? 0 : x->win_end, wire, &k);
	if (a == TFTP_ACK_IGNORE)
		return SESS_WAIT; /* duplicates never trigger a burst (Sorcerer's Apprentice) */
	if (a == TFTP_ACK_WINDOW && k == x->last_blk && !x->oack_phase) {
		x->acked = k;
		sess_finish(x, TFTP_OUT_OK, NULL);
		return SESS_DONE;
	}
	if (a == TFTP_ACK_PARTIAL)
		x->retransmits++;
	if (x->netascii) {
		if (a == TFTP_ACK_WINDOW && !x->oack_phase) {
			x->na_base_off = x->na_tx_off;
			x->na_base_pend = x->na_tx_pend;
		} else if (a == TFTP_ACK_PARTIAL && na_seek(io, x, k + 1) != 0) {
			return fail_io(x);
		}
	}
	uint64_t t = now_us(); /* one clock read per ACK: the sample's end and the next window's start */
	if (a == TFTP_ACK_WINDOW && x->fresh)
		tftp_rtt_sample(&x->rtt, t > x->sent_us ? t - x->sent_us : 0);
	x->oack_phase = 0;
	x->acked = k;
	x->base = k + 1;
	x->retries = 0;
	x->timeout_ms = x->p.timeout_s ? x->p.timeout_s * 1000u : tftp_rto_ms(&x->rtt, RTO_MIN_MS, x->timeout_init_ms);
	window_open(x);
	/* after a partial ACK part of the new window was sent before: its ACK would not time one transmission */
	x->fresh = a == TFTP_ACK_WINDOW;
	x->sent_us = t;
	if (transmit(io, x) != 0)
		return fail_io(x);
	return SESS_REARM;
}

enum sess_next sess_packet(struct tftp_io *io, struct sess *x, const uint8_t *pkt, size_t len)
{
	struct tftp_packet pk;
	if (tftp_parse_packet(pkt, len, &pk) != 0)
		return SESS_WAIT; /* runts, requests sent to our TID, unknown opcodes: ignored, the timer goes on */
	switch (pk.op) {
	case TFTP_ACK:
		return on_ack(io, x, pk.block);
	case TFTP_ERROR: {
		char m[128], why[192];
		sanitize(pk.msg, pk.msg_len, m, sizeof m);
		snprintf(why, sizeof why, "client_error=%u:\"%s\"", pk.code, m);
		sess_finish(x, TFTP_OUT_ABORTED, why);
		return SESS_DONE;
	}
	default:
		tftp_send_error(x->fd, &x->peer, x->peer_len, TFTP_EBADOP, "illegal TFTP operation");
		sess_finish(x, TFTP_OUT_BAD_REQUEST, "reason=\"unexpected packet\"");
		return SESS_DONE;
	}
}
