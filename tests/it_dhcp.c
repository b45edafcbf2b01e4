/* it_dhcp.c - integration test: the real server's proxyDHCP on loopback (OFFER on the DHCP port, ACK on the PXE
 * boot-server port, silence for non-PXE and malformed packets, counters, the repeated-DISCOVER log line). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include "dhcp_proto.h"
#include "itest.h"

#define OPTS(s) (const uint8_t *)(s), sizeof(s) - 1

static struct itest_server srv;
static unsigned dport, bport;
static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};

static void setup(void)
{
	ck_assert_int_eq(itest_prepare(&srv), 0);
	dport = itest_free_port(SOCK_DGRAM);
	do
		bport = itest_free_port(SOCK_DGRAM);
	while (bport == dport);
}

static void teardown(void)
{
	int rc = itest_stop(&srv);
	ck_assert_msg(rc == 0, "server exit status %d (see %s)", rc, srv.log);
	itest_cleanup(&srv);
}

static void start_with(const char *ifaces, const char *on, const char *const *args)
{
	char cfg[1024];
	snprintf(cfg, sizeof cfg,
	         "version: 1\nRootfsPath: @ROOTFS@\nCmdlineTemplates:\n  overlayfs: root=/dev/nfs\nWatch: false\n"
	         "%s\n%s\nProxyDHCPPort: %u\nPXEBootServerPort: %u\n"
	         "BootFiles:\n  efi-x64: ipxe.efi\n",
	         on, ifaces, dport, bport);
	ck_assert_int_eq(itest_write_config(&srv, cfg), 0);
	ck_assert_msg(itest_start(&srv, 1, 1, args) == 0, "server did not start (log %s)", srv.log);
}

static void start(const char *ifaces) { start_with(ifaces, "ProxyDHCP: true", NULL); }

/* Send one packet to 127.0.0.1:port from a fresh socket; wait up to wait_ms for an answer. Reply length or 0. */
static size_t exchange(unsigned port, const uint8_t *pkt, size_t len, uint8_t *rep, size_t cap, int wait_ms)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq((int)sendto(fd, pkt, len, 0, (struct sockaddr *)&a, sizeof a), (int)len);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t n = 0;
	if (poll(&p, 1, wait_ms) == 1) {
		ssize_t r = recv(fd, rep, cap, 0);
		n = r > 0 ? (size_t)r : 0;
	}
	close(fd);
	return n;
}

/* A /metrics sample by its exact name (labels included); -1 when absent. */
static long long metric(const char *name) { return itest_metric(&srv, name); }

#define EDK2 "\x5d\x02\x00\x07\x5e\x03\x01\x03\x00\x3c\x20PXEClient:Arch:00007:UNDI:003000"

START_TEST(dhcp_offer_ack_and_silence)
{
	start("ProxyDHCPInterfaces: [lo]");
	uint8_t pkt[DHCP_MAX_PACKET], rep[DHCP_MAX_PACKET];
	static struct dhcp_msg m;

	/* EDK2-shaped DISCOVER: an OFFER with the configured UEFI file, our address as next-server */
	size_t n = dhcp_build_request(DHCP_DISCOVER, 0x01020304, mac, OPTS(EDK2), pkt, sizeof pkt);
	size_t r = exchange(dport, pkt, n, rep, sizeof rep, 5000);
	ck_assert_msg(r > 0, "no OFFER (log %s)", srv.log);
	ck_assert_int_eq(dhcp_parse(rep, r, &m, NULL), 0);
	ck_assert_uint_eq(m.op, 2);
	ck_assert_uint_eq(m.xid, 0x01020304);
	ck_assert_mem_eq(m.siaddr, "\x7f\x00\x00\x01", 4);
	ck_assert_mem_eq(m.yiaddr, "\0\0\0\0", 4);
	ck_assert_uint_eq(dhcp_opt(&m, DHO_MSG_TYPE, NULL)[0], DHCP_OFFER);
	ck_assert_str_eq((const char *)rep + 108, "ipxe.efi");
	ck_assert(dhcp_has(&m, DHO_VENDOR_OPTS));
	ck_assert(itest_log_contains(&srv, "proxyDHCP: OFFER to 52:54:00:ab:cd:ef (arch 7 efi-x64, vendor class "
	                                   "'PXEClient:Arch:00007:UNDI:003000') on lo"));

	/* iPXE's REQUEST to the boot-server port: an ACK with this machine's menu URL */
	n = dhcp_build_request(DHCP_REQUEST, 0x0a0b0c0d, mac, OPTS("\x3c\x09PXEClient\x4d\x04iPXE\xaf\x03\xb1\x01\x01"),
	                       pkt, sizeof pkt);
	r = exchange(bport, pkt, n, rep, sizeof rep, 5000);
	ck_assert_msg(r > 0, "no ACK on the boot-server port (log %s)", srv.log);
	ck_assert_int_eq(dhcp_parse(rep, r, &m, NULL), 0);
	ck_assert_uint_eq(dhcp_opt(&m, DHO_MSG_TYPE, NULL)[0], DHCP_ACK);
	char want[128];
	snprintf(want, sizeof want, "http://127.0.0.1:%u/autopxe-525400abcdef", srv.http_port);
	ck_assert_str_eq((const char *)rep + 108, want);
	/* ... and that URL is this machine's menu */
	char *menu = NULL;
	ck_assert_int_eq(itest_run(&menu, "curl -sS --fail %s", want), 0);
	ck_assert_msg(strncmp(menu, "#!ipxe", 6) == 0, "not a menu: %.60s", menu);
	free(menu);

	/* a plain DHCP client (udhcpc): nothing, counted */
	n = dhcp_build_request(DHCP_DISCOVER, 5, mac, OPTS("\x3c\x0cudhcp 1.36.1\x37\x03\x01\x03\x06"), pkt, sizeof pkt);
	ck_assert_uint_eq(exchange(dport, pkt, n, rep, sizeof rep, 700), 0);
	/* the firmware's REQUEST to the real DHCP server: nothing */
	n = dhcp_build_request(DHCP_REQUEST, 6, mac, OPTS("\x36\x04\xc0\x00\x02\x01" EDK2), pkt, sizeof pkt);
	ck_assert_uint_eq(exchange(dport, pkt, n, rep, sizeof rep, 700), 0);
	/* malformed: truncated, wrong cookie, option overflow */
	n = dhcp_build_request(DHCP_DISCOVER, 7, mac, OPTS(EDK2), pkt, sizeof pkt);
	ck_assert_uint_eq(exchange(dport, pkt, 200, rep, sizeof rep, 500), 0);
	pkt[239] ^= 1;
	ck_assert_uint_eq(exchange(dport, pkt, n, rep, sizeof rep, 500), 0);
	pkt[239] ^= 1;
	pkt[244] = 0xf0; /* option 93's length runs past the packet */
	ck_assert_uint_eq(exchange(dport, pkt, n, rep, sizeof rep, 500), 0);

	ck_assert_int_eq(metric("autopxe_dhcp_replies_total{type=\"offer\"}"), 1);
	ck_assert_int_eq(metric("autopxe_dhcp_replies_total{type=\"ack\"}"), 1);
	ck_assert_int_eq(metric("autopxe_dhcp_ignored_total{reason=\"not_pxe\"}"), 1);
	ck_assert_int_eq(metric("autopxe_dhcp_ignored_total{reason=\"not_for_us\"}"), 1);
	ck_assert_int_eq(metric("autopxe_dhcp_malformed_total"), 3);
	ck_assert(itest_log_contains(&srv, "proxyDHCP: dropped a malformed packet (200 bytes) from 127.0.0.1:"));
	ck_assert(itest_log_contains(&srv, "wrong magic cookie"));
	ck_assert(itest_log_contains(&srv, "an option runs past the end of its area"));
}
END_TEST

START_TEST(dhcp_repeated_discover_logged_once)
{
	start("ProxyDHCPInterfaces: [lo]");
	uint8_t pkt[DHCP_MAX_PACKET], rep[DHCP_MAX_PACKET];
	size_t n = dhcp_build_request(DHCP_DISCOVER, 0x77, mac, OPTS(EDK2), pkt, sizeof pkt);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_gt(exchange(dport, pkt, n, rep, sizeof rep, 5000), 0);
	ck_assert(itest_log_contains(&srv, "proxyDHCP: 52:54:00:ab:cd:ef DISCOVERs again (xid 00000077) after our offer "
	                                   "and never sends a REQUEST"));
	ck_assert(itest_log_contains(&srv, "options 66/67"));
	ck_assert_int_eq(metric("autopxe_dhcp_no_merge_total"), 1);
}
END_TEST

START_TEST(dhcp_default_interfaces_skip_loopback)
{
	start("");
	uint8_t pkt[DHCP_MAX_PACKET], rep[DHCP_MAX_PACKET];
	size_t n = dhcp_build_request(DHCP_DISCOVER, 0x99, mac, OPTS(EDK2), pkt, sizeof pkt);
	ck_assert_uint_eq(exchange(dport, pkt, n, rep, sizeof rep, 1000), 0);
	ck_assert(itest_log_contains(&srv, "every non-loopback interface"));
	ck_assert_int_eq(metric("autopxe_dhcp_replies_total{type=\"offer\"}"), 0);
}
END_TEST

/* Off by default; --proxy-dhcp turns it on without the config key. */
START_TEST(dhcp_off_by_default_and_flag)
{
	uint8_t pkt[DHCP_MAX_PACKET], rep[DHCP_MAX_PACKET];
	size_t n = dhcp_build_request(DHCP_DISCOVER, 0x55, mac, OPTS(EDK2), pkt, sizeof pkt);
	start_with("ProxyDHCPInterfaces: [lo]", "", NULL);
	ck_assert_uint_eq(exchange(dport, pkt, n, rep, sizeof rep, 1000), 0);
	ck_assert(!itest_log_contains(&srv, "proxyDHCP listening"));
	ck_assert_int_eq(itest_stop(&srv), 0);
	ck_assert_int_eq(truncate(srv.log, 0), 0); /* itest_start waits for "serving" in the log */
	static const char *const flag[] = {"--proxy-dhcp", NULL};
	start_with("ProxyDHCPInterfaces: [lo]", "", flag);
	ck_assert_uint_gt(exchange(dport, pkt, n, rep, sizeof rep, 5000), 0);
	ck_assert(itest_log_contains(&srv, "proxyDHCP listening on UDP 0.0.0.0:"));
}
END_TEST

static int wait_log(const char *needle)
{
	for (int i = 0; i < 100; i++) {
		if (itest_log_contains(&srv, needle))
			return 1;
		usleep(100000);
	}
	return 0;
}

/* A reload can turn the proxy off (the bound sockets go quiet) but not on (it says so). */
START_TEST(dhcp_reload_on_off)
{
	uint8_t pkt[DHCP_MAX_PACKET], rep[DHCP_MAX_PACKET];
	size_t n = dhcp_build_request(DHCP_DISCOVER, 0x66, mac, OPTS(EDK2), pkt, sizeof pkt);
	start("ProxyDHCPInterfaces: [lo]");
	ck_assert_uint_gt(exchange(dport, pkt, n, rep, sizeof rep, 5000), 0);
	char cfg[512];
	snprintf(cfg, sizeof cfg,
	         "version: 1\nRootfsPath: @ROOTFS@\nCmdlineTemplates:\n  overlayfs: root=/dev/nfs\nWatch: false\n"
	         "ProxyDHCP: false\nProxyDHCPInterfaces: [lo]\nProxyDHCPPort: %u\nPXEBootServerPort: %u\n",
	         dport, bport);
	ck_assert_int_eq(itest_write_config(&srv, cfg), 0);
	ck_assert_int_eq(kill(srv.pid, SIGHUP), 0);
	ck_assert(wait_log("reloaded:"));
	ck_assert_uint_eq(exchange(dport, pkt, n, rep, sizeof rep, 1000), 0);
	ck_assert_int_eq(itest_stop(&srv), 0);
	ck_assert_int_eq(truncate(srv.log, 0), 0);

	ck_assert_msg(itest_start(&srv, 1, 1, NULL) == 0, "server did not start (log %s)", srv.log);
	snprintf(cfg, sizeof cfg,
	         "version: 1\nRootfsPath: @ROOTFS@\nCmdlineTemplates:\n  overlayfs: root=/dev/nfs\nWatch: false\n"
	         "ProxyDHCP: true\nProxyDHCPInterfaces: [lo]\nProxyDHCPPort: %u\nPXEBootServerPort: %u\n",
	         dport, bport);
	ck_assert_int_eq(itest_write_config(&srv, cfg), 0);
	ck_assert_int_eq(kill(srv.pid, SIGHUP), 0);
	ck_assert(wait_log("ProxyDHCP turned on: it takes effect at the next restart"));
	ck_assert_uint_eq(exchange(dport, pkt, n, rep, sizeof rep, 700), 0);
}
END_TEST

/* Multi-homed: netns SRV has vA1 192.0.2.10/25 and vB1 192.0.2.140/25; netns CLI holds their peers with no
 * address, like PXE firmware. A DISCOVER broadcast from 0.0.0.0 out of each peer must be answered, by broadcast
 * out of the interface it came in on, naming that interface's address (option 54, siaddr, the menu URL). */
static char ns_srv[64], ns_cli[64];

static int ns_fd(const char *name)
{
	char p[128];
	snprintf(p, sizeof p, "/run/netns/%s", name);
	return open(p, O_RDONLY | O_CLOEXEC);
}

static int cli_socket(int cli, int home, const char *dev)
{
	ck_assert_int_eq(setns(cli, CLONE_NEWNET), 0);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)strlen(dev)), 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(68)};
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(setns(home, CLONE_NEWNET), 0);
	return fd;
}

/* Unchecked fixtures: they run in the runner process, so the namespaces go even when the forked test failed. */
static void multi_setup(void)
{
	snprintf(ns_srv, sizeof ns_srv, "apit-dhcp-%d-s", (int)getpid());
	snprintf(ns_cli, sizeof ns_cli, "apit-dhcp-%d-c", (int)getpid());
}

static void multi_teardown(void)
{
	if (geteuid() != 0)
		return;
	/* a server left running by a failed test is ours, inside our namespace: stop it by its pid */
	itest_run(NULL, "for p in $(ip netns pids %s 2>/dev/null); do kill $p; done; sleep 0.5; ip netns del %s; "
	                "ip netns del %s", ns_srv, ns_srv, ns_cli);
}

START_TEST(dhcp_multihomed_pktinfo)
{
	if (geteuid() != 0) {
		fprintf(stderr, "dhcp_multihomed_pktinfo: SKIP (needs root for network namespaces)\n");
		return;
	}
	ck_assert_int_eq(itest_prepare(&srv), 0);
	ck_assert_int_eq(itest_run(NULL,
	                           "ip netns add %1$s && ip netns add %2$s && "
	                           "ip -n %1$s link add vA1 type veth peer name vA2 netns %2$s && "
	                           "ip -n %1$s link add vB1 type veth peer name vB2 netns %2$s && "
	                           "ip -n %1$s addr add 192.0.2.10/25 dev vA1 && "
	                           "ip -n %1$s addr add 192.0.2.140/25 dev vB1 && "
	                           "ip -n %1$s link set lo up && ip -n %1$s link set vA1 up && ip -n %1$s link set vB1 up && "
	                           "ip -n %2$s link set vA2 up && ip -n %2$s link set vB2 up",
	                           ns_srv, ns_cli),
	                 0);
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), s_fd = ns_fd(ns_srv), c_fd = ns_fd(ns_cli);
	ck_assert(home >= 0 && s_fd >= 0 && c_fd >= 0);
	int ca = cli_socket(c_fd, home, "vA2"), cb = cli_socket(c_fd, home, "vB2");
	/* the server (and curl) live in SRV: enter it for the rest of this forked test */
	ck_assert_int_eq(setns(s_fd, CLONE_NEWNET), 0);
	ck_assert_int_eq(itest_write_config(&srv, "version: 1\nRootfsPath: @ROOTFS@\nCmdlineTemplates:\n  o: root=/dev/nfs\n"
	                                          "Watch: false\nProxyDHCP: true\n"),
	                 0);
	/* HTTP on every address (fresh namespace: port 8080 is free), so the URL can name each interface */
	static const char *const http_any[] = {"--http-listen", "0.0.0.0:8080", NULL};
	ck_assert_msg(itest_start(&srv, 1, 0, http_any) == 0, "server did not start (log %s)", srv.log);
	static const struct {
		const char *addr;
		uint8_t ip[4];
	} want[2] = {{"192.0.2.10", {192, 0, 2, 10}}, {"192.0.2.140", {192, 0, 2, 140}}};
	int fds[2] = {ca, cb};
	for (int i = 0; i < 2; i++) {
		uint8_t pkt[DHCP_MAX_PACKET], rep[DHCP_MAX_PACKET];
		static struct dhcp_msg m;
		size_t n = dhcp_build_request(DHCP_DISCOVER, 0x4d480000u + (unsigned)i, mac,
		                              OPTS("\x3c\x09PXEClient\x4d\x04iPXE\x5d\x02\x00\x00"), pkt, sizeof pkt);
		struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(67)};
		to.sin_addr.s_addr = htonl(INADDR_BROADCAST);
		ck_assert_int_eq((int)sendto(fds[i], pkt, n, 0, (struct sockaddr *)&to, sizeof to), (int)n);
		struct pollfd p = {.fd = fds[i], .events = POLLIN};
		ck_assert_msg(poll(&p, 1, 5000) == 1, "no answer on interface %d (log %s)", i, srv.log);
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t r = recvfrom(fds[i], rep, sizeof rep, 0, (struct sockaddr *)&from, &fl);
		ck_assert_int_gt(r, 0);
		ck_assert_int_eq(dhcp_parse(rep, (size_t)r, &m, NULL), 0);
		ck_assert_uint_eq(m.xid, 0x4d480000u + (unsigned)i);
		ck_assert_mem_eq(m.siaddr, want[i].ip, 4);
		ck_assert_mem_eq(dhcp_opt(&m, DHO_SERVER_ID, NULL), want[i].ip, 4);
		char url[96];
		snprintf(url, sizeof url, "http://%s:8080/autopxe-525400abcdef", want[i].addr);
		ck_assert_str_eq((const char *)rep + 108, url);
		ck_assert_str_eq(inet_ntoa(from.sin_addr), want[i].addr); /* sent from that interface's address */
	}
	ck_assert(itest_log_contains(&srv, ") on vA1 via port 67: http://192.0.2.10:"));
	ck_assert(itest_log_contains(&srv, ") on vB1 via port 67: http://192.0.2.140:"));
	close(ca);
	close(cb);
	ck_assert_int_eq(itest_stop(&srv), 0);
	itest_cleanup(&srv);
	ck_assert_int_eq(setns(home, CLONE_NEWNET), 0);
}
END_TEST

Suite *dhcp_it_suite(void)
{
	Suite *s = suite_create("dhcp_it");
	TCase *tc = tcase_create("serve");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, dhcp_offer_ack_and_silence);
	tcase_add_test(tc, dhcp_repeated_discover_logged_once);
	tcase_add_test(tc, dhcp_default_interfaces_skip_loopback);
	tcase_add_test(tc, dhcp_off_by_default_and_flag);
	tcase_add_test(tc, dhcp_reload_on_off);
	suite_add_tcase(s, tc);
	TCase *mh = tcase_create("multihomed");
	tcase_add_unchecked_fixture(mh, multi_setup, multi_teardown);
	tcase_set_timeout(mh, 90);
	tcase_add_test(mh, dhcp_multihomed_pktinfo);
	suite_add_tcase(s, mh);
	return s;
}
