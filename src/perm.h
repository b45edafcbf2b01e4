/* perm.h - will the run-time user be able to read what the catalog serves? (check-config and serve start-up) */
#ifndef AUTOPXE_PERM_H
#define AUTOPXE_PERM_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "diag.h"
#include "scan.h"

/* Who the server reads files as once it serves. */
struct perm_ident {
	uid_t uid;
	gid_t gid;
	const gid_t *groups; /* supplementary groups (borrowed), none after a privilege drop */
	size_t n_groups;
	char name[64];       /* for messages: the User name, or "uid N" */
	int self;            /* 1: this process itself; ask the kernel (faccessat), which also knows
	                        capabilities (CAP_DAC_READ_SEARCH under systemd) and ACLs */
};

/* Does the mode/owner in st grant `want` (a mask of 4 = read, 1 = search/execute) to id?
 * Plain POSIX permission bits (ACLs are not read); uid 0 may do anything but execute a file without
 * any x bit, which the caller never asks for. Pure. 1 or 0. */
int perm_allows(const struct stat *st, const struct perm_ident *id, unsigned want);

/* The identity the server will serve as: started as root with User (NULL = "nobody") other than
 * "root", that user with no supplementary groups (drop_privileges clears them); otherwise this
 * process's own effective ids and groups (groups stored in gbuf, up to ngbuf; self = 1). 0, 1 (root: nothing
 * to check) or -ENOENT (the User does not exist: drop_privileges reports that itself). */
int perm_runtime_ident(const char *user, struct perm_ident *id, gid_t *gbuf, size_t ngbuf);

/* Add one warning to d for every catalog kernel and initrd (and, once, for the rootfs/cache directory)
 * that id could not open for reading: the file's own read bit or a parent directory's search bit below
 * "/". Each names the file, what is missing, and the fix. Returns the number of warnings added. */
size_t perm_check_catalog(const struct catalog *cat, const struct perm_ident *id, struct diag *d);

#endif
