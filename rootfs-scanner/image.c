/* image.c - filesystem images (squashfs, ext4, ...) probed with libblkid for TYPE, UUID and LABEL. */
#include "scan.h"
#include "util.h"

#include <blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A printable copy of a blkid value (labels are outside input), or NULL. */
static char *img_value(blkid_probe pr, const char *name)
{
	const char *v = NULL;
	size_t n = 0;
	if (blkid_probe_lookup_value(pr, name, &v, &n) != 0 || !v || !*v)
		return NULL;
	char clean[256];
	size_t o = 0;
	for (const char *c = v; *c && o + 1 < sizeof(clean); c++) {
		unsigned char u = (unsigned char)*c;
		/* kernel command lines split at blanks: a label with one cannot be used in root=LABEL= */
		clean[o++] = u <= 0x20 || u >= 0x7f ? '_' : (char)u;
	}
	clean[o] = '\0';
	return strdup(clean);
}

int scan_image_probe(const char *path, char **type, char **uuid, char **label)
{
	*type = *uuid = *label = NULL;
	/* O_NONBLOCK: never hang on a FIFO named like an image */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	blkid_probe pr = blkid_new_probe();
	int rc = 0;
	if (!pr) {
		close(fd);
		return -ENOMEM;
	}
	if (blkid_probe_set_device(pr, fd, 0, 0) != 0) {
		rc = -EINVAL;
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID | BLKID_SUBLKS_LABEL);
	blkid_probe_enable_partitions(pr, 0);
	int r = blkid_do_safeprobe(pr);
	if (r == 1 || r == -1) { /* nothing known (or an I/O error reading it): unknown or corrupt */
		rc = -ENOENT;
		goto out;
	}
	if (r == -2) { /* more than one filesystem signature: ambivalent */
		rc = -EINVAL;
		goto out;
	}
	*type = img_value(pr, "TYPE");
	if (!*type) {
		rc = -ENOENT;
		goto out;
	}
	*uuid = img_value(pr, "UUID");
	*label = img_value(pr, "LABEL");
out:
	blkid_free_probe(pr);
	close(fd);
	return rc;
}
