/* check_e2e.c - end-to-end boots: QEMU with Debian's real iPXE boots a real kernel through a real autopxe server. */
/*
 * Each scenario is one Check test case (forked): it builds its own rootfs tree and config, starts
 * build/autopxe, forks QEMU with a pipe on its serial console, polls that pipe and the server log
 * for markers until a per-scenario deadline, and always kills what it started by PID: the failing
 * path stops everything before Check ends the test (Check leaves a forked test with _exit, so no
 * atexit), PR_SET_PDEATHSIG covers QEMU if a test is killed, and every long-lived child is listed in
 * $E2E_WORK/pids (pid + start time) for the sweep main() and run.sh's trap make at the end.
 * Results and timings go to $E2E_RESULTS (one line per scenario); main() prints the summary table.
 *
 * Environment (set by tests/e2e/run.sh): E2E_AUTOPXE, E2E_KERNEL, E2E_KVER, E2E_INITRD, E2E_WORK,
 * E2E_RESULTS, E2E_SRCDIR, E2E_RUNID; optional E2E_ONLY (comma list of scenario ids or substrings),
 * E2E_TIMEOUT_SCALE (multiplies every deadline), E2E_VERBOSE.
 */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#define MAXPATH 1024
#define SERIAL_CAP (8u << 20)

/* ---------------------------------------------------------------- environment */

static struct {
	const char *autopxe, *kernel, *kver, *initrd, *work, *results, *srcdir, *runid;
	double scale;
	int verbose;
} E;

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);
	return v && *v ? v : dflt;
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- per-scenario state */

#define MAX_PIDS 8
#define MAX_NETNS 2

/* Everything one forked scenario started, so that every exit path can stop it. */
static struct scn {
	const char *id;
	char dir[MAXPATH], rootfs[MAXPATH + 16], config[MAXPATH + 16], slog[MAXPATH + 16];
	char mac[18], hex[13];
	struct {
		pid_t pid;
		int sig; /* first signal to send when cleaning up */
		char what[32];
	} procs[MAX_PIDS];
	char netns[MAX_NETNS][64];
	pid_t server;
	unsigned tftp_port, http_port;
	char served_root[64]; /* RootfsPath as the server sees it (a container's /pxe/rootfs), "" = rootfs */
	char container[80];   /* container to remove on every exit path, "" = none */
	char engine[16];      /* its engine's CLI: podman or docker */
	double t_menu, t_kernel, t_marker, t_total; /* seconds since QEMU start, <0 = not reached */
	double kxfer_ms; /* the server's own duration of the kernel transfer, <0 = unknown */
	char note[600];
	int recorded;
	int active;
} S;

static void record(const char *status);
static void proc_stop(pid_t pid, int sig, double grace);

static void scn_cleanup(void)
{
	/* QEMU and clients first, the server last (its log may still be read by a failing test) */
	for (int i = MAX_PIDS - 1; i >= 0; i--) {
		if (S.procs[i].pid > 0) {
			proc_stop(S.procs[i].pid, S.procs[i].sig, 3.0);
			S.procs[i].pid = 0;
		}
	}
	if (S.container[0]) { /* stopping `<engine> run` stops its container; this is for when it did not */
		char cmd[200];
		snprintf(cmd, sizeof cmd, "%s rm -f %s >/dev/null 2>&1", S.engine, S.container);
		if (system(cmd) != 0)
			fprintf(stderr, "e2e: %s failed\n", cmd);
		S.container[0] = '\0';
	}
	for (int i = 0; i < MAX_NETNS; i++) {
		if (S.netns[i][0]) {
			char cmd[200];
			snprintf(cmd, sizeof cmd, "ip netns del %s 2>/dev/null", S.netns[i]);
			if (system(cmd) != 0)
				fprintf(stderr, "e2e: %s failed\n", cmd);
			S.netns[i][0] = '\0';
		}
	}
}

/* Field 22 of /proc/PID/stat: the start time, which tells a PID apart from a later reuse of it. */
static unsigned long long proc_starttime(pid_t pid)
{
	char p[64], buf[1024];
	snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *s = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!s)
		return 0;
	unsigned long long v = 0;
	s += 2; /* field 3 */
	for (int field = 3; field < 22 && s; field++) {
		s = strchr(s, ' ');
		if (s)
			s++;
	}
	if (s)
		v = strtoull(s, NULL, 10);
	return v;
}

static void track(pid_t pid, int sig, const char *what)
{
	char pf[MAXPATH];
	snprintf(pf, sizeof pf, "%s/pids", E.work);
	int fd = open(pf, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		dprintf(fd, "%d %llu %s %s\n", (int)pid, proc_starttime(pid), S.id, what);
		close(fd);
	}
	for (int i = 0; i < MAX_PIDS; i++) {
		if (S.procs[i].pid <= 0) {
			S.procs[i].pid = pid;
			S.procs[i].sig = sig;
			snprintf(S.procs[i].what, sizeof S.procs[i].what, "%s", what);
			return;
		}
	}
	kill(pid, SIGKILL);
	ck_abort_msg("too many child processes");
}

static void untrack(pid_t pid)
{
	for (int i = 0; i < MAX_PIDS; i++)
		if (S.procs[i].pid == pid)
			S.procs[i].pid = 0;
}

/* Send sig, wait up to grace seconds, then SIGKILL; always reaps. */
static void proc_stop(pid_t pid, int sig, double grace)
{
	int st;
	if (pid <= 0)
		return;
	if (waitpid(pid, &st, WNOHANG) == pid)
		return;
	kill(pid, sig);
	double end = mono() + grace;
	while (mono() < end) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return;
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

static void fmt_t(char *buf, size_t len, double t)
{
	if (t < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f", t);
}

/* One results line: id, status, menu, kernel, marker, total, kernel transfer ms, note (tabs/newlines
 * in the note flattened). */
static void record(const char *status)
{
	char a[16], b[16], c[16], d[16], k[16], line[1024];
	fmt_t(a, sizeof a, S.t_menu);
	fmt_t(b, sizeof b, S.t_kernel);
	fmt_t(c, sizeof c, S.t_marker);
	fmt_t(d, sizeof d, S.t_total);
	if (S.kxfer_ms < 0)
		snprintf(k, sizeof k, "-");
	else
		snprintf(k, sizeof k, "%.0f", S.kxfer_ms);
	for (char *p = S.note; *p; p++)
		if (*p == '\t' || *p == '\n' || *p == '\r')
			*p = ' ';
	int n = snprintf(line, sizeof line, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", S.id, status, a, b, c, d, k,
	                 S.note);
	fprintf(stderr, "e2e: %s %s%s%s\n", S.id, status, strcmp(status, "PASS") ? ": " : "",
	        strcmp(status, "PASS") ? S.note : "");
	int fd = open(E.results, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) != n)
			fprintf(stderr, "e2e: short write to %s\n", E.results);
		close(fd);
	}
	S.recorded = 1;
}

/* Print the last n lines of a file to stderr (control bytes other than tab shown as '.'). */
static void dump_tail(const char *title, const char *path, int n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	long from = sz > 12000 ? sz - 12000 : 0;
	fseek(f, from, SEEK_SET);
	static char buf[12001];
	size_t got = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[got] = '\0';
	int lines = 0;
	size_t start = got;
	while (start > 0) {
		if (buf[start - 1] == '\n' && ++lines > n)
			break;
		start--;
	}
	fprintf(stderr, "---- %s (%s, last %d lines)\n", title, path, n);
	for (size_t i = start; i < got; i++) {
		unsigned char ch = (unsigned char)buf[i];
		if (ch == '\r')
			continue;
		fputc(ch == '\n' || ch == '\t' || (ch >= 0x20 && ch < 0x7f) ? ch : '.', stderr);
	}
	fprintf(stderr, "\n---- end of %s\n", title);
}

static void note_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note_set(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(S.note, sizeof S.note, fmt, ap);
	va_end(ap);
}

/* Fail the scenario: note the reason, record it, then let Check report it (exit runs the cleanup). */
#define REQUIRE(cond, ...)                                                                                             \
	do {                                                                                                           \
		if (!(cond)) {                                                                                         \
			note_set(__VA_ARGS__);                                                                         \
			record("FAIL");                                                                                \
			scn_cleanup();                                                                                 \
			S.active = 0;                                                                                  \
			ck_abort_msg("%s: %s", S.id, S.note);                                                          \
		}                                                                                                      \
	} while (0)

/* ---------------------------------------------------------------- small utilities */

static void write_file(const char *path, const char *text, size_t len)
{
	char tmp[MAXPATH + 8];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0, "create %s: %s", tmp, strerror(errno));
	REQUIRE(write(fd, text, len) == (ssize_t)len, "write %s: %s", tmp, strerror(errno));
	REQUIRE(close(fd) == 0, "close %s", tmp);
	REQUIRE(rename(tmp, path) == 0, "rename %s: %s", path, strerror(errno));
}

static void write_str(const char *path, const char *text) { write_file(path, text, strlen(text)); }

static char *read_all(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 65536, len = 0;
	char *b = malloc(cap + 1);
	for (size_t n; b && (n = fread(b + len, 1, cap - len, f)) > 0;) {
		len += n;
		if (len == cap) {
			char *nb = realloc(b, cap * 2 + 1);
			if (!nb) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (b)
		b[len] = '\0';
	if (lenp)
		*lenp = len;
	return b;
}

static void mkdir_p(const char *path)
{
	char p[MAXPATH];
	snprintf(p, sizeof p, "%s", path);
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	REQUIRE(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", p, strerror(errno));
}

/* Hard link (same file system as the cache) or copy. */
static void link_or_copy(const char *src, const char *dst)
{
	if (link(src, dst) == 0)
		return;
	size_t len;
	char *b = read_all(src, &len);
	REQUIRE(b, "read %s: %s", src, strerror(errno));
	write_file(dst, b, len);
	free(b);
}

/* A free 127.0.0.1 port (the kernel picks; released before use, as every harness does). */
static unsigned free_port(int type)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	REQUIRE(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	            getsockname(fd, (struct sockaddr *)&a, &al) == 0,
	        "cannot pick a free port: %s", strerror(errno));
	close(fd);
	return ntohs(a.sin_port);
}

/* A dynamic argv. */
struct argv {
	char *v[80];
	int n;
};

static void av_add(struct argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void av_add(struct argv *a, const char *fmt, ...)
{
	REQUIRE(a->n < (int)(sizeof a->v / sizeof a->v[0]) - 1, "argv too long");
	va_list ap;
	va_start(ap, fmt);
	int rc = vasprintf(&a->v[a->n], fmt, ap);
	va_end(ap);
	REQUIRE(rc >= 0, "out of memory");
	a->v[++a->n] = NULL;
}

static void av_free(struct argv *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

/* Fork+exec argv with stdin from /dev/null and stdout+stderr to out_fd, optionally inside a network
 * namespace (/run/netns/NAME). The child gets `deathsig` when this process dies, so nothing outlives
 * a killed test. Returns the pid. */
static pid_t spawn(struct argv *a, int out_fd, const char *netns, int deathsig)
{
	pid_t parent = getpid();
	if (E.verbose) {
		fprintf(stderr, "e2e: %s%s%s$", netns ? "[netns " : "", netns ? netns : "", netns ? "] " : "");
		for (int i = 0; i < a->n; i++)
			fprintf(stderr, " '%s'", a->v[i]);
		fputc('\n', stderr);
	}
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, deathsig);
		if (getppid() != parent)
			_exit(127);
		/* stays in the test's process group: Check's timeout kills that whole group */
		if (netns) {
			char p[128];
			snprintf(p, sizeof p, "/run/netns/%s", netns);
			int fd = open(p, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
				dprintf(out_fd, "e2e: cannot enter netns %s: %s\n", netns, strerror(errno));
				_exit(126);
			}
			close(fd);
		}
		int nul = open("/dev/null", O_RDONLY);
		dup2(nul, 0);
		dup2(out_fd, 1);
		dup2(out_fd, 2);
		execvp(a->v[0], a->v);
		dprintf(2, "e2e: exec %s: %s\n", a->v[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Run a shell command to completion (output appended to <dir>/commands.log); returns its exit status. */
static int run_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_sh(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	va_start(ap, fmt);
	int rc = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	REQUIRE(rc >= 0, "out of memory");
	char lp[MAXPATH + 16];
	snprintf(lp, sizeof lp, "%s/commands.log", S.dir);
	int lfd = open(lp, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (lfd >= 0)
		dprintf(lfd, "$ %s\n", cmd);
	struct argv a = {0};
	av_add(&a, "/bin/sh");
	av_add(&a, "-c");
	av_add(&a, "%s", cmd);
	pid_t pid = spawn(&a, lfd >= 0 ? lfd : 2, NULL, SIGKILL);
	av_free(&a);
	int st = 0;
	waitpid(pid, &st, 0);
	if (lfd >= 0) {
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			dprintf(lfd, "(exit status %d)\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		close(lfd);
	}
	free(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Run a command and capture its stdout (caller frees). NULL when it failed to run or exited non-zero. */
static char *capture(struct argv *a)
{
	char tp[MAXPATH + 16];
	snprintf(tp, sizeof tp, "%s/capture.out", S.dir);
	int fd = open(tp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0, "create %s", tp);
	pid_t pid = spawn(a, fd, NULL, SIGKILL);
	close(fd);
	int st = 0;
	waitpid(pid, &st, 0);
	char *out = read_all(tp, NULL);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (out)
			fprintf(stderr, "e2e: %s failed:\n%s\n", a->v[0], out);
		free(out);
		return NULL;
	}
	return out;
}

/* A plain HTTP/1.0 GET to 127.0.0.1:port; returns the whole response (caller frees) or NULL. */
static char *http_get(unsigned port, const char *path)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char req[512];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return NULL;
	}
	size_t cap = 1 << 16, len = 0;
	char *b = malloc(cap + 1);
	for (ssize_t r; b && len < cap && (r = read(fd, b + len, cap - len)) > 0;)
		len += (size_t)r;
	close(fd);
	if (b)
		b[len] = '\0';
	return b;
}

/* ---------------------------------------------------------------- the boot target and config */

/* The kernel command-line templates, as written into config.yaml and used to compute expectations. */
static const struct {
	const char *name, *text;
} TEMPLATES[] = {
    {"overlayfs", "console=ttyS0 quiet root=/dev/nfs nfsroot=${nfs-server}:${rootfs-path} ip=dhcp rootovl "
                  "site=${site} id=${boot-id} kv=${kernel-version} mac=${mac-hexraw}"},
    {"nfsrw", "console=ttyS0 quiet root=/dev/nfs nfsroot=${nfs-server}:${rootfs-path} ip=dhcp rw "
              "site=${site} pinned=${mac} tmpl=${template} os=${distro}/${release}"},
    /* s9: NFS_SERVER comes from the container's environment (docker run -e NFS_SERVER=...) */
    {"container", "console=ttyS0 quiet root=/dev/nfs nfsroot=${NFS_SERVER}:${rootfs-path} ip=dhcp "
                  "site=${site} id=${boot-id} kv=${kernel-version} mac=${mac-hexraw}"},
};
#define SITE "e2e-lab"
#define DEFAULT_ID "debian/bookworm/latest/overlayfs"

static const char *template_text(const char *name)
{
	for (size_t i = 0; i < sizeof TEMPLATES / sizeof TEMPLATES[0]; i++)
		if (strcmp(TEMPLATES[i].name, name) == 0)
			return TEMPLATES[i].text;
	return NULL;
}

/* A fake (non-bootable) kernel + initrd pair, so menus have more than one choice. */
static void fake_pair(const char *rel, const char *kname, const char *iname)
{
	char d[MAXPATH + 64], p[MAXPATH + 128];
	snprintf(d, sizeof d, "%s/%s/boot", S.rootfs, rel);
	mkdir_p(d);
	snprintf(p, sizeof p, "%s/%s", d, kname);
	write_str(p, "not a kernel: e2e menu filler\n");
	snprintf(p, sizeof p, "%s/%s", d, iname);
	write_str(p, "not an initrd: e2e menu filler\n");
}

/* Create the scenario's directory and rootfs tree:
 *   debian/bookworm/boot/vmlinuz-<kver> + initrd.img-<kver>  the real kernel and marker initramfs
 *   debian/bookworm/boot/vmlinuz-5.10.0-30-amd64 (+initrd)    older fake, so "latest" must pick the real one
 *   debian/trixie/... and ubuntu/noble/...                    fakes: a second release and a second distro */
static void scn_begin(const char *id, const char *mac)
{
	memset(&S, 0, sizeof S);
	S.id = id;
	S.active = 1;
	S.t_menu = S.t_kernel = S.t_marker = S.t_total = S.kxfer_ms = -1;
	fprintf(stderr, "e2e: %s ...\n", id);
	/* the test process itself dies with the runner, taking its own children with it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	snprintf(S.mac, sizeof S.mac, "%s", mac);
	size_t j = 0;
	for (const char *p = mac; *p && j < 12; p++)
		if (*p != ':')
			S.hex[j++] = *p;
	S.hex[j] = '\0';
	snprintf(S.dir, sizeof S.dir, "%s/%s", E.work, id);
	snprintf(S.rootfs, sizeof S.rootfs, "%s/rootfs", S.dir);
	/* its own directory: the server watches the config's directory, and logs land in S.dir */
	snprintf(S.config, sizeof S.config, "%s/etc/config.yaml", S.dir);
	snprintf(S.slog, sizeof S.slog, "%s/server.log", S.dir);
	mkdir_p(S.dir);

	char d[MAXPATH + 64], p[MAXPATH + 128];
	snprintf(d, sizeof d, "%s/etc", S.dir);
	mkdir_p(d);
	snprintf(d, sizeof d, "%s/debian/bookworm/boot", S.rootfs);
	mkdir_p(d);
	snprintf(p, sizeof p, "%s/vmlinuz-%s", d, E.kver);
	link_or_copy(E.kernel, p);
	snprintf(p, sizeof p, "%s/initrd.img-%s", d, E.kver);
	link_or_copy(E.initrd, p);
	snprintf(d, sizeof d, "%s/debian/bookworm/etc", S.rootfs);
	mkdir_p(d);
	snprintf(p, sizeof p, "%s/os-release", d);
	write_str(p, "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n");
	fake_pair("debian/bookworm", "vmlinuz-5.10.0-30-amd64", "initrd.img-5.10.0-30-amd64");
	fake_pair("debian/trixie", "vmlinuz-6.12.9-amd64", "initrd.img-6.12.9-amd64");
	fake_pair("ubuntu/noble", "vmlinuz-6.8.0-31-generic", "initrd.img-6.8.0-31-generic");
	snprintf(d, sizeof d, "%s/ipxe", S.dir);
	mkdir_p(d);
}

/* Stop the server like an operator would (SIGTERM) and require a clean exit with no sanitizer report
 * (E2E_AUTOPXE may name the ASan build). */
static void server_stop_clean(void)
{
	if (S.server <= 0)
		return;
	pid_t pid = S.server;
	int st = 0;
	kill(pid, SIGTERM);
	double end = mono() + 10;
	pid_t w = 0;
	while (mono() < end && (w = waitpid(pid, &st, WNOHANG)) == 0)
		usleep(20000);
	if (w != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	untrack(pid);
	S.server = 0;
	REQUIRE(w == pid, "autopxe did not exit within 10 s of SIGTERM");
	char *log = read_all(S.slog, NULL);
	int san = log && (strstr(log, "Sanitizer") || strstr(log, "runtime error:"));
	free(log);
	if (san)
		dump_tail("server log", S.slog, 40);
	REQUIRE(!san, "the server log has a sanitizer report (see above)");
	REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "autopxe exited with status %d after SIGTERM",
	        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static void scn_pass(void)
{
	server_stop_clean();
	snprintf(S.note, sizeof S.note, "ok");
	record("PASS");
	scn_cleanup();
	S.active = 0;
}

static void scn_skip(const char *why)
{
	snprintf(S.note, sizeof S.note, "%s", why);
	record("SKIP");
	scn_cleanup();
	S.active = 0;
}

struct cfg_opts {
	const char *nfs_server; /* Env nfs-server */
	const char *hosts;      /* lines under HostDefaults ("  MAC: id\n"...), NULL = none */
	const char *extra;      /* more top-level keys */
};

static void config_write(const struct cfg_opts *o)
{
	char *y;
	int rc = asprintf(&y,
	                  "# e2e scenario %s\n"
	                  "version: 1\n"
	                  "DefaultDistro: " DEFAULT_ID "\n"
	                  "RootfsPath: %s\n"
	                  "IPXEDir: %s/ipxe\n"
	                  "MenuTimeout: 1000\n"
	                  "Env:\n"
	                  "  nfs-server: %s\n"
	                  "  site: " SITE "\n"
	                  "CmdlineTemplates:\n"
	                  "  %s: %s\n"
	                  "  %s: %s\n"
	                  "%s%s"
	                  "%s",
	                  S.id, S.rootfs, S.dir, o->nfs_server ? o->nfs_server : "10.0.2.2", TEMPLATES[0].name,
	                  TEMPLATES[0].text, TEMPLATES[1].name, TEMPLATES[1].text, o->hosts ? "HostDefaults:\n" : "",
	                  o->hosts ? o->hosts : "", o->extra ? o->extra : "");
	REQUIRE(rc >= 0, "out of memory");
	write_str(S.config, y);
	free(y);
}

/* Expand ${name} the way the config says the server must: builtins for the boot target, then Env.
 * Written independently of src/render.c on purpose. */
static void expect_cmdline(char *out, size_t len, const char *tmpl, const char *distro, const char *release,
                           const char *kword, const char *nfs_server)
{
	char rootfs_path[MAXPATH + 64], boot_id[256], mac_colon[18];
	snprintf(rootfs_path, sizeof rootfs_path, "%s/%s/%s", S.served_root[0] ? S.served_root : S.rootfs, distro,
	         release);
	snprintf(boot_id, sizeof boot_id, "%s/%s/%s/%s", distro, release, kword, tmpl);
	for (int i = 0; i < 18; i++)
		mac_colon[i] = (char)((S.mac[i] >= 'A' && S.mac[i] <= 'F') ? S.mac[i] + 32 : S.mac[i]);
	const char *vars[][2] = {
	    {"rootfs-path", rootfs_path}, {"distro", distro},     {"release", release}, {"kernel-version", E.kver},
	    {"boot-id", boot_id},         {"template", tmpl},     {"mac", mac_colon},   {"mac-hexraw", S.hex},
	    {"nfs-server", nfs_server},   {"site", SITE},       {"NFS_SERVER", nfs_server},
	};
	const char *t = template_text(tmpl);
	size_t o = 0;
	out[0] = '\0';
	while (*t && o + 1 < len) {
		const char *end;
		if (t[0] == '$' && t[1] == '{' && (end = strchr(t + 2, '}'))) {
			size_t n = (size_t)(end - t - 2);
			const char *v = NULL;
			for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
				if (strlen(vars[i][0]) == n && memcmp(vars[i][0], t + 2, n) == 0)
					v = vars[i][1];
			REQUIRE(v, "test bug: template variable %.*s has no expected value", (int)n, t + 2);
			o += (size_t)snprintf(out + o, len - o, "%s", v);
			t = end + 1;
		} else {
			out[o++] = *t++;
			out[o] = '\0';
		}
	}
}

/* ---------------------------------------------------------------- the server */

static int file_contains(const char *path, const char *needle)
{
	char *b = read_all(path, NULL);
	int r = b && strstr(b, needle);
	free(b);
	return r;
}

/* Start autopxe serve with the given listen specs (optionally inside a netns); waits until it says
 * it is serving. */
static void server_start(const char *tftp, const char *http, const char *netns)
{
	int fd = open(S.slog, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0, "create %s", S.slog);
	struct argv a = {0};
	av_add(&a, "%s", E.autopxe);
	av_add(&a, "--config");
	av_add(&a, "%s", S.config);
	av_add(&a, "--tftp-listen");
	av_add(&a, "%s", tftp);
	av_add(&a, "--http-listen");
	av_add(&a, "%s", http);
	av_add(&a, "serve");
	S.server = spawn(&a, fd, netns, SIGTERM);
	av_free(&a);
	close(fd);
	track(S.server, SIGTERM, "autopxe");
	double end = mono() + 15 * E.scale;
	for (;;) {
		if (file_contains(S.slog, " serving (pid"))
			return;
		int st;
		if (waitpid(S.server, &st, WNOHANG) == S.server) {
			untrack(S.server);
			dump_tail("server log", S.slog, 30);
			REQUIRE(0, "autopxe exited at start-up (status %d); see the server log above",
			        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		}
		if (mono() > end) {
			dump_tail("server log", S.slog, 30);
			REQUIRE(0, "autopxe did not report 'serving' within 15 s");
		}
		usleep(50000);
	}
}

/* Wait until the server log gains a line containing needle after byte offset `from`. 1 when seen. */
static int server_log_wait(off_t from, const char *needle, double seconds)
{
	double end = mono() + seconds * E.scale;
	do {
		char *b = read_all(S.slog, NULL);
		int hit = b && (off_t)strlen(b) > from && strstr(b + from, needle);
		free(b);
		if (hit)
			return 1;
		usleep(100000);
	} while (mono() < end);
	return 0;
}

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : 0;
}

/* ---------------------------------------------------------------- QEMU boots */

enum firmware { FW_BIOS, FW_UEFI, FW_LKRN };

struct boot_opts {
	const char *label;    /* file name stem for the serial log */
	enum firmware fw;
	const char *netdev;   /* -netdev value */
	const char *append;   /* FW_LKRN: the script text given to ipxe.lkrn */
	const char *romfile;  /* NIC option ROM (NULL = QEMU's default) */
	const char *netns;    /* run QEMU inside this netns */
	double timeout;       /* seconds (before E2E_TIMEOUT_SCALE) */
	const char *done[6];  /* every one must appear on the console to finish */
	const char *abort[6]; /* any one appearing ends the boot early (a failure) */
};

struct boot_res {
	double t_menu, t_kernel, t_marker, t_done, t_end;
	int done, timed_out, exited, aborted_on;
	char *serial;
	size_t len;
	char cmdline[4096];
	int has_cmdline;
	char menu_line[600], kernel_line[600];
	unsigned kernel_lines;
	char serial_path[MAXPATH + 64];
};

/* Whether the console showed s (binary-safe: firmware output may hold NUL bytes). */
static int seen(const struct boot_res *r, const char *s)
{
	return memmem(r->serial, r->len, s, strlen(s)) != NULL;
}

static void boot_free(struct boot_res *r)
{
	free(r->serial);
	r->serial = NULL;
}

/* Scan new complete server-log lines for this MAC's menu and for the real kernel. */
static void scan_log_line(struct boot_res *r, const char *line, double t)
{
	char menu1[40], menu2[40], kname[128];
	snprintf(menu1, sizeof menu1, "autopxe-%s", S.hex);
	snprintf(menu2, sizeof menu2, "autopxe/%s", S.hex);
	snprintf(kname, sizeof kname, "vmlinuz-%s", E.kver);
	if (r->t_menu < 0 && (strstr(line, menu1) || strstr(line, menu2))) {
		r->t_menu = t;
		snprintf(r->menu_line, sizeof r->menu_line, "%s", line);
	}
	if (strstr(line, kname)) {
		if (r->t_kernel < 0) {
			r->t_kernel = t;
			snprintf(r->kernel_line, sizeof r->kernel_line, "%s", line);
		}
		r->kernel_lines++;
	}
}

/* The duration a server log line reports: TFTP "ms=57", HTTP "169.3ms". -1 when there is none. */
static double log_duration_ms(const char *line)
{
	char buf[600];
	snprintf(buf, sizeof buf, "%s", line);
	for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *end;
		if (strncmp(tok, "ms=", 3) == 0) {
			double v = strtod(tok + 3, &end);
			if (end != tok + 3 && *end == '\0')
				return v;
		}
		size_t n = strlen(tok);
		if (n > 2 && strcmp(tok + n - 2, "ms") == 0) {
			double v = strtod(tok, &end);
			if (end == tok + n - 2)
				return v;
		}
	}
	return -1;
}

/* Extract the command line the initramfs printed: AUTOPXE-E2E-CMDLINE[...] */
static void find_cmdline(struct boot_res *r)
{
	const char *tag = "AUTOPXE-E2E-CMDLINE[";
	const char *p = memmem(r->serial, r->len, tag, strlen(tag));
	if (!p)
		return;
	p += strlen(tag);
	const char *eol = p;
	while (eol < r->serial + r->len && *eol != '\n' && *eol != '\r')
		eol++;
	const char *close = eol;
	while (close > p && close[-1] != ']')
		close--;
	if (close == p)
		return;
	size_t n = (size_t)(close - 1 - p);
	if (n >= sizeof r->cmdline)
		n = sizeof r->cmdline - 1;
	memcpy(r->cmdline, p, n);
	r->cmdline[n] = '\0';
	r->has_cmdline = 1;
}

static void qemu_argv(struct argv *a, const struct boot_opts *o)
{
	av_add(a, "qemu-system-x86_64");
	av_add(a, "-accel");
	av_add(a, "tcg");
	av_add(a, "-m");
	av_add(a, "512");
	av_add(a, "-nographic");
	av_add(a, "-no-reboot");
	av_add(a, "-no-user-config");
	av_add(a, "-netdev");
	av_add(a, "%s", o->netdev);
	if (o->romfile)
		av_add(a, "-device");
	if (o->romfile)
		av_add(a, "virtio-net-pci,netdev=n0,mac=%s,romfile=%s", S.mac, o->romfile);
	else {
		av_add(a, "-device");
		av_add(a, "virtio-net-pci,netdev=n0,mac=%s", S.mac);
	}
	if (o->fw == FW_UEFI) {
		char vars[MAXPATH + 64];
		snprintf(vars, sizeof vars, "%s/%s-OVMF_VARS.fd", S.dir, o->label);
		/* a private copy: UEFI writes boot entries into it */
		size_t len;
		char *b = read_all("/usr/share/OVMF/OVMF_VARS.fd", &len);
		REQUIRE(b, "read /usr/share/OVMF/OVMF_VARS.fd: %s (package ovmf)", strerror(errno));
		write_file(vars, b, len);
		free(b);
		av_add(a, "-drive");
		av_add(a, "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd");
		av_add(a, "-drive");
		av_add(a, "if=pflash,format=raw,unit=1,file=%s", vars);
		av_add(a, "-boot");
		av_add(a, "n");
	} else if (o->fw == FW_LKRN) {
		av_add(a, "-kernel");
		av_add(a, "/usr/lib/ipxe/ipxe.lkrn");
		av_add(a, "-append");
		av_add(a, "%s", o->append);
	} else {
		av_add(a, "-boot");
		av_add(a, "n");
	}
}

/* Boot one QEMU machine and watch it until every `done` marker is seen, an `abort` marker shows
 * up, QEMU exits, or the deadline passes. QEMU is always gone when this returns. */
static void boot_run(const struct boot_opts *o, struct boot_res *r)
{
	memset(r, 0, sizeof *r);
	r->t_menu = r->t_kernel = r->t_marker = r->t_done = -1;
	r->aborted_on = -1;
	struct argv a = {0};
	qemu_argv(&a, o);
	snprintf(r->serial_path, sizeof r->serial_path, "%s/%s.serial.log", S.dir, o->label);
	int sfd = open(r->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	REQUIRE(sfd >= 0, "create %s", r->serial_path);
	int lfd = open(S.slog, O_RDONLY | O_CLOEXEC);
	off_t loff = lfd >= 0 ? lseek(lfd, 0, SEEK_END) : 0;
	char lbuf[16384];
	size_t llen = 0;
	int pfd[2];
	REQUIRE(pipe2(pfd, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	r->serial = malloc(SERIAL_CAP + 1);
	REQUIRE(r->serial, "out of memory");
	double t0 = mono();
	pid_t pid = spawn(&a, pfd[1], o->netns, SIGKILL);
	av_free(&a);
	close(pfd[1]);
	track(pid, SIGTERM, "qemu");
	double deadline = t0 + o->timeout * E.scale;
	int eof = 0;
	for (;;) {
		double now = mono();
		if (now >= deadline) {
			r->timed_out = 1;
			break;
		}
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		int n = eof ? 0 : poll(&p, 1, 100);
		if (eof)
			usleep(100000);
		now = mono();
		if (n > 0) {
			char chunk[8192];
			ssize_t got = read(pfd[0], chunk, sizeof chunk);
			if (got <= 0) {
				eof = 1;
			} else {
				if (write(sfd, chunk, (size_t)got) != got)
					fprintf(stderr, "e2e: short write to %s\n", r->serial_path);
				size_t keep = r->len + (size_t)got > SERIAL_CAP ? SERIAL_CAP - r->len : (size_t)got;
				memcpy(r->serial + r->len, chunk, keep);
				r->len += keep;
				r->serial[r->len] = '\0';
			}
		}
		/* the server log: timestamps of the menu and kernel transfers (logged when they finish) */
		if (lfd >= 0) {
			ssize_t got;
			while ((got = pread(lfd, lbuf + llen, sizeof lbuf - 1 - llen, loff)) > 0) {
				loff += got;
				llen += (size_t)got;
				lbuf[llen] = '\0';
				char *s = lbuf, *nl;
				while ((nl = strchr(s, '\n'))) {
					*nl = '\0';
					scan_log_line(r, s, now - t0);
					s = nl + 1;
				}
				llen = strlen(s);
				memmove(lbuf, s, llen + 1);
				if (llen == sizeof lbuf - 1)
					llen = 0; /* an absurdly long line: drop it */
			}
		}
		if (r->t_marker < 0 && seen(r, "AUTOPXE-E2E-MARKER"))
			r->t_marker = now - t0;
		int all = 1;
		for (int i = 0; o->done[i]; i++)
			if (!seen(r, o->done[i]))
				all = 0;
		if (all && o->done[0]) {
			r->done = 1;
			r->t_done = now - t0;
			break;
		}
		for (int i = 0; o->abort[i] && r->aborted_on < 0; i++)
			if (seen(r, o->abort[i]))
				r->aborted_on = i;
		if (r->aborted_on >= 0)
			break;
		int st;
		if (eof && waitpid(pid, &st, WNOHANG) == pid) {
			untrack(pid);
			pid = 0;
			r->exited = 1;
			break;
		}
	}
	if (pid > 0) {
		/* after the marker the guest powers off by itself; give it a moment, then stop it */
		proc_stop(pid, r->done ? SIGTERM : SIGKILL, r->done ? 2.0 : 0.5);
		untrack(pid);
	}
	r->t_end = mono() - t0;
	close(pfd[0]);
	close(sfd);
	/* the last log lines may land just after the guest finished */
	if (lfd >= 0) {
		ssize_t got;
		usleep(100000);
		while ((got = pread(lfd, lbuf + llen, sizeof lbuf - 1 - llen, loff)) > 0) {
			loff += got;
			llen += (size_t)got;
			lbuf[llen] = '\0';
			char *s = lbuf, *nl;
			while ((nl = strchr(s, '\n'))) {
				*nl = '\0';
				scan_log_line(r, s, r->t_end);
				s = nl + 1;
			}
			llen = strlen(s);
			memmove(lbuf, s, llen + 1);
			if (llen == sizeof lbuf - 1)
				llen = 0;
		}
		close(lfd);
	}
	find_cmdline(r);
	S.t_menu = r->t_menu;
	S.t_kernel = r->t_kernel;
	S.t_marker = r->t_marker;
	S.t_total = r->done ? r->t_done : r->t_end;
	S.kxfer_ms = log_duration_ms(r->kernel_line);
	if (E.verbose)
		fprintf(stderr, "e2e: %s/%s: menu %.1f kernel %.1f marker %.1f end %.1f done=%d\n", S.id, o->label,
		        r->t_menu, r->t_kernel, r->t_marker, r->t_end, r->done);
}

/* Fail with the console and server log when the boot did not reach all of its markers. */
static void boot_require_done(const struct boot_opts *o, struct boot_res *r)
{
	if (r->done)
		return;
	dump_tail("guest console", r->serial_path, 40);
	dump_tail("server log", S.slog, 25);
	char missing[200] = "";
	for (int i = 0; o->done[i]; i++)
		if (!seen(r, o->done[i]) && !missing[0])
			snprintf(missing, sizeof missing, "%s", o->done[i]);
	if (r->aborted_on >= 0)
		REQUIRE(0, "%s: console showed '%s' before '%s'", o->label, o->abort[r->aborted_on], missing);
	if (r->timed_out)
		REQUIRE(0, "%s: timed out after %.0f s waiting for '%s' (menu %s, kernel %s)", o->label,
		        o->timeout * E.scale, missing, r->t_menu >= 0 ? "fetched" : "never fetched",
		        r->t_kernel >= 0 ? "fetched" : "never fetched");
	REQUIRE(0, "%s: QEMU exited after %.1f s without '%s'", o->label, r->t_end, missing);
}

/* The guest's /proc/cmdline must be exactly `expected` (prefix: what iPXE itself adds). */
static void require_cmdline(struct boot_res *r, const char *prefix, const char *expected)
{
	REQUIRE(r->has_cmdline, "no AUTOPXE-E2E-CMDLINE line on the console (see %s)", r->serial_path);
	char want[4200];
	snprintf(want, sizeof want, "%s%s", prefix, expected);
	if (strcmp(r->cmdline, want) != 0) {
		fprintf(stderr, "e2e: %s: guest /proc/cmdline differs\n  got:  [%s]\n  want: [%s]\n", S.id, r->cmdline,
		        want);
		REQUIRE(0, "guest /proc/cmdline is [%s], expected [%s]", r->cmdline, want);
	}
}

static void require_line_proto(const char *what, const char *line, const char *proto)
{
	REQUIRE(line[0], "the server logged no %s transfer", what);
	char tag[32];
	snprintf(tag, sizeof tag, " %s", proto);
	REQUIRE(strstr(line, tag) != NULL, "%s was expected over %s; the server logged: %s", what, proto, line);
}

#define BIOS_TIMEOUT 120.0
#define UEFI_TIMEOUT 180.0
/* What a successful boot must show, and what means it is over. */
#define DONE_MARKERS {"AUTOPXE-E2E-MARKER", "AUTOPXE-E2E-DONE", NULL}
#define ABORT_MARKERS {"No bootable device", "Kernel panic", "autopxe: could not boot", NULL}

/* iPXE on BIOS passes the command line as written (it starts with the initrd= word the menu adds for
 * EFI-stub kernels); on EFI it also puts the image name first. */
#define BIOS_PREFIX "initrd=initrd "
#define EFI_PREFIX "vmlinuz initrd=initrd "

/* ---------------------------------------------------------------- scenarios */

/* 1: BIOS, QEMU user networking, DHCP bootfile tftp://10.0.2.2:<port>/autopxe-${mac:hexraw}; HTTP off,
 * so the menu, kernel and initrd all come over autopxe's TFTP. */
START_TEST(s1_bios_tftp)
{
	scn_begin("s1_bios_tftp", "52:54:00:e2:00:01");
	config_write(&(struct cfg_opts){0});
	S.tftp_port = free_port(SOCK_DGRAM);
	char tl[64], nd[256], want[4096];
	snprintf(tl, sizeof tl, "127.0.0.1:%u", S.tftp_port);
	server_start(tl, "off", NULL);
	snprintf(nd, sizeof nd, "user,id=n0,bootfile=tftp://10.0.2.2:%u/autopxe-${mac:hexraw}", S.tftp_port);
	struct boot_opts o = {.label = "boot", .fw = FW_BIOS, .netdev = nd, .timeout = BIOS_TIMEOUT,
	                      .done = DONE_MARKERS, .abort = ABORT_MARKERS};
	struct boot_res r;
	boot_run(&o, &r);
	boot_require_done(&o, &r);
	expect_cmdline(want, sizeof want, "overlayfs", "debian", "bookworm", "latest", "10.0.2.2");
	require_cmdline(&r, BIOS_PREFIX, want);
	require_line_proto("menu", r.menu_line, "tftp");
	require_line_proto("kernel", r.kernel_line, "tftp");
	boot_free(&r);
	scn_pass();
}
END_TEST

/* 2: the same over HTTP: bootfile http://10.0.2.2:<port>/autopxe-${mac:hexraw}, kernel and initrd over HTTP. */
START_TEST(s2_bios_http)
{
	scn_begin("s2_bios_http", "52:54:00:e2:00:02");
	config_write(&(struct cfg_opts){0});
	S.http_port = free_port(SOCK_STREAM);
	char hl[64], nd[256], want[4096];
	snprintf(hl, sizeof hl, "127.0.0.1:%u", S.http_port);
	server_start("off", hl, NULL);
	snprintf(nd, sizeof nd, "user,id=n0,bootfile=http://10.0.2.2:%u/autopxe-${mac:hexraw}", S.http_port);
	struct boot_opts o = {.label = "boot", .fw = FW_BIOS, .netdev = nd, .timeout = BIOS_TIMEOUT,
	                      .done = DONE_MARKERS, .abort = ABORT_MARKERS};
	struct boot_res r;
	boot_run(&o, &r);
	boot_require_done(&o, &r);
	expect_cmdline(want, sizeof want, "overlayfs", "debian", "bookworm", "latest", "10.0.2.2");
	require_cmdline(&r, BIOS_PREFIX, want);
	require_line_proto("menu", r.menu_line, "http");
	require_line_proto("kernel", r.kernel_line, "http");
	boot_free(&r);
	scn_pass();
}
END_TEST

/* 3: HostDefaults pins this MAC (written with colons, upper case) to another boot id and template. */
START_TEST(s3_hostdefaults)
{
	scn_begin("s3_hostdefaults", "52:54:00:e2:00:03");
	config_write(&(struct cfg_opts){.hosts = "  52:54:00:E2:00:03: debian/bookworm/" "latest/nfsrw\n"
	                                         "  525400e20099: ubuntu/noble/latest/overlayfs\n"});
	S.http_port = free_port(SOCK_STREAM);
	char hl[64], nd[256], want[4096];
	snprintf(hl, sizeof hl, "127.0.0.1:%u", S.http_port);
	server_start("off", hl, NULL);
	snprintf(nd, sizeof nd, "user,id=n0,bootfile=http://10.0.2.2:%u/autopxe-${mac:hexraw}", S.http_port);
	struct boot_opts o = {.label = "boot", .fw = FW_BIOS, .netdev = nd, .timeout = BIOS_TIMEOUT,
	                      .done = DONE_MARKERS, .abort = ABORT_MARKERS};
	struct boot_res r;
	boot_run(&o, &r);
	boot_require_done(&o, &r);
	expect_cmdline(want, sizeof want, "nfsrw", "debian", "bookworm", "latest", "10.0.2.2");
	require_cmdline(&r, BIOS_PREFIX, want);
	boot_free(&r);
	scn_pass();
}
END_TEST

/* The embedded chain script as text for a stock ipxe.lkrn (embedded/build-ipxe.sh --print-script). */
static char *embedded_script(unsigned http_port, unsigned tftp_port)
{
	char tool[MAXPATH + 64];
	snprintf(tool, sizeof tool, "%s/embedded/build-ipxe.sh", E.srcdir);
	REQUIRE(access(tool, X_OK) == 0, "blocked: %s is missing (the embedded chain script is not in the tree)", tool);
	struct argv a = {0};
	av_add(&a, "%s", tool);
	av_add(&a, "--print-script");
	av_add(&a, "--server");
	av_add(&a, "10.0.2.2");
	av_add(&a, "--http-port");
	av_add(&a, "%u", http_port);
	av_add(&a, "--tftp-port");
	av_add(&a, "%u", tftp_port);
	char *s = capture(&a);
	av_free(&a);
	REQUIRE(s && strstr(s, "autopxe-"), "embedded/build-ipxe.sh --print-script failed or printed no chain line");
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	return s;
}

/* 4: the embedded chain script run by stock ipxe.lkrn (-append): DHCP, then the menu over HTTP. */
START_TEST(s4_embedded_http)
{
	scn_begin("s4_embedded_http", "52:54:00:e2:00:04");
	config_write(&(struct cfg_opts){0});
	S.http_port = free_port(SOCK_STREAM);
	S.tftp_port = free_port(SOCK_DGRAM);
	char hl[64], tl[64], want[4096];
	snprintf(hl, sizeof hl, "127.0.0.1:%u", S.http_port);
	snprintf(tl, sizeof tl, "127.0.0.1:%u", S.tftp_port);
	char *script = embedded_script(S.http_port, S.tftp_port);
	server_start(tl, hl, NULL);
	struct boot_opts o = {.label = "boot", .fw = FW_LKRN, .netdev = "user,id=n0", .append = script,
	                      .timeout = BIOS_TIMEOUT, .done = DONE_MARKERS,
	                      .abort = {"No bootable device", "Kernel panic", "autopxe: could not boot",
	                                "autopxe: HTTP failed", "autopxe: cannot reach", NULL}};
	struct boot_res r;
	boot_run(&o, &r);
	free(script);
	boot_require_done(&o, &r);
	expect_cmdline(want, sizeof want, "overlayfs", "debian", "bookworm", "latest", "10.0.2.2");
	require_cmdline(&r, BIOS_PREFIX, want);
	require_line_proto("menu", r.menu_line, "http");
	boot_free(&r);
	scn_pass();
}
END_TEST

/* 4b: the same script with the HTTP port closed: it falls back to TFTP and the machine still boots. */
START_TEST(s4b_embedded_tftp_fallback)
{
	scn_begin("s4b_embedded_fallback", "52:54:00:e2:00:14");
	config_write(&(struct cfg_opts){0});
	unsigned closed = free_port(SOCK_STREAM); /* nothing listens there */
	S.tftp_port = free_port(SOCK_DGRAM);
	char tl[64], want[4096];
	snprintf(tl, sizeof tl, "127.0.0.1:%u", S.tftp_port);
	char *script = embedded_script(closed, S.tftp_port);
	server_start(tl, "off", NULL);
	struct boot_opts o = {.label = "boot", .fw = FW_LKRN, .netdev = "user,id=n0", .append = script,
	                      .timeout = BIOS_TIMEOUT, .done = DONE_MARKERS,
	                      .abort = {"No bootable device", "Kernel panic", "autopxe: could not boot",
	                                "autopxe: cannot reach", NULL}};
	struct boot_res r;
	boot_run(&o, &r);
	free(script);
	boot_require_done(&o, &r);
	REQUIRE(seen(&r, "HTTP failed, trying TFTP"), "the console does not show the HTTP-to-TFTP fallback");
	expect_cmdline(want, sizeof want, "overlayfs", "debian", "bookworm", "latest", "10.0.2.2");
	require_cmdline(&r, BIOS_PREFIX, want);
	require_line_proto("menu", r.menu_line, "tftp");
	require_line_proto("kernel", r.kernel_line, "tftp");
	boot_free(&r);
	scn_pass();
}
END_TEST

/* 5: UEFI (OVMF) with the NIC's EFI iPXE ROM over HTTP: the EFI-stub kernel must find its initrd
 * through the initrd= word (the marker comes from inside the initramfs). */
START_TEST(s5_uefi_http)
{
	scn_begin("s5_uefi_http", "52:54:00:e2:00:05");
	REQUIRE(access("/usr/share/OVMF/OVMF_CODE.fd", R_OK) == 0 && access("/usr/share/OVMF/OVMF_VARS.fd", R_OK) == 0,
	        "OVMF firmware missing (package ovmf)");
	config_write(&(struct cfg_opts){0});
	S.http_port = free_port(SOCK_STREAM);
	char hl[64], nd[256], want[4096];
	snprintf(hl, sizeof hl, "127.0.0.1:%u", S.http_port);
	server_start("off", hl, NULL);
	snprintf(nd, sizeof nd, "user,id=n0,bootfile=http://10.0.2.2:%u/autopxe-${mac:hexraw}", S.http_port);
	struct boot_opts o = {.label = "boot", .fw = FW_UEFI, .netdev = nd, .timeout = UEFI_TIMEOUT,
	                      .romfile = "/usr/lib/ipxe/qemu/efi-virtio.rom", .done = DONE_MARKERS,
	                      .abort = {"Kernel panic", "autopxe: could not boot", NULL}};
	struct boot_res r;
	boot_run(&o, &r);
	boot_require_done(&o, &r);
	expect_cmdline(want, sizeof want, "overlayfs", "debian", "bookworm", "latest", "10.0.2.2");
	require_cmdline(&r, EFI_PREFIX, want);
	require_line_proto("kernel", r.kernel_line, "http");
	boot_free(&r);
	scn_pass();
}
END_TEST

/* ---- 6: a realistic LAN in network namespaces */

static void netns_add(const char *name)
{
	for (int i = 0; i < MAX_NETNS; i++) {
		if (!S.netns[i][0]) {
			REQUIRE(run_sh("ip netns add %s", name) == 0, "ip netns add %s failed (see %s/commands.log)", name,
			        S.dir);
			snprintf(S.netns[i], sizeof S.netns[i], "%s", name);
			return;
		}
	}
	REQUIRE(0, "too many namespaces");
}

/*   netns SRV: vsrv 192.0.2.1/24 + 2001:db8:e2e::1/64; dnsmasq (DHCP + RA only), autopxe on :69 and :80
 *   netns LAB: br0 = {vlab, tap0}; QEMU on tap0
 * dnsmasq tells clients apart the way the seeds do: option 93 (BIOS vs x86-64 UEFI) picks the iPXE
 * binary for plain PXE firmware, and iPXE (option 175 / user class "iPXE") is sent straight to
 * autopxe's per-MAC menu, whose kernel lines point at autopxe's HTTP port. */
static void lan_up(const char *srv, const char *lab)
{
	netns_add(srv);
	netns_add(lab);
	REQUIRE(run_sh("ip link add vsrv netns %s type veth peer name vlab netns %s", srv, lab) == 0,
	        "cannot create the veth pair (see %s/commands.log)", S.dir);
	REQUIRE(run_sh("ip -n %s addr add 192.0.2.1/24 dev vsrv && ip -n %s -6 addr add 2001:db8:e2e::1/64 dev vsrv "
	               "nodad && ip -n %s link set lo up && ip -n %s link set vsrv up",
	               srv, srv, srv, srv) == 0,
	        "cannot configure the server namespace (see %s/commands.log)", S.dir);
	REQUIRE(run_sh("ip -n %s link set lo up && ip -n %s link add br0 type bridge forward_delay 0 && "
	               "ip -n %s tuntap add dev tap0 mode tap && ip -n %s link set vlab master br0 && "
	               "ip -n %s link set tap0 master br0 && ip -n %s link set br0 up && ip -n %s link set vlab up && "
	               "ip -n %s link set tap0 up",
	               lab, lab, lab, lab, lab, lab, lab, lab) == 0,
	        "cannot build the LAN bridge (see %s/commands.log)", S.dir);
}

/* dnsmasq on the server side of the LAN: DHCP for 192.0.2.100-150 and IPv6 RAs, plus the options in `boot`
 * (NULL-terminated; NULL = addresses only, no boot file, no PXE options at all). */
static void dnsmasq_start(const char *srv, const char *const *boot)
{
	char lp[MAXPATH + 32];
	snprintf(lp, sizeof lp, "%s/dnsmasq.out", S.dir);
	int fd = open(lp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0, "create %s", lp);
	struct argv a = {0};
	av_add(&a, "dnsmasq");
	av_add(&a, "--keep-in-foreground");
	av_add(&a, "--conf-file=/dev/null");
	av_add(&a, "--port=0"); /* DHCP only: no DNS */
	av_add(&a, "--interface=vsrv");
	av_add(&a, "--bind-interfaces");
	av_add(&a, "--user=root");
	av_add(&a, "--dhcp-range=192.0.2.100,192.0.2.150,255.255.255.0,10m");
	/* router advertisements, or iPXE waits ~13 s for IPv6 after DHCP */
	av_add(&a, "--enable-ra");
	av_add(&a, "--dhcp-range=2001:db8:e2e::,ra-only");
	av_add(&a, "--dhcp-leasefile=%s/leases", S.dir);
	av_add(&a, "--pid-file=%s/dnsmasq.pid", S.dir);
	av_add(&a, "--log-dhcp");
	av_add(&a, "--log-facility=%s/dnsmasq.log", S.dir);
	for (const char *const *o = boot; o && *o; o++)
		av_add(&a, "%s", *o);
	pid_t pid = spawn(&a, fd, srv, SIGTERM);
	av_free(&a);
	close(fd);
	track(pid, SIGTERM, "dnsmasq");
}

/* uefi = 0: BIOS; the NIC's iPXE ROM is recognised as iPXE and sent straight to its menu.
 * uefi = 1: OVMF's own PXE client (no iPXE ROM on the NIC): option 93 = 7 gets snponly.efi from
 * autopxe's TFTP (IPXEDir), which DHCPs again as iPXE and chains to its menu. */
static void lan_scenario(const char *id, const char *mac, int uefi)
{
	scn_begin(id, mac);
	if (geteuid() != 0) {
		scn_skip("needs root (network namespaces, tap, port 69/80)");
		return;
	}
	char srv[64], lab[64], want[4096], dl[MAXPATH + 32];
	snprintf(srv, sizeof srv, "ape2e-%s-srv", E.runid);
	snprintf(lab, sizeof lab, "ape2e-%s-lab", E.runid);
	snprintf(dl, sizeof dl, "%s/dnsmasq.log", S.dir);
	/* the iPXE binaries plain PXE firmware gets as its first hop (Debian's) */
	char p[MAXPATH + 64];
	snprintf(p, sizeof p, "%s/ipxe/undionly.kpxe", S.dir);
	link_or_copy("/usr/lib/ipxe/undionly.kpxe", p);
	snprintf(p, sizeof p, "%s/ipxe/snponly.efi", S.dir);
	link_or_copy("/usr/lib/ipxe/snponly.efi", p);
	config_write(&(struct cfg_opts){.nfs_server = "192.0.2.1"});
	lan_up(srv, lab);
	static const char *const pxe[] = {
	    "--dhcp-match=set:ipxe,175",
	    "--dhcp-userclass=set:ipxe,iPXE",
	    "--dhcp-match=set:efi64,option:client-arch,7",
	    "--dhcp-match=set:efi64,option:client-arch,9",
	    "--dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe,,192.0.2.1",
	    "--dhcp-boot=tag:!ipxe,tag:efi64,snponly.efi,,192.0.2.1",
	    "--dhcp-boot=tag:ipxe,autopxe-${mac:hexraw},,192.0.2.1",
	    NULL,
	};
	dnsmasq_start(srv, pxe);
	server_start("0.0.0.0:69", "0.0.0.0:80", srv);
	struct boot_opts o = {.label = "boot", .fw = uefi ? FW_UEFI : FW_BIOS, .netns = lab,
	                      .timeout = uefi ? UEFI_TIMEOUT : BIOS_TIMEOUT, .romfile = uefi ? "" : NULL,
	                      .netdev = "tap,id=n0,ifname=tap0,script=no,downscript=no", .done = DONE_MARKERS,
	                      .abort = {"Kernel panic", "autopxe: could not boot", uefi ? NULL : "No bootable device",
	                                NULL}};
	struct boot_res r;
	boot_run(&o, &r);
	if (!r.done)
		dump_tail("dnsmasq log", dl, 25);
	boot_require_done(&o, &r);
	expect_cmdline(want, sizeof want, "overlayfs", "debian", "bookworm", "latest", "192.0.2.1");
	require_cmdline(&r, uefi ? EFI_PREFIX : BIOS_PREFIX, want);
	require_line_proto("menu", r.menu_line, "tftp");
	require_line_proto("kernel", r.kernel_line, "http");
	REQUIRE(file_contains(dl, "tags: ipxe"), "dnsmasq did not tag the client as iPXE (see %s)", dl);
	if (uefi) {
		REQUIRE(file_contains(dl, "tags: efi64"), "dnsmasq did not see option 93 = x86-64 UEFI (see %s)", dl);
		REQUIRE(file_contains(S.slog, "file=\"snponly.efi\""),
		        "the first hop (snponly.efi over autopxe's TFTP) is not in the server log");
	}
	boot_free(&r);
	scn_pass();
}

START_TEST(s6_netns_lan) { lan_scenario("s6_netns_lan", "52:54:00:e2:00:06", 0); }
END_TEST

START_TEST(s6b_netns_uefi_pxe) { lan_scenario("s6b_netns_uefi_pxe", "52:54:00:e2:00:16", 1); }
END_TEST

/* 7: the default boot id's kernel disappears after the scan: the menu's failure path retries
 * BootRetries times, prints its message and exits to the next boot device instead of hanging. */
START_TEST(s7_failure_path)
{
	scn_begin("s7_failure_path", "52:54:00:e2:00:07");
	config_write(&(struct cfg_opts){.extra = "Watch: false\nBootRetries: 1\nRetryDelay: 1000\nFailureAction: exit\n"});
	/* the rendered script must carry the documented failure message */
	struct argv a = {0};
	av_add(&a, "%s", E.autopxe);
	av_add(&a, "--config");
	av_add(&a, "%s", S.config);
	av_add(&a, "render");
	av_add(&a, "--mac");
	av_add(&a, "%s", S.mac);
	char *menu = capture(&a);
	av_free(&a);
	REQUIRE(menu, "autopxe render failed");
	REQUIRE(strstr(menu, "echo autopxe: could not boot ${autopxe-target}"),
	        "the rendered menu has no 'autopxe: could not boot' failure message");
	free(menu);
	S.http_port = free_port(SOCK_STREAM);
	char hl[64], nd[256], kp[MAXPATH + 64];
	snprintf(hl, sizeof hl, "127.0.0.1:%u", S.http_port);
	server_start("off", hl, NULL);
	snprintf(kp, sizeof kp, "%s/debian/bookworm/boot/vmlinuz-%s", S.rootfs, E.kver);
	REQUIRE(unlink(kp) == 0, "unlink %s: %s", kp, strerror(errno));
	snprintf(nd, sizeof nd, "user,id=n0,bootfile=http://10.0.2.2:%u/autopxe-${mac:hexraw}", S.http_port);
	struct boot_opts o = {.label = "boot", .fw = FW_BIOS, .netdev = nd, .timeout = BIOS_TIMEOUT,
	                      /* iPXE wraps console lines at 80 columns: match the first 80 characters */
	                      .done = {"autopxe: could not boot " DEFAULT_ID ", retry 1 of 1",
	                               "autopxe: could not boot " DEFAULT_ID ", giving up",
	                               "autopxe: exit to next boot device", "No bootable device", NULL},
	                      .abort = {"AUTOPXE-E2E-MARKER", "Kernel panic", NULL}};
	struct boot_res r;
	boot_run(&o, &r);
	boot_require_done(&o, &r);
	REQUIRE(r.kernel_lines == 2, "expected 2 kernel requests (1 + BootRetries 1), the server logged %u",
	        r.kernel_lines);
	boot_free(&r);
	scn_pass();
}
END_TEST

/* ---- 8: config reload while the server runs */

static void require_menu_default(const char *id, const char *why)
{
	char path[64], needle[200];
	snprintf(path, sizeof path, "/autopxe-%s", S.hex);
	snprintf(needle, sizeof needle, "choose --default %s ", id);
	char *m = http_get(S.http_port, path);
	REQUIRE(m && strstr(m, " 200 "), "GET %s failed", path);
	int ok = strstr(m, needle) != NULL;
	free(m);
	REQUIRE(ok, "%s: the served menu's default is not %s", why, id);
}

static void reload_scenario(const char *id, const char *mac, int use_sighup)
{
	scn_begin(id, mac);
	char hosts1[128], hosts2[128], want[4096];
	snprintf(hosts1, sizeof hosts1, "  %s: debian/bookworm/latest/overlayfs\n", mac);
	snprintf(hosts2, sizeof hosts2, "  %s: debian/bookworm/latest/nfsrw\n", mac);
	const char *extra = use_sighup ? "Watch: false\n" : "Watch: true\n";
	config_write(&(struct cfg_opts){.hosts = hosts1, .extra = extra});
	S.http_port = free_port(SOCK_STREAM);
	char hl[64], nd[256];
	snprintf(hl, sizeof hl, "127.0.0.1:%u", S.http_port);
	server_start("off", hl, NULL);
	require_menu_default("debian/bookworm/latest/overlayfs", "before the change");
	off_t mark = file_size(S.slog);
	config_write(&(struct cfg_opts){.hosts = hosts2, .extra = extra}); /* write + rename, like editors */
	if (use_sighup) {
		/* Watch is off: nothing may change until the signal */
		usleep(1500000);
		require_menu_default("debian/bookworm/latest/overlayfs", "Watch: false, before SIGHUP");
		REQUIRE(kill(S.server, SIGHUP) == 0, "kill -HUP: %s", strerror(errno));
	}
	REQUIRE(server_log_wait(mark, "reloaded", 10), "the server did not log a reload within 10 s of the %s",
	        use_sighup ? "SIGHUP" : "file change");
	require_menu_default("debian/bookworm/latest/nfsrw", "after the reload");
	snprintf(nd, sizeof nd, "user,id=n0,bootfile=http://10.0.2.2:%u/autopxe-${mac:hexraw}", S.http_port);
	struct boot_opts o = {.label = "boot", .fw = FW_BIOS, .netdev = nd, .timeout = BIOS_TIMEOUT,
	                      .done = DONE_MARKERS, .abort = ABORT_MARKERS};
	struct boot_res r;
	boot_run(&o, &r);
	boot_require_done(&o, &r);
	expect_cmdline(want, sizeof want, "nfsrw", "debian", "bookworm", "latest", "10.0.2.2");
	require_cmdline(&r, BIOS_PREFIX, want);
	REQUIRE(file_contains(S.slog, "reloaded"), "no reload in the server log");
	boot_free(&r);
	scn_pass();
}

START_TEST(s8_reload_inotify) { reload_scenario("s8_reload_inotify", "52:54:00:e2:00:08", 0); }
END_TEST

START_TEST(s8b_reload_sighup) { reload_scenario("s8b_reload_sighup", "52:54:00:e2:00:18", 1); }
END_TEST

/* ---- 9: the container image, run the way README's Docker section says */

/* Wait until `<engine> inspect` of the container answers fmt with want (or time out). 1 when it did. */
static int engine_state_is(const char *engine, const char *fmt, const char *want, double seconds)
{
	double end = mono() + seconds * E.scale;
	do {
		struct argv a = {0};
		av_add(&a, "%s", engine);
		av_add(&a, "inspect");
		av_add(&a, "--format");
		av_add(&a, "%s", fmt);
		av_add(&a, "%s", S.container);
		char *out = capture(&a);
		av_free(&a);
		int hit = out && strncmp(out, want, strlen(want)) == 0;
		free(out);
		if (hit)
			return 1;
		usleep(200000);
	} while (mono() < end);
	return 0;
}

/* The image scripts/docker-image-test.sh built from this tree, started with the engine's docker CLI as README
 * says (tests/e2e/run.sh names the image in E2E_IMAGE, points podman at the test storage with this VM's runtime
 * settings, and for docker starts Debian's dockerd and loads the image into it):
 *   <engine> run --rm --network host -v TREE:/pxe/rootfs:ro -v config.yaml:/config.yaml:ro -e NFS_SERVER=..
 * A BIOS guest takes the menu over the container's TFTP and the kernel over its HTTP; then the config file is
 * edited in place on the host (a single-file bind mount: only the file's own inode sees the write) and the
 * menu follows; the serving process is the image's unprivileged user; the HEALTHCHECK passes; `<engine> stop`
 * (SIGTERM) ends it with status 0. */
static void container_scenario(const char *id, const char *mac, const char *engine)
{
	const char *image = getenv("E2E_IMAGE");
	int docker = strcmp(engine, "docker") == 0;
	scn_begin(id, mac);
	REQUIRE(!getenv("E2E_IMAGE_FAIL") || !*getenv("E2E_IMAGE_FAIL"), "%s", env_or("E2E_IMAGE_WHY", "no image"));
	if (!image || !*image) {
		scn_skip(env_or("E2E_IMAGE_WHY", "E2E_IMAGE is not set (tests/e2e/run.sh sets it when the image exists)"));
		return;
	}
	if (docker && !getenv("DOCKER_HOST")) {
		scn_skip(env_or("E2E_DOCKER_WHY", "no Docker engine (tests/e2e/run.sh starts dockerd when it can)"));
		return;
	}
	snprintf(S.served_root, sizeof S.served_root, "/pxe/rootfs");
	snprintf(S.container, sizeof S.container, "ape2e-%s-%s", E.runid, engine);
	snprintf(S.engine, sizeof S.engine, "%s", engine);
	/* the image's user (uid 10001) must read the tree and the config through the bind mounts */
	REQUIRE(run_sh("chmod -R a+rX '%s'", S.rootfs) == 0, "chmod the tree");
	S.tftp_port = free_port(SOCK_DGRAM);
	S.http_port = free_port(SOCK_STREAM);
	char *y;
	int rc = asprintf(&y,
	                  "# e2e scenario %s: the config as the container sees it\n"
	                  "version: 1\n"
	                  "RootfsPath: /pxe/rootfs/\n"
	                  "MenuTimeout: 1000\n"
	                  "Env:\n"
	                  "  site: " SITE "\n"
	                  "DefaultDistro: debian/bookworm/latest/container\n"
	                  "TFTPListen: 127.0.0.1:%u\n"
	                  "HTTPListen: 127.0.0.1:%u\n"
	                  "HTTPBaseURL: http://10.0.2.2:%u/\n"
	                  "CmdlineTemplates:\n"
	                  "  container: %s\n"
	                  "  nfsrw: %s\n",
	                  id, S.tftp_port, S.http_port, S.http_port, template_text("container"), template_text("nfsrw"));
	REQUIRE(rc >= 0, "out of memory");
	write_str(S.config, y);
	REQUIRE(chmod(S.config, 0644) == 0, "chmod %s", S.config);

	int fd = open(S.slog, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0, "create %s", S.slog);
	struct argv a = {0};
	av_add(&a, "%s", engine);
	av_add(&a, "run");
	av_add(&a, "--rm");
	av_add(&a, "--name");
	av_add(&a, "%s", S.container);
	av_add(&a, "--network");
	av_add(&a, "host");
	av_add(&a, "-v");
	av_add(&a, "%s:/pxe/rootfs:ro", S.rootfs);
	av_add(&a, "-v");
	av_add(&a, "%s:/config.yaml:ro", S.config);
	av_add(&a, "-e");
	av_add(&a, "NFS_SERVER=10.0.2.2");
	av_add(&a, "-e"); /* the HEALTHCHECK's port (the Dockerfile documents it) */
	av_add(&a, "AUTOPXE_HTTP_PORT=%u", S.http_port);
	if (docker) /* Docker runs the HEALTHCHECK itself; every second instead of every 30 */
		av_add(&a, "--health-interval=1s");
	av_add(&a, "%s", image);
	S.server = spawn(&a, fd, NULL, SIGTERM);
	av_free(&a);
	close(fd);
	track(S.server, SIGTERM, engine);
	/* a vfs-storage container copies the whole image first: allow for that */
	REQUIRE(server_log_wait(0, " serving (pid", 90), "the container did not report 'serving' within 90 s");

	/* the serving process is the image's unprivileged user */
	REQUIRE(engine_state_is(engine, "{{.State.Running}}", "true", 10), "the container is not running");
	struct argv ia = {0};
	av_add(&ia, "%s", engine);
	av_add(&ia, "inspect");
	av_add(&ia, "--format");
	av_add(&ia, "{{.State.Pid}}");
	av_add(&ia, "%s", S.container);
	char *pidtxt = capture(&ia);
	av_free(&ia);
	REQUIRE(pidtxt && atoi(pidtxt) > 1, "no pid for the container");
	char sp[64];
	snprintf(sp, sizeof sp, "/proc/%d/status", atoi(pidtxt));
	free(pidtxt);
	char *status = read_all(sp, NULL);
	REQUIRE(status && strstr(status, "Name:\tautopxe\n"), "the container's process is not autopxe");
	int uid_ok = strstr(status, "\nUid:\t10001\t10001\t10001\t10001\n") != NULL;
	free(status);
	REQUIRE(uid_ok, "the container's autopxe does not run as uid 10001 (the image's user autopxe); see %s", sp);
	if (docker)
		REQUIRE(engine_state_is(engine, "{{.State.Health.Status}}", "healthy", 30),
		        "Docker never reported the container healthy (HEALTHCHECK on /healthz)");
	else
		REQUIRE(run_sh("podman healthcheck run %s", S.container) == 0,
		        "the image's HEALTHCHECK failed against the running container (commands.log)");

	char nd[256], want[4096];
	snprintf(nd, sizeof nd, "user,id=n0,bootfile=tftp://10.0.2.2:%u/autopxe-${mac:hexraw}", S.tftp_port);
	struct boot_opts o = {.label = "boot", .fw = FW_BIOS, .netdev = nd, .timeout = BIOS_TIMEOUT,
	                      .done = DONE_MARKERS, .abort = ABORT_MARKERS};
	struct boot_res r;
	boot_run(&o, &r);
	boot_require_done(&o, &r);
	expect_cmdline(want, sizeof want, "container", "debian", "bookworm", "latest", "10.0.2.2");
	require_cmdline(&r, BIOS_PREFIX, want);
	require_line_proto("menu", r.menu_line, "tftp");
	require_line_proto("kernel", r.kernel_line, "http");
	boot_free(&r);

	/* Edit the mounted file in place, as `cat > config.yaml` or a config-management tool does */
	require_menu_default("debian/bookworm/latest/container", "before the edit");
	off_t mark = file_size(S.slog);
	char *y2;
	rc = asprintf(&y2, "%sHostDefaults:\n  %s: debian/bookworm/latest/nfsrw\n", y, S.mac);
	REQUIRE(rc >= 0, "out of memory");
	free(y);
	fd = open(S.config, O_WRONLY | O_TRUNC | O_CLOEXEC);
	REQUIRE(fd >= 0 && write(fd, y2, strlen(y2)) == (ssize_t)strlen(y2) && close(fd) == 0, "rewrite %s in place",
	        S.config);
	free(y2);
	REQUIRE(server_log_wait(mark, "reloaded", 15),
	        "the container did not reload within 15 s of an in-place edit of its bind-mounted config");
	require_menu_default("debian/bookworm/latest/nfsrw", "after the in-place edit");

	/* docker/podman stop: SIGTERM to the container's process, a clean exit */
	REQUIRE(run_sh("%s stop -t 10 %s", engine, S.container) == 0, "%s stop failed (commands.log)", engine);
	int st = 0;
	double end = mono() + 20 * E.scale;
	pid_t w = 0;
	while (mono() < end && (w = waitpid(S.server, &st, WNOHANG)) == 0)
		usleep(50000);
	REQUIRE(w == S.server, "%s run did not return within 20 s of %s stop", engine, engine);
	untrack(S.server);
	S.server = 0;
	REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the container exited with status %d after SIGTERM",
	        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	REQUIRE(file_contains(S.slog, "signal 15: shutting down") && file_contains(S.slog, "stopped"),
	        "the container's log has no clean shutdown after SIGTERM");
	S.container[0] = '\0'; /* --rm removed it */
	scn_pass();
}

START_TEST(s9_podman) { container_scenario("s9_podman", "52:54:00:e2:00:0a", "podman"); }
END_TEST

START_TEST(s9b_docker) { container_scenario("s9b_docker", "52:54:00:e2:00:1a", "docker"); }
END_TEST

/* ================================================================ 10: proxyDHCP (issue 14)
 * The network's DHCP server (dnsmasq in netns SRV) hands out addresses ONLY: no boot file, no next-server, no
 * PXE options at all. autopxe runs in netns LAB on the bridge itself (br0 192.0.2.2/24: the autopxe host), with
 * ProxyDHCP on, and gives PXE clients their boot file by proxyDHCP (UDP 67) and the PXE boot server (4011). */

/*   netns SRV: vsrv 192.0.2.1/24; dnsmasq, addresses only
 *   netns LAB: br0 192.0.2.2/24 = {vlab, tap0}; autopxe on :67, :4011, :69, :80; QEMU on tap0 */
static void proxy_lan_up(const char *srv, const char *lab)
{
	lan_up(srv, lab);
	REQUIRE(run_sh("ip -n %s addr add 192.0.2.2/24 dev br0", lab) == 0,
	        "cannot give br0 the autopxe address (see %s/commands.log)", S.dir);
}

/* uefi = 0: SeaBIOS + the NIC's iPXE ROM: iPXE is answered with its menu URL directly (its REQUEST to 4011).
 * uefi = 1: OVMF's own PXE client (no iPXE ROM): the proxy offer names snponly.efi on autopxe's TFTP; that iPXE
 * DHCPs again, gets its menu URL from the proxy, the kernel comes over HTTP.
 * pin: the MAC is pinned in HostDefaults to the other template. */
static void proxy_scenario(const char *id, const char *mac, int uefi, int pin)
{
	scn_begin(id, mac);
	if (geteuid() != 0) {
		scn_skip("needs root (network namespaces, tap, ports 67/4011/69/80)");
		return;
	}
	char srv[64], lab[64], want[4096], dl[MAXPATH + 32], p[MAXPATH + 64], hosts[128];
	snprintf(srv, sizeof srv, "ape2e-%s-srv", E.runid);
	snprintf(lab, sizeof lab, "ape2e-%s-lab", E.runid);
	snprintf(dl, sizeof dl, "%s/dnsmasq.log", S.dir);
	snprintf(p, sizeof p, "%s/ipxe/undionly.kpxe", S.dir);
	link_or_copy("/usr/lib/ipxe/undionly.kpxe", p);
	snprintf(p, sizeof p, "%s/ipxe/snponly.efi", S.dir);
	link_or_copy("/usr/lib/ipxe/snponly.efi", p);
	snprintf(hosts, sizeof hosts, "  %s: debian/bookworm/latest/nfsrw\n", mac);
	config_write(&(struct cfg_opts){.nfs_server = "192.0.2.1", .hosts = pin ? hosts : NULL,
	                                .extra = "ProxyDHCP: true\nProxyDHCPInterfaces: [br0]\n"});
	proxy_lan_up(srv, lab);
	dnsmasq_start(srv, NULL); /* addresses only: no dhcp-boot, no dhcp-match, no pxe-service */
	server_start("0.0.0.0:69", "0.0.0.0:80", lab);
	struct boot_opts o = {.label = "boot", .fw = uefi ? FW_UEFI : FW_BIOS, .netns = lab,
	                      .timeout = uefi ? UEFI_TIMEOUT : BIOS_TIMEOUT, .romfile = uefi ? "" : NULL,
	                      .netdev = "tap,id=n0,ifname=tap0,script=no,downscript=no", .done = DONE_MARKERS,
	                      .abort = {"Kernel panic", "autopxe: could not boot", uefi ? NULL : "No bootable device",
	                                NULL}};
	struct boot_res r;
	boot_run(&o, &r);
	if (!r.done) {
		dump_tail("dnsmasq log", dl, 25);
		dump_tail("server log", S.slog, 25);
	}
	boot_require_done(&o, &r);
	expect_cmdline(want, sizeof want, pin ? "nfsrw" : "overlayfs", "debian", "bookworm", "latest", "192.0.2.1");
	require_cmdline(&r, uefi ? EFI_PREFIX : BIOS_PREFIX, want);
	require_line_proto("menu", r.menu_line, "http");
	require_line_proto("kernel", r.kernel_line, "http");
	/* the real DHCP server gave the address and no boot information */
	REQUIRE(file_contains(dl, "DHCPACK(vsrv)"), "dnsmasq gave no lease (see %s)", dl);
	/* (dnsmasq always names itself as next-server in siaddr; that is not boot information for autopxe) */
	REQUIRE(!file_contains(dl, "filename") && !file_contains(dl, "next server: 192.0.2.2") &&
	            !file_contains(dl, "option: 43 ") && !file_contains(dl, "option: 60 ") &&
	            !file_contains(dl, "option: 66 ") && !file_contains(dl, "option: 67 "),
	        "dnsmasq sent boot information; the test must configure it for addresses only (see %s)", dl);
	char line[160];
	snprintf(line, sizeof line, "to %s (arch %u", S.mac, uefi ? 7u : 0u);
	REQUIRE(file_contains(S.slog, line), "autopxe logged no proxyDHCP answer '%s...'", line);
	snprintf(line, sizeof line, "http://192.0.2.2:80/autopxe-%s", S.hex);
	REQUIRE(file_contains(S.slog, line), "autopxe never offered iPXE its menu %s", line);
	if (uefi) {
		REQUIRE(file_contains(S.slog, ": snponly.efi"), "the proxy never offered OVMF snponly.efi");
		REQUIRE(file_contains(S.slog, "file=\"snponly.efi\""),
		        "the first hop (snponly.efi over autopxe's TFTP) is not in the server log");
	}
	boot_free(&r);
	scn_pass();
}

START_TEST(s10_proxy_bios) { proxy_scenario("s10_proxy_bios", "52:54:00:e2:00:09", 0, 0); }
END_TEST

START_TEST(s10b_proxy_uefi_pxe) { proxy_scenario("s10b_proxy_uefi_pxe", "52:54:00:e2:00:19", 1, 0); }
END_TEST

START_TEST(s10c_proxy_pinned) { proxy_scenario("s10c_proxy_pinned", "52:54:00:e2:00:29", 0, 1); }
END_TEST

/* A plain DHCP client (busybox udhcpc on a veth in the bridge) gets its lease from dnsmasq and nothing from
 * autopxe: autopxe counts it as ignored and never logs an answer for its MAC. */
START_TEST(s10d_proxy_non_pxe)
{
	scn_begin("s10d_proxy_non_pxe", "52:54:00:e2:00:39");
	if (geteuid() != 0) {
		scn_skip("needs root (network namespaces, port 67)");
		return;
	}
	char srv[64], lab[64], dl[MAXPATH + 32], out[MAXPATH + 32], met[MAXPATH + 32];
	snprintf(srv, sizeof srv, "ape2e-%s-srv", E.runid);
	snprintf(lab, sizeof lab, "ape2e-%s-lab", E.runid);
	snprintf(dl, sizeof dl, "%s/dnsmasq.log", S.dir);
	snprintf(out, sizeof out, "%s/udhcpc.out", S.dir);
	snprintf(met, sizeof met, "%s/metrics.txt", S.dir);
	config_write(&(struct cfg_opts){.nfs_server = "192.0.2.1", .extra = "ProxyDHCP: true\n"});
	proxy_lan_up(srv, lab);
	REQUIRE(run_sh("ip -n %s link add vcli address %s type veth peer name vclibr && ip -n %s link set vclibr master "
	               "br0 && ip -n %s link set vclibr up && ip -n %s link set vcli up",
	               lab, S.mac, lab, lab, lab) == 0,
	        "cannot add the client veth (see %s/commands.log)", S.dir);
	dnsmasq_start(srv, NULL); /* addresses only: no dhcp-boot, no dhcp-match, no pxe-service */
	server_start("0.0.0.0:69", "0.0.0.0:80", lab);
	int rc = run_sh("ip netns exec %s busybox udhcpc -f -q -n -i vcli -t 5 -T 2 -s /bin/true > %s 2>&1", lab, out);
	REQUIRE(rc == 0 && file_contains(out, "obtained"), "udhcpc got no lease from dnsmasq (status %d, see %s)", rc,
	        out);
	REQUIRE(file_contains(out, "192.0.2.1"), "udhcpc's lease is not from dnsmasq's range (see %s)", out);
	REQUIRE(run_sh("ip netns exec %s curl -sS --fail http://192.0.2.2/metrics > %s", lab, met) == 0,
	        "cannot read autopxe's /metrics");
	REQUIRE(!file_contains(met, "autopxe_dhcp_ignored_total{reason=\"not_pxe\"} 0\n") &&
	            file_contains(met, "autopxe_dhcp_ignored_total{reason=\"not_pxe\"} "),
	        "autopxe did not count the udhcpc packets as not PXE (see %s)", met);
	REQUIRE(file_contains(met, "autopxe_dhcp_replies_total{type=\"offer\"} 0\n") &&
	            file_contains(met, "autopxe_dhcp_replies_total{type=\"ack\"} 0\n"),
	        "autopxe answered a non-PXE client (see %s)", met);
	char line[64];
	snprintf(line, sizeof line, "to %s", S.mac);
	REQUIRE(!file_contains(S.slog, line), "autopxe logged an answer to the non-PXE client");
	scn_pass();
}
END_TEST

/* ================================================================ end of 10: proxyDHCP */

/* ================================================================ 11: GRUB 2 and PXELINUX clients (issue 15)
 * Same netns LAN as s6 (lan_up), dnsmasq as DHCP only with the loader as the boot file on autopxe's TFTP :69;
 * BootDir filled from Debian's packages the way docs/clients.md says. The loaders fetch their per-MAC
 * config and the kernel + initrd from autopxe over TFTP. */

/* Debian's loader files, made or copied into S.dir/bootdir. GRUB: grub-mknetdir's core.efi (prefix /grub) as
 * grubnetx64.efi plus its modules under grub/x86_64-efi/; PXELINUX: pxelinux.0, ldlinux.c32, menu.c32 and the
 * library menu.c32 needs. */
static void dialect_boot_dir(int grub)
{
	char d[MAXPATH + 64], p[MAXPATH + 128];
	snprintf(d, sizeof d, "%s/bootdir", S.dir);
	mkdir_p(d);
	if (grub) {
		REQUIRE(access("/usr/lib/grub/x86_64-efi/normal.mod", R_OK) == 0,
		        "no /usr/lib/grub/x86_64-efi (package grub-efi-amd64-bin; scripts/deps.sh --test)");
		REQUIRE(run_sh("grub-mknetdir --net-directory=%s --subdir=grub -d /usr/lib/grub/x86_64-efi", d) == 0,
		        "grub-mknetdir failed (package grub-common; see %s/commands.log)", S.dir);
		snprintf(p, sizeof p, "%s/grub/x86_64-efi/core.efi", d);
		char q[MAXPATH + 128];
		snprintf(q, sizeof q, "%s/grubnetx64.efi", d);
		link_or_copy(p, q);
		return;
	}
	static const char *const files[] = {"/usr/lib/PXELINUX/pxelinux.0", "/usr/lib/syslinux/modules/bios/ldlinux.c32",
	                                    "/usr/lib/syslinux/modules/bios/menu.c32",
	                                    "/usr/lib/syslinux/modules/bios/libutil.c32"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		REQUIRE(access(files[i], R_OK) == 0, "no %s (packages pxelinux, syslinux-common; scripts/deps.sh --test)",
		        files[i]);
		snprintf(p, sizeof p, "%s/%s", d, strrchr(files[i], '/') + 1);
		link_or_copy(files[i], p);
	}
}

/* grub = 1: OVMF's own PXE (no iPXE ROM) loads grubnetx64.efi, which asks for grub/grub.cfg-01-<mac>.
 * grub = 0: BIOS; the NIC's PXE ROM loads pxelinux.0, which loads ldlinux.c32 and pxelinux.cfg/01-<mac>.
 * pin: a HostDefaults boot id for this MAC (its kernel word must be a version), NULL = DefaultDistro.
 * The guest's /proc/cmdline must be the expanded template after what the loader itself adds:
 * GRUB puts "BOOT_IMAGE=<kernel path> " in front; PXELINUX puts the same in front and " initrd=<initrd path>"
 * (from its INITRD line) after it. */
static void dialect_scenario(const char *id, const char *mac, int grub, const char *pin_tmpl)
{
	scn_begin(id, mac);
	if (geteuid() != 0) {
		scn_skip("needs root (network namespaces, tap, port 69)");
		return;
	}
	char srv[64], lab[64], want[4096], dl[MAXPATH + 32], extra[MAXPATH + 64], hosts[256], kpath[256],
	    ipath[256], prefix[600], name[128], hyp[18];
	snprintf(srv, sizeof srv, "ape2e-%s-srv", E.runid);
	snprintf(lab, sizeof lab, "ape2e-%s-lab", E.runid);
	snprintf(dl, sizeof dl, "%s/dnsmasq.log", S.dir);
	dialect_boot_dir(grub);
	snprintf(extra, sizeof extra, "BootDir: %s/bootdir\nWatch: false\n", S.dir);
	/* the pin spelled with hyphens and upper case: every MAC spelling works in HostDefaults */
	for (int i = 0; i < 17; i++)
		hyp[i] = S.mac[i] == ':' ? '-' : (char)((S.mac[i] >= 'a' && S.mac[i] <= 'f') ? S.mac[i] - 32 : S.mac[i]);
	hyp[17] = '\0';
	if (pin_tmpl)
		snprintf(hosts, sizeof hosts, "  %s: debian/bookworm/%s/%s\n", hyp, E.kver, pin_tmpl);
	config_write(&(struct cfg_opts){.nfs_server = "192.0.2.1", .hosts = pin_tmpl ? hosts : NULL, .extra = extra});
	lan_up(srv, lab);
	const char *boot[] = {grub ? "--dhcp-boot=grubnetx64.efi,,192.0.2.1" : "--dhcp-boot=pxelinux.0,,192.0.2.1", NULL};
	dnsmasq_start(srv, boot);
	server_start("0.0.0.0:69", "0.0.0.0:80", srv);
	struct boot_opts o = {.label = "boot", .fw = grub ? FW_UEFI : FW_BIOS, .netns = lab,
	                      .timeout = grub ? UEFI_TIMEOUT : BIOS_TIMEOUT, .romfile = grub ? "" : NULL,
	                      .netdev = "tap,id=n0,ifname=tap0,script=no,downscript=no", .done = DONE_MARKERS,
	                      .abort = {"Kernel panic", "error: file", grub ? NULL : "No bootable device", NULL}};
	struct boot_res r;
	boot_run(&o, &r);
	if (!r.done)
		dump_tail("dnsmasq log", dl, 25);
	boot_require_done(&o, &r);
	for (int i = 0; i < 17; i++)
		hyp[i] = S.mac[i] == ':' ? '-' : (char)((S.mac[i] >= 'A' && S.mac[i] <= 'F') ? S.mac[i] + 32 : S.mac[i]);
	snprintf(name, sizeof name, grub ? "file=\"/grub/grub.cfg-01-%s\"" : "file=\"pxelinux.cfg/01-%s\"", hyp);
	if (!file_contains(S.slog, name)) {
		dump_tail("server log", S.slog, 40);
		REQUIRE(0, "the server did not log the per-MAC config transfer (%s)", name);
	}
	expect_cmdline(want, sizeof want, pin_tmpl ? pin_tmpl : "overlayfs", "debian", "bookworm",
	               pin_tmpl ? E.kver : "latest", "192.0.2.1");
	snprintf(kpath, sizeof kpath, "/boot/debian/bookworm/boot/vmlinuz-%s", E.kver);
	snprintf(ipath, sizeof ipath, "/boot/debian/bookworm/boot/initrd.img-%s", E.kver);
	if (grub) {
		snprintf(prefix, sizeof prefix, "BOOT_IMAGE=%s ", kpath);
		require_cmdline(&r, prefix, want);
	} else {
		char full[4600];
		snprintf(full, sizeof full, "%s initrd=%s", want, ipath);
		snprintf(prefix, sizeof prefix, "BOOT_IMAGE=%s ", kpath);
		require_cmdline(&r, prefix, full);
	}
	REQUIRE(strstr(r.kernel_line, " tftp"), "the kernel was expected over TFTP; the server logged: %s",
	        r.kernel_line);
	boot_free(&r);
	scn_pass();
}

START_TEST(s11_grub_uefi) { dialect_scenario("s11_grub_uefi", "52:54:00:e2:00:0b", 1, NULL); }
END_TEST

START_TEST(s11b_pxelinux_bios) { dialect_scenario("s11b_pxelinux_bios", "52:54:00:e2:00:1b", 0, NULL); }
END_TEST

START_TEST(s11c_grub_pinned) { dialect_scenario("s11c_grub_pinned", "52:54:00:e2:00:2b", 1, "nfsrw"); }
END_TEST
/* ================================================================ end of 11 */


/* ---------------------------------------------------------------- runner */

struct scenario {
	const char *id;
	const TTest *fn;
	double timeout; /* Check's own backstop; the scenario's deadlines are far shorter */
	const char *what;
};

static int selected(const char *id)
{
	const char *only = getenv("E2E_ONLY");
	if (!only || !*only)
		return 1;
	char buf[512];
	snprintf(buf, sizeof buf, "%s", only);
	/* a token is an id or part of one, but never stops inside a number: "s1" is not "s10_..." */
	for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
		for (const char *m = strstr(id, tok); m; m = strstr(m + 1, tok)) {
			char after = m[strlen(tok)], before = m > id ? m[-1] : '_';
			if (!(isdigit((unsigned char)after) && isdigit((unsigned char)tok[strlen(tok) - 1])) &&
			    !(isdigit((unsigned char)before) && isdigit((unsigned char)tok[0])))
				return 1;
		}
	return 0;
}

/* After all scenarios: stop anything a killed or crashed test left behind (pid + start time from
 * $E2E_WORK/pids, so a reused PID is never hit) and delete this run's namespaces. */
static void sweep(void)
{
	char pf[MAXPATH];
	snprintf(pf, sizeof pf, "%s/pids", E.work);
	char *b = read_all(pf, NULL);
	for (char *save = NULL, *line = b ? strtok_r(b, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		int pid;
		unsigned long long st;
		char id[64], what[32];
		if (sscanf(line, "%d %llu %63s %31s", &pid, &st, id, what) != 4 || pid <= 1 || !st)
			continue;
		for (int tries = 0; tries < 60; tries++) {
			while (waitpid(-1, NULL, WNOHANG) > 0) /* we are the subreaper of orphaned children */
				;
			if (proc_starttime(pid) != st)
				break;
			if (tries == 0)
				fprintf(stderr, "e2e: %s left %s (pid %d) running: stopping it\n", id, what, pid);
			kill(pid, tries < 30 ? SIGTERM : SIGKILL);
			usleep(100000);
		}
	}
	free(b);
	char prefix[64];
	snprintf(prefix, sizeof prefix, "ape2e-%s-", E.runid);
	DIR *d = opendir("/run/netns");
	for (struct dirent *de; d && (de = readdir(d));) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		char cmd[400];
		snprintf(cmd, sizeof cmd, "ip netns del '%s'", de->d_name);
		fprintf(stderr, "e2e: deleting leftover namespace %s\n", de->d_name);
		if (system(cmd) != 0)
			fprintf(stderr, "e2e: %s failed\n", cmd);
	}
	if (d)
		closedir(d);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

struct rec {
	char status[8], menu[16], kernel[16], marker[16], total[16], kxfer[16], note[600];
	int found;
};

static void read_record(const char *id, struct rec *r)
{
	memset(r, 0, sizeof *r);
	char *b = read_all(E.results, NULL);
	for (char *save = NULL, *line = b ? strtok_r(b, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		char *f[8] = {0};
		int n = 0;
		for (char *p = line; n < 8; n++) {
			f[n] = p;
			char *t = strchr(p, '\t');
			if (!t) {
				n++;
				break;
			}
			*t = '\0';
			p = t + 1;
		}
		if (n < 8 || strcmp(f[0], id) != 0)
			continue;
		/* the last record of a scenario wins */
		snprintf(r->status, sizeof r->status, "%s", f[1]);
		snprintf(r->menu, sizeof r->menu, "%s", f[2]);
		snprintf(r->kernel, sizeof r->kernel, "%s", f[3]);
		snprintf(r->marker, sizeof r->marker, "%s", f[4]);
		snprintf(r->total, sizeof r->total, "%s", f[5]);
		snprintf(r->kxfer, sizeof r->kxfer, "%s", f[6]);
		snprintf(r->note, sizeof r->note, "%s", f[7]);
		r->found = 1;
	}
	free(b);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* orphans of a killed test (the server, QEMU) become our children, so the sweep can reap them */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* Check answers SIGTERM/SIGINT by killing its process group: make that ours, not run.sh's */
	setpgid(0, 0);
	E.autopxe = env_or("E2E_AUTOPXE", "build/autopxe");
	E.kernel = getenv("E2E_KERNEL");
	E.kver = getenv("E2E_KVER");
	E.initrd = getenv("E2E_INITRD");
	E.work = getenv("E2E_WORK");
	E.results = getenv("E2E_RESULTS");
	E.srcdir = env_or("E2E_SRCDIR", ".");
	E.verbose = getenv("E2E_VERBOSE") != NULL;
	static char runid[32];
	snprintf(runid, sizeof runid, "%s", env_or("E2E_RUNID", ""));
	if (!runid[0])
		snprintf(runid, sizeof runid, "%d", (int)getpid());
	E.runid = runid;
	E.scale = atof(env_or("E2E_TIMEOUT_SCALE", "1"));
	if (E.scale < 0.1)
		E.scale = 1;
	if (!E.kernel || !E.kver || !E.initrd || !E.work || !E.results) {
		fprintf(stderr, "check_e2e: run me through tests/e2e/run.sh (E2E_KERNEL, E2E_KVER, E2E_INITRD, E2E_WORK, "
		                "E2E_RESULTS unset)\n");
		return 2;
	}

	const struct scenario SCENARIOS[] = {
    {"s1_bios_tftp", s1_bios_tftp, 300, "BIOS, slirp, menu+kernel over TFTP"},
    {"s2_bios_http", s2_bios_http, 300, "BIOS, slirp, menu+kernel over HTTP"},
    {"s3_hostdefaults", s3_hostdefaults, 300, "HostDefaults pin (MAC upper case, colons)"},
    {"s4_embedded_http", s4_embedded_http, 300, "embedded script via ipxe.lkrn, HTTP"},
    {"s4b_embedded_fallback", s4b_embedded_tftp_fallback, 300, "embedded script, HTTP closed -> TFTP"},
    {"s5_uefi_http", s5_uefi_http, 420, "UEFI OVMF + EFI iPXE ROM, HTTP"},
    {"s6_netns_lan", s6_netns_lan, 300, "netns LAN: dnsmasq DHCP, TFTP :69 + HTTP :80"},
    {"s6b_netns_uefi_pxe", s6b_netns_uefi_pxe, 420, "netns LAN, UEFI PXE: opt 93 -> snponly.efi -> menu"},
    {"s7_failure_path", s7_failure_path, 300, "default kernel missing: retry, then exit"},
    {"s8_reload_inotify", s8_reload_inotify, 300, "HostDefaults changed, inotify reload"},
    {"s8b_reload_sighup", s8b_reload_sighup, 300, "HostDefaults changed, SIGHUP reload"},
    {"s9_podman", s9_podman, 420, "the image under podman: boot, in-place config edit, stop"},
    {"s9b_docker", s9b_docker, 420, "the image under Docker (dockerd): the same"},
    /* 10: proxyDHCP (issue 14): dnsmasq gives addresses only */
    {"s10_proxy_bios", s10_proxy_bios, 300, "proxyDHCP: BIOS iPXE ROM, dnsmasq addresses only"},
    {"s10b_proxy_uefi_pxe", s10b_proxy_uefi_pxe, 420, "proxyDHCP: OVMF PXE -> snponly.efi -> menu"},
    {"s10c_proxy_pinned", s10c_proxy_pinned, 300, "proxyDHCP: HostDefaults pin"},
    {"s10d_proxy_non_pxe", s10d_proxy_non_pxe, 120, "proxyDHCP: udhcpc gets nothing from autopxe"},
    /* 11: GRUB 2 and PXELINUX clients (issue 15) */
    {"s11_grub_uefi", s11_grub_uefi, 420, "netns LAN, OVMF PXE -> grubnetx64.efi -> grub.cfg-01-<mac>"},
    {"s11b_pxelinux_bios", s11b_pxelinux_bios, 300, "netns LAN, BIOS PXE -> pxelinux.0 -> pxelinux.cfg/01-<mac>"},
    {"s11c_grub_pinned", s11c_grub_pinned, 420, "netns LAN, GRUB boots the MAC's HostDefaults pin"},
	};
	const size_t N_SCENARIOS = sizeof SCENARIOS / sizeof SCENARIOS[0];
	Suite *s = suite_create("e2e");
	for (size_t i = 0; i < N_SCENARIOS; i++) {
		if (!selected(SCENARIOS[i].id))
			continue;
		TCase *tc = tcase_create(SCENARIOS[i].id);
		tcase_set_timeout(tc, SCENARIOS[i].timeout * E.scale);
		tcase_add_test(tc, SCENARIOS[i].fn);
		suite_add_tcase(s, tc);
	}
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK);
	double t0 = mono();
	srunner_run_all(sr, CK_NORMAL);
	double elapsed = mono() - t0;
	sweep();

	/* Check's verdict per test case, joined with the scenario's own record */
	int ran = 0, passed = 0, failed = 0, skipped = 0;
	printf("\n%-22s %-6s %7s %7s %7s %7s %9s  %s\n", "scenario", "result", "menu", "kernel", "marker", "total",
	       "kxfer(ms)", "what / note");
	TestResult **res = srunner_results(sr);
	int nres = srunner_ntests_run(sr);
	for (size_t i = 0; i < N_SCENARIOS; i++) {
		if (!selected(SCENARIOS[i].id))
			continue;
		int ck_ok = -1;
		for (int j = 0; j < nres; j++)
			if (strcmp(tr_tcname(res[j]), SCENARIOS[i].id) == 0)
				ck_ok = tr_rtype(res[j]) == CK_PASS;
		struct rec r;
		read_record(SCENARIOS[i].id, &r);
		const char *st;
		if (ck_ok == 1 && r.found && strcmp(r.status, "SKIP") == 0) {
			st = "SKIP";
			skipped++;
		} else if (ck_ok == 1 && r.found && strcmp(r.status, "PASS") == 0) {
			st = "PASS";
			ran++;
			passed++;
		} else {
			st = "FAIL";
			ran++;
			failed++;
			if (!r.found)
				snprintf(r.note, sizeof r.note, "no result recorded (crashed or killed by Check's timeout)");
		}
		printf("%-22s %-6s %7s %7s %7s %7s %9s  %s%s%s\n", SCENARIOS[i].id, st, r.found ? r.menu : "-",
		       r.found ? r.kernel : "-", r.found ? r.marker : "-", r.found ? r.total : "-", r.found ? r.kxfer : "-",
		       SCENARIOS[i].what, strcmp(st, "PASS") ? ": " : "", strcmp(st, "PASS") ? r.note : "");
	}
	printf("(seconds since QEMU start: menu = server logged the menu transfer, kernel = server logged the kernel "
	       "transfer,\n marker = initramfs marker on the console, total = scenario's last console marker; "
	       "kxfer = the server's\n own duration of the 8 MB kernel transfer)\n");
	struct rec a, b;
	read_record("s1_bios_tftp", &a);
	read_record("s2_bios_http", &b);
	if (a.found && b.found && !strcmp(a.status, "PASS") && !strcmp(b.status, "PASS") && atof(b.marker) > 0)
	{
		printf("TFTP vs HTTP boot time (QEMU start -> initramfs marker): %s s / %s s = %.2fx\n", a.marker, b.marker,
		       atof(a.marker) / atof(b.marker));
		if (atof(a.kxfer) > 0 && atof(b.kxfer) > 0)
			printf("TFTP vs HTTP kernel transfer (server-measured): %s ms / %s ms = %.2fx\n", a.kxfer, b.kxfer,
			       atof(a.kxfer) / atof(b.kxfer));
	}
	printf("e2e: %d scenarios ran, %d passed, %d failed, %d skipped, %.0f s\n", ran, passed, failed, skipped, elapsed);
	printf("%d passed, %d failed\n", passed, failed);
	free(res);
	srunner_free(sr);
	return failed ? 1 : 0;
}
