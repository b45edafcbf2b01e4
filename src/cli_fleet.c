/* cli_fleet.c - `autopxe pin|unpin|nodes`: the fleet commands, talking to the running server's HTTP API. */
#include "cli_fleet.h"

#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "mac.h"
#include "util.h"

#define CLI_TIMEOUT_MS 10000
#define CLI_REPLY_MAX (64u * 1024 * 1024)

/* host and port of the server to talk to. 0 or -EINVAL with a message. */
static int target(const struct cli_fleet_opts *o, char *host, size_t hlen, char *port, size_t plen, char *token,
                  size_t tlen, FILE *err)
{
	struct config *c = NULL;
	struct listen_spec l;
	struct diag d;
	token[0] = '\0';
	diag_init(&d);
	if (o->config && config_load_file(o->config, &c, &d) != 0)
		c = NULL; /* the server reports its config; here only the address and the token matter */
	diag_free(&d);
	if (!c)
		c = config_new_default();
	l = c->http_listen;
	if (o->http_listen && listen_parse(o->http_listen, &l) != 0) {
		fprintf(err, "autopxe: bad --http-listen '%s'\n", o->http_listen);
		config_free(c);
		return -EINVAL;
	}
	if (o->server) {
		if (listen_parse(o->server, &l) != 0 || !l.enabled) {
			fprintf(err, "autopxe: --server takes ADDR:PORT\n");
			config_free(c);
			return -EINVAL;
		}
	}
	if (!l.enabled) {
		fprintf(err, "autopxe: HTTPListen is off: name the server with --server ADDR:PORT\n");
		config_free(c);
		return -EINVAL;
	}
	if (!l.host[0] || strcmp(l.host, "0.0.0.0") == 0)
		snprintf(host, hlen, "127.0.0.1");
	else if (strcmp(l.host, "::") == 0)
		snprintf(host, hlen, "::1");
	else
		snprintf(host, hlen, "%s", l.host);
	snprintf(port, plen, "%u", (unsigned)l.port);
	if (c->api_token_file) {
		FILE *f = fopen(c->api_token_file, "re");
		if (f) {
			if (fgets(token, (int)tlen, f)) {
				char *a = token;
				size_t n;
				while (*a == ' ' || *a == '\t')
					a++;
				memmove(token, a, strlen(a) + 1);
				n = strcspn(token, "\r\n");
				while (n && (token[n - 1] == ' ' || token[n - 1] == '\t'))
					n--;
				token[n] = '\0';
			}
			fclose(f);
		}
	}
	config_free(c);
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One HTTP/1.1 request (Connection: close). *status and the body (malloc'd, NUL-terminated) on success. */
static int request(const struct cli_fleet_opts *o, const char *method, const char *path, const char *body,
                   int *status, char **reply, FILE *err)
{
	char host[80], port[8], token[512], hdr[1024];
	struct addrinfo hints, *ai = NULL;
	sbuf req = SBUF_INIT, resp = SBUF_INIT;
	int fd = -1, rc;
	*reply = NULL;
	if ((rc = target(o, host, sizeof host, port, sizeof port, token, sizeof token, err)) != 0)
		return rc;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
		fprintf(err, "autopxe: bad server address %s\n", host);
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		rc = -errno;
		fprintf(err, "autopxe: cannot reach the server at %s%s%s:%s: %s (is `autopxe serve` running?)\n",
		        strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port, strerror(errno));
		goto out;
	}
	snprintf(hdr, sizeof hdr, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nUser-Agent: autopxe-cli\r\n",
	         method, path, strchr(host, ':') ? "localhost" : host);
	rc = sbuf_puts(&req, hdr);
	if (!rc && token[0])
		rc = sbuf_printf(&req, "Authorization: Bearer %s\r\n", token);
	if (!rc)
		rc = sbuf_printf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		                 body ? strlen(body) : 0, body ? body : "");
	explicit_bzero(token, sizeof token);
	if (rc || (rc = write_all(fd, req.data, req.len)) != 0)
		goto out;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char buf[16384];
		ssize_t n;
		if (poll(&p, 1, CLI_TIMEOUT_MS) <= 0) {
			fprintf(err, "autopxe: the server did not answer in time\n");
			rc = -ETIMEDOUT;
			goto out;
		}
		n = recv(fd, buf, sizeof buf, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		if (resp.len + (size_t)n > CLI_REPLY_MAX || sbuf_append(&resp, buf, (size_t)n) != 0) {
			rc = -E2BIG;
			goto out;
		}
	}
	{
		const char *b = resp.data ? strstr(resp.data, "\r\n\r\n") : NULL;
		unsigned v;
		if (!b || sscanf(resp.data, "HTTP/1.%*u %u", &v) != 1) {
			fprintf(err, "autopxe: the server sent no HTTP reply\n");
			rc = -EPROTO;
			goto out;
		}
		*status = (int)v;
		*reply = strdup(b + 4); /* Connection: close, no chunking from libmicrohttpd for fixed-size bodies */
		rc = *reply ? 0 : -ENOMEM;
	}
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	sbuf_free(&req);
	sbuf_free(&resp);
	return rc;
}

/* The "message" of a JSON reply, else the reply itself (first line). */
static void print_message(FILE *f, const char *prefix, const char *reply)
{
	json_t *j = json_loads(reply, 0, NULL);
	const char *m = j ? json_string_value(json_object_get(j, "message")) : NULL;
	char clean[600];
	if (!m) {
		size_t n = strcspn(reply, "\n");
		sanitize(reply, n, clean, sizeof clean);
	} else {
		sanitize(m, strlen(m), clean, sizeof clean);
	}
	fprintf(f, "%s%s\n", prefix, clean);
	json_decref(j);
}

static int cmd_pin(char **args, int n, const struct cli_fleet_opts *o, FILE *out, FILE *err)
{
	uint8_t mac[6];
	char m[18], path[64];
	json_t *body;
	char *txt, *reply = NULL;
	int status = 0, rc;
	if (n != 2) {
		fprintf(err, "autopxe: pin takes MAC BOOT (e.g. pin 52:54:00:12:34:56 debian/bookworm/latest/nfs)\n");
		return 2;
	}
	if (mac_parse_str(args[0], mac) != 0) {
		fprintf(err, "autopxe: '%s' is not a MAC address\n", args[0]);
		return 2;
	}
	mac_colon(mac, m);
	snprintf(path, sizeof path, "/api/v1/hosts/%s/pin", m);
	body = json_pack("{s:s, s:b}", "boot", args[1], "once", o->once);
	if (body && o->until)
		json_object_set_new(body, "until", json_string(o->until));
	txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!txt) {
		fprintf(err, "autopxe: BOOT must be text\n");
		return 2;
	}
	rc = request(o, "POST", path, txt, &status, &reply, err);
	free(txt);
	if (rc) {
		free(reply);
		return 1;
	}
	if (status == 200)
		fprintf(out, "pinned %s to %s%s%s%s\n", m, args[1], o->once ? " (once)" : "", o->until ? " until " : "",
		        o->until ? o->until : "");
	else
		print_message(err, "autopxe: pin refused: ", reply);
	free(reply);
	return status == 200 ? 0 : 1;
}

static int cmd_unpin(char **args, int n, const struct cli_fleet_opts *o, FILE *out, FILE *err)
{
	uint8_t mac[6];
	char m[18], path[64], *reply = NULL;
	int status = 0;
	if (n != 1 || mac_parse_str(args[0], mac) != 0) {
		fprintf(err, "autopxe: unpin takes one MAC address\n");
		return 2;
	}
	mac_colon(mac, m);
	snprintf(path, sizeof path, "/api/v1/hosts/%s/pin", m);
	if (request(o, "DELETE", path, NULL, &status, &reply, err) != 0) {
		free(reply);
		return 1;
	}
	if (status == 200)
		fprintf(out, "unpinned %s\n", m);
	else
		print_message(err, "autopxe: unpin: ", reply);
	free(reply);
	return status == 200 ? 0 : 1;
}

static const char *jget(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s && *s ? s : "-";
}

static int cmd_nodes(int n, const struct cli_fleet_opts *o, FILE *out, FILE *err)
{
	char path[96], *reply = NULL;
	int status = 0;
	json_t *doc, *nodes, *counts, *v;
	size_t i;
	if (n != 0) {
		fprintf(err, "autopxe: nodes takes no arguments (filter with --state S)\n");
		return 2;
	}
	if (o->state && strspn(o->state, "abcdefghijklmnopqrstuvwxyz") != strlen(o->state)) {
		fprintf(err, "autopxe: --state takes menu, kernel, initrd, booted or failed\n");
		return 2;
	}
	snprintf(path, sizeof path, "/api/v1/nodes%s%.40s", o->state ? "?state=" : "", o->state ? o->state : "");
	if (request(o, "GET", path, NULL, &status, &reply, err) != 0) {
		free(reply);
		return 1;
	}
	if (status != 200) {
		print_message(err, "autopxe: nodes: ", reply);
		free(reply);
		return status == 400 ? 2 : 1;
	}
	if (o->json) {
		fputs(reply, out);
		free(reply);
		return 0;
	}
	doc = json_loads(reply, 0, NULL);
	free(reply);
	if (!doc) {
		fprintf(err, "autopxe: the server sent a document that is not JSON\n");
		return 1;
	}
	counts = json_object_get(doc, "counts");
	for (void *it = json_object_iter(counts); it; it = json_object_iter_next(counts, it))
		fprintf(out, "%s=%lld ", json_object_iter_key(it), (long long)json_integer_value(json_object_iter_value(it)));
	fprintf(out, "\n%-17s  %-7s  %-40s  %-15s  %-18s  %s\n", "MAC", "STATE", "BOOT ID", "IP", "LAST EVENT", "AGE");
	nodes = json_object_get(doc, "nodes");
	for (i = 0; i < json_array_size(nodes); i++) {
		v = json_array_get(nodes, i);
		json_t *pin = json_object_get(v, "pin");
		char boot[300];
		snprintf(boot, sizeof boot, "%s%s", jget(v, "boot_id"), json_is_object(pin) ? " *" : "");
		fprintf(out, "%-17s  %-7s  %-40s  %-15s  %-18s  %llds\n", jget(v, "mac"), jget(v, "state"), boot,
		        jget(v, "ip"), jget(v, "last_event"), (long long)json_integer_value(json_object_get(v, "age_s")));
	}
	if (json_array_size(nodes))
		fprintf(out, "(* = pinned through the API)\n");
	json_decref(doc);
	return 0;
}

int cli_fleet(const char *cmd, char **args, int n, const struct cli_fleet_opts *o, FILE *out, FILE *err)
{
	if (strcmp(cmd, "pin") == 0)
		return cmd_pin(args, n, o, out, err);
	if (strcmp(cmd, "unpin") == 0)
		return cmd_unpin(args, n, o, out, err);
	if (strcmp(cmd, "nodes") == 0)
		return cmd_nodes(n, o, out, err);
	fprintf(err, "autopxe: unknown command '%s'\n", cmd);
	return 2;
}
