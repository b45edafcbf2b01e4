/* tftp_proto.h - pure TFTP packet parse/build, option negotiation and block arithmetic (no I/O, no clock). */
#ifndef AUTOPXE_TFTP_PROTO_H
#define AUTOPXE_TFTP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define TFTP_DEFAULT_BLKSIZE 512u
#define TFTP_MIN_BLKSIZE 8u       /* RFC 2348 */
#define TFTP_MAX_BLKSIZE 65464u   /* RFC 2348 */
#define TFTP_MAX_WINDOW 65535u    /* RFC 7440 */
#define TFTP_MIN_TIMEOUT 1u       /* RFC 2349, seconds */
#define TFTP_MAX_TIMEOUT 255u
#define TFTP_HDR 4u               /* opcode + block number */
#define TFTP_MAX_PACKET (TFTP_HDR + TFTP_MAX_BLKSIZE)

enum tftp_op { TFTP_RRQ = 1, TFTP_WRQ = 2, TFTP_DATA = 3, TFTP_ACK = 4, TFTP_ERROR = 5, TFTP_OACK = 6 };

enum tftp_err {
	TFTP_EUNDEF = 0,    /* not defined, see message ("server busy, retry") */
	TFTP_ENOTFOUND = 1, /* file not found */
	TFTP_EACCESS = 2,   /* access violation */
	TFTP_ENOSPACE = 3,
	TFTP_EBADOP = 4,    /* illegal TFTP operation */
	TFTP_EBADID = 5,    /* unknown transfer ID */
	TFTP_EEXISTS = 6,
	TFTP_ENOUSER = 7,
	TFTP_EOPTNEG = 8,   /* RFC 2347: option negotiation refused */
};

enum tftp_mode { TFTP_MODE_OCTET = 0, TFTP_MODE_NETASCII = 1 };

/* Option bits: which options a request carried (with a numeric value) or an OACK acknowledges. */
enum {
	TFTP_OPT_BLKSIZE = 1u << 0,
	TFTP_OPT_TIMEOUT = 1u << 1,
	TFTP_OPT_TSIZE = 1u << 2,
	TFTP_OPT_WINDOWSIZE = 1u << 3,
};

/* Known options as found in a packet (RRQ/WRQ or OACK). Names are case-insensitive; the first
 * occurrence of a name wins; a value that is not a decimal number leaves its bit clear. */
struct tftp_options {
	unsigned present;         /* TFTP_OPT_* bits with a numeric value */
	unsigned n_pairs;         /* every name/value pair seen, unknown ones included */
	unsigned n_unknown;       /* pairs with a name we do not know (ignored, not refused) */
	unsigned dangling;        /* 1 when the packet ended with a name and no value (ignored) */
	unsigned long long blksize, timeout, tsize, windowsize;
};

struct tftp_request {
	enum tftp_op op;  /* TFTP_RRQ or TFTP_WRQ */
	const char *file; /* borrows: points into the packet, NUL-terminated there */
	size_t file_len;  /* > 0 */
	enum tftp_mode mode;
	struct tftp_options opt;
};

/* Parse an RRQ/WRQ: opcode, filename NUL, mode NUL, then name NUL value NUL pairs.
 * 0; -EINVAL when malformed (short, opcode not RRQ/WRQ, empty file name, no NUL after the name
 * or mode); -EPROTONOSUPPORT for a mode other than octet/netascii (case-insensitive).
 * Trailing bytes without a NUL after the mode are ignored. */
int tftp_parse_request(const uint8_t *pkt, size_t len, struct tftp_request *out);

/* Any other packet. For DATA, data/len point into pkt; for ERROR, msg points into pkt (msg_len
 * excludes the NUL; a missing NUL is tolerated); OACK fills opt. */
struct tftp_packet {
	enum tftp_op op;
	uint16_t block;    /* DATA, ACK */
	uint16_t code;     /* ERROR */
	const char *msg;   /* ERROR */
	size_t msg_len;
	const uint8_t *data; /* DATA */
	size_t data_len;
	struct tftp_options opt; /* OACK */
};
/* 0 or -EINVAL (short, unknown opcode 0/7+, bad lengths). RRQ/WRQ give -EINVAL here: use
 * tftp_parse_request. */
int tftp_parse_packet(const uint8_t *pkt, size_t len, struct tftp_packet *out);

/* What the server allows for one transfer. */
struct tftp_limits {
	unsigned max_blksize; /* config TFTPMaxBlockSize */
	unsigned mtu_blksize; /* largest block that fits the path MTU; 0 = unknown */
	unsigned max_window;  /* config TFTPMaxWindowSize */
	unsigned window_bytes; /* a window must fit the client's socket buffer: windowsize is cut so that
	                          windowsize * (kernel memory per datagram) <= window_bytes; 0 = no cap */
};
/* Linux's default receive buffer (net.core.rmem_default 212992) less some slack. */
#define TFTP_WINDOW_BYTES 200000u
/* Estimated receive-buffer charge (skb truesize) of one DATA datagram of blksize bytes, measured
 * on Linux loopback: about blksize + 900 up to one page, about 2 * blksize above. */
unsigned tftp_truesize(unsigned blksize);

/* The agreed parameters of one transfer. */
struct tftp_params {
	unsigned blksize;    /* 512 unless negotiated */
	unsigned windowsize; /* 1 unless negotiated */
	unsigned timeout_s;  /* 0: not negotiated (the server uses its own backoff) */
	unsigned long long tsize;
	unsigned oack;       /* TFTP_OPT_* to acknowledge; 0: no OACK, DATA 1 goes first */
};

/* Negotiate (RFC 2347/2348/2349/7440): blksize < 8 is ignored, larger ones are clamped to the
 * limits (never below 8); timeout outside 1..255 is ignored; windowsize 0 is ignored, larger ones
 * clamped to max_window and to window_bytes / tftp_truesize(blksize) (at least 1); tsize is
 * answered with `size` (the exact bytes to be sent) when present and size > 0 (curl rejects
 * "tsize 0"). Options not acknowledged keep their RFC 1350 defaults. Pure. */
void tftp_negotiate(const struct tftp_options *req, const struct tftp_limits *lim, unsigned long long size,
                    struct tftp_params *out);

/* Builders: each returns the packet length, or 0 when cap is too small. */
size_t tftp_build_oack(const struct tftp_params *p, uint8_t *buf, size_t cap);
size_t tftp_build_error(enum tftp_err code, const char *msg, uint8_t *buf, size_t cap);
size_t tftp_build_ack(uint16_t block, uint8_t *buf, size_t cap);
/* A whole DATA packet (header + copy of data). */
size_t tftp_build_data(uint16_t block, const void *data, size_t len, uint8_t *buf, size_t cap);
/* Just the 4-byte DATA header, for scatter/gather sends. */
void tftp_data_header(uint16_t block, uint8_t hdr[TFTP_HDR]);
/* Build a request (used by tests and tools). opts: NULL-terminated name, value, name, value... */
size_t tftp_build_request(enum tftp_op op, const char *file, const char *mode, const char *const *opts, uint8_t *buf,
                          size_t cap);

/* Block numbers: transfers count blocks in 64 bits ("absolute", DATA 1 = 1); the wire carries the
 * low 16 bits, so block 65536 goes out as 0 (the rollover tftp-hpa, curl and atftp expect). */
static inline uint16_t tftp_wire_block(uint64_t abs_block) { return (uint16_t)(abs_block & 0xffffu); }
/* The absolute block >= lo whose wire number is `wire` (lo <= result <= lo + 65535). */
uint64_t tftp_block_unwrap(uint16_t wire, uint64_t lo);
/* Number of DATA packets for `size` bytes at blksize (the last one is short, possibly empty). */
uint64_t tftp_block_count(uint64_t size, unsigned blksize);

/* What an ACK means to a sender whose window covers absolute blocks base..win_end (block 0 is the
 * OACK: base = 1, win_end = 0 while it waits for ACK 0). */
enum tftp_ack_action {
	TFTP_ACK_IGNORE = 0, /* stale or duplicate (ACK base-1) or outside the window: no resend */
	TFTP_ACK_WINDOW,     /* the whole window arrived: slide to win_end + 1 */
	TFTP_ACK_PARTIAL,    /* base <= acked < win_end: resend from acked + 1 (RFC 7440) */
};
enum tftp_ack_action tftp_ack_classify(uint64_t base, uint64_t win_end, uint16_t wire, uint64_t *acked);

/* Round-trip estimate of one transfer, as TCP keeps it (RFC 6298): smoothed RTT and its mean deviation, fed
 * only with windows that were not retransmitted (Karn). Zero-initialise. */
struct tftp_rtt {
	uint64_t srtt_us, rttvar_us;
	int valid;
};
void tftp_rtt_sample(struct tftp_rtt *r, uint64_t sample_us);
/* Retransmission timeout: SRTT + 4 x RTTVAR rounded up to ms and clamped to [min_ms, max_ms]; max_ms until the
 * first sample. */
unsigned tftp_rto_ms(const struct tftp_rtt *r, unsigned min_ms, unsigned max_ms);

/* Adaptive busy-poll: a loop holding at most this many transfers may poll for the next packet before it sleeps. */
#define TFTP_SPIN_SESSIONS 4u
/* How long (µs) to poll for the ACK of a transfer with RTT estimate r, when the loop holds n_sessions transfers
 * and the configured budget is budget_us: 0 (sleep at once) unless 1 <= n_sessions <= TFTP_SPIN_SESSIONS and the
 * estimate is known and at most budget_us; then 2 x SRTT + 20, at most budget_us. */
unsigned tftp_spin_us(const struct tftp_rtt *r, unsigned n_sessions, unsigned budget_us);
/* A busier loop: its smoothed wait for the next packet (whichever transfer it is for). Zero-initialise. */
struct tftp_gap {
	uint64_t avg_us;
	int valid;
};
/* One wait that ended with a packet after us microseconds (capped at one second): avg += (us - avg) / 8. */
void tftp_gap_sample(struct tftp_gap *g, uint64_t us);
/* How long to poll a loop with more than TFTP_SPIN_SESSIONS transfers: 0 unless the average wait is known and at
 * most budget_us; then 2 x average + 20, at most budget_us. */
unsigned tftp_gap_spin_us(const struct tftp_gap *g, unsigned budget_us);
/* A poll gives up (and the loop sleeps) when one sched_yield() took longer than this: another task needed the CPU,
 * e.g. clients on the same machine, and polling would only take it from them. */
#define TFTP_SPIN_YIELD_US 50u

/* Request steering for a server with more loops than usable CPUs. Each loop's listening socket is in one
 * SO_REUSEPORT group; a classic BPF program attached to the group picks, for every request, the loop
 * tftp_steer_pick(a, port, n) among the first n, where a is the low 32 bits of the client's address (an IPv4 address
 * or the last word of an IPv6 one) and port its UDP port, both as numbers. A client keeps its loop, so a repeated
 * RRQ finds its session. */
#define TFTP_STEER_MAX_INSNS 17u
unsigned tftp_steer_pick(uint32_t addr_low, uint16_t port, unsigned n);
/* The program for n >= 1 loops in out (room for TFTP_STEER_MAX_INSNS struct sock_filter); the instruction count,
 * 0 when n is 0. IPv4 headers with options are handled; IPv6 extension headers are not (such a packet goes to some
 * loop in range, which still serves it). */
struct sock_filter;
size_t tftp_steer_program(unsigned n, struct sock_filter *out);

/* netascii (RFC 764 as used by RFC 1350): LF -> CR LF, CR -> CR NUL. */
/* Size of the encoding of in[0..len). */
uint64_t tftp_netascii_size(const uint8_t *in, size_t len);
/* Encode from in into out[0..cap). *pending carries a byte owed from a pair split at the end of
 * the previous call (-1 = none) and is updated. Sets *consumed to the input bytes used and
 * returns the bytes written (== cap unless the input ran out). */
size_t tftp_netascii_encode(const uint8_t *in, size_t inlen, size_t *consumed, uint8_t *out, size_t cap,
                            int *pending);

const char *tftp_op_name(unsigned op);

#endif
