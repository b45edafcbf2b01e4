/* config.c - loads config.yaml (AutoPXE format plus autopxe's keys) with libyaml, collecting every problem. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "dhcp_proto.h"
#include "mac.h"
#include "util.h"

#ifndef AUTOPXE_DATADIR
#define AUTOPXE_DATADIR "/usr/local/share/autopxe"
#endif

#define CONFIG_MAX_BYTES (1024 * 1024) /* larger files are refused */
#define CONFIG_MAX_DEPTH 32            /* maps/lists nested deeper than this are refused */
#define CONFIG_MAX_DIAGS 100           /* problems reported per load; the rest are only counted */

/* State of one load: the document, where to report, and the config being filled. */
struct loader {
	yaml_document_t *doc;
	const char *file;    /* name used in diagnostics */
	const char *basedir; /* directory relative paths are resolved against, NULL = keep relative */
	struct diag *d;
	struct config *c;
	size_t shown;                      /* diagnostics added by this load */
	size_t errors;                     /* errors of this load, shown or not */
	size_t more_errors, more_warnings; /* beyond CONFIG_MAX_DIAGS, counted only */
};

/* A scalar's text (not NUL-terminated, may hold NUL bytes) and whether YAML would read it as null. */
struct sv {
	const char *s;
	size_t len;
	int null;
};

static int mark_num(size_t v) { return v >= (size_t)INT_MAX ? INT_MAX : (int)v + 1; }

/* Every diagnostic of a load goes through here, so that a hostile file cannot make thousands. */
static void add(struct loader *L, enum diag_sev sev, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void add(struct loader *L, enum diag_sev sev, int line, int col, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	if (sev == DIAG_ERROR)
		L->errors++;
	if (L->shown >= CONFIG_MAX_DIAGS) {
		if (sev == DIAG_ERROR)
			L->more_errors++;
		else
			L->more_warnings++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	L->shown++;
	diag_add(L->d, sev, L->file, line, col, "%s", buf);
}

static void msg_at(struct loader *L, enum diag_sev sev, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void msg_at(struct loader *L, enum diag_sev sev, const yaml_node_t *n, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	int line = n ? mark_num(n->start_mark.line) : 0;
	int col = n ? mark_num(n->start_mark.column) : 0;
	add(L, sev, line, col, "%s", buf);
}

#define ERR(L, n, ...) msg_at((L), DIAG_ERROR, (n), __VA_ARGS__)
#define WARN(L, n, ...) msg_at((L), DIAG_WARNING, (n), __VA_ARGS__)

/* Quote (part of) a scalar for a message: control bytes and quotes escaped, long text cut. */
struct shown {
	char s[100];
};
static struct shown show(const char *s, size_t len)
{
	struct shown out = {""};
	sanitize(s, len, out.s, sizeof out.s);
	return out;
}
#define SHOW(v) (show((v).s, (v).len).s)

static const char *kind_name(const yaml_node_t *n)
{
	if (!n)
		return "nothing";
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a map";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a single value";
	}
}

static yaml_node_t *node(struct loader *L, int idx) { return yaml_document_get_node(L->doc, idx); }

/* Fill *out from a scalar node; a non-scalar is an error (named after `what`). Block scalars
 * (| and >) lose their trailing newlines, so `key: >` cmdlines work. */
static int get_scalar(struct loader *L, const char *what, const yaml_node_t *n, struct sv *out)
{
	if (!n || n->type != YAML_SCALAR_NODE) {
		ERR(L, n, "%s: expected a single value, found %s", what, kind_name(n));
		return -EINVAL;
	}
	out->s = (const char *)n->data.scalar.value;
	out->len = n->data.scalar.length;
	yaml_scalar_style_t st = n->data.scalar.style;
	if (st == YAML_LITERAL_SCALAR_STYLE || st == YAML_FOLDED_SCALAR_STYLE)
		while (out->len && out->s[out->len - 1] == '\n')
			out->len--;
	out->null = 0;
	if (st == YAML_PLAIN_SCALAR_STYLE) {
		static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
		for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
			if (out->len == strlen(nulls[i]) && memcmp(out->s, nulls[i], out->len) == 0)
				out->null = 1;
	}
	return 0;
}

static int is_null_node(const yaml_node_t *n)
{
	struct sv v;
	if (!n || n->type != YAML_SCALAR_NODE)
		return 0;
	v.s = (const char *)n->data.scalar.value;
	v.len = n->data.scalar.length;
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (v.len == 0 || (v.len == 1 && v.s[0] == '~') || (v.len == 4 && strncasecmp(v.s, "null", 4) == 0));
}

/* Index of the first control byte (< 0x20 or 0x7f, NUL included), or -1. */
static long find_ctl(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return (long)i;
	}
	return -1;
}

/* Error when the value holds a byte that could break out of an iPXE script line. 0 or -EINVAL. */
static int check_ctl(struct loader *L, const yaml_node_t *n, const char *what, const struct sv *v)
{
	long i = find_ctl(v->s, v->len);
	if (i < 0)
		return 0;
	const char *why = v->s[i] == '\n' ? "a newline" : v->s[i] == '\r' ? "a carriage return" : "a control character";
	ERR(L, n, "%s: '%s' contains %s (not allowed in values placed into iPXE scripts)", what, SHOW(*v), why);
	return -EINVAL;
}

/* Error when a CmdlineTemplates or Env value holds a byte that cannot be carried exactly into every menu dialect:
 * GRUB menus pass each kernel argument as one single-quoted word (a ' would end it, and GRUB's linux command
 * re-escapes " and \ with a backslash before the kernel sees them); PXELINUX APPEND lines are taken literally,
 * so only the control bytes check_ctl refuses matter there. 0 or -EINVAL (with the value's file:line:col). */
static int check_quotes(struct loader *L, const yaml_node_t *n, const char *what, const struct sv *v)
{
	for (size_t i = 0; i < v->len; i++) {
		char c = v->s[i];
		if (c != '\'' && c != '"' && c != '\\')
			continue;
		ERR(L, n, "%s: '%s' contains %s (not allowed: kernel command lines are also placed into GRUB menus, where a "
		           "%s would end or change the quoted argument)",
		    what, SHOW(*v), c == '\\' ? "a backslash" : "a quote", c == '\\' ? "backslash" : "quote");
		return -EINVAL;
	}
	return 0;
}

static char *sv_dup(const struct sv *v)
{
	char *p = xcalloc(1, v->len + 1);
	memcpy(p, v->s, v->len);
	return p;
}

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       c == '-';
}

/* [A-Za-z0-9_.-]+ but not "." or "..": safe as an iPXE setting name and as a boot id part. */
static int valid_name(const char *s, size_t len)
{
	if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!name_char(s[i]))
			return 0;
	return 1;
}

/* distro/release/kernel/template: 4 non-empty parts of [A-Za-z0-9_.+~-], none "." or "..". */
static int valid_boot_id(const char *s, size_t len)
{
	size_t parts = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '/') {
			size_t n = i - start;
			if (n == 0 || (n == 1 && s[start] == '.') || (n == 2 && s[start] == '.' && s[start + 1] == '.'))
				return 0;
			parts++;
			start = i + 1;
		} else if (!name_char(s[i]) && s[i] != '+' && s[i] != '~') {
			return 0;
		}
	}
	return parts == 4;
}

/* Copy a scalar into a small NUL-terminated buffer; -E2BIG when it does not fit. */
static int sv_copy(const struct sv *v, char *buf, size_t sz)
{
	if (v->len >= sz || memchr(v->s, '\0', v->len))
		return -E2BIG;
	memcpy(buf, v->s, v->len);
	buf[v->len] = '\0';
	return 0;
}

/* Resolve a path against the config's directory (when relative and a directory is known) and
 * drop trailing '/' except for "/" itself. Caller frees. */
static char *resolve_path(struct loader *L, const struct sv *v)
{
	sbuf b = SBUF_INIT;
	if (v->s[0] != '/' && L->basedir) {
		sbuf_puts(&b, L->basedir);
		if (b.len && b.data[b.len - 1] != '/')
			sbuf_putc(&b, '/');
	}
	sbuf_append(&b, v->s, v->len);
	while (b.len > 1 && b.data[b.len - 1] == '/')
		b.data[--b.len] = '\0';
	char *p = sbuf_steal(&b);
	if (!p) {
		fputs("autopxe: out of memory\n", stderr);
		abort();
	}
	return p;
}

/* ---- key handlers ---- */

struct key_def;
typedef void (*key_fn)(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val);

struct word {
	const char *w;
	int v;
};

struct key_def {
	const char *name;
	key_fn fn;
	size_t off;                   /* field in struct config */
	unsigned long long min, max;  /* numbers */
	const struct word *words;     /* enums, terminated by {NULL, 0} */
};

#define FIELD(c, k, type) ((type *)(void *)((char *)(c) + (k)->off))

static void h_version(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	struct sv v;
	char tmp[32];
	unsigned long long x;
	if (get_scalar(L, k->name, val, &v))
		return;
	if (v.null || sv_copy(&v, tmp, sizeof tmp) || parse_uint(tmp, 0, ~0ULL, &x)) {
		ERR(L, val, "%s: '%s' is not a version number (this autopxe reads version 1)", k->name, SHOW(v));
		return;
	}
	if (x != 1) {
		ERR(L, val, "%s: unsupported version %llu (this autopxe reads version 1)", k->name, x);
		return;
	}
	L->c->version = 1;
}

static void h_default(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	struct sv v;
	if (get_scalar(L, k->name, val, &v) || v.null)
		return;
	if (check_ctl(L, val, k->name, &v))
		return;
	if (!valid_boot_id(v.s, v.len)) {
		ERR(L, val, "%s: '%s' is not a boot id (want distro/release/kernel/template)", k->name, SHOW(v));
		return;
	}
	free(L->c->default_distro);
	L->c->default_distro = sv_dup(&v);
	L->c->default_line = mark_num(key->start_mark.line);
	L->c->default_col = mark_num(key->start_mark.column);
}

/* A path-valued key: non-empty, no control bytes, resolved against the config's directory. */
static int get_path(struct loader *L, const struct key_def *k, const yaml_node_t *val, char **out)
{
	struct sv v;
	if (get_scalar(L, k->name, val, &v))
		return -EINVAL;
	if (v.null || v.len == 0) {
		ERR(L, val, "%s: must not be empty", k->name);
		return -EINVAL;
	}
	if (check_ctl(L, val, k->name, &v))
		return -EINVAL;
	free(*out);
	*out = resolve_path(L, &v);
	return 0;
}

static void h_path(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	if (is_null_node(val)) /* "StaticDir:" with no value keeps the default */
		return;
	get_path(L, k, val, FIELD(L->c, k, char *));
}

static void h_rootfs(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	if (get_path(L, k, val, &L->c->rootfs_path))
		return;
	if (strpbrk(L->c->rootfs_path, " \"'"))
		WARN(L, val, "%s: contains a space or quote; kernel command lines using ${rootfs-path} will break",
		     k->name);
}

/* Free text placed into scripts (MenuTitle, User): no control bytes. */
static void h_text(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	struct sv v;
	if (get_scalar(L, k->name, val, &v) || v.null)
		return;
	if (check_ctl(L, val, k->name, &v))
		return;
	char **f = FIELD(L->c, k, char *);
	free(*f);
	*f = sv_dup(&v);
}

static void h_user(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	struct sv v;
	if (get_scalar(L, k->name, val, &v) || v.null)
		return;
	if (!valid_name(v.s, v.len)) {
		ERR(L, val, "%s: '%s' is not a user name", k->name, SHOW(v));
		return;
	}
	free(L->c->user);
	L->c->user = sv_dup(&v);
}

static int url_ok(const struct sv *v)
{
	size_t pre = v->len >= 7 && strncasecmp(v->s, "http://", 7) == 0    ? 7
	             : v->len >= 8 && strncasecmp(v->s, "https://", 8) == 0 ? 8
	                                                                    : 0;
	return pre && v->len != pre && v->s[pre] != '/' && !memchr(v->s, ' ', v->len) && !memchr(v->s, '"', v->len) &&
	       !memchr(v->s, '$', v->len) && !memchr(v->s, '\\', v->len);
}

static void h_url(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	struct sv v;
	if (get_scalar(L, k->name, val, &v) || v.null)
		return;
	if (check_ctl(L, val, k->name, &v))
		return;
	if (!url_ok(&v)) {
		ERR(L, val, "%s: '%s' is not an http:// or https:// URL without spaces", k->name, SHOW(v));
		return;
	}
	free(L->c->http_base_url);
	L->c->http_base_url = sv_dup(&v);
}

/* "192.0.2.0/24", "2001:db8::/32", a bare address (a /32 or /128) -> 16 bytes (IPv4 mapped) and a prefix over
 * 128 bits. 0 or -EINVAL (also for host bits set beyond the prefix). */
static int parse_cidr(const char *s, size_t len, uint8_t addr[16], unsigned *prefix)
{
	char buf[64];
	const char *slash;
	unsigned long p;
	int v6;
	if (len >= sizeof buf)
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	v6 = strchr(buf, ':') != NULL;
	if (slash) {
		char *end;
		errno = 0;
		p = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || errno || p > (v6 ? 128u : 32u))
			return -EINVAL;
		buf[slash - buf] = '\0';
	} else {
		p = v6 ? 128 : 32;
	}
	memset(addr, 0, 16);
	if (v6) {
		if (inet_pton(AF_INET6, buf, addr) != 1)
			return -EINVAL;
		*prefix = (unsigned)p;
	} else {
		addr[10] = addr[11] = 0xff;
		if (inet_pton(AF_INET, buf, addr + 12) != 1)
			return -EINVAL;
		*prefix = (unsigned)p + 96;
	}
	for (unsigned b = *prefix; b < 128; b++)
		if (addr[b / 8] & (0x80 >> (b % 8)))
			return -EINVAL;
	return 0;
}

/* HTTPBaseURLs: a map of client subnet -> mirror URL. */
static void h_base_urls(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	struct config *c = L->c;
	(void)key;
	if (c->base_urls || is_null_node(val))
		return;
	if (val->type != YAML_MAPPING_NODE) {
		ERR(L, val, "%s: expected a map of subnet: URL, found %s", k->name, kind_name(val));
		return;
	}
	size_t npairs = (size_t)(val->data.mapping.pairs.top - val->data.mapping.pairs.start);
	c->base_urls = xcalloc(npairs ? npairs : 1, sizeof *c->base_urls);
	for (yaml_node_pair_t *p = val->data.mapping.pairs.start; p < val->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node(L, p->key), *vn = node(L, p->value);
		struct sv m, v;
		struct cfg_base_url *b = &c->base_urls[c->n_base_urls];
		if (get_scalar(L, k->name, kn, &m))
			continue;
		if (parse_cidr(m.s, m.len, b->addr, &b->prefix) != 0) {
			ERR(L, kn, "%s: '%s' is not a subnet (192.0.2.0/24, 2001:db8::/32)", k->name, SHOW(m));
			continue;
		}
		for (size_t i = 0; i < c->n_base_urls; i++)
			if (c->base_urls[i].prefix == b->prefix && memcmp(c->base_urls[i].addr, b->addr, 16) == 0)
				WARN(L, kn, "%s: '%s' is given twice (line %u): the first one applies", k->name, SHOW(m),
				     c->base_urls[i].line);
		char what[160];
		snprintf(what, sizeof what, "%s: %s", k->name, SHOW(m));
		if (get_scalar(L, what, vn, &v) || v.null || check_ctl(L, vn, what, &v))
			continue;
		if (!url_ok(&v)) {
			ERR(L, vn, "%s: '%s' is not an http:// or https:// URL without spaces", what, SHOW(v));
			continue;
		}
		b->url = xcalloc(v.len + 2, 1);
		memcpy(b->url, v.s, v.len);
		if (v.s[v.len - 1] != '/')
			b->url[v.len] = '/';
		b->line = mark_num(kn->start_mark.line);
		c->n_base_urls++;
	}
}

/* StateURL: "sqlite:///absolute/file" or "postgresql://..." (libpq's URL; may hold a password: never echoed). */
static void h_state_url(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	struct sv v;
	(void)key;
	if (get_scalar(L, k->name, val, &v) || v.null)
		return;
	if (check_ctl(L, val, k->name, &v))
		return;
	int sq = v.len > 10 && strncmp(v.s, "sqlite:///", 10) == 0;
	int pg = (v.len > 13 && strncmp(v.s, "postgresql://", 13) == 0) || (v.len > 11 && strncmp(v.s, "postgres://", 11) == 0);
	if (!sq && !pg) {
		ERR(L, val, "%s: not a sqlite:///<file> or postgresql://... URL", k->name);
		return;
	}
	free(L->c->state_url);
	L->c->state_url = sv_dup(&v);
}

static void h_listen(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	struct sv v;
	char tmp[128];
	if (get_scalar(L, k->name, val, &v))
		return;
	if (sv_copy(&v, tmp, sizeof tmp) || listen_parse(tmp, FIELD(L->c, k, struct listen_spec))) {
		ERR(L, val, "%s: '%s' is not a listen address (want off, ADDR:PORT, [V6ADDR]:PORT or :PORT)", k->name,
		    SHOW(v));
	}
}

static void h_uint(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	struct sv v;
	char tmp[32];
	unsigned long long x;
	if (get_scalar(L, k->name, val, &v))
		return;
	int rc = v.null ? -EINVAL : sv_copy(&v, tmp, sizeof tmp) ? -E2BIG : parse_uint(tmp, k->min, k->max, &x);
	if (rc == -EINVAL || (rc == -E2BIG && !(v.len && strspn(v.s, "0123456789") >= v.len))) {
		ERR(L, val, "%s: '%s' is not a whole number", k->name, SHOW(v));
		return;
	}
	if (rc) {
		ERR(L, val, "%s: %s is out of range (%llu..%llu)", k->name, SHOW(v), k->min, k->max);
		return;
	}
	*FIELD(L->c, k, unsigned) = (unsigned)x;
}

static void h_bool(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	static const struct word bools[] = {{"true", 1}, {"false", 0}, {"yes", 1}, {"no", 0}, {"on", 1}, {"off", 0}};
	struct sv v;
	if (get_scalar(L, k->name, val, &v))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(bools); i++) {
		if (v.len == strlen(bools[i].w) && strncasecmp(v.s, bools[i].w, v.len) == 0) {
			*FIELD(L->c, k, int) = bools[i].v;
			return;
		}
	}
	ERR(L, val, "%s: '%s' is not true or false", k->name, SHOW(v));
}

static void h_word(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	struct sv v;
	char list[128] = "";
	if (get_scalar(L, k->name, val, &v))
		return;
	for (const struct word *w = k->words; w->w; w++) {
		if (v.len == strlen(w->w) && strncasecmp(v.s, w->w, v.len) == 0) {
			if (k->off == offsetof(struct config, log_level))
				L->c->log_level = (enum log_level)w->v;
			else
				*FIELD(L->c, k, enum menu_action) = (enum menu_action)w->v;
			return;
		}
		size_t o = strlen(list);
		snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "", w->w);
	}
	ERR(L, val, "%s: '%s' is not one of %s", k->name, SHOW(v), list);
}

/* Duplicate detection by sorting (O(n log n) even for huge maps): one entry per map key. */
struct dup_ent {
	const char *name;  /* Env/template name, or NULL for MACs */
	const uint8_t *mac;
	size_t idx;
	int line, col;
};

static int dup_cmp(const void *a, const void *b)
{
	const struct dup_ent *x = a, *y = b;
	int r = x->name ? strcmp(x->name, y->name) : memcmp(x->mac, y->mac, 6);
	return r ? r : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Report every entry equal to an earlier one, naming the first one's position. */
static void report_dups(struct loader *L, const char *section, struct dup_ent *e, size_t n)
{
	if (n < 2)
		return;
	qsort(e, n, sizeof *e, dup_cmp);
	size_t first = 0;
	for (size_t i = 1; i < n; i++) {
		int same = e[i].name ? strcmp(e[first].name, e[i].name) == 0 : memcmp(e[first].mac, e[i].mac, 6) == 0;
		if (!same) {
			first = i;
			continue;
		}
		if (e[i].mac) {
			char m[18];
			mac_colon(e[i].mac, m);
			add(L, DIAG_ERROR, e[i].line, e[i].col,
			         "%s: duplicate MAC %s (also on line %d, column %d)", section, m, e[first].line,
			         e[first].col);
		} else {
			struct shown sh = show(e[i].name, strlen(e[i].name));
			add(L, DIAG_ERROR, e[i].line, e[i].col,
			         "%s: duplicate key '%s' (first on line %d, column %d)", section, sh.s, e[first].line,
			         e[first].col);
		}
	}
}

/* Env and CmdlineTemplates: an ordered map of name -> single-line text. */
static void load_kv_map(struct loader *L, const char *section, const yaml_node_t *val, struct cfg_kv **arr, size_t *n,
                        int is_tmpl)
{
	if (is_null_node(val))
		return;
	if (val->type != YAML_MAPPING_NODE) {
		ERR(L, val, "%s: expected a map of name: value, found %s", section, kind_name(val));
		return;
	}
	size_t npairs = (size_t)(val->data.mapping.pairs.top - val->data.mapping.pairs.start);
	*arr = xcalloc(npairs ? npairs : 1, sizeof **arr);
	for (yaml_node_pair_t *p = val->data.mapping.pairs.start; p < val->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node(L, p->key), *vn = node(L, p->value);
		struct sv k, v;
		if (get_scalar(L, section, kn, &k))
			continue;
		if (!valid_name(k.s, k.len)) {
			ERR(L, kn, "%s: '%s' is not a valid name (use letters, digits, '_', '.', '-')", section,
			    SHOW(k));
			continue;
		}
		char what[160];
		snprintf(what, sizeof what, "%s: %.*s", section, (int)(k.len > 100 ? 100 : k.len), k.s);
		if (get_scalar(L, what, vn, &v))
			continue;
		if (check_ctl(L, vn, what, &v) || check_quotes(L, vn, what, &v))
			continue;
		if (is_tmpl) {
			size_t sp = 0;
			while (sp < v.len && v.s[sp] == ' ')
				sp++;
			if (v.null || sp == v.len) {
				ERR(L, vn, "%s: template is empty", what);
				continue;
			}
		}
		struct cfg_kv *e = &(*arr)[(*n)++];
		e->key = sv_dup(&k);
		e->value = sv_dup(&v);
		e->line = mark_num(kn->start_mark.line);
		e->col = mark_num(kn->start_mark.column);
	}
	struct dup_ent *d = xcalloc(*n ? *n : 1, sizeof *d);
	for (size_t i = 0; i < *n; i++)
		d[i] = (struct dup_ent){(*arr)[i].key, NULL, i, (*arr)[i].line, (*arr)[i].col};
	report_dups(L, section, d, *n);
	free(d);
}

static void h_env(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	if (L->c->env)
		return; /* duplicate top-level key, already reported */
	load_kv_map(L, k->name, val, &L->c->env, &L->c->n_env, 0);
}

static void h_templates(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	if (L->c->templates)
		return;
	load_kv_map(L, k->name, val, &L->c->templates, &L->c->n_templates, 1);
}

static void h_hosts(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	struct config *c = L->c;
	if (c->hosts || is_null_node(val))
		return;
	if (val->type != YAML_MAPPING_NODE) {
		ERR(L, val, "%s: expected a map of MAC: boot id, found %s", k->name, kind_name(val));
		return;
	}
	size_t npairs = (size_t)(val->data.mapping.pairs.top - val->data.mapping.pairs.start);
	c->hosts = xcalloc(npairs ? npairs : 1, sizeof *c->hosts);
	for (yaml_node_pair_t *p = val->data.mapping.pairs.start; p < val->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node(L, p->key), *vn = node(L, p->value);
		struct sv m, v;
		uint8_t mac[6];
		if (get_scalar(L, k->name, kn, &m))
			continue;
		if (mac_parse(m.s, m.len, mac)) {
			ERR(L, kn, "%s: '%s' is not a MAC address", k->name, SHOW(m));
			continue;
		}
		char what[160];
		snprintf(what, sizeof what, "%s: %s", k->name, SHOW(m));
		if (get_scalar(L, what, vn, &v))
			continue;
		if (v.null) {
			ERR(L, vn, "%s: no boot id given", what);
			continue;
		}
		if (check_ctl(L, vn, what, &v))
			continue;
		if (!valid_boot_id(v.s, v.len)) {
			ERR(L, vn, "%s: '%s' is not a boot id (want distro/release/kernel/template)", what, SHOW(v));
			continue;
		}
		struct cfg_host *h = &c->hosts[c->n_hosts++];
		memcpy(h->mac, mac, 6);
		h->boot_id = sv_dup(&v);
		h->line = mark_num(kn->start_mark.line);
		h->col = mark_num(kn->start_mark.column);
	}
	struct dup_ent *d = xcalloc(c->n_hosts ? c->n_hosts : 1, sizeof *d);
	for (size_t i = 0; i < c->n_hosts; i++)
		d[i] = (struct dup_ent){NULL, c->hosts[i].mac, i, c->hosts[i].line, c->hosts[i].col};
	report_dups(L, k->name, d, c->n_hosts);
	free(d);
}

/* ProxyDHCPInterfaces: a list of interface names (or one name). */
static void h_ifaces(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	struct config *c = L->c;
	if (c->proxy_ifaces || is_null_node(val))
		return;
	const yaml_node_t *one[1] = {val};
	size_t n = 1;
	if (val->type == YAML_SEQUENCE_NODE)
		n = (size_t)(val->data.sequence.items.top - val->data.sequence.items.start);
	c->proxy_ifaces = xcalloc(n ? n : 1, sizeof *c->proxy_ifaces);
	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *it = val->type == YAML_SEQUENCE_NODE ? node(L, val->data.sequence.items.start[i]) : one[0];
		struct sv v;
		if (get_scalar(L, k->name, it, &v))
			continue;
		if (v.null || v.len == 0 || v.len >= 16 || find_ctl(v.s, v.len) >= 0 || memchr(v.s, '/', v.len) ||
		    memchr(v.s, ' ', v.len)) {
			ERR(L, it, "%s: '%s' is not an interface name", k->name, SHOW(v));
			continue;
		}
		c->proxy_ifaces[c->n_proxy_ifaces++] = sv_dup(&v);
	}
}

/* BootFiles: a map of architecture (name or option 93 number) -> boot file. */
static void h_bootfiles(struct loader *L, const struct key_def *k, const yaml_node_t *key, const yaml_node_t *val)
{
	struct config *c = L->c;
	if (c->boot_files || is_null_node(val))
		return;
	if (val->type != YAML_MAPPING_NODE) {
		ERR(L, val, "%s: expected a map of architecture: file, found %s", k->name, kind_name(val));
		return;
	}
	size_t npairs = (size_t)(val->data.mapping.pairs.top - val->data.mapping.pairs.start);
	c->boot_files = xcalloc(npairs * 4 + 1, sizeof *c->boot_files);
	for (yaml_node_pair_t *p = val->data.mapping.pairs.start; p < val->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node(L, p->key), *vn = node(L, p->value);
		struct sv a, v;
		uint16_t codes[4];
		if (get_scalar(L, k->name, kn, &a))
			continue;
		int nc = dhcp_arch_parse(a.s, a.len, codes);
		if (nc <= 0) {
			ERR(L, kn, "%s: '%s' is not an architecture (bios, efi-ia32, efi-x64, efi-arm64, http-x64, ... or an "
			           "option 93 number)", k->name, SHOW(a));
			continue;
		}
		char what[160];
		snprintf(what, sizeof what, "%s: %s", k->name, SHOW(a));
		if (get_scalar(L, what, vn, &v) || check_ctl(L, vn, what, &v))
			continue;
		if (v.len > 200 || memchr(v.s, ' ', v.len)) {
			ERR(L, vn, "%s: '%s' is not a boot file name (no spaces, at most 200 bytes)", what, SHOW(v));
			continue;
		}
		for (int j = 0; j < nc; j++) {
			int dup = 0;
			for (size_t e = 0; e < c->n_boot_files; e++)
				if (c->boot_files[e].arch == codes[j]) {
					ERR(L, kn, "%s: architecture %u given twice (first on line %d)", k->name, codes[j],
					    c->boot_files[e].line);
					dup = 1;
				}
			if (dup)
				continue;
			struct cfg_bootfile *b = &c->boot_files[c->n_boot_files++];
			b->arch = codes[j];
			b->file = v.null ? xstrdup("") : sv_dup(&v);
			b->line = mark_num(kn->start_mark.line);
			b->col = mark_num(kn->start_mark.column);
		}
	}
}

static const struct word timeout_words[] = {
    {"default", ACTION_DEFAULT}, {"exit", ACTION_EXIT}, {"reboot", ACTION_REBOOT}, {"shell", ACTION_SHELL}, {NULL, 0}};
static const struct word failure_words[] = {
    {"exit", ACTION_EXIT}, {"reboot", ACTION_REBOOT}, {"shell", ACTION_SHELL}, {"menu", ACTION_MENU}, {NULL, 0}};
static const struct word level_words[] = {{"error", LOG_ERROR}, {"warn", LOG_WARN}, {"warning", LOG_WARN},
                                          {"info", LOG_INFO},   {"debug", LOG_DEBUG}, {NULL, 0}};

#define OFF(f) offsetof(struct config, f)
/* Every top-level key. Ranges are inclusive. */
static const struct key_def keys[] = {
    {"version", h_version, 0, 0, 0, NULL},
    {"DefaultDistro", h_default, 0, 0, 0, NULL},
    {"RootfsPath", h_rootfs, 0, 0, 0, NULL},
    {"Env", h_env, 0, 0, 0, NULL},
    {"CmdlineTemplates", h_templates, 0, 0, 0, NULL},
    {"HostDefaults", h_hosts, 0, 0, 0, NULL},
    {"TFTPListen", h_listen, OFF(tftp_listen), 0, 0, NULL},
    {"HTTPListen", h_listen, OFF(http_listen), 0, 0, NULL},
    {"HTTPBaseURL", h_url, 0, 0, 0, NULL},
    {"HTTPBaseURLs", h_base_urls, 0, 0, 0, NULL},
    {"MenuTimeout", h_uint, OFF(menu_timeout_ms), 0, 86400000, NULL},
    {"MenuTitle", h_text, OFF(menu_title), 0, 0, NULL},
    {"TimeoutAction", h_word, OFF(timeout_action), 0, 0, timeout_words},
    {"FailureAction", h_word, OFF(failure_action), 0, 0, failure_words},
    {"BootRetries", h_uint, OFF(boot_retries), 0, 100, NULL},
    {"RetryDelay", h_uint, OFF(retry_delay_ms), 0, 3600000, NULL},
    {"StaticDir", h_path, OFF(static_dir), 0, 0, NULL},
    {"IPXEDir", h_path, OFF(ipxe_dir), 0, 0, NULL},
    {"BootDir", h_path, OFF(boot_dir), 0, 0, NULL},
    {"TemplatesDir", h_path, OFF(templates_dir), 0, 0, NULL},
    {"ISOPath", h_path, OFF(iso_dir), 0, 0, NULL},
    {"CacheDir", h_path, OFF(cache_dir), 0, 0, NULL},
    {"User", h_user, 0, 0, 0, NULL},
    {"LogLevel", h_word, OFF(log_level), 0, 0, level_words},
    {"Watch", h_bool, OFF(watch), 0, 0, NULL},
    {"TFTPMaxBlockSize", h_uint, OFF(tftp_max_blksize), 8, 65464, NULL},
    {"TFTPMaxWindowSize", h_uint, OFF(tftp_max_window), 1, 65535, NULL},
    {"TFTPTimeout", h_uint, OFF(tftp_timeout_ms), 100, 255000, NULL},
    {"TFTPRetries", h_uint, OFF(tftp_retries), 1, 50, NULL},
    {"TFTPMaxSessions", h_uint, OFF(tftp_max_sessions), 1, 1000000, NULL},
    {"TFTPMaxPerClient", h_uint, OFF(tftp_max_per_client), 1, 65535, NULL},
    {"TFTPThreads", h_uint, OFF(tftp_threads), 0, 64, NULL},
    {"TFTPBusyPoll", h_uint, OFF(tftp_busy_poll_us), 0, 1000, NULL},
    {"HTTPMaxConnections", h_uint, OFF(http_max_conns), 1, 1000000, NULL},
    {"HTTPMaxPerClient", h_uint, OFF(http_max_per_client), 1, 1000000, NULL},
    {"HTTPTimeout", h_uint, OFF(http_timeout_s), 1, 86400, NULL},
    {"HTTPThreads", h_uint, OFF(http_threads), 0, 1024, NULL},
    {"AllowRemoteReload", h_bool, OFF(allow_remote_reload), 0, 0, NULL},
    {"ProxyDHCP", h_bool, OFF(proxy_dhcp), 0, 0, NULL},
    {"ProxyDHCPInterfaces", h_ifaces, 0, 0, 0, NULL},
    {"BootFiles", h_bootfiles, 0, 0, 0, NULL},
    {"PXEDiscoveryControl", h_uint, OFF(pxe_discovery_control), 0, 255, NULL},
    {"ProxyDHCPPort", h_uint, OFF(proxy_dhcp_port), 1, 65535, NULL},
    {"PXEBootServerPort", h_uint, OFF(pxe_server_port), 0, 65535, NULL},
    {"StateDir", h_path, OFF(state_dir), 0, 0, NULL},
    {"StateURL", h_state_url, 0, 0, 0, NULL},
    {"StateURLFile", h_path, OFF(state_url_file), 0, 0, NULL},
    {"StateStore", h_bool, OFF(state_store), 0, 0, NULL},
    {"NodeEvents", h_uint, OFF(node_events), 1, 10000, NULL},
    {"NodeTimeout", h_uint, OFF(node_timeout_s), 0, 86400, NULL},
    {"APITokenFile", h_path, OFF(api_token_file), 0, 0, NULL},
};
enum { KEY_VERSION = 0, KEY_ROOTFS = 2, N_KEYS = ARRAY_SIZE(keys) };

/* Case-insensitive edit distance, for "did you mean" on unknown keys (short strings only). */
static size_t edit_distance(const char *a, size_t la, const char *b)
{
	size_t lb = strlen(b), row[64], prev;
	if (la > 40 || lb > 40)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			int same = (a[i - 1] | 0x20) == (b[j - 1] | 0x20);
			size_t best = prev + (same ? 0 : 1);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

static const char *suggest_key(const char *s, size_t len)
{
	const char *best = NULL;
	size_t bestd = 3; /* suggest only at distance <= 2 */
	for (size_t i = 0; i < N_KEYS; i++) {
		size_t dist = edit_distance(s, len, keys[i].name);
		if (dist < bestd && dist < strlen(keys[i].name) / 2) {
			bestd = dist;
			best = keys[i].name;
		}
	}
	return best;
}

static void load_top(struct loader *L, const yaml_node_t *root)
{
	const yaml_node_t *seen[N_KEYS] = {0};
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node(L, p->key), *vn = node(L, p->value);
		struct sv k;
		if (!kn || kn->type != YAML_SCALAR_NODE) {
			ERR(L, kn, "top-level keys must be names, found %s", kind_name(kn));
			continue;
		}
		get_scalar(L, "key", kn, &k);
		size_t i;
		for (i = 0; i < N_KEYS; i++)
			if (k.len == strlen(keys[i].name) && memcmp(k.s, keys[i].name, k.len) == 0)
				break;
		if (i == N_KEYS) {
			const char *s = L->shown < CONFIG_MAX_DIAGS ? suggest_key(k.s, k.len) : NULL;
			WARN(L, kn, "unknown key '%s' ignored%s%s%s", SHOW(k), s ? " (did you mean " : "", s ? s : "",
			     s ? "?)" : "");
			continue;
		}
		if (seen[i]) {
			ERR(L, kn, "duplicate key '%s' (first on line %d, column %d)", keys[i].name,
			    mark_num(seen[i]->start_mark.line), mark_num(seen[i]->start_mark.column));
			continue;
		}
		seen[i] = kn;
		keys[i].fn(L, &keys[i], kn, vn);
	}
	if (!seen[KEY_VERSION])
		add(L, DIAG_WARNING, mark_num(root->start_mark.line), mark_num(root->start_mark.column),
		         "no 'version' key; assuming version 1");
	if (!seen[KEY_ROOTFS])
		add(L, DIAG_ERROR, mark_num(root->start_mark.line), mark_num(root->start_mark.column),
		         "missing required key RootfsPath (the directory holding <distro>/<release>/)");
	if (L->c->n_templates == 0 && L->errors == 0)
		add(L, DIAG_WARNING, 0, 0, "no CmdlineTemplates: menus will have no boot entries");
}

/* ---- YAML plumbing ---- */

static void offset_to_pos(const char *buf, size_t len, size_t off, int *line, int *col)
{
	int l = 1, c = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			l++;
			c = 1;
		} else if (c < INT_MAX) {
			c++;
		}
		if (l == INT_MAX)
			break;
	}
	*line = l;
	*col = c;
}

static void report_parser(struct loader *L, const yaml_parser_t *p, const char *buf, size_t len)
{
	const char *problem = p->problem ? p->problem : "unknown problem";
	int line, col;
	switch (p->error) {
	case YAML_MEMORY_ERROR:
		add(L, DIAG_ERROR, 0, 0, "out of memory while reading YAML");
		break;
	case YAML_READER_ERROR:
		offset_to_pos(buf, len, p->problem_offset, &line, &col);
		if (p->problem_value >= 0)
			add(L, DIAG_ERROR, line, col, "unreadable input: %s (byte 0x%02x)", problem,
			         (unsigned)p->problem_value & 0xffu);
		else
			add(L, DIAG_ERROR, line, col, "unreadable input: %s", problem);
		break;
	default:
		line = mark_num(p->problem_mark.line);
		col = mark_num(p->problem_mark.column);
		if (p->context)
			add(L, DIAG_ERROR, line, col, "YAML syntax error: %s (%s at line %d, column %d)",
			         problem, p->context, mark_num(p->context_mark.line), mark_num(p->context_mark.column));
		else
			add(L, DIAG_ERROR, line, col, "YAML syntax error: %s", problem);
	}
}

/* First pass over events: syntax errors, nesting depth and document count, before building nodes. */
static int yaml_precheck(struct loader *L, const char *buf, size_t len)
{
	yaml_parser_t p;
	int depth = 0, docs = 0, rc = 0;
	if (!yaml_parser_initialize(&p)) {
		add(L, DIAG_ERROR, 0, 0, "out of memory while reading YAML");
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			report_parser(L, &p, buf, len);
			rc = -EINVAL;
			break;
		}
		yaml_event_type_t t = ev.type;
		int line = mark_num(ev.start_mark.line), col = mark_num(ev.start_mark.column);
		yaml_event_delete(&ev);
		if ((t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) && ++depth > CONFIG_MAX_DEPTH) {
			add(L, DIAG_ERROR, line, col, "nested deeper than %d levels", CONFIG_MAX_DEPTH);
			rc = -EINVAL;
		} else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
			depth--;
		} else if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
			add(L, DIAG_ERROR, line, col, "more than one YAML document ('---'); only one is read");
			rc = -EINVAL;
		}
		if (rc || t == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&p);
	if (rc == 0 && docs == 0) {
		add(L, DIAG_ERROR, 0, 0, "empty configuration file");
		rc = -EINVAL;
	}
	return rc;
}

static char *dir_of(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;
	if (!slash)
		return NULL;
	if (slash == path)
		return xstrdup("/");
	char *d = xstrdup(path);
	d[slash - path] = '\0';
	return d;
}

static int load(const char *buf, size_t len, const char *name, const char *basedir, struct config **out,
                struct diag *d)
{
	struct loader L = {.file = name ? name : "<buffer>", .basedir = basedir, .d = d};
	yaml_parser_t p;
	yaml_document_t doc;
	int rc;

	*out = NULL;
	if (!buf && len)
		return -EINVAL;
	if (len > CONFIG_MAX_BYTES) {
		add(&L, DIAG_ERROR, 0, 0, "file is larger than %d bytes", CONFIG_MAX_BYTES);
		return -EINVAL;
	}
	if ((rc = yaml_precheck(&L, buf ? buf : "", len)) != 0)
		return rc == -ENOMEM ? rc : -EINVAL;
	if (!yaml_parser_initialize(&p)) {
		add(&L, DIAG_ERROR, 0, 0, "out of memory while reading YAML");
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)(buf ? buf : ""), len);
	if (!yaml_parser_load(&p, &doc)) {
		report_parser(&L, &p, buf, len);
		yaml_parser_delete(&p);
		return -EINVAL;
	}
	yaml_parser_delete(&p);
	L.doc = &doc;
	L.c = config_new_default();
	free(L.c->path);
	L.c->path = xstrdup(L.file);
	L.c->version = 1;

	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root || is_null_node(root))
		add(&L, DIAG_ERROR, 0, 0, "empty configuration file");
	else if (root->type != YAML_MAPPING_NODE)
		ERR(&L, root, "the top level must be a map of keys (version, RootfsPath, ...), found %s",
		    kind_name(root));
	else
		load_top(&L, root);
	yaml_document_delete(&doc);

	if (L.more_errors || L.more_warnings)
		diag_add(d, L.more_errors ? DIAG_ERROR : DIAG_WARNING, L.file, 0, 0,
		         "%zu more errors and %zu more warnings not shown", L.more_errors, L.more_warnings);
	if (L.errors) {
		config_free(L.c);
		return -EINVAL;
	}
	*out = L.c;
	return 0;
}

int config_load_buffer(const char *buf, size_t len, const char *name, struct config **out, struct diag *d)
{
	char *basedir = dir_of(name);
	int rc = load(buf, len, name, basedir, out, d);
	free(basedir);
	return rc;
}

int config_load_file(const char *path, struct config **out, struct diag *d)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int rc = -errno;
		diag_add(d, DIAG_ERROR, path, 0, 0, "cannot open: %s", strerror(-rc));
		return rc;
	}
	size_t cap = 64 * 1024, len = 0;
	char *buf = xcalloc(1, cap);
	for (;;) {
		if (len == cap) {
			if (cap > CONFIG_MAX_BYTES)
				break;
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rc = -errno;
			diag_add(d, DIAG_ERROR, path, 0, 0, "cannot read: %s", strerror(-rc));
			free(buf);
			close(fd);
			return rc;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);

	/* relative paths in the file are resolved against its directory, made absolute so that a later
	 * chdir() does not change their meaning */
	char *basedir = NULL;
	if (path[0] == '/') {
		basedir = dir_of(path);
	} else {
		char *cwd = getcwd(NULL, 0);
		if (cwd) {
			char *rel = dir_of(path);
			sbuf b = SBUF_INIT;
			sbuf_printf(&b, "%s%s%s", cwd, rel ? "/" : "", rel ? rel : "");
			basedir = sbuf_steal(&b);
			free(rel);
			free(cwd);
		} else {
			basedir = dir_of(path);
		}
	}
	int rc = load(buf, len, path, basedir, out, d);
	free(basedir);
	free(buf);
	return rc;
}

struct config *config_new_default(void)
{
	struct config *c = xcalloc(1, sizeof *c);
	c->path = xstrdup("<builtin>");
	c->version = 1;
	c->rootfs_path = xstrdup("/pxe/rootfs");
	c->tftp_listen = (struct listen_spec){.enabled = 1, .host = "", .port = 69};
	c->http_listen = (struct listen_spec){.enabled = 1, .host = "", .port = 80};
	c->menu_timeout_ms = 10000;
	c->menu_title = xstrdup("AutoPXE boot menu");
	c->timeout_action = ACTION_DEFAULT;
	c->failure_action = ACTION_EXIT;
	c->boot_retries = 2;
	c->retry_delay_ms = 3000;
	c->ipxe_dir = xstrdup(AUTOPXE_DATADIR "/ipxe");
	c->user = xstrdup("nobody");
	c->log_level = LOG_INFO;
	c->watch = 1;
	c->tftp_max_blksize = 1468;
	c->tftp_max_window = 64;
	c->tftp_timeout_ms = 1000;
	c->tftp_retries = 6;
	c->tftp_max_sessions = 4096;
	c->tftp_max_per_client = 32;
	c->tftp_busy_poll_us = 200;
	c->http_max_conns = 2048;
	c->http_max_per_client = 64;
	c->http_timeout_s = 30;
	c->http_threads = 0;
	c->tftp_threads = 0;
	c->allow_remote_reload = 0;
	c->proxy_dhcp = 0;
	c->pxe_discovery_control = 8;
	c->proxy_dhcp_port = 67;
	c->pxe_server_port = 4011;
	c->state_dir = xstrdup("/var/lib/autopxe");
	c->state_store = 1;
	c->node_events = 50;
	c->node_timeout_s = 300;
	return c;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_env; i++) {
		free(c->env[i].key);
		free(c->env[i].value);
	}
	for (size_t i = 0; i < c->n_templates; i++) {
		free(c->templates[i].key);
		free(c->templates[i].value);
	}
	for (size_t i = 0; i < c->n_hosts; i++)
		free(c->hosts[i].boot_id);
	for (size_t i = 0; i < c->n_proxy_ifaces; i++)
		free(c->proxy_ifaces[i]);
	for (size_t i = 0; i < c->n_boot_files; i++)
		free(c->boot_files[i].file);
	free(c->proxy_ifaces);
	free(c->boot_files);
	free(c->env);
	free(c->templates);
	free(c->hosts);
	free(c->path);
	free(c->default_distro);
	free(c->rootfs_path);
	free(c->http_base_url);
	for (size_t i = 0; i < c->n_base_urls; i++)
		free(c->base_urls[i].url);
	free(c->base_urls);
	free(c->menu_title);
	free(c->static_dir);
	free(c->ipxe_dir);
	free(c->boot_dir);
	free(c->templates_dir);
	free(c->iso_dir);
	free(c->cache_dir);
	free(c->state_dir);
	free(c->state_url);
	free(c->state_url_file);
	free(c->api_token_file);
	free(c->user);
	free(c);
}

/* ---- listen specs ---- */

int listen_parse(const char *s, struct listen_spec *out)
{
	struct listen_spec l = {.enabled = 1};
	unsigned long long port;
	const char *colon;
	if (!s || !out)
		return -EINVAL;
	if (strcasecmp(s, "off") == 0) {
		memset(out, 0, sizeof *out);
		return 0;
	}
	if (s[0] == '[') { /* [v6addr]:port, v6addr may carry a %scope */
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		size_t n = (size_t)(close - s - 1);
		if (n == 0 || n >= sizeof l.host)
			return -EINVAL;
		memcpy(l.host, s + 1, n);
		l.host[n] = '\0';
		char addr[64];
		memcpy(addr, l.host, n + 1);
		char *pct = strchr(addr, '%');
		if (pct) {
			*pct = '\0';
			if (!valid_name(pct + 1, strlen(pct + 1)))
				return -EINVAL;
		}
		struct in6_addr a6;
		if (inet_pton(AF_INET6, addr, &a6) != 1)
			return -EINVAL;
		colon = close + 1;
	} else if ((colon = strrchr(s, ':')) != NULL) {
		size_t n = (size_t)(colon - s);
		if (n >= sizeof l.host || memchr(s, ':', n))
			return -EINVAL;
		memcpy(l.host, s, n);
		l.host[n] = '\0';
		struct in_addr a4;
		if (n && inet_pton(AF_INET, l.host, &a4) != 1)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	/* port 0 asks the kernel for a free port (used by tests) */
	if (parse_uint(colon + 1, 0, 65535, &port))
		return -EINVAL;
	l.port = (uint16_t)port;
	*out = l;
	return 0;
}

void listen_format(const struct listen_spec *l, char *buf, size_t len)
{
	if (!l->enabled)
		snprintf(buf, len, "off");
	else if (!l->host[0])
		snprintf(buf, len, "0.0.0.0:%u", (unsigned)l->port);
	else if (strchr(l->host, ':'))
		snprintf(buf, len, "[%s]:%u", l->host, (unsigned)l->port);
	else
		snprintf(buf, len, "%s:%u", l->host, (unsigned)l->port);
}

/* ---- lookups ---- */

const char *config_env(const struct config *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->n_env; i++)
		if (strcmp(c->env[i].key, name) == 0)
			return c->env[i].value;
	return NULL;
}

const char *config_template(const struct config *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->n_templates; i++)
		if (strcmp(c->templates[i].key, name) == 0)
			return c->templates[i].value;
	return NULL;
}

const struct cfg_host *config_host(const struct config *c, const uint8_t mac[6])
{
	for (size_t i = 0; c && mac && i < c->n_hosts; i++)
		if (memcmp(c->hosts[i].mac, mac, 6) == 0)
			return &c->hosts[i];
	return NULL;
}

const char *config_base_url_for(const struct config *c, const char *ip)
{
	uint8_t a[16];
	const char *best = NULL;
	unsigned best_len = 0;
	if (!c || !c->n_base_urls || !ip || !*ip)
		return NULL;
	memset(a, 0, sizeof a);
	if (strchr(ip, ':')) {
		if (inet_pton(AF_INET6, ip, a) != 1)
			return NULL;
	} else {
		a[10] = a[11] = 0xff;
		if (inet_pton(AF_INET, ip, a + 12) != 1)
			return NULL;
	}
	for (size_t i = 0; i < c->n_base_urls; i++) {
		const struct cfg_base_url *b = &c->base_urls[i];
		unsigned full = b->prefix / 8, rest = b->prefix % 8;
		if (memcmp(a, b->addr, full) != 0)
			continue;
		if (rest && ((a[full] ^ b->addr[full]) & (uint8_t)(0xff << (8 - rest))))
			continue;
		if (!best || b->prefix > best_len) {
			best = b->url;
			best_len = b->prefix;
		}
	}
	return best;
}

const char *config_boot_file(const struct config *c, unsigned arch)
{
	for (size_t i = 0; c && i < c->n_boot_files; i++)
		if (c->boot_files[i].arch == arch)
			return c->boot_files[i].file;
	return NULL;
}

int config_proxy_iface_ok(const struct config *c, const char *name, int is_loopback)
{
	if (!c->n_proxy_ifaces)
		return !is_loopback;
	for (size_t i = 0; i < c->n_proxy_ifaces; i++)
		if (strcmp(c->proxy_ifaces[i], name) == 0)
			return 1;
	return 0;
}
