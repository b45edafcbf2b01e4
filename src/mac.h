/* mac.h - MAC address parsing in every common spelling, and canonical formatting. */
#ifndef AUTOPXE_MAC_H
#define AUTOPXE_MAC_H

#include <stddef.h>
#include <stdint.h>

/* Parse s[0..len) as a MAC address. Accepted spellings (case-insensitive):
 *   bc2411b01ade            (iPXE ${mac:hexraw})
 *   bc:24:11:b0:1a:de       (colons; iPXE ${mac})
 *   bc-24-11-b0-1a-de       (hyphens; iPXE ${mac:hexhyp}, Windows)
 *   bc24.11b0.1ade          (Cisco dotted quads)
 *   01-bc-24-11-b0-1a-de    (pxelinux ARP-type-1 prefix, any of the separators above)
 * Separators must be used consistently. Returns 0 or -EINVAL. Pure function. */
int mac_parse(const char *s, size_t len, uint8_t out[6]);
/* Convenience for NUL-terminated strings. */
int mac_parse_str(const char *s, uint8_t out[6]);
/* 12 lower-case hex digits + NUL. */
void mac_hexraw(const uint8_t mac[6], char out[13]);
/* aa:bb:cc:dd:ee:ff + NUL. */
void mac_colon(const uint8_t mac[6], char out[18]);

#endif
