/* fuzz_pin.c - libFuzzer target: the body of POST /api/v1/hosts/<mac>/pin and RFC 3339 times (errors, never crashes). */
#include <stdint.h>
#include <string.h>

#include "api_fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_pin p;
	char err[256];
	int64_t t;
	memset(&p, 0, sizeof p);
	err[0] = '\0';
	int rc = api_pin_parse((const char *)data, size, 1796000000, &p, err, sizeof err);
	if (rc != 0 && !err[0])
		__builtin_trap(); /* every refusal says why */
	if (rc == 0 && (!p.boot[0] || memchr(p.boot, '\n', sizeof p.boot)))
		__builtin_trap();
	(void)rfc3339_parse((const char *)data, size, &t);
	return 0;
}
