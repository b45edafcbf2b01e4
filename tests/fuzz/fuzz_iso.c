/* fuzz_iso.c - libFuzzer target: the ISO probe (libarchive listing, layout detection, link resolution, .treeinfo
 * and .disk/info parsing, libblkid label) on arbitrary bytes, written to a memfd. */
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-iso", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t off = 0;
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	struct scan_iso_probe *p = NULL;
	char err[256];
	if (scan_iso_probe_fd(fd, &p, err, sizeof err) == 0) {
		/* what the catalog relies on: every boot has a safe kernel path and data entry */
		for (size_t i = 0; i < p->n_boots; i++)
			if (!p->boots[i].id || !p->boots[i].kernel || !p->boots[i].kernel_data)
				__builtin_trap();
		scan_iso_probe_free(p);
	}
	close(fd);
	return 0;
}
