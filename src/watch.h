/* watch.h - inotify watches on the config file, templates and the rootfs levels that matter, for hot reload. */
#ifndef AUTOPXE_WATCH_H
#define AUTOPXE_WATCH_H

#include "snapshot.h"

/* Quiet time after the last file event before a reload starts (bursts cause one rescan). */
#define WATCH_DEBOUNCE_MS 500
/* ...but a tree that keeps changing is rescanned at least this often. */
#define WATCH_MAX_DELAY_MS 5000

/* Open an inotify fd watching what snapshot s was built from. -1 when inotify is unavailable. */
int watch_open(const struct snapshot *s);
/* Add watches for a new snapshot's directories (new releases, boot/ dirs). 0 or -errno. */
int watch_update(int fd, const struct snapshot *s);
/* Read all pending events; returns how many were relevant (0 = ignore), -1 on error. */
int watch_drain(int fd);

#endif
