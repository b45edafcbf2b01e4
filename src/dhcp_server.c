/* dhcp_server.c - the proxyDHCP front end: UDP 67 and the PXE boot-server port 4011, one thread, no raw sockets. */
#include "dhcp_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dhcp_proto.h"
#include "log.h"
#include "mac.h"
#include "metrics.h"
#include "snapshot.h"
#include "util.h"

/* Rate limit for log lines about packets we drop: a LAN full of odd clients must not flood the log. */
#define RL_BURST 5
#define RL_WINDOW_MS 10000u
struct ratelimit {
	uint64_t start;
	unsigned n, suppressed;
};

/* 1 when a line may be logged now; *suppressed gets the count dropped since the last one. */
static int rl_ok(struct ratelimit *r, uint64_t now, unsigned *suppressed)
{
	if (now - r->start >= RL_WINDOW_MS) {
		r->start = now;
		r->n = 0;
	}
	if (r->n >= RL_BURST) {
		r->suppressed++;
		return 0;
	}
	r->n++;
	*suppressed = r->suppressed;
	r->suppressed = 0;
	return 1;
}

struct dhcp_server {
	int fd[2];         /* 0: DHCP port (67), 1: PXE boot-server port (4011); -1 when off */
	unsigned port[2];
	int wake;          /* eventfd: stop */
	pthread_t thread;
	int running;
	struct dhcp_tracker track;
	struct ratelimit rl_bad, rl_nofile;
};

static int open_one(unsigned port, int *fd, unsigned *bound, char *err, size_t errlen)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		goto fail;
	int one = 1;
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    setsockopt(s, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) ||
	    setsockopt(s, IPPROTO_IP, IP_PKTINFO, &one, sizeof one))
		goto fail;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(s, (struct sockaddr *)&a, sizeof a))
		goto fail;
	socklen_t al = sizeof a;
	if (getsockname(s, (struct sockaddr *)&a, &al))
		goto fail;
	*fd = s;
	*bound = ntohs(a.sin_port);
	return 0;
fail:;
	int rc = -errno;
	snprintf(err, errlen, "cannot bind UDP 0.0.0.0:%u: %s%s", port, strerror(-rc),
	         rc == -EACCES ? " (needs root or CAP_NET_BIND_SERVICE)" : "");
	if (s >= 0)
		close(s);
	return rc;
}

int dhcp_server_open(const struct config *c, struct dhcp_server **out, char *err, size_t errlen)
{
	struct dhcp_server *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->fd[0] = s->fd[1] = s->wake = -1;
	int rc = open_one(c->proxy_dhcp_port, &s->fd[0], &s->port[0], err, errlen);
	if (!rc && c->pxe_server_port)
		rc = open_one(c->pxe_server_port, &s->fd[1], &s->port[1], err, errlen);
	if (!rc && (s->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(-rc));
	}
	if (rc) {
		dhcp_server_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

unsigned dhcp_server_port(const struct dhcp_server *s, int which)
{
	return s && (which == 0 || which == 1) ? s->port[which] : 0;
}

static int iface_is_loopback(int fd, const char *name)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0)
		return 0;
	return (ifr.ifr_flags & IFF_LOOPBACK) != 0;
}

static const char *bootfile_cb(void *ctx, unsigned arch) { return config_boot_file(ctx, arch); }

/* Send with IP_PKTINFO naming the interface and our address, so a broadcast leaves by the interface the request
 * came in on and the source address is the one we named in option 54 (multi-homed hosts). */
static void send_reply(int fd, const uint8_t *buf, size_t len, const struct sockaddr_in *to, int ifindex,
                       struct in_addr local)
{
	char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
	memset(cbuf, 0, sizeof cbuf);
	struct iovec iov = {(void *)buf, len};
	struct msghdr mh = {.msg_name = (void *)to, .msg_namelen = sizeof *to, .msg_iov = &iov, .msg_iovlen = 1,
	                    .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = IPPROTO_IP;
	cm->cmsg_type = IP_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
	struct in_pktinfo pi = {.ipi_ifindex = ifindex, .ipi_spec_dst = local};
	memcpy(CMSG_DATA(cm), &pi, sizeof pi);
	if (sendmsg(fd, &mh, 0) < 0)
		log_warn("proxyDHCP: sending to %s:%u failed: %s", inet_ntoa(to->sin_addr), ntohs(to->sin_port),
		         strerror(errno));
}

static void handle(struct dhcp_server *s, int which, const uint8_t *pkt, size_t n, const struct sockaddr_in *src,
                   int ifindex, struct in_addr local)
{
	char ifname[IF_NAMESIZE + 1] = "?", srcip[INET_ADDRSTRLEN], mac[18];
	if (!if_indextoname((unsigned)ifindex, ifname))
		snprintf(ifname, sizeof ifname, "if%d", ifindex);
	inet_ntop(AF_INET, &src->sin_addr, srcip, sizeof srcip);
	struct snapshot *snap = snapshot_current();
	if (!snap)
		return;
	const struct config *c = snap->cfg;
	if (!c->proxy_dhcp || !config_proxy_iface_ok(c, ifname, iface_is_loopback(s->fd[which], ifname)))
		goto out;
	static __thread struct dhcp_msg m; /* 5 KiB: off the stack, one per thread */
	const char *why = NULL;
	uint64_t now = now_ms();
	unsigned sup = 0;
	int rc = dhcp_parse(pkt, n, &m, &why);
	if (rc) {
		metrics_dhcp(DHCP_M_MALFORMED);
		if (rl_ok(&s->rl_bad, now, &sup))
			log_warn("proxyDHCP: dropped a malformed packet (%zu bytes) from %s:%u on %s: %s%s", n, srcip,
			         ntohs(src->sin_port), ifname, why ? why : "?",
			         sup ? " (and more malformed packets not logged)" : "");
		goto out;
	}
	if (m.op != 1)
		goto out; /* a BOOTREPLY (another server's, relayed): not ours to look at */
	mac_colon(m.chaddr, mac);
	const uint8_t *t = dhcp_opt(&m, DHO_MSG_TYPE, NULL);
	unsigned logical = which ? PXE_BINL_PORT : DHCP_SERVER_PORT;
	if (t && t[0] == DHCP_REQUEST)
		dhcp_track_request(&s->track, m.chaddr, now);
	if (t && t[0] == DHCP_DISCOVER && logical == DHCP_SERVER_PORT &&
	    dhcp_track_discover(&s->track, m.chaddr, m.xid, now)) {
		metrics_dhcp(DHCP_M_NO_MERGE);
		log_warn("proxyDHCP: %s DISCOVERs again (xid %08x) after our offer and never sends a REQUEST: its "
		         "firmware does not merge a proxyDHCP offer with the DHCP server's. Fallback: set the next-server "
		         "and boot file (options 66/67) for it on the network's DHCP server (docs/dhcp.md)",
		         mac, (unsigned)m.xid);
	}
	if (local.s_addr == htonl(INADDR_ANY)) {
		log_debug("proxyDHCP: %s on %s: no IPv4 address on the interface to answer from", mac, ifname);
		goto out;
	}
	char ipbuf[INET_ADDRSTRLEN], base[256];
	inet_ntop(AF_INET, &local, ipbuf, sizeof ipbuf);
	snapshot_http_base(snap, ipbuf, 0, base, sizeof base);
	struct dhcp_policy pol = {.server_ip_text = ipbuf, .http_base = base, .tftp_on = c->tftp_listen.enabled,
	                          .discovery_control = c->pxe_discovery_control, .bootfile = bootfile_cb,
	                          .ctx = (void *)c};
	memcpy(pol.server_ip, &local.s_addr, 4);
	struct dhcp_decision d;
	dhcp_decide(&m, logical, &pol, &d);
	const char *an = dhcp_arch_name(d.arch);
	switch (d.verdict) {
	case DHCP_ANSWER: break;
	case DHCP_IGNORE_NOT_PXE:
		metrics_dhcp(DHCP_M_IGNORED_NOT_PXE);
		log_debug("proxyDHCP: ignored %s on %s: not a PXE client (vendor class '%s')", mac, ifname, d.vendor);
		goto out;
	case DHCP_IGNORE_NO_BOOTFILE:
		metrics_dhcp(DHCP_M_NO_BOOTFILE);
		if (rl_ok(&s->rl_nofile, now, &sup))
			log_warn("proxyDHCP: not answering %s on %s: no boot file for architecture %u (%s)%s; see BootFiles",
			         mac, ifname, d.arch, an ? an : "unnamed",
			         d.is_http ? " over HTTP (HTTPListen is off)" : c->tftp_listen.enabled ? "" : " (TFTPListen is off)");
		goto out;
	default:
		metrics_dhcp(DHCP_M_IGNORED_OTHER);
		log_debug("proxyDHCP: ignored %s on %s: %s", mac, ifname, dhcp_verdict_name(d.verdict));
		goto out;
	}
	uint8_t buf[DHCP_MAX_PACKET];
	size_t len = dhcp_build_reply(&m, &d, &pol, buf, sizeof buf);
	if (!len)
		goto out;
	/* Where to: a relay gets it on 67; a client that has an address (4011) unicast where it asked from; a client
	 * without one (0.0.0.0) by broadcast on the interface (RFC 2131 4.1: no raw socket, no ARP entry needed). */
	struct sockaddr_in to = {.sin_family = AF_INET};
	uint32_t gi;
	memcpy(&gi, m.giaddr, 4);
	if (gi) {
		to.sin_addr.s_addr = gi;
		to.sin_port = htons(DHCP_SERVER_PORT);
	} else if (src->sin_addr.s_addr != htonl(INADDR_ANY)) {
		to.sin_addr = src->sin_addr;
		to.sin_port = src->sin_port;
	} else {
		to.sin_addr.s_addr = htonl(INADDR_BROADCAST);
		to.sin_port = src->sin_port ? src->sin_port : htons(DHCP_CLIENT_PORT);
	}
	/* logged and counted before it goes out, so the log and /metrics never lag what a client already has */
	char fshow[300];
	sanitize(d.file, strlen(d.file), fshow, sizeof fshow);
	log_info("proxyDHCP: %s to %s (arch %u %s, vendor class '%s'%s) on %s via port %u: %s",
	         d.reply_type == DHCP_OFFER ? "OFFER" : "ACK", mac, d.arch, an ? an : "unnamed", d.vendor,
	         d.is_ipxe ? ", iPXE" : d.is_http ? ", HTTP boot" : "", ifname, s->port[which], fshow);
	if (d.reply_type == DHCP_OFFER) {
		metrics_dhcp(DHCP_M_OFFER);
		dhcp_track_offer(&s->track, m.chaddr, m.xid, now);
	} else {
		metrics_dhcp(DHCP_M_ACK);
	}
	send_reply(s->fd[which], buf, len, &to, ifindex, local);
out:
	snapshot_unref(snap);
}

static void *loop(void *arg)
{
	struct dhcp_server *s = arg;
	static __thread uint8_t pkt[DHCP_MAX_PACKET + 1];
	for (;;) {
		struct pollfd p[3] = {{.fd = s->wake, .events = POLLIN}, {.fd = s->fd[0], .events = POLLIN},
		                      {.fd = s->fd[1], .events = POLLIN}};
		int n = poll(p, 3, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (p[0].revents & POLLIN))
			break;
		for (int w = 0; w < 2; w++) {
			if (s->fd[w] < 0 || !(p[w + 1].revents & POLLIN))
				continue;
			for (int burst = 0; burst < 64; burst++) {
				struct sockaddr_in src;
				char cbuf[256];
				struct iovec iov = {pkt, sizeof pkt};
				struct msghdr mh = {.msg_name = &src, .msg_namelen = sizeof src, .msg_iov = &iov, .msg_iovlen = 1,
				                    .msg_control = cbuf, .msg_controllen = sizeof cbuf};
				ssize_t r = recvmsg(s->fd[w], &mh, 0);
				if (r < 0)
					break;
				int ifindex = 0;
				struct in_addr local = {0};
				for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
					if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
						struct in_pktinfo pi;
						memcpy(&pi, CMSG_DATA(cm), sizeof pi);
						ifindex = pi.ipi_ifindex;
						local = pi.ipi_spec_dst; /* our address on that interface, also for broadcasts */
					}
				}
				/* a datagram larger than the buffer arrives truncated (MSG_TRUNC): let the parser refuse it */
				size_t len = (mh.msg_flags & MSG_TRUNC) ? sizeof pkt : (size_t)r;
				handle(s, w, pkt, len, &src, ifindex, local);
			}
		}
	}
	return NULL;
}

int dhcp_server_start(struct dhcp_server *s)
{
	int rc = pthread_create(&s->thread, NULL, loop, s);
	if (rc)
		return -rc;
	s->running = 1;
	return 0;
}

void dhcp_server_stop(struct dhcp_server *s)
{
	if (!s || !s->running)
		return;
	uint64_t one = 1;
	if (write(s->wake, &one, sizeof one) < 0)
		log_warn("proxyDHCP: cannot wake the thread: %s", strerror(errno));
	pthread_join(s->thread, NULL);
	s->running = 0;
}

void dhcp_server_free(struct dhcp_server *s)
{
	if (!s)
		return;
	dhcp_server_stop(s);
	for (int i = 0; i < 2; i++)
		if (s->fd[i] >= 0)
			close(s->fd[i]);
	if (s->wake >= 0)
		close(s->wake);
	free(s);
}
