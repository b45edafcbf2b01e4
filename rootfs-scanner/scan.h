/* scan.h - the rootfs scanner: walks RootfsPath/<distro>/<release>/ and builds an immutable catalog. */
/* Who implements what (one direction: catalog.c -> extras.c -> scan.c; scan.c knows nothing of the extras):
 * scan.c the rootfs walk, lookups, the latest rule, printing; extras.c ISO and filesystem images on top of
 * a scan; catalog.c scan_rootfs_opts, catalog_free and catalog_print, which compose the two; iso.c, image.c,
 * kver.c, osrelease.c the pieces (ISO probe and cache, libblkid, kernel-version order, os-release). */
#ifndef AUTOPXE_SCAN_H
#define AUTOPXE_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

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
	int cached;     /* 1: kernel_real/initrd_real are relative to catalog.cache_dir (boot files extracted
	                   from an ISO image, see iso.c), not to the catalog root */
};

/* An ISO 9660 image offered as a release (never mounted: read with libarchive, boot files
 * extracted once into the cache dir; see docs/catalog.md). */
struct scan_iso {
	char *file;      /* absolute path of the image on the server (symlinks resolved) */
	char *served;    /* path as served, relative to "boot/": "iso/debian-12.5.0-amd64-netinst.iso" */
	char *label;     /* volume label (libblkid LABEL), or NULL */
	char *info;      /* what the image says it is (.treeinfo family + version, .disk/info), or NULL */
	char *layout;    /* boot-file layout found: "casper", "live", "d-i", "pxeboot", "arch", "search" */
	char *cache_key; /* "<dev>-<inode>-<size>-<mtime ns>" (hex): the cache subdirectory */
	uint64_t size;
};

/* A filesystem image probed with libblkid (rootfs.squashfs, *.img, *.ext4, ...). */
struct scan_image {
	char *path;  /* relative to the catalog root, as found: "debian/bookworm/rootfs.squashfs" */
	char *real;  /* the regular file it resolves to, relative to the catalog root */
	char *type;  /* blkid TYPE: "squashfs", "ext4", "iso9660", ... */
	char *uuid;  /* blkid UUID, or NULL */
	char *label; /* blkid LABEL, or NULL */
	uint64_t size;
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
	struct scan_kernel *kernels; /* versioned kernels, newest first (kver_cmp); ISO kernels in menu order */
	size_t n_kernels;
	size_t latest; /* index of "latest" in kernels: the first kernel with an initrd when any has one, else 0
	                  (scan_release_pick_latest); read it through release_latest() */
	struct scan_kernel *default_kernel; /* unversioned symlink pair, or NULL */
	struct scan_iso *iso;       /* the ISO image this release was read from, or NULL (iso.c) */
	struct scan_image *images;  /* filesystem images in the release dir and its boot/, by name (image.c) */
	size_t n_images;
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
	char *cache_dir;              /* absolute dir holding files extracted from ISOs, or NULL (scan_rootfs_opts) */
	char *iso_dir;                /* absolute ISOPath that was scanned, or NULL */
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
/* Frees a catalog and everything in it (catalog.c: the extras, then scan_catalog_free). NULL is fine. */
void catalog_free(struct catalog *cat);
/* scan.c's part of catalog_free: what scan_rootfs made (distros, releases with scan_release_free, skipped,
 * root) and cat itself. The extras (iso, images, cache_dir, iso_dir) must be gone already. */
void scan_catalog_free(struct catalog *cat);
/* Frees what a release holds from scan_rootfs (names, os-release, kernels, default; not iso/images) and
 * not r itself. Also frees releases built by hand the same way (extras.c). */
void scan_release_free(struct scan_release *r);

/* Options of scan_rootfs_opts (NULL members take the defaults). */
struct scan_options {
	const char *iso_dir;   /* ISOPath: *.iso here become releases of distro "iso"; NULL = <root>/iso */
	const char *cache_dir; /* CacheDir for extracted boot files; NULL = scan_cache_dir_default() */
	int no_iso;            /* 1: skip ISO images */
	int no_images;         /* 1: skip filesystem images */
	int chown_cache;       /* 1 (when running as root): the cache dir and what is extracted into it belong to
	                          cache_uid/cache_gid, the User the server drops to, so later rescans can write */
	uid_t cache_uid;
	gid_t cache_gid;
};

/* The live catalog (catalog.c): scan_rootfs, then scan_catalog_add_extras; scan_us covers both. Same return
 * values as scan_rootfs (-ENOMEM from the extras too); caller frees *out with catalog_free(). */
int scan_rootfs_opts(const char *root, const struct scan_options *opts, struct catalog **out, char *err,
                     size_t errlen);
/* The extras (extras.c, using iso.c and image.c) added to a catalog made by scan_rootfs: ISO images in
 * opts->iso_dir (distro "iso", release = file name without .iso) and <distro>/<release>/ *.iso (release
 * "<release>-<file name without .iso>"), their boot files extracted once into the cache dir; filesystem
 * images of every release probed with libblkid. Problems with single images are skipped (recorded in
 * cat->skipped and logged). 0, or -ENOMEM (message in err; cat is then incomplete: free it with
 * catalog_free). opts NULL takes the defaults. */
int scan_catalog_add_extras(struct catalog *cat, const struct scan_options *opts, char *err, size_t errlen);
/* Frees what extras.c added to a release (iso, images) / to a catalog (those of every release,
 * cache_dir, iso_dir), leaving the rest; catalog_free calls scan_catalog_extras_free. */
void scan_release_extras_free(struct scan_release *r);
void scan_catalog_extras_free(struct catalog *cat);
/* catalog_print's hooks (extras.c): add "iso" and "images" to a release's JSON object (jr is a json_t *),
 * and an "images:" section after the table. */
void scan_release_extras_json(const struct scan_release *r, void *jr);
void scan_catalog_extras_print(const struct catalog *cat, FILE *f);
/* The default cache dir: /var/cache/autopxe when it is (or can be made) writable, else
 * /tmp/autopxe-cache-<uid> (made 0700, must be ours). Writes into buf; 0 or -errno. */
int scan_cache_dir_default(char *buf, size_t len);
/* The same for a process that will run as uid (a root process about to drop privileges). */
int scan_cache_dir_default_for(uid_t uid, char *buf, size_t len);

/* What an ISO image holds, as far as booting it goes (iso.c). */
struct scan_iso_boot {
	char *id;     /* kernel id: "install", "gtk", "live", "hwe", "linux", a version, ... */
	char *kernel; /* path inside the image as found, e.g. "install.amd/vmlinuz" */
	char *initrd; /* path inside the image, or NULL */
	char *kernel_data, *initrd_data; /* the entry holding the bytes (differs for links) */
	uint64_t kernel_size, initrd_size;
};
struct scan_iso_probe {
	char *label, *info, *layout; /* as in struct scan_iso (each may be NULL) */
	struct scan_iso_boot *boots; /* in menu order; boots[0] is "latest" */
	size_t n_boots;
	size_t n_entries; /* entries in the image */
};
/* Probe the ISO image open on fd (read from offset 0; fd stays open and owned by the caller).
 * 0 with *out (caller frees with scan_iso_probe_free), -EINVAL (not an ISO 9660 image / unreadable,
 * why in err), -ENOENT (an image without boot files), -ENOMEM. */
int scan_iso_probe_fd(int fd, struct scan_iso_probe **out, char *err, size_t errlen);
void scan_iso_probe_free(struct scan_iso_probe *p);
/* Cache key of an image from its stat: "<dev>-<ino>-<size>-<mtime ns>" in hex. 0 or -ENAMETOOLONG. */
int scan_iso_cache_key(const struct stat *st, char *buf, size_t len);
/* Extract the boot files of p from the image on fd into <cache_dir>/<key>/ (atomically: a temp dir
 * renamed into place; nothing is done when that dir exists already). 0, 1 (was cached) or -errno. */
int scan_iso_extract(int fd, const struct scan_iso_probe *p, const char *cache_dir, const char *key, char *err,
                     size_t errlen);

/* Probe + extract through the cache: when <cache_dir>/<key>/manifest.json is there and its files are
 * intact, the probe is read from it (the image is not opened by libarchive); otherwise the image on fd
 * is probed and its boot files extracted (scan_iso_extract). 0 with *out (caller frees), -ENOENT (no
 * boot files; remembered in the cache too), -EINVAL (not an ISO 9660 image), -errno. */
int scan_iso_prepare(int fd, const char *cache_dir, const char *key, struct scan_iso_probe **out, char *err,
                     size_t errlen);
/* Images are probed and extracted in a child process killed after `ms` (default 30000): a damaged or
 * hostile image is skipped (-ETIMEDOUT / -EIO) and its key remembered for the process's life. */
void scan_iso_set_timeout(unsigned ms);
/* Touch the cache entries in keep (still used) and remove entries and temp dirs not in keep whose
 * last use is older than grace_s seconds (temp dirs: one hour). */
void scan_iso_cache_prune(const char *cache_dir, char *const *keep, size_t n_keep, time_t grace_s);

/* Give the cache dir and the entry key (NULL: the dir only) to uid/gid when they are someone else's
 * (a root process preparing the cache for the User it drops to). Best effort. */
void scan_iso_cache_chown(const char *cache_dir, const char *key, uid_t uid, gid_t gid);

/* Probe a filesystem image with libblkid (image.c). 0 with type/uuid/label (caller frees each; uuid,
 * label may be NULL), -ENOENT (no known filesystem: unknown or corrupt), -EINVAL (ambivalent), -errno. */
int scan_image_probe(const char *path, char **type, char **uuid, char **label);

/* 1 when a catalog-root-relative real path "<distro>/<release>/..." lies in a boot directory of its release:
 * boot/, lib/modules/, usr/lib/modules/ or usr/lib/kernel/. Kernels and initrds that resolve elsewhere (a
 * planted link to etc/shadow) are neither listed nor served. Pure. */
int scan_boot_file_ok(const char *real);

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
/* The same for a name given by pointer and length (not NUL-terminated): O(log n). */
const struct scan_distro *catalog_distro_n(const struct catalog *cat, const char *name, size_t len);
const struct scan_release *distro_release_n(const struct scan_distro *d, const char *name, size_t len);
/* kernel id may be a version id, "latest" (release_latest) or "default"
 * (the unversioned symlink pair, NULL when absent; no fallback either way). */
const struct scan_kernel *release_kernel(const struct scan_release *rel, const char *id);
/* The release's "latest" kernel: kernels[rel->latest], NULL when it has no versioned kernel. Borrowed. */
const struct scan_kernel *release_latest(const struct scan_release *rel);

/* How a note about a listed kernel reaches the scan's skipped list (path as shown, reason). */
typedef void scan_note_fn(void *ctx, const char *path, const char *reason);
/* The "latest must be bootable" rule, for a release whose kernels are in final order. A kernel without an
 * initrd while other kernels of the release have one is taken for half-installed (vmlinuz unpacked, the
 * initramfs not generated yet or failed): rel->latest becomes the first kernel that has an initrd, and a
 * default_kernel whose kernel_real is such a kernel's is replaced by a copy of that latest one (id
 * "default", is_default 1). Every such kernel, and a replaced default, is noted through note(ctx, ...).
 * A release where no kernel has an initrd keeps latest 0 and its default, and nothing is noted.
 * 1 when the rule applied (some kernel has an initrd and some has none), 0 when not, -ENOMEM (rel is left
 * as it was, apart from notes already made). */
int scan_release_pick_latest(struct scan_release *rel, scan_note_fn *note, void *ctx);

/* Print the catalog as a table (json=0) or JSON (json=1) to f, extras included (catalog.c). */
void catalog_print(const struct catalog *cat, FILE *f, int json);
/* What a layer above the scan adds to its printout; either member may be NULL. */
struct scan_print_hooks {
	void (*release_json)(const struct scan_release *r, void *jr); /* more keys for a release (jr: json_t *) */
	void (*table_tail)(const struct catalog *cat, FILE *f);       /* lines after the table's summary line */
};
/* scan.c's printer: the table (kernels, summary line, then h->table_tail, then skipped) or the JSON
 * (h->release_json called last for each release object). h may be NULL. */
void scan_catalog_print(const struct catalog *cat, FILE *f, int json, const struct scan_print_hooks *h);

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
