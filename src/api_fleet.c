/* api_fleet.c - the fleet parts of the HTTP API: pin requests (parse), pins, nodes and timelines (JSON). */
#include "api_fleet.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "mac.h"
#include "render.h"

/* Strings in the store were sanitised or checked on the way in; still never lose a document to bad UTF-8. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");
	if (!j) {
		char buf[512];
		sanitize(s, strlen(s), buf, sizeof buf);
		j = json_string(buf);
	}
	return j;
}

/* ------------------------------------------------------------------ RFC 3339 */

static int digits(const char *s, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's civil-from-days, inverted). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int rfc3339_parse(const char *s, size_t len, int64_t *out)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	size_t i = 19;
	if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
	    s[16] != ':')
		return -EINVAL;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) || digits(s + 11, 2, &h) ||
	    digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return -EINVAL;
	if (s[i] == '.') { /* fraction: at least one digit, ignored */
		size_t j = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == j)
			return -EINVAL;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '-' ? -1 : 1;
		if (len - i < 6 || s[i + 3] != ':' || digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om) || oh > 23 ||
		    om > 59)
			return -EINVAL;
		i += 6;
	} else {
		return -EINVAL;
	}
	if (i != len)
		return -EINVAL;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (sec == 60 ? 59 : sec) -
	       sign * (oh * 3600 + om * 60);
	return 0;
}

void rfc3339_format(int64_t t, char *out, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm)) {
		snprintf(out, len, "?");
		return;
	}
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ------------------------------------------------------------------ pins */

int api_pin_parse(const char *body, size_t len, int64_t now, struct store_pin *out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root, *v;
	const char *key;
	int rc = -EINVAL;
	memset(out->boot, 0, sizeof out->boot);
	out->once = 0;
	out->until = 0;
	root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen, "body is not JSON: %s (line %d, column %d)", je.text, je.line, je.column);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "body must be a JSON object");
		goto out;
	}
	for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
		key = json_object_iter_key(it);
		if (strcmp(key, "boot") && strcmp(key, "once") && strcmp(key, "until")) {
			char k[64];
			sanitize(key, strlen(key), k, sizeof k);
			snprintf(err, errlen, "unknown key '%s' (want boot, once, until)", k);
			goto out;
		}
	}
	v = json_object_get(root, "boot");
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= sizeof out->boot) {
		snprintf(err, errlen, "\"boot\" must be a boot id string (distro/release/kernel/template)");
		goto out;
	}
	if (!ipxe_safe_value(json_string_value(v)) || strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, errlen, "\"boot\" holds control characters");
		goto out;
	}
	memcpy(out->boot, json_string_value(v), json_string_length(v));
	v = json_object_get(root, "once");
	if (v && !json_is_boolean(v) && !json_is_null(v)) {
		snprintf(err, errlen, "\"once\" must be true or false");
		goto out;
	}
	out->once = json_is_true(v);
	v = json_object_get(root, "until");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || rfc3339_parse(json_string_value(v), json_string_length(v), &out->until) != 0) {
			snprintf(err, errlen, "\"until\" must be an RFC 3339 date-time such as 2026-12-03T18:00:00Z");
			goto out;
		}
		if (out->until <= now) {
			snprintf(err, errlen, "\"until\" is in the past");
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

static json_t *pin_obj(const struct store_pin *p, const struct snapshot *s)
{
	char m[18], t[32], why[512];
	struct boot_target bt;
	json_t *j = json_object();
	if (!j)
		return NULL;
	mac_colon(p->mac, m);
	json_object_set_new(j, "mac", json_string(m));
	json_object_set_new(j, "boot", jstr(p->boot));
	json_object_set_new(j, "once", json_boolean(p->once));
	if (p->until) {
		rfc3339_format(p->until, t, sizeof t);
		json_object_set_new(j, "until", json_string(t));
	} else {
		json_object_set_new(j, "until", json_null());
	}
	rfc3339_format(p->created, t, sizeof t);
	json_object_set_new(j, "created", json_string(t));
	if (s) {
		int ok = boot_id_resolve(s->cfg, s->cat, p->boot, &bt, why, sizeof why) == 0;
		json_object_set_new(j, "resolves", json_boolean(ok));
		if (!ok)
			json_object_set_new(j, "error", jstr(why));
	}
	return j;
}

int api_pin_json(const struct store_pin *p, const struct snapshot *s, sbuf *out)
{
	return api_json_dump(pin_obj(p, s), out);
}

/* ------------------------------------------------------------------ nodes */

static json_t *node_obj(const struct store_node *n, int64_t now_ms)
{
	char m[18];
	struct store_pin p;
	json_t *j = json_object();
	if (!j)
		return NULL;
	mac_colon(n->mac, m);
	json_object_set_new(j, "mac", json_string(m));
	json_object_set_new(j, "state", json_string(node_state_name(n->state)));
	json_object_set_new(j, "boot_id", jstr(n->boot));
	json_object_set_new(j, "ip", jstr(n->ip));
	json_object_set_new(j, "first_seen_ms", json_integer(n->first_ms));
	json_object_set_new(j, "last_seen_ms", json_integer(n->last_ms));
	json_object_set_new(j, "age_s", json_integer(now_ms > n->last_ms ? (now_ms - n->last_ms) / 1000 : 0));
	json_object_set_new(j, "last_event", jstr(n->last_event));
	if (store_pin_get(n->mac, &p) == 1)
		json_object_set_new(j, "pin", pin_obj(&p, NULL));
	else
		json_object_set_new(j, "pin", json_null());
	return j;
}

int api_nodes_json(const struct store_node *nodes, size_t n, const size_t all_counts[NODE_NSTATES], int64_t now_ms,
                   sbuf *out)
{
	json_t *root = json_object(), *counts = json_object(), *a = json_array();
	if (!root || !counts || !a) {
		json_decref(root);
		json_decref(counts);
		json_decref(a);
		return -ENOMEM;
	}
	json_object_set_new(root, "now_ms", json_integer(now_ms));
	for (int i = 0; i < NODE_NSTATES; i++)
		json_object_set_new(counts, node_state_name((enum node_state)i), json_integer((json_int_t)all_counts[i]));
	json_object_set_new(root, "counts", counts);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, node_obj(&nodes[i], now_ms));
	json_object_set_new(root, "nodes", a);
	return api_json_dump(root, out);
}

int api_node_json(const struct store_node *node, const struct store_event *ev, size_t nev, int64_t now_ms,
                  sbuf *out)
{
	static const char *const kinds[] = {"menu", "kernel", "initrd", "file"};
	json_t *root = node_obj(node, now_ms), *a = json_array();
	if (!root || !a) {
		json_decref(root);
		json_decref(a);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nev; i++) {
		const struct store_event *e = &ev[i];
		json_t *o = json_object();
		if (!o)
			continue;
		json_object_set_new(o, "ts_ms", json_integer(e->ts_ms));
		json_object_set_new(o, "kind", json_string((unsigned)e->kind <= EV_FILE ? kinds[e->kind] : "file"));
		json_object_set_new(o, "proto", json_string(e->proto == PROTO_TFTP ? "tftp" : "http"));
		json_object_set_new(o, "file", jstr(e->file));
		json_object_set_new(o, "bytes", json_integer((json_int_t)e->bytes));
		json_object_set_new(o, "ms", json_integer(e->ms));
		json_object_set_new(o, "outcome",
		                    json_string(e->ok == XFER_PARTIAL ? "partial" : e->ok ? "ok" : "failed"));
		json_object_set_new(o, "boot_id", jstr(e->boot));
		json_array_append_new(a, o);
	}
	json_object_set_new(root, "events", a);
	return api_json_dump(root, out);
}
