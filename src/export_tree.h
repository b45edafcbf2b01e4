/* export_tree.h - lay out the catalog's files for a plain HTTP mirror (HTTPBaseURL / HTTPBaseURLs). */
#ifndef AUTOPXE_EXPORT_TREE_H
#define AUTOPXE_EXPORT_TREE_H

#include <stdio.h>

#include "vfs.h"

struct export_stats {
	size_t files, linked, skipped;
	unsigned long long bytes;
};

/* Write every file the catalog names into dir at the path menus ask for (dir/boot/<path as found>), as hard
 * links when dir is on the same filesystem, else copies; files already there are replaced atomically. What
 * cannot be exported is reported to err (sanitised) and counted in stats->skipped. Borrows v. 0 or -errno
 * (dir cannot be created or opened). */
int export_tree(const struct vfs *v, const char *dir, struct export_stats *stats, FILE *err);

#endif
