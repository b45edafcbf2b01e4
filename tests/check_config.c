/* check_config.c - unit tests for config.yaml loading: seed format, defaults, every error path, listen specs. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "mac.h"

#define SEED                                                                                                           \
	"version: 1\n"                                                                                                 \
	"DefaultDistro: debian/stable/latest/overlayfs\n"                                                              \
	"RootfsPath: /pxe/rootfs/\n"                                                                                   \
	"Env:\n"                                                                                                       \
	"  nfs-server: 172.25.2.11\n"                                                                                  \
	"CmdlineTemplates:\n"                                                                                          \
	"  overlayfs: root=/dev/nfs nfsroot=${nfs-server}:${rootfs-path} ip=dhcp rootovl\n"                           \
	"  nfsrw: root=/dev/nfs nfsroot=${nfs-server}:${rootfs-path} ip=dhcp rw\n"                                    \
	"HostDefaults:\n"                                                                                              \
	"  bc2411b01ade: debian/bookworm/latest/overlayfs\n"

/* Minimal valid header for error cases (lines 1-2). */
#define HDR "version: 1\nRootfsPath: /pxe\n"

static int load_str(const char *yaml, struct config **c, struct diag *d)
{
	diag_init(d);
	return config_load_buffer(yaml, strlen(yaml), "t.yaml", c, d);
}

/* 1 when some item of d formats exactly as `want`. */
static int has_line(const struct diag *d, const char *want)
{
	char buf[2300];
	for (size_t i = 0; i < d->n; i++) {
		diag_format(&d->items[i], buf, sizeof buf);
		if (strcmp(buf, want) == 0)
			return 1;
	}
	return 0;
}

static void dump(const struct diag *d)
{
	char buf[2300];
	for (size_t i = 0; i < d->n; i++) {
		diag_format(&d->items[i], buf, sizeof buf);
		fprintf(stderr, "  diag: %s\n", buf);
	}
}

START_TEST(test_seed_loads_in_order)
{
	struct config *c;
	struct diag d;
	ck_assert_int_eq(load_str(SEED, &c, &d), 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(d.n, 0);
	ck_assert_int_eq(c->version, 1);
	ck_assert_str_eq(c->path, "t.yaml");
	ck_assert_str_eq(c->default_distro, "debian/stable/latest/overlayfs");
	ck_assert_int_eq(c->default_line, 2);
	ck_assert_int_eq(c->default_col, 1);
	ck_assert_str_eq(c->rootfs_path, "/pxe/rootfs");
	ck_assert_uint_eq(c->n_env, 1);
	ck_assert_str_eq(c->env[0].key, "nfs-server");
	ck_assert_str_eq(c->env[0].value, "172.25.2.11");
	ck_assert_int_eq(c->env[0].line, 5);
	ck_assert_int_eq(c->env[0].col, 3);
	ck_assert_uint_eq(c->n_templates, 2);
	ck_assert_str_eq(c->templates[0].key, "overlayfs");
	ck_assert_str_eq(c->templates[1].key, "nfsrw");
	ck_assert_str_eq(c->templates[1].value, "root=/dev/nfs nfsroot=${nfs-server}:${rootfs-path} ip=dhcp rw");
	ck_assert_int_eq(c->templates[1].line, 8);
	ck_assert_uint_eq(c->n_hosts, 1);
	const uint8_t mac[6] = {0xbc, 0x24, 0x11, 0xb0, 0x1a, 0xde};
	ck_assert_mem_eq(c->hosts[0].mac, mac, 6);
	ck_assert_str_eq(c->hosts[0].boot_id, "debian/bookworm/latest/overlayfs");
	ck_assert_int_eq(c->hosts[0].line, 10);
	ck_assert_int_eq(c->hosts[0].col, 3);
	/* lookups */
	ck_assert_str_eq(config_env(c, "nfs-server"), "172.25.2.11");
	ck_assert_ptr_null(config_env(c, "nfs"));
	ck_assert_str_eq(config_template(c, "overlayfs"),
	                 "root=/dev/nfs nfsroot=${nfs-server}:${rootfs-path} ip=dhcp rootovl");
	ck_assert_ptr_null(config_template(c, "nfs"));
	ck_assert_ptr_eq(config_host(c, mac), &c->hosts[0]);
	const uint8_t other[6] = {0xbc, 0x24, 0x11, 0xb0, 0x1a, 0xdf};
	ck_assert_ptr_null(config_host(c, other));
	config_free(c);
	diag_free(&d);
}
END_TEST

/* Order is the file's, never sorted: many templates in reverse alphabetical order. */
START_TEST(test_order_kept)
{
	struct config *c;
	struct diag d;
	const char *y = HDR "CmdlineTemplates:\n  zeta: a\n  alpha: b\n  mid: c\n  beta: d\n"
	                    "Env: {z: 1, a: 2, m: 3}\n";
	ck_assert_int_eq(load_str(y, &c, &d), 0);
	const char *want[] = {"zeta", "alpha", "mid", "beta"};
	ck_assert_uint_eq(c->n_templates, 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_str_eq(c->templates[i].key, want[i]);
	ck_assert_uint_eq(c->n_env, 3);
	ck_assert_str_eq(c->env[0].key, "z");
	ck_assert_str_eq(c->env[1].key, "a");
	ck_assert_str_eq(c->env[2].key, "m");
	config_free(c);
	diag_free(&d);
}
END_TEST

START_TEST(test_defaults)
{
	struct config *c = config_new_default();
	char buf[80];
	ck_assert_str_eq(c->path, "<builtin>");
	ck_assert_int_eq(c->version, 1);
	ck_assert_ptr_null(c->default_distro);
	ck_assert_uint_eq(c->n_env + c->n_templates + c->n_hosts, 0);
	listen_format(&c->tftp_listen, buf, sizeof buf);
	ck_assert_str_eq(buf, "0.0.0.0:69");
	listen_format(&c->http_listen, buf, sizeof buf);
	ck_assert_str_eq(buf, "0.0.0.0:80");
	ck_assert_ptr_null(c->http_base_url);
	ck_assert_uint_eq(c->menu_timeout_ms, 10000);
	ck_assert_str_eq(c->menu_title, "AutoPXE boot menu");
	ck_assert_int_eq(c->timeout_action, ACTION_DEFAULT);
	ck_assert_int_eq(c->failure_action, ACTION_EXIT);
	ck_assert_uint_eq(c->boot_retries, 2);
	ck_assert_uint_eq(c->retry_delay_ms, 3000);
	ck_assert_ptr_null(c->static_dir);
	ck_assert_ptr_nonnull(c->ipxe_dir);
	ck_assert(strstr(c->ipxe_dir, "/ipxe") != NULL);
	ck_assert_ptr_null(c->templates_dir);
	ck_assert_ptr_null(c->iso_dir);
	ck_assert_str_eq(c->user, "nobody");
	ck_assert_int_eq(c->log_level, LOG_INFO);
	ck_assert_int_eq(c->watch, 1);
	ck_assert_uint_eq(c->tftp_max_blksize, 1468);
	ck_assert_uint_eq(c->tftp_max_window, 64);
	ck_assert_uint_eq(c->tftp_timeout_ms, 1000);
	ck_assert_uint_eq(c->tftp_retries, 6);
	ck_assert_uint_eq(c->tftp_max_sessions, 4096);
	ck_assert_uint_eq(c->tftp_max_per_client, 32);
	ck_assert_uint_eq(c->tftp_busy_poll_us, 200);
	ck_assert_uint_eq(c->http_max_conns, 2048);
	ck_assert_uint_eq(c->http_max_per_client, 64);
	ck_assert_uint_eq(c->http_timeout_s, 30);
	ck_assert_uint_eq(c->http_threads, 0);
	ck_assert_int_eq(c->allow_remote_reload, 0);
	config_free(c);
	config_free(NULL);

	/* a loaded minimal file gets the same defaults */
	struct diag d;
	ck_assert_int_eq(load_str(HDR "CmdlineTemplates: {a: b}\n", &c, &d), 0);
	ck_assert_int_eq(d.n, 0);
	ck_assert_uint_eq(c->menu_timeout_ms, 10000);
	ck_assert_uint_eq(c->tftp_max_blksize, 1468);
	ck_assert_int_eq(c->watch, 1);
	ck_assert_int_eq(c->tftp_listen.enabled, 1);
	ck_assert_uint_eq(c->tftp_listen.port, 69);
	config_free(c);
	diag_free(&d);
}
END_TEST

/* Every optional key set to a non-default value. */
START_TEST(test_all_keys)
{
	struct config *c;
	struct diag d;
	const char *y = HDR "CmdlineTemplates:\n  t: >-\n    root=/dev/nfs\n    rw\n"
	                    "TFTPListen: '[::]:6969'\nHTTPListen: 127.0.0.1:8080\n"
	                    "HTTPBaseURL: https://boot.example/pxe\n"
	                    "StateURL: postgresql://autopxe:pw@db.example:5432/autopxe\n"
	                    "MenuTimeout: 0\nMenuTitle: \"Cluster: ${hostname}\"\nTimeoutAction: Reboot\n"
	                    "FailureAction: menu\nBootRetries: 0\nRetryDelay: 500\nStaticDir: /srv/static/\n"
	                    "IPXEDir: /opt/ipxe\nTemplatesDir: /etc/t\nISOPath: /iso\nUser: root\nLogLevel: debug\n"
	                    "Watch: no\nTFTPMaxBlockSize: 65464\nTFTPMaxWindowSize: 1\nTFTPTimeout: 100\n"
	                    "TFTPRetries: 50\nTFTPMaxSessions: 10\nTFTPMaxPerClient: 2\nHTTPMaxConnections: 3\n"
	                    "HTTPMaxPerClient: 4\nHTTPTimeout: 5\nHTTPThreads: 6\nAllowRemoteReload: TRUE\nTFTPThreads: 3\n"
	                    "TFTPBusyPoll: 0\n";
	int rc = load_str(y, &c, &d);
	if (rc)
		dump(&d);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(d.n, 0);
	ck_assert_str_eq(c->templates[0].value, "root=/dev/nfs rw");
	char buf[80];
	listen_format(&c->tftp_listen, buf, sizeof buf);
	ck_assert_str_eq(buf, "[::]:6969");
	listen_format(&c->http_listen, buf, sizeof buf);
	ck_assert_str_eq(buf, "127.0.0.1:8080");
	ck_assert_str_eq(c->http_base_url, "https://boot.example/pxe");
	ck_assert_str_eq(c->state_url, "postgresql://autopxe:pw@db.example:5432/autopxe");
	ck_assert_uint_eq(c->menu_timeout_ms, 0);
	ck_assert_str_eq(c->menu_title, "Cluster: ${hostname}");
	ck_assert_int_eq(c->timeout_action, ACTION_REBOOT);
	ck_assert_int_eq(c->failure_action, ACTION_MENU);
	ck_assert_uint_eq(c->boot_retries, 0);
	ck_assert_uint_eq(c->retry_delay_ms, 500);
	ck_assert_str_eq(c->static_dir, "/srv/static");
	ck_assert_str_eq(c->ipxe_dir, "/opt/ipxe");
	ck_assert_str_eq(c->templates_dir, "/etc/t");
	ck_assert_str_eq(c->iso_dir, "/iso");
	ck_assert_str_eq(c->user, "root");
	ck_assert_int_eq(c->log_level, LOG_DEBUG);
	ck_assert_int_eq(c->watch, 0);
	ck_assert_uint_eq(c->tftp_max_blksize, 65464);
	ck_assert_uint_eq(c->tftp_max_window, 1);
	ck_assert_uint_eq(c->tftp_timeout_ms, 100);
	ck_assert_uint_eq(c->tftp_retries, 50);
	ck_assert_uint_eq(c->tftp_threads, 3);
	ck_assert_uint_eq(c->tftp_max_sessions, 10);
	ck_assert_uint_eq(c->tftp_max_per_client, 2);
	ck_assert_uint_eq(c->tftp_busy_poll_us, 0);
	ck_assert_uint_eq(c->http_max_conns, 3);
	ck_assert_uint_eq(c->http_max_per_client, 4);
	ck_assert_uint_eq(c->http_timeout_s, 5);
	ck_assert_uint_eq(c->http_threads, 6);
	ck_assert_int_eq(c->allow_remote_reload, 1);
	config_free(c);
	diag_free(&d);
}
END_TEST

/* Each case must fail and produce exactly this diagnostic (among possibly others). */
static const struct {
	const char *yaml;
	const char *want;
} errors[] = {
    /* structure */
    {"", "t.yaml: error: empty configuration file"},
    {"# only a comment\n", "t.yaml: error: empty configuration file"},
    {"---\n", "t.yaml: error: empty configuration file"},
    {"- a\n- b\n", "t.yaml:1:1: error: the top level must be a map of keys (version, RootfsPath, ...), found a list"},
    {"just text\n",
     "t.yaml:1:1: error: the top level must be a map of keys (version, RootfsPath, ...), found a single value"},
    {"version: 1\n", "t.yaml:1:1: error: missing required key RootfsPath (the directory holding <distro>/<release>/)"},
    {"version: 1\nRootfsPath:\n", "t.yaml:2:12: error: RootfsPath: must not be empty"},
    {"version: 1\nRootfsPath: ''\n", "t.yaml:2:13: error: RootfsPath: must not be empty"},
    {"version: 1\nRootfsPath: [a]\n", "t.yaml:2:13: error: RootfsPath: expected a single value, found a list"},
    {HDR "RootfsPath: /b\n", "t.yaml:3:1: error: duplicate key 'RootfsPath' (first on line 2, column 1)"},
    {HDR "[a]: 1\n", "t.yaml:3:1: error: top-level keys must be names, found a list"},
    {"version: 1\nRootfsPath: /pxe\nversion: 1\n",
     "t.yaml:3:1: error: duplicate key 'version' (first on line 1, column 1)"},
    {"a: b\n---\nc: d\n", "t.yaml:2:1: error: more than one YAML document ('---'); only one is read"},
    /* syntax */
    {"version: 1\nRootfsPath: /pxe\n  bad: indent\n",
     "t.yaml:3:6: error: YAML syntax error: mapping values are not allowed in this context"},
    {"version: 1\nEnv: {a: b\n", "t.yaml:3:1: error: YAML syntax error: did not find expected ',' or '}' "
                                  "(while parsing a flow mapping at line 2, column 6)"},
    {"version: 1\nRootfsPath: \"/pxe\n",
     "t.yaml:3:1: error: YAML syntax error: found unexpected end of stream "
     "(while scanning a quoted scalar at line 2, column 13)"},
    {"version: 1\nRootfsPath: *nope\n", "t.yaml:2:13: error: YAML syntax error: found undefined alias"},
    {"version: 1\n\x01: x\n", "t.yaml:2:1: error: unreadable input: control characters are not allowed (byte 0x01)"},
    {"version: 1\nRootfsPath: /p\xff\n",
     "t.yaml:2:15: error: unreadable input: invalid leading UTF-8 octet (byte 0xff)"},
    /* version */
    {"version: 2\nRootfsPath: /pxe\n",
     "t.yaml:1:10: error: version: unsupported version 2 (this autopxe reads version 1)"},
    {"version: one\nRootfsPath: /pxe\n",
     "t.yaml:1:10: error: version: 'one' is not a version number (this autopxe reads version 1)"},
    {"version: {a: 1}\nRootfsPath: /pxe\n", "t.yaml:1:10: error: version: expected a single value, found a map"},
    /* Env */
    {HDR "Env: [a, b]\n", "t.yaml:3:6: error: Env: expected a map of name: value, found a list"},
    {HDR "Env: text\n", "t.yaml:3:6: error: Env: expected a map of name: value, found a single value"},
    {HDR "Env:\n  bad name: x\n",
     "t.yaml:4:3: error: Env: 'bad name' is not a valid name (use letters, digits, '_', '.', '-')"},
    {HDR "Env:\n  a$b: x\n", "t.yaml:4:3: error: Env: 'a$b' is not a valid name (use letters, digits, '_', '.', '-')"},
    {HDR "Env:\n  a: [1]\n", "t.yaml:4:6: error: Env: a: expected a single value, found a list"},
    {HDR "Env:\n  a: {b: c}\n", "t.yaml:4:6: error: Env: a: expected a single value, found a map"},
    {HDR "Env:\n  a: 1\n  b: 2\n  a: 3\n", "t.yaml:6:3: error: Env: duplicate key 'a' (first on line 4, column 3)"},
    {HDR "Env: {x: 1}\nEnv: {y: 2}\n", "t.yaml:4:1: error: duplicate key 'Env' (first on line 3, column 1)"},
    /* templates */
    {HDR "CmdlineTemplates:\n  a:\n", "t.yaml:4:5: error: CmdlineTemplates: a: template is empty"},
    {HDR "CmdlineTemplates:\n  a: ''\n", "t.yaml:4:6: error: CmdlineTemplates: a: template is empty"},
    {HDR "CmdlineTemplates:\n  a: '   '\n", "t.yaml:4:6: error: CmdlineTemplates: a: template is empty"},
    {HDR "CmdlineTemplates:\n  a b: x\n",
     "t.yaml:4:3: error: CmdlineTemplates: 'a b' is not a valid name (use letters, digits, '_', '.', '-')"},
    {HDR "CmdlineTemplates:\n  ..: x\n",
     "t.yaml:4:3: error: CmdlineTemplates: '..' is not a valid name (use letters, digits, '_', '.', '-')"},
    {HDR "CmdlineTemplates:\n  - a\n",
     "t.yaml:4:3: error: CmdlineTemplates: expected a map of name: value, found a list"},
    {HDR "CmdlineTemplates:\n  x: a\n  y: b\n  x: c\n",
     "t.yaml:6:3: error: CmdlineTemplates: duplicate key 'x' (first on line 4, column 3)"},
    /* injection into iPXE scripts */
    {HDR "Env:\n  a: \"x\\nshell\"\n",
     "t.yaml:4:6: error: Env: a: 'x\\x0ashell' contains a newline (not allowed in values placed into iPXE scripts)"},
    {HDR "Env:\n  a: \"x\\rshell\"\n",
     "t.yaml:4:6: error: Env: a: 'x\\x0dshell' contains a carriage return (not allowed in values placed into iPXE "
     "scripts)"},
    {HDR "Env:\n  a: \"x\\0y\"\n",
     "t.yaml:4:6: error: Env: a: 'x\\x00y' contains a control character (not allowed in values placed into iPXE "
     "scripts)"},
    {HDR "Env:\n  a: \"x\\x7fy\"\n",
     "t.yaml:4:6: error: Env: a: 'x\\x7fy' contains a control character (not allowed in values placed into iPXE "
     "scripts)"},
    {HDR "Env:\n  a: \"x\\ty\"\n",
     "t.yaml:4:6: error: Env: a: 'x\\x09y' contains a control character (not allowed in values placed into iPXE "
     "scripts)"},
    {HDR "CmdlineTemplates:\n  a: |\n    root=/dev/nfs\n    shell\n",
     "t.yaml:4:6: error: CmdlineTemplates: a: 'root=/dev/nfs\\x0ashell' contains a newline (not allowed in values "
     "placed into iPXE scripts)"},
    {HDR "MenuTitle: \"hi\\n:x\"\n",
     "t.yaml:3:12: error: MenuTitle: 'hi\\x0a:x' contains a newline (not allowed in values placed into iPXE scripts)"},
    {HDR "HTTPBaseURL: \"http://a/\\nshell\"\n",
     "t.yaml:3:14: error: HTTPBaseURL: 'http://a/\\x0ashell' contains a newline (not allowed in values placed into "
     "iPXE scripts)"},
    {"version: 1\nRootfsPath: \"/pxe\\nshell\"\n",
     "t.yaml:2:13: error: RootfsPath: '/pxe\\x0ashell' contains a newline (not allowed in values placed into iPXE "
     "scripts)"},
    /* boot ids */
    {HDR "DefaultDistro: debian/stable\n",
     "t.yaml:3:16: error: DefaultDistro: 'debian/stable' is not a boot id (want distro/release/kernel/template)"},
    {HDR "DefaultDistro: a/b/c/d/e\n",
     "t.yaml:3:16: error: DefaultDistro: 'a/b/c/d/e' is not a boot id (want distro/release/kernel/template)"},
    {HDR "DefaultDistro: a//c/d\n",
     "t.yaml:3:16: error: DefaultDistro: 'a//c/d' is not a boot id (want distro/release/kernel/template)"},
    {HDR "DefaultDistro: a/../c/d\n",
     "t.yaml:3:16: error: DefaultDistro: 'a/../c/d' is not a boot id (want distro/release/kernel/template)"},
    {HDR "DefaultDistro: a/b c/d/e\n",
     "t.yaml:3:16: error: DefaultDistro: 'a/b c/d/e' is not a boot id (want distro/release/kernel/template)"},
    {HDR "DefaultDistro: a/b/${x}/e\n",
     "t.yaml:3:16: error: DefaultDistro: 'a/b/${x}/e' is not a boot id (want distro/release/kernel/template)"},
    {HDR "DefaultDistro: \"a/b/c/d\\n\"\n",
     "t.yaml:3:16: error: DefaultDistro: 'a/b/c/d\\x0a' contains a newline (not allowed in values placed into iPXE "
     "scripts)"},
    /* HostDefaults */
    {HDR "HostDefaults:\n  zz:11: a/b/c/d\n", "t.yaml:4:3: error: HostDefaults: 'zz:11' is not a MAC address"},
    {HDR "HostDefaults:\n  bc2411b01adef: a/b/c/d\n",
     "t.yaml:4:3: error: HostDefaults: 'bc2411b01adef' is not a MAC address"},
    {HDR "HostDefaults:\n  bc2411b01ade: a/b\n",
     "t.yaml:4:17: error: HostDefaults: bc2411b01ade: 'a/b' is not a boot id (want distro/release/kernel/template)"},
    {HDR "HostDefaults:\n  bc2411b01ade:\n", "t.yaml:4:16: error: HostDefaults: bc2411b01ade: no boot id given"},
    {HDR "HostDefaults:\n  bc2411b01ade: [a]\n",
     "t.yaml:4:17: error: HostDefaults: bc2411b01ade: expected a single value, found a list"},
    {HDR "HostDefaults: [bc2411b01ade]\n",
     "t.yaml:3:15: error: HostDefaults: expected a map of MAC: boot id, found a list"},
    {HDR "HostDefaults:\n  bc2411b01ade: a/b/c/d\n  BC-24-11-B0-1A-DE: a/b/c/e\n",
     "t.yaml:5:3: error: HostDefaults: duplicate MAC bc:24:11:b0:1a:de (also on line 4, column 3)"},
    {HDR "HostDefaults:\n  01-bc-24-11-b0-1a-de: a/b/c/d\n  x: y\n  bc24.11b0.1ade: a/b/c/e\n",
     "t.yaml:6:3: error: HostDefaults: duplicate MAC bc:24:11:b0:1a:de (also on line 4, column 3)"},
    /* listen specs */
    {HDR "TFTPListen: 69\n",
     "t.yaml:3:13: error: TFTPListen: '69' is not a listen address (want off, ADDR:PORT, [V6ADDR]:PORT or :PORT)"},
    {HDR "HTTPListen: localhost:80\n",
     "t.yaml:3:13: error: HTTPListen: 'localhost:80' is not a listen address (want off, ADDR:PORT, [V6ADDR]:PORT or "
     ":PORT)"},
    {HDR "HTTPListen: ':65536'\n",
     "t.yaml:3:13: error: HTTPListen: ':65536' is not a listen address (want off, ADDR:PORT, [V6ADDR]:PORT or :PORT)"},
    {HDR "HTTPListen:\n", "t.yaml:3:12: error: HTTPListen: '' is not a listen address (want off, ADDR:PORT, "
                          "[V6ADDR]:PORT or :PORT)"},
    /* numbers */
    {HDR "TFTPMaxBlockSize: 7\n", "t.yaml:3:19: error: TFTPMaxBlockSize: 7 is out of range (8..65464)"},
    {HDR "TFTPMaxBlockSize: 65465\n", "t.yaml:3:19: error: TFTPMaxBlockSize: 65465 is out of range (8..65464)"},
    {HDR "TFTPMaxWindowSize: 0\n", "t.yaml:3:20: error: TFTPMaxWindowSize: 0 is out of range (1..65535)"},
    {HDR "TFTPTimeout: 99\n", "t.yaml:3:14: error: TFTPTimeout: 99 is out of range (100..255000)"},
    {HDR "TFTPRetries: 51\n", "t.yaml:3:14: error: TFTPRetries: 51 is out of range (1..50)"},
    {HDR "MenuTimeout: 99999999999999999999999999999999999\n",
     "t.yaml:3:14: error: MenuTimeout: 99999999999999999999999999999999999 is out of range (0..86400000)"},
    {HDR "MenuTimeout: -1\n", "t.yaml:3:14: error: MenuTimeout: '-1' is not a whole number"},
    {HDR "MenuTimeout: 10s\n", "t.yaml:3:14: error: MenuTimeout: '10s' is not a whole number"},
    {HDR "MenuTimeout:\n", "t.yaml:3:13: error: MenuTimeout: '' is not a whole number"},
    {HDR "HTTPTimeout: [1]\n", "t.yaml:3:14: error: HTTPTimeout: expected a single value, found a list"},
    /* enums and booleans */
    {HDR "TimeoutAction: menu\n",
     "t.yaml:3:16: error: TimeoutAction: 'menu' is not one of default, exit, reboot, shell"},
    {HDR "FailureAction: default\n",
     "t.yaml:3:16: error: FailureAction: 'default' is not one of exit, reboot, shell, menu"},
    {HDR "LogLevel: loud\n", "t.yaml:3:11: error: LogLevel: 'loud' is not one of error, warn, warning, info, debug"},
    {HDR "Watch: maybe\n", "t.yaml:3:8: error: Watch: 'maybe' is not true or false"},
    {HDR "AllowRemoteReload: 1\n", "t.yaml:3:20: error: AllowRemoteReload: '1' is not true or false"},
    /* other strings */
    {HDR "HTTPBaseURL: ftp://x/\n", "t.yaml:3:14: error: HTTPBaseURL: 'ftp://x/' is not an http:// or https:// URL "
                                    "without spaces"},
    {HDR "HTTPBaseURL: http://a b/\n", "t.yaml:3:14: error: HTTPBaseURL: 'http://a b/' is not an http:// or https:// "
                                       "URL without spaces"},
    {HDR "User: 'a b'\n", "t.yaml:3:7: error: User: 'a b' is not a user name"},
    {HDR "HTTPBaseURLs: http://x/\n", "t.yaml:3:15: error: HTTPBaseURLs: expected a map of subnet: URL, found a single value"},
    {HDR "HTTPBaseURLs:\n  192.0.2.1/24: http://x/\n", "t.yaml:4:3: error: HTTPBaseURLs: '192.0.2.1/24' is not a subnet (192.0.2.0/24, 2001:db8::/32)"},
    {HDR "HTTPBaseURLs:\n  192.0.2.0/33: http://x/\n", "t.yaml:4:3: error: HTTPBaseURLs: '192.0.2.0/33' is not a subnet (192.0.2.0/24, 2001:db8::/32)"},
    {HDR "HTTPBaseURLs:\n  192.0.2.0/24: ftp://x/\n", "t.yaml:4:17: error: HTTPBaseURLs: 192.0.2.0/24: 'ftp://x/' is not an http:// or https:// URL without spaces"},
    {HDR "StateURL: mysql://u:secret@h/db\n", "t.yaml:3:11: error: StateURL: not a sqlite:///<file> or postgresql://... URL"},
    {HDR "StateURL: sqlite://relative.db\n", "t.yaml:3:11: error: StateURL: not a sqlite:///<file> or postgresql://... URL"},
    {HDR "StaticDir: ''\n", "t.yaml:3:12: error: StaticDir: must not be empty"},
    {HDR "IPXEDir: {a: b}\n", "t.yaml:3:10: error: IPXEDir: expected a single value, found a map"},
    /* limits */
    {"a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
     "t.yaml:1:35: error: nested deeper than 32 levels"},
};

/* HTTPBaseURLs: subnets in both families, longest prefix wins, a trailing '/' added, no match -> NULL. */
START_TEST(test_base_urls)
{
	struct config *c;
	struct diag d;
	const char *y = HDR "HTTPBaseURLs:\n  192.0.2.0/24: http://far.example/pxe\n  192.0.2.128/25: http://near.example/\n"
	                    "  2001:db8::/32: http://v6.example/m\n  198.51.100.7: http://one.example\n";
	int rc = load_str(y, &c, &d);
	if (rc)
		dump(&d);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(c->n_base_urls, 4);
	ck_assert_str_eq(config_base_url_for(c, "192.0.2.7"), "http://far.example/pxe/");
	ck_assert_str_eq(config_base_url_for(c, "192.0.2.200"), "http://near.example/");
	ck_assert_str_eq(config_base_url_for(c, "::ffff:192.0.2.200"), "http://near.example/");
	ck_assert_str_eq(config_base_url_for(c, "2001:db8:1::5"), "http://v6.example/m/");
	ck_assert_str_eq(config_base_url_for(c, "198.51.100.7"), "http://one.example/");
	ck_assert_ptr_null(config_base_url_for(c, "198.51.100.8"));
	ck_assert_ptr_null(config_base_url_for(c, "192.0.3.1"));
	ck_assert_ptr_null(config_base_url_for(c, "not-an-ip"));
	ck_assert_ptr_null(config_base_url_for(c, ""));
	config_free(c);
	diag_free(&d);
}
END_TEST

START_TEST(test_errors)
{
	struct config *c = (struct config *)1;
	struct diag d;
	int rc = load_str(errors[_i].yaml, &c, &d);
	int found = has_line(&d, errors[_i].want);
	if (!found || rc != -EINVAL) {
		fprintf(stderr, "case %d: want \"%s\", rc %d, got:\n", _i, errors[_i].want, rc);
		dump(&d);
	}
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert(found);
	ck_assert_uint_ge(d.n_errors, 1);
	diag_free(&d);
}
END_TEST

/* Several independent errors are all reported, not only the first. */
START_TEST(test_all_errors_collected)
{
	struct config *c;
	struct diag d;
	const char *y = "version: 3\nEnv: [x]\nCmdlineTemplates: {a: ''}\nHostDefaults: {zz: a/b/c/d, "
	                "bc2411b01ade: nope}\nTFTPRetries: 0\nWatch: sometimes\n";
	ck_assert_int_eq(load_str(y, &c, &d), -EINVAL);
	ck_assert_uint_eq(d.n_errors, 8);
	ck_assert(has_line(&d, "t.yaml:1:1: error: missing required key RootfsPath (the directory holding "
	                       "<distro>/<release>/)"));
	ck_assert(has_line(&d, "t.yaml:1:10: error: version: unsupported version 3 (this autopxe reads version 1)"));
	ck_assert(has_line(&d, "t.yaml:2:6: error: Env: expected a map of name: value, found a list"));
	ck_assert(has_line(&d, "t.yaml:3:23: error: CmdlineTemplates: a: template is empty"));
	ck_assert(has_line(&d, "t.yaml:4:16: error: HostDefaults: 'zz' is not a MAC address"));
	ck_assert(has_line(&d, "t.yaml:4:43: error: HostDefaults: bc2411b01ade: 'nope' is not a boot id "
	                       "(want distro/release/kernel/template)"));
	ck_assert(has_line(&d, "t.yaml:5:14: error: TFTPRetries: 0 is out of range (1..50)"));
	ck_assert(has_line(&d, "t.yaml:6:8: error: Watch: 'sometimes' is not true or false"));
	diag_free(&d);
}
END_TEST

static const struct {
	const char *yaml;
	const char *want;
} warnings[] = {
    {"RootfsPath: /pxe\nCmdlineTemplates: {a: b}\n", "t.yaml:1:1: warning: no 'version' key; assuming version 1"},
    {HDR "CmdlineTemplates: {a: b}\nMenuTimout: 5\n",
     "t.yaml:4:1: warning: unknown key 'MenuTimout' ignored (did you mean MenuTimeout?)"},
    {HDR "CmdlineTemplates: {a: b}\nrootfspath: /x\n",
     "t.yaml:4:1: warning: unknown key 'rootfspath' ignored (did you mean RootfsPath?)"},
    {HDR "CmdlineTemplates: {a: b}\nFrobnicate: 1\n", "t.yaml:4:1: warning: unknown key 'Frobnicate' ignored"},
    {HDR "CmdlineTemplates: {a: b}\nHostDefault: {}\n",
     "t.yaml:4:1: warning: unknown key 'HostDefault' ignored (did you mean HostDefaults?)"},
    {HDR "\n", "t.yaml: warning: no CmdlineTemplates: menus will have no boot entries"},
    {"version: 1\nRootfsPath: /my pxe\nCmdlineTemplates: {a: b}\n",
     "t.yaml:2:13: warning: RootfsPath: contains a space or quote; kernel command lines using ${rootfs-path} will "
     "break"},
};

START_TEST(test_warnings)
{
	struct config *c;
	struct diag d;
	int rc = load_str(warnings[_i].yaml, &c, &d);
	int found = has_line(&d, warnings[_i].want);
	if (!found || rc) {
		fprintf(stderr, "case %d: want \"%s\", rc %d, got:\n", _i, warnings[_i].want, rc);
		dump(&d);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(c);
	ck_assert(found);
	ck_assert_uint_eq(d.n_errors, 0);
	ck_assert_uint_eq(d.n, 1);
	config_free(c);
	diag_free(&d);
}
END_TEST

/* Things the original format allows and that must keep working. */
static const struct {
	const char *yaml;
	const char *env_a; /* expected Env a, or NULL */
	const char *rootfs;
} accepted[] = {
    {HDR "Env:\n  a: 10\n", "10", "/pxe"},
    {HDR "Env:\n  a: 1.5e3\n", "1.5e3", "/pxe"},
    {HDR "Env:\n  a: true\n", "true", "/pxe"},
    {HDR "Env:\n  a: 'quoted: yes'\n", "quoted: yes", "/pxe"},
    {HDR "Env:\n  a: \"${other}x\"\n", "${other}x", "/pxe"},
    {HDR "Env:\n  a: ~\n", "~", "/pxe"},
    {HDR "Env:\n  a:\n", "", "/pxe"},
    {HDR "Env:\n  a: héllo\n", "h\xc3\xa9llo", "/pxe"},
    {HDR "Env:\n", NULL, "/pxe"},
    {HDR "Env: {}\n", NULL, "/pxe"},
    {HDR "HostDefaults:\nCmdlineTemplates:\n", NULL, "/pxe"},
    {"version: 1\nRootfsPath: /\n", NULL, "/"},
    {"version: 1\nRootfsPath: ///\n", NULL, "/"},
    {"version: 1\nRootfsPath: /pxe/rootfs//\n", NULL, "/pxe/rootfs"},
    {"version: '1'\nRootfsPath: rel/dir/\n", NULL, "rel/dir"}, /* name without a directory: kept relative */
    {"version: 1\nRootfsPath: &r /pxe\nEnv: {a: *r}\n", "/pxe", "/pxe"},
    {"\xef\xbb\xbfversion: 1\nRootfsPath: /pxe\n", NULL, "/pxe"}, /* UTF-8 BOM */
    {"%YAML 1.1\n---\nversion: 1\nRootfsPath: /pxe\n...\n", NULL, "/pxe"},
    {"{version: 1, RootfsPath: /pxe, Env: {a: b}}", "b", "/pxe"},
};

START_TEST(test_accepted)
{
	struct config *c;
	struct diag d;
	int rc = load_str(accepted[_i].yaml, &c, &d);
	if (rc) {
		fprintf(stderr, "case %d:\n", _i);
		dump(&d);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(d.n_errors, 0);
	if (accepted[_i].env_a)
		ck_assert_str_eq(config_env(c, "a"), accepted[_i].env_a);
	else
		ck_assert_ptr_null(config_env(c, "a"));
	ck_assert_str_eq(c->rootfs_path, accepted[_i].rootfs);
	config_free(c);
	diag_free(&d);
}
END_TEST

/* Every MAC spelling in HostDefaults normalises to the same bytes. */
START_TEST(test_host_spellings)
{
	struct config *c;
	struct diag d;
	const char *y = HDR "HostDefaults:\n  bc2411b01ade: a/b/c/d\n  AA:BB:CC:DD:EE:01: a/b/c/e\n"
	                    "  aa-bb-cc-dd-ee-02: a/b/c/f\n  aabb.ccdd.ee03: a/b/c/g\n  01-aa-bb-cc-dd-ee-04: a/b/c/h\n"
	                    "  \"aa:bb:cc:dd:ee:05\": debian/bookworm/6.1.0-13+rpt~1_x.y/nfs-rw\n";
	int rc = load_str(y, &c, &d);
	if (rc)
		dump(&d);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(c->n_hosts, 6);
	const char *want_boot[] = {"a/b/c/d", "a/b/c/e", "a/b/c/f", "a/b/c/g", "a/b/c/h",
	                           "debian/bookworm/6.1.0-13+rpt~1_x.y/nfs-rw"};
	for (int i = 0; i < 6; i++) {
		char raw[13];
		mac_hexraw(c->hosts[i].mac, raw);
		if (i == 0)
			ck_assert_str_eq(raw, "bc2411b01ade");
		else {
			char want[32];
			snprintf(want, sizeof want, "aabbccddee%02u", (unsigned)i % 100u);
			ck_assert_str_eq(raw, want);
		}
		ck_assert_str_eq(c->hosts[i].boot_id, want_boot[i]);
		ck_assert_int_eq(c->hosts[i].line, 4 + i);
		uint8_t m[6];
		ck_assert_int_eq(mac_parse_str(raw, m), 0);
		ck_assert_ptr_eq(config_host(c, m), &c->hosts[i]);
	}
	config_free(c);
	diag_free(&d);
}
END_TEST

static const struct {
	const char *spec;
	int rc;
	int enabled;
	const char *host;
	unsigned port;
	const char *formatted;
} listens[] = {
    {"off", 0, 0, "", 0, "off"},
    {"OFF", 0, 0, "", 0, "off"},
    {"0.0.0.0:69", 0, 1, "0.0.0.0", 69, "0.0.0.0:69"},
    {"127.0.0.1:6969", 0, 1, "127.0.0.1", 6969, "127.0.0.1:6969"},
    {":8080", 0, 1, "", 8080, "0.0.0.0:8080"},
    {"[::]:69", 0, 1, "::", 69, "[::]:69"},
    {"[::1]:80", 0, 1, "::1", 80, "[::1]:80"},
    {"[fe80::1%eth0]:69", 0, 1, "fe80::1%eth0", 69, "[fe80::1%eth0]:69"},
    {"[2001:db8::5]:65535", 0, 1, "2001:db8::5", 65535, "[2001:db8::5]:65535"},
    {"127.0.0.1:0", 0, 1, "127.0.0.1", 0, "127.0.0.1:0"},
    {"", -EINVAL, 0, NULL, 0, NULL},
    {"69", -EINVAL, 0, NULL, 0, NULL},
    {":", -EINVAL, 0, NULL, 0, NULL},
    {"1.2.3.4", -EINVAL, 0, NULL, 0, NULL},
    {"1.2.3.4:", -EINVAL, 0, NULL, 0, NULL},
    {"1.2.3.4:65536", -EINVAL, 0, NULL, 0, NULL},
    {"1.2.3.4:-1", -EINVAL, 0, NULL, 0, NULL},
    {"1.2.3.4:6x", -EINVAL, 0, NULL, 0, NULL},
    {"1.2.3.256:69", -EINVAL, 0, NULL, 0, NULL},
    {"localhost:69", -EINVAL, 0, NULL, 0, NULL},
    {"::1:69", -EINVAL, 0, NULL, 0, NULL},
    {"[::1]", -EINVAL, 0, NULL, 0, NULL},
    {"[::1]69", -EINVAL, 0, NULL, 0, NULL},
    {"[]:69", -EINVAL, 0, NULL, 0, NULL},
    {"[1.2.3.4]:69", -EINVAL, 0, NULL, 0, NULL},
    {"[::g]:69", -EINVAL, 0, NULL, 0, NULL},
    {"[fe80::1%]:69", -EINVAL, 0, NULL, 0, NULL},
    {"[fe80::1%e th]:69", -EINVAL, 0, NULL, 0, NULL},
    {"[::1:69", -EINVAL, 0, NULL, 0, NULL},
    {"offf", -EINVAL, 0, NULL, 0, NULL},
    {"[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]:69", -EINVAL, 0, NULL, 0, NULL},
};

START_TEST(test_listen)
{
	struct listen_spec l = {.enabled = 7, .host = "keep", .port = 7};
	int rc = listen_parse(listens[_i].spec, &l);
	ck_assert_msg(rc == listens[_i].rc, "'%s': rc %d", listens[_i].spec, rc);
	if (rc) {
		ck_assert_int_eq(l.enabled, 7); /* untouched on failure */
		ck_assert_str_eq(l.host, "keep");
		return;
	}
	ck_assert_int_eq(l.enabled, listens[_i].enabled);
	ck_assert_str_eq(l.host, listens[_i].host);
	ck_assert_uint_eq(l.port, listens[_i].port);
	char buf[96];
	listen_format(&l, buf, sizeof buf);
	ck_assert_str_eq(buf, listens[_i].formatted);
	/* formatting then parsing gives the same spec back */
	struct listen_spec l2;
	ck_assert_int_eq(listen_parse(buf, &l2), 0);
	ck_assert_int_eq(l2.enabled, l.enabled);
	ck_assert_uint_eq(l2.port, l.port);
}
END_TEST

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s (tests run from the repo root)", path);
	char *buf = calloc(1, 1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

START_TEST(test_example_file)
{
	struct config *c;
	struct diag d;
	diag_init(&d);
	int rc = config_load_file("config.yaml.example", &c, &d);
	if (rc || d.n)
		dump(&d);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_str_eq(c->path, "config.yaml.example");
	ck_assert_str_eq(c->rootfs_path, "/pxe/rootfs");
	ck_assert_str_eq(c->templates[0].key, "overlayfs");
	ck_assert_str_eq(c->templates[1].key, "nfsrw");
	ck_assert_str_eq(config_env(c, "nfs-server"), "172.25.2.11");
	ck_assert_uint_eq(c->n_hosts, 1);
	config_free(c);
	diag_free(&d);

	/* Uncomment every "#Key: value" line: still clean, and the documented defaults are the real ones. */
	char *text = read_all("config.yaml.example");
	char *out = calloc(1, strlen(text) + 1), *o = out;
	int uncommented = 0;
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line + 1) : strlen(line);
		if (line[0] == '#' && line[1] >= 'A' && line[1] <= 'Z' && memchr(line, ':', n)) {
			line++;
			n--;
			uncommented++;
		}
		memcpy(o, line, n);
		o += n;
		line += n;
	}
	ck_assert_int_eq(uncommented, 42); /* every optional key of config.h */
	diag_init(&d);
	rc = config_load_buffer(out, strlen(out), "example-uncommented.yaml", &c, &d);
	if (rc || d.n)
		dump(&d);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(d.n, 0);
	struct config *def = config_new_default();
	ck_assert_int_eq(c->tftp_listen.enabled, def->tftp_listen.enabled);
	ck_assert_int_eq(c->http_listen.enabled, def->http_listen.enabled);
	ck_assert_uint_eq(c->tftp_listen.port, def->tftp_listen.port);
	ck_assert_uint_eq(c->http_listen.port, def->http_listen.port);
	ck_assert_uint_eq(c->menu_timeout_ms, def->menu_timeout_ms);
	ck_assert_str_eq(c->menu_title, def->menu_title);
	ck_assert_int_eq(c->timeout_action, def->timeout_action);
	ck_assert_int_eq(c->failure_action, def->failure_action);
	ck_assert_uint_eq(c->boot_retries, def->boot_retries);
	ck_assert_uint_eq(c->retry_delay_ms, def->retry_delay_ms);
	ck_assert_str_eq(c->user, def->user);
	ck_assert_int_eq(c->log_level, def->log_level);
	ck_assert_int_eq(c->watch, def->watch);
	ck_assert_uint_eq(c->tftp_max_blksize, def->tftp_max_blksize);
	ck_assert_uint_eq(c->tftp_max_window, def->tftp_max_window);
	ck_assert_uint_eq(c->tftp_timeout_ms, def->tftp_timeout_ms);
	ck_assert_uint_eq(c->tftp_retries, def->tftp_retries);
	ck_assert_uint_eq(c->tftp_max_sessions, def->tftp_max_sessions);
	ck_assert_uint_eq(c->tftp_max_per_client, def->tftp_max_per_client);
	ck_assert_uint_eq(c->http_max_conns, def->http_max_conns);
	ck_assert_uint_eq(c->http_max_per_client, def->http_max_per_client);
	ck_assert_uint_eq(c->http_timeout_s, def->http_timeout_s);
	ck_assert_uint_eq(c->http_threads, def->http_threads);
	ck_assert_int_eq(c->allow_remote_reload, def->allow_remote_reload);
	ck_assert_int_eq(c->proxy_dhcp, def->proxy_dhcp);
	ck_assert_uint_eq(c->n_proxy_ifaces, 0);
	ck_assert_uint_eq(c->n_boot_files, 0);
	ck_assert_uint_eq(c->pxe_discovery_control, def->pxe_discovery_control);
	ck_assert_uint_eq(c->proxy_dhcp_port, def->proxy_dhcp_port);
	ck_assert_uint_eq(c->pxe_server_port, def->pxe_server_port);
	ck_assert_str_eq(c->state_dir, def->state_dir);
	ck_assert_int_eq(c->state_store, def->state_store);
	ck_assert_uint_eq(c->node_events, def->node_events);
	ck_assert_uint_eq(c->node_timeout_s, def->node_timeout_s);
	ck_assert_ptr_null(c->api_token_file);
	config_free(def);
	config_free(c);
	diag_free(&d);
	free(out);
	free(text);
}
END_TEST

START_TEST(test_file_errors)
{
	struct config *c = (struct config *)1;
	struct diag d;
	diag_init(&d);
	ck_assert_int_eq(config_load_file("tests/data/no-such-config.yaml", &c, &d), -ENOENT);
	ck_assert_ptr_null(c);
	ck_assert(has_line(&d, "tests/data/no-such-config.yaml: error: cannot open: No such file or directory"));
	diag_free(&d);

	/* a directory is not a config file */
	diag_init(&d);
	c = (struct config *)1;
	ck_assert_int_eq(config_load_file("tests", &c, &d), -EISDIR);
	ck_assert_ptr_null(c);
	ck_assert(has_line(&d, "tests: error: cannot read: Is a directory"));
	diag_free(&d);
}
END_TEST

/* Relative paths are resolved against the config file's directory. */
START_TEST(test_relative_paths)
{
	char dir[] = "/tmp/check_config.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof path, "%s/c.yaml", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("version: 1\nRootfsPath: rootfs/\nStaticDir: ./static\nIPXEDir: /abs\nCmdlineTemplates: {a: b}\n", f);
	fclose(f);
	struct config *c;
	struct diag d;
	diag_init(&d);
	ck_assert_int_eq(config_load_file(path, &c, &d), 0);
	char want[160];
	snprintf(want, sizeof want, "%s/rootfs", dir);
	ck_assert_str_eq(c->rootfs_path, want);
	snprintf(want, sizeof want, "%s/./static", dir);
	ck_assert_str_eq(c->static_dir, want);
	ck_assert_str_eq(c->ipxe_dir, "/abs");
	config_free(c);
	diag_free(&d);

	/* a relative file name is made absolute with the working directory */
	char *cwd = getcwd(NULL, 0);
	ck_assert_int_eq(chdir(dir), 0);
	diag_init(&d);
	ck_assert_int_eq(config_load_file("c.yaml", &c, &d), 0);
	snprintf(want, sizeof want, "%s/rootfs", dir);
	ck_assert_str_eq(c->rootfs_path, want);
	config_free(c);
	diag_free(&d);
	ck_assert_int_eq(chdir(cwd), 0);
	free(cwd);

	/* from a buffer the name's directory is used */
	diag_init(&d);
	const char *y = "version: 1\nRootfsPath: r\n";
	ck_assert_int_eq(config_load_buffer(y, strlen(y), "/etc/autopxe/config.yaml", &c, &d), 0);
	ck_assert_str_eq(c->rootfs_path, "/etc/autopxe/r");
	config_free(c);
	diag_free(&d);
	diag_init(&d);
	ck_assert_int_eq(config_load_buffer(y, strlen(y), "/config.yaml", &c, &d), 0);
	ck_assert_str_eq(c->rootfs_path, "/r");
	config_free(c);
	diag_free(&d);

	unlink(path);
	rmdir(dir);
}
END_TEST

/* Hostile inputs: huge, deep, alias loops, every prefix of a valid file. None may crash or leak. */
START_TEST(test_hostile)
{
	struct config *c;
	struct diag d;

	size_t big = (1 << 20) + 1;
	char *buf = malloc(big);
	memset(buf, '#', big);
	diag_init(&d);
	ck_assert_int_eq(config_load_buffer(buf, big, "big.yaml", &c, &d), -EINVAL);
	ck_assert(has_line(&d, "big.yaml: error: file is larger than 1048576 bytes"));
	diag_free(&d);

	/* 100000 nested flow lists stop at the depth limit without deep recursion */
	size_t n = 100000;
	for (size_t i = 0; i < n; i++) {
		buf[i] = '[';
		buf[n + i] = ']';
	}
	diag_init(&d);
	ck_assert_int_eq(config_load_buffer(buf, 2 * n, "deep.yaml", &c, &d), -EINVAL);
	ck_assert_uint_eq(d.n_errors, 1);
	diag_free(&d);
	free(buf);

	/* a map that contains itself through an alias */
	const char *loop = "version: 1\nRootfsPath: /p\nEnv: &e {a: *e}\nHostDefaults: &h {bc2411b01ade: *h}\n";
	ck_assert_int_eq(load_str(loop, &c, &d), -EINVAL);
	ck_assert_uint_eq(d.n_errors, 2);
	diag_free(&d);

	/* NUL bytes inside the buffer and in keys */
	static const char nul[] = "version: 1\nRootfsPath: /p\n\"Env\\0x\": 1\nEnv: {\"a\\0b\": c}\n";
	diag_init(&d);
	ck_assert_int_eq(config_load_buffer(nul, sizeof nul - 1, "nul.yaml", &c, &d), -EINVAL);
	ck_assert(has_line(&d, "nul.yaml:3:1: warning: unknown key 'Env\\x00x' ignored"));
	ck_assert(has_line(&d, "nul.yaml:4:7: error: Env: 'a\\x00b' is not a valid name (use letters, digits, '_', "
	                       "'.', '-')"));
	diag_free(&d);
	diag_init(&d);
	ck_assert_int_eq(config_load_buffer("version: 1\0", 11, "nul2.yaml", &c, &d), -EINVAL);
	ck_assert_uint_ge(d.n_errors, 1);
	diag_free(&d);

	/* every prefix of the seed: no crash, no leak, either loads or reports an error */
	size_t len = strlen(SEED);
	for (size_t i = 0; i <= len; i++) {
		diag_init(&d);
		c = NULL;
		int rc = config_load_buffer(SEED, i, "p.yaml", &c, &d);
		ck_assert(rc == 0 || rc == -EINVAL);
		ck_assert((rc == 0) == (c != NULL));
		ck_assert((rc == 0) == (d.n_errors == 0));
		config_free(c);
		diag_free(&d);
	}
}
END_TEST

/* A file with hundreds of problems reports the first 100 and counts the rest. */
START_TEST(test_proxy_dhcp_keys)
{
	struct config *c;
	struct diag d;
	const char *ok = HDR "ProxyDHCP: true\nProxyDHCPInterfaces: [eth0, br-lan]\nPXEDiscoveryControl: 3\n"
	                     "BootFiles:\n  bios: pxelinux.0\n  efi-x64: ipxe.efi\n  \"11\": \"\"\n"
	                     "ProxyDHCPPort: 1067\nPXEBootServerPort: 0\n";
	ck_assert_int_eq(load_str(ok, &c, &d), 0);
	if (d.n)
		dump(&d);
	ck_assert_int_eq(c->proxy_dhcp, 1);
	ck_assert_uint_eq(c->n_proxy_ifaces, 2);
	ck_assert_str_eq(c->proxy_ifaces[1], "br-lan");
	ck_assert_int_eq(config_proxy_iface_ok(c, "eth0", 0), 1);
	ck_assert_int_eq(config_proxy_iface_ok(c, "eth1", 0), 0);
	ck_assert_uint_eq(c->pxe_discovery_control, 3);
	ck_assert_uint_eq(c->n_boot_files, 4); /* efi-x64 is 7 and 9 */
	ck_assert_str_eq(config_boot_file(c, 0), "pxelinux.0");
	ck_assert_str_eq(config_boot_file(c, 7), "ipxe.efi");
	ck_assert_str_eq(config_boot_file(c, 9), "ipxe.efi");
	ck_assert_str_eq(config_boot_file(c, 11), "");
	ck_assert_ptr_null(config_boot_file(c, 6));
	ck_assert_uint_eq(c->proxy_dhcp_port, 1067);
	ck_assert_uint_eq(c->pxe_server_port, 0);
	config_free(c);
	diag_free(&d);

	/* defaults: off, every non-loopback interface */
	ck_assert_int_eq(load_str(HDR, &c, &d), 0);
	ck_assert_int_eq(c->proxy_dhcp, 0);
	ck_assert_int_eq(config_proxy_iface_ok(c, "eth0", 0), 1);
	ck_assert_int_eq(config_proxy_iface_ok(c, "lo", 1), 0);
	ck_assert_uint_eq(c->pxe_discovery_control, 8);
	ck_assert_uint_eq(c->proxy_dhcp_port, 67);
	ck_assert_uint_eq(c->pxe_server_port, 4011);
	config_free(c);
	diag_free(&d);

	ck_assert_int_eq(load_str(HDR "BootFiles:\n  efi-x65: a.efi\n", &c, &d), -EINVAL);
	ck_assert(has_line(&d, "t.yaml:4:3: error: BootFiles: 'efi-x65' is not an architecture (bios, efi-ia32, efi-x64, "
	                       "efi-arm64, http-x64, ... or an option 93 number)"));
	diag_free(&d);
	ck_assert_int_eq(load_str(HDR "BootFiles:\n  efi-x64: a.efi\n  7: b.efi\n", &c, &d), -EINVAL);
	ck_assert(has_line(&d, "t.yaml:5:3: error: BootFiles: architecture 7 given twice (first on line 4)"));
	diag_free(&d);
	ck_assert_int_eq(load_str(HDR "BootFiles:\n  bios: a b\n", &c, &d), -EINVAL);
	diag_free(&d);
	ck_assert_int_eq(load_str(HDR "BootFiles: [a]\n", &c, &d), -EINVAL);
	diag_free(&d);
	ck_assert_int_eq(load_str(HDR "ProxyDHCPInterfaces: [eth0, \"a/b\"]\n", &c, &d), -EINVAL);
	ck_assert(has_line(&d, "t.yaml:3:29: error: ProxyDHCPInterfaces: 'a/b' is not an interface name"));
	diag_free(&d);
	ck_assert_int_eq(load_str(HDR "ProxyDHCPInterfaces: averyveryverylongname\n", &c, &d), -EINVAL);
	diag_free(&d);
	ck_assert_int_eq(load_str(HDR "ProxyDHCPInterfaces: eth1\n", &c, &d), 0);
	ck_assert_int_eq(config_proxy_iface_ok(c, "eth1", 0), 1);
	ck_assert_int_eq(config_proxy_iface_ok(c, "lo", 1), 0);
	config_free(c);
	diag_free(&d);
	ck_assert_int_eq(load_str(HDR "PXEDiscoveryControl: 256\n", &c, &d), -EINVAL);
	diag_free(&d);
	ck_assert_int_eq(load_str(HDR "ProxyDHCP: maybe\n", &c, &d), -EINVAL);
	diag_free(&d);
}
END_TEST

START_TEST(test_diag_cap)
{
	struct config *c;
	struct diag d;
	char *y = calloc(1, 64 * 1024);
	strcpy(y, HDR "CmdlineTemplates: {a: b}\n");
	for (int i = 0; i < 300; i++)
		sprintf(y + strlen(y), "Unknown%d: x\n", i);
	ck_assert_int_eq(load_str(y, &c, &d), 0);
	ck_assert_uint_eq(d.n, 101);
	ck_assert(has_line(&d, "t.yaml:4:1: warning: unknown key 'Unknown0' ignored"));
	ck_assert(has_line(&d, "t.yaml:103:1: warning: unknown key 'Unknown99' ignored"));
	ck_assert(has_line(&d, "t.yaml: warning: 0 more errors and 200 more warnings not shown"));
	config_free(c);
	diag_free(&d);

	strcpy(y, HDR "CmdlineTemplates: {a: b}\nHostDefaults:\n");
	for (int i = 0; i < 300; i++)
		sprintf(y + strlen(y), "  zz%d: a/b/c/d\n", i);
	ck_assert_int_eq(load_str(y, &c, &d), -EINVAL);
	ck_assert_ptr_null(c);
	ck_assert_uint_eq(d.n, 101);
	ck_assert_uint_eq(d.n_errors, 101);
	ck_assert(has_line(&d, "t.yaml: error: 200 more errors and 0 more warnings not shown"));
	diag_free(&d);
	free(y);
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");
	tcase_add_test(tc, test_seed_loads_in_order);
	tcase_add_test(tc, test_base_urls);
	tcase_add_test(tc, test_order_kept);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_all_keys);
	tcase_add_loop_test(tc, test_accepted, 0, sizeof accepted / sizeof accepted[0]);
	tcase_add_test(tc, test_host_spellings);
	tcase_add_test(tc, test_example_file);
	tcase_add_test(tc, test_file_errors);
	tcase_add_test(tc, test_relative_paths);
	suite_add_tcase(s, tc);
	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_errors, 0, sizeof errors / sizeof errors[0]);
	tcase_add_test(tc, test_all_errors_collected);
	tcase_add_loop_test(tc, test_warnings, 0, sizeof warnings / sizeof warnings[0]);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_diag_cap);
	tcase_add_test(tc, test_proxy_dhcp_keys);
	suite_add_tcase(s, tc);
	tc = tcase_create("listen");
	tcase_add_loop_test(tc, test_listen, 0, sizeof listens / sizeof listens[0]);
	suite_add_tcase(s, tc);
	return s;
}
