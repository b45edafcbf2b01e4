/* fuzz_vfs.c - libFuzzer target: the shared file-name normaliser must never yield an escaping path. */
#include <stdint.h>
#include <string.h>

#include "vfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[1100];
	if (vfs_normalize((const char *)data, size, out, sizeof out) != 0)
		return 0;
	size_t n = strlen(out);
	/* Accepted names: relative, no "..", no control bytes or backslashes, no empty components. */
	if (n == 0 || out[0] == '/' || strstr(out, "//") || out[n - 1] == '/' || strchr(out, '\\'))
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
			__builtin_trap();
	for (const char *p = out; p;) {
		const char *e = strchr(p, '/');
		size_t clen = e ? (size_t)(e - p) : strlen(p);
		if ((clen == 2 && p[0] == '.' && p[1] == '.') || (clen == 1 && p[0] == '.'))
			__builtin_trap();
		p = e ? e + 1 : NULL;
	}
	return 0;
}
