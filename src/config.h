/* config.h - config.yaml (AutoPXE format plus autopxe's optional keys), loaded with libyaml. */
#ifndef AUTOPXE_CONFIG_H
#define AUTOPXE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "log.h"

/* One ordered key/value pair with where it was written. */
struct cfg_kv {
	char *key;
	char *value;
	int line, col; /* 1-based position of the key in the file */
};

/* BootFiles entry: the boot file for one DHCP client architecture (option 93). */
struct cfg_bootfile {
	uint16_t arch;
	char *file; /* "" = do not answer this architecture */
	int line, col;
};

/* HTTPBaseURLs entry: clients in addr/prefix load kernels and initrds from url (ends in '/'). */
struct cfg_base_url {
	uint8_t addr[16]; /* network, IPv4 as ::ffff:a.b.c.d */
	unsigned prefix;  /* over the 128 bits (IPv4 /24 is 120) */
	char *url;
	unsigned line;
};

struct cfg_host {
	uint8_t mac[6];
	char *boot_id; /* as written: distro/release/kernel/template */
	int line, col;
};

/* A listen address: "off", "ADDR:PORT", "[V6ADDR]:PORT", ":PORT" (all addresses).
 * Port 0 asks the kernel for a free port (tests). */
struct listen_spec {
	int enabled;
	char host[64]; /* numeric address; "" = any (0.0.0.0) */
	uint16_t port;
};

enum menu_action {
	ACTION_DEFAULT, /* boot the host's default entry */
	ACTION_EXIT,    /* `exit` back to firmware: next boot device */
	ACTION_REBOOT,
	ACTION_SHELL,
	ACTION_MENU, /* go back to the main menu (timeout disabled) */
};

struct config {
	char *path; /* file it was loaded from, "<builtin>" for defaults */
	int version;
	char *default_distro; /* DefaultDistro boot id, may be NULL */
	int default_line, default_col;
	char *rootfs_path; /* RootfsPath, trailing '/' removed (except "/") */
	struct cfg_kv *env; /* Env, YAML order */
	size_t n_env;
	struct cfg_kv *templates; /* CmdlineTemplates, YAML order */
	size_t n_templates;
	struct cfg_host *hosts; /* HostDefaults, normalised MACs, unique */
	size_t n_hosts;

	struct listen_spec tftp_listen; /* TFTPListen, default 0.0.0.0:69 */
	struct listen_spec http_listen; /* HTTPListen, default 0.0.0.0:80 */
	char *http_base_url;            /* HTTPBaseURL, NULL = derive from the request's local address */
	struct cfg_base_url *base_urls; /* HTTPBaseURLs: client subnet -> mirror, in file order */
	size_t n_base_urls;

	unsigned menu_timeout_ms;       /* MenuTimeout, default 10000; 0 = wait forever */
	char *menu_title;               /* MenuTitle, default "AutoPXE boot menu" */
	enum menu_action timeout_action; /* TimeoutAction: default|exit|reboot|shell (default: default) */
	enum menu_action failure_action; /* FailureAction: exit|reboot|shell|menu (default: exit) */
	unsigned boot_retries;          /* BootRetries, default 2: extra tries of a failed boot */
	unsigned retry_delay_ms;        /* RetryDelay (ms), default 3000 */

	char *static_dir;    /* StaticDir, NULL = none */
	char *ipxe_dir;      /* IPXEDir, default AUTOPXE_DATADIR "/ipxe" */
	char *boot_dir;      /* BootDir: GRUB/PXELINUX binaries (grubnetx64.efi, pxelinux.0, ...), any depth; NULL = none */
	char *templates_dir; /* TemplatesDir, NULL = the built-in copies of templates/ */
	char *iso_dir;       /* ISOPath, NULL = RootfsPath/iso */
	char *cache_dir;     /* CacheDir (boot files extracted from ISOs), NULL = /var/cache/autopxe when
	                        writable, else /tmp/autopxe-cache-<uid> (docs/catalog.md) */
	char *user;          /* User to drop to when started as root, default "nobody"; "root" keeps root */
	enum log_level log_level; /* LogLevel: error|warn|info|debug, default info */
	int watch;                /* Watch: reload on file changes, default true */

	unsigned tftp_max_blksize;  /* TFTPMaxBlockSize, default 1468 (8..65464) */
	unsigned tftp_max_window;   /* TFTPMaxWindowSize, default 64 (1..65535) */
	unsigned tftp_timeout_ms;   /* TFTPTimeout, first retransmit timeout, default 1000 */
	unsigned tftp_retries;      /* TFTPRetries, default 6 */
	unsigned tftp_max_sessions; /* TFTPMaxSessions, default 4096 */
	unsigned tftp_max_per_client; /* TFTPMaxPerClient, default 32 */
	unsigned tftp_busy_poll_us;   /* TFTPBusyPoll (µs), default 200: see docs/performance.md; 0 = off */

	unsigned http_max_conns;      /* HTTPMaxConnections, default 2048 */
	unsigned http_max_per_client; /* HTTPMaxPerClient, default 64 */
	unsigned http_timeout_s;      /* HTTPTimeout (s), default 30 */
	unsigned http_threads;        /* HTTPThreads, default 0 = number of cores */
	unsigned tftp_threads;        /* TFTPThreads, default 0 = number of cores */
	int allow_remote_reload;      /* AllowRemoteReload, default false */

	int proxy_dhcp;               /* ProxyDHCP, default false: the built-in proxyDHCP/PXE boot server (docs/dhcp.md) */
	char **proxy_ifaces;          /* ProxyDHCPInterfaces, NULL = every non-loopback interface */
	size_t n_proxy_ifaces;
	struct cfg_bootfile *boot_files; /* BootFiles (arch -> file), on top of the built-in defaults */
	size_t n_boot_files;
	unsigned pxe_discovery_control; /* PXEDiscoveryControl, option 43 suboption 6, default 8; 0 = leave out */
	unsigned proxy_dhcp_port;     /* ProxyDHCPPort, default 67 */
	unsigned pxe_server_port;     /* PXEBootServerPort, default 4011; 0 = off */
	char *state_url;          /* StateURL: sqlite:///file or postgresql://...; NULL = StateDir/autopxe.db */
	char *state_url_file;     /* StateURLFile: StateURL on its first line (a Secret), read at start-up */
	char *state_dir;          /* StateDir: the state store (pins, boot timeline), default /var/lib/autopxe */
	int state_store;          /* StateStore, default true; false = no pins API, no timeline */
	unsigned node_events;     /* NodeEvents: events kept per node, default 50 (1..10000) */
	unsigned node_timeout_s;  /* NodeTimeout (s): no progress this long = failed, default 300; 0 = never */
	char *api_token_file;     /* APITokenFile: bearer token for write endpoints from non-loopback, NULL = none */
};

/* Relative paths in the file (RootfsPath, StaticDir, IPXEDir, BootDir, TemplatesDir, ISOPath, CacheDir) are resolved
 * against the directory of the file (config_load_file makes it absolute with the working directory;
 * config_load_buffer uses the directory part of `name`, if any). */
/* Load from a file. On success (no errors; warnings allowed) returns 0 and *out.
 * On any error returns -EINVAL (or -errno when the file cannot be read), *out = NULL,
 * and every problem is in d with file:line:col. Never exits, never crashes on input. */
int config_load_file(const char *path, struct config **out, struct diag *d);
/* Same from a memory buffer; `name` is used as the file name in diagnostics. */
int config_load_buffer(const char *buf, size_t len, const char *name, struct config **out, struct diag *d);
/* A config with every default set and no templates/hosts (caller frees). */
struct config *config_new_default(void);
void config_free(struct config *c);

/* Parse a listen spec ("off", "0.0.0.0:69", "[::]:69", ":8080", "127.0.0.1:6969"). 0 or -EINVAL. */
int listen_parse(const char *s, struct listen_spec *out);
/* Format back as text ("off", "0.0.0.0:69", "[::1]:69"). */
void listen_format(const struct listen_spec *l, char *buf, size_t len);

/* Lookups; return borrowed pointers valid while c lives, or NULL. */
const char *config_env(const struct config *c, const char *name);
const char *config_template(const struct config *c, const char *name);
const struct cfg_host *config_host(const struct config *c, const uint8_t mac[6]);
/* HTTPBaseURLs: the URL (ending in '/') of the longest prefix holding client address ip ("192.0.2.7",
 * "2001:db8::7", "::ffff:192.0.2.7"), else NULL. Borrowed from c. */
const char *config_base_url_for(const struct config *c, const char *ip);
/* The BootFiles entry for an architecture: its file ("" = do not answer), or NULL when none is configured. */
const char *config_boot_file(const struct config *c, unsigned arch);
/* 1 when ProxyDHCPInterfaces lets the proxyDHCP answer on interface `name` (is_loopback: its IFF_LOOPBACK). */
int config_proxy_iface_ok(const struct config *c, const char *name, int is_loopback);

#endif
