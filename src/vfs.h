/* vfs.h - the one resolver from a client-supplied file name to an open fd, shared by TFTP and HTTP. */
#ifndef AUTOPXE_VFS_H
#define AUTOPXE_VFS_H

#include <stddef.h>
#include <sys/stat.h>

#include "config.h"
#include "diag.h"
#include "scan.h"

/* The namespace a client sees:
 *   boot/<path as found in the catalog>   kernels and initrds the scanner named (nothing else
 *                                          under RootfsPath: no etc/shadow), filesystem images,
 *                                          ISO images (boot/iso/x.iso) and the boot files inside
 *                                          them (boot/iso/x.iso/casper/vmlinuz, read from CacheDir)
 *   <name>                                 a regular file directly in IPXEDir (undionly.kpxe, ...)
 *   <path>                                 a regular file under BootDir, any depth (grubnetx64.efi,
 *                                          grub/x86_64-efi/normal.mod, pxelinux.0, ldlinux.c32, ...)
 *   <path>                                 a regular file under StaticDir, any depth
 * Earlier roots win. Menu names (autopxe-<mac>..., grub/grub.cfg..., pxelinux.cfg/...; menu_name_parse)
 * are handled by the front ends before vfs_open. */
struct vfs;

enum vfs_kind { VFS_CATALOG = 1, VFS_IPXE, VFS_STATIC, VFS_BOOT };

/* Build the index for a config + catalog. Missing IPXEDir/StaticDir are warnings in d.
 * Caller frees with vfs_free(). NULL only on OOM. */
struct vfs *vfs_new(const struct config *cfg, const struct catalog *cat, struct diag *d);
void vfs_free(struct vfs *v);

/* Normalise a requested name into out (pure): strips leading '/' and '\' (PXE ROMs send them),
 * collapses "//" and "./", rejects (-EACCES) "..", backslashes inside, NUL and control bytes,
 * bytes >= 0x7f, and names over 1024 bytes. 0 on success. */
int vfs_normalize(const char *name, size_t len, char *out, size_t outlen);

/* Open a name for reading. Returns an fd (caller closes) and fills *st (a regular file),
 * or -ENOENT (not in the namespace), -EACCES (refused), -EISDIR/-EINVAL (not a regular file),
 * -EMFILE etc. *kind is set on success when kind != NULL. Opening never follows a symlink
 * out of its root (openat2 RESOLVE_BENEATH) and never blocks on FIFOs (O_NONBLOCK then fstat). */
int vfs_open(const struct vfs *v, const char *name, size_t len, struct stat *st, enum vfs_kind *kind);

/* Number of names served from the catalog / whether the iPXE directory has binaries. */
size_t vfs_catalog_count(const struct vfs *v);
/* The i-th served catalog name ("boot/<path>", sorted), i < vfs_catalog_count(); borrowed from v. */
const char *vfs_catalog_name(const struct vfs *v, size_t i);
int vfs_ipxe_present(const struct vfs *v);
/* 1 when BootDir holds the regular file `name` at its top (e.g. "menu.c32"), else 0. */
int vfs_boot_has(const struct vfs *v, const char *name);

#endif
