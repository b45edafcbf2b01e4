/* render.c - boot ids, ${var} command-line expansion and the per-MAC #!ipxe menus rendered from templates. */
#include "render.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mac.h"
#include "tmpl.h"

#define MAX_RENDER_RETRIES 20 /* BootRetries above this are rendered as this many (the loop is unrolled) */

/* ---------------------------------------------------------------- safety of values and labels */

/* A whitespace-separated word that iPXE's command parser would act on: it splits a line into
 * words before expanding ${...}, so "||", "&&", ";" and a word starting with '#' inserted by the
 * server would end or comment out the command. */
static int is_ipxe_operator(const char *w, size_t n)
{
	return (n == 2 && (memcmp(w, "||", 2) == 0 || memcmp(w, "&&", 2) == 0)) || (n == 1 && w[0] == ';') ||
	       (n > 0 && w[0] == '#');
}

int ipxe_safe_value(const char *s)
{
	if (!s)
		return 0;
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	/* a trailing backslash would join the next script line to this one */
	if (n > 0 && s[n - 1] == '\\')
		return 0;
	for (size_t i = 0; i < n;) {
		while (i < n && s[i] == ' ')
			i++;
		size_t w = i;
		while (i < n && s[i] != ' ')
			i++;
		if (i > w && is_ipxe_operator(s + w, i - w))
			return 0;
	}
	return 1;
}

/* True when s can be one iPXE word used as a label / menu item name (a leading '-' would be taken
 * for an option by `item` and `choose`). */
static int label_ok(const char *s)
{
	if (!s || !*s || s[0] == '#' || s[0] == ':' || s[0] == '-')
		return 0;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '$' || *p == '\\')
			return 0;
	return !is_ipxe_operator(s, strlen(s));
}

/* A template name usable as the last part of a boot id and label. */
static int tname_ok(const char *s) { return label_ok(s) && !strchr(s, '/'); }

/* Copy text for an `echo` or title: bytes that iPXE would act on become '?'. */
static void text_clean(const char *in, char *out, size_t outsz)
{
	size_t o = 0;
	for (; in && *in && o + 1 < outsz; in++) {
		unsigned char c = (unsigned char)*in;
		int bad = c < 0x20 || c >= 0x7f || strchr("|&;#\\${}", c);
		out[o++] = bad ? '?' : (char)c;
	}
	out[o] = '\0';
}

/* ---------------------------------------------------------------- ${var} expansion */

static const char *builtin_get(const char *const *b, const char *name, size_t n)
{
	for (; b && b[0] && b[1]; b += 2)
		if (strlen(b[0]) == n && memcmp(b[0], name, n) == 0)
			return b[1];
	return NULL;
}

static const struct cfg_kv *env_find(const struct config *cfg, const char *name, size_t n)
{
	for (size_t i = 0; cfg && i < cfg->n_env; i++)
		if (cfg->env[i].key && strlen(cfg->env[i].key) == n && memcmp(cfg->env[i].key, name, n) == 0)
			return &cfg->env[i];
	return NULL;
}

static const char *var_value(const char *name, size_t n, const char *const *builtins, const struct config *cfg)
{
	const char *v = builtin_get(builtins, name, n);
	if (v)
		return v;
	const struct cfg_kv *e = env_find(cfg, name, n);
	if (e)
		return e->value && ipxe_safe_value(e->value) ? e->value : NULL;
	char key[256];
	if (n >= sizeof key)
		return NULL;
	memcpy(key, name, n);
	key[n] = '\0';
	v = getenv(key);
	/* the process environment (docker -e) is never trusted to hold a whole command */
	return v && ipxe_safe_value(v) ? v : NULL;
}

int expand_vars(const char *tmpl, const char *const *builtins, const struct config *cfg, sbuf *out)
{
	int rc = 0;
	const char *p = tmpl ? tmpl : "";
	while (*p && !rc) {
		const char *d = strstr(p, "${");
		if (!d)
			return sbuf_puts(out, p);
		if ((rc = sbuf_append(out, p, (size_t)(d - p))))
			return rc;
		const char *e = strchr(d + 2, '}');
		if (!e) /* unterminated: copied literally */
			return sbuf_puts(out, d);
		const char *name = d + 2;
		size_t n = (size_t)(e - name);
		const char *v = NULL;
		if (n > 0 && !memchr(name, '$', n) && !memchr(name, '{', n))
			v = var_value(name, n, builtins, cfg);
		rc = v ? sbuf_puts(out, v) : sbuf_append(out, d, (size_t)(e + 1 - d));
		p = e + 1;
	}
	if (!rc && !out->data)
		rc = sbuf_append(out, "", 0);
	return rc;
}

/* ---------------------------------------------------------------- catalog / config lookups */

static const struct scan_kernel *find_kernel(const struct scan_release *r, const char *word, size_t n)
{
	if (n == 6 && memcmp(word, "latest", 6) == 0)
		return release_latest(r);
	if (n == 7 && memcmp(word, "default", 7) == 0)
		return r->default_kernel;
	for (size_t i = 0; i < r->n_kernels; i++)
		if (strlen(r->kernels[i].id) == n && memcmp(r->kernels[i].id, word, n) == 0)
			return &r->kernels[i];
	return NULL;
}

static const struct cfg_kv *find_template(const struct config *cfg, const char *name, size_t n)
{
	for (size_t i = 0; cfg && i < cfg->n_templates; i++)
		if (strlen(cfg->templates[i].key) == n && memcmp(cfg->templates[i].key, name, n) == 0)
			return &cfg->templates[i];
	return NULL;
}

/* ---------------------------------------------------------------- which templates an entry gets */

/* A CmdlineTemplate using ${iso-...} is for ISO entries only, one using ${image-...} for releases
 * with a filesystem image only. ISO entries get only the ISO templates when there are any
 * (a kernel out of an installer image boots nothing with an NFS-root command line), else all. */
static int tmpl_uses(const struct cfg_kv *t, const char *prefix)
{
	return t->value && strstr(t->value, prefix) != NULL;
}

static int any_iso_template(const struct config *cfg)
{
	for (size_t i = 0; cfg && i < cfg->n_templates; i++)
		if (tmpl_uses(&cfg->templates[i], "${iso-"))
			return 1;
	return 0;
}

static int tmpl_offered(const struct config *cfg, const struct cfg_kv *t, const struct scan_release *r)
{
	int iso = tmpl_uses(t, "${iso-"), image = tmpl_uses(t, "${image-");
	if (r->iso)
		return !image && (iso || !any_iso_template(cfg));
	return !iso && (!image || r->n_images > 0);
}

static const struct cfg_host *find_host(const struct config *cfg, const uint8_t mac[6])
{
	for (size_t i = 0; cfg && i < cfg->n_hosts; i++)
		if (memcmp(cfg->hosts[i].mac, mac, 6) == 0)
			return &cfg->hosts[i];
	return NULL;
}

int boot_id_resolve(const struct config *cfg, const struct catalog *cat, const char *id, struct boot_target *out,
                    char *why, size_t whylen)
{
	const char *part[4];
	size_t len[4];
	char w[4][130];
	const char *p = id ? id : "";
	memset(out, 0, sizeof *out);
	for (int i = 0; i < 4; i++) {
		const char *s = strchr(p, '/');
		part[i] = p;
		len[i] = s && i < 3 ? (size_t)(s - p) : strlen(p);
		if (len[i] == 0 || (i == 3 && s)) {
			snprintf(why, whylen, "not a boot id: want distro/release/kernel/template");
			return -ENOENT;
		}
		p += len[i] + (i < 3 ? 1 : 0);
		if (i < 3 && !s) {
			snprintf(why, whylen, "not a boot id: want distro/release/kernel/template");
			return -ENOENT;
		}
		text_clean(part[i], w[i], len[i] + 1 < sizeof w[i] ? len[i] + 1 : sizeof w[i]);
	}
	out->distro = catalog_distro_n(cat, part[0], len[0]);
	if (!out->distro) {
		snprintf(why, whylen, "no distro '%s'", w[0]);
		return -ENOENT;
	}
	out->release = distro_release_n(out->distro, part[1], len[1]);
	if (!out->release) {
		snprintf(why, whylen, "no release '%s' in '%s'", w[1], w[0]);
		return -ENOENT;
	}
	out->kernel = find_kernel(out->release, part[2], len[2]);
	if (!out->kernel) {
		snprintf(why, whylen, "no kernel '%s' in %s/%s", w[2], w[0], w[1]);
		return -ENOENT;
	}
	out->tmpl = find_template(cfg, part[3], len[3]);
	if (!out->tmpl) {
		snprintf(why, whylen, "no template '%s'", w[3]);
		return -ENOENT;
	}
	if (!tmpl_offered(cfg, out->tmpl, out->release)) {
		snprintf(why, whylen, "template '%s' is not for %s/%s (%s)", w[3], w[0], w[1],
		         out->release->iso ? "an ISO entry takes the templates using ${iso-...}"
		         : tmpl_uses(out->tmpl, "${iso-") ? "it uses ${iso-...}: ISO images only"
		                                          : "it uses ${image-...} and the release has no filesystem image");
		return -ENOENT;
	}
	if (len[2] == 6 && memcmp(part[2], "latest", 6) == 0)
		out->kernel_word = "latest";
	else if (len[2] == 7 && memcmp(part[2], "default", 7) == 0)
		out->kernel_word = "default";
	else
		out->kernel_word = out->kernel->id;
	return 0;
}

void render_check_targets(const struct config *cfg, const struct catalog *cat, struct diag *d)
{
	char why[512];
	struct boot_target bt;
	if (!cfg)
		return;
	if (cfg->default_distro && boot_id_resolve(cfg, cat, cfg->default_distro, &bt, why, sizeof why))
		diag_add(d, DIAG_WARNING, cfg->path, cfg->default_line, cfg->default_col,
		         "DefaultDistro '%s' does not resolve: %s", cfg->default_distro, why);
	for (size_t i = 0; i < cfg->n_hosts; i++) {
		const struct cfg_host *h = &cfg->hosts[i];
		if (boot_id_resolve(cfg, cat, h->boot_id, &bt, why, sizeof why)) {
			char hex[13];
			mac_hexraw(h->mac, hex);
			diag_add(d, DIAG_WARNING, cfg->path, h->line, h->col, "HostDefaults %s: '%s' does not resolve: %s",
			         hex, h->boot_id ? h->boot_id : "", why);
		}
	}
}

/* ---------------------------------------------------------------- menu request names */

static int sub_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("._+~@,=-", c);
}

int menu_request_parse(const char *name, size_t len, uint8_t mac[6], char *submenu, size_t sublen)
{
	static const char *const prefixes[] = {"autopxe-", "autopxe/"};
	size_t i = 0;
	if (!name)
		return 0;
	while (i < len && (name[i] == '/' || name[i] == '\\'))
		i++;
	int match = 0;
	for (size_t k = 0; k < ARRAY_SIZE(prefixes); k++) {
		size_t pl = strlen(prefixes[k]);
		if (len - i >= pl && memcmp(name + i, prefixes[k], pl) == 0) {
			i += pl;
			match = 1;
			break;
		}
	}
	if (!match)
		return 0;
	size_t m = i;
	while (m < len && name[m] != '/')
		m++;
	if (memchr(name + i, '\0', len - i) || mac_parse(name + i, m - i, mac) != 0)
		return -EINVAL;
	if (submenu && sublen)
		submenu[0] = '\0';
	if (m == len || m + 1 == len) /* "autopxe-<mac>" or "autopxe-<mac>/" */
		return 1;
	const char *s = name + m + 1;
	size_t n = len - m - 1;
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return -EINVAL;
	for (size_t k = 0; k < n; k++)
		if (!sub_char((unsigned char)s[k]))
			return -EINVAL;
	if (!submenu || n >= sublen)
		return -EINVAL;
	memcpy(submenu, s, n);
	submenu[n] = '\0';
	return 1;
}

/* ---------------------------------------------------------------- templates */

/* Every template file, by dialect. A {{>name}} includes the template of that name in the same dialect. */
enum { T_MAIN, T_DISTRO, T_BOOT, T_COMMON, T_GRUB_LOADER, T_GRUB_MAIN, T_GRUB_BOOT, T_PXE_MAIN, T_PXE_BOOT, T_COUNT };
enum { D_IPXE, D_GRUB, D_PXE, D_COUNT };
static const struct {
	const char *name, *file;
	int dialect;
} tdefs[T_COUNT] = {
    {"main", "main.ipxe.tmpl", D_IPXE},         {"distro", "distro.ipxe.tmpl", D_IPXE},
    {"boot", "boot.ipxe.tmpl", D_IPXE},         {"common", "common.ipxe.tmpl", D_IPXE},
    {"loader", "loader.grub.tmpl", D_GRUB},     {"main", "main.grub.tmpl", D_GRUB},
    {"boot", "boot.grub.tmpl", D_GRUB},         {"main", "main.pxelinux.tmpl", D_PXE},
    {"boot", "boot.pxelinux.tmpl", D_PXE},
};
static const char *const dialect_names[D_COUNT] = {"ipxe", "grub", "pxelinux"};

struct menu_templates {
	struct tmpl *t[T_COUNT];
	struct tmpl_partial partials[D_COUNT][T_COUNT]; /* per dialect, its own templates */
	size_t n_partials[D_COUNT];
};

/* Every name the renderer provides in some scope; others are reported as likely typos. */
static const char *const known_names[] = {
    ".", "mac", "mac_hexraw", "ip", "title", "menu_path", "env", "name", "value", "warnings", "text", "timeout",
    "default_label", "cancel_label", "retries", "retry_steps", "n", "next", "retry_delay", "failure_label",
    "failure_text", "default", "distros", "has_distros", "label", "path", "releases", "distro", "pretty", "entries",
    "action_item", "id", "release", "kernel", "kernel_version", "template", "cmdline", "kernel_name", "kernel_url",
    "initrd_name", "initrd_url", "is_default", "file_base", "kernel_path", "initrd_path", "cmdline_args",
    "timeout_s", "timeout_ds", "fallback_label", "menu_c32", "has_mac", "has_entries",
};

static const struct menu_template_src *builtin_src(const char *file)
{
	for (size_t i = 0; i < menu_templates_builtin_n; i++)
		if (strcmp(menu_templates_builtin[i].file, file) == 0)
			return &menu_templates_builtin[i];
	return NULL;
}

struct check_ctx {
	struct diag *d;
	const char *file;
	int dialect;
	int bad_partial;
	int refs[T_COUNT]; /* partials this template includes */
};

static void check_tag(void *arg, enum tmpl_tag kind, const char *name, int line, int col)
{
	struct check_ctx *c = arg;
	if (kind == TMPL_TAG_PARTIAL) {
		char known[128] = "";
		for (int i = 0; i < T_COUNT; i++) {
			if (tdefs[i].dialect != c->dialect)
				continue;
			if (strcmp(tdefs[i].name, name) == 0) {
				c->refs[i] = 1;
				return;
			}
			snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", known[0] ? ", " : "",
			         tdefs[i].name);
		}
		diag_add(c->d, DIAG_ERROR, c->file, line, col, "unknown partial '%s' (known in %s templates: %s)", name,
		         dialect_names[c->dialect], known);
		c->bad_partial = 1;
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(known_names); i++)
		if (strcmp(known_names[i], name) == 0)
			return;
	diag_add(c->d, DIAG_WARNING, c->file, line, col, "unknown variable '%s' (renders as empty)", name);
}

/* Reads a whole file (at most TMPL_MAX_SOURCE bytes). 0, -errno or -EFBIG. */
static int read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	sbuf b = SBUF_INIT;
	char chunk[8192];
	size_t n;
	int rc = 0;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (b.len + n > TMPL_MAX_SOURCE) {
			rc = -EFBIG;
			break;
		}
		if ((rc = sbuf_append(&b, chunk, n)))
			break;
	}
	if (!rc && ferror(f))
		rc = -EIO;
	fclose(f);
	if (rc) {
		sbuf_free(&b);
		return rc;
	}
	*len = b.len;
	*buf = sbuf_steal(&b);
	return *buf ? 0 : -ENOMEM;
}

struct menu_templates *menu_templates_load(const char *dir, struct diag *d)
{
	struct menu_templates *mt = calloc(1, sizeof *mt);
	int refs[T_COUNT][T_COUNT] = {{0}};
	int from_dir = 0, failed = 0;
	if (!mt) {
		diag_add(d, DIAG_ERROR, dir, 0, 0, "out of memory loading templates");
		return NULL;
	}
	if (dir) {
		DIR *dh = opendir(dir);
		if (!dh) {
			diag_add(d, DIAG_ERROR, dir, 0, 0, "cannot open templates directory: %s", strerror(errno));
			goto fail;
		}
		closedir(dh);
	}
	for (int i = 0; i < T_COUNT; i++) {
		char file[64], path[4096];
		snprintf(file, sizeof file, "%s", tdefs[i].file);
		const struct menu_template_src *bs = builtin_src(file);
		char *text = NULL;
		size_t len = 0;
		int rc = -ENOENT;
		const char *shown = file;
		if (dir) {
			snprintf(path, sizeof path, "%s/%s", dir, file);
			rc = read_file(path, &text, &len);
			if (rc && rc != -ENOENT) {
				diag_add(d, DIAG_ERROR, path, 0, 0, "cannot read template: %s", strerror(-rc));
				failed = 1;
				continue;
			}
			if (!rc) {
				shown = path;
				from_dir++;
			}
		}
		if (rc) { /* not in dir (or no dir): the copy compiled into the binary */
			if (!bs) {
				diag_add(d, DIAG_ERROR, file, 0, 0, "no built-in template %s", file);
				failed = 1;
				continue;
			}
			snprintf(path, sizeof path, "<builtin>/%s", file);
			shown = path;
		}
		mt->t[i] = tmpl_compile(text ? text : bs->text, text ? len : strlen(bs->text), shown, d);
		free(text);
		if (!mt->t[i]) {
			failed = 1;
			continue;
		}
		struct check_ctx c = {.d = d, .file = shown, .dialect = tdefs[i].dialect};
		tmpl_each_tag(mt->t[i], check_tag, &c);
		if (c.bad_partial)
			failed = 1;
		memcpy(refs[i], c.refs, sizeof c.refs);
		int dl = tdefs[i].dialect;
		mt->partials[dl][mt->n_partials[dl]].name = tdefs[i].name;
		mt->partials[dl][mt->n_partials[dl]++].t = mt->t[i];
	}
	if (dir && from_dir == 0 && !failed)
		diag_add(d, DIAG_WARNING, dir, 0, 0, "no *.tmpl files here; using the built-in templates");
	/* partials must not include themselves, directly or through others: transitive closure */
	for (int k = 0; k < T_COUNT; k++)
		for (int i = 0; i < T_COUNT; i++)
			for (int j = 0; j < T_COUNT; j++)
				if (refs[i][k] && refs[k][j])
					refs[i][j] = 1;
	for (int i = 0; i < T_COUNT && !failed; i++) {
		if (refs[i][i]) {
			diag_add(d, DIAG_ERROR, dir ? dir : "<builtin>", 0, 0, "template '%s' includes itself through partials",
			         tdefs[i].file);
			failed = 1;
		}
	}
	if (failed)
		goto fail;
	return mt;
fail:
	menu_templates_free(mt);
	return NULL;
}

void menu_templates_free(struct menu_templates *t)
{
	if (!t)
		return;
	for (int i = 0; i < T_COUNT; i++)
		tmpl_free(t->t[i]);
	free(t);
}

/* ---------------------------------------------------------------- rendering */

struct rctx {
	const struct config *cfg;
	const struct catalog *cat;
	const struct render_client *cl;
	struct tmpl_data *data;
	struct tmpl_val *root, *warnings;
	char mac[18], hex[13], ip[64];
	const char *base; /* prefix of kernel/initrd URLs */
	sbuf id, cmd, tmp, join;
	sbuf iso_url, iso_label, image_path, image_url; /* per release, see set_media_vars */
	const struct scan_release *media_of;
	const struct cfg_host *host;
	int dialect; /* D_IPXE, D_GRUB, D_PXE */
	int has_mac; /* 0: a generic config (grub.cfg, pxelinux.cfg/default): no MAC, DefaultDistro */
	size_t n_entries; /* boot entries rendered so far */
	char pin[256]; /* the API pin of this client, if any (have_pin) */
	int have_pin;
};

static void warn(struct rctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct rctx *x, const char *fmt, ...)
{
	char raw[512], clean[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	text_clean(raw, clean, sizeof clean);
	for (char *c = clean; x->dialect == D_GRUB && *c; c++) /* GRUB echoes it inside single quotes */
		if (*c == '\'')
			*c = '"';
	if (!x->warnings)
		x->warnings = tmpl_set_list(x->data, x->root, "warnings");
	tmpl_set_str(x->data, tmpl_list_add_obj(x->data, x->warnings), "text", clean);
}

/* Set field `name` of obj to the concatenation of the strings after it (NULL-terminated), without printf. */
static void set_join(struct rctx *x, struct tmpl_val *obj, const char *name, ...)
{
	va_list ap;
	int rc = 0;
	sbuf_reset(&x->join);
	va_start(ap, name);
	for (const char *p = va_arg(ap, const char *); p && !rc; p = va_arg(ap, const char *))
		rc = sbuf_puts(&x->join, p);
	va_end(ap);
	if (rc)
		tmpl_set_bool(x->data, NULL, name, 0); /* records the failure in the data */
	else
		tmpl_set_strn(x->data, obj, name, x->join.data, x->join.len);
}

/* The absolute URL prefix files are served under, for command lines (the kernel fetching an ISO or
 * an image knows nothing of the menu's URL): file_base when it is absolute, else HTTPBaseURL, else
 * http://<HTTPListen address>/ when it is a specific address; else "/" (then the admin should set
 * HTTPBaseURL; docs/catalog.md). */
static void url_base(const struct rctx *x, char *out, size_t len)
{
	const struct config *c = x->cfg;
	if (!strncmp(x->base, "http://", 7) || !strncmp(x->base, "https://", 8)) {
		snprintf(out, len, "%s", x->base);
	} else if (c && c->http_base_url && *c->http_base_url) {
		size_t n = strlen(c->http_base_url);
		snprintf(out, len, "%s%s", c->http_base_url, c->http_base_url[n - 1] == '/' ? "" : "/");
	} else if (c && c->http_listen.enabled && c->http_listen.host[0] && strcmp(c->http_listen.host, "0.0.0.0") &&
	           strcmp(c->http_listen.host, "::")) {
		int v6 = strchr(c->http_listen.host, ':') != NULL;
		snprintf(out, len, "http://%s%s%s:%u/", v6 ? "[" : "", c->http_listen.host, v6 ? "]" : "",
		         (unsigned)c->http_listen.port);
	} else {
		snprintf(out, len, "%s", x->base);
	}
}

/* iso-url, image-path, image-url of release r (computed once per release, reused by its entries). */
static int set_media_vars(struct rctx *x, const struct scan_release *r, const char *root)
{
	char base[1100];
	int rc = 0;
	if (x->media_of == r && x->iso_url.data)
		return 0;
	x->media_of = r;
	sbuf_reset(&x->iso_url);
	sbuf_reset(&x->iso_label);
	sbuf_reset(&x->image_path);
	sbuf_reset(&x->image_url);
	url_base(x, base, sizeof base);
	size_t rl = strlen(root);
	const char *sep = rl && root[rl - 1] == '/' ? "" : "/";
	if (r->iso)
		rc = sbuf_printf(&x->iso_url, "%sboot/%s", base, r->iso->served);
	else
		rc = sbuf_append(&x->iso_url, "", 0);
	/* a label is one word on a kernel command line: blanks spelled as udev's by-label names do (\x20),
	 * which is what inst.stage2=hd:LABEL= and root=live:CDLABEL= expect */
	for (const char *c = r->iso && r->iso->label ? r->iso->label : ""; !rc && *c; c++)
		rc = *c == ' ' ? sbuf_puts(&x->iso_label, "\\x20") : sbuf_append(&x->iso_label, c, 1);
	if (!rc)
		rc = sbuf_append(&x->iso_label, "", 0);
	if (!rc && r->n_images)
		rc = sbuf_printf(&x->image_path, "%s%s%s", root, sep, r->images[0].path);
	else if (!rc)
		rc = sbuf_append(&x->image_path, "", 0);
	if (!rc && r->n_images)
		rc = sbuf_printf(&x->image_url, "%sboot/%s", base, r->images[0].path);
	else if (!rc)
		rc = sbuf_append(&x->image_url, "", 0);
	if (rc)
		x->media_of = NULL;
	return rc;
}

/* Fill one boot entry object. 0, 1 (left out: unsafe command line, warned) or -ENOMEM. */
/* The entry becomes field `field` of parent, or (field NULL) a new item of the list parent. */
/* The boot id (x->id) and expanded command line (x->cmd) of one entry. 0 or -ENOMEM. */
static int entry_cmdline(struct rctx *x, const struct scan_release *r, const char *distro, const struct scan_kernel *k,
                         const char *kword, const struct cfg_kv *t)
{
	const char *root = x->cfg && x->cfg->rootfs_path ? x->cfg->rootfs_path
	                   : x->cat && x->cat->root      ? x->cat->root
	                                                 : "";
	int rc;
	sbuf_reset(&x->id);
	sbuf_reset(&x->cmd);
	sbuf_reset(&x->tmp);
	if ((rc = sbuf_printf(&x->id, "%s/%s/%s/%s", distro, r->name, kword, t->key)))
		return rc;
	size_t rl = strlen(root);
	if ((rc = sbuf_printf(&x->tmp, "%s%s%s", root, rl && root[rl - 1] == '/' ? "" : "/", r->path)))
		return rc;
	if ((rc = set_media_vars(x, r, root)))
		return rc;
	const struct scan_image *im = r->n_images ? &r->images[0] : NULL;
	/* a name "" never matches: ISO names are defined for ISO entries only, image names with an image */
	const char *iso = r->iso ? "" : NULL, *img = im ? "" : NULL;
	const char *builtins[] = {
	    "rootfs-path", x->tmp.data, "distro", distro, "release", r->name, "kernel-version", k->id,
	    "boot-id", x->id.data, "template", t->key, "mac", x->mac, "mac-hexraw", x->hex, "ip", x->ip,
	    iso ? "iso-path" : "", iso ? r->iso->file : "", iso ? "iso-url" : "", x->iso_url.data,
	    iso ? "iso-label" : "", x->iso_label.data,
	    img ? "image-path" : "", x->image_path.data, img ? "image-url" : "", x->image_url.data,
	    img ? "image-type" : "", img ? im->type : "", img ? "image-uuid" : "", img && im->uuid ? im->uuid : "",
	    img ? "image-label" : "", img && im->label ? im->label : "", NULL, NULL,
	};
	return expand_vars(t->value, builtins, x->cfg, &x->cmd);
}

/* A word (path, label) safe in both GRUB single quotes and a PXELINUX line: printable ASCII, no blank,
 * no quote, no backslash. */
static int plain_word(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || strchr("'\"\\", *s))
			return 0;
	return 1;
}

int plain_value(const char *s)
{
	if (!s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || strchr("'\"\\", *s))
			return 0;
	return 1;
}

/* Why the entry in x->id/x->cmd (kernel k) cannot be written into a GRUB or PXELINUX menu, or NULL. */
static const char *dialect_refusal(const struct rctx *x, const struct scan_kernel *k)
{
	if (!plain_word(x->id.data))
		return "its boot id holds a blank, quote or backslash";
	if (!plain_word(k->id) || !plain_word(k->kernel_path) || (k->initrd_path && !plain_word(k->initrd_path)))
		return "its kernel version, kernel or initrd path holds a blank, quote or backslash";
	if (!plain_value(x->cmd.data))
		return "its command line holds a quote or backslash (GRUB cannot pass it on exactly)";
	if (strstr(x->cmd.data, "${"))
		return "its command line uses a variable only iPXE expands at boot time";
	return NULL;
}

/* cmdline_args: each blank-separated word of x->cmd in single quotes (GRUB expands nothing inside them, and
 * grub's linux command joins its arguments with one blank, so the kernel sees the words as written). */
static void set_grub_args(struct rctx *x, struct tmpl_val *e)
{
	int rc = 0;
	const char *c = x->cmd.data ? x->cmd.data : "";
	sbuf_reset(&x->join);
	rc = sbuf_append(&x->join, "", 0);
	while (!rc && *c) {
		while (*c == ' ')
			c++;
		size_t n = strcspn(c, " ");
		if (n)
			rc = sbuf_printf(&x->join, "%s'%.*s'", x->join.len ? " " : "", (int)n, c);
		c += n;
	}
	if (rc)
		tmpl_set_bool(x->data, NULL, "cmdline_args", 0); /* records the failure */
	else
		tmpl_set_strn(x->data, e, "cmdline_args", x->join.data, x->join.len);
}

static int fill_entry(struct rctx *x, struct tmpl_val *parent, const char *field, const struct scan_release *r,
                      const char *distro, const struct scan_kernel *k, const char *kword, const struct cfg_kv *t,
                      int is_default)
{
	struct tmpl_data *d = x->data;
	int rc;
	if ((rc = entry_cmdline(x, r, distro, k, kword, t)))
		return rc;
	if (!ipxe_safe_value(x->cmd.data)) {
		warn(x, "%s left out: its command line is not safe in an iPXE script", x->id.data);
		return 1;
	}
	if (x->dialect != D_IPXE) {
		const char *why = dialect_refusal(x, k);
		if (why) {
			warn(x, "%s left out: %s", x->id.data, why);
			return 1;
		}
	}
	struct tmpl_val *e = field ? tmpl_set_obj(d, parent, field) : tmpl_list_add_obj(d, parent);
	tmpl_set_str(d, e, "label", x->id.data);
	tmpl_set_str(d, e, "id", x->id.data);
	tmpl_set_str(d, e, "distro", distro);
	tmpl_set_str(d, e, "release", r->name);
	tmpl_set_str(d, e, "kernel", kword);
	tmpl_set_str(d, e, "kernel_version", k->id);
	tmpl_set_str(d, e, "template", t->key);
	tmpl_set_str(d, e, "cmdline", x->cmd.data);
	tmpl_set_str(d, e, "kernel_name", "vmlinuz");
	set_join(x, e, "kernel_url", x->base, "boot/", k->kernel_path, NULL);
	if (k->initrd_path) {
		tmpl_set_str(d, e, "initrd_name", "initrd");
		set_join(x, e, "initrd_url", x->base, "boot/", k->initrd_path, NULL);
	}
	set_join(x, e, "kernel_path", "/boot/", k->kernel_path, NULL);
	if (k->initrd_path)
		set_join(x, e, "initrd_path", "/boot/", k->initrd_path, NULL);
	if (x->dialect == D_GRUB)
		set_grub_args(x, e);
	tmpl_set_bool(d, e, "is_default", is_default);
	int alias = strcmp(kword, k->id) != 0;
	char kid[256]; /* the version behind an alias is a file name: shown cleaned */
	text_clean(k->id, kid, sizeof kid);
	set_join(x, e, "text", kword, alias ? " (" : "", alias ? kid : "", alias ? ")" : "", " ", t->key,
	         is_default ? " [default]" : "", NULL);
	return tmpl_data_error(d);
}

static _Atomic(render_pin_fn) pin_hook;

void render_set_pin_hook(render_pin_fn fn)
{
	atomic_store(&pin_hook, fn);
}

/* The host's default boot target: 0 with *bt filled and *id set, -ENOENT (none configured or not
 * resolvable; warned into the menu when warn_menu). An API pin comes first (render_set_pin_hook). */
static int host_default(struct rctx *x, struct boot_target *bt, const char **id, int warn_menu)
{
	char why[512];
	if (x->have_pin) {
		*id = x->pin;
		if (boot_id_resolve(x->cfg, x->cat, *id, bt, why, sizeof why) == 0) {
			if (tname_ok(bt->tmpl->key))
				return 0;
			snprintf(why, sizeof why, "template name cannot be an iPXE label");
		}
		if (warn_menu)
			warn(x, "pin '%s' ignored: %s", *id, why);
	}
	*id = x->host ? x->host->boot_id : x->cfg ? x->cfg->default_distro : NULL;
	if (!*id || !**id)
		return -ENOENT;
	if (boot_id_resolve(x->cfg, x->cat, *id, bt, why, sizeof why) != 0) {
		if (warn_menu)
			warn(x, "default '%s' not found: %s", *id, why);
		return -ENOENT;
	}
	if (!tname_ok(bt->tmpl->key)) {
		if (warn_menu)
			warn(x, "default '%s' not usable: template name cannot be an iPXE label", *id);
		return -ENOENT;
	}
	return 0;
}

static void set_common(struct rctx *x)
{
	struct tmpl_data *d = x->data;
	struct tmpl_val *root = x->root;
	const struct config *cfg = x->cfg;
	char title[256];
	const char *tsrc = cfg && cfg->menu_title ? cfg->menu_title : "autopxe boot menu";
	while (*tsrc == '-' || *tsrc == ' ') /* `menu` would take a leading '-' for an option */
		tsrc++;
	text_clean(*tsrc ? tsrc : "autopxe boot menu", title, sizeof title);
	tmpl_set_str(d, root, "mac", x->mac);
	tmpl_set_str(d, root, "mac_hexraw", x->hex);
	tmpl_set_str(d, root, "ip", x->ip);
	tmpl_set_str(d, root, "title", title);
	tmpl_set_fmt(d, root, "menu_path", "/autopxe-%s", x->hex);
	tmpl_set_str(d, root, "file_base", x->base);

	struct tmpl_val *env = tmpl_set_list(d, root, "env");
	for (size_t i = 0; cfg && i < cfg->n_env; i++) {
		const struct cfg_kv *kv = &cfg->env[i];
		/* `set` would take a leading '-' for an option: such values are only expanded by the server */
		if (!label_ok(kv->key) || !kv->value || !ipxe_safe_value(kv->value) || kv->value[0] == '-')
			continue;
		struct tmpl_val *o = tmpl_list_add_obj(d, env);
		tmpl_set_str(d, o, "name", kv->key);
		tmpl_set_str(d, o, "value", kv->value);
	}

	enum menu_action ta = cfg ? cfg->timeout_action : ACTION_DEFAULT;
	unsigned tmo = cfg ? cfg->menu_timeout_ms : 10000;
	if (tmo > 0 && ta != ACTION_MENU)
		tmpl_set_fmt(d, root, "timeout", "%u", tmo);

	unsigned retries = cfg ? cfg->boot_retries : 2;
	if (retries > MAX_RENDER_RETRIES)
		retries = MAX_RENDER_RETRIES;
	tmpl_set_fmt(d, root, "retries", "%u", retries);
	struct tmpl_val *steps = tmpl_set_list(d, root, "retry_steps");
	for (unsigned i = retries; i-- > 0;) {
		struct tmpl_val *o = tmpl_list_add_obj(d, steps);
		tmpl_set_fmt(d, o, "n", "%u", i);
		tmpl_set_fmt(d, o, "next", "%u", i + 1);
	}
	unsigned delay = cfg ? cfg->retry_delay_ms : 3000;
	tmpl_set_fmt(d, root, "retry_delay", "%u", delay / 1000 + (delay % 1000 ? 1 : 0));

	static const struct {
		enum menu_action a;
		const char *label, *text;
	} failure[] = {
	    {ACTION_EXIT, "autopxe-exit", "exit to next boot device"},
	    {ACTION_REBOOT, "autopxe-reboot", "reboot"},
	    {ACTION_SHELL, "autopxe-shell", "iPXE shell"},
	    {ACTION_MENU, "autopxe-menu", "back to the menu"},
	};
	enum menu_action fa = cfg ? cfg->failure_action : ACTION_EXIT;
	size_t fi = 0;
	for (size_t i = 0; i < ARRAY_SIZE(failure); i++)
		if (failure[i].a == fa)
			fi = i;
	tmpl_set_str(d, root, "failure_label", failure[fi].label);
	tmpl_set_str(d, root, "failure_text", failure[fi].text);
}

/* The label and item text performing TimeoutAction when it is not "default" (NULL otherwise). */
static const char *timeout_action_label(const struct config *cfg, const char **text)
{
	switch (cfg ? cfg->timeout_action : ACTION_DEFAULT) {
	case ACTION_EXIT: *text = "Exit to next boot device"; return "autopxe-exit";
	case ACTION_REBOOT: *text = "Reboot"; return "autopxe-reboot";
	case ACTION_SHELL: *text = "iPXE shell"; return "autopxe-shell";
	default: return NULL;
	}
}

static int build_main(struct rctx *x)
{
	struct tmpl_data *d = x->data;
	struct boot_target bt;
	const char *id, *atext;
	char deflabel[512] = "autopxe-exit"; /* no usable default: the timeout exits to the next boot device */
	int rc;
	if (host_default(x, &bt, &id, 1) == 0) {
		rc = fill_entry(x, x->root, "default", bt.release, bt.distro->name, bt.kernel, bt.kernel_word, bt.tmpl, 1);
		if (rc < 0)
			return rc;
		if (rc == 0)
			snprintf(deflabel, sizeof deflabel, "%s", x->id.data);
	}
	const char *al = timeout_action_label(x->cfg, &atext);
	tmpl_set_str(d, x->root, "default_label", al ? al : deflabel);
	tmpl_set_str(d, x->root, "cancel_label", "autopxe-exit");
	struct tmpl_val *list = tmpl_set_list(d, x->root, "distros");
	size_t n = 0;
	for (size_t i = 0; x->cat && i < x->cat->n_distros; i++) {
		const struct scan_distro *sd = &x->cat->distros[i];
		if (!label_ok(sd->name) || strchr(sd->name, '/'))
			continue;
		struct tmpl_val *o = tmpl_list_add_obj(d, list);
		tmpl_set_fmt(d, o, "label", "autopxe-distro/%s", sd->name);
		tmpl_set_str(d, o, "name", sd->name);
		tmpl_set_fmt(d, o, "path", "/autopxe-%s/%s", x->hex, sd->name);
		tmpl_set_fmt(d, o, "releases", "%zu", sd->n_releases);
		n++;
	}
	tmpl_set_bool(d, x->root, "has_distros", n > 0);
	return tmpl_data_error(d);
}

/* One release of a distro submenu: every kernel word x template. */
static int build_release(struct rctx *x, struct tmpl_val *rels, const struct scan_distro *sd,
                         const struct scan_release *r, const struct boot_target *host, char *first, char *def,
                         size_t lablen)
{
	struct tmpl_data *d = x->data;
	struct tmpl_val *ro = NULL, *entries = NULL;
	int rc;
	if (!label_ok(r->name) || strchr(r->name, '/')) /* its heading would not parse */
		return 0;
	/* kernel words: "latest", each version newest first, then "default" */
	for (size_t ki = 0; ki < r->n_kernels + 2; ki++) {
		const struct scan_kernel *k;
		const char *word;
		if (ki == 0) {
			k = release_latest(r);
			word = "latest";
		} else if (ki <= r->n_kernels) {
			k = &r->kernels[ki - 1];
			word = k->id;
			/* ids that collide with the aliases cannot be named in a boot id */
			if (!strcmp(word, "latest") || !strcmp(word, "default") || !label_ok(word) || strchr(word, '/'))
				continue;
		} else {
			k = r->default_kernel;
			word = "default";
		}
		if (!k)
			continue;
		for (size_t ti = 0; x->cfg && ti < x->cfg->n_templates; ti++) {
			const struct cfg_kv *t = &x->cfg->templates[ti];
			if (!tname_ok(t->key) || !tmpl_offered(x->cfg, t, r))
				continue;
			if (!ro) {
				ro = tmpl_list_add_obj(d, rels);
				tmpl_set_str(d, ro, "name", r->name);
				if (r->pretty_name && ipxe_safe_value(r->pretty_name)) {
					char pretty[256];
					text_clean(r->pretty_name, pretty, sizeof pretty);
					tmpl_set_str(d, ro, "pretty", pretty);
				}
				entries = tmpl_set_list(d, ro, "entries");
			}
			int is_def = host && host->release == r && host->tmpl == t && !strcmp(host->kernel_word, word);
			if ((rc = fill_entry(x, entries, NULL, r, sd->name, k, word, t, is_def)) < 0)
				return rc;
			if (rc > 0)
				continue;
			x->n_entries++;
			if (!first[0])
				snprintf(first, lablen, "%s", x->id.data);
			if (is_def)
				snprintf(def, lablen, "%s", x->id.data);
		}
	}
	return 0;
}

static int build_distro(struct rctx *x, const struct scan_distro *sd)
{
	struct tmpl_data *d = x->data;
	struct boot_target bt;
	const char *hid = NULL, *atext = NULL;
	char first[512] = "", def[512] = "";
	int have_host = host_default(x, &bt, &hid, 0) == 0 && bt.distro == sd;
	int rc;
	tmpl_set_str(d, x->root, "distro", sd->name);
	tmpl_set_str(d, x->root, "cancel_label", "autopxe-back");
	struct tmpl_val *rels = tmpl_set_list(d, x->root, "releases");
	for (size_t ri = 0; ri < sd->n_releases; ri++)
		if ((rc = build_release(x, rels, sd, &sd->releases[ri], have_host ? &bt : NULL, first, def, sizeof first)))
			return rc;
	const char *al = timeout_action_label(x->cfg, &atext);
	if (al) {
		struct tmpl_val *ai = tmpl_set_obj(d, x->root, "action_item");
		tmpl_set_str(d, ai, "label", al);
		tmpl_set_str(d, ai, "text", atext);
	}
	/* default: TimeoutAction's item, else the host's default when it is here, else the first entry */
	tmpl_set_str(d, x->root, "default_label", al ? al : def[0] ? def : first[0] ? first : "autopxe-back");
	return tmpl_data_error(d);
}

/* Zero x and fill what every render takes from the client: its MAC in both spellings, its IP when it is a safe
 * word, the URL prefix of kernels/initrds ("/" unless file_base is a safe word). Borrows cfg, cat and cl. */
static void rctx_init(struct rctx *x, const struct config *cfg, const struct catalog *cat,
                      const struct render_client *cl)
{
	memset(x, 0, sizeof *x);
	x->cfg = cfg;
	x->cat = cat;
	x->cl = cl;
	x->has_mac = 1;
	mac_colon(cl->mac, x->mac);
	mac_hexraw(cl->mac, x->hex);
	if (cl->ip && label_ok(cl->ip) && strlen(cl->ip) < sizeof x->ip)
		snprintf(x->ip, sizeof x->ip, "%s", cl->ip);
	x->base = cl->file_base && *cl->file_base && label_ok(cl->file_base) ? cl->file_base : "/";
}

/* iPXE menus (and their command lines): a client in a subnet of HTTPBaseURLs loads kernels and initrds from
 * that mirror instead of file_base. */
static void base_for_client(struct rctx *x, const struct config *cfg, const struct render_client *cl)
{
	const char *u = config_base_url_for(cfg, cl->ip);
	if (u && label_ok(u))
		x->base = u;
}

/* Free what x owns (its template data and scratch buffers); the borrowed pointers stay untouched. */
static void rctx_free(struct rctx *x)
{
	tmpl_data_free(x->data);
	x->data = NULL;
	sbuf_free(&x->id);
	sbuf_free(&x->cmd);
	sbuf_free(&x->tmp);
	sbuf_free(&x->join);
	sbuf_free(&x->iso_url);
	sbuf_free(&x->iso_label);
	sbuf_free(&x->image_path);
	sbuf_free(&x->image_url);
}

int render_boot_cmdline(const struct config *cfg, const struct catalog *cat, const struct boot_target *bt,
                        const struct render_client *cl, sbuf *out)
{
	struct rctx x;
	int rc;
	if (!bt || !bt->release || !bt->kernel || !bt->tmpl || !cl)
		return -EINVAL;
	rctx_init(&x, cfg, cat, cl);
	base_for_client(&x, cfg, cl);
	rc = entry_cmdline(&x, bt->release, bt->distro->name, bt->kernel, bt->kernel_word, bt->tmpl);
	if (!rc)
		rc = sbuf_append(out, x.cmd.data ? x.cmd.data : "", x.cmd.len);
	rctx_free(&x);
	return rc;
}

int render_menu(const struct config *cfg, const struct catalog *cat, const struct menu_templates *t,
                const struct render_client *cl, const char *submenu, sbuf *out)
{
	struct menu_templates *own = NULL;
	struct rctx x;
	size_t start = out->len;
	int rc;
	if (!cl)
		return -EINVAL;
	rctx_init(&x, cfg, cat, cl); /* before any goto out: that frees x */
	base_for_client(&x, cfg, cl);
	if (!t) { /* convenience for tools and tests: the built-in templates */
		struct diag dg;
		diag_init(&dg);
		own = menu_templates_load(NULL, &dg);
		diag_free(&dg);
		if (!own)
			return -ENOMEM;
		t = own;
	}
	const struct scan_distro *sd = NULL;
	if (submenu && *submenu) {
		sd = catalog_distro_n(cat, submenu, strlen(submenu));
		if (!sd) {
			rc = -ENOENT;
			goto out;
		}
	}
	x.host = find_host(cfg, cl->mac);
	{
		render_pin_fn fn = atomic_load(&pin_hook);
		x.have_pin = fn && fn(cl, x.pin, sizeof x.pin) == 1;
	}
	x.data = tmpl_data_new();
	x.root = tmpl_data_root(x.data);
	if (!x.data) {
		rc = -ENOMEM;
		goto out;
	}
	set_common(&x);
	rc = sd ? build_distro(&x, sd) : build_main(&x);
	if (!rc)
		rc = tmpl_data_error(x.data);
	if (!rc)
		rc = tmpl_render(t->t[sd ? T_DISTRO : T_MAIN], x.root, t->partials[D_IPXE], t->n_partials[D_IPXE], out);
out:
	if (rc && out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
	rctx_free(&x);
	menu_templates_free(own);
	return rc;
}

/* ---------------------------------------------------------------- GRUB 2 and PXELINUX */

/* What GRUB and PXELINUX menus add to set_common: timeouts in their units, what the timeout and a failed boot do
 * (neither has an iPXE shell: TimeoutAction shell waits at the menu). */
static void set_dialect_common(struct rctx *x)
{
	struct tmpl_data *d = x->data;
	const struct config *cfg = x->cfg;
	enum menu_action ta = cfg ? cfg->timeout_action : ACTION_DEFAULT;
	unsigned tmo = cfg ? cfg->menu_timeout_ms : 10000;
	int wait = tmo == 0 || ta == ACTION_MENU || ta == ACTION_SHELL;
	unsigned ds = tmo / 100 + (tmo % 100 ? 1 : 0);
	if (wait) {
		tmpl_set_str(d, x->root, "timeout_s", "-1"); /* GRUB: wait for a key */
		tmpl_set_str(d, x->root, "timeout_ds", "0"); /* PXELINUX: 0 = no timeout */
	} else {
		tmpl_set_fmt(d, x->root, "timeout_s", "%u", tmo / 1000 + (tmo % 1000 ? 1 : 0));
		tmpl_set_fmt(d, x->root, "timeout_ds", "%u", ds > 35996 ? 35996 : ds); /* PXELINUX's maximum */
	}
	enum menu_action fa = cfg ? cfg->failure_action : ACTION_EXIT;
	if (fa == ACTION_EXIT || fa == ACTION_REBOOT)
		tmpl_set_str(d, x->root, "fallback_label", fa == ACTION_EXIT ? "autopxe-exit" : "autopxe-reboot");
	tmpl_set_bool(d, x->root, "menu_c32", x->cl->menu_c32);
	tmpl_set_bool(d, x->root, "has_mac", x->has_mac);
}

/* The whole catalog in one config: `default` (the host's entry), `distros` each with `releases` and `entries`,
 * `default_label` (the host's boot id, the TimeoutAction label, else autopxe-exit). */
static int build_full(struct rctx *x)
{
	struct tmpl_data *d = x->data;
	struct boot_target bt;
	const char *id = NULL;
	char deflabel[512] = "", first[512] = "", def[512] = "";
	int have = host_default(x, &bt, &id, 1) == 0;
	int rc;
	set_dialect_common(x);
	if (have && x->dialect == D_GRUB) { /* GRUB: a top-level entry `set default` names; PXELINUX: MENU DEFAULT */
		rc = fill_entry(x, x->root, "default", bt.release, bt.distro->name, bt.kernel, bt.kernel_word, bt.tmpl, 1);
		if (rc < 0)
			return rc;
		if (rc == 0)
			snprintf(deflabel, sizeof deflabel, "%s", x->id.data);
	}
	struct tmpl_val *list = tmpl_set_list(d, x->root, "distros");
	size_t n = 0;
	for (size_t i = 0; x->cat && i < x->cat->n_distros; i++) {
		const struct scan_distro *sd = &x->cat->distros[i];
		if (!label_ok(sd->name) || strchr(sd->name, '/') || !plain_word(sd->name))
			continue;
		struct tmpl_val *o = tmpl_list_add_obj(d, list);
		tmpl_set_fmt(d, o, "label", "autopxe-distro/%s", sd->name);
		tmpl_set_str(d, o, "name", sd->name);
		struct tmpl_val *rels = tmpl_set_list(d, o, "releases");
		size_t before = x->n_entries;
		for (size_t ri = 0; ri < sd->n_releases; ri++)
			if ((rc = build_release(x, rels, sd, &sd->releases[ri], have && bt.distro == sd ? &bt : NULL, first, def,
			                        sizeof first)))
				return rc;
		tmpl_set_bool(d, o, "has_entries", x->n_entries > before);
		n++;
	}
	tmpl_set_bool(d, x->root, "has_distros", n > 0);
	const char *atext;
	const char *al = timeout_action_label(x->cfg, &atext);
	if (al && strcmp(al, "autopxe-shell") == 0)
		al = NULL;
	const char *dl = al ? al : x->dialect == D_GRUB ? deflabel : def;
	tmpl_set_str(d, x->root, "default_label", dl[0] ? dl : "autopxe-exit");
	return tmpl_data_error(d);
}

/* GRUB / PXELINUX template `which` for client cl (has_mac 0: a generic config). Same contract as render_menu. */
static int render_dialect(const struct config *cfg, const struct catalog *cat, const struct menu_templates *t,
                          const struct render_client *cl, int has_mac, int which, sbuf *out)
{
	struct menu_templates *own = NULL;
	struct rctx x;
	size_t start = out->len;
	int rc;
	rctx_init(&x, cfg, cat, cl);
	x.dialect = tdefs[which].dialect;
	x.has_mac = has_mac;
	if (!plain_word(x.ip)) /* shown in comments and ${ip}: never a quote */
		x.ip[0] = '\0';
	if (!has_mac)
		x.mac[0] = x.hex[0] = '\0';
	if (!t) { /* convenience for tools and tests: the built-in templates */
		struct diag dg;
		diag_init(&dg);
		own = menu_templates_load(NULL, &dg);
		diag_free(&dg);
		if (!own) {
			rctx_free(&x);
			return -ENOMEM;
		}
		t = own;
	}
	x.host = has_mac ? find_host(cfg, cl->mac) : NULL;
	if (has_mac) { /* an API pin comes first in every dialect */
		render_pin_fn fn = atomic_load(&pin_hook);
		x.have_pin = fn && fn(cl, x.pin, sizeof x.pin) == 1;
	}
	x.data = tmpl_data_new();
	x.root = tmpl_data_root(x.data);
	rc = x.data ? 0 : -ENOMEM;
	if (!rc) {
		set_common(&x);
		rc = build_full(&x);
	}
	if (!rc)
		rc = tmpl_data_error(x.data);
	if (!rc)
		rc = tmpl_render(t->t[which], x.root, t->partials[x.dialect], t->n_partials[x.dialect], out);
	if (rc && out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
	rctx_free(&x);
	menu_templates_free(own);
	return rc;
}

/* 1..8 hex digits (a PXELINUX / GRUB IP-address config name, C0A80001 .. C). */
static int hex_ip_name(const char *s, size_t n)
{
	if (n < 1 || n > 8)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int menu_name_parse(const char *name, size_t len, struct menu_request *rq)
{
	static const char *const grub_dirs[] = {"grub/", "boot/grub/"};
	memset(rq, 0, sizeof *rq);
	if (!name)
		return 0;
	int m = menu_request_parse(name, len, rq->mac, rq->submenu, sizeof rq->submenu);
	if (m != 0) {
		rq->kind = MENU_IPXE;
		rq->has_mac = 1;
		return m;
	}
	size_t i = 0;
	while (i < len && (name[i] == '/' || name[i] == '\\'))
		i++;
	const char *s = name + i;
	size_t n = len - i;
	if (memchr(s, '\0', n))
		return 0;
	const char *rest = NULL;
	size_t rn = 0;
	for (size_t k = 0; k < ARRAY_SIZE(grub_dirs) && !rest; k++) {
		size_t pl = strlen(grub_dirs[k]);
		if (n >= pl + 8 && memcmp(s, grub_dirs[k], pl) == 0 && memcmp(s + pl, "grub.cfg", 8) == 0) {
			rest = s + pl + 8;
			rn = n - pl - 8;
			rq->kind = MENU_GRUB;
		}
	}
	if (!rest && n >= 13 && memcmp(s, "pxelinux.cfg/", 13) == 0) {
		rest = s + 13;
		rn = n - 13;
		rq->kind = MENU_PXELINUX;
		if (rn == 7 && memcmp(rest, "default", 7) == 0)
			return 1;
	} else if (rest) {
		if (rn == 0) {
			rq->kind = MENU_GRUB_LOADER;
			return 1;
		}
		if (rest[0] != '-') {
			rq->kind = 0;
			return 0; /* grub.cfg.bak, ...: a file */
		}
		rest++;
		rn--;
	}
	if (!rest) {
		rq->kind = 0;
		return 0;
	}
	if (hex_ip_name(rest, rn))
		return 1;
	if (rn > 3 && memcmp(rest, "01-", 3) == 0) {
		/* "01-" (ARP type Ethernet) and the MAC in any spelling: GRUB's own names use hyphens, the loader's
		 * ${net_default_mac} colons */
		if (mac_parse(rest + 3, rn - 3, rq->mac) != 0)
			return -EINVAL;
		rq->has_mac = 1;
		return 1;
	}
	rq->kind = 0; /* pxelinux.cfg/<uuid>, ...: a file (StaticDir / BootDir may have it) */
	return 0;
}

int render_request(const struct config *cfg, const struct catalog *cat, const struct menu_templates *t,
                   const struct render_client *cl, const struct menu_request *rq, sbuf *out)
{
	if (!cl || !rq)
		return -EINVAL;
	struct render_client c = *cl;
	if (rq->has_mac)
		memcpy(c.mac, rq->mac, 6);
	else
		memset(c.mac, 0, 6);
	if (rq->kind == MENU_IPXE)
		return render_menu(cfg, cat, t, &c, rq->submenu, out);
	int which = rq->kind == MENU_GRUB_LOADER ? T_GRUB_LOADER : rq->kind == MENU_GRUB ? T_GRUB_MAIN : T_PXE_MAIN;
	return render_dialect(cfg, cat, t, &c, rq->has_mac, which, out);
}

int render_format(const struct config *cfg, const struct catalog *cat, const struct menu_templates *t,
                  const struct render_client *cl, enum menu_format f, sbuf *out)
{
	struct menu_request rq = {.kind = f == MENU_FORMAT_GRUB       ? MENU_GRUB
	                                  : f == MENU_FORMAT_PXELINUX ? MENU_PXELINUX
	                                                              : MENU_IPXE,
	                          .has_mac = 1};
	if (!cl)
		return -EINVAL;
	memcpy(rq.mac, cl->mac, 6);
	return render_request(cfg, cat, t, cl, &rq, out);
}
