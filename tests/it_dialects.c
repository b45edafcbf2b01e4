/* it_dialects.c - integration tests: GRUB and PXELINUX menus and BootDir binaries from the real server over TFTP and HTTP. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "testutil.h"
#include "util.h"

#define MAC_COLON "bc:24:11:b0:1a:de"
#define MAC_HYP "bc-24-11-b0-1a-de"
#define PIN "debian/bookworm/6.1.0-9-amd64/overlayfs"

static struct itest_server srv;
static char boot_dir[400];

/* BootDir files (made before the server starts): what grub-mknetdir and the pxelinux packages put there. */
static const struct {
	const char *name;
	unsigned long long size;
} boot_files[] = {
    {"grubnetx64.efi", 900000}, {"grub/x86_64-efi/normal.mod", 54321}, {"pxelinux.0", 46000},
    {"ldlinux.c32", 120000},    {"menu.c32", 26000},
};

static void setup(void)
{
	ck_assert_int_eq(itest_prepare(&srv), 0);
	snprintf(boot_dir, sizeof boot_dir, "%s/bootdir", srv.dir);
	char p[600], yaml[2048];
	for (size_t i = 0; i < ARRAY_SIZE(boot_files); i++) {
		snprintf(p, sizeof p, "%s/%s", boot_dir, boot_files[i].name);
		ck_assert_int_eq(itest_make_file(p, boot_files[i].size, 300 + (unsigned)i), 0);
	}
	/* a symlink out of BootDir must not be followed */
	snprintf(p, sizeof p, "%s/escape.c32", boot_dir);
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	snprintf(yaml, sizeof yaml,
	         "version: 1\n"
	         "DefaultDistro: debian/bookworm/latest/overlayfs\n"
	         "RootfsPath: @ROOTFS@\n"
	         "BootDir: %s\n"
	         "Env:\n"
	         "  nfs-server: 192.0.2.10\n"
	         "CmdlineTemplates:\n"
	         "  overlayfs: root=/dev/nfs nfsroot=${nfs-server}:${rootfs-path} ip=dhcp rootovl mac=${mac}\n"
	         "HostDefaults:\n"
	         "  " MAC_COLON ": " PIN "\n"
	         "Watch: false\n",
	         boot_dir);
	ck_assert_int_eq(itest_write_config(&srv, yaml), 0);
	ck_assert_msg(itest_start(&srv, 1, 1, NULL) == 0, "server did not start (log %s)", srv.log);
}

static void teardown(void)
{
	int rc = itest_stop(&srv);
	if (rc != 0)
		itest_run(NULL, "tail -n 40 '%s' >&2", srv.log);
	ck_assert_msg(rc == 0, "server exit status %d (sanitizer report or unclean exit, see %s)", rc, srv.log);
	itest_cleanup(&srv);
}

/* Fetch name over TFTP with tftp-hpa into a new string (caller frees); NULL when the server answered ERROR
 * (tftp-hpa then prints "Error code N" and still exits 0). */
static char *tftp_get(const char *name)
{
	char out[600], *msg = NULL;
	size_t l;
	snprintf(out, sizeof out, "%s/tftp.out", srv.dir);
	unlink(out);
	int rc = itest_run(&msg, "tftp 127.0.0.1 %u -m binary -c get '%s' '%s' 2>&1", srv.tftp_port, name, out);
	int failed = rc != 0 || (msg && strstr(msg, "Error"));
	free(msg);
	return failed ? NULL : tu_slurp(out, &l);
}

/* Fetch name over TFTP with curl; NULL on failure. */
static char *curl_tftp_get(const char *name)
{
	char out[600];
	size_t l;
	snprintf(out, sizeof out, "%s/curl-tftp.out", srv.dir);
	unlink(out);
	if (itest_run(NULL, "curl -sS --path-as-is -o '%s' 'tftp://127.0.0.1:%u/%s' 2>/dev/null", out, srv.tftp_port,
	              name) != 0)
		return NULL;
	return tu_slurp(out, &l);
}

/* Fetch /name over HTTP; the status goes to *status. The body (caller frees) or NULL. */
static char *http_get(const char *name, int *status)
{
	char out[600], *code = NULL;
	size_t l;
	snprintf(out, sizeof out, "%s/http.out", srv.dir);
	unlink(out);
	int rc = itest_run(&code, "curl -sS --path-as-is -o '%s' -w '%%{http_code}' 'http://127.0.0.1:%u/%s'", out,
	                   srv.http_port, name);
	*status = rc == 0 && code ? atoi(code) : -1;
	free(code);
	return tu_slurp(out, &l);
}

/* What `autopxe render --format f` prints for the client (127.0.0.1, as the server sees the test's requests). */
static char *render_cli(const char *format)
{
	char *r = NULL;
	const char *bin = getenv("AUTOPXE_BIN") ? getenv("AUTOPXE_BIN") : "build/autopxe-san";
	ck_assert_int_eq(itest_run(&r, "'%s' --config '%s' render --mac " MAC_COLON " --format %s --ip 127.0.0.1 "
	                               "2>/dev/null",
	                           bin, srv.config, format),
	                 0);
	ck_assert_ptr_nonnull(r);
	return r;
}

/* grub/grub.cfg-01-<mac> over TFTP (tftp-hpa, curl) and HTTP: the same bytes as `autopxe render --format grub`,
 * the pin is the default, and every MAC spelling and both GRUB directories give the same config. */
START_TEST(test_grub_per_mac)
{
	char *want = render_cli("grub");
	ck_assert_ptr_nonnull(strstr(want, "\nset default='" PIN "'\n"));
	ck_assert_ptr_nonnull(strstr(want, "'mac=" MAC_COLON "'"));
	static const char *const names[] = {"grub/grub.cfg-01-" MAC_HYP, "/grub/grub.cfg-01-BC-24-11-B0-1A-DE",
	                                    "boot/grub/grub.cfg-01-" MAC_HYP, "grub/grub.cfg-01-" MAC_COLON};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		/* tftp-hpa reads "a:b" as host:file: the colon spelling (the loader's) goes through curl */
		char *got = strchr(names[i], ':') ? curl_tftp_get(names[i]) : tftp_get(names[i]);
		ck_assert_msg(got != NULL, "TFTP %s failed", names[i]);
		ck_assert_msg(strcmp(got, want) == 0, "TFTP %s differs from render:\n%s", names[i], got);
		free(got);
	}
	char *got = curl_tftp_get("grub/grub.cfg-01-" MAC_HYP);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
	for (int k = 0; k < 2; k++) { /* the second answer comes from the menu cache */
		int st = 0;
		got = http_get("grub/grub.cfg-01-" MAC_HYP, &st);
		ck_assert_int_eq(st, 200);
		ck_assert_ptr_nonnull(got);
		ck_assert_str_eq(got, want);
		free(got);
	}
	ck_assert(itest_log_contains(&srv, "file=\"grub/grub.cfg-01-" MAC_HYP "\""));
	ck_assert(itest_log_contains(&srv, "mac=" MAC_COLON));
	free(want);
}
END_TEST

/* pxelinux.cfg/01-<mac> over TFTP and HTTP: render's bytes, UI menu.c32 (it is in BootDir), the pin as DEFAULT. */
START_TEST(test_pxelinux_per_mac)
{
	char *want = render_cli("pxelinux");
	ck_assert_ptr_nonnull(strstr(want, "\nUI menu.c32\n"));
	ck_assert_ptr_nonnull(strstr(want, "\nDEFAULT " PIN "\n"));
	ck_assert_ptr_nonnull(strstr(want, "\tAPPEND root=/dev/nfs nfsroot=192.0.2.10:"));
	char *got = tftp_get("pxelinux.cfg/01-" MAC_HYP);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
	int st = 0;
	got = http_get("pxelinux.cfg/01-" MAC_HYP, &st);
	ck_assert_int_eq(st, 200);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	/* menu.c32 taken away while the server runs (no reload): both front ends fall back to PROMPT 1 at once,
	 * the HTTP menu cache included */
	char p[600];
	snprintf(p, sizeof p, "%s/menu.c32", boot_dir);
	ck_assert_int_eq(unlink(p), 0);
	got = tftp_get("pxelinux.cfg/01-" MAC_HYP);
	ck_assert_ptr_nonnull(got);
	ck_assert_ptr_nonnull(strstr(got, "\nPROMPT 1\n"));
	ck_assert_ptr_null(strstr(got, "UI menu.c32"));
	free(got);
	got = http_get("pxelinux.cfg/01-" MAC_HYP, &st);
	ck_assert_int_eq(st, 200);
	ck_assert_ptr_nonnull(strstr(got, "\nPROMPT 1\n"));
	free(got);
}
END_TEST

/* The generic configs: pxelinux.cfg/default and the hex-IP names PXELINUX tries are one config with
 * DefaultDistro and no MAC; grub/grub.cfg hands over to the per-MAC file; bad MACs are not found. */
START_TEST(test_generic_and_refused)
{
	char *def = tftp_get("pxelinux.cfg/default");
	ck_assert_ptr_nonnull(def);
	ck_assert_ptr_nonnull(strstr(def, "\nDEFAULT debian/bookworm/latest/overlayfs\n"));
	ck_assert_ptr_null(strstr(def, MAC_COLON));
	static const char *const hex[] = {"pxelinux.cfg/7F000001", "pxelinux.cfg/7F00", "pxelinux.cfg/7"};
	for (size_t i = 0; i < ARRAY_SIZE(hex); i++) {
		char *got = tftp_get(hex[i]);
		ck_assert_msg(got != NULL, "%s", hex[i]);
		ck_assert_str_eq(got, def);
		free(got);
	}
	int st = 0;
	char *got = http_get("pxelinux.cfg/default", &st);
	ck_assert_int_eq(st, 200);
	ck_assert_str_eq(got, def);
	free(got);
	free(def);
	char *loader = tftp_get("grub/grub.cfg");
	ck_assert_ptr_nonnull(loader);
	ck_assert_ptr_nonnull(strstr(loader, "\tconfigfile \"${prefix}/grub.cfg-01-${net_default_mac}\"\n"));
	ck_assert_ptr_nonnull(strstr(loader, "\nset default='debian/bookworm/latest/overlayfs'\n"));
	free(loader);
	/* a menu name with a bad MAC: not found on both front ends, nothing rendered */
	ck_assert_ptr_null(tftp_get("grub/grub.cfg-01-zz-24-11-b0-1a-de"));
	ck_assert_ptr_null(tftp_get("pxelinux.cfg/01-bc-24-11-b0-1a"));
	got = http_get("pxelinux.cfg/01-bc-24-11-b0-1a", &st);
	ck_assert_int_eq(st, 404);
	free(got);
	/* a UUID name (tried first by PXELINUX) is a plain file: not found */
	ck_assert_ptr_null(tftp_get("pxelinux.cfg/b8945908-d6a6-41a9-611d-74a6ab80b83d"));
}
END_TEST

/* BootDir's binaries, at any depth, over TFTP and HTTP, byte for byte; a symlink out of it is refused. */
START_TEST(test_boot_dir_files)
{
	char want[600], out[600], a[65], b[65];
	for (size_t i = 0; i < ARRAY_SIZE(boot_files); i++) {
		snprintf(want, sizeof want, "%s/%s", boot_dir, boot_files[i].name);
		ck_assert_int_eq(itest_sha256(want, b), 0);
		snprintf(out, sizeof out, "%s/boot-tftp.out", srv.dir);
		unlink(out);
		ck_assert_int_eq(itest_run(NULL, "tftp 127.0.0.1 %u -m binary -c get '%s' '%s' 2>&1", srv.tftp_port,
		                           boot_files[i].name, out),
		                 0);
		ck_assert_int_eq(itest_sha256(out, a), 0);
		ck_assert_msg(strcmp(a, b) == 0, "TFTP %s: different bytes", boot_files[i].name);
		snprintf(out, sizeof out, "%s/boot-http.out", srv.dir);
		ck_assert_int_eq(itest_run(NULL, "curl -sSf -o '%s' 'http://127.0.0.1:%u/%s'", out, srv.http_port,
		                           boot_files[i].name),
		                 0);
		ck_assert_int_eq(itest_sha256(out, a), 0);
		ck_assert_msg(strcmp(a, b) == 0, "HTTP %s: different bytes", boot_files[i].name);
	}
	ck_assert_ptr_null(tftp_get("escape.c32"));
	int st = 0;
	char *got = http_get("escape.c32", &st);
	ck_assert_int_eq(st, 403); /* docs/security.md: a symlink out of its root */
	ck_assert_ptr_null(strstr(got ? got : "", "root:"));
	char *msg = NULL;
	itest_run(&msg, "tftp 127.0.0.1 %u -m binary -c get escape.c32 /dev/null 2>&1", srv.tftp_port);
	ck_assert_msg(msg && strstr(msg, "Error code 2"), "TFTP escape.c32: %s", msg ? msg : "");
	free(msg);
	free(got);
}
END_TEST

/* `autopxe render --format`: all three dialects for the same host; a bad format or an iPXE-only submenu with
 * another format is a usage error (exit 2); --format ipxe is the default. */
START_TEST(test_render_formats)
{
	const char *bin = getenv("AUTOPXE_BIN") ? getenv("AUTOPXE_BIN") : "build/autopxe-san";
	char *ipxe = render_cli("ipxe"), *grub = render_cli("grub"), *pxe = render_cli("pxelinux"), *dflt = NULL;
	ck_assert_int_eq(itest_run(&dflt, "'%s' --config '%s' render --mac " MAC_COLON " --ip 127.0.0.1 2>/dev/null", bin,
	                           srv.config),
	                 0);
	ck_assert_str_eq(dflt, ipxe);
	ck_assert(strncmp(ipxe, "#!ipxe\n", 7) == 0);
	ck_assert_ptr_nonnull(strstr(ipxe, "choose --default " PIN));
	ck_assert_ptr_nonnull(strstr(grub, "set default='" PIN "'"));
	ck_assert_ptr_nonnull(strstr(pxe, "DEFAULT " PIN "\n"));
	ck_assert_int_eq(itest_run(NULL, "'%s' --config '%s' render --mac " MAC_COLON " --format yaml 2>/dev/null", bin,
	                           srv.config),
	                 2);
	ck_assert_int_eq(itest_run(NULL, "'%s' --config '%s' render --mac " MAC_COLON " --format grub debian 2>/dev/null",
	                           bin, srv.config),
	                 2);
	free(ipxe);
	free(grub);
	free(pxe);
	free(dflt);
}
END_TEST

Suite *dialects_it_suite(void)
{
	Suite *s = suite_create("dialects_it");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_grub_per_mac);
	tcase_add_test(tc, test_pxelinux_per_mac);
	tcase_add_test(tc, test_generic_and_refused);
	tcase_add_test(tc, test_boot_dir_files);
	tcase_add_test(tc, test_render_formats);
	suite_add_tcase(s, tc);
	return s;
}
