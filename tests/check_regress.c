/* check_regress.c - regression cases from hardening (issue 8): hostile inputs and bugs found, replayed under ASan. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "http_range.h"
#include "mac.h"
#include "render.h"
#include "scan.h"
#include "tftp_proto.h"
#include "vfs.h"

/* ------------------------------------------------------------------ vfs: only boot files of the catalog */

static char tmpdir[64];

static void mk(const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
	for (char *s = p + strlen(tmpdir) + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* Found by tests/it_hardening.c: a symlink planted in a rootfs's boot/ ("vmlinuz-X -> ../etc/shadow", or
 * "-> /etc/shadow" read chroot-relative, or into another release's etc/) resolves inside RootfsPath, so the
 * scanner listed it as a kernel and vfs served the release's etc/shadow over TFTP and HTTP. vfs now serves a
 * catalog file only when it resolves into a boot directory. The catalog here is built by hand as the scanner
 * built it then. */
START_TEST(test_vfs_refuses_catalog_files_outside_boot_dirs)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/autopxe-regress.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	mk("debian/bookworm/etc/shadow", "root:SECRET:1\n");
	mk("debian/bookworm/boot/vmlinuz-6.1.0-1-amd64", "kernel\n");
	mk("debian/bookworm/boot/initrd.img-6.1.0-1-amd64", "initrd\n");
	mk("arch/rolling/usr/lib/modules/6.9.1-arch1-1/vmlinuz", "arch kernel\n");
	struct scan_kernel k[4] = {
	    {.id = "6.6.8-shadow",
	     .kernel_path = "debian/bookworm/boot/vmlinuz-6.6.8-shadow",
	     .kernel_real = "debian/bookworm/etc/shadow",
	     .initrd_path = "debian/bookworm/boot/initrd.img-6.6.8-shadow",
	     .initrd_real = "debian/bookworm/etc/shadow"},
	    {.id = "6.6.9-ok-kernel",
	     .kernel_path = "debian/bookworm/boot/vmlinuz-6.6.9-ok-kernel",
	     .kernel_real = "debian/bookworm/boot/vmlinuz-6.1.0-1-amd64",
	     .initrd_path = "debian/bookworm/boot/initrd.img-6.6.9-ok-kernel",
	     .initrd_real = "debian/bookworm/etc/shadow"},
	    {.id = "6.1.0-1-amd64",
	     .kernel_path = "debian/bookworm/boot/vmlinuz-6.1.0-1-amd64",
	     .kernel_real = "debian/bookworm/boot/vmlinuz-6.1.0-1-amd64",
	     .initrd_path = "debian/bookworm/boot/initrd.img-6.1.0-1-amd64",
	     .initrd_real = "debian/bookworm/boot/initrd.img-6.1.0-1-amd64"},
	    {.id = "linux",
	     .kernel_path = "arch/rolling/boot/vmlinuz-linux",
	     .kernel_real = "arch/rolling/usr/lib/modules/6.9.1-arch1-1/vmlinuz"},
	};
	struct scan_release rel[2] = {{.name = "bookworm", .path = "debian/bookworm", .kernels = k, .n_kernels = 3},
	                              {.name = "rolling", .path = "arch/rolling", .kernels = k + 3, .n_kernels = 1}};
	struct scan_distro dis[2] = {{.name = "arch", .releases = rel + 1, .n_releases = 1},
	                             {.name = "debian", .releases = rel, .n_releases = 1}};
	struct catalog cat = {.root = tmpdir, .distros = dis, .n_distros = 2};
	struct diag d;
	diag_init(&d);
	struct vfs *v = vfs_new(NULL, &cat, &d);
	ck_assert_ptr_nonnull(v);
	static const struct {
		const char *name;
		int served;
	} cases[] = {
	    {"boot/debian/bookworm/boot/vmlinuz-6.6.8-shadow", 0},
	    {"boot/debian/bookworm/boot/initrd.img-6.6.8-shadow", 0},
	    {"boot/debian/bookworm/boot/vmlinuz-6.6.9-ok-kernel", 1},
	    {"boot/debian/bookworm/boot/initrd.img-6.6.9-ok-kernel", 0},
	    {"boot/debian/bookworm/boot/vmlinuz-6.1.0-1-amd64", 1},
	    {"boot/debian/bookworm/boot/initrd.img-6.1.0-1-amd64", 1},
	    {"boot/arch/rolling/boot/vmlinuz-linux", 1},
	    {"boot/debian/bookworm/etc/shadow", 0},
	    {"debian/bookworm/etc/shadow", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct stat st;
		int fd = vfs_open(v, cases[i].name, strlen(cases[i].name), &st, NULL);
		if (cases[i].served) {
			ck_assert_msg(fd >= 0, "%s not served (%d)", cases[i].name, fd);
			char buf[64] = "";
			ck_assert_int_gt((int)read(fd, buf, sizeof buf - 1), 0);
			ck_assert_msg(strstr(buf, "SECRET") == NULL, "%s served the secret", cases[i].name);
			close(fd);
		} else {
			ck_assert_msg(fd < 0, "%s served (must not be)", cases[i].name);
		}
	}
	vfs_free(v);
	diag_free(&d);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ------------------------------------------------------------------ hostile names through the pure parsers */

/* The TFTP names of tests/it_hardening.c, at the name-normaliser level: refused, or harmless (no "..",
 * no leading '/', no control bytes). */
START_TEST(test_vfs_normalize_hostile_names)
{
	static const struct {
		const char *in;
		size_t len;
		int ok; /* 1: accepted (then out must equal want) */
		const char *want;
	} cases[] = {
#define C(s, ok, want) {s, sizeof(s) - 1, ok, want}
	    C("../secret.txt", 0, NULL),
	    C("boot/../../secret.txt", 0, NULL),
	    C("/../secret.txt", 0, NULL),
	    C("\\..\\..\\secret.txt", 0, NULL),
	    C("boot\\..\\..\\secret.txt", 0, NULL),
	    C("....//....//secret.txt", 1, "..../..../secret.txt"),
	    C("..%2f..%2fsecret.txt", 1, "..%2f..%2fsecret.txt"),
	    C("\xc0\xae\xc0\xae/secret.txt", 0, NULL),
	    C("boot/\x01\x1b[31mred\x7f\n", 0, NULL),
	    C("ok.txt\r\nINJECTED", 0, NULL),
	    C("ok.txt\0../../secret.txt", 0, NULL),
	    C("\xff\xfe\xfd", 0, NULL),
	    C("/", 0, NULL),
	    C(".", 0, NULL),
	    C("//boot//./debian/", 1, "boot/debian"),
	    C("\\boot/x", 1, "boot/x"),
#undef C
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[1100];
		int rc = vfs_normalize(cases[i].in, cases[i].len, out, sizeof out);
		if (cases[i].ok) {
			ck_assert_msg(rc == 0, "case %zu refused (%d)", i, rc);
			ck_assert_str_eq(out, cases[i].want);
		} else {
			ck_assert_msg(rc < 0, "case %zu accepted as '%s'", i, out);
		}
	}
	/* 64 KiB names: refused, never truncated into something valid */
	size_t big = 65536;
	char *name = malloc(big), out[1100];
	ck_assert_ptr_nonnull(name);
	memset(name, 'a', big);
	ck_assert_int_lt(vfs_normalize(name, big, out, sizeof out), 0);
	for (size_t k = 0; k < big; k++)
		name[k] = "../"[k % 3];
	ck_assert_int_lt(vfs_normalize(name, big, out, sizeof out), 0);
	free(name);
}
END_TEST

START_TEST(test_http_path_decode_hostile)
{
	static const char *const refused[] = {
	    "/ok.txt%00",          "/ok.txt%00.ipxe", "/%01%1b%5b31mred%7f", "/ok.txt%0d%0aX-Injected:%201",
	    "/%",                  "/%2",             "/%zz",                "/a\x01",
	    "/boot/%00/../secret", "/\x7f",
	};
	char out[4096];
	size_t ol;
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		ck_assert_msg(http_path_decode(refused[i], strlen(refused[i]), out, sizeof out, &ol) != 0,
		              "'%s' decoded", refused[i]);
	/* decoded exactly once: a doubly encoded dot stays "%2e", so it is only a (missing) name */
	ck_assert_int_eq(http_path_decode("/boot/%252e%252e/x", 18, out, sizeof out, &ol), 0);
	ck_assert_str_eq(out, "/boot/%2e%2e/x");
	/* "%2e%2e" decodes to ".." and is then the normaliser's to refuse */
	ck_assert_int_eq(http_path_decode("/boot/%2e%2e/%2e%2e/secret.txt", 30, out, sizeof out, &ol), 0);
	ck_assert_int_lt(vfs_normalize(out, ol, (char[1100]){0}, 1100), 0);
}
END_TEST

START_TEST(test_tftp_request_hostile)
{
	/* a NUL inside the name: the name ends there and the rest is not a valid mode */
	static const uint8_t nul[] = "\0\1boot/x\0../../secret.txt\0octet";
	struct tftp_request rq;
	ck_assert_int_ne(tftp_parse_request(nul, sizeof nul, &rq), 0);
	/* a name that fills the largest UDP datagram, with and without the terminating NUL */
	size_t n = 65507;
	uint8_t *p = malloc(n);
	ck_assert_ptr_nonnull(p);
	p[0] = 0;
	p[1] = 1;
	memset(p + 2, 'a', n - 2);
	ck_assert_int_ne(tftp_parse_request(p, n, &rq), 0); /* no NUL, no mode */
	memcpy(p + n - 7, "\0octet", 7);
	if (tftp_parse_request(p, n, &rq) == 0) {
		char out[1100];
		ck_assert_int_lt(vfs_normalize(rq.file, rq.file_len, out, sizeof out), 0); /* too long to serve */
	}
	free(p);
	/* truncated headers of every length */
	static const uint8_t full[] = "\0\1boot/x\0octet\0blksize\0001468\0tsize\0000\0windowsize\08\0";
	for (size_t len = 0; len < sizeof full; len++) {
		uint8_t *cp = malloc(len ? len : 1); /* exact-size copy: ASan sees any over-read */
		memcpy(cp, full, len);
		tftp_parse_request(cp, len, &rq);
		struct tftp_packet pk;
		tftp_parse_packet(cp, len, &pk);
		free(cp);
	}
}
END_TEST

/* ------------------------------------------------------------------ corpus replay */

/* Every seed and regression input of a fuzz corpus through its parser, under ASan (no crash, no leak).
 * The unit runner runs from the source tree; without the corpus dir this checks nothing and says so. */
static int replay(const char *dir, void (*fn)(const uint8_t *, size_t))
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "regress: no corpus at %s (not run from the source tree)\n", dir);
		return 0;
	}
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[600];
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		FILE *f = fopen(p, "rb");
		if (!f)
			continue;
		uint8_t *buf = malloc(1 << 20);
		size_t len = buf ? fread(buf, 1, 1 << 20, f) : 0;
		fclose(f);
		uint8_t *exact = malloc(len ? len : 1);
		if (exact && buf) {
			memcpy(exact, buf, len);
			fn(exact, len);
			n++;
		}
		free(exact);
		free(buf);
	}
	closedir(d);
	return n;
}

static void replay_tftp(const uint8_t *p, size_t n)
{
	struct tftp_request rq;
	struct tftp_packet pk;
	tftp_parse_request(p, n, &rq);
	tftp_parse_packet(p, n, &pk);
}

static void replay_vfs(const uint8_t *p, size_t n)
{
	char out[1100];
	vfs_normalize((const char *)p, n, out, sizeof out);
}

static void replay_mac(const uint8_t *p, size_t n)
{
	uint8_t mac[6];
	char sub[128];
	mac_parse((const char *)p, n, mac);
	menu_request_parse((const char *)p, n, mac, sub, sizeof sub);
}

static void replay_osrel(const uint8_t *p, size_t n)
{
	struct scan_kv *kv = NULL;
	size_t k = 0;
	if (scan_osrelease_parse((const char *)p, n, &kv, &k) == 0)
		scan_osrelease_free(kv, k);
}

START_TEST(test_corpus_replay)
{
	int n = replay("tests/fuzz/corpus/tftp", replay_tftp) + replay("tests/fuzz/corpus/vfs", replay_vfs) +
	        replay("tests/fuzz/corpus/mac", replay_mac) + replay("tests/fuzz/corpus/osrel", replay_osrel);
	fprintf(stderr, "regress: replayed %d corpus inputs\n", n);
}
END_TEST

Suite *regress_suite(void)
{
	Suite *s = suite_create("regress");
	TCase *tc = tcase_create("hardening");
	tcase_add_test(tc, test_vfs_refuses_catalog_files_outside_boot_dirs);
	tcase_add_test(tc, test_vfs_normalize_hostile_names);
	tcase_add_test(tc, test_http_path_decode_hostile);
	tcase_add_test(tc, test_tftp_request_hostile);
	tcase_add_test(tc, test_corpus_replay);
	suite_add_tcase(s, tc);
	return s;
}
