/* tftpget.c - a small, strict TFTP client for the fault harness: blksize + windowsize, re-ACKs as RFC 7440 asks. */
/*
 * Asks what iPXE asks (blksize, tsize) plus windowsize when > 1, never the RFC 2349 timeout option, so the
 * server's own retransmit timer (TFTPTimeout) is what recovers lost packets. On a duplicate or out-of-order
 * DATA it acknowledges the last block received in order at once (RFC 7440 section 4; for windowsize 1 that is
 * the classic re-ACK of a duplicate, which is safe because the server ignores duplicate ACKs). After the last
 * block it dallies for a while to re-ACK a retransmitted final block. Retransmits its own last packet after
 * -t ms of silence, at most -r times in a row.
 *
 * usage: tftpget [-b BLKSIZE] [-w WINDOW] [-t MS] [-r RETRIES] [-T TOTAL_S] HOST[:PORT] REMOTE LOCAL
 * Prints one line of statistics on stderr; exit 0 when the whole file arrived, 1 otherwise, 2 on usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t put(uint8_t *p, size_t at, const char *s)
{
	size_t l = strlen(s) + 1;
	memcpy(p + at, s, l);
	return at + l;
}

int main(int argc, char **argv)
{
	unsigned blksize = 512, window = 1, tmo = 1000, retries = 30, total_s = 3600;
	int c;
	while ((c = getopt(argc, argv, "b:w:t:r:T:")) != -1) {
		switch (c) {
		case 'b': blksize = (unsigned)atoi(optarg); break;
		case 'w': window = (unsigned)atoi(optarg); break;
		case 't': tmo = (unsigned)atoi(optarg); break;
		case 'r': retries = (unsigned)atoi(optarg); break;
		case 'T': total_s = (unsigned)atoi(optarg); break;
		default: goto usage;
		}
	}
	if (argc - optind != 3 || blksize < 8 || blksize > 65464 || window < 1 || window > 65535)
		goto usage;
	struct sockaddr_in srv = {.sin_family = AF_INET, .sin_port = htons(69)};
	char host[64];
	snprintf(host, sizeof host, "%s", argv[optind]);
	char *colon = strchr(host, ':');
	if (colon) {
		*colon = '\0';
		srv.sin_port = htons((uint16_t)atoi(colon + 1));
	}
	if (inet_pton(AF_INET, host, &srv.sin_addr) != 1)
		goto usage;
	const char *remote = argv[optind + 1];
	FILE *out = fopen(argv[optind + 2], "wb");
	if (!out)
		return perror(argv[optind + 2]), 1;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return perror("socket"), 1;

	uint8_t last[700], buf[65536 + 8];
	char num[16];
	size_t last_len = 0;
	last[0] = 0;
	last[1] = 1;
	last_len = put(last, 2, remote);
	last_len = put(last, last_len, "octet");
	snprintf(num, sizeof num, "%u", blksize);
	last_len = put(last, last_len, "blksize");
	last_len = put(last, last_len, num);
	last_len = put(last, last_len, "tsize");
	last_len = put(last, last_len, "0");
	if (window > 1) {
		snprintf(num, sizeof num, "%u", window);
		last_len = put(last, last_len, "windowsize");
		last_len = put(last, last_len, num);
	}
	struct sockaddr_in to = srv;
	uint16_t tid = 0, expect = 1;
	unsigned bs = 512, win = 1, in_win = 0, silent = 0;
	unsigned long blocks = 0, reacks = 0, timeouts = 0, bytes = 0;
	uint64_t t0 = now_ms(), end = t0 + (uint64_t)total_s * 1000u, dally_end = 0, t_done = 0;
	int done = 0, ok = 0;
	sendto(fd, last, last_len, 0, (struct sockaddr *)&to, sizeof to);
	while (!ok || now_ms() < dally_end) {
		uint64_t now = now_ms();
		if (now >= end) {
			fprintf(stderr, "tftpget: gave up after %u s\n", total_s);
			break;
		}
		int wait = ok ? (int)(dally_end - now) : (int)tmo;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, wait) != 1) {
			if (ok)
				break; /* dally over */
			if (++silent > retries) {
				fprintf(stderr, "tftpget: no answer after %u retransmissions\n", retries);
				break;
			}
			timeouts++;
			in_win = 0;
			sendto(fd, last, last_len, 0, (struct sockaddr *)&to, sizeof to);
			continue;
		}
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
		if (n < 4 || from.sin_addr.s_addr != srv.sin_addr.s_addr)
			continue;
		if (tid && ntohs(from.sin_port) != tid) {
			static const uint8_t e5[] = {0, 5, 0, 5, 'U', 'n', 'k', 'n', 'o', 'w', 'n', ' ', 'T', 'I', 'D', 0};
			sendto(fd, e5, sizeof e5, 0, (struct sockaddr *)&from, fl);
			continue;
		}
		unsigned op = (unsigned)(buf[0] << 8 | buf[1]);
		if (op == 5) {
			fprintf(stderr, "tftpget: server ERROR %u: %.*s\n", (unsigned)(buf[2] << 8 | buf[3]),
			        (int)(n - 4 > 200 ? 200 : n - 4), (char *)buf + 4);
			break;
		}
		if (!tid) {
			tid = ntohs(from.sin_port);
			to.sin_port = from.sin_port;
		}
		silent = 0;
		if (op == 6) { /* OACK: only before the first block */
			if (blocks)
				continue;
			for (size_t at = 2; at < (size_t)n;) {
				const char *k = (const char *)buf + at;
				size_t kl = strnlen(k, (size_t)n - at);
				if (at + kl + 1 >= (size_t)n)
					break;
				const char *v = k + kl + 1;
				if (strcasecmp(k, "blksize") == 0)
					bs = (unsigned)atoi(v);
				else if (strcasecmp(k, "windowsize") == 0)
					win = (unsigned)atoi(v);
				at += kl + 1 + strnlen(v, (size_t)n - (at + kl + 1)) + 1;
			}
			last[0] = 0, last[1] = 4, last[2] = 0, last[3] = 0, last_len = 4;
			sendto(fd, last, last_len, 0, (struct sockaddr *)&to, sizeof to);
			continue;
		}
		if (op != 3)
			continue;
		uint16_t b = (uint16_t)(buf[2] << 8 | buf[3]);
		size_t dl = (size_t)n - 4;
		if (b != expect || done) {
			/* duplicate or gap: acknowledge what we have, now */
			uint16_t have = (uint16_t)(expect - 1);
			last[0] = 0, last[1] = 4, last[2] = (uint8_t)(have >> 8), last[3] = (uint8_t)have, last_len = 4;
			sendto(fd, last, last_len, 0, (struct sockaddr *)&to, sizeof to);
			in_win = 0;
			reacks++;
			continue;
		}
		if (dl > bs || fwrite(buf + 4, 1, dl, out) != dl) {
			fprintf(stderr, "tftpget: bad block or write error\n");
			break;
		}
		bytes += dl;
		blocks++;
		expect++;
		int final = dl < bs;
		if (final || ++in_win >= win) {
			in_win = 0;
			last[0] = 0, last[1] = 4, last[2] = (uint8_t)(b >> 8), last[3] = (uint8_t)b, last_len = 4;
			sendto(fd, last, last_len, 0, (struct sockaddr *)&to, sizeof to);
		}
		if (final) {
			done = ok = 1;
			t_done = now_ms();
			dally_end = t_done + (tmo < 500 ? 2u * tmo : 1000u);
		}
	}
	if (fclose(out) != 0)
		ok = 0;
	close(fd);
	fprintf(stderr, "tftpget: %s %lu bytes in %lu blocks (blksize %u, windowsize %u) in %.1f s, %lu re-ACKs, %lu timeouts\n",
	        ok ? "ok" : "FAILED", bytes, blocks, bs, win, (double)((t_done ? t_done : now_ms()) - t0) / 1000.0, reacks, timeouts);
	return ok ? 0 : 1;
usage:
	fprintf(stderr, "usage: tftpget [-b BLKSIZE] [-w WINDOW] [-t MS] [-r RETRIES] [-T TOTAL_S] HOST[:PORT] REMOTE LOCAL\n");
	return 2;
}
