/* iso_stream.c - what streaming a file out of an ISO through libarchive would cost per request: time to the
 * first byte (open + walk the directory records to the entry), throughput, and a Range starting at an offset
 * (libarchive reads ISO entries sequentially: everything before the offset is read and dropped).
 * Usage: iso_stream ISO PATH-IN-ISO [RANGE_OFFSET] [ITERS] */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* One request: returns bytes delivered; *ttfb_us when the first byte at `offset` was available. */
static long long one(const char *iso, const char *path, long long offset, uint64_t *ttfb_us, uint64_t t0)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	static char buf[256 * 1024];
	long long got = 0, pos = 0;
	archive_read_support_format_iso9660(a);
	if (archive_read_open_filename(a, iso, 64 * 1024) != ARCHIVE_OK) {
		fprintf(stderr, "open: %s\n", archive_error_string(a));
		exit(1);
	}
	*ttfb_us = 0;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *pn = archive_entry_pathname(e);
		while (pn && (*pn == '.' || *pn == '/'))
			pn++;
		if (!pn || strcmp(pn, path) != 0)
			continue;
		la_ssize_t n;
		while ((n = archive_read_data(a, buf, sizeof buf)) > 0) {
			long long end = pos + n;
			if (end > offset) {
				if (!*ttfb_us)
					*ttfb_us = now_us() - t0;
				got += end - (pos > offset ? pos : offset);
			}
			pos = end;
		}
		break;
	}
	archive_read_free(a);
	return got;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s ISO PATH [RANGE_OFFSET] [ITERS]\n", argv[0]);
		return 2;
	}
	long long off = argc > 3 ? atoll(argv[3]) : 0;
	int iters = argc > 4 ? atoi(argv[4]) : 5;
	static const char *const what[] = {"whole file", "range"};
	for (int w = 0; w < (off ? 2 : 1); w++) {
		uint64_t ttfb_sum = 0, total_us = 0;
		long long bytes = 0;
		for (int i = 0; i < iters; i++) {
			uint64_t ttfb, t0 = now_us();
			bytes = one(argv[1], argv[2], w ? off : 0, &ttfb, t0);
			total_us += now_us() - t0;
			ttfb_sum += ttfb;
		}
		printf("stream via libarchive, %-10s: time to first byte %.2f ms, %lld bytes in %.1f ms (%.0f MiB/s)\n",
		       what[w], (double)ttfb_sum / iters / 1000, bytes, (double)total_us / iters / 1000,
		       (double)bytes / 1048576.0 / ((double)total_us / iters / 1e6));
	}
	return 0;
}
