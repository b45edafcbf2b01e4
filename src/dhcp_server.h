/* dhcp_server.h - the proxyDHCP front end: UDP 67 and the PXE boot-server port 4011, one thread, no raw sockets. */
#ifndef AUTOPXE_DHCP_SERVER_H
#define AUTOPXE_DHCP_SERVER_H

#include <stddef.h>

#include "config.h"

struct dhcp_server;

/* Bind the proxyDHCP sockets (0.0.0.0:ProxyDHCPPort and, unless 0, 0.0.0.0:PXEBootServerPort) with IP_PKTINFO,
 * SO_BROADCAST and SO_REUSEADDR (so a DHCP server on the same host can share 67). Call before dropping
 * privileges. The boot-file policy, the interfaces and the discovery control are read from the current snapshot
 * per packet. 0 or -errno with a message in err; caller frees *out with dhcp_server_free(). */
int dhcp_server_open(const struct config *c, struct dhcp_server **out, char *err, size_t errlen);
/* Start the serving thread. 0 or -errno. */
int dhcp_server_start(struct dhcp_server *s);
/* Stop and join the thread. Safe to call twice. */
void dhcp_server_stop(struct dhcp_server *s);
void dhcp_server_free(struct dhcp_server *s);
/* The ports actually bound (which = 0: the DHCP port, 1: the boot-server port; 0 when off). */
unsigned dhcp_server_port(const struct dhcp_server *s, int which);

#endif
