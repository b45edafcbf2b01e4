/* check_scan.c - unit tests for the rootfs scanner: real fixture trees built in a temp dir. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "scan.h"

/* ---- fixture helpers ---- */

static char tmproot[256];

static void fx_setup(void)
{
	snprintf(tmproot, sizeof(tmproot), "/tmp/check_scan.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmproot));
	char *real = realpath(tmproot, NULL); /* /tmp may itself be a symlink; cat->root is resolved */
	ck_assert_ptr_nonnull(real);
	snprintf(tmproot, sizeof(tmproot), "%s", real);
	free(real);
}

static int fx_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static int fx_chmod(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D || flag == FTW_DNR)
		chmod(p, 0755);
	(void)st;
	return 0;
}

static void fx_teardown(void)
{
	nftw(tmproot, fx_chmod, 16, FTW_PHYS);
	nftw(tmproot, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void fx_path(char *buf, size_t sz, const char *rel) { snprintf(buf, sz, "%s/%s", tmproot, rel); }

/* mkdir -p of the directory part of rel (and rel itself when dir=1). */
static void fx_mkdirs(const char *rel, int dir)
{
	char p[4096];
	fx_path(p, sizeof(p), rel);
	size_t base = strlen(tmproot) + 1;
	for (char *q = p + base; *q; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		ck_assert_msg(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir %s", p);
		*q = '/';
	}
	if (dir)
		ck_assert_msg(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir %s", p);
}

static void fx_file(const char *rel, const char *content)
{
	char p[4096];
	fx_mkdirs(rel, 0);
	fx_path(p, sizeof(p), rel);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
}

static void fx_link(const char *rel, const char *target)
{
	char p[4096];
	fx_mkdirs(rel, 0);
	fx_path(p, sizeof(p), rel);
	ck_assert_msg(symlink(target, p) == 0, "symlink %s", p);
}

static struct catalog *fx_scan(void)
{
	struct catalog *cat = NULL;
	char err[256];
	int rc = scan_rootfs(tmproot, &cat, err, sizeof(err));
	ck_assert_msg(rc == 0, "scan_rootfs: %d %s", rc, err);
	ck_assert_ptr_nonnull(cat);
	return cat;
}

/* The reason recorded for path, or NULL. */
static const char *fx_skip(const struct catalog *cat, const char *path)
{
	for (size_t i = 0; i < cat->n_skipped; i++)
		if (strcmp(cat->skipped[i].path, path) == 0)
			return cat->skipped[i].reason;
	return NULL;
}

static void fx_assert_skip(const struct catalog *cat, const char *path, const char *reason)
{
	const char *r = fx_skip(cat, path);
	ck_assert_msg(r != NULL, "no skip recorded for %s", path);
	ck_assert_msg(strstr(r, reason) != NULL, "%s: reason \"%s\", want \"%s\"", path, r, reason);
}

/* Assert what a kernel entry names: id, shown and real paths of kernel and initrd (NULL: none), sizes. */
static void fx_assert_kernel(const struct scan_kernel *k, const char *id, const char *kpath, const char *kreal,
                             const char *ipath, const char *ireal, uint64_t ksize, uint64_t isize)
{
	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k->id, id);
	ck_assert_int_eq(k->is_default, strcmp(id, "default") == 0);
	ck_assert_str_eq(k->kernel_path, kpath);
	ck_assert_str_eq(k->kernel_real, kreal);
	ck_assert_pstr_eq(k->initrd_path, ipath);
	ck_assert_pstr_eq(k->initrd_real, ireal);
	ck_assert_uint_eq(k->kernel_size, ksize);
	if (ipath)
		ck_assert_uint_eq(k->initrd_size, isize);
}

static const char *fx_osrel(const struct scan_release *r, const char *key)
{
	for (size_t i = 0; i < r->n_osrel; i++)
		if (strcmp(r->osrel[i].key, key) == 0)
			return r->osrel[i].value;
	return NULL;
}

/* ---- well-formed distributions ---- */

static void fx_debian(void)
{
	fx_file("debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", "KERNEL-21");
	fx_file("debian/bookworm/boot/initrd.img-6.1.0-21-amd64", "INITRD-21-xx");
	fx_file("debian/bookworm/boot/vmlinuz-6.1.0-9-amd64", "K9");
	fx_file("debian/bookworm/boot/initrd.img-6.1.0-9-amd64", "I9");
	fx_file("debian/bookworm/boot/vmlinuz-5.10.0-28-amd64", "K5");
	fx_file("debian/bookworm/boot/initrd.img-5.10.0-28-amd64", "I5");
	fx_file("debian/bookworm/boot/config-6.1.0-21-amd64", "not a kernel");
	fx_file("debian/bookworm/boot/System.map-6.1.0-21-amd64", "");
	fx_link("debian/bookworm/vmlinuz", "boot/vmlinuz-6.1.0-21-amd64");
	fx_link("debian/bookworm/initrd.img", "/boot/initrd.img-6.1.0-21-amd64"); /* absolute: chroot-relative */
	fx_link("debian/bookworm/vmlinuz.old", "boot/vmlinuz-6.1.0-9-amd64");
	fx_file("debian/bookworm/usr/lib/os-release",
		"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n"
		"ID=debian\n# comment\nHOME_URL=\"https://www.debian.org/\"\n");
	fx_link("debian/bookworm/etc/os-release", "../usr/lib/os-release");
	fx_mkdirs("debian/bookworm/lib/modules/6.1.0-21-amd64/kernel", 1); /* no vmlinuz there: fine */
	fx_link("debian/stable", "bookworm");
}

START_TEST(test_debian)
{
	fx_debian();
	struct catalog *cat = fx_scan();
	ck_assert_uint_eq(cat->n_distros, 1);
	ck_assert_str_eq(cat->distros[0].name, "debian");
	ck_assert_uint_eq(cat->distros[0].n_releases, 2);
	ck_assert_uint_eq(cat->n_releases, 2);
	ck_assert_uint_eq(cat->n_kernels, 6);
	ck_assert_msg(cat->n_skipped == 0, "unexpected skip: %s %s", cat->n_skipped ? cat->skipped[0].path : "",
		      cat->n_skipped ? cat->skipped[0].reason : "");

	const struct scan_release *r = catalog_release(cat, "debian", "bookworm");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->name, "bookworm");
	ck_assert_str_eq(r->path, "debian/bookworm");
	ck_assert_str_eq(r->pretty_name, "Debian GNU/Linux 12 (bookworm)");
	ck_assert_uint_eq(r->n_osrel, 5);
	ck_assert_str_eq(r->osrel[0].key, "PRETTY_NAME");
	ck_assert_str_eq(fx_osrel(r, "ID"), "debian");
	ck_assert_str_eq(fx_osrel(r, "VERSION_ID"), "12");
	ck_assert_uint_eq(r->n_kernels, 3);
	ck_assert_str_eq(r->kernels[0].id, "6.1.0-21-amd64");
	ck_assert_str_eq(r->kernels[1].id, "6.1.0-9-amd64");
	ck_assert_str_eq(r->kernels[2].id, "5.10.0-28-amd64");
	fx_assert_kernel(&r->kernels[0], "6.1.0-21-amd64", "debian/bookworm/boot/vmlinuz-6.1.0-21-amd64",
	                 "debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", "debian/bookworm/boot/initrd.img-6.1.0-21-amd64",
	                 "debian/bookworm/boot/initrd.img-6.1.0-21-amd64", 9, 12);
	fx_assert_kernel(r->default_kernel, "default", "debian/bookworm/vmlinuz",
	                 "debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", "debian/bookworm/initrd.img",
	                 "debian/bookworm/boot/initrd.img-6.1.0-21-amd64", 9, 12);

	ck_assert_ptr_eq(release_kernel(r, "latest"), &r->kernels[0]);
	ck_assert_ptr_eq(release_kernel(r, "default"), r->default_kernel);
	ck_assert_ptr_eq(release_kernel(r, "6.1.0-9-amd64"), &r->kernels[1]);
	ck_assert_ptr_null(release_kernel(r, "6.1.0-9"));
	ck_assert_ptr_null(release_kernel(r, NULL));
	ck_assert_ptr_null(release_kernel(NULL, "latest"));

	/* debian/stable -> bookworm: shown under its own name, real files in bookworm */
	const struct scan_release *st = catalog_release(cat, "debian", "stable");
	ck_assert_ptr_nonnull(st);
	ck_assert_ptr_eq(st, &cat->distros[0].releases[1]); /* sorted by name */
	ck_assert_str_eq(st->path, "debian/stable");
	ck_assert_str_eq(st->kernels[0].kernel_path, "debian/stable/boot/vmlinuz-6.1.0-21-amd64");
	ck_assert_str_eq(st->kernels[0].kernel_real, "debian/bookworm/boot/vmlinuz-6.1.0-21-amd64");
	ck_assert_str_eq(st->default_kernel->initrd_real, "debian/bookworm/boot/initrd.img-6.1.0-21-amd64");

	ck_assert_ptr_eq(catalog_distro(cat, "debian"), &cat->distros[0]);
	ck_assert_ptr_null(catalog_distro(cat, "ubuntu"));
	ck_assert_ptr_null(catalog_distro(cat, NULL));
	ck_assert_ptr_null(catalog_distro(NULL, "debian"));
	ck_assert_ptr_null(catalog_release(cat, "debian", "trixie"));
	ck_assert_ptr_null(catalog_release(cat, "nope", "bookworm"));
	ck_assert_ptr_null(catalog_release(cat, "debian", NULL));
	ck_assert_str_eq(cat->root, tmproot);
	catalog_free(cat);
}
END_TEST

START_TEST(test_ubuntu)
{
	fx_file("ubuntu/noble/boot/vmlinuz-6.8.0-31-generic", "K31");
	fx_file("ubuntu/noble/boot/initrd.img-6.8.0-31-generic", "I31");
	fx_file("ubuntu/noble/boot/vmlinuz-6.8.0-101-generic", "K101");
	fx_file("ubuntu/noble/boot/initrd.img-6.8.0-101-generic", "I101");
	fx_link("ubuntu/noble/boot/vmlinuz", "vmlinuz-6.8.0-31-generic");
	fx_link("ubuntu/noble/boot/initrd.img", "initrd.img-6.8.0-31-generic");
	fx_link("ubuntu/noble/boot/vmlinuz.old", "vmlinuz-6.8.0-101-generic");
	fx_file("ubuntu/noble/usr/lib/os-release", "PRETTY_NAME='Ubuntu 24.04 LTS'\nID=ubuntu\n");
	struct catalog *cat = fx_scan();
	const struct scan_release *r = catalog_release(cat, "ubuntu", "noble");
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(cat->n_skipped, 0);
	ck_assert_str_eq(r->pretty_name, "Ubuntu 24.04 LTS"); /* from usr/lib when etc/ has none */
	ck_assert_uint_eq(r->n_kernels, 2);
	ck_assert_str_eq(r->kernels[0].id, "6.8.0-101-generic");
	ck_assert_ptr_nonnull(r->default_kernel);
	ck_assert_str_eq(r->default_kernel->kernel_path, "ubuntu/noble/boot/vmlinuz");
	ck_assert_str_eq(r->default_kernel->kernel_real, "ubuntu/noble/boot/vmlinuz-6.8.0-31-generic");
	ck_assert_str_eq(r->default_kernel->initrd_path, "ubuntu/noble/boot/initrd.img");
	ck_assert_str_eq(r->default_kernel->initrd_real, "ubuntu/noble/boot/initrd.img-6.8.0-31-generic");
	catalog_free(cat);
}
END_TEST

START_TEST(test_arch)
{
	fx_file("arch/current/boot/vmlinuz-linux", "K");
	fx_file("arch/current/boot/vmlinuz-linux-lts", "KL");
	fx_file("arch/current/boot/vmlinuz-linux-zen", "KZ");
	fx_file("arch/current/boot/initramfs-linux.img", "I");
	fx_file("arch/current/boot/initramfs-linux-fallback.img", "IF");
	fx_file("arch/current/boot/initramfs-linux-lts.img", "IL");
	fx_file("arch/current/boot/initramfs-linux-zen.img", "IZ");
	fx_file("arch/current/boot/amd-ucode.img", "U");
	struct catalog *cat = fx_scan();
	const struct scan_release *r = catalog_release(cat, "arch", "current");
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(cat->n_skipped, 0);
	ck_assert_uint_eq(r->n_kernels, 3);
	ck_assert_str_eq(r->kernels[0].id, "linux");
	ck_assert_str_eq(r->kernels[1].id, "linux-lts");
	ck_assert_str_eq(r->kernels[2].id, "linux-zen");
	ck_assert_str_eq(release_kernel(r, "latest")->id, "linux");
	ck_assert_str_eq(r->kernels[1].initrd_path, "arch/current/boot/initramfs-linux-lts.img");
	ck_assert_str_eq(r->kernels[0].initrd_path, "arch/current/boot/initramfs-linux.img");
	ck_assert_ptr_null(r->default_kernel);
	ck_assert_ptr_null(release_kernel(r, "default"));
	ck_assert_ptr_null(r->pretty_name);
	ck_assert_uint_eq(r->n_osrel, 0);
	catalog_free(cat);
}
END_TEST

START_TEST(test_fedora_rocky)
{
	/* Rocky: lib -> usr/lib, kernels only in modules, initramfs in boot/ */
	fx_link("rocky/9/lib", "usr/lib");
	fx_file("rocky/9/usr/lib/modules/5.14.0-427.el9.x86_64/vmlinuz", "K427");
	fx_file("rocky/9/usr/lib/modules/5.14.0-362.el9.x86_64/vmlinuz", "K362");
	fx_mkdirs("rocky/9/usr/lib/modules/5.14.0-100.el9.x86_64/kernel", 1); /* leftover modules, no kernel */
	fx_file("rocky/9/boot/initramfs-5.14.0-427.el9.x86_64.img", "I427");
	fx_file("rocky/9/boot/initramfs-5.14.0-362.el9.x86_64.img", "I362");
	fx_file("rocky/9/etc/os-release", "NAME=\"Rocky Linux\"\nPRETTY_NAME=\"Rocky Linux 9.4 (Blue Onyx)\"\n");
	/* Fedora: kernel both in boot/ and in usr/lib/modules (no lib symlink) */
	fx_file("fedora/40/boot/vmlinuz-6.8.5-301.fc40.x86_64", "KB");
	fx_file("fedora/40/usr/lib/modules/6.8.5-301.fc40.x86_64/vmlinuz", "KM");
	fx_file("fedora/40/boot/initramfs-6.8.5-301.fc40.x86_64.img", "I");
	fx_file("fedora/40/usr/lib/os-release", "PRETTY_NAME=\"Fedora Linux 40 (Forty)\"\n");
	fx_link("fedora/40/etc/os-release", "/usr/lib/os-release"); /* absolute: inside the rootfs */
	struct catalog *cat = fx_scan();
	ck_assert_uint_eq(cat->n_skipped, 0);
	const struct scan_release *r = catalog_release(cat, "rocky", "9");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->pretty_name, "Rocky Linux 9.4 (Blue Onyx)");
	ck_assert_uint_eq(r->n_kernels, 2); /* lib/modules and usr/lib/modules are one directory */
	ck_assert_str_eq(r->kernels[0].id, "5.14.0-427.el9.x86_64");
	ck_assert_str_eq(r->kernels[0].kernel_path, "rocky/9/lib/modules/5.14.0-427.el9.x86_64/vmlinuz");
	ck_assert_str_eq(r->kernels[0].kernel_real, "rocky/9/usr/lib/modules/5.14.0-427.el9.x86_64/vmlinuz");
	ck_assert_str_eq(r->kernels[0].initrd_path, "rocky/9/boot/initramfs-5.14.0-427.el9.x86_64.img");
	ck_assert_uint_eq(r->kernels[0].kernel_size, 4);
	ck_assert_str_eq(r->kernels[1].id, "5.14.0-362.el9.x86_64");
	const struct scan_release *f = catalog_release(cat, "fedora", "40");
	ck_assert_uint_eq(f->n_kernels, 1);
	ck_assert_str_eq(f->kernels[0].kernel_path, "fedora/40/boot/vmlinuz-6.8.5-301.fc40.x86_64"); /* boot/ wins */
	ck_assert_str_eq(f->pretty_name, "Fedora Linux 40 (Forty)");
	ck_assert_uint_eq(cat->n_kernels, 3);
	catalog_free(cat);
}
END_TEST

START_TEST(test_arm64_and_initrd_names)
{
	fx_file("debian-arm/bookworm/boot/Image-6.1.0-21-arm64", "IMG");
	fx_file("debian-arm/bookworm/boot/initrd.img-6.1.0-21-arm64", "I");
	fx_file("misc/r/boot/vmlinuz-1.0", "K");
	fx_file("misc/r/boot/initrd-1.0.img", "I");
	fx_file("misc/r/boot/vmlinuz-2.0", "K");
	fx_file("misc/r/boot/initrd-2.0", "I");
	fx_file("misc/r/boot/vmlinuz-3.0", "K");
	fx_file("misc/r/boot/initrd.img-3.0", "I1");  /* preferred */
	fx_file("misc/r/boot/initramfs-3.0.img", "I2");
	fx_file("misc/r/boot/initrd-3.0.img", "I3");
	fx_file("misc/r/boot/initrd-3.0", "I4");
	fx_file("misc/r/boot/Image-3.0", "dup"); /* same id as vmlinuz-3.0 */
	struct catalog *cat = fx_scan();
	const struct scan_release *r = catalog_release(cat, "debian-arm", "bookworm");
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->n_kernels, 1);
	ck_assert_str_eq(r->kernels[0].id, "6.1.0-21-arm64");
	ck_assert_str_eq(r->kernels[0].kernel_path, "debian-arm/bookworm/boot/Image-6.1.0-21-arm64");
	ck_assert_str_eq(r->kernels[0].initrd_path, "debian-arm/bookworm/boot/initrd.img-6.1.0-21-arm64");
	r = catalog_release(cat, "misc", "r");
	ck_assert_uint_eq(r->n_kernels, 3);
	ck_assert_str_eq(r->kernels[0].initrd_path, "misc/r/boot/initrd.img-3.0");
	ck_assert_str_eq(r->kernels[0].kernel_path, "misc/r/boot/vmlinuz-3.0");
	ck_assert_str_eq(r->kernels[1].initrd_path, "misc/r/boot/initrd-2.0");
	ck_assert_str_eq(r->kernels[2].initrd_path, "misc/r/boot/initrd-1.0.img");
	ck_assert_uint_eq(cat->n_skipped, 1);
	fx_assert_skip(cat, "misc/r/boot/Image-3.0", "duplicate kernel id");
	catalog_free(cat);
}
END_TEST

/* ---- hostile trees ---- */

START_TEST(test_hostile)
{
	char p[4096];
	fx_file("h/r/boot/vmlinuz-6.1", "K");          /* no -suffix: crashed the original */
	fx_file("h/r/boot/initrd.img-6.1", "I");
	fx_file("h/r/boot/vmlinuz-6.6", "K");          /* no initrd */
	fx_link("h/r/boot/vmlinuz-7.0", "vmlinuz-nothere");
	fx_link("h/r/boot/vmlinuz-7.1", "vmlinuz-7.1");
	fx_link("h/r/boot/vmlinuz-7.2", "/etc/passwd"); /* chroot: h/r/etc/passwd, absent */
	fx_link("h/r/boot/vmlinuz-7.3", "../../../../etc/passwd");
	fx_mkdirs("h/r/boot/vmlinuz-7.4", 1);
	fx_path(p, sizeof(p), "h/r/boot/vmlinuz-7.5");
	ck_assert_int_eq(mkfifo(p, 0644), 0);
	fx_link("h/r/boot/vmlinuz-7.6", "weird name");
	fx_link("h/r/boot/vmlinuz-7.7", "loop-a");
	fx_link("h/r/boot/loop-a", "loop-b");
	fx_link("h/r/boot/loop-b", "./loop-a");
	fx_file("h/r/boot/vmlinuz-7.8", "K");
	fx_link("h/r/boot/initrd.img-7.8", "missing-initrd"); /* dangling initrd: listed without one */
	fx_link("h/r/boot/vmlinuz-7.9", "/boot/../../../../..");
	/* a chain of 41 links is refused like a loop; 40 are followed */
	for (int i = 0; i < 41; i++) {
		char name[64], tgt[64];
		snprintf(name, sizeof(name), "h/r/boot/chain%02d", i);
		snprintf(tgt, sizeof(tgt), i == 40 ? "vmlinuz-6.1" : "chain%02d", i + 1);
		fx_link(name, tgt);
	}
	fx_link("h/r/boot/vmlinuz-8.0", "chain01"); /* 41 links */
	fx_link("h/r/boot/vmlinuz-8.1", "chain02"); /* 40 links */
	fx_file("h/r/boot/initrd.img-8.1", "I");
	fx_file("h/r/boot/vmlinuz-6.1 bad", "K");
	fx_file("h/r/boot/vmlinuz-latest", "K");
	fx_file("h/r/boot/ignored file", "not kernel-like, not reported");
	fx_link("h/r/vmlinuz", "../../..");
	fx_file("h/r/etc/passwd-not", "");
	fx_path(p, sizeof(p), "h/r/etc/os-release");
	ck_assert_int_eq(mkfifo(p, 0644), 0); /* must not block */
	fx_file("h/bad name/boot/vmlinuz-1", "K");
	fx_file("h/new\nline/boot/vmlinuz-1", "K");
	fx_file("h/caf\xc3\xa9/boot/vmlinuz-1", "K");
	fx_file("h/.hidden/boot/vmlinuz-1", "K");
	fx_mkdirs("h/empty", 1);
	fx_file("h/afile", "x");
	fx_link("h/escape", "../..");
	fx_link("h/abs", "/etc");
	fx_link("h/dangling", "nothere");
	fx_file("locked/r/boot/vmlinuz-1", "K");
	fx_file("locked/r/boot/initrd.img-1", "I");
	fx_path(p, sizeof(p), "locked");
	ck_assert_int_eq(chmod(p, 0), 0);
	fx_file("h2/r/boot/vmlinuz-1", "K");
	fx_file("h2/r/boot/initrd.img-1", "I");
	fx_path(p, sizeof(p), "h2/r/boot");
	ck_assert_int_eq(chmod(p, 0), 0);
	fx_file("weird\tdistro/r/boot/vmlinuz-1", "K");

	struct catalog *cat = fx_scan();
	const struct scan_release *r = catalog_release(cat, "h", "r");
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->n_kernels, 4);
	ck_assert_str_eq(r->kernels[0].id, "8.1");
	ck_assert_str_eq(r->kernels[0].kernel_real, "h/r/boot/vmlinuz-6.1");
	ck_assert_str_eq(r->kernels[1].id, "7.8");
	ck_assert_ptr_null(r->kernels[1].initrd_path);
	ck_assert_ptr_null(r->kernels[1].initrd_real);
	ck_assert_str_eq(r->kernels[2].id, "6.6");
	ck_assert_ptr_null(r->kernels[2].initrd_path);
	ck_assert_str_eq(r->kernels[3].id, "6.1");
	ck_assert_str_eq(r->kernels[3].initrd_path, "h/r/boot/initrd.img-6.1");
	ck_assert_ptr_null(r->default_kernel);
	ck_assert_ptr_null(r->pretty_name);

	ck_assert_ptr_eq(release_kernel(r, "latest"), &r->kernels[0]);
	fx_assert_skip(cat, "h/r/boot/vmlinuz-6.6", "kernel 6.6 has no initrd while others in this release do");
	fx_assert_skip(cat, "h/r/boot/vmlinuz-7.8", "kernel 7.8 has no initrd while others in this release do");
	fx_assert_skip(cat, "h/r/boot/initrd.img-7.8", "dangling symlink");
	fx_assert_skip(cat, "h/r/boot/vmlinuz-7.0", "dangling symlink");
	fx_assert_skip(cat, "h/r/boot/vmlinuz-7.1", "symlink loop");
	fx_assert_skip(cat, "h/r/boot/vmlinuz-7.2", "dangling symlink");
	fx_assert_skip(cat, "h/r/boot/vmlinuz-7.3", "symlink leaves the root");
	fx_assert_skip(cat, "h/r/boot/vmlinuz-7.4", "not a regular file");
	fx_assert_skip(cat, "h/r/boot/vmlinuz-7.5", "not a regular file");
	fx_assert_skip(cat, "h/r/boot/vmlinuz-7.6", "unsafe name");
	fx_assert_skip(cat, "h/r/boot/vmlinuz-7.7", "symlink loop");
	fx_assert_skip(cat, "h/r/boot/vmlinuz-7.9", "symlink leaves the root");
	fx_assert_skip(cat, "h/r/boot/vmlinuz-8.0", "symlink loop");
	fx_assert_skip(cat, "h/r/boot/vmlinuz-6.1 bad", "unsafe name");
	fx_assert_skip(cat, "h/r/boot/vmlinuz-latest", "reserved");
	fx_assert_skip(cat, "h/r/vmlinuz", "symlink leaves the root");
	fx_assert_skip(cat, "h/r/etc/os-release", "not a regular file");
	ck_assert_ptr_null(fx_skip(cat, "h/r/boot/ignored file"));
	fx_assert_skip(cat, "h/bad name", "unsafe name");
	fx_assert_skip(cat, "h/new\\x0aline", "unsafe name");
	fx_assert_skip(cat, "h/caf\\xc3\\xa9", "unsafe name");
	fx_assert_skip(cat, "weird\\x09distro", "unsafe name");
	ck_assert_ptr_null(fx_skip(cat, "h/.hidden"));
	fx_assert_skip(cat, "h/empty", "no kernel found");
	fx_assert_skip(cat, "h/afile", "not a directory");
	fx_assert_skip(cat, "h/escape", "symlink leaves the root");
	fx_assert_skip(cat, "h/abs", "symlink leaves the root");
	fx_assert_skip(cat, "h/dangling", "dangling symlink");
	if (geteuid() != 0) {
		fx_assert_skip(cat, "locked", "cannot read directory");
		fx_assert_skip(cat, "h2/r/boot", "cannot read directory");
		fx_assert_skip(cat, "h2/r", "no kernel found");
		ck_assert_ptr_null(catalog_distro(cat, "locked"));
	} else {
		ck_assert_ptr_nonnull(catalog_release(cat, "locked", "r"));
		ck_assert_ptr_nonnull(catalog_release(cat, "h2", "r"));
	}
	/* every recorded path is printable ASCII and the list is sorted */
	for (size_t i = 0; i < cat->n_skipped; i++) {
		for (const char *c = cat->skipped[i].path; *c; c++)
			ck_assert(*c >= 0x20 && *c < 0x7f);
		if (i)
			ck_assert_int_le(strcmp(cat->skipped[i - 1].path, cat->skipped[i].path), 0);
	}
	/* every listed path is safe */
	for (size_t i = 0; i < cat->n_distros; i++)
		for (size_t j = 0; j < cat->distros[i].n_releases; j++)
			for (size_t k = 0; k < cat->distros[i].releases[j].n_kernels; k++) {
				const struct scan_kernel *kk = &cat->distros[i].releases[j].kernels[k];
				ck_assert(strspn(kk->kernel_real, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
								  "0123456789._+~@,=-/") == strlen(kk->kernel_real));
				ck_assert_ptr_null(strstr(kk->kernel_real, ".."));
			}
	catalog_free(cat);
}
END_TEST

/* Distro/release symlinks: absolute targets are accepted only under the root's absolute path. */
/* A huge os-release is read up to a bound; bad lines in it cost only themselves. */
START_TEST(test_osrelease_file)
{
	char p[4096];
	fx_file("big/r/boot/vmlinuz-1", "K");
	fx_path(p, sizeof(p), "big/r/etc/os-release");
	fx_mkdirs("big/r/etc/os-release", 0);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs("ID=x\nPRETTY_NAME=\"bad\x01name\"\nPRETTY_NAME=\"Big One\"\n", f);
	for (int i = 0; i < 20000; i++)
		fputs("junk junk junk\n", f);
	fputs("VERSION_ID=never-read\n", f);
	fclose(f);
	struct catalog *cat = fx_scan();
	const struct scan_release *r = catalog_release(cat, "big", "r");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->pretty_name, "Big One");
	ck_assert_uint_eq(r->n_osrel, 2);
	ck_assert_ptr_null(fx_osrel(r, "VERSION_ID")); /* past the 64 KiB read bound */
	catalog_free(cat);
}
END_TEST

START_TEST(test_release_symlinks)
{
	char tgt[4096];
	fx_file("debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", "K");
	fx_file("debian/bookworm/boot/initrd.img-6.1.0-21-amd64", "I");
	snprintf(tgt, sizeof(tgt), "%s/debian/bookworm", tmproot);
	fx_link("debian/lts", tgt);
	fx_link("deb", "debian");
	fx_link("debian/self", ".");
	fx_link("debian/up", "..");
	fx_link("debian/abs-up", "/");
	struct catalog *cat = fx_scan();
	const struct scan_release *r = catalog_release(cat, "debian", "lts");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->kernels[0].kernel_real, "debian/bookworm/boot/vmlinuz-6.1.0-21-amd64");
	ck_assert_str_eq(r->kernels[0].kernel_path, "debian/lts/boot/vmlinuz-6.1.0-21-amd64");
	r = catalog_release(cat, "deb", "bookworm");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->kernels[0].kernel_path, "deb/bookworm/boot/vmlinuz-6.1.0-21-amd64");
	ck_assert_str_eq(r->kernels[0].kernel_real, "debian/bookworm/boot/vmlinuz-6.1.0-21-amd64");
	ck_assert_ptr_null(catalog_release(cat, "debian", "self"));
	fx_assert_skip(cat, "debian/self", "no kernel found");
	fx_assert_skip(cat, "debian/up", "no kernel found");
	fx_assert_skip(cat, "debian/abs-up", "symlink leaves the root");
	catalog_free(cat);

	/* RootfsPath is usually written with a trailing slash */
	char root[300], err[128];
	snprintf(root, sizeof(root), "%s/", tmproot);
	ck_assert_int_eq(scan_rootfs(root, &cat, err, sizeof(err)), 0);
	ck_assert_str_eq(cat->root, tmproot);
	ck_assert_ptr_nonnull(catalog_release(cat, "debian", "lts"));
	catalog_free(cat);
}
END_TEST

START_TEST(test_many_releases)
{
	enum { N = 10000 };
	char rel[128];
	for (int i = 0; i < N; i++) {
		snprintf(rel, sizeof(rel), "big/r%05d/boot/vmlinuz-6.1.%d", i, i % 7);
		fx_file(rel, "");
		snprintf(rel, sizeof(rel), "big/r%05d/boot/initrd.img-6.1.%d", i, i % 7);
		fx_file(rel, "");
	}
	struct catalog *cat = fx_scan();
	ck_assert_uint_eq(cat->n_releases, N);
	ck_assert_uint_eq(cat->n_kernels, N);
	ck_assert_uint_eq(cat->n_skipped, 0);
	/* No time limit here: speed is bench/scan.sh's job (a unit test with a time limit failed under ASan in a
	 * loaded container build). The figure is printed for the log only. */
	const struct scan_release *r = catalog_release(cat, "big", "r05000");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->kernels[0].id, "6.1.2");
	ck_assert_ptr_null(catalog_release(cat, "big", "r10000"));
	for (size_t i = 1; i < cat->distros[0].n_releases; i++)
		ck_assert_int_lt(strcmp(cat->distros[0].releases[i - 1].name, cat->distros[0].releases[i].name), 0);
	fprintf(stderr, "scan: %d releases in %llu us\n", N, (unsigned long long)cat->scan_us);
	catalog_free(cat);
}
END_TEST

START_TEST(test_root_errors)
{
	struct catalog *cat = (struct catalog *)1;
	char err[256], p[4096];
	ck_assert_int_eq(scan_rootfs("/nonexistent/autopxe-root", &cat, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_null(cat);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/autopxe-root"));
	fx_file("plainfile", "x");
	fx_path(p, sizeof(p), "plainfile");
	ck_assert_int_eq(scan_rootfs(p, &cat, err, sizeof(err)), -ENOTDIR);
	ck_assert_int_eq(scan_rootfs(p, &cat, NULL, 0), -ENOTDIR);
	/* an empty root is fine: empty catalog */
	fx_mkdirs("emptyroot", 1);
	fx_path(p, sizeof(p), "emptyroot");
	ck_assert_int_eq(scan_rootfs(p, &cat, err, sizeof(err)), 0);
	ck_assert_uint_eq(cat->n_distros, 0);
	ck_assert_uint_eq(cat->n_skipped, 0);
	catalog_free(cat);
	catalog_free(NULL);
}
END_TEST

static char *fx_print(const struct catalog *cat, int json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	catalog_print(cat, f, json);
	fclose(f);
	return buf;
}

START_TEST(test_print)
{
	fx_debian();
	fx_file("debian/bookworm/boot/vmlinuz-6.6", "K"); /* no initrd */
	fx_file("arch/current/boot/vmlinuz-linux", "K");
	fx_file("arch/current/boot/initramfs-linux.img", "I");
	struct catalog *cat = fx_scan();
	char *t = fx_print(cat, 0);
	ck_assert_ptr_nonnull(strstr(t, "DISTRO"));
	ck_assert_ptr_nonnull(strstr(t, "Debian GNU/Linux 12 (bookworm)"));
	ck_assert_ptr_nonnull(strstr(t, "6.6  "));
	ck_assert_ptr_nonnull(strstr(t, "latest"));
	ck_assert_ptr_nonnull(strstr(t, "default"));
	ck_assert_ptr_nonnull(strstr(t, "debian/bookworm/boot/initrd.img-6.1.0-21-amd64"));
	ck_assert_ptr_nonnull(strstr(t, "(no initrd)"));
	ck_assert_ptr_nonnull(strstr(t, "skipped:\n  debian/bookworm/boot/vmlinuz-6.6: kernel 6.6 has no initrd while "
	                                "others in this release do; not used for latest/default\n"));
	ck_assert_ptr_nonnull(strstr(t, "6.1.0-21-amd64   latest ")); /* the KERNEL column is 15 wide */
	ck_assert(strstr(t, "arch") < strstr(t, "debian")); /* distros sorted */
	free(t);

	t = fx_print(cat, 1);
	json_error_t jerr;
	json_t *j = json_loads(t, 0, &jerr);
	ck_assert_msg(j != NULL, "bad JSON: %s", jerr.text);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "n_releases")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "n_kernels")), 9);
	json_t *ds = json_object_get(j, "distros");
	ck_assert_uint_eq(json_array_size(ds), 2);
	json_t *deb = json_array_get(ds, 1);
	ck_assert_str_eq(json_string_value(json_object_get(deb, "name")), "debian");
	json_t *bw = json_array_get(json_object_get(deb, "releases"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(bw, "latest")), "6.1.0-21-amd64"); /* 6.6 lacks an initrd */
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(bw, "os_release"), "ID")), "debian");
	json_t *k0 = json_array_get(json_object_get(bw, "kernels"), 0);
	ck_assert(json_is_null(json_object_get(k0, "initrd")));
	json_t *k1 = json_array_get(json_object_get(bw, "kernels"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(k1, "kernel")),
			 "debian/bookworm/boot/vmlinuz-6.1.0-21-amd64");
	ck_assert_int_eq(json_integer_value(json_object_get(k1, "kernel_size")), 9);
	json_t *dk = json_object_get(bw, "default");
	ck_assert_str_eq(json_string_value(json_object_get(dk, "kernel")), "debian/bookworm/vmlinuz");
	ck_assert(json_is_true(json_object_get(dk, "default")));
	json_t *arch = json_array_get(json_object_get(json_array_get(ds, 0), "releases"), 0);
	ck_assert(json_is_null(json_object_get(arch, "default")));
	ck_assert(json_is_null(json_object_get(arch, "pretty_name")));
	json_t *sk = json_object_get(j, "skipped");
	ck_assert_uint_eq(json_array_size(sk), 2); /* the 6.6 note, for bookworm and stable */
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(sk, 0), "path")),
			 "debian/bookworm/boot/vmlinuz-6.6");
	json_decref(j);
	free(t);

	/* deterministic: a second scan prints the same bytes */
	struct catalog *cat2 = fx_scan();
	cat->scan_us = cat2->scan_us = 0;
	char *a = fx_print(cat, 1), *b = fx_print(cat2, 1);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	a = fx_print(cat, 0);
	b = fx_print(cat2, 0);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	catalog_print(NULL, stdout, 0);
	catalog_free(cat2);
	catalog_free(cat);
}
END_TEST

/* ---- os-release parser ---- */

static const struct {
	const char *in;
	const char *key, *want; /* want NULL: key absent */
} osr_cases[] = {
	{"ID=debian\n", "ID", "debian"},
	{"ID=debian", "ID", "debian"}, /* no final newline */
	{"ID=\"deb ian\"\n", "ID", "deb ian"},
	{"ID='it''s'\n", "ID", "its"},
	{"ID='a\\\"b'\n", "ID", "a\\\"b"},             /* no escapes in single quotes */
	{"ID=\"a\\\"b\\\\c\\$d\\`e\\x\"\n", "ID", "a\"b\\c$d`e\\x"},
	{"ID=a\\ b\n", "ID", "a b"},
	{"ID=abc  # trailing comment\n", "ID", "abc"},
	{"ID=abc def\n", "ID", NULL},                  /* unquoted blank then junk */
	{"ID=\"unterminated\n", "ID", NULL},
	{"ID='unterminated\n", "ID", NULL},
	{"ID=trailing\\", "ID", NULL},
	{"# ID=commented\n", "ID", NULL},
	{"  ID=indented\n", "ID", "indented"},
	{"ID =x\n", "ID", NULL},
	{"1D=x\n", "1D", NULL},
	{"ID\n", "ID", NULL},
	{"ID=\n", "ID", ""},
	{"ID=crlf\r\n", "ID", "crlf"},
	{"ID=\"a\tb\"\n", "ID", NULL},                 /* control byte */
	{"ID=\"a\x1b[31mb\"\n", "ID", NULL},
	{"ID=a\x7f\n", "ID", NULL},
	{"ID=first\nID=second\n", "ID", "second"},
	{"NAME=\"Caf\xc3\xa9 Linux\"\n", "NAME", "Caf\xc3\xa9 Linux"},
	{"garbage line\nID=ok\n=x\n", "ID", "ok"},
};

START_TEST(test_osrelease_table)
{
	for (size_t i = 0; i < sizeof(osr_cases) / sizeof(osr_cases[0]); i++) {
		struct scan_kv *kv = NULL;
		size_t n = 99;
		ck_assert_int_eq(scan_osrelease_parse(osr_cases[i].in, strlen(osr_cases[i].in), &kv, &n), 0);
		const char *got = NULL;
		for (size_t j = 0; j < n; j++)
			if (strcmp(kv[j].key, osr_cases[i].key) == 0)
				got = kv[j].value;
		if (osr_cases[i].want)
			ck_assert_msg(got && strcmp(got, osr_cases[i].want) == 0, "case %zu: got %s", i,
				      got ? got : "(none)");
		else
			ck_assert_msg(got == NULL, "case %zu: got %s", i, got);
		scan_osrelease_free(kv, n);
	}
}
END_TEST

START_TEST(test_osrelease_limits)
{
	char buf[8192];
	size_t len = 0;
	/* 70 keys: only the first 64 are kept, in order */
	for (int i = 0; i < 70; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "K%02d=v%d\n", i, i);
	struct scan_kv *kv;
	size_t n;
	ck_assert_int_eq(scan_osrelease_parse(buf, len, &kv, &n), 0);
	ck_assert_uint_eq(n, SCAN_OSREL_MAX_KEYS);
	ck_assert_str_eq(kv[0].key, "K00");
	ck_assert_str_eq(kv[63].key, "K63");
	ck_assert_str_eq(kv[63].value, "v63");
	scan_osrelease_free(kv, n);

	/* value length: 256 kept, 257 dropped */
	len = (size_t)snprintf(buf, sizeof(buf), "A=\"%0256d\"\nB=%0257d\n", 0, 0);
	ck_assert_int_eq(scan_osrelease_parse(buf, len, &kv, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(kv[0].key, "A");
	ck_assert_uint_eq(strlen(kv[0].value), 256);
	scan_osrelease_free(kv, n);

	/* NUL bytes inside a value drop it; other lines survive */
	static const char nul[] = "A=x\0y\nB=ok\n";
	ck_assert_int_eq(scan_osrelease_parse(nul, sizeof(nul) - 1, &kv, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(kv[0].key, "B");
	scan_osrelease_free(kv, n);

	/* empty input */
	ck_assert_int_eq(scan_osrelease_parse("", 0, &kv, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(kv);
	scan_osrelease_free(NULL, 0);
}
END_TEST

/* Every prefix of a real file parses without reading past its end (ASan checks the bounds). */
START_TEST(test_osrelease_prefixes)
{
	static const char text[] = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME='Debian'\nID=debian\\ x\n"
				   "# c\nVERSION=\"12 \\\"bookworm\\\"\"\n";
	for (size_t l = 0; l <= sizeof(text) - 1; l++) {
		char *copy = malloc(l ? l : 1);
		memcpy(copy, text, l);
		struct scan_kv *kv;
		size_t n;
		ck_assert_int_eq(scan_osrelease_parse(copy, l, &kv, &n), 0);
		ck_assert_uint_le(n, 4);
		scan_osrelease_free(kv, n);
		free(copy);
	}
	struct scan_kv *kv;
	size_t n;
	ck_assert_int_eq(scan_osrelease_parse(text, sizeof(text) - 1, &kv, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(kv[2].value, "debian x");
	ck_assert_str_eq(kv[3].value, "12 \"bookworm\"");
	scan_osrelease_free(kv, n);
}
END_TEST

/* Links in boot/ that lead to non-boot files inside the root (a release's etc/shadow, its own or another
 * release's, also via an absolute chroot target) are skipped, not listed as kernels. */
START_TEST(test_boot_links_to_secrets)
{
	fx_file("debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", "k");
	fx_file("debian/bookworm/boot/initrd.img-6.1.0-21-amd64", "i");
	fx_file("debian/bookworm/etc/shadow", "SECRET");
	fx_link("debian/bookworm/boot/vmlinuz-6.6.8-x", "../etc/shadow");
	fx_link("debian/bookworm/boot/initrd.img-6.6.8-x", "/etc/shadow");
	fx_file("debian/boot/boot/vmlinuz-5.10.0-1-amd64", "k2");
	fx_file("debian/boot/etc/shadow", "SECRET2");
	fx_link("debian/boot/boot/initrd.img-5.10.0-1-amd64", "../etc/shadow");
	struct catalog *cat = fx_scan();
	const struct scan_release *r = catalog_release(cat, "debian", "bookworm");
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->n_kernels, 1);
	ck_assert_str_eq(r->kernels[0].id, "6.1.0-21-amd64");
	fx_assert_skip(cat, "debian/bookworm/boot/vmlinuz-6.6.8-x", "resolves outside the boot directories");
	/* A release literally named "boot": its etc/ is still not a boot directory. */
	const struct scan_release *b = catalog_release(cat, "debian", "boot");
	ck_assert_msg(b == NULL || b->n_kernels == 0 || b->kernels[0].initrd_real == NULL ||
	                  strstr(b->kernels[0].initrd_real, "etc/shadow") == NULL,
	              "etc/shadow listed as an initrd");
	catalog_free(cat);
}
END_TEST

START_TEST(test_boot_file_ok_table)
{
	static const struct {
		const char *real;
		int ok;
	} t[] = {
	    {"debian/bookworm/boot/vmlinuz-6.1", 1},     {"fedora/40/lib/modules/6.8/vmlinuz", 1},
	    {"fedora/40/usr/lib/modules/6.8/vmlinuz", 1}, {"arch/x/usr/lib/kernel/vmlinuz", 1},
	    {"debian/bookworm/etc/shadow", 0},           {"debian/boot/etc/shadow", 0},
	    {"debian/bookworm/vmlinuz", 0},              {"debian/bookworm/bootx/vmlinuz", 0},
	    {"debian", 0},                               {"debian/bookworm", 0},
	    {"", 0},                                     {"debian/bookworm/etc/boot/x", 0},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		ck_assert_msg(scan_boot_file_ok(t[i].real) == t[i].ok, "%s", t[i].real);
	ck_assert_int_eq(scan_boot_file_ok(NULL), 0);
}
END_TEST

/* ---- latest must be bootable ---- */

/* A kernel without an initrd while others of its release have one is half-installed: latest (and a
 * default resolving to it) take the newest kernel that has one; it stays listed under its own id. */
START_TEST(test_latest_skips_half_installed)
{
	/* Debian: the newest kernel was unpacked, its initramfs never generated; the symlinks point at it */
	fx_file("debian/bookworm/boot/vmlinuz-6.2.0-1-amd64", "K62");
	fx_file("debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", "K21");
	fx_file("debian/bookworm/boot/initrd.img-6.1.0-21-amd64", "I21");
	fx_file("debian/bookworm/boot/vmlinuz-5.10.0-28-amd64", "K5");
	fx_file("debian/bookworm/boot/initrd.img-5.10.0-28-amd64", "I5");
	fx_link("debian/bookworm/vmlinuz", "boot/vmlinuz-6.2.0-1-amd64");
	fx_link("debian/bookworm/initrd.img", "boot/initrd.img-6.2.0-1-amd64"); /* dangling */
	/* Ubuntu: boot/vmlinuz moved to the new kernel, boot/initrd.img still names the old initrd */
	fx_file("ubuntu/noble/boot/vmlinuz-6.8.0-101-generic", "K101");
	fx_file("ubuntu/noble/boot/vmlinuz-6.8.0-31-generic", "K31");
	fx_file("ubuntu/noble/boot/initrd.img-6.8.0-31-generic", "I31");
	fx_link("ubuntu/noble/boot/vmlinuz", "vmlinuz-6.8.0-101-generic");
	fx_link("ubuntu/noble/boot/initrd.img", "initrd.img-6.8.0-31-generic");
	/* a default pointing at a bootable kernel stays as it is, though latest moves */
	fx_file("ubuntu/jammy/boot/vmlinuz-5.15.0-100-generic", "K100");
	fx_file("ubuntu/jammy/boot/vmlinuz-5.15.0-91-generic", "K91");
	fx_file("ubuntu/jammy/boot/initrd.img-5.15.0-91-generic", "I91");
	fx_link("ubuntu/jammy/boot/vmlinuz", "vmlinuz-5.15.0-91-generic");
	fx_link("ubuntu/jammy/boot/initrd.img", "initrd.img-5.15.0-91-generic");
	/* Rocky: kernels only in lib/modules, initramfs in boot/; the newest has none */
	fx_link("rocky/9/lib", "usr/lib");
	fx_file("rocky/9/usr/lib/modules/5.14.0-503.el9.x86_64/vmlinuz", "K503");
	fx_file("rocky/9/usr/lib/modules/5.14.0-427.el9.x86_64/vmlinuz", "K427");
	fx_file("rocky/9/boot/initramfs-5.14.0-427.el9.x86_64.img", "I427");
	struct catalog *cat = fx_scan();

	const struct scan_release *r = catalog_release(cat, "debian", "bookworm");
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->n_kernels, 3); /* still listed, newest first */
	ck_assert_str_eq(r->kernels[0].id, "6.2.0-1-amd64");
	ck_assert_ptr_null(r->kernels[0].initrd_path);
	ck_assert_ptr_eq(release_kernel(r, "6.2.0-1-amd64"), &r->kernels[0]);
	ck_assert_ptr_eq(release_kernel(r, "latest"), &r->kernels[1]);
	ck_assert_ptr_eq(release_latest(r), &r->kernels[1]);
	ck_assert_str_eq(release_latest(r)->id, "6.1.0-21-amd64");
	/* default: the latest kernel's files under the name "default" */
	fx_assert_kernel(release_kernel(r, "default"), "default", "debian/bookworm/boot/vmlinuz-6.1.0-21-amd64",
	                 "debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", "debian/bookworm/boot/initrd.img-6.1.0-21-amd64",
	                 "debian/bookworm/boot/initrd.img-6.1.0-21-amd64", 3, 3);
	ck_assert_str_eq(fx_skip(cat, "debian/bookworm/boot/vmlinuz-6.2.0-1-amd64"),
	                 "kernel 6.2.0-1-amd64 has no initrd while others in this release do; not used for "
	                 "latest/default");
	ck_assert_str_eq(fx_skip(cat, "debian/bookworm/vmlinuz"),
	                 "default resolves to kernel 6.2.0-1-amd64, which has no initrd while others in this release "
	                 "do; default boots 6.1.0-21-amd64 instead");
	fx_assert_skip(cat, "debian/bookworm/initrd.img", "dangling symlink");
	ck_assert_ptr_null(fx_skip(cat, "debian/bookworm/boot/vmlinuz-5.10.0-28-amd64"));

	r = catalog_release(cat, "ubuntu", "noble");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(release_kernel(r, "latest")->id, "6.8.0-31-generic");
	ck_assert_str_eq(r->default_kernel->kernel_path, "ubuntu/noble/boot/vmlinuz-6.8.0-31-generic");
	ck_assert_str_eq(r->default_kernel->initrd_path, "ubuntu/noble/boot/initrd.img-6.8.0-31-generic");
	fx_assert_skip(cat, "ubuntu/noble/boot/vmlinuz", "default resolves to kernel 6.8.0-101-generic");

	r = catalog_release(cat, "ubuntu", "jammy");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(release_kernel(r, "latest")->id, "5.15.0-91-generic");
	ck_assert_str_eq(r->default_kernel->kernel_path, "ubuntu/jammy/boot/vmlinuz");
	ck_assert_str_eq(r->default_kernel->initrd_path, "ubuntu/jammy/boot/initrd.img");
	ck_assert_ptr_null(fx_skip(cat, "ubuntu/jammy/boot/vmlinuz"));
	fx_assert_skip(cat, "ubuntu/jammy/boot/vmlinuz-5.15.0-100-generic", "not used for latest/default");

	r = catalog_release(cat, "rocky", "9");
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->n_kernels, 2);
	ck_assert_str_eq(r->kernels[0].id, "5.14.0-503.el9.x86_64");
	ck_assert_str_eq(release_kernel(r, "latest")->id, "5.14.0-427.el9.x86_64");
	ck_assert_str_eq(release_kernel(r, "latest")->initrd_path, "rocky/9/boot/initramfs-5.14.0-427.el9.x86_64.img");
	fx_assert_skip(cat, "rocky/9/lib/modules/5.14.0-503.el9.x86_64/vmlinuz",
	               "kernel 5.14.0-503.el9.x86_64 has no initrd while others in this release do");

	/* autopxe scan: the mark, the JSON "latest" and default, the notes */
	char *t = fx_print(cat, 0);
	ck_assert_ptr_nonnull(strstr(t, "6.1.0-21-amd64         latest "));
	ck_assert_ptr_null(strstr(t, "6.2.0-1-amd64          latest "));
	ck_assert_ptr_nonnull(strstr(t, "  debian/bookworm/boot/vmlinuz-6.2.0-1-amd64: kernel 6.2.0-1-amd64 has no initrd "
	                                "while others in this release do; not used for latest/default\n"));
	free(t);
	t = fx_print(cat, 1);
	json_error_t jerr;
	json_t *j = json_loads(t, 0, &jerr);
	ck_assert_msg(j != NULL, "bad JSON: %s", jerr.text);
	json_t *deb = json_array_get(json_object_get(j, "distros"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(deb, "name")), "debian");
	json_t *bw = json_array_get(json_object_get(deb, "releases"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(bw, "latest")), "6.1.0-21-amd64");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(bw, "default"), "kernel")),
	                 "debian/bookworm/boot/vmlinuz-6.1.0-21-amd64");
	int found = 0;
	json_t *sk = json_object_get(j, "skipped");
	for (size_t i = 0; i < json_array_size(sk); i++)
		found += strcmp(json_string_value(json_object_get(json_array_get(sk, i), "path")),
		                "debian/bookworm/boot/vmlinuz-6.2.0-1-amd64") == 0 &&
		         strstr(json_string_value(json_object_get(json_array_get(sk, i), "reason")),
		                "not used for latest/default") != NULL;
	ck_assert_int_eq(found, 1);
	json_decref(j);
	free(t);
	catalog_free(cat);
}
END_TEST

/* A release whose kernels all lack an initrd keeps today's rule: latest is the newest, default as found. */
START_TEST(test_latest_all_without_initrd)
{
	fx_file("debian/sid/boot/vmlinuz-6.2.0-1-amd64", "K62");
	fx_file("debian/sid/boot/vmlinuz-6.1.0-21-amd64", "K21");
	fx_link("debian/sid/vmlinuz", "boot/vmlinuz-6.2.0-1-amd64");
	fx_file("fedora/40/usr/lib/modules/6.9.1-200.fc40.x86_64/vmlinuz", "K9");
	fx_file("fedora/40/usr/lib/modules/6.8.5-301.fc40.x86_64/vmlinuz", "K8");
	struct catalog *cat = fx_scan();
	const struct scan_release *r = catalog_release(cat, "debian", "sid");
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->latest, 0);
	ck_assert_ptr_eq(release_kernel(r, "latest"), &r->kernels[0]);
	ck_assert_str_eq(r->kernels[0].id, "6.2.0-1-amd64");
	ck_assert_str_eq(r->default_kernel->kernel_path, "debian/sid/vmlinuz");
	ck_assert_str_eq(r->default_kernel->kernel_real, "debian/sid/boot/vmlinuz-6.2.0-1-amd64");
	ck_assert_ptr_null(r->default_kernel->initrd_path);
	ck_assert_str_eq(fx_skip(cat, "debian/sid/boot/vmlinuz-6.2.0-1-amd64"), "kernel has no initrd (listed without one)");
	ck_assert_str_eq(fx_skip(cat, "debian/sid/boot/vmlinuz-6.1.0-21-amd64"), "kernel has no initrd (listed without one)");
	ck_assert_str_eq(fx_skip(cat, "debian/sid/vmlinuz"), "kernel has no initrd (listed without one)");
	r = catalog_release(cat, "fedora", "40");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(release_kernel(r, "latest")->id, "6.9.1-200.fc40.x86_64");
	fx_assert_skip(cat, "fedora/40/usr/lib/modules/6.9.1-200.fc40.x86_64/vmlinuz", "kernel has no initrd");
	for (size_t i = 0; i < cat->n_skipped; i++)
		ck_assert_msg(strstr(cat->skipped[i].reason, "while others") == NULL, "%s: %s", cat->skipped[i].path,
		              cat->skipped[i].reason);
	catalog_free(cat);
}
END_TEST

/* scan_release_pick_latest on releases built by hand (as the ISO catalog builds them): the rule and its
 * note, and releases with every initrd, or none, left alone. */
struct fx_notes {
	int n;
	char last[512];
};

static void fx_note(void *ctx, const char *path, const char *reason)
{
	struct fx_notes *n = ctx;
	n->n++;
	snprintf(n->last, sizeof(n->last), "%s: %s", path, reason);
}

START_TEST(test_pick_latest_table)
{
	struct scan_kernel k[3] = {
	    {.id = "live", .kernel_path = "iso/x.iso/casper/vmlinuz", .kernel_real = "key/casper/vmlinuz", .cached = 1},
	    {.id = "hwe", .kernel_path = "iso/x.iso/casper/hwe-vmlinuz", .kernel_real = "key/casper/hwe-vmlinuz",
	     .initrd_path = "iso/x.iso/casper/hwe-initrd", .initrd_real = "key/casper/hwe-initrd", .cached = 1},
	    {.id = "old", .kernel_path = "iso/x.iso/old/vmlinuz", .kernel_real = "key/old/vmlinuz",
	     .initrd_path = "iso/x.iso/old/initrd", .initrd_real = "key/old/initrd", .cached = 1},
	};
	struct scan_release r = {.name = "x", .kernels = k, .n_kernels = 3};
	struct fx_notes n = {0};
	ck_assert_int_eq(scan_release_pick_latest(&r, fx_note, &n), 1);
	ck_assert_uint_eq(r.latest, 1);
	ck_assert_ptr_eq(release_latest(&r), &k[1]);
	ck_assert_int_eq(n.n, 1);
	ck_assert_str_eq(n.last, "iso/x.iso/casper/vmlinuz: kernel live has no initrd while others in this release do; "
	                         "not used for latest/default");
	/* every kernel with an initrd, or none: nothing changes, nothing is noted */
	struct scan_release all = {.name = "y", .kernels = k + 1, .n_kernels = 2};
	struct scan_release none = {.name = "z", .kernels = k, .n_kernels = 1};
	struct scan_release empty = {.name = "e"};
	n.n = 0;
	ck_assert_int_eq(scan_release_pick_latest(&all, fx_note, &n), 0);
	ck_assert_int_eq(scan_release_pick_latest(&none, fx_note, &n), 0);
	ck_assert_int_eq(scan_release_pick_latest(&empty, fx_note, &n), 0);
	ck_assert_int_eq(n.n, 0);
	ck_assert_ptr_eq(release_latest(&all), &k[1]);
	ck_assert_ptr_eq(release_latest(&none), &k[0]);
	ck_assert_ptr_null(release_latest(&empty));
	ck_assert_ptr_null(release_latest(NULL));
}
END_TEST

Suite *scan_suite(void)
{
	Suite *s = suite_create("scan");
	TCase *tc = tcase_create("trees");
	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_debian);
	tcase_add_test(tc, test_ubuntu);
	tcase_add_test(tc, test_arch);
	tcase_add_test(tc, test_fedora_rocky);
	tcase_add_test(tc, test_arm64_and_initrd_names);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_release_symlinks);
	tcase_add_test(tc, test_osrelease_file);
	tcase_add_test(tc, test_many_releases);
	tcase_add_test(tc, test_root_errors);
	tcase_add_test(tc, test_print);
	tcase_add_test(tc, test_boot_links_to_secrets);
	tcase_add_test(tc, test_latest_skips_half_installed);
	tcase_add_test(tc, test_latest_all_without_initrd);
	suite_add_tcase(s, tc);
	TCase *to = tcase_create("osrelease");
	tcase_add_test(to, test_osrelease_table);
	tcase_add_test(to, test_boot_file_ok_table);
	tcase_add_test(to, test_pick_latest_table);
	tcase_add_test(to, test_osrelease_limits);
	tcase_add_test(to, test_osrelease_prefixes);
	suite_add_tcase(s, to);
	return s;
}
