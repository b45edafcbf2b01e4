/* vfs.c - maps client file names to open read-only fds under the served roots (catalog, IPXEDir, BootDir, StaticDir). */
#include "vfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define VFS_NAME_MAX 1024

enum vfs_base {
	BASE_ROOT,  /* real is relative to the catalog root */
	BASE_CACHE, /* real is relative to the catalog's cache dir (boot files extracted from an ISO) */
	BASE_ABS,   /* real is an absolute path the scanner resolved (an ISO image itself) */
};

struct vfs_entry {
	char *name; /* served name: "boot/" + path as found */
	char *real; /* regular file, see base */
	enum vfs_base base;
};

struct vfs {
	int root_fd;   /* RootfsPath (O_PATH), -1 when missing */
	int cache_fd;  /* the catalog's cache dir (O_PATH), -1 when none */
	int ipxe_fd;   /* IPXEDir, -1 when missing */
	int boot_fd;   /* BootDir (GRUB / PXELINUX binaries, any depth), -1 when unset/missing */
	int static_fd; /* StaticDir, -1 when unset/missing */
	struct vfs_entry *e;
	size_t n;
	int ipxe_present;
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vfs_entry *)a)->name, ((const struct vfs_entry *)b)->name);
}

static void add_entry(struct vfs *v, size_t *cap, const char *as_found, const char *real, enum vfs_base base)
{
	if (!as_found || !real)
		return;
	if (v->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		v->e = xrealloc(v->e, *cap * sizeof *v->e);
	}
	size_t len = strlen(as_found) + 6;
	char *name = xcalloc(1, len);
	snprintf(name, len, "boot/%s", as_found);
	v->e[v->n].name = name;
	v->e[v->n].real = xstrdup(real);
	v->e[v->n].base = base;
	v->n++;
}

/* A kernel or initrd found under RootfsPath is served only when the file it resolves to lies in a boot-file
 * directory (boot/, [usr/]lib/modules/, usr/lib/kernel/ below <distro>/<release>/): a symlink planted in
 * boot/ that leads to a release's etc/shadow (its own or another's) names a file inside the root, but not a
 * boot file, and is not served (issue 8, tests/it_hardening.c). */
static int boot_file_ok(const char *real)
{
	if (scan_boot_file_ok(real))
		return 1;
	if (real)
		log_warn("catalog: not serving %s: not in a boot directory", real);
	return 0;
}

static void add_kernel(struct vfs *v, size_t *cap, const struct scan_kernel *k)
{
	enum vfs_base b = k->cached ? BASE_CACHE : BASE_ROOT;
	if (b == BASE_ROOT && !boot_file_ok(k->kernel_real))
		return;
	add_entry(v, cap, k->kernel_path, k->kernel_real, b);
	if (b == BASE_ROOT && k->initrd_real && !boot_file_ok(k->initrd_real))
		return;
	add_entry(v, cap, k->initrd_path, k->initrd_real, b);
}

static int open_dir(const char *path, const char *what, struct diag *d)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		diag_add(d, DIAG_WARNING, NULL, 0, 0, "%s '%s' cannot be opened: %s", what, path, strerror(errno));
	return fd;
}

struct vfs *vfs_new(const struct config *cfg, const struct catalog *cat, struct diag *d)
{
	struct vfs *v = xcalloc(1, sizeof *v);
	v->root_fd = v->cache_fd = v->ipxe_fd = v->boot_fd = v->static_fd = -1;
	size_t cap = 0;
	if (cat) {
		v->root_fd = open_dir(cat->root, "RootfsPath", d);
		if (cat->cache_dir)
			v->cache_fd = open_dir(cat->cache_dir, "CacheDir", d);
		for (size_t i = 0; i < cat->n_distros; i++) {
			const struct scan_distro *di = &cat->distros[i];
			for (size_t j = 0; j < di->n_releases; j++) {
				const struct scan_release *r = &di->releases[j];
				for (size_t k = 0; k < r->n_kernels; k++)
					add_kernel(v, &cap, &r->kernels[k]);
				if (r->default_kernel)
					add_kernel(v, &cap, r->default_kernel);
				if (r->iso) /* the image itself, for iso-url (inst.repo=, iso-url=, fetch=) */
					add_entry(v, &cap, r->iso->served, r->iso->file, BASE_ABS);
				for (size_t m = 0; m < r->n_images; m++)
					add_entry(v, &cap, r->images[m].path, r->images[m].real, BASE_ROOT);
			}
		}
	}
	if (v->n)
		qsort(v->e, v->n, sizeof *v->e, entry_cmp);
	/* Two kernels may share an initrd: drop exact duplicates. */
	size_t o = 0;
	for (size_t i = 0; i < v->n; i++) {
		if (o && strcmp(v->e[o - 1].name, v->e[i].name) == 0) {
			free(v->e[i].name);
			free(v->e[i].real);
			continue;
		}
		v->e[o++] = v->e[i];
	}
	v->n = o;
	if (cfg && cfg->ipxe_dir) {
		v->ipxe_fd = open(cfg->ipxe_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		static const char *const bins[] = {"undionly.kpxe", "ipxe.efi", "snponly.efi", "ipxe.lkrn", "ipxe.pxe"};
		for (size_t i = 0; v->ipxe_fd >= 0 && i < ARRAY_SIZE(bins); i++) {
			struct stat st;
			if (fstatat(v->ipxe_fd, bins[i], &st, 0) == 0 && S_ISREG(st.st_mode))
				v->ipxe_present = 1;
		}
		if (!v->ipxe_present)
			diag_add(d, DIAG_WARNING, NULL, 0, 0,
			         "no iPXE binaries in IPXEDir '%s' (undionly.kpxe, ipxe.efi, snponly.efi): "
			         "run `make ipxe` or point IPXEDir at them; menus and kernels are served anyway",
			         cfg->ipxe_dir);
	}
	if (cfg && cfg->boot_dir)
		v->boot_fd = open_dir(cfg->boot_dir, "BootDir", d);
	if (cfg && cfg->static_dir)
		v->static_fd = open_dir(cfg->static_dir, "StaticDir", d);
	return v;
}

void vfs_free(struct vfs *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		free(v->e[i].name);
		free(v->e[i].real);
	}
	free(v->e);
	if (v->root_fd >= 0)
		close(v->root_fd);
	if (v->cache_fd >= 0)
		close(v->cache_fd);
	if (v->ipxe_fd >= 0)
		close(v->ipxe_fd);
	if (v->boot_fd >= 0)
		close(v->boot_fd);
	if (v->static_fd >= 0)
		close(v->static_fd);
	free(v);
}

int vfs_normalize(const char *name, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;
	if (len > VFS_NAME_MAX)
		return -EACCES;
	/* PXE ROMs and Windows-style clients send "/name" or "\name": tolerate leading separators only. */
	while (i < len && (name[i] == '/' || name[i] == '\\'))
		i++;
	while (i < len) {
		size_t start = i;
		while (i < len && name[i] != '/') {
			unsigned char c = (unsigned char)name[i];
			if (c < 0x20 || c >= 0x7f || c == '\\')
				return -EACCES;
			i++;
		}
		size_t clen = i - start;
		while (i < len && name[i] == '/')
			i++; /* collapse "//" */
		if (clen == 0 || (clen == 1 && name[start] == '.'))
			continue;
		if (clen == 2 && name[start] == '.' && name[start + 1] == '.')
			return -EACCES;
		if (o + clen + 2 > outlen)
			return -EACCES;
		if (o)
			out[o++] = '/';
		memcpy(out + o, name + start, clen);
		o += clen;
	}
	if (o == 0)
		return -ENOENT;
	out[o] = '\0';
	return 0;
}

/* Open `rel` beneath dirfd with `flags` without ever leaving it. Uses openat2(RESOLVE_BENEATH); where the
 * kernel or a seccomp filter lacks openat2, walks component by component refusing symlinks. dirfd ==
 * AT_FDCWD opens an absolute path the scanner resolved (no symlink at its end). -errno on failure. */
static int open_beneath(int dirfd, const char *rel, int flags)
{
	if (dirfd == AT_FDCWD) {
		int fd = openat(AT_FDCWD, rel, flags | O_NOFOLLOW);
		return fd >= 0 ? fd : -errno;
	}
	struct open_how how = {
	    .flags = (unsigned long long)flags,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
	if (fd >= 0)
		return (int)fd;
	if (errno == EXDEV) { /* other mounts below a root are fine as long as we stay beneath */
		how.resolve &= ~(unsigned long long)RESOLVE_NO_XDEV;
		fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
		if (fd >= 0)
			return (int)fd;
	}
	if (errno != ENOSYS && errno != EPERM)
		return -errno;
	char buf[VFS_NAME_MAX + 1];
	snprintf(buf, sizeof buf, "%s", rel);
	int cur = dup(dirfd);
	if (cur < 0)
		return -errno;
	char *save = NULL;
	char *comp = strtok_r(buf, "/", &save);
	while (comp) {
		char *next = strtok_r(NULL, "/", &save);
		int nfd = openat(cur, comp, O_NOFOLLOW | O_CLOEXEC | (next ? O_PATH | O_DIRECTORY : flags));
		int e = errno;
		close(cur);
		if (nfd < 0)
			return -e;
		cur = nfd;
		comp = next;
	}
	return cur;
}

/* Open a regular file for reading. Its type is checked through an O_PATH handle first, so a device node or
 * FIFO planted in a served dir is never opened at all; the read handle must then be the same inode. */
static int open_file(int dirfd, const char *rel, struct stat *st)
{
	int pfd = open_beneath(dirfd, rel, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return pfd == -ELOOP || pfd == -EXDEV ? -EACCES : pfd;
	struct stat pst;
	int rc = fstat(pfd, &pst) == 0 ? 0 : -errno;
	close(pfd);
	if (rc)
		return rc;
	if (!S_ISREG(pst.st_mode))
		return S_ISDIR(pst.st_mode) ? -EISDIR : -EINVAL;
	int fd = open_beneath(dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fd == -ELOOP || fd == -EXDEV ? -EACCES : fd;
	if (fstat(fd, st) != 0 || st->st_dev != pst.st_dev || st->st_ino != pst.st_ino || !S_ISREG(st->st_mode)) {
		close(fd);
		return -EAGAIN; /* replaced between the two opens: the client retries */
	}
	int fl = fcntl(fd, F_GETFL); /* regular file: back to blocking reads */
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
}

static const struct vfs_entry *lookup(const struct vfs *v, const char *name)
{
	size_t lo = 0, hi = v->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, v->e[mid].name);
		if (c == 0)
			return &v->e[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int vfs_open(const struct vfs *v, const char *name, size_t len, struct stat *st, enum vfs_kind *kind)
{
	char norm[VFS_NAME_MAX + 2];
	int rc = vfs_normalize(name, len, norm, sizeof norm);
	if (rc)
		return rc;
	const struct vfs_entry *e = lookup(v, norm);
	if (e) {
		int dirfd = e->base == BASE_CACHE ? v->cache_fd : e->base == BASE_ABS ? AT_FDCWD : v->root_fd;
		if (kind)
			*kind = VFS_CATALOG;
		if (dirfd < 0 && dirfd != AT_FDCWD)
			return -ENOENT;
		return open_file(dirfd, e->real, st);
	}
	if (!strchr(norm, '/') && v->ipxe_fd >= 0) {
		int fd = open_file(v->ipxe_fd, norm, st);
		if (fd != -ENOENT) {
			if (kind)
				*kind = VFS_IPXE;
			return fd;
		}
	}
	if (v->boot_fd >= 0) {
		int fd = open_file(v->boot_fd, norm, st);
		if (fd != -ENOENT && fd != -ENOTDIR) {
			if (kind)
				*kind = VFS_BOOT;
			return fd;
		}
	}
	if (v->static_fd >= 0) {
		if (kind)
			*kind = VFS_STATIC;
		return open_file(v->static_fd, norm, st);
	}
	return -ENOENT;
}

size_t vfs_catalog_count(const struct vfs *v) { return v->n; }
const char *vfs_catalog_name(const struct vfs *v, size_t i) { return i < v->n ? v->e[i].name : NULL; }
int vfs_ipxe_present(const struct vfs *v) { return v->ipxe_present; }

int vfs_boot_has(const struct vfs *v, const char *name)
{
	struct stat st;
	return v && v->boot_fd >= 0 && fstatat(v->boot_fd, name, &st, 0) == 0 && S_ISREG(st.st_mode);
}
