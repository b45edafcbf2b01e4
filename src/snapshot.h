/* snapshot.h - everything a request needs (config, catalog, templates, vfs), immutable and refcounted. */
#ifndef AUTOPXE_SNAPSHOT_H
#define AUTOPXE_SNAPSHOT_H

#include <stdint.h>
#include <time.h>

#include "config.h"
#include "diag.h"
#include "render.h"
#include "scan.h"
#include "vfs.h"

struct snapshot {
	int refs; /* atomic; use snapshot_ref/unref */
	uint64_t generation;
	time_t built_at;
	struct config *cfg;
	struct catalog *cat;
	struct menu_templates *tmpl;
	struct vfs *vfs;
	struct diag warnings; /* what building it warned about */
};

/* Where a snapshot comes from: a config file (NULL = built-in demo/default config) and the
 * command-line overrides that win over it. */
struct snapshot_source {
	const char *config_path;
	const char *tftp_listen; /* NULL = keep config's */
	const char *http_listen;
	const char *templates_dir;
	const char *rootfs_path; /* override RootfsPath (demo mode) */
	int proxy_dhcp;          /* --proxy-dhcp: force ProxyDHCP on */
};

/* Build a snapshot: load config, scan, compile templates, index files. On error returns NULL
 * with the problems in d (nothing is published). */
struct snapshot *snapshot_build(const struct snapshot_source *src, struct diag *d);
struct snapshot *snapshot_ref(struct snapshot *s);
void snapshot_unref(struct snapshot *s);

/* The process-wide current snapshot. snapshot_current() returns a new reference (caller
 * unrefs) or NULL before the first publish. snapshot_publish() takes ownership of s and drops
 * the reference to the previous one; requests in flight keep theirs. */
struct snapshot *snapshot_current(void);
void snapshot_publish(struct snapshot *s);
/* Outcome of the last reload, for /healthz and /metrics: returns 0 when it succeeded (or none was
 * tried), else 1 and copies the error text into msg. snapshot_set_last_error(NULL) clears it. Thread-safe. */
int snapshot_last_error(char *msg, size_t len);
void snapshot_set_last_error(const char *msg);

/* Drop the current snapshot (at shutdown). */
void snapshot_clear(void);

/* The base URL for HTTP files in a menu fetched over TFTP, given the local address the request
 * arrived on: HTTPBaseURL when set, else http://<local>:<http port>/ ; "" when HTTP is off.
 * Always ends in '/' when non-empty. */
void snapshot_http_base(const struct snapshot *s, const char *local_ip, int is_v6, char *out, size_t len);

#endif
