/* check_mac.c - unit tests for MAC parsing (every spelling, every rejection) and formatting. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "mac.h"

static const uint8_t BC[6] = {0xbc, 0x24, 0x11, 0xb0, 0x1a, 0xde};

static const char *const good[] = {
    "bc2411b01ade",         "BC2411B01ADE",         "Bc2411B01aDe",         "bc:24:11:b0:1a:de",
    "BC:24:11:B0:1A:DE",    "bc-24-11-b0-1a-de",    "BC-24-11-B0-1A-DE",    "bc24.11b0.1ade",
    "BC24.11B0.1ADE",       "01-bc-24-11-b0-1a-de", "01:bc:24:11:b0:1a:de", "01-BC-24-11-B0-1A-DE",
};

START_TEST(test_good_spellings)
{
	uint8_t m[6];
	memset(m, 0x55, sizeof m);
	ck_assert_int_eq(mac_parse_str(good[_i], m), 0);
	ck_assert_mem_eq(m, BC, 6);
	/* the length-bounded form must not read past len: append junk after it */
	char buf[64];
	size_t n = strlen(good[_i]);
	memcpy(buf, good[_i], n);
	memcpy(buf + n, "ff:ff", 6);
	memset(m, 0, sizeof m);
	ck_assert_int_eq(mac_parse(buf, n, m), 0);
	ck_assert_mem_eq(m, BC, 6);
}
END_TEST

static const char *const bad[] = {
    "",                        /* empty */
    "bc2411b01ad",             /* 11 digits */
    "bc2411b01adef",           /* 13 digits */
    "bc2411b01adeff",          /* 14 digits */
    "01bc2411b01ade",          /* 01 prefix without separators */
    "bc:24:11:b0:1a",          /* five groups */
    "bc:24:11:b0:1a:de:ff",    /* seven groups */
    "bc:24-11:b0:1a:de",       /* mixed separators */
    "bc-24-11-b0-1a:de",       /* mixed separators at the end */
    "bc.24.11.b0.1a.de",       /* dots between pairs */
    "bc:24:11:b0:1a:dg",       /* non-hex */
    "zz:11:22:33:44:55",       /* non-hex */
    "bc:24:11:b0:1a:d ",       /* space */
    " bc2411b01ade",           /* leading space */
    "bc2411b01ade ",           /* trailing space */
    "bc24:11b0:1ade",          /* Cisco groups with colons */
    "bc24.11b0-1ade",          /* Cisco mixed */
    "bc2.411b0.1ade",          /* Cisco misplaced dot */
    "b:c24:11:b0:1a:de",       /* misplaced separator */
    "bc::24:11:b0:1a:de",      /* 18 characters */
    "01-bc-24-11-b0-1a-d",     /* 01 prefix, last group short */
    "01-bc-24-11-b0-1a-de-ff", /* 01 prefix, one group long */
    "01-bc:24:11:b0:1a:de",    /* 01 prefix with another separator */
    "02-bc-24-11-b0-1a-de",    /* other ARP hardware type */
    "01-bc24.11b0.1ade",       /* 01 prefix on the Cisco form */
    "0x-bc-24-11-b0-1a-de",    /* garbage prefix */
    "bc:24:11:b0:1a:+e",       /* sign */
};

START_TEST(test_bad_spellings)
{
	uint8_t m[6] = {1, 2, 3, 4, 5, 6};
	const uint8_t orig[6] = {1, 2, 3, 4, 5, 6};
	ck_assert_int_eq(mac_parse_str(bad[_i], m), -EINVAL);
	ck_assert_mem_eq(m, orig, 6); /* untouched on failure */
}
END_TEST

START_TEST(test_embedded_nul_and_null)
{
	uint8_t m[6];
	ck_assert_int_eq(mac_parse("bc2411\0b01ade", 13, m), -EINVAL);
	ck_assert_int_eq(mac_parse("bc2411\0\0b01a", 12, m), -EINVAL);
	ck_assert_int_eq(mac_parse(NULL, 12, m), -EINVAL);
	ck_assert_int_eq(mac_parse_str(NULL, m), -EINVAL);
	/* a length shorter than the string only sees the prefix */
	ck_assert_int_eq(mac_parse("bc2411b01ade", 11, m), -EINVAL);
}
END_TEST

static const struct {
	uint8_t mac[6];
	const char *raw, *colon;
} fmt[] = {
    {{0xbc, 0x24, 0x11, 0xb0, 0x1a, 0xde}, "bc2411b01ade", "bc:24:11:b0:1a:de"},
    {{0, 0, 0, 0, 0, 0}, "000000000000", "00:00:00:00:00:00"},
    {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "ffffffffffff", "ff:ff:ff:ff:ff:ff"},
    {{0x01, 0x23, 0x45, 0x67, 0x89, 0xab}, "0123456789ab", "01:23:45:67:89:ab"},
    {{0x0a, 0xf0, 0x0f, 0xa0, 0x09, 0x90}, "0af00fa00990", "0a:f0:0f:a0:09:90"},
};

START_TEST(test_format)
{
	char raw[13], colon[18];
	memset(raw, 'x', sizeof raw);
	memset(colon, 'x', sizeof colon);
	mac_hexraw(fmt[_i].mac, raw);
	mac_colon(fmt[_i].mac, colon);
	ck_assert_str_eq(raw, fmt[_i].raw);
	ck_assert_str_eq(colon, fmt[_i].colon);
	/* and both parse back to the same bytes */
	uint8_t m[6];
	ck_assert_int_eq(mac_parse_str(raw, m), 0);
	ck_assert_mem_eq(m, fmt[_i].mac, 6);
	ck_assert_int_eq(mac_parse_str(colon, m), 0);
	ck_assert_mem_eq(m, fmt[_i].mac, 6);
}
END_TEST

/* Every byte value survives hexraw -> parse and colon -> parse. */
START_TEST(test_roundtrip_all_bytes)
{
	for (int v = 0; v < 256; v++) {
		uint8_t in[6] = {(uint8_t)v, (uint8_t)(255 - v), (uint8_t)(v ^ 0x5a), 0, (uint8_t)v, 0xff};
		uint8_t out[6];
		char raw[13], colon[18];
		mac_hexraw(in, raw);
		mac_colon(in, colon);
		ck_assert_int_eq(strlen(raw), 12);
		ck_assert_int_eq(strlen(colon), 17);
		ck_assert_int_eq(mac_parse_str(raw, out), 0);
		ck_assert_mem_eq(in, out, 6);
		ck_assert_int_eq(mac_parse_str(colon, out), 0);
		ck_assert_mem_eq(in, out, 6);
	}
}
END_TEST

Suite *mac_suite(void)
{
	Suite *s = suite_create("mac");
	TCase *tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_good_spellings, 0, sizeof good / sizeof good[0]);
	tcase_add_loop_test(tc, test_bad_spellings, 0, sizeof bad / sizeof bad[0]);
	tcase_add_test(tc, test_embedded_nul_and_null);
	suite_add_tcase(s, tc);
	tc = tcase_create("format");
	tcase_add_loop_test(tc, test_format, 0, sizeof fmt / sizeof fmt[0]);
	tcase_add_test(tc, test_roundtrip_all_bytes);
	suite_add_tcase(s, tc);
	return s;
}
