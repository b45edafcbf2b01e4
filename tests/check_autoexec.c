/* check_autoexec.c - unit tests for the dynamic autoexec.ipxe script (hosts, ports, listeners, base URL, errors). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoexec.h"
#include "config.h"
#include "diag.h"

#define MENU "autopxe-${netX/mac:hexraw}"
#define HTTP_LINE(url) "imgfetch --name autopxe-menu " url " && goto autopxe-run ||\n"

static struct config *load_yaml(const char *yaml)
{
	struct config *c = NULL;
	struct diag d;
	char full[512], first[512] = "?";
	snprintf(full, sizeof full, "%sRootfsPath: /pxe/rootfs\n", yaml);
	diag_init(&d);
	int rc = config_load_buffer(full, strlen(full), "/tmp/autoexec-test.yaml", &c, &d);
	if (d.n)
		snprintf(first, sizeof first, "%s", d.items[0].msg);
	diag_free(&d);
	ck_assert_msg(rc == 0, "config did not load: %s", first);
	return c;
}

/* Render with cfg and host; assert success; return the text (caller frees). */
static char *render_ok(const struct config *c, const char *host)
{
	sbuf b = SBUF_INIT;
	ck_assert_int_eq(autoexec_render(c, host, &b), 0);
	ck_assert_ptr_nonnull(b.data);
	ck_assert_uint_eq(strlen(b.data), b.len);
	return sbuf_steal(&b);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

START_TEST(test_default_config_shape)
{
	struct config *c = config_new_default();
	char *s = render_ok(c, "192.0.2.1");
	ck_assert_msg(strncmp(s, "#!ipxe\n", 7) == 0, "must start with the #!ipxe magic: %s", s);
	ck_assert_ptr_nonnull(strstr(s, "prompt --key 0x02 --timeout 2000 Press Ctrl-B for the iPXE command line... "
	                                "&& shell ||\n"));
	ck_assert_ptr_nonnull(strstr(s, "\ndhcp && goto autopxe-fetch ||\n"));
	ck_assert_ptr_nonnull(strstr(s, "\nsleep 3\ngoto autopxe-dhcp\n"));
	const char *h = strstr(s, HTTP_LINE("http://192.0.2.1:80/" MENU));
	const char *t = strstr(s, HTTP_LINE("tftp://192.0.2.1:69/" MENU));
	ck_assert_msg(h && t && h < t, "HTTP first, then TFTP:\n%s", s);
	ck_assert_ptr_nonnull(strstr(s, "echo autopxe: HTTP failed, trying TFTP\n"));
	ck_assert_ptr_nonnull(strstr(s, "(DHCP, HTTP and TFTP tried)"));
	/* failure loops back instead of leaving a dead shell; success runs the fetched menu and exits */
	ck_assert_ptr_nonnull(strstr(s, "\ngoto autopxe-start\n:autopxe-run\nimgexec --autofree autopxe-menu\nexit\n"));
	ck_assert_msg(str_ends_with(s, "\nexit\n"), "ends with exit");
	ck_assert_ptr_null(strstr(s, "next-server"));
	/* every goto has its label, exactly once */
	static const char *const labels[] = {"autopxe-start", "autopxe-dhcp", "autopxe-fetch", "autopxe-fail",
	                                     "autopxe-run"};
	for (size_t i = 0; i < ARRAY_SIZE(labels); i++) {
		char lab[64];
		snprintf(lab, sizeof lab, "\n:%s\n", labels[i]);
		ck_assert_uint_eq(count(s, lab), 1);
	}
	free(s);
	config_free(c);
}
END_TEST

static const struct {
	const char *host;
	const char *http_url; /* expected HTTP URL prefix */
} hosts[] = {
    {"192.0.2.1", "http://192.0.2.1:80/"},
    {"10.0.2.2", "http://10.0.2.2:80/"},
    {"2001:db8::1", "http://[2001:db8::1]:80/"},
    {"[2001:db8::1]", "http://[2001:db8::1]:80/"},
    {"::1", "http://[::1]:80/"},
    {"pxe.example.org", "http://pxe.example.org:80/"},
    {"PXE-1", "http://PXE-1:80/"},
};

START_TEST(test_hosts)
{
	struct config *c = config_new_default();
	char *s = render_ok(c, hosts[_i].host);
	char want[256];
	snprintf(want, sizeof want, "imgfetch --name autopxe-menu %s" MENU " && goto autopxe-run ||\n",
	         hosts[_i].http_url);
	ck_assert_msg(strstr(s, want), "host %s: no '%s' in\n%s", hosts[_i].host, want, s);
	free(s);
	config_free(c);
}
END_TEST

static const char *const bad_hosts[] = {
    "a b", "192.0.2.1/x", "${evil}", "[]", "[pxe.example]", "a\nb", "fe80::1%eth0", "[::1", "::1]", "host:80\t",
    "x;y", "a'b", "\x7f",
};

START_TEST(test_bad_hosts)
{
	struct config *c = config_new_default();
	sbuf b = SBUF_INIT;
	ck_assert_int_eq(sbuf_puts(&b, "keep"), 0);
	ck_assert_int_eq(autoexec_render(c, bad_hosts[_i], &b), -EINVAL);
	ck_assert_str_eq(b.data, "keep");
	ck_assert_uint_eq(b.len, 4);
	sbuf_free(&b);
	config_free(c);
}
END_TEST

START_TEST(test_host_too_long)
{
	struct config *c = config_new_default();
	char name[300];
	memset(name, 'a', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	sbuf b = SBUF_INIT;
	ck_assert_int_eq(autoexec_render(c, name, &b), -EINVAL);
	name[253] = '\0'; /* the longest DNS name is fine */
	ck_assert_int_eq(autoexec_render(c, name, &b), 0);
	sbuf_free(&b);
	config_free(c);
}
END_TEST

START_TEST(test_next_server_when_host_unknown)
{
	struct config *c = config_new_default();
	const char *const unknown[] = {NULL, ""};
	for (size_t i = 0; i < ARRAY_SIZE(unknown); i++) {
		char *s = render_ok(c, unknown[i]);
		ck_assert_ptr_nonnull(strstr(s, "\n:autopxe-fetch\nset autopxe-server ${next-server}\n"));
		ck_assert_ptr_nonnull(strstr(s, "isset ${autopxe-server} || goto autopxe-fail\n"));
		ck_assert_ptr_nonnull(strstr(s, HTTP_LINE("http://${autopxe-server}:80/" MENU)));
		ck_assert_ptr_nonnull(strstr(s, HTTP_LINE("tftp://${autopxe-server}:69/" MENU)));
		free(s);
	}
	config_free(c);
}
END_TEST

static const struct {
	const char *yaml;
	const char *present[3];
	const char *absent[3];
} listeners[] = {
    {"version: 1\nHTTPListen: 0.0.0.0:8080\nTFTPListen: :6969\n",
     {HTTP_LINE("http://192.0.2.1:8080/" MENU), HTTP_LINE("tftp://192.0.2.1:6969/" MENU), "HTTP and TFTP tried"},
     {":80/", ":69/", NULL}},
    {"version: 1\nHTTPListen: \"off\"\n",
     {HTTP_LINE("tftp://192.0.2.1:69/" MENU), "(DHCP, TFTP tried)", NULL},
     {"http://", "HTTP failed", NULL}},
    {"version: 1\nTFTPListen: \"off\"\nHTTPListen: 127.0.0.1:8081\n",
     {HTTP_LINE("http://192.0.2.1:8081/" MENU), "(DHCP, HTTP tried)", NULL},
     {"tftp://", "trying TFTP", NULL}},
    {"version: 1\nHTTPBaseURL: http://boot.example/pxe\n",
     {HTTP_LINE("http://boot.example/pxe/" MENU), HTTP_LINE("tftp://192.0.2.1:69/" MENU), NULL},
     {"http://192.0.2.1", "pxe//", NULL}},
    {"version: 1\nHTTPBaseURL: http://boot.example:8080/\n",
     {HTTP_LINE("http://boot.example:8080/" MENU), NULL, NULL},
     {"8080//", NULL, NULL}},
    {"version: 1\nHTTPBaseURL: https://boot.example/\nTFTPListen: \"off\"\n",
     {HTTP_LINE("https://boot.example/" MENU), NULL, NULL},
     {"tftp://", NULL, NULL}},
    /* HTTP off: the base URL is not used at all */
    {"version: 1\nHTTPBaseURL: http://boot.example/\nHTTPListen: \"off\"\n",
     {HTTP_LINE("tftp://192.0.2.1:69/" MENU), NULL, NULL},
     {"boot.example", NULL, NULL}},
};

START_TEST(test_listeners_and_base_url)
{
	struct config *c = load_yaml(listeners[_i].yaml);
	char *s = render_ok(c, "192.0.2.1");
	for (size_t k = 0; k < 3; k++) {
		if (listeners[_i].present[k])
			ck_assert_msg(strstr(s, listeners[_i].present[k]), "case %d: missing '%s' in\n%s", _i,
			              listeners[_i].present[k], s);
		if (listeners[_i].absent[k])
			ck_assert_msg(!strstr(s, listeners[_i].absent[k]), "case %d: unexpected '%s' in\n%s", _i,
			              listeners[_i].absent[k], s);
	}
	free(s);
	config_free(c);
}
END_TEST

static const char *const bad_base_urls[] = {
    "ftp://boot.example/", "http://", "https://", "http:///x", "http://a b/", "boot.example/", "http://a\x01/",
    "http://\xc3\xa9/",
};

START_TEST(test_bad_base_url)
{
	struct config *c = config_new_default();
	c->http_base_url = xstrdup(bad_base_urls[_i]);
	sbuf b = SBUF_INIT;
	ck_assert_int_eq(autoexec_render(c, "192.0.2.1", &b), -EINVAL);
	ck_assert_uint_eq(b.len, 0);
	/* with HTTP off the base URL is irrelevant */
	c->http_listen.enabled = 0;
	ck_assert_int_eq(autoexec_render(c, "192.0.2.1", &b), 0);
	sbuf_free(&b);
	config_free(c);
}
END_TEST

START_TEST(test_both_listeners_off)
{
	struct config *c = config_new_default();
	c->http_listen.enabled = 0;
	c->tftp_listen.enabled = 0;
	sbuf b = SBUF_INIT;
	ck_assert_int_eq(sbuf_puts(&b, "prefix\n"), 0);
	ck_assert_int_eq(autoexec_render(c, "192.0.2.1", &b), -EINVAL);
	ck_assert_str_eq(b.data, "prefix\n");
	sbuf_free(&b);
	config_free(c);
}
END_TEST

START_TEST(test_appends_and_deterministic)
{
	struct config *c = config_new_default();
	sbuf a = SBUF_INIT, b = SBUF_INIT;
	ck_assert_int_eq(sbuf_puts(&a, "HEAD"), 0);
	ck_assert_int_eq(autoexec_render(c, "192.0.2.1", &a), 0);
	ck_assert_int_eq(autoexec_render(c, "192.0.2.1", &b), 0);
	ck_assert_uint_eq(a.len, b.len + 4);
	ck_assert_int_eq(memcmp(a.data, "HEAD#!ipxe\n", 11), 0);
	ck_assert_str_eq(a.data + 4, b.data);
	sbuf_free(&a);
	sbuf_free(&b);
	config_free(c);
}
END_TEST

/* The dynamic script must do what the embedded one does: every embedded line that does not depend on
 * build-time placeholders or the baked-in server appears verbatim in the dynamic script. */
START_TEST(test_matches_embedded_script)
{
	FILE *f = fopen("embedded/autopxe.ipxe", "r");
	ck_assert_msg(f != NULL, "run from the source tree root (embedded/autopxe.ipxe not found)");
	struct config *c = config_new_default();
	char *s = render_ok(c, NULL);
	char line[1024];
	size_t compared = 0;
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '#' || line[0] == '\n' || strchr(line, '@') || strstr(line, "autopxe-server") ||
		    strstr(line, "autopxe-http") || strstr(line, "autopxe-tftp"))
			continue;
		ck_assert_msg(strstr(s, line), "embedded line missing from autoexec.ipxe: %s", line);
		compared++;
	}
	fclose(f);
	ck_assert_uint_ge(compared, 15);
	free(s);
	config_free(c);
}
END_TEST

static const struct {
	const char *name;
	int want;
} names[] = {
    {"autoexec.ipxe", 1},   {"/autoexec.ipxe", 1},  {"\\autoexec.ipxe", 1}, {"//autoexec.ipxe", 0},
    {"autoexec.ipx", 0},    {"autoexec.ipxe2", 0},  {"AUTOEXEC.IPXE", 0},   {"", 0},
    {"/", 0},               {"x/autoexec.ipxe", 0}, {"autoexec.ipxe/", 0},
};

START_TEST(test_request_match)
{
	const char *n = names[_i].name;
	ck_assert_int_eq(autoexec_request_match(n, strlen(n)), names[_i].want);
	/* length-bounded: trailing bytes beyond len are ignored */
	char buf[64];
	snprintf(buf, sizeof buf, "%sXYZ", n);
	ck_assert_int_eq(autoexec_request_match(buf, strlen(n)), names[_i].want);
}
END_TEST

START_TEST(test_request_match_null)
{
	ck_assert_int_eq(autoexec_request_match(NULL, 0), 0);
}
END_TEST

Suite *autoexec_suite(void)
{
	Suite *s = suite_create("autoexec");
	TCase *tc = tcase_create("render");
	tcase_add_test(tc, test_default_config_shape);
	tcase_add_loop_test(tc, test_hosts, 0, ARRAY_SIZE(hosts));
	tcase_add_loop_test(tc, test_bad_hosts, 0, ARRAY_SIZE(bad_hosts));
	tcase_add_test(tc, test_host_too_long);
	tcase_add_test(tc, test_next_server_when_host_unknown);
	tcase_add_loop_test(tc, test_listeners_and_base_url, 0, ARRAY_SIZE(listeners));
	tcase_add_loop_test(tc, test_bad_base_url, 0, ARRAY_SIZE(bad_base_urls));
	tcase_add_test(tc, test_both_listeners_off);
	tcase_add_test(tc, test_appends_and_deterministic);
	tcase_add_test(tc, test_matches_embedded_script);
	suite_add_tcase(s, tc);
	TCase *tm = tcase_create("match");
	tcase_add_loop_test(tm, test_request_match, 0, ARRAY_SIZE(names));
	tcase_add_test(tm, test_request_match_null);
	suite_add_tcase(s, tm);
	return s;
}
