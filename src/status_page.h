/* status_page.h - the HTML status page at / : nodes per state, the node table, a pin form (no framework, offline). */
#ifndef AUTOPXE_STATUS_PAGE_H
#define AUTOPXE_STATUS_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "util.h"

/* Append the page to out: counts per state and the table rendered on the server (so it reads without
 * JavaScript), plus a small script that polls /api/v1/nodes every 2 s, filters the table and sets/clears pins
 * through the API. store_on: the state store is open; degraded: "" or why it runs in memory only.
 * Every value from the store is HTML-escaped. 0 or -ENOMEM. */
int status_page_render(const struct store_node *nodes, size_t n, const size_t counts[NODE_NSTATES], int64_t now_ms,
                       int store_on, const char *degraded, sbuf *out);

/* Append s HTML-escaped (& < > " ') to out. 0 or -ENOMEM. */
int html_escape(sbuf *out, const char *s);

#endif
