/* it_mirror.c - integration tests of HTTP mirrors: HTTPBaseURLs per client subnet and `autopxe export-tree DIR`. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "itest.h"

#define MACHEX "525400001702"

static struct itest_server srv;
static unsigned mirror_port;

static const char *bin(void)
{
	const char *b = getenv("AUTOPXE_BIN");
	return b && *b ? b : "build/autopxe-san";
}

static void setup(void)
{
	char cfg[1024];
	ck_assert_int_eq(itest_prepare(&srv), 0);
	mirror_port = itest_free_port(SOCK_STREAM);
	/* 127.0.0.0/8 (every test client) -> the mirror; a longer prefix elsewhere must not match */
	snprintf(cfg, sizeof cfg,
	         "version: 1\n"
	         "RootfsPath: @ROOTFS@\n"
	         "StateStore: false\n"
	         "CmdlineTemplates:\n"
	         "  nfs: root=/dev/nfs ip=dhcp\n"
	         "DefaultDistro: debian/bookworm/latest/nfs\n"
	         "HTTPBaseURLs:\n"
	         "  127.0.0.0/8: http://127.0.0.1:%u/mirror\n"
	         "  192.0.2.0/25: http://192.0.2.200/near\n"
	         "  192.0.2.0/24: http://192.0.2.201/far/\n"
	         "Watch: false\n",
	         mirror_port);
	ck_assert_int_eq(itest_write_config(&srv, cfg), 0);
}

static void teardown(void)
{
	if (srv.pid > 0)
		ck_assert_int_eq(itest_stop(&srv), 0);
	itest_run(NULL, "[ -f '%s/mirror.pid' ] && kill $(cat '%s/mirror.pid') 2>/dev/null; true", srv.dir, srv.dir);
	itest_cleanup(&srv);
}

START_TEST(test_subnet_urls_in_menus)
{
	char *o;
	/* per client subnet, longest prefix first: autopxe render takes the client IP */
	o = itest_out_of("'%s' --config '%s' render -m " MACHEX " --ip 192.0.2.7 2>/dev/null", bin(), srv.config);
	ck_assert_msg(strstr(o, "http://192.0.2.200/near/boot/debian/bookworm/"), "192.0.2.7:\n%s", o);
	free(o);
	o = itest_out_of("'%s' --config '%s' render -m " MACHEX " --ip 192.0.2.130 2>/dev/null", bin(), srv.config);
	ck_assert_msg(strstr(o, "http://192.0.2.201/far/boot/debian/bookworm/"), "192.0.2.130:\n%s", o);
	free(o);
	o = itest_out_of("'%s' --config '%s' render -m " MACHEX " --ip 198.51.100.1 2>/dev/null", bin(), srv.config);
	ck_assert_msg(!strstr(o, "192.0.2.20") && strstr(o, "boot/debian/bookworm/"), "198.51.100.1:\n%s", o);
	free(o);
	/* the running server: a menu over HTTP and over TFTP both point 127.x clients at the mirror */
	ck_assert_int_eq(itest_start(&srv, 1, 1, NULL), 0);
	o = itest_out_of("curl -s -m 10 'http://127.0.0.1:%u/autopxe-" MACHEX "'", srv.http_port);
	char want[128];
	snprintf(want, sizeof want, "http://127.0.0.1:%u/mirror/boot/debian/bookworm/", mirror_port);
	ck_assert_msg(strstr(o, want), "HTTP menu:\n%s", o);
	free(o);
	o = itest_out_of("cd '%s' && tftp 127.0.0.1 %u -c get autopxe-" MACHEX " menu.tftp && cat menu.tftp", srv.dir,
	           srv.tftp_port);
	ck_assert_msg(strstr(o, want), "TFTP menu:\n%s", o);
	free(o);
}
END_TEST

START_TEST(test_export_tree_serves_the_menu)
{
	char *o, *menu;
	o = itest_out_of("'%s' --config '%s' export-tree '%s/mirror' 2>&1", bin(), srv.config, srv.dir);
	ck_assert_msg(strstr(o, " 0 skipped"), "%s", o);
	free(o);
	/* exactly the catalog's files, nothing else of the rootfs (no etc/shadow, no os-release) */
	o = itest_out_of("cd '%s/mirror' && find . -type f | sort", srv.dir);
	ck_assert_msg(!strstr(o, "shadow") && !strstr(o, "os-release"), "%s", o);
	ck_assert_msg(strstr(o, "./boot/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64\n") &&
	                  strstr(o, "./boot/debian/bookworm/boot/initrd.img-6.1.0-9-amd64\n") &&
	                  strstr(o, "./boot/ubuntu/noble/boot/vmlinuz-6.8.0-31-generic\n") &&
	                  strstr(o, "./boot/debian/trixie/boot/initrd.img-6.12.9-amd64\n"),
	              "%s", o);
	free(o);
	/* every exported file is the one the server itself serves under that name */
	ck_assert_int_eq(itest_start(&srv, 0, 1, NULL), 0);
	o = itest_out_of("cd '%s/mirror' && for f in $(find boot -type f); do "
	           "a=$(sha256sum < \"$f\"); b=$(curl -s -m 10 \"http://127.0.0.1:%u/$f\" | sha256sum); "
	           "[ \"$a\" = \"$b\" ] || echo \"DIFF $f\"; done; echo checked",
	           srv.dir, srv.http_port);
	ck_assert_msg(!strstr(o, "DIFF") && strstr(o, "checked"), "exported files differ from the served ones:\n%s", o);
	free(o);
	/* the mirror: any plain HTTP server on the exported tree (here python3's, serving dir: /mirror/boot/...) */
	free(itest_out_of("cd '%s' && (python3 -m http.server %u --bind 127.0.0.1 --directory . >/dev/null 2>&1 & echo $! > mirror.pid) && "
	            "for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:%u/ && break; sleep 0.1; done",
	            srv.dir, mirror_port, mirror_port));
	menu = itest_out_of("curl -s -m 10 'http://127.0.0.1:%u/autopxe-" MACHEX "/debian'", srv.http_port);
	int n = 0;
	for (const char *p = menu; (p = strstr(p, "http://127.0.0.1:")) != NULL; p++) {
		char url[512];
		snprintf(url, sizeof url, "%.*s", (int)strcspn(p, " \n"), p);
		if (!strstr(url, "/mirror/boot/"))
			continue;
		char *c = itest_out_of("curl -s -m 10 -o /dev/null -w '%%{http_code}' '%s'", url);
		ck_assert_msg(strcmp(c, "200") == 0, "%s from the mirror: %s", url, c);
		free(c);
		n++;
	}
	ck_assert_msg(n >= 4, "the debian submenu names %d mirror URLs:\n%s", n, menu);
	free(menu);
}
END_TEST

Suite *mirror_it_suite(void)
{
	Suite *s = suite_create("mirror_it");
	TCase *tc = tcase_create("mirror");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_subnet_urls_in_menus);
	tcase_add_test(tc, test_export_tree_serves_the_menu);
	suite_add_tcase(s, tc);
	return s;
}
