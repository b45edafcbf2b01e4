/* fuzz_dialects.c - libFuzzer target: one catalog + config built from the input, rendered in all three dialects. */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "render.h"
#include "scan.h"
#include "util.h"

/* The input is up to 7 fields split at 0xff bytes: distro, release, kernel id, kernel path, CmdlineTemplate,
 * Env value, HostDefaults boot id (the config loader's checks are bypassed on purpose: the renderer must stay
 * safe on its own). Each field is cut at 200 bytes and NUL-terminated. */
#define NF 7
static void field(const uint8_t **p, const uint8_t *end, char *out)
{
	const uint8_t *cut = memchr(*p, 0xff, (size_t)(end - *p));
	size_t n = cut ? (size_t)(cut - *p) : (size_t)(end - *p);
	size_t m = n > 200 ? 200 : n;
	memcpy(out, *p, m);
	out[m] = '\0';
	*p += n + (cut ? 1 : 0);
}

/* Per line: no control byte but tab, and single quotes paired (every GRUB argument stays one quoted word). */
static void check_out(const sbuf *b, int grub)
{
	int q = 0;
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];
		if (c == '\n') {
			if (grub && q % 2) {
				if (getenv("FUZZ_DUMP"))
					fwrite(b->data, 1, b->len, stderr);
				__builtin_trap();
			}
			q = 0;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			__builtin_trap();
		} else if (c == '\'') {
			q++;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char f[NF][201];
	const uint8_t *p = data, *end = data + size;
	for (int i = 0; i < NF; i++)
		field(&p, end, f[i]);
	char path[512];
	struct scan_kernel k = {.id = f[2], .kernel_path = f[3][0] ? f[3] : f[2], .initrd_path = f[3]};
	snprintf(path, sizeof path, "%s/%s", f[0], f[1]);
	struct scan_release r = {.name = f[1], .path = path, .kernels = &k, .n_kernels = 1, .default_kernel = &k};
	struct scan_distro dist = {.name = f[0], .releases = &r, .n_releases = 1};
	struct catalog cat = {.root = "/pxe/rootfs", .distros = &dist, .n_distros = 1};
	struct cfg_kv tmpl[2] = {{.key = "t", .value = f[4]}, {.key = "plain", .value = "root=/dev/nfs ${mac} ${ip}"}};
	struct cfg_kv env = {.key = "e", .value = f[5]};
	char id[900];
	snprintf(id, sizeof id, "%s/%s/latest/t", f[0], f[1]);
	struct cfg_host host = {.mac = {0x52, 0x54, 0, 0x12, 0x34, 0x56}, .boot_id = f[6][0] ? f[6] : id};
	struct config cfg = {.path = "fuzz.yaml", .version = 1, .default_distro = id, .rootfs_path = "/pxe/rootfs",
	                     .env = &env, .n_env = 1, .templates = tmpl, .n_templates = 2, .hosts = &host, .n_hosts = 1,
	                     .menu_timeout_ms = (unsigned)size * 37, .menu_title = f[5], .boot_retries = 2};
	static struct menu_templates *t;
	if (!t) {
		struct diag d;
		diag_init(&d);
		t = menu_templates_load(NULL, &d);
		diag_free(&d);
		if (!t)
			__builtin_trap();
	}
	struct render_client cl = {.mac = {0x52, 0x54, 0, 0x12, 0x34, 0x56}, .ip = f[5], .via = RENDER_TFTP,
	                           .menu_c32 = (int)(size & 1)};
	static const char *const names[] = {"autopxe-525400123456", "grub/grub.cfg-01-52-54-00-12-34-56", "grub/grub.cfg",
	                                    "grub/grub.cfg-C0", "pxelinux.cfg/01-52-54-00-12-34-56", "pxelinux.cfg/default"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct menu_request rq;
		if (menu_name_parse(names[i], strlen(names[i]), &rq) != 1)
			__builtin_trap();
		sbuf out = SBUF_INIT;
		int rc = render_request(&cfg, &cat, t, &cl, &rq, &out);
		if (rc != 0 && rc != -E2BIG)
			__builtin_trap();
		/* byte-identical twice */
		sbuf again = SBUF_INIT;
		if (render_request(&cfg, &cat, t, &cl, &rq, &again) != rc || out.len != again.len ||
		    (out.len && memcmp(out.data, again.data, out.len) != 0))
			__builtin_trap();
		if (!rc && rq.kind != MENU_IPXE)
			check_out(&out, rq.kind != MENU_PXELINUX);
		sbuf_free(&out);
		sbuf_free(&again);
	}
	/* the request-name parser on the raw input */
	struct menu_request rq;
	(void)menu_name_parse((const char *)data, size, &rq);
	return 0;
}
