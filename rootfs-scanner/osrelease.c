/* osrelease.c - bounded parser for os-release(5) files (KEY=value with shell-style quoting). */
#include "scan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define OSR_MAX_KEY 64

static int osr_key_start(unsigned char c) { return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
static int osr_key_char(unsigned char c) { return osr_key_start(c) || (c >= '0' && c <= '9'); }
static int osr_blank(unsigned char c) { return c == ' ' || c == '\t'; }

/* Append one byte to the value; -1 when the value grows past the limit. */
static int osr_put(char *val, size_t *vlen, char c)
{
	if (*vlen >= SCAN_OSREL_MAX_VALUE)
		return -1;
	val[(*vlen)++] = c;
	return 0;
}

/* Decode the value part of one line (s..e, no newline). 0 on success, -1 for a bad line. */
static int osr_value(const char *s, const char *e, char *val, size_t *vlen)
{
	*vlen = 0;
	while (s < e) {
		char c = *s++;
		if (c == '\'') {
			const char *q = memchr(s, '\'', (size_t)(e - s));
			if (!q)
				return -1;
			for (; s < q; s++)
				if (osr_put(val, vlen, *s))
					return -1;
			s = q + 1;
		} else if (c == '"') {
			for (;;) {
				if (s >= e)
					return -1; /* unterminated (multi-line values are not supported) */
				c = *s++;
				if (c == '"')
					break;
				if (c == '\\' && s < e && *s && strchr("\\\"$`", *s)) {
					c = *s++;
				}
				if (osr_put(val, vlen, c))
					return -1;
			}
		} else if (c == '\\') {
			if (s >= e)
				return -1;
			if (osr_put(val, vlen, *s++))
				return -1;
		} else if (osr_blank((unsigned char)c)) {
			/* only blanks or a comment may follow an unquoted blank */
			while (s < e && osr_blank((unsigned char)*s))
				s++;
			if (s < e && *s != '#')
				return -1;
			break;
		} else {
			if (osr_put(val, vlen, c))
				return -1;
		}
	}
	for (size_t i = 0; i < *vlen; i++) {
		unsigned char u = (unsigned char)val[i];
		if (u < 0x20 || u == 0x7f)
			return -1;
	}
	return 0;
}

void scan_osrelease_free(struct scan_kv *kv, size_t n)
{
	if (!kv)
		return;
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

/* Store key=value (replacing an earlier value of the same key). 0, or -ENOMEM. */
static int osr_store(struct scan_kv *kv, size_t *n, const char *key, size_t klen, const char *val, size_t vlen)
{
	char *v = strndup(val, vlen);
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < *n; i++) {
		if (strlen(kv[i].key) == klen && memcmp(kv[i].key, key, klen) == 0) {
			free(kv[i].value);
			kv[i].value = v;
			return 0;
		}
	}
	if (*n >= SCAN_OSREL_MAX_KEYS) {
		free(v);
		return 0;
	}
	char *k = strndup(key, klen);
	if (!k) {
		free(v);
		return -ENOMEM;
	}
	kv[*n].key = k;
	kv[*n].value = v;
	(*n)++;
	return 0;
}

int scan_osrelease_parse(const char *buf, size_t len, struct scan_kv **out, size_t *n_out)
{
	*out = NULL;
	*n_out = 0;
	struct scan_kv *kv = calloc(SCAN_OSREL_MAX_KEYS, sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	size_t n = 0;
	char val[SCAN_OSREL_MAX_VALUE];
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		const char *s = p;
		p = nl ? nl + 1 : end;
		if (e > s && e[-1] == '\r') /* tolerate CRLF files */
			e--;
		while (s < e && osr_blank((unsigned char)*s))
			s++;
		if (s == e || *s == '#' || !osr_key_start((unsigned char)*s))
			continue;
		const char *key = s;
		while (s < e && osr_key_char((unsigned char)*s))
			s++;
		size_t klen = (size_t)(s - key);
		if (s == e || *s != '=' || klen > OSR_MAX_KEY)
			continue;
		size_t vlen;
		if (osr_value(s + 1, e, val, &vlen))
			continue;
		if (osr_store(kv, &n, key, klen, val, vlen)) {
			scan_osrelease_free(kv, n);
			return -ENOMEM;
		}
	}
	if (n == 0) {
		free(kv);
		return 0;
	}
	*out = kv;
	*n_out = n;
	return 0;
}
