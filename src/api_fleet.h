/* api_fleet.h - the fleet parts of the HTTP API: pin requests (parse), pins, nodes and timelines (JSON). */
#ifndef AUTOPXE_API_FLEET_H
#define AUTOPXE_API_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"
#include "store.h"
#include "util.h"

/* Parse an RFC 3339 date-time ("2026-12-03T10:00:00Z", "...T10:00:00.5+02:00"; 'T' or 't' or ' ') into unix
 * seconds. 0 or -EINVAL. Pure. */
int rfc3339_parse(const char *s, size_t len, int64_t *out);
/* Format unix seconds as "YYYY-MM-DDTHH:MM:SSZ" (out >= 21 bytes). */
void rfc3339_format(int64_t t, char *out, size_t len);

/* Parse the body of POST /api/v1/hosts/<mac>/pin: {"boot": "<boot id>", "once": bool, "until": "<RFC 3339>"}
 * ("boot" required, the others optional; unknown keys refused). Fills out->boot/once/until (not mac/created).
 * now: current unix seconds (an "until" in the past is refused). 0 or -EINVAL with a reason in err. Pure. */
int api_pin_parse(const char *body, size_t len, int64_t now, struct store_pin *out, char *err, size_t errlen);

/* {"mac", "boot", "once", "until", "created", "resolves", "error"?} of p against snapshot s (may be NULL). */
int api_pin_json(const struct store_pin *p, const struct snapshot *s, sbuf *out);

/* {"now_ms", "counts": {state: n, ...}, "nodes": [{mac, state, boot_id, ip, first_seen_ms, last_seen_ms,
 * age_s, last_event, pin?}]} for nodes (filter already applied); counts cover all_counts. Borrows all. */
int api_nodes_json(const struct store_node *nodes, size_t n, const size_t all_counts[NODE_NSTATES], int64_t now_ms,
                   sbuf *out);

/* One node and its timeline: the node's fields plus "events": [{ts_ms, kind, proto, file, bytes, ms, ok, boot}]. */
int api_node_json(const struct store_node *node, const struct store_event *ev, size_t nev, int64_t now_ms,
                  sbuf *out);

#endif
