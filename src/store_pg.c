/* store_pg.c - the PostgreSQL backend of the state store (libpq): one database shared by several instances. */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mac.h"
#include "store.h"

/* Schema history, step i takes the database from version i to i + 1 (table autopxe_schema). The same steps as
 * the SQLite backend's, in PostgreSQL's dialect. Never edit a step once released: add one. */
static const char *const migrations[] = {
    /* 0 -> 1: pins */
    "CREATE TABLE pins(mac TEXT PRIMARY KEY, boot TEXT NOT NULL, once INTEGER NOT NULL DEFAULT 0,"
    " until_s BIGINT NOT NULL DEFAULT 0);",
    /* 1 -> 2: the boot timeline, and when a pin was set */
    "ALTER TABLE pins ADD COLUMN created_s BIGINT NOT NULL DEFAULT 0;"
    "CREATE TABLE nodes(mac TEXT PRIMARY KEY, state INTEGER NOT NULL, first_ms BIGINT NOT NULL,"
    " last_ms BIGINT NOT NULL, boot TEXT NOT NULL DEFAULT '', ip TEXT NOT NULL DEFAULT '',"
    " last_event TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE events(id BIGSERIAL PRIMARY KEY, mac TEXT NOT NULL, ts_ms BIGINT NOT NULL,"
    " kind INTEGER NOT NULL, proto INTEGER NOT NULL, bytes BIGINT NOT NULL, ms BIGINT NOT NULL,"
    " ok INTEGER NOT NULL, file TEXT NOT NULL DEFAULT '', boot TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX events_mac ON events(mac, id);",
    /* 2 -> 3: which instance wrote an event (instances read each other's) */
    "ALTER TABLE events ADD COLUMN origin TEXT NOT NULL DEFAULT '';",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))
#define POLL_OVERLAP 1024 /* event ids re-read per poll: transactions commit out of id order */

/* The highest event id this process has read, kept across reconnects (the store is process-wide): a new
 * connection after an outage goes on from there instead of reading the whole table again. */
static long long seen_id;

struct pdb {
	PGconn *c;
	char origin[64];
	long long last_id; /* highest event id seen */
};

static int fail(PGconn *c, PGresult *r, char *err, size_t errlen)
{
	if (err && errlen) {
		const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
		snprintf(err, errlen, "%s", m && *m ? m : "PostgreSQL error");
		char *nl = strchr(err, '\n');
		if (nl)
			*nl = '\0';
	}
	PQclear(r);
	return PQstatus(c) == CONNECTION_OK ? -EIO : -ENOTCONN;
}

static int run(PGconn *c, const char *sql, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		return fail(c, r, err, errlen);
	PQclear(r);
	return 0;
}

/* Parameterised statement; *out gets a result with rows (caller PQclear) or NULL for commands. */
static int runp(PGconn *c, const char *sql, int n, const char *const *v, PGresult **out)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return fail(c, r, NULL, 0);
	if (out)
		*out = r;
	else
		PQclear(r);
	return 0;
}

/* Bring the schema to SCHEMA_VERSION under an advisory lock, so instances starting together migrate once. */
static int migrate(PGconn *c, char *err, size_t errlen)
{
	PGresult *r;
	int v, rc;
	if ((rc = run(c, "BEGIN", err, errlen)) != 0)
		return rc;
	if ((rc = run(c, "SELECT pg_advisory_xact_lock(7317001)", err, errlen)) != 0 ||
	    (rc = run(c, "CREATE TABLE IF NOT EXISTS autopxe_schema(version INTEGER NOT NULL)", err, errlen)) != 0)
		goto rollback;
	r = PQexec(c, "SELECT version FROM autopxe_schema");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = fail(c, r, err, errlen);
		goto rollback;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		if ((rc = run(c, "INSERT INTO autopxe_schema VALUES(0)", err, errlen)) != 0)
			goto rollback;
		v = 0;
	} else {
		v = atoi(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	if (v > SCHEMA_VERSION) {
		snprintf(err, errlen, "schema version %d is newer than this autopxe's %d", v, SCHEMA_VERSION);
		rc = -EPROTO;
		goto rollback;
	}
	for (; v < SCHEMA_VERSION; v++) {
		char sql[64];
		snprintf(sql, sizeof sql, "UPDATE autopxe_schema SET version = %d", v + 1);
		if ((rc = run(c, migrations[v], err, errlen)) != 0 || (rc = run(c, sql, err, errlen)) != 0)
			goto rollback;
	}
	return run(c, "COMMIT", err, errlen);
rollback:
	PQclear(PQexec(c, "ROLLBACK"));
	return rc;
}

static void pdb_close(void *db)
{
	struct pdb *d = db;
	if (!d)
		return;
	PQfinish(d->c);
	free(d);
}

static int pdb_open(const char *url, const char *origin, void **out, char *err, size_t errlen)
{
	/* the URL's own settings win over these defaults (later keywords override earlier ones) */
	const char *keys[] = {"connect_timeout", "keepalives_idle", "tcp_user_timeout", "dbname", NULL};
	const char *vals[] = {"3", "10", "5000", url, NULL};
	struct pdb *d = calloc(1, sizeof *d);
	int rc;
	*out = NULL;
	err[0] = '\0';
	if (!d)
		return -ENOMEM;
	snprintf(d->origin, sizeof d->origin, "%s", origin ? origin : "");
	d->last_id = seen_id;
	d->c = PQconnectdbParams(keys, vals, 1);
	if (!d->c) {
		free(d);
		return -ENOMEM;
	}
	if (PQstatus(d->c) != CONNECTION_OK) {
		rc = fail(d->c, NULL, err, errlen);
		pdb_close(d);
		return rc == -EIO ? -ENOTCONN : rc;
	}
	if ((rc = run(d->c, "SET client_min_messages = warning", err, errlen)) != 0 ||
	    (rc = migrate(d->c, err, errlen)) != 0) {
		pdb_close(d);
		return rc;
	}
	*out = d;
	return 0;
}

static int pdb_pin_put(void *db, const struct store_pin *p)
{
	struct pdb *d = db;
	char m[18], once[4], until[24], created[24];
	mac_colon(p->mac, m);
	snprintf(once, sizeof once, "%d", p->once ? 1 : 0);
	snprintf(until, sizeof until, "%lld", (long long)p->until);
	snprintf(created, sizeof created, "%lld", (long long)p->created);
	const char *v[] = {m, p->boot, once, until, created};
	return runp(d->c,
	            "INSERT INTO pins(mac, boot, once, until_s, created_s) VALUES($1,$2,$3,$4,$5) ON CONFLICT(mac) DO UPDATE"
	            " SET boot=excluded.boot, once=excluded.once, until_s=excluded.until_s, created_s=excluded.created_s",
	            5, v, NULL);
}

static int pdb_pin_del(void *db, const uint8_t mac[6])
{
	struct pdb *d = db;
	char m[18];
	mac_colon(mac, m);
	const char *v[] = {m};
	return runp(d->c, "DELETE FROM pins WHERE mac = $1", 1, v, NULL);
}

/* Atomic in the database: of several instances consuming the same pin, exactly one gets the row back. */
static int pdb_pin_consume(void *db, const struct store_pin *p)
{
	struct pdb *d = db;
	PGresult *r;
	char m[18];
	int rc;
	mac_colon(p->mac, m);
	const char *v[] = {m, p->boot};
	rc = runp(d->c, "DELETE FROM pins WHERE mac = $1 AND boot = $2 AND once = 1 RETURNING mac", 2, v, &r);
	if (rc)
		return rc;
	rc = PQntuples(r) > 0 ? 1 : 0;
	PQclear(r);
	return rc;
}

static long long ll(PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void txt(PGresult *r, int row, int col, char *out, size_t len)
{
	snprintf(out, len, "%s", PQgetvalue(r, row, col));
}

static int pdb_pins_load(void *db, int (*cb)(void *, const struct store_pin *), void *arg)
{
	struct pdb *d = db;
	PGresult *r;
	int rc = runp(d->c, "SELECT mac, boot, once, until_s, created_s FROM pins ORDER BY mac", 0, NULL, &r);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		struct store_pin p;
		memset(&p, 0, sizeof p);
		if (mac_parse_str(PQgetvalue(r, i, 0), p.mac) != 0)
			continue;
		txt(r, i, 1, p.boot, sizeof p.boot);
		p.once = (int)ll(r, i, 2);
		p.until = ll(r, i, 3);
		p.created = ll(r, i, 4);
		rc = cb(arg, &p);
	}
	PQclear(r);
	return rc;
}

static int pdb_batch(void *db, const struct store_event *ev, size_t n, const struct store_node *nodes, size_t nn,
                     unsigned keep)
{
	struct pdb *d = db;
	char m[18], a[8][32];
	int rc = run(d->c, "BEGIN", NULL, 0);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		mac_colon(ev[i].mac, m);
		snprintf(a[0], sizeof a[0], "%lld", (long long)ev[i].ts_ms);
		snprintf(a[1], sizeof a[1], "%d", (int)ev[i].kind);
		snprintf(a[2], sizeof a[2], "%d", (int)ev[i].proto);
		snprintf(a[3], sizeof a[3], "%llu", (unsigned long long)ev[i].bytes);
		snprintf(a[4], sizeof a[4], "%u", ev[i].ms);
		snprintf(a[5], sizeof a[5], "%d", ev[i].ok);
		const char *v[] = {m, a[0], a[1], a[2], a[3], a[4], a[5], ev[i].file, ev[i].boot, d->origin};
		rc = runp(d->c,
		          "INSERT INTO events(mac, ts_ms, kind, proto, bytes, ms, ok, file, boot, origin)"
		          " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
		          10, v, NULL);
	}
	for (size_t i = 0; i < nn && !rc; i++) {
		mac_colon(nodes[i].mac, m);
		snprintf(a[0], sizeof a[0], "%d", (int)nodes[i].state);
		snprintf(a[1], sizeof a[1], "%lld", (long long)nodes[i].first_ms);
		snprintf(a[2], sizeof a[2], "%lld", (long long)nodes[i].last_ms);
		snprintf(a[3], sizeof a[3], "%u", keep ? keep : 1);
		const char *v[] = {m, a[0], a[1], a[2], nodes[i].boot, nodes[i].ip, nodes[i].last_event};
		/* an instance with an older view of the node does not overwrite a newer one */
		rc = runp(d->c,
		          "INSERT INTO nodes(mac, state, first_ms, last_ms, boot, ip, last_event) VALUES($1,$2,$3,$4,$5,$6,$7)"
		          " ON CONFLICT(mac) DO UPDATE SET state=excluded.state, first_ms=LEAST(nodes.first_ms,"
		          " excluded.first_ms), last_ms=excluded.last_ms, boot=excluded.boot, ip=excluded.ip,"
		          " last_event=excluded.last_event WHERE nodes.last_ms <= excluded.last_ms",
		          7, v, NULL);
		if (!rc) {
			const char *pv[] = {m, a[3]};
			rc = runp(d->c,
			          "DELETE FROM events WHERE mac = $1 AND id <= (SELECT id FROM events WHERE mac = $1"
			          " ORDER BY id DESC LIMIT 1 OFFSET $2::integer)",
			          2, pv, NULL);
		}
	}
	if (rc) {
		PQclear(PQexec(d->c, "ROLLBACK"));
		return PQstatus(d->c) == CONNECTION_OK ? rc : -ENOTCONN;
	}
	return run(d->c, "COMMIT", NULL, 0);
}

static int pdb_nodes_load(void *db, int (*cb)(void *, const struct store_node *), void *arg)
{
	struct pdb *d = db;
	PGresult *r;
	int rc = runp(d->c, "SELECT mac, state, first_ms, last_ms, boot, ip, last_event FROM nodes", 0, NULL, &r);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		struct store_node n;
		memset(&n, 0, sizeof n);
		if (mac_parse_str(PQgetvalue(r, i, 0), n.mac) != 0)
			continue;
		n.state = (enum node_state)ll(r, i, 1);
		if ((unsigned)n.state >= NODE_NSTATES)
			n.state = NODE_FAILED;
		n.first_ms = ll(r, i, 2);
		n.last_ms = ll(r, i, 3);
		txt(r, i, 4, n.boot, sizeof n.boot);
		txt(r, i, 5, n.ip, sizeof n.ip);
		txt(r, i, 6, n.last_event, sizeof n.last_event);
		rc = cb(arg, &n);
	}
	PQclear(r);
	return rc;
}

/* Events with an id above since (and, when skip_own, not written by this instance), oldest first. */
static int events_from(struct pdb *d, long long since, int skip_own, int (*cb)(void *, const struct store_event *),
                       void *arg)
{
	PGresult *r;
	char s[24];
	snprintf(s, sizeof s, "%lld", since);
	const char *v[] = {s, skip_own ? d->origin : "\x01"};
	int rc = runp(d->c,
	              "SELECT mac, ts_ms, kind, proto, bytes, ms, ok, file, boot, id FROM events WHERE id > $1::bigint"
	              " AND origin <> $2 ORDER BY id",
	              2, v, &r);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		struct store_event e;
		long long id = ll(r, i, 9);
		if (id > d->last_id)
			d->last_id = seen_id = id;
		memset(&e, 0, sizeof e);
		if (mac_parse_str(PQgetvalue(r, i, 0), e.mac) != 0)
			continue;
		e.ts_ms = ll(r, i, 1);
		e.kind = (enum store_kind)ll(r, i, 2);
		if ((unsigned)e.kind > EV_FILE)
			e.kind = EV_FILE;
		e.proto = ll(r, i, 3) ? PROTO_HTTP : PROTO_TFTP;
		e.bytes = (uint64_t)ll(r, i, 4);
		e.ms = (uint32_t)ll(r, i, 5);
		e.ok = (int)ll(r, i, 6);
		txt(r, i, 7, e.file, sizeof e.file);
		txt(r, i, 8, e.boot, sizeof e.boot);
		rc = cb(arg, &e);
	}
	PQclear(r);
	return rc;
}

static int pdb_events_load(void *db, int (*cb)(void *, const struct store_event *), void *arg)
{
	struct pdb *d = db;
	d->last_id = seen_id = 0;
	return events_from(d, 0, 0, cb, arg);
}

/* Other instances' events since the last poll. Ids are taken when a row is inserted and transactions commit
 * in any order, so the last POLL_OVERLAP ids are read again: the store drops the events it already has. */
static int pdb_events_poll(void *db, int (*cb)(void *, const struct store_event *), void *arg)
{
	struct pdb *d = db;
	long long from = d->last_id > POLL_OVERLAP ? d->last_id - POLL_OVERLAP : 0;
	return events_from(d, from, 1, cb, arg);
}

const struct store_backend store_pg = {
    .name = "postgresql",
    .shared = 1,
    .open = pdb_open,
    .close = pdb_close,
    .pin_put = pdb_pin_put,
    .pin_del = pdb_pin_del,
    .pin_consume = pdb_pin_consume,
    .pins_load = pdb_pins_load,
    .batch = pdb_batch,
    .nodes_load = pdb_nodes_load,
    .events_load = pdb_events_load,
    .events_poll = pdb_events_poll,
};
