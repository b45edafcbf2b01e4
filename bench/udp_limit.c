/* udp_limit.c - the loopback UDP ceiling for bench/tftp.sh: a sender/acker pair with no file I/O and no protocol. */
/*
 * Usage: udp_limit BYTES BLKSIZE WINDOW [gso] [poll]
 * Moves BYTES in datagrams of 4 + BLKSIZE bytes (a TFTP DATA packet's size) over 127.0.0.1, WINDOW datagrams per
 * sendmmsg, and waits for one 4-byte "ACK" per window (recvmmsg on the other side, a thread of its own), exactly the
 * packet pattern of a TFTP transfer at that blksize and windowsize. Prints MB/s of payload on stdout. Both sockets
 * block, so a round trip costs the kernel's wake-ups and nothing else; this is what the kernel can do here, and the
 * TFTP rows are shown as a fraction of it. A lost datagram (never seen on loopback with the buffers below) is
 * reported and makes the run fail: no retransmission is attempted. With `gso`, each window goes out as ONE sendmsg
 * of WINDOW x (4 + BLKSIZE) bytes with a UDP_SEGMENT control message (Linux 4.18+; the kernel cuts it into the same
 * datagrams), to measure UDP GSO against sendmmsg on this kernel. With `poll`, neither side ever sleeps: both take
 * their packets with MSG_DONTWAIT in a loop that yields the CPU between tries (what autopxe's TFTPBusyPoll does for
 * a fast client, done here by the client too), so a round trip has no wake-up at all. bench/tftp.sh runs every
 * variant that applies and keeps the best: the ceiling is the fastest way this kernel moves that pattern.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_WIN 64
#define MAX_BLK 65464

struct peer {
	int fd;
	unsigned window, blksize;
	uint64_t blocks;
	int failed, poll;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* poll: try without blocking until something comes (yielding between tries) or 2 s pass; blocking: wait. */
static int take(int fd, struct mmsghdr *mm, unsigned n, int poll)
{
	if (!poll) {
		struct timespec to = {2, 0};
		return recvmmsg(fd, mm, n, MSG_WAITFORONE, &to);
	}
	double t0 = now_s();
	for (;;) {
		int k = recvmmsg(fd, mm, n, MSG_DONTWAIT, NULL);
		if (k > 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
			return k;
		if (now_s() - t0 > 2)
			return 0;
		sched_yield();
	}
}

/* The receiving side: take a window with recvmmsg, answer it with one 4-byte ACK. */
static void *acker(void *arg)
{
	struct peer *p = arg;
	static uint8_t buf[MAX_WIN][MAX_BLK + 4];
	struct mmsghdr mm[MAX_WIN];
	struct iovec iov[MAX_WIN];
	uint64_t got = 0;
	uint8_t ack[4] = {0, 4, 0, 0};
	while (got < p->blocks) {
		uint64_t left = p->blocks - got;
		unsigned want = left < p->window ? (unsigned)left : p->window;
		for (unsigned i = 0; i < want; i++) {
			iov[i] = (struct iovec){buf[i], p->blksize + 4};
			mm[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
		}
		unsigned have = 0;
		while (have < want) {
			int n = take(p->fd, mm + have, want - have, p->poll);
			if (n <= 0) {
				fprintf(stderr, "udp_limit: recvmmsg: %s\n", n < 0 ? strerror(errno) : "timeout");
				p->failed = 1;
				return NULL;
			}
			have += (unsigned)n;
		}
		got += want;
		if (send(p->fd, ack, sizeof ack, 0) != (ssize_t)sizeof ack) {
			p->failed = 1;
			return NULL;
		}
	}
	return NULL;
}

static int udp_pair(int *a, int *b)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in ba, bb;
	socklen_t l = sizeof ba;
	int buf = 4 << 20;
	*a = socket(AF_INET, SOCK_DGRAM, 0);
	*b = socket(AF_INET, SOCK_DGRAM, 0);
	if (*a < 0 || *b < 0)
		return -1;
	struct timeval tv = {2, 0};
	for (int i = 0; i < 2; i++) {
		int fd = i ? *b : *a;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
			return -1;
	}
	l = sizeof ba;
	getsockname(*a, (struct sockaddr *)&ba, &l);
	l = sizeof bb;
	getsockname(*b, (struct sockaddr *)&bb, &l);
	if (connect(*a, (struct sockaddr *)&bb, sizeof bb) != 0 || connect(*b, (struct sockaddr *)&ba, sizeof ba) != 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	int gso = 0, poll = 0, bad = argc < 4;
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "gso") == 0)
			gso = 1;
		else if (strcmp(argv[i], "poll") == 0)
			poll = 1;
		else
			bad = 1;
	}
	if (bad) {
		fprintf(stderr, "usage: udp_limit BYTES BLKSIZE WINDOW [gso] [poll]\n");
		return 2;
	}
	uint64_t bytes = strtoull(argv[1], NULL, 10);
	unsigned blksize = (unsigned)strtoul(argv[2], NULL, 10), window = (unsigned)strtoul(argv[3], NULL, 10);
	if (!bytes || blksize < 8 || blksize > MAX_BLK || !window || window > MAX_WIN) {
		fprintf(stderr, "udp_limit: BYTES > 0, BLKSIZE 8..%u, WINDOW 1..%u\n", MAX_BLK, MAX_WIN);
		return 2;
	}
	int tx, rx;
	if (udp_pair(&tx, &rx) != 0) {
		perror("udp_limit: socket");
		return 1;
	}
	struct peer p = {
	    .fd = rx, .window = window, .blksize = blksize, .blocks = (bytes + blksize - 1) / blksize, .poll = poll};
	pthread_t t;
	if (pthread_create(&t, NULL, acker, &p) != 0)
		return 1;
	if (gso && (uint64_t)window * (blksize + 4) > 65000) {
		fprintf(stderr, "udp_limit: gso needs WINDOW x (BLKSIZE + 4) <= 65000\n");
		return 2;
	}
	static uint8_t data[MAX_WIN][MAX_BLK + 4];
	struct mmsghdr mm[MAX_WIN];
	struct iovec iov[MAX_WIN];
	for (unsigned i = 0; i < window; i++) {
		memset(data[i], 0xa5, blksize + 4);
		iov[i] = (struct iovec){data[i], blksize + 4};
		mm[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
	}
	double t0 = now_s();
	int rc = 0;
	for (uint64_t sent = 0; sent < p.blocks;) {
		uint64_t left = p.blocks - sent;
		unsigned n = left < window ? (unsigned)left : window;
		if (gso) { /* the window's datagrams back to back in one buffer, cut by the kernel */
			union {
				char buf[CMSG_SPACE(sizeof(uint16_t))];
				struct cmsghdr align;
			} cm;
			static uint8_t flat[65536];
			struct iovec one = {flat, (size_t)n * (blksize + 4)};
			struct msghdr mh = {.msg_iov = &one, .msg_iovlen = 1};
			if (n > 1) {
				mh.msg_control = cm.buf;
				mh.msg_controllen = sizeof cm.buf;
				struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
				c->cmsg_level = SOL_UDP;
				c->cmsg_type = UDP_SEGMENT;
				c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
				uint16_t seg = (uint16_t)(blksize + 4);
				memcpy(CMSG_DATA(c), &seg, sizeof seg);
			} else {
				one.iov_len = blksize + 4;
			}
			if (sendmsg(tx, &mh, 0) != (ssize_t)one.iov_len) {
				perror("udp_limit: sendmsg (UDP_SEGMENT)");
				rc = 1;
				goto out;
			}
			n = 0; /* sent */
		}
		for (unsigned done = 0; done < n;) {
			int k = sendmmsg(tx, mm + done, n - done, 0);
			if (k <= 0) {
				perror("udp_limit: sendmmsg");
				rc = 1;
				goto out;
			}
			done += (unsigned)k;
		}
		sent += left < window ? left : window;
		uint8_t ack[16];
		struct iovec aiov = {ack, sizeof ack};
		struct mmsghdr am = {.msg_hdr = {.msg_iov = &aiov, .msg_iovlen = 1}};
		if (take(tx, &am, 1, poll) != 1 || am.msg_len != 4) {
			fprintf(stderr, "udp_limit: no ACK after block %llu (lost datagram?)\n", (unsigned long long)sent);
			rc = 1;
			goto out;
		}
	}
out:;
	double t1 = now_s();
	pthread_join(t, NULL);
	if (rc || p.failed)
		return 1;
	printf("%.1f\n", (double)p.blocks * blksize / 1e6 / (t1 - t0));
	return 0;
}
