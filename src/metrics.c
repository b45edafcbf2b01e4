/* metrics.c - process-wide counters kept with atomics and rendered in the Prometheus text format. */
#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#define A_ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define A_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define A_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

static const char *const outcome_names[TFTP_OUT_MAX] = {
    "ok", "not_found", "denied", "timeout", "aborted", "busy", "bad_request", "io_error",
};

const char *tftp_outcome_name(enum tftp_outcome o) { return o < TFTP_OUT_MAX ? outcome_names[o] : "unknown"; }

/* Histogram buckets for negotiated TFTP block and window sizes. */
static const unsigned blk_bounds[] = {512, 1024, 1432, 1468, 4096, 8192, 16384, 65464};
static const unsigned win_bounds[] = {1, 2, 4, 8, 16, 32, 64, 65535};
#define NB (sizeof blk_bounds / sizeof blk_bounds[0])

struct hist {
	uint64_t bucket[NB]; /* cumulative counts computed at render time */
	uint64_t count, sum;
};

static struct {
	uint64_t tftp_done[TFTP_OUT_MAX];
	uint64_t tftp_bytes, tftp_retrans, tftp_menus;
	uint64_t tftp_spin[2]; /* busy-polls: [0] ran out, [1] caught a packet */
	uint64_t tftp_loops;
	int64_t tftp_active;
	struct hist blk, win;
	int64_t http_active;
	uint64_t http_bytes;
	uint64_t reloads_ok, reloads_failed, config_errors;
	uint64_t scan_us, releases, kernels;
	uint64_t dhcp[DHCP_M_MAX];
} m;

static void hist_add(struct hist *h, const unsigned *bounds, unsigned v)
{
	for (size_t i = 0; i < NB; i++) {
		if (v <= bounds[i]) {
			A_ADD(&h->bucket[i], 1);
			break;
		}
	}
	A_ADD(&h->count, 1);
	A_ADD(&h->sum, v);
}

void metrics_tftp_done(enum tftp_outcome o, uint64_t bytes, unsigned blksize, unsigned windowsize, unsigned retransmits)
{
	if (o >= TFTP_OUT_MAX)
		o = TFTP_OUT_IO_ERROR;
	A_ADD(&m.tftp_done[o], 1);
	A_ADD(&m.tftp_bytes, bytes);
	A_ADD(&m.tftp_retrans, retransmits);
	if (blksize)
		hist_add(&m.blk, blk_bounds, blksize);
	if (windowsize)
		hist_add(&m.win, win_bounds, windowsize);
}

void metrics_tftp_active(int delta) { A_ADD(&m.tftp_active, delta); }
void metrics_tftp_menu(void) { A_ADD(&m.tftp_menus, 1); }
void metrics_tftp_spin(int caught) { A_ADD(&m.tftp_spin[caught != 0], 1); }
void metrics_tftp_loops(unsigned n) { A_STORE(&m.tftp_loops, n); }

/* HTTP requests by (route, status): a small fixed table, guarded by a mutex (cheap next to a request). */
#define HTTP_SLOTS 64
static struct {
	const char *route;
	unsigned status;
	uint64_t n;
} http_tab[HTTP_SLOTS];
static size_t http_n;
static pthread_mutex_t http_lock = PTHREAD_MUTEX_INITIALIZER;

void metrics_http_request(const char *route, unsigned status, uint64_t bytes)
{
	A_ADD(&m.http_bytes, bytes);
	pthread_mutex_lock(&http_lock);
	size_t i;
	for (i = 0; i < http_n; i++)
		if (http_tab[i].status == status && strcmp(http_tab[i].route, route) == 0)
			break;
	if (i == http_n && http_n < HTTP_SLOTS) {
		http_tab[i].route = route; /* callers pass static strings */
		http_tab[i].status = status;
		http_n++;
	}
	if (i < http_n)
		http_tab[i].n++;
	pthread_mutex_unlock(&http_lock);
}

void metrics_http_active(int delta) { A_ADD(&m.http_active, delta); }

void metrics_reload(int ok, uint64_t scan_us, uint64_t releases, uint64_t kernels)
{
	if (!ok) {
		A_ADD(&m.reloads_failed, 1);
		return;
	}
	A_ADD(&m.reloads_ok, 1);
	__atomic_store_n(&m.scan_us, scan_us, __ATOMIC_RELAXED);
	__atomic_store_n(&m.releases, releases, __ATOMIC_RELAXED);
	__atomic_store_n(&m.kernels, kernels, __ATOMIC_RELAXED);
}

void metrics_config_error(void) { A_ADD(&m.config_errors, 1); }

void metrics_dhcp(enum dhcp_metric what)
{
	if (what < DHCP_M_MAX)
		A_ADD(&m.dhcp[what], 1);
}

static int head(sbuf *o, const char *name, const char *type, const char *help)
{
	return sbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int metrics_put(sbuf *o, const char *name, const char *type, const char *help, unsigned long long value)
{
	return head(o, name, type, help) || sbuf_printf(o, "%s %llu\n", name, value) ? -ENOMEM : 0;
}

static int hist_render(sbuf *o, const char *name, const char *help, struct hist *h, const unsigned *bounds)
{
	int rc = head(o, name, "histogram", help);
	uint64_t cum = 0;
	for (size_t i = 0; i < NB && !rc; i++) {
		cum += A_LOAD(&h->bucket[i]);
		rc = sbuf_printf(o, "%s_bucket{le=\"%u\"} %llu\n", name, bounds[i], (unsigned long long)cum);
	}
	if (!rc)
		rc = sbuf_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %llu\n%s_count %llu\n", name,
		                 (unsigned long long)A_LOAD(&h->count), name, (unsigned long long)A_LOAD(&h->sum), name,
		                 (unsigned long long)A_LOAD(&h->count));
	return rc;
}

int metrics_render(sbuf *o)
{
	int rc = 0;
	rc |= head(o, "autopxe_build_info", "gauge", "Build information.");
	rc |= sbuf_printf(o, "autopxe_build_info{version=\"%s\"} 1\n", AUTOPXE_VERSION);
	rc |= head(o, "autopxe_tftp_transfers_total", "counter", "Finished TFTP transfers by outcome.");
	for (int i = 0; i < TFTP_OUT_MAX; i++)
		rc |= sbuf_printf(o, "autopxe_tftp_transfers_total{outcome=\"%s\"} %llu\n", outcome_names[i],
		                  (unsigned long long)A_LOAD(&m.tftp_done[i]));
	rc |= head(o, "autopxe_tftp_bytes_sent_total", "counter", "File and menu bytes sent over TFTP.");
	rc |= sbuf_printf(o, "autopxe_tftp_bytes_sent_total %llu\n", (unsigned long long)A_LOAD(&m.tftp_bytes));
	rc |= head(o, "autopxe_tftp_retransmits_total", "counter", "TFTP packets sent again after a timeout.");
	rc |= sbuf_printf(o, "autopxe_tftp_retransmits_total %llu\n", (unsigned long long)A_LOAD(&m.tftp_retrans));
	rc |= head(o, "autopxe_tftp_menus_total", "counter", "Menus rendered for TFTP clients.");
	rc |= sbuf_printf(o, "autopxe_tftp_menus_total %llu\n", (unsigned long long)A_LOAD(&m.tftp_menus));
	rc |= head(o, "autopxe_tftp_busy_polls_total", "counter",
	           "TFTP loops that polled for the next packet instead of sleeping (TFTPBusyPoll), by result.");
	rc |= sbuf_printf(o, "autopxe_tftp_busy_polls_total{result=\"caught\"} %llu\n"
	                     "autopxe_tftp_busy_polls_total{result=\"slept\"} %llu\n",
	                  (unsigned long long)A_LOAD(&m.tftp_spin[1]), (unsigned long long)A_LOAD(&m.tftp_spin[0]));
	rc |= head(o, "autopxe_tftp_loops", "gauge", "TFTP event loops taking new requests (TFTPThreads auto: one per usable CPU).");
	rc |= sbuf_printf(o, "autopxe_tftp_loops %llu\n", (unsigned long long)A_LOAD(&m.tftp_loops));
	rc |= head(o, "autopxe_tftp_active_sessions", "gauge", "TFTP transfers in progress.");
	rc |= sbuf_printf(o, "autopxe_tftp_active_sessions %lld\n", (long long)A_LOAD(&m.tftp_active));
	rc |= hist_render(o, "autopxe_tftp_blksize", "Negotiated TFTP block sizes.", &m.blk, blk_bounds);
	rc |= hist_render(o, "autopxe_tftp_windowsize", "Negotiated TFTP window sizes.", &m.win, win_bounds);
	rc |= head(o, "autopxe_http_requests_total", "counter", "HTTP requests by route and status.");
	pthread_mutex_lock(&http_lock);
	for (size_t i = 0; i < http_n; i++)
		rc |= sbuf_printf(o, "autopxe_http_requests_total{route=\"%s\",status=\"%u\"} %llu\n", http_tab[i].route,
		                  http_tab[i].status, (unsigned long long)http_tab[i].n);
	pthread_mutex_unlock(&http_lock);
	rc |= head(o, "autopxe_http_bytes_sent_total", "counter", "Response body bytes sent over HTTP.");
	rc |= sbuf_printf(o, "autopxe_http_bytes_sent_total %llu\n", (unsigned long long)A_LOAD(&m.http_bytes));
	rc |= head(o, "autopxe_http_active_connections", "gauge", "HTTP requests in progress.");
	rc |= sbuf_printf(o, "autopxe_http_active_connections %lld\n", (long long)A_LOAD(&m.http_active));
	rc |= head(o, "autopxe_reloads_total", "counter", "Snapshot builds by result.");
	rc |= sbuf_printf(o, "autopxe_reloads_total{result=\"ok\"} %llu\nautopxe_reloads_total{result=\"failed\"} %llu\n",
	                  (unsigned long long)A_LOAD(&m.reloads_ok), (unsigned long long)A_LOAD(&m.reloads_failed));
	rc |= head(o, "autopxe_config_errors_total", "counter", "Config loads that failed.");
	rc |= sbuf_printf(o, "autopxe_config_errors_total %llu\n", (unsigned long long)A_LOAD(&m.config_errors));
	rc |= head(o, "autopxe_scan_duration_seconds", "gauge", "Duration of the last successful rootfs scan.");
	rc |= sbuf_printf(o, "autopxe_scan_duration_seconds %.6f\n", (double)A_LOAD(&m.scan_us) / 1e6);
	rc |= head(o, "autopxe_catalog_releases", "gauge", "Releases in the current catalog.");
	rc |= sbuf_printf(o, "autopxe_catalog_releases %llu\n", (unsigned long long)A_LOAD(&m.releases));
	rc |= head(o, "autopxe_catalog_kernels", "gauge", "Kernels in the current catalog.");
	rc |= sbuf_printf(o, "autopxe_catalog_kernels %llu\n", (unsigned long long)A_LOAD(&m.kernels));
	rc |= head(o, "autopxe_dhcp_replies_total", "counter", "proxyDHCP replies sent: offers on 67, acks (4011).");
	rc |= sbuf_printf(o,
	                  "autopxe_dhcp_replies_total{type=\"offer\"} %llu\n"
	                  "autopxe_dhcp_replies_total{type=\"ack\"} %llu\n",
	                  (unsigned long long)A_LOAD(&m.dhcp[DHCP_M_OFFER]), (unsigned long long)A_LOAD(&m.dhcp[DHCP_M_ACK]));
	rc |= head(o, "autopxe_dhcp_ignored_total", "counter", "DHCP packets the proxyDHCP did not answer, by reason.");
	rc |= sbuf_printf(o,
	                  "autopxe_dhcp_ignored_total{reason=\"not_pxe\"} %llu\n"
	                  "autopxe_dhcp_ignored_total{reason=\"not_for_us\"} %llu\n"
	                  "autopxe_dhcp_ignored_total{reason=\"no_boot_file\"} %llu\n",
	                  (unsigned long long)A_LOAD(&m.dhcp[DHCP_M_IGNORED_NOT_PXE]),
	                  (unsigned long long)A_LOAD(&m.dhcp[DHCP_M_IGNORED_OTHER]),
	                  (unsigned long long)A_LOAD(&m.dhcp[DHCP_M_NO_BOOTFILE]));
	rc |= head(o, "autopxe_dhcp_malformed_total", "counter", "Malformed DHCP packets dropped.");
	rc |= sbuf_printf(o, "autopxe_dhcp_malformed_total %llu\n", (unsigned long long)A_LOAD(&m.dhcp[DHCP_M_MALFORMED]));
	rc |= head(o, "autopxe_dhcp_no_merge_total", "counter",
	           "Clients that DISCOVERed again after our offer without a REQUEST (firmware that ignores proxyDHCP).");
	rc |= sbuf_printf(o, "autopxe_dhcp_no_merge_total %llu\n", (unsigned long long)A_LOAD(&m.dhcp[DHCP_M_NO_MERGE]));
	return rc ? -1 : 0;
}
