/* metrics.h - process-wide counters (lock-free atomics) and their Prometheus text rendering. */
#ifndef AUTOPXE_METRICS_H
#define AUTOPXE_METRICS_H

#include <stdint.h>

#include "util.h"

enum tftp_outcome {
	TFTP_OUT_OK,
	TFTP_OUT_NOT_FOUND,
	TFTP_OUT_DENIED,   /* refused name, write request */
	TFTP_OUT_TIMEOUT,  /* client vanished, retries exhausted */
	TFTP_OUT_ABORTED,  /* client sent ERROR */
	TFTP_OUT_BUSY,     /* refused over a session cap */
	TFTP_OUT_BAD_REQUEST,
	TFTP_OUT_IO_ERROR,
	TFTP_OUT_MAX
};
const char *tftp_outcome_name(enum tftp_outcome o);

/* TFTP: one call per finished transfer (or refused request). */
void metrics_tftp_done(enum tftp_outcome o, uint64_t bytes, unsigned blksize, unsigned windowsize,
                       unsigned retransmits);
void metrics_tftp_active(int delta);
void metrics_tftp_menu(void);
/* One busy-poll (TFTPBusyPoll) that ended: caught = a packet came before the budget ran out. */
void metrics_tftp_spin(int caught);
/* TFTP loops taking new requests (TFTPThreads auto follows the usable CPUs). */
void metrics_tftp_loops(unsigned n);

/* HTTP: route is a short static name ("menu", "file", "metrics", "healthz", "api", "other", "rejected": answered
 * by libmicrohttpd itself). */
void metrics_http_request(const char *route, unsigned status, uint64_t bytes);
void metrics_http_active(int delta);

/* proxyDHCP (src/dhcp_server.c): one call per packet handled. */
enum dhcp_metric {
	DHCP_M_OFFER,        /* DHCPOFFER sent for a DISCOVER on 67 */
	DHCP_M_ACK,          /* DHCPACK sent (REQUEST on 4011, or on 67 naming us) */
	DHCP_M_IGNORED_NOT_PXE, /* a DHCP client that is not a PXE client: left to the real server */
	DHCP_M_IGNORED_OTHER,   /* a PXE client's packet that is not for us (REQUEST to the real server, RELEASE, ...) */
	DHCP_M_NO_BOOTFILE,  /* a PXE client with no boot file configured for its architecture */
	DHCP_M_MALFORMED,    /* dropped: truncated, bad options, wrong cookie, not Ethernet */
	DHCP_M_NO_MERGE,     /* a client that DISCOVERs again after our offer and never REQUESTs */
	DHCP_M_MAX
};
void metrics_dhcp(enum dhcp_metric what);

/* Snapshot/reload bookkeeping. */
void metrics_reload(int ok, uint64_t scan_us, uint64_t releases, uint64_t kernels);
void metrics_config_error(void);

/* Append the Prometheus exposition text to out. 0 or -ENOMEM. */
int metrics_render(sbuf *out);
/* Append one unlabelled sample with its HELP and TYPE lines (for other modules' metrics). 0 or -ENOMEM. */
int metrics_put(sbuf *out, const char *name, const char *type, const char *help, unsigned long long value);

#endif
