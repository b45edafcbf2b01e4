/* it_pg.c - integration tests of shared state: two autopxe instances on one real PostgreSQL (pins, timeline, outage). */
/*
 * The test starts its own PostgreSQL (Debian's postgresql 15: initdb + pg_ctl in a temp dir, as the unprivileged
 * user nobody, TCP on 127.0.0.1 and a free port, trust authentication) and stops it at the end. Skipped, with a
 * message, when not root (runuser is needed) or when the server binaries are missing.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

#define PGBIN "/usr/lib/postgresql/15/bin"
#define MAC "52:54:00:00:17:01"
#define MACHEX "525400001701"
#define PINNED "ubuntu/noble/latest/nfs"
#define HOSTDEF "debian/bookworm/latest/nfs"
#define UKERNEL "/boot/ubuntu/noble/boot/vmlinuz-6.8.0-31-generic"
#define UINITRD "/boot/ubuntu/noble/boot/initrd.img-6.8.0-31-generic"

static struct itest_server A, B;
static char pgdir[256];
static unsigned pgport;
static const char *skip_why;

static char *http(const struct itest_server *s, const char *opts, const char *path)
{
	return itest_out_of("curl -s -m 10 %s 'http://127.0.0.1:%u%s'", opts, s->http_port, path);
}

/* One value from PostgreSQL (psql as root over TCP; trust authentication). */
static long pg_value(const char *sql)
{
	char *o = itest_out_of("psql -X -h 127.0.0.1 -p %u -U autopxe -d postgres -Atc \"%s\"", pgport, sql);
	long v = strtol(o, NULL, 10);
	free(o);
	return v;
}

static int pg_ctl(const char *what)
{
	return itest_run(NULL,
	                 "runuser -u nobody -- " PGBIN "/pg_ctl -D '%s/data' -l '%s/pg.log' -w -t 30 -m fast"
	                 " -o \"-h 127.0.0.1 -p %u -k '%s' -c fsync=off\" %s >>'%s/pg_ctl.log' 2>&1",
	                 pgdir, pgdir, pgport, pgdir, what, pgdir);
}

/* Suite-wide: one PostgreSQL for both tests. */
static void pg_up(void)
{
	skip_why = NULL;
	if (geteuid() != 0) {
		skip_why = "not root (the test runs PostgreSQL as nobody through runuser)";
		return;
	}
	if (access(PGBIN "/initdb", X_OK) != 0 || access(PGBIN "/pg_ctl", X_OK) != 0 || access("/usr/bin/psql", X_OK)) {
		skip_why = "PostgreSQL 15 is not installed (apt-get install postgresql)";
		return;
	}
	snprintf(pgdir, sizeof pgdir, "/tmp/autopxe-pg.XXXXXX");
	if (!mkdtemp(pgdir) || chmod(pgdir, 0755) != 0 || itest_run(NULL, "chown nobody '%s'", pgdir) != 0) {
		skip_why = "cannot make a directory for PostgreSQL";
		return;
	}
	pgport = itest_free_port(SOCK_STREAM);
	if (itest_run(NULL, "runuser -u nobody -- " PGBIN "/initdb -D '%s/data' -A trust -U autopxe --no-sync >'%s/initdb.log' 2>&1",
	              pgdir, pgdir) != 0 ||
	    pg_ctl("start") != 0) {
		char *log = NULL;
		itest_run(&log, "cat '%s/initdb.log' '%s/pg.log' '%s/pg_ctl.log' 2>/dev/null | tail -20", pgdir, pgdir, pgdir);
		fprintf(stderr, "it_pg: PostgreSQL did not start:\n%s\n", log ? log : "");
		free(log);
		skip_why = NULL; /* installed but broken: the tests fail below */
		pgport = 0;
	}
}

static void pg_down(void)
{
	if (!pgdir[0] || skip_why)
		return;
	pg_ctl("stop");
	itest_run(NULL, "rm -rf '%s'", pgdir);
	pgdir[0] = '\0';
}

static int skipped(void)
{
	if (skip_why)
		fprintf(stderr, "it_pg: SKIPPED: %s\n", skip_why);
	return skip_why != NULL;
}

static void start_instance(struct itest_server *s)
{
	char cfg[2048];
	ck_assert_int_eq(itest_prepare(s), 0);
	snprintf(cfg, sizeof cfg,
	         "version: 1\n"
	         "RootfsPath: @ROOTFS@\n"
	         "StateURL: postgresql://autopxe@127.0.0.1:%u/postgres\n"
	         "CmdlineTemplates:\n"
	         "  nfs: root=/dev/nfs nfsroot=192.0.2.10:${rootfs-path} ip=dhcp\n"
	         "DefaultDistro: debian/trixie/latest/nfs\n"
	         "HostDefaults:\n"
	         "  " MAC ": " HOSTDEF "\n"
	         "TFTPMaxSessions: 4096\n"
	         "LogLevel: info\n"
	         "Watch: false\n",
	         pgport);
	ck_assert_int_eq(itest_write_config(s, cfg), 0);
	ck_assert_int_eq(itest_start(s, 1, 1, NULL), 0);
}

static void setup(void)
{
	memset(&A, 0, sizeof A);
	memset(&B, 0, sizeof B);
	if (skip_why)
		return;
	ck_assert_msg(pgport != 0, "PostgreSQL did not start (see above)");
	ck_assert_int_eq(pg_value("SELECT 1"), 1);
	itest_run(NULL, "psql -X -q -h 127.0.0.1 -p %u -U autopxe -d postgres -c 'DROP TABLE IF EXISTS pins, nodes, "
	                "events, autopxe_schema' >/dev/null 2>&1",
	          pgport);
	start_instance(&A);
	start_instance(&B);
}

static void teardown(void)
{
	if (A.pid > 0)
		ck_assert_int_eq(itest_stop(&A), 0);
	if (B.pid > 0)
		ck_assert_int_eq(itest_stop(&B), 0);
	if (A.dir[0])
		itest_cleanup(&A);
	if (B.dir[0])
		itest_cleanup(&B);
}

/* The default entry of MAC's menu from instance s. */
static void menu_default(const struct itest_server *s, char *out, size_t len)
{
	char *m = http(s, "", "/autopxe-" MACHEX);
	const char *p = strstr(m, "choose --default ");
	ck_assert_msg(p != NULL, "no default in menu:\n%s", m);
	p += strlen("choose --default ");
	snprintf(out, len, "%.*s", (int)strcspn(p, " \n"), p);
	free(m);
}

/* Poll s's path until it contains want (up to ~8 s); returns the last body (caller frees). */
static char *wait_for(const struct itest_server *s, const char *path, const char *want)
{
	char *doc = NULL;
	for (int i = 0; i < 80; i++) {
		free(doc);
		doc = http(s, "", path);
		if (strstr(doc, want))
			break;
		itest_msleep(100);
	}
	return doc;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

START_TEST(test_pin_shared)
{
	char def[256], *o;
	if (skipped())
		return;
	/* set through A */
	o = http(&A, "-X POST -d '{\"boot\":\"" PINNED "\",\"once\":true}'", "/api/v1/hosts/" MAC "/pin");
	ck_assert_msg(strstr(o, "\"once\": true"), "%s", o);
	free(o);
	ck_assert_int_eq(pg_value("SELECT count(*) FROM pins WHERE mac = '" MAC "' AND once = 1"), 1);
	/* seen by B (its writer polls the database every second) */
	o = wait_for(&B, "/api/v1/hosts/" MAC "/pin", PINNED);
	ck_assert_msg(strstr(o, PINNED), "B never saw the pin set through A: %s", o);
	free(o);
	menu_default(&B, def, sizeof def);
	ck_assert_str_eq(def, PINNED);
	/* the node boots through B: its kernel sent completely consumes the pin, once */
	o = itest_out_of("curl -s -m 10 -o /dev/null -w '%%{http_code}' 'http://127.0.0.1:%u" UKERNEL "'", B.http_port);
	ck_assert_str_eq(o, "200");
	free(o);
	o = itest_out_of("curl -s -m 10 -o /dev/null -w '%%{http_code}' 'http://127.0.0.1:%u" UINITRD "'", B.http_port);
	ck_assert_str_eq(o, "200");
	free(o);
	menu_default(&B, def, sizeof def);
	ck_assert_str_eq(def, HOSTDEF);
	long left = -1;
	for (int i = 0; i < 50 && left != 0; i++, itest_msleep(100))
		left = pg_value("SELECT count(*) FROM pins");
	ck_assert_int_eq(left, 0);
	/* one timeline: A shows the boot through B, with B's events (menu, kernel, initrd, the menu after) */
	o = wait_for(&A, "/api/v1/nodes/" MAC, "initrd.img-6.8.0-31-generic");
	ck_assert_msg(strstr(o, "initrd.img-6.8.0-31-generic") && strstr(o, "vmlinuz-6.8.0-31-generic") &&
	                  strstr(o, "\"boot_id\": \"" PINNED "\"") && count(o, "\"kind\": \"menu\"") == 2,
	              "A's view of the node: %s", o);
	free(o);
	o = wait_for(&A, "/api/v1/nodes", MAC);
	ck_assert_msg(strstr(o, MAC), "A's node list: %s", o);
	free(o);
	/* A learns it is gone: a second boot through A falls back too */
	o = wait_for(&A, "/api/v1/hosts/" MAC "/pin", "404");
	free(o);
	for (int i = 0; i < 30; i++, itest_msleep(100)) {
		menu_default(&A, def, sizeof def);
		if (strcmp(def, HOSTDEF) == 0)
			break;
	}
	ck_assert_str_eq(def, HOSTDEF);
	ck_assert_int_eq(itest_metric(&B, "autopxe_pins_consumed_total"), 1);
	ck_assert_int_eq(itest_metric(&A, "autopxe_pins_consumed_total"), 0);
	/* and B sees A's menu fetches */
	for (int i = 0; i < 50; i++, itest_msleep(100)) {
		o = http(&B, "", "/api/v1/nodes/" MAC);
		if (count(o, "\"kind\": \"menu\"") >= 3)
			break;
		free(o);
		o = NULL;
	}
	ck_assert_msg(o != NULL, "B never saw the menus served by A");
	free(o);
	ck_assert_int_ge(pg_value("SELECT count(*) FROM events WHERE mac = '" MAC "'"), 4);
	ck_assert_int_eq(pg_value("SELECT count(DISTINCT origin) FROM events WHERE mac = '" MAC "'"), 2);
}
END_TEST

static const char *storm_bin(void)
{
	static char path[400];
	const char *env = getenv("STORM_BIN");
	if (env && access(env, X_OK) == 0)
		return env;
	snprintf(path, sizeof path, "%s/storm", A.dir);
	ck_assert_msg(itest_run(NULL, "${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -o '%s' bench/storm.c", path) == 0,
	              "cannot build bench/storm.c (run from the source tree, or set STORM_BIN)");
	return path;
}

START_TEST(test_outage_mid_storm)
{
	char *o;
	if (skipped())
		return;
	const char *st = storm_bin();
	/* 100 nodes through each instance, spread over 4 s; PostgreSQL stopped 1 s in */
	o = itest_out_of("dir='%s'; "
	           "'%s' --tftp 127.0.0.1:%u --nodes 100 --default-id debian/trixie/latest/nfs --mac-base 525400a00000 "
	           "--src-base 127.10.0.1 --spread-ms 4000 --root '%s' >$dir/a.out 2>&1 & pa=$!; "
	           "'%s' --tftp 127.0.0.1:%u --nodes 100 --default-id debian/trixie/latest/nfs --mac-base 525400b00000 "
	           "--src-base 127.11.0.1 --spread-ms 4000 --root '%s' >$dir/b.out 2>&1 & pb=$!; "
	           "sleep 1; runuser -u nobody -- " PGBIN "/pg_ctl -D '%s/data' -m fast -w stop >/dev/null; "
	           "sleep 2; curl -s http://127.0.0.1:%u/healthz >$dir/health_a; curl -s http://127.0.0.1:%u/ >$dir/status_b; "
	           "ra=0; rb=0; wait $pa || ra=$?; wait $pb || rb=$?; echo \"rc $ra $rb\"; cat $dir/a.out $dir/b.out",
	           A.dir, st, A.tftp_port, A.rootfs, st, B.tftp_port, B.rootfs, pgdir, A.http_port, B.http_port);
	ck_assert_msg(strstr(o, "rc 0 0") && strstr(o, "ok=100 failed=0") &&
	                  strstr(strstr(o, "ok=100 failed=0") + 1, "ok=100 failed=0"),
	              "storms with PostgreSQL stopped:\n%s", o);
	free(o);
	o = itest_out_of("cat '%s/health_a'", A.dir);
	ck_assert_msg(strstr(o, "state degraded"), "A's /healthz during the outage: %s", o);
	free(o);
	o = itest_out_of("cat '%s/status_b'", A.dir);
	ck_assert_msg(strstr(o, "State degraded"), "B's status page during the outage has no warning");
	free(o);
	/* the timeline was kept in memory meanwhile */
	o = http(&A, "", "/api/v1/nodes?state=booted");
	ck_assert_msg(strstr(o, "52:54:00:a0:00:63"), "A's booted nodes: %.2000s", o);
	free(o);
	/* PostgreSQL back: the buffered events are written, both instances healthy again */
	ck_assert_int_eq(pg_ctl("start"), 0);
	long booted = -1;
	for (int i = 0; i < 100 && booted != 200; i++, itest_msleep(100))
		booted = pg_value("SELECT count(*) FROM nodes WHERE state = 3 AND (mac LIKE '52:54:00:a0:%' OR mac LIKE "
		                  "'52:54:00:b0:%')");
	ck_assert_int_eq(booted, 200);
	ck_assert_int_ge(pg_value("SELECT count(*) FROM events WHERE kind = 2 AND ok = 1"), 200);
	ck_assert_int_ge(pg_value("SELECT count(DISTINCT origin) FROM events"), 2);
	o = wait_for(&A, "/healthz", "ok");
	ck_assert_str_eq(o, "ok\n");
	free(o);
	o = wait_for(&B, "/healthz", "ok");
	ck_assert_str_eq(o, "ok\n");
	free(o);
	ck_assert_int_eq(itest_metric(&A, "autopxe_store_dropped_total"), 0);
	ck_assert_int_eq(itest_metric(&B, "autopxe_store_dropped_total"), 0);
	/* and each instance sees the other's 100 nodes */
	o = wait_for(&A, "/api/v1/nodes/52:54:00:b0:00:63", "\"booted\"");
	ck_assert_msg(strstr(o, "\"booted\""), "A's view of a node booted through B: %s", o);
	free(o);
}
END_TEST

Suite *pg_it_suite(void)
{
	Suite *s = suite_create("pg_it");
	TCase *tc = tcase_create("pg");
	tcase_set_timeout(tc, 300);
	tcase_add_unchecked_fixture(tc, pg_up, pg_down);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pin_shared);
	tcase_add_test(tc, test_outage_mid_storm);
	suite_add_tcase(s, tc);
	return s;
}
