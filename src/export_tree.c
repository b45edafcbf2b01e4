/* export_tree.c - `autopxe export-tree DIR`: the files the catalog names, at the paths menus use, for an HTTP mirror. */
#include "export_tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* mkdir -p of the directories above path (relative to dfd). 0 or -errno. */
static int make_parents(int dfd, const char *path)
{
	char buf[1200];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdirat(dfd, buf, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static int copy_fd(int in, int out, off_t size)
{
	off_t left = size;
	while (left > 0) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
			char buf[65536];
			n = read(in, buf, sizeof buf);
			if (n > 0 && write(out, buf, (size_t)n) != n)
				return -EIO;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* shorter than fstat said */
		left -= n;
	}
	return 0;
}

/* One file: a hard link when DIR is on the same filesystem, else a copy; written beside and renamed. */
static int export_one(int dfd, const char *name, int fd, const struct stat *st, int *linked)
{
	char tmp[1200], proc[64];
	int rc;
	if ((rc = make_parents(dfd, name)) != 0)
		return rc;
	snprintf(tmp, sizeof tmp, "%s.export-tmp", name);
	unlinkat(dfd, tmp, 0);
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	*linked = 0;
	if (linkat(AT_FDCWD, proc, dfd, tmp, AT_SYMLINK_FOLLOW) == 0) {
		*linked = 1;
	} else {
		int out = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (out < 0)
			return -errno;
		rc = copy_fd(fd, out, st->st_size);
		if (close(out) != 0 && !rc)
			rc = -errno;
		if (rc) {
			unlinkat(dfd, tmp, 0);
			return rc;
		}
	}
	if (renameat(dfd, tmp, dfd, name) != 0) {
		rc = -errno;
		unlinkat(dfd, tmp, 0);
		return rc;
	}
	return 0;
}

int export_tree(const struct vfs *v, const char *dir, struct export_stats *stats, FILE *err)
{
	int dfd, rc = 0;
	memset(stats, 0, sizeof *stats);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -errno;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	for (size_t i = 0; i < vfs_catalog_count(v); i++) {
		const char *name = vfs_catalog_name(v, i);
		struct stat st;
		char safe[600];
		int linked, r, fd = vfs_open(v, name, strlen(name), &st, NULL);
		sanitize(name, strlen(name), safe, sizeof safe);
		if (fd < 0) {
			fprintf(err, "export-tree: %s: %s (skipped)\n", safe, strerror(-fd));
			stats->skipped++;
			continue;
		}
		r = export_one(dfd, name, fd, &st, &linked);
		close(fd);
		if (r) {
			/* e.g. an ISO image and the boot files inside it: a name cannot be a file and a directory */
			fprintf(err, "export-tree: %s: %s (skipped)\n", safe, strerror(-r));
			stats->skipped++;
			continue;
		}
		stats->files++;
		stats->linked += linked ? 1 : 0;
		stats->bytes += (unsigned long long)st.st_size;
	}
	close(dfd);
	return rc;
}
