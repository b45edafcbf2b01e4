/* watch.c - inotify-based change detection for config, templates, ISOPath and RootfsPath/<distro>/<release>/boot. */
#include "watch.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"

#define DIR_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB)

/* The config file's directory is watched for the file alone (editors replace it by rename), so unrelated
 * files there (logs, QEMU images) must not cause reloads. One watcher per process: module state. */
static int cfg_wd = -1;
static int cfg_dir_shared; /* the config dir is also a served dir: every event there counts */
/* The file itself as well: a config bind-mounted into a container as a single file (docker run -v
 * config.yaml:/config.yaml) is written in place from the host, and those writes reach watches on its
 * inode only, never one on the container's directory. */
#define FILE_EVENTS (IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)
static char cfg_name[NAME_MAX + 1];

static int add(int fd, const char *path)
{
	int wd = inotify_add_watch(fd, path, DIR_EVENTS | IN_ONLYDIR);
	if (wd < 0 && errno != ENOENT && errno != ENOTDIR)
		log_debug("inotify: cannot watch %s: %s", path, strerror(errno));
	if (wd >= 0 && wd == cfg_wd)
		cfg_dir_shared = 1;
	return wd;
}

int watch_update(int fd, const struct snapshot *s)
{
	char p[PATH_MAX];
	const struct config *c = s->cfg;
	/* The config file's directory (editors replace files by rename). */
	if (c->path && c->path[0] != '<') {
		snprintf(p, sizeof p, "%s", c->path);
		char *slash = strrchr(p, '/');
		snprintf(cfg_name, sizeof cfg_name, "%s", slash ? slash + 1 : c->path);
		if (slash)
			*(slash == p ? slash + 1 : slash) = '\0';
		else
			snprintf(p, sizeof p, ".");
		cfg_wd = -1;
		cfg_dir_shared = 0;
		cfg_wd = add(fd, p);
		if (inotify_add_watch(fd, c->path, FILE_EVENTS) < 0 && errno != ENOENT)
			log_debug("inotify: cannot watch %s: %s", c->path, strerror(errno));
	}
	if (c->templates_dir)
		add(fd, c->templates_dir);
	const struct catalog *cat = s->cat;
	add(fd, cat->root);
	/* ISOPath (may lie outside RootfsPath): an image dropped in or replaced there is a new release */
	if (cat->iso_dir)
		add(fd, cat->iso_dir);
	else if (c->iso_dir)
		add(fd, c->iso_dir);
	/* Watch each distro dir and each release dir (new releases, default symlinks) and its boot/. */
	for (size_t i = 0; i < cat->n_distros; i++) {
		snprintf(p, sizeof p, "%s/%s", cat->root, cat->distros[i].name);
		add(fd, p);
		for (size_t j = 0; j < cat->distros[i].n_releases; j++) {
			const struct scan_release *r = &cat->distros[i].releases[j];
			if (r->iso) { /* <distro>/<release>/x.iso: its directory (ISOPath is watched above) */
				const char *slash = strrchr(r->path, '/');
				if (slash && strchr(r->path, '/') != slash) {
					snprintf(p, sizeof p, "%s/%.*s", cat->root, (int)(slash - r->path), r->path);
					add(fd, p);
				}
				continue;
			}
			/* a release dir (new kernels, default symlinks, images) and its boot/ */
			snprintf(p, sizeof p, "%s/%s", cat->root, r->path);
			add(fd, p);
			snprintf(p, sizeof p, "%s/%s/boot", cat->root, r->path);
			add(fd, p);
		}
	}
	/* Directories the scanner skipped may become valid (a release that gets its boot/ later). */
	for (size_t i = 0; i < cat->n_skipped; i++) {
		snprintf(p, sizeof p, "%s/%s", cat->root, cat->skipped[i].path);
		add(fd, p);
	}
	return 0;
}

int watch_open(const struct snapshot *s)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0) {
		log_warn("inotify unavailable (%s): reload with SIGHUP or POST /api/v1/reload", strerror(errno));
		return -1;
	}
	watch_update(fd, s);
	return fd;
}

int watch_drain(int fd)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	int relevant = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0)
			return errno == EAGAIN ? relevant : -1;
		if (n == 0)
			return relevant;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof *ev + ev->len;
			/* a watch that went away with its file or directory: the change itself was reported */
			if (ev->mask & IN_IGNORED)
				continue;
			if (ev->mask & IN_Q_OVERFLOW) {
				relevant++;
				continue;
			}
			/* A Kubernetes ConfigMap or Secret volume changes by renaming a new "..data" symlink into place
			 * (config.yaml -> ..data/config.yaml never changes itself): that is a config change. */
			if (ev->wd == cfg_wd && ev->len && strcmp(ev->name, "..data") == 0 && (ev->mask & IN_MOVED_TO)) {
				relevant++;
				continue;
			}
			/* Ignore editor swap files and dotfiles (vim's .swp, emacs' .#, our own temp files). */
			if (ev->len && (ev->name[0] == '.' || ev->name[strlen(ev->name) - 1] == '~'))
				continue;
			if (ev->wd == cfg_wd && !cfg_dir_shared && ev->len && strcmp(ev->name, cfg_name) != 0)
				continue;
			relevant++;
		}
	}
}
