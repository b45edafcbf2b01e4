/* scan.c - walks RootfsPath/<distro>/<release>/, pairs kernels with initrds and builds the catalog. */
#include "scan.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * How a tree is read (decisions the issue left open):
 * - Exactly two directory levels under the root: <distro>/<release>. Dot-entries are ignored
 *   silently; names outside [A-Za-z0-9._+~@,=-] are skipped and recorded. A distro or release may
 *   be a symlink to a directory inside the root (debian/stable -> bookworm); an absolute target at
 *   these two levels must name a place under the root's own absolute path.
 * - Inside a release every symlink is resolved step by step (at most SC_MAX_LINKS links): relative
 *   targets from the link's directory, absolute targets from the release directory (a rootfs is a
 *   chroot). Whatever leaves the scan root is refused; every component of the result must be a
 *   safe name. Nothing is opened except directories and os-release (O_NOFOLLOW|O_NONBLOCK).
 * - Kernels: boot/vmlinuz-<id>, then boot/Image-<id> (arm64), then lib/modules/<id>/vmlinuz and
 *   usr/lib/modules/<id>/vmlinuz (Fedora); the first one found for an id wins (the modules copy of a
 *   kernel also in boot/ is dropped silently). The initrd is the first of boot/initrd.img-<id>,
 *   boot/initrd-<id>.img, boot/initramfs-<id>.img, boot/initrd-<id> that resolves to a regular file.
 *   A kernel without one is listed with initrd_path NULL and noted in skipped.
 * - "default": <release>/vmlinuz + initrd.img (Debian), else boot/vmlinuz + boot/initrd.img (Ubuntu).
 * - "latest" is the newest kernel, but never one without an initrd while others of the release have one
 *   (half-installed); a default resolving to such a kernel boots latest instead (scan_release_pick_latest).
 * - A release without any kernel is left out of the catalog (noted "no kernel found"), and so is
 *   a distro without releases. n_kernels counts versioned kernels, not the default entries.
 */

#define SC_MAX_LINKS 40
#define SC_PATH_MAX 4096
#define SC_OSREL_MAX_BYTES (64 * 1024)

struct scanner {
	int rootfd;
	const char *root_arg;  /* root as given */
	const char *root_real; /* root with symlinks resolved (may equal root_arg) */
	struct scan_skip *skips;
	size_t n_skips, cap_skips;
	size_t cap_distros;
	char *buf; /* SC_OSREL_MAX_BYTES for reading os-release files, allocated on first use */
	int oom;
};

/* A resolved path: relative to the scan root, no symlinks in it; "" is the root itself. */
struct sc_res {
	char path[SC_PATH_MAX];
	struct stat st;
	int links;     /* symlinks followed */
	int from_link; /* on -ENOENT: the missing name came from a symlink's target (dangling link) */
};

/* A sorted list of directory entry names. */
struct sc_names {
	char **v;
	size_t n, cap;
};

/* The release being scanned. */
struct sc_rel {
	const char *shown; /* path as the user sees it: "debian/stable" */
	const char *real;  /* resolved: "debian/bookworm" */
	struct sc_names boot;
	int have_boot;
	char boot_real[SC_PATH_MAX];
	struct scan_kernel *k;
	size_t nk, capk;
	int default_no_initrd; /* the default pair's initrd is missing: noted once latest/default are settled */
};

#define SC_NO_INITRD "kernel has no initrd (listed without one)"

static int sc_safe_char(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c && strchr("._+~@,=-", c) != NULL;
}

static int sc_safe_name_n(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !sc_safe_char((unsigned char)s[i]))
			return 0;
	return 1;
}

static int sc_safe_name(const char *s) { return sc_safe_name_n(s, strlen(s)); }

static int sc_grow(struct scanner *s, void **arr, size_t *cap, size_t n, size_t elsz)
{
	if (array_grow(arr, cap, n, elsz) == 0)
		return 0;
	s->oom = 1;
	return -ENOMEM;
}

static char *sc_strdup(struct scanner *s, const char *str)
{
	if (!str)
		return NULL;
	char *p = strdup(str);
	if (!p)
		s->oom = 1;
	return p;
}

/* "a" + "/" + "b" (or just "b" when a is empty) into buf. 0 or -ENAMETOOLONG. */
static int sc_join(char *buf, size_t sz, const char *a, const char *b)
{
	int n = *a ? snprintf(buf, sz, "%s/%s", a, b) : snprintf(buf, sz, "%s", b);
	return n < 0 || (size_t)n >= sz ? -ENAMETOOLONG : 0;
}

/* Record a skipped path (already safe or sanitised) and why. */
static void sc_skip(struct scanner *s, const char *path, const char *reason)
{
	if (s->oom || sc_grow(s, (void **)&s->skips, &s->cap_skips, s->n_skips, sizeof(*s->skips)))
		return;
	struct scan_skip *k = &s->skips[s->n_skips];
	k->path = sc_strdup(s, path);
	k->reason = sc_strdup(s, reason);
	if (!k->path || !k->reason) {
		free(k->path);
		free(k->reason);
		return;
	}
	s->n_skips++;
}

/* Record a skip for `name` (any bytes) inside the safe directory path `dir`. */
static void sc_skip_name(struct scanner *s, const char *dir, const char *name, const char *reason)
{
	char clean[1024], path[SC_PATH_MAX + 1024];
	sanitize(name, strlen(name), clean, sizeof(clean));
	if (*dir)
		snprintf(path, sizeof(path), "%s/%s", dir, clean);
	else
		snprintf(path, sizeof(path), "%s", clean);
	sc_skip(s, path, reason);
}

static void sc_skip_errno(struct scanner *s, const char *path, const char *what, int err)
{
	char reason[256];
	snprintf(reason, sizeof(reason), "%s: %s", what, strerror(err));
	sc_skip(s, path, reason);
}

/*
 * Resolve `rel` starting at the resolved directory `base`, following symlinks step by step.
 * Absolute targets restart at `chroot` (a release directory), or, when chroot is NULL, must lie
 * under the root's absolute path. 0 with r filled (r->st describes r->path, never a symlink), or
 * -errno with *why a static reason. r->from_link tells a dangling link from a missing name.
 */
static int sc_resolve(struct scanner *s, const char *chroot, const char *base, const char *rel, struct sc_res *r,
		      const char **why)
{
	char rest[2 * SC_PATH_MAX], tgt[SC_PATH_MAX];
	size_t plen = strlen(base), rl = strlen(rel);
	size_t rest_len = rl, orig_tail = rl; /* the last orig_tail bytes of rest come from `rel` itself */
	int have_st = 0;
	r->links = 0;
	r->from_link = 0;
	if (plen >= sizeof(r->path) || rl >= sizeof(rest))
		goto toolong;
	memcpy(r->path, base, plen + 1);
	memcpy(rest, rel, rl + 1);
	char *p = rest;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		char *c = p;
		while (*p && *p != '/')
			p++;
		size_t cl = (size_t)(p - c);
		if (have_st && !S_ISDIR(r->st.st_mode)) {
			*why = "not a directory";
			return -ENOTDIR;
		}
		if (cl == 1 && c[0] == '.')
			continue;
		if (cl == 2 && c[0] == '.' && c[1] == '.') {
			if (plen == 0) {
				*why = "symlink leaves the root";
				return -EXDEV;
			}
			char *slash = memrchr(r->path, '/', plen);
			plen = slash ? (size_t)(slash - r->path) : 0;
			r->path[plen] = '\0';
			have_st = 0;
			continue;
		}
		if (!sc_safe_name_n(c, cl)) {
			int linked = (size_t)(rest + rest_len - c) > orig_tail;
			*why = linked ? "symlink target has an unsafe name" : "unsafe name";
			return -EINVAL;
		}
		size_t old = plen;
		if (plen + 1 + cl >= sizeof(r->path))
			goto toolong;
		if (plen)
			r->path[plen++] = '/';
		memcpy(r->path + plen, c, cl);
		plen += cl;
		r->path[plen] = '\0';
		if (fstatat(s->rootfd, r->path, &r->st, AT_SYMLINK_NOFOLLOW) != 0) {
			int e = errno;
			r->from_link = (size_t)(rest + rest_len - c) > orig_tail;
			*why = e == ENOENT ? (r->from_link ? "dangling symlink" : "not found")
			       : e == EACCES ? "permission denied"
			       : e == ENOTDIR ? "not a directory"
			       : "cannot stat";
			return -e;
		}
		have_st = 1;
		if (!S_ISLNK(r->st.st_mode))
			continue;
		if (++r->links > SC_MAX_LINKS) {
			*why = "symlink loop";
			return -ELOOP;
		}
		ssize_t n = readlinkat(s->rootfd, r->path, tgt, sizeof(tgt));
		if (n < 0) {
			*why = "cannot read symlink";
			return -errno;
		}
		if ((size_t)n >= sizeof(tgt))
			goto toolong;
		if (n == 0) {
			*why = "dangling symlink";
			return -ENOENT;
		}
		tgt[n] = '\0';
		plen = old;
		r->path[plen] = '\0';
		have_st = 0;
		const char *t = tgt;
		if (tgt[0] == '/') {
			if (chroot) {
				plen = strlen(chroot);
				memcpy(r->path, chroot, plen + 1);
			} else {
				/* outside any rootfs: the target must spell out a place under the root */
				const char *roots[2] = {s->root_real, s->root_arg};
				size_t m = 0;
				int under = 0;
				for (int i = 0; i < 2 && !under; i++) {
					size_t rlen = strlen(roots[i]);
					while (rlen > 0 && roots[i][rlen - 1] == '/')
						rlen--; /* "/" itself becomes "" and matches every absolute target */
					if (strncmp(tgt, roots[i], rlen) == 0 && (tgt[rlen] == '/' || !tgt[rlen])) {
						m = rlen;
						under = 1;
					}
				}
				if (!under) {
					*why = "symlink leaves the root";
					return -EXDEV;
				}
				t = tgt + m;
				plen = 0;
				r->path[0] = '\0';
			}
		}
		size_t tl = strlen(t), pl = rest_len - (size_t)(p - rest);
		if (tl + 1 + pl >= sizeof(rest))
			goto toolong;
		memmove(rest + tl + 1, p, pl + 1);
		memcpy(rest, t, tl);
		rest[tl] = '/';
		p = rest;
		rest_len = tl + 1 + pl;
		if (orig_tail > pl)
			orig_tail = pl;
	}
	if (!have_st && fstatat(s->rootfd, plen ? r->path : ".", &r->st, AT_SYMLINK_NOFOLLOW) != 0) {
		*why = "cannot stat";
		return -errno;
	}
	return 0;
toolong:
	*why = "path too long";
	return -ENAMETOOLONG;
}

static void sc_names_free(struct sc_names *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
	n->v = NULL;
	n->n = n->cap = 0;
}

static int sc_strcmp_p(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int sc_names_has(const struct sc_names *n, const char *name)
{
	return n->n && bsearch(&name, n->v, n->n, sizeof(*n->v), sc_strcmp_p) != NULL;
}

enum sc_report { SC_REPORT_ALL, SC_REPORT_BOOT, SC_REPORT_NONE };

static int sc_boot_like(const char *name)
{
	static const char *const pfx[] = {"vmlinuz", "Image", "initrd", "initramfs"};
	for (size_t i = 0; i < ARRAY_SIZE(pfx); i++)
		if (str_starts_with(name, pfx[i]))
			return 1;
	return 0;
}

/* List the directory at resolved path `real` (shown to the user as `shown`), sorted, without
 * dot-entries and unsafe names (recorded as selected by `rep`). 0 or -errno (recorded). */
static int sc_list(struct scanner *s, const char *real, const char *shown, enum sc_report rep, struct sc_names *out)
{
	out->v = NULL;
	out->n = out->cap = 0;
	int fd = openat(s->rootfd, *real ? real : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		sc_skip_errno(s, *shown ? shown : ".", "cannot read directory", e);
		return -e;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		sc_skip_errno(s, *shown ? shown : ".", "cannot read directory", e);
		return -e;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		if (nm[0] == '.')
			continue;
		if (!sc_safe_name(nm)) {
			if (rep == SC_REPORT_ALL || (rep == SC_REPORT_BOOT && sc_boot_like(nm)))
				sc_skip_name(s, shown, nm, "unsafe name");
			continue;
		}
		if (sc_grow(s, (void **)&out->v, &out->cap, out->n, sizeof(*out->v)))
			break;
		if (!(out->v[out->n] = sc_strdup(s, nm)))
			break;
		out->n++;
	}
	closedir(d);
	if (s->oom) {
		sc_names_free(out);
		return -ENOMEM;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), sc_strcmp_p);
	return 0;
}

static void sc_kernel_free(struct scan_kernel *k)
{
	if (!k)
		return;
	free(k->id);
	free(k->kernel_path);
	free(k->kernel_real);
	free(k->initrd_path);
	free(k->initrd_real);
}

static const struct scan_kernel *sc_find_id(const struct scan_kernel *k, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (k[i].id && strcmp(k[i].id, id) == 0)
			return &k[i];
	return NULL;
}

/* Fill k (zeroed by the caller) from resolved files; shown paths are release-relative. */
static int sc_kernel_fill(struct scanner *s, struct scan_kernel *k, const struct sc_rel *R, const char *id,
			  const char *kshown, const struct sc_res *kr, const char *ishown, const struct sc_res *ir)
{
	char buf[SC_PATH_MAX];
	/* A link in boot/ may lead anywhere inside the root, e.g. to etc/shadow: only boot files are kernels. */
	const char *bad = !scan_boot_file_ok(kr->path) ? kshown : (ishown && !scan_boot_file_ok(ir->path)) ? ishown : NULL;
	if (bad) {
		if (sc_join(buf, sizeof(buf), R->shown, bad))
			snprintf(buf, sizeof(buf), "%s/...", R->shown);
		sc_skip(s, buf, "resolves outside the boot directories (boot/, lib/modules/, usr/lib/kernel/)");
		return -EACCES;
	}
	k->id = sc_strdup(s, id);
	if (sc_join(buf, sizeof(buf), R->shown, kshown) == 0)
		k->kernel_path = sc_strdup(s, buf);
	k->kernel_real = sc_strdup(s, kr->path);
	k->kernel_size = (uint64_t)kr->st.st_size;
	if (ishown) {
		if (sc_join(buf, sizeof(buf), R->shown, ishown) == 0)
			k->initrd_path = sc_strdup(s, buf);
		k->initrd_real = sc_strdup(s, ir->path);
		k->initrd_size = (uint64_t)ir->st.st_size;
		if (!k->initrd_path || !k->initrd_real)
			goto bad;
	}
	if (!k->id || !k->kernel_path || !k->kernel_real)
		goto bad;
	return 0;
bad:
	sc_kernel_free(k);
	memset(k, 0, sizeof(*k));
	if (!s->oom)
		sc_skip(s, R->shown, "path too long");
	return -ENOMEM;
}

/* Resolve the release-relative file `relpath` into r, requiring a regular file. On failure the
 * problem is recorded (except a plain "not there" when quiet_missing). 0, -ENOENT (not there), or
 * another -errno. */
static int sc_file(struct scanner *s, const struct sc_rel *R, const char *relpath, struct sc_res *r,
		   int quiet_missing)
{
	const char *why = NULL;
	char shown[SC_PATH_MAX];
	const char *base = R->real, *rel = relpath;
	if (R->have_boot && strncmp(relpath, "boot/", 5) == 0) {
		base = R->boot_real; /* already resolved: spares a lookup per file */
		rel = relpath + 5;
	}
	int rc = sc_resolve(s, R->real, base, rel, r, &why);
	if (sc_join(shown, sizeof(shown), R->shown, relpath))
		snprintf(shown, sizeof(shown), "%s/...", R->shown);
	if (rc) {
		if (!(quiet_missing && rc == -ENOENT && !r->from_link))
			sc_skip(s, shown, why);
		return rc == -ENOENT && !r->from_link ? -ENOENT : rc;
	}
	if (!S_ISREG(r->st.st_mode)) {
		sc_skip(s, shown, "not a regular file");
		return -EINVAL;
	}
	return 0;
}

/* Find the initrd of kernel `id` among boot/ names; 0 with *ishown set, or -ENOENT. */
static int sc_initrd(struct scanner *s, const struct sc_rel *R, const char *id, char *ishown, size_t sz,
		     struct sc_res *ir)
{
	static const struct {
		const char *pre, *suf;
	} pat[] = {{"initrd.img-", ""}, {"initrd-", ".img"}, {"initramfs-", ".img"}, {"initrd-", ""}};
	if (!R->have_boot)
		return -ENOENT;
	for (size_t i = 0; i < ARRAY_SIZE(pat); i++) {
		char name[NAME_MAX + 1];
		int n = snprintf(name, sizeof(name), "%s%s%s", pat[i].pre, id, pat[i].suf);
		if (n < 0 || (size_t)n >= sizeof(name) || !sc_names_has(&R->boot, name))
			continue;
		snprintf(ishown, sz, "boot/%s", name);
		if (sc_file(s, R, ishown, ir, 0) == 0)
			return 0;
	}
	return -ENOENT;
}

/* Add the versioned kernel at release-relative `kpath` with boot id `id`. */
static void sc_add_kernel(struct scanner *s, struct sc_rel *R, const char *kpath, const char *id, int from_modules)
{
	struct sc_res kr, ir;
	char ishown[SC_PATH_MAX], shown[SC_PATH_MAX];
	if (s->oom)
		return;
	if (sc_join(shown, sizeof(shown), R->shown, kpath))
		return;
	if (sc_find_id(R->k, R->nk, id)) {
		if (!from_modules)
			sc_skip(s, shown, "duplicate kernel id");
		return;
	}
	if (strcmp(id, "latest") == 0 || strcmp(id, "default") == 0) {
		sc_skip(s, shown, "kernel id is reserved (latest/default)");
		return;
	}
	if (sc_file(s, R, kpath, &kr, from_modules) != 0)
		return;
	int have_initrd = sc_initrd(s, R, id, ishown, sizeof(ishown), &ir) == 0;
	if (sc_grow(s, (void **)&R->k, &R->capk, R->nk, sizeof(*R->k)))
		return;
	struct scan_kernel *k = &R->k[R->nk];
	memset(k, 0, sizeof(*k));
	if (sc_kernel_fill(s, k, R, id, kpath, &kr, have_initrd ? ishown : NULL, &ir) == 0)
		R->nk++;
}

/* Fedora and friends: <mdir>/<version>/vmlinuz. `seen` holds the real path of a modules
 * directory already scanned (lib -> usr/lib makes both names the same directory). */
static void sc_modules(struct scanner *s, struct sc_rel *R, const char *mdir, char *seen, size_t seensz)
{
	struct sc_res mr;
	const char *why;
	char shown[SC_PATH_MAX];
	if (sc_join(shown, sizeof(shown), R->shown, mdir))
		return;
	int rc = sc_resolve(s, R->real, R->real, mdir, &mr, &why);
	if (rc) {
		if (!(rc == -ENOENT && !mr.from_link) && rc != -ENOTDIR)
			sc_skip(s, shown, why);
		return;
	}
	if (!S_ISDIR(mr.st.st_mode) || strcmp(mr.path, seen) == 0)
		return;
	snprintf(seen, seensz, "%s", mr.path);
	struct sc_names vers;
	if (sc_list(s, mr.path, shown, SC_REPORT_NONE, &vers))
		return;
	for (size_t i = 0; i < vers.n; i++) {
		char kpath[SC_PATH_MAX];
		if (snprintf(kpath, sizeof(kpath), "%s/%s/vmlinuz", mdir, vers.v[i]) >= (int)sizeof(kpath))
			continue;
		sc_add_kernel(s, R, kpath, vers.v[i], 1);
	}
	sc_names_free(&vers);
}

static int sc_kernel_desc(const void *a, const void *b)
{
	const struct scan_kernel *x = a, *y = b;
	return kver_cmp(y->id, x->id);
}

/* The unversioned symlinks: Debian <release>/vmlinuz, Ubuntu <release>/boot/vmlinuz. */
static struct scan_kernel *sc_default(struct scanner *s, struct sc_rel *R)
{
	static const struct {
		const char *kernel, *initrd;
	} pairs[] = {{"vmlinuz", "initrd.img"}, {"boot/vmlinuz", "boot/initrd.img"}};
	for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
		struct sc_res kr, ir;
		if (i == 1 && !(R->have_boot && sc_names_has(&R->boot, "vmlinuz")))
			continue; /* boot/ was listed already: spare the lookup */
		if (sc_file(s, R, pairs[i].kernel, &kr, 1) != 0)
			continue;
		int rc = sc_file(s, R, pairs[i].initrd, &ir, 1);
		R->default_no_initrd = rc == -ENOENT;
		struct scan_kernel *k = calloc(1, sizeof(*k));
		if (!k) {
			s->oom = 1;
			return NULL;
		}
		if (sc_kernel_fill(s, k, R, "default", pairs[i].kernel, &kr, rc == 0 ? pairs[i].initrd : NULL, &ir)) {
			free(k);
			return NULL;
		}
		k->is_default = 1;
		return k;
	}
	return NULL;
}

/* Read and parse the release's os-release (etc/ first, then usr/lib/). */
static void sc_osrelease(struct scanner *s, struct sc_rel *R, struct scan_release *rel)
{
	static const char *const paths[] = {"etc/os-release", "usr/lib/os-release"};
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		struct sc_res r;
		char shown[SC_PATH_MAX];
		if (sc_file(s, R, paths[i], &r, 1) != 0)
			continue;
		sc_join(shown, sizeof(shown), R->shown, paths[i]);
		/* never blocks: O_NONBLOCK, and the file was a regular one an instant ago (re-checked) */
		int fd = openat(s->rootfd, r.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			sc_skip_errno(s, shown, "cannot open", errno);
			continue;
		}
		struct stat st;
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			sc_skip(s, shown, "not a regular file");
			continue;
		}
		if (!s->buf && !(s->buf = malloc(SC_OSREL_MAX_BYTES))) {
			close(fd);
			s->oom = 1;
			return;
		}
		char *buf = s->buf;
		size_t len = 0;
		while (len < SC_OSREL_MAX_BYTES) {
			ssize_t n = read(fd, buf + len, SC_OSREL_MAX_BYTES - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += (size_t)n;
		}
		close(fd);
		if (scan_osrelease_parse(buf, len, &rel->osrel, &rel->n_osrel)) {
			s->oom = 1;
			return;
		}
		for (size_t j = 0; j < rel->n_osrel; j++)
			if (strcmp(rel->osrel[j].key, "PRETTY_NAME") == 0)
				rel->pretty_name = sc_strdup(s, rel->osrel[j].value);
		return;
	}
}

static void sc_note(void *s, const char *path, const char *reason) { sc_skip(s, path, reason); }

/* Settle latest and default (scan_release_pick_latest); kernels listed without an initrd that the rule
 * did not note are noted as such. */
static void sc_pick_latest(struct scanner *s, const struct sc_rel *R, struct scan_release *rel)
{
	int rc = scan_release_pick_latest(rel, sc_note, s);
	if (rc < 0) {
		s->oom = 1;
		return;
	}
	for (size_t i = 0; rc == 0 && i < rel->n_kernels; i++)
		if (!rel->kernels[i].initrd_path)
			sc_skip(s, rel->kernels[i].kernel_path, SC_NO_INITRD);
	const struct scan_kernel *d = rel->default_kernel;
	if (d && !d->initrd_path && R->default_no_initrd)
		sc_skip(s, d->kernel_path, SC_NO_INITRD);
}

void scan_release_free(struct scan_release *r)
{
	free(r->name);
	free(r->path);
	free(r->pretty_name);
	scan_osrelease_free(r->osrel, r->n_osrel);
	for (size_t i = 0; i < r->n_kernels; i++)
		sc_kernel_free(&r->kernels[i]);
	free(r->kernels);
	sc_kernel_free(r->default_kernel);
	free(r->default_kernel);
}

/* Scan one release (shown/real paths resolved by the caller). 0 when it has a kernel. */
static int sc_release(struct scanner *s, const char *name, const char *shown, const char *real,
		      struct scan_release *rel)
{
	struct sc_rel R = {.shown = shown, .real = real};
	struct sc_res br;
	const char *why;
	char bshown[SC_PATH_MAX], seen[SC_PATH_MAX] = "";
	memset(rel, 0, sizeof(*rel));
	if (sc_join(bshown, sizeof(bshown), shown, "boot"))
		return -ENAMETOOLONG;
	int rc = sc_resolve(s, real, real, "boot", &br, &why);
	if (rc == 0 && S_ISDIR(br.st.st_mode)) {
		if (sc_list(s, br.path, bshown, SC_REPORT_BOOT, &R.boot) == 0) {
			R.have_boot = 1;
			memcpy(R.boot_real, br.path, sizeof(R.boot_real));
		}
	} else if (rc == 0) {
		sc_skip(s, bshown, "not a directory");
	} else if (!(rc == -ENOENT && !br.from_link)) {
		sc_skip(s, bshown, why);
	}
	static const char *const pfx[] = {"vmlinuz-", "Image-"};
	for (size_t p = 0; p < ARRAY_SIZE(pfx) && R.have_boot; p++) {
		size_t pl = strlen(pfx[p]);
		for (size_t i = 0; i < R.boot.n; i++) {
			const char *nm = R.boot.v[i];
			if (strncmp(nm, pfx[p], pl) != 0 || !nm[pl])
				continue;
			char kpath[SC_PATH_MAX];
			snprintf(kpath, sizeof(kpath), "boot/%s", nm);
			sc_add_kernel(s, &R, kpath, nm + pl, 0);
		}
	}
	sc_modules(s, &R, "lib/modules", seen, sizeof(seen));
	sc_modules(s, &R, "usr/lib/modules", seen, sizeof(seen));
	rel->default_kernel = sc_default(s, &R);
	sc_names_free(&R.boot);
	if (!s->oom && R.nk > 1)
		qsort(R.k, R.nk, sizeof(*R.k), sc_kernel_desc);
	rel->kernels = R.k;
	rel->n_kernels = R.nk;
	if (!s->oom)
		sc_pick_latest(s, &R, rel);
	if (s->oom || (R.nk == 0 && !rel->default_kernel)) {
		if (!s->oom)
			sc_skip(s, shown, "no kernel found");
		scan_release_free(rel);
		memset(rel, 0, sizeof(*rel));
		return -ENOENT;
	}
	sc_osrelease(s, &R, rel);
	rel->name = sc_strdup(s, name);
	rel->path = sc_strdup(s, shown);
	if (s->oom) {
		scan_release_free(rel);
		memset(rel, 0, sizeof(*rel));
		return -ENOMEM;
	}
	return 0;
}

/* Resolve a distro or release entry `rel` below resolved `base`; 0 when it is a directory. */
static int sc_dir_entry(struct scanner *s, const char *base, const char *rel, const char *shown, struct sc_res *r)
{
	const char *why;
	int rc = sc_resolve(s, NULL, base, rel, r, &why);
	if (rc) {
		sc_skip(s, shown, why);
		return rc;
	}
	if (!S_ISDIR(r->st.st_mode)) {
		sc_skip(s, shown, "not a directory");
		return -ENOTDIR;
	}
	return 0;
}

static void sc_distro(struct scanner *s, struct catalog *cat, const char *name, const char *real)
{
	struct sc_names rels;
	size_t cap = 0;
	struct scan_distro d = {0};
	if (sc_list(s, real, name, SC_REPORT_ALL, &rels))
		return;
	struct sc_res *rr = malloc(sizeof(*rr));
	if (!rr) {
		s->oom = 1;
		sc_names_free(&rels);
		return;
	}
	for (size_t i = 0; i < rels.n && !s->oom; i++) {
		char shown[SC_PATH_MAX];
		if (sc_join(shown, sizeof(shown), name, rels.v[i]))
			continue;
		if (sc_dir_entry(s, real, rels.v[i], shown, rr))
			continue;
		if (sc_grow(s, (void **)&d.releases, &cap, d.n_releases, sizeof(*d.releases)))
			break;
		if (sc_release(s, rels.v[i], shown, rr->path, &d.releases[d.n_releases]) == 0)
			d.n_releases++;
	}
	free(rr);
	sc_names_free(&rels);
	d.name = sc_strdup(s, name);
	if (!s->oom && d.n_releases == 0)
		sc_skip(s, name, "no release with a kernel");
	if (s->oom || d.n_releases == 0 ||
	    sc_grow(s, (void **)&cat->distros, &s->cap_distros, cat->n_distros, sizeof(*cat->distros))) {
		for (size_t i = 0; i < d.n_releases; i++)
			scan_release_free(&d.releases[i]);
		free(d.releases);
		free(d.name);
		return;
	}
	cat->distros[cat->n_distros++] = d;
	cat->n_releases += d.n_releases;
	for (size_t i = 0; i < d.n_releases; i++)
		cat->n_kernels += d.releases[i].n_kernels;
}

static int sc_skip_cmp(const void *a, const void *b)
{
	const struct scan_skip *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	return c ? c : strcmp(x->reason, y->reason);
}

void scan_catalog_free(struct catalog *cat)
{
	if (!cat)
		return;
	for (size_t i = 0; i < cat->n_distros; i++) {
		struct scan_distro *d = &cat->distros[i];
		for (size_t j = 0; j < d->n_releases; j++)
			scan_release_free(&d->releases[j]);
		free(d->releases);
		free(d->name);
	}
	free(cat->distros);
	for (size_t i = 0; i < cat->n_skipped; i++) {
		free(cat->skipped[i].path);
		free(cat->skipped[i].reason);
	}
	free(cat->skipped);
	free(cat->root);
	free(cat);
}

int scan_rootfs(const char *root, struct catalog **out, char *err, size_t errlen)
{
	uint64_t t0 = now_us();
	struct scanner s = {.rootfd = -1, .root_arg = root};
	struct catalog *cat = NULL;
	char *real = NULL;
	struct sc_names distros = {0};
	int rc;
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	s.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s.rootfd < 0) {
		rc = -errno;
		if (err && errlen) {
			char clean[512];
			sanitize(root, strlen(root), clean, sizeof(clean));
			snprintf(err, errlen, "%s: %s", clean, strerror(-rc));
		}
		return rc;
	}
	real = realpath(root, NULL);
	s.root_real = real ? real : root;
	cat = calloc(1, sizeof(*cat));
	if (!cat || !(cat->root = strdup(s.root_real)))
		goto oom;
	if (sc_list(&s, "", "", SC_REPORT_ALL, &distros) == 0) {
		struct sc_res *r = malloc(sizeof(*r));
		if (!r)
			goto oom;
		for (size_t i = 0; i < distros.n && !s.oom; i++)
			if (sc_dir_entry(&s, "", distros.v[i], distros.v[i], r) == 0)
				sc_distro(&s, cat, distros.v[i], r->path);
		free(r);
	}
	if (s.oom)
		goto oom;
	if (s.n_skips)
		qsort(s.skips, s.n_skips, sizeof(*s.skips), sc_skip_cmp);
	cat->skipped = s.skips;
	cat->n_skipped = s.n_skips;
	sc_names_free(&distros);
	free(s.buf);
	free(real);
	close(s.rootfd);
	cat->scan_us = now_us() - t0;
	*out = cat;
	return 0;
oom:
	if (err && errlen)
		snprintf(err, errlen, "out of memory while scanning");
	sc_names_free(&distros);
	for (size_t i = 0; i < s.n_skips; i++) {
		free(s.skips[i].path);
		free(s.skips[i].reason);
	}
	free(s.skips);
	free(s.buf);
	scan_catalog_free(cat);
	free(real);
	close(s.rootfd);
	return -ENOMEM;
}

/* Binary search of `n` sorted records of `size` bytes whose first member is the name (char *), for the
 * name s[0..len) (not NUL-terminated). Distros and releases are sorted by strcmp. */
_Static_assert(offsetof(struct scan_distro, name) == 0, "sc_bsearch_name reads the name first");
_Static_assert(offsetof(struct scan_release, name) == 0, "sc_bsearch_name reads the name first");

static const void *sc_bsearch_name(const void *base, size_t n, size_t size, const char *s, size_t len)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *m = *(const char *const *)((const char *)base + mid * size);
		int c = strncmp(m, s, len);
		if (c == 0)
			c = m[len] != '\0';
		if (c == 0)
			return (const char *)base + mid * size;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct scan_distro *catalog_distro_n(const struct catalog *cat, const char *name, size_t len)
{
	if (!cat || !name)
		return NULL;
	return sc_bsearch_name(cat->distros, cat->n_distros, sizeof *cat->distros, name, len);
}

const struct scan_release *distro_release_n(const struct scan_distro *d, const char *name, size_t len)
{
	if (!d || !name)
		return NULL;
	return sc_bsearch_name(d->releases, d->n_releases, sizeof *d->releases, name, len);
}

const struct scan_distro *catalog_distro(const struct catalog *cat, const char *distro)
{
	return distro ? catalog_distro_n(cat, distro, strlen(distro)) : NULL;
}

const struct scan_release *catalog_release(const struct catalog *cat, const char *distro, const char *release)
{
	return release ? distro_release_n(catalog_distro(cat, distro), release, strlen(release)) : NULL;
}

const struct scan_kernel *release_latest(const struct scan_release *rel)
{
	return rel && rel->latest < rel->n_kernels ? &rel->kernels[rel->latest] : NULL;
}

/* d (a default entry) takes copies of k's files; its id and is_default stay. 0 or -ENOMEM (d unchanged). */
static int sc_default_take(struct scan_kernel *d, const struct scan_kernel *k)
{
	struct scan_kernel n = {.id = d->id, .kernel_size = k->kernel_size, .initrd_size = k->initrd_size,
	                        .is_default = d->is_default, .cached = k->cached};
	n.kernel_path = strdup(k->kernel_path);
	n.kernel_real = strdup(k->kernel_real);
	n.initrd_path = k->initrd_path ? strdup(k->initrd_path) : NULL;
	n.initrd_real = k->initrd_real ? strdup(k->initrd_real) : NULL;
	if (!n.kernel_path || !n.kernel_real || !n.initrd_path != !k->initrd_path ||
	    !n.initrd_real != !k->initrd_real) {
		n.id = NULL;
		sc_kernel_free(&n);
		return -ENOMEM;
	}
	d->id = NULL;
	sc_kernel_free(d);
	*d = n;
	return 0;
}

int scan_release_pick_latest(struct scan_release *rel, scan_note_fn *note, void *ctx)
{
	size_t first = rel->n_kernels, n_without = 0;
	for (size_t i = 0; i < rel->n_kernels; i++) {
		if (!rel->kernels[i].initrd_path)
			n_without++;
		else if (first == rel->n_kernels)
			first = i;
	}
	if (first == rel->n_kernels || n_without == 0)
		return 0;
	const struct scan_kernel *best = &rel->kernels[first], *hit = NULL;
	struct scan_kernel *d = rel->default_kernel;
	char why[768]; /* two ids of up to NAME_MAX bytes and the words */
	for (size_t i = 0; i < rel->n_kernels; i++) {
		const struct scan_kernel *k = &rel->kernels[i];
		if (k->initrd_path)
			continue;
		snprintf(why, sizeof(why), "kernel %s has no initrd while others in this release do; not used for "
		         "latest/default", k->id);
		note(ctx, k->kernel_path, why);
		if (d && !hit && d->cached == k->cached && d->kernel_real && k->kernel_real &&
		    strcmp(d->kernel_real, k->kernel_real) == 0)
			hit = k;
	}
	if (hit) {
		snprintf(why, sizeof(why), "default resolves to kernel %s, which has no initrd while others in this "
		         "release do; default boots %s instead", hit->id, best->id);
		note(ctx, d->kernel_path, why);
		if (sc_default_take(d, best))
			return -ENOMEM;
	}
	rel->latest = first;
	return 1;
}

const struct scan_kernel *release_kernel(const struct scan_release *rel, const char *id)
{
	if (!rel || !id)
		return NULL;
	if (strcmp(id, "latest") == 0)
		return release_latest(rel);
	if (strcmp(id, "default") == 0)
		return rel->default_kernel;
	return sc_find_id(rel->kernels, rel->n_kernels, id);
}

/* ---- printing ---- */

/* A JSON string for s; outside bytes that are not UTF-8 are shown sanitised. */
static json_t *sc_jstr(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (j)
		return j;
	char clean[1024];
	return json_string(sanitize(s, strlen(s), clean, sizeof(clean)));
}

static json_t *sc_json_kernel(const struct scan_kernel *k)
{
	if (!k)
		return json_null();
	json_t *o = json_object();
	json_object_set_new(o, "id", sc_jstr(k->id));
	json_object_set_new(o, "kernel", sc_jstr(k->kernel_path));
	json_object_set_new(o, "kernel_real", sc_jstr(k->kernel_real));
	json_object_set_new(o, "kernel_size", json_integer((json_int_t)k->kernel_size));
	json_object_set_new(o, "initrd", sc_jstr(k->initrd_path));
	json_object_set_new(o, "initrd_real", sc_jstr(k->initrd_real));
	json_object_set_new(o, "initrd_size", k->initrd_path ? json_integer((json_int_t)k->initrd_size) : json_null());
	json_object_set_new(o, "default", json_boolean(k->is_default));
	return o;
}

static void sc_print_json(const struct catalog *cat, FILE *f, const struct scan_print_hooks *h)
{
	json_t *top = json_object();
	json_object_set_new(top, "root", sc_jstr(cat->root));
	json_object_set_new(top, "scan_us", json_integer((json_int_t)cat->scan_us));
	json_object_set_new(top, "n_releases", json_integer((json_int_t)cat->n_releases));
	json_object_set_new(top, "n_kernels", json_integer((json_int_t)cat->n_kernels));
	json_t *ds = json_array();
	for (size_t i = 0; i < cat->n_distros; i++) {
		const struct scan_distro *d = &cat->distros[i];
		json_t *jd = json_object(), *rs = json_array();
		json_object_set_new(jd, "name", sc_jstr(d->name));
		for (size_t j = 0; j < d->n_releases; j++) {
			const struct scan_release *r = &d->releases[j];
			json_t *jr = json_object(), *ks = json_array(), *os = json_object();
			json_object_set_new(jr, "name", sc_jstr(r->name));
			json_object_set_new(jr, "path", sc_jstr(r->path));
			json_object_set_new(jr, "pretty_name", sc_jstr(r->pretty_name));
			for (size_t k = 0; k < r->n_osrel; k++)
				json_object_set_new(os, r->osrel[k].key, sc_jstr(r->osrel[k].value));
			json_object_set_new(jr, "os_release", os);
			json_object_set_new(jr, "latest", release_latest(r) ? sc_jstr(release_latest(r)->id) : json_null());
			for (size_t k = 0; k < r->n_kernels; k++)
				json_array_append_new(ks, sc_json_kernel(&r->kernels[k]));
			json_object_set_new(jr, "kernels", ks);
			json_object_set_new(jr, "default", sc_json_kernel(r->default_kernel));
			if (h && h->release_json)
				h->release_json(r, jr);
			json_array_append_new(rs, jr);
		}
		json_object_set_new(jd, "releases", rs);
		json_array_append_new(ds, jd);
	}
	json_object_set_new(top, "distros", ds);
	json_t *sk = json_array();
	for (size_t i = 0; i < cat->n_skipped; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "path", sc_jstr(cat->skipped[i].path));
		json_object_set_new(o, "reason", sc_jstr(cat->skipped[i].reason));
		json_array_append_new(sk, o);
	}
	json_object_set_new(top, "skipped", sk);
	json_dumpf(top, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', f);
	json_decref(top);
}

enum { COL_DISTRO, COL_RELEASE, COL_NAME, COL_KERNEL, COL_MARK, COL_KFILE, COL_IFILE, COL_N };

/* One table row per kernel; the pretty name shows on a release's first row only. */
static void sc_row(const struct scan_release *r, const struct scan_kernel *k, int first, const char *distro,
		   const char *cells[COL_N], char *mark, size_t marksz)
{
	int latest = k == release_latest(r);
	int dflt = k->is_default;
	snprintf(mark, marksz, "%s", latest ? "latest" : dflt ? "default" : "");
	cells[COL_DISTRO] = first ? distro : "";
	cells[COL_RELEASE] = first ? r->name : "";
	cells[COL_NAME] = first && r->pretty_name ? r->pretty_name : "";
	cells[COL_KERNEL] = k->id;
	cells[COL_MARK] = mark;
	cells[COL_KFILE] = k->kernel_path;
	cells[COL_IFILE] = k->initrd_path ? k->initrd_path : "(no initrd)";
}

static void sc_cell(FILE *f, size_t w, const char *s, int last)
{
	if (last)
		fprintf(f, "%s\n", s);
	else
		fprintf(f, "%-*s  ", (int)w, s);
}

static void sc_print_table(const struct catalog *cat, FILE *f, const struct scan_print_hooks *h)
{
	static const char *const head[COL_N] = {"DISTRO", "RELEASE", "NAME", "KERNEL", "MARK", "KERNEL FILE",
						"INITRD FILE"};
	size_t w[COL_N];
	for (int pass = 0; pass < 2; pass++) {
		const char *cells[COL_N];
		char mark[16];
		if (pass == 0)
			for (int c = 0; c < COL_N; c++)
				w[c] = strlen(head[c]);
		else
			for (int c = 0; c < COL_N; c++)
				sc_cell(f, w[c], head[c], c + 1 == COL_N);
		for (size_t i = 0; i < cat->n_distros; i++) {
			const struct scan_distro *d = &cat->distros[i];
			for (size_t j = 0; j < d->n_releases; j++) {
				const struct scan_release *r = &d->releases[j];
				size_t n = r->n_kernels + (r->default_kernel ? 1 : 0);
				for (size_t k = 0; k < n; k++) {
					const struct scan_kernel *kk =
						k < r->n_kernels ? &r->kernels[k] : r->default_kernel;
					const char *dn = j == 0 && k == 0 ? d->name : "";
					sc_row(r, kk, k == 0, dn, cells, mark, sizeof(mark));
					for (int c = 0; c < COL_N; c++) {
						if (pass == 0) {
							size_t l = strlen(cells[c]);
							w[c] = l > w[c] ? l : w[c];
						} else {
							sc_cell(f, w[c], cells[c], c + 1 == COL_N);
						}
					}
				}
			}
		}
	}
	char root[1024];
	sanitize(cat->root, strlen(cat->root), root, sizeof(root));
	fprintf(f, "%zu distros, %zu releases, %zu kernels; scanned %s in %llu.%03llu ms\n", cat->n_distros,
		cat->n_releases, cat->n_kernels, root, (unsigned long long)(cat->scan_us / 1000),
		(unsigned long long)(cat->scan_us % 1000));
	if (h && h->table_tail)
		h->table_tail(cat, f);
	if (cat->n_skipped) {
		fprintf(f, "skipped:\n");
		for (size_t i = 0; i < cat->n_skipped; i++)
			fprintf(f, "  %s: %s\n", cat->skipped[i].path, cat->skipped[i].reason);
	}
}

void scan_catalog_print(const struct catalog *cat, FILE *f, int json, const struct scan_print_hooks *h)
{
	if (!cat || !f)
		return;
	if (json)
		sc_print_json(cat, f, h);
	else
		sc_print_table(cat, f, h);
}

int scan_boot_file_ok(const char *real)
{
	static const char *const dirs[] = {"boot/", "lib/modules/", "usr/lib/modules/", "usr/lib/kernel/"};
	if (!real)
		return 0;
	/* skip <distro>/<release>/ */
	const char *p = strchr(real, '/');
	p = p ? strchr(p + 1, '/') : NULL;
	if (!p)
		return 0;
	p++;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (strncmp(p, dirs[i], strlen(dirs[i])) == 0)
			return 1;
	return 0;
}
