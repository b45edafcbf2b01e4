/* dhcp_proto.h - pure proxyDHCP core: DHCP parse/build, PXE client policy, retry tracker (no I/O, no clock). */
#ifndef AUTOPXE_DHCP_PROTO_H
#define AUTOPXE_DHCP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define DHCP_FIXED_LEN 236u    /* BOOTP header up to the options field (RFC 2131 figure 1) */
#define DHCP_MIN_LEN 240u      /* fixed header + magic cookie */
#define DHCP_MAX_PACKET 4096u  /* larger datagrams are refused (a LAN reply never needs more) */
#define DHCP_BOOTP_MIN 300u    /* replies are padded to BOOTP's minimum: some PXE ROMs drop shorter ones */
#define DHCP_SERVER_PORT 67u
#define DHCP_CLIENT_PORT 68u
#define PXE_BINL_PORT 4011u    /* PXE boot-server (proxyDHCP REQUEST) port */

enum dhcp_type {
	DHCP_DISCOVER = 1, DHCP_OFFER = 2, DHCP_REQUEST = 3, DHCP_DECLINE = 4,
	DHCP_ACK = 5, DHCP_NAK = 6, DHCP_RELEASE = 7, DHCP_INFORM = 8,
};

/* Option codes this module knows (RFC 2132, 3004, 4578; 175 is iPXE's encapsulated block). */
enum {
	DHO_PAD = 0, DHO_REQUESTED_IP = 50, DHO_OVERLOAD = 52, DHO_MSG_TYPE = 53, DHO_SERVER_ID = 54,
	DHO_PARAM_LIST = 55, DHO_MAX_SIZE = 57, DHO_VENDOR_CLASS = 60, DHO_CLIENT_ID = 61, DHO_TFTP_SERVER = 66,
	DHO_BOOTFILE = 67, DHO_USER_CLASS = 77, DHO_CLIENT_ARCH = 93, DHO_CLIENT_NDI = 94, DHO_CLIENT_UUID = 97,
	DHO_VENDOR_OPTS = 43, DHO_IPXE_ENCAP = 175, DHO_END = 255,
};

/* A parsed request. Options that appear more than once are concatenated in packet order (RFC 3396); the
 * values live in `store`, so the struct owns everything it points to (no pointers into the packet). */
struct dhcp_msg {
	uint8_t op, htype, hlen, hops;
	uint32_t xid;                /* host order */
	uint16_t secs, flags;        /* host order; flags & 0x8000 = broadcast */
	uint8_t ciaddr[4], yiaddr[4], siaddr[4], giaddr[4];
	uint8_t chaddr[16];
	uint8_t overload;            /* option 52: 1 file, 2 sname, 3 both carry options */
	uint8_t missing_end;         /* 1 when an options area ended without option 255 (tolerated) */
	unsigned n_options;          /* option instances seen, pads excluded */
	uint16_t off[256], len[256]; /* value of option c: store[off[c]] .. + len[c]; present when has(c) */
	uint8_t present[32];         /* bitmap of codes seen */
	uint8_t store[DHCP_MAX_PACKET];
};

static inline int dhcp_has(const struct dhcp_msg *m, unsigned code)
{
	return (m->present[code >> 3] >> (code & 7)) & 1;
}
/* Borrowed pointer to option `code`'s value (valid while m lives) and its length; NULL when absent. */
const uint8_t *dhcp_opt(const struct dhcp_msg *m, unsigned code, size_t *len);

/* Parse a BOOTREQUEST or BOOTREPLY. 0 on success; -EINVAL for a malformed packet (shorter than 240 bytes,
 * an option running past its area, a known option of the wrong length, option 52 out of range, a huge
 * datagram) with a static reason in *why; -EBADMSG for a wrong magic cookie; -EPROTONOSUPPORT for a
 * hardware type other than Ethernet (htype 1, hlen 6). Pure. */
int dhcp_parse(const uint8_t *pkt, size_t len, struct dhcp_msg *out, const char **why);

/* Client architecture (option 93, IANA "Processor Architecture Types"; not RFC 4578's swapped 7/9). */
enum {
	ARCH_BIOS = 0, ARCH_EFI_IA32 = 6, ARCH_EFI_X64 = 7, ARCH_EFI_BC = 9, ARCH_EFI_ARM32 = 10,
	ARCH_EFI_ARM64 = 11, ARCH_HTTP_IA32 = 15, ARCH_HTTP_X64 = 16, ARCH_HTTP_ARM32 = 18, ARCH_HTTP_ARM64 = 19,
	ARCH_HTTP_BIOS = 20, ARCH_EFI_RISCV64 = 27, ARCH_HTTP_RISCV64 = 28,
};
/* Short name for logs and the BootFiles keys ("bios", "efi-x64", "http-x64", ...), or NULL when unnamed. */
const char *dhcp_arch_name(unsigned arch);
/* Parse a BootFiles key: a name above or a decimal number. Fills up to 4 codes (efi-x64 names 7 and 9), returns
 * how many, 0 when unknown. */
int dhcp_arch_parse(const char *s, size_t len, uint16_t codes[4]);
/* 1 for architectures that boot over HTTP (the answer is an http:// URL), else 0. */
int dhcp_arch_is_http(unsigned arch);
/* The built-in boot file for an architecture (undionly.kpxe, snponly.efi, ...), or NULL. HTTP arches share their
 * UEFI twin's file. */
const char *dhcp_default_bootfile(unsigned arch);

/* What the server knows when it decides (borrowed strings). */
struct dhcp_policy {
	uint8_t server_ip[4];        /* our address on the interface the request came in on */
	const char *server_ip_text;  /* the same, dotted */
	const char *http_base;       /* "http://a.b.c.d:80/" or "" when HTTP is off */
	int tftp_on;
	unsigned discovery_control;  /* option 43 suboption 6 value; 0 = leave suboption 6 out */
	/* Boot file for an architecture (NULL: the built-in default; "" : none configured, ignore the client). */
	const char *(*bootfile)(void *ctx, unsigned arch);
	void *ctx;
};

enum dhcp_verdict {
	DHCP_ANSWER = 0,
	DHCP_IGNORE_NOT_REQUEST,   /* a BOOTREPLY, or no/unknown message type */
	DHCP_IGNORE_TYPE,          /* a message type a proxy does not answer (RELEASE, DECLINE, ...) */
	DHCP_IGNORE_NOT_PXE,       /* no "PXEClient"/"HTTPClient" vendor class and not iPXE */
	DHCP_IGNORE_OTHER_SERVER,  /* a REQUEST on 67 meant for another server (option 54 is not us) */
	DHCP_IGNORE_NO_BOOTFILE,   /* no boot file for the architecture, or its protocol is off */
};
const char *dhcp_verdict_name(enum dhcp_verdict v);

/* The decision for one request. */
struct dhcp_decision {
	enum dhcp_verdict verdict;
	uint8_t reply_type;     /* DHCP_OFFER or DHCP_ACK */
	unsigned arch;          /* option 93's first entry, else option 60's Arch field, else 0 (BIOS) */
	int is_ipxe;            /* option 77 "iPXE" or option 175 */
	int is_http;            /* an HTTP-boot client: the answer is a URL and names "HTTPClient" */
	char file[256];         /* what is offered: a TFTP name or an http:// URL */
	char vendor[64];        /* option 60 as sent, sanitised, for the log */
};

/* Decide: answer DISCOVER on 67 with OFFER; REQUEST on 4011 with ACK; REQUEST on 67 only when option 54 names
 * us (ACK); INFORM on 4011 with ACK. Only PXE clients (option 60 "PXEClient"/"HTTPClient", or iPXE) are
 * answered. iPXE gets <http_base>autopxe-<mac> (or the TFTP name autopxe-<mac>) so it never loads itself
 * again; firmware gets its architecture's boot file; HTTP-boot clients <http_base><file>. Pure. */
void dhcp_decide(const struct dhcp_msg *req, unsigned port, const struct dhcp_policy *pol, struct dhcp_decision *out);

/* Build the reply to req for decision d into buf[0..cap): BOOTREPLY, yiaddr 0 (a proxy leaves addresses to the
 * real server), siaddr = us, file field (when it fits) plus options 53, 54, 60, 97 (copied when sent), 43 (PXE
 * clients), 66, 67, 255, padded to 300 bytes. Returns the length, or 0 when cap is too small. Pure. */
size_t dhcp_build_reply(const struct dhcp_msg *req, const struct dhcp_decision *d, const struct dhcp_policy *pol,
                        uint8_t *buf, size_t cap);

/* Build a request (tests, fuzz seeds). opts: pre-encoded code/len/value bytes without the end option. */
size_t dhcp_build_request(uint8_t type, uint32_t xid, const uint8_t mac[6], const uint8_t *opts, size_t opts_len,
                          uint8_t *buf, size_t cap);

/* The "never merges a proxy offer" pattern (some UEFI ROMs): after our OFFER the client DISCOVERs again with the
 * same xid and never sends a REQUEST. A small fixed table (oldest entry evicted); zero-initialise. */
#define DHCP_TRACK_SLOTS 256
#define DHCP_TRACK_REPEATS 2    /* DISCOVERs after our offer before the pattern is reported */
#define DHCP_TRACK_WINDOW_MS 120000u
struct dhcp_track_ent {
	uint8_t mac[6];
	uint32_t xid;
	uint64_t last_ms;
	unsigned repeats;
	int offered, requested, reported;
};
struct dhcp_tracker {
	struct dhcp_track_ent e[DHCP_TRACK_SLOTS];
};
/* A DISCOVER from mac/xid arrived (answered or not). Returns 1 exactly once per mac/xid when the pattern is seen
 * (the caller logs it), else 0. */
int dhcp_track_discover(struct dhcp_tracker *t, const uint8_t mac[6], uint32_t xid, uint64_t now_ms);
/* We sent an OFFER to mac/xid. */
void dhcp_track_offer(struct dhcp_tracker *t, const uint8_t mac[6], uint32_t xid, uint64_t now_ms);
/* The client sent a REQUEST (to anyone, on 67 or 4011): it is progressing. */
void dhcp_track_request(struct dhcp_tracker *t, const uint8_t mac[6], uint64_t now_ms);

#endif
