/* autoexec.c - renders autoexec.ipxe, the served twin of embedded/autopxe.ipxe for stock iPXE builds. */
#include "autoexec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The iPXE expression for this client's per-MAC menu name (the interface that got its address). */
#define MENU_NAME "autopxe-${netX/mac:hexraw}"

int autoexec_request_match(const char *name, size_t len)
{
	static const char want[] = AUTOEXEC_NAME;
	if (!name)
		return 0;
	if (len > 0 && (name[0] == '/' || name[0] == '\\')) {
		name++;
		len--;
	}
	return len == sizeof want - 1 && memcmp(name, want, len) == 0;
}

/* A host name or numeric address: letters, digits, '.', '-', ':' (IPv6), optionally one pair of
 * brackets around the whole. Anything else (spaces, '$', '/', '%' zone ids, control bytes) is refused:
 * it would either break the URL or be expanded by iPXE. */
static int host_ok(const char *h, int *needs_brackets)
{
	size_t n = strlen(h);
	int bracketed = n >= 2 && h[0] == '[' && h[n - 1] == ']';
	int colons = 0;
	if (bracketed) {
		h++;
		n -= 2;
	}
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (c == ':')
			colons++;
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		           c == '-'))
			return 0;
	}
	if (bracketed && colons == 0)
		return 0; /* "[host]" only makes sense for IPv6 */
	*needs_brackets = colons > 0 && !bracketed;
	return 1;
}

/* HTTPBaseURL as a script word: http:// or https://, then printable ASCII without spaces. */
static int base_url_ok(const char *u)
{
	if (!str_starts_with(u, "http://") && !str_starts_with(u, "https://"))
		return 0;
	size_t skip = u[4] == 's' ? 8 : 7;
	if (u[skip] == '\0' || u[skip] == '/')
		return 0;
	for (const unsigned char *p = (const unsigned char *)u; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return 0;
	return 1;
}

int autoexec_render(const struct config *cfg, const char *server_host, sbuf *out)
{
	const int http = cfg->http_listen.enabled, tftp = cfg->tftp_listen.enabled;
	const char *base = cfg->http_base_url && *cfg->http_base_url ? cfg->http_base_url : NULL;
	const int dynamic = !server_host || !*server_host; /* ${next-server} */
	int brackets = 0, rc = 0;
	if (!http && !tftp)
		return -EINVAL;
	if (!dynamic && !host_ok(server_host, &brackets))
		return -EINVAL;
	if (http && base && !base_url_ok(base))
		return -EINVAL;

	char host[260];
	if (dynamic)
		snprintf(host, sizeof host, "${autopxe-server}");
	else
		snprintf(host, sizeof host, brackets ? "[%s]" : "%s", server_host);
	const char *slash = base && !str_ends_with(base, "/") ? "/" : "";
	const size_t start = out->len;

	/* Same steps, labels and messages as embedded/autopxe.ipxe, so a stock iPXE behaves like ours. */
	rc |= sbuf_puts(out, "#!ipxe\n"
	                     "# autoexec.ipxe from autopxe: get an address, chain to this machine's menu\n"
	                     "prompt --key 0x02 --timeout 2000 Press Ctrl-B for the iPXE command line... && shell ||\n"
	                     ":autopxe-start\n"
	                     "set autopxe-try:int32 0\n"
	                     ":autopxe-dhcp\n"
	                     "dhcp && goto autopxe-fetch ||\n"
	                     "inc autopxe-try\n"
	                     "iseq ${autopxe-try} 5 && goto autopxe-fail ||\n"
	                     "echo autopxe: no DHCP answer (attempt ${autopxe-try} of 5), retrying in 3 s\n"
	                     "sleep 3\n"
	                     "goto autopxe-dhcp\n"
	                     ":autopxe-fetch\n");
	if (dynamic)
		rc |= sbuf_puts(out, "set autopxe-server ${next-server}\n"
		                     "isset ${autopxe-server} || echo autopxe: DHCP gave no next-server\n"
		                     "isset ${autopxe-server} || goto autopxe-fail\n");
	rc |= sbuf_printf(out, "echo autopxe: fetching the menu for ${netX/mac:hexraw} from %s\n", host);
	if (http && base)
		rc |= sbuf_printf(out, "imgfetch --name autopxe-menu %s%s" MENU_NAME " && goto autopxe-run ||\n", base,
		                  slash);
	else if (http)
		rc |= sbuf_printf(out, "imgfetch --name autopxe-menu http://%s:%u/" MENU_NAME " && goto autopxe-run ||\n",
		                  host, (unsigned)cfg->http_listen.port);
	if (http && tftp)
		rc |= sbuf_puts(out, "echo autopxe: HTTP failed, trying TFTP\n");
	if (tftp)
		rc |= sbuf_printf(out, "imgfetch --name autopxe-menu tftp://%s:%u/" MENU_NAME " && goto autopxe-run ||\n",
		                  host, (unsigned)cfg->tftp_listen.port);
	rc |= sbuf_printf(out,
	                  ":autopxe-fail\n"
	                  "echo autopxe: cannot reach the boot server (DHCP, %s tried)\n"
	                  "echo autopxe: check that autopxe is running and that DHCP points at it. Retrying in 10 s.\n"
	                  "prompt --key 0x02 --timeout 10000 Press Ctrl-B for the iPXE command line... && shell ||\n"
	                  "goto autopxe-start\n"
	                  ":autopxe-run\n"
	                  "imgexec --autofree autopxe-menu\n"
	                  "exit\n",
	                  http && tftp ? "HTTP and TFTP" : http ? "HTTP" : "TFTP");
	if (rc) {
		/* every sbuf call returns 0 or -ENOMEM; restore what the caller had */
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		return -ENOMEM;
	}
	return 0;
}
