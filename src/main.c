/* main.c - the autopxe command line: serve, scan, render, check-config, version. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_fleet.h"
#include "config.h"
#include "demo.h"
#include "dhcp_server.h"
#include "diag.h"
#include "export_tree.h"
#include "http_server.h"
#include "log.h"
#include "mac.h"
#include "metrics.h"
#include "perm.h"
#include "render.h"
#include "snapshot.h"
#include "store.h"
#include "tftp_server.h"
#include "util.h"
#include "vfs.h"
#include "watch.h"

/* Exit codes (documented in --help and README). */
enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2, EXIT_CONFIG = 3 };

static const char usage_text[] =
    "Usage: autopxe [OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Network-boot server: scans RootfsPath for kernels, serves per-MAC iPXE, GRUB and PXELINUX menus,\n"
    "kernels and initrds over TFTP and HTTP.\n"
    "\n"
    "Commands:\n"
    "  serve                 run the TFTP and HTTP servers (default command)\n"
    "  scan [--json]         print what the rootfs scanner finds, and what it skipped and why\n"
    "  render --mac MAC [--format ipxe|grub|pxelinux] [--ip ADDR] [--via http|tftp] [--server-ip ADDR]\n"
    "         [DISTRO]       print exactly the menu a client with MAC gets (DISTRO: an iPXE submenu)\n"
    "  check-config          load config, scan and templates; print every error/warning\n"
    "  export-tree DIR       copy (or hard-link) every file the catalog names into DIR/boot/..., the tree an\n"
    "                        HTTP mirror named by HTTPBaseURL(s) must serve\n"
    "  pin MAC BOOT [--once] [--until T]\n"
    "                        pin MAC to boot id BOOT through the running server's API (API pin >\n"
    "                        HostDefaults > DefaultDistro); --once: consumed when the node fetches that\n"
    "                        kernel; --until: RFC 3339 end, e.g. 2026-12-03T18:00:00Z\n"
    "  unpin MAC             remove the API pin of MAC\n"
    "  nodes [--state S] [--json]\n"
    "                        table of the nodes the server has seen (S: menu|kernel|initrd|booted|failed)\n"
    "  version               print the version\n"
    "\n"
    "Options:\n"
    "  -c, --config PATH     config file (default ./config.yaml, then /etc/autopxe/config.yaml;\n"
    "                        with neither, a built-in demo tree and config are generated)\n"
    "      --tftp-listen A   TFTP address:port or 'off' (overrides TFTPListen; default 0.0.0.0:69)\n"
    "      --http-listen A   HTTP address:port or 'off' (overrides HTTPListen; default 0.0.0.0:80)\n"
    "      --proxy-dhcp      answer PXE clients' DHCP (UDP 67, 4011) with the boot file, never an\n"
    "                        address (overrides ProxyDHCP; docs/dhcp.md)\n"
    "      --templates DIR   menu template directory (overrides TemplatesDir)\n"
    "      --log-level L     error|warn|info|debug (overrides LogLevel)\n"
    "      --json            scan: JSON output\n"
    "  -m, --mac MAC         render: client MAC in any common spelling\n"
    "      --format F        render: ipxe (autopxe-<mac>), grub (grub/grub.cfg-01-<mac>) or pxelinux\n"
    "                        (pxelinux.cfg/01-<mac>) [ipxe]\n"
    "      --ip ADDR         render: client IP shown in the menu\n"
    "      --via PROTO       render: protocol the menu is fetched over (http: /boot/... paths on the\n"
    "                        same server; tftp: kernels over HTTP when HTTP is on) [http]\n"
    "      --server-ip ADDR  render --via tftp: the server address the request came in on\n"
    "      --server A:P      pin/unpin/nodes: the server's HTTP address (default: HTTPListen, loopback)\n"
    "  -h, --help            this text\n"
    "  -V, --version         print the version\n"
    "\n"
    "Signals (serve): SIGHUP reloads config and rescans; SIGTERM/SIGINT stop cleanly.\n"
    "Exit status: 0 ok, 1 runtime error (bind, I/O), 2 usage error, 3 invalid config.\n";

struct opts {
	const char *config;
	const char *tftp_listen, *http_listen, *templates, *log_level;
	const char *mac, *ip, *via, *server_ip, *format;
	int json;
	int proxy_dhcp;
	int once;
	const char *until, *state, *server;
	int demo; /* config was generated */
	char cfgbuf[1100];
};

static struct snapshot_source g_src;
static pthread_mutex_t g_reload_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_dhcp_bound; /* the proxyDHCP sockets were bound at start-up (serve) */

static void print_diag(const struct diag *d, FILE *f)
{
	char buf[2400];
	for (size_t i = 0; i < d->n; i++) {
		diag_format(&d->items[i], buf, sizeof buf);
		fprintf(f, "%s\n", buf);
	}
}

static int resolve_config(struct opts *o)
{
	if (o->config)
		return 0;
	if (access("config.yaml", F_OK) == 0) {
		o->config = "config.yaml";
		return 0;
	}
	if (access("/etc/autopxe/config.yaml", F_OK) == 0) {
		o->config = "/etc/autopxe/config.yaml";
		return 0;
	}
	char dir[900];
	demo_default_dir(dir, sizeof dir);
	int rc = demo_prepare(dir, o->cfgbuf, sizeof o->cfgbuf);
	if (rc) {
		fprintf(stderr, "autopxe: no config found and the demo tree in %s cannot be made: %s\n", dir, strerror(-rc));
		return rc;
	}
	o->config = o->cfgbuf;
	o->demo = 1;
	fprintf(stderr, "autopxe: no config.yaml found: using the built-in demo (%s)\n", o->config);
	return 0;
}

/* Build the snapshot for a command, printing every diagnostic to stderr. NULL on error. */
static struct snapshot *build_or_report(void)
{
	struct diag d;
	diag_init(&d);
	struct snapshot *s = snapshot_build(&g_src, &d);
	print_diag(&d, stderr);
	diag_free(&d);
	return s;
}

/* Rebuild and publish; the old snapshot stays on failure. Called from SIGHUP, the watcher and the API. */
static int do_reload(char *msg, size_t len)
{
	pthread_mutex_lock(&g_reload_lock);
	struct diag d;
	diag_init(&d);
	uint64_t t0 = now_us();
	struct snapshot *s = snapshot_build(&g_src, &d);
	int rc = 0;
	if (!s) {
		diag_log(&d);
		char first[1024] = "reload failed";
		for (size_t i = 0; i < d.n; i++) {
			if (d.items[i].sev == DIAG_ERROR) {
				diag_format(&d.items[i], first, sizeof first);
				break;
			}
		}
		metrics_config_error();
		metrics_reload(0, 0, 0, 0);
		snapshot_set_last_error(first);
		log_error("reload failed, still serving the previous snapshot: %s", first);
		if (msg)
			snprintf(msg, len, "%s", first);
		rc = -1;
	} else {
		diag_log(&d);
		log_set_level(s->cfg->log_level);
		struct snapshot *old = snapshot_current();
		if (old && (memcmp(&old->cfg->tftp_listen, &s->cfg->tftp_listen, sizeof s->cfg->tftp_listen) ||
		            memcmp(&old->cfg->http_listen, &s->cfg->http_listen, sizeof s->cfg->http_listen)))
			log_warn("TFTPListen/HTTPListen changed: listen addresses take effect at the next restart");
		if (old && (old->cfg->state_store != s->cfg->state_store ||
		            strcmp(old->cfg->state_dir ? old->cfg->state_dir : "", s->cfg->state_dir ? s->cfg->state_dir : "") ||
		            strcmp(old->cfg->state_url ? old->cfg->state_url : "", s->cfg->state_url ? s->cfg->state_url : "") ||
		            old->cfg->node_events != s->cfg->node_events || old->cfg->node_timeout_s != s->cfg->node_timeout_s))
			log_warn("StateStore/StateDir/StateURL/NodeEvents/NodeTimeout changed: they take effect at the next restart");
		if (old && (old->cfg->tftp_threads != s->cfg->tftp_threads || old->cfg->http_threads != s->cfg->http_threads))
			log_warn("TFTPThreads/HTTPThreads changed: thread counts take effect at the next restart");
		if (old && s->cfg->proxy_dhcp && !g_dhcp_bound)
			log_warn("ProxyDHCP turned on: it takes effect at the next restart (its ports are bound at start-up)");
		if (old && g_dhcp_bound && (old->cfg->proxy_dhcp_port != s->cfg->proxy_dhcp_port ||
		                            old->cfg->pxe_server_port != s->cfg->pxe_server_port))
			log_warn("ProxyDHCPPort/PXEBootServerPort changed: ports take effect at the next restart");
		snapshot_unref(old);
		size_t nd = s->cat->n_distros, nr = s->cat->n_releases, nk = s->cat->n_kernels;
		snapshot_publish(s);
		snapshot_set_last_error(NULL);
		log_info("reloaded: %zu distros, %zu releases, %zu kernels in %.1f ms", nd, nr, nk,
		         (double)(now_us() - t0) / 1000.0);
		if (msg)
			snprintf(msg, len, "reloaded: %zu distros, %zu releases, %zu kernels", nd, nr, nk);
	}
	diag_free(&d);
	pthread_mutex_unlock(&g_reload_lock);
	return rc;
}

/* Warnings for catalog files the serving user will not be able to read (see perm.h). */
static size_t runtime_perm_check(const struct snapshot *s, struct diag *d)
{
	struct perm_ident id;
	gid_t groups[256];
	if (perm_runtime_ident(s->cfg->user, &id, groups, ARRAY_SIZE(groups)) != 0)
		return 0;
	return perm_check_catalog(s->cat, &id, d);
}

/* Create StateDir before dropping root, owned by User, so the unprivileged server can write its database. */
static void state_dir_prepare(const struct config *c)
{
	struct passwd *pw;
	if (!c->state_dir || geteuid() != 0)
		return;
	if (mkdir(c->state_dir, 0750) != 0 && errno != EEXIST) {
		log_warn("StateDir %s cannot be created: %s", c->state_dir, strerror(errno));
		return;
	}
	pw = c->user && strcmp(c->user, "root") ? getpwnam(c->user) : NULL;
	if (pw && chown(c->state_dir, pw->pw_uid, pw->pw_gid) != 0)
		log_warn("StateDir %s cannot be given to %s: %s", c->state_dir, c->user, strerror(errno));
}

static int drop_privileges(const char *user)
{
	if (geteuid() != 0 || !user || !*user || strcmp(user, "root") == 0)
		return 0;
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		log_error("User '%s' does not exist: cannot drop root privileges (set User: root to keep them)", user);
		return -1;
	}
	if (setgroups(0, NULL) != 0 && errno != EPERM)
		return log_error("setgroups: %s", strerror(errno)), -1;
	if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 || setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) {
		if (errno == EPERM) { /* some container runtimes forbid it; we keep running, loudly */
			log_warn("cannot switch to user '%s' (%s): continuing as uid %u", user, strerror(errno),
			         (unsigned)getuid());
			return 0;
		}
		return log_error("cannot switch to user '%s': %s", user, strerror(errno)), -1;
	}
	log_info("dropped privileges to %s (uid %u, gid %u)", user, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	return 0;
}

static int cmd_serve(struct opts *o)
{
	struct snapshot *s = build_or_report();
	if (!s)
		return EXIT_CONFIG;
	if (!o->log_level)
		log_set_level(s->cfg->log_level);
	/* Block the signals we handle before any thread starts, so every thread inherits the mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);

	struct tftp_server *tftp = NULL;
	struct http_server *http = NULL;
	struct dhcp_server *dhcp = NULL;
	int watch_fd = -1, ret = EXIT_RUNTIME;
	char err[512], buf[128];
	const struct config *c = s->cfg;
	if (c->tftp_listen.enabled && tftp_server_open(&c->tftp_listen, c->tftp_threads, &tftp, err, sizeof err) != 0) {
		log_error("TFTP: %s", err);
		goto fail;
	}
	if (c->http_listen.enabled && http_server_open(&c->http_listen, c, &http, err, sizeof err) != 0) {
		log_error("HTTP: %s", err);
		goto fail;
	}
	if (!tftp && !http) {
		log_error("both TFTPListen and HTTPListen are off: nothing to serve");
		goto fail;
	}
	/* The proxyDHCP binds at start-up only (ports below 1024 need the privileges dropped next); whether it
	 * answers is read from each snapshot, so a reload can turn ProxyDHCP off but not on. */
	if (c->proxy_dhcp && dhcp_server_open(c, &dhcp, err, sizeof err) != 0) {
		log_error("proxyDHCP: %s", err);
		goto fail;
	}
	g_dhcp_bound = dhcp != NULL;
	if (c->state_store)
		state_dir_prepare(c);
	if (drop_privileges(c->user) != 0)
		goto fail;
	char url_buf[1100] = "";
	if (c->state_store && c->state_url_file) {
		/* read after the privilege drop: the file is the server's own (a Secret mounted for its user) */
		FILE *uf = fopen(c->state_url_file, "re");
		if (!uf || !fgets(url_buf, sizeof url_buf, uf))
			log_error("StateURLFile %s cannot be read (%s): the state store runs on StateDir", c->state_url_file,
			          uf ? "empty" : strerror(errno));
		if (uf)
			fclose(uf);
		url_buf[strcspn(url_buf, "\r\n")] = '\0';
		if (url_buf[0] && strncmp(url_buf, "postgresql://", 13) && strncmp(url_buf, "postgres://", 11) &&
		    strncmp(url_buf, "sqlite:///", 10)) {
			log_error("StateURLFile %s: not a sqlite:///<file> or postgresql://... URL", c->state_url_file);
			url_buf[0] = '\0';
		}
	}
	if (c->state_store) {
		struct store_opts so = {.state_dir = c->state_dir,
		                        .url = url_buf[0] ? url_buf : c->state_url,
		                        .keep_events = c->node_events,
		                        .fail_after_s = c->node_timeout_s,
		                        .queue_len = 16384};
		int degraded;
		char serr[600];
		if (store_open(&so, &degraded, serr, sizeof serr) == 0)
			render_set_pin_hook(store_pin_lookup);
	}
	{ /* after the drop the check is about this process itself */
		struct diag pd;
		diag_init(&pd);
		runtime_perm_check(s, &pd);
		diag_log(&pd);
		diag_free(&pd);
	}
	watch_fd = c->watch ? watch_open(s) : -1;
	snapshot_publish(s);
	s = NULL;
	if (tftp && tftp_server_start(tftp) != 0)
		goto fail;
	if (http) {
		http_server_set_reload(http, do_reload);
		if (http_server_start(http) != 0)
			goto fail;
	}
	if (dhcp && dhcp_server_start(dhcp) != 0)
		goto fail;
	{
		struct snapshot *cur = snapshot_current();
		if (tftp) {
			struct listen_spec l = cur->cfg->tftp_listen;
			l.port = (uint16_t)tftp_server_port(tftp);
			listen_format(&l, buf, sizeof buf);
			log_info("TFTP listening on %s", buf);
		}
		if (http) {
			struct listen_spec l = cur->cfg->http_listen;
			l.port = (uint16_t)http_server_port(http);
			listen_format(&l, buf, sizeof buf);
			log_info("HTTP listening on %s", buf);
		}
		if (dhcp) {
			if (dhcp_server_port(dhcp, 1))
				log_info("proxyDHCP listening on UDP 0.0.0.0:%u and PXE boot server on 0.0.0.0:%u (%s)",
				         dhcp_server_port(dhcp, 0), dhcp_server_port(dhcp, 1),
				         cur->cfg->n_proxy_ifaces ? "interfaces in ProxyDHCPInterfaces" : "every non-loopback interface");
			else
				log_info("proxyDHCP listening on UDP 0.0.0.0:%u (%s)", dhcp_server_port(dhcp, 0),
				         cur->cfg->n_proxy_ifaces ? "interfaces in ProxyDHCPInterfaces" : "every non-loopback interface");
		}
		snapshot_unref(cur);
	}
	if (o->demo)
		log_info("demo: try  curl http://127.0.0.1:%u/autopxe-bc2411b01ade  or  "
		         "curl tftp://127.0.0.1:%u/autopxe-525400123456",
		         http ? http_server_port(http) : 0, tftp ? tftp_server_port(tftp) : 0);
	log_info("autopxe %s serving (pid %d)", AUTOPXE_VERSION, (int)getpid());

	uint64_t reload_due = 0, first_event = 0; /* debounce for file-change reloads */
	for (;;) {
		struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = watch_fd, .events = POLLIN}};
		int timeout = -1;
		if (reload_due) {
			uint64_t now = now_ms();
			timeout = reload_due > now ? (int)(reload_due - now) : 0;
		}
		int n = poll(p, watch_fd >= 0 ? 2 : 1, timeout);
		if (n < 0 && errno != EINTR)
			break;
		if (reload_due && now_ms() >= reload_due) {
			reload_due = first_event = 0;
			log_info("files changed: reloading");
			do_reload(NULL, 0);
			struct snapshot *cur = snapshot_current();
			if (watch_fd >= 0 && cur)
				watch_update(watch_fd, cur);
			snapshot_unref(cur);
		}
		if (n > 0 && watch_fd >= 0 && (p[1].revents & POLLIN) && watch_drain(watch_fd) > 0) {
			/* Trailing-edge debounce: wait for WATCH_DEBOUNCE_MS of quiet, but never postpone a reload
			 * more than WATCH_MAX_DELAY_MS after the first event (a tree that never stops changing). */
			uint64_t now = now_ms();
			if (!first_event)
				first_event = now;
			if (now - first_event < WATCH_MAX_DELAY_MS)
				reload_due = now + WATCH_DEBOUNCE_MS;
		}
		if (n > 0 && (p[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) != (ssize_t)sizeof si)
				continue;
			if (si.ssi_signo == SIGHUP) {
				log_info("SIGHUP: reloading");
				do_reload(NULL, 0);
				struct snapshot *cur = snapshot_current();
				if (watch_fd >= 0 && cur)
					watch_update(watch_fd, cur);
				snapshot_unref(cur);
			} else {
				log_info("signal %u: shutting down", si.ssi_signo);
				break;
			}
		}
	}
	ret = EXIT_OK;
	log_info("stopping");
fail:
	dhcp_server_free(dhcp);
	if (http)
		http_server_stop(http);
	if (tftp)
		tftp_server_stop(tftp);
	http_server_free(http);
	tftp_server_free(tftp);
	render_set_pin_hook(NULL);
	store_close(); /* after the front ends: their last events and every pin change are written */
	if (watch_fd >= 0)
		close(watch_fd);
	snapshot_unref(s);
	snapshot_clear();
	if (sfd >= 0)
		close(sfd);
	if (ret == EXIT_OK)
		log_info("stopped");
	return ret;
}

static int cmd_scan(struct opts *o)
{
	struct snapshot *s = build_or_report();
	if (!s)
		return EXIT_CONFIG;
	catalog_print(s->cat, stdout, o->json);
	snapshot_unref(s);
	return EXIT_OK;
}

static int cmd_render(struct opts *o, const char *submenu)
{
	uint8_t mac[6];
	if (!o->mac) {
		fprintf(stderr, "autopxe: render needs --mac MAC\n");
		return EXIT_USAGE;
	}
	if (mac_parse_str(o->mac, mac) != 0) {
		fprintf(stderr, "autopxe: '%s' is not a MAC address\n", o->mac);
		return EXIT_USAGE;
	}
	int via_tftp = 0;
	if (o->via && strcmp(o->via, "tftp") == 0)
		via_tftp = 1;
	else if (o->via && strcmp(o->via, "http") != 0) {
		fprintf(stderr, "autopxe: --via takes http or tftp\n");
		return EXIT_USAGE;
	}
	enum menu_format fmt = MENU_FORMAT_IPXE;
	if (o->format && strcmp(o->format, "grub") == 0)
		fmt = MENU_FORMAT_GRUB;
	else if (o->format && strcmp(o->format, "pxelinux") == 0)
		fmt = MENU_FORMAT_PXELINUX;
	else if (o->format && strcmp(o->format, "ipxe") != 0) {
		fprintf(stderr, "autopxe: --format takes ipxe, grub or pxelinux\n");
		return EXIT_USAGE;
	}
	if (fmt != MENU_FORMAT_IPXE && submenu) {
		fprintf(stderr, "autopxe: a DISTRO submenu exists in the ipxe format only\n");
		return EXIT_USAGE;
	}
	struct snapshot *s = build_or_report();
	if (!s)
		return EXIT_CONFIG;
	char base[512] = "";
	if (via_tftp)
		snapshot_http_base(s, o->server_ip ? o->server_ip : "", 0, base, sizeof base);
	struct render_client cl = {.ip = o->ip ? o->ip : "", .via = via_tftp ? RENDER_TFTP : RENDER_HTTP,
	                           .file_base = base[0] ? base : NULL, .menu_c32 = vfs_boot_has(s->vfs, "menu.c32")};
	memcpy(cl.mac, mac, 6);
	sbuf out = SBUF_INIT;
	int rc = fmt == MENU_FORMAT_IPXE ? render_menu(s->cfg, s->cat, s->tmpl, &cl, submenu, &out)
	                                 : render_format(s->cfg, s->cat, s->tmpl, &cl, fmt, &out);
	int ret = EXIT_OK;
	if (rc == -ENOENT) {
		fprintf(stderr, "autopxe: no distro '%s' in the catalog\n", submenu ? submenu : "");
		ret = EXIT_USAGE;
	} else if (rc) {
		fprintf(stderr, "autopxe: render failed: %s\n", strerror(-rc));
		ret = EXIT_RUNTIME;
	} else {
		fwrite(out.data, 1, out.len, stdout);
	}
	sbuf_free(&out);
	snapshot_unref(s);
	return ret;
}

/* export-tree DIR: the catalog's files for an HTTP mirror, at the paths the menus name. */
static int cmd_export_tree(const char *dir)
{
	struct export_stats st;
	if (!dir || !*dir) {
		fputs("autopxe: export-tree needs a directory\nTry 'autopxe --help'.\n", stderr);
		return EXIT_USAGE;
	}
	struct snapshot *s = build_or_report();
	if (!s)
		return EXIT_CONFIG;
	int rc = export_tree(s->vfs, dir, &st, stderr);
	snapshot_unref(s);
	if (rc) {
		fprintf(stderr, "autopxe: export-tree %s: %s\n", dir, strerror(-rc));
		return EXIT_RUNTIME;
	}
	printf("export-tree: %zu files (%zu hard links, %zu copies, %llu bytes) in %s/boot, %zu skipped\n", st.files,
	       st.linked, st.files - st.linked, st.bytes, dir, st.skipped);
	return st.skipped ? EXIT_RUNTIME : EXIT_OK;
}

static int cmd_check(void)
{
	struct diag d;
	diag_init(&d);
	struct snapshot *s = snapshot_build(&g_src, &d);
	size_t n_perm = s ? runtime_perm_check(s, &d) : 0;
	print_diag(&d, stdout);
	int ret = s ? EXIT_OK : EXIT_CONFIG;
	if (s)
		printf("%s: ok (%zu distros, %zu releases, %zu kernels, %zu warnings)\n", s->cfg->path, s->cat->n_distros,
		       s->cat->n_releases, s->cat->n_kernels, s->warnings.n + n_perm);
	snapshot_unref(s);
	diag_free(&d);
	return ret;
}

int main(int argc, char **argv)
{
	enum { O_TFTP = 256, O_HTTP, O_TEMPLATES, O_LOG, O_JSON, O_IP, O_VIA, O_SERVER_IP, O_PROXY_DHCP, O_FORMAT, O_ONCE,
	       O_UNTIL, O_STATE, O_SERVER };
	static const struct option lopts[] = {
	    {"config", required_argument, NULL, 'c'},      {"tftp-listen", required_argument, NULL, O_TFTP},
	    {"http-listen", required_argument, NULL, O_HTTP}, {"templates", required_argument, NULL, O_TEMPLATES},
	    {"log-level", required_argument, NULL, O_LOG}, {"json", no_argument, NULL, O_JSON},
	    {"mac", required_argument, NULL, 'm'},         {"ip", required_argument, NULL, O_IP},
	    {"via", required_argument, NULL, O_VIA},       {"server-ip", required_argument, NULL, O_SERVER_IP},
	    {"format", required_argument, NULL, O_FORMAT},
	    {"once", no_argument, NULL, O_ONCE},           {"until", required_argument, NULL, O_UNTIL},
	    {"state", required_argument, NULL, O_STATE},   {"server", required_argument, NULL, O_SERVER},
	    {"help", no_argument, NULL, 'h'},              {"version", no_argument, NULL, 'V'},
	    {"proxy-dhcp", no_argument, NULL, O_PROXY_DHCP},
	    {NULL, 0, NULL, 0},
	};
	struct opts o;
	memset(&o, 0, sizeof o);
	int c;
	while ((c = getopt_long(argc, argv, "c:m:hV", lopts, NULL)) != -1) {
		switch (c) {
		case 'c': o.config = optarg; break;
		case O_TFTP: o.tftp_listen = optarg; break;
		case O_HTTP: o.http_listen = optarg; break;
		case O_TEMPLATES: o.templates = optarg; break;
		case O_LOG: o.log_level = optarg; break;
		case O_JSON: o.json = 1; break;
		case O_PROXY_DHCP: o.proxy_dhcp = 1; break;
		case 'm': o.mac = optarg; break;
		case O_IP: o.ip = optarg; break;
		case O_VIA: o.via = optarg; break;
		case O_SERVER_IP: o.server_ip = optarg; break;
		case O_FORMAT: o.format = optarg; break;
		case O_ONCE: o.once = 1; break;
		case O_UNTIL: o.until = optarg; break;
		case O_STATE: o.state = optarg; break;
		case O_SERVER: o.server = optarg; break;
		case 'h': fputs(usage_text, stdout); return EXIT_OK;
		case 'V': printf("autopxe %s\n", AUTOPXE_VERSION); return EXIT_OK;
		default: fputs("Try 'autopxe --help'.\n", stderr); return EXIT_USAGE;
		}
	}
	const char *cmd = optind < argc ? argv[optind++] : "serve";
	if (strcmp(cmd, "version") == 0) {
		printf("autopxe %s\n", AUTOPXE_VERSION);
		return EXIT_OK;
	}
	if (strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "pin") == 0 || strcmp(cmd, "unpin") == 0 || strcmp(cmd, "nodes") == 0) {
		/* no demo tree for these: they only need the address of a running server */
		if (!o.config && access("config.yaml", F_OK) == 0)
			o.config = "config.yaml";
		else if (!o.config && access("/etc/autopxe/config.yaml", F_OK) == 0)
			o.config = "/etc/autopxe/config.yaml";
		struct cli_fleet_opts fo = {.server = o.server, .config = o.config, .http_listen = o.http_listen,
		                            .once = o.once, .until = o.until, .state = o.state, .json = o.json};
		return cli_fleet(cmd, argv + optind, argc - optind, &fo, stdout, stderr);
	}
	const char *arg = optind < argc ? argv[optind++] : NULL;
	if (optind < argc || (arg && strcmp(cmd, "render") != 0 && strcmp(cmd, "export-tree") != 0)) {
		fprintf(stderr, "autopxe: unexpected argument '%s'\nTry 'autopxe --help'.\n", arg ? arg : argv[optind]);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "serve") && strcmp(cmd, "scan") && strcmp(cmd, "render") && strcmp(cmd, "check-config") &&
	    strcmp(cmd, "export-tree")) {
		fprintf(stderr, "autopxe: unknown command '%s'\nTry 'autopxe --help'.\n", cmd);
		return EXIT_USAGE;
	}
	if (o.log_level) {
		enum log_level lvl;
		if (log_level_parse(o.log_level, &lvl) != 0) {
			fprintf(stderr, "autopxe: --log-level takes error, warn, info or debug\n");
			return EXIT_USAGE;
		}
		log_set_level(lvl);
	}
	if (resolve_config(&o) != 0)
		return EXIT_RUNTIME;
	g_src.config_path = o.config;
	g_src.tftp_listen = o.tftp_listen;
	g_src.http_listen = o.http_listen;
	g_src.templates_dir = o.templates;
	g_src.proxy_dhcp = o.proxy_dhcp;

	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(&o);
	if (strcmp(cmd, "scan") == 0)
		return cmd_scan(&o);
	if (strcmp(cmd, "render") == 0)
		return cmd_render(&o, arg);
	if (strcmp(cmd, "export-tree") == 0)
		return cmd_export_tree(arg);
	return cmd_check();
}
