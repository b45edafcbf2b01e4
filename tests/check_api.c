/* check_api.c - unit tests for the JSON API documents (catalog, host, messages) over a real small snapshot. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "mac.h"
#include "render.h"
#include "snapshot.h"
#include "testutil.h"
#include "util.h"

static char dir[64];
static struct snapshot *snap;

static void put(const char *rel, const char *text)
{
	char p[512], cmd[600];
	FILE *f;
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", p);
	ck_assert_int_eq(system(cmd), 0);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static struct snapshot *build(const char *yaml)
{
	struct snapshot_source src;
	struct diag d;
	char cfg[128];
	struct snapshot *s;
	snprintf(cfg, sizeof(cfg), "%s/config.yaml", dir);
	FILE *f = fopen(cfg, "w");
	ck_assert_ptr_nonnull(f);
	for (const char *p = yaml; *p; p++) { /* @ROOTFS@ -> dir/rootfs */
		if (strncmp(p, "@ROOTFS@", 8) == 0) {
			fprintf(f, "%s/rootfs", dir);
			p += 7;
		} else {
			fputc(*p, f);
		}
	}
	fclose(f);
	memset(&src, 0, sizeof(src));
	src.config_path = cfg;
	diag_init(&d);
	s = snapshot_build(&src, &d);
	for (size_t i = 0; !s && i < d.n; i++)
		fprintf(stderr, "check_api: %s\n", d.items[i].msg);
	diag_free(&d);
	ck_assert_ptr_nonnull(s);
	return s;
}

static const char yaml[] = "version: 1\n"
                           "DefaultDistro: debian/bookworm/latest/overlayfs\n"
                           "RootfsPath: @ROOTFS@\n"
                           "Env:\n"
                           "  nfs-server: 192.0.2.10\n"
                           "CmdlineTemplates:\n"
                           "  overlayfs: root=/dev/nfs nfsroot=${nfs-server}:${rootfs-path} ip=dhcp rootovl\n"
                           "  nfsrw: root=/dev/nfs nfsroot=${nfs-server}:${rootfs-path} mac=${mac} rw\n"
                           "HostDefaults:\n"
                           "  bc2411b01ade: ubuntu/noble/6.8.0-31-generic/nfsrw\n"
                           "  525400000001: debian/sid/latest/overlayfs\n"
                           "Watch: false\n";

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/autopxe-check-api.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	put("rootfs/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", "k21");
	put("rootfs/debian/bookworm/boot/initrd.img-6.1.0-21-amd64", "initrd21");
	put("rootfs/debian/bookworm/boot/vmlinuz-6.1.0-9-amd64", "k9");
	put("rootfs/debian/bookworm/boot/initrd.img-6.1.0-9-amd64", "i9");
	put("rootfs/debian/bookworm/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n");
	put("rootfs/ubuntu/noble/boot/vmlinuz-6.8.0-31-generic", "kernel");
	put("rootfs/ubuntu/noble/boot/initrd.img-6.8.0-31-generic", "initrd");
	snap = build(yaml);
}

static void teardown(void)
{
	char cmd[128];
	snapshot_unref(snap);
	snap = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static json_t *parse(sbuf *b)
{
	json_error_t e;
	json_t *j;
	ck_assert_ptr_nonnull(b->data);
	ck_assert_msg(b->len > 0 && b->data[b->len - 1] == '\n', "document does not end in a newline");
	j = json_loadb(b->data, b->len, 0, &e);
	ck_assert_msg(j != NULL, "bad JSON (%s): %s", e.text, b->data);
	return j;
}

START_TEST(test_catalog)
{
	sbuf b = SBUF_INIT;
	json_t *j, *deb, *rel, *ks, *ids;
	ck_assert_int_eq(api_catalog_json(snap, &b), 0);
	j = parse(&b);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "counts"), "distros")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "counts"), "kernels")), 3);
	deb = tu_json_named(json_object_get(j, "distros"), "debian");
	ck_assert_ptr_nonnull(deb);
	rel = tu_json_named(json_object_get(deb, "releases"), "bookworm");
	ck_assert_ptr_nonnull(rel);
	ck_assert_str_eq(json_string_value(json_object_get(rel, "path")), "debian/bookworm");
	ck_assert_str_eq(json_string_value(json_object_get(rel, "pretty_name")), "Debian GNU/Linux 12 (bookworm)");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rel, "os_release"), "ID")), "debian");
	ck_assert_str_eq(json_string_value(json_object_get(rel, "latest")), "6.1.0-21-amd64");
	ks = json_object_get(rel, "kernels");
	ck_assert_uint_eq(json_array_size(ks), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ks, 0), "kernel_url")),
	                 "boot/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ks, 0), "initrd_url")),
	                 "boot/debian/bookworm/boot/initrd.img-6.1.0-21-amd64");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(ks, 0), "kernel_size")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(ks, 0), "initrd_size")), 8);
	ck_assert(json_is_null(json_object_get(rel, "default_kernel")));
	/* 2 templates x (latest + 2 versions) */
	ids = json_object_get(rel, "boot_ids");
	ck_assert_uint_eq(json_array_size(ids), 6);
	ck_assert_str_eq(json_string_value(json_array_get(ids, 0)), "debian/bookworm/latest/overlayfs");
	ck_assert_str_eq(json_string_value(json_array_get(ids, 5)), "debian/bookworm/6.1.0-9-amd64/nfsrw");
	/* templates and hosts in file order */
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "templates"), 1), "name")),
	                 "nfsrw");
	ck_assert_uint_eq(json_array_size(json_object_get(j, "hosts")), 2);
	ck_assert(json_is_true(json_object_get(json_array_get(json_object_get(j, "hosts"), 0), "resolves")));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "hosts"), 0), "mac")),
	                 "bc:24:11:b0:1a:de");
	ck_assert(json_is_false(json_object_get(json_array_get(json_object_get(j, "hosts"), 1), "resolves")));
	ck_assert(json_is_string(json_object_get(json_array_get(json_object_get(j, "hosts"), 1), "error")));
	ck_assert(json_is_true(json_object_get(json_object_get(j, "default"), "resolves")));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "default"), "line")), 2);
	ck_assert(json_is_array(json_object_get(j, "skipped")));
	ck_assert(json_is_array(json_object_get(j, "warnings")));
	ck_assert_uint_ge(json_array_size(json_object_get(j, "warnings")), 1); /* the unresolvable host */
	json_decref(j);
	sbuf_free(&b);
}
END_TEST

START_TEST(test_host_from_hostdefaults)
{
	uint8_t mac[6];
	sbuf b = SBUF_INIT, menu = SBUF_INIT;
	json_t *j;
	const char *cmd;
	struct render_client cl;
	ck_assert_int_eq(mac_parse_str("bc2411b01ade", mac), 0);
	ck_assert_int_eq(api_host_json(snap, mac, "192.0.2.77", "http://192.0.2.1:8080/", &b), 0);
	j = parse(&b);
	ck_assert_str_eq(json_string_value(json_object_get(j, "mac")), "bc:24:11:b0:1a:de");
	ck_assert_str_eq(json_string_value(json_object_get(j, "boot_id")), "ubuntu/noble/6.8.0-31-generic/nfsrw");
	ck_assert_str_eq(json_string_value(json_object_get(j, "source")), "HostDefaults line 10");
	ck_assert(json_is_true(json_object_get(j, "resolves")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "kernel")), "6.8.0-31-generic");
	ck_assert_str_eq(json_string_value(json_object_get(j, "template")), "nfsrw");
	ck_assert_str_eq(json_string_value(json_object_get(j, "kernel_url")),
	                 "http://192.0.2.1:8080/boot/ubuntu/noble/boot/vmlinuz-6.8.0-31-generic");
	ck_assert_str_eq(json_string_value(json_object_get(j, "initrd_url")),
	                 "http://192.0.2.1:8080/boot/ubuntu/noble/boot/initrd.img-6.8.0-31-generic");
	cmd = json_string_value(json_object_get(j, "cmdline"));
	ck_assert_ptr_nonnull(cmd);
	char want[600];
	snprintf(want, sizeof(want), "root=/dev/nfs nfsroot=192.0.2.10:%s/rootfs/ubuntu/noble mac=bc:24:11:b0:1a:de rw", dir);
	ck_assert_str_eq(cmd, want);
	/* the menu carries the very same command line */
	memset(&cl, 0, sizeof(cl));
	memcpy(cl.mac, mac, 6);
	cl.ip = "192.0.2.77";
	cl.via = RENDER_HTTP;
	ck_assert_int_eq(render_menu(snap->cfg, snap->cat, snap->tmpl, &cl, "ubuntu", &menu), 0);
	ck_assert_msg(strstr(menu.data, cmd) != NULL, "menu lacks the API's cmdline '%s'", cmd);
	sbuf_free(&menu);
	json_decref(j);
	sbuf_free(&b);
}
END_TEST

START_TEST(test_host_default_and_unresolved)
{
	uint8_t mac[6] = {0, 0x11, 0x22, 0x33, 0x44, 0x55};
	sbuf b = SBUF_INIT;
	json_t *j;
	ck_assert_int_eq(api_host_json(snap, mac, "", NULL, &b), 0);
	j = parse(&b);
	ck_assert_str_eq(json_string_value(json_object_get(j, "boot_id")), "debian/bookworm/latest/overlayfs");
	ck_assert_str_eq(json_string_value(json_object_get(j, "source")), "DefaultDistro line 2");
	ck_assert_str_eq(json_string_value(json_object_get(j, "kernel_word")), "latest");
	ck_assert_str_eq(json_string_value(json_object_get(j, "kernel")), "6.1.0-21-amd64");
	ck_assert_str_eq(json_string_value(json_object_get(j, "kernel_url")),
	                 "boot/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64");
	json_decref(j);
	sbuf_reset(&b);

	ck_assert_int_eq(mac_parse_str("525400000001", mac), 0);
	ck_assert_int_eq(api_host_json(snap, mac, "", "", &b), 0);
	j = parse(&b);
	ck_assert_str_eq(json_string_value(json_object_get(j, "source")), "HostDefaults line 11");
	ck_assert(json_is_false(json_object_get(j, "resolves")));
	ck_assert_msg(strstr(json_string_value(json_object_get(j, "error")), "sid") != NULL, "error names the release");
	ck_assert_ptr_null(json_object_get(j, "cmdline"));
	json_decref(j);
	sbuf_free(&b);
}
END_TEST

START_TEST(test_host_without_default)
{
	uint8_t mac[6] = {2, 0, 0, 0, 0, 9};
	sbuf b = SBUF_INIT;
	json_t *j;
	snapshot_unref(snap);
	snap = build("version: 1\nRootfsPath: @ROOTFS@\nCmdlineTemplates:\n  a: x\nWatch: false\n");
	ck_assert_int_eq(api_host_json(snap, mac, "", "", &b), 0);
	j = parse(&b);
	ck_assert(json_is_null(json_object_get(j, "boot_id")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "source")), "none");
	ck_assert(json_is_false(json_object_get(j, "resolves")));
	json_decref(j);
	sbuf_reset(&b);
	ck_assert_int_eq(api_catalog_json(snap, &b), 0);
	j = parse(&b);
	ck_assert(json_is_null(json_object_get(j, "default")));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "hosts")), 0);
	json_decref(j);
	sbuf_free(&b);
}
END_TEST

START_TEST(test_message)
{
	sbuf b = SBUF_INIT;
	json_t *j;
	ck_assert_int_eq(api_message_json(1, "reloaded: 2 distros", &b), 0);
	j = parse(&b);
	ck_assert(json_is_true(json_object_get(j, "ok")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "message")), "reloaded: 2 distros");
	json_decref(j);
	sbuf_reset(&b);
	/* quotes, newlines and bytes that are not UTF-8 still give valid JSON */
	ck_assert_int_eq(api_message_json(0, "bad \"x\"\nline\xff", &b), 0);
	j = parse(&b);
	ck_assert(json_is_false(json_object_get(j, "ok")));
	/* not UTF-8: the text is passed through sanitize(), escapes and all */
	ck_assert_str_eq(json_string_value(json_object_get(j, "message")), "bad \\x22x\\x22\\x0aline\\xff");
	json_decref(j);
	sbuf_reset(&b);
	ck_assert_int_eq(api_message_json(0, "bad \"x\"\nline", &b), 0);
	j = parse(&b);
	ck_assert_str_eq(json_string_value(json_object_get(j, "message")), "bad \"x\"\nline");
	json_decref(j);
	sbuf_reset(&b);
	ck_assert_int_eq(api_message_json(0, NULL, &b), 0);
	j = parse(&b);
	ck_assert_str_eq(json_string_value(json_object_get(j, "message")), "");
	json_decref(j);
	sbuf_free(&b);
}
END_TEST

Suite *api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_catalog);
	tcase_add_test(tc, test_host_from_hostdefaults);
	tcase_add_test(tc, test_host_default_and_unresolved);
	tcase_add_test(tc, test_host_without_default);
	tcase_add_test(tc, test_message);
	suite_add_tcase(s, tc);
	return s;
}
