/* dhcp_proto.c - pure proxyDHCP core: DHCP parse/build, PXE client policy, retry tracker (no I/O, no clock). */
#include "dhcp_proto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mac.h"
#include "util.h"

static const uint8_t cookie[4] = {99, 130, 83, 99};

/* Fixed-header offsets (RFC 2131 figure 1). */
enum { O_OP = 0, O_HTYPE = 1, O_HLEN = 2, O_HOPS = 3, O_XID = 4, O_SECS = 8, O_FLAGS = 10, O_CIADDR = 12,
       O_YIADDR = 16, O_SIADDR = 20, O_GIADDR = 24, O_CHADDR = 28, O_SNAME = 44, O_FILE = 108, O_COOKIE = 236 };
#define SNAME_LEN 64u
#define FILE_LEN 128u

/* Known options: the lengths a well-formed value may have (after RFC 3396 concatenation). A value outside them
 * makes the whole packet malformed; unknown options are carried but not checked. */
struct opt_rule {
	uint8_t code;
	uint16_t min, max, step;
};
static const struct opt_rule opt_rules[] = {
    {DHO_REQUESTED_IP, 4, 4, 1},  {DHO_OVERLOAD, 1, 1, 1},      {DHO_MSG_TYPE, 1, 1, 1},
    {DHO_SERVER_ID, 4, 4, 1},     {DHO_MAX_SIZE, 2, 2, 1},      {DHO_VENDOR_CLASS, 1, 1024, 1},
    {DHO_USER_CLASS, 1, 1024, 1}, {DHO_CLIENT_ARCH, 2, 1024, 2}, {DHO_CLIENT_NDI, 3, 3, 1},
    /* 97 is 17 bytes (type 0 + GUID) by RFC 4578; some ROMs send 16 bytes or other types: carried as sent, as
     * long as it fits one option when copied back. */
    {DHO_CLIENT_UUID, 1, 255, 1},
};

static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

const uint8_t *dhcp_opt(const struct dhcp_msg *m, unsigned code, size_t *len)
{
	if (code > 255 || !dhcp_has(m, code))
		return NULL;
	if (len)
		*len = m->len[code];
	return m->store + m->off[code];
}

/* One walk over an options area [p, p+n). Pass 0 counts lengths into tot[]; pass 1 copies values to their
 * places (pos[] advances). Option 52 counts only in the main area (in file/sname it is ignored). */
static int walk(const uint8_t *p, size_t n, int main_area, int pass, struct dhcp_msg *m, uint32_t *tot,
                uint32_t *pos, const char **why)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		if (c == DHO_PAD) {
			i++;
			continue;
		}
		if (c == DHO_END)
			return 0;
		if (i + 1 >= n || i + 2 + (size_t)p[i + 1] > n) {
			*why = "an option runs past the end of its area";
			return -EINVAL;
		}
		size_t l = p[i + 1];
		const uint8_t *v = p + i + 2;
		i += 2 + l;
		if (c == DHO_OVERLOAD && !main_area)
			continue;
		if (pass == 0) {
			tot[c] += (uint32_t)l;
			m->n_options++;
			m->present[c >> 3] |= (uint8_t)(1u << (c & 7));
			if (c == DHO_OVERLOAD && l == 1)
				m->overload = v[0];
		} else {
			memcpy(m->store + pos[c], v, l);
			pos[c] += (uint32_t)l;
		}
	}
	if (pass == 0)
		m->missing_end = 1; /* no option 255: tolerated (several PXE ROMs end on padding) */
	return 0;
}

/* Walk every area in RFC 2131's order: options, then file (overload & 1), then sname (overload & 2). */
static int walk_all(const uint8_t *pkt, size_t len, int pass, struct dhcp_msg *m, uint32_t *tot, uint32_t *pos,
                    const char **why)
{
	int rc = walk(pkt + DHCP_MIN_LEN, len - DHCP_MIN_LEN, 1, pass, m, tot, pos, why);
	if (rc)
		return rc;
	if (pass == 0 && dhcp_has(m, DHO_OVERLOAD) && (tot[DHO_OVERLOAD] != 1 || m->overload < 1 || m->overload > 3)) {
		*why = "option 52 (overload) is not 1, 2 or 3";
		return -EINVAL;
	}
	if ((m->overload & 1) && (rc = walk(pkt + O_FILE, FILE_LEN, 0, pass, m, tot, pos, why)) != 0)
		return rc;
	if ((m->overload & 2) && (rc = walk(pkt + O_SNAME, SNAME_LEN, 0, pass, m, tot, pos, why)) != 0)
		return rc;
	return 0;
}

int dhcp_parse(const uint8_t *pkt, size_t len, struct dhcp_msg *m, const char **why)
{
	static const char *dummy;
	if (!why)
		why = &dummy;
	*why = NULL;
	memset(m, 0, offsetof(struct dhcp_msg, store));
	if (len < DHCP_MIN_LEN) {
		*why = "shorter than a BOOTP header and magic cookie";
		return -EINVAL;
	}
	if (len > DHCP_MAX_PACKET) {
		*why = "larger than any DHCP packet autopxe accepts";
		return -EINVAL;
	}
	if (memcmp(pkt + O_COOKIE, cookie, 4) != 0) {
		*why = "wrong magic cookie (BOOTP without DHCP options)";
		return -EBADMSG;
	}
	if (pkt[O_HTYPE] != 1 || pkt[O_HLEN] != 6) {
		*why = "hardware type is not Ethernet";
		return -EPROTONOSUPPORT;
	}
	m->op = pkt[O_OP];
	m->htype = pkt[O_HTYPE];
	m->hlen = pkt[O_HLEN];
	m->hops = pkt[O_HOPS];
	m->xid = get32(pkt + O_XID);
	m->secs = get16(pkt + O_SECS);
	m->flags = get16(pkt + O_FLAGS);
	memcpy(m->ciaddr, pkt + O_CIADDR, 4);
	memcpy(m->yiaddr, pkt + O_YIADDR, 4);
	memcpy(m->siaddr, pkt + O_SIADDR, 4);
	memcpy(m->giaddr, pkt + O_GIADDR, 4);
	memcpy(m->chaddr, pkt + O_CHADDR, 16);

	uint32_t tot[256] = {0}, pos[256];
	int rc = walk_all(pkt, len, 0, m, tot, pos, why);
	if (rc)
		return rc;
	uint32_t at = 0;
	for (unsigned c = 0; c < 256; c++) {
		pos[c] = at;
		m->off[c] = (uint16_t)at;
		m->len[c] = (uint16_t)tot[c];
		at += tot[c];
	}
	/* at <= len - 240 + 192 < DHCP_MAX_PACKET: every stored byte came from one of the areas. */
	for (size_t i = 0; i < ARRAY_SIZE(opt_rules); i++) {
		const struct opt_rule *r = &opt_rules[i];
		if (!dhcp_has(m, r->code))
			continue;
		uint32_t l = tot[r->code];
		if (l < r->min || l > r->max || l % r->step) {
			*why = "a known option has a length it cannot have";
			return -EINVAL;
		}
	}
	rc = walk_all(pkt, len, 1, m, tot, pos, why);
	return rc;
}

/* ---- architectures ---- */

struct arch_def {
	uint16_t code;
	const char *name;
	int http;
	uint16_t twin; /* the UEFI arch whose boot file an HTTP arch shares */
};
static const struct arch_def arches[] = {
    {ARCH_BIOS, "bios", 0, 0},
    {ARCH_EFI_IA32, "efi-ia32", 0, 0},
    {ARCH_EFI_X64, "efi-x64", 0, 0},
    {ARCH_EFI_BC, "efi-x64", 0, 0}, /* 9: RFC 4578 says "EFI BC", IANA and real x86-64 firmware say x86-64 */
    {ARCH_EFI_ARM32, "efi-arm32", 0, 0},
    {ARCH_EFI_ARM64, "efi-arm64", 0, 0},
    {ARCH_HTTP_IA32, "http-ia32", 1, ARCH_EFI_IA32},
    {ARCH_HTTP_X64, "http-x64", 1, ARCH_EFI_X64},
    {ARCH_HTTP_ARM32, "http-arm32", 1, ARCH_EFI_ARM32},
    {ARCH_HTTP_ARM64, "http-arm64", 1, ARCH_EFI_ARM64},
    {ARCH_HTTP_BIOS, "http-bios", 1, ARCH_BIOS},
    {ARCH_EFI_RISCV64, "efi-riscv64", 0, 0},
    {ARCH_HTTP_RISCV64, "http-riscv64", 1, ARCH_EFI_RISCV64},
};

static const struct arch_def *arch_find(unsigned code)
{
	for (size_t i = 0; i < ARRAY_SIZE(arches); i++)
		if (arches[i].code == code)
			return &arches[i];
	return NULL;
}

const char *dhcp_arch_name(unsigned arch)
{
	const struct arch_def *a = arch_find(arch);
	return a ? a->name : NULL;
}

int dhcp_arch_is_http(unsigned arch)
{
	const struct arch_def *a = arch_find(arch);
	return a && a->http;
}

int dhcp_arch_parse(const char *s, size_t len, uint16_t codes[4])
{
	int n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(arches) && n < 4; i++)
		if (strlen(arches[i].name) == len && strncasecmp(arches[i].name, s, len) == 0)
			codes[n++] = arches[i].code;
	if (n)
		return n;
	char tmp[8];
	unsigned long long v;
	if (len == 0 || len >= sizeof tmp)
		return 0;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (parse_uint(tmp, 0, 65535, &v) != 0)
		return 0;
	codes[0] = (uint16_t)v;
	return 1;
}

const char *dhcp_default_bootfile(unsigned arch)
{
	const struct arch_def *a = arch_find(arch);
	if (a && a->http)
		arch = a->twin;
	switch (arch) {
	case ARCH_BIOS: return "undionly.kpxe";
	case ARCH_EFI_X64:
	case ARCH_EFI_BC: return "snponly.efi";
	case ARCH_EFI_IA32: return "snponly-ia32.efi";
	case ARCH_EFI_ARM64: return "snponly-arm64.efi";
	default: return NULL;
	}
}

/* ---- policy ---- */

static const char *const verdict_names[] = {
    [DHCP_ANSWER] = "answer",
    [DHCP_IGNORE_NOT_REQUEST] = "not a DHCP request",
    [DHCP_IGNORE_TYPE] = "message type not answered by a proxy",
    [DHCP_IGNORE_NOT_PXE] = "not a PXE client",
    [DHCP_IGNORE_OTHER_SERVER] = "REQUEST for another server",
    [DHCP_IGNORE_NO_BOOTFILE] = "no boot file for this client",
};

const char *dhcp_verdict_name(enum dhcp_verdict v)
{
	return (unsigned)v < ARRAY_SIZE(verdict_names) ? verdict_names[v] : "?";
}

static int has_prefix(const uint8_t *v, size_t l, const char *p)
{
	size_t n = strlen(p);
	return l >= n && memcmp(v, p, n) == 0;
}

/* iPXE sends option 77 as the bare string "iPXE"; RFC 3004 clients send length-prefixed entries. */
static int user_class_is_ipxe(const uint8_t *v, size_t l)
{
	if (l == 4 && memcmp(v, "iPXE", 4) == 0)
		return 1;
	for (size_t i = 0; i < l;) {
		size_t n = v[i];
		if (n == 0 || i + 1 + n > l)
			return 0;
		if (n == 4 && memcmp(v + i + 1, "iPXE", 4) == 0)
			return 1;
		i += 1 + n;
	}
	return 0;
}

/* "PXEClient:Arch:00007:UNDI:003016": the Arch field, or -1. iPXE (and some ROMs) send only "PXEClient". */
static int vendor_arch(const uint8_t *v, size_t l)
{
	static const char key[] = ":Arch:";
	for (size_t i = 0; i + sizeof key - 1 + 5 <= l; i++) {
		if (memcmp(v + i, key, sizeof key - 1) != 0)
			continue;
		unsigned a = 0;
		for (size_t j = 0; j < 5; j++) {
			uint8_t ch = v[i + sizeof key - 1 + j];
			if (ch < '0' || ch > '9')
				return -1;
			a = a * 10 + (unsigned)(ch - '0');
		}
		return a <= 65535 ? (int)a : -1;
	}
	return -1;
}

void dhcp_decide(const struct dhcp_msg *req, unsigned port, const struct dhcp_policy *pol, struct dhcp_decision *d)
{
	memset(d, 0, sizeof *d);
	size_t l60 = 0, l77 = 0, l93 = 0, l54 = 0;
	const uint8_t *v53 = dhcp_opt(req, DHO_MSG_TYPE, NULL);
	const uint8_t *v60 = dhcp_opt(req, DHO_VENDOR_CLASS, &l60);
	const uint8_t *v77 = dhcp_opt(req, DHO_USER_CLASS, &l77);
	const uint8_t *v93 = dhcp_opt(req, DHO_CLIENT_ARCH, &l93);
	const uint8_t *v54 = dhcp_opt(req, DHO_SERVER_ID, &l54);
	if (v60)
		sanitize(v60, l60 > 60 ? 60 : l60, d->vendor, sizeof d->vendor);
	if (req->op != 1 || !v53) {
		d->verdict = DHCP_IGNORE_NOT_REQUEST;
		return;
	}
	d->is_ipxe = (v77 && user_class_is_ipxe(v77, l77)) || dhcp_has(req, DHO_IPXE_ENCAP);
	int pxe = v60 && (has_prefix(v60, l60, "PXEClient") || has_prefix(v60, l60, "HTTPClient"));
	if (v93 && l93 >= 2)
		d->arch = get16(v93);
	else if (v60 && vendor_arch(v60, l60) >= 0)
		d->arch = (unsigned)vendor_arch(v60, l60);
	d->is_http = !d->is_ipxe && ((v60 && has_prefix(v60, l60, "HTTPClient")) || dhcp_arch_is_http(d->arch));
	if (!pxe && !d->is_ipxe) {
		d->verdict = DHCP_IGNORE_NOT_PXE;
		return;
	}
	uint8_t type = v53[0];
	if (type == DHCP_DISCOVER && port != PXE_BINL_PORT) {
		d->reply_type = DHCP_OFFER;
	} else if ((type == DHCP_REQUEST || type == DHCP_INFORM) && port == PXE_BINL_PORT) {
		d->reply_type = DHCP_ACK;
	} else if (type == DHCP_REQUEST) {
		/* On 67 a REQUEST names the server it accepts: the real DHCP server's, normally. */
		if (!v54 || l54 != 4 || memcmp(v54, pol->server_ip, 4) != 0) {
			d->verdict = DHCP_IGNORE_OTHER_SERVER;
			return;
		}
		d->reply_type = DHCP_ACK;
	} else {
		d->verdict = DHCP_IGNORE_TYPE;
		return;
	}

	const char *base = pol->http_base ? pol->http_base : "";
	int n;
	if (d->is_ipxe) {
		char hex[13];
		mac_hexraw(req->chaddr, hex);
		if (*base)
			n = snprintf(d->file, sizeof d->file, "%sautopxe-%s", base, hex);
		else if (pol->tftp_on)
			n = snprintf(d->file, sizeof d->file, "autopxe-%s", hex);
		else
			n = -1;
	} else {
		const char *f = pol->bootfile ? pol->bootfile(pol->ctx, d->arch) : NULL;
		if (!f)
			f = dhcp_default_bootfile(d->arch);
		if (!f || !*f)
			n = -1;
		else if (!strncmp(f, "http://", 7) || !strncmp(f, "https://", 8))
			n = snprintf(d->file, sizeof d->file, "%s", f);
		else if (d->is_http)
			n = *base ? snprintf(d->file, sizeof d->file, "%s%s", base, f[0] == '/' ? f + 1 : f) : -1;
		else
			n = pol->tftp_on ? snprintf(d->file, sizeof d->file, "%s", f) : -1;
	}
	if (n <= 0 || (size_t)n >= sizeof d->file) {
		d->file[0] = '\0';
		d->verdict = DHCP_IGNORE_NO_BOOTFILE;
		return;
	}
	d->verdict = DHCP_ANSWER;
}

/* ---- building ---- */

struct wbuf {
	uint8_t *p;
	size_t cap, len;
	int overflow;
};

static void put(struct wbuf *w, const void *v, size_t n)
{
	if (w->overflow || n > w->cap - w->len) {
		w->overflow = 1;
		return;
	}
	memcpy(w->p + w->len, v, n);
	w->len += n;
}

static void put_opt(struct wbuf *w, uint8_t code, const void *v, size_t n)
{
	if (n > 255) {
		w->overflow = 1;
		return;
	}
	uint8_t h[2] = {code, (uint8_t)n};
	put(w, h, 2);
	put(w, v, n);
}

static void put_header(struct wbuf *w, uint8_t op, uint32_t xid, uint16_t flags, const uint8_t chaddr[16])
{
	uint8_t h[DHCP_MIN_LEN];
	memset(h, 0, sizeof h);
	h[O_OP] = op;
	h[O_HTYPE] = 1;
	h[O_HLEN] = 6;
	h[O_XID] = (uint8_t)(xid >> 24);
	h[O_XID + 1] = (uint8_t)(xid >> 16);
	h[O_XID + 2] = (uint8_t)(xid >> 8);
	h[O_XID + 3] = (uint8_t)xid;
	h[O_FLAGS] = (uint8_t)(flags >> 8);
	h[O_FLAGS + 1] = (uint8_t)flags;
	memcpy(h + O_CHADDR, chaddr, 16);
	memcpy(h + O_COOKIE, cookie, 4);
	put(w, h, sizeof h);
}

static size_t finish(struct wbuf *w)
{
	uint8_t end = DHO_END;
	put(w, &end, 1);
	while (!w->overflow && w->len < DHCP_BOOTP_MIN)
		put(w, "", 1);
	return w->overflow ? 0 : w->len;
}

size_t dhcp_build_reply(const struct dhcp_msg *req, const struct dhcp_decision *d, const struct dhcp_policy *pol,
                        uint8_t *buf, size_t cap)
{
	if (d->verdict != DHCP_ANSWER)
		return 0;
	struct wbuf w = {buf, cap, 0, 0};
	put_header(&w, 2, req->xid, req->flags, req->chaddr);
	if (w.overflow)
		return 0;
	if (d->reply_type == DHCP_ACK)
		memcpy(buf + O_CIADDR, req->ciaddr, 4);
	memcpy(buf + O_SIADDR, pol->server_ip, 4); /* next-server: the TFTP server, us */
	memcpy(buf + O_GIADDR, req->giaddr, 4);
	size_t fl = strlen(d->file);
	if (fl < FILE_LEN)
		memcpy(buf + O_FILE, d->file, fl); /* PXE ROMs read the file field; iPXE reads either */
	uint8_t t = d->reply_type;
	put_opt(&w, DHO_MSG_TYPE, &t, 1);
	put_opt(&w, DHO_SERVER_ID, pol->server_ip, 4);
	const char *vc = d->is_http ? "HTTPClient" : "PXEClient";
	put_opt(&w, DHO_VENDOR_CLASS, vc, strlen(vc));
	size_t l97;
	const uint8_t *v97 = dhcp_opt(req, DHO_CLIENT_UUID, &l97);
	if (v97)
		put_opt(&w, DHO_CLIENT_UUID, v97, l97);
	if (!d->is_http && !d->is_ipxe) {
		/* PXE vendor options: discovery control (suboption 6). Bit 3 tells the client to take the boot file
		 * from this offer without boot-server discovery or a menu (EDK2's PXE client needs it). iPXE gets no
		 * option 43: with it iPXE would try PXE boot-server discovery. */
		uint8_t v43[4];
		size_t n43 = 0;
		if (pol->discovery_control) {
			v43[n43++] = 6;
			v43[n43++] = 1;
			v43[n43++] = (uint8_t)pol->discovery_control;
		}
		v43[n43++] = DHO_END;
		put_opt(&w, DHO_VENDOR_OPTS, v43, n43);
	}
	if (!d->is_http && strncmp(d->file, "http", 4) != 0 && pol->server_ip_text)
		put_opt(&w, DHO_TFTP_SERVER, pol->server_ip_text, strlen(pol->server_ip_text));
	put_opt(&w, DHO_BOOTFILE, d->file, fl);
	return finish(&w);
}

size_t dhcp_build_request(uint8_t type, uint32_t xid, const uint8_t mac[6], const uint8_t *opts, size_t opts_len,
                          uint8_t *buf, size_t cap)
{
	struct wbuf w = {buf, cap, 0, 0};
	uint8_t ch[16] = {0};
	memcpy(ch, mac, 6);
	put_header(&w, 1, xid, 0x8000, ch);
	put_opt(&w, DHO_MSG_TYPE, &type, 1);
	put(&w, opts, opts_len);
	return finish(&w);
}

/* ---- the "DISCOVER again and again" tracker ---- */

static struct dhcp_track_ent *track_slot(struct dhcp_tracker *t, const uint8_t mac[6], uint32_t xid, uint64_t now,
                                         int create)
{
	struct dhcp_track_ent *old = &t->e[0];
	for (size_t i = 0; i < DHCP_TRACK_SLOTS; i++) {
		struct dhcp_track_ent *e = &t->e[i];
		if (e->last_ms && e->xid == xid && memcmp(e->mac, mac, 6) == 0)
			return e;
		if (e->last_ms < old->last_ms)
			old = e;
	}
	if (!create)
		return NULL;
	memset(old, 0, sizeof *old);
	memcpy(old->mac, mac, 6);
	old->xid = xid;
	old->last_ms = now ? now : 1;
	return old;
}

int dhcp_track_discover(struct dhcp_tracker *t, const uint8_t mac[6], uint32_t xid, uint64_t now)
{
	struct dhcp_track_ent *e = track_slot(t, mac, xid, now, 1);
	if (e->offered && !e->requested && now - e->last_ms <= DHCP_TRACK_WINDOW_MS)
		e->repeats++;
	else if (now - e->last_ms > DHCP_TRACK_WINDOW_MS)
		e->repeats = 0;
	e->last_ms = now ? now : 1;
	if (e->repeats >= DHCP_TRACK_REPEATS && !e->reported) {
		e->reported = 1;
		return 1;
	}
	return 0;
}

void dhcp_track_offer(struct dhcp_tracker *t, const uint8_t mac[6], uint32_t xid, uint64_t now)
{
	track_slot(t, mac, xid, now, 1)->offered = 1;
}

void dhcp_track_request(struct dhcp_tracker *t, const uint8_t mac[6], uint64_t now)
{
	for (size_t i = 0; i < DHCP_TRACK_SLOTS; i++)
		if (t->e[i].last_ms && memcmp(t->e[i].mac, mac, 6) == 0)
			t->e[i].requested = 1;
}
