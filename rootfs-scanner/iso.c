/* iso.c - ISO 9660 images read with libarchive (never mounted): boot-file layouts, labels, extract-once cache. */
#include "scan.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <blkid.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * How an image is read (docs/catalog.md has the why):
 * - One pass over the directory records with libarchive lists every entry (path, type, size, link
 *   target) and keeps the small text files that say what the image is (.treeinfo, .disk/info).
 *   The volume label comes from libblkid (LABEL), which reads the primary/Joliet descriptors.
 * - Boot files are found by layout, in menu order: casper/ (Ubuntu live), live/ (Debian live),
 *   install.<arch>/ and install.<arch>/gtk/ (debian-installer), images/pxeboot/ (RHEL family),
 *   arch/boot/x86_64/ (Arch); when none matches, every directory is searched for vmlinuz* with an
 *   initrd* or initramfs* next to it. Names are compared case-insensitively (plain ISO 9660 names
 *   are upper case); Rock Ridge symlinks and hardlinks inside the image are followed.
 * - The boot files are then extracted once into <cache>/<key>/ (key = device, inode, size, mtime of
 *   the image) together with manifest.json (the probe result), so later scans read the manifest
 *   instead of the image and clients are served plain files (sendfile, Range).
 */

#define ISO_MAX_ENTRIES 200000 /* a RHEL DVD has ~10,000 */
#define ISO_MAX_PATH 1024
#define ISO_MAX_TEXT (64 * 1024)
#define ISO_MAX_BOOTS 32
#define ISO_MAX_LINKS 8
#define ISO_MANIFEST "manifest.json"

enum ent_type { ENT_FILE, ENT_DIR, ENT_LINK, ENT_OTHER };

struct ent {
	char *path; /* normalised: no leading "./" or "/", no trailing "/" */
	char *link; /* symlink target or hardlink source (normalised for hardlinks), or NULL */
	int hard;
	enum ent_type type;
	uint64_t size;
};

struct elist {
	struct ent *v;
	size_t n, cap;
	int sorted;
};

struct pctx {
	struct elist L;
	struct scan_iso_probe *p;
	size_t cap_boots;
	char layouts[128];
	int oom;
};

/* ---------------------------------------------------------------- small helpers */

static int iso_safe_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("._+~@,=-", c) != NULL);
}

/* Every component safe and not starting with '.'? (the served path is written into scripts) */
static int iso_safe_path(const char *p)
{
	if (!p || !*p)
		return 0;
	for (const char *c = p; *c;) {
		if (*c == '.' || *c == '/')
			return 0;
		while (*c && *c != '/') {
			if (!iso_safe_char((unsigned char)*c))
				return 0;
			c++;
		}
		if (*c == '/')
			c++;
		if (!*c && c[-1] == '/')
			return 0;
	}
	return 1;
}

/* Normalise an archive path into out: strip "./" and "/" prefixes, trailing '/', collapse "//".
 * -EINVAL for "..", control bytes or too long. */
static int iso_norm(const char *in, char *out, size_t outsz)
{
	size_t o = 0;
	const char *p = in;
	while (*p) {
		while (*p == '/')
			p++;
		const char *c = p;
		while (*p && *p != '/')
			p++;
		size_t cl = (size_t)(p - c);
		if (cl == 0 || (cl == 1 && c[0] == '.'))
			continue;
		if (cl == 2 && c[0] == '.' && c[1] == '.') {
			/* resolve upwards (symlink targets use it); never above the image root */
			if (o == 0)
				return -EINVAL;
			char *s = memrchr(out, '/', o);
			o = s ? (size_t)(s - out) : 0;
			continue;
		}
		for (size_t i = 0; i < cl; i++)
			if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f)
				return -EINVAL;
		if (o + cl + 2 > outsz)
			return -EINVAL;
		if (o)
			out[o++] = '/';
		memcpy(out + o, c, cl);
		o += cl;
	}
	out[o] = '\0';
	return 0;
}

static void set_err(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t len, const char *fmt, ...)
{
	if (!err || !len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* A printable, trimmed copy of text (first line only), or NULL when nothing is left. */
static char *iso_text(const char *s, size_t n)
{
	char line[256] = "";
	size_t o = 0;
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	for (size_t i = 0; i < n && s[i] != '\n' && s[i] != '\r' && s[i] && o + 1 < sizeof(line); i++) {
		unsigned char c = (unsigned char)s[i];
		line[o++] = c < 0x20 || c >= 0x7f ? ' ' : (char)c;
	}
	while (o && line[o - 1] == ' ')
		o--;
	line[o] = '\0';
	return o ? strdup(line) : NULL;
}

/* ---------------------------------------------------------------- the entry list */

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	int c = strcasecmp(x->path, y->path);
	return c ? c : strcmp(x->path, y->path);
}

static void elist_free(struct elist *L)
{
	for (size_t i = 0; i < L->n; i++) {
		free(L->v[i].path);
		free(L->v[i].link);
	}
	free(L->v);
	memset(L, 0, sizeof(*L));
}

/* Find path (case-insensitive; an exact-case match wins). */
static const struct ent *elist_find(const struct elist *L, const char *path)
{
	size_t lo = 0, hi = L->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcasecmp(path, L->v[mid].path);
		if (c == 0) {
			/* walk to the first of the case-insensitive run, prefer the exact spelling */
			size_t i = mid;
			while (i > 0 && strcasecmp(path, L->v[i - 1].path) == 0)
				i--;
			const struct ent *first = &L->v[i];
			for (; i < L->n && strcasecmp(path, L->v[i].path) == 0; i++)
				if (strcmp(path, L->v[i].path) == 0)
					return &L->v[i];
			return first;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Resolve links: the entry holding the bytes of `path`, or NULL (missing, loop, not a file). */
static const struct ent *elist_resolve(const struct elist *L, const char *path)
{
	char cur[ISO_MAX_PATH], tmp[2 * ISO_MAX_PATH];
	snprintf(cur, sizeof(cur), "%s", path);
	for (int hops = 0; hops <= ISO_MAX_LINKS; hops++) {
		const struct ent *e = elist_find(L, cur);
		if (!e)
			return NULL;
		if (e->type == ENT_FILE && !e->link)
			return e;
		if (!e->link || (e->type != ENT_LINK && !e->hard))
			return NULL;
		if (e->hard || e->link[0] == '/') {
			snprintf(tmp, sizeof(tmp), "%s", e->link);
		} else {
			const char *slash = strrchr(e->path, '/');
			int dl = slash ? (int)(slash - e->path) : 0;
			snprintf(tmp, sizeof(tmp), "%.*s%s%s", dl, e->path, dl ? "/" : "", e->link);
		}
		if (iso_norm(tmp, cur, sizeof(cur)) || !cur[0])
			return NULL;
	}
	return NULL;
}

static void ini_pick(const char *buf, size_t n, const char *section, const char *key, char *out, size_t outsz)
{
	char sec[64] = "";
	const char *p = buf, *end = buf + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *s = p;
		while (s < le && (*s == ' ' || *s == '\t'))
			s++;
		if (s < le && *s == '[') {
			const char *close = memchr(s, ']', (size_t)(le - s));
			size_t l = close ? (size_t)(close - s - 1) : 0;
			if (l >= sizeof(sec))
				l = 0;
			memcpy(sec, s + 1, l);
			sec[l] = '\0';
		} else if (strcmp(sec, section) == 0) {
			size_t kl = strlen(key);
			if ((size_t)(le - s) > kl && strncasecmp(s, key, kl) == 0) {
				const char *v = s + kl;
				while (v < le && (*v == ' ' || *v == '\t'))
					v++;
				if (v < le && *v == '=') {
					v++;
					while (v < le && (*v == ' ' || *v == '\t'))
						v++;
					char *t = iso_text(v, (size_t)(le - v));
					if (t) {
						snprintf(out, outsz, "%s", t);
						free(t);
					}
				}
			}
		}
		p = nl ? nl + 1 : end;
	}
}

/* What the image says it is: .treeinfo ([release] name/version or [general] family/version), else
 * the first line of .disk/info. */
static char *iso_info(const char *treeinfo, size_t tn, const char *diskinfo, size_t dn)
{
	if (treeinfo) {
		char name[128] = "", ver[64] = "", out[200];
		ini_pick(treeinfo, tn, "release", "name", name, sizeof(name));
		ini_pick(treeinfo, tn, "release", "version", ver, sizeof(ver));
		if (!name[0]) {
			ini_pick(treeinfo, tn, "general", "family", name, sizeof(name));
			ini_pick(treeinfo, tn, "general", "version", ver, sizeof(ver));
		}
		if (name[0]) {
			snprintf(out, sizeof(out), "%s%s%s", name, ver[0] ? " " : "", ver);
			return strdup(out);
		}
	}
	if (diskinfo)
		return iso_text(diskinfo, dn);
	return NULL;
}

static char *iso_label_fd(int fd)
{
	char *label = NULL;
	blkid_probe pr = blkid_new_probe();
	if (!pr)
		return NULL;
	if (blkid_probe_set_device(pr, fd, 0, 0) == 0) {
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_LABEL | BLKID_SUBLKS_TYPE);
		const char *v = NULL;
		size_t vl = 0;
		if (blkid_do_safeprobe(pr) == 0 && blkid_probe_lookup_value(pr, "LABEL", &v, &vl) == 0 && v)
			label = iso_text(v, strlen(v));
	}
	blkid_free_probe(pr);
	return label;
}

static struct archive *iso_open(int fd, char *err, size_t errlen)
{
	struct archive *a = archive_read_new();
	if (!a) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	archive_read_support_format_iso9660(a);
	if (lseek(fd, 0, SEEK_SET) != 0 || archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) {
		char clean[256];
		const char *m = archive_error_string(a);
		set_err(err, errlen, "not an ISO 9660 image: %s", m ? sanitize(m, strlen(m), clean, sizeof(clean)) : "?");
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* libarchive trusts the sizes the descriptors state and reads whole directories into memory: a 64 KiB
 * file claiming a 4 GiB volume or root directory makes it allocate 4 GiB (found by tests/fuzz/fuzz_iso.c).
 * Refuse such images first (a partly copied image looks the same). Checks the volume size and the root
 * directory record of the primary and supplementary volume descriptors; deeper directories are checked
 * by libarchive against the volume size, which is then at most the file size. */
static int iso_sane(int fd, char *err, size_t errlen)
{
	struct stat st;
	unsigned char vd[2048];
	if (fstat(fd, &st) != 0)
		return -errno;
	int seen = 0;
	for (int i = 16; i < 16 + 32; i++) {
		ssize_t n = pread(fd, vd, sizeof(vd), (off_t)i * 2048);
		if (n != (ssize_t)sizeof(vd) || memcmp(vd + 1, "CD001", 5) != 0)
			break;
		if (vd[0] == 255)
			break;
		if (vd[0] != 1 && vd[0] != 2)
			continue;
		uint64_t blocks = (uint64_t)vd[80] | (uint64_t)vd[81] << 8 | (uint64_t)vd[82] << 16 | (uint64_t)vd[83] << 24;
		uint64_t bs = (uint64_t)vd[128] | (uint64_t)vd[129] << 8;
		if (blocks * bs > (uint64_t)st.st_size) {
			set_err(err, errlen, "image is shorter (%llu bytes) than its volume (%llu bytes): still being copied?",
			        (unsigned long long)st.st_size, (unsigned long long)(blocks * bs));
			return -EINVAL;
		}
		/* the root directory record (at 156): extent (LE at +2) and length (LE at +10), read whole too */
		const unsigned char *rr = vd + 156;
		uint64_t rext = (uint64_t)rr[2] | (uint64_t)rr[3] << 8 | (uint64_t)rr[4] << 16 | (uint64_t)rr[5] << 24;
		uint64_t rlen = (uint64_t)rr[10] | (uint64_t)rr[11] << 8 | (uint64_t)rr[12] << 16 | (uint64_t)rr[13] << 24;
		if (rext * bs + rlen > (uint64_t)st.st_size) {
			set_err(err, errlen, "damaged ISO 9660 image: its root directory lies beyond the end of the file");
			return -EINVAL;
		}
		seen = 1;
	}
	if (!seen) {
		set_err(err, errlen, "not an ISO 9660 image (no volume descriptor; UDF-only images are not supported)");
		return -EINVAL;
	}
	return 0;
}

/* Read the current entry's data (at most max bytes) into a new buffer. */
static char *read_small(struct archive *a, size_t max, size_t *n)
{
	char *buf = malloc(max + 1);
	size_t len = 0;
	if (!buf)
		return NULL;
	while (len < max) {
		la_ssize_t r = archive_read_data(a, buf + len, max - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*n = len;
	return buf;
}

/* List every entry; keep .treeinfo and .disk/info. 0, -EINVAL (why in err), -ENOMEM. */
static int iso_list(int fd, struct elist *L, char **treeinfo, size_t *tn, char **diskinfo, size_t *dn, char *err,
                    size_t errlen)
{
	int rc = iso_sane(fd, err, errlen), r, roots = 0;
	if (rc)
		return rc;
	struct archive *a = iso_open(fd, err, errlen);
	struct archive_entry *e;
	if (!a)
		return -EINVAL;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		char norm[ISO_MAX_PATH];
		const char *pn = archive_entry_pathname(e);
		if (pn && iso_norm(pn, norm, sizeof(norm)) == 0 && !norm[0] && ++roots > 1) {
			/* libarchive starts over at the root of a damaged image, forever (found by fuzz_iso) */
			set_err(err, errlen, "damaged ISO 9660 image: its directories loop");
			rc = -EINVAL;
			break;
		}
		if (!pn || iso_norm(pn, norm, sizeof(norm)) || !norm[0])
			continue;
		if (L->n >= ISO_MAX_ENTRIES) {
			set_err(err, errlen, "more than %d entries", ISO_MAX_ENTRIES);
			rc = -EINVAL;
			break;
		}
		if (L->n == L->cap) {
			size_t nc = L->cap ? L->cap * 2 : 256;
			struct ent *v = realloc(L->v, nc * sizeof(*v));
			if (!v) {
				rc = -ENOMEM;
				break;
			}
			L->v = v;
			L->cap = nc;
		}
		struct ent *x = &L->v[L->n];
		memset(x, 0, sizeof(*x));
		mode_t t = archive_entry_filetype(e);
		const char *hl = archive_entry_hardlink(e), *sl = archive_entry_symlink(e);
		x->type = t == AE_IFREG ? ENT_FILE : t == AE_IFDIR ? ENT_DIR : t == AE_IFLNK ? ENT_LINK : ENT_OTHER;
		x->size = archive_entry_size_is_set(e) && archive_entry_size(e) > 0 ? (uint64_t)archive_entry_size(e) : 0;
		if (!(x->path = strdup(norm))) {
			rc = -ENOMEM;
			break;
		}
		if (hl) {
			char hn[ISO_MAX_PATH];
			if (iso_norm(hl, hn, sizeof(hn)) == 0 && hn[0]) {
				x->link = strdup(hn);
				x->hard = 1;
			}
		} else if (sl && x->type == ENT_LINK) {
			x->link = strdup(sl);
		}
		L->n++;
		if (x->type == ENT_FILE && !x->link) {
			if (!*treeinfo && strcasecmp(norm, ".treeinfo") == 0)
				*treeinfo = read_small(a, ISO_MAX_TEXT, tn);
			else if (!*diskinfo && strcasecmp(norm, ".disk/info") == 0)
				*diskinfo = read_small(a, ISO_MAX_TEXT, dn);
		}
	}
	if (!rc && r != ARCHIVE_EOF) {
		char clean[256];
		const char *m = archive_error_string(a);
		set_err(err, errlen, "unreadable ISO 9660 image: %s",
		        m ? sanitize(m, strlen(m), clean, sizeof(clean)) : "read error");
		rc = -EINVAL;
	}
	archive_read_free(a);
	if (!rc && L->n)
		qsort(L->v, L->n, sizeof(*L->v), ent_cmp);
	L->sorted = 1;
	return rc;
}

/* ---------------------------------------------------------------- layouts */

static void boot_free(struct scan_iso_boot *b)
{
	free(b->id);
	free(b->kernel);
	free(b->initrd);
	free(b->kernel_data);
	free(b->initrd_data);
}

void scan_iso_probe_free(struct scan_iso_probe *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_boots; i++)
		boot_free(&p->boots[i]);
	free(p->boots);
	free(p->label);
	free(p->info);
	free(p->layout);
	free(p);
}

/* Make id a safe, unique kernel id (never "latest"/"default"). */
static void unique_id(const struct scan_iso_probe *p, const char *want, char *out, size_t outsz)
{
	char base[64];
	size_t o = 0;
	for (const char *c = want; *c && o + 1 < sizeof(base); c++)
		base[o++] = iso_safe_char((unsigned char)*c) ? *c : '_';
	base[o] = '\0';
	if (!o || base[0] == '.' || base[0] == '-' || !strcmp(base, "latest") || !strcmp(base, "default"))
		snprintf(base, sizeof(base), "kernel");
	snprintf(out, outsz, "%s", base);
	for (int n = 2;; n++) {
		int clash = 0;
		for (size_t i = 0; i < p->n_boots && !clash; i++)
			clash = strcmp(p->boots[i].id, out) == 0;
		if (!clash)
			return;
		snprintf(out, outsz, "%s-%d", base, n);
	}
}

/* Is this kernel + initrd pair listed already (the same bytes under another name counts too)? */
static int has_boot(const struct scan_iso_probe *p, const char *kdata, const char *idata)
{
	for (size_t i = 0; i < p->n_boots; i++) {
		const struct scan_iso_boot *b = &p->boots[i];
		if (!strcmp(b->kernel_data, kdata) && (!b->initrd_data == !idata) &&
		    (!idata || !strcmp(b->initrd_data, idata)))
			return 1;
	}
	return 0;
}

/* Add kernel (+ initrd) by their paths as found. 0, 1 (not usable), -ENOMEM. */
static int add_boot(struct pctx *c, const char *layout, const char *want_id, const char *kpath, const char *ipath)
{
	struct scan_iso_probe *p = c->p;
	const struct ent *k = elist_resolve(&c->L, kpath), *i = ipath ? elist_resolve(&c->L, ipath) : NULL;
	if (!k || !iso_safe_path(kpath) || !iso_safe_path(k->path) || p->n_boots >= ISO_MAX_BOOTS)
		return 1;
	if (i && (!iso_safe_path(ipath) || !iso_safe_path(i->path)))
		i = NULL;
	if (has_boot(p, k->path, i ? i->path : NULL))
		return 1;
	if (p->n_boots == c->cap_boots) {
		size_t nc = c->cap_boots ? c->cap_boots * 2 : 4;
		struct scan_iso_boot *v = realloc(p->boots, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->boots = v;
		c->cap_boots = nc;
	}
	char id[80];
	unique_id(p, want_id, id, sizeof(id));
	struct scan_iso_boot *b = &p->boots[p->n_boots];
	memset(b, 0, sizeof(*b));
	b->id = strdup(id);
	b->kernel = strdup(kpath);
	b->kernel_data = strdup(k->path);
	b->kernel_size = k->size;
	if (i) {
		b->initrd = strdup(ipath);
		b->initrd_data = strdup(i->path);
		b->initrd_size = i->size;
	}
	if (!b->id || !b->kernel || !b->kernel_data || (i && (!b->initrd || !b->initrd_data))) {
		boot_free(b);
		return -ENOMEM;
	}
	p->n_boots++;
	if (!strstr(c->layouts, layout)) {
		size_t l = strlen(c->layouts);
		snprintf(c->layouts + l, sizeof(c->layouts) - l, "%s%s", l ? "+" : "", layout);
	}
	return 0;
}

/* Direct children of dir (case-insensitive) that are files or links, in list order. */
static int is_child(const char *path, const char *dir, const char **base)
{
	size_t dl = strlen(dir);
	if (dl && (strncasecmp(path, dir, dl) != 0 || path[dl] != '/'))
		return 0;
	const char *b = path + (dl ? dl + 1 : 0);
	if (!*b || strchr(b, '/'))
		return 0;
	*base = b;
	return 1;
}

/* Case-insensitive "does the name contain vmlinuz (or vmlinux)": position or NULL. */
static const char *kernel_word(const char *b)
{
	const char *k = strcasestr(b, "vmlinuz");
	return k ? k : strcasestr(b, "vmlinux");
}

static int initrd_like(const char *b) { return !strncasecmp(b, "initrd", 6) || !strncasecmp(b, "initramfs", 9); }

/* The initrd of kernel `kb` (a basename in dir): same prefix/suffix spelled the usual ways, else
 * the only initrd-like file of the dir. Writes its full path into out; 0 or -ENOENT. */
static int find_initrd(const struct pctx *c, const char *dir, const char *kb, char *out, size_t outsz)
{
	const char *kw = kernel_word(kb);
	int pl = (int)(kw - kb);
	const char *suf = kw + 7;
	static const char *const forms[] = {"%.*sinitrd.img%s",    "%.*sinitrd%s.img", "%.*sinitrd%s",
	                                    "%.*sinitrd%s.gz",     "%.*sinitrd%s.lz",  "%.*sinitramfs%s.img",
	                                    "%.*sinitrd%s.xz",     "%.*sinitrd%s.zst", "%.*sinitramfs%s",
	                                    "%.*sinitramfs%s.gz"};
	char name[NAME_MAX + 1], path[ISO_MAX_PATH];
	for (size_t f = 0; f < ARRAY_SIZE(forms); f++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(name, sizeof(name), forms[f], pl, kb, suf);
#pragma GCC diagnostic pop
		snprintf(path, sizeof(path), "%s%s%s", dir, *dir ? "/" : "", name);
		if (elist_resolve(&c->L, path)) {
			snprintf(out, outsz, "%s", elist_find(&c->L, path)->path);
			return 0;
		}
	}
	const char *only = NULL;
	for (size_t i = 0; i < c->L.n; i++) {
		const char *b;
		if (!is_child(c->L.v[i].path, dir, &b) || !initrd_like(b) || !elist_resolve(&c->L, c->L.v[i].path))
			continue;
		if (only)
			return -ENOENT; /* more than one: no guessing */
		only = c->L.v[i].path;
	}
	if (!only)
		return -ENOENT;
	snprintf(out, outsz, "%s", only);
	return 0;
}

/* The id for kernel basename kb found in a dir whose layout names it def_id:
 * "vmlinuz" -> def_id, "vmlinuz-6.1.0-18-amd64" -> "6.1.0-18-amd64", "hwe-vmlinuz" -> "hwe",
 * "vmlinuz1" -> def_id"1". */
static void kernel_id(const char *kb, const char *def_id, char *out, size_t outsz)
{
	const char *kw = kernel_word(kb);
	int pl = (int)(kw - kb);
	const char *suf = kw + 7;
	while (pl > 0 && (kb[pl - 1] == '-' || kb[pl - 1] == '_' || kb[pl - 1] == '.'))
		pl--;
	int sep = *suf == '-' || *suf == '_' || *suf == '.';
	if (sep)
		suf++;
	if (pl && *suf)
		snprintf(out, outsz, "%.*s-%s", pl, kb, suf);
	else if (pl)
		snprintf(out, outsz, "%.*s", pl, kb);
	else if (*suf && (sep || !isdigit((unsigned char)*suf)))
		snprintf(out, outsz, "%s", suf);
	else
		snprintf(out, outsz, "%s%s", def_id, suf);
}

struct kcand {
	char path[ISO_MAX_PATH];
	char id[80];
	int rank; /* 0 vmlinuz-<version>, 1 plain vmlinuz, 2 <prefix>-vmlinuz (hwe-) */
};

/* Versioned kernels newest first, then the plain one, then variants; so "latest" is the newest. */
static int kcand_cmp(const void *a, const void *b)
{
	const struct kcand *x = a, *y = b;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	int c = kver_cmp(y->id, x->id);
	return c ? c : strcmp(x->path, y->path);
}

/* Pair every kernel directly in dir. With parent_kernel, a dir holding only an initrd borrows
 * the parent dir's vmlinuz (debian-installer's gtk/ on older images). Returns boots added or -ENOMEM. */
static int pair_dir(struct pctx *c, const char *layout, const char *dir, const char *def_id, int parent_kernel)
{
	struct kcand *k = NULL;
	size_t nk = 0, cap = 0;
	int added = 0, rc = 0;
	for (size_t i = 0; i < c->L.n; i++) {
		const char *b;
		if (!is_child(c->L.v[i].path, dir, &b) || !kernel_word(b) || !elist_resolve(&c->L, c->L.v[i].path))
			continue;
		if (strcasestr(b, ".sig") || strcasestr(b, ".asc") || strcasestr(b, ".efi") || strcasestr(b, ".hmac"))
			continue;
		if (nk == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct kcand *v = realloc(k, ncap * sizeof(*v));
			if (!v) {
				free(k);
				return -ENOMEM;
			}
			k = v;
			cap = ncap;
		}
		snprintf(k[nk].path, sizeof(k[nk].path), "%s", c->L.v[i].path);
		kernel_id(b, def_id, k[nk].id, sizeof(k[nk].id));
		const char *kw = kernel_word(b);
		k[nk].rank = kw != b ? 2 : kw[7] ? 0 : 1;
		nk++;
	}
	if (nk > 1)
		qsort(k, nk, sizeof(*k), kcand_cmp);
	for (size_t i = 0; i < nk && rc >= 0; i++) {
		char ip[ISO_MAX_PATH];
		const char *slash = strrchr(k[i].path, '/');
		rc = add_boot(c, layout, k[i].id, k[i].path,
		              find_initrd(c, dir, slash ? slash + 1 : k[i].path, ip, sizeof(ip)) == 0 ? ip : NULL);
		if (rc == 0)
			added++;
	}
	free(k);
	if (rc < 0)
		return rc;
	if (!nk && parent_kernel && strrchr(dir, '/')) {
		char parent[ISO_MAX_PATH], kp[ISO_MAX_PATH + 16], ip[ISO_MAX_PATH];
		snprintf(parent, sizeof(parent), "%.*s", (int)(strrchr(dir, '/') - dir), dir);
		snprintf(kp, sizeof(kp), "%s/vmlinuz", parent);
		const struct ent *ke = elist_find(&c->L, kp);
		/* the same kernel with another initrd: a boot of its own */
		if (ke && find_initrd(c, dir, "vmlinuz", ip, sizeof(ip)) == 0) {
			rc = add_boot(c, layout, def_id, ke->path, ip);
			if (rc == 0)
				added++;
		}
	}
	return rc < 0 ? rc : added;
}

static const struct layout {
	const char *name, *dir, *id;
	int parent_kernel;
} layouts[] = {
    {"casper", "casper", "live", 0},
    {"live", "live", "live", 0},
    {"d-i", "install.amd", "install", 0},
    {"d-i", "install.amd/gtk", "gtk", 1},
    {"d-i", "install.a64", "install-arm64", 0},
    {"d-i", "install.a64/gtk", "gtk-arm64", 1},
    {"d-i", "install.386", "install-i386", 0},
    {"d-i", "install.386/gtk", "gtk-i386", 1},
    {"d-i", "install", "install", 0},
    {"d-i", "install/gtk", "gtk", 1},
    {"pxeboot", "images/pxeboot", "install", 0},
    {"arch", "arch/boot/x86_64", "linux", 0},
};

static int dir_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Fallback: every directory holding a vmlinuz*, in path order, id from the name or the dir. */
static int search_all(struct pctx *c)
{
	char **dirs = NULL;
	size_t nd = 0;
	int rc = 0;
	for (size_t i = 0; i < c->L.n; i++) {
		const char *path = c->L.v[i].path, *slash = strrchr(path, '/');
		const char *b = slash ? slash + 1 : path;
		if (!kernel_word(b))
			continue;
		char d[ISO_MAX_PATH];
		snprintf(d, sizeof(d), "%.*s", slash ? (int)(slash - path) : 0, path);
		int seen = 0;
		for (size_t j = 0; j < nd && !seen; j++)
			seen = strcmp(dirs[j], d) == 0;
		if (seen)
			continue;
		char **v = realloc(dirs, (nd + 1) * sizeof(*v));
		if (!v || !(v[nd] = strdup(d))) {
			free(v ? v : dirs);
			dirs = v ? v : NULL;
			rc = -ENOMEM;
			break;
		}
		dirs = v;
		nd++;
	}
	if (!rc && nd > 1)
		qsort(dirs, nd, sizeof(*dirs), dir_cmp);
	for (size_t j = 0; j < nd && rc >= 0; j++) {
		const char *slash = strrchr(dirs[j], '/');
		const char *base = slash ? slash + 1 : dirs[j];
		int r = pair_dir(c, "search", dirs[j], *base ? base : "kernel", 0);
		if (r < 0)
			rc = r;
	}
	for (size_t j = 0; j < nd; j++)
		free(dirs[j]);
	free(dirs);
	return rc;
}

static void no_kernel_err(const struct scan_iso_probe *p, char *err, size_t errlen)
{
	set_err(err, errlen, "no kernel found in the image (%zu entries; layouts tried: casper, live, d-i, pxeboot, "
	        "arch, any vmlinuz*)", p->n_entries);
}

/* The probe itself: 0 with *out (which may list no boots), or -errno. */
static int probe_core(int fd, struct scan_iso_probe **out, char *err, size_t errlen)
{
	struct pctx c;
	char *treeinfo = NULL, *diskinfo = NULL;
	size_t tn = 0, dn = 0;
	int rc;
	memset(&c, 0, sizeof(c));
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	c.p = calloc(1, sizeof(*c.p));
	if (!c.p)
		return -ENOMEM;
	rc = iso_list(fd, &c.L, &treeinfo, &tn, &diskinfo, &dn, err, errlen);
	if (rc)
		goto fail;
	c.p->n_entries = c.L.n;
	c.p->info = iso_info(treeinfo, tn, diskinfo, dn);
	c.p->label = iso_label_fd(fd);
	for (size_t i = 0; i < ARRAY_SIZE(layouts); i++) {
		if ((rc = pair_dir(&c, layouts[i].name, layouts[i].dir, layouts[i].id, layouts[i].parent_kernel)) < 0)
			goto fail;
	}
	if (c.p->n_boots == 0 && (rc = search_all(&c)) < 0)
		goto fail;
	if (!(c.p->layout = strdup(c.layouts))) {
		rc = -ENOMEM;
		goto fail;
	}
	free(treeinfo);
	free(diskinfo);
	elist_free(&c.L);
	*out = c.p;
	return 0;
fail:
	if (rc == -ENOMEM)
		set_err(err, errlen, "out of memory");
	free(treeinfo);
	free(diskinfo);
	elist_free(&c.L);
	scan_iso_probe_free(c.p);
	return rc;
}

int scan_iso_probe_fd(int fd, struct scan_iso_probe **out, char *err, size_t errlen)
{
	int rc = probe_core(fd, out, err, errlen);
	if (rc == 0 && (*out)->n_boots == 0) {
		no_kernel_err(*out, err, errlen);
		scan_iso_probe_free(*out);
		*out = NULL;
		return -ENOENT;
	}
	return rc;
}

/* ---------------------------------------------------------------- cache */

int scan_iso_cache_key(const struct stat *st, char *buf, size_t len)
{
	unsigned long long mt =
	    (unsigned long long)st->st_mtim.tv_sec * 1000000000ULL + (unsigned long long)st->st_mtim.tv_nsec;
	int n = snprintf(buf, len, "%llx-%llx-%llx-%llx", (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
	                 (unsigned long long)st->st_size, mt);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* mkdir -p of the directories of rel (a file path) below dirfd. */
static int mkparents(int dirfd, const char *rel)
{
	char p[ISO_MAX_PATH];
	snprintf(p, sizeof(p), "%s", rel);
	for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdirat(dirfd, p, 0755) != 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Remove a directory tree below dirfd (no symlinks followed). */
static void rm_tree(int dirfd, const char *name, int depth)
{
	if (depth > 32)
		return;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		DIR *d = fdopendir(fd);
		if (d) {
			struct dirent *de;
			while ((de = readdir(d)) != NULL) {
				if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
					continue;
				if (unlinkat(fd, de->d_name, 0) != 0 && (errno == EISDIR || errno == EPERM))
					rm_tree(fd, de->d_name, depth + 1);
			}
			closedir(d);
		} else {
			close(fd);
		}
	}
	unlinkat(dirfd, name, AT_REMOVEDIR);
}

static json_t *jstr_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static int write_manifest(int dirfd, const struct scan_iso_probe *p)
{
	json_t *top = json_object(), *arr = json_array();
	if (!top || !arr) {
		json_decref(top);
		json_decref(arr);
		return -ENOMEM;
	}
	json_object_set_new(top, "version", json_integer(1));
	json_object_set_new(top, "label", jstr_or_null(p->label));
	json_object_set_new(top, "info", jstr_or_null(p->info));
	json_object_set_new(top, "layout", jstr_or_null(p->layout));
	json_object_set_new(top, "entries", json_integer((json_int_t)p->n_entries));
	for (size_t i = 0; i < p->n_boots; i++) {
		const struct scan_iso_boot *b = &p->boots[i];
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:I}", "id", b->id, "kernel",
		                                     b->kernel, "kernel_data", b->kernel_data, "kernel_size",
		                                     (json_int_t)b->kernel_size, "initrd", jstr_or_null(b->initrd),
		                                     "initrd_data", jstr_or_null(b->initrd_data), "initrd_size",
		                                     (json_int_t)b->initrd_size));
	}
	json_object_set_new(top, "boots", arr);
	char *text = json_dumps(top, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(top);
	if (!text)
		return -ENOMEM;
	int fd = openat(dirfd, ISO_MANIFEST, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	int rc = fd < 0 ? -errno : write_all(fd, text, strlen(text));
	if (fd >= 0 && close(fd) != 0 && !rc)
		rc = -errno;
	free(text);
	return rc;
}

static char *jdup(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? strdup(s) : NULL;
}

/* Check that file rel exists below dirfd with the size the manifest states. */
static int cached_ok(int dirfd, const char *rel, uint64_t size)
{
	struct stat st;
	return rel && iso_safe_path(rel) && fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	       (uint64_t)st.st_size == size;
}

/* Load <cache>/<key>/manifest.json and verify the files it lists. 0, -ENOENT (no or bad entry). */
static int load_manifest(int keyfd, struct scan_iso_probe **out)
{
	int fd = openat(keyfd, ISO_MANIFEST, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	json_error_t je;
	json_t *top = json_loadfd(fd, 0, &je);
	close(fd);
	if (!top)
		return -ENOENT;
	struct scan_iso_probe *p = calloc(1, sizeof(*p));
	json_t *arr = json_object_get(top, "boots");
	int rc = 0;
	if (!p || json_integer_value(json_object_get(top, "version")) != 1 || !json_is_array(arr) ||
	    json_array_size(arr) > ISO_MAX_BOOTS) {
		rc = -ENOENT;
		goto out;
	}
	p->label = jdup(top, "label");
	p->info = jdup(top, "info");
	p->layout = jdup(top, "layout");
	p->n_entries = (size_t)json_integer_value(json_object_get(top, "entries"));
	size_t n = json_array_size(arr);
	p->boots = calloc(n ? n : 1, sizeof(*p->boots));
	if (!p->boots) {
		rc = -ENOENT;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *b = json_array_get(arr, i);
		struct scan_iso_boot *x = &p->boots[p->n_boots++];
		x->id = jdup(b, "id");
		x->kernel = jdup(b, "kernel");
		x->kernel_data = jdup(b, "kernel_data");
		x->initrd = jdup(b, "initrd");
		x->initrd_data = jdup(b, "initrd_data");
		x->kernel_size = (uint64_t)json_integer_value(json_object_get(b, "kernel_size"));
		x->initrd_size = (uint64_t)json_integer_value(json_object_get(b, "initrd_size"));
		if (!x->id || !x->kernel || !iso_safe_path(x->kernel) || !cached_ok(keyfd, x->kernel_data, x->kernel_size) ||
		    (!x->initrd) != (!x->initrd_data) || (x->initrd && !iso_safe_path(x->initrd)) ||
		    (x->initrd && !cached_ok(keyfd, x->initrd_data, x->initrd_size))) {
			rc = -ENOENT;
			goto out;
		}
	}
out:
	json_decref(top);
	if (rc) {
		scan_iso_probe_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

static int wanted(const struct scan_iso_probe *p, const char *path)
{
	for (size_t i = 0; i < p->n_boots; i++)
		if (!strcmp(p->boots[i].kernel_data, path) ||
		    (p->boots[i].initrd_data && !strcmp(p->boots[i].initrd_data, path)))
			return 1;
	return 0;
}

/* Extract the wanted data entries into tmpfd. 0 or -errno. */
static int extract_into(int fd, const struct scan_iso_probe *p, int tmpfd, char *err, size_t errlen)
{
	struct archive *a = iso_open(fd, err, errlen);
	struct archive_entry *e;
	int rc = 0, r;
	char *buf = NULL;
	if (!a)
		return -EINVAL;
	if (!(buf = malloc(256 * 1024))) {
		archive_read_free(a);
		return -ENOMEM;
	}
	while (rc == 0 && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		char norm[ISO_MAX_PATH];
		const char *pn = archive_entry_pathname(e);
		struct stat st;
		if (!pn || iso_norm(pn, norm, sizeof(norm)) || !wanted(p, norm) || archive_entry_filetype(e) != AE_IFREG ||
		    archive_entry_hardlink(e))
			continue;
		if (fstatat(tmpfd, norm, &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue; /* same data listed twice */
		if ((rc = mkparents(tmpfd, norm)))
			break;
		int out = openat(tmpfd, norm, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (out < 0) {
			rc = -errno;
			break;
		}
		uint64_t total = 0;
		la_ssize_t n;
		while ((n = archive_read_data(a, buf, 256 * 1024)) > 0) {
			if ((rc = write_all(out, buf, (size_t)n)))
				break;
			total += (uint64_t)n;
		}
		if (!rc && n < 0) {
			set_err(err, errlen, "cannot read %s from the image", norm);
			rc = -EIO;
		}
		if (close(out) != 0 && !rc)
			rc = -errno;
		if (!rc && archive_entry_size_is_set(e) && total != (uint64_t)archive_entry_size(e)) {
			set_err(err, errlen, "short read of %s from the image", norm);
			rc = -EIO;
		}
	}
	free(buf);
	archive_read_free(a);
	/* every data path must be there now (kernel and initrd of two boots may share one) */
	for (size_t i = 0; !rc && i < p->n_boots; i++) {
		const char *d[2] = {p->boots[i].kernel_data, p->boots[i].initrd_data};
		for (int j = 0; j < 2 && !rc; j++) {
			struct stat st;
			if (d[j] && fstatat(tmpfd, d[j], &st, AT_SYMLINK_NOFOLLOW) != 0) {
				set_err(err, errlen, "%s not found when extracting", d[j]);
				rc = -EIO;
			}
		}
	}
	return rc;
}

int scan_iso_extract(int fd, const struct scan_iso_probe *p, const char *cache_dir, const char *key, char *err,
                     size_t errlen)
{
	char tmp[128];
	int rc;
	if (err && errlen)
		err[0] = '\0';
	if (mkdir(cache_dir, 0755) != 0 && errno != EEXIST) {
		set_err(err, errlen, "cannot create cache dir: %s", strerror(errno));
		return -errno;
	}
	int cfd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0) {
		rc = -errno;
		set_err(err, errlen, "cannot open cache dir: %s", strerror(-rc));
		return rc;
	}
	struct stat st;
	if (fstatat(cfd, key, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		close(cfd);
		return 1;
	}
	snprintf(tmp, sizeof(tmp), ".tmp-%s-%ld", key, (long)getpid());
	rm_tree(cfd, tmp, 0); /* leftover of a crashed run with our pid */
	if (mkdirat(cfd, tmp, 0755) != 0) {
		rc = -errno;
		set_err(err, errlen, "cannot create %s in the cache dir: %s", tmp, strerror(-rc));
		close(cfd);
		return rc;
	}
	int tfd = openat(cfd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (tfd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = extract_into(fd, p, tfd, err, errlen);
	if (!rc)
		rc = write_manifest(tfd, p);
	close(tfd);
	if (rc)
		goto fail;
	if (renameat(cfd, tmp, cfd, key) != 0) {
		rc = -errno;
		if (rc == -EEXIST || rc == -ENOTEMPTY) { /* another scan was quicker: theirs is as good */
			rm_tree(cfd, tmp, 0);
			close(cfd);
			return 1;
		}
		goto fail;
	}
	close(cfd);
	return 0;
fail:
	if (err && errlen && !err[0])
		set_err(err, errlen, "cannot extract into the cache: %s", strerror(-rc));
	rm_tree(cfd, tmp, 0);
	close(cfd);
	return rc;
}

int scan_cache_dir_default_for(uid_t uid, char *buf, size_t len)
{
	static const char var[] = "/var/cache/autopxe";
	struct stat st;
	if (mkdir(var, 0755) == 0 || errno == EEXIST) {
		/* ours (or root making it for uid, chowned by the caller), or writable for us */
		if (uid == getuid() ? access(var, W_OK | X_OK) == 0
		                    : (stat(var, &st) == 0 && (st.st_uid == uid || st.st_uid == getuid()))) {
			snprintf(buf, len, "%s", var);
			return 0;
		}
	}
	snprintf(buf, len, "/tmp/autopxe-cache-%u", (unsigned)uid);
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return -errno;
	if (uid != getuid() && lchown(buf, uid, (gid_t)-1) != 0 && errno != EPERM)
		return -errno;
	if (lstat(buf, &st) != 0)
		return -errno;
	/* /tmp is shared: refuse a dir (or symlink) someone else made for us */
	if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 022))
		return -EPERM;
	return 0;
}

int scan_cache_dir_default(char *buf, size_t len) { return scan_cache_dir_default_for(getuid(), buf, len); }

/* chown -R below dirfd/name (no symlinks followed). */
static void chown_tree(int dirfd, const char *name, uid_t uid, gid_t gid, int depth)
{
	if (depth > 32 || fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
		return;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			chown_tree(fd, de->d_name, uid, gid, depth + 1);
	closedir(d);
}

void scan_iso_cache_chown(const char *cache_dir, const char *key, uid_t uid, gid_t gid)
{
	int cfd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (cfd < 0)
		return;
	if (fstat(cfd, &st) == 0 && st.st_uid != uid) {
		int r = fchown(cfd, uid, gid); /* best effort: a later extraction reports what fails */
		(void)r;
	}
	if (key && fstatat(cfd, key, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid != uid)
		chown_tree(cfd, key, uid, gid, 0);
	close(cfd);
}

/* libarchive reads bytes anyone who can write ISOPath controls, and some damaged images make it loop
 * (tests/fuzz/pending/iso): probing and extracting run in a child process with a deadline, so a hostile
 * image costs one skipped entry, never a hung start-up or reload. Keys that timed out are remembered for
 * the life of the process (a key changes when the file is replaced). */
static unsigned iso_timeout_ms = 30000;
static pthread_mutex_t bad_lock = PTHREAD_MUTEX_INITIALIZER;
static char bad_keys[64][96];
static unsigned n_bad;

void scan_iso_set_timeout(unsigned ms) { iso_timeout_ms = ms ? ms : 30000; }

static int bad_key(const char *key, int add)
{
	int found = 0;
	pthread_mutex_lock(&bad_lock);
	for (unsigned i = 0; i < n_bad && i < 64 && !found; i++)
		found = strcmp(bad_keys[i], key) == 0;
	if (add && !found) {
		snprintf(bad_keys[n_bad % 64], sizeof bad_keys[0], "%s", key);
		n_bad++;
	}
	pthread_mutex_unlock(&bad_lock);
	return found;
}

/* Run probe_core + scan_iso_extract on fd in a child; the result lands in the cache (manifest.json).
 * 0, -ETIMEDOUT (killed at the deadline), or the child's -errno with its message in err. */
static int probe_isolated(int fd, const char *cache_dir, const char *key, char *err, size_t errlen)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return e;
	}
	if (pid == 0) {
		char e[512] = "";
		struct scan_iso_probe *p = NULL;
		close(pfd[0]);
		int rc = probe_core(fd, &p, e, sizeof e);
		if (rc == 0)
			rc = scan_iso_extract(fd, p, cache_dir, key, e, sizeof e);
		ssize_t w = write(pfd[1], e, strlen(e));
		(void)w;
		_exit(rc < 0 ? (-rc > 255 ? 255 : -rc) : 0);
	}
	close(pfd[1]);
	char buf[512];
	size_t got = 0;
	uint64_t deadline = now_ms() + iso_timeout_ms;
	int timed_out = 0;
	for (;;) {
		uint64_t now = now_ms();
		if (now >= deadline) {
			timed_out = 1;
			break;
		}
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		int n = poll(&p, 1, (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			timed_out = n == 0;
			break;
		}
		ssize_t r = read(pfd[0], buf + got, sizeof buf - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* EOF: the child is done */
		got += (size_t)r;
		if (got >= sizeof buf - 1)
			got = sizeof buf - 2; /* keep reading to EOF, drop the rest */
	}
	close(pfd[0]);
	buf[got] = '\0';
	if (timed_out)
		kill(pid, SIGKILL);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (timed_out) {
		set_err(err, errlen, "reading the image took over %u s: damaged or hostile, skipped until it changes",
		        iso_timeout_ms / 1000);
		return -ETIMEDOUT;
	}
	if (!WIFEXITED(st)) {
		set_err(err, errlen, "reading the image crashed (signal %d): damaged or hostile, skipped",
		        WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		return -EIO;
	}
	if (WEXITSTATUS(st) != 0) {
		if (buf[0])
			set_err(err, errlen, "%s", buf);
		return -WEXITSTATUS(st);
	}
	return 0;
}

int scan_iso_prepare(int fd, const char *cache_dir, const char *key, struct scan_iso_probe **out, char *err,
                     size_t errlen)
{
	struct scan_iso_probe *p = NULL;
	int rc;
	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	int cfd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd >= 0) {
		int kfd = openat(cfd, key, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (kfd >= 0) {
			rc = load_manifest(kfd, &p);
			close(kfd);
			if (rc) /* damaged entry (files gone, edited): extract again */
				rm_tree(cfd, key, 0);
		}
		close(cfd);
	}
	if (!p) {
		if (bad_key(key, 0)) {
			set_err(err, errlen, "reading the image timed out before: damaged or hostile, skipped until it changes");
			return -ETIMEDOUT;
		}
		rc = probe_isolated(fd, cache_dir, key, err, errlen);
		if (rc == -ETIMEDOUT || rc == -EIO)
			bad_key(key, 1);
		if (rc)
			return rc;
		/* the child wrote the cache entry: read it back like any cached image */
		cfd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int kfd = cfd >= 0 ? openat(cfd, key, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW) : -1;
		rc = kfd >= 0 ? load_manifest(kfd, &p) : -errno;
		if (kfd >= 0)
			close(kfd);
		if (cfd >= 0)
			close(cfd);
		if (rc || !p) {
			set_err(err, errlen, "cache entry %s/%s missing after extraction", cache_dir, key);
			return rc ? rc : -EIO;
		}
	}
	if (p->n_boots == 0) {
		no_kernel_err(p, err, errlen);
		scan_iso_probe_free(p);
		return -ENOENT;
	}
	*out = p;
	return 0;
}

/* A cache entry name made by scan_iso_cache_key: four hex runs joined by '-'. */
static int is_key(const char *n)
{
	int dashes = 0;
	if (!*n)
		return 0;
	for (const char *c = n; *c; c++) {
		if (*c == '-')
			dashes++;
		else if (!isxdigit((unsigned char)*c) || isupper((unsigned char)*c))
			return 0;
	}
	return dashes == 3;
}

void scan_iso_cache_prune(const char *cache_dir, char *const *keep, size_t n_keep, time_t grace_s)
{
	int cfd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0)
		return;
	struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
	for (size_t i = 0; i < n_keep; i++) /* in use: its mtime says when it was last needed */
		utimensat(cfd, keep[i], now, AT_SYMLINK_NOFOLLOW);
	int dfd = dup(cfd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		close(cfd);
		return;
	}
	time_t t = time(NULL);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		int tmp = !strncmp(nm, ".tmp-", 5);
		if (!tmp && !is_key(nm))
			continue;
		int used = 0;
		for (size_t i = 0; i < n_keep && !used; i++)
			used = !strcmp(keep[i], nm);
		struct stat st;
		if (used || fstatat(cfd, nm, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
			continue;
		/* temp dirs of a crashed extraction: an hour; unused entries: the grace (others may share the cache) */
		if (t - st.st_mtime > (tmp ? 3600 : grace_s))
			rm_tree(cfd, nm, 0);
	}
	closedir(d);
	close(cfd);
}
