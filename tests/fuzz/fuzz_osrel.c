/* fuzz_osrel.c - libFuzzer target: the os-release parser (a rootfs's etc/os-release is outside input). */
#include <stdint.h>
#include <string.h>

#include "scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan_kv *kv = NULL;
	size_t n = 0;
	if (scan_osrelease_parse((const char *)data, size, &kv, &n) != 0)
		return 0;
	if (n > SCAN_OSREL_MAX_KEYS)
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		/* values go into menus: bounded, no control bytes; keys unique */
		if (!kv[i].key || !kv[i].value || strlen(kv[i].value) > SCAN_OSREL_MAX_VALUE || !kv[i].key[0])
			__builtin_trap();
		for (const char *p = kv[i].value; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				__builtin_trap();
		for (size_t j = 0; j < i; j++)
			if (strcmp(kv[i].key, kv[j].key) == 0)
				__builtin_trap();
	}
	scan_osrelease_free(kv, n);
	return 0;
}
