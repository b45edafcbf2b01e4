/* tftp_proto.c - pure TFTP packet parse/build, option negotiation and block arithmetic (no I/O, no clock). */
#include "tftp_proto.h"

#include <errno.h>
#include <linux/filter.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)(v & 0xff);
}

/* Length of the NUL-terminated string at p within [p, end), or -1 when no NUL is there. */
static long str_in(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *z = memchr(p, 0, (size_t)(end - p));
	return z ? (long)(z - p) : -1;
}

/* The option table: name, bit, where its value goes. */
struct opt_def {
	const char *name;
	unsigned bit;
	size_t off;
};
static const struct opt_def opt_defs[] = {
	{"blksize", TFTP_OPT_BLKSIZE, offsetof(struct tftp_options, blksize)},
	{"timeout", TFTP_OPT_TIMEOUT, offsetof(struct tftp_options, timeout)},
	{"tsize", TFTP_OPT_TSIZE, offsetof(struct tftp_options, tsize)},
	{"windowsize", TFTP_OPT_WINDOWSIZE, offsetof(struct tftp_options, windowsize)},
};

/* Parse name NUL value NUL pairs from p to end. A trailing name without value, or a final string
 * without NUL, is ignored (some PXE ROMs pad requests). */
static void parse_options(const uint8_t *p, const uint8_t *end, struct tftp_options *o)
{
	memset(o, 0, sizeof *o);
	while (p < end) {
		long nl = str_in(p, end);
		if (nl < 0)
			return; /* unterminated junk at the end */
		const char *name = (const char *)p;
		p += nl + 1;
		if (p >= end) {
			if (nl > 0)
				o->dangling = 1;
			return;
		}
		long vl = str_in(p, end);
		if (vl < 0) {
			o->dangling = 1;
			return;
		}
		const char *val = (const char *)p;
		p += vl + 1;
		if (nl == 0 && vl == 0)
			continue; /* padding: NUL NUL */
		o->n_pairs++;
		const struct opt_def *d = NULL;
		for (size_t i = 0; i < ARRAY_SIZE(opt_defs); i++) {
			if (strcasecmp(name, opt_defs[i].name) == 0) {
				d = &opt_defs[i];
				break;
			}
		}
		if (!d) {
			o->n_unknown++;
			continue;
		}
		if (o->present & d->bit)
			continue; /* duplicate: the first one wins */
		unsigned long long v;
		if (parse_uint(val, 0, ~0ULL, &v) != 0)
			continue; /* not a number: ignore the option */
		*(unsigned long long *)((char *)o + d->off) = v;
		o->present |= d->bit;
	}
}

int tftp_parse_request(const uint8_t *pkt, size_t len, struct tftp_request *out)
{
	memset(out, 0, sizeof *out);
	if (!pkt || len < 2)
		return -EINVAL;
	unsigned op = get16(pkt);
	if (op != TFTP_RRQ && op != TFTP_WRQ)
		return -EINVAL;
	const uint8_t *p = pkt + 2, *end = pkt + len;
	long fl = p < end ? str_in(p, end) : -1;
	if (fl <= 0)
		return -EINVAL;
	out->op = (enum tftp_op)op;
	out->file = (const char *)p;
	out->file_len = (size_t)fl;
	p += fl + 1;
	long ml = p < end ? str_in(p, end) : -1;
	if (ml <= 0)
		return -EINVAL;
	const char *mode = (const char *)p;
	p += ml + 1;
	if (strcasecmp(mode, "octet") == 0)
		out->mode = TFTP_MODE_OCTET;
	else if (strcasecmp(mode, "netascii") == 0)
		out->mode = TFTP_MODE_NETASCII;
	else
		return -EPROTONOSUPPORT;
	parse_options(p, end, &out->opt);
	return 0;
}

int tftp_parse_packet(const uint8_t *pkt, size_t len, struct tftp_packet *out)
{
	memset(out, 0, sizeof *out);
	if (!pkt || len < 2)
		return -EINVAL;
	unsigned op = get16(pkt);
	switch (op) {
	case TFTP_DATA:
		if (len < TFTP_HDR || len > TFTP_MAX_PACKET)
			return -EINVAL;
		out->block = get16(pkt + 2);
		out->data = pkt + TFTP_HDR;
		out->data_len = len - TFTP_HDR;
		break;
	case TFTP_ACK:
		/* Some PXE ROMs pad ACKs: extra bytes after the block number are ignored. */
		if (len < TFTP_HDR)
			return -EINVAL;
		out->block = get16(pkt + 2);
		break;
	case TFTP_ERROR: {
		if (len < TFTP_HDR)
			return -EINVAL;
		out->code = get16(pkt + 2);
		out->msg = (const char *)pkt + TFTP_HDR;
		long ml = len > TFTP_HDR ? str_in(pkt + TFTP_HDR, pkt + len) : -1;
		out->msg_len = ml >= 0 ? (size_t)ml : len - TFTP_HDR;
		break;
	}
	case TFTP_OACK:
		parse_options(pkt + 2, pkt + len, &out->opt);
		break;
	default:
		return -EINVAL;
	}
	out->op = (enum tftp_op)op;
	return 0;
}

static unsigned umin(unsigned long long a, unsigned long long b) { return (unsigned)(a < b ? a : b); }

unsigned tftp_truesize(unsigned blksize) { return blksize <= 1500 ? blksize + 900 : 2 * blksize + 1400; }

void tftp_negotiate(const struct tftp_options *req, const struct tftp_limits *lim, unsigned long long size,
                    struct tftp_params *out)
{
	memset(out, 0, sizeof *out);
	out->blksize = TFTP_DEFAULT_BLKSIZE;
	out->windowsize = 1;
	if ((req->present & TFTP_OPT_BLKSIZE) && req->blksize >= TFTP_MIN_BLKSIZE) {
		unsigned long long v = req->blksize;
		v = umin(v, TFTP_MAX_BLKSIZE);
		if (lim->max_blksize)
			v = umin(v, lim->max_blksize);
		if (lim->mtu_blksize)
			v = umin(v, lim->mtu_blksize);
		if (v < TFTP_MIN_BLKSIZE)
			v = TFTP_MIN_BLKSIZE;
		out->blksize = (unsigned)v;
		out->oack |= TFTP_OPT_BLKSIZE;
	}
	if ((req->present & TFTP_OPT_TIMEOUT) && req->timeout >= TFTP_MIN_TIMEOUT && req->timeout <= TFTP_MAX_TIMEOUT) {
		out->timeout_s = (unsigned)req->timeout;
		out->oack |= TFTP_OPT_TIMEOUT;
	}
	/* curl refuses an OACK with "tsize 0" (CURLE_TFTP_ILLEGAL), so an empty file gets no tsize;
	 * the size is still exact: the first DATA packet is empty. */
	if ((req->present & TFTP_OPT_TSIZE) && size > 0) {
		out->tsize = size;
		out->oack |= TFTP_OPT_TSIZE;
	}
	if ((req->present & TFTP_OPT_WINDOWSIZE) && req->windowsize >= 1) {
		unsigned long long v = umin(req->windowsize, TFTP_MAX_WINDOW);
		v = umin(v, lim->max_window ? lim->max_window : 1);
		if (lim->window_bytes) {
			/* a window larger than the client's receive buffer only drops its own tail */
			unsigned fit = lim->window_bytes / tftp_truesize(out->blksize);
			v = umin(v, fit ? fit : 1);
		}
		out->windowsize = (unsigned)v;
		out->oack |= TFTP_OPT_WINDOWSIZE;
	}
}

/* Append "name\0value\0" at *o; 0 or -1 when it does not fit. */
static int put_opt(uint8_t *buf, size_t cap, size_t *o, const char *name, unsigned long long v)
{
	char num[24];
	int n = snprintf(num, sizeof num, "%llu", v);
	size_t nl = strlen(name);
	if (n < 0 || *o + nl + 1 + (size_t)n + 1 > cap)
		return -1;
	memcpy(buf + *o, name, nl + 1);
	*o += nl + 1;
	memcpy(buf + *o, num, (size_t)n + 1);
	*o += (size_t)n + 1;
	return 0;
}

size_t tftp_build_oack(const struct tftp_params *p, uint8_t *buf, size_t cap)
{
	if (cap < 2)
		return 0;
	put16(buf, TFTP_OACK);
	size_t o = 2;
	if ((p->oack & TFTP_OPT_BLKSIZE) && put_opt(buf, cap, &o, "blksize", p->blksize))
		return 0;
	if ((p->oack & TFTP_OPT_TIMEOUT) && put_opt(buf, cap, &o, "timeout", p->timeout_s))
		return 0;
	if ((p->oack & TFTP_OPT_TSIZE) && put_opt(buf, cap, &o, "tsize", p->tsize))
		return 0;
	if ((p->oack & TFTP_OPT_WINDOWSIZE) && put_opt(buf, cap, &o, "windowsize", p->windowsize))
		return 0;
	return o;
}

size_t tftp_build_error(enum tftp_err code, const char *msg, uint8_t *buf, size_t cap)
{
	size_t ml = msg ? strlen(msg) : 0;
	if (cap < TFTP_HDR + ml + 1)
		return 0;
	put16(buf, TFTP_ERROR);
	put16(buf + 2, (uint16_t)code);
	if (ml)
		memcpy(buf + TFTP_HDR, msg, ml);
	buf[TFTP_HDR + ml] = 0;
	return TFTP_HDR + ml + 1;
}

size_t tftp_build_ack(uint16_t block, uint8_t *buf, size_t cap)
{
	if (cap < TFTP_HDR)
		return 0;
	put16(buf, TFTP_ACK);
	put16(buf + 2, block);
	return TFTP_HDR;
}

void tftp_data_header(uint16_t block, uint8_t hdr[TFTP_HDR])
{
	put16(hdr, TFTP_DATA);
	put16(hdr + 2, block);
}

size_t tftp_build_data(uint16_t block, const void *data, size_t len, uint8_t *buf, size_t cap)
{
	if (len > TFTP_MAX_BLKSIZE || cap < TFTP_HDR + len)
		return 0;
	tftp_data_header(block, buf);
	if (len)
		memcpy(buf + TFTP_HDR, data, len);
	return TFTP_HDR + len;
}

size_t tftp_build_request(enum tftp_op op, const char *file, const char *mode, const char *const *opts, uint8_t *buf,
                          size_t cap)
{
	if (cap < 2)
		return 0;
	put16(buf, (uint16_t)op);
	size_t o = 2;
	const char *parts[2] = {file, mode};
	for (int i = 0; i < 2; i++) {
		size_t l = strlen(parts[i]);
		if (o + l + 1 > cap)
			return 0;
		memcpy(buf + o, parts[i], l + 1);
		o += l + 1;
	}
	for (size_t i = 0; opts && opts[i]; i++) {
		size_t l = strlen(opts[i]);
		if (o + l + 1 > cap)
			return 0;
		memcpy(buf + o, opts[i], l + 1);
		o += l + 1;
	}
	return o;
}

uint64_t tftp_block_unwrap(uint16_t wire, uint64_t lo) { return lo + (uint16_t)(wire - (uint16_t)lo); }

uint64_t tftp_block_count(uint64_t size, unsigned blksize) { return size / (blksize ? blksize : 1) + 1; }

enum tftp_ack_action tftp_ack_classify(uint64_t base, uint64_t win_end, uint16_t wire, uint64_t *acked)
{
	if (base == 0 || win_end + 1 < base)
		return TFTP_ACK_IGNORE;
	uint64_t k = tftp_block_unwrap(wire, base - 1);
	if (acked)
		*acked = k;
	if (k > win_end)
		return TFTP_ACK_IGNORE;
	if (k == win_end)
		return TFTP_ACK_WINDOW;
	if (k >= base)
		return TFTP_ACK_PARTIAL;
	return TFTP_ACK_IGNORE; /* k == base - 1: the ACK that opened this window, again */
}

void tftp_rtt_sample(struct tftp_rtt *r, uint64_t sample_us)
{
	if (!r->valid) {
		r->srtt_us = sample_us;
		r->rttvar_us = sample_us / 2;
		r->valid = 1;
		return;
	}
	uint64_t dev = r->srtt_us > sample_us ? r->srtt_us - sample_us : sample_us - r->srtt_us;
	r->rttvar_us = (3 * r->rttvar_us + dev) / 4;
	r->srtt_us = (7 * r->srtt_us + sample_us) / 8;
}

unsigned tftp_rto_ms(const struct tftp_rtt *r, unsigned min_ms, unsigned max_ms)
{
	if (!r->valid)
		return max_ms;
	uint64_t ms = (r->srtt_us + 4 * r->rttvar_us + 999) / 1000;
	if (ms < min_ms)
		ms = min_ms;
	return ms > max_ms ? max_ms : (unsigned)ms;
}

/* Poll for a packet expected after about est_us: 2 x est + 20, at most the budget; 0 when est exceeds it. */
static unsigned poll_for(uint64_t est_us, unsigned budget_us)
{
	if (!budget_us || est_us > budget_us)
		return 0;
	uint64_t us = 2 * est_us + 20;
	return us > budget_us ? budget_us : (unsigned)us;
}

unsigned tftp_spin_us(const struct tftp_rtt *r, unsigned n_sessions, unsigned budget_us)
{
	if (!r->valid || n_sessions == 0 || n_sessions > TFTP_SPIN_SESSIONS)
		return 0;
	return poll_for(r->srtt_us, budget_us);
}

void tftp_gap_sample(struct tftp_gap *g, uint64_t us)
{
	if (us > 1000000)
		us = 1000000;
	if (!g->valid) {
		g->avg_us = us;
		g->valid = 1;
		return;
	}
	g->avg_us = (7 * g->avg_us + us) / 8;
}

unsigned tftp_gap_spin_us(const struct tftp_gap *g, unsigned budget_us)
{
	return g->valid ? poll_for(g->avg_us, budget_us) : 0;
}

unsigned tftp_steer_pick(uint32_t addr_low, uint16_t port, unsigned n)
{
	return n ? (addr_low ^ port) % n : 0;
}

size_t tftp_steer_program(unsigned n, struct sock_filter *out)
{
	if (n == 0)
		return 0;
	if (n == 1) {
		out[0] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
		return 1;
	}
	/* The program sees the UDP payload; SKF_NET_OFF reaches back to the IP header. */
	const struct sock_filter p[] = {
	    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)SKF_NET_OFF),      /* A = version << 4 | IHL */
	    BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 8, 0),                    /* IPv6: to 11 */
	    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)SKF_NET_OFF),      /* IPv4 */
	    BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf),
	    BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 2),
	    BPF_STMT(BPF_MISC | BPF_TAX, 0),                                /* X = header length */
	    BPF_STMT(BPF_LD | BPF_H | BPF_IND, (uint32_t)SKF_NET_OFF),      /* A = source port */
	    BPF_STMT(BPF_MISC | BPF_TAX, 0),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12), /* A = source address */
	    BPF_STMT(BPF_JMP | BPF_JA, 3),                                  /* to 14 */
	    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, (uint32_t)SKF_NET_OFF + 40), /* IPv6: source port */
	    BPF_STMT(BPF_MISC | BPF_TAX, 0),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 20), /* last word of the source address */
	    BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
	    BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n),
	    BPF_STMT(BPF_RET | BPF_A, 0),
	};
	_Static_assert(sizeof p / sizeof p[0] == TFTP_STEER_MAX_INSNS, "TFTP_STEER_MAX_INSNS");
	memcpy(out, p, sizeof p);
	return ARRAY_SIZE(p);
}

uint64_t tftp_netascii_size(const uint8_t *in, size_t len)
{
	uint64_t n = len;
	for (size_t i = 0; i < len; i++)
		n += in[i] == '\n' || in[i] == '\r';
	return n;
}

size_t tftp_netascii_encode(const uint8_t *in, size_t inlen, size_t *consumed, uint8_t *out, size_t cap,
                            int *pending)
{
	size_t o = 0, i = 0;
	if (*pending >= 0 && o < cap) {
		out[o++] = (uint8_t)*pending;
		*pending = -1;
	}
	while (o < cap && i < inlen) {
		uint8_t c = in[i++];
		uint8_t first = c, second;
		if (c == '\n') {
			first = '\r';
			second = '\n';
		} else if (c == '\r') {
			second = 0;
		} else {
			out[o++] = c;
			continue;
		}
		out[o++] = first;
		if (o < cap)
			out[o++] = second;
		else
			*pending = second;
	}
	*consumed = i;
	return o;
}

const char *tftp_op_name(unsigned op)
{
	static const char *const names[] = {"?", "RRQ", "WRQ", "DATA", "ACK", "ERROR", "OACK"};
	return op < ARRAY_SIZE(names) ? names[op] : "?";
}
