/* cpus.c - the CPUs this process may use: affinity mask and cgroup CPU quota (cpus.h). */
#include "cpus.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

/* A decimal number up to the first space or line end: the end of it, or NULL. */
static const char *num(const char *p, unsigned long long *v)
{
	char tok[24];
	size_t n = 0;
	while (p[n] && p[n] != ' ' && p[n] != '\n' && p[n] != '\t') {
		if (n + 1 >= sizeof tok)
			return NULL;
		tok[n] = p[n];
		n++;
	}
	tok[n] = '\0';
	if (n == 0 || parse_uint(tok, 0, ULLONG_MAX, v) != 0)
		return NULL;
	return p + n;
}

/* Only blanks and line ends from p on. */
static int rest_blank(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t')
		p++;
	return *p == '\0';
}

static int to_milli(unsigned long long quota, unsigned long long period, unsigned *milli)
{
	if (period == 0)
		return -EINVAL;
	unsigned __int128 m = ((unsigned __int128)quota * 1000u + period - 1) / period; /* rounded up */
	*milli = m == 0 ? 1u : (m > UINT_MAX ? UINT_MAX : (unsigned)m);
	return 1;
}

int cpus_parse_cpu_max(const char *text, unsigned *milli)
{
	unsigned long long q, per;
	const char *p = text;
	int unlimited = strncmp(p, "max", 3) == 0 && (p[3] == ' ' || p[3] == '\t');
	if (unlimited)
		p += 3;
	else if (!(p = num(p, &q)))
		return -EINVAL;
	if (*p != ' ' && *p != '\t')
		return -EINVAL;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!(p = num(p, &per)) || !rest_blank(p) || per == 0)
		return -EINVAL;
	return unlimited ? 0 : to_milli(q, per, milli);
}

int cpus_parse_cfs(const char *quota_text, const char *period_text, unsigned *milli)
{
	unsigned long long q, per;
	const char *p = quota_text;
	while (*p == ' ' || *p == '\t')
		p++;
	if (p[0] == '-' && p[1] == '1' && rest_blank(p + 2))
		return 0;
	if (!(p = num(p, &q)) || !rest_blank(p))
		return -EINVAL;
	p = period_text;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!(p = num(p, &per)) || !rest_blank(p) || per == 0)
		return -EINVAL;
	return to_milli(q, per, milli);
}

/* Copy a mountinfo field (up to a space or line end) into out, undoing the kernel's \ooo escapes. The end of the
 * field, or NULL when it does not fit. */
static const char *field(const char *p, char *out, size_t outlen)
{
	size_t n = 0;
	while (*p && *p != ' ' && *p != '\n') {
		char c = *p++;
		if (c == '\\' && p[0] >= '0' && p[0] <= '3' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7') {
			c = (char)((p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0'));
			p += 3;
		}
		if (n + 1 >= outlen)
			return NULL;
		out[n++] = c;
	}
	out[n] = '\0';
	return p;
}

/* True when the comma-separated list s (up to a space or line end) holds the word w. */
static int has_word(const char *s, const char *w)
{
	size_t wl = strlen(w);
	while (*s && *s != ' ' && *s != '\n') {
		size_t n = strcspn(s, ", \n");
		if (n == wl && strncmp(s, w, wl) == 0)
			return 1;
		s += n;
		if (*s == ',')
			s++;
	}
	return 0;
}

/* Skip n space-separated fields of a line; NULL at the line's end. */
static const char *skip_fields(const char *p, int n)
{
	for (int i = 0; i < n; i++) {
		p += strcspn(p, " \n");
		if (*p != ' ')
			return NULL;
		p++;
	}
	return p;
}

int cpus_mount_find(const char *mountinfo, struct cg_mount *m)
{
	int found_v2 = 0;
	static const struct cg_mount none;
	struct cg_mount v2 = none;
	for (const char *line = mountinfo; *line; line += strcspn(line, "\n"), line += *line == '\n') {
		/* id parent major:minor root mount-point options [optional fields...] - fstype source super-options */
		const char *p = skip_fields(line, 3);
		struct cg_mount c;
		if (!p || !(p = field(p, c.root, sizeof c.root)) || *p != ' ' ||
		    !(p = field(p + 1, c.point, sizeof c.point)))
			continue;
		const char *sep = strstr(p, " - ");
		const char *eol = strchr(p, '\n');
		if (!sep || (eol && sep > eol))
			continue;
		const char *fstype = sep + 3;
		if (strncmp(fstype, "cgroup2 ", 8) == 0) {
			if (!found_v2) {
				c.v1 = 0;
				v2 = c;
				found_v2 = 1;
			}
		} else if (strncmp(fstype, "cgroup ", 7) == 0) {
			const char *opts = skip_fields(fstype, 2);
			if (opts && has_word(opts, "cpu")) {
				c.v1 = 1;
				*m = c;
				return 0;
			}
		}
	}
	if (!found_v2)
		return -ENOENT;
	*m = v2;
	return 0;
}

int cpus_cgroup_path(const char *proc_cgroup, int v1, char *out, size_t outlen)
{
	for (const char *line = proc_cgroup; *line; line += strcspn(line, "\n"), line += *line == '\n') {
		const char *c1 = strchr(line, ':');
		const char *eol = line + strcspn(line, "\n");
		if (!c1 || c1 > eol)
			continue;
		const char *ctl = c1 + 1, *c2 = memchr(ctl, ':', (size_t)(eol - ctl));
		if (!c2)
			continue;
		int match = v1 ? 0 : (c1 - line == 1 && line[0] == '0' && c2 == ctl);
		for (const char *t = ctl; v1 && t < c2;) {
			size_t n = strcspn(t, ",:");
			if (n == 3 && strncmp(t, "cpu", 3) == 0)
				match = 1;
			t += n + (t[n] == ',');
		}
		if (!match)
			continue;
		size_t n = (size_t)(eol - (c2 + 1));
		if (n == 0 || c2[1] != '/')
			return -ENOENT;
		if (n >= outlen)
			return -ENAMETOOLONG;
		memcpy(out, c2 + 1, n);
		out[n] = '\0';
		return 0;
	}
	return -ENOENT;
}

int cpus_cgroup_dir(const struct cg_mount *m, const char *cgpath, char *out, size_t outlen)
{
	const char *rel = cgpath;
	size_t rl = strlen(m->root);
	if (strcmp(m->root, "/") != 0) {
		if (strncmp(cgpath, m->root, rl) == 0 && (cgpath[rl] == '/' || cgpath[rl] == '\0'))
			rel = cgpath + rl;
		else
			rel = ""; /* outside the mounted subtree: the mount point is the closest we can see */
	}
	while (rel[0] == '/' && rel[1] == '\0')
		rel++;
	int n = snprintf(out, outlen, "%s%s", m->point, rel);
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	/* no trailing slash, so that walking up by cutting components ends on the mount point */
	size_t len = (size_t)n, pl = strlen(m->point);
	while (len > pl && len > 1 && out[len - 1] == '/')
		out[--len] = '\0';
	return 0;
}

/* ---- reading the system ---- */

/* The whole of a small file into buf (NUL-terminated); the length or -1. */
static ssize_t slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = 0;
	while (n + 1 < size) {
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r < 0) {
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

static struct cg_mount g_mount;
static int g_mount_ok;
static pthread_once_t g_mount_once = PTHREAD_ONCE_INIT;

static void find_mount(void)
{
	size_t size = 1 << 16;
	char *buf = malloc(size);
	if (!buf)
		return;
	ssize_t n = slurp("/proc/self/mountinfo", buf, size);
	g_mount_ok = n > 0 && cpus_mount_find(buf, &g_mount) == 0;
	free(buf);
}

/* The tightest quota from dir up to the mount point; 0 for none. */
static unsigned quota_along(const struct cg_mount *m, char *dir)
{
	unsigned best = 0;
	size_t pl = strlen(m->point);
	char path[2200], a[64], b[64];
	for (;;) {
		unsigned milli = 0;
		int rc = -1;
		if (m->v1) {
			snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
			if (slurp(path, a, sizeof a) > 0) {
				snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
				if (slurp(path, b, sizeof b) > 0)
					rc = cpus_parse_cfs(a, b, &milli);
			}
		} else {
			snprintf(path, sizeof path, "%s/cpu.max", dir);
			if (slurp(path, a, sizeof a) > 0)
				rc = cpus_parse_cpu_max(a, &milli);
		}
		if (rc == 1 && (best == 0 || milli < best))
			best = milli;
		if (strlen(dir) <= pl)
			break;
		char *slash = strrchr(dir, '/');
		if (!slash)
			break;
		if (slash == dir)
			dir[1] = '\0'; /* up to "/" */
		else
			*slash = '\0';
		if (strlen(dir) < pl)
			break;
	}
	return best;
}

static unsigned read_quota(void)
{
	pthread_once(&g_mount_once, find_mount);
	if (!g_mount_ok)
		return 0;
	char text[4096], cg[1024], dir[2100];
	if (slurp("/proc/thread-self/cgroup", text, sizeof text) <= 0 && slurp("/proc/self/cgroup", text, sizeof text) <= 0)
		return 0;
	if (cpus_cgroup_path(text, g_mount.v1, cg, sizeof cg) != 0 || cpus_cgroup_dir(&g_mount, cg, dir, sizeof dir) != 0)
		return 0;
	return quota_along(&g_mount, dir);
}

void cpu_budget_read(struct cpu_budget *b)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		b->affinity = (unsigned)CPU_COUNT(&set);
	else
		b->affinity = online_cpus();
	b->quota_milli = read_quota();
	b->usable = b->affinity;
	if (b->quota_milli) {
		unsigned q = b->quota_milli / 1000u + (b->quota_milli % 1000u != 0);
		if (q < b->usable)
			b->usable = q;
	}
	if (b->usable == 0)
		b->usable = 1;
}

unsigned usable_cpus(void)
{
	struct cpu_budget b;
	cpu_budget_read(&b);
	return b.usable;
}

int cpu_quota_binds(const struct cpu_budget *b)
{
	return b->quota_milli != 0 && (unsigned long long)b->quota_milli <= (unsigned long long)b->affinity * 1000u;
}
