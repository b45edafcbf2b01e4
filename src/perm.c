/* perm.c - will the run-time user be able to read what the catalog serves? (check-config and serve start-up) */
#include "perm.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define PERM_MAX_WARNINGS 20

int perm_allows(const struct stat *st, const struct perm_ident *id, unsigned want)
{
	if (id->uid == 0)
		return 1;
	unsigned bits;
	if (st->st_uid == id->uid)
		bits = (st->st_mode >> 6) & 7;
	else {
		int in_group = st->st_gid == id->gid;
		for (size_t i = 0; !in_group && i < id->n_groups; i++)
			in_group = st->st_gid == id->groups[i];
		bits = in_group ? (st->st_mode >> 3) & 7 : st->st_mode & 7;
	}
	return (bits & want) == want;
}

int perm_runtime_ident(const char *user, struct perm_ident *id, gid_t *gbuf, size_t ngbuf)
{
	memset(id, 0, sizeof *id);
	if (!user || !*user)
		user = "nobody";
	if (geteuid() == 0) {
		if (strcmp(user, "root") == 0)
			return 1;
		struct passwd pw, *res = NULL;
		char buf[4096];
		if (getpwnam_r(user, &pw, buf, sizeof buf, &res) != 0 || !res)
			return -ENOENT;
		id->uid = pw.pw_uid;
		id->gid = pw.pw_gid;
		snprintf(id->name, sizeof id->name, "User '%s' (uid %u)", user, (unsigned)pw.pw_uid);
		return 0;
	}
	id->uid = geteuid();
	id->gid = getegid();
	int n = getgroups((int)(ngbuf > INT_MAX ? INT_MAX : ngbuf), gbuf);
	if (n > 0) {
		id->groups = gbuf;
		id->n_groups = (size_t)n;
	}
	id->self = 1;
	snprintf(id->name, sizeof id->name, "this process (uid %u)", (unsigned)id->uid);
	return 0;
}

struct walk {
	const struct perm_ident *id;
	struct diag *d;
	size_t added, suppressed;
	char **dirs; /* directories already reported */
	size_t n_dirs, cap_dirs;
};

/* Room for one more warning? Past the cap they are only counted. */
static int warn_ok(struct walk *w)
{
	if (w->added >= PERM_MAX_WARNINGS) {
		w->suppressed++;
		return 0;
	}
	w->added++;
	return 1;
}

static int dir_reported(struct walk *w, const char *dir)
{
	for (size_t i = 0; i < w->n_dirs; i++)
		if (strcmp(w->dirs[i], dir) == 0)
			return 1;
	if (array_grow((void **)&w->dirs, &w->cap_dirs, w->n_dirs, sizeof *w->dirs) == 0) {
		char *c = strdup(dir);
		if (c)
			w->dirs[w->n_dirs++] = c;
	}
	return 0;
}

/* By mode bits for another user; by the kernel itself (capabilities such as CAP_DAC_READ_SEARCH and
 * ACLs included) for this process. */
static int may(const char *path, const struct stat *st, const struct perm_ident *id, unsigned want)
{
	if (id->self)
		return faccessat(AT_FDCWD, path, (want & 4 ? R_OK : 0) | (want & 1 ? X_OK : 0), AT_EACCESS) == 0;
	return perm_allows(st, id, want);
}

/* One file: every parent directory from "/" down must be searchable, the file readable. */
static void check_file(struct walk *w, const char *base, const char *rel, const char *what)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof path, "%s/%s", base, rel);
	if (n < 0 || (size_t)n >= sizeof path)
		return;
	struct stat st;
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		int ok = stat(path[0] ? path : "/", &st) != 0 || may(path[0] ? path : "/", &st, w->id, 1);
		if (!ok && !dir_reported(w, path) && warn_ok(w))
			diag_add(w->d, DIAG_WARNING, NULL, 0, 0,
			         "%s: directory not searchable by %s (mode %04o, owner uid %u): nothing below it can be "
			         "served; fix: chmod a+x it",
			         path, w->id->name, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
		*p = '/';
		if (!ok)
			return;
	}
	if (stat(path, &st) != 0 || may(path, &st, w->id, 4))
		return;
	if (warn_ok(w))
		diag_add(w->d, DIAG_WARNING, NULL, 0, 0,
		         "%s: %s not readable by %s (mode %04o, owner uid %u): clients get TFTP error 2 / HTTP 403 for "
		         "it; fix: chmod a+r it (Ubuntu installs vmlinuz 0600: a kernel postinst hook or "
		         "dpkg-statoverride keeps it readable)",
		         path, what, w->id->name, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
}

static void check_kernel(struct walk *w, const struct catalog *cat, const struct scan_kernel *k)
{
	const char *base = k->cached ? cat->cache_dir : cat->root;
	if (!base)
		return;
	if (k->kernel_real)
		check_file(w, base, k->kernel_real, "kernel");
	if (k->initrd_real)
		check_file(w, base, k->initrd_real, "initrd");
}

size_t perm_check_catalog(const struct catalog *cat, const struct perm_ident *id, struct diag *d)
{
	if (!cat || id->uid == 0)
		return 0;
	struct walk w = {.id = id, .d = d};
	for (size_t i = 0; i < cat->n_distros; i++) {
		const struct scan_distro *ds = &cat->distros[i];
		for (size_t j = 0; j < ds->n_releases; j++) {
			const struct scan_release *r = &ds->releases[j];
			for (size_t k = 0; k < r->n_kernels; k++)
				check_kernel(&w, cat, &r->kernels[k]);
			if (r->default_kernel)
				check_kernel(&w, cat, r->default_kernel);
		}
	}
	if (w.suppressed) {
		diag_add(d, DIAG_WARNING, NULL, 0, 0, "%zu more files not readable by %s (not listed)", w.suppressed,
		         id->name);
		w.added++;
	}
	for (size_t i = 0; i < w.n_dirs; i++)
		free(w.dirs[i]);
	free(w.dirs);
	return w.added;
}
