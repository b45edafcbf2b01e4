/* it_autoexec.c - integration test: autoexec.ipxe (for stock iPXE builds) over HTTP and TFTP from the real server. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
}

static void teardown(void) { itest_stop_clean(&srv); }

START_TEST(autoexec_both_protocols_point_at_us)
{
	ck_assert_msg(itest_start(&srv, 1, 1, NULL) == 0, "server did not start (log %s)", srv.log);
	char *h = NULL, *t = NULL, want[160];
	ck_assert_int_eq(itest_run(&h, "curl -sS --fail http://127.0.0.1:%u/autoexec.ipxe", srv.http_port), 0);
	ck_assert_int_eq(itest_run(&t, "curl -sS --fail tftp://127.0.0.1:%u/autoexec.ipxe", srv.tftp_port), 0);
	ck_assert_msg(strncmp(h, "#!ipxe\n", 7) == 0, "not an iPXE script: %.60s", h);
	/* Same local address on both: the two scripts are the same bytes. */
	ck_assert_str_eq(h, t);
	snprintf(want, sizeof want, "http://127.0.0.1:%u/autopxe-${netX/mac:hexraw}", srv.http_port);
	ck_assert_msg(strstr(h, want) != NULL, "no HTTP menu URL %s in:\n%s", want, h);
	snprintf(want, sizeof want, "tftp://127.0.0.1:%u/autopxe-${netX/mac:hexraw}", srv.tftp_port);
	ck_assert_msg(strstr(h, want) != NULL, "no TFTP fallback URL %s in:\n%s", want, h);
	/* A leading slash (PXE ROMs send one) is the same file. */
	free(t);
	ck_assert_int_eq(itest_run(&t, "curl -sS --fail tftp://127.0.0.1:%u//autoexec.ipxe", srv.tftp_port), 0);
	ck_assert_str_eq(h, t);
	free(h);
	free(t);
	ck_assert(itest_log_contains(&srv, "file=\"autoexec.ipxe\""));
	ck_assert(itest_log_contains(&srv, "GET \"/autoexec.ipxe\" 200"));
}
END_TEST

START_TEST(autoexec_tftp_only_has_no_http_step)
{
	ck_assert_msg(itest_start(&srv, 1, 0, NULL) == 0, "server did not start (log %s)", srv.log);
	char *t = NULL;
	ck_assert_int_eq(itest_run(&t, "curl -sS --fail tftp://127.0.0.1:%u/autoexec.ipxe", srv.tftp_port), 0);
	ck_assert_msg(strstr(t, "http://") == NULL, "HTTP is off but the script uses it:\n%s", t);
	ck_assert_msg(strstr(t, "tftp://127.0.0.1:") != NULL, "no TFTP menu URL:\n%s", t);
	free(t);
}
END_TEST

Suite *autoexec_it_suite(void)
{
	Suite *s = suite_create("autoexec_it");
	TCase *tc = tcase_create("serve");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, autoexec_both_protocols_point_at_us);
	tcase_add_test(tc, autoexec_tftp_only_has_no_http_step);
	suite_add_tcase(s, tc);
	return s;
}
