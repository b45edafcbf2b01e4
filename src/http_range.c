/* http_range.c - pure HTTP helpers: Range, validators (ETag, HTTP-date), conditional requests, path decoding. */
#include "http_range.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include <strings.h>
#include <sys/socket.h>

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_ows(const char *p)
{
	while (is_ows(*p))
		p++;
	return p;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Read a run of digits (at least one) into *v, saturating at UINT64_MAX. Returns the end or NULL. */
static const char *read_u64_sat(const char *p, uint64_t *v)
{
	uint64_t x = 0;
	if (!is_digit(*p))
		return NULL;
	for (; is_digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (x > (UINT64_MAX - d) / 10)
			x = UINT64_MAX;
		else
			x = x * 10 + d;
	}
	*v = x;
	return p;
}

/* One byte-range-spec or suffix-byte-range-spec ending at ',' or end (OWS allowed before it).
 * Returns the position after it, or NULL when malformed; *sat = 1 with *s, *l when satisfiable. */
static const char *parse_spec(const char *p, uint64_t size, int *sat, uint64_t *s, uint64_t *l)
{
	uint64_t first = 0, last = UINT64_MAX;
	*sat = 0;
	if (*p == '-') { /* suffix: the last N bytes */
		uint64_t n;
		p = read_u64_sat(p + 1, &n);
		if (!p)
			return NULL;
		if (n > 0 && size > 0) {
			if (n > size)
				n = size;
			*sat = 1;
			*s = size - n;
			*l = n;
		}
	} else {
		p = read_u64_sat(p, &first);
		if (!p || *p != '-')
			return NULL;
		p++;
		if (is_digit(*p)) {
			p = read_u64_sat(p, &last);
			if (last < first)
				return NULL; /* invalid byte-range-spec (RFC 9110 14.1.1) */
		}
		if (first < size) {
			if (last >= size)
				last = size - 1;
			*sat = 1;
			*s = first;
			*l = last - first + 1;
		}
	}
	p = skip_ows(p);
	if (*p != ',' && *p != '\0')
		return NULL;
	return p;
}

enum http_range_result http_range_parse(const char *hdr, uint64_t size, uint64_t *start, uint64_t *len)
{
	const char *p;
	unsigned n_specs = 0, n_sat = 0;
	uint64_t s0 = 0, l0 = 0;
	if (!hdr)
		return HTTP_RANGE_NONE;
	p = skip_ows(hdr);
	if (strncasecmp(p, "bytes", 5) != 0)
		return HTTP_RANGE_INVALID;
	p = skip_ows(p + 5);
	if (*p != '=')
		return HTTP_RANGE_INVALID;
	p++;
	for (;;) {
		int sat;
		uint64_t s, l;
		p = skip_ows(p);
		if (*p == ',') { /* empty list element: tolerated (RFC 9110 5.6.1) */
			p++;
			continue;
		}
		if (*p == '\0')
			break;
		p = parse_spec(p, size, &sat, &s, &l);
		if (!p)
			return HTTP_RANGE_INVALID;
		n_specs++;
		if (sat && n_sat++ == 0) {
			s0 = s;
			l0 = l;
		}
	}
	if (n_specs == 0)
		return HTTP_RANGE_INVALID;
	if (n_sat == 0)
		return HTTP_RANGE_UNSATISFIABLE;
	if (n_specs > 1)
		return HTTP_RANGE_MULTI;
	*start = s0;
	*len = l0;
	return HTTP_RANGE_PARTIAL;
}

void http_etag_format(uint64_t size, uint64_t mtime_ns, uint64_t ino, char *out, size_t outlen)
{
	snprintf(out, outlen, "\"%llx-%llx-%llx\"", (unsigned long long)size, (unsigned long long)mtime_ns,
	         (unsigned long long)ino);
}

/* etagc = %x21 / %x23-7E / obs-text */
static int is_etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

int http_etag_match(const char *hdr, const char *etag)
{
	const char *p;
	size_t elen;
	if (!hdr || !etag)
		return 0;
	elen = strlen(etag);
	if (elen < 2 || etag[0] != '"' || etag[elen - 1] != '"')
		return 0;
	p = skip_ows(hdr);
	if (*p == '*' && *skip_ows(p + 1) == '\0')
		return 1;
	for (;;) {
		const char *q;
		p = skip_ows(p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '\0')
			return 0;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p != '"')
			return 0;
		q = p + 1;
		while (is_etagc((unsigned char)*q))
			q++;
		if (*q != '"')
			return 0;
		q++;
		if (*skip_ows(q) != ',' && *skip_ows(q) != '\0')
			return 0;
		if ((size_t)(q - p) == elen && memcmp(p, etag, elen) == 0)
			return 1;
		p = q;
	}
}

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wdays_long[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void http_date_format(time_t t, char *out, size_t outlen)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		snprintf(out, outlen, "Thu, 01 Jan 1970 00:00:00 GMT");
		return;
	}
	snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	         tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Exactly n digits. */
static const char *read_fixed(const char *p, int n, int *v)
{
	int x = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return NULL;
		x = x * 10 + (p[i] - '0');
	}
	*v = x;
	return p + n;
}

static const char *read_month(const char *p, int *mon)
{
	for (int i = 0; i < 12; i++) {
		if (strncmp(p, months[i], 3) == 0) {
			*mon = i;
			return p + 3;
		}
	}
	return NULL;
}

static const char *read_wday(const char *p, const char *const *names)
{
	for (int i = 0; i < 7; i++) {
		size_t n = strlen(names[i]);
		if (strncmp(p, names[i], n) == 0)
			return p + n;
	}
	return NULL;
}

/* "HH:MM:SS" */
static const char *read_hms(const char *p, struct tm *tm)
{
	if (!(p = read_fixed(p, 2, &tm->tm_hour)) || *p++ != ':' || !(p = read_fixed(p, 2, &tm->tm_min)) ||
	    *p++ != ':' || !(p = read_fixed(p, 2, &tm->tm_sec)))
		return NULL;
	return p;
}

static int days_in_month(int mon, int year)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return d[mon] + (mon == 1 && leap);
}

int http_date_parse(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	int year = 0;
	if (!s)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	p = skip_ows(s);
	if (p[0] && p[1] && p[2] && p[3] == ',') { /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
		if (!read_wday(p, wdays))
			return -EINVAL;
		p += 4;
		if (*p++ != ' ' || !(p = read_fixed(p, 2, &tm.tm_mday)) || *p++ != ' ' || !(p = read_month(p, &tm.tm_mon)) ||
		    *p++ != ' ' || !(p = read_fixed(p, 4, &year)) || *p++ != ' ' || !(p = read_hms(p, &tm)) ||
		    strncmp(p, " GMT", 4) != 0)
			return -EINVAL;
		p += 4;
	} else if (p[0] && p[1] && p[2] && p[3] == ' ') { /* asctime: Sun Nov  6 08:49:37 1994 */
		if (!read_wday(p, wdays))
			return -EINVAL;
		p += 4;
		if (!(p = read_month(p, &tm.tm_mon)) || *p++ != ' ')
			return -EINVAL;
		if (*p == ' ') {
			if (!(p = read_fixed(p + 1, 1, &tm.tm_mday)))
				return -EINVAL;
		} else if (!(p = read_fixed(p, 2, &tm.tm_mday))) {
			return -EINVAL;
		}
		if (*p++ != ' ' || !(p = read_hms(p, &tm)) || *p++ != ' ' || !(p = read_fixed(p, 4, &year)))
			return -EINVAL;
	} else { /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
		int yy;
		if (!(p = read_wday(p, wdays_long)) || *p++ != ',' || *p++ != ' ' || !(p = read_fixed(p, 2, &tm.tm_mday)) ||
		    *p++ != '-' || !(p = read_month(p, &tm.tm_mon)) || *p++ != '-' || !(p = read_fixed(p, 2, &yy)) ||
		    *p++ != ' ' || !(p = read_hms(p, &tm)) || strncmp(p, " GMT", 4) != 0)
			return -EINVAL;
		p += 4;
		/* Two-digit years: RFC 9110 says a year that looks more than 50 years ahead is in the past. */
		year = yy < 70 ? 2000 + yy : 1900 + yy;
	}
	if (*skip_ows(p) != '\0')
		return -EINVAL;
	if (year < 1900 || tm.tm_mday < 1 || tm.tm_mday > days_in_month(tm.tm_mon, year) || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -EINVAL;
	tm.tm_year = year - 1900;
	*out = timegm(&tm);
	return 0;
}

int http_not_modified(const char *if_none_match, const char *if_modified_since, const char *etag, time_t mtime)
{
	time_t t;
	if (if_none_match)
		return http_etag_match(if_none_match, etag);
	if (if_modified_since && http_date_parse(if_modified_since, &t) == 0)
		return mtime <= t;
	return 0;
}

int http_if_range_ok(const char *if_range, const char *etag, time_t mtime)
{
	const char *p;
	size_t n;
	time_t t;
	if (!if_range)
		return 1;
	p = skip_ows(if_range);
	if (*p == '"') { /* strong comparison only; a weak tag never matches */
		n = strlen(p);
		while (n > 0 && is_ows(p[n - 1]))
			n--;
		return etag && n == strlen(etag) && memcmp(p, etag, n) == 0;
	}
	if (p[0] == 'W' && p[1] == '/')
		return 0;
	return http_date_parse(p, &t) == 0 && t == mtime;
}

static int is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

int http_path_decode(const char *raw, size_t rawlen, char *out, size_t outsz, size_t *outlen)
{
	size_t i = 0, o = 0;
	if (!raw || outsz == 0)
		return -EINVAL;
	/* absolute-form (RFC 9112 3.2.2): skip scheme and authority */
	if (rawlen >= 7 && strncasecmp(raw, "http://", 7) == 0)
		i = 7;
	else if (rawlen >= 8 && strncasecmp(raw, "https://", 8) == 0)
		i = 8;
	if (i > 0) {
		while (i < rawlen && raw[i] != '/' && raw[i] != '?' && raw[i] != '#') {
			if (is_ctl((unsigned char)raw[i]))
				return -EINVAL;
			i++;
		}
		if (i == rawlen || raw[i] != '/') { /* "http://host" or "http://host?q": the root */
			if (outsz < 2)
				return -ENAMETOOLONG;
			out[0] = '/';
			out[1] = '\0';
			*outlen = 1;
			return 0;
		}
	}
	if (i >= rawlen || raw[i] != '/')
		return -EINVAL;
	for (; i < rawlen && raw[i] != '?' && raw[i] != '#'; i++) {
		unsigned char c = (unsigned char)raw[i];
		if (is_ctl(c))
			return -EINVAL;
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= rawlen)
				return -EINVAL;
			hi = hex_value(raw[i + 1]);
			lo = hex_value(raw[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (unsigned char)(hi << 4 | lo);
			if (is_ctl(c))
				return -EINVAL;
			i += 2;
		}
		if (o + 1 >= outsz)
			return -ENAMETOOLONG;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*outlen = o;
	return 0;
}

int http_addr_text(const struct sockaddr *sa, char *out, size_t outsz)
{
	char buf[INET6_ADDRSTRLEN] = "?";
	int loopback = 0;
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof(buf));
		loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf, sizeof(buf));
			loopback = s6->sin6_addr.s6_addr[12] == 127;
		} else {
			inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof(buf));
			loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
		}
	}
	if (outsz > 0)
		snprintf(out, outsz, "%s", buf);
	return loopback;
}
