/* it_catalog.c - integration tests of the live catalog: ISO and filesystem images served by the real server,
 * hot reload (inotify, API, broken config), transfers that survive reloads, and latest never naming a
 * half-installed kernel. */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

#define MAC "525400000001"

static struct itest_server srv;

static const char catalog_config[] = "version: 1\n"
                                     "RootfsPath: @ROOTFS@\n"
                                     "CacheDir: @ROOTFS@/../cache\n"
                                     "CmdlineTemplates:\n"
                                     "  nfs: root=/dev/nfs nfsroot=192.0.2.10:${rootfs-path} ip=dhcp\n"
                                     "  live: root=live:${image-url} rd.live.image uuid=${image-uuid}\n"
                                     "  install: inst.stage2=hd:LABEL=${iso-label} inst.repo=${iso-url}\n"
                                     "HostDefaults:\n"
                                     "  " MAC ": debian/bookworm/latest/nfs\n"
                                     "TFTPMaxPerClient: 512\n"
                                     "HTTPMaxPerClient: 512\n"
                                     "TFTPMaxWindowSize: 1\n"
                                     "Watch: @WATCH@\n";

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int rc = itest_run(NULL, "%s", cmd);
	ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

static void write_config(int watch, const char *extra)
{
	char buf[4096];
	const char *w = strstr(catalog_config, "@WATCH@");
	snprintf(buf, sizeof buf, "%.*s%s\n%s", (int)(w - catalog_config), catalog_config, watch ? "true" : "false",
	         extra ? extra : "");
	ck_assert_int_eq(itest_write_config(&srv, buf), 0);
}

/* Source trees of the fixture images live in dir/src-<name>; the images in the rootfs. */
static void make_images(void)
{
	char p[1024];
	static const struct {
		const char *path;
		unsigned long long size;
	} files[] = {
	    {"src-netinst/install.amd/vmlinuz", 300001},
	    {"src-netinst/install.amd/initrd.gz", 2 * 1024 * 1024 + 3},
	    {"src-netinst/install.amd/gtk/vmlinuz", 300002},
	    {"src-netinst/install.amd/gtk/initrd.gz", 500001},
	    {"src-live/casper/vmlinuz", 200001},
	    {"src-live/casper/initrd", 400001},
	    {"src-rocky/images/pxeboot/vmlinuz", 250001},
	    {"src-rocky/images/pxeboot/initrd.img", 450001},
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", srv.dir, files[i].path);
		ck_assert_int_eq(itest_make_file(p, files[i].size, (unsigned)(100 + i)), 0);
	}
	sh("printf '[general]\\nfamily = Rocky Linux\\nversion = 9.3\\n' > '%s/src-rocky/.treeinfo'", srv.dir);
	sh("mkdir -p '%s/iso' '%s/rocky/9.3'", srv.rootfs, srv.rootfs);
	sh("xorriso -as mkisofs -R -J -V 'Debian 12.5.0 amd64 n' -o '%s/iso/debian-12.5.0-amd64-netinst.iso' "
	   "'%s/src-netinst' >/dev/null 2>&1",
	   srv.rootfs, srv.dir);
	sh("xorriso -as mkisofs -R -J -V 'Rocky-9-3-x86_64-dvd' -o '%s/rocky/9.3/Rocky-9.3-x86_64-dvd.iso' "
	   "'%s/src-rocky' >/dev/null 2>&1",
	   srv.rootfs, srv.dir);
	/* a filesystem image next to a rootfs release, and one libblkid does not know */
	sh("mkdir -p '%s/fs' && echo hi > '%s/fs/x' && mksquashfs '%s/fs' '%s/debian/bookworm/rootfs.squashfs' -quiet "
	   "-noappend >/dev/null && head -c 65536 /dev/zero > '%s/debian/bookworm/junk.img'",
	   srv.dir, srv.dir, srv.dir, srv.rootfs, srv.rootfs);
}

static void start(int watch, const char *extra)
{
	ck_assert_int_eq(itest_prepare(&srv), 0);
	make_images();
	write_config(watch, extra);
	ck_assert_msg(itest_start(&srv, 1, 1, NULL) == 0, "server did not start (log %s)", srv.log);
}

static void teardown(void)
{
	if (srv.pid > 0)
		itest_stop(&srv);
	if (srv.dir[0])
		itest_cleanup(&srv);
	memset(&srv, 0, sizeof srv);
}

/* GET path over HTTP into a new string (NULL on failure). */
static char *http_get(const char *path)
{
	char *out = NULL;
	if (itest_run(&out, "curl -sf --max-time 10 'http://127.0.0.1:%u%s'", srv.http_port, path) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static int count_in_log(const char *needle)
{
	char *out = NULL;
	int n = 0;
	if (itest_run(&out, "grep -c '%s' '%s'", needle, srv.log) >= 0 && out)
		n = atoi(out);
	free(out);
	return n;
}

/* Poll the menu at path until it contains (want=1) or lacks (want=0) needle; 1 when it did within ms. */
static int wait_menu(const char *path, const char *needle, int want, unsigned ms)
{
	for (unsigned t = 0; t <= ms; t += 100) {
		char *m = http_get(path);
		int has = m && strstr(m, needle) != NULL;
		free(m);
		if (has == want)
			return 1;
		itest_msleep(100);
	}
	return 0;
}

static void same_file(const char *got, const char *want)
{
	char a[65], b[65];
	ck_assert_msg(itest_sha256(got, a) == 0, "cannot hash %s", got);
	ck_assert_int_eq(itest_sha256(want, b), 0);
	ck_assert_msg(strcmp(a, b) == 0, "%s differs from %s", got, want);
}

/* ------------------------------------------------------------------ ISO entries and downloads */

START_TEST(test_iso_entries_and_downloads)
{
	start(0, NULL);
	/* the main menu lists the iso distro; its submenu the installer entries with the ISO variables */
	char *m = http_get("/autopxe-" MAC);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(strstr(m, "item autopxe-distro/iso iso ..."));
	ck_assert_ptr_nonnull(strstr(m, "item autopxe-distro/rocky rocky ..."));
	free(m);
	m = http_get("/autopxe-" MAC "/iso");
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(strstr(m, "item iso/debian-12.5.0-amd64-netinst/install/install "));
	ck_assert_ptr_nonnull(strstr(m, "item iso/debian-12.5.0-amd64-netinst/gtk/install "));
	ck_assert_ptr_null(strstr(m, "/nfs"));
	char want[512];
	snprintf(want, sizeof want,
	         "inst.stage2=hd:LABEL=Debian\\x2012.5.0\\x20amd64\\x20n "
	         "inst.repo=http://127.0.0.1:%u/boot/iso/debian-12.5.0-amd64-netinst.iso",
	         srv.http_port);
	ck_assert_msg(strstr(m, want) != NULL, "no %s in\n%s", want, m);
	ck_assert_ptr_nonnull(
	    strstr(m, "initrd --name initrd /boot/iso/debian-12.5.0-amd64-netinst.iso/install.amd/initrd.gz"));
	free(m);
	m = http_get("/autopxe-" MAC "/rocky");
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(strstr(m, "item --gap 9.3 (Rocky Linux 9.3):"));
	ck_assert_ptr_nonnull(strstr(m, "inst.stage2=hd:LABEL=Rocky-9-3-x86_64-dvd "));
	free(m);
	/* image variables in a rootfs release's entries */
	m = http_get("/autopxe-" MAC "/debian");
	ck_assert_ptr_nonnull(m);
	snprintf(want, sizeof want,
	         "root=live:http://127.0.0.1:%u/boot/debian/bookworm/rootfs.squashfs rd.live.image uuid=", srv.http_port);
	ck_assert_msg(strstr(m, want) != NULL, "no %s in\n%s", want, m);
	free(m);
	ck_assert_msg(itest_log_contains(&srv, "skipped debian/bookworm/junk.img: unknown or corrupt filesystem image"),
	              "no log line for the junk image");

	/* kernel and initrd byte-identical over HTTP and TFTP, a Range, the ISO itself and the squashfs */
	static const struct {
		const char *name, *src;
	} files[] = {
	    {"iso/debian-12.5.0-amd64-netinst.iso/install.amd/vmlinuz", "src-netinst/install.amd/vmlinuz"},
	    {"iso/debian-12.5.0-amd64-netinst.iso/install.amd/initrd.gz", "src-netinst/install.amd/initrd.gz"},
	    {"iso/debian-12.5.0-amd64-netinst.iso/install.amd/gtk/initrd.gz", "src-netinst/install.amd/gtk/initrd.gz"},
	    {"rocky/9.3/Rocky-9.3-x86_64-dvd.iso/images/pxeboot/vmlinuz", "src-rocky/images/pxeboot/vmlinuz"},
	    {"rocky/9.3/Rocky-9.3-x86_64-dvd.iso/images/pxeboot/initrd.img", "src-rocky/images/pxeboot/initrd.img"},
	};
	char got[700], src[700];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(src, sizeof src, "%s/%s", srv.dir, files[i].src);
		snprintf(got, sizeof got, "%s/h%zu", srv.dir, i);
		sh("curl -sf --max-time 30 -o '%s' 'http://127.0.0.1:%u/boot/%s'", got, srv.http_port, files[i].name);
		same_file(got, src);
		snprintf(got, sizeof got, "%s/t%zu", srv.dir, i);
		sh("curl -sf --max-time 60 --tftp-blksize 1468 -o '%s' 'tftp://127.0.0.1:%u/boot/%s'", got, srv.tftp_port,
		   files[i].name);
		same_file(got, src);
	}
	/* Range: bytes 1000000-1099999 of the 2 MiB initrd */
	snprintf(got, sizeof got, "%s/range", srv.dir);
	char *code = NULL;
	ck_assert_int_eq(itest_run(&code, "curl -s --max-time 30 -r 1000000-1099999 -o '%s' -w '%%{http_code}' "
	                                  "'http://127.0.0.1:%u/boot/%s'",
	                           got, srv.http_port, files[1].name),
	                 0);
	ck_assert_str_eq(code, "206");
	free(code);
	snprintf(src, sizeof src, "%s/range-want", srv.dir);
	sh("tail -c +1000001 '%s/%s' | head -c 100000 > '%s'", srv.dir, files[1].src, src);
	same_file(got, src);
	/* the ISO itself (iso-url) and the filesystem image (image-url) */
	snprintf(got, sizeof got, "%s/iso-dl", srv.dir);
	sh("curl -sf --max-time 30 -o '%s' 'http://127.0.0.1:%u/boot/rocky/9.3/Rocky-9.3-x86_64-dvd.iso'", got,
	   srv.http_port);
	snprintf(src, sizeof src, "%s/rocky/9.3/Rocky-9.3-x86_64-dvd.iso", srv.rootfs);
	same_file(got, src);
	snprintf(got, sizeof got, "%s/sq-dl", srv.dir);
	sh("curl -sf --max-time 30 -o '%s' 'http://127.0.0.1:%u/boot/debian/bookworm/rootfs.squashfs'", got,
	   srv.http_port);
	snprintf(src, sizeof src, "%s/debian/bookworm/rootfs.squashfs", srv.rootfs);
	same_file(got, src);
	/* what is not in the catalog stays out: another file of the image, the junk image */
	char *out = NULL;
	ck_assert_int_eq(itest_run(&out, "curl -s -o /dev/null -w '%%{http_code}' "
	                                 "'http://127.0.0.1:%u/boot/iso/debian-12.5.0-amd64-netinst.iso/manifest.json'",
	                           srv.http_port),
	                 0);
	ck_assert_str_eq(out, "404");
	free(out);
	itest_stop_clean(&srv);
}
END_TEST

/* ------------------------------------------------------------------ hot reload */

START_TEST(test_reload_cases)
{
	start(1, NULL);
	const char *menu = "/autopxe-" MAC "/debian";
	/* a release added: inotify, debounce, rescan */
	char p[700];
	snprintf(p, sizeof p, "%s/debian/sid/boot/vmlinuz-6.13.1-amd64", srv.rootfs);
	ck_assert_int_eq(itest_make_file(p, 1000, 1), 0);
	snprintf(p, sizeof p, "%s/debian/sid/boot/initrd.img-6.13.1-amd64", srv.rootfs);
	ck_assert_int_eq(itest_make_file(p, 1000, 2), 0);
	ck_assert_msg(wait_menu(menu, "item debian/sid/latest/nfs", 1, 10000), "added release not in the menu");
	/* ... and removed */
	sh("rm -rf '%s/debian/sid'", srv.rootfs);
	ck_assert_msg(wait_menu(menu, "debian/sid/", 0, 10000), "removed release still in the menu");
	/* an ISO dropped into ISOPath (written elsewhere, renamed in: how admins should copy) */
	sh("cp '%s/rocky/9.3/Rocky-9.3-x86_64-dvd.iso' '%s/new.tmp' && mv '%s/new.tmp' '%s/iso/rocky-copy.iso'",
	   srv.rootfs, srv.dir, srv.dir, srv.rootfs);
	ck_assert_msg(wait_menu("/autopxe-" MAC "/iso", "item iso/rocky-copy/install/install", 1, 10000),
	              "ISO dropped into ISOPath not in the menu");
	sh("rm '%s/iso/rocky-copy.iso'", srv.rootfs);
	ck_assert_msg(wait_menu("/autopxe-" MAC "/iso", "rocky-copy", 0, 10000), "removed ISO still in the menu");
	/* HostDefaults changed: the config file is watched */
	ck_assert_msg(wait_menu("/autopxe-" MAC, "item debian/bookworm/latest/nfs ", 1, 2000), "initial default");
	write_config(1, NULL);
	char cfg[4096];
	char *old = NULL;
	ck_assert_int_eq(itest_run(&old, "cat '%s'", srv.config), 0);
	snprintf(cfg, sizeof cfg, "%s", old);
	free(old);
	char *hd = strstr(cfg, "debian/bookworm/latest/nfs");
	ck_assert_ptr_nonnull(hd);
	memcpy(hd, "ubuntu/noble/latest/nfs   ", 26); /* same length: 26 */
	FILE *f = fopen(srv.config, "w");
	ck_assert_ptr_nonnull(f);
	fputs(cfg, f);
	fclose(f);
	ck_assert_msg(wait_menu("/autopxe-" MAC, "item ubuntu/noble/latest/nfs ", 1, 10000), "changed HostDefaults");
	/* a broken config: the old snapshot keeps serving, /healthz degraded, then fixed again */
	ck_assert_int_eq(itest_write_config(&srv, "version: 1\nRootfsPath: [unclosed\n"), 0);
	int degraded = 0;
	for (int i = 0; i < 100 && !degraded; i++) {
		char *h = http_get("/healthz");
		degraded = h && !strncmp(h, "degraded", 8);
		free(h);
		if (!degraded)
			itest_msleep(100);
	}
	ck_assert_msg(degraded, "healthz not degraded after a broken config");
	char *m = http_get("/autopxe-" MAC "/iso");
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(strstr(m, "iso/debian-12.5.0-amd64-netinst/install/install"));
	free(m);
	snprintf(p, sizeof p, "%s/dl", srv.dir);
	sh("curl -sf --max-time 30 -o '%s' 'http://127.0.0.1:%u/boot/iso/debian-12.5.0-amd64-netinst.iso/install.amd/"
	   "vmlinuz'",
	   p, srv.http_port);
	write_config(1, NULL);
	int ok = 0;
	for (int i = 0; i < 100 && !ok; i++) {
		char *h = http_get("/healthz");
		ok = h && !strcmp(h, "ok\n");
		free(h);
		if (!ok)
			itest_msleep(100);
	}
	ck_assert_msg(ok, "healthz not ok after the config was fixed");
	itest_stop_clean(&srv);
}
END_TEST

/* A half-installed kernel (vmlinuz unpacked, no initramfs yet) appears: it is listed under its own id, latest
 * keeps booting the last complete kernel, and once its initrd is written latest moves to it. */
START_TEST(test_half_installed_kernel)
{
	start(1, NULL);
	const char *menu = "/autopxe-" MAC "/debian";
	char p[700], tmp[700];
	ck_assert_msg(wait_menu(menu, "item debian/bookworm/latest/nfs latest (6.1.0-21-amd64) nfs", 1, 2000),
	              "initial latest");
	snprintf(p, sizeof p, "%s/debian/bookworm/boot/vmlinuz-6.13.1-amd64", srv.rootfs);
	ck_assert_int_eq(itest_make_file(p, 1000, 1), 0);
	ck_assert_msg(wait_menu(menu, "item debian/bookworm/6.13.1-amd64/nfs", 1, 10000), "new kernel not listed");
	char *m = http_get(menu);
	ck_assert_ptr_nonnull(m);
	ck_assert_msg(strstr(m, "item debian/bookworm/latest/nfs latest (6.1.0-21-amd64) nfs") != NULL,
	              "latest moved to a kernel without an initrd:\n%s", m);
	const char *e = strstr(m, ":debian/bookworm/latest/nfs\n");
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_nonnull(strstr(e, "kernel --name vmlinuz /boot/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64 "));
	free(m);
	m = http_get("/api/v1/catalog");
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(strstr(m, "kernel 6.13.1-amd64 has no initrd while others in this release do; not used "
	                                "for latest/default"));
	free(m);
	/* the initramfs is generated (written beside, renamed in): now it is latest */
	snprintf(tmp, sizeof tmp, "%s/debian/bookworm/boot/initrd.img-6.13.1-amd64.new", srv.rootfs);
	ck_assert_int_eq(itest_make_file(tmp, 2000, 2), 0);
	snprintf(p, sizeof p, "%s/debian/bookworm/boot/initrd.img-6.13.1-amd64", srv.rootfs);
	ck_assert_int_eq(rename(tmp, p), 0);
	ck_assert_msg(wait_menu(menu, "item debian/bookworm/latest/nfs latest (6.13.1-amd64) nfs", 1, 10000),
	              "latest did not move to the completed kernel");
	m = http_get("/api/v1/catalog");
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_null(strstr(m, "not used for latest/default"));
	free(m);
	itest_stop_clean(&srv);
}
END_TEST

/* 1,000 file events in a burst cause a bounded number of rescans (debounce). */
START_TEST(test_event_burst)
{
	start(1, NULL);
	itest_msleep(1200); /* let start-up settle */
	int before = count_in_log("reloaded:");
	sh("cd '%s/debian/bookworm' && for i in $(seq 1 500); do : > f$i; done && rm -f f*", srv.rootfs);
	itest_msleep(2500); /* debounce + rescan + a margin */
	int after = count_in_log("reloaded:");
	fprintf(stderr, "catalog: 1,000 file events -> %d rescans\n", after - before);
	ck_assert_int_ge(after - before, 1);
	ck_assert_int_le(after - before, 4);
	itest_stop_clean(&srv);
}
END_TEST

/* 200 concurrent downloads (100 TFTP, 100 HTTP at a limited rate) of a file extracted from an ISO run across
 * 20 reloads and all arrive intact. */
START_TEST(test_downloads_across_reloads)
{
	start(0, NULL);
	const char *name = "iso/debian-12.5.0-amd64-netinst.iso/install.amd/initrd.gz";
	char src[700], want[65];
	snprintf(src, sizeof src, "%s/src-netinst/install.amd/initrd.gz", srv.dir);
	ck_assert_int_eq(itest_sha256(src, want), 0);
	sh("mkdir -p '%s/dl'", srv.dir);
	char *script = NULL;
	ck_assert_int_gt(asprintf(&script,
	                          "cd '%s/dl' && for i in $(seq 1 100); do "
	                          "curl -s --max-time 120 --tftp-blksize 8192 -o t$i 'tftp://127.0.0.1:%u/boot/%s' & "
	                          "curl -s --max-time 120 --limit-rate 1M -o h$i 'http://127.0.0.1:%u/boot/%s' & "
	                          "done; wait; "
	                          "sha256sum t* h* | awk '{print $1}' | sort | uniq -c",
	                          srv.dir, srv.tftp_port, name, srv.http_port, name),
	                 0);
	int before = count_in_log("reloaded:");
	FILE *p = popen(script, "r");
	free(script);
	ck_assert_ptr_nonnull(p);
	itest_msleep(300);
	for (int i = 0; i < 20; i++) {
		sh("curl -sf --max-time 30 -X POST -o /dev/null 'http://127.0.0.1:%u/api/v1/reload'", srv.http_port);
		itest_msleep(50);
	}
	char line[256], summary[2048] = "";
	while (fgets(line, sizeof line, p))
		strncat(summary, line, sizeof summary - strlen(summary) - 1);
	ck_assert_int_eq(pclose(p), 0);
	char expect[128];
	snprintf(expect, sizeof expect, "200 %s", want);
	ck_assert_msg(strstr(summary, expect) != NULL, "downloads across reloads: sha256 counts:\n%s", summary);
	int reloads = count_in_log("reloaded:") - before;
	fprintf(stderr, "catalog: 200 downloads of 2 MiB intact across %d reloads\n", reloads);
	ck_assert_int_ge(reloads, 20);
	itest_stop_clean(&srv);
}
END_TEST

Suite *catalog_it_suite(void)
{
	Suite *s = suite_create("catalog_it");
	TCase *tc = tcase_create("catalog");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_iso_entries_and_downloads);
	tcase_add_test(tc, test_reload_cases);
	tcase_add_test(tc, test_half_installed_kernel);
	tcase_add_test(tc, test_event_burst);
	tcase_add_test(tc, test_downloads_across_reloads);
	suite_add_tcase(s, tc);
	return s;
}
