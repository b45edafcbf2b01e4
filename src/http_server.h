/* http_server.h - the HTTP front end (libmicrohttpd): menus, files, metrics, health and the JSON API. */
#ifndef AUTOPXE_HTTP_SERVER_H
#define AUTOPXE_HTTP_SERVER_H

#include <stddef.h>

#include "config.h"

struct http_server;

/* Bind the listening socket for l (before dropping privileges); limits come from cfg.
 * 0 or -errno with a message in err. */
int http_server_open(const struct listen_spec *l, const struct config *cfg, struct http_server **out, char *err,
                     size_t errlen);
/* Start libmicrohttpd on the bound socket. 0 or -errno. */
int http_server_start(struct http_server *s);
void http_server_stop(struct http_server *s);
void http_server_free(struct http_server *s);
unsigned http_server_port(const struct http_server *s);

/* Hook the server calls for POST /api/v1/reload (set by main); returns 0 when a reload succeeded. */
typedef int (*http_reload_fn)(char *msg, size_t msglen);
void http_server_set_reload(struct http_server *s, http_reload_fn fn);

#endif
