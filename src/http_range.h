/* http_range.h - pure HTTP helpers: Range, validators (ETag, HTTP-date), conditionals, path decoding, addresses. */
#ifndef AUTOPXE_HTTP_RANGE_H
#define AUTOPXE_HTTP_RANGE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* What a Range header asks of an entity of a known size (RFC 9110 section 14). */
enum http_range_result {
	HTTP_RANGE_NONE = 0,      /* no header: serve the whole entity (200) */
	HTTP_RANGE_INVALID,       /* malformed, unknown unit, last < first: ignored, whole entity (200) */
	HTTP_RANGE_MULTI,         /* several ranges, at least one satisfiable: we ignore it, whole entity (200) */
	HTTP_RANGE_PARTIAL,       /* exactly one satisfiable range in *start, *len: 206 */
	HTTP_RANGE_UNSATISFIABLE, /* nothing satisfiable: 416 with "Content-Range: bytes * /size" */
};

/* Parse a Range header value (hdr may be NULL) for an entity of `size` bytes. On HTTP_RANGE_PARTIAL
 * *start and *len (>= 1) give the bytes to send; the end is clamped to size - 1. Numbers that overflow
 * 64 bits saturate (a huge first-pos is unsatisfiable, a huge last-pos or suffix means "to the end").
 * Unit names are case-insensitive; optional whitespace around list elements and empty elements are
 * tolerated. Pure. */
enum http_range_result http_range_parse(const char *hdr, uint64_t size, uint64_t *start, uint64_t *len);

/* Longest ETag http_etag_format() writes, with quotes and NUL. */
#define HTTP_ETAG_MAX 64
/* Format the strong ETag "<size hex>-<mtime ns hex>-<inode hex>" (with the double quotes) into out. */
void http_etag_format(uint64_t size, uint64_t mtime_ns, uint64_t ino, char *out, size_t outlen);

/* 1 when an If-None-Match value (NULL = absent: 0) matches etag (a quoted strong tag as formatted above):
 * "*" matches, otherwise any member of the list by weak comparison (W/"x" matches "x").
 * A malformed list matches nothing from the first bad member on. Pure. */
int http_etag_match(const char *hdr, const char *etag);

/* Length of an HTTP-date as written by http_date_format() plus NUL. */
#define HTTP_DATE_MAX 30
/* Write t as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into out (>= HTTP_DATE_MAX). */
void http_date_format(time_t t, char *out, size_t outlen);
/* Parse an HTTP-date in any of the three forms of RFC 9110 5.6.7 (IMF-fixdate, RFC 850, asctime).
 * Surrounding whitespace is tolerated. 0 or -EINVAL. Pure. */
int http_date_parse(const char *s, time_t *out);

/* 1 when a GET/HEAD carrying these validators (either may be NULL) should get 304 Not Modified for an
 * entity with this etag and mtime: If-None-Match wins when present (If-Modified-Since is then ignored);
 * an unparsable If-Modified-Since is ignored. Pure. */
int http_not_modified(const char *if_none_match, const char *if_modified_since, const char *etag, time_t mtime);

/* 1 when a Range may be honoured given an If-Range value (NULL = absent: 1): a strong entity-tag equal to
 * etag, or an HTTP-date equal to mtime. Otherwise 0 (send the whole entity). Pure. */
int http_if_range_ok(const char *if_range, const char *etag, time_t mtime);

/* Decode the path of a raw request target (as the client sent it, query and fragment dropped; absolute-form
 * "http://host/path" accepted) into out, NUL-terminated, *outlen = its length. Strict: "%" must be followed by
 * two hex digits, and neither the raw nor the decoded bytes may hold NUL or control bytes (0x00-0x1f, 0x7f).
 * Decodes exactly once ("%252e" gives "%2e"). The result starts with '/'.
 * 0, -EINVAL (malformed or forbidden byte) or -ENAMETOOLONG (does not fit outsz). Pure. */
int http_path_decode(const char *raw, size_t rawlen, char *out, size_t outsz, size_t *outlen);

struct sockaddr;
/* Write a client address as text into out (IPv4-mapped IPv6 as a dotted quad, "?" for NULL or other families)
 * and return 1 when it is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x.y.z), else 0. Pure. */
int http_addr_text(const struct sockaddr *sa, char *out, size_t outsz);

#endif
