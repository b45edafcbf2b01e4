/* check_iso.c - unit tests of the live catalog: ISO layouts and labels, the extract-once cache, filesystem images,
 * scan_rootfs_opts, and what vfs and render make of them. Fixture images are built with xorriso, mksquashfs, mke2fs. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mac.h"
#include "render.h"
#include "scan.h"
#include "util.h"
#include "vfs.h"

static char tmpdir[256];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

/* Write `size` deterministic bytes (seeded) to dir/rel, creating parents. */
static void mkfile(const char *dir, const char *rel, size_t size, unsigned seed)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	sh("mkdir -p '%s'", path);
	*slash = '/';
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	unsigned x = seed * 2654435761u + 1;
	for (size_t i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		fputc((int)(x >> 16) & 0xff, f);
	}
	fclose(f);
}

static void mktext(const char *dir, const char *rel, const char *text)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	sh("mkdir -p '%s'", path);
	*slash = '/';
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_iso.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void) { sh("rm -rf '%s'", tmpdir); }

/* Build an ISO from a source tree: xorriso with Rock Ridge + Joliet (rr=1) or plain ISO 9660 names. */
static void mkiso(const char *src, const char *iso, const char *label, int rr)
{
	sh("xorriso -as mkisofs %s -V '%s' -o '%s' '%s' >/dev/null 2>&1", rr ? "-R -J" : "", label, iso, src);
}

static int open_ro(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	return fd;
}

/* The files every layout test puts into its image: name, size (0 = a text file below), seed. */
struct lfile {
	const char *path;
	size_t size;
	const char *text;
	const char *link; /* make a symlink to this instead */
};

struct layout_case {
	const char *name;
	struct lfile files[8];
	const char *label;
	const char *layout;
	const char *info; /* expected, or NULL */
	struct {
		const char *id, *kernel, *initrd;
	} boots[5];
};

static const struct layout_case layouts[] = {
    {"debian-netinst",
     {{"install.amd/vmlinuz", 70001, NULL, NULL},
      {"install.amd/initrd.gz", 120003, NULL, NULL},
      {"install.amd/gtk/vmlinuz", 70002, NULL, NULL},
      {"install.amd/gtk/initrd.gz", 130005, NULL, NULL},
      {".disk/info", 0, "Debian GNU/Linux 12.5.0 \"Bookworm\" - Official amd64 NETINST 20240210-11:27\n", NULL}},
     "Debian 12.5.0 amd64 n",
     "d-i",
     "Debian GNU/Linux 12.5.0 \"Bookworm\" - Official amd64 NETINST 20240210-11:27",
     {{"install", "install.amd/vmlinuz", "install.amd/initrd.gz"},
      {"gtk", "install.amd/gtk/vmlinuz", "install.amd/gtk/initrd.gz"}}},
    {"debian-netinst-old-gtk", /* gtk/ without its own kernel borrows install.amd/vmlinuz */
     {{"install.amd/vmlinuz", 70001, NULL, NULL},
      {"install.amd/initrd.gz", 120003, NULL, NULL},
      {"install.amd/gtk/initrd.gz", 130005, NULL, NULL}},
     "DEB10",
     "d-i",
     NULL,
     {{"install", "install.amd/vmlinuz", "install.amd/initrd.gz"},
      {"gtk", "install.amd/vmlinuz", "install.amd/gtk/initrd.gz"}}},
    {"ubuntu-live",
     {{"casper/vmlinuz", 90001, NULL, NULL},
      {"casper/initrd", 150001, NULL, NULL},
      {"casper/hwe-vmlinuz", 90002, NULL, NULL},
      {"casper/hwe-initrd", 150002, NULL, NULL},
      {"casper/filesystem.squashfs", 4096, NULL, NULL},
      {".disk/info", 0, "Ubuntu 22.04.4 LTS \"Jammy Jellyfish\" - Release amd64 (20240220)\n", NULL}},
     "Ubuntu 22.04.4 LTS amd64",
     "casper",
     "Ubuntu 22.04.4 LTS \"Jammy Jellyfish\" - Release amd64 (20240220)",
     {{"live", "casper/vmlinuz", "casper/initrd"}, {"hwe", "casper/hwe-vmlinuz", "casper/hwe-initrd"}}},
    {"debian-live", /* versioned kernels newest first, a symlink, then the installer */
     {{"live/vmlinuz-6.1.0-18-amd64", 80001, NULL, NULL},
      {"live/initrd.img-6.1.0-18-amd64", 160001, NULL, NULL},
      {"live/vmlinuz-6.1.0-9-amd64", 80002, NULL, NULL},
      {"live/initrd.img-6.1.0-9-amd64", 160002, NULL, NULL},
      {"live/filesystem.squashfs", 4096, NULL, NULL},
      {"install/vmlinuz", 70001, NULL, NULL},
      {"install/initrd.gz", 120001, NULL, NULL}},
     "d-live 12.5.0 gn amd64",
     "live+d-i",
     NULL,
     {{"6.1.0-18-amd64", "live/vmlinuz-6.1.0-18-amd64", "live/initrd.img-6.1.0-18-amd64"},
      {"6.1.0-9-amd64", "live/vmlinuz-6.1.0-9-amd64", "live/initrd.img-6.1.0-9-amd64"},
      {"install", "install/vmlinuz", "install/initrd.gz"}}},
    {"rocky-dvd",
     {{"images/pxeboot/vmlinuz", 100001, NULL, NULL},
      {"images/pxeboot/initrd.img", 200001, NULL, NULL},
      {"images/install.img", 8192, NULL, NULL},
      {".treeinfo", 0,
       "[header]\ntype = productmd.treeinfo\n\n[release]\nname = Rocky Linux\nshort = Rocky\nversion = 9.3\n\n"
       "[general]\nfamily = Rocky Linux\nversion = 9.3\n",
       NULL}},
     "Rocky-9-3-x86_64-dvd",
     "pxeboot",
     "Rocky Linux 9.3",
     {{"install", "images/pxeboot/vmlinuz", "images/pxeboot/initrd.img"}}},
    {"fedora-old-treeinfo", /* [general] only */
     {{"images/pxeboot/vmlinuz", 100001, NULL, NULL},
      {"images/pxeboot/initrd.img", 200001, NULL, NULL},
      {".treeinfo", 0, "[general]\nfamily = Fedora\nversion = 39\narch = x86_64\n", NULL}},
     "Fedora-S-dvd-x86_64-39",
     "pxeboot",
     "Fedora 39",
     {{"install", "images/pxeboot/vmlinuz", "images/pxeboot/initrd.img"}}},
    {"arch",
     {{"arch/boot/x86_64/vmlinuz-linux", 110001, NULL, NULL},
      {"arch/boot/x86_64/initramfs-linux.img", 210001, NULL, NULL},
      {"arch/boot/intel-ucode.img", 4096, NULL, NULL}},
     "ARCH_202402",
     "arch",
     NULL,
     {{"linux", "arch/boot/x86_64/vmlinuz-linux", "arch/boot/x86_64/initramfs-linux.img"}}},
    {"fallback-search",
     {{"boot/x86_64/loader/vmlinuz-5.14", 60001, NULL, NULL},
      {"boot/x86_64/loader/initrd-5.14", 90001, NULL, NULL},
      {"isolinux/vmlinuz", 60002, NULL, NULL},
      {"isolinux/initramfs.img", 90002, NULL, NULL}},
     "OTHER",
     "search",
     NULL,
     {{"5.14", "boot/x86_64/loader/vmlinuz-5.14", "boot/x86_64/loader/initrd-5.14"},
      {"isolinux", "isolinux/vmlinuz", "isolinux/initramfs.img"}}},
    {"symlinked-kernel", /* Rock Ridge symlinks: live/vmlinuz -> vmlinuz-6.1.0-18-amd64 */
     {{"live/vmlinuz-6.1.0-18-amd64", 80001, NULL, NULL},
      {"live/initrd.img-6.1.0-18-amd64", 160001, NULL, NULL},
      {"live/vmlinuz", 0, NULL, "vmlinuz-6.1.0-18-amd64"},
      {"live/initrd.img", 0, NULL, "initrd.img-6.1.0-18-amd64"}},
     "LINKS",
     "live",
     NULL,
     {{"6.1.0-18-amd64", "live/vmlinuz-6.1.0-18-amd64", "live/initrd.img-6.1.0-18-amd64"}}}, /* once */
    {"kernel-without-initrd",
     {{"casper/vmlinuz", 90001, NULL, NULL}, {"casper/initrd-a", 10, NULL, NULL}, {"casper/initrd-b", 10, NULL, NULL}},
     "NOINITRD",
     "casper",
     NULL,
     {{"live", "casper/vmlinuz", NULL}}},
    {"half-live", /* the newest kernel lacks its initrd (two others: no guessing); test_iso_latest_bootable */
     {{"live/vmlinuz-6.2.0-1-amd64", 80003, NULL, NULL},
      {"live/vmlinuz-6.1.0-18-amd64", 80001, NULL, NULL},
      {"live/initrd.img-6.1.0-18-amd64", 160001, NULL, NULL},
      {"live/vmlinuz-6.1.0-9-amd64", 80002, NULL, NULL},
      {"live/initrd.img-6.1.0-9-amd64", 160002, NULL, NULL}},
     "HALF",
     "live",
     NULL,
     {{"6.2.0-1-amd64", "live/vmlinuz-6.2.0-1-amd64", NULL},
      {"6.1.0-18-amd64", "live/vmlinuz-6.1.0-18-amd64", "live/initrd.img-6.1.0-18-amd64"},
      {"6.1.0-9-amd64", "live/vmlinuz-6.1.0-9-amd64", "live/initrd.img-6.1.0-9-amd64"}}},
};

/* Build the image of case c in tmpdir/<name>.iso; returns its path in out. */
static void build_case(const struct layout_case *c, char *out, size_t outsz)
{
	char src[512];
	snprintf(src, sizeof(src), "%s/src-%s", tmpdir, c->name);
	sh("mkdir -p '%s'", src);
	for (size_t i = 0; i < ARRAY_SIZE(c->files) && c->files[i].path; i++) {
		const struct lfile *f = &c->files[i];
		if (f->link) {
			char p[1024];
			snprintf(p, sizeof(p), "%s/%s", src, f->path);
			ck_assert_int_eq(symlink(f->link, p), 0);
		} else if (f->text) {
			mktext(src, f->path, f->text);
		} else {
			mkfile(src, f->path, f->size, (unsigned)(i + 1));
		}
	}
	snprintf(out, outsz, "%s/%s.iso", tmpdir, c->name);
	mkiso(src, out, c->label, 1);
}

START_TEST(test_layouts)
{
	const struct layout_case *c = &layouts[_i];
	char iso[512], err[512];
	build_case(c, iso, sizeof(iso));
	int fd = open_ro(iso);
	struct scan_iso_probe *p = NULL;
	int rc = scan_iso_probe_fd(fd, &p, err, sizeof(err));
	close(fd);
	ck_assert_msg(rc == 0, "%s: probe %d %s", c->name, rc, err);
	ck_assert_str_eq(p->layout, c->layout);
	ck_assert_pstr_eq(p->label, c->label);
	ck_assert_pstr_eq(p->info, c->info);
	size_t n = 0;
	while (n < ARRAY_SIZE(c->boots) && c->boots[n].id)
		n++;
	ck_assert_msg(p->n_boots == n, "%s: %zu boots, want %zu (first %s)", c->name, p->n_boots, n,
	              p->n_boots ? p->boots[0].id : "-");
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(p->boots[i].id, c->boots[i].id);
		ck_assert_str_eq(p->boots[i].kernel, c->boots[i].kernel);
		ck_assert_pstr_eq(p->boots[i].initrd, c->boots[i].initrd);
		ck_assert_msg(p->boots[i].kernel_size > 0, "kernel size");
	}
	scan_iso_probe_free(p);
}
END_TEST

/* Links resolve to the entry holding the bytes: a link to a listed kernel is not listed twice, and a
 * kernel reached only through links gets the target's data and size. */
START_TEST(test_symlink_data)
{
	char src[512], iso[512], err[512], p1[700];
	snprintf(src, sizeof(src), "%s/links", tmpdir);
	mkfile(src, "data/k-bytes", 4321, 1);
	mkfile(src, "data/i-bytes", 8765, 2);
	sh("mkdir -p '%s/casper'", src);
	snprintf(p1, sizeof(p1), "%s/casper/vmlinuz", src);
	ck_assert_int_eq(symlink("../data/k-bytes", p1), 0);
	snprintf(p1, sizeof(p1), "%s/casper/initrd", src);
	ck_assert_int_eq(symlink("/data/i-bytes", p1), 0); /* absolute: from the image root */
	snprintf(iso, sizeof(iso), "%s/links.iso", tmpdir);
	mkiso(src, iso, "LINKS", 1);
	int fd = open_ro(iso);
	struct scan_iso_probe *p = NULL;
	ck_assert_msg(scan_iso_probe_fd(fd, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(p->n_boots, 1);
	ck_assert_str_eq(p->boots[0].kernel, "casper/vmlinuz");
	ck_assert_str_eq(p->boots[0].kernel_data, "data/k-bytes");
	ck_assert_str_eq(p->boots[0].initrd_data, "data/i-bytes");
	ck_assert_uint_eq(p->boots[0].kernel_size, 4321);
	ck_assert_uint_eq(p->boots[0].initrd_size, 8765);
	scan_iso_probe_free(p);
	close(fd);
}
END_TEST

/* Plain ISO 9660 names (no Rock Ridge/Joliet): upper case, matched case-insensitively. */
START_TEST(test_plain_iso9660_names)
{
	char src[512], iso[512], err[512];
	snprintf(src, sizeof(src), "%s/plain", tmpdir);
	mkfile(src, "casper/vmlinuz", 5000, 1);
	mkfile(src, "casper/initrd", 7000, 2);
	snprintf(iso, sizeof(iso), "%s/plain.iso", tmpdir);
	mkiso(src, iso, "PLAIN", 0);
	int fd = open_ro(iso);
	struct scan_iso_probe *p = NULL;
	ck_assert_msg(scan_iso_probe_fd(fd, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(p->n_boots, 1);
	ck_assert_str_eq(p->boots[0].id, "live");
	ck_assert_uint_eq(p->boots[0].kernel_size, 5000);
	ck_assert_uint_eq(p->boots[0].initrd_size, 7000);
	scan_iso_probe_free(p);
	close(fd);
}
END_TEST

/* What is not a bootable ISO 9660 image: the reason says so. */
START_TEST(test_bad_images)
{
	char src[512], iso[512], err[512], path[600];
	struct scan_iso_probe *p = NULL;
	/* no kernel at all */
	snprintf(src, sizeof(src), "%s/nokernel", tmpdir);
	mktext(src, "README.txt", "nothing to boot\n");
	snprintf(iso, sizeof(iso), "%s/nokernel.iso", tmpdir);
	mkiso(src, iso, "EMPTY", 1);
	int fd = open_ro(iso);
	ck_assert_int_eq(scan_iso_probe_fd(fd, &p, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(err, "no kernel found"), "%s", err);
	close(fd);
	/* random bytes */
	snprintf(path, sizeof(path), "%s/random.iso", tmpdir);
	mkfile(tmpdir, "random.iso", 200000, 7);
	fd = open_ro(path);
	ck_assert_int_eq(scan_iso_probe_fd(fd, &p, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "ISO 9660"), "%s", err);
	close(fd);
	/* empty file */
	snprintf(path, sizeof(path), "%s/empty.iso", tmpdir);
	mkfile(tmpdir, "empty.iso", 0, 7);
	fd = open_ro(path);
	ck_assert_int_eq(scan_iso_probe_fd(fd, &p, err, sizeof(err)), -EINVAL);
	close(fd);
	/* a valid image cut short: its directory records point past the end */
	char big[512];
	build_case(&layouts[0], big, sizeof(big));
	snprintf(path, sizeof(path), "%s/short.iso", tmpdir);
	sh("head -c 40000 '%s' > '%s'", big, path);
	fd = open_ro(path);
	ck_assert_int_eq(scan_iso_probe_fd(fd, &p, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "shorter") && strstr(err, "still being copied"), "%s", err);
	close(fd);
	/* a root directory record claiming 4 GiB (libarchive would allocate that much: found by fuzz_iso) */
	snprintf(path, sizeof(path), "%s/hugeroot.iso", tmpdir);
	sh("cp '%s' '%s' && printf '\\000\\007\\377\\377' | dd of='%s' bs=1 seek=$((16 * 2048 + 156 + 10)) conv=notrunc "
	   "2>/dev/null",
	   big, path, path);
	fd = open_ro(path);
	ck_assert_int_eq(scan_iso_probe_fd(fd, &p, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "root directory"), "%s", err);
	close(fd);
	/* no volume descriptor at all (a UDF-only or other image named .iso) */
	snprintf(path, sizeof(path), "%s/novd.iso", tmpdir);
	sh("head -c 65536 /dev/zero > '%s'", path);
	fd = open_ro(path);
	ck_assert_int_eq(scan_iso_probe_fd(fd, &p, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "no volume descriptor"), "%s", err);
	close(fd);
}
END_TEST

START_TEST(test_cache_key)
{
	struct stat a, b;
	char ka[128], kb[128], small[8];
	memset(&a, 0, sizeof(a));
	a.st_dev = 0xfe00;
	a.st_ino = 0x1234;
	a.st_size = 0x100000;
	a.st_mtim.tv_sec = 1;
	a.st_mtim.tv_nsec = 5;
	ck_assert_int_eq(scan_iso_cache_key(&a, ka, sizeof(ka)), 0);
	ck_assert_str_eq(ka, "fe00-1234-100000-3b9aca05");
	/* each of device, inode, size, mtime changes the key */
	for (int f = 0; f < 4; f++) {
		b = a;
		if (f == 0)
			b.st_dev++;
		else if (f == 1)
			b.st_ino++;
		else if (f == 2)
			b.st_size++;
		else
			b.st_mtim.tv_nsec++;
		ck_assert_int_eq(scan_iso_cache_key(&b, kb, sizeof(kb)), 0);
		ck_assert_str_ne(ka, kb);
	}
	ck_assert_int_eq(scan_iso_cache_key(&a, small, sizeof(small)), -ENAMETOOLONG);
}
END_TEST

static int files_equal(const char *a, const char *b)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
	return system(cmd) == 0;
}

START_TEST(test_extract_and_reuse)
{
	char iso[512], err[512], cache[512], key[128], p1[1024], p2[1024];
	build_case(&layouts[0], iso, sizeof(iso));
	snprintf(cache, sizeof(cache), "%s/cache", tmpdir);
	int fd = open_ro(iso);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(scan_iso_cache_key(&st, key, sizeof(key)), 0);
	struct scan_iso_probe *p = NULL;
	/* first time: probed and extracted */
	ck_assert_msg(scan_iso_prepare(fd, cache, key, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(p->n_boots, 2);
	for (size_t i = 0; i < p->n_boots; i++) {
		snprintf(p1, sizeof(p1), "%s/%s/%s", cache, key, p->boots[i].kernel_data);
		snprintf(p2, sizeof(p2), "%s/src-debian-netinst/%s", tmpdir, p->boots[i].kernel);
		ck_assert_msg(files_equal(p1, p2), "%s differs from %s", p1, p2);
		snprintf(p1, sizeof(p1), "%s/%s/%s", cache, key, p->boots[i].initrd_data);
		snprintf(p2, sizeof(p2), "%s/src-debian-netinst/%s", tmpdir, p->boots[i].initrd);
		ck_assert_msg(files_equal(p1, p2), "%s differs from %s", p1, p2);
	}
	scan_iso_probe_free(p);
	/* extract again: it is there (1), nothing rewritten */
	struct scan_iso_probe *q = NULL;
	ck_assert_int_eq(scan_iso_probe_fd(fd, &q, err, sizeof(err)), 0);
	ck_assert_int_eq(scan_iso_extract(fd, q, cache, key, err, sizeof(err)), 1);
	scan_iso_probe_free(q);
	close(fd);
	/* second scan: the manifest answers, the image is not read (an fd of /dev/null would not probe) */
	int nullfd = open_ro("/dev/null");
	ck_assert_int_eq(scan_iso_prepare(nullfd, cache, key, &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p->n_boots, 2);
	ck_assert_str_eq(p->boots[1].id, "gtk");
	ck_assert_str_eq(p->label, "Debian 12.5.0 amd64 n");
	scan_iso_probe_free(p);
	/* a damaged entry (a file gone) is not trusted: /dev/null cannot be probed, so it fails ... */
	snprintf(p1, sizeof(p1), "%s/%s/install.amd/gtk/initrd.gz", cache, key);
	ck_assert_int_eq(unlink(p1), 0);
	ck_assert_int_eq(scan_iso_prepare(nullfd, cache, key, &p, err, sizeof(err)), -EINVAL);
	close(nullfd);
	/* ... and the real image extracts it again */
	fd = open_ro(iso);
	ck_assert_msg(scan_iso_prepare(fd, cache, key, &p, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(access(p1, R_OK), 0);
	scan_iso_probe_free(p);
	close(fd);
	/* a cache dir that cannot be made */
	fd = open_ro(iso);
	ck_assert_int_lt(scan_iso_extract(fd, NULL, "/proc/autopxe-no/cache", key, err, sizeof(err)), 0);
	close(fd);
}
END_TEST

/* No boot files: remembered in the cache as such (later scans do not re-read the image). */
START_TEST(test_negative_cache)
{
	char src[512], iso[512], err[512], cache[512], key[128];
	snprintf(src, sizeof(src), "%s/nokernel", tmpdir);
	mktext(src, "README.txt", "nothing\n");
	snprintf(iso, sizeof(iso), "%s/nokernel.iso", tmpdir);
	mkiso(src, iso, "EMPTY", 1);
	snprintf(cache, sizeof(cache), "%s/cache", tmpdir);
	int fd = open_ro(iso);
	struct stat st;
	fstat(fd, &st);
	scan_iso_cache_key(&st, key, sizeof(key));
	struct scan_iso_probe *p = NULL;
	ck_assert_int_eq(scan_iso_prepare(fd, cache, key, &p, err, sizeof(err)), -ENOENT);
	close(fd);
	int nullfd = open_ro("/dev/null");
	ck_assert_int_eq(scan_iso_prepare(nullfd, cache, key, &p, err, sizeof(err)), -ENOENT);
	ck_assert_msg(strstr(err, "no kernel"), "%s", err);
	close(nullfd);
}
END_TEST

START_TEST(test_prune)
{
	char cache[512], p[700];
	snprintf(cache, sizeof(cache), "%s/cache", tmpdir);
	static const char *const dirs[] = {"1-2-3-4", "a-b-c-d", "5-6-7-8", ".tmp-1-2-3-4-99", "keepme", "A-B-C-D"};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(p, sizeof(p), "%s/%s/x", cache, dirs[i]);
		sh("mkdir -p '%s'", p);
		/* two days old */
		snprintf(p, sizeof(p), "%s/%s", cache, dirs[i]);
		sh("touch -d '2 days ago' '%s'", p);
	}
	sh("touch '%s/5-6-7-8'", cache); /* recent: within the grace */
	char *keep[] = {"1-2-3-4"};
	scan_iso_cache_prune(cache, keep, 1, 24 * 3600);
	static const struct {
		const char *name;
		int exists;
	} want[] = {{"1-2-3-4", 1}, {"a-b-c-d", 0}, {"5-6-7-8", 1}, {".tmp-1-2-3-4-99", 0}, {"keepme", 1}, {"A-B-C-D", 1}};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		snprintf(p, sizeof(p), "%s/%s", cache, want[i].name);
		ck_assert_msg((access(p, F_OK) == 0) == want[i].exists, "%s exists=%d", want[i].name, !want[i].exists);
	}
	/* the kept entry was touched: its mtime is now */
	struct stat st;
	snprintf(p, sizeof(p), "%s/1-2-3-4", cache);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_lt(time(NULL) - st.st_mtime, 60);
	scan_iso_cache_prune("/nonexistent/autopxe", keep, 1, 1); /* no cache: nothing to do */
}
END_TEST

/* ---------------------------------------------------------------- filesystem images */

START_TEST(test_image_probe)
{
	char src[512], path[600];
	char *type, *uuid, *label;
	snprintf(src, sizeof(src), "%s/fs", tmpdir);
	mktext(src, "etc/hostname", "node\n");
	snprintf(path, sizeof(path), "%s/rootfs.squashfs", tmpdir);
	sh("mksquashfs '%s' '%s' -quiet -noappend >/dev/null", src, path);
	ck_assert_int_eq(scan_image_probe(path, &type, &uuid, &label), 0);
	ck_assert_str_eq(type, "squashfs");
	ck_assert_ptr_null(label);
	free(type);
	free(uuid);
	free(label);
	snprintf(path, sizeof(path), "%s/root.ext4", tmpdir);
	sh("mke2fs -q -t ext4 -L 'node root' -U 6b1e0f0e-35a4-4a1c-9d55-1d2b9a0c7e11 -d '%s' '%s' 4M", src, path);
	ck_assert_int_eq(scan_image_probe(path, &type, &uuid, &label), 0);
	ck_assert_str_eq(type, "ext4");
	ck_assert_str_eq(uuid, "6b1e0f0e-35a4-4a1c-9d55-1d2b9a0c7e11");
	ck_assert_str_eq(label, "node_root"); /* a blank would split the kernel command line */
	free(type);
	free(uuid);
	free(label);
	/* unknown / corrupt / empty / missing */
	mkfile(tmpdir, "junk.img", 1 << 20, 3);
	snprintf(path, sizeof(path), "%s/junk.img", tmpdir);
	ck_assert_int_eq(scan_image_probe(path, &type, &uuid, &label), -ENOENT);
	ck_assert_ptr_null(type);
	mkfile(tmpdir, "empty.img", 0, 3);
	snprintf(path, sizeof(path), "%s/empty.img", tmpdir);
	ck_assert_int_eq(scan_image_probe(path, &type, &uuid, &label), -ENOENT);
	snprintf(path, sizeof(path), "%s/ext4-broken.img", tmpdir);
	sh("head -c 1024 '%s/root.ext4' > '%s'", tmpdir, path); /* superblock cut off */
	ck_assert_int_eq(scan_image_probe(path, &type, &uuid, &label), -ENOENT);
	snprintf(path, sizeof(path), "%s/missing.img", tmpdir);
	ck_assert_int_eq(scan_image_probe(path, &type, &uuid, &label), -ENOENT);
}
END_TEST

/* ---------------------------------------------------------------- the catalog, vfs and render */

static struct catalog *scan_tree(const char *cache)
{
	char root[512], iso[600], err[512];
	struct catalog *cat = NULL;
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	snprintf(iso, sizeof(iso), "%s/iso", root);
	struct scan_options o = {.iso_dir = iso, .cache_dir = cache};
	int rc = scan_rootfs_opts(root, &o, &cat, err, sizeof(err));
	ck_assert_msg(rc == 0, "scan: %d %s", rc, err);
	return cat;
}

static const struct scan_skip *find_skip(const struct catalog *cat, const char *path)
{
	for (size_t i = 0; i < cat->n_skipped; i++)
		if (strcmp(cat->skipped[i].path, path) == 0)
			return &cat->skipped[i];
	return NULL;
}

/* A tree: ISOPath with two images, a rootfs release with an ISO and images beside it, a dir with only an ISO. */
static void make_tree(void)
{
	char root[512], iso[512], p[700];
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	mkfile(root, "debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", 3000, 1);
	mkfile(root, "debian/bookworm/boot/initrd.img-6.1.0-21-amd64", 5000, 2);
	mkfile(root, "debian/bookworm/junk.img", 65536, 3);
	mkfile(root, "debian/bookworm/boot/initrd-6.1.0-21-amd64.img", 10, 4); /* initrd, not an image */
	snprintf(p, sizeof(p), "%s/debian/bookworm", root);
	sh("mkdir -p '%s/fs' && echo x > '%s/fs/f' && mksquashfs '%s/fs' '%s/rootfs.squashfs' -quiet -noappend >/dev/null"
	   " && mke2fs -q -t ext4 -L data -U 0f0e0d0c-0b0a-4908-8706-050403020100 '%s/boot/a.ext4' 4M",
	   tmpdir, tmpdir, tmpdir, p, p);
	build_case(&layouts[0], iso, sizeof(iso));
	sh("mkdir -p '%s/iso' && cp '%s' '%s/iso/debian-12.5.0-amd64-netinst.iso'", root, iso, root);
	build_case(&layouts[4], iso, sizeof(iso));
	sh("mkdir -p '%s/rocky/9.3' && cp '%s' '%s/rocky/9.3/Rocky-9.3-x86_64-dvd.iso'", root, iso, root);
	sh("cp '%s' '%s/debian/bookworm/extra.iso'", iso, root);
	build_case(&layouts[2], iso, sizeof(iso));
	sh("cp '%s' '%s/iso/ubuntu-22.04.iso'", iso, root);
	sh("cp '%s' '%s/iso/bad name.iso'", iso, root);
	mkfile(root, "iso/broken.iso", 100000, 9);
}

START_TEST(test_catalog)
{
	char cache[512];
	make_tree();
	snprintf(cache, sizeof(cache), "%s/cache", tmpdir);
	struct catalog *cat = scan_tree(cache);
	ck_assert_ptr_nonnull(cat->cache_dir);
	ck_assert_ptr_nonnull(strstr(cat->cache_dir, "/cache"));
	/* distros sorted: debian, iso, rocky */
	ck_assert_uint_eq(cat->n_distros, 3);
	ck_assert_str_eq(cat->distros[0].name, "debian");
	ck_assert_str_eq(cat->distros[1].name, "iso");
	ck_assert_str_eq(cat->distros[2].name, "rocky");
	/* ISOPath images are releases named after the file, sorted */
	const struct scan_distro *iso = &cat->distros[1];
	ck_assert_uint_eq(iso->n_releases, 2);
	ck_assert_str_eq(iso->releases[0].name, "debian-12.5.0-amd64-netinst");
	ck_assert_str_eq(iso->releases[1].name, "ubuntu-22.04");
	const struct scan_release *d = &iso->releases[0];
	ck_assert_ptr_nonnull(d->iso);
	ck_assert_str_eq(d->path, "iso/debian-12.5.0-amd64-netinst.iso");
	ck_assert_str_eq(d->iso->served, "iso/debian-12.5.0-amd64-netinst.iso");
	ck_assert_str_eq(d->iso->label, "Debian 12.5.0 amd64 n");
	ck_assert_str_eq(d->iso->layout, "d-i");
	ck_assert_ptr_nonnull(strstr(d->pretty_name, "Bookworm"));
	ck_assert_uint_eq(d->n_kernels, 2);
	ck_assert_str_eq(d->kernels[0].id, "install");
	ck_assert_str_eq(d->kernels[0].kernel_path, "iso/debian-12.5.0-amd64-netinst.iso/install.amd/vmlinuz");
	ck_assert_int_eq(d->kernels[0].cached, 1);
	ck_assert_ptr_eq(release_kernel(d, "latest"), &d->kernels[0]);
	ck_assert_ptr_eq(release_kernel(d, "gtk"), &d->kernels[1]);
	/* debian/bookworm: its own kernel, its images (by name: boot/a.ext4, rootfs.squashfs), and release
	 * bookworm-extra from the ISO beside it */
	const struct scan_distro *deb = &cat->distros[0];
	ck_assert_uint_eq(deb->n_releases, 2);
	ck_assert_str_eq(deb->releases[0].name, "bookworm");
	ck_assert_str_eq(deb->releases[1].name, "bookworm-extra");
	const struct scan_release *bw = &deb->releases[0];
	ck_assert_ptr_null(bw->iso);
	ck_assert_uint_eq(bw->n_images, 2);
	ck_assert_str_eq(bw->images[0].path, "debian/bookworm/boot/a.ext4");
	ck_assert_str_eq(bw->images[0].type, "ext4");
	ck_assert_str_eq(bw->images[0].uuid, "0f0e0d0c-0b0a-4908-8706-050403020100");
	ck_assert_str_eq(bw->images[0].label, "data");
	ck_assert_str_eq(bw->images[1].path, "debian/bookworm/rootfs.squashfs");
	ck_assert_str_eq(bw->images[1].type, "squashfs");
	ck_assert_str_eq(deb->releases[1].path, "debian/bookworm/extra.iso");
	/* a directory with just one image takes the directory's name */
	ck_assert_uint_eq(cat->distros[2].n_releases, 1);
	ck_assert_str_eq(cat->distros[2].releases[0].name, "9.3");
	ck_assert_str_eq(cat->distros[2].releases[0].pretty_name, "Rocky Linux 9.3");
	/* totals */
	ck_assert_uint_eq(cat->n_releases, 5);
	/* skipped, with reasons; the scanner's "not a directory" for ISO files is gone */
	const struct scan_skip *s = find_skip(cat, "debian/bookworm/junk.img");
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(strstr(s->reason, "unknown or corrupt"));
	ck_assert_ptr_nonnull(s = find_skip(cat, "iso/broken.iso"));
	ck_assert_ptr_nonnull(strstr(s->reason, "ISO 9660"));
	ck_assert_ptr_nonnull(s = find_skip(cat, "iso/bad name.iso"));
	ck_assert_ptr_nonnull(strstr(s->reason, "unsafe name"));
	ck_assert_ptr_null(find_skip(cat, "iso/ubuntu-22.04.iso"));
	ck_assert_ptr_null(find_skip(cat, "rocky/9.3"));
	ck_assert_ptr_null(find_skip(cat, "debian/bookworm/boot/initrd-6.1.0-21-amd64.img"));
	for (size_t i = 1; i < cat->n_skipped; i++)
		ck_assert_int_le(strcmp(cat->skipped[i - 1].path, cat->skipped[i].path), 0);
	/* autopxe scan shows them: table section and JSON keys */
	char *buf = NULL;
	size_t blen = 0;
	FILE *mf = open_memstream(&buf, &blen);
	catalog_print(cat, mf, 0);
	fclose(mf);
	ck_assert_ptr_nonnull(strstr(buf, "\nimages:\n"));
	ck_assert_ptr_nonnull(strstr(buf, "  debian/bookworm: debian/bookworm/boot/a.ext4 ext4 UUID=0f0e0d0c-"));
	ck_assert_ptr_nonnull(strstr(buf, "label 'Debian 12.5.0 amd64 n', layout d-i\n"));
	free(buf);
	mf = open_memstream(&buf, &blen);
	catalog_print(cat, mf, 1);
	fclose(mf);
	ck_assert_ptr_nonnull(strstr(buf, "\"label\": \"Rocky-9-3-x86_64-dvd\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"type\": \"squashfs\""));
	free(buf);
	catalog_free(cat);

	/* rescanning: the cache answers (same result), and options turn the extras off */
	cat = scan_tree(cache);
	ck_assert_uint_eq(cat->n_releases, 5);
	catalog_free(cat);
	char root[512], err[512];
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	struct scan_options off = {.cache_dir = cache, .no_iso = 1, .no_images = 1};
	ck_assert_int_eq(scan_rootfs_opts(root, &off, &cat, err, sizeof(err)), 0);
	ck_assert_uint_eq(cat->n_releases, 1);
	ck_assert_uint_eq(cat->distros[0].releases[0].n_images, 0);
	catalog_free(cat);
	/* no usable cache dir: ISOs are skipped with the reason, the rest is there */
	struct scan_options nocache = {.cache_dir = "/proc/autopxe-no-cache"};
	ck_assert_int_eq(scan_rootfs_opts(root, &nocache, &cat, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(s = find_skip(cat, "iso/ubuntu-22.04.iso"));
	ck_assert_ptr_nonnull(strstr(s->reason, "cache dir"));
	ck_assert_uint_eq(cat->distros[0].releases[0].n_images, 2);
	catalog_free(cat);
	/* a missing root is still the only hard error */
	ck_assert_int_eq(scan_rootfs_opts("/nonexistent/autopxe", NULL, &cat, err, sizeof(err)), -ENOENT);
}
END_TEST

static char *read_fd(int fd, size_t *n)
{
	sbuf b = SBUF_INIT;
	char buf[65536];
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		sbuf_append(&b, buf, (size_t)r);
	*n = b.len;
	return sbuf_steal(&b);
}

static char *read_path(const char *path, size_t *n)
{
	int fd = open_ro(path);
	char *s = read_fd(fd, n);
	close(fd);
	return s;
}

/* vfs serves the boot files from the cache, the ISO itself and the images, byte-identical. */
START_TEST(test_vfs)
{
	char cache[512], p[1024];
	make_tree();
	snprintf(cache, sizeof(cache), "%s/cache", tmpdir);
	struct catalog *cat = scan_tree(cache);
	struct diag d;
	diag_init(&d);
	struct vfs *v = vfs_new(NULL, cat, &d);
	static const struct {
		const char *name, *source; /* source relative to tmpdir */
	} cases[] = {
	    {"boot/iso/debian-12.5.0-amd64-netinst.iso/install.amd/vmlinuz", "src-debian-netinst/install.amd/vmlinuz"},
	    {"/boot/iso/debian-12.5.0-amd64-netinst.iso/install.amd/gtk/initrd.gz",
	     "src-debian-netinst/install.amd/gtk/initrd.gz"},
	    {"boot/iso/debian-12.5.0-amd64-netinst.iso", "root/iso/debian-12.5.0-amd64-netinst.iso"},
	    {"boot/rocky/9.3/Rocky-9.3-x86_64-dvd.iso/images/pxeboot/initrd.img",
	     "src-rocky-dvd/images/pxeboot/initrd.img"},
	    {"boot/rocky/9.3/Rocky-9.3-x86_64-dvd.iso", "root/rocky/9.3/Rocky-9.3-x86_64-dvd.iso"},
	    {"boot/debian/bookworm/rootfs.squashfs", "root/debian/bookworm/rootfs.squashfs"},
	    {"boot/debian/bookworm/boot/a.ext4", "root/debian/bookworm/boot/a.ext4"},
	    {"boot/iso/ubuntu-22.04.iso/casper/hwe-initrd", "src-ubuntu-live/casper/hwe-initrd"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct stat st;
		enum vfs_kind kind = 0;
		int fd = vfs_open(v, cases[i].name, strlen(cases[i].name), &st, &kind);
		ck_assert_msg(fd >= 0, "%s: %d", cases[i].name, fd);
		ck_assert_int_eq(kind, VFS_CATALOG);
		size_t n1, n2;
		char *a = read_fd(fd, &n1);
		close(fd);
		snprintf(p, sizeof(p), "%s/%s", tmpdir, cases[i].source);
		char *b = read_path(p, &n2);
		ck_assert_msg(n1 == n2 && n1 == (size_t)st.st_size && memcmp(a, b, n1) == 0, "%s differs", cases[i].name);
		free(a);
		free(b);
	}
	/* not in the namespace: other files of the image, the junk image, the cache's manifest */
	static const char *const no[] = {"boot/iso/debian-12.5.0-amd64-netinst.iso/.disk/info",
	                                 "boot/debian/bookworm/junk.img", "boot/iso/broken.iso",
	                                 "boot/iso/debian-12.5.0-amd64-netinst.iso/manifest.json"};
	for (size_t i = 0; i < ARRAY_SIZE(no); i++) {
		struct stat st;
		ck_assert_int_eq(vfs_open(v, no[i], strlen(no[i]), &st, NULL), -ENOENT);
	}
	vfs_free(v);
	diag_free(&d);
	catalog_free(cat);
}
END_TEST

static const char render_yaml[] = "version: 1\n"
                                  "RootfsPath: /pxe/rootfs\n"
                                  "HTTPBaseURL: http://192.0.2.1:8080\n"
                                  "CmdlineTemplates:\n"
                                  "  nfs: root=/dev/nfs nfsroot=192.0.2.1:${rootfs-path} ip=dhcp\n"
                                  "  live: root=live:${image-url} uuid=${image-uuid} t=${image-type} l=${image-label}"
                                  " p=${image-path}\n"
                                  "  stage2: inst.stage2=hd:LABEL=${iso-label} inst.repo=${iso-url} f=${iso-path}\n"
                                  "HostDefaults:\n"
                                  "  525400000001: iso/debian-12.5.0-amd64-netinst/gtk/stage2\n"
                                  "  525400000002: iso/debian-12.5.0-amd64-netinst/gtk/nfs\n"
                                  "  525400000003: debian/bookworm/latest/stage2\n"
                                  "Watch: false\n";

static char *render(const char *yaml, const struct catalog *cat, const char *mac, const char *sub)
{
	struct config *cfg = NULL;
	struct diag d;
	diag_init(&d);
	ck_assert_int_eq(config_load_buffer(yaml, strlen(yaml), "t.yaml", &cfg, &d), 0);
	struct render_client cl = {.ip = "192.0.2.50", .via = RENDER_HTTP};
	ck_assert_int_eq(mac_parse(mac, strlen(mac), cl.mac), 0);
	sbuf out = SBUF_INIT;
	ck_assert_int_eq(render_menu(cfg, cat, NULL, &cl, sub, &out), 0);
	config_free(cfg);
	diag_free(&d);
	return sbuf_steal(&out);
}

START_TEST(test_render)
{
	char cache[512];
	make_tree();
	snprintf(cache, sizeof(cache), "%s/cache", tmpdir);
	struct catalog *cat = scan_tree(cache);
	/* ISO entries: only the template using ${iso-...}, variables expanded, label blanks as \x20 */
	char *m = render(render_yaml, cat, "52:54:00:00:00:09", "iso");
	ck_assert_ptr_nonnull(strstr(m, "item iso/debian-12.5.0-amd64-netinst/gtk/stage2 "));
	ck_assert_ptr_null(strstr(m, "/nfs "));
	ck_assert_ptr_null(strstr(m, "/live "));
	ck_assert_ptr_nonnull(strstr(m, "inst.stage2=hd:LABEL=Debian\\x2012.5.0\\x20amd64\\x20n "
	                                "inst.repo=http://192.0.2.1:8080/boot/iso/debian-12.5.0-amd64-netinst.iso f="));
	ck_assert_ptr_nonnull(strstr(m, "/root/iso/debian-12.5.0-amd64-netinst.iso\n"));
	ck_assert_ptr_nonnull(strstr(m, "kernel --name vmlinuz /boot/iso/debian-12.5.0-amd64-netinst.iso/install.amd/gtk/"
	                                "vmlinuz initrd=initrd"));
	ck_assert_ptr_nonnull(strstr(m, "initrd --name initrd /boot/iso/ubuntu-22.04.iso/casper/hwe-initrd"));
	free(m);
	/* a rootfs release: nfs and (it has images) live with the first image's variables; never stage2 */
	m = render(render_yaml, cat, "52:54:00:00:00:09", "debian");
	ck_assert_ptr_nonnull(strstr(m, "item debian/bookworm/latest/nfs "));
	ck_assert_ptr_nonnull(strstr(m, "root=live:http://192.0.2.1:8080/boot/debian/bookworm/boot/a.ext4 "
	                                "uuid=0f0e0d0c-0b0a-4908-8706-050403020100 t=ext4 l=data "
	                                "p=/pxe/rootfs/debian/bookworm/boot/a.ext4"));
	ck_assert_ptr_null(strstr(m, "debian/bookworm/latest/stage2"));
	/* the ISO beside it (bookworm-extra) gets stage2 only, no live (no image) */
	ck_assert_ptr_nonnull(strstr(m, "item debian/bookworm-extra/install/stage2 "));
	ck_assert_ptr_null(strstr(m, "bookworm-extra/install/live"));
	free(m);
	/* HostDefaults: an ISO target with its template is the default; the wrong kinds are warned about */
	m = render(render_yaml, cat, "52:54:00:00:00:01", NULL);
	ck_assert_ptr_nonnull(strstr(m, ":iso/debian-12.5.0-amd64-netinst/gtk/stage2\n"));
	free(m);
	m = render(render_yaml, cat, "52:54:00:00:00:02", NULL);
	ck_assert_ptr_nonnull(strstr(m, "echo autopxe: default 'iso/debian-12.5.0-amd64-netinst/gtk/nfs' not found: "
	                                "template "
	                                "'nfs' is not for iso/debian-12.5.0-amd64-netinst"));
	free(m);
	m = render(render_yaml, cat, "52:54:00:00:00:03", NULL);
	ck_assert_ptr_nonnull(strstr(m, "template 'stage2' is not for debian/bookworm (it uses "));
	free(m);
	/* without any ${iso-...} template, ISO entries get every template (image ones excluded: no image) */
	static const char plain[] = "version: 1\nRootfsPath: /pxe/rootfs\nCmdlineTemplates:\n  a: quiet\n"
	                            "  b: root=live:${image-url}\nWatch: false\n";
	m = render(plain, cat, "52:54:00:00:00:09", "iso");
	ck_assert_ptr_nonnull(strstr(m, "item iso/ubuntu-22.04/live/a "));
	ck_assert_ptr_nonnull(strstr(m, "item iso/ubuntu-22.04/hwe/a "));
	ck_assert_ptr_null(strstr(m, "/b "));
	free(m);
	/* no HTTPBaseURL, HTTP on all addresses: iso-url is a path on the menu's server */
	static const char nobase[] = "version: 1\nRootfsPath: /pxe/rootfs\nCmdlineTemplates:\n  s: repo=${iso-url}\n"
	                             "Watch: false\n";
	m = render(nobase, cat, "52:54:00:00:00:09", "rocky");
	ck_assert_ptr_nonnull(strstr(m, "repo=/boot/rocky/9.3/Rocky-9.3-x86_64-dvd.iso"));
	free(m);
	static const char listen[] = "version: 1\nRootfsPath: /pxe/rootfs\nHTTPListen: 192.0.2.7:8081\n"
	                             "CmdlineTemplates:\n  s: repo=${iso-url}\nWatch: false\n";
	m = render(listen, cat, "52:54:00:00:00:09", "rocky");
	ck_assert_ptr_nonnull(strstr(m, "repo=http://192.0.2.7:8081/boot/rocky/9.3/Rocky-9.3-x86_64-dvd.iso"));
	free(m);
	/* render_boot_cmdline (the JSON API) gives the command line the menu entry has */
	struct config *cfg = NULL;
	struct diag d;
	diag_init(&d);
	ck_assert_int_eq(config_load_buffer(render_yaml, strlen(render_yaml), "t.yaml", &cfg, &d), 0);
	struct boot_target bt;
	char why[256];
	ck_assert_int_eq(boot_id_resolve(cfg, cat, "iso/debian-12.5.0-amd64-netinst/gtk/stage2", &bt, why, sizeof(why)), 0);
	struct render_client cl = {.mac = {0x52, 0x54, 0, 0, 0, 9}, .ip = "192.0.2.50", .via = RENDER_HTTP};
	sbuf cmd = SBUF_INIT;
	ck_assert_int_eq(render_boot_cmdline(cfg, cat, &bt, &cl, &cmd), 0);
	m = render(render_yaml, cat, "52:54:00:00:00:09", "iso");
	char line[2048];
	snprintf(line, sizeof(line), "echo Command line: %s\n", cmd.data);
	ck_assert_msg(strstr(m, line) != NULL, "menu lacks '%s'", cmd.data);
	ck_assert_ptr_nonnull(strstr(cmd.data, "inst.repo=http://192.0.2.1:8080/boot/iso/debian-12.5.0-amd64-netinst.iso"));
	free(m);
	sbuf_free(&cmd);
	ck_assert_int_eq(render_boot_cmdline(cfg, cat, NULL, &cl, &cmd), -EINVAL);
	config_free(cfg);
	diag_free(&d);
	catalog_free(cat);
}
END_TEST

/* The latest rule in ISO releases: a kernel without an initrd while others of the image have one stays listed
 * under its id but is not latest (noted); an image whose kernels all lack one keeps its first as latest. */
START_TEST(test_iso_latest_bootable)
{
	static const char yaml[] = "version: 1\nRootfsPath: /pxe/rootfs\nCmdlineTemplates:\n  a: quiet\nWatch: false\n";
	char root[512], iso[512], cache[512], why[256];
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	snprintf(cache, sizeof(cache), "%s/cache", tmpdir);
	build_case(&layouts[10], iso, sizeof(iso)); /* half-live */
	sh("mkdir -p '%s/iso' && cp '%s' '%s/iso/half-live.iso'", root, iso, root);
	build_case(&layouts[9], iso, sizeof(iso)); /* kernel-without-initrd */
	sh("cp '%s' '%s/iso/noinitrd.iso'", iso, root);
	for (int pass = 0; pass < 2; pass++) { /* the probe, then the cache's manifest */
		struct catalog *cat = scan_tree(cache);
		const struct scan_release *r = catalog_release(cat, "iso", "half-live");
		ck_assert_ptr_nonnull(r);
		ck_assert_uint_eq(r->n_kernels, 3);
		ck_assert_str_eq(r->kernels[0].id, "6.2.0-1-amd64");
		ck_assert_ptr_null(r->kernels[0].initrd_path);
		ck_assert_ptr_eq(release_kernel(r, "6.2.0-1-amd64"), &r->kernels[0]);
		ck_assert_ptr_eq(release_kernel(r, "latest"), &r->kernels[1]);
		ck_assert_str_eq(r->kernels[1].id, "6.1.0-18-amd64");
		const struct scan_skip *s = find_skip(cat, "iso/half-live.iso/live/vmlinuz-6.2.0-1-amd64");
		ck_assert_ptr_nonnull(s);
		ck_assert_str_eq(s->reason, "kernel 6.2.0-1-amd64 has no initrd while others in this release do; not used "
		                            "for latest/default");
		r = catalog_release(cat, "iso", "noinitrd");
		ck_assert_ptr_nonnull(r);
		ck_assert_uint_eq(r->n_kernels, 1);
		ck_assert_ptr_null(r->kernels[0].initrd_path);
		ck_assert_ptr_eq(release_kernel(r, "latest"), &r->kernels[0]);
		ck_assert_ptr_null(find_skip(cat, "iso/noinitrd.iso/casper/vmlinuz"));
		/* boot ids and the menu follow */
		struct config *cfg = NULL;
		struct diag d;
		struct boot_target bt;
		diag_init(&d);
		ck_assert_int_eq(config_load_buffer(yaml, strlen(yaml), "t.yaml", &cfg, &d), 0);
		ck_assert_int_eq(boot_id_resolve(cfg, cat, "iso/half-live/latest/a", &bt, why, sizeof(why)), 0);
		ck_assert_str_eq(bt.kernel->id, "6.1.0-18-amd64");
		config_free(cfg);
		diag_free(&d);
		char *m = render(yaml, cat, "52:54:00:00:00:09", "iso");
		const char *e = strstr(m, ":iso/half-live/latest/a\n");
		ck_assert_msg(e != NULL, "no latest entry in\n%s", m);
		const char *k = strstr(e, "kernel ");
		ck_assert_ptr_nonnull(k);
		ck_assert_msg(strncmp(strchr(k, '/'), "/boot/iso/half-live.iso/live/vmlinuz-6.1.0-18-amd64 ", 52) == 0,
		              "latest boots %.80s", k);
		free(m);
		catalog_free(cat);
	}
}
END_TEST

/* ISOPath outside RootfsPath: still distro "iso", served as boot/iso/<name>.iso from its real place. */
START_TEST(test_iso_dir_outside_root)
{
	char root[512], isodir[512], iso[512], cache[512], err[512];
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	snprintf(isodir, sizeof(isodir), "%s/images", tmpdir);
	snprintf(cache, sizeof(cache), "%s/cache", tmpdir);
	mkfile(root, "debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", 3000, 1);
	build_case(&layouts[6], iso, sizeof(iso)); /* arch */
	sh("mkdir -p '%s' && cp '%s' '%s/archlinux-2024.02.01-x86_64.iso'", isodir, iso, isodir);
	struct scan_options o = {.iso_dir = isodir, .cache_dir = cache};
	struct catalog *cat = NULL;
	ck_assert_int_eq(scan_rootfs_opts(root, &o, &cat, err, sizeof(err)), 0);
	const struct scan_release *r = catalog_release(cat, "iso", "archlinux-2024.02.01-x86_64");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->kernels[0].id, "linux");
	ck_assert_ptr_nonnull(strstr(cat->iso_dir, "/images"));
	struct diag d;
	diag_init(&d);
	struct vfs *v = vfs_new(NULL, cat, &d);
	static const char name[] = "boot/iso/archlinux-2024.02.01-x86_64.iso";
	struct stat st;
	int fd = vfs_open(v, name, strlen(name), &st, NULL);
	ck_assert_int_ge(fd, 0);
	struct stat want;
	ck_assert_int_eq(stat(iso, &want), 0);
	ck_assert_int_eq(st.st_size, want.st_size);
	close(fd);
	vfs_free(v);
	diag_free(&d);
	catalog_free(cat);
}
END_TEST

START_TEST(test_default_cache_dir)
{
	char buf[512];
	ck_assert_int_eq(scan_cache_dir_default(buf, sizeof(buf)), 0);
	ck_assert_msg(!strcmp(buf, "/var/cache/autopxe") || !strncmp(buf, "/tmp/autopxe-cache-", 19), "%s", buf);
	ck_assert_int_eq(access(buf, W_OK), 0);
}
END_TEST

/* tests/fuzz/pending/iso/hang-libarchive-next-header makes libarchive 3.6.2 loop: the isolated probe
 * must give up at the deadline, skip the image, and not try again until the file changes. */
START_TEST(test_hostile_image_times_out)
{
	const char *src = "tests/fuzz/pending/iso/hang-libarchive-next-header";
	char cache[300], key[128], err[512];
	struct scan_iso_probe *p = NULL;
	struct stat st;
	int fd = open(src, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "%s: %s", src, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	snprintf(cache, sizeof cache, "%s/cache", tmpdir);
	ck_assert_int_eq(mkdir(cache, 0700), 0);
	scan_iso_cache_key(&st, key, sizeof key);
	scan_iso_set_timeout(1500);
	uint64_t t0 = now_ms();
	ck_assert_int_eq(scan_iso_prepare(fd, cache, key, &p, err, sizeof err), -ETIMEDOUT);
	uint64_t took = now_ms() - t0;
	ck_assert_msg(took >= 1400 && took < 10000, "deadline not kept: %llu ms", (unsigned long long)took);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(err, "damaged or hostile") != NULL, "%s", err);
	err[0] = '\0';
	ck_assert_int_eq(scan_iso_prepare(fd, cache, key, &p, err, sizeof err), -ETIMEDOUT);
	/* answered from the record of the first failure, not by reading the image again */
	ck_assert_msg(strstr(err, "timed out before") != NULL, "a known-bad image was read again: %s", err);
	scan_iso_set_timeout(0);
	close(fd);
}
END_TEST

Suite *iso_suite(void)
{
	Suite *s = suite_create("iso");
	TCase *tc = tcase_create("iso");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_layouts, 0, (int)ARRAY_SIZE(layouts));
	tcase_add_test(tc, test_symlink_data);
	tcase_add_test(tc, test_plain_iso9660_names);
	tcase_add_test(tc, test_bad_images);
	tcase_add_test(tc, test_cache_key);
	tcase_add_test(tc, test_extract_and_reuse);
	tcase_add_test(tc, test_negative_cache);
	tcase_add_test(tc, test_prune);
	tcase_add_test(tc, test_image_probe);
	tcase_add_test(tc, test_catalog);
	tcase_add_test(tc, test_vfs);
	tcase_add_test(tc, test_render);
	tcase_add_test(tc, test_iso_dir_outside_root);
	tcase_add_test(tc, test_iso_latest_bootable);
	tcase_add_test(tc, test_default_cache_dir);
	tcase_add_test(tc, test_hostile_image_times_out);
	suite_add_tcase(s, tc);
	return s;
}
