/* it_http.c - integration tests of the HTTP front end: the real server driven by curl and raw sockets. */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "itest.h"
#include "testutil.h"
#include "util.h"

static const char http_config[] = "version: 1\n"
                                  "DefaultDistro: debian/bookworm/latest/overlayfs\n"
                                  "RootfsPath: @ROOTFS@\n"
                                  "Env:\n"
                                  "  nfs-server: 192.0.2.10\n"
                                  "CmdlineTemplates:\n"
                                  "  overlayfs: root=/dev/nfs nfsroot=${nfs-server}:${rootfs-path} ip=dhcp rootovl\n"
                                  "  nfsrw: root=/dev/nfs nfsroot=${nfs-server}:${rootfs-path} ip=dhcp rw\n"
                                  "HostDefaults:\n"
                                  "  bc2411b01ade: ubuntu/noble/latest/nfsrw\n"
                                  "  525400000001: debian/sid/latest/overlayfs\n"
                                  "Watch: false\n";

#define KERNEL "debian/bookworm/boot/vmlinuz-6.1.0-21-amd64" /* 300000 bytes */
#define INITRD "debian/bookworm/boot/initrd.img-6.1.0-21-amd64" /* 700001 bytes */
#define EMPTY "debian/trixie/boot/initrd.img-6.12.9-amd64"       /* 0 bytes */
#define SECRET "SECRET-SHADOW-CONTENT"

static struct itest_server srv;

static void setup(void)
{
	ck_assert_int_eq(itest_prepare(&srv), 0);
	ck_assert_int_eq(itest_write_config(&srv, http_config), 0);
	ck_assert_msg(itest_start(&srv, 0, 1, NULL) == 0, "server did not start (log %s)", srv.log);
}

static void teardown(void) { itest_stop_clean(&srv); }

/* ------------------------------------------------------------------ helpers */

struct resp {
	unsigned code;
	char *hdr;
	char *body;
	size_t len;
};

/* curl `args` (already shell-quoted) on path; fills r (free with resp_free). */
static void fetch(struct resp *r, const char *args, const char *path)
{
	char *out = NULL;
	int rc = itest_run(&out, "curl -sS --path-as-is -g -D '%s/h' -o '%s/b' -w '%%{http_code}' %s 'http://127.0.0.1:%u%s'",
	                   srv.dir, srv.dir, args, srv.http_port, path);
	char p[400];
	memset(r, 0, sizeof(*r));
	ck_assert_msg(rc == 0, "curl failed (%d) for %s", rc, path);
	r->code = (unsigned)strtoul(out ? out : "0", NULL, 10);
	free(out);
	snprintf(p, sizeof(p), "%s/h", srv.dir);
	r->hdr = tu_slurp(p, NULL);
	snprintf(p, sizeof(p), "%s/b", srv.dir);
	r->body = tu_slurp(p, &r->len);
	if (!r->body) { /* curl writes no file for an empty body */
		r->body = calloc(1, 1);
		r->len = 0;
	}
	ck_assert_ptr_nonnull(r->hdr);
	unlink(p);
}

static void resp_free(struct resp *r)
{
	free(r->hdr);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Value of header `name` in r (last response block), copied into buf; NULL when absent. */
static const char *hval(const struct resp *r, const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);
	const char *found = NULL;
	for (const char *p = r->hdr; p && *p;) {
		const char *e = strstr(p, "\r\n");
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			while (*v == ' ')
				v++;
			snprintf(buf, len, "%.*s", (int)(l - (size_t)(v - p)), v);
			found = buf;
		}
		p = e ? e + 2 : p + l;
	}
	return found;
}

static char *fixture(const char *rel, size_t *len)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", srv.rootfs, rel);
	return tu_slurp(p, len);
}

/* Every header of a response except Date, lower-cased names, sorted, for HEAD-vs-GET comparison. */
static void header_set(const struct resp *r, char *out, size_t len)
{
	char lines[64][512];
	int n = 0;
	out[0] = '\0';
	for (const char *p = r->hdr; p && *p && n < 64;) {
		const char *e = strstr(p, "\r\n");
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l && strncasecmp(p, "date:", 5) != 0) {
			snprintf(lines[n], sizeof(lines[n]), "%.*s", (int)l, p);
			for (char *c = lines[n]; *c && *c != ':'; c++)
				*c = (char)tolower((unsigned char)*c);
			n++;
		}
		p = e ? e + 2 : p + l;
	}
	qsort(lines, (size_t)n, sizeof(lines[0]), (int (*)(const void *, const void *))strcmp);
	for (int i = 0; i < n; i++) {
		strncat(out, lines[i], len - strlen(out) - 1);
		strncat(out, "\n", len - strlen(out) - 1);
	}
}

/* Send raw bytes over TCP, all of them, return what the server answered (first outlen - 1 bytes) in out. */
static void raw_request(const char *req, size_t reqlen, char *out, size_t outlen)
{
	size_t sent = 0;
	itest_http_raw(srv.http_port, req, reqlen, out, outlen, &sent);
	ck_assert_uint_eq(sent, reqlen);
}

/* ------------------------------------------------------------------ menus */

START_TEST(test_menu_routes)
{
	static const char *const spellings[] = {
	    "/autopxe-bc2411b01ade",     "/autopxe-BC2411B01ADE",  "/autopxe-bc:24:11:b0:1a:de", "/autopxe-bc-24-11-b0-1a-de",
	    "/autopxe-bc24.11b0.1ade",   "/autopxe-01-bc-24-11-b0-1a-de", "/autopxe/bc2411b01ade",
	    "/autopxe/bc:24:11:b0:1a:de", "//autopxe-bc2411b01ade",
	};
	struct resp ref, r, h;
	char v[512], hs1[8192], hs2[8192];
	fetch(&ref, "", spellings[0]);
	ck_assert_uint_eq(ref.code, 200);
	ck_assert_msg(strncmp(ref.body, "#!ipxe", 6) == 0, "menu does not start with #!ipxe: %.40s", ref.body);
	ck_assert_str_eq(hval(&ref, "Content-Type", v, sizeof(v)), "text/plain; charset=utf-8");
	ck_assert_str_eq(hval(&ref, "Cache-Control", v, sizeof(v)), "no-store");
	ck_assert_uint_eq(strtoull(hval(&ref, "Content-Length", v, sizeof(v)), NULL, 10), ref.len);
	ck_assert_msg(strstr(ref.body, "vmlinuz-6.8.0-31-generic") != NULL, "host default kernel missing from menu");
	for (size_t i = 1; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		fetch(&r, "", spellings[i]);
		ck_assert_msg(r.code == 200, "%s: %u", spellings[i], r.code);
		ck_assert_msg(r.len == ref.len && memcmp(r.body, ref.body, r.len) == 0, "%s: different menu", spellings[i]);
		resp_free(&r);
	}
	/* HEAD: same headers, no body */
	fetch(&h, "-I", spellings[0]);
	ck_assert_uint_eq(h.code, 200);
	ck_assert_msg(h.len == strlen(h.hdr), "HEAD carried a body"); /* curl -I writes the headers as the body */
	header_set(&ref, hs1, sizeof(hs1));
	header_set(&h, hs2, sizeof(hs2));
	ck_assert_str_eq(hs1, hs2);
	resp_free(&h);
	/* submenus */
	fetch(&r, "", "/autopxe-bc2411b01ade/debian");
	ck_assert_uint_eq(r.code, 200);
	ck_assert(strncmp(r.body, "#!ipxe", 6) == 0);
	ck_assert_msg(strstr(r.body, "bookworm") != NULL, "debian submenu lacks bookworm");
	resp_free(&r);
	fetch(&r, "", "/autopxe/bc2411b01ade/ubuntu");
	ck_assert_uint_eq(r.code, 200);
	resp_free(&r);
	fetch(&r, "", "/autopxe-bc2411b01ade/nosuchdistro");
	ck_assert_uint_eq(r.code, 404);
	resp_free(&r);
	fetch(&r, "", "/autopxe-zz2411b01ade");
	ck_assert_uint_eq(r.code, 404);
	resp_free(&r);
	fetch(&r, "-X POST", spellings[0]);
	ck_assert_uint_eq(r.code, 405);
	ck_assert_str_eq(hval(&r, "Allow", v, sizeof(v)), "GET, HEAD");
	resp_free(&r);
	resp_free(&ref);
	/* the access log names the MAC of a menu request */
	ck_assert(itest_log_contains(&srv, "mac=bc:24:11:b0:1a:de"));
}
END_TEST

/* ------------------------------------------------------------------ files */

START_TEST(test_file_download)
{
	struct resp r, h;
	size_t flen;
	char *want = fixture(KERNEL, &flen);
	char v[512], hs1[8192], hs2[8192];
	ck_assert_ptr_nonnull(want);
	fetch(&r, "", "/boot/" KERNEL);
	ck_assert_uint_eq(r.code, 200);
	ck_assert_uint_eq(r.len, flen);
	ck_assert(memcmp(r.body, want, flen) == 0);
	ck_assert_str_eq(hval(&r, "Content-Length", v, sizeof(v)), "300000");
	ck_assert_str_eq(hval(&r, "Accept-Ranges", v, sizeof(v)), "bytes");
	ck_assert_ptr_nonnull(hval(&r, "Last-Modified", v, sizeof(v)));
	ck_assert_str_eq(hval(&r, "Content-Type", v, sizeof(v)), "application/octet-stream");
	ck_assert_ptr_nonnull(hval(&r, "ETag", v, sizeof(v)));
	ck_assert_msg(v[0] == '"' && v[strlen(v) - 1] == '"' && strncmp(v, "\"493e0-", 7) == 0, "ETag %s", v);
	/* leading backslash (PXE ROMs) and doubled slashes resolve to the same file */
	fetch(&h, "", "/boot//" KERNEL);
	ck_assert_uint_eq(h.code, 200);
	ck_assert_uint_eq(h.len, flen);
	resp_free(&h);
	/* HEAD */
	fetch(&h, "-I", "/boot/" KERNEL);
	ck_assert_uint_eq(h.code, 200);
	ck_assert_msg(h.len == strlen(h.hdr), "HEAD carried a body"); /* curl -I writes the headers as the body */
	header_set(&r, hs1, sizeof(hs1));
	header_set(&h, hs2, sizeof(hs2));
	ck_assert_str_eq(hs1, hs2);
	resp_free(&h);
	resp_free(&r);
	free(want);
	/* the unversioned symlink the scanner listed */
	fetch(&r, "", "/boot/debian/bookworm/vmlinuz");
	ck_assert_uint_eq(r.code, 200);
	ck_assert_uint_eq(r.len, 300000);
	resp_free(&r);
	/* an empty initrd */
	fetch(&r, "", "/boot/" EMPTY);
	ck_assert_uint_eq(r.code, 200);
	ck_assert_uint_eq(r.len, 0);
	ck_assert_str_eq(hval(&r, "Content-Length", v, sizeof(v)), "0");
	resp_free(&r);
	/* a range on it is unsatisfiable */
	fetch(&r, "-r 0-0", "/boot/" EMPTY);
	ck_assert_uint_eq(r.code, 416);
	ck_assert_str_eq(hval(&r, "Content-Range", v, sizeof(v)), "bytes */0");
	resp_free(&r);
}
END_TEST

static const struct range_it {
	const char *range;
	unsigned code;
	unsigned long long start, len;
	const char *content_range;
} range_its[] = {
    {"0-0", 206, 0, 1, "bytes 0-0/300000"},
    {"299999-299999", 206, 299999, 1, "bytes 299999-299999/300000"},
    {"299999-", 206, 299999, 1, "bytes 299999-299999/300000"},
    {"-100", 206, 299900, 100, "bytes 299900-299999/300000"},
    {"-400000", 206, 0, 300000, "bytes 0-299999/300000"},
    {"1000-1999", 206, 1000, 1000, "bytes 1000-1999/300000"},
    {"0-999999", 206, 0, 300000, "bytes 0-299999/300000"},
    {"0-65535", 206, 0, 65536, "bytes 0-65535/300000"},       /* the most sent from memory (http_server.c) */
    {"100-65636", 206, 100, 65537, "bytes 100-65636/300000"}, /* one byte more: from the file */
    {"300000-", 416, 0, 0, "bytes */300000"},
    {"300000-300010", 416, 0, 0, "bytes */300000"},
    {"-0", 416, 0, 0, "bytes */300000"},
    {"0-1,5-6", 200, 0, 300000, NULL},
    {"10-5", 200, 0, 300000, NULL},
};

static void check_range(const struct range_it *c, const char *want)
{
	struct resp r;
	char args[128], v[256];
	snprintf(args, sizeof(args), "-H 'Range: bytes=%s'", c->range);
	fetch(&r, args, "/boot/" KERNEL);
	ck_assert_msg(r.code == c->code, "Range %s: %u want %u", c->range, r.code, c->code);
	if (c->content_range) {
		ck_assert_ptr_nonnull(hval(&r, "Content-Range", v, sizeof(v)));
		ck_assert_str_eq(v, c->content_range);
	} else {
		ck_assert_ptr_null(hval(&r, "Content-Range", v, sizeof(v)));
	}
	if (c->code != 416) {
		ck_assert_uint_eq(r.len, c->len);
		ck_assert_msg(memcmp(r.body, want + c->start, c->len) == 0, "Range %s: wrong bytes", c->range);
		snprintf(args, sizeof(args), "%llu", c->len);
		ck_assert_str_eq(hval(&r, "Content-Length", v, sizeof(v)), args);
	} else {
		ck_assert_msg(memmem(r.body, r.len, want, 16) == NULL, "416 carried file bytes");
	}
	resp_free(&r);
}

START_TEST(test_ranges)
{
	size_t flen;
	char *want = fixture(KERNEL, &flen);
	ck_assert_ptr_nonnull(want);
	ck_assert_uint_eq(flen, 300000);
	for (size_t i = 0; i < sizeof(range_its) / sizeof(range_its[0]); i++)
		check_range(&range_its[i], want);
	free(want);
}
END_TEST

/* GET (or what curl `args` make of it) the initrd: the status must be `code`, and the body `len` bytes when
 * len >= 0. */
static void expect_initrd(const char *args, unsigned code, long long len)
{
	struct resp r;
	fetch(&r, args, "/boot/" INITRD);
	ck_assert_msg(r.code == code, "%s: status %u, want %u", args, r.code, code);
	if (len >= 0)
		ck_assert_msg(r.len == (size_t)len, "%s: %zu bytes, want %lld", args, r.len, len);
	resp_free(&r);
}

START_TEST(test_if_range_and_conditionals)
{
	struct resp r, c;
	char etag[128], lm[128], args[512], v[256];
	fetch(&r, "", "/boot/" INITRD);
	ck_assert_uint_eq(r.code, 200);
	ck_assert_ptr_nonnull(hval(&r, "ETag", etag, sizeof(etag)));
	ck_assert_ptr_nonnull(hval(&r, "Last-Modified", lm, sizeof(lm)));
	resp_free(&r);

	/* If-None-Match: exact, weak, in a list, star -> 304; other -> 200 */
	for (size_t i = 0; i < 4; i++) {
		char val[256];
		if (i == 0)
			snprintf(val, sizeof(val), "%s", etag);
		else if (i == 1)
			snprintf(val, sizeof(val), "W/%s", etag);
		else if (i == 2)
			snprintf(val, sizeof(val), "\"nope\", %s", etag);
		else
			snprintf(val, sizeof(val), "*");
		snprintf(args, sizeof(args), "-H 'If-None-Match: %s'", val);
		fetch(&c, args, "/boot/" INITRD);
		ck_assert_msg(c.code == 304, "If-None-Match %s: %u", val, c.code);
		ck_assert_uint_eq(c.len, 0);
		ck_assert_str_eq(hval(&c, "ETag", v, sizeof(v)), etag);
		resp_free(&c);
	}
	expect_initrd("-H 'If-None-Match: \"nope\"'", 200, 700001);
	/* HEAD gets the 304 too */
	snprintf(args, sizeof(args), "-I -H 'If-None-Match: %s'", etag);
	expect_initrd(args, 304, -1);

	/* If-Modified-Since */
	snprintf(args, sizeof(args), "-H 'If-Modified-Since: %s'", lm);
	expect_initrd(args, 304, 0);
	expect_initrd("-H 'If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT'", 200, 700001);
	expect_initrd("-H 'If-Modified-Since: garbage'", 200, -1);
	/* If-None-Match that does not match wins over a matching If-Modified-Since */
	snprintf(args, sizeof(args), "-H 'If-None-Match: \"nope\"' -H 'If-Modified-Since: %s'", lm);
	expect_initrd(args, 200, -1);

	/* If-Range: matching tag honours the range, stale tag sends everything */
	snprintf(args, sizeof(args), "-r 0-9 -H 'If-Range: %s'", etag);
	expect_initrd(args, 206, 10);
	expect_initrd("-r 0-9 -H 'If-Range: \"stale\"'", 200, 700001);
	snprintf(args, sizeof(args), "-r 0-9 -H 'If-Range: %s'", lm);
	expect_initrd(args, 206, -1);
}
END_TEST

/* ------------------------------------------------------------------ path escapes */

static const char *const escapes[] = {
    "/boot/debian/bookworm/etc/shadow",
    "/boot/debian/bookworm/boot/../etc/shadow",
    "/boot/debian/bookworm/boot/../../../../../../etc/passwd",
    "/../../../../etc/passwd",
    "/boot/%2e%2e/%2e%2e/debian/bookworm/etc/shadow",
    "/boot/debian/bookworm/boot/%2E%2E%2Fetc%2Fshadow",
    "/boot/debian/bookworm/boot/%2e%2e/etc/shadow",
    "/boot/debian/bookworm/boot/%252e%252e/etc/shadow",
    "/boot/debian/bookworm/boot/%252E%252E%252Fetc%252Fshadow",
    "/boot/debian/bookworm/boot/..%5c..%5cetc%5cshadow",
    "/boot\\debian\\bookworm\\etc\\shadow",
    "/boot/debian/bookworm/boot/..\\etc\\shadow",
    "/boot/" KERNEL "%00",
    "/boot/" KERNEL "%00.txt",
    "/boot/debian/bookworm/etc/shadow%00",
    "/boot/debian/bookworm/boot/%c0%ae%c0%ae/etc/shadow",
    "/boot/debian/bookworm/boot/%0a",
    "/boot/debian/bookworm/boot/%",
    "/boot/debian/bookworm/boot/%zz",
    "/debian/bookworm/etc/shadow",
    "/etc/passwd",
    "/boot/",
    "/boot/debian/bookworm",
    "/boot/debian/bookworm/etc",
};

START_TEST(test_path_escapes)
{
	for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		const char *path = escapes[i];
		struct resp r;
		fetch(&r, "", path);
		ck_assert_msg(r.code >= 400 && r.code < 500, "%s: status %u", path, r.code);
		ck_assert_msg(memmem(r.body, r.len, SECRET, strlen(SECRET)) == NULL, "%s served the secret", path);
		ck_assert_msg(r.len < 1000, "%s: %zu bytes of body", path, r.len);
		resp_free(&r);
	}
}
END_TEST

START_TEST(test_overlong_and_raw)
{
	static char buf[70000];
	char *path = malloc(64 * 1024 + 64);
	struct resp r;
	ck_assert_ptr_nonnull(path);
	strcpy(path, "/boot/");
	for (size_t i = strlen(path); i < 64 * 1024; i++)
		path[i] = (i % 64 == 63) ? '/' : 'a';
	path[64 * 1024] = '\0';
	fetch(&r, "", path);
	ck_assert_msg(r.code >= 400 && r.code < 500, "64 KiB path: %u", r.code);
	resp_free(&r);
	/* a path that fits MHD's buffer but not ours */
	path[6000] = '\0';
	fetch(&r, "", path);
	ck_assert_msg(r.code == 414 || r.code == 404, "6000-byte path: %u", r.code);
	resp_free(&r);
	free(path);

	/* raw requests curl will not send */
	static const char *const raws[] = {
	    "GET /boot/" KERNEL "%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	    "GET /boot/debian/bookworm/etc/shadow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	    "GET http://x/boot/debian/bookworm/boot/../etc/shadow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	    "GET boot/debian/bookworm/etc/shadow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	    "GET /boot/debian/bookworm/boot/%2e%2e/etc/shadow HTTP/1.0\r\n\r\n",
	    "GET /boot/debian/bookworm/boot/\x01 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	    "BREW /autopxe-bc2411b01ade HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
		raw_request(raws[i], strlen(raws[i]), buf, sizeof(buf));
		ck_assert_msg(strstr(buf, SECRET) == NULL, "raw %zu served the secret", i);
		ck_assert_msg(strncmp(buf, "HTTP/1.", 7) == 0 && buf[9] == '4', "raw %zu: %.40s", i, buf);
	}
	/* a request for the kernel with %00 is refused, not truncated to the kernel */
	raw_request(raws[0], strlen(raws[0]), buf, sizeof(buf));
	ck_assert_msg(strncmp(buf + 9, "400", 3) == 0, "%%00: %.20s", buf);
	raw_request(raws[6], strlen(raws[6]), buf, sizeof(buf));
	ck_assert_msg(strncmp(buf + 9, "405", 3) == 0, "BREW: %.20s", buf);
	/* a malformed request line gets a 400 or a closed connection, nothing else */
	raw_request("garbage\r\n\r\n", 11, buf, sizeof(buf));
	ck_assert_msg(buf[0] == '\0' || strncmp(buf + 9, "400", 3) == 0, "garbage: %.20s", buf);
	/* HTTP/1.0 client without Host works */
	raw_request("GET /healthz HTTP/1.0\r\n\r\n", 25, buf, sizeof(buf));
	ck_assert_msg(strncmp(buf + 9, "200", 3) == 0, "HTTP/1.0: %.20s", buf);
}
END_TEST

/* ------------------------------------------------------------------ other routes */

START_TEST(test_misc_routes)
{
	struct resp r;
	char v[256];
	fetch(&r, "", "/healthz");
	ck_assert_uint_eq(r.code, 200);
	ck_assert_str_eq(r.body, "ok\n");
	resp_free(&r);
	fetch(&r, "-X DELETE", "/healthz");
	ck_assert_uint_eq(r.code, 405);
	ck_assert_str_eq(hval(&r, "Allow", v, sizeof(v)), "GET, HEAD");
	resp_free(&r);
	fetch(&r, "-X PUT -d x", "/boot/" KERNEL);
	ck_assert_uint_eq(r.code, 405);
	ck_assert_str_eq(hval(&r, "Allow", v, sizeof(v)), "GET, HEAD");
	resp_free(&r);
	fetch(&r, "", "/"); /* the status page (it_fleet.c tests what it shows) */
	ck_assert_uint_eq(r.code, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "<!DOCTYPE html>"));
	resp_free(&r);
	fetch(&r, "", "/nope");
	ck_assert_uint_eq(r.code, 404);
	ck_assert_str_eq(r.body, "not found\n");
	resp_free(&r);
	fetch(&r, "", "/api/v1/nope");
	ck_assert_uint_eq(r.code, 404);
	resp_free(&r);
	fetch(&r, "", "/api/v1/reload");
	ck_assert_uint_eq(r.code, 405);
	ck_assert_str_eq(hval(&r, "Allow", v, sizeof(v)), "POST");
	resp_free(&r);
	fetch(&r, "-X POST", "/api/v1/catalog");
	ck_assert_uint_eq(r.code, 405);
	resp_free(&r);
}
END_TEST

static json_t *get_json(const char *path, unsigned want_code)
{
	struct resp r;
	json_error_t e;
	char v[128];
	json_t *j;
	fetch(&r, "", path);
	ck_assert_msg(r.code == want_code, "%s: %u", path, r.code);
	ck_assert_str_eq(hval(&r, "Content-Type", v, sizeof(v)), "application/json");
	j = json_loadb(r.body, r.len, 0, &e);
	ck_assert_msg(j != NULL, "%s: bad JSON: %s", path, e.text);
	resp_free(&r);
	return j;
}

START_TEST(test_api)
{
	json_t *j = get_json("/api/v1/catalog", 200), *d, *rel, *ks, *k;
	const char *s;
	d = tu_json_named(json_object_get(j, "distros"), "debian");
	ck_assert_ptr_nonnull(d);
	rel = tu_json_named(json_object_get(d, "releases"), "bookworm");
	ck_assert_ptr_nonnull(rel);
	ck_assert_str_eq(json_string_value(json_object_get(rel, "pretty_name")), "Debian GNU/Linux 12 (bookworm)");
	ck_assert_str_eq(json_string_value(json_object_get(rel, "latest")), "6.1.0-21-amd64");
	ks = json_object_get(rel, "kernels");
	ck_assert_uint_eq(json_array_size(ks), 2);
	k = json_array_get(ks, 0);
	ck_assert_str_eq(json_string_value(json_object_get(k, "id")), "6.1.0-21-amd64");
	ck_assert_str_eq(json_string_value(json_object_get(k, "kernel_path")), KERNEL);
	ck_assert_str_eq(json_string_value(json_object_get(k, "kernel_url")), "boot/" KERNEL);
	ck_assert_int_eq(json_integer_value(json_object_get(k, "kernel_size")), 300000);
	ck_assert_int_eq(json_integer_value(json_object_get(k, "initrd_size")), 700001);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ks, 1), "id")), "6.1.0-9-amd64");
	ck_assert(json_is_object(json_object_get(rel, "default_kernel")));
	d = tu_json_named(json_object_get(j, "distros"), "ubuntu");
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(tu_json_named(json_object_get(d, "releases"), "noble"));
	ck_assert_uint_eq(json_array_size(json_object_get(j, "templates")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "default"), "boot_id")),
	                 "debian/bookworm/latest/overlayfs");
	ck_assert(json_is_true(json_object_get(json_object_get(j, "default"), "resolves")));
	ck_assert(json_is_array(json_object_get(j, "skipped")));
	json_decref(j);

	/* a host with a HostDefaults line */
	j = get_json("/api/v1/hosts/bc:24:11:b0:1a:de", 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "boot_id")), "ubuntu/noble/latest/nfsrw");
	s = json_string_value(json_object_get(j, "source"));
	ck_assert_msg(s && strncmp(s, "HostDefaults line ", 18) == 0, "source %s", s);
	ck_assert(json_is_true(json_object_get(j, "resolves")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "kernel")), "6.8.0-31-generic");
	s = json_string_value(json_object_get(j, "kernel_url"));
	ck_assert_msg(s && str_ends_with(s, "boot/ubuntu/noble/boot/vmlinuz-6.8.0-31-generic"), "kernel_url %s", s);
	s = json_string_value(json_object_get(j, "cmdline"));
	ck_assert_msg(s && strstr(s, "nfsroot=192.0.2.10:") && strstr(s, "/ubuntu/noble") && strstr(s, " rw"),
	              "cmdline %s", s);
	json_decref(j);

	/* the default */
	j = get_json("/api/v1/hosts/001122334455", 200);
	ck_assert_str_eq(json_string_value(json_object_get(j, "boot_id")), "debian/bookworm/latest/overlayfs");
	s = json_string_value(json_object_get(j, "source"));
	ck_assert_msg(s && strncmp(s, "DefaultDistro", 13) == 0, "source %s", s);
	ck_assert_str_eq(json_string_value(json_object_get(j, "kernel")), "6.1.0-21-amd64");
	json_decref(j);

	/* a HostDefaults target that does not resolve */
	j = get_json("/api/v1/hosts/52-54-00-00-00-01", 200);
	ck_assert(json_is_false(json_object_get(j, "resolves")));
	ck_assert(json_is_string(json_object_get(j, "error")));
	json_decref(j);

	struct resp r;
	fetch(&r, "", "/api/v1/hosts/not-a-mac");
	ck_assert_uint_eq(r.code, 404);
	resp_free(&r);
}
END_TEST

START_TEST(test_reload_and_health)
{
	struct resp r;
	json_t *j;
	json_error_t e;
	fetch(&r, "-X POST", "/api/v1/reload");
	ck_assert_uint_eq(r.code, 200);
	j = json_loadb(r.body, r.len, 0, &e);
	ck_assert_ptr_nonnull(j);
	ck_assert(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	resp_free(&r);
	/* break the config: reload fails, the old snapshot keeps serving, health says degraded */
	ck_assert_int_eq(itest_write_config(&srv, "version: 1\nRootfsPath: [unclosed\n"), 0);
	fetch(&r, "-X POST", "/api/v1/reload");
	ck_assert_uint_eq(r.code, 500);
	j = json_loadb(r.body, r.len, 0, &e);
	ck_assert_ptr_nonnull(j);
	ck_assert(json_is_false(json_object_get(j, "ok")));
	ck_assert(json_string_length(json_object_get(j, "message")) > 0);
	json_decref(j);
	resp_free(&r);
	fetch(&r, "", "/healthz");
	ck_assert_uint_eq(r.code, 200);
	ck_assert_msg(strncmp(r.body, "degraded", 8) == 0, "healthz: %s", r.body);
	resp_free(&r);
	fetch(&r, "", "/autopxe-bc2411b01ade");
	ck_assert_uint_eq(r.code, 200);
	resp_free(&r);
	ck_assert_int_eq(itest_write_config(&srv, http_config), 0);
	fetch(&r, "-X POST", "/api/v1/reload");
	ck_assert_uint_eq(r.code, 200);
	resp_free(&r);
	fetch(&r, "", "/healthz");
	ck_assert_str_eq(r.body, "ok\n");
	resp_free(&r);
}
END_TEST

/* A menu served twice comes from the cache; after a reload that changes the host's default it must not. */
START_TEST(test_menu_after_reload)
{
	struct resp a, b, c;
	char *cfg = strdup(http_config), *p, newcfg[2048];
	fetch(&a, "", "/autopxe-bc2411b01ade");
	fetch(&b, "", "/autopxe-bc2411b01ade");
	ck_assert_uint_eq(a.code, 200);
	ck_assert(a.len == b.len && memcmp(a.body, b.body, a.len) == 0);
	ck_assert_ptr_nonnull(strstr(a.body, "ubuntu/noble/latest/nfsrw"));
	p = strstr(cfg, "ubuntu/noble/latest/nfsrw");
	ck_assert_ptr_nonnull(p);
	*p = '\0';
	snprintf(newcfg, sizeof(newcfg), "%sdebian/trixie/latest/nfsrw%s", cfg, p + strlen("ubuntu/noble/latest/nfsrw"));
	ck_assert_int_eq(itest_write_config(&srv, newcfg), 0);
	fetch(&c, "-X POST", "/api/v1/reload");
	ck_assert_uint_eq(c.code, 200);
	resp_free(&c);
	fetch(&c, "", "/autopxe-bc2411b01ade");
	ck_assert_uint_eq(c.code, 200);
	ck_assert_msg(c.len != a.len || memcmp(c.body, a.body, a.len) != 0, "stale menu after reload");
	ck_assert_ptr_nonnull(strstr(c.body, "debian/trixie/latest/nfsrw"));
	resp_free(&a);
	resp_free(&b);
	resp_free(&c);
	free(cfg);
}
END_TEST

/* keep-alive: curl reuses one connection for several requests */
START_TEST(test_keepalive)
{
	char *out = NULL;
	int rc = itest_run(&out, "curl -sv -o /dev/null -o /dev/null -o /dev/null 'http://127.0.0.1:%u/healthz' "
	                         "'http://127.0.0.1:%u/autopxe-bc2411b01ade' 'http://127.0.0.1:%u/boot/%s' 2>&1 | "
	                         "grep -c 'Re-using existing connection'",
	                   srv.http_port, srv.http_port, srv.http_port, KERNEL);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(out && atoi(out) == 2, "connection not reused: %s", out ? out : "");
	free(out);
}
END_TEST

/* ------------------------------------------------------------------ /metrics */

static int metric_name_ok(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
			return 0;
	return 1;
}

static int value_ok(const char *s)
{
	char *end;
	if (!strcmp(s, "+Inf") || !strcmp(s, "-Inf") || !strcmp(s, "NaN"))
		return 1;
	if (!*s)
		return 0;
	strtod(s, &end);
	return *end == '\0';
}

/* Strict Prometheus text-format (0.0.4) check; returns NULL or a message about the first bad line. */
static const char *prom_check(char *text, char *why, size_t whylen, int *n_samples)
{
	char typed[256][128];
	char type_of[256][16];
	size_t nt = 0;
	int lineno = 0;
	*n_samples = 0;
	if (!*text || text[strlen(text) - 1] != '\n')
		return "no final newline";
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		lineno++;
		if (line[0] == '#') {
			char kw[8], name[128], rest[64];
			if (sscanf(line, "# %7s %127s %63s", kw, name, rest) < 2 || (strcmp(kw, "HELP") && strcmp(kw, "TYPE")))
				return snprintf(why, whylen, "line %d: bad comment: %s", lineno, line), why;
			if (!metric_name_ok(name, strlen(name)))
				return snprintf(why, whylen, "line %d: bad name: %s", lineno, line), why;
			if (!strcmp(kw, "TYPE")) {
				static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
				int ok = 0;
				for (size_t i = 0; i < 5; i++)
					ok |= !strcmp(rest, types[i]);
				if (!ok || strlen(line) != strlen("# TYPE  ") + strlen(name) + strlen(rest))
					return snprintf(why, whylen, "line %d: bad TYPE: %s", lineno, line), why;
				for (size_t i = 0; i < nt; i++)
					if (!strcmp(typed[i], name))
						return snprintf(why, whylen, "line %d: second TYPE for %s", lineno, name), why;
				if (nt < 256) {
					snprintf(typed[nt], sizeof(typed[nt]), "%s", name);
					snprintf(type_of[nt], sizeof(type_of[nt]), "%s", rest);
					nt++;
				}
			}
			continue;
		}
		/* sample: name[{labels}] value [timestamp] */
		char *p = line, *q;
		while (*p && *p != '{' && *p != ' ')
			p++;
		if (!metric_name_ok(line, (size_t)(p - line)))
			return snprintf(why, whylen, "line %d: bad metric name: %s", lineno, line), why;
		size_t nlen = (size_t)(p - line);
		if (*p == '{') {
			p++;
			while (*p != '}') {
				q = p;
				while (isalnum((unsigned char)*p) || *p == '_')
					p++;
				if (p == q || isdigit((unsigned char)*q) || *p != '=' || p[1] != '"')
					return snprintf(why, whylen, "line %d: bad label: %s", lineno, line), why;
				p += 2;
				while (*p && *p != '"') {
					if (*p == '\\') {
						if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
							return snprintf(why, whylen, "line %d: bad escape: %s", lineno, line), why;
						p++;
					}
					p++;
				}
				if (*p != '"')
					return snprintf(why, whylen, "line %d: unterminated label value: %s", lineno, line), why;
				p++;
				if (*p == ',')
					p++;
				else if (*p != '}')
					return snprintf(why, whylen, "line %d: bad label list: %s", lineno, line), why;
			}
			p++;
		}
		if (*p != ' ')
			return snprintf(why, whylen, "line %d: no value: %s", lineno, line), why;
		p++;
		q = strchr(p, ' ');
		if (q) {
			*q = '\0';
			char *end;
			strtoll(q + 1, &end, 10);
			if (*end || !q[1])
				return snprintf(why, whylen, "line %d: bad timestamp", lineno), why;
		}
		if (!value_ok(p))
			return snprintf(why, whylen, "line %d: bad value '%s'", lineno, p), why;
		int ok = 0;
		for (size_t i = 0; i < nt && !ok; i++) {
			size_t tl = strlen(typed[i]);
			if (tl == nlen && !strncmp(line, typed[i], nlen))
				ok = 1;
			else if ((!strcmp(type_of[i], "histogram") || !strcmp(type_of[i], "summary")) && nlen > tl &&
			         !strncmp(line, typed[i], tl) &&
			         (!strncmp(line + tl, "_bucket", nlen - tl) || !strncmp(line + tl, "_sum", nlen - tl) ||
			          !strncmp(line + tl, "_count", nlen - tl)))
				ok = 1;
		}
		if (!ok)
			return snprintf(why, whylen, "line %d: sample before its TYPE: %.*s", lineno, (int)nlen, line), why;
		(*n_samples)++;
	}
	return NULL;
}

START_TEST(test_metrics)
{
	struct resp r;
	char v[128], why[512];
	int n;
	fetch(&r, "", "/autopxe-bc2411b01ade");
	resp_free(&r);
	fetch(&r, "", "/boot/" KERNEL);
	resp_free(&r);
	fetch(&r, "", "/metrics");
	ck_assert_uint_eq(r.code, 200);
	ck_assert_str_eq(hval(&r, "Content-Type", v, sizeof(v)), "text/plain; version=0.0.4; charset=utf-8");
	ck_assert_msg(strstr(r.body, "route=\"menu\"") != NULL, "no menu request counted:\n%s", r.body);
	ck_assert_msg(strstr(r.body, "route=\"file\"") != NULL, "no file request counted");
	const char *bad = prom_check(r.body, why, sizeof(why), &n);
	ck_assert_msg(bad == NULL, "%s", bad);
	ck_assert_int_gt(n, 5);
	resp_free(&r);
}
END_TEST

START_TEST(test_prom_checker_rejects)
{
	/* the checker itself must be able to fail */
	static const char *const bad[] = {
	    "x 1",                                       /* no newline */
	    "x 1\n",                                     /* sample before TYPE */
	    "# TYPE x counter\nx{a=\"b} 1\n",            /* unterminated */
	    "# TYPE x counter\nx{1a=\"b\"} 1\n",         /* bad label */
	    "# TYPE x counter\nx abc\n",                 /* bad value */
	    "# TYPE x foo\nx 1\n",                       /* bad type */
	    "# TYPE 1x counter\n",                       /* bad name */
	    "# random comment\n",                        /* only HELP/TYPE */
	    "# TYPE x counter\n# TYPE x counter\nx 1\n", /* repeated TYPE */
	};
	char why[256], buf[256];
	int n;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", bad[i]);
		ck_assert_msg(prom_check(buf, why, sizeof(why), &n) != NULL, "accepted bad[%zu]", i);
	}
	snprintf(buf, sizeof(buf), "# HELP x h\n# TYPE x histogram\nx_bucket{le=\"+Inf\"} 1\nx_sum 2.5\nx_count 1\n");
	ck_assert_ptr_null(prom_check(buf, why, sizeof(why), &n));
	ck_assert_int_eq(n, 3);
}
END_TEST

/* ------------------------------------------------------------------ concurrency */

START_TEST(test_concurrent_downloads)
{
	char want[65], p[400];
	char *out = NULL;
	int rc;
	snprintf(p, sizeof(p), "%s/%s", srv.rootfs, INITRD);
	ck_assert_int_eq(itest_sha256(p, want), 0);
	rc = itest_run(&out,
	               "cd '%s' && mkdir -p dl && i=0; while [ $i -lt 50 ]; do i=$((i+1)); "
	               "curl -sS -o dl/$i 'http://127.0.0.1:%u/boot/%s' & done; wait; sha256sum dl/* | cut -c1-64 | "
	               "sort | uniq -c",
	               srv.dir, srv.http_port, INITRD);
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(out);
	snprintf(p, sizeof(p), "50 %s", want);
	ck_assert_msg(strstr(out, p) != NULL, "downloads differ:\n%s", out);
	free(out);
}
END_TEST

/* ------------------------------------------------------------------ limits: slowloris, per-client cap */

static void setup_limits(void)
{
	char cfg[2048];
	ck_assert_int_eq(itest_prepare(&srv), 0);
	snprintf(cfg, sizeof(cfg), "%sHTTPTimeout: 2\nHTTPMaxPerClient: 4\nHTTPThreads: 1\n", http_config);
	ck_assert_int_eq(itest_write_config(&srv, cfg), 0);
	ck_assert_msg(itest_start(&srv, 0, 1, NULL) == 0, "server did not start (log %s)", srv.log);
}

/* 1 when the server closed fd (read gives EOF or reset) within `ms`. */
static int closed_within(int fd, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	char c;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return read(fd, &c, 1) <= 0 && errno != EAGAIN && errno != EWOULDBLOCK;
}

START_TEST(test_slow_clients)
{
	int fds[4], extra;
	struct resp r;
	usleep(300 * 1000); /* let the server notice that itest_start's probe connection closed */
	/* four clients that send half a request and stall hold every slot this address may use */
	for (int i = 0; i < 4; i++) {
		fds[i] = itest_tcp_connect(NULL, srv.http_port);
		static const char half[] = "GET /healthz HTTP/1.1\r\nHo";
		ck_assert_int_eq((int)write(fds[i], half, strlen(half)), (int)strlen(half));
	}
	for (int i = 0; i < 4; i++) /* all four were accepted */
		ck_assert_msg(!closed_within(fds[i], 100), "stalled connection %d refused", i);
	/* a fifth connection from the same address is refused at once */
	extra = itest_tcp_connect(NULL, srv.http_port);
	errno = 0;
	ck_assert_msg(closed_within(extra, 1000), "fifth connection from one address was not refused");
	close(extra);
	/* HTTPTimeout ends the stalled ones */
	for (int i = 0; i < 4; i++) {
		errno = 0;
		ck_assert_msg(closed_within(fds[i], 4000), "stalled connection %d still open after HTTPTimeout", i);
		close(fds[i]);
	}
	/* and the server serves again */
	fetch(&r, "", "/healthz");
	ck_assert_uint_eq(r.code, 200);
	resp_free(&r);
}
END_TEST

Suite *http_it_suite(void)
{
	Suite *s = suite_create("http_it");
	TCase *tc = tcase_create("server");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_menu_routes);
	tcase_add_test(tc, test_file_download);
	tcase_add_test(tc, test_ranges);
	tcase_add_test(tc, test_if_range_and_conditionals);
	tcase_add_test(tc, test_path_escapes);
	tcase_add_test(tc, test_overlong_and_raw);
	tcase_add_test(tc, test_misc_routes);
	tcase_add_test(tc, test_api);
	tcase_add_test(tc, test_reload_and_health);
	tcase_add_test(tc, test_menu_after_reload);
	tcase_add_test(tc, test_keepalive);
	tcase_add_test(tc, test_metrics);
	tcase_add_test(tc, test_concurrent_downloads);
	suite_add_tcase(s, tc);
	TCase *lim = tcase_create("limits");
	tcase_add_checked_fixture(lim, setup_limits, teardown);
	tcase_set_timeout(lim, 60);
	tcase_add_test(lim, test_slow_clients);
	suite_add_tcase(s, lim);
	TCase *pure = tcase_create("checker");
	tcase_add_test(pure, test_prom_checker_rejects);
	suite_add_tcase(s, pure);
	return s;
}
