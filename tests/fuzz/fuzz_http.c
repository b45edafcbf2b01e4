/* fuzz_http.c - libFuzzer target: HTTP Range, validators, dates and strict path decoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	uint64_t start = 0, len = 0;
	uint64_t fsize = size ? data[0] * 1000003ull : 0;
	if (http_range_parse(s, fsize, &start, &len) == HTTP_RANGE_PARTIAL && (len == 0 || start + len > fsize))
		__builtin_trap();
	time_t t;
	http_date_parse(s, &t);
	http_etag_match(s, "\"abc-1\"");
	http_not_modified(s, s, "\"abc-1\"", 1000);
	char out[2048];
	size_t outlen = 0;
	if (http_path_decode(s, size, out, sizeof out, &outlen) == 0 && memchr(out, '\0', outlen))
		__builtin_trap(); /* a decoded NUL must be refused, never passed on */
	free(s);
	return 0;
}
