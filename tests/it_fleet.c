/* it_fleet.c - integration tests of fleet operations: one-shot pins over the API and the CLI, pins across restarts
 * and reloads, the boot timeline and nodes API, bearer tokens from outside loopback, the status page in Chromium. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

#define MAC "52:54:00:00:16:01"
#define MACHEX "525400001601"
#define PINNED "ubuntu/noble/latest/nfs"
#define HOSTDEF "debian/bookworm/latest/nfs"
#define UKERNEL "/boot/ubuntu/noble/boot/vmlinuz-6.8.0-31-generic"
#define UINITRD "/boot/ubuntu/noble/boot/initrd.img-6.8.0-31-generic"

static struct itest_server srv;

static const char fleet_config[] = "version: 1\n"
                                   "RootfsPath: @ROOTFS@\n"
                                   "StateDir: @ROOTFS@/../state\n"
                                   "CmdlineTemplates:\n"
                                   "  nfs: root=/dev/nfs nfsroot=192.0.2.10:${rootfs-path} ip=dhcp\n"
                                   "DefaultDistro: debian/trixie/latest/nfs\n"
                                   "HostDefaults:\n"
                                   "  " MAC ": " HOSTDEF "\n"
                                   "Watch: false\n";

static char *http(const char *opts, const char *path)
{
	return itest_out_of("curl -s -m 10 %s 'http://127.0.0.1:%u%s'", opts, srv.http_port, path);
}

/* HTTP status of a request. */
static int code(const char *opts, const char *path)
{
	char *o = itest_out_of("curl -s -m 10 -o /dev/null -w '%%{http_code}' %s 'http://127.0.0.1:%u%s'", opts, srv.http_port,
	                 path);
	int c = atoi(o);
	free(o);
	return c;
}

/* The default entry of the main menu MAC gets over HTTP. */
static void menu_default(char *out, size_t len)
{
	char *m = http("", "/autopxe-" MACHEX);
	const char *p = strstr(m, "choose --default ");
	ck_assert_msg(p != NULL, "no default in menu:\n%s", m);
	p += strlen("choose --default ");
	snprintf(out, len, "%.*s", (int)strcspn(p, " \n"), p);
	free(m);
}

static void start(void)
{
	unlink(srv.log); /* itest_start waits for "serving" in the log: a restart must not find the old one */
	ck_assert_int_eq(itest_start(&srv, 1, 1, NULL), 0);
}

static void setup(void)
{
	ck_assert_int_eq(itest_prepare(&srv), 0);
	ck_assert_int_eq(itest_write_config(&srv, fleet_config), 0);
}

static void teardown(void)
{
	if (srv.pid > 0)
		ck_assert_int_eq(itest_stop(&srv), 0);
	itest_cleanup(&srv);
}

/* What the writer thread has made of the node (it batches for up to 50 ms). */
static char *node_doc(const char *state_wanted)
{
	char *doc = NULL;
	for (int i = 0; i < 50; i++) {
		free(doc);
		doc = http("", "/api/v1/nodes/" MAC);
		if (strstr(doc, state_wanted))
			break;
		itest_msleep(50);
	}
	return doc;
}

START_TEST(test_one_shot_pin)
{
	char def[256], *o;
	start();
	menu_default(def, sizeof def);
	ck_assert_str_eq(def, HOSTDEF);
	o = http("-X POST -d '{\"boot\":\"" PINNED "\",\"once\":true}'", "/api/v1/hosts/" MAC "/pin");
	ck_assert_msg(strstr(o, "\"resolves\": true") && strstr(o, "\"once\": true"), "%s", o);
	free(o);
	o = http("", "/api/v1/hosts/" MAC);
	ck_assert_msg(strstr(o, "\"source\": \"API pin (once)\"") && strstr(o, "\"boot_id\": \"" PINNED "\""), "%s", o);
	free(o);
	/* the menu offers the pin, as often as it is fetched: a menu alone does not consume it */
	menu_default(def, sizeof def);
	ck_assert_str_eq(def, PINNED);
	menu_default(def, sizeof def);
	ck_assert_str_eq(def, PINNED);
	/* a refused pin request changes nothing */
	ck_assert_int_eq(code("-X POST -d '{\"boot\":\"fedora/40/latest/nfs\"}'", "/api/v1/hosts/" MAC "/pin"), 422);
	ck_assert_int_eq(code("-X POST -d '{\"boot\":1}'", "/api/v1/hosts/" MAC "/pin"), 400);
	ck_assert_int_eq(code("-X POST -d '{\"boot\":\"" PINNED "\",\"until\":\"2001-01-01T00:00:00Z\"}'",
	                      "/api/v1/hosts/" MAC "/pin"),
	                 400);
	/* the node fetches that boot's kernel: consumed; the next menu falls back to HostDefaults */
	ck_assert_int_eq(code("", UKERNEL), 200);
	menu_default(def, sizeof def);
	ck_assert_str_eq(def, HOSTDEF);
	ck_assert_int_eq(code("", "/api/v1/hosts/" MAC "/pin"), 404);
	ck_assert_int_eq(code("", UINITRD), 200);
	/* the timeline: menus, kernel, initrd over HTTP; the node counts as booted */
	o = node_doc("\"state\": \"booted\"");
	ck_assert_msg(strstr(o, "\"state\": \"booted\""), "%s", o);
	ck_assert_msg(strstr(o, "\"kind\": \"kernel\"") && strstr(o, "\"kind\": \"initrd\""), "%s", o);
	ck_assert_msg(strstr(o, "\"boot_id\": \"" PINNED "\""), "the pinned menu is not in the timeline: %s", o);
	free(o);
	o = http("", "/api/v1/nodes?state=booted");
	ck_assert_msg(strstr(o, MAC) && strstr(o, "\"booted\": 1"), "%s", o);
	free(o);
	o = http("", "/api/v1/nodes?state=failed");
	ck_assert_msg(!strstr(o, MAC), "%s", o);
	free(o);
	ck_assert_int_eq(code("", "/api/v1/nodes?state=bogus"), 400);
	ck_assert_int_eq(code("", "/api/v1/nodes/52:54:00:99:99:99"), 404);
	o = http("", "/metrics");
	ck_assert_msg(strstr(o, "autopxe_nodes{state=\"booted\"} 1") && strstr(o, "autopxe_pins_consumed_total 1"), "%s",
	              o);
	free(o);
	/* the CLI table */
	o = itest_out_of("%s --server 127.0.0.1:%u nodes --state booted", getenv("AUTOPXE_BIN") ? getenv("AUTOPXE_BIN")
	                                                                                  : "build/autopxe-san",
	           srv.http_port);
	ck_assert_msg(strstr(o, MAC) && strstr(o, "booted") && strstr(o, "initrd http ok"), "%s", o);
	free(o);
	/* over TFTP too: the menu and the kernel are joined by the client address */
	o = http("-X POST -d '{\"boot\":\"" PINNED "\",\"once\":true}'", "/api/v1/hosts/" MAC "/pin");
	free(o);
	o = itest_out_of("curl -s -m 10 tftp://127.0.0.1:%u/autopxe-" MACHEX " | grep 'choose --default'", srv.tftp_port);
	ck_assert_msg(strstr(o, PINNED), "%s", o);
	free(o);
	o = itest_out_of("curl -s -m 20 -o /dev/null tftp://127.0.0.1:%u%s && echo sent", srv.tftp_port, UKERNEL);
	free(o);
	ck_assert_int_eq(code("", "/api/v1/hosts/" MAC "/pin"), 404);
	o = node_doc("\"last_event\": \"kernel tftp ok\"");
	ck_assert_msg(strstr(o, "\"last_event\": \"kernel tftp ok\"") && strstr(o, "\"state\": \"kernel\""), "%s", o);
	free(o);
}
END_TEST

static const char *bin(void)
{
	return getenv("AUTOPXE_BIN") ? getenv("AUTOPXE_BIN") : "build/autopxe-san";
}

START_TEST(test_pin_survives_restart)
{
	char def[256], *o;
	start();
	/* set with the CLI, which finds the server through the config's HTTPListen override */
	o = itest_out_of("%s --config '%s' --http-listen 127.0.0.1:%u pin %s %s --once", bin(), srv.config, srv.http_port,
	           MACHEX, PINNED);
	ck_assert_msg(strstr(o, "pinned " MAC " to " PINNED " (once)"), "%s", o);
	free(o);
	ck_assert_int_eq(itest_stop(&srv), 0);
	srv.pid = 0;
	start();
	menu_default(def, sizeof def);
	ck_assert_str_eq(def, PINNED);
	ck_assert_int_eq(code("", UKERNEL), 200);
	menu_default(def, sizeof def);
	ck_assert_str_eq(def, HOSTDEF);
	/* and the consumption survives a restart as well */
	ck_assert_int_eq(itest_stop(&srv), 0);
	srv.pid = 0;
	start();
	menu_default(def, sizeof def);
	ck_assert_str_eq(def, HOSTDEF);
	o = http("", "/api/v1/nodes/" MAC);
	ck_assert_msg(strstr(o, "\"kind\": \"kernel\""), "timeline lost over a restart: %s", o);
	free(o);
	/* unpin via the CLI; unpinning again reports it */
	o = itest_out_of("%s --server 127.0.0.1:%u pin %s debian/bookworm/6.1.0-9-amd64/nfs", bin(), srv.http_port, MAC);
	free(o);
	menu_default(def, sizeof def);
	ck_assert_str_eq(def, "debian/bookworm/6.1.0-9-amd64/nfs");
	o = itest_out_of("%s --server 127.0.0.1:%u unpin %s", bin(), srv.http_port, MAC);
	ck_assert_msg(strstr(o, "unpinned " MAC), "%s", o);
	free(o);
	ck_assert_int_ne(itest_run(NULL, "%s --server 127.0.0.1:%u unpin %s 2>/dev/null", bin(), srv.http_port, MAC), 0);
	menu_default(def, sizeof def);
	ck_assert_str_eq(def, HOSTDEF);
}
END_TEST

START_TEST(test_pin_survives_reload)
{
	char def[256], *o;
	start();
	o = http("-X POST -d '{\"boot\":\"" PINNED "\"}'", "/api/v1/hosts/" MAC "/pin");
	free(o);
	menu_default(def, sizeof def);
	ck_assert_str_eq(def, PINNED);
	ck_assert_int_eq(code("-X POST", "/api/v1/reload"), 200);
	menu_default(def, sizeof def);
	ck_assert_str_eq(def, PINNED);
	/* a permanent pin is not consumed by the kernel */
	ck_assert_int_eq(code("", UKERNEL), 200);
	menu_default(def, sizeof def);
	ck_assert_str_eq(def, PINNED);
	/* the pinned release disappears: reported (API, log, menu echo) and ignored, the pin itself kept */
	free(itest_out_of("rm -rf '%s/ubuntu'", srv.rootfs));
	ck_assert_int_eq(code("-X POST", "/api/v1/reload"), 200);
	menu_default(def, sizeof def);
	ck_assert_str_eq(def, HOSTDEF);
	o = http("", "/autopxe-" MACHEX);
	ck_assert_msg(strstr(o, "echo autopxe: pin '" PINNED "' ignored"), "%s", o);
	free(o);
	o = http("", "/api/v1/hosts/" MAC);
	ck_assert_msg(strstr(o, "\"pin_error\"") && strstr(o, "\"source\": \"HostDefaults"), "%s", o);
	free(o);
	o = http("", "/api/v1/hosts/" MAC "/pin");
	ck_assert_msg(strstr(o, "\"resolves\": false"), "%s", o);
	free(o);
}
END_TEST

/* Bearer tokens: run tests/fleet_auth.sh in a private network namespace (192.0.2.1 on its lo is not loopback). */
START_TEST(test_auth_from_outside_loopback)
{
	char *o = NULL;
	int rc = itest_run(&o, "AUTOPXE_BIN='%s' tests/fleet_auth.sh 2>&1", bin());
	ck_assert_msg(rc == 0, "fleet_auth.sh failed (%d):\n%s", rc, o ? o : "");
	ck_assert_msg(o && strstr(o, "auth: all checks passed"), "%s", o ? o : "");
	free(o);
}
END_TEST

/* The status page in headless Chromium: a curl-driven boot shows up in the table; screenshot kept. */
START_TEST(test_status_page_chromium)
{
	char *o = NULL;
	int rc;
	if (itest_run(NULL, "command -v chromium >/dev/null") != 0) {
		fprintf(stderr, "SKIP: chromium not installed\n");
		return;
	}
	rc = itest_run(&o, "AUTOPXE_BIN='%s' tests/status_page.sh 2>&1", bin());
	ck_assert_msg(rc == 0, "status_page.sh failed (%d):\n%s", rc, o ? o : "");
	ck_assert_msg(o && strstr(o, "status page: ok"), "%s", o ? o : "");
	free(o);
}
END_TEST

Suite *fleet_it_suite(void)
{
	Suite *s = suite_create("fleet_it");
	TCase *tc = tcase_create("fleet");
	tcase_set_timeout(tc, 300);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_one_shot_pin);
	tcase_add_test(tc, test_pin_survives_restart);
	tcase_add_test(tc, test_pin_survives_reload);
	suite_add_tcase(s, tc);
	TCase *tx = tcase_create("fleet_scripts");
	tcase_set_timeout(tx, 300);
	tcase_add_test(tx, test_auth_from_outside_loopback);
	tcase_add_test(tx, test_status_page_chromium);
	suite_add_tcase(s, tx);
	return s;
}
