/* scan_bench.c - scan time of large trees (scan_rootfs_opts) and render time per request at that size.
 * Usage: scan_bench DIR DISTROS RELEASES_PER_DISTRO [ITERS]  (builds DIR/rootfs once, reuses it after). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "render.h"
#include "scan.h"
#include "util.h"

static void touch(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	if (write(fd, text, strlen(text)) < 0)
		perror(path);
	close(fd);
}

static void release(const char *root, const char *distro, int r)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/%s/rel%05d", root, distro, r);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/%s/rel%05d/boot", root, distro, r);
	mkdir(p, 0755);
	for (int k = 20; k <= 21; k++) {
		snprintf(p, sizeof p, "%s/%s/rel%05d/boot/vmlinuz-6.1.0-%d-amd64", root, distro, r, k);
		touch(p, "k");
		snprintf(p, sizeof p, "%s/%s/rel%05d/boot/initrd.img-6.1.0-%d-amd64", root, distro, r, k);
		touch(p, "i");
	}
}

/* DISTROS x RELEASES releases (boot/vmlinuz-6.1.0-{20,21}-amd64 + initrds), plus distro "small" with 5
 * releases: its submenu is the same bytes whatever the tree size. */
static void build_tree(const char *root, int nd, int nr)
{
	char p[4096], name[32];
	mkdir(root, 0755);
	for (int d = 0; d < nd; d++) {
		snprintf(name, sizeof name, "distro%03d", d);
		snprintf(p, sizeof p, "%s/%s", root, name);
		mkdir(p, 0755);
		for (int r = 0; r < nr; r++)
			release(root, name, r);
	}
	snprintf(p, sizeof p, "%s/small", root);
	mkdir(p, 0755);
	for (int r = 0; r < 5; r++)
		release(root, "small", r);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s DIR DISTROS RELEASES_PER_DISTRO [ITERS]\n", argv[0]);
		return 2;
	}
	const char *dir = argv[1];
	int nd = atoi(argv[2]), nr = atoi(argv[3]), iters = argc > 4 ? atoi(argv[4]) : 2000;
	char root[2048], cache[2048], stamp[2100];
	snprintf(root, sizeof root, "%s/rootfs", dir);
	snprintf(cache, sizeof cache, "%s/cache", dir);
	snprintf(stamp, sizeof stamp, "%s/.built-%d-%d", dir, nd, nr);
	mkdir(dir, 0755);
	if (access(stamp, F_OK) != 0) {
		uint64_t t0 = now_us();
		build_tree(root, nd, nr);
		touch(stamp, "");
		fprintf(stderr, "built %d releases in %.1f s\n", nd * nr, (double)(now_us() - t0) / 1e6);
	}
	/* scan: the first run may be cold (dentry cache), then 5 warm runs; report each */
	struct scan_options o = {.cache_dir = cache};
	struct catalog *cat = NULL;
	char err[512];
	uint64_t runs[6];
	for (int i = 0; i < 6; i++) {
		catalog_free(cat);
		uint64_t t0 = now_us();
		if (scan_rootfs_opts(root, &o, &cat, err, sizeof err)) {
			fprintf(stderr, "scan: %s\n", err);
			return 1;
		}
		runs[i] = now_us() - t0;
	}
	qsort(runs + 1, 5, sizeof *runs, cmp_u64);
	printf("scan %zu releases (%zu kernels), ISO + image pass included: first %.1f ms, warm median %.1f ms "
	       "(min %.1f, max %.1f)\n",
	       cat->n_releases, cat->n_kernels, (double)runs[0] / 1000, (double)runs[3] / 1000, (double)runs[1] / 1000,
	       (double)runs[5] / 1000);
	/* the same without the extras pass: what the ISO/image walk costs */
	struct scan_options bare = {.no_iso = 1, .no_images = 1};
	for (int i = 0; i < 5; i++) {
		struct catalog *c2 = NULL;
		uint64_t t0 = now_us();
		if (scan_rootfs_opts(root, &bare, &c2, err, sizeof err))
			return 1;
		runs[i] = now_us() - t0;
		catalog_free(c2);
	}
	qsort(runs, 5, sizeof *runs, cmp_u64);
	printf("scan without the ISO/image pass: warm median %.1f ms\n", (double)runs[2] / 1000);

	/* render: main menu, a distro submenu (nr releases x 4 entries), a host default deep in the tree */
	char yaml[4096];
	snprintf(yaml, sizeof yaml,
	         "version: 1\nRootfsPath: %s\nDefaultDistro: distro%03d/rel%05d/latest/nfs\nCmdlineTemplates:\n"
	         "  nfs: root=/dev/nfs nfsroot=192.0.2.1:${rootfs-path} ip=dhcp\n  rw: root=/dev/nfs rw\n"
	         "Watch: false\n",
	         root, nd - 1, nr - 1);
	struct config *cfg = NULL;
	struct diag d;
	diag_init(&d);
	if (config_load_buffer(yaml, strlen(yaml), "bench.yaml", &cfg, &d)) {
		fprintf(stderr, "config failed\n");
		return 1;
	}
	struct menu_templates *t = menu_templates_load(NULL, &d);
	struct render_client cl = {.mac = {0x52, 0x54, 0, 0, 0, 1}, .ip = "192.0.2.50", .via = RENDER_HTTP};
	char big[32];
	snprintf(big, sizeof big, "distro%03d", nd / 2);
	static const char *const what[] = {"main menu", "small submenu", "big submenu"};
	const char *subs[] = {NULL, "small", big};
	const int shown[] = {0, 5, nr};
	for (int w = 0; w < 3; w++) {
		sbuf out = SBUF_INIT;
		uint64_t t0 = now_us();
		size_t bytes = 0;
		for (int i = 0; i < iters; i++) {
			sbuf_reset(&out);
			if (render_menu(cfg, cat, t, &cl, subs[w], &out)) {
				fprintf(stderr, "render failed\n");
				return 1;
			}
			bytes = out.len;
		}
		double us = (double)(now_us() - t0) / iters;
		printf("render %-14s with %5zu releases in the tree: %7.1f us per request (%zu bytes, %d releases shown)\n",
		       what[w], cat->n_releases, us, bytes, shown[w]);
		sbuf_free(&out);
	}
	menu_templates_free(t);
	config_free(cfg);
	diag_free(&d);
	catalog_free(cat);
	return 0;
}
