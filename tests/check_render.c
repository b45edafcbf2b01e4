/* check_render.c - tests for boot ids, ${var} expansion, menu request names and the rendered iPXE, GRUB and PXELINUX menus. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "render.h"
#include "testutil.h"
#include "tmpl.h"

/* ---------------------------------------------------------------- hand-built fixtures */

struct kspec {
	const char *id;
	int initrd; /* 1: has an initrd */
};

/* Adds a release with the given versioned kernels (newest first) and optionally a default pair. */
static void add_release(struct scan_distro *d, const char *name, const char *pretty, const struct kspec *ks, size_t nk,
                        int with_default)
{
	d->releases = realloc(d->releases, (d->n_releases + 1) * sizeof *d->releases);
	struct scan_release *r = &d->releases[d->n_releases++];
	char buf[512];
	memset(r, 0, sizeof *r);
	r->name = strdup(name);
	snprintf(buf, sizeof buf, "%s/%s", d->name, name);
	r->path = strdup(buf);
	r->pretty_name = pretty ? strdup(pretty) : NULL;
	r->n_kernels = nk;
	r->kernels = calloc(nk ? nk : 1, sizeof *r->kernels);
	for (size_t i = 0; i < nk; i++) {
		struct scan_kernel *k = &r->kernels[i];
		k->id = strdup(ks[i].id);
		snprintf(buf, sizeof buf, "%s/%s/boot/vmlinuz-%s", d->name, name, ks[i].id);
		k->kernel_path = strdup(buf);
		if (ks[i].initrd) {
			snprintf(buf, sizeof buf, "%s/%s/boot/initrd.img-%s", d->name, name, ks[i].id);
			k->initrd_path = strdup(buf);
		}
	}
	if (with_default) {
		struct scan_kernel *k = calloc(1, sizeof *k);
		k->id = strdup("default");
		snprintf(buf, sizeof buf, "%s/%s/vmlinuz", d->name, name);
		k->kernel_path = strdup(buf);
		snprintf(buf, sizeof buf, "%s/%s/initrd.img", d->name, name);
		k->initrd_path = strdup(buf);
		k->is_default = 1;
		r->default_kernel = k;
	}
}

static struct scan_distro *add_distro(struct catalog *c, const char *name)
{
	c->distros = realloc(c->distros, (c->n_distros + 1) * sizeof *c->distros);
	struct scan_distro *d = &c->distros[c->n_distros++];
	memset(d, 0, sizeof *d);
	d->name = strdup(name);
	return d;
}

static void free_kernel(struct scan_kernel *k)
{
	free(k->id);
	free(k->kernel_path);
	free(k->initrd_path);
}

static void free_catalog(struct catalog *c)
{
	for (size_t i = 0; i < c->n_distros; i++) {
		struct scan_distro *d = &c->distros[i];
		for (size_t j = 0; j < d->n_releases; j++) {
			struct scan_release *r = &d->releases[j];
			for (size_t k = 0; k < r->n_kernels; k++)
				free_kernel(&r->kernels[k]);
			free(r->kernels);
			if (r->default_kernel) {
				free_kernel(r->default_kernel);
				free(r->default_kernel);
			}
			free(r->name);
			free(r->path);
			free(r->pretty_name);
		}
		free(d->releases);
		free(d->name);
	}
	free(c->distros);
	free(c->root);
	free(c);
}

/* debian: bookworm (two kernels + default symlinks), trixie (one kernel); arch: rolling (no initrd);
 * ubuntu: noble (only the default symlinks). Sorted by name as the scanner does. */
static struct catalog *small_catalog(void)
{
	struct catalog *c = calloc(1, sizeof *c);
	c->root = strdup("/pxe/rootfs");
	static const struct kspec bw[] = {{"6.1.0-21-amd64", 1}, {"6.1.0-9-amd64", 1}};
	static const struct kspec tx[] = {{"6.12.6-amd64", 1}};
	static const struct kspec ar[] = {{"linux", 0}};
	add_release(add_distro(c, "arch"), "rolling", "Arch Linux", ar, 1, 0);
	struct scan_distro *deb = add_distro(c, "debian");
	add_release(deb, "bookworm", "Debian GNU/Linux 12 (bookworm)", bw, 2, 1);
	add_release(deb, "trixie", NULL, tx, 1, 0);
	add_release(add_distro(c, "ubuntu"), "noble", "Ubuntu 24.04 LTS", NULL, 0, 1);
	return c;
}

/* n_d distros x n_r releases x n_k kernels (+ default symlinks) */
static struct catalog *big_catalog(int n_d, int n_r, int n_k)
{
	struct catalog *c = calloc(1, sizeof *c);
	c->root = strdup("/pxe/rootfs");
	struct kspec ks[32];
	char ids[32][48];
	for (int k = 0; k < n_k; k++) {
		snprintf(ids[k], sizeof ids[k], "6.%d.0-%d-amd64", 20 - k, 30 - k);
		ks[k].id = ids[k];
		ks[k].initrd = 1;
	}
	for (int d = 0; d < n_d; d++) {
		char dn[32];
		snprintf(dn, sizeof dn, "distro%02d", d);
		struct scan_distro *sd = add_distro(c, dn);
		for (int r = 0; r < n_r; r++) {
			char rn[32];
			snprintf(rn, sizeof rn, "release%02d", r);
			add_release(sd, rn, "Some Linux 1.0", ks, (size_t)n_k, 1);
		}
	}
	return c;
}

static void kv_add(struct cfg_kv **arr, size_t *n, const char *k, const char *v)
{
	*arr = realloc(*arr, (*n + 1) * sizeof **arr);
	(*arr)[*n].key = strdup(k);
	(*arr)[*n].value = strdup(v);
	(*arr)[*n].line = (int)*n + 10;
	(*arr)[*n].col = 3;
	(*n)++;
}

static void host_add(struct config *c, const uint8_t mac[6], const char *id, int line)
{
	c->hosts = realloc(c->hosts, (c->n_hosts + 1) * sizeof *c->hosts);
	struct cfg_host *h = &c->hosts[c->n_hosts++];
	memcpy(h->mac, mac, 6);
	h->boot_id = strdup(id);
	h->line = line;
	h->col = 3;
}

static struct config *test_config(void)
{
	struct config *c = calloc(1, sizeof *c);
	c->path = strdup("test.yaml");
	c->version = 1;
	c->default_distro = strdup("debian/bookworm/latest/overlayfs");
	c->default_line = 2;
	c->default_col = 16;
	c->rootfs_path = strdup("/pxe/rootfs");
	kv_add(&c->env, &c->n_env, "nfs-server", "192.0.2.11");
	kv_add(&c->templates, &c->n_templates, "overlayfs",
	       "root=/dev/nfs nfsroot=${nfs-server}:${rootfs-path} ip=dhcp rootovl");
	kv_add(&c->templates, &c->n_templates, "nfsrw", "root=/dev/nfs nfsroot=${nfs-server}:${rootfs-path} ip=dhcp rw");
	c->menu_timeout_ms = 10000;
	c->menu_title = strdup("AutoPXE boot menu");
	c->timeout_action = ACTION_DEFAULT;
	c->failure_action = ACTION_EXIT;
	c->boot_retries = 2;
	c->retry_delay_ms = 3000;
	return c;
}

static void free_kvs(struct cfg_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

static void free_config(struct config *c)
{
	free_kvs(c->env, c->n_env);
	free_kvs(c->templates, c->n_templates);
	for (size_t i = 0; i < c->n_hosts; i++)
		free(c->hosts[i].boot_id);
	free(c->hosts);
	free(c->path);
	free(c->default_distro);
	free(c->rootfs_path);
	free(c->menu_title);
	free(c);
}

static const uint8_t MAC1[6] = {0xbc, 0x24, 0x11, 0xb0, 0x1a, 0xde};
static const uint8_t MAC2[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

static struct render_client client(const uint8_t mac[6])
{
	struct render_client cl;
	memset(&cl, 0, sizeof cl);
	memcpy(cl.mac, mac, 6);
	cl.ip = "192.0.2.50";
	cl.via = RENDER_TFTP;
	return cl;
}

/* Render into a new string (caller frees); fails the test on error. */
static char *render(const struct config *cfg, const struct catalog *cat, const struct menu_templates *t,
                    const struct render_client *cl, const char *sub)
{
	sbuf b = SBUF_INIT;
	int rc = render_menu(cfg, cat, t, cl, sub, &b);
	ck_assert_msg(rc == 0, "render_menu(%s) = %d", sub ? sub : "main", rc);
	if (getenv("RENDER_DUMP"))
		fprintf(stderr, "----- %s\n%s", sub ? sub : "main", b.data);
	return sbuf_steal(&b);
}

/* ---------------------------------------------------------------- a structural validator for scripts */

struct labels {
	char **v;
	size_t n;
};

static int has_label(const struct labels *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

static void labels_free(struct labels *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* Splits a line into words (iPXE splits on whitespace before expanding settings). */
static size_t words(char *line, char **w, size_t max)
{
	size_t n = 0;
	for (char *p = strtok(line, " \t"); p && n < max; p = strtok(NULL, " \t"))
		w[n++] = p;
	return n;
}

/* Checks: "#!ipxe" first; no control bytes; every label defined once; every goto / choose --default /
 * item target has a label; --default names an item of the menu being chosen; no line ends in '\'.
 * Returns NULL when fine, else a message (static buffer). */
static const char *validate(const char *script)
{
	static char msg[512];
	struct labels defs = {0}, items = {0};
	char *copy = strdup(script), *save = NULL;
	const char *err = NULL;
	if (strncmp(script, "#!ipxe\n", 7) != 0) {
		free(copy);
		return "no #!ipxe line";
	}
	for (const char *p = script; *p; p++) {
		if ((unsigned char)*p < 0x20 && *p != '\n') {
			free(copy);
			return "control byte in script";
		}
	}
	/* pass 1: label definitions */
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] != ':')
			continue;
		char *lab = line + 1;
		lab[strcspn(lab, " \t")] = '\0';
		if (has_label(&defs, lab)) {
			snprintf(msg, sizeof msg, "label ':%s' defined twice", lab);
			err = msg;
		}
		defs.v = realloc(defs.v, (defs.n + 1) * sizeof *defs.v);
		defs.v[defs.n++] = strdup(lab);
	}
	free(copy);
	/* pass 2: references */
	copy = strdup(script);
	for (char *line = strtok_r(copy, "\n", &save); line && !err; line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);
		if (len && line[len - 1] == '\\') {
			snprintf(msg, sizeof msg, "line ends in a backslash: %s", line);
			err = msg;
			break;
		}
		if (line[0] == ':' || line[0] == '#')
			continue;
		char *w[256];
		size_t n = words(line, w, 256);
		for (size_t i = 0; i < n && !err; i++) {
			const char *target = NULL, *what = NULL;
			if (strcmp(w[i], "goto") == 0 && i + 1 < n) {
				target = w[i + 1];
				what = "goto";
			} else if (strcmp(w[i], "--default") == 0 && i + 1 < n) {
				target = w[i + 1];
				what = "choose --default";
				if (!has_label(&items, target)) {
					snprintf(msg, sizeof msg, "choose --default %s is not an item of the menu", target);
					err = msg;
				}
			} else if (i == 0 && strcmp(w[0], "item") == 0 && n > 1 && strcmp(w[1], "--gap") != 0) {
				target = w[1];
				what = "item";
				if (has_label(&items, target)) {
					snprintf(msg, sizeof msg, "item %s listed twice", target);
					err = msg;
				}
				items.v = realloc(items.v, (items.n + 1) * sizeof *items.v);
				items.v[items.n++] = strdup(target);
			} else if (i == 0 && strcmp(w[0], "menu") == 0) {
				labels_free(&items);
				memset(&items, 0, sizeof items);
			}
			if (!err && target && !strstr(target, "${") && !has_label(&defs, target)) {
				snprintf(msg, sizeof msg, "%s %s has no label", what, target);
				err = msg;
			}
		}
	}
	free(copy);
	labels_free(&defs);
	labels_free(&items);
	return err;
}

static void assert_valid(const char *script)
{
	const char *e = validate(script);
	ck_assert_msg(e == NULL, "invalid script: %s\n%s", e, script);
}

/* The line of s starting with prefix (copied into buf), or NULL. */
static const char *line_with(const char *s, const char *prefix, char *buf, size_t len)
{
	size_t pl = strlen(prefix);
	for (const char *p = s; p && *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n >= pl && memcmp(p, prefix, pl) == 0) {
			snprintf(buf, len, "%.*s", (int)n, p);
			return buf;
		}
		p = e ? e + 1 : NULL;
	}
	return NULL;
}

/* ---------------------------------------------------------------- the validator itself must catch faults */

START_TEST(test_validator_catches)
{
	static const struct {
		const char *script;
		int ok;
	} cases[] = {
	    {"#!ipxe\n:a\ngoto a\n", 1},
	    {"#!ipxe\ngoto b\n", 0},
	    {"#!ipxe\n:a\n:a\n", 0},
	    {"#!ipxe\nmenu x\nitem a A\nchoose --default a t || goto c\n:a\n:c\n", 1},
	    {"#!ipxe\nmenu x\nitem a A\nchoose --default b t\n:a\n:b\n", 0},
	    {"#!ipxe\nmenu x\nitem a A\n:b\n", 0},
	    {"#!ipxe\nkernel x || goto ${t}\n", 1},
	    {"#!ipxe\necho a \\\n", 0},
	    {"ipxe\n", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_msg((validate(cases[i].script) == NULL) == cases[i].ok, "case %zu", i);
}
END_TEST

/* ---------------------------------------------------------------- expand_vars */

START_TEST(test_expand_vars)
{
	struct config *cfg = test_config();
	kv_add(&cfg->env, &cfg->n_env, "bad", "x || shell");
	setenv("AUTOPXE_TEST_ENV", "from-env", 1);
	setenv("AUTOPXE_TEST_NL", "a\nshell", 1);
	setenv("AUTOPXE_TEST_OP", "a && shell", 1);
	setenv("nfs-server", "from-process", 1); /* Env wins over the process environment */
	setenv("distro", "from-process", 1);     /* built-ins win over everything */
	const char *b[] = {"rootfs-path", "/pxe/rootfs/debian/bookworm", "distro", "debian", "mac", "bc:24:11:b0:1a:de",
	                   NULL, NULL};
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"", ""},
	    {"plain text", "plain text"},
	    {"nfsroot=${nfs-server}:${rootfs-path}", "nfsroot=192.0.2.11:/pxe/rootfs/debian/bookworm"},
	    {"${distro}${distro}", "debiandebian"},
	    {"m=${mac} h=${mac:hexraw}", "m=bc:24:11:b0:1a:de h=${mac:hexraw}"},
	    {"ip=${net0/ip} host=${hostname} a=${buildarch}", "ip=${net0/ip} host=${hostname} a=${buildarch}"},
	    {"e=${AUTOPXE_TEST_ENV}", "e=from-env"},
	    {"nl=${AUTOPXE_TEST_NL}", "nl=${AUTOPXE_TEST_NL}"},
	    {"op=${AUTOPXE_TEST_OP}", "op=${AUTOPXE_TEST_OP}"},
	    {"bad=${bad}", "bad=${bad}"},
	    {"unknown=${AUTOPXE_TEST_UNSET_VAR}", "unknown=${AUTOPXE_TEST_UNSET_VAR}"},
	    {"open ${distro", "open ${distro"},
	    {"a ${distro} b ${", "a debian b ${"},
	    {"empty ${}", "empty ${}"},
	    {"nested ${a${distro}}", "nested ${a${distro}}"},
	    {"$distro {distro} $", "$distro {distro} $"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		sbuf out = SBUF_INIT;
		ck_assert_int_eq(expand_vars(cases[i].in, b, cfg, &out), 0);
		ck_assert_msg(strcmp(out.data, cases[i].want) == 0, "case %zu: '%s' -> '%s', want '%s'", i, cases[i].in,
		              out.data, cases[i].want);
		sbuf_free(&out);
	}
	/* no builtins, no config: only the process environment */
	sbuf out = SBUF_INIT;
	ck_assert_int_eq(expand_vars("${AUTOPXE_TEST_ENV} ${nfs-server}", NULL, NULL, &out), 0);
	ck_assert_str_eq(out.data, "from-env from-process");
	sbuf_free(&out);
	unsetenv("AUTOPXE_TEST_ENV");
	unsetenv("AUTOPXE_TEST_NL");
	unsetenv("AUTOPXE_TEST_OP");
	unsetenv("nfs-server");
	unsetenv("distro");
	free_config(cfg);
}
END_TEST

START_TEST(test_ipxe_safe_value)
{
	static const struct {
		const char *s;
		int ok;
	} cases[] = {
	    {"", 1},
	    {"root=/dev/nfs ip=dhcp", 1},
	    {"a||b", 1},
	    {"x#y", 1},
	    {"${net0/ip}", 1},
	    {"a\nb", 0},
	    {"a\rb", 0},
	    {"tab\there", 0},
	    {"del\x7f", 0},
	    {"a || shell", 0},
	    {"a && shell", 0},
	    {"a ; shell", 0},
	    {"a #comment", 0},
	    {"#x", 0},
	    {"ends with \\", 0},
	    {"utf8 \xc3\xa9", 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_msg(ipxe_safe_value(cases[i].s) == cases[i].ok, "case %zu", i);
	ck_assert_int_eq(ipxe_safe_value(NULL), 0);
}
END_TEST

/* ---------------------------------------------------------------- boot ids */

START_TEST(test_boot_id_resolve)
{
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	static const struct {
		const char *id;
		int rc;
		const char *kernel_id, *word, *why;
	} cases[] = {
	    {"debian/bookworm/latest/overlayfs", 0, "6.1.0-21-amd64", "latest", NULL},
	    {"debian/bookworm/6.1.0-9-amd64/nfsrw", 0, "6.1.0-9-amd64", "6.1.0-9-amd64", NULL},
	    {"debian/bookworm/default/nfsrw", 0, "default", "default", NULL},
	    {"ubuntu/noble/default/overlayfs", 0, "default", "default", NULL},
	    {"arch/rolling/linux/overlayfs", 0, "linux", "linux", NULL},
	    {"fedora/40/latest/overlayfs", -ENOENT, NULL, NULL, "no distro 'fedora'"},
	    {"debian/sid/latest/overlayfs", -ENOENT, NULL, NULL, "no release 'sid' in 'debian'"},
	    {"debian/bookworm/5.10/overlayfs", -ENOENT, NULL, NULL, "no kernel '5.10' in debian/bookworm"},
	    {"ubuntu/noble/latest/overlayfs", -ENOENT, NULL, NULL, "no kernel 'latest' in ubuntu/noble"},
	    {"debian/trixie/default/overlayfs", -ENOENT, NULL, NULL, "no kernel 'default' in debian/trixie"},
	    {"debian/bookworm/latest/zfs", -ENOENT, NULL, NULL, "no template 'zfs'"},
	    {"debian/bookworm/latest", -ENOENT, NULL, NULL, "not a boot id"},
	    {"debian/bookworm/latest/overlayfs/x", -ENOENT, NULL, NULL, "not a boot id"},
	    {"debian//latest/overlayfs", -ENOENT, NULL, NULL, "not a boot id"},
	    {"", -ENOENT, NULL, NULL, "not a boot id"},
	    {"deb/bookworm/latest/overlayfs", -ENOENT, NULL, NULL, "no distro 'deb'"},
	    {"debianx/bookworm/latest/overlayfs", -ENOENT, NULL, NULL, "no distro 'debianx'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct boot_target bt;
		char why[256] = "";
		int rc = boot_id_resolve(cfg, cat, cases[i].id, &bt, why, sizeof why);
		ck_assert_msg(rc == cases[i].rc, "case %zu (%s): rc %d why %s", i, cases[i].id, rc, why);
		if (rc == 0) {
			ck_assert_str_eq(bt.kernel->id, cases[i].kernel_id);
			ck_assert_str_eq(bt.kernel_word, cases[i].word);
			ck_assert_ptr_nonnull(bt.tmpl);
			ck_assert_ptr_nonnull(bt.release);
		} else {
			ck_assert_msg(strstr(why, cases[i].why) != NULL, "case %zu: why '%s'", i, why);
		}
	}
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

START_TEST(test_check_targets)
{
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	struct diag d;
	diag_init(&d);
	render_check_targets(cfg, cat, &d);
	ck_assert_uint_eq(d.n, 0);
	free(cfg->default_distro);
	cfg->default_distro = strdup("debian/sid/latest/overlayfs");
	host_add(cfg, MAC1, "arch/rolling/linux/nfsrw", 7);
	host_add(cfg, MAC2, "arch/rolling/linux/zfs", 8);
	render_check_targets(cfg, cat, &d);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_uint_eq(d.n_errors, 0);
	char buf[1024];
	diag_format(&d.items[0], buf, sizeof buf);
	ck_assert_msg(strstr(buf, "test.yaml:2:16: warning:") && strstr(buf, "no release 'sid' in 'debian'"), "%s", buf);
	diag_format(&d.items[1], buf, sizeof buf);
	ck_assert_msg(strstr(buf, "test.yaml:8:3: warning:") && strstr(buf, "525400123456") &&
	                  strstr(buf, "no template 'zfs'"),
	              "%s", buf);
	diag_free(&d);
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

/* ---------------------------------------------------------------- menu request names */

START_TEST(test_menu_request_parse)
{
	static const struct {
		const char *name;
		int rc;
		const char *sub;
	} cases[] = {
	    {"autopxe-bc2411b01ade", 1, ""},
	    {"/autopxe-bc2411b01ade", 1, ""},
	    {"\\autopxe-bc2411b01ade", 1, ""},
	    {"autopxe/bc:24:11:b0:1a:de", 1, ""},
	    {"autopxe-bc-24-11-b0-1a-de/debian", 1, "debian"},
	    {"/autopxe-BC2411B01ADE/ubuntu-lts_2", 1, "ubuntu-lts_2"},
	    {"autopxe-bc2411b01ade/", 1, ""},
	    {"autopxe-bc2411b01ad", -EINVAL, NULL},
	    {"autopxe-zz2411b01ade", -EINVAL, NULL},
	    {"autopxe-", -EINVAL, NULL},
	    {"autopxe-bc2411b01ade/..", -EINVAL, NULL},
	    {"autopxe-bc2411b01ade/.", -EINVAL, NULL},
	    {"autopxe-bc2411b01ade/a/b", -EINVAL, NULL},
	    {"autopxe-bc2411b01ade/a b", -EINVAL, NULL},
	    {"undionly.kpxe", 0, NULL},
	    {"boot/debian/bookworm/vmlinuz", 0, NULL},
	    {"autopxe", 0, NULL},
	    {"", 0, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t mac[6] = {0};
		char sub[64] = "x";
		int rc = menu_request_parse(cases[i].name, strlen(cases[i].name), mac, sub, sizeof sub);
		ck_assert_msg(rc == cases[i].rc, "case %zu (%s): %d", i, cases[i].name, rc);
		if (rc == 1) {
			ck_assert_str_eq(sub, cases[i].sub);
			ck_assert_int_eq(memcmp(mac, MAC1, 6), 0);
		}
	}
	/* a NUL inside the name, a submenu that does not fit */
	uint8_t mac[6];
	char sub[4];
	ck_assert_int_eq(menu_request_parse("autopxe-bc2411b01ade\0x", 22, mac, sub, sizeof sub), -EINVAL);
	ck_assert_int_eq(menu_request_parse("autopxe-bc2411b01ade/debian", 27, mac, sub, sizeof sub), -EINVAL);
	ck_assert_int_eq(menu_request_parse("autopxe-bc2411b01ade/deb", 24, mac, sub, sizeof sub), 1);
	ck_assert_str_eq(sub, "deb");
}
END_TEST

/* ---------------------------------------------------------------- rendered menus */

START_TEST(test_main_menu)
{
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	struct render_client cl = client(MAC1);
	char *s = render(cfg, cat, NULL, &cl, NULL);
	char line[1024];
	assert_valid(s);
	ck_assert_ptr_nonnull(line_with(s, "menu AutoPXE boot menu bc:24:11:b0:1a:de 192.0.2.50", line, sizeof line));
	/* Env is also set for iPXE's own ${...} */
	ck_assert_ptr_nonnull(line_with(s, "set nfs-server 192.0.2.11", line, sizeof line));
	/* the default first, then distros in name order, then the tools */
	const char *def = strstr(s, "item debian/bookworm/latest/overlayfs");
	const char *a = strstr(s, "item autopxe-distro/arch"), *d = strstr(s, "item autopxe-distro/debian");
	const char *u = strstr(s, "item autopxe-distro/ubuntu"), *cfgi = strstr(s, "item autopxe-config");
	ck_assert(def && a && d && u && cfgi && def < a && a < d && d < u && u < cfgi);
	ck_assert_ptr_nonnull(strstr(s, "item autopxe-shell"));
	ck_assert_ptr_nonnull(strstr(s, "item autopxe-reboot"));
	ck_assert_ptr_nonnull(strstr(s, "item autopxe-exit Exit to next boot device"));
	/* choose: the default and the timeout; Esc exits instead of a shell */
	ck_assert_ptr_nonnull(line_with(s, "choose --default debian/bookworm/latest/overlayfs --timeout 10000 ", line,
	                                sizeof line));
	ck_assert_ptr_nonnull(strstr(line, "|| goto autopxe-exit"));
	/* the default boots directly from this script: its boot block is here, with the server-side cmdline */
	ck_assert_ptr_nonnull(strstr(s, "\n:debian/bookworm/latest/overlayfs\n"));
	ck_assert_ptr_nonnull(line_with(s, "kernel --name vmlinuz /boot/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64 "
	                                   "initrd=initrd root=/dev/nfs nfsroot=192.0.2.11:/pxe/rootfs/debian/bookworm "
	                                   "ip=dhcp rootovl || goto autopxe-failed",
	                                line, sizeof line));
	ck_assert_ptr_nonnull(line_with(
	    s, "initrd --name initrd /boot/debian/bookworm/boot/initrd.img-6.1.0-21-amd64 || goto autopxe-failed", line,
	    sizeof line));
	ck_assert_ptr_nonnull(strstr(s, "\necho Booting debian/bookworm/latest/overlayfs\n"));
	/* kernel before initrd, imgfree before both */
	ck_assert(strstr(s, "\nimgfree\n") < strstr(s, "\nkernel ") && strstr(s, "\nkernel ") < strstr(s, "\ninitrd "));
	/* submenus are chained from the server on demand, by absolute path on the same protocol */
	ck_assert_ptr_nonnull(line_with(s, "chain --replace --autofree /autopxe-bc2411b01ade/debian || goto autopxe-menu",
	                                line, sizeof line));
	/* no other distro's boot blocks in the main script */
	ck_assert_ptr_null(strstr(s, "\n:debian/bookworm/6.1.0-9-amd64/nfsrw\n"));
	/* retries: 2 then exit with a clear message */
	ck_assert_ptr_nonnull(line_with(s, "iseq ${autopxe-try} 2 && goto autopxe-giveup ||", line, sizeof line));
	ck_assert_ptr_nonnull(line_with(s, "iseq ${autopxe-try} 1 && set autopxe-try 2 ||", line, sizeof line));
	ck_assert_ptr_nonnull(line_with(s, "iseq ${autopxe-try} 0 && set autopxe-try 1 ||", line, sizeof line));
	ck_assert(strstr(s, "set autopxe-try 2 ||") < strstr(s, "set autopxe-try 1 ||"));
	ck_assert_ptr_nonnull(line_with(s, "sleep 3", line, sizeof line));
	ck_assert_ptr_nonnull(strstr(s, "\n:autopxe-giveup\necho autopxe: could not boot ${autopxe-target}, giving up: "
	                                "exit to next boot device\ngoto autopxe-exit\n"));
	ck_assert_ptr_nonnull(strstr(s, "\n:autopxe-exit\necho autopxe: exit to next boot device\nexit 1\n"));
	/* no shell fallback except the explicit menu item */
	ck_assert_ptr_null(strstr(s, "|| shell"));
	/* standalone template tags leave no blank lines or braces */
	ck_assert_ptr_null(strstr(s, "\n\n"));
	ck_assert_ptr_null(strstr(s, "{{"));
	free(s);
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

START_TEST(test_host_default_and_determinism)
{
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	host_add(cfg, MAC1, "arch/rolling/linux/nfsrw", 7);
	struct render_client cl = client(MAC1), cl2 = client(MAC2);
	char line[512];
	char *a = render(cfg, cat, NULL, &cl, NULL);
	char *b = render(cfg, cat, NULL, &cl, NULL);
	ck_assert_str_eq(a, b); /* byte-identical across requests */
	assert_valid(a);
	ck_assert_ptr_nonnull(line_with(a, "choose --default arch/rolling/linux/nfsrw --timeout 10000", line, sizeof line));
	/* a kernel without an initrd: no initrd= and no initrd line */
	ck_assert_ptr_nonnull(line_with(a, "kernel --name vmlinuz /boot/arch/rolling/boot/vmlinuz-linux root=/dev/nfs "
	                                   "nfsroot=192.0.2.11:/pxe/rootfs/arch/rolling ip=dhcp rw || goto autopxe-failed",
	                                line, sizeof line));
	ck_assert_ptr_null(strstr(a, "initrd="));
	ck_assert_ptr_null(line_with(a, "initrd ", line, sizeof line));
	/* another host gets DefaultDistro */
	char *c = render(cfg, cat, NULL, &cl2, NULL);
	assert_valid(c);
	ck_assert_ptr_nonnull(
	    line_with(c, "choose --default debian/bookworm/latest/overlayfs --timeout 10000", line, sizeof line));
	ck_assert_ptr_nonnull(strstr(c, "menu AutoPXE boot menu 52:54:00:12:34:56 192.0.2.50"));
	ck_assert_ptr_nonnull(strstr(c, "/autopxe-525400123456/debian"));
	/* submenus deterministic too */
	char *d1 = render(cfg, cat, NULL, &cl, "debian"), *d2 = render(cfg, cat, NULL, &cl, "debian");
	ck_assert_str_eq(d1, d2);
	free(a);
	free(b);
	free(c);
	free(d1);
	free(d2);
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

START_TEST(test_distro_submenu)
{
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	host_add(cfg, MAC1, "debian/bookworm/6.1.0-9-amd64/nfsrw", 7);
	struct render_client cl = client(MAC1);
	char line[1024];
	char *s = render(cfg, cat, NULL, &cl, "debian");
	assert_valid(s);
	/* releases in name order; kernels: latest, versions newest first, default; templates in YAML order */
	static const char *const order[] = {
	    "item debian/bookworm/latest/overlayfs ",        "item debian/bookworm/latest/nfsrw ",
	    "item debian/bookworm/6.1.0-21-amd64/overlayfs ", "item debian/bookworm/6.1.0-21-amd64/nfsrw ",
	    "item debian/bookworm/6.1.0-9-amd64/overlayfs ",  "item debian/bookworm/6.1.0-9-amd64/nfsrw ",
	    "item debian/bookworm/default/overlayfs ",        "item debian/bookworm/default/nfsrw ",
	    "item debian/trixie/latest/overlayfs ",           "item debian/trixie/latest/nfsrw ",
	    "item debian/trixie/6.12.6-amd64/overlayfs ",     "item debian/trixie/6.12.6-amd64/nfsrw ",
	    "item autopxe-back ",
	};
	const char *prev = s;
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		const char *p = strstr(s, order[i]);
		ck_assert_msg(p && p > prev, "order at %s", order[i]);
		prev = p;
	}
	ck_assert_ptr_null(strstr(s, "debian/trixie/default/"));
	ck_assert_ptr_null(strstr(s, "arch/rolling"));
	ck_assert_ptr_nonnull(strstr(s, "item --gap bookworm (Debian GNU/Linux 12 (bookworm)):\n"));
	ck_assert_ptr_nonnull(strstr(s, "item --gap trixie:\n"));
	/* the host's default is this distro's default; own timeout; Esc and back chain the main menu */
	ck_assert_ptr_nonnull(line_with(s, "choose --default debian/bookworm/6.1.0-9-amd64/nfsrw --timeout 10000 "
	                                   "autopxe-target || goto autopxe-back",
	                                line, sizeof line));
	ck_assert_ptr_nonnull(strstr(s, "\n:autopxe-back\nchain --replace --autofree /autopxe-bc2411b01ade || goto "
	                                "autopxe-exit\n"));
	/* every entry has its boot block, the default symlink pair included */
	ck_assert_ptr_nonnull(line_with(s, "kernel --name vmlinuz /boot/debian/bookworm/vmlinuz initrd=initrd root=/dev/nfs"
	                                   " nfsroot=192.0.2.11:/pxe/rootfs/debian/bookworm ip=dhcp rootovl",
	                                line, sizeof line));
	ck_assert_ptr_nonnull(strstr(s, "\n:debian/trixie/6.12.6-amd64/nfsrw\n"));
	free(s);

	/* another host: first entry is the default */
	struct render_client cl2 = client(MAC2);
	s = render(cfg, cat, NULL, &cl2, "debian");
	ck_assert_ptr_nonnull(
	    line_with(s, "choose --default debian/bookworm/latest/overlayfs --timeout 10000", line, sizeof line));
	free(s);
	/* the host default in another distro: first entry of this one */
	s = render(cfg, cat, NULL, &cl, "ubuntu");
	assert_valid(s);
	ck_assert_ptr_nonnull(line_with(s, "choose --default ubuntu/noble/default/overlayfs", line, sizeof line));
	ck_assert_ptr_null(strstr(s, "ubuntu/noble/latest"));
	free(s);
	/* unknown submenu */
	sbuf b = SBUF_INIT;
	ck_assert_int_eq(render_menu(cfg, cat, NULL, &cl, "fedora", &b), -ENOENT);
	ck_assert_int_eq(render_menu(cfg, cat, NULL, &cl, "deb", &b), -ENOENT);
	ck_assert_uint_eq(b.len, 0);
	sbuf_free(&b);
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

/* EFI-stub kernels find their initrd through initrd=<name>: the name must match initrd --name. */
START_TEST(test_efi_initrd_name_matches)
{
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	struct render_client cl = client(MAC1);
	char *s = render(cfg, cat, NULL, &cl, "debian");
	size_t kernels = 0;
	for (const char *p = strstr(s, "\nkernel "); p; p = strstr(p + 1, "\nkernel ")) {
		char line[1024], name[64] = "", iname[64] = "";
		const char *e = strchr(p + 1, '\n');
		snprintf(line, sizeof line, "%.*s", (int)(e - p - 1), p + 1);
		const char *ip = strstr(line, " initrd=");
		ck_assert_ptr_nonnull(ip);
		sscanf(ip + 8, "%63s", name);
		/* the next line loads the initrd under that name */
		ck_assert_int_eq(sscanf(e + 1, "initrd --name %63s ", iname), 1);
		ck_assert_str_eq(name, iname);
		kernels++;
	}
	ck_assert_uint_eq(kernels, 12);
	free(s);
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

START_TEST(test_unresolved_default)
{
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	host_add(cfg, MAC1, "debian/bookworm/4.19/overlayfs", 7);
	struct render_client cl = client(MAC1);
	char line[512];
	char *s = render(cfg, cat, NULL, &cl, NULL);
	assert_valid(s);
	ck_assert_ptr_nonnull(line_with(s, "echo autopxe: default 'debian/bookworm/4.19/overlayfs' not found: no kernel "
	                                   "'4.19' in debian/bookworm",
	                                line, sizeof line));
	/* the menu still works: distros listed, the timeout exits to the next boot device */
	ck_assert_ptr_nonnull(strstr(s, "item autopxe-distro/debian"));
	ck_assert_ptr_nonnull(line_with(s, "choose --default autopxe-exit --timeout 10000", line, sizeof line));
	ck_assert_ptr_null(strstr(s, "\nkernel "));
	free(s);
	/* a hostile default id is echoed harmlessly */
	free(cfg->hosts[0].boot_id);
	cfg->hosts[0].boot_id = strdup("x || shell ; ${a}/#/c/d");
	s = render(cfg, cat, NULL, &cl, NULL);
	assert_valid(s);
	ck_assert_ptr_nonnull(line_with(s, "echo autopxe: default 'x ?? shell ? ??a?/?/c/d' not found", line, sizeof line));
	free(s);
	/* no default configured at all */
	free(cfg->default_distro);
	cfg->default_distro = NULL;
	struct render_client cl2 = client(MAC2);
	s = render(cfg, cat, NULL, &cl2, NULL);
	assert_valid(s);
	ck_assert_ptr_nonnull(line_with(s, "choose --default autopxe-exit", line, sizeof line));
	ck_assert_ptr_null(strstr(s, "echo autopxe: default"));
	free(s);
	/* an empty catalog still renders a working menu */
	struct catalog *empty = calloc(1, sizeof *empty);
	s = render(cfg, empty, NULL, &cl, NULL);
	assert_valid(s);
	ck_assert_ptr_null(strstr(s, "Distributions"));
	free(s);
	free(empty);
	/* nothing at all: no config, no catalog */
	s = render(NULL, NULL, NULL, &cl, NULL);
	assert_valid(s);
	ck_assert_ptr_nonnull(line_with(s, "choose --default autopxe-exit --timeout 10000", line, sizeof line));
	free(s);
	sbuf nb = SBUF_INIT;
	ck_assert_int_eq(render_menu(NULL, NULL, NULL, &cl, "debian", &nb), -ENOENT);
	ck_assert_int_eq(render_menu(cfg, cat, NULL, NULL, NULL, &nb), -EINVAL);
	sbuf_free(&nb);
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

START_TEST(test_file_base)
{
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	struct render_client cl = client(MAC1);
	char line[1024];
	cl.file_base = "http://192.0.2.1:8080/";
	char *s = render(cfg, cat, NULL, &cl, NULL);
	assert_valid(s);
	ck_assert_ptr_nonnull(
	    line_with(s, "kernel --name vmlinuz http://192.0.2.1:8080/boot/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64 ",
	              line, sizeof line));
	ck_assert_ptr_nonnull(line_with(
	    s, "initrd --name initrd http://192.0.2.1:8080/boot/debian/bookworm/boot/initrd.img-6.1.0-21-amd64 ", line,
	    sizeof line));
	/* submenus stay on the menu's own protocol */
	ck_assert_ptr_nonnull(line_with(s, "chain --replace --autofree /autopxe-bc2411b01ade/debian ", line, sizeof line));
	free(s);
	cl.file_base = NULL;
	s = render(cfg, cat, NULL, &cl, NULL);
	ck_assert_ptr_nonnull(
	    line_with(s, "kernel --name vmlinuz /boot/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64 ", line, sizeof line));
	ck_assert_ptr_null(strstr(s, "http://"));
	free(s);
	/* an unsafe base is not used */
	cl.file_base = "http://x/ || shell";
	s = render(cfg, cat, NULL, &cl, NULL);
	assert_valid(s);
	ck_assert_ptr_null(strstr(s, "shell/boot"));
	free(s);
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

START_TEST(test_actions_and_timeouts)
{
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	struct render_client cl = client(MAC1);
	char line[512];
	static const struct {
		enum menu_action ta, fa;
		unsigned timeout, retries, delay;
		const char *main_choose, *sub_choose, *failure, *sleep;
	} cases[] = {
	    {ACTION_DEFAULT, ACTION_EXIT, 10000, 2, 3000, "choose --default debian/bookworm/latest/overlayfs --timeout 10000 ",
	     "choose --default debian/bookworm/latest/overlayfs --timeout 10000 ", "goto autopxe-exit", "sleep 3"},
	    {ACTION_EXIT, ACTION_REBOOT, 5000, 0, 0, "choose --default autopxe-exit --timeout 5000 ",
	     "choose --default autopxe-exit --timeout 5000 ", "goto autopxe-reboot", "sleep 0"},
	    {ACTION_REBOOT, ACTION_SHELL, 1, 1, 1500, "choose --default autopxe-reboot --timeout 1 ",
	     "choose --default autopxe-reboot --timeout 1 ", "goto autopxe-shell", "sleep 2"},
	    {ACTION_SHELL, ACTION_MENU, 30000, 5, 1000, "choose --default autopxe-shell --timeout 30000 ",
	     "choose --default autopxe-shell --timeout 30000 ", "goto autopxe-menu", "sleep 1"},
	    {ACTION_DEFAULT, ACTION_EXIT, 0, 100, 3000, "choose --default debian/bookworm/latest/overlayfs autopxe-target",
	     "choose --default debian/bookworm/latest/overlayfs autopxe-target", "goto autopxe-exit", "sleep 3"},
	    {ACTION_MENU, ACTION_EXIT, 10000, 2, 3000, "choose --default debian/bookworm/latest/overlayfs autopxe-target",
	     "choose --default debian/bookworm/latest/overlayfs autopxe-target", "goto autopxe-exit", "sleep 3"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cfg->timeout_action = cases[i].ta;
		cfg->failure_action = cases[i].fa;
		cfg->menu_timeout_ms = cases[i].timeout;
		cfg->boot_retries = cases[i].retries;
		cfg->retry_delay_ms = cases[i].delay;
		for (int sub = 0; sub < 2; sub++) {
			char *s = render(cfg, cat, NULL, &cl, sub ? "debian" : NULL);
			assert_valid(s);
			const char *want = sub ? cases[i].sub_choose : cases[i].main_choose;
			ck_assert_msg(line_with(s, want, line, sizeof line) != NULL, "case %zu sub %d: no '%s'", i, sub, want);
			if (cases[i].timeout == 0 || cases[i].ta == ACTION_MENU)
				ck_assert_msg(strstr(s, "--timeout") == NULL, "case %zu", i);
			else /* back in the menu after a failure or the shell: no timeout */
				ck_assert_ptr_nonnull(strstr(s, "isset ${autopxe-stay} && goto autopxe-wait ||"));
			ck_assert_ptr_nonnull(strstr(s, cases[i].failure));
			ck_assert_ptr_nonnull(line_with(s, cases[i].sleep, line, sizeof line));
			char giveup[64];
			snprintf(giveup, sizeof giveup, "iseq ${autopxe-try} %u && goto autopxe-giveup ||",
			         cases[i].retries > 20 ? 20 : cases[i].retries);
			ck_assert_msg(line_with(s, giveup, line, sizeof line) != NULL, "case %zu: %s", i, giveup);
			free(s);
		}
	}
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

START_TEST(test_unsafe_inputs_left_out)
{
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	struct render_client cl = client(MAC1);
	kv_add(&cfg->templates, &cfg->n_templates, "evil", "quiet || shell");
	kv_add(&cfg->templates, &cfg->n_templates, "has space", "quiet");
	kv_add(&cfg->env, &cfg->n_env, "inject", "a\nshell");
	kv_add(&cfg->env, &cfg->n_env, "dash", "-x");
	free(cfg->menu_title);
	cfg->menu_title = strdup("--help me");
	static const struct kspec ks[] = {{"1.0", 1}, {"-2.0", 1}};
	add_release(&cat->distros[1], "-rc", NULL, ks, 2, 0);
	cl.ip = "1.2.3.4 || shell";
	char *s = render(cfg, cat, NULL, &cl, "debian");
	assert_valid(s);
	/* words iPXE would parse as options are not placed where options are parsed */
	ck_assert_ptr_null(strstr(s, "-rc"));
	ck_assert_ptr_null(strstr(s, "set dash"));
	ck_assert_ptr_nonnull(strstr(s, "\nmenu debian: help me bc:24:11:b0:1a:de \n"));
	ck_assert_ptr_null(strstr(s, "|| shell"));
	ck_assert_ptr_null(strstr(s, "item debian/bookworm/latest/evil"));
	ck_assert_ptr_null(strstr(s, ":debian/bookworm/latest/evil"));
	ck_assert_ptr_null(strstr(s, "has space"));
	ck_assert_ptr_null(strstr(s, "set inject"));
	ck_assert_ptr_nonnull(strstr(s, "echo autopxe: debian/bookworm/latest/evil left out"));
	free(s);
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

/* The per-boot built-ins reach the command line. */
START_TEST(test_builtins_in_cmdline)
{
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	struct render_client cl = client(MAC1);
	free(cfg->templates[0].value);
	cfg->templates[0].value = strdup("p=${rootfs-path} d=${distro} r=${release} k=${kernel-version} b=${boot-id} "
	                                 "t=${template} m=${mac} h=${mac-hexraw} i=${ip} x=${net0/ip} s=${nfs-server}");
	char *s = render(cfg, cat, NULL, &cl, NULL);
	ck_assert_ptr_nonnull(strstr(s, "\necho Command line: p=/pxe/rootfs/debian/bookworm d=debian r=bookworm "
	                                "k=6.1.0-21-amd64 b=debian/bookworm/latest/overlayfs t=overlayfs m=bc:24:11:b0:1a:de "
	                                "h=bc2411b01ade i=192.0.2.50 x=${net0/ip} s=192.0.2.11\n"));
	free(s);
	/* RootfsPath "/" does not give "//" */
	free(cfg->rootfs_path);
	cfg->rootfs_path = strdup("/");
	s = render(cfg, cat, NULL, &cl, NULL);
	ck_assert_ptr_nonnull(strstr(s, "\necho Command line: p=/debian/bookworm d="));
	free(s);
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

/* 20 distros x 10 releases x 5 kernels x 2 templates: the main script stays small. */
START_TEST(test_big_tree_size)
{
	struct config *cfg = test_config();
	struct catalog *cat = big_catalog(20, 10, 5);
	free(cfg->default_distro);
	cfg->default_distro = strdup("distro07/release03/latest/overlayfs");
	struct diag d;
	diag_init(&d);
	struct menu_templates *t = menu_templates_load(NULL, &d);
	ck_assert_ptr_nonnull(t);
	struct render_client cl = client(MAC1);
	char *s = render(cfg, cat, t, &cl, NULL);
	assert_valid(s);
	ck_assert_msg(strlen(s) < 16 * 1024, "main script %zu bytes", strlen(s));
	ck_assert_ptr_nonnull(strstr(s, "item autopxe-distro/distro19 "));
	free(s);
	s = render(cfg, cat, t, &cl, "distro07");
	assert_valid(s);
	ck_assert_msg(strlen(s) < 128 * 1024, "distro script %zu bytes", strlen(s));
	/* 10 releases x (latest + 5 + default) x 2 templates */
	size_t items = 0;
	for (const char *p = strstr(s, "\nitem distro07/"); p; p = strstr(p + 1, "\nitem distro07/"))
		items++;
	ck_assert_uint_eq(items, 140);
	free(s);
	menu_templates_free(t);
	diag_free(&d);
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

/* ---------------------------------------------------------------- templates */

static const char *top_dir(void)
{
	const char *t = getenv("AUTOPXE_TOP");
	return t ? t : ".";
}

/* The copies compiled into the binary are the files in templates/, byte for byte, and every file is built in. */
START_TEST(test_builtin_matches_files)
{
	char path[4096];
	ck_assert_uint_ge(menu_templates_builtin_n, 4);
	for (size_t i = 0; i < menu_templates_builtin_n; i++) {
		size_t len = 0;
		snprintf(path, sizeof path, "%s/templates/%s", top_dir(), menu_templates_builtin[i].file);
		char *f = tu_slurp(path, &len);
		ck_assert_msg(f != NULL, "cannot read %s (run from the top of the tree or set AUTOPXE_TOP)", path);
		ck_assert_msg(len == strlen(menu_templates_builtin[i].text) &&
		                  memcmp(f, menu_templates_builtin[i].text, len) == 0,
		              "%s differs from its built-in copy: regenerate src/templates_builtin.c", path);
		free(f);
	}
	snprintf(path, sizeof path, "%s/templates", top_dir());
	DIR *dh = opendir(path);
	ck_assert_ptr_nonnull(dh);
	struct dirent *de;
	size_t files = 0;
	while ((de = readdir(dh))) {
		if (!strstr(de->d_name, ".tmpl"))
			continue;
		int found = 0;
		for (size_t i = 0; i < menu_templates_builtin_n; i++)
			found |= strcmp(de->d_name, menu_templates_builtin[i].file) == 0;
		ck_assert_msg(found, "templates/%s is not compiled in", de->d_name);
		files++;
	}
	closedir(dh);
	ck_assert_uint_eq(files, menu_templates_builtin_n);
	/* and loading the directory gives the same menu as the built-ins */
	struct diag d;
	diag_init(&d);
	struct menu_templates *t = menu_templates_load(path, &d);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(d.n, 0);
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	struct render_client cl = client(MAC1);
	char *a = render(cfg, cat, t, &cl, "debian"), *b = render(cfg, cat, NULL, &cl, "debian");
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	free_catalog(cat);
	free_config(cfg);
	menu_templates_free(t);
	diag_free(&d);
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void rm_dir(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	char path[4096];
	while (dh && (de = readdir(dh))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		unlink(path);
	}
	if (dh)
		closedir(dh);
	rmdir(dir);
}

START_TEST(test_templates_load_dir)
{
	char dir[] = "/tmp/autopxe-tmpl-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	struct diag d;
	char buf[1024];
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	struct render_client cl = client(MAC1);

	/* a site override of the main menu only; the other files come from the binary */
	write_file(dir, "main.ipxe.tmpl", "#!ipxe\necho site menu for {{mac_hexraw}}\n{{#distros}}\n# {{name}}\n"
	                                  "{{/distros}}\n{{! comment }}\n{{typo}}\n");
	diag_init(&d);
	struct menu_templates *t = menu_templates_load(dir, &d);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(d.n_errors, 0);
	ck_assert_uint_eq(d.n, 1); /* the unknown variable is a warning with its position */
	diag_format(&d.items[0], buf, sizeof buf);
	ck_assert_msg(strstr(buf, "main.ipxe.tmpl:7:1: warning: unknown variable 'typo'"), "%s", buf);
	char *s = render(cfg, cat, t, &cl, NULL);
	ck_assert_str_eq(s, "#!ipxe\necho site menu for bc2411b01ade\n# arch\n# debian\n# ubuntu\n\n");
	free(s);
	s = render(cfg, cat, t, &cl, "debian"); /* built-in distro template */
	assert_valid(s);
	free(s);
	menu_templates_free(t);
	diag_free(&d);

	/* a syntax error: file:line:col, nothing loaded */
	write_file(dir, "boot.ipxe.tmpl", ":{{label}}\n{{#initrd_url}}\ninitrd {{initrd_url}}\n");
	diag_init(&d);
	ck_assert_ptr_null(menu_templates_load(dir, &d));
	ck_assert_uint_ge(d.n_errors, 1);
	int found = 0;
	for (size_t i = 0; i < d.n; i++) {
		diag_format(&d.items[i], buf, sizeof buf);
		found |= strstr(buf, "boot.ipxe.tmpl:2:1: error: section 'initrd_url' is not closed") != NULL;
	}
	ck_assert_msg(found, "no positioned error");
	diag_free(&d);

	/* an unknown partial and a partial cycle */
	write_file(dir, "boot.ipxe.tmpl", "{{>nosuch}}\n");
	diag_init(&d);
	ck_assert_ptr_null(menu_templates_load(dir, &d));
	diag_format(&d.items[d.n - 1], buf, sizeof buf);
	ck_assert_msg(strstr(buf, "boot.ipxe.tmpl:1:1: error: unknown partial 'nosuch'"), "%s", buf);
	diag_free(&d);
	write_file(dir, "boot.ipxe.tmpl", "{{>common}}\n");
	write_file(dir, "common.ipxe.tmpl", "{{#x}}{{>boot}}{{/x}}\n");
	diag_init(&d);
	ck_assert_ptr_null(menu_templates_load(dir, &d));
	ck_assert_uint_ge(d.n_errors, 1);
	diag_free(&d);
	rm_dir(dir);

	/* an empty directory: a warning, the built-ins */
	ck_assert_ptr_nonnull(mkdtemp(strcpy(dir, "/tmp/autopxe-tmpl-XXXXXX")));
	diag_init(&d);
	t = menu_templates_load(dir, &d);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_int_eq(d.items[0].sev, DIAG_WARNING);
	menu_templates_free(t);
	diag_free(&d);
	rm_dir(dir);
	/* a missing directory is an error */
	diag_init(&d);
	ck_assert_ptr_null(menu_templates_load("/nonexistent/autopxe-templates", &d));
	ck_assert_uint_eq(d.n_errors, 1);
	diag_free(&d);
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

/* ---------------------------------------------------------------- GRUB 2 and PXELINUX dialects */

static char *render_fmt(const struct config *cfg, const struct catalog *cat, const struct menu_templates *t,
                        const struct render_client *cl, enum menu_format f)
{
	sbuf b = SBUF_INIT;
	int rc = render_format(cfg, cat, t, cl, f, &b);
	ck_assert_msg(rc == 0, "render_format(%d) = %d", (int)f, rc);
	if (getenv("RENDER_DUMP"))
		fprintf(stderr, "----- format %d\n%s", (int)f, b.data);
	return sbuf_steal(&b);
}

static char *render_name(const struct config *cfg, const struct catalog *cat, const struct render_client *cl,
                         const char *name)
{
	struct menu_request rq;
	ck_assert_int_eq(menu_name_parse(name, strlen(name), &rq), 1);
	sbuf b = SBUF_INIT;
	int rc = render_request(cfg, cat, NULL, cl, &rq, &b);
	ck_assert_msg(rc == 0, "render_request(%s) = %d", name, rc);
	return sbuf_steal(&b);
}

/* The single-quoted word after `key '` on line (copied into out), or NULL. */
static const char *quoted_after(const char *line, const char *key, char *out, size_t len)
{
	const char *p = strstr(line, key);
	if (!p)
		return NULL;
	p += strlen(key);
	const char *e = strchr(p, '\'');
	if (!e)
		return NULL;
	snprintf(out, len, "%.*s", (int)(e - p), p);
	return out;
}

/* GRUB: braces balance; every menuentry/submenu line opens a block; quotes pair up on every line; outside single
 * quotes no byte GRUB's parser would act on (; | & $ < > " \ and a # after the line start); every
 * `set default=` / `set fallback=` names a top-level entry id; top-level ids are unique. loader: the generic
 * grub.cfg (its configfile line uses "${...}" on purpose and is checked by the caller). NULL or a message. */
static const char *validate_grub(const char *cfg, int loader)
{
	static char msg[512];
	struct labels top = {0};
	char *copy = strdup(cfg), *save = NULL;
	const char *err = NULL;
	int depth = 0;
	char want_default[256] = "", want_fallback[256] = "", q[256];
	for (const char *p = cfg; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t') || (unsigned char)*p >= 0x7f) {
			free(copy);
			return "control byte in config";
		}
	for (char *line = strtok_r(copy, "\n", &save); line && !err; line = strtok_r(NULL, "\n", &save)) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (line[0] == '#')
			continue;
		if (loader && (strstr(line, "net_default_mac") || strcmp(line, "fi") == 0))
			continue;
		int inq = 0, nq = 0;
		for (const char *c = line; *c && !err; c++) {
			if (*c == '\'') {
				inq = !inq;
				nq++;
			} else if (!inq && strchr(";|&$<>\"\\#", *c)) {
				snprintf(msg, sizeof msg, "unquoted '%c' in: %s", *c, line);
				err = msg;
			}
		}
		if (err)
			break;
		if (nq % 2) {
			snprintf(msg, sizeof msg, "unbalanced quotes: %s", line);
			err = msg;
			break;
		}
		size_t n = strlen(line);
		if (!strncmp(line, "menuentry ", 10) || !strncmp(line, "submenu ", 8)) {
			if (n < 2 || strcmp(line + n - 2, " {") != 0) {
				snprintf(msg, sizeof msg, "block line does not end in ' {': %s", line);
				err = msg;
				break;
			}
			if (!quoted_after(line, "--id '", q, sizeof q)) {
				snprintf(msg, sizeof msg, "entry without --id: %s", line);
				err = msg;
				break;
			}
			if (depth == 0) {
				if (has_label(&top, q)) {
					snprintf(msg, sizeof msg, "top-level id '%s' twice", q);
					err = msg;
					break;
				}
				top.v = realloc(top.v, (top.n + 1) * sizeof *top.v);
				top.v[top.n++] = strdup(q);
			}
			depth++;
		} else if (strcmp(line, "}") == 0) {
			if (--depth < 0) {
				err = "'}' without a block";
				break;
			}
		} else if (depth == 0 && !strncmp(line, "set default=", 12)) {
			if (!quoted_after(line, "set default='", want_default, sizeof want_default))
				err = "set default without a quoted id";
		} else if (depth == 0 && !strncmp(line, "set fallback=", 13)) {
			if (!quoted_after(line, "set fallback='", want_fallback, sizeof want_fallback))
				err = "set fallback without a quoted id";
		}
	}
	if (!err && depth != 0)
		err = "unbalanced braces";
	if (!err && !want_default[0])
		err = "no set default";
	if (!err && !has_label(&top, want_default)) {
		snprintf(msg, sizeof msg, "set default='%s' names no top-level entry", want_default);
		err = msg;
	}
	if (!err && want_fallback[0] && !has_label(&top, want_fallback)) {
		snprintf(msg, sizeof msg, "set fallback='%s' names no top-level entry", want_fallback);
		err = msg;
	}
	free(copy);
	labels_free(&top);
	return err;
}

/* PXELINUX: LABELs unique; DEFAULT and ONTIMEOUT name a LABEL; every LABEL boots something (KERNEL, LOCALBOOT,
 * COM32); KERNEL comes with APPEND; no control bytes but tabs. NULL or a message. */
static const char *validate_pxelinux(const char *cfg)
{
	static char msg[512];
	struct labels labs = {0};
	char *copy = strdup(cfg), *save = NULL;
	const char *err = NULL;
	char def[256] = "", ont[256] = "";
	int open_label = 0, boots = 0, kernel = 0, append = 0;
	for (const char *p = cfg; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t') || (unsigned char)*p >= 0x7f) {
			free(copy);
			return "control byte in config";
		}
	for (char *line = strtok_r(copy, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
		while (line && (*line == ' ' || *line == '\t'))
			line++;
		if (!line || !strncmp(line, "LABEL ", 6)) {
			if (open_label && (!boots || (kernel && !append))) {
				snprintf(msg, sizeof msg, "LABEL %s boots nothing or has no APPEND", labs.v[labs.n - 1]);
				err = msg;
			}
			if (!line || err)
				break;
			const char *l = line + 6;
			if (!*l || strchr(l, ' ') || has_label(&labs, l)) {
				snprintf(msg, sizeof msg, "bad or repeated LABEL '%s'", l);
				err = msg;
				break;
			}
			labs.v = realloc(labs.v, (labs.n + 1) * sizeof *labs.v);
			labs.v[labs.n++] = strdup(l);
			open_label = 1;
			boots = kernel = append = 0;
		} else if (!strncmp(line, "KERNEL ", 7)) {
			boots = kernel = 1;
		} else if (!strncmp(line, "LOCALBOOT ", 10) || !strncmp(line, "COM32 ", 6)) {
			boots = 1;
		} else if (!strncmp(line, "APPEND ", 7)) {
			append = 1;
		} else if (!strncmp(line, "DEFAULT ", 8)) {
			snprintf(def, sizeof def, "%s", line + 8);
		} else if (!strncmp(line, "ONTIMEOUT ", 10)) {
			snprintf(ont, sizeof ont, "%s", line + 10);
		}
	}
	if (!err && (!def[0] || !has_label(&labs, def))) {
		snprintf(msg, sizeof msg, "DEFAULT '%s' names no LABEL", def);
		err = msg;
	}
	if (!err && ont[0] && !has_label(&labs, ont)) {
		snprintf(msg, sizeof msg, "ONTIMEOUT '%s' names no LABEL", ont);
		err = msg;
	}
	free(copy);
	labels_free(&labs);
	return err;
}

static void assert_grub(const char *s, int loader)
{
	const char *e = validate_grub(s, loader);
	ck_assert_msg(e == NULL, "invalid GRUB config: %s\n%s", e, s);
}

static void assert_pxelinux(const char *s)
{
	const char *e = validate_pxelinux(s);
	ck_assert_msg(e == NULL, "invalid PXELINUX config: %s\n%s", e, s);
}

/* The validators must catch what they claim to. */
START_TEST(test_dialect_validators_catch)
{
	static const char *const bad_grub[] = {
	    "set default='a'\nmenuentry 'x' --id 'a' {\n",                       /* unbalanced */
	    "set default='b'\nmenuentry 'x' --id 'a' {\n}\n",                    /* default names nothing */
	    "set default='a'\nmenuentry 'x' --id 'a' {\n\tlinux /k 'a'b'\n}\n",  /* odd quotes */
	    "set default='a'\nmenuentry 'x' --id 'a' {\n\tlinux /k a;reboot\n}\n", /* unquoted ; */
	    "set default='a'\nmenuentry 'x' --id 'a' {\n\tlinux /k $x\n}\n",     /* unquoted $ */
	    "set default='a'\nsubmenu 's' --id 's' {\nmenuentry 'x' --id 'a' {\n}\n}\n", /* default in a submenu */
	    "menuentry 'x' --id 'a' {\n}\n",                                      /* no default */
	    "set default='a'\nmenuentry 'x' --id 'a' {\n}\n}\n",                 /* stray } */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad_grub); i++)
		ck_assert_msg(validate_grub(bad_grub[i], 0) != NULL, "GRUB validator accepted #%zu", i);
	ck_assert_ptr_null(validate_grub("set default='a'\nmenuentry 'x' --id 'a' {\n\tlinux '/k' 'a;b'\n}\n", 0));
	static const char *const bad_pxe[] = {
	    "DEFAULT b\nLABEL a\n\tKERNEL /k\n\tAPPEND x\n",               /* DEFAULT names nothing */
	    "DEFAULT a\nLABEL a\n\tKERNEL /k\n\tAPPEND x\nLABEL a\n\tLOCALBOOT -1\n", /* twice */
	    "DEFAULT a\nLABEL a\n\tMENU LABEL x\n",                        /* boots nothing */
	    "DEFAULT a\nLABEL a\n\tKERNEL /k\n",                           /* no APPEND */
	    "DEFAULT a\nONTIMEOUT c\nLABEL a\n\tLOCALBOOT -1\n",          /* ONTIMEOUT names nothing */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad_pxe); i++)
		ck_assert_msg(validate_pxelinux(bad_pxe[i]) != NULL, "PXELINUX validator accepted #%zu", i);
	ck_assert_ptr_null(validate_pxelinux("DEFAULT a\nLABEL a\n\tKERNEL /k\n\tAPPEND x\n"));
}
END_TEST

/* Each dialect: byte-identical twice, structurally valid, for a host with and without a pin, and with a
 * catalog of many entries. */
START_TEST(test_dialects_deterministic_valid)
{
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	host_add(cfg, MAC2, "debian/bookworm/6.1.0-9-amd64/nfsrw", 40);
	const uint8_t *macs[] = {MAC1, MAC2};
	for (int m = 0; m < 2; m++) {
		struct render_client cl = client(macs[m]);
		for (int menu_c32 = 0; menu_c32 < 2; menu_c32++) {
			cl.menu_c32 = menu_c32;
			char *g1 = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_GRUB);
			char *g2 = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_GRUB);
			char *p1 = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_PXELINUX);
			char *p2 = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_PXELINUX);
			ck_assert_str_eq(g1, g2);
			ck_assert_str_eq(p1, p2);
			assert_grub(g1, 0);
			assert_pxelinux(p1);
			ck_assert_ptr_nonnull(strstr(p1, menu_c32 ? "\nUI menu.c32\n" : "\nPROMPT 1\n"));
			ck_assert_ptr_null(strstr(p1, menu_c32 ? "\nPROMPT 1\n" : "\nUI menu.c32\n"));
			free(g1);
			free(g2);
			free(p1);
			free(p2);
		}
	}
	free_catalog(cat);
	cat = big_catalog(6, 4, 5);
	struct render_client cl = client(MAC1);
	free(cfg->default_distro);
	cfg->default_distro = strdup("distro03/release02/6.18.0-28-amd64/nfsrw");
	char *g = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_GRUB), *p = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_PXELINUX);
	assert_grub(g, 0);
	assert_pxelinux(p);
	char buf[512];
	ck_assert_str_eq(line_with(g, "set default=", buf, sizeof buf), "set default='distro03/release02/6.18.0-28-amd64/nfsrw'");
	ck_assert_str_eq(line_with(p, "DEFAULT ", buf, sizeof buf), "DEFAULT distro03/release02/6.18.0-28-amd64/nfsrw");
	free(g);
	free(p);
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

/* The words of a GRUB `linux` line's quoted arguments, joined by one blank (what the kernel sees). */
static void grub_args_joined(const char *line, char *out, size_t len)
{
	size_t o = 0;
	const char *p = strchr(line, '\'');
	p = p ? strchr(p + 1, '\'') : NULL; /* skip the quoted kernel path */
	out[0] = '\0';
	for (p = p ? p + 1 : ""; (p = strchr(p, '\'')) != NULL;) {
		const char *e = strchr(p + 1, '\'');
		ck_assert_ptr_nonnull(e);
		o += (size_t)snprintf(out + o, len - o, "%s%.*s", o ? " " : "", (int)(e - p - 1), p + 1);
		p = e + 1;
	}
}

/* HostDefaults pins are every dialect's default; the command line is the expanded template, exactly. */
START_TEST(test_dialect_pins_and_cmdline)
{
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	host_add(cfg, MAC2, "debian/bookworm/6.1.0-9-amd64/nfsrw", 40);
	struct render_client cl = client(MAC2);
	char *g = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_GRUB);
	char *p = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_PXELINUX);
	char *i = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_IPXE);
	char buf[1024], args[1024];
	const char *want = "root=/dev/nfs nfsroot=192.0.2.11:/pxe/rootfs/debian/bookworm ip=dhcp rw";
	ck_assert_str_eq(line_with(g, "set default=", buf, sizeof buf), "set default='debian/bookworm/6.1.0-9-amd64/nfsrw'");
	/* the first linux line is the top-level default entry's */
	const char *lin = strstr(g, "\n\tlinux ");
	ck_assert_ptr_nonnull(lin);
	ck_assert_str_eq(line_with(lin + 1, "\tlinux ", buf, sizeof buf),
	                 "\tlinux '/boot/debian/bookworm/boot/vmlinuz-6.1.0-9-amd64' 'root=/dev/nfs' "
	                 "'nfsroot=192.0.2.11:/pxe/rootfs/debian/bookworm' 'ip=dhcp' 'rw'");
	grub_args_joined(buf, args, sizeof args);
	ck_assert_str_eq(args, want);
	ck_assert_ptr_nonnull(strstr(g, "\n\tinitrd '/boot/debian/bookworm/boot/initrd.img-6.1.0-9-amd64'\n"));
	ck_assert_str_eq(line_with(p, "DEFAULT ", buf, sizeof buf), "DEFAULT debian/bookworm/6.1.0-9-amd64/nfsrw");
	const char *lab = strstr(p, "LABEL debian/bookworm/6.1.0-9-amd64/nfsrw\n");
	ck_assert_ptr_nonnull(lab);
	ck_assert_ptr_nonnull(strstr(lab, "\tMENU DEFAULT\n\tKERNEL /boot/debian/bookworm/boot/vmlinuz-6.1.0-9-amd64\n"
	                                  "\tINITRD /boot/debian/bookworm/boot/initrd.img-6.1.0-9-amd64\n"
	                                  "\tAPPEND root=/dev/nfs nfsroot=192.0.2.11:/pxe/rootfs/debian/bookworm ip=dhcp rw\n"));
	/* only one MENU DEFAULT */
	const char *md = strstr(p, "MENU DEFAULT");
	ck_assert_ptr_null(strstr(md + 1, "MENU DEFAULT"));
	/* the same pin in iPXE: the default item */
	ck_assert_ptr_nonnull(strstr(i, "choose --default debian/bookworm/6.1.0-9-amd64/nfsrw"));
	free(g);
	free(p);
	free(i);
	/* without a pin: DefaultDistro */
	cl = client(MAC1);
	g = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_GRUB);
	p = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_PXELINUX);
	ck_assert_str_eq(line_with(g, "set default=", buf, sizeof buf), "set default='debian/bookworm/latest/overlayfs'");
	ck_assert_str_eq(line_with(p, "DEFAULT ", buf, sizeof buf), "DEFAULT debian/bookworm/latest/overlayfs");
	ck_assert_str_eq(line_with(g, "set timeout=", buf, sizeof buf), "set timeout=10");
	ck_assert_str_eq(line_with(p, "TIMEOUT ", buf, sizeof buf), "TIMEOUT 100");
	ck_assert_str_eq(line_with(g, "set fallback=", buf, sizeof buf), "set fallback='autopxe-exit'");
	free(g);
	free(p);
	/* MenuTimeout 0: wait; TimeoutAction reboot: the reboot entry; an unresolvable default: exit */
	cfg->menu_timeout_ms = 0;
	g = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_GRUB);
	p = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_PXELINUX);
	ck_assert_str_eq(line_with(g, "set timeout=", buf, sizeof buf), "set timeout=-1");
	ck_assert_str_eq(line_with(p, "TIMEOUT ", buf, sizeof buf), "TIMEOUT 0");
	free(g);
	free(p);
	cfg->menu_timeout_ms = 1250;
	cfg->timeout_action = ACTION_REBOOT;
	g = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_GRUB);
	p = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_PXELINUX);
	assert_grub(g, 0);
	assert_pxelinux(p);
	ck_assert_str_eq(line_with(g, "set timeout=", buf, sizeof buf), "set timeout=2");
	ck_assert_str_eq(line_with(p, "TIMEOUT ", buf, sizeof buf), "TIMEOUT 13");
	ck_assert_str_eq(line_with(g, "set default=", buf, sizeof buf), "set default='autopxe-reboot'");
	ck_assert_str_eq(line_with(p, "DEFAULT ", buf, sizeof buf), "DEFAULT autopxe-reboot");
	free(g);
	free(p);
	cfg->timeout_action = ACTION_DEFAULT;
	free(cfg->default_distro);
	cfg->default_distro = strdup("nosuch/x/latest/overlayfs");
	g = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_GRUB);
	p = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_PXELINUX);
	assert_grub(g, 0);
	assert_pxelinux(p);
	ck_assert_str_eq(line_with(g, "set default=", buf, sizeof buf), "set default='autopxe-exit'");
	ck_assert_ptr_nonnull(strstr(g, "\necho 'autopxe: default \"nosuch/x/latest/overlayfs\" not found"));
	ck_assert_str_eq(line_with(p, "DEFAULT ", buf, sizeof buf), "DEFAULT autopxe-exit");
	free(g);
	free(p);
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

/* Request names of both dialects, every MAC spelling, and the generic configs. */
START_TEST(test_dialect_names)
{
	static const struct {
		const char *name;
		int rc;
		enum menu_kind kind;
		int has_mac;
	} cases[] = {
	    {"grub/grub.cfg-01-bc-24-11-b0-1a-de", 1, MENU_GRUB, 1},
	    {"/grub/grub.cfg-01-BC-24-11-B0-1A-DE", 1, MENU_GRUB, 1},
	    {"grub/grub.cfg-01-bc:24:11:b0:1a:de", 1, MENU_GRUB, 1}, /* the loader's ${net_default_mac} spelling */
	    {"boot/grub/grub.cfg-01-bc2411b01ade", 1, MENU_GRUB, 1},
	    {"grub/grub.cfg-C0000232", 1, MENU_GRUB, 0},
	    {"grub/grub.cfg-C", 1, MENU_GRUB, 0},
	    {"grub/grub.cfg", 1, MENU_GRUB_LOADER, 0},
	    {"\\grub/grub.cfg", 1, MENU_GRUB_LOADER, 0},
	    {"grub/grub.cfg-01-zz-24-11-b0-1a-de", -EINVAL, 0, 0},
	    {"grub/grub.cfg.bak", 0, 0, 0},
	    {"grub/grub.cfg-C0000232X", 0, 0, 0},
	    {"grub/x86_64-efi/normal.mod", 0, 0, 0},
	    {"grub/x86_64-efi/grub.cfg", 0, 0, 0},
	    {"pxelinux.cfg/01-bc-24-11-b0-1a-de", 1, MENU_PXELINUX, 1},
	    {"/pxelinux.cfg/01-bc-24-11-b0-1a-de", 1, MENU_PXELINUX, 1},
	    {"pxelinux.cfg/default", 1, MENU_PXELINUX, 0},
	    {"pxelinux.cfg/C0000232", 1, MENU_PXELINUX, 0},
	    {"pxelinux.cfg/C00002", 1, MENU_PXELINUX, 0},
	    {"pxelinux.cfg/01-bc-24-11-b0-1a", -EINVAL, 0, 0},
	    {"pxelinux.cfg/b8945908-d6a6-41a9-611d-74a6ab80b83d", 0, 0, 0},
	    {"pxelinux.cfg/C000023212", 0, 0, 0},
	    {"pxelinux.0", 0, 0, 0},
	    {"ldlinux.c32", 0, 0, 0},
	    {"autopxe-bc2411b01ade", 1, MENU_IPXE, 1},
	    {"autopxe-bc2411b01ade/debian", 1, MENU_IPXE, 1},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct menu_request rq;
		int rc = menu_name_parse(cases[i].name, strlen(cases[i].name), &rq);
		ck_assert_msg(rc == cases[i].rc, "%s: rc %d, want %d", cases[i].name, rc, cases[i].rc);
		if (rc != 1)
			continue;
		ck_assert_msg(rq.kind == cases[i].kind, "%s: kind %d", cases[i].name, (int)rq.kind);
		ck_assert_msg(rq.has_mac == cases[i].has_mac, "%s: has_mac %d", cases[i].name, rq.has_mac);
		if (rq.has_mac)
			ck_assert_msg(memcmp(rq.mac, MAC1, 6) == 0, "%s: wrong MAC", cases[i].name);
	}
	ck_assert_int_eq(menu_name_parse("pxelinux.cfg/default\0x", 22, &(struct menu_request){0}), 0);
	/* every spelling renders the same bytes; the generic configs use DefaultDistro and no MAC */
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	host_add(cfg, MAC1, "debian/trixie/latest/nfsrw", 40);
	struct render_client cl = client(MAC2); /* the name's MAC counts, not this one */
	char *a = render_name(cfg, cat, &cl, "grub/grub.cfg-01-bc-24-11-b0-1a-de");
	char *b = render_name(cfg, cat, &cl, "grub/grub.cfg-01-bc:24:11:b0:1a:de");
	ck_assert_str_eq(a, b);
	ck_assert_ptr_nonnull(strstr(a, "set default='debian/trixie/latest/nfsrw'"));
	free(a);
	free(b);
	a = render_name(cfg, cat, &cl, "pxelinux.cfg/01-bc-24-11-b0-1a-de");
	b = render_name(cfg, cat, &cl, "pxelinux.cfg/01-bc2411b01ade");
	ck_assert_str_eq(a, b);
	ck_assert_ptr_nonnull(strstr(a, "\nDEFAULT debian/trixie/latest/nfsrw\n"));
	free(a);
	free(b);
	a = render_name(cfg, cat, &cl, "pxelinux.cfg/default");
	b = render_name(cfg, cat, &cl, "pxelinux.cfg/C0000232");
	ck_assert_str_eq(a, b);
	assert_pxelinux(a);
	ck_assert_ptr_nonnull(strstr(a, "\nDEFAULT debian/bookworm/latest/overlayfs\n"));
	ck_assert_ptr_null(strstr(a, "52:54:00"));
	free(a);
	free(b);
	a = render_name(cfg, cat, &cl, "grub/grub.cfg");
	assert_grub(a, 1);
	ck_assert_ptr_nonnull(strstr(a, "\tconfigfile \"${prefix}/grub.cfg-01-${net_default_mac}\"\n"));
	ck_assert_ptr_nonnull(strstr(a, "\nset default='debian/bookworm/latest/overlayfs'\n"));
	free(a);
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

/* Values that could break out of a GRUB string or a PXELINUX line never reach either: the config loader refuses
 * quotes and backslashes (file:line:col), and what comes from elsewhere (distro directories, the process
 * environment) leaves its entry out with a warning. Blanks, ; and $ inside a word stay quoted for GRUB. */
START_TEST(test_dialect_injection)
{
	static const struct {
		const char *yaml, *want;
	} refused[] = {
	    {"version: 1\nCmdlineTemplates:\n  t: \"root=/dev/nfs x='; reboot'\"\n",
	     "cfg.yaml:3:6: error: CmdlineTemplates: t: 'root=/dev/nfs x='; reboot'' contains a quote"},
	    {"version: 1\nCmdlineTemplates:\n  t: root=/dev/nfs\nEnv:\n  a: 'x\" y'\n",
	     "cfg.yaml:5:6: error: Env: a:"},
	    {"version: 1\nCmdlineTemplates:\n  t: 'root=\\x20'\n", "cfg.yaml:3:6: error: CmdlineTemplates: t:"},
	    {"version: 1\nCmdlineTemplates:\n  t: \"a\\nb\"\n", "cfg.yaml:3:6: error: CmdlineTemplates: t:"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		struct diag d;
		struct config *c = NULL;
		char buf[1024];
		diag_init(&d);
		ck_assert_int_ne(config_load_buffer(refused[i].yaml, strlen(refused[i].yaml), "cfg.yaml", &c, &d), 0);
		ck_assert_ptr_null(c);
		int found = 0;
		for (size_t k = 0; k < d.n; k++) {
			diag_format(&d.items[k], buf, sizeof buf);
			found |= strstr(buf, refused[i].want) != NULL;
		}
		diag_format(&d.items[0], buf, sizeof buf);
		ck_assert_msg(found, "#%zu: want '%s', got '%s'", i, refused[i].want, buf);
		diag_free(&d);
	}
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	kv_add(&cfg->templates, &cfg->n_templates, "semi", "quiet a;reboot $x ${nfs-server}x");
	kv_add(&cfg->templates, &cfg->n_templates, "envq", "quiet ${AUTOPXE_TEST_Q}");
	kv_add(&cfg->templates, &cfg->n_templates, "rt", "quiet ip=${net0/ip}");
	setenv("AUTOPXE_TEST_Q", "it's", 1);
	add_release(add_distro(cat, "o'brien"), "one", NULL, (const struct kspec[]){{"1.0", 1}}, 1, 0);
	struct render_client cl = client(MAC1);
	char *g = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_GRUB);
	char *p = render_fmt(cfg, cat, NULL, &cl, MENU_FORMAT_PXELINUX);
	assert_grub(g, 0);
	assert_pxelinux(p);
	ck_assert_ptr_nonnull(strstr(g, "'quiet' 'a;reboot' '$x' '192.0.2.11x'\n"));
	ck_assert_ptr_nonnull(strstr(p, "\tAPPEND quiet a;reboot $x 192.0.2.11x\n"));
	for (int k = 0; k < 2; k++) {
		const char *s = k ? p : g;
		ck_assert_ptr_null(strstr(s, "it's"));
		ck_assert_ptr_null(strstr(s, "brien"));
		ck_assert_ptr_null(strstr(s, "${net0/ip}"));
		ck_assert_ptr_null(strstr(s, k ? "LABEL debian/bookworm/latest/envq" : "--id 'debian/bookworm/latest/envq'"));
		ck_assert_ptr_null(strstr(s, k ? "LABEL debian/bookworm/latest/rt" : "--id 'debian/bookworm/latest/rt'"));
		ck_assert_ptr_nonnull(strstr(s, k ? "LABEL debian/bookworm/latest/semi" : "--id 'debian/bookworm/latest/semi'"));
	}
	ck_assert_ptr_nonnull(strstr(g, "echo 'autopxe: debian/bookworm/latest/envq left out: its command line holds a quote"));
	ck_assert_ptr_nonnull(strstr(p, "SAY autopxe: debian/bookworm/latest/rt left out: its command line uses a variable"));
	/* iPXE keeps its run-time variables */
	char *i = render(cfg, cat, NULL, &cl, "debian");
	ck_assert_ptr_nonnull(strstr(i, "ip=${net0/ip}"));
	free(i);
	unsetenv("AUTOPXE_TEST_Q");
	free(g);
	free(p);
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

/* A site overrides one GRUB template; the others stay built in, and the partials are per dialect. */
START_TEST(test_dialect_templates_dir)
{
	char dir[] = "/tmp/autopxe-tmpl-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	write_file(dir, "boot.grub.tmpl", "menuentry '{{id}}' --id '{{id}}' {\n\tlinux '{{kernel_path}}' {{cmdline_args}} "
	                                  "'site=1'\n}\n");
	write_file(dir, "main.pxelinux.tmpl", "DEFAULT {{default_label}}\n{{>boot}}\n");
	struct diag d;
	diag_init(&d);
	struct menu_templates *t = menu_templates_load(dir, &d);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(d.n, 0);
	struct config *cfg = test_config();
	struct catalog *cat = small_catalog();
	struct render_client cl = client(MAC1);
	char *g = render_fmt(cfg, cat, t, &cl, MENU_FORMAT_GRUB);
	assert_grub(g, 0);
	ck_assert_ptr_nonnull(strstr(g, "'ip=dhcp' 'rootovl' 'site=1'\n"));
	free(g);
	menu_templates_free(t);
	diag_free(&d);
	/* {{>common}} is an iPXE partial: unknown in a GRUB template */
	write_file(dir, "main.grub.tmpl", "{{>common}}\n");
	diag_init(&d);
	ck_assert_ptr_null(menu_templates_load(dir, &d));
	char buf[512];
	diag_format(&d.items[d.n - 1], buf, sizeof buf);
	ck_assert_msg(strstr(buf, "main.grub.tmpl:1:1: error: unknown partial 'common' (known in grub templates: loader, "
	                          "main, boot)"),
	              "%s", buf);
	diag_free(&d);
	rm_dir(dir);
	free_catalog(cat);
	free_config(cfg);
}
END_TEST

Suite *render_suite(void)
{
	Suite *s = suite_create("render");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_validator_catches);
	tcase_add_test(tc, test_expand_vars);
	tcase_add_test(tc, test_ipxe_safe_value);
	tcase_add_test(tc, test_boot_id_resolve);
	tcase_add_test(tc, test_check_targets);
	tcase_add_test(tc, test_menu_request_parse);
	tcase_add_test(tc, test_main_menu);
	tcase_add_test(tc, test_host_default_and_determinism);
	tcase_add_test(tc, test_distro_submenu);
	tcase_add_test(tc, test_efi_initrd_name_matches);
	tcase_add_test(tc, test_unresolved_default);
	tcase_add_test(tc, test_file_base);
	tcase_add_test(tc, test_actions_and_timeouts);
	tcase_add_test(tc, test_unsafe_inputs_left_out);
	tcase_add_test(tc, test_builtins_in_cmdline);
	tcase_add_test(tc, test_big_tree_size);
	tcase_add_test(tc, test_builtin_matches_files);
	tcase_add_test(tc, test_templates_load_dir);
	suite_add_tcase(s, tc);
	tc = tcase_create("dialects");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dialect_validators_catch);
	tcase_add_test(tc, test_dialects_deterministic_valid);
	tcase_add_test(tc, test_dialect_pins_and_cmdline);
	tcase_add_test(tc, test_dialect_names);
	tcase_add_test(tc, test_dialect_injection);
	tcase_add_test(tc, test_dialect_templates_dir);
	suite_add_tcase(s, tc);
	return s;
}
