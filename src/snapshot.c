/* snapshot.c - builds immutable snapshots (config + scan + templates + vfs) and publishes the current one. */
#include "snapshot.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "util.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct snapshot *g_current;
static uint64_t g_generation;
static char g_last_error[512];

static const char *pick_templates_dir(const struct snapshot_source *src, const struct config *cfg)
{
	if (src->templates_dir)
		return src->templates_dir;
	if (cfg->templates_dir)
		return cfg->templates_dir;
	return NULL; /* built-in copies (identical to templates/ in the source tree) */
}

/* Started as root with a User to drop to: what the scanner writes into CacheDir must be that user's,
 * or rescans after the drop could not extract new ISO images. */
static void cache_owner(const struct config *cfg, struct scan_options *so)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	const char *user = cfg->user ? cfg->user : "nobody";
	if (geteuid() != 0 || !strcmp(user, "root"))
		return;
	if (getpwnam_r(user, &pw, buf, sizeof buf, &res) != 0 || !res)
		return;
	so->chown_cache = 1;
	so->cache_uid = pw.pw_uid;
	so->cache_gid = pw.pw_gid;
}

struct snapshot *snapshot_build(const struct snapshot_source *src, struct diag *d)
{
	struct config *cfg = NULL;
	int rc;
	if (src->config_path)
		rc = config_load_file(src->config_path, &cfg, d);
	else {
		cfg = config_new_default();
		rc = cfg ? 0 : -ENOMEM;
	}
	if (rc || !cfg)
		return NULL;
	if (src->tftp_listen && listen_parse(src->tftp_listen, &cfg->tftp_listen) != 0) {
		diag_add(d, DIAG_ERROR, NULL, 0, 0, "--tftp-listen '%s' is not off, ADDR:PORT or [V6]:PORT", src->tftp_listen);
		config_free(cfg);
		return NULL;
	}
	if (src->http_listen && listen_parse(src->http_listen, &cfg->http_listen) != 0) {
		diag_add(d, DIAG_ERROR, NULL, 0, 0, "--http-listen '%s' is not off, ADDR:PORT or [V6]:PORT", src->http_listen);
		config_free(cfg);
		return NULL;
	}
	if (src->proxy_dhcp)
		cfg->proxy_dhcp = 1;
	if (src->rootfs_path) {
		free(cfg->rootfs_path);
		cfg->rootfs_path = xstrdup(src->rootfs_path);
	}
	if (!cfg->rootfs_path) {
		diag_add(d, DIAG_ERROR, cfg->path, 0, 0, "RootfsPath is not set");
		config_free(cfg);
		return NULL;
	}

	struct snapshot *s = xcalloc(1, sizeof *s);
	s->refs = 1;
	s->cfg = cfg;
	diag_init(&s->warnings);
	char err[512];
	struct scan_options so = {.iso_dir = cfg->iso_dir, .cache_dir = cfg->cache_dir};
	cache_owner(cfg, &so);
	rc = scan_rootfs_opts(cfg->rootfs_path, &so, &s->cat, err, sizeof err);
	if (rc) {
		diag_add(d, DIAG_ERROR, cfg->path, 0, 0, "RootfsPath: %s", err);
		goto fail;
	}
	s->tmpl = menu_templates_load(pick_templates_dir(src, cfg), d);
	if (!s->tmpl)
		goto fail;
	s->vfs = vfs_new(cfg, s->cat, &s->warnings);
	render_check_targets(cfg, s->cat, &s->warnings);
	for (size_t i = 0; i < s->warnings.n; i++) {
		const struct diag_item *it = &s->warnings.items[i];
		diag_add(d, it->sev, it->file, it->line, it->col, "%s", it->msg);
	}
	s->built_at = time(NULL);
	return s;
fail:
	snapshot_unref(s);
	return NULL;
}

struct snapshot *snapshot_ref(struct snapshot *s)
{
	if (s)
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	return s;
}

void snapshot_unref(struct snapshot *s)
{
	if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	vfs_free(s->vfs);
	menu_templates_free(s->tmpl);
	catalog_free(s->cat);
	config_free(s->cfg);
	diag_free(&s->warnings);
	free(s);
}

struct snapshot *snapshot_current(void)
{
	pthread_mutex_lock(&g_lock);
	struct snapshot *s = snapshot_ref(g_current);
	pthread_mutex_unlock(&g_lock);
	return s;
}

void snapshot_publish(struct snapshot *s)
{
	pthread_mutex_lock(&g_lock);
	struct snapshot *old = g_current;
	s->generation = ++g_generation;
	g_current = s;
	pthread_mutex_unlock(&g_lock);
	if (s->cat)
		metrics_reload(1, s->cat->scan_us, s->cat->n_releases, s->cat->n_kernels);
	snapshot_unref(old);
}

void snapshot_clear(void)
{
	pthread_mutex_lock(&g_lock);
	struct snapshot *old = g_current;
	g_current = NULL;
	pthread_mutex_unlock(&g_lock);
	snapshot_unref(old);
}

int snapshot_last_error(char *msg, size_t len)
{
	pthread_mutex_lock(&g_lock);
	int bad = g_last_error[0] != '\0';
	if (msg && len)
		snprintf(msg, len, "%s", g_last_error);
	pthread_mutex_unlock(&g_lock);
	return bad;
}

void snapshot_set_last_error(const char *msg)
{
	pthread_mutex_lock(&g_lock);
	snprintf(g_last_error, sizeof g_last_error, "%s", msg ? msg : "");
	pthread_mutex_unlock(&g_lock);
}

static int is_any_addr(const char *h) { return !*h || !strcmp(h, "0.0.0.0") || !strcmp(h, "::"); }

void snapshot_http_base(const struct snapshot *s, const char *local_ip, int is_v6, char *out, size_t len)
{
	const struct config *c = s->cfg;
	if (c->http_base_url && *c->http_base_url) {
		size_t n = strlen(c->http_base_url);
		snprintf(out, len, "%s%s", c->http_base_url, c->http_base_url[n - 1] == '/' ? "" : "/");
		return;
	}
	if (!c->http_listen.enabled) {
		if (len)
			out[0] = '\0';
		return;
	}
	const char *host = c->http_listen.host;
	int v6 = strchr(host, ':') != NULL;
	if (is_any_addr(host) && local_ip && *local_ip) {
		host = local_ip;
		v6 = is_v6 || strchr(local_ip, ':') != NULL;
	} else if (is_any_addr(host)) {
		host = "127.0.0.1";
		v6 = 0;
	}
	snprintf(out, len, "http://%s%s%s:%u/", v6 ? "[" : "", host, v6 ? "]" : "", (unsigned)c->http_listen.port);
}
