/* check_http_range.c - unit tests for the pure HTTP helpers: Range, ETag, HTTP-date, conditionals, path decoding. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdint.h>
#include <string.h>

#include "http_range.h"

#define R_NONE HTTP_RANGE_NONE
#define R_INV HTTP_RANGE_INVALID
#define R_MULTI HTTP_RANGE_MULTI
#define R_PART HTTP_RANGE_PARTIAL
#define R_416 HTTP_RANGE_UNSATISFIABLE

static const struct range_case {
	const char *hdr;
	uint64_t size;
	enum http_range_result want;
	uint64_t start, len;
} range_cases[] = {
	{NULL, 1000, R_NONE, 0, 0},
	{"bytes=0-0", 1000, R_PART, 0, 1},
	{"bytes=0-", 1000, R_PART, 0, 1000},
	{"bytes=5-", 1000, R_PART, 5, 995},
	{"bytes=999-", 1000, R_PART, 999, 1},
	{"bytes=999-999", 1000, R_PART, 999, 1},
	{"bytes=-1", 1000, R_PART, 999, 1},
	{"bytes=-500", 1000, R_PART, 500, 500},
	{"bytes=-1000", 1000, R_PART, 0, 1000},
	{"bytes=-5000", 1000, R_PART, 0, 1000},
	{"bytes=0-999999", 1000, R_PART, 0, 1000},
	{"bytes=10-19", 1000, R_PART, 10, 10},
	{"bytes=0-18446744073709551615", 1000, R_PART, 0, 1000},
	{"bytes=0-99999999999999999999999999", 1000, R_PART, 0, 1000},
	{"bytes=-99999999999999999999999999", 1000, R_PART, 0, 1000},
	{"Bytes=1-2", 1000, R_PART, 1, 2},
	{"BYTES=1-2", 1000, R_PART, 1, 2},
	{"  bytes = 1-2  ", 1000, R_PART, 1, 2},
	{"bytes= 1-2", 1000, R_PART, 1, 2},
	{"bytes=1-2,", 1000, R_PART, 1, 2},
	{"bytes=,1-2", 1000, R_PART, 1, 2},
	{"bytes=1-2 ,", 1000, R_PART, 1, 2},
	/* beyond the end */
	{"bytes=1000-", 1000, R_416, 0, 0},
	{"bytes=1000-2000", 1000, R_416, 0, 0},
	{"bytes=99999999999999999999999-", 1000, R_416, 0, 0},
	{"bytes=-0", 1000, R_416, 0, 0},
	{"bytes=0-", 0, R_416, 0, 0},
	{"bytes=-5", 0, R_416, 0, 0},
	{"bytes=0-0", 0, R_416, 0, 0},
	/* invalid: ignored */
	{"bytes=10-5", 1000, R_INV, 0, 0},
	{"bytes=", 1000, R_INV, 0, 0},
	{"bytes=,", 1000, R_INV, 0, 0},
	{"bytes", 1000, R_INV, 0, 0},
	{"bytes 0-1", 1000, R_INV, 0, 0},
	{"bytes=-", 1000, R_INV, 0, 0},
	{"bytes=--1", 1000, R_INV, 0, 0},
	{"bytes=a-b", 1000, R_INV, 0, 0},
	{"bytes=1", 1000, R_INV, 0, 0},
	{"bytes=1-2x", 1000, R_INV, 0, 0},
	{"bytes=1 - 2", 1000, R_INV, 0, 0},
	{"bytes=+1-2", 1000, R_INV, 0, 0},
	{"bytes=1-2;x", 1000, R_INV, 0, 0},
	{"items=0-1", 1000, R_INV, 0, 0},
	{"byte=0-1", 1000, R_INV, 0, 0},
	{"bytesx=0-1", 1000, R_INV, 0, 0},
	{"", 1000, R_INV, 0, 0},
	{"garbage", 1000, R_INV, 0, 0},
	{"bytes=0-1,10-5", 1000, R_INV, 0, 0},
	{"bytes=0-1,x", 1000, R_INV, 0, 0},
	/* several ranges: whole entity, unless none is satisfiable */
	{"bytes=0-1,5-6", 1000, R_MULTI, 0, 0},
	{"bytes=0-1, 5-6", 1000, R_MULTI, 0, 0},
	{"bytes=2000-3000,0-0", 1000, R_MULTI, 0, 0},
	{"bytes=2000-3000,4000-", 1000, R_416, 0, 0},
	{"bytes=-0,-0", 1000, R_416, 0, 0},
};

START_TEST(test_range_table)
{
	const struct range_case *c = &range_cases[_i];
	uint64_t s = 12345, l = 67890;
	enum http_range_result r = http_range_parse(c->hdr, c->size, &s, &l);
	ck_assert_msg(r == c->want, "[%d] '%s' size %llu: got %d want %d", _i, c->hdr ? c->hdr : "(null)",
	              (unsigned long long)c->size, r, c->want);
	if (c->want == R_PART) {
		ck_assert_msg(s == c->start && l == c->len, "[%d] '%s': got %llu+%llu want %llu+%llu", _i, c->hdr,
		              (unsigned long long)s, (unsigned long long)l, (unsigned long long)c->start,
		              (unsigned long long)c->len);
	} else {
		ck_assert_msg(s == 12345 && l == 67890, "[%d] outputs touched on non-partial result", _i);
	}
}
END_TEST

START_TEST(test_range_huge_size)
{
	uint64_t s, l;
	ck_assert_int_eq(http_range_parse("bytes=18446744073709551614-", UINT64_MAX, &s, &l), R_PART);
	ck_assert_uint_eq(s, UINT64_MAX - 1);
	ck_assert_uint_eq(l, 1);
	ck_assert_int_eq(http_range_parse("bytes=-18446744073709551615", UINT64_MAX, &s, &l), R_PART);
	ck_assert_uint_eq(s, 0);
	ck_assert_uint_eq(l, UINT64_MAX);
}
END_TEST

START_TEST(test_etag_format)
{
	char e[HTTP_ETAG_MAX];
	http_etag_format(0x1000, 0x17f0a1b2c3d4e5f6ULL, 0x2a, e, sizeof(e));
	ck_assert_str_eq(e, "\"1000-17f0a1b2c3d4e5f6-2a\"");
	http_etag_format(UINT64_MAX, UINT64_MAX, UINT64_MAX, e, sizeof(e));
	ck_assert_str_eq(e, "\"ffffffffffffffff-ffffffffffffffff-ffffffffffffffff\"");
	ck_assert_uint_lt(strlen(e), HTTP_ETAG_MAX);
}
END_TEST

static const struct etag_case {
	const char *hdr;
	int want;
} etag_cases[] = {
	{NULL, 0},
	{"\"abc-1-2\"", 1},
	{"W/\"abc-1-2\"", 1},
	{"*", 1},
	{" * ", 1},
	{"\"x\", \"abc-1-2\"", 1},
	{"\"x\",W/\"abc-1-2\"", 1},
	{"\"x\" , \"y\" ,\"abc-1-2\"", 1},
	{",,\"abc-1-2\"", 1},
	{"\"abc-1-2\" ", 1},
	{"\"abc-1-3\"", 0},
	{"\"abc-1-2", 0},
	{"abc-1-2", 0},
	{"\"ABC-1-2\"", 0},
	{"w/\"abc-1-2\"", 0},
	{"\"x\" \"abc-1-2\"", 0},
	{"\"x\", garbage, \"abc-1-2\"", 0},
	{"\"\"", 0},
	{"", 0},
	{"*, \"x\"", 0},
	{"\"abc-1-2\"x", 0},
	{"\"abc 1-2\"", 0},
};

START_TEST(test_etag_match_table)
{
	const struct etag_case *c = &etag_cases[_i];
	ck_assert_msg(http_etag_match(c->hdr, "\"abc-1-2\"") == c->want, "[%d] '%s' want %d", _i,
	              c->hdr ? c->hdr : "(null)", c->want);
}
END_TEST

START_TEST(test_etag_match_bad_etag)
{
	ck_assert_int_eq(http_etag_match("*", NULL), 0);
	ck_assert_int_eq(http_etag_match("\"a\"", "a"), 0);
	ck_assert_int_eq(http_etag_match("\"a\"", "\""), 0);
}
END_TEST

static const struct date_case {
	const char *s;
	int ok;
	long long t;
} date_cases[] = {
	{"Sun, 06 Nov 1994 08:49:37 GMT", 1, 784111777},
	{"Sunday, 06-Nov-94 08:49:37 GMT", 1, 784111777},
	{"Sun Nov  6 08:49:37 1994", 1, 784111777},
	{"Sun Nov 16 08:49:37 1994", 1, 784975777},
	{"  Sun, 06 Nov 1994 08:49:37 GMT  ", 1, 784111777},
	{"Thu, 01 Jan 1970 00:00:00 GMT", 1, 0},
	{"Tue, 29 Feb 2000 12:00:00 GMT", 1, 951825600},
	{"Fri, 31 Dec 2049 23:59:59 GMT", 1, 2524607999},
	{"Wednesday, 01-Jan-30 00:00:00 GMT", 1, 1893456000},
	{"Thursday, 01-Jan-70 00:00:00 GMT", 1, 0},
	/* malformed */
	{"", 0, 0},
	{"yesterday", 0, 0},
	{"Sun, 06 Nov 1994 08:49:37", 0, 0},
	{"Sun, 06 Nov 1994 08:49:37 UTC", 0, 0},
	{"Sun, 6 Nov 1994 08:49:37 GMT", 0, 0},
	{"Sun, 06 Foo 1994 08:49:37 GMT", 0, 0},
	{"Xyz, 06 Nov 1994 08:49:37 GMT", 0, 0},
	{"Sun, 06 Nov 1994 24:00:00 GMT", 0, 0},
	{"Sun, 06 Nov 1994 08:60:00 GMT", 0, 0},
	{"Sun, 06 Nov 1994 08:49:61 GMT", 0, 0},
	{"Sun, 00 Nov 1994 08:49:37 GMT", 0, 0},
	{"Sun, 31 Nov 1994 08:49:37 GMT", 0, 0},
	{"Mon, 29 Feb 1900 00:00:00 GMT", 0, 0},
	{"Sun, 06 Nov 1994 08:49:37 GMT x", 0, 0},
	{"Sun, 06 Nov 94 08:49:37 GMT", 0, 0},
	{"Sun Nov 6 08:49:37 1994", 0, 0},
	{"Sunday, 06-Nov-1994 08:49:37 GMT", 0, 0},
	{"Sun, 06 Nov 1994 8:49:37 GMT", 0, 0},
	{"Sun,", 0, 0},
	{"Sun ", 0, 0},
};

START_TEST(test_date_parse_table)
{
	const struct date_case *c = &date_cases[_i];
	time_t t = 42;
	int rc = http_date_parse(c->s, &t);
	if (c->ok) {
		ck_assert_msg(rc == 0, "[%d] '%s' rejected", _i, c->s);
		ck_assert_msg((long long)t == c->t, "[%d] '%s' got %lld want %lld", _i, c->s, (long long)t, c->t);
	} else {
		ck_assert_msg(rc == -EINVAL, "[%d] '%s' accepted", _i, c->s);
		ck_assert_int_eq((long long)t, 42);
	}
}
END_TEST

START_TEST(test_date_null)
{
	time_t t;
	ck_assert_int_eq(http_date_parse(NULL, &t), -EINVAL);
}
END_TEST

START_TEST(test_date_format_roundtrip)
{
	static const long long ts[] = {0, 784111777, 951825600, 1700000000, 2524607999};
	char buf[HTTP_DATE_MAX];
	http_date_format(784111777, buf, sizeof(buf));
	ck_assert_str_eq(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
	ck_assert_uint_eq(strlen(buf) + 1, HTTP_DATE_MAX);
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		time_t t;
		http_date_format((time_t)ts[i], buf, sizeof(buf));
		ck_assert_int_eq(http_date_parse(buf, &t), 0);
		ck_assert_int_eq((long long)t, ts[i]);
	}
}
END_TEST

START_TEST(test_not_modified)
{
	const char *etag = "\"10-20-30\"";
	time_t mtime = 784111777;
	/* If-None-Match */
	ck_assert_int_eq(http_not_modified("\"10-20-30\"", NULL, etag, mtime), 1);
	ck_assert_int_eq(http_not_modified("\"other\"", NULL, etag, mtime), 0);
	/* If-None-Match wins over a matching If-Modified-Since */
	ck_assert_int_eq(http_not_modified("\"other\"", "Sun, 06 Nov 1994 08:49:37 GMT", etag, mtime), 0);
	ck_assert_int_eq(http_not_modified("\"10-20-30\"", "Thu, 01 Jan 1970 00:00:00 GMT", etag, mtime), 1);
	/* If-Modified-Since alone */
	ck_assert_int_eq(http_not_modified(NULL, "Sun, 06 Nov 1994 08:49:37 GMT", etag, mtime), 1);
	ck_assert_int_eq(http_not_modified(NULL, "Sun, 06 Nov 1994 08:49:38 GMT", etag, mtime), 1);
	ck_assert_int_eq(http_not_modified(NULL, "Sun, 06 Nov 1994 08:49:36 GMT", etag, mtime), 0);
	ck_assert_int_eq(http_not_modified(NULL, "not a date", etag, mtime), 0);
	ck_assert_int_eq(http_not_modified(NULL, NULL, etag, mtime), 0);
}
END_TEST

START_TEST(test_if_range)
{
	const char *etag = "\"10-20-30\"";
	time_t mtime = 784111777;
	ck_assert_int_eq(http_if_range_ok(NULL, etag, mtime), 1);
	ck_assert_int_eq(http_if_range_ok("\"10-20-30\"", etag, mtime), 1);
	ck_assert_int_eq(http_if_range_ok(" \"10-20-30\" ", etag, mtime), 1);
	ck_assert_int_eq(http_if_range_ok("\"10-20-31\"", etag, mtime), 0);
	ck_assert_int_eq(http_if_range_ok("W/\"10-20-30\"", etag, mtime), 0);
	ck_assert_int_eq(http_if_range_ok("Sun, 06 Nov 1994 08:49:37 GMT", etag, mtime), 1);
	ck_assert_int_eq(http_if_range_ok("Sun, 06 Nov 1994 08:49:38 GMT", etag, mtime), 0);
	ck_assert_int_eq(http_if_range_ok("garbage", etag, mtime), 0);
}
END_TEST

static const struct path_case {
	const char *raw;
	int rc;
	const char *want;
} path_cases[] = {
	{"/", 0, "/"},
	{"/autopxe-bc2411b01ade", 0, "/autopxe-bc2411b01ade"},
	{"/a%20b", 0, "/a b"},
	{"/a+b", 0, "/a+b"},
	{"/%2e%2e/%2E%2E%2Fetc", 0, "/../../etc"},
	{"/%252e%252e", 0, "/%2e%2e"},
	{"/x?y=%00", 0, "/x"},
	{"/x#frag", 0, "/x"},
	{"/%41%62%7e", 0, "/Ab~"},
	{"/%c3%a9", 0, "/\xc3\xa9"},
	{"/a\\b", 0, "/a\\b"},
	{"http://host:80/metrics?x", 0, "/metrics"},
	{"HTTP://host", 0, "/"},
	{"https://host?x", 0, "/"},
	{"/%00", -EINVAL, NULL},
	{"/a%00b", -EINVAL, NULL},
	{"/%0a", -EINVAL, NULL},
	{"/%0D%0A", -EINVAL, NULL},
	{"/%1f", -EINVAL, NULL},
	{"/%7f", -EINVAL, NULL},
	{"/a\tb", -EINVAL, NULL},
	{"/a\x7f", -EINVAL, NULL},
	{"/%", -EINVAL, NULL},
	{"/%4", -EINVAL, NULL},
	{"/%zz", -EINVAL, NULL},
	{"/%4g", -EINVAL, NULL},
	{"/%%41", -EINVAL, NULL},
	{"", -EINVAL, NULL},
	{"*", -EINVAL, NULL},
	{"foo/bar", -EINVAL, NULL},
	{"?x", -EINVAL, NULL},
	{"http://ho\x01st/", -EINVAL, NULL},
};

START_TEST(test_path_decode_table)
{
	const struct path_case *c = &path_cases[_i];
	char out[256];
	size_t n = 999;
	int rc = http_path_decode(c->raw, strlen(c->raw), out, sizeof(out), &n);
	ck_assert_msg(rc == c->rc, "[%d] '%s' rc %d want %d", _i, c->raw, rc, c->rc);
	if (rc == 0) {
		ck_assert_str_eq(out, c->want);
		ck_assert_uint_eq(n, strlen(c->want));
	} else {
		ck_assert_uint_eq(n, 999);
	}
}
END_TEST

START_TEST(test_path_decode_limits)
{
	char out[8];
	size_t n;
	/* exactly fits: 7 bytes + NUL */
	ck_assert_int_eq(http_path_decode("/abcdef", 7, out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 7);
	ck_assert_int_eq(http_path_decode("/abcdefg", 8, out, sizeof(out), &n), -ENAMETOOLONG);
	ck_assert_int_eq(http_path_decode("/%61bcdef", 9, out, sizeof(out), &n), 0);
	ck_assert_str_eq(out, "/abcdef");
	/* rawlen bounds the input: the byte after it is not read */
	ck_assert_int_eq(http_path_decode("/ab%41", 4, out, sizeof(out), &n), -EINVAL);
	ck_assert_int_eq(http_path_decode("/abXX", 3, out, sizeof(out), &n), 0);
	ck_assert_str_eq(out, "/ab");
	ck_assert_int_eq(http_path_decode("/", 1, out, 1, &n), -ENAMETOOLONG);
	ck_assert_int_eq(http_path_decode("http://h", 8, out, 1, &n), -ENAMETOOLONG);
	ck_assert_int_eq(http_path_decode(NULL, 0, out, sizeof(out), &n), -EINVAL);
	ck_assert_int_eq(http_path_decode("/", 1, out, 0, &n), -EINVAL);
}
END_TEST

static const struct addr_case {
	int family;
	const char *addr;
	const char *text;
	int loopback;
} addr_cases[] = {
	{AF_INET, "127.0.0.1", "127.0.0.1", 1},
	{AF_INET, "127.255.0.9", "127.255.0.9", 1},
	{AF_INET, "128.0.0.1", "128.0.0.1", 0},
	{AF_INET, "192.0.2.7", "192.0.2.7", 0},
	{AF_INET, "10.127.0.1", "10.127.0.1", 0},
	{AF_INET6, "::1", "::1", 1},
	{AF_INET6, "::2", "::2", 0},
	{AF_INET6, "2001:db8::1", "2001:db8::1", 0},
	{AF_INET6, "::ffff:127.0.0.1", "127.0.0.1", 1},
	{AF_INET6, "::ffff:192.0.2.9", "192.0.2.9", 0},
	{AF_INET6, "fe80::1", "fe80::1", 0},
};

START_TEST(test_addr_text)
{
	const struct addr_case *c = &addr_cases[_i];
	struct sockaddr_storage ss;
	char out[64];
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)c->family;
	if (c->family == AF_INET)
		ck_assert_int_eq(inet_pton(AF_INET, c->addr, &((struct sockaddr_in *)&ss)->sin_addr), 1);
	else
		ck_assert_int_eq(inet_pton(AF_INET6, c->addr, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
	ck_assert_int_eq(http_addr_text((struct sockaddr *)&ss, out, sizeof(out)), c->loopback);
	ck_assert_str_eq(out, c->text);
}
END_TEST

START_TEST(test_addr_text_odd)
{
	struct sockaddr_storage ss;
	char out[8];
	memset(&ss, 0, sizeof(ss));
	ck_assert_int_eq(http_addr_text(NULL, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "?");
	ss.ss_family = AF_UNIX;
	ck_assert_int_eq(http_addr_text((struct sockaddr *)&ss, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "?");
	/* too small for the text: still terminated, still classified */
	ss.ss_family = AF_INET6;
	inet_pton(AF_INET6, "::1", &((struct sockaddr_in6 *)&ss)->sin6_addr);
	ck_assert_int_eq(http_addr_text((struct sockaddr *)&ss, out, 2), 1);
	ck_assert_uint_le(strlen(out), 1);
	ck_assert_int_eq(http_addr_text((struct sockaddr *)&ss, NULL, 0), 1);
}
END_TEST

Suite *http_range_suite(void)
{
	Suite *s = suite_create("http_range");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_range_table, 0, (int)(sizeof(range_cases) / sizeof(range_cases[0])));
	tcase_add_test(tc, test_range_huge_size);
	tcase_add_test(tc, test_etag_format);
	tcase_add_loop_test(tc, test_etag_match_table, 0, (int)(sizeof(etag_cases) / sizeof(etag_cases[0])));
	tcase_add_test(tc, test_etag_match_bad_etag);
	tcase_add_loop_test(tc, test_date_parse_table, 0, (int)(sizeof(date_cases) / sizeof(date_cases[0])));
	tcase_add_test(tc, test_date_null);
	tcase_add_test(tc, test_date_format_roundtrip);
	tcase_add_test(tc, test_not_modified);
	tcase_add_test(tc, test_if_range);
	tcase_add_loop_test(tc, test_path_decode_table, 0, (int)(sizeof(path_cases) / sizeof(path_cases[0])));
	tcase_add_test(tc, test_path_decode_limits);
	tcase_add_loop_test(tc, test_addr_text, 0, (int)(sizeof(addr_cases) / sizeof(addr_cases[0])));
	tcase_add_test(tc, test_addr_text_odd);
	suite_add_tcase(s, tc);
	return s;
}
