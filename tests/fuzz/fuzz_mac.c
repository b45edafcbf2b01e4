/* fuzz_mac.c - libFuzzer target: MAC parsing and menu request names (TFTP/HTTP input). */
#include <stdint.h>
#include <string.h>

#include "mac.h"
#include "render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t mac[6], mac2[6];
	char raw[13];
	if (mac_parse((const char *)data, size, mac) == 0) {
		/* Round trip: the canonical spelling must parse back to the same address. */
		mac_hexraw(mac, raw);
		if (mac_parse(raw, 12, mac2) != 0 || memcmp(mac, mac2, 6) != 0)
			__builtin_trap();
	}
	char sub[128];
	int rc = menu_request_parse((const char *)data, size, mac, sub, sizeof sub);
	if (rc == 1 && strlen(sub) >= sizeof sub)
		__builtin_trap();
	return 0;
}
