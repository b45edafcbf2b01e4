/* demo.h - the built-in demo: a generated rootfs tree and config so `autopxe serve` works with no setup. */
#ifndef AUTOPXE_DEMO_H
#define AUTOPXE_DEMO_H

#include <stddef.h>

/* Create (or refresh) the demo tree and config under dir (created if missing):
 *   dir/rootfs/{debian/bookworm,debian/trixie,ubuntu/noble}/boot/... small placeholder kernels,
 *   dir/config.yaml  (the example config pointed at dir/rootfs, TFTP 127.0.0.1:6969, HTTP 127.0.0.1:8080).
 * Writes the config path into cfg_path. 0 or -errno. */
int demo_prepare(const char *dir, char *cfg_path, size_t len);
/* The default demo directory: $AUTOPXE_DEMO_DIR, else /tmp/autopxe-demo-<uid>. */
void demo_default_dir(char *out, size_t len);

#endif
