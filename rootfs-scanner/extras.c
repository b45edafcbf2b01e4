/* extras.c - ISO and filesystem images on top of a rootfs scan: ISOs become releases, releases get their images. */
#include "scan.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Rules (docs/catalog.md):
 * - ISOPath/<name>.iso becomes release <name> of distro "iso", served as boot/iso/<name>.iso.
 *   RootfsPath/<distro>/<release>/<name>.iso becomes release <release>-<name> of <distro>, or just
 *   <release> when that directory holds no rootfs release and exactly one image. The kernels of an
 *   image are named by what they are (install, gtk, live, hwe, a version), in menu order; "latest" is the
 *   first, or the first with an initrd when some have one and some not (scan_release_pick_latest).
 * - A file name outside the scanner's safe set, a release name already taken, an image that is not
 *   ISO 9660, or one without boot files is skipped with a reason (cat->skipped and the log).
 * - Filesystem images: regular files (or symlinks staying inside the root) named *.squashfs, *.sfs,
 *   *.img, *.ext2/3/4, *.xfs, *.btrfs, *.erofs, *.raw directly in a release dir or its boot/ (not
 *   initrd / initramfs / vmlinuz files), in name order, at most IMG_MAX per release.
 */

#define X_PATH 4096
#define IMG_MAX 16
#define CACHE_GRACE_S (24 * 3600)

struct xctx {
	struct catalog *cat;
	const struct scan_options *o;
	char cache[X_PATH];
	int have_cache;
	char cache_err[256];
	struct scan_skip *skips; /* added by us */
	size_t n_skips, cap_skips;
	char **covered; /* paths whose scanner skips our releases make moot */
	size_t n_cov, cap_cov;
	char **keys; /* cache entries in use */
	size_t n_keys, cap_keys;
	int oom;
};

static int x_grow(struct xctx *x, void **arr, size_t *cap, size_t n, size_t elsz)
{
	if (array_grow(arr, cap, n, elsz) == 0)
		return 0;
	x->oom = 1;
	return -ENOMEM;
}

static char *x_strdup(struct xctx *x, const char *s)
{
	if (!s)
		return NULL;
	char *p = strdup(s);
	if (!p)
		x->oom = 1;
	return p;
}

static void x_skip(struct xctx *x, const char *path, const char *reason)
{
	char clean[X_PATH], why[512];
	sanitize(path, strlen(path), clean, sizeof(clean));
	sanitize(reason, strlen(reason), why, sizeof(why));
	log_warn("catalog: skipped %s: %s", clean, why);
	if (x->oom || x_grow(x, (void **)&x->skips, &x->cap_skips, x->n_skips, sizeof(*x->skips)))
		return;
	struct scan_skip *k = &x->skips[x->n_skips];
	k->path = x_strdup(x, clean);
	k->reason = x_strdup(x, why);
	if (!k->path || !k->reason) {
		free(k->path);
		free(k->reason);
		return;
	}
	x->n_skips++;
}

static void x_note(void *x, const char *path, const char *reason) { x_skip(x, path, reason); }

static void x_list_add(struct xctx *x, char ***v, size_t *n, size_t *cap, const char *s)
{
	if (x->oom || x_grow(x, (void **)v, cap, *n, sizeof(**v)))
		return;
	if (((*v)[*n] = x_strdup(x, s)))
		(*n)++;
}

/* snprintf that reports truncation: 0 or -ENAMETOOLONG. */
static int x_fmt(char *buf, size_t sz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int x_fmt(char *buf, size_t sz, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sz, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= sz ? -ENAMETOOLONG : 0;
}

static int ends_with_ci(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n > m && strcasecmp(s + n - m, suf) == 0;
}

static int x_safe_name(const char *s)
{
	if (!*s || s[0] == '.')
		return 0;
	for (const char *c = s; *c; c++) {
		unsigned char u = (unsigned char)*c;
		if (!((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || strchr("._+~@,=-", u)))
			return 0;
	}
	return 1;
}

/* realpath(abs) must lie under root (a resolved absolute path); writes the part below it into rel. */
static int under_root(const char *root, const char *abs, char *rel, size_t relsz)
{
	char *r = realpath(abs, NULL);
	if (!r)
		return -errno;
	size_t rl = strlen(root);
	int ok = strncmp(r, root, rl) == 0 && (r[rl] == '/' || (rl == 1 && root[0] == '/'));
	if (ok)
		snprintf(rel, relsz, "%s", r + (rl == 1 ? 1 : rl + 1));
	free(r);
	return ok ? 0 : -EXDEV;
}

/* ---------------------------------------------------------------- catalog surgery */

static struct scan_distro *x_distro(struct xctx *x, const char *name)
{
	struct catalog *cat = x->cat;
	for (size_t i = 0; i < cat->n_distros; i++)
		if (strcmp(cat->distros[i].name, name) == 0)
			return &cat->distros[i];
	/* scan.c grows distros geometrically from 8; we add one at a time */
	struct scan_distro *v = realloc(cat->distros, (cat->n_distros + 1) * sizeof(*v));
	if (!v) {
		x->oom = 1;
		return NULL;
	}
	cat->distros = v;
	struct scan_distro *d = &cat->distros[cat->n_distros];
	memset(d, 0, sizeof(*d));
	if (!(d->name = x_strdup(x, name)))
		return NULL;
	cat->n_distros++;
	return d;
}

static int x_has_release(struct xctx *x, const char *distro, const char *name)
{
	for (size_t i = 0; i < x->cat->n_distros; i++) {
		const struct scan_distro *d = &x->cat->distros[i];
		if (strcmp(d->name, distro) != 0)
			continue;
		for (size_t j = 0; j < d->n_releases; j++)
			if (strcmp(d->releases[j].name, name) == 0)
				return 1;
	}
	return 0;
}

void scan_release_extras_free(struct scan_release *r)
{
	if (r->iso) {
		free(r->iso->file);
		free(r->iso->served);
		free(r->iso->label);
		free(r->iso->info);
		free(r->iso->layout);
		free(r->iso->cache_key);
		free(r->iso);
		r->iso = NULL;
	}
	for (size_t i = 0; i < r->n_images; i++) {
		free(r->images[i].path);
		free(r->images[i].real);
		free(r->images[i].type);
		free(r->images[i].uuid);
		free(r->images[i].label);
	}
	free(r->images);
	r->images = NULL;
	r->n_images = 0;
}

void scan_catalog_extras_free(struct catalog *cat)
{
	for (size_t i = 0; i < cat->n_distros; i++)
		for (size_t j = 0; j < cat->distros[i].n_releases; j++)
			scan_release_extras_free(&cat->distros[i].releases[j]);
	free(cat->cache_dir);
	free(cat->iso_dir);
	cat->cache_dir = cat->iso_dir = NULL;
}

static void x_release_free(struct scan_release *r)
{
	scan_release_extras_free(r);
	scan_release_free(r);
}

static char *x_join(struct xctx *x, const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);
	if (!p) {
		x->oom = 1;
		return NULL;
	}
	snprintf(p, n, "%s/%s", a, b);
	return p;
}

/* Turn a probe into release `name` of `distro`, served under `served`. Takes nothing; copies. */
static void x_add_iso_release(struct xctx *x, const char *distro, const char *name, const char *served,
                              const char *abs, const struct stat *st, const char *key,
                              const struct scan_iso_probe *p)
{
	struct scan_release r;
	memset(&r, 0, sizeof(r));
	r.name = x_strdup(x, name);
	r.path = x_strdup(x, served);
	r.pretty_name = x_strdup(x, p->info ? p->info : p->label);
	r.kernels = calloc(p->n_boots, sizeof(*r.kernels));
	r.iso = calloc(1, sizeof(*r.iso));
	if (!r.kernels || !r.iso) {
		x->oom = 1;
		goto fail;
	}
	r.n_kernels = p->n_boots;
	for (size_t i = 0; i < p->n_boots; i++) {
		const struct scan_iso_boot *b = &p->boots[i];
		struct scan_kernel *k = &r.kernels[i];
		k->id = x_strdup(x, b->id);
		k->kernel_path = x_join(x, served, b->kernel);
		k->kernel_real = x_join(x, key, b->kernel_data);
		k->kernel_size = b->kernel_size;
		if (b->initrd) {
			k->initrd_path = x_join(x, served, b->initrd);
			k->initrd_real = x_join(x, key, b->initrd_data);
			k->initrd_size = b->initrd_size;
		}
		k->cached = 1;
	}
	r.iso->file = x_strdup(x, abs);
	r.iso->served = x_strdup(x, served);
	r.iso->label = x_strdup(x, p->label);
	r.iso->info = x_strdup(x, p->info);
	r.iso->layout = x_strdup(x, p->layout);
	r.iso->cache_key = x_strdup(x, key);
	r.iso->size = (uint64_t)st->st_size;
	if (x->oom || scan_release_pick_latest(&r, x_note, x) < 0) {
		x->oom = 1;
		goto fail;
	}
	struct scan_distro *d = x_distro(x, distro);
	if (!d)
		goto fail;
	struct scan_release *v = realloc(d->releases, (d->n_releases + 1) * sizeof(*v));
	if (!v) {
		x->oom = 1;
		goto fail;
	}
	d->releases = v;
	d->releases[d->n_releases++] = r;
	x->cat->n_releases++;
	x->cat->n_kernels += r.n_kernels;
	return;
fail:
	x_release_free(&r);
}

/* One ISO file. shown: path as seen below RootfsPath (or "iso/<name>" for ISOPath). */
static void x_iso(struct xctx *x, const char *distro, const char *name, const char *served, const char *abs)
{
	char err[512], key[128];
	struct stat st;
	struct scan_iso_probe *p = NULL;
	if (x_has_release(x, distro, name)) {
		char why[300];
		(void)x_fmt(why, sizeof(why), "release name '%s' of '%s' is taken already", name, distro);
		x_skip(x, served, why);
		return;
	}
	if (!x->have_cache) {
		x_skip(x, served, x->cache_err);
		return;
	}
	int fd = open(abs, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		(void)x_fmt(err, sizeof(err), "cannot open: %s", strerror(errno));
		x_skip(x, served, err);
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		x_skip(x, served, "not a regular file");
		return;
	}
	scan_iso_cache_key(&st, key, sizeof(key));
	int rc = scan_iso_prepare(fd, x->cache, key, &p, err, sizeof(err));
	close(fd);
	if (rc == -ENOMEM) {
		x->oom = 1;
		return;
	}
	if (rc == -ENOENT) /* remembered as such in the cache: keep that entry */
		x_list_add(x, &x->keys, &x->n_keys, &x->cap_keys, key);
	if (rc) {
		x_skip(x, served, err[0] ? err : strerror(-rc));
		return;
	}
	x_list_add(x, &x->keys, &x->n_keys, &x->cap_keys, key);
	if (x->o->chown_cache)
		scan_iso_cache_chown(x->cache, key, x->o->cache_uid, x->o->cache_gid);
	x_add_iso_release(x, distro, name, served, abs, &st, key, p);
	scan_iso_probe_free(p);
}

/* ---------------------------------------------------------------- walking */

struct x_names {
	char **v;
	unsigned char *type;
	size_t n, cap;
};

static void names_free(struct x_names *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
	free(n->type);
	memset(n, 0, sizeof(*n));
}

static int idx_cmp(const void *a, const void *b, void *names)
{
	char **v = names;
	return strcmp(v[*(const size_t *)a], v[*(const size_t *)b]);
}

static int is_image_name(const char *n);

/* Which names a listing keeps (the others are never looked at: spares allocations on big trees). */
enum x_keep { KEEP_ALL, KEEP_MEDIA /* *.iso and image names */, KEEP_IMAGES };

static int x_keep(enum x_keep k, const char *n)
{
	return k == KEEP_ALL || is_image_name(n) || (k == KEEP_MEDIA && ends_with_ci(n, ".iso"));
}

/* List dir (absolute), sorted, dot-entries and names `keep` refuses left out. 0 or -errno. */
static int x_list(struct xctx *x, const char *dir, enum x_keep keep, struct x_names *out)
{
	memset(out, 0, sizeof(*out));
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *de;
	struct x_names tmp = {0};
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || !x_keep(keep, de->d_name))
			continue;
		if (tmp.n == tmp.cap) {
			size_t nc = tmp.cap ? tmp.cap * 2 : 16;
			char **v = realloc(tmp.v, nc * sizeof(*v));
			unsigned char *t = v ? realloc(tmp.type, nc) : NULL;
			if (v)
				tmp.v = v;
			if (!v || !t) {
				x->oom = 1;
				break;
			}
			tmp.type = t;
			tmp.cap = nc;
		}
		if (!(tmp.v[tmp.n] = x_strdup(x, de->d_name)))
			break;
		tmp.type[tmp.n++] = de->d_type;
	}
	closedir(d);
	if (x->oom) {
		names_free(&tmp);
		return -ENOMEM;
	}
	/* sort names and types together */
	size_t *idx = malloc((tmp.n ? tmp.n : 1) * sizeof(*idx));
	char **v = malloc((tmp.n ? tmp.n : 1) * sizeof(*v));
	unsigned char *t = malloc(tmp.n ? tmp.n : 1);
	if (!idx || !v || !t) {
		free(idx);
		free(v);
		free(t);
		names_free(&tmp);
		x->oom = 1;
		return -ENOMEM;
	}
	for (size_t i = 0; i < tmp.n; i++)
		idx[i] = i;
	if (tmp.n > 1)
		qsort_r(idx, tmp.n, sizeof(*idx), idx_cmp, tmp.v);
	for (size_t i = 0; i < tmp.n; i++) {
		v[i] = tmp.v[idx[i]];
		t[i] = tmp.type[idx[i]];
	}
	free(idx);
	free(tmp.v);
	free(tmp.type);
	out->v = v;
	out->type = t;
	out->n = out->cap = tmp.n;
	return 0;
}

/* Is entry i of dir (absolute) a directory, following a symlink only when it stays under root? */
static int x_is_dir(struct xctx *x, const char *dir, const struct x_names *n, size_t i)
{
	char p[X_PATH], rel[X_PATH];
	struct stat st;
	if (n->type[i] == DT_DIR)
		return 1;
	if (n->type[i] != DT_LNK && n->type[i] != DT_UNKNOWN)
		return 0;
	(void)x_fmt(p, sizeof(p), "%s/%s", dir, n->v[i]);
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode) && under_root(x->cat->root, p, rel, sizeof(rel)) == 0;
}

static int is_image_name(const char *n)
{
	static const char *const suf[] = {".squashfs", ".sfs", ".img", ".ext2", ".ext3", ".ext4",
	                                  ".xfs",      ".btrfs", ".erofs", ".raw"};
	if (!strncasecmp(n, "initrd", 6) || !strncasecmp(n, "initramfs", 9) || !strncasecmp(n, "vmlinuz", 7))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(suf); i++)
		if (ends_with_ci(n, suf[i]))
			return 1;
	return 0;
}

static int image_cmp(const void *a, const void *b)
{
	return strcmp(((const struct scan_image *)a)->path, ((const struct scan_image *)b)->path);
}

/* Probe the images among names of `sub` ("" or "boot") in release r (dir: its absolute path). */
static void x_images_in(struct xctx *x, struct scan_release *r, const char *dir, const char *sub, size_t *cap)
{
	struct x_names n;
	char d[X_PATH];
	(void)x_fmt(d, sizeof(d), "%s%s%s", dir, *sub ? "/" : "", sub);
	if (x_list(x, d, KEEP_IMAGES, &n))
		return;
	for (size_t i = 0; i < n.n && !x->oom; i++) {
		const char *nm = n.v[i];
		char abs[X_PATH], shown[X_PATH], rel[X_PATH], why[300];
		struct stat st;
		if (!is_image_name(nm))
			continue;
		(void)x_fmt(shown, sizeof(shown), "%s/%s%s%s", r->path, sub, *sub ? "/" : "", nm);
		if (!x_safe_name(nm)) {
			x_skip(x, shown, "unsafe name");
			continue;
		}
		if (x_fmt(abs, sizeof(abs), "%s/%s", d, nm))
			continue;
		if (stat(abs, &st) != 0 || !S_ISREG(st.st_mode)) {
			x_skip(x, shown, "not a regular file");
			continue;
		}
		if (under_root(x->cat->root, abs, rel, sizeof(rel)) != 0) {
			x_skip(x, shown, "symlink leaves the root");
			continue;
		}
		if (r->n_images >= IMG_MAX) {
			x_skip(x, shown, "too many images in one release (16)");
			continue;
		}
		char *type, *uuid, *label;
		int rc = scan_image_probe(abs, &type, &uuid, &label);
		if (rc) {
			(void)x_fmt(why, sizeof(why), "%s",
			         rc == -ENOENT  ? "unknown or corrupt filesystem image (libblkid recognises no filesystem)"
			         : rc == -EINVAL ? "ambivalent filesystem image (several filesystem signatures)"
			                         : strerror(-rc));
			if (rc == -ENOMEM)
				x->oom = 1;
			else
				x_skip(x, shown, why);
			continue;
		}
		if (x_grow(x, (void **)&r->images, cap, r->n_images, sizeof(*r->images))) {
			free(type);
			free(uuid);
			free(label);
			break;
		}
		struct scan_image *im = &r->images[r->n_images++];
		im->path = x_strdup(x, shown);
		im->real = x_strdup(x, rel);
		im->type = type;
		im->uuid = uuid;
		im->label = label;
		im->size = (uint64_t)st.st_size;
	}
	names_free(&n);
}

/* The ISOs of one <distro>/<release> directory (abs) and, when it is a catalog release, its images. */
static void x_release_dir(struct xctx *x, const char *distro, const char *release, const char *abs)
{
	struct x_names n;
	if (x_list(x, abs, KEEP_MEDIA, &n))
		return;
	struct scan_release *rel = NULL;
	for (size_t i = 0; i < x->cat->n_distros && !rel; i++) {
		struct scan_distro *d = &x->cat->distros[i];
		if (strcmp(d->name, distro) != 0)
			continue;
		for (size_t j = 0; j < d->n_releases && !rel; j++)
			if (strcmp(d->releases[j].name, release) == 0 && !d->releases[j].iso)
				rel = &d->releases[j];
	}
	/* images first: adding ISO releases below may move the releases array (rel) */
	if (rel && !x->o->no_images) {
		size_t cap = 0;
		x_images_in(x, rel, abs, "", &cap);
		x_images_in(x, rel, abs, "boot", &cap);
		if (rel->n_images > 1)
			qsort(rel->images, rel->n_images, sizeof(*rel->images), image_cmp);
	}
	int have_rel = rel != NULL;
	rel = NULL;
	size_t n_iso = 0;
	for (size_t i = 0; i < n.n; i++)
		n_iso += ends_with_ci(n.v[i], ".iso") && n.type[i] != DT_DIR;
	for (size_t i = 0; i < n.n && !x->oom && !x->o->no_iso; i++) {
		const char *nm = n.v[i];
		if (!ends_with_ci(nm, ".iso") || n.type[i] == DT_DIR)
			continue;
		char served[X_PATH], file[X_PATH], rel_path[X_PATH], name[NAME_MAX + 64], stem[NAME_MAX + 1];
		(void)x_fmt(served, sizeof(served), "%s/%s/%s", distro, release, nm);
		if (!x_safe_name(nm)) {
			x_skip(x, served, "unsafe name (ISO file names: [A-Za-z0-9._+~@,=-] only)");
			continue;
		}
		(void)x_fmt(file, sizeof(file), "%s/%s", abs, nm);
		if (under_root(x->cat->root, file, rel_path, sizeof(rel_path)) != 0) {
			x_skip(x, served, "symlink leaves the root");
			continue;
		}
		char *real = realpath(file, NULL);
		if (!real) {
			x->oom = errno == ENOMEM;
			x_skip(x, served, "cannot resolve");
			continue;
		}
		(void)x_fmt(stem, sizeof(stem), "%.*s", (int)(strlen(nm) - 4), nm);
		if (!have_rel && n_iso == 1)
			(void)x_fmt(name, sizeof(name), "%s", release);
		else
			(void)x_fmt(name, sizeof(name), "%s-%s", release, stem);
		x_iso(x, distro, name, served, real);
		free(real);
		char dir_shown[X_PATH];
		(void)x_fmt(dir_shown, sizeof(dir_shown), "%s/%s", distro, release);
		x_list_add(x, &x->covered, &x->n_cov, &x->cap_cov, dir_shown);
		x_list_add(x, &x->covered, &x->n_cov, &x->cap_cov, distro);
	}
	names_free(&n);
}

/* ISOPath: every *.iso becomes a release of distro "iso". */
static void x_iso_dir(struct xctx *x, const char *dir, int explicit_dir)
{
	struct x_names n;
	char *real = realpath(dir, NULL);
	if (!real) {
		if (explicit_dir || errno != ENOENT)
			log_warn("catalog: ISOPath %s: %s", dir, strerror(errno));
		return;
	}
	free(x->cat->iso_dir);
	x->cat->iso_dir = real;
	if (x_list(x, real, KEEP_MEDIA, &n))
		return;
	for (size_t i = 0; i < n.n && !x->oom; i++) {
		const char *nm = n.v[i];
		if (!ends_with_ci(nm, ".iso") || n.type[i] == DT_DIR)
			continue;
		char served[X_PATH], file[X_PATH], stem[NAME_MAX + 1], rel[X_PATH];
		(void)x_fmt(served, sizeof(served), "iso/%s", nm);
		if (!x_safe_name(nm)) {
			x_skip(x, served, "unsafe name (ISO file names: [A-Za-z0-9._+~@,=-] only)");
			continue;
		}
		(void)x_fmt(file, sizeof(file), "%s/%s", real, nm);
		/* a symlink may point anywhere below ISOPath or RootfsPath */
		if (under_root(real, file, rel, sizeof(rel)) != 0 && under_root(x->cat->root, file, rel, sizeof(rel)) != 0) {
			x_skip(x, served, "symlink leaves ISOPath");
			continue;
		}
		char *target = realpath(file, NULL);
		if (!target) {
			x_skip(x, served, "cannot resolve");
			continue;
		}
		(void)x_fmt(stem, sizeof(stem), "%.*s", (int)(strlen(nm) - 4), nm);
		x_iso(x, "iso", stem, served, target);
		free(target);
		/* ISOPath inside RootfsPath: the scanner saw this file as a release that is not a directory */
		char in_root[X_PATH], covered[X_PATH];
		if (under_root(x->cat->root, real, in_root, sizeof(in_root)) == 0 &&
		    x_fmt(covered, sizeof(covered), "%s/%s", in_root, nm) == 0) {
			x_list_add(x, &x->covered, &x->n_cov, &x->cap_cov, covered);
			x_list_add(x, &x->covered, &x->n_cov, &x->cap_cov, in_root);
		}
	}
	names_free(&n);
}

/* Walk RootfsPath/<distro>/<release>/ for ISO images and filesystem images. */
static void x_walk(struct xctx *x)
{
	struct x_names ds;
	const char *root = x->cat->root;
	if (x_list(x, root, KEEP_ALL, &ds))
		return;
	for (size_t i = 0; i < ds.n && !x->oom; i++) {
		char dabs[X_PATH];
		if (!x_safe_name(ds.v[i]) || !x_is_dir(x, root, &ds, i))
			continue;
		(void)x_fmt(dabs, sizeof(dabs), "%s/%s", root, ds.v[i]);
		if (x->cat->iso_dir && strcmp(dabs, x->cat->iso_dir) == 0)
			continue; /* ISOPath inside the root: done already */
		struct x_names rs;
		if (x_list(x, dabs, KEEP_ALL, &rs))
			continue;
		for (size_t j = 0; j < rs.n && !x->oom; j++) {
			char rabs[X_PATH];
			if (!x_safe_name(rs.v[j]) || !x_is_dir(x, dabs, &rs, j))
				continue;
			if (x_fmt(rabs, sizeof(rabs), "%s/%s", dabs, rs.v[j]))
				continue;
			x_release_dir(x, ds.v[i], rs.v[j], rabs);
		}
		names_free(&rs);
	}
	names_free(&ds);
}

static int rel_cmp(const void *a, const void *b)
{
	return strcmp(((const struct scan_release *)a)->name, ((const struct scan_release *)b)->name);
}

static int distro_cmp(const void *a, const void *b)
{
	return strcmp(((const struct scan_distro *)a)->name, ((const struct scan_distro *)b)->name);
}

static int skip_cmp(const void *a, const void *b)
{
	const struct scan_skip *p = a, *q = b;
	int c = strcmp(p->path, q->path);
	return c ? c : strcmp(p->reason, q->reason);
}

/* Drop the scanner's skips our releases answer, add ours, keep everything sorted. */
static void x_finish(struct xctx *x)
{
	struct catalog *cat = x->cat;
	static const char *const moot[] = {"not a directory", "no kernel found", "no release with a kernel"};
	size_t o = 0;
	for (size_t i = 0; i < cat->n_skipped; i++) {
		struct scan_skip *k = &cat->skipped[i];
		int drop = 0;
		for (size_t j = 0; j < x->n_cov && !drop; j++)
			if (strcmp(k->path, x->covered[j]) == 0)
				for (size_t m = 0; m < ARRAY_SIZE(moot) && !drop; m++)
					drop = strcmp(k->reason, moot[m]) == 0;
		if (drop) {
			free(k->path);
			free(k->reason);
			continue;
		}
		cat->skipped[o++] = *k;
	}
	cat->n_skipped = o;
	if (x->n_skips) {
		struct scan_skip *v = realloc(cat->skipped, (cat->n_skipped + x->n_skips) * sizeof(*v));
		if (!v) {
			x->oom = 1;
		} else {
			memcpy(v + cat->n_skipped, x->skips, x->n_skips * sizeof(*v));
			cat->skipped = v;
			cat->n_skipped += x->n_skips;
			free(x->skips);
			x->skips = NULL;
			x->n_skips = 0;
		}
	}
	if (cat->n_skipped > 1)
		qsort(cat->skipped, cat->n_skipped, sizeof(*cat->skipped), skip_cmp);
	for (size_t i = 0; i < cat->n_distros; i++)
		if (cat->distros[i].n_releases > 1)
			qsort(cat->distros[i].releases, cat->distros[i].n_releases, sizeof(struct scan_release), rel_cmp);
	if (cat->n_distros > 1)
		qsort(cat->distros, cat->n_distros, sizeof(*cat->distros), distro_cmp);
}

static void x_free(struct xctx *x)
{
	for (size_t i = 0; i < x->n_skips; i++) {
		free(x->skips[i].path);
		free(x->skips[i].reason);
	}
	free(x->skips);
	for (size_t i = 0; i < x->n_cov; i++)
		free(x->covered[i]);
	free(x->covered);
	for (size_t i = 0; i < x->n_keys; i++)
		free(x->keys[i]);
	free(x->keys);
}

int scan_catalog_add_extras(struct catalog *cat, const struct scan_options *opts, char *err, size_t errlen)
{
	static const struct scan_options none;
	struct xctx x;
	memset(&x, 0, sizeof(x));
	x.cat = cat;
	x.o = opts ? opts : &none;
	if (!x.o->no_iso) {
		int crc = 0;
		if (x.o->cache_dir) {
			snprintf(x.cache, sizeof(x.cache), "%s", x.o->cache_dir);
			if (mkdir(x.cache, 0755) != 0 && errno != EEXIST)
				crc = -errno;
		} else if (x.o->chown_cache) {
			crc = scan_cache_dir_default_for(x.o->cache_uid, x.cache, sizeof(x.cache));
		} else {
			crc = scan_cache_dir_default(x.cache, sizeof(x.cache));
		}
		if (!crc && x.o->chown_cache)
			scan_iso_cache_chown(x.cache, NULL, x.o->cache_uid, x.o->cache_gid);
		x.have_cache = crc == 0;
		if (!x.have_cache)
			x_fmt(x.cache_err, sizeof(x.cache_err), "no usable cache dir for extracted boot files (%s: %s)",
			         x.cache, strerror(-crc));
		else if (!(x.cat->cache_dir = realpath(x.cache, NULL)))
			x.oom = errno == ENOMEM;
		else
			snprintf(x.cache, sizeof(x.cache), "%s", x.cat->cache_dir);
		char dflt[X_PATH];
		const char *iso = x.o->iso_dir;
		if (!iso) {
			(void)x_fmt(dflt, sizeof(dflt), "%s/iso", x.cat->root);
			iso = dflt;
		}
		x_iso_dir(&x, iso, x.o->iso_dir != NULL);
	}
	if (!x.oom && (!x.o->no_iso || !x.o->no_images))
		x_walk(&x);
	if (!x.oom)
		x_finish(&x);
	if (!x.oom && x.have_cache)
		scan_iso_cache_prune(x.cache, x.keys, x.n_keys, CACHE_GRACE_S);
	x_free(&x);
	if (x.oom) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory while scanning images");
		return -ENOMEM;
	}
	return 0;
}

/* ---------------------------------------------------------------- printing (autopxe scan) */

static json_t *x_jstr(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (j)
		return j;
	char clean[1024];
	return json_string(sanitize(s, strlen(s), clean, sizeof(clean)));
}

void scan_release_extras_json(const struct scan_release *r, void *jrv)
{
	json_t *jr = jrv;
	if (r->iso) {
		json_t *o = json_object();
		json_object_set_new(o, "file", x_jstr(r->iso->file));
		json_object_set_new(o, "served", x_jstr(r->iso->served));
		json_object_set_new(o, "label", x_jstr(r->iso->label));
		json_object_set_new(o, "info", x_jstr(r->iso->info));
		json_object_set_new(o, "layout", x_jstr(r->iso->layout));
		json_object_set_new(o, "cache_key", x_jstr(r->iso->cache_key));
		json_object_set_new(o, "size", json_integer((json_int_t)r->iso->size));
		json_object_set_new(jr, "iso", o);
	}
	if (r->n_images) {
		json_t *a = json_array();
		for (size_t i = 0; i < r->n_images; i++) {
			const struct scan_image *im = &r->images[i];
			json_t *o = json_object();
			json_object_set_new(o, "path", x_jstr(im->path));
			json_object_set_new(o, "type", x_jstr(im->type));
			json_object_set_new(o, "uuid", x_jstr(im->uuid));
			json_object_set_new(o, "label", x_jstr(im->label));
			json_object_set_new(o, "size", json_integer((json_int_t)im->size));
			json_array_append_new(a, o);
		}
		json_object_set_new(jr, "images", a);
	}
}

void scan_catalog_extras_print(const struct catalog *cat, FILE *f)
{
	int head = 0;
	for (size_t i = 0; i < cat->n_distros; i++) {
		for (size_t j = 0; j < cat->distros[i].n_releases; j++) {
			const struct scan_release *r = &cat->distros[i].releases[j];
			char a[1024], b[256], c[256];
			if (!r->iso && !r->n_images)
				continue;
			if (!head++)
				fprintf(f, "images:\n");
			if (r->iso)
				fprintf(f, "  %s/%s: ISO %s, label '%s', layout %s\n", cat->distros[i].name, r->name,
				        sanitize(r->iso->file, strlen(r->iso->file), a, sizeof(a)),
				        r->iso->label ? sanitize(r->iso->label, strlen(r->iso->label), b, sizeof(b)) : "",
				        r->iso->layout ? r->iso->layout : "?");
			for (size_t k = 0; k < r->n_images; k++) {
				const struct scan_image *im = &r->images[k];
				const char *lab = im->label ? sanitize(im->label, strlen(im->label), c, sizeof(c)) : "";
				fprintf(f, "  %s/%s: %s %s UUID=%s LABEL=%s\n", cat->distros[i].name, r->name, im->path, im->type,
				        im->uuid ? im->uuid : "", lab);
			}
		}
	}
	char d[1024];
	if (cat->cache_dir)
		fprintf(f, "cache: %s\n", sanitize(cat->cache_dir, strlen(cat->cache_dir), d, sizeof(d)));
}
