/* api.h - the JSON documents of the HTTP API (/api/v1/catalog, /api/v1/hosts/<mac>, replies), built with jansson. */
#ifndef AUTOPXE_API_H
#define AUTOPXE_API_H

#include <stdint.h>

#include "snapshot.h"
#include "util.h"

/* Append the catalog document of snapshot s to out: generation, config path, DefaultDistro (and whether it
 * resolves), templates, hosts, every distro/release/kernel with paths, URLs (relative, "boot/..."), sizes,
 * latest and default, the entries the scanner skipped and the snapshot's warnings. Borrows s.
 * 0 or -ENOMEM. */
int api_catalog_json(const struct snapshot *s, sbuf *out);

/* Append what host `mac` gets to out: its boot id and where it comes from ("API pin", "API pin (once)",
 * "HostDefaults line N", "DefaultDistro line N" or "none"; precedence in that order; a pin that does not resolve
 * is reported in "pin_error" and ignored), whether it resolves (and why not), the resolved kernel, the expanded
 * kernel command line and the kernel/initrd URLs below base_url (a prefix ending in '/', may be "").
 * ip is the client address used for ${ip}-style variables ("" if unknown). Borrows s. 0 or -ENOMEM. */
int api_host_json(const struct snapshot *s, const uint8_t mac[6], const char *ip, const char *base_url, sbuf *out);

/* Append {"ok": ok, "message": msg} to out. 0 or -ENOMEM. */
int api_message_json(int ok, const char *msg, sbuf *out);

/* Append j's serialisation (2-space indent, keys in insertion order, then a newline) to out. Consumes j
 * (NULL counts as out of memory). 0 or -ENOMEM. Shared by api.c and api_fleet.c. */
struct json_t;
int api_json_dump(struct json_t *j, sbuf *out);

#endif
