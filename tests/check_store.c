/* check_store.c - unit tests for the state store: schema migrations, corrupt-file recovery, pruning, pin precedence
 * in menus and one-shot consumption, and the pin request parser. */
#include <check.h>
#include <errno.h>
#include <glob.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api_fleet.h"
#include "mac.h"
#include "render.h"
#include "snapshot.h"
#include "store.h"
#include "util.h"

static char dir[64];

static void put(const char *rel, const char *text)
{
	char p[512], cmd[600];
	FILE *f;
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", p);
	ck_assert_int_eq(system(cmd), 0);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/autopxe-store-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	store_close();
	render_set_pin_hook(NULL);
	snapshot_clear();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void open_store(unsigned keep, int expect_degraded)
{
	char state[128], err[600];
	int degraded = -1;
	snprintf(state, sizeof state, "%s/state", dir);
	struct store_opts o = {.state_dir = state, .keep_events = keep, .fail_after_s = 300, .no_thread = 1};
	ck_assert_int_eq(store_open(&o, &degraded, err, sizeof err), 0);
	ck_assert_int_eq(degraded, expect_degraded);
}

static int db_int(const char *sql)
{
	char p[128];
	sqlite3 *h;
	sqlite3_stmt *st;
	int v = -1;
	snprintf(p, sizeof p, "%s/state/autopxe.db", dir);
	ck_assert_int_eq(sqlite3_open(p, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static struct store_pin pin_of(const char *mac, const char *boot, int once)
{
	struct store_pin p;
	memset(&p, 0, sizeof p);
	ck_assert_int_eq(mac_parse_str(mac, p.mac), 0);
	snprintf(p.boot, sizeof p.boot, "%s", boot);
	p.once = once;
	p.created = time(NULL);
	return p;
}

START_TEST(test_migrate_from_empty)
{
	struct store_pin p = pin_of("52:54:00:00:00:01", "debian/bookworm/latest/nfs", 0), got;
	open_store(5, 0);
	ck_assert_int_eq(db_int("PRAGMA user_version"), 3);
	ck_assert_int_eq(db_int("SELECT count(*) FROM sqlite_master WHERE name IN ('pins','nodes','events')"), 3);
	ck_assert_int_eq(store_pin_set(&p), 0);
	store_flush();
	ck_assert_int_eq(db_int("SELECT count(*) FROM pins"), 1);
	{ /* WAL mode: the write went to the -wal file */
		char w[128];
		snprintf(w, sizeof w, "%s/state/autopxe.db-wal", dir);
		ck_assert_int_eq(access(w, F_OK), 0);
	}
	/* survives a close and reopen */
	store_close();
	open_store(5, 0);
	ck_assert_int_eq(store_pin_get(p.mac, &got), 1);
	ck_assert_str_eq(got.boot, "debian/bookworm/latest/nfs");
	ck_assert_int_eq(got.once, 0);
	ck_assert_int_eq(store_pin_del(p.mac), 0);
	ck_assert_int_eq(store_pin_del(p.mac), -ENOENT);
	store_flush();
	ck_assert_int_eq(db_int("SELECT count(*) FROM pins"), 0);
}
END_TEST

START_TEST(test_migrate_from_v1)
{
	char p[128];
	sqlite3 *h;
	struct store_pin got;
	uint8_t mac[6];
	snprintf(p, sizeof p, "%s/state", dir);
	ck_assert_int_eq(mkdir(p, 0750), 0);
	snprintf(p, sizeof p, "%s/state/autopxe.db", dir);
	/* the schema of version 1 exactly as it was released, with a pin in it */
	ck_assert_int_eq(sqlite3_open(p, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h,
	                              "CREATE TABLE pins(mac TEXT PRIMARY KEY, boot TEXT NOT NULL, once INTEGER NOT NULL "
	                              "DEFAULT 0, until_s INTEGER NOT NULL DEFAULT 0);"
	                              "INSERT INTO pins VALUES('52:54:00:aa:bb:cc','ubuntu/noble/latest/nfs',1,0);"
	                              "PRAGMA user_version=1;",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(h);
	open_store(5, 0);
	ck_assert_int_eq(db_int("PRAGMA user_version"), 3);
	ck_assert_int_eq(db_int("SELECT count(*) FROM events"), 0);
	ck_assert_int_eq(db_int("SELECT created_s FROM pins"), 0);
	ck_assert_int_eq(mac_parse_str("525400aabbcc", mac), 0);
	ck_assert_int_eq(store_pin_get(mac, &got), 1);
	ck_assert_str_eq(got.boot, "ubuntu/noble/latest/nfs");
	ck_assert_int_eq(got.once, 1);
}
END_TEST

START_TEST(test_newer_schema_is_not_destroyed)
{
	char p[128];
	sqlite3 *h;
	snprintf(p, sizeof p, "%s/state", dir);
	ck_assert_int_eq(mkdir(p, 0750), 0);
	snprintf(p, sizeof p, "%s/state/autopxe.db", dir);
	ck_assert_int_eq(sqlite3_open(p, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "CREATE TABLE future(x); PRAGMA user_version=99;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	open_store(5, 1); /* reported, served from memory, the file kept as it is */
	store_close();
	ck_assert_int_eq(db_int("PRAGMA user_version"), 99);
}
END_TEST

START_TEST(test_corrupt_file_recovered)
{
	glob_t g;
	char pat[128];
	struct store_pin p = pin_of("52:54:00:00:00:02", "a/b/latest/c", 0);
	put("state/autopxe.db", "this is not an SQLite database, it is a text file that somebody wrote here\n");
	open_store(5, 0);
	snprintf(pat, sizeof pat, "%s/state/autopxe.db.corrupt-*", dir);
	ck_assert_int_eq(glob(pat, 0, NULL, &g), 0);
	ck_assert_uint_eq(g.gl_pathc, 1);
	globfree(&g);
	ck_assert_int_eq(store_pin_set(&p), 0);
	store_flush();
	ck_assert_int_eq(db_int("SELECT count(*) FROM pins"), 1);
	ck_assert_int_eq(db_int("PRAGMA user_version"), 3);
}
END_TEST

START_TEST(test_unwritable_state_dir_degrades)
{
	char state[128], err[600], buf[256];
	int degraded = 0;
	struct store_pin p = pin_of("52:54:00:00:00:03", "a/b/latest/c", 0), got;
	snprintf(state, sizeof state, "%s/file", dir);
	put("file", "x"); /* StateDir names a regular file */
	struct store_opts o = {.state_dir = state, .keep_events = 5, .no_thread = 1};
	ck_assert_int_eq(store_open(&o, &degraded, err, sizeof err), 0);
	ck_assert_int_eq(degraded, 1);
	ck_assert_ptr_nonnull(strstr(err, "memory only"));
	store_status(buf, sizeof buf);
	ck_assert_ptr_nonnull(strstr(buf, "memory only"));
	/* pins still work, in memory */
	ck_assert_int_eq(store_pin_set(&p), 0);
	store_flush();
	ck_assert_int_eq(store_pin_get(p.mac, &got), 1);
}
END_TEST

/* StateURL sqlite:///file: that file (its directory created), not StateDir's. */
START_TEST(test_state_url_sqlite)
{
	char url[256], state[128], err[600], path[200];
	int degraded = -1;
	struct store_pin p = pin_of("52:54:00:00:00:41", "debian/bookworm/latest/nfs", 1);
	snprintf(state, sizeof state, "%s/unused", dir);
	snprintf(path, sizeof path, "%s/elsewhere/fleet.db", dir);
	snprintf(url, sizeof url, "sqlite://%s", path);
	struct store_opts o = {.state_dir = state, .url = url, .keep_events = 5, .no_thread = 1};
	ck_assert_int_eq(store_open(&o, &degraded, err, sizeof err), 0);
	ck_assert_int_eq(degraded, 0);
	ck_assert_int_eq(store_pin_set(&p), 0);
	store_flush();
	store_close();
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_ne(access(state, F_OK), 0);
	ck_assert_int_eq(store_open(&o, &degraded, err, sizeof err), 0);
	struct store_pin got;
	ck_assert_int_eq(store_pin_get(p.mac, &got), 1);
	ck_assert_int_eq(got.once, 1);
}
END_TEST

/* A PostgreSQL that cannot be reached: serving goes on from memory, the events wait in the backlog, the status
 * says why, and every flush retries (here: refused at once). */
START_TEST(test_pg_unreachable_degrades)
{
	char state[128], err[600], why[600];
	int degraded = -1;
	uint8_t mac[6];
	struct store_node n;
	struct store_event *ev;
	size_t nev;
	struct store_pin p = pin_of("52:54:00:00:00:42", "debian/bookworm/latest/nfs", 0), got;
	snprintf(state, sizeof state, "%s/state", dir);
	unsigned port = 1; /* nothing listens on tcp/1 on loopback */
	char url[128];
	snprintf(url, sizeof url, "postgresql://autopxe@127.0.0.1:%u/postgres?connect_timeout=2", port);
	struct store_opts o = {.state_dir = state, .url = url, .keep_events = 5, .no_thread = 1, .backlog = 3};
	ck_assert_int_eq(store_open(&o, &degraded, err, sizeof err), 0);
	ck_assert_int_eq(degraded, 1);
	store_status(why, sizeof why);
	ck_assert_msg(strstr(why, "postgresql database unreachable") != NULL, "%s", why);
	ck_assert_int_eq(store_pin_set(&p), 0); /* kept in memory and for the database */
	ck_assert_int_eq(store_pin_get(p.mac, &got), 1);
	ck_assert_int_eq(mac_parse_str("52:54:00:00:00:42", mac), 0);
	for (int i = 0; i < 5; i++)
		store_record_menu(PROTO_HTTP, mac, "192.0.2.42", 100, 1, 1);
	store_flush();
	ck_assert_int_eq(store_node(mac, &n, &ev, &nev), 1);
	ck_assert_uint_eq(nev, 5);
	free(ev);
	sbuf m = SBUF_INIT;
	ck_assert_int_eq(store_metrics(&m), 0);
	ck_assert_msg(strstr(m.data, "autopxe_store_degraded 1") != NULL, "%s", m.data);
	ck_assert_msg(strstr(m.data, "autopxe_store_dropped_total 2") != NULL, "backlog of 3 keeps the newest: %s", m.data);
	sbuf_free(&m);
	ck_assert_int_eq(access(state, F_OK) == 0 ? 1 : 0, 0); /* no SQLite file on the side */
}
END_TEST

START_TEST(test_pruning)
{
	uint8_t mac[6];
	struct store_node n;
	struct store_event *ev;
	size_t nev;
	ck_assert_int_eq(mac_parse_str("52:54:00:00:00:09", mac), 0);
	open_store(3, 0);
	for (int i = 0; i < 10; i++)
		store_record_menu(PROTO_HTTP, mac, "192.0.2.9", 100 + (uint64_t)i, 1, 1);
	store_flush();
	for (int i = 10; i < 12; i++) /* a second batch: pruning across batches */
		store_record_menu(PROTO_TFTP, mac, "192.0.2.9:1234", 100 + (uint64_t)i, 1, 1);
	store_flush();
	ck_assert_int_eq(db_int("SELECT count(*) FROM events"), 3);
	ck_assert_int_eq(db_int("SELECT min(bytes) FROM events"), 109);
	ck_assert_int_eq(store_node(mac, &n, &ev, &nev), 1);
	ck_assert_uint_eq(nev, 3);
	ck_assert_uint_eq(ev[0].bytes, 109);
	ck_assert_uint_eq(ev[2].bytes, 111);
	ck_assert_str_eq(n.ip, "192.0.2.9");
	free(ev);
	/* after a restart the same three come back */
	store_close();
	open_store(3, 0);
	ck_assert_int_eq(store_node(mac, &n, &ev, &nev), 1);
	ck_assert_uint_eq(nev, 3);
	ck_assert_uint_eq(ev[0].bytes, 109);
	ck_assert_int_eq(n.state, NODE_MENU);
	free(ev);
}
END_TEST

/* Many nodes: each MAC finds its own node through the index, before and after a restart (which loads them all). */
START_TEST(test_many_nodes)
{
	enum { N = 5000 };
	uint8_t mac[6] = {0x52, 0x54, 0x00, 0, 0, 0};
	struct store_node n, *all;
	struct store_event *ev;
	size_t nev, na;
	open_store(2, 0);
	for (int i = 0; i < N; i++) {
		mac[4] = (uint8_t)(i >> 8);
		mac[5] = (uint8_t)i;
		store_record_menu(PROTO_HTTP, mac, "192.0.2.50", 1000 + (uint64_t)i, 1, 1);
	}
	store_flush();
	for (int round = 0; round < 2; round++) {
		ck_assert_int_eq(store_nodes(-1, &all, &na), 0);
		ck_assert_uint_eq(na, N);
		free(all);
		for (int i = 0; i < N; i += 37) {
			mac[4] = (uint8_t)(i >> 8);
			mac[5] = (uint8_t)i;
			ck_assert_int_eq(store_node(mac, &n, &ev, &nev), 1);
			ck_assert_int_eq(memcmp(n.mac, mac, 6), 0);
			ck_assert_uint_eq(nev, 1);
			ck_assert_uint_eq(ev[0].bytes, 1000 + (uint64_t)i);
			free(ev);
		}
		mac[4] = 0xff; /* never seen */
		mac[5] = 0xff;
		ck_assert_int_eq(store_node(mac, &n, &ev, &nev), 0);
		store_close();
		open_store(2, 0);
	}
}
END_TEST

/* ---- against a real snapshot: precedence and one-shot consumption */

static const char *const tree[] = {
    "rootfs/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", "rootfs/debian/bookworm/boot/initrd.img-6.1.0-21-amd64",
    "rootfs/ubuntu/noble/boot/vmlinuz-6.8.0-31-generic",  "rootfs/ubuntu/noble/boot/initrd.img-6.8.0-31-generic",
};

static void publish(void)
{
	char cfg[128], yaml[600];
	struct snapshot_source src;
	struct diag d;
	struct snapshot *s;
	for (size_t i = 0; i < ARRAY_SIZE(tree); i++)
		put(tree[i], "x");
	snprintf(yaml, sizeof yaml,
	         "version: 1\nRootfsPath: %s/rootfs\nDefaultDistro: debian/bookworm/latest/nfs\n"
	         "CmdlineTemplates:\n  nfs: root=/dev/nfs\nHostDefaults:\n  52:54:00:00:00:10: ubuntu/noble/latest/nfs\n"
	         "Watch: false\n",
	         dir);
	put("config.yaml", yaml);
	snprintf(cfg, sizeof cfg, "%s/config.yaml", dir);
	memset(&src, 0, sizeof src);
	src.config_path = cfg;
	diag_init(&d);
	s = snapshot_build(&src, &d);
	diag_free(&d);
	ck_assert_ptr_nonnull(s);
	snapshot_publish(s);
}

/* The default entry of mac's main menu, from the `choose --default` line. */
static void menu_default(const char *mac, char *out, size_t len, sbuf *menu)
{
	struct snapshot *s = snapshot_current();
	struct render_client cl = {.ip = "192.0.2.1", .via = RENDER_HTTP};
	const char *p;
	ck_assert_int_eq(mac_parse_str(mac, cl.mac), 0);
	sbuf_reset(menu);
	ck_assert_int_eq(render_menu(s->cfg, s->cat, s->tmpl, &cl, NULL, menu), 0);
	snapshot_unref(s);
	p = strstr(menu->data, "choose --default ");
	ck_assert_ptr_nonnull(p);
	p += strlen("choose --default ");
	snprintf(out, len, "%.*s", (int)strcspn(p, " "), p);
}

/* The default of mac's GRUB ("set default='<id>'") or PXELINUX ("DEFAULT <label>") menu, rendered through
 * the same pin hook. */
static void dialect_default(const char *name, const char *key, char *out, size_t len)
{
	struct snapshot *s = snapshot_current();
	struct render_client cl = {.ip = "192.0.2.1", .via = RENDER_TFTP};
	struct menu_request rq;
	sbuf b = SBUF_INIT;
	ck_assert_int_eq(menu_name_parse(name, strlen(name), &rq), 1);
	memcpy(cl.mac, rq.mac, 6);
	ck_assert_int_eq(render_request(s->cfg, s->cat, s->tmpl, &cl, &rq, &b), 0);
	snapshot_unref(s);
	const char *p = strstr(b.data, key);
	ck_assert_msg(p != NULL, "no '%s' in %s", key, name);
	p += strlen(key);
	snprintf(out, len, "%.*s", (int)strcspn(p, "'\n"), p);
	sbuf_free(&b);
}

START_TEST(test_pin_precedence)
{
	char def[256];
	sbuf m = SBUF_INIT;
	struct store_pin p;
	publish();
	open_store(5, 0);
	render_set_pin_hook(store_pin_lookup);
	menu_default("52:54:00:00:00:10", def, sizeof def, &m);
	ck_assert_str_eq(def, "ubuntu/noble/latest/nfs"); /* HostDefaults */
	menu_default("52:54:00:00:00:11", def, sizeof def, &m);
	ck_assert_str_eq(def, "debian/bookworm/latest/nfs"); /* DefaultDistro */
	p = pin_of("52:54:00:00:00:10", "debian/bookworm/6.1.0-21-amd64/nfs", 0);
	ck_assert_int_eq(store_pin_set(&p), 0);
	menu_default("52:54:00:00:00:10", def, sizeof def, &m);
	ck_assert_str_eq(def, "debian/bookworm/6.1.0-21-amd64/nfs"); /* API pin beats HostDefaults */
	/* ... in the GRUB and PXELINUX menus of that MAC too */
	dialect_default("grub/grub.cfg-01-52-54-00-00-00-10", "set default='", def, sizeof def);
	ck_assert_ptr_nonnull(strstr(def, "6.1.0-21-amd64"));
	dialect_default("pxelinux.cfg/01-52-54-00-00-00-10", "\nDEFAULT ", def, sizeof def);
	ck_assert_ptr_nonnull(strstr(def, "6.1.0-21-amd64"));
	p = pin_of("52:54:00:00:00:11", "ubuntu/noble/latest/nfs", 0);
	ck_assert_int_eq(store_pin_set(&p), 0);
	menu_default("52:54:00:00:00:11", def, sizeof def, &m);
	ck_assert_str_eq(def, "ubuntu/noble/latest/nfs"); /* ... and DefaultDistro */
	/* a pin naming a boot id that is not (or no longer) in the catalog: echoed and ignored */
	p = pin_of("52:54:00:00:00:10", "fedora/40/latest/nfs", 0);
	ck_assert_int_eq(store_pin_set(&p), 0);
	menu_default("52:54:00:00:00:10", def, sizeof def, &m);
	ck_assert_str_eq(def, "ubuntu/noble/latest/nfs");
	ck_assert_ptr_nonnull(strstr(m.data, "echo autopxe: pin 'fedora/40/latest/nfs' ignored"));
	/* an expired pin is none */
	p = pin_of("52:54:00:00:00:11", "ubuntu/noble/latest/nfs", 0);
	p.until = time(NULL) - 1;
	ck_assert_int_eq(store_pin_set(&p), 0);
	menu_default("52:54:00:00:00:11", def, sizeof def, &m);
	ck_assert_str_eq(def, "debian/bookworm/latest/nfs");
	ck_assert_int_eq(store_pin_get(p.mac, &p), 0);
	sbuf_free(&m);
}
END_TEST

START_TEST(test_one_shot_consumed_by_kernel)
{
	char def[256];
	sbuf m = SBUF_INIT;
	struct store_pin p = pin_of("52:54:00:00:00:20", "ubuntu/noble/latest/nfs", 1), got;
	struct store_node n;
	struct store_event *ev;
	size_t nev;
	uint64_t v0;
	publish();
	open_store(10, 0);
	render_set_pin_hook(store_pin_lookup);
	ck_assert_int_eq(store_pin_set(&p), 0);
	/* fetching the menu does not consume it, nor does a kernel from a client we never saw a menu from */
	store_record_menu(PROTO_HTTP, p.mac, "192.0.2.20", 900, 1, 1);
	store_record_file(PROTO_HTTP, "192.0.2.99", "/boot/ubuntu/noble/boot/vmlinuz-6.8.0-31-generic", 1, 1, 1);
	ck_assert_int_eq(store_pin_get(p.mac, &got), 1);
	/* another kernel, or the right one failing, does not either */
	store_record_file(PROTO_HTTP, "192.0.2.20", "/boot/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", 1, 1, 1);
	store_record_file(PROTO_TFTP, "192.0.2.20:2000", "boot/ubuntu/noble/boot/vmlinuz-6.8.0-31-generic", 1, 1, 0);
	ck_assert_int_eq(store_pin_get(p.mac, &got), 1);
	menu_default("52:54:00:00:00:20", def, sizeof def, &m);
	ck_assert_str_eq(def, "ubuntu/noble/latest/nfs");
	/* the kernel of that boot, sent completely: consumed before the call returns */
	v0 = store_pin_version();
	store_record_file(PROTO_TFTP, "192.0.2.20:2001", "boot/ubuntu/noble/boot/vmlinuz-6.8.0-31-generic", 1, 1, 1);
	ck_assert_int_eq(store_pin_get(p.mac, &got), 0);
	ck_assert_uint_gt(store_pin_version(), v0);
	menu_default("52:54:00:00:00:20", def, sizeof def, &m);
	ck_assert_str_eq(def, "debian/bookworm/latest/nfs"); /* back to DefaultDistro */
	store_record_file(PROTO_HTTP, "192.0.2.20", "/boot/ubuntu/noble/boot/initrd.img-6.8.0-31-generic", 1, 1, 1);
	store_flush();
	ck_assert_int_eq(db_int("SELECT count(*) FROM pins"), 0);
	/* the timeline: menu (boot id offered), the kernels, the initrd: booted */
	ck_assert_int_eq(store_node(p.mac, &n, &ev, &nev), 1);
	ck_assert_int_eq(n.state, NODE_BOOTED);
	ck_assert_uint_eq(nev, 5);
	ck_assert_int_eq(ev[0].kind, EV_MENU);
	ck_assert_str_eq(ev[0].boot, "ubuntu/noble/latest/nfs");
	ck_assert_int_eq(ev[1].kind, EV_KERNEL);
	ck_assert_int_eq(ev[2].ok, 0);
	ck_assert_int_eq(ev[4].kind, EV_INITRD);
	free(ev);
	/* rendering the menu already ties the client IP to the MAC: a kernel asked for before the end of the menu
	 * transfer was recorded (a fast client over TFTP) still consumes the pin */
	p = pin_of("52:54:00:00:00:21", "ubuntu/noble/latest/nfs", 1);
	ck_assert_int_eq(store_pin_set(&p), 0);
	menu_default("52:54:00:00:00:21", def, sizeof def, &m); /* rendered for 192.0.2.1, not recorded */
	ck_assert_str_eq(def, "ubuntu/noble/latest/nfs");
	store_record_file(PROTO_HTTP, "192.0.2.1", "/boot/ubuntu/noble/boot/vmlinuz-6.8.0-31-generic", 1, 1, XFER_OK);
	ck_assert_int_eq(store_pin_get(p.mac, &got), 0);
	sbuf_free(&m);
}
END_TEST

START_TEST(test_states)
{
	uint8_t mac[6];
	struct store_node *all, n;
	struct store_event *ev;
	size_t cnt, nev;
	publish();
	open_store(10, 0);
	ck_assert_int_eq(mac_parse_str("52:54:00:00:00:30", mac), 0);
	store_record_menu(PROTO_TFTP, mac, "192.0.2.30:3000", 10, 1, 1);
	store_flush();
	ck_assert_int_eq(store_nodes(NODE_MENU, &all, &cnt), 0);
	ck_assert_uint_eq(cnt, 1);
	free(all);
	store_record_file(PROTO_HTTP, "192.0.2.30", "/boot/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", 1, 1, 1);
	store_flush();
	ck_assert_int_eq(store_node(mac, &n, &ev, &nev), 1);
	ck_assert_int_eq(n.state, NODE_KERNEL);
	free(ev);
	/* a Range part of the initrd: initrd; a kernel sent in part does not consume a one-shot pin */
	store_record_file(PROTO_HTTP, "192.0.2.30", "/boot/debian/bookworm/boot/initrd.img-6.1.0-21-amd64", 1, 1,
	                  XFER_PARTIAL);
	store_flush();
	ck_assert_int_eq(store_node(mac, &n, &ev, &nev), 1);
	ck_assert_int_eq(n.state, NODE_INITRD);
	ck_assert_str_eq(n.last_event, "initrd http partial");
	free(ev);
	{
		struct store_pin p = pin_of("52:54:00:00:00:30", "debian/bookworm/latest/nfs", 1), got;
		ck_assert_int_eq(store_pin_set(&p), 0);
		store_record_file(PROTO_HTTP, "192.0.2.30", "/boot/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", 1, 1,
		                  XFER_PARTIAL);
		ck_assert_int_eq(store_pin_get(mac, &got), 1);
		store_record_file(PROTO_HTTP, "192.0.2.30", "/boot/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", 1, 1,
		                  XFER_OK);
		ck_assert_int_eq(store_pin_get(mac, &got), 0);
		store_flush();
		ck_assert_int_eq(store_node(mac, &n, &ev, &nev), 1);
		ck_assert_int_eq(n.state, NODE_KERNEL);
		free(ev);
	}
	/* no progress for longer than the timeout: failed */
	ck_assert_int_eq(store_node_state(&n, n.last_ms + 301 * 1000), NODE_FAILED);
	ck_assert_int_eq(store_node_state(&n, n.last_ms + 299 * 1000), NODE_KERNEL);
	store_record_file(PROTO_HTTP, "192.0.2.30", "/boot/debian/bookworm/boot/initrd.img-6.1.0-21-amd64", 1, 1, 0);
	store_flush();
	ck_assert_int_eq(store_node(mac, &n, &ev, &nev), 1);
	ck_assert_int_eq(n.state, NODE_FAILED);
	free(ev);
	ck_assert_int_eq(store_nodes(NODE_MENU, &all, &cnt), 0);
	ck_assert_uint_eq(cnt, 0);
	free(all);
	/* a TFTP menu recorded (at its last ACK) after the kernel and initrd it led to does not start over */
	ck_assert_int_eq(mac_parse_str("52:54:00:00:00:31", mac), 0);
	store_note_client(mac, "192.0.2.31");
	store_record_file(PROTO_HTTP, "192.0.2.31", "/boot/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", 1, 1, XFER_OK);
	store_record_file(PROTO_HTTP, "192.0.2.31", "/boot/debian/bookworm/boot/initrd.img-6.1.0-21-amd64", 1, 1,
	                  XFER_OK);
	store_record_menu(PROTO_TFTP, mac, "192.0.2.31:4000", 10, 50, 1);
	store_flush();
	ck_assert_int_eq(store_node(mac, &n, &ev, &nev), 1);
	ck_assert_int_eq(n.state, NODE_BOOTED);
	ck_assert_uint_eq(nev, 3);
	free(ev);
	ck_assert_int_eq(node_state_parse("booted"), NODE_BOOTED);
	ck_assert_int_eq(node_state_parse("nope"), -1);
}
END_TEST

START_TEST(test_pin_parse)
{
	struct store_pin p;
	char err[256];
	int64_t now = 1796000000; /* 2026-11-29 */
	const char *ok = "{\"boot\":\"debian/bookworm/latest/nfs\",\"once\":true,\"until\":\"2026-12-03T18:00:00Z\"}";
	ck_assert_int_eq(api_pin_parse(ok, strlen(ok), now, &p, err, sizeof err), 0);
	ck_assert_str_eq(p.boot, "debian/bookworm/latest/nfs");
	ck_assert_int_eq(p.once, 1);
	ck_assert_int_eq(p.until, 1796320800);
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{}",
	    "{\"boot\":1}",
	    "{\"boot\":\"\"}",
	    "{\"boot\":\"a\\nb\"}",
	    "{\"boot\":\"a\\u0000b\"}",
	    "{\"boot\":\"a/b/c/d\",\"once\":\"yes\"}",
	    "{\"boot\":\"a/b/c/d\",\"until\":\"tomorrow\"}",
	    "{\"boot\":\"a/b/c/d\",\"until\":\"2020-01-01T00:00:00Z\"}",
	    "{\"boot\":\"a/b/c/d\",\"extra\":1}",
	    "{\"boot\":\"a/b/c/d\",\"boot\":\"x\"}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		ck_assert_msg(api_pin_parse(bad[i], strlen(bad[i]), now, &p, err, sizeof err) == -EINVAL, "accepted %s",
		              bad[i]);
		ck_assert_msg(err[0], "no reason for %s", bad[i]);
	}
}
END_TEST

START_TEST(test_rfc3339)
{
	int64_t t;
	char buf[32];
	ck_assert_int_eq(rfc3339_parse("1970-01-01T00:00:00Z", 20, &t), 0);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(rfc3339_parse("2026-12-03T18:00:00.250+02:00", 29, &t), 0);
	ck_assert_int_eq(t, 1796320800 - 7200);
	ck_assert_int_eq(rfc3339_parse("2024-02-29t00:00:00z", 20, &t), 0);
	rfc3339_format(1796320800, buf, sizeof buf);
	ck_assert_str_eq(buf, "2026-12-03T18:00:00Z");
	static const char *const bad[] = {"2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-12-03T24:00:00Z",
	                                  "2026-12-03T18:00:00",  "2026-12-03T18:00:00+2:00", "2026-12-03T18:00:00.Z",
	                                  "2026-12-03T18:00:00Zx", "2026-12-03"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(rfc3339_parse(bad[i], strlen(bad[i]), &t) == -EINVAL, "accepted %s", bad[i]);
}
END_TEST

Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_migrate_from_empty);
	tcase_add_test(tc, test_state_url_sqlite);
	tcase_add_test(tc, test_pg_unreachable_degrades);
	tcase_add_test(tc, test_migrate_from_v1);
	tcase_add_test(tc, test_newer_schema_is_not_destroyed);
	tcase_add_test(tc, test_corrupt_file_recovered);
	tcase_add_test(tc, test_unwritable_state_dir_degrades);
	tcase_add_test(tc, test_pruning);
	tcase_add_test(tc, test_many_nodes);
	tcase_add_test(tc, test_pin_precedence);
	tcase_add_test(tc, test_one_shot_consumed_by_kernel);
	tcase_add_test(tc, test_states);
	tcase_add_test(tc, test_pin_parse);
	tcase_add_test(tc, test_rfc3339);
	suite_add_tcase(s, tc);
	return s;
}
