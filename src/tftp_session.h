/* tftp_session.h - internal: one TFTP transfer's state machine (source, windows, ACKs, retransmission, end log). */
#ifndef AUTOPXE_TFTP_SESSION_H
#define AUTOPXE_TFTP_SESSION_H

/* Only src/tftp_server.c includes this. The session code sends, reads its source and decides what happens next;
 * the loop owns the sockets' registration, the deadline heap, the session index and the caps, and does what the
 * session's answer (enum sess_next) tells it. */

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "metrics.h"
#include "snapshot.h"
#include "tftp_proto.h"

#define TFTP_BATCH 64              /* DATA packets per sendmmsg */
#define TFTP_TX_BYTES (4u << 20)    /* shared scratch for one batch of blocks; its last TFTP_MAX_PACKET bytes are
                                    * where a single block is put together (send_one) */
#define TFTP_NAME_LOG 256

struct client_ent;

/* A client address reduced to 16 bytes (IPv4 as ::ffff:a.b.c.d) + port: the loop's index key. */
struct addr_key {
	uint8_t ip[16];
	uint16_t port;
};

/* What one event loop lends the session code: its epoll fd (to wait for a full socket buffer to drain) and its
 * scratch buffers, used only during one call. */
struct tftp_io {
	int epfd;
	uint8_t *tx, *na; /* TFTP_TX_BYTES; TFTP_MAX_BLKSIZE */
	struct mmsghdr mm[TFTP_BATCH];
	struct iovec iov[TFTP_BATCH][2];
	uint8_t hdr[TFTP_BATCH][TFTP_HDR];
};

struct sess {
	int fd;       /* our TID socket (the loop opens, registers and closes it) */
	int connected; /* fd is connect()ed to peer: sends go without an address (the route is cached) */
	int fd2;       /* with connected: an unconnected socket on fd's port, for packets from other TIDs */
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
	char peer_txt[INET6_ADDRSTRLEN + 8];

	struct tftp_params p;
	uint64_t last_blk; /* absolute number of the final (short) block */
	uint64_t base;     /* first block not yet acknowledged */
	uint64_t win_end;  /* last block of the current window (0 while the OACK waits for ACK 0) */
	uint64_t next_tx;  /* next block to transmit in this window */
	uint64_t acked;    /* highest block acknowledged */
	int oack_phase;
	int want_out; /* EPOLLOUT armed: the socket buffer was full */
	int no_gso;   /* UDP_SEGMENT failed on this path once: windows go out with sendmmsg */

	uint64_t start_ms;
	/* timeout_ms: the wait now running; timeout_init_ms: TFTPTimeout, the first wait and the adaptive ceiling;
	 * retries: waits of at least TFTPTimeout that expired in a row (the shorter adaptive ones are free) */
	unsigned timeout_ms, timeout_init_ms, retries, max_retries, retransmits;
	struct tftp_rtt rtt;
	unsigned busy_poll_us; /* TFTPBusyPoll when the transfer started */
	uint64_t sent_us; /* when the current window (or OACK) went out */
	int fresh;        /* ... for the first time: an ACK completing it is an RTT sample (Karn) */

	int is_menu;
	uint8_t mac[6];
	char name[TFTP_NAME_LOG];

	/* the loop's bookkeeping; the session code never reads these */
	uint64_t deadline;
	size_t heap_idx;
	struct client_ent *client;
	struct addr_key key;
	struct sess *hnext;
	uint32_t req_hash; /* of the RRQ packet: an identical one is a retransmission */
	int dead;          /* ended; waiting in the graveyard */
};

/* What the loop does with a session after the session code handled an event. */
enum sess_next {
	SESS_WAIT,  /* nothing changes: the deadline stands */
	SESS_REARM, /* wait again: the new deadline is now + x->timeout_ms */
	SESS_DONE,  /* the session ended (logged, counted, source closed): unlink it, close x->fd, free it later */
};

/* Why a request cannot become a session: what the client is told and what the log says. */
struct sess_refusal {
	enum tftp_err code;
	const char *msg, *reason; /* static strings (or strerror's) */
	enum tftp_outcome outcome;
};

/* Open x's source for the RRQ rq and negotiate: the autoexec.ipxe chain script, a rendered menu, or a file from
 * snap's vfs. local_ip / peer_ip are the addresses as text; mtu_blksize the interface's largest block (0: unknown).
 * x must be zeroed except for fd/file_fd (-1). Borrows snap. 0, or -1 with *why filled; source_close() undoes
 * either way. */
int sess_open(struct tftp_io *io, struct sess *x, const struct snapshot *snap, const struct tftp_request *rq,
              const char *local_ip, int local_v6, const char *peer_ip, unsigned mtu_blksize,
              struct sess_refusal *why);
/* Release what a session reads from: the file, the rendered menu, the read-ahead buffer. Idempotent. */
void source_close(struct sess *x);
/* Send the OACK or the first window; x->fd is open and registered. SESS_WAIT or SESS_DONE. */
enum sess_next sess_begin(struct tftp_io *io, struct sess *x);
/* The socket has room again (EPOLLOUT): go on with the window. SESS_WAIT or SESS_DONE. */
enum sess_next sess_writable(struct tftp_io *io, struct sess *x);
/* A packet from the session's peer (the loop checked the TID). */
enum sess_next sess_packet(struct tftp_io *io, struct sess *x, const uint8_t *pkt, size_t len);
/* The deadline passed: retransmit with backoff, or give up. SESS_REARM or SESS_DONE. */
enum sess_next sess_timeout(struct tftp_io *io, struct sess *x);
/* End the session: its log line and metrics, its source closed. `why` (may be NULL) is appended to the log line.
 * The loop calls it for ends of its own (superseded, stopping); the event functions call it before SESS_DONE. */
void sess_finish(struct sess *x, enum tftp_outcome o, const char *why);
/* One ERROR packet from fd to `to`; failures are only logged at debug level. */
void tftp_send_error(int fd, const struct sockaddr_storage *to, socklen_t tolen, enum tftp_err code, const char *msg);

#endif
