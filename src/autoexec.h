/* autoexec.h - the dynamic autoexec.ipxe script: what the embedded script does, for stock (incl. signed) iPXE. */
#ifndef AUTOPXE_AUTOEXEC_H
#define AUTOPXE_AUTOEXEC_H

#include <stddef.h>

#include "config.h"
#include "util.h"

/* The file name stock iPXE builds look for (and DHCP configs can hand to iPXE as its bootfile). */
#define AUTOEXEC_NAME "autoexec.ipxe"

/* 1 when name[0..len) asks for the autoexec script: "autoexec.ipxe", optionally after one leading
 * '/' or '\' (some clients send either); 0 otherwise. Case-sensitive like every other file name. Pure. */
int autoexec_request_match(const char *name, size_t len);

/* Append the #!ipxe autoexec script to out. It offers the Ctrl-B shell prompt, runs dhcp with retries,
 * fetches "autopxe-<mac>" over HTTP (HTTPBaseURL when set, else http://server_host:<HTTPListen port>/),
 * then over TFTP (tftp://server_host:<TFTPListen port>/), and loops with a message when both fail.
 * A protocol whose listener is off is left out.
 * server_host: the address the request came in on, numeric IPv4, IPv6 (brackets optional) or a host
 * name; NULL or "" means iPXE's ${next-server}. Borrows cfg and server_host; deterministic.
 * Returns 0; -EINVAL when server_host or HTTPBaseURL cannot go into a script, or both listeners are
 * off (out is then left as it was); -ENOMEM. */
int autoexec_render(const struct config *cfg, const char *server_host, sbuf *out);

#endif
