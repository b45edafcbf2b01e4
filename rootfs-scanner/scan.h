/* scan.h - the rootfs scanner: walks RootfsPath/<distro>/<release>/ and builds an immutable catalog. */
#ifndef AUTOPXE_SCAN_H
#define AUTOPXE_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A kernel (and its initrd) of one release.
 * Paths are relative to the catalog root and contain no "..", no leading '/',
 * and only "safe" bytes: [A-Za-z0-9._+~@,=-] and '/'. Files with other names are skipped
 * (reported in catalog.skipped), so every path can be written into an iPXE script verbatim. */
struct scan_kernel {
	char *id;          /* boot-id kernel part: "6.1.0-21-amd64", "linux", "linux-lts", "default" */
	char *kernel_path; /* as found, e.g. "debian/bookworm/boot/vmlinuz-6.1.0-21-amd64" or "debian/bookworm/vmlinuz" */
	char *kernel_real; /* the regular file it resolves to (symlinks resolved, inside the root) */
	char *initrd_path; /* as found, or NULL when the kernel has no initrd */
	char *initrd_real;
	uint64_t kernel_size, initrd_size;
	int is_default; /* 1 for the unversioned-symlink "default" entry */
};

struct scan_kv {
	char *key;
	char *value;
};

struct scan_release {
	char *name;        /* "bookworm" */
	char *path;        /* relative to root: "debian/bookworm" */
	char *pretty_name; /* os-release PRETTY_NAME, or NULL */
	struct scan_kv *osrel; /* every os-release key (ID, VERSION_ID, ...), file order */
	size_t n_osrel;
	struct scan_kernel *kernels; /* versioned kernels, newest first (kver_cmp); kernels[0] is "latest" */
	size_t n_kernels;
	struct scan_kernel *default_kernel; /* unversioned symlink pair, or NULL */
};

struct scan_distro {
	char *name;
	struct scan_release *releases; /* sorted by name (strcmp) */
	size_t n_releases;
};

struct scan_skip {
	char *path;   /* relative to root (sanitised) */
	char *reason; /* "dangling symlink", "symlink leaves the root", "kernel has no initrd", ... */
};

struct catalog {
	char *root; /* absolute path the scan was made of */
	struct scan_distro *distros; /* sorted by name (strcmp) */
	size_t n_distros;
	struct scan_skip *skipped;
	size_t n_skipped;
	size_t n_releases, n_kernels; /* totals */
	uint64_t scan_us;             /* how long the scan took */
};

/* Scan `root`. Fails (-errno, message in err) only when root itself cannot be opened (or on OOM);
 * anything odd below it is skipped and recorded. Caller frees with catalog_free().
 * Reading rules (details atop scan.c): distro/release dirs may be symlinks inside the root; inside a
 * release, absolute symlink targets are taken relative to the release (a chroot), relative ones to the
 * link's directory, at most 40 links, never leaving the root. Kernels: boot/vmlinuz-<id>, boot/Image-<id>,
 * [usr/]lib/modules/<id>/vmlinuz; initrd: boot/initrd.img-<id>, initrd-<id>.img, initramfs-<id>.img,
 * initrd-<id>. A kernel without an initrd is listed (initrd_path NULL) and also noted in skipped.
 * Releases without any kernel and distros without such releases are left out (and noted).
 * n_kernels counts versioned kernels, not default entries. */
int scan_rootfs(const char *root, struct catalog **out, char *err, size_t errlen);
void catalog_free(struct catalog *cat);

/* Kernel-version order: <0 when a is older than b, 0 equal, >0 newer.
 * Numeric runs compare as numbers (6.10 > 6.9, 6.1.0-21 > 6.1.0-9); "-rcN" sorts before the
 * release it precedes (6.2-rc3 < 6.2); plain words compare as text. Ids not starting with a digit
 * ("linux", "linux-lts") are older than every numeric one and ordered among themselves so that a
 * newest-first list shows them alphabetically (latest on Arch = "linux"). Ties (6.1 vs 6.01) fall
 * back to strcmp: 0 only for identical strings. Total order; pure; any bytes. */
int kver_cmp(const char *a, const char *b);

/* Lookups (borrowed pointers, valid while cat lives). */
const struct scan_distro *catalog_distro(const struct catalog *cat, const char *distro);
const struct scan_release *catalog_release(const struct catalog *cat, const char *distro, const char *release);
/* kernel id may be a version id, "latest" (newest versioned, NULL when none) or "default"
 * (the unversioned symlink pair, NULL when absent; no fallback either way). */
const struct scan_kernel *release_kernel(const struct scan_release *rel, const char *id);

/* Print the catalog as a table (json=0) or JSON (json=1) to f. */
void catalog_print(const struct catalog *cat, FILE *f, int json);

/* Parse os-release text (buf, len bytes, any bytes allowed): KEY=value lines with shell-style
 * quoting ('...', "..." with \\ \" \$ \` escapes, backslash outside quotes). Comments, blank
 * and malformed lines are ignored, and so are values longer than SCAN_OSREL_MAX_VALUE bytes or
 * holding control bytes. At most SCAN_OSREL_MAX_KEYS keys, in file order; a repeated key keeps
 * its first position and its last value. 0 or -ENOMEM; caller frees *out with scan_osrelease_free(). */
#define SCAN_OSREL_MAX_KEYS 64
#define SCAN_OSREL_MAX_VALUE 256
int scan_osrelease_parse(const char *buf, size_t len, struct scan_kv **out, size_t *n_out);
void scan_osrelease_free(struct scan_kv *kv, size_t n);

#endif
