/* cli_fleet.h - `autopxe pin|unpin|nodes`: the fleet commands, talking to the running server's HTTP API. */
#ifndef AUTOPXE_CLI_FLEET_H
#define AUTOPXE_CLI_FLEET_H

#include <stdio.h>

struct cli_fleet_opts {
	const char *server;     /* "ADDR:PORT" or "[V6]:PORT"; NULL = HTTPListen of the config (any address: loopback) */
	const char *config;     /* config file (for HTTPListen and APITokenFile), may be NULL */
	const char *http_listen; /* --http-listen override, may be NULL */
	int once;
	const char *until; /* RFC 3339, may be NULL */
	const char *state; /* nodes filter, may be NULL */
	int json;          /* nodes: print the JSON document as is */
};

/* Run cmd ("pin", "unpin", "nodes") with its positional arguments args[0..n). Prints results to out and
 * problems to err. Returns an exit status: 0 ok, 1 runtime (server unreachable, refused), 2 usage. */
int cli_fleet(const char *cmd, char **args, int n, const struct cli_fleet_opts *o, FILE *out, FILE *err);

#endif
