/* store.h - state that outlives a snapshot: API pins and the per-node boot timeline (one interface, backends below). */
#ifndef AUTOPXE_STORE_H
#define AUTOPXE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util.h"

/*
 * The store is process-wide (like the current snapshot). What requests read (pins, node states, the last
 * events) is kept in memory; the backend only persists it. Front ends call the store_record_* functions,
 * which copy the event into a bounded queue and return; one writer thread drains the queue in batches
 * (node state machine, backend writes, pruning), so a slow or failing database never stalls a transfer.
 * Pin changes also go through the writer (never dropped); store_close() drains everything first.
 * Without store_open() (unit tests of other modules, `StateStore: false`) every call is a cheap no-op.
 *
 * Joining: menus carry the MAC; a kernel or initrd transfer is tied to the MAC that last fetched a menu
 * from the same client IP (the rendered URLs are not changed, so menus stay cacheable and iPXE scripts
 * written by hand work too).
 */

#define STORE_BOOT_MAX 160
#define STORE_FILE_MAX 160

enum node_state { NODE_MENU, NODE_KERNEL, NODE_INITRD, NODE_BOOTED, NODE_FAILED, NODE_NSTATES };
const char *node_state_name(enum node_state s);
/* -1 when name is not a state. */
int node_state_parse(const char *name);

enum store_kind { EV_MENU, EV_KERNEL, EV_INITRD, EV_FILE };
enum store_proto { PROTO_TFTP, PROTO_HTTP };
/* Outcome of a transfer: a partial one is a complete answer to a Range request (HTTP 206). */
enum store_outcome { XFER_FAILED = 0, XFER_OK = 1, XFER_PARTIAL = 2 };

struct store_pin {
	uint8_t mac[6];
	char boot[STORE_BOOT_MAX];
	int once;
	int64_t until;   /* unix seconds, 0 = no end */
	int64_t created; /* unix seconds */
};

struct store_event {
	uint8_t mac[6];
	int64_t ts_ms; /* unix milliseconds */
	enum store_kind kind;
	enum store_proto proto;
	uint64_t bytes;
	uint32_t ms;
	int ok; /* enum store_outcome */
	char file[STORE_FILE_MAX];
	char boot[STORE_BOOT_MAX];
};

struct store_node {
	uint8_t mac[6];
	enum node_state state; /* as stored; store_node_state() applies the no-progress timeout */
	int64_t first_ms, last_ms;
	char boot[STORE_BOOT_MAX];
	char ip[48];
	char last_event[64]; /* "kernel http ok", ... */
};

/* A backend persists pins, nodes and events. Every function returns 0 or a negative errno; err gets a
 * human message. open() creates or migrates the schema and reports (and repairs, by moving the file aside
 * and starting afresh) a corrupt database. Called from one thread at a time (the writer, or open/close). */
struct store_backend {
	const char *name;
	int shared; /* several instances share the database: poll it for others' pins and events, reconnect */
	/* where: the SQLite file or the PostgreSQL URL; origin: this instance's name, written with its events */
	int (*open)(const char *where, const char *origin, void **db, char *err, size_t errlen);
	void (*close)(void *db);
	int (*pin_put)(void *db, const struct store_pin *p);
	int (*pin_del)(void *db, const uint8_t mac[6]);
	/* delete the one-shot pin p (same mac and boot) atomically: 1 this call consumed it, 0 already gone */
	int (*pin_consume)(void *db, const struct store_pin *p);
	int (*pins_load)(void *db, int (*cb)(void *arg, const struct store_pin *p), void *arg);
	/* one transaction: append n events, upsert the nodes they touched, keep only the last `keep` per node */
	int (*batch)(void *db, const struct store_event *ev, size_t n, const struct store_node *nodes, size_t nn,
	             unsigned keep);
	int (*nodes_load)(void *db, int (*cb)(void *arg, const struct store_node *n), void *arg);
	/* every kept event, oldest first */
	int (*events_load)(void *db, int (*cb)(void *arg, const struct store_event *e), void *arg);
	/* shared backends: other instances' events written since the last load/poll (may repeat some) */
	int (*events_poll)(void *db, int (*cb)(void *arg, const struct store_event *e), void *arg);
};
extern const struct store_backend store_sqlite, store_pg;

struct store_opts {
	const char *state_dir;   /* directory of the SQLite database (created if missing) */
	const char *url;         /* StateURL: "sqlite:///file" or "postgresql://..."; NULL = StateDir/autopxe.db */
	unsigned poll_ms;        /* shared backends: how often others' pins and events are read (default 1000) */
	unsigned backlog;        /* events kept while the database is unreachable (default 65536) */
	unsigned keep_events;    /* last N events per node, >= 1 */
	unsigned fail_after_s;   /* a node without progress this long counts as failed; 0 = never */
	unsigned queue_len;      /* bounded event queue (events beyond it are dropped and counted) */
	int no_thread;           /* tests: no writer thread, call store_flush() */
};

/* Open (or create) the store, load pins and nodes, start the writer thread. A database that cannot be opened
 * is reported in the log (and err); the store then runs in memory only and serving goes on: returns 0 with
 * *degraded = 1. -errno only for out of memory or a second open. */
int store_open(const struct store_opts *o, int *degraded, char *err, size_t errlen);
/* Drain the queue, stop the writer and close the backend. Safe without store_open(). */
void store_close(void);
/* Process everything queued so far (the writer does this on its own; tests call it). */
void store_flush(void);
int store_is_open(void);

/* ---- pins (thread-safe, memory only on the caller's thread) */
/* Set or replace the pin of p->mac. 0 or -ENODEV (store not open). */
int store_pin_set(const struct store_pin *p);
/* 0, -ENOENT (no pin), -ENODEV. */
int store_pin_del(const uint8_t mac[6]);
/* Copy the live pin of mac into *out: 1 found, 0 none (expired pins count as none and are removed). */
int store_pin_get(const uint8_t mac[6], struct store_pin *out);
/* Increases on every pin change: caches of rendered menus key on it. */
uint64_t store_pin_version(void);
/* For render_set_pin_hook(): notes that cl->mac is behind client address cl->ip (store_note_client) and copies
 * its pinned boot id into boot. 1 pinned, 0 none. */
struct render_client;
int store_pin_lookup(const struct render_client *cl, char *boot, size_t len);
/* A menu for mac is being served to client ip: kernel and initrd requests from ip are this node's from now on
 * (noted when the menu is rendered, so a client that asks for its kernel before the server has seen the end of
 * the menu transfer is still followed). */
void store_note_client(const uint8_t mac[6], const char *ip);

/* ---- events from the front ends (never block; copy and queue) */
/* A menu fetch by mac from client ip (text, may carry a ":port" or "[v6]:port"). */
void store_record_menu(enum store_proto proto, const uint8_t mac[6], const char *ip, uint64_t bytes, uint32_t ms,
                       int ok);
/* A file transfer (kernel, initrd or anything else) by name as requested, tied to a MAC by client ip; ok is an
 * enum store_outcome. A complete (XFER_OK) transfer of the kernel of a one-shot pin consumes the pin here,
 * before returning. */
void store_record_file(enum store_proto proto, const char *ip, const char *name, uint64_t bytes, uint32_t ms,
                       int ok);

/* The TFTP front end's one call per finished transfer: a menu (is_menu, mac set) or a file. */
void store_record_tftp(int is_menu, const uint8_t mac[6], const char *peer, const char *name, uint64_t bytes,
                       uint64_t ms, int ok);

/* ---- reading (thread-safe copies) */
/* State of n at time now_ms with the no-progress timeout applied. */
enum node_state store_node_state(const struct store_node *n, int64_t now_ms);
/* Copy every node (filter: state or -1) into a malloc'd array (caller frees); count in *n. 0 or -ENOMEM. */
int store_nodes(int filter, struct store_node **out, size_t *n);
/* One node and its kept events (oldest first, malloc'd, caller frees). 1 found, 0 unknown, -ENOMEM. */
int store_node(const uint8_t mac[6], struct store_node *node, struct store_event **ev, size_t *nev);
/* Append Prometheus gauges/counters (nodes per state, queue drops, backend errors) to out. */
int store_metrics(sbuf *out);
/* "" when healthy, else why the store runs degraded (memory only, or a shared database unreachable: pins are
 * the last known ones, events are buffered and written when it returns). */
void store_status(char *out, size_t len);

#endif
