/* store_sqlite.c - the SQLite backend of the state store: WAL, versioned schema with migrations, corrupt-file recovery. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mac.h"
#include "store.h"

/* Schema history: each step takes the database from version i to i + 1 (PRAGMA user_version). Never edit a
 * step once released: add one. */
static const char *const migrations[] = {
    /* 0 -> 1: pins */
    "CREATE TABLE pins(mac TEXT PRIMARY KEY, boot TEXT NOT NULL, once INTEGER NOT NULL DEFAULT 0,"
    " until_s INTEGER NOT NULL DEFAULT 0);",
    /* 1 -> 2: the boot timeline, and when a pin was set */
    "ALTER TABLE pins ADD COLUMN created_s INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE nodes(mac TEXT PRIMARY KEY, state INTEGER NOT NULL, first_ms INTEGER NOT NULL,"
    " last_ms INTEGER NOT NULL, boot TEXT NOT NULL DEFAULT '', ip TEXT NOT NULL DEFAULT '',"
    " last_event TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT, mac TEXT NOT NULL, ts_ms INTEGER NOT NULL,"
    " kind INTEGER NOT NULL, proto INTEGER NOT NULL, bytes INTEGER NOT NULL, ms INTEGER NOT NULL,"
    " ok INTEGER NOT NULL, file TEXT NOT NULL DEFAULT '', boot TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX events_mac ON events(mac, id);",
    /* 2 -> 3: which instance wrote an event (shared databases; one SQLite file has one writer) */
    "ALTER TABLE events ADD COLUMN origin TEXT NOT NULL DEFAULT '';",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

struct sdb {
	sqlite3 *h;
	sqlite3_stmt *ins_ev, *up_node, *prune;
};

static int err_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOMEM: return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH: return -EACCES;
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_CANTOPEN: return -ENOENT;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB: return -EBADMSG;
	default: return -EIO;
	}
}

static int exec(sqlite3 *h, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	int rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return err_of(rc);
	}
	return 0;
}

/* Bring the schema to SCHEMA_VERSION, each step in its own transaction. */
static int migrate(sqlite3 *h, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int v = -1, rc;
	if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(h));
		return err_of(sqlite3_errcode(h));
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	rc = sqlite3_errcode(h);
	sqlite3_finalize(st);
	if (v < 0) {
		snprintf(err, errlen, "cannot read the schema version: %s", sqlite3_errstr(rc));
		return err_of(rc);
	}
	if (v > SCHEMA_VERSION) {
		snprintf(err, errlen, "schema version %d is newer than this autopxe's %d", v, SCHEMA_VERSION);
		return -EPROTO;
	}
	for (; v < SCHEMA_VERSION; v++) {
		char sql[64];
		if ((rc = exec(h, "BEGIN IMMEDIATE", err, errlen)) != 0)
			return rc;
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
		if ((rc = exec(h, migrations[v], err, errlen)) != 0 || (rc = exec(h, sql, err, errlen)) != 0) {
			exec(h, "ROLLBACK", err + strlen(err), errlen - strlen(err));
			return rc;
		}
		if ((rc = exec(h, "COMMIT", err, errlen)) != 0)
			return rc;
	}
	return 0;
}

/* Open path and check it: 0, -EBADMSG (not a database or corrupt), other -errno. */
static int try_open(const char *path, struct sdb *d, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_open_v2(path, &d->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, d->h ? sqlite3_errmsg(d->h) : sqlite3_errstr(rc));
		return err_of(rc);
	}
	sqlite3_busy_timeout(d->h, 2000);
	rc = sqlite3_prepare_v2(d->h, "PRAGMA quick_check", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const unsigned char *t = sqlite3_column_text(st, 0);
			rc = t && strcmp((const char *)t, "ok") == 0 ? SQLITE_OK : SQLITE_CORRUPT;
		}
	}
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errstr(rc));
		sqlite3_finalize(st);
		return err_of(rc);
	}
	sqlite3_finalize(st);
	if ((rc = exec(d->h, "PRAGMA journal_mode=WAL", err, errlen)) != 0)
		return rc;
	if ((rc = exec(d->h, "PRAGMA synchronous=NORMAL", err, errlen)) != 0)
		return rc;
	return migrate(d->h, err, errlen);
}

static void sdb_close(void *db)
{
	struct sdb *d = db;
	if (!d)
		return;
	sqlite3_finalize(d->ins_ev);
	sqlite3_finalize(d->up_node);
	sqlite3_finalize(d->prune);
	sqlite3_close(d->h);
	free(d);
}

static int sdb_open(const char *path, const char *origin, void **out, char *err, size_t errlen)
{
	char aside[1200], e2[1200];
	struct sdb *d = calloc(1, sizeof *d);
	int rc;
	(void)origin;
	*out = NULL;
	err[0] = '\0';
	if (!d)
		return -ENOMEM;
	rc = try_open(path, d, err, errlen);
	if (rc == -EBADMSG) {
		/* move the damaged file (and its WAL) aside, start afresh; the admin keeps the old one to look at */
		sqlite3_close(d->h);
		d->h = NULL;
		snprintf(aside, sizeof aside, "%s.corrupt-%lld", path, (long long)time(NULL));
		if (rename(path, aside) != 0) {
			snprintf(err, errlen, "%s is damaged and cannot be moved aside: %s", path, strerror(errno));
			free(d);
			return -EIO;
		}
		snprintf(e2, sizeof e2, "%s-wal", path);
		unlink(e2);
		snprintf(e2, sizeof e2, "%s-shm", path);
		unlink(e2);
		rc = try_open(path, d, e2, sizeof e2);
		if (rc == 0)
			snprintf(err, errlen, "%s was damaged: moved aside to %s, a new one was created", path, aside);
		else
			snprintf(err, errlen, "%s was damaged (moved aside) and cannot be recreated: %s", path, e2);
	}
	if (rc == 0) {
		const char *sql_ev = "INSERT INTO events(mac, ts_ms, kind, proto, bytes, ms, ok, file, boot)"
		                     " VALUES(?,?,?,?,?,?,?,?,?)";
		const char *sql_node = "INSERT INTO nodes(mac, state, first_ms, last_ms, boot, ip, last_event)"
		                       " VALUES(?,?,?,?,?,?,?) ON CONFLICT(mac) DO UPDATE SET state=excluded.state,"
		                       " first_ms=excluded.first_ms, last_ms=excluded.last_ms, boot=excluded.boot,"
		                       " ip=excluded.ip, last_event=excluded.last_event";
		const char *sql_prune = "DELETE FROM events WHERE mac = ?1 AND id <= (SELECT id FROM events WHERE mac = ?1"
		                        " ORDER BY id DESC LIMIT 1 OFFSET ?2)";
		if (sqlite3_prepare_v2(d->h, sql_ev, -1, &d->ins_ev, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(d->h, sql_node, -1, &d->up_node, NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(d->h, sql_prune, -1, &d->prune, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(d->h));
			rc = -EIO;
		}
	}
	if (rc) {
		sdb_close(d);
		return rc;
	}
	*out = d;
	return 0;
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : err_of(rc);
}

static int sdb_pin_put(void *db, const struct store_pin *p)
{
	struct sdb *d = db;
	sqlite3_stmt *st;
	char m[18];
	int rc;
	mac_colon(p->mac, m);
	rc = sqlite3_prepare_v2(d->h, "INSERT OR REPLACE INTO pins(mac, boot, once, until_s, created_s) VALUES(?,?,?,?,?)",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK)
		return err_of(rc);
	sqlite3_bind_text(st, 1, m, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, p->boot, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, p->once);
	sqlite3_bind_int64(st, 4, p->until);
	sqlite3_bind_int64(st, 5, p->created);
	rc = step_done(st);
	sqlite3_finalize(st);
	return rc;
}

static int sdb_pin_del(void *db, const uint8_t mac[6])
{
	struct sdb *d = db;
	sqlite3_stmt *st;
	char m[18];
	int rc;
	mac_colon(mac, m);
	rc = sqlite3_prepare_v2(d->h, "DELETE FROM pins WHERE mac = ?", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return err_of(rc);
	sqlite3_bind_text(st, 1, m, -1, SQLITE_TRANSIENT);
	rc = step_done(st);
	sqlite3_finalize(st);
	return rc;
}

static int sdb_pin_consume(void *db, const struct store_pin *p)
{
	struct sdb *d = db;
	sqlite3_stmt *st;
	char m[18];
	int rc;
	mac_colon(p->mac, m);
	rc = sqlite3_prepare_v2(d->h, "DELETE FROM pins WHERE mac = ? AND boot = ? AND once = 1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return err_of(rc);
	sqlite3_bind_text(st, 1, m, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, p->boot, -1, SQLITE_TRANSIENT);
	rc = step_done(st);
	sqlite3_finalize(st);
	return rc ? rc : sqlite3_changes(d->h) > 0;
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(out, len, "%s", t ? (const char *)t : "");
}

static int sdb_pins_load(void *db, int (*cb)(void *, const struct store_pin *), void *arg)
{
	struct sdb *d = db;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(d->h, "SELECT mac, boot, once, until_s, created_s FROM pins ORDER BY mac", -1, &st,
	                            NULL);
	if (rc != SQLITE_OK)
		return err_of(rc);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_pin p;
		char m[32];
		memset(&p, 0, sizeof p);
		col_text(st, 0, m, sizeof m);
		if (mac_parse_str(m, p.mac) != 0)
			continue;
		col_text(st, 1, p.boot, sizeof p.boot);
		p.once = sqlite3_column_int(st, 2);
		p.until = sqlite3_column_int64(st, 3);
		p.created = sqlite3_column_int64(st, 4);
		if ((rc = cb(arg, &p)) != 0) {
			sqlite3_finalize(st);
			return rc;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : err_of(rc);
}

static int sdb_batch(void *db, const struct store_event *ev, size_t n, const struct store_node *nodes, size_t nn,
                     unsigned keep)
{
	struct sdb *d = db;
	char m[18], e[256];
	int rc = exec(d->h, "BEGIN IMMEDIATE", e, sizeof e);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		sqlite3_stmt *st = d->ins_ev;
		mac_colon(ev[i].mac, m);
		sqlite3_bind_text(st, 1, m, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, ev[i].ts_ms);
		sqlite3_bind_int(st, 3, (int)ev[i].kind);
		sqlite3_bind_int(st, 4, (int)ev[i].proto);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)ev[i].bytes);
		sqlite3_bind_int64(st, 6, ev[i].ms);
		sqlite3_bind_int(st, 7, ev[i].ok);
		sqlite3_bind_text(st, 8, ev[i].file, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 9, ev[i].boot, -1, SQLITE_TRANSIENT);
		rc = step_done(st);
	}
	for (size_t i = 0; i < nn && !rc; i++) {
		sqlite3_stmt *st = d->up_node;
		mac_colon(nodes[i].mac, m);
		sqlite3_bind_text(st, 1, m, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 2, (int)nodes[i].state);
		sqlite3_bind_int64(st, 3, nodes[i].first_ms);
		sqlite3_bind_int64(st, 4, nodes[i].last_ms);
		sqlite3_bind_text(st, 5, nodes[i].boot, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 6, nodes[i].ip, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 7, nodes[i].last_event, -1, SQLITE_TRANSIENT);
		rc = step_done(st);
		if (!rc) {
			st = d->prune;
			sqlite3_bind_text(st, 1, m, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int(st, 2, (int)(keep ? keep : 1));
			rc = step_done(st);
		}
	}
	if (rc) {
		exec(d->h, "ROLLBACK", e, sizeof e);
		return rc;
	}
	return exec(d->h, "COMMIT", e, sizeof e);
}

static int sdb_nodes_load(void *db, int (*cb)(void *, const struct store_node *), void *arg)
{
	struct sdb *d = db;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(d->h, "SELECT mac, state, first_ms, last_ms, boot, ip, last_event FROM nodes", -1,
	                            &st, NULL);
	if (rc != SQLITE_OK)
		return err_of(rc);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_node n;
		char m[32];
		memset(&n, 0, sizeof n);
		col_text(st, 0, m, sizeof m);
		if (mac_parse_str(m, n.mac) != 0)
			continue;
		n.state = (enum node_state)sqlite3_column_int(st, 1);
		if ((unsigned)n.state >= NODE_NSTATES)
			n.state = NODE_FAILED;
		n.first_ms = sqlite3_column_int64(st, 2);
		n.last_ms = sqlite3_column_int64(st, 3);
		col_text(st, 4, n.boot, sizeof n.boot);
		col_text(st, 5, n.ip, sizeof n.ip);
		col_text(st, 6, n.last_event, sizeof n.last_event);
		if ((rc = cb(arg, &n)) != 0) {
			sqlite3_finalize(st);
			return rc;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : err_of(rc);
}

static int sdb_events_load(void *db, int (*cb)(void *, const struct store_event *), void *arg)
{
	struct sdb *d = db;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(d->h, "SELECT mac, ts_ms, kind, proto, bytes, ms, ok, file, boot FROM events ORDER BY id",
	                            -1, &st, NULL);
	if (rc != SQLITE_OK)
		return err_of(rc);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_event e;
		char m[32];
		memset(&e, 0, sizeof e);
		col_text(st, 0, m, sizeof m);
		if (mac_parse_str(m, e.mac) != 0)
			continue;
		e.ts_ms = sqlite3_column_int64(st, 1);
		e.kind = (enum store_kind)sqlite3_column_int(st, 2);
		if ((unsigned)e.kind > EV_FILE)
			e.kind = EV_FILE;
		e.proto = sqlite3_column_int(st, 3) ? PROTO_HTTP : PROTO_TFTP;
		e.bytes = (uint64_t)sqlite3_column_int64(st, 4);
		e.ms = (uint32_t)sqlite3_column_int64(st, 5);
		e.ok = sqlite3_column_int(st, 6);
		col_text(st, 7, e.file, sizeof e.file);
		col_text(st, 8, e.boot, sizeof e.boot);
		if ((rc = cb(arg, &e)) != 0) {
			sqlite3_finalize(st);
			return rc;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : err_of(rc);
}

const struct store_backend store_sqlite = {
    .name = "sqlite",
    .open = sdb_open,
    .close = sdb_close,
    .pin_put = sdb_pin_put,
    .pin_del = sdb_pin_del,
    .pin_consume = sdb_pin_consume,
    .pins_load = sdb_pins_load,
    .batch = sdb_batch,
    .nodes_load = sdb_nodes_load,
    .events_load = sdb_events_load,
};
