/* api.c - the JSON documents of the HTTP API (/api/v1/catalog, /api/v1/hosts/<mac>, replies), built with jansson. */
#include "api.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mac.h"
#include "render.h"
#include "store.h"

int api_json_dump(json_t *j, sbuf *out)
{
	char *txt;
	int rc;
	if (!j)
		return -ENOMEM;
	txt = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!txt)
		return -ENOMEM;
	rc = sbuf_puts(out, txt);
	if (rc == 0)
		rc = sbuf_putc(out, '\n');
	free(txt);
	return rc;
}

/* json_string() that maps NULL to null and tolerates bytes that are not UTF-8 (never expected here:
 * config and scanner reject them, but a NULL from jansson must not lose a whole document). */
static json_t *jstr(const char *s)
{
	json_t *j;
	if (!s)
		return json_null();
	j = json_string(s);
	if (!j) {
		char buf[1024];
		sanitize(s, strlen(s), buf, sizeof(buf));
		j = json_string(buf);
	}
	return j;
}

static json_t *jpos(const char *file, int line, int col)
{
	return json_pack("{s:o, s:i, s:i}", "file", jstr(file), "line", line, "col", col);
}

static json_t *kernel_json(const struct scan_kernel *k)
{
	char url[4200];
	json_t *j = json_object();
	if (!j)
		return NULL;
	json_object_set_new(j, "id", jstr(k->id));
	json_object_set_new(j, "kernel_path", jstr(k->kernel_path));
	json_object_set_new(j, "kernel_real", jstr(k->kernel_real));
	snprintf(url, sizeof(url), "boot/%s", k->kernel_path);
	json_object_set_new(j, "kernel_url", jstr(url));
	json_object_set_new(j, "kernel_size", json_integer((json_int_t)k->kernel_size));
	json_object_set_new(j, "initrd_path", jstr(k->initrd_path));
	json_object_set_new(j, "initrd_real", jstr(k->initrd_real));
	if (k->initrd_path) {
		snprintf(url, sizeof(url), "boot/%s", k->initrd_path);
		json_object_set_new(j, "initrd_url", jstr(url));
	} else {
		json_object_set_new(j, "initrd_url", json_null());
	}
	json_object_set_new(j, "initrd_size", json_integer((json_int_t)k->initrd_size));
	json_object_set_new(j, "is_default", json_boolean(k->is_default));
	return j;
}

static json_t *release_json(const struct config *cfg, const struct scan_distro *d, const struct scan_release *r)
{
	char id[1024];
	json_t *j = json_object(), *osrel = json_object(), *ks = json_array(), *ids = json_array();
	if (!j || !osrel || !ks || !ids) {
		json_decref(j);
		json_decref(osrel);
		json_decref(ks);
		json_decref(ids);
		return NULL;
	}
	json_object_set_new(j, "name", jstr(r->name));
	json_object_set_new(j, "path", jstr(r->path));
	json_object_set_new(j, "pretty_name", jstr(r->pretty_name));
	for (size_t i = 0; i < r->n_osrel; i++)
		json_object_set_new(osrel, r->osrel[i].key, jstr(r->osrel[i].value));
	json_object_set_new(j, "os_release", osrel);
	json_object_set_new(j, "latest", release_latest(r) ? jstr(release_latest(r)->id) : json_null());
	for (size_t i = 0; i < r->n_kernels; i++)
		json_array_append_new(ks, kernel_json(&r->kernels[i]));
	json_object_set_new(j, "kernels", ks);
	json_object_set_new(j, "default_kernel", r->default_kernel ? kernel_json(r->default_kernel) : json_null());
	/* every boot id this release offers, in menu order: latest, versions, default; times templates */
	for (size_t t = 0; t < cfg->n_templates; t++) {
		const char *tn = cfg->templates[t].key;
		if (r->n_kernels) {
			snprintf(id, sizeof(id), "%s/%s/latest/%s", d->name, r->name, tn);
			json_array_append_new(ids, jstr(id));
		}
		for (size_t i = 0; i < r->n_kernels; i++) {
			snprintf(id, sizeof(id), "%s/%s/%s/%s", d->name, r->name, r->kernels[i].id, tn);
			json_array_append_new(ids, jstr(id));
		}
		if (r->default_kernel) {
			snprintf(id, sizeof(id), "%s/%s/default/%s", d->name, r->name, tn);
			json_array_append_new(ids, jstr(id));
		}
	}
	json_object_set_new(j, "boot_ids", ids);
	return j;
}

int api_catalog_json(const struct snapshot *s, sbuf *out)
{
	const struct config *cfg = s->cfg;
	const struct catalog *cat = s->cat;
	char why[512], mac[18];
	struct boot_target bt;
	json_t *root = json_object(), *a;
	if (!root)
		return -ENOMEM;
	json_object_set_new(root, "generation", json_integer((json_int_t)s->generation));
	json_object_set_new(root, "built_at", json_integer((json_int_t)s->built_at));
	json_object_set_new(root, "config", jstr(cfg->path));
	json_object_set_new(root, "rootfs_path", jstr(cfg->rootfs_path));
	json_object_set_new(root, "scan_ms", json_real((double)cat->scan_us / 1000.0));
	json_object_set_new(root, "counts", json_pack("{s:I, s:I, s:I, s:I}", "distros", (json_int_t)cat->n_distros,
	                                              "releases", (json_int_t)cat->n_releases, "kernels",
	                                              (json_int_t)cat->n_kernels, "skipped", (json_int_t)cat->n_skipped));
	if (cfg->default_distro) {
		int ok = boot_id_resolve(cfg, cat, cfg->default_distro, &bt, why, sizeof(why)) == 0;
		json_t *dj = json_pack("{s:o, s:i, s:b}", "boot_id", jstr(cfg->default_distro), "line", cfg->default_line,
		                       "resolves", ok);
		if (dj && !ok)
			json_object_set_new(dj, "error", jstr(why));
		json_object_set_new(root, "default", dj);
	} else {
		json_object_set_new(root, "default", json_null());
	}

	a = json_array();
	for (size_t i = 0; a && i < cfg->n_templates; i++)
		json_array_append_new(a, json_pack("{s:o, s:o, s:i}", "name", jstr(cfg->templates[i].key), "cmdline",
		                                   jstr(cfg->templates[i].value), "line", cfg->templates[i].line));
	json_object_set_new(root, "templates", a);

	a = json_array();
	for (size_t i = 0; a && i < cfg->n_hosts; i++) {
		const struct cfg_host *h = &cfg->hosts[i];
		int ok = boot_id_resolve(cfg, cat, h->boot_id, &bt, why, sizeof(why)) == 0;
		json_t *hj;
		mac_colon(h->mac, mac);
		hj = json_pack("{s:s, s:o, s:i, s:b}", "mac", mac, "boot_id", jstr(h->boot_id), "line", h->line,
		               "resolves", ok);
		if (hj && !ok)
			json_object_set_new(hj, "error", jstr(why));
		json_array_append_new(a, hj);
	}
	json_object_set_new(root, "hosts", a);

	a = json_array();
	for (size_t i = 0; a && i < cat->n_distros; i++) {
		const struct scan_distro *d = &cat->distros[i];
		json_t *rels = json_array();
		for (size_t r = 0; rels && r < d->n_releases; r++)
			json_array_append_new(rels, release_json(cfg, d, &d->releases[r]));
		json_array_append_new(a, json_pack("{s:o, s:o}", "name", jstr(d->name), "releases",
		                                   rels ? rels : json_array()));
	}
	json_object_set_new(root, "distros", a);

	a = json_array();
	for (size_t i = 0; a && i < cat->n_skipped; i++)
		json_array_append_new(a, json_pack("{s:o, s:o}", "path", jstr(cat->skipped[i].path), "reason",
		                                   jstr(cat->skipped[i].reason)));
	json_object_set_new(root, "skipped", a);

	a = json_array();
	for (size_t i = 0; a && i < s->warnings.n; i++) {
		const struct diag_item *it = &s->warnings.items[i];
		json_t *w = jpos(it->file, it->line, it->col);
		if (w) {
			json_object_set_new(w, "severity", json_string(it->sev == DIAG_ERROR ? "error" : "warning"));
			json_object_set_new(w, "message", jstr(it->msg));
		}
		json_array_append_new(a, w);
	}
	json_object_set_new(root, "warnings", a);
	return api_json_dump(root, out);
}

/* rootfs-path as the menu sets it (render.c): RootfsPath (else the scan root) joined with the release directory. */
static void rootfs_path_of(const struct config *cfg, const struct catalog *cat, const struct scan_release *r, char *out,
                           size_t len)
{
	const char *base = cfg->rootfs_path ? cfg->rootfs_path : cat->root ? cat->root : "";
	size_t n = strlen(base);
	snprintf(out, len, "%s%s%s", base, n && base[n - 1] == '/' ? "" : "/", r->path);
}

int api_host_json(const struct snapshot *s, const uint8_t mac[6], const char *ip, const char *base_url, sbuf *out)
{
	const struct config *cfg = s->cfg;
	const struct cfg_host *h = config_host(cfg, mac);
	const char *id = NULL;
	char source[128], macs[18], why[512];
	struct boot_target bt;
	json_t *root = json_object();
	if (!root)
		return -ENOMEM;
	mac_colon(mac, macs);
	if (!base_url)
		base_url = "";
	struct store_pin pin;
	int pinned = store_pin_get(mac, &pin) == 1;
	if (pinned && boot_id_resolve(cfg, s->cat, pin.boot, &bt, why, sizeof(why)) != 0) {
		/* a pin naming a boot id the catalog no longer has: reported and ignored (as in the menu) */
		char e[700];
		snprintf(e, sizeof(e), "pin '%s' ignored: %s", pin.boot, why);
		json_object_set_new(root, "pin_error", jstr(e));
		pinned = 0;
	}
	if (pinned) {
		id = pin.boot;
		snprintf(source, sizeof(source), "API pin%s", pin.once ? " (once)" : "");
	} else if (h) {
		id = h->boot_id;
		snprintf(source, sizeof(source), "HostDefaults line %d", h->line);
	} else if (cfg->default_distro) {
		id = cfg->default_distro;
		snprintf(source, sizeof(source), "DefaultDistro line %d", cfg->default_line);
	} else {
		snprintf(source, sizeof(source), "none");
	}
	json_object_set_new(root, "mac", json_string(macs));
	json_object_set_new(root, "ip", jstr(ip ? ip : ""));
	json_object_set_new(root, "boot_id", jstr(id));
	json_object_set_new(root, "source", json_string(source));
	if (!id) {
		json_object_set_new(root, "resolves", json_false());
		json_object_set_new(root, "error", json_string("no HostDefaults entry and no DefaultDistro"));
		return api_json_dump(root, out);
	}
	if (boot_id_resolve(cfg, s->cat, id, &bt, why, sizeof(why)) != 0) {
		json_object_set_new(root, "resolves", json_false());
		json_object_set_new(root, "error", jstr(why));
		return api_json_dump(root, out);
	}
	json_object_set_new(root, "resolves", json_true());
	json_object_set_new(root, "distro", jstr(bt.distro->name));
	json_object_set_new(root, "release", jstr(bt.release->name));
	json_object_set_new(root, "pretty_name", jstr(bt.release->pretty_name));
	json_object_set_new(root, "kernel_word", jstr(bt.kernel_word));
	json_object_set_new(root, "kernel", jstr(bt.kernel->id));
	json_object_set_new(root, "template", jstr(bt.tmpl ? bt.tmpl->key : NULL));
	{
		char rp[4200], url[8400];
		sbuf cmd = SBUF_INIT;
		rootfs_path_of(cfg, s->cat, bt.release, rp, sizeof(rp));
		/* exactly the command line the entry has in a menu fetched over HTTP (render.c) */
		struct render_client cl = {.ip = ip ? ip : "", .via = RENDER_HTTP, .file_base = NULL};
		memcpy(cl.mac, mac, 6);
		if (bt.tmpl && render_boot_cmdline(cfg, s->cat, &bt, &cl, &cmd) == 0)
			json_object_set_new(root, "cmdline", jstr(cmd.data ? cmd.data : ""));
		else
			json_object_set_new(root, "cmdline", json_null());
		sbuf_free(&cmd);
		json_object_set_new(root, "rootfs_path", jstr(rp));
		snprintf(url, sizeof(url), "%sboot/%s", base_url, bt.kernel->kernel_path);
		json_object_set_new(root, "kernel_url", jstr(url));
		json_object_set_new(root, "kernel_size", json_integer((json_int_t)bt.kernel->kernel_size));
		if (bt.kernel->initrd_path) {
			snprintf(url, sizeof(url), "%sboot/%s", base_url, bt.kernel->initrd_path);
			json_object_set_new(root, "initrd_url", jstr(url));
		} else {
			json_object_set_new(root, "initrd_url", json_null());
		}
		json_object_set_new(root, "initrd_size", json_integer((json_int_t)bt.kernel->initrd_size));
	}
	return api_json_dump(root, out);
}

int api_message_json(int ok, const char *msg, sbuf *out)
{
	return api_json_dump(json_pack("{s:b, s:o}", "ok", ok, "message", jstr(msg ? msg : "")), out);
}
