/* mac.c - MAC address parsing in every common spelling, and canonical formatting. */
#include "mac.h"

#include <errno.h>
#include <string.h>

#include "util.h"

/* Read exactly 12 hex digits from s[0..len). With group > 0, every (group+1)-th character must be
 * the separator `sep` (so separators are used consistently); with group == 0 there are none. */
static int read_digits(const char *s, size_t len, char sep, size_t group, uint8_t out[6])
{
	uint8_t tmp[6] = {0};
	size_t nd = 0;
	for (size_t i = 0; i < len; i++) {
		if (group && i % (group + 1) == group) {
			if (s[i] != sep)
				return -EINVAL;
			continue;
		}
		int v = hex_value(s[i]);
		if (v < 0 || nd >= 12)
			return -EINVAL;
		tmp[nd / 2] = (uint8_t)(tmp[nd / 2] << 4 | v);
		nd++;
	}
	if (nd != 12)
		return -EINVAL;
	memcpy(out, tmp, 6);
	return 0;
}

int mac_parse(const char *s, size_t len, uint8_t out[6])
{
	if (!s)
		return -EINVAL;
	/* pxelinux "01-" (ARP hardware type 1 = Ethernet) prefix, in the separator the rest uses */
	if (len == 20 && s[0] == '0' && s[1] == '1' && (s[2] == '-' || s[2] == ':') && s[5] == s[2]) {
		s += 3;
		len -= 3;
	}
	switch (len) {
	case 12: /* bc2411b01ade */
		return read_digits(s, len, 0, 0, out);
	case 17: /* bc:24:11:b0:1a:de or bc-24-11-b0-1a-de */
		if (s[2] != ':' && s[2] != '-')
			return -EINVAL;
		return read_digits(s, len, s[2], 2, out);
	case 14: /* bc24.11b0.1ade */
		return read_digits(s, len, '.', 4, out);
	default:
		return -EINVAL;
	}
}

int mac_parse_str(const char *s, uint8_t out[6])
{
	if (!s)
		return -EINVAL;
	return mac_parse(s, strlen(s), out);
}

static const char hexdig[] = "0123456789abcdef";

void mac_hexraw(const uint8_t mac[6], char out[13])
{
	for (int i = 0; i < 6; i++) {
		out[2 * i] = hexdig[mac[i] >> 4];
		out[2 * i + 1] = hexdig[mac[i] & 15];
	}
	out[12] = '\0';
}

void mac_colon(const uint8_t mac[6], char out[18])
{
	for (int i = 0; i < 6; i++) {
		out[3 * i] = hexdig[mac[i] >> 4];
		out[3 * i + 1] = hexdig[mac[i] & 15];
		out[3 * i + 2] = i < 5 ? ':' : '\0';
	}
}
