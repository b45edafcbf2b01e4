/* fuzz_dhcp.c - libFuzzer target: DHCP/BOOTP parsing, the proxyDHCP decision and reply building. */
#include <stdint.h>
#include <string.h>

#include "dhcp_proto.h"

static struct dhcp_msg req, rep;
static struct dhcp_tracker track;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	int rc = dhcp_parse(data, size, &req, &why);
	if (rc != 0) {
		if (!why)
			__builtin_trap(); /* every refusal names its reason for the log */
		return 0;
	}
	static const unsigned ports[] = {67, 4011};
	struct dhcp_policy pol = {{192, 0, 2, 10}, "192.0.2.10", "http://192.0.2.10:80/", 1, 8, NULL, NULL};
	for (unsigned i = 0; i < 2; i++) {
		struct dhcp_decision d;
		dhcp_decide(&req, ports[i], &pol, &d);
		uint8_t buf[DHCP_MAX_PACKET];
		size_t n = dhcp_build_reply(&req, &d, &pol, buf, sizeof buf);
		if (d.verdict != DHCP_ANSWER) {
			if (n != 0)
				__builtin_trap(); /* never a reply to an ignored packet */
			continue;
		}
		if (n < DHCP_BOOTP_MIN || !d.file[0])
			__builtin_trap();
		/* our own reply must parse, be a BOOTREPLY and never hand out an address */
		if (dhcp_parse(buf, n, &rep, &why) != 0 || rep.op != 2 || rep.xid != req.xid ||
		    memcmp(rep.yiaddr, "\0\0\0\0", 4) != 0)
			__builtin_trap();
		size_t l;
		const uint8_t *f = dhcp_opt(&rep, DHO_BOOTFILE, &l);
		if (!f || l != strlen(d.file) || memcmp(f, d.file, l) != 0)
			__builtin_trap();
	}
	if (dhcp_track_discover(&track, req.chaddr, req.xid, size) < 0)
		__builtin_trap();
	return 0;
}
