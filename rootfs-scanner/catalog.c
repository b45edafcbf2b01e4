/* catalog.c - the live catalog: the rootfs scan (scan.c) with ISO and filesystem images (extras.c) on top. */
#include "scan.h"
#include "util.h"

#include <stdlib.h>

/*
 * Who calls whom: this file calls scan.c and extras.c; extras.c calls scan.c; scan.c calls neither. The
 * catalog's free and print functions live here because only this layer knows both halves of a release.
 */

int scan_rootfs_opts(const char *root, const struct scan_options *opts, struct catalog **out, char *err,
                     size_t errlen)
{
	uint64_t t0 = now_us();
	int rc = scan_rootfs(root, out, err, errlen);
	if (rc)
		return rc;
	rc = scan_catalog_add_extras(*out, opts, err, errlen);
	if (rc) {
		catalog_free(*out);
		*out = NULL;
		return rc;
	}
	(*out)->scan_us = now_us() - t0;
	return 0;
}

void catalog_free(struct catalog *cat)
{
	if (!cat)
		return;
	scan_catalog_extras_free(cat);
	scan_catalog_free(cat);
}

void catalog_print(const struct catalog *cat, FILE *f, int json)
{
	static const struct scan_print_hooks extras = {
	    .release_json = scan_release_extras_json,
	    .table_tail = scan_catalog_extras_print,
	};
	scan_catalog_print(cat, f, json, &extras);
}
