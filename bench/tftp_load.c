/* tftp_load.c - many TFTP downloads from one process, for bench/tftp.sh's "bench client" rows. */
/*
 * Usage: tftp_load PORT NAME SOURCE N [BLKSIZE] [poll]
 * Starts N lock-step octet downloads of NAME from 127.0.0.1:PORT at once (RRQ with the blksize option, default
 * 1468), all driven by one epoll loop in this one thread, and checks every DATA block against the local file
 * SOURCE (the file the server serves) as it arrives. Prints the aggregate MB/s of payload on stdout, from the
 * first RRQ to the last block, or "FAILED:k" when k downloads failed (a timeout after 8 retries, an ERROR packet,
 * a block that differs from SOURCE, a short or long file); exits 1 then.
 *
 * Why: bench/tftp.sh's parallel rows run one curl process per download. On a 2-core loopback bench those clients
 * take a whole core at 100% (a curl costs ~18 us per block) and the rows end up measuring curl, whatever the
 * server does. This client costs a few microseconds per block (one recv, one send, a share of one epoll_wait),
 * so with the server pinned to one core the server is what runs out first, as it would on a real network with
 * its clients on other machines. It sends what curl sends (RRQ, ACK per block, the same options), so every server
 * sees the same protocol; it does no retransmission tricks: a lost packet is resent after 1 s, like curl.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RETRY_MS 1000
#define MAX_TRIES 8
#define MAX_BLK 65464

struct dl {
	int fd;
	int state;          /* 0 waiting for OACK/DATA, 1 running, 2 done, 3 failed */
	int connected;      /* connect()ed to the server's transfer port */
	uint16_t want;      /* next DATA block expected */
	uint64_t off;       /* bytes received so far */
	uint64_t last_send; /* ms */
	int tries;
	uint8_t last[600]; /* the last packet sent (RRQ or ACK), for a resend */
	size_t last_len;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct sockaddr_in server;

static int send_last(struct dl *d)
{
	ssize_t n = d->connected ? send(d->fd, d->last, d->last_len, 0)
	                         : sendto(d->fd, d->last, d->last_len, 0, (struct sockaddr *)&server, sizeof server);
	d->last_send = now_ms();
	return n == (ssize_t)d->last_len ? 0 : -1;
}

static int send_ack(struct dl *d, uint16_t block)
{
	d->last[0] = 0;
	d->last[1] = 4;
	d->last[2] = (uint8_t)(block >> 8);
	d->last[3] = (uint8_t)block;
	d->last_len = 4;
	d->tries = 0;
	return send_last(d);
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: tftp_load PORT NAME SOURCE N [BLKSIZE]\n");
		return 2;
	}
	int port = atoi(argv[1]);
	const char *name = argv[2];
	int n = atoi(argv[4]);
	int blksize = argc > 5 ? atoi(argv[5]) : 1468;
	int poll = argc > 6 && strcmp(argv[6], "poll") == 0;
	if (port <= 0 || port > 65535 || n <= 0 || n > 10000 || blksize < 8 || blksize > MAX_BLK ||
	    strlen(name) > 400) {
		fprintf(stderr, "tftp_load: bad arguments\n");
		return 2;
	}
	int sfd = open(argv[3], O_RDONLY);
	struct stat st;
	if (sfd < 0 || fstat(sfd, &st) != 0 || st.st_size == 0) {
		fprintf(stderr, "tftp_load: %s: cannot read\n", argv[3]);
		return 2;
	}
	uint64_t size = (uint64_t)st.st_size;
	const uint8_t *src = mmap(NULL, size, PROT_READ, MAP_PRIVATE, sfd, 0);
	if (src == MAP_FAILED) {
		perror("tftp_load: mmap");
		return 2;
	}
	memset(&server, 0, sizeof server);
	server.sin_family = AF_INET;
	server.sin_port = htons((uint16_t)port);
	server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	int ep = epoll_create1(0);
	struct dl *dls = calloc((size_t)n, sizeof *dls);
	uint8_t *buf = malloc(MAX_BLK + 4 + 1);
	if (ep < 0 || !dls || !buf) {
		perror("tftp_load");
		return 2;
	}
	char opt[16];
	snprintf(opt, sizeof opt, "%d", blksize);
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		struct dl *d = &dls[i];
		d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (d->fd < 0) {
			perror("tftp_load: socket");
			return 2;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = d};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, d->fd, &ev) != 0) {
			perror("tftp_load: epoll_ctl");
			return 2;
		}
		/* RRQ: opcode 1, name, "octet", "blksize", value */
		size_t l = 0;
		d->last[l++] = 0;
		d->last[l++] = 1;
		const char *parts[] = {name, "octet", "blksize", opt};
		for (size_t k = 0; k < 4; k++) {
			size_t pl = strlen(parts[k]) + 1;
			memcpy(d->last + l, parts[k], pl);
			l += pl;
		}
		d->last_len = l;
		d->want = 1;
	}
	int left = n, failed = 0;
	for (int i = 0; i < n; i++) {
		if (send_last(&dls[i]) != 0) {
			close(dls[i].fd);
			dls[i].fd = -1;
			dls[i].state = 4;
			failed++;
			left--;
		}
	}

	uint64_t last_scan = now_ms();
	struct epoll_event evs[256];
	while (left > 0) {
		int k = epoll_wait(ep, evs, 256, poll ? 0 : 100);
		for (int e = 0; e < k; e++) {
			struct dl *d = evs[e].data.ptr;
			for (;;) {
				struct sockaddr_in from;
				socklen_t fl = sizeof from;
				ssize_t r = recvfrom(d->fd, buf, MAX_BLK + 5, 0, (struct sockaddr *)&from, &fl);
				if (r < 0)
					break;
				if (d->state >= 2 || r < 4)
					continue;
				if (!d->connected) { /* the first answer names the transfer port: talk to it alone */
					if (connect(d->fd, (struct sockaddr *)&from, fl) != 0) {
						d->state = 3;
						break;
					}
					d->connected = 1;
				}
				unsigned op = (unsigned)buf[0] << 8 | buf[1];
				unsigned blk = (unsigned)buf[2] << 8 | buf[3];
				if (op == 6 && d->want == 1) { /* OACK (or its resend): acknowledge with block 0 */
					d->state = 1;
					send_ack(d, 0);
					continue;
				}
				if (op != 3) { /* ERROR or anything else: a failed download */
					d->state = 3;
					break;
				}
				if (blk != d->want) { /* a duplicate of the last block: ACK it again (lock-step) */
					if ((uint16_t)(blk + 1) == d->want)
						send_last(d);
					continue;
				}
				d->state = 1;
				size_t len = (size_t)r - 4;
				if (len > (size_t)blksize || d->off + len > size || memcmp(buf + 4, src + d->off, len) != 0) {
					d->state = 3;
					break;
				}
				d->off += len;
				send_ack(d, (uint16_t)blk);
				d->want = (uint16_t)(blk + 1);
				if (len < (size_t)blksize) {
					d->state = d->off == size ? 2 : 3;
					break;
				}
			}
			if (d->state >= 2) {
				epoll_ctl(ep, EPOLL_CTL_DEL, d->fd, NULL);
				close(d->fd);
				d->fd = -1;
				failed += d->state == 3;
				left--;
				d->state = d->state == 3 ? 4 : 2; /* counted */
			}
		}
		uint64_t t = now_ms();
		if (t - last_scan < 100)
			continue;
		last_scan = t;
		for (int i = 0; i < n; i++) {
			struct dl *d = &dls[i];
			if (d->state >= 2 || t - d->last_send < RETRY_MS)
				continue;
			if (++d->tries > MAX_TRIES || send_last(d) != 0) {
				if (d->fd >= 0)
					close(d->fd);
				d->fd = -1;
				d->state = 4;
				failed++;
				left--;
			}
		}
	}
	double t1 = now_s();
	free(dls);
	free(buf);
	munmap((void *)src, size);
	close(sfd);
	close(ep);
	if (failed) {
		printf("FAILED:%d\n", failed);
		return 1;
	}
	printf("%.1f\n", (double)n * (double)size / 1e6 / (t1 - t0));
	return 0;
}
