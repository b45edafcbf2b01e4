/* fuzz_cpus.c - libFuzzer target: the cgroup parsers of cpus.c (cpu.max, cpu.cfs_*_us, mountinfo,
 * /proc/<pid>/cgroup) on any bytes, and the answers they give keep their promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* two NUL-terminated texts, split at the first 0xff byte */
	char *buf = malloc(size + 2);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	char *a = buf, *b = buf + size + 1;
	for (size_t i = 0; i < size; i++)
		if ((unsigned char)buf[i] == 0xff) {
			buf[i] = '\0';
			b = buf + i + 1;
			break;
		}
	unsigned milli = 0;
	int rc = cpus_parse_cpu_max(a, &milli);
	if (rc != 0 && rc != 1 && rc != -22)
		__builtin_trap();
	if (rc == 1 && milli == 0)
		__builtin_trap();
	milli = 0;
	rc = cpus_parse_cfs(a, b, &milli);
	if (rc == 1 && milli == 0)
		__builtin_trap();
	struct cg_mount m;
	char path[300], dir[2100];
	for (int v1 = 0; v1 < 2; v1++) {
		if (cpus_cgroup_path(a, v1, path, sizeof path) == 0 && (path[0] != '/' || strlen(path) >= sizeof path))
			__builtin_trap();
	}
	if (cpus_mount_find(a, &m) == 0) {
		if (strlen(m.root) >= sizeof m.root || strlen(m.point) >= sizeof m.point)
			__builtin_trap();
		if (cpus_cgroup_path(b, m.v1, path, sizeof path) == 0 && cpus_cgroup_dir(&m, path, dir, sizeof dir) == 0 &&
		    strncmp(dir, m.point, strlen(m.point)) != 0)
			__builtin_trap();
	}
	free(buf);
	return 0;
}
