/* check_dhcp_proto.c - unit tests for the pure proxyDHCP core: parsing (real clients' shapes, malformed packets),
 * the PXE policy, reply building and the repeated-DISCOVER tracker. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dhcp_proto.h"
#include "util.h"

#define OPTS(s) (const uint8_t *)(s), sizeof(s) - 1

static const uint8_t mac1[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t us[4] = {192, 0, 2, 10};

static struct dhcp_policy pol_default(void)
{
	struct dhcp_policy p = {{192, 0, 2, 10}, "192.0.2.10", "http://192.0.2.10:80/", 1, 8, NULL, NULL};
	return p;
}

/* Parse a request built from type + options and decide on port. */
static int decide(uint8_t type, const uint8_t *opts, size_t olen, unsigned port, const struct dhcp_policy *pol,
                  struct dhcp_msg *m, struct dhcp_decision *d)
{
	uint8_t pkt[DHCP_MAX_PACKET];
	size_t n = dhcp_build_request(type, 0x11223344, mac1, opts, olen, pkt, sizeof pkt);
	ck_assert_uint_gt(n, 0);
	const char *why;
	int rc = dhcp_parse(pkt, n, m, &why);
	if (rc)
		return rc;
	dhcp_decide(m, port, pol, d);
	return 0;
}

/* Build the reply and parse it back. */
static size_t reply(const struct dhcp_msg *req, const struct dhcp_decision *d, const struct dhcp_policy *pol,
                    uint8_t *buf, struct dhcp_msg *out)
{
	size_t n = dhcp_build_reply(req, d, pol, buf, DHCP_MAX_PACKET);
	ck_assert_uint_ge(n, DHCP_BOOTP_MIN);
	ck_assert_int_eq(dhcp_parse(buf, n, out, NULL), 0);
	ck_assert_uint_eq(out->op, 2);
	ck_assert_uint_eq(out->xid, 0x11223344);
	ck_assert_mem_eq(out->chaddr, mac1, 6);
	static const uint8_t zero[4] = {0};
	ck_assert_mem_eq(out->yiaddr, zero, 4); /* a proxy never hands out an address */
	ck_assert_mem_eq(out->siaddr, us, 4);
	size_t l;
	const uint8_t *sid = dhcp_opt(out, DHO_SERVER_ID, &l);
	ck_assert_ptr_nonnull(sid);
	ck_assert_uint_eq(l, 4);
	ck_assert_mem_eq(sid, us, 4);
	return n;
}

static int opt_is(const struct dhcp_msg *m, unsigned code, const char *s)
{
	size_t l;
	const uint8_t *v = dhcp_opt(m, code, &l);
	return v && l == strlen(s) && memcmp(v, s, l) == 0;
}

/* EDK2 (OVMF) PXE DISCOVER: 60 with Arch/UNDI, 93 = 7, 94, 97 (type 0 + GUID), 55, 57. */
#define EDK2_OPTS                                                                                                   \
	"\x39\x02\x05\xc0"                                                                                          \
	"\x37\x0a\x01\x02\x03\x04\x05\x06\x0c\x0d\x0f\x11"                                                          \
	"\x61\x11\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"                              \
	"\x5e\x03\x01\x03\x00"                                                                                      \
	"\x5d\x02\x00\x07"                                                                                          \
	"\x3c\x20PXEClient:Arch:00007:UNDI:003000"

START_TEST(test_edk2_discover)
{
	struct dhcp_msg m, r;
	struct dhcp_decision d;
	struct dhcp_policy p = pol_default();
	uint8_t buf[DHCP_MAX_PACKET];
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS(EDK2_OPTS), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_ANSWER);
	ck_assert_uint_eq(d.reply_type, DHCP_OFFER);
	ck_assert_uint_eq(d.arch, 7);
	ck_assert_int_eq(d.is_ipxe, 0);
	ck_assert_int_eq(d.is_http, 0);
	ck_assert_str_eq(d.file, "snponly.efi");
	ck_assert_str_eq(d.vendor, "PXEClient:Arch:00007:UNDI:003000");
	reply(&m, &d, &p, buf, &r);
	ck_assert_int_eq(buf[242], DHCP_OFFER);
	ck_assert_str_eq((const char *)buf + 108, "snponly.efi");
	ck_assert(opt_is(&r, DHO_VENDOR_CLASS, "PXEClient"));
	ck_assert(opt_is(&r, DHO_BOOTFILE, "snponly.efi"));
	ck_assert(opt_is(&r, DHO_TFTP_SERVER, "192.0.2.10"));
	/* option 97 copied back byte for byte */
	size_t l;
	const uint8_t *v = dhcp_opt(&r, DHO_CLIENT_UUID, &l);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(l, 17);
	ck_assert_mem_eq(v, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10", 17);
	/* option 43: discovery control 8 (take the boot file, no menu), then the end of the suboptions */
	v = dhcp_opt(&r, DHO_VENDOR_OPTS, &l);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(l, 4);
	ck_assert_mem_eq(v, "\x06\x01\x08\xff", 4);
	static const uint8_t zero[4] = {0};
	ck_assert_mem_eq(r.ciaddr, zero, 4);
}
END_TEST

START_TEST(test_discovery_control_configurable)
{
	struct dhcp_msg m, r;
	struct dhcp_decision d;
	struct dhcp_policy p = pol_default();
	uint8_t buf[DHCP_MAX_PACKET];
	size_t l;
	p.discovery_control = 3;
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS(EDK2_OPTS), 67, &p, &m, &d), 0);
	reply(&m, &d, &p, buf, &r);
	ck_assert_mem_eq(dhcp_opt(&r, DHO_VENDOR_OPTS, &l), "\x06\x01\x03\xff", 4);
	p.discovery_control = 0;
	reply(&m, &d, &p, buf, &r);
	const uint8_t *v = dhcp_opt(&r, DHO_VENDOR_OPTS, &l);
	ck_assert_uint_eq(l, 1);
	ck_assert_uint_eq(v[0], 0xff);
}
END_TEST

/* Some Intel PXE ROMs send neither 94 nor 97, and BIOS arch 0. */
START_TEST(test_intel_rom_without_94_97)
{
	struct dhcp_msg m, r;
	struct dhcp_decision d;
	struct dhcp_policy p = pol_default();
	uint8_t buf[DHCP_MAX_PACKET];
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x5d\x02\x00\x00\x3c\x20PXEClient:Arch:00000:UNDI:002001"), 67, &p,
	                        &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_ANSWER);
	ck_assert_uint_eq(d.arch, 0);
	ck_assert_str_eq(d.file, "undionly.kpxe");
	reply(&m, &d, &p, buf, &r);
	ck_assert(!dhcp_has(&r, DHO_CLIENT_UUID));
	ck_assert(dhcp_has(&r, DHO_VENDOR_OPTS));
	/* without option 93 the Arch field of option 60 decides */
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x3c\x20PXEClient:Arch:00007:UNDI:003016"), 67, &p, &m, &d), 0);
	ck_assert_uint_eq(d.arch, 7);
	ck_assert_str_eq(d.file, "snponly.efi");
}
END_TEST

/* iPXE: option 60 without the Arch/UNDI fields, 77 "iPXE", 175; its REQUEST to 4011 after the real ACK. */
#define IPXE_OPTS                                                                                                   \
	"\x3c\x09PXEClient"                                                                                         \
	"\x4d\x04iPXE"                                                                                              \
	"\xaf\x08\xb1\x05\x01\x10\xec\x10\x00\xeb\x01\x01"

START_TEST(test_ipxe_request_4011)
{
	struct dhcp_msg m, r;
	struct dhcp_decision d;
	struct dhcp_policy p = pol_default();
	uint8_t pkt[DHCP_MAX_PACKET], buf[DHCP_MAX_PACKET];
	size_t n = dhcp_build_request(DHCP_REQUEST, 0x11223344, mac1, OPTS(IPXE_OPTS), pkt, sizeof pkt);
	memcpy(pkt + 12, "\xc0\x00\x02\x65", 4); /* ciaddr: iPXE has its address by now */
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, NULL), 0);
	dhcp_decide(&m, 4011, &p, &d);
	ck_assert_int_eq(d.verdict, DHCP_ANSWER);
	ck_assert_uint_eq(d.reply_type, DHCP_ACK);
	ck_assert_int_eq(d.is_ipxe, 1);
	ck_assert_uint_eq(d.arch, 0);
	ck_assert_str_eq(d.file, "http://192.0.2.10:80/autopxe-525400123456");
	reply(&m, &d, &p, buf, &r);
	ck_assert_int_eq(buf[242], DHCP_ACK);
	ck_assert_mem_eq(r.ciaddr, "\xc0\x00\x02\x65", 4);
	ck_assert(!dhcp_has(&r, DHO_VENDOR_OPTS)); /* would send iPXE into boot-server discovery */
	ck_assert(!dhcp_has(&r, DHO_TFTP_SERVER));
	ck_assert(opt_is(&r, DHO_BOOTFILE, "http://192.0.2.10:80/autopxe-525400123456"));
	/* its DISCOVER on 67 gets the script too, never the binary */
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS(IPXE_OPTS), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_ANSWER);
	ck_assert_str_eq(d.file, "http://192.0.2.10:80/autopxe-525400123456");
	/* HTTP off: the script's TFTP name */
	p.http_base = "";
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS(IPXE_OPTS), 67, &p, &m, &d), 0);
	ck_assert_str_eq(d.file, "autopxe-525400123456");
	p.tftp_on = 0;
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS(IPXE_OPTS), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_IGNORE_NO_BOOTFILE);
}
END_TEST

START_TEST(test_ipxe_recognised_by_175_or_rfc3004)
{
	struct dhcp_msg m;
	struct dhcp_decision d;
	struct dhcp_policy p = pol_default();
	/* 175 alone, no option 60 at all (iPXE built without the PXE vendor class) */
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\xaf\x03\xb1\x01\x01"), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_ANSWER);
	ck_assert_int_eq(d.is_ipxe, 1);
	/* RFC 3004 user class: length-prefixed entries */
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x4d\x0a\x04" "abcd\x04iPXE\x3c\x09PXEClient"), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.is_ipxe, 1);
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x4d\x05iPXE2\x3c\x09PXEClient"), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.is_ipxe, 0);
	ck_assert_str_eq(d.file, "undionly.kpxe");
}
END_TEST

START_TEST(test_not_pxe_ignored)
{
	struct dhcp_msg m;
	struct dhcp_decision d;
	struct dhcp_policy p = pol_default();
	/* busybox udhcpc and dhclient */
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x3c\x0cudhcp 1.36.1\x37\x03\x01\x03\x06"), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_IGNORE_NOT_PXE);
	ck_assert_str_eq(d.vendor, "udhcp 1.36.1");
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x37\x03\x01\x03\x06\x0c\x04host"), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_IGNORE_NOT_PXE);
	ck_assert_int_eq(decide(DHCP_REQUEST, OPTS("\x36\x04\xc0\x00\x02\x01"), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_IGNORE_NOT_PXE);
	ck_assert_uint_eq(dhcp_build_reply(&m, &d, &p, (uint8_t[600]){0}, 600), 0);
	/* "PXEClient" must be the prefix */
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x3c\x0aXPXEClient"), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_IGNORE_NOT_PXE);
}
END_TEST

START_TEST(test_request_on_67)
{
	struct dhcp_msg m;
	struct dhcp_decision d;
	struct dhcp_policy p = pol_default();
	/* the firmware's REQUEST to the real DHCP server (192.0.2.1): not ours */
	ck_assert_int_eq(decide(DHCP_REQUEST, OPTS("\x36\x04\xc0\x00\x02\x01\x3c\x09PXEClient\x5d\x02\x00\x07"), 67, &p,
	                        &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_IGNORE_OTHER_SERVER);
	ck_assert_int_eq(decide(DHCP_REQUEST, OPTS("\x3c\x09PXEClient\x5d\x02\x00\x07"), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_IGNORE_OTHER_SERVER);
	/* naming us: answered */
	ck_assert_int_eq(decide(DHCP_REQUEST, OPTS("\x36\x04\xc0\x00\x02\x0a\x3c\x09PXEClient\x5d\x02\x00\x07"), 67, &p,
	                        &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_ANSWER);
	ck_assert_uint_eq(d.reply_type, DHCP_ACK);
	/* DISCOVER on 4011, RELEASE and DECLINE anywhere: not answered */
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x3c\x09PXEClient"), 4011, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_IGNORE_TYPE);
	ck_assert_int_eq(decide(DHCP_RELEASE, OPTS("\x3c\x09PXEClient"), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_IGNORE_TYPE);
	ck_assert_int_eq(decide(DHCP_INFORM, OPTS("\x3c\x09PXEClient"), 4011, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_ANSWER);
}
END_TEST

static const char *map_files(void *ctx, unsigned arch)
{
	(void)ctx;
	if (arch == 7)
		return "ipxe.efi";
	if (arch == 11)
		return "";
	if (arch == 2)
		return "ia64.efi";
	return NULL;
}

START_TEST(test_arch_table_and_bootfiles)
{
	struct dhcp_msg m;
	struct dhcp_decision d;
	struct dhcp_policy p = pol_default();
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x3c\x09PXEClient\x5d\x02\x00\x09"), 67, &p, &m, &d), 0);
	ck_assert_str_eq(d.file, "snponly.efi"); /* 9 is x86-64 on real firmware */
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x3c\x09PXEClient\x5d\x02\x00\x06"), 67, &p, &m, &d), 0);
	ck_assert_str_eq(d.file, "snponly-ia32.efi");
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x3c\x09PXEClient\x5d\x02\x00\x0b"), 67, &p, &m, &d), 0);
	ck_assert_str_eq(d.file, "snponly-arm64.efi");
	/* unknown arch with no default: ignored */
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x3c\x09PXEClient\x5d\x02\x00\x02"), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_IGNORE_NO_BOOTFILE);
	/* 93 may list several arches: the first counts */
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x3c\x09PXEClient\x5d\x04\x00\x07\x00\x00"), 67, &p, &m, &d), 0);
	ck_assert_uint_eq(d.arch, 7);
	p.bootfile = map_files;
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x3c\x09PXEClient\x5d\x02\x00\x07"), 67, &p, &m, &d), 0);
	ck_assert_str_eq(d.file, "ipxe.efi");
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x3c\x09PXEClient\x5d\x02\x00\x0b"), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_IGNORE_NO_BOOTFILE);
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x3c\x09PXEClient\x5d\x02\x00\x02"), 67, &p, &m, &d), 0);
	ck_assert_str_eq(d.file, "ia64.efi");
	/* TFTP off: firmware PXE cannot be served */
	p.tftp_on = 0;
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x3c\x09PXEClient\x5d\x02\x00\x00"), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_IGNORE_NO_BOOTFILE);

	uint16_t c[4];
	ck_assert_int_eq(dhcp_arch_parse("efi-x64", 7, c), 2);
	ck_assert_uint_eq(c[0], 7);
	ck_assert_uint_eq(c[1], 9);
	ck_assert_int_eq(dhcp_arch_parse("BIOS", 4, c), 1);
	ck_assert_uint_eq(c[0], 0);
	ck_assert_int_eq(dhcp_arch_parse("16", 2, c), 1);
	ck_assert_uint_eq(c[0], 16);
	ck_assert_int_eq(dhcp_arch_parse("65536", 5, c), 0);
	ck_assert_int_eq(dhcp_arch_parse("efi", 3, c), 0);
	ck_assert_str_eq(dhcp_arch_name(11), "efi-arm64");
	ck_assert_ptr_null(dhcp_arch_name(1));
}
END_TEST

START_TEST(test_http_boot_client)
{
	struct dhcp_msg m, r;
	struct dhcp_decision d;
	struct dhcp_policy p = pol_default();
	uint8_t buf[DHCP_MAX_PACKET];
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x5d\x02\x00\x10\x3c\x21HTTPClient:Arch:00016:UNDI:003001"), 67, &p,
	                        &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_ANSWER);
	ck_assert_int_eq(d.is_http, 1);
	ck_assert_str_eq(d.file, "http://192.0.2.10:80/snponly.efi");
	reply(&m, &d, &p, buf, &r);
	ck_assert(opt_is(&r, DHO_VENDOR_CLASS, "HTTPClient")); /* UEFI HTTP boot requires it */
	ck_assert(!dhcp_has(&r, DHO_VENDOR_OPTS));
	ck_assert(!dhcp_has(&r, DHO_TFTP_SERVER));
	p.http_base = "";
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS("\x5d\x02\x00\x10\x3c\x0aHTTPClient"), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_IGNORE_NO_BOOTFILE);
}
END_TEST

START_TEST(test_reply_long_url_and_small_cap)
{
	struct dhcp_msg m, r;
	struct dhcp_decision d;
	struct dhcp_policy p = pol_default();
	uint8_t buf[DHCP_MAX_PACKET];
	char base[200];
	memset(base, 'a', sizeof base);
	memcpy(base, "http://", 7);
	strcpy(base + 150, ".example/");
	p.http_base = base;
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS(IPXE_OPTS), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_ANSWER);
	ck_assert_uint_gt(strlen(d.file), 128);
	reply(&m, &d, &p, buf, &r);
	ck_assert_uint_eq(buf[108], 0); /* too long for the file field: option 67 only */
	ck_assert(opt_is(&r, DHO_BOOTFILE, d.file));
	ck_assert_uint_eq(dhcp_build_reply(&m, &d, &p, buf, 250), 0);
	ck_assert_uint_eq(dhcp_build_reply(&m, &d, &p, buf, 10), 0);
	/* a base too long for the file name: not answered rather than cut */
	char huge[400];
	memset(huge, 'b', sizeof huge - 1);
	huge[sizeof huge - 1] = '\0';
	p.http_base = huge;
	ck_assert_int_eq(decide(DHCP_DISCOVER, OPTS(IPXE_OPTS), 67, &p, &m, &d), 0);
	ck_assert_int_eq(d.verdict, DHCP_IGNORE_NO_BOOTFILE);
}
END_TEST

/* ---- malformed input ---- */

static size_t base_pkt(uint8_t *pkt, const uint8_t *opts, size_t olen)
{
	return dhcp_build_request(DHCP_DISCOVER, 1, mac1, opts, olen, pkt, DHCP_MAX_PACKET);
}

START_TEST(test_truncated_every_length)
{
	uint8_t pkt[DHCP_MAX_PACKET];
	size_t n = base_pkt(pkt, OPTS(EDK2_OPTS));
	struct dhcp_msg m;
	const char *why;
	for (size_t l = 0; l < n; l++) {
		/* copy into an exact-size heap block so ASan sees any read past the end */
		uint8_t *b = malloc(l ? l : 1);
		memcpy(b, pkt, l);
		int rc = dhcp_parse(b, l, &m, &why);
		if (l < DHCP_MIN_LEN) {
			ck_assert_int_eq(rc, -EINVAL);
			ck_assert_ptr_nonnull(why);
		} else {
			ck_assert(rc == 0 || rc == -EINVAL);
		}
		free(b);
	}
	/* the options of EDK2_OPTS end at 240 + 3 + sizeof - 1; cutting inside one is an overflow */
	ck_assert_int_eq(dhcp_parse(pkt, 240 + 3 + 2, &m, &why), -EINVAL);
	ck_assert_str_eq(why, "an option runs past the end of its area");
	/* cut right after an option: tolerated, no end option */
	ck_assert_int_eq(dhcp_parse(pkt, 240 + 3 + 4, &m, &why), 0);
	ck_assert_uint_eq(m.missing_end, 1);
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, &why), 0);
	ck_assert_uint_eq(m.missing_end, 0);
}
END_TEST

START_TEST(test_cookie_htype_size)
{
	uint8_t pkt[DHCP_MAX_PACKET + 8];
	struct dhcp_msg m;
	const char *why;
	size_t n = base_pkt(pkt, OPTS("\x3c\x09PXEClient"));
	pkt[236] = 0x63;
	pkt[239] = 0x64;
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, &why), -EBADMSG);
	n = base_pkt(pkt, OPTS("\x3c\x09PXEClient"));
	pkt[1] = 6; /* IEEE 802 */
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, &why), -EPROTONOSUPPORT);
	pkt[1] = 32; /* InfiniBand: hlen 0, chaddr unused */
	pkt[2] = 0;
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, &why), -EPROTONOSUPPORT);
	pkt[1] = 1;
	pkt[2] = 16;
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, &why), -EPROTONOSUPPORT);
	pkt[2] = 6;
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, &why), 0);
	memset(pkt + n, 0, sizeof pkt - n);
	ck_assert_int_eq(dhcp_parse(pkt, DHCP_MAX_PACKET, &m, &why), 0);
	ck_assert_int_eq(dhcp_parse(pkt, DHCP_MAX_PACKET + 1, &m, &why), -EINVAL);
}
END_TEST

START_TEST(test_bad_known_lengths)
{
	uint8_t pkt[DHCP_MAX_PACKET];
	struct dhcp_msg m;
	const char *why;
	static const struct {
		const char *o;
		size_t n;
	} bad[] = {
	    {"\x5d\x03\x00\x07\x00", 5}, /* 93: odd length */
	    {"\x5d\x00", 2},             /* 93: empty */
	    {"\x36\x03\x01\x02\x03", 5}, /* 54: not 4 bytes */
	    {"\x5e\x02\x01\x02", 4},     /* 94: not 3 bytes */
	    {"\x35\x01\x01", 3},         /* 53 twice: concatenated to 2 bytes */
	    {"\x34\x01\x04", 3},         /* overload 4 */
	    {"\x34\x01\x00", 3},         /* overload 0 */
	    {"\x3c\x00", 2},             /* empty vendor class */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		size_t n = base_pkt(pkt, (const uint8_t *)bad[i].o, bad[i].n);
		ck_assert_msg(dhcp_parse(pkt, n, &m, &why) == -EINVAL, "case %zu", i);
		ck_assert_ptr_nonnull(why);
	}
}
END_TEST

START_TEST(test_overload)
{
	uint8_t pkt[DHCP_MAX_PACKET];
	struct dhcp_msg m;
	const char *why;
	/* overload 3: options continue in file, then sname (RFC 2131 4.1 order) */
	size_t n = base_pkt(pkt, OPTS("\x34\x01\x03\x3c\x03PXE"));
	memcpy(pkt + 108, "\x3c\x06" "Client" "\x5d\x02\x00\x07" "\xff", 13);
	memcpy(pkt + 44, "\x3c\x04:Arc\x61\x02\x00\x01\xff", 11);
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, &why), 0);
	ck_assert_uint_eq(m.overload, 3);
	ck_assert(opt_is(&m, DHO_VENDOR_CLASS, "PXEClient:Arc"));
	size_t l;
	ck_assert_mem_eq(dhcp_opt(&m, DHO_CLIENT_ARCH, &l), "\x00\x07", 2);
	ck_assert(dhcp_has(&m, DHO_CLIENT_UUID));
	/* overload 1: sname is not looked at */
	n = base_pkt(pkt, OPTS("\x34\x01\x01"));
	memcpy(pkt + 108, "\x3c\x09PXEClient\xff", 12);
	memcpy(pkt + 44, "\x61\x02\x00\x01\xff", 5);
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, &why), 0);
	ck_assert(opt_is(&m, DHO_VENDOR_CLASS, "PXEClient"));
	ck_assert(!dhcp_has(&m, DHO_CLIENT_UUID));
	/* an option running past the end of the file field */
	n = base_pkt(pkt, OPTS("\x34\x01\x01"));
	memset(pkt + 108, 0, 128);
	pkt[108 + 125] = 0x3c;
	pkt[108 + 126] = 0x05;
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, &why), -EINVAL);
	/* the same past the end of sname */
	n = base_pkt(pkt, OPTS("\x34\x01\x02"));
	pkt[44 + 63] = 0x3c;
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, &why), -EINVAL);
	/* option 52 inside the overloaded file field is ignored (no recursion) */
	n = base_pkt(pkt, OPTS("\x34\x01\x01"));
	memcpy(pkt + 108, "\x34\x01\x02\x3c\x09PXEClient\xff", 15);
	pkt[44] = 0x3c;
	pkt[45] = 0x7f; /* would overflow sname if it were read */
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, &why), 0);
	ck_assert_uint_eq(m.overload, 1);
	/* without option 52 the file field is a file name, even if it looks like options */
	n = base_pkt(pkt, OPTS("\x3c\x09PXEClient"));
	memcpy(pkt + 108, "\x61\x02\x00\x01\xff", 5);
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, &why), 0);
	ck_assert(!dhcp_has(&m, DHO_CLIENT_UUID));
}
END_TEST

START_TEST(test_concatenation_pads_end)
{
	uint8_t pkt[DHCP_MAX_PACKET];
	struct dhcp_msg m;
	/* RFC 3396: 60 split in two with other options and pads between */
	size_t n = base_pkt(pkt, OPTS("\x3c\x03PXE\x00\x00\x5d\x02\x00\x07\x00\x3c\x06" "Client"));
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, NULL), 0);
	ck_assert(opt_is(&m, DHO_VENDOR_CLASS, "PXEClient"));
	/* after the end option everything is ignored, even garbage */
	n = base_pkt(pkt, OPTS("\x3c\x09PXEClient"));
	pkt[n - 1] = 0x5d; /* finish() padded: overwrite padding with junk after 255 */
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, NULL), 0);
	ck_assert(!dhcp_has(&m, DHO_CLIENT_ARCH));
	ck_assert_uint_eq(m.n_options, 2);
}
END_TEST

START_TEST(test_huge_option_list)
{
	uint8_t pkt[DHCP_MAX_PACKET];
	uint8_t opts[DHCP_MAX_PACKET];
	size_t k = 0;
	/* ~1900 small unknown options plus 60 split into many pieces: still parsed, bounded */
	while (k + 12 < DHCP_MAX_PACKET - 300) {
		opts[k] = (uint8_t)(200 + (k % 50));
		opts[k + 1] = 0;
		k += 2;
		opts[k++] = DHO_VENDOR_CLASS;
		opts[k++] = 1;
		opts[k++] = 'P';
	}
	struct dhcp_msg m;
	size_t n = base_pkt(pkt, opts, k);
	ck_assert_uint_gt(n, 3000);
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, NULL), 0);
	size_t l;
	const uint8_t *v = dhcp_opt(&m, DHO_VENDOR_CLASS, &l);
	ck_assert_uint_gt(l, 500);
	ck_assert_uint_eq(v[l - 1], 'P');
	/* the concatenated 60 is over 1024 bytes in a full packet: refused by the length rule */
	k = 0;
	while (k + 260 < DHCP_MAX_PACKET - 300) {
		opts[k++] = DHO_VENDOR_CLASS;
		opts[k++] = 255;
		memset(opts + k, 'x', 255);
		k += 255;
	}
	n = base_pkt(pkt, opts, k);
	ck_assert_int_eq(dhcp_parse(pkt, n, &m, NULL), -EINVAL);
}
END_TEST

START_TEST(test_tracker)
{
	static struct dhcp_tracker t;
	memset(&t, 0, sizeof t);
	static const uint8_t mac2[6] = {2, 0, 0, 0, 0, 2};
	uint64_t now = 1000;
	/* a ROM that never merges: DISCOVER, offer, DISCOVER, offer, DISCOVER -> reported once */
	ck_assert_int_eq(dhcp_track_discover(&t, mac1, 7, now), 0);
	dhcp_track_offer(&t, mac1, 7, now);
	ck_assert_int_eq(dhcp_track_discover(&t, mac1, 7, now += 4000), 0);
	dhcp_track_offer(&t, mac1, 7, now);
	ck_assert_int_eq(dhcp_track_discover(&t, mac1, 7, now += 8000), 1);
	dhcp_track_offer(&t, mac1, 7, now);
	ck_assert_int_eq(dhcp_track_discover(&t, mac1, 7, now += 16000), 0);
	/* a normal client: REQUEST after the offer -> never reported */
	ck_assert_int_eq(dhcp_track_discover(&t, mac2, 9, now), 0);
	dhcp_track_offer(&t, mac2, 9, now);
	dhcp_track_request(&t, mac2, now);
	ck_assert_int_eq(dhcp_track_discover(&t, mac2, 9, now += 1000), 0);
	ck_assert_int_eq(dhcp_track_discover(&t, mac2, 9, now += 1000), 0);
	/* not offered (we ignored it): never reported */
	ck_assert_int_eq(dhcp_track_discover(&t, mac2, 10, now), 0);
	ck_assert_int_eq(dhcp_track_discover(&t, mac2, 10, now), 0);
	ck_assert_int_eq(dhcp_track_discover(&t, mac2, 10, now), 0);
	/* a new xid is a new boot attempt */
	ck_assert_int_eq(dhcp_track_discover(&t, mac1, 8, now), 0);
	/* many clients: the table evicts the oldest, never overflows */
	for (unsigned i = 0; i < 3 * DHCP_TRACK_SLOTS; i++) {
		uint8_t m[6] = {2, 1, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};
		dhcp_track_discover(&t, m, i, ++now);
		dhcp_track_offer(&t, m, i, now);
	}
}
END_TEST

Suite *dhcp_proto_suite(void)
{
	Suite *s = suite_create("dhcp_proto");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_edk2_discover);
	tcase_add_test(tc, test_discovery_control_configurable);
	tcase_add_test(tc, test_intel_rom_without_94_97);
	tcase_add_test(tc, test_ipxe_request_4011);
	tcase_add_test(tc, test_ipxe_recognised_by_175_or_rfc3004);
	tcase_add_test(tc, test_not_pxe_ignored);
	tcase_add_test(tc, test_request_on_67);
	tcase_add_test(tc, test_arch_table_and_bootfiles);
	tcase_add_test(tc, test_http_boot_client);
	tcase_add_test(tc, test_reply_long_url_and_small_cap);
	tcase_add_test(tc, test_truncated_every_length);
	tcase_add_test(tc, test_cookie_htype_size);
	tcase_add_test(tc, test_bad_known_lengths);
	tcase_add_test(tc, test_overload);
	tcase_add_test(tc, test_concatenation_pads_end);
	tcase_add_test(tc, test_huge_option_list);
	tcase_add_test(tc, test_tracker);
	suite_add_tcase(s, tc);
	return s;
}
