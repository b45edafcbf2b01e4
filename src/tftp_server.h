/* tftp_server.h - the TFTP front end: epoll loops in their own threads, many concurrent transfers. */
#ifndef AUTOPXE_TFTP_SERVER_H
#define AUTOPXE_TFTP_SERVER_H

#include <stddef.h>

#include "config.h"

struct tftp_server;

/* Create the listening socket(s) for l (call before dropping privileges): one per event loop, `threads` loops
 * (0: one per online CPU, at most 64) sharing the port with SO_REUSEPORT. Tuning (block size caps, timeouts,
 * session caps) is read from the current snapshot's config when each session starts.
 * 0 or -errno with a message in err. */
int tftp_server_open(const struct listen_spec *l, unsigned threads, struct tftp_server **out, char *err,
                     size_t errlen);
/* Start serving: one thread per loop. 0 or -errno. */
int tftp_server_start(struct tftp_server *s);
/* Stop: the loop ends its sessions and exits; joins the thread. Safe to call twice. */
void tftp_server_stop(struct tftp_server *s);
void tftp_server_free(struct tftp_server *s);
/* Sessions in progress (for tests and metrics). */
unsigned tftp_server_sessions(const struct tftp_server *s);
/* The port actually bound (useful with port 0). */
unsigned tftp_server_port(const struct tftp_server *s);

#endif
