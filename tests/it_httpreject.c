/* it_httpreject.c - integration test: requests libmicrohttpd refuses itself get an access line and a metric. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

static const char config[] = "version: 1\n"
                             "DefaultDistro: debian/bookworm/latest/overlayfs\n"
                             "RootfsPath: @ROOTFS@\n"
                             "CmdlineTemplates:\n"
                             "  overlayfs: root=/dev/nfs ip=dhcp rootovl\n"
                             "Watch: false\n";

static struct itest_server srv;

static void setup(void)
{
	ck_assert_int_eq(itest_prepare(&srv), 0);
	ck_assert_int_eq(itest_write_config(&srv, config), 0);
	ck_assert_msg(itest_start(&srv, 0, 1, NULL) == 0, "server did not start (log %s)", srv.log);
}

static void teardown(void)
{
	int rc = itest_stop(&srv);
	ck_assert_msg(rc == 0, "server exit status %d (see %s)", rc, srv.log);
	itest_cleanup(&srv);
}

/* Send `len` bytes on a fresh connection and return the status code of the answer (0: none, the connection was
 * closed without one). */
static unsigned raw_request(const char *req, size_t len)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.http_port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	/* The server may answer and close before it has read everything (a line too long for its buffer): a
	 * failed send after that is expected, the answer is what counts. */
	for (size_t off = 0; off < len;) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	char buf[512];
	size_t got = 0;
	while (got < sizeof buf - 1) {
		ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	unsigned status = 0;
	if (sscanf(buf, "HTTP/1.%*c %u", &status) != 1)
		status = 0;
	return status;
}

/* Wait (up to 5 s) for the server log to contain needle: the line is written when the connection closes. */
static int log_has(const char *needle)
{
	for (int i = 0; i < 100; i++) {
		if (itest_log_contains(&srv, needle))
			return 1;
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* The value of one /metrics sample (exact name with labels), 0 if it is absent. */
static long long metric(const char *sample)
{
	long long v = itest_metric(&srv, sample);
	return v < 0 ? 0 : v;
}

#define REJ(st) "autopxe_http_requests_total{route=\"rejected\",status=\"" st "\"}"

START_TEST(rejected_requests_are_logged_and_counted)
{
	ck_assert_int_eq(metric(REJ("414")), 0);
	ck_assert_int_eq(metric(REJ("431")), 0);
	ck_assert_int_eq(metric(REJ("400")), 0);

	/* A 64 KiB URL: the request line does not fit MHD's buffer, so it answers before any callback of ours. */
	size_t ulen = 64 * 1024;
	char *req = malloc(ulen + 64);
	ck_assert_ptr_nonnull(req);
	memcpy(req, "GET /", 5);
	memset(req + 5, 'a', ulen);
	int n = snprintf(req + 5 + ulen, 59, " HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_uint_eq(raw_request(req, 5 + ulen + (size_t)n), 414);
	ck_assert_msg(log_has("http 127.0.0.1 - \"-\" 414 0 "), "no access line for the 414 (log %s)", srv.log);

	/* A 30,000-byte header after a good request line: MHD had told us of the request, the line has its path. */
	n = snprintf(req, ulen, "GET /big-header HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + n, 'b', 30000);
	memcpy(req + n + 30000, "\r\n\r\n", 4);
	ck_assert_uint_eq(raw_request(req, (size_t)n + 30004), 431);
	ck_assert_msg(log_has("http 127.0.0.1 - \"/big-header\" 431 0 "), "no access line for the 431 (log %s)", srv.log);
	free(req);

	/* A garbage request line (binary, too many words) and a malformed header line: 400 from MHD, before and after
	 * it told us of the request. */
	static const char garbage[] = "\x01\x02 \x7f junk junk\r\n\r\n";
	ck_assert_uint_eq(raw_request(garbage, sizeof garbage - 1), 400);
	ck_assert_msg(log_has("http 127.0.0.1 - \"-\" 400 0 "), "no access line for the garbage line (log %s)", srv.log);
	static const char badhdr[] = "GET /bad-header HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n";
	ck_assert_uint_eq(raw_request(badhdr, sizeof badhdr - 1), 400);
	ck_assert_msg(log_has("http 127.0.0.1 - \"/bad-header\" 400 0 "), "no access line for the bad header (log %s)",
	              srv.log);
	ck_assert(itest_log_contains(&srv, "(rejected by libmicrohttpd)"));

	ck_assert_int_eq(metric(REJ("414")), 1);
	ck_assert_int_eq(metric(REJ("431")), 1);
	ck_assert_int_eq(metric(REJ("400")), 2);

	/* The server is still serving. */
	char *out = NULL;
	ck_assert_int_eq(itest_run(&out, "curl -sS --fail http://127.0.0.1:%u/autopxe-52-54-00-00-00-01", srv.http_port),
	                 0);
	ck_assert_msg(out && strncmp(out, "#!ipxe", 6) == 0, "no menu after the rejections: %.60s", out ? out : "");
	free(out);
	ck_assert(log_has("GET \"/autopxe-52-54-00-00-00-01\" 200"));
	/* a good request on a kept-alive connection, then its close, adds no rejection */
	ck_assert_int_eq(metric(REJ("400")), 2);
	ck_assert_int_eq(metric(REJ("414")), 1);
}
END_TEST

START_TEST(bare_connections_are_not_rejections)
{
	/* connect and close without a byte, and a one-word line MHD closes without an answer: no access line, no
	 * count (nothing was answered) */
	ck_assert_uint_eq(raw_request("", 0), 0);
	ck_assert_uint_eq(raw_request("GARBAGE\r\n\r\n", 11), 0);
	static const char ok[] = "GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	ck_assert_uint_eq(raw_request(ok, sizeof ok - 1), 404);
	ck_assert(log_has("GET \"/ok\" 404"));
	ck_assert(!itest_log_contains(&srv, "rejected by libmicrohttpd"));
	ck_assert_int_eq(metric(REJ("400")), 0);
}
END_TEST

Suite *httpreject_it_suite(void)
{
	Suite *s = suite_create("httpreject_it");
	TCase *tc = tcase_create("mhd_rejects");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, rejected_requests_are_logged_and_counted);
	tcase_add_test(tc, bare_connections_are_not_rejections);
	suite_add_tcase(s, tc);
	return s;
}
