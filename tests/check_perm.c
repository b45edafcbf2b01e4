/* check_perm.c - unit tests for perm.c: which catalog files the serving user could not read. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "perm.h"
#include "scan.h"

static char root[256];

static void put(const char *rel, mode_t mode)
{
	char p[512], d[512];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	snprintf(d, sizeof d, "%s", p);
	for (char *q = d + strlen(root) + 1; (q = strchr(q, '/')) != NULL; q++) {
		*q = '\0';
		mkdir(d, 0755);
		*q = '/';
	}
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs("x", f);
	fclose(f);
	ck_assert_int_eq(chmod(p, mode), 0);
}

static void setup(void)
{
	snprintf(root, sizeof root, "/tmp/check_perm.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	char *real = realpath(root, NULL);
	ck_assert_ptr_nonnull(real);
	snprintf(root, sizeof root, "%s", real);
	free(real);
	chmod(root, 0755);
}

static void teardown(void)
{
	char cmd[700];
	snprintf(cmd, sizeof cmd, "chmod -R u+rwx '%s' && rm -rf '%s'", root, root);
	ck_assert_int_eq(system(cmd), 0);
}

/* Someone who owns nothing here and is in none of its groups. */
static struct perm_ident stranger(void)
{
	struct perm_ident id = {.uid = getuid() + 4242, .gid = getgid() + 4242};
	snprintf(id.name, sizeof id.name, "User 'stranger' (uid %u)", (unsigned)id.uid);
	return id;
}

static size_t count_containing(const struct diag *d, const char *needle)
{
	size_t n = 0;
	for (size_t i = 0; i < d->n; i++)
		n += strstr(d->items[i].msg, needle) != NULL;
	return n;
}

START_TEST(test_allows_table)
{
	static const gid_t extra[] = {7, 8};
	struct perm_ident id = {.uid = 1000, .gid = 100, .groups = extra, .n_groups = 2};
	struct perm_ident rootid = {.uid = 0};
	static const struct {
		uid_t uid;
		gid_t gid;
		mode_t mode;
		unsigned want;
		int ok;
	} cases[] = {
	    {1000, 5, 0600, 4, 1},  /* owner read */
	    {1000, 100, 0060, 4, 0}, /* owner bits decide for the owner, even when the group may */
	    {1, 100, 0640, 4, 1},   /* primary group */
	    {1, 8, 0640, 4, 1},     /* supplementary group */
	    {1, 9, 0640, 4, 0},     /* no group: other bits */
	    {1, 9, 0604, 4, 1},
	    {0, 0, 0600, 4, 0},     /* Ubuntu's vmlinuz */
	    {1, 9, 0711, 1, 1},     /* search only */
	    {1, 9, 0700, 1, 0},
	    {1, 9, 0755, 5, 1},
	    {1, 9, 0751, 5, 0},     /* search but not read */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct stat st = {.st_uid = cases[i].uid, .st_gid = cases[i].gid, .st_mode = S_IFREG | cases[i].mode};
		ck_assert_msg(perm_allows(&st, &id, cases[i].want) == cases[i].ok, "case %zu", i);
		ck_assert(perm_allows(&st, &rootid, cases[i].want));
	}
}
END_TEST

START_TEST(test_catalog_unreadable_kernel)
{
	put("debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", 0600);
	put("debian/bookworm/boot/initrd.img-6.1.0-21-amd64", 0644);
	put("ubuntu/noble/boot/vmlinuz-6.8.0-31-generic", 0644);
	put("ubuntu/noble/boot/initrd.img-6.8.0-31-generic", 0640);
	struct catalog *cat = NULL;
	char err[256];
	ck_assert_int_eq(scan_rootfs(root, &cat, err, sizeof err), 0);
	struct perm_ident id = stranger();
	struct diag d;
	diag_init(&d);
	ck_assert_uint_eq(perm_check_catalog(cat, &id, &d), 2);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_uint_eq(d.n_errors, 0);
	ck_assert_uint_eq(count_containing(&d, "boot/vmlinuz-6.1.0-21-amd64: kernel not readable by User 'stranger'"), 1);
	ck_assert_uint_eq(count_containing(&d, "(mode 0600,"), 1);
	ck_assert_uint_eq(count_containing(&d, "boot/initrd.img-6.8.0-31-generic: initrd not readable"), 1);
	ck_assert_uint_eq(count_containing(&d, "chmod a+r"), 2);
	diag_free(&d);

	/* The owner reads all of it; so does root. */
	struct perm_ident me = {.uid = getuid(), .gid = getgid()};
	diag_init(&d);
	if (getuid() != 0) {
		char p[512];
		snprintf(p, sizeof p, "%s/ubuntu/noble/boot/initrd.img-6.8.0-31-generic", root);
		ck_assert_int_eq(chmod(p, 0644), 0);
	}
	ck_assert_uint_eq(perm_check_catalog(cat, &me, &d), 0);
	ck_assert_uint_eq(d.n, 0);
	diag_free(&d);
	catalog_free(cat);
}
END_TEST

START_TEST(test_catalog_dir_reported_once)
{
	put("debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", 0644);
	put("debian/bookworm/boot/initrd.img-6.1.0-21-amd64", 0644);
	put("debian/bookworm/boot/vmlinuz-6.1.0-20-amd64", 0644);
	put("debian/bookworm/boot/initrd.img-6.1.0-20-amd64", 0644);
	struct catalog *cat = NULL;
	char err[256], dir[400];
	ck_assert_int_eq(scan_rootfs(root, &cat, err, sizeof err), 0);
	snprintf(dir, sizeof dir, "%s/debian/bookworm/boot", root);
	ck_assert_int_eq(chmod(dir, 0700), 0);
	struct perm_ident id = stranger();
	struct diag d;
	diag_init(&d);
	ck_assert_uint_eq(perm_check_catalog(cat, &id, &d), 1); /* four files, one cause */
	ck_assert_uint_eq(count_containing(&d, "debian/bookworm/boot: directory not searchable by User 'stranger'"), 1);
	ck_assert_uint_eq(count_containing(&d, "chmod a+x"), 1);
	diag_free(&d);
	catalog_free(cat);
}
END_TEST

START_TEST(test_catalog_many_capped)
{
	char rel[128];
	for (int i = 1; i <= 25; i++) {
		snprintf(rel, sizeof rel, "debian/r%02d/boot/vmlinuz-6.1.0-%d-amd64", i, i);
		put(rel, 0600);
		snprintf(rel, sizeof rel, "debian/r%02d/boot/initrd.img-6.1.0-%d-amd64", i, i);
		put(rel, 0644);
	}
	struct catalog *cat = NULL;
	char err[256];
	ck_assert_int_eq(scan_rootfs(root, &cat, err, sizeof err), 0);
	struct perm_ident id = stranger();
	struct diag d;
	diag_init(&d);
	ck_assert_uint_eq(perm_check_catalog(cat, &id, &d), 21);
	ck_assert_uint_eq(count_containing(&d, "kernel not readable"), 20);
	ck_assert_uint_eq(count_containing(&d, "5 more files not readable by User 'stranger'"), 1);
	diag_free(&d);
	catalog_free(cat);
}
END_TEST

START_TEST(test_runtime_ident)
{
	struct perm_ident id;
	gid_t g[64];
	if (geteuid() == 0) {
		ck_assert_int_eq(perm_runtime_ident("root", &id, g, 64), 1); /* root keeps root: nothing to check */
		ck_assert_int_eq(perm_runtime_ident("no-such-user-autopxe", &id, g, 64), -ENOENT);
		ck_assert_int_eq(perm_runtime_ident(NULL, &id, g, 64), 0); /* the default User is nobody */
		ck_assert_uint_ne(id.uid, 0);
		ck_assert_uint_eq(id.n_groups, 0); /* drop_privileges clears supplementary groups */
		ck_assert_int_eq(id.self, 0);
		ck_assert_ptr_nonnull(strstr(id.name, "User 'nobody'"));
	} else {
		/* Not root: the server keeps its own ids, whatever User says. */
		ck_assert_int_eq(perm_runtime_ident("nobody", &id, g, 64), 0);
		ck_assert_uint_eq(id.uid, geteuid());
		ck_assert_uint_eq(id.gid, getegid());
		ck_assert_int_eq(id.self, 1);
		ck_assert_ptr_nonnull(strstr(id.name, "this process"));
	}
}
END_TEST

Suite *perm_suite(void)
{
	Suite *s = suite_create("perm");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_allows_table);
	tcase_add_test(tc, test_catalog_unreadable_kernel);
	tcase_add_test(tc, test_catalog_dir_reported_once);
	tcase_add_test(tc, test_catalog_many_capped);
	tcase_add_test(tc, test_runtime_ident);
	suite_add_tcase(s, tc);
	return s;
}
