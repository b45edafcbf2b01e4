/* check_tftp_proto.c - unit tests for the pure TFTP core: parse/build, negotiation, block arithmetic, netascii. */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tftp_proto.h"
#include "util.h"

/* Build a packet from a byte string with embedded NULs (length given explicitly). */
#define PKT(s) (const uint8_t *)(s), sizeof(s) - 1

START_TEST(test_parse_rrq_plain)
{
	struct tftp_request r;
	ck_assert_int_eq(tftp_parse_request(PKT("\0\1undionly.kpxe\0octet\0"), &r), 0);
	ck_assert_int_eq(r.op, TFTP_RRQ);
	ck_assert_uint_eq(r.file_len, 13);
	ck_assert_str_eq(r.file, "undionly.kpxe");
	ck_assert_int_eq(r.mode, TFTP_MODE_OCTET);
	ck_assert_uint_eq(r.opt.present, 0);
	ck_assert_uint_eq(r.opt.n_pairs, 0);
}
END_TEST

START_TEST(test_parse_wrq_netascii)
{
	struct tftp_request r;
	ck_assert_int_eq(tftp_parse_request(PKT("\0\2up.txt\0NetASCII\0"), &r), 0);
	ck_assert_int_eq(r.op, TFTP_WRQ);
	ck_assert_str_eq(r.file, "up.txt");
	ck_assert_int_eq(r.mode, TFTP_MODE_NETASCII);
}
END_TEST

START_TEST(test_parse_rrq_options)
{
	struct tftp_request r;
	ck_assert_int_eq(tftp_parse_request(PKT("\0\1f\0OCTET\0BlkSize\0001468\0TSIZE\0000\0timeout\0003\0"
	                                        "windowsize\0004\0x-vendor\0abc\0"),
	                                    &r),
	                 0);
	ck_assert_uint_eq(r.opt.present, TFTP_OPT_BLKSIZE | TFTP_OPT_TSIZE | TFTP_OPT_TIMEOUT | TFTP_OPT_WINDOWSIZE);
	ck_assert_uint_eq(r.opt.blksize, 1468);
	ck_assert_uint_eq(r.opt.tsize, 0);
	ck_assert_uint_eq(r.opt.timeout, 3);
	ck_assert_uint_eq(r.opt.windowsize, 4);
	ck_assert_uint_eq(r.opt.n_pairs, 5);
	ck_assert_uint_eq(r.opt.n_unknown, 1);
	ck_assert_uint_eq(r.opt.dangling, 0);
}
END_TEST

START_TEST(test_parse_duplicates_first_wins)
{
	struct tftp_request r;
	ck_assert_int_eq(tftp_parse_request(PKT("\0\1f\0octet\0blksize\0001024\0BLKSIZE\0008\0"), &r), 0);
	ck_assert_uint_eq(r.opt.blksize, 1024);
	ck_assert_uint_eq(r.opt.n_pairs, 2);
}
END_TEST

START_TEST(test_parse_non_numeric_value_ignored)
{
	struct tftp_request r;
	ck_assert_int_eq(tftp_parse_request(PKT("\0\1f\0octet\0blksize\0big\0tsize\0-1\0windowsize\0\0"), &r), 0);
	ck_assert_uint_eq(r.opt.present, 0);
	/* a later valid duplicate is used when the first one was not a number */
	ck_assert_int_eq(tftp_parse_request(PKT("\0\1f\0octet\0blksize\0x\0blksize\0999\0"), &r), 0);
	ck_assert_uint_eq(r.opt.present, TFTP_OPT_BLKSIZE);
	ck_assert_uint_eq(r.opt.blksize, 999);
}
END_TEST

START_TEST(test_parse_dangling_option)
{
	struct tftp_request r;
	/* name without value at the end: ignored, earlier options kept */
	ck_assert_int_eq(tftp_parse_request(PKT("\0\1f\0octet\0tsize\0000\0blksize\0"), &r), 0);
	ck_assert_uint_eq(r.opt.present, TFTP_OPT_TSIZE);
	ck_assert_uint_eq(r.opt.dangling, 1);
	/* value without its NUL */
	ck_assert_int_eq(tftp_parse_request(PKT("\0\1f\0octet\0blksize\0001468"), &r), 0);
	ck_assert_uint_eq(r.opt.present, 0);
	ck_assert_uint_eq(r.opt.dangling, 1);
	/* trailing junk without NUL after the mode (padding by some ROMs) */
	ck_assert_int_eq(tftp_parse_request(PKT("\0\1f\0octet\0junk"), &r), 0);
	ck_assert_uint_eq(r.opt.present, 0);
	ck_assert_uint_eq(r.opt.dangling, 0);
	/* NUL padding */
	ck_assert_int_eq(tftp_parse_request(PKT("\0\1f\0octet\0\0\0\0\0"), &r), 0);
	ck_assert_uint_eq(r.opt.n_pairs, 0);
}
END_TEST

static const struct {
	const char *pkt;
	size_t len;
	int rc;
} malformed[] = {
	{"", 0, -EINVAL},
	{"\0", 1, -EINVAL},
	{"\0\1", 2, -EINVAL},                         /* no file name */
	{"\0\1\0octet\0", 9, -EINVAL},                /* zero-length file name */
	{"\0\1file", 6, -EINVAL},                     /* no NUL after file name */
	{"\0\1file\0", 7, -EINVAL},                   /* no mode */
	{"\0\1file\0octet", 12, -EINVAL},             /* no NUL after mode */
	{"\0\1file\0\0", 8, -EINVAL},                 /* empty mode */
	{"\0\1file\0mail\0", 12, -EPROTONOSUPPORT},  /* obsolete mode */
	{"\0\1file\0binary\0", 14, -EPROTONOSUPPORT},
	{"\0\0file\0octet\0", 13, -EINVAL},           /* opcode 0 */
	{"\0\3file\0octet\0", 13, -EINVAL},           /* DATA is not a request */
	{"\0\11file\0octet\0", 13, -EINVAL},          /* opcode 9 */
	{"\377\377file\0octet\0", 13, -EINVAL},       /* opcode 65535 */
};

START_TEST(test_parse_request_malformed)
{
	struct tftp_request r;
	ck_assert_int_eq(tftp_parse_request((const uint8_t *)malformed[_i].pkt, malformed[_i].len, &r),
	                 malformed[_i].rc);
}
END_TEST

START_TEST(test_parse_request_null)
{
	struct tftp_request r;
	ck_assert_int_eq(tftp_parse_request(NULL, 10, &r), -EINVAL);
}
END_TEST

START_TEST(test_parse_huge_options_list)
{
	size_t cap = 65536;
	uint8_t *p = malloc(cap);
	size_t o = 0;
	memcpy(p, "\0\1f\0octet\0", 10);
	o = 10;
	for (int i = 0; i < 5000; i++) {
		memcpy(p + o, "xopt\0val\0", 9);
		o += 9;
	}
	memcpy(p + o, "blksize\0001468\0", 13);
	o += 13;
	struct tftp_request r;
	ck_assert_int_eq(tftp_parse_request(p, o, &r), 0);
	ck_assert_uint_eq(r.opt.n_pairs, 5001);
	ck_assert_uint_eq(r.opt.n_unknown, 5000);
	ck_assert_uint_eq(r.opt.present, TFTP_OPT_BLKSIZE);
	ck_assert_uint_eq(r.opt.blksize, 1468);
	free(p);
}
END_TEST

START_TEST(test_parse_packets)
{
	struct tftp_packet k;
	ck_assert_int_eq(tftp_parse_packet(PKT("\0\4\1\2"), &k), 0);
	ck_assert_int_eq(k.op, TFTP_ACK);
	ck_assert_uint_eq(k.block, 0x102);
	ck_assert_int_eq(tftp_parse_packet(PKT("\0\4\xff\xff\0\0"), &k), 0); /* padded ACK */
	ck_assert_uint_eq(k.block, 65535);
	ck_assert_int_eq(tftp_parse_packet(PKT("\0\4\1"), &k), -EINVAL);

	ck_assert_int_eq(tftp_parse_packet(PKT("\0\3\0\7abc"), &k), 0);
	ck_assert_int_eq(k.op, TFTP_DATA);
	ck_assert_uint_eq(k.block, 7);
	ck_assert_uint_eq(k.data_len, 3);
	ck_assert_int_eq(memcmp(k.data, "abc", 3), 0);
	ck_assert_int_eq(tftp_parse_packet(PKT("\0\3\0\0"), &k), 0);
	ck_assert_uint_eq(k.data_len, 0);

	ck_assert_int_eq(tftp_parse_packet(PKT("\0\5\0\10bad option\0"), &k), 0);
	ck_assert_int_eq(k.op, TFTP_ERROR);
	ck_assert_uint_eq(k.code, 8);
	ck_assert_uint_eq(k.msg_len, 10);
	ck_assert_int_eq(memcmp(k.msg, "bad option", 10), 0);
	ck_assert_int_eq(tftp_parse_packet(PKT("\0\5\0\1nonul"), &k), 0); /* tolerated */
	ck_assert_uint_eq(k.msg_len, 5);
	ck_assert_int_eq(tftp_parse_packet(PKT("\0\5\0"), &k), -EINVAL);

	ck_assert_int_eq(tftp_parse_packet(PKT("\0\6blksize\0008192\0tsize\00012\0"), &k), 0);
	ck_assert_int_eq(k.op, TFTP_OACK);
	ck_assert_uint_eq(k.opt.blksize, 8192);
	ck_assert_uint_eq(k.opt.tsize, 12);

	ck_assert_int_eq(tftp_parse_packet(PKT("\0\1f\0octet\0"), &k), -EINVAL);
	ck_assert_int_eq(tftp_parse_packet(PKT("\0\0\0\0"), &k), -EINVAL);
	ck_assert_int_eq(tftp_parse_packet(PKT("\0\11\0\0"), &k), -EINVAL);
	ck_assert_int_eq(tftp_parse_packet(PKT("\377\377\0\0"), &k), -EINVAL);
	ck_assert_int_eq(tftp_parse_packet(PKT("\0"), &k), -EINVAL);
	ck_assert_int_eq(tftp_parse_packet(NULL, 0, &k), -EINVAL);
}
END_TEST

START_TEST(test_parse_data_too_big)
{
	size_t len = TFTP_MAX_PACKET + 1;
	uint8_t *p = calloc(1, len);
	p[1] = TFTP_DATA;
	struct tftp_packet k;
	ck_assert_int_eq(tftp_parse_packet(p, len, &k), -EINVAL);
	ck_assert_int_eq(tftp_parse_packet(p, len - 1, &k), 0);
	ck_assert_uint_eq(k.data_len, TFTP_MAX_BLKSIZE);
	free(p);
}
END_TEST

/* Negotiation table: request bits/values, limits, size -> expected params. */
static const struct neg_case {
	unsigned present;
	unsigned long long blksize, timeout, tsize, windowsize;
	unsigned max_blk, mtu_blk, max_win, win_bytes;
	unsigned long long size;
	unsigned e_blk, e_win, e_timeout, e_oack;
	unsigned long long e_tsize;
} neg[] = {
	/* no options: no OACK, RFC 1350 defaults */
	{0, 0, 0, 0, 0, 1468, 0, 64, 0, 100, 512, 1, 0, 0, 0},
	/* blksize within limits */
	{TFTP_OPT_BLKSIZE, 1024, 0, 0, 0, 1468, 0, 64, 0, 100, 1024, 1, 0, TFTP_OPT_BLKSIZE, 0},
	/* clamp to config */
	{TFTP_OPT_BLKSIZE, 65464, 0, 0, 0, 1468, 0, 64, 0, 100, 1468, 1, 0, TFTP_OPT_BLKSIZE, 0},
	/* clamp to MTU */
	{TFTP_OPT_BLKSIZE, 65464, 0, 0, 0, 65464, 1432, 64, 0, 100, 1432, 1, 0, TFTP_OPT_BLKSIZE, 0},
	/* over the RFC maximum: clamped to 65464 */
	{TFTP_OPT_BLKSIZE, 100000, 0, 0, 0, 65464, 0, 64, 0, 100, 65464, 1, 0, TFTP_OPT_BLKSIZE, 0},
	/* minimum accepted */
	{TFTP_OPT_BLKSIZE, 8, 0, 0, 0, 1468, 0, 64, 0, 100, 8, 1, 0, TFTP_OPT_BLKSIZE, 0},
	/* below the minimum: ignored */
	{TFTP_OPT_BLKSIZE, 7, 0, 0, 0, 1468, 0, 64, 0, 100, 512, 1, 0, 0, 0},
	{TFTP_OPT_BLKSIZE, 0, 0, 0, 0, 1468, 0, 64, 0, 100, 512, 1, 0, 0, 0},
	/* a tiny config max never goes below 8 */
	{TFTP_OPT_BLKSIZE, 1468, 0, 0, 0, 4, 0, 64, 0, 100, 8, 1, 0, TFTP_OPT_BLKSIZE, 0},
	/* timeout */
	{TFTP_OPT_TIMEOUT, 0, 1, 0, 0, 1468, 0, 64, 0, 100, 512, 1, 1, TFTP_OPT_TIMEOUT, 0},
	{TFTP_OPT_TIMEOUT, 0, 255, 0, 0, 1468, 0, 64, 0, 100, 512, 1, 255, TFTP_OPT_TIMEOUT, 0},
	{TFTP_OPT_TIMEOUT, 0, 0, 0, 0, 1468, 0, 64, 0, 100, 512, 1, 0, 0, 0},
	{TFTP_OPT_TIMEOUT, 0, 256, 0, 0, 1468, 0, 64, 0, 100, 512, 1, 0, 0, 0},
	/* tsize answers the real size whatever the client sent */
	{TFTP_OPT_TSIZE, 0, 0, 0, 0, 1468, 0, 64, 0, 33554433, 512, 1, 0, TFTP_OPT_TSIZE, 33554433},
	{TFTP_OPT_TSIZE, 0, 0, 99, 0, 1468, 0, 64, 0, 1, 512, 1, 0, TFTP_OPT_TSIZE, 1},
	/* empty file: no tsize (curl refuses "tsize 0"), so no OACK at all */
	{TFTP_OPT_TSIZE, 0, 0, 0, 0, 1468, 0, 64, 0, 0, 512, 1, 0, 0, 0},
	{TFTP_OPT_TSIZE | TFTP_OPT_BLKSIZE, 1024, 0, 0, 0, 1468, 0, 64, 0, 0, 1024, 1, 0, TFTP_OPT_BLKSIZE, 0},
	/* windowsize */
	{TFTP_OPT_WINDOWSIZE, 0, 0, 0, 4, 1468, 0, 64, 0, 100, 512, 4, 0, TFTP_OPT_WINDOWSIZE, 0},
	{TFTP_OPT_WINDOWSIZE, 0, 0, 0, 1000, 1468, 0, 64, 0, 100, 512, 64, 0, TFTP_OPT_WINDOWSIZE, 0},
	{TFTP_OPT_WINDOWSIZE, 0, 0, 0, 1000000, 1468, 0, 100000, 0, 100, 512, 65535, 0, TFTP_OPT_WINDOWSIZE, 0},
	{TFTP_OPT_WINDOWSIZE, 0, 0, 0, 0, 1468, 0, 64, 0, 100, 512, 1, 0, 0, 0},
	{TFTP_OPT_WINDOWSIZE, 0, 0, 0, 8, 1468, 0, 0, 0, 100, 512, 1, 0, TFTP_OPT_WINDOWSIZE, 0},
	/* window bytes cap: 200000 / (2 * 8192 + 1400) = 11; / (1468 + 900) = 84 (so max_window 64 decides);
	 * / (2 * 65464 + 1400) = 1 */
	{TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE, 8192, 0, 0, 16, 65464, 0, 64, 200000, 100, 8192, 11, 0,
	 TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE, 0},
	{TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE, 65464, 0, 0, 16, 65464, 0, 64, 200000, 100, 65464, 1, 0,
	 TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE, 0},
	{TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE, 1468, 0, 0, 64, 1468, 0, 64, 200000, 100, 1468, 64, 0,
	 TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE, 0},
	{TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE, 1468, 0, 0, 1000, 1468, 0, 1000, 200000, 100, 1468, 84, 0,
	 TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE, 0},
	{TFTP_OPT_WINDOWSIZE, 0, 0, 0, 1000, 1468, 0, 1000, 200000, 100, 512, 141, 0, TFTP_OPT_WINDOWSIZE, 0},
	{TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE, 65464, 0, 0, 16, 65464, 0, 64, 1000, 100, 65464, 1, 0,
	 TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE, 0},
	/* everything (EDK2: blksize 1468, windowsize 4, tsize 0) */
	{TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE | TFTP_OPT_TSIZE, 1468, 0, 0, 4, 1468, 0, 64, 0, 5000, 1468, 4, 0,
	 TFTP_OPT_BLKSIZE | TFTP_OPT_WINDOWSIZE | TFTP_OPT_TSIZE, 5000},
};

START_TEST(test_negotiate_table)
{
	const struct neg_case *c = &neg[_i];
	struct tftp_options o = {.present = c->present,
	                         .blksize = c->blksize,
	                         .timeout = c->timeout,
	                         .tsize = c->tsize,
	                         .windowsize = c->windowsize};
	struct tftp_limits lim = {
	    .max_blksize = c->max_blk, .mtu_blksize = c->mtu_blk, .max_window = c->max_win, .window_bytes = c->win_bytes};
	struct tftp_params p;
	tftp_negotiate(&o, &lim, c->size, &p);
	ck_assert_uint_eq(p.blksize, c->e_blk);
	ck_assert_uint_eq(p.windowsize, c->e_win);
	ck_assert_uint_eq(p.timeout_s, c->e_timeout);
	ck_assert_uint_eq(p.oack, c->e_oack);
	ck_assert_uint_eq(p.tsize, c->e_tsize);
}
END_TEST

START_TEST(test_truesize)
{
	ck_assert_uint_eq(tftp_truesize(512), 1412);
	ck_assert_uint_eq(tftp_truesize(1500), 2400);
	ck_assert_uint_eq(tftp_truesize(1501), 4402);
	ck_assert_uint_eq(tftp_truesize(65464), 132328);
}
END_TEST

START_TEST(test_negotiate_from_packet_unknown_ignored)
{
	struct tftp_request r;
	ck_assert_int_eq(tftp_parse_request(PKT("\0\1f\0octet\0multicast\0\0rollover\0000\0"), &r), 0);
	struct tftp_limits lim = {1468, 0, 64, 0};
	struct tftp_params p;
	tftp_negotiate(&r.opt, &lim, 10, &p);
	ck_assert_uint_eq(p.oack, 0); /* only unknown options: no OACK, DATA 1 directly */
	ck_assert_uint_eq(p.blksize, 512);
}
END_TEST

START_TEST(test_build_oack_roundtrip)
{
	struct tftp_params p = {.blksize = 1468,
	                        .windowsize = 4,
	                        .timeout_s = 5,
	                        .tsize = 123456789012ULL,
	                        .oack = TFTP_OPT_BLKSIZE | TFTP_OPT_TIMEOUT | TFTP_OPT_TSIZE | TFTP_OPT_WINDOWSIZE};
	uint8_t buf[128];
	size_t n = tftp_build_oack(&p, buf, sizeof buf);
	static const char want[] = "\0\6blksize\0001468\0timeout\0005\0tsize\000123456789012\0windowsize\0004\0";
	ck_assert_uint_eq(n, sizeof want - 1);
	ck_assert_int_eq(memcmp(buf, want, n), 0);
	struct tftp_packet k;
	ck_assert_int_eq(tftp_parse_packet(buf, n, &k), 0);
	ck_assert_uint_eq(k.opt.blksize, 1468);
	ck_assert_uint_eq(k.opt.timeout, 5);
	ck_assert_uint_eq(k.opt.tsize, 123456789012ULL);
	ck_assert_uint_eq(k.opt.windowsize, 4);
	/* only what was negotiated */
	p.oack = TFTP_OPT_TSIZE;
	n = tftp_build_oack(&p, buf, sizeof buf);
	ck_assert_uint_eq(n, 2 + 6 + 13);
	/* too small a buffer */
	p.oack = TFTP_OPT_BLKSIZE | TFTP_OPT_TSIZE;
	ck_assert_uint_eq(tftp_build_oack(&p, buf, 15), 0);
	ck_assert_uint_eq(tftp_build_oack(&p, buf, 1), 0);
}
END_TEST

START_TEST(test_build_small_packets)
{
	uint8_t buf[64];
	ck_assert_uint_eq(tftp_build_ack(0xabcd, buf, sizeof buf), 4);
	ck_assert_int_eq(memcmp(buf, "\0\4\xab\xcd", 4), 0);
	ck_assert_uint_eq(tftp_build_ack(1, buf, 3), 0);

	size_t n = tftp_build_error(TFTP_EBADID, "Unknown transfer ID", buf, sizeof buf);
	ck_assert_uint_eq(n, 4 + 19 + 1);
	struct tftp_packet k;
	ck_assert_int_eq(tftp_parse_packet(buf, n, &k), 0);
	ck_assert_uint_eq(k.code, 5);
	ck_assert_uint_eq(k.msg_len, 19);
	ck_assert_uint_eq(tftp_build_error(TFTP_EUNDEF, NULL, buf, sizeof buf), 5);
	ck_assert_uint_eq(tftp_build_error(TFTP_EUNDEF, "server busy, retry", buf, 10), 0);

	n = tftp_build_data(65535, "xyz", 3, buf, sizeof buf);
	ck_assert_uint_eq(n, 7);
	ck_assert_int_eq(memcmp(buf, "\0\3\xff\xffxyz", 7), 0);
	ck_assert_uint_eq(tftp_build_data(1, "xyz", 3, buf, 6), 0);
	ck_assert_uint_eq(tftp_build_data(1, buf, TFTP_MAX_BLKSIZE + 1, buf, sizeof buf), 0);
	uint8_t hdr[4];
	tftp_data_header(256, hdr);
	ck_assert_int_eq(memcmp(hdr, "\0\3\1\0", 4), 0);

	const char *opts[] = {"blksize", "1468", NULL};
	n = tftp_build_request(TFTP_RRQ, "a/b", "octet", opts, buf, sizeof buf);
	struct tftp_request r;
	ck_assert_int_eq(tftp_parse_request(buf, n, &r), 0);
	ck_assert_str_eq(r.file, "a/b");
	ck_assert_uint_eq(r.opt.blksize, 1468);
	ck_assert_uint_eq(tftp_build_request(TFTP_RRQ, "a/b", "octet", opts, buf, 12), 0);
	ck_assert_uint_eq(tftp_build_request(TFTP_RRQ, "a/b", "octet", NULL, buf, 5), 0);
	ck_assert_str_eq(tftp_op_name(TFTP_OACK), "OACK");
	ck_assert_str_eq(tftp_op_name(0), "?");
	ck_assert_str_eq(tftp_op_name(9), "?");
}
END_TEST

START_TEST(test_block_arithmetic)
{
	ck_assert_uint_eq(tftp_wire_block(65535), 65535);
	ck_assert_uint_eq(tftp_wire_block(65536), 0);
	ck_assert_uint_eq(tftp_wire_block(65537), 1);
	ck_assert_uint_eq(tftp_wire_block(3ULL << 16 | 7), 7);
	ck_assert_uint_eq(tftp_block_unwrap(0, 65535), 65536);
	ck_assert_uint_eq(tftp_block_unwrap(65535, 65535), 65535);
	ck_assert_uint_eq(tftp_block_unwrap(5, 65530), 65541);
	ck_assert_uint_eq(tftp_block_unwrap(5, 0), 5);
	ck_assert_uint_eq(tftp_block_unwrap(4, 5), 65540);
	ck_assert_uint_eq(tftp_block_count(0, 512), 1);
	ck_assert_uint_eq(tftp_block_count(511, 512), 1);
	ck_assert_uint_eq(tftp_block_count(512, 512), 2); /* exact multiple: a final empty block */
	ck_assert_uint_eq(tftp_block_count(65536ULL * 512 + 1, 512), 65537);
	ck_assert_uint_eq(tftp_block_count(65536ULL * 512, 512), 65537);
}
END_TEST

static const struct ack_case {
	uint64_t base, win_end;
	uint16_t wire;
	enum tftp_ack_action act;
	uint64_t acked;
} acks[] = {
	{1, 0, 0, TFTP_ACK_WINDOW, 0},            /* ACK 0 for the OACK */
	{1, 0, 1, TFTP_ACK_IGNORE, 1},            /* ACK 1 before DATA 1 was sent */
	{1, 1, 1, TFTP_ACK_WINDOW, 1},            /* lock-step */
	{1, 1, 0, TFTP_ACK_IGNORE, 0},            /* duplicate ACK 0 after DATA 1 went out */
	{5, 8, 8, TFTP_ACK_WINDOW, 8},
	{5, 8, 6, TFTP_ACK_PARTIAL, 6},
	{5, 8, 5, TFTP_ACK_PARTIAL, 5},
	{5, 8, 4, TFTP_ACK_IGNORE, 4},            /* the ACK that opened this window: duplicate */
	{5, 8, 9, TFTP_ACK_IGNORE, 9},            /* from the future */
	{5, 8, 3, TFTP_ACK_IGNORE, 65539},        /* long ago: unwraps beyond the window */
	{65534, 65537, 1, TFTP_ACK_WINDOW, 65537}, /* across the rollover */
	{65534, 65537, 0, TFTP_ACK_PARTIAL, 65536},
	{65534, 65537, 65535, TFTP_ACK_PARTIAL, 65535},
	{65537, 65537, 0, TFTP_ACK_IGNORE, 65536},
	{65537, 65537, 1, TFTP_ACK_WINDOW, 65537},
	{0, 0, 0, TFTP_ACK_IGNORE, 0},            /* invalid state */
	{5, 2, 2, TFTP_ACK_IGNORE, 0},
};

/* Adaptive busy-poll: only a few transfers, only a known RTT within the budget; 2 x SRTT + 20 us, capped. */
START_TEST(test_spin_budget)
{
	struct tftp_rtt r = {0};
	ck_assert_uint_eq(tftp_spin_us(&r, 1, 200), 0); /* no sample yet */
	r.valid = 1;
	r.srtt_us = 30;
	ck_assert_uint_eq(tftp_spin_us(&r, 1, 200), 80);
	ck_assert_uint_eq(tftp_spin_us(&r, TFTP_SPIN_SESSIONS, 200), 80);
	ck_assert_uint_eq(tftp_spin_us(&r, TFTP_SPIN_SESSIONS + 1, 200), 0); /* a busier loop: tftp_gap_spin_us */
	ck_assert_uint_eq(tftp_spin_us(&r, 0, 200), 0);
	ck_assert_uint_eq(tftp_spin_us(&r, 1, 0), 0); /* TFTPBusyPoll: 0 */
	r.srtt_us = 150;
	ck_assert_uint_eq(tftp_spin_us(&r, 1, 200), 200); /* 320 capped at the budget */
	r.srtt_us = 201;
	ck_assert_uint_eq(tftp_spin_us(&r, 1, 200), 0); /* slower than the budget: sleep */
	r.srtt_us = 1000000;                            /* a PXE ROM a millisecond away, or worse */
	ck_assert_uint_eq(tftp_spin_us(&r, 1, 1000), 0);
}
END_TEST

/* A busy loop's wait estimate: first sample as is, then 1/8 steps; polled only when within the budget. */
START_TEST(test_gap_budget)
{
	struct tftp_gap g = {0};
	ck_assert_uint_eq(tftp_gap_spin_us(&g, 200), 0); /* nothing measured yet */
	tftp_gap_sample(&g, 40);
	ck_assert_uint_eq(g.avg_us, 40);
	ck_assert_uint_eq(tftp_gap_spin_us(&g, 200), 100);
	ck_assert_uint_eq(tftp_gap_spin_us(&g, 0), 0);
	tftp_gap_sample(&g, 5000000); /* one long wait (capped at 1 s) lifts it above any budget */
	ck_assert_uint_eq(g.avg_us, (7 * 40 + 1000000) / 8);
	ck_assert_uint_eq(tftp_gap_spin_us(&g, 1000), 0);
	for (int i = 0; i < 60; i++) /* and steady short waits bring it back */
		tftp_gap_sample(&g, 30);
	ck_assert_uint_lt(g.avg_us, 100);
	ck_assert_uint_gt(tftp_gap_spin_us(&g, 200), 0);
	tftp_gap_sample(&g, 0);
	ck_assert_uint_le(tftp_gap_spin_us(&g, 200), 200);
}
END_TEST

/* The RFC 6298 estimator and the clamped timeout derived from it. */
START_TEST(test_rtt)
{
	struct tftp_rtt r = {0};
	ck_assert_uint_eq(tftp_rto_ms(&r, 10, 1000), 1000); /* no sample yet: the configured timeout */
	tftp_rtt_sample(&r, 40000);                         /* first: srtt = R, rttvar = R/2 */
	ck_assert_uint_eq(r.srtt_us, 40000);
	ck_assert_uint_eq(r.rttvar_us, 20000);
	ck_assert_uint_eq(tftp_rto_ms(&r, 10, 1000), 120); /* 40 + 4 x 20 ms */
	ck_assert_uint_eq(tftp_rto_ms(&r, 10, 100), 100);  /* clamped to the maximum */
	tftp_rtt_sample(&r, 80000);                         /* rttvar = (3x20000 + 40000)/4, srtt = (7x40000 + 80000)/8 */
	ck_assert_uint_eq(r.rttvar_us, 25000);
	ck_assert_uint_eq(r.srtt_us, 45000);
	ck_assert_uint_eq(tftp_rto_ms(&r, 10, 1000), 145);
	/* a LAN: samples of 50 us converge on the floor, never below it */
	for (int i = 0; i < 100; i++)
		tftp_rtt_sample(&r, 50);
	ck_assert_uint_lt(r.srtt_us, 1000);
	ck_assert_uint_eq(tftp_rto_ms(&r, 10, 1000), 10);
	/* rounding is up: 1001 us of srtt is 2 ms */
	struct tftp_rtt q = {.srtt_us = 1001, .rttvar_us = 0, .valid = 1};
	ck_assert_uint_eq(tftp_rto_ms(&q, 1, 1000), 2);
	/* a sudden slow sample raises the timeout at once (the deviation term) */
	tftp_rtt_sample(&r, 500000);
	ck_assert_uint_gt(tftp_rto_ms(&r, 10, 1000), 400);
}
END_TEST

START_TEST(test_ack_classify)
{
	const struct ack_case *c = &acks[_i];
	uint64_t k = 0;
	ck_assert_int_eq(tftp_ack_classify(c->base, c->win_end, c->wire, &k), c->act);
	ck_assert_uint_eq(k, c->acked);
}
END_TEST

START_TEST(test_netascii)
{
	static const uint8_t in[] = "a\nb\r\nc\rd";
	size_t inlen = sizeof in - 1;
	static const uint8_t want[] = "a\r\nb\r\0\r\nc\r\0d";
	size_t wantlen = sizeof want - 1;
	ck_assert_uint_eq(tftp_netascii_size(in, inlen), wantlen);
	ck_assert_uint_eq(tftp_netascii_size(in, 0), 0);

	/* every output chunk size gives the same stream */
	for (size_t cap = 1; cap <= wantlen + 1; cap++) {
		uint8_t out[64];
		size_t o = 0, off = 0;
		int pending = -1;
		for (int guard = 0; guard < 100; guard++) {
			size_t used;
			size_t n = tftp_netascii_encode(in + off, inlen - off, &used, out + o, cap, &pending);
			off += used;
			o += n;
			if (n < cap)
				break;
		}
		ck_assert_uint_eq(o, wantlen);
		ck_assert_int_eq(memcmp(out, want, wantlen), 0);
		ck_assert_int_eq(pending, -1);
	}
	/* split pair: CR goes now, LF is owed */
	uint8_t out[4];
	size_t used;
	int pending = -1;
	ck_assert_uint_eq(tftp_netascii_encode((const uint8_t *)"x\n", 2, &used, out, 2, &pending), 2);
	ck_assert_uint_eq(used, 2);
	ck_assert_int_eq(pending, '\n');
	ck_assert_uint_eq(tftp_netascii_encode((const uint8_t *)"", 0, &used, out, 4, &pending), 1);
	ck_assert_int_eq(out[0], '\n');
	ck_assert_int_eq(pending, -1);
	/* cap 0 writes nothing and consumes nothing */
	ck_assert_uint_eq(tftp_netascii_encode((const uint8_t *)"x", 1, &used, out, 0, &pending), 0);
	ck_assert_uint_eq(used, 0);
}
END_TEST

/* n sockets in one SO_REUSEPORT group on the loopback address of family af, the first on a port the kernel picks. */
static int reuse_group(int af, int *fd, unsigned n, struct sockaddr_storage *ss, socklen_t *sl)
{
	memset(ss, 0, sizeof *ss);
	if (af == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*sl = sizeof *a;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		*sl = sizeof *a;
	}
	for (unsigned i = 0; i < n; i++) {
		int one = 1;
		fd[i] = socket(af, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (fd[i] < 0 || setsockopt(fd[i], SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
		    bind(fd[i], (struct sockaddr *)ss, *sl) != 0)
			return -1;
		if (i == 0 && getsockname(fd[0], (struct sockaddr *)ss, sl) != 0)
			return -1;
	}
	return 0;
}

/* Which of the n group sockets holds a datagram (it is read), -1 if none after 1 s. */
static int holder(const int *fd, unsigned n)
{
	struct pollfd p[8];
	for (unsigned i = 0; i < n; i++)
		p[i] = (struct pollfd){.fd = fd[i], .events = POLLIN};
	if (poll(p, n, 1000) <= 0)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		char b[16];
		if ((p[i].revents & POLLIN) && recv(fd[i], b, sizeof b, 0) >= 0)
			return (int)i;
	}
	return -1;
}

/* The steering program, run by the kernel on a real SO_REUSEPORT group: every datagram from 40 client ports reaches
 * the socket tftp_steer_pick names; with one loop, socket 0. */
static void steer_case(int af, unsigned n)
{
	int g[8];
	struct sockaddr_storage ss;
	socklen_t sl;
	if (reuse_group(af, g, n, &ss, &sl) != 0) {
		ck_assert_msg(af == AF_INET6, "IPv4 loopback group: %s", strerror(errno));
		return; /* no IPv6 loopback here */
	}
	struct sock_filter insns[TFTP_STEER_MAX_INSNS];
	struct sock_fprog prog = {.len = (unsigned short)tftp_steer_program(n, insns), .filter = insns};
	ck_assert_int_eq(prog.len, n == 1 ? 1 : TFTP_STEER_MAX_INSNS);
	ck_assert_msg(setsockopt(g[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) == 0, "attach: %s",
	              strerror(errno));
	unsigned seen[8] = {0};
	for (int i = 0; i < 40; i++) {
		int c = socket(af, SOCK_DGRAM, 0);
		ck_assert_int_ge(c, 0);
		ck_assert_int_eq(connect(c, (struct sockaddr *)&ss, sl), 0); /* getsockname: the source address too */
		ck_assert_int_eq(send(c, "x", 1, 0), 1);
		struct sockaddr_storage me;
		socklen_t ml = sizeof me;
		ck_assert_int_eq(getsockname(c, (struct sockaddr *)&me, &ml), 0);
		uint32_t low;
		uint16_t port;
		if (af == AF_INET) {
			low = ntohl(((struct sockaddr_in *)&me)->sin_addr.s_addr);
			port = ntohs(((struct sockaddr_in *)&me)->sin_port);
		} else {
			const uint8_t *a = ((struct sockaddr_in6 *)&me)->sin6_addr.s6_addr;
			low = (uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 | (uint32_t)a[14] << 8 | a[15];
			port = ntohs(((struct sockaddr_in6 *)&me)->sin6_port);
		}
		int want = (int)tftp_steer_pick(low, port, n), got = holder(g, n);
		ck_assert_msg(got == want, "client port %u: socket %d, want %d (of %u)", port, got, want, n);
		seen[got]++;
		close(c);
	}
	for (unsigned i = 0; i < n; i++) /* 40 ports spread over every socket */
		ck_assert_msg(seen[i] > 0, "socket %u of %u got none of 40", i, n);
	for (unsigned i = 0; i < n; i++)
		close(g[i]);
}

START_TEST(test_steer)
{
	ck_assert_uint_eq(tftp_steer_program(0, NULL), 0);
	ck_assert_uint_eq(tftp_steer_pick(0x7f000001, 5, 0), 0);
	ck_assert_uint_eq(tftp_steer_pick(0x7f000001, 5, 3), (0x7f000001u ^ 5u) % 3);
	steer_case(AF_INET, 1);
	steer_case(AF_INET, 2);
	steer_case(AF_INET, 3);
	steer_case(AF_INET6, 1);
	steer_case(AF_INET6, 3);
}
END_TEST

Suite *tftp_proto_suite(void)
{
	Suite *s = suite_create("tftp_proto");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_rrq_plain);
	tcase_add_test(tc, test_parse_wrq_netascii);
	tcase_add_test(tc, test_parse_rrq_options);
	tcase_add_test(tc, test_parse_duplicates_first_wins);
	tcase_add_test(tc, test_parse_non_numeric_value_ignored);
	tcase_add_test(tc, test_parse_dangling_option);
	tcase_add_loop_test(tc, test_parse_request_malformed, 0, (int)ARRAY_SIZE(malformed));
	tcase_add_test(tc, test_parse_request_null);
	tcase_add_test(tc, test_parse_huge_options_list);
	tcase_add_test(tc, test_parse_packets);
	tcase_add_test(tc, test_parse_data_too_big);
	suite_add_tcase(s, tc);
	tc = tcase_create("negotiate");
	tcase_add_loop_test(tc, test_negotiate_table, 0, (int)ARRAY_SIZE(neg));
	tcase_add_test(tc, test_negotiate_from_packet_unknown_ignored);
	tcase_add_test(tc, test_truesize);
	suite_add_tcase(s, tc);
	tc = tcase_create("build");
	tcase_add_test(tc, test_build_oack_roundtrip);
	tcase_add_test(tc, test_build_small_packets);
	suite_add_tcase(s, tc);
	tc = tcase_create("blocks");
	tcase_add_test(tc, test_block_arithmetic);
	tcase_add_loop_test(tc, test_ack_classify, 0, (int)ARRAY_SIZE(acks));
	tcase_add_test(tc, test_netascii);
	tcase_add_test(tc, test_rtt);
	tcase_add_test(tc, test_spin_budget);
	tcase_add_test(tc, test_gap_budget);
	tcase_add_test(tc, test_steer);
	suite_add_tcase(s, tc);
	return s;
}
