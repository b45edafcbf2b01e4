/* demo.c - writes the built-in demo rootfs tree and its config (used when no config file exists). */
#include "demo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static const char demo_config[] =
    "# autopxe demo config (generated): the seed example, pointed at a generated tree.\n"
    "version: 1\n"
    "DefaultDistro: debian/bookworm/latest/overlayfs\n"
    "RootfsPath: %s/rootfs\n"
    "Env:\n"
    "  nfs-server: 192.0.2.11\n"
    "CmdlineTemplates:\n"
    "  overlayfs: root=/dev/nfs nfsroot=${nfs-server}:${rootfs-path} ip=dhcp rootovl\n"
    "  nfsrw: root=/dev/nfs nfsroot=${nfs-server}:${rootfs-path} ip=dhcp rw\n"
    "HostDefaults:\n"
    "  bc:24:11:b0:1a:de: ubuntu/noble/latest/nfsrw\n"
    "TFTPListen: 127.0.0.1:6969\n"
    "HTTPListen: 127.0.0.1:8080\n"
    "IPXEDir: %s/ipxe\n"
    "StateDir: %s/state\n";

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -errno;
}

static int make_release(const char *root, const char *distro, const char *rel, const char *pretty,
                        const char *const *versions)
{
	char p[1200], t[256];
	int rc;
	snprintf(p, sizeof p, "%s/%s/%s/boot", root, distro, rel);
	if ((rc = mkdir_p(p, 0755)))
		return rc;
	snprintf(p, sizeof p, "%s/%s/%s/etc", root, distro, rel);
	if ((rc = mkdir_p(p, 0755)))
		return rc;
	snprintf(p, sizeof p, "%s/%s/%s/etc/os-release", root, distro, rel);
	snprintf(t, sizeof t, "PRETTY_NAME=\"%s\"\nID=%s\nVERSION_CODENAME=%s\n", pretty, distro, rel);
	if ((rc = write_file(p, t)))
		return rc;
	for (size_t i = 0; versions[i]; i++) {
		snprintf(p, sizeof p, "%s/%s/%s/boot/vmlinuz-%s", root, distro, rel, versions[i]);
		snprintf(t, sizeof t, "demo kernel %s %s %s (not bootable)\n", distro, rel, versions[i]);
		if ((rc = write_file(p, t)))
			return rc;
		snprintf(p, sizeof p, "%s/%s/%s/boot/initrd.img-%s", root, distro, rel, versions[i]);
		snprintf(t, sizeof t, "demo initrd %s %s %s (not bootable)\n", distro, rel, versions[i]);
		if ((rc = write_file(p, t)))
			return rc;
	}
	return 0;
}

void demo_default_dir(char *out, size_t len)
{
	const char *e = getenv("AUTOPXE_DEMO_DIR");
	if (e && *e)
		snprintf(out, len, "%s", e);
	else
		snprintf(out, len, "/tmp/autopxe-demo-%u", (unsigned)getuid());
}

int demo_prepare(const char *dir, char *cfg_path, size_t len)
{
	char root[1100], p[1200];
	int rc;
	snprintf(root, sizeof root, "%s/rootfs", dir);
	if ((rc = mkdir_p(root, 0755)))
		return rc;
	snprintf(p, sizeof p, "%s/ipxe", dir);
	if ((rc = mkdir_p(p, 0755)))
		return rc;
	static const char *const bookworm[] = {"6.1.0-21-amd64", "6.1.0-9-amd64", NULL};
	static const char *const trixie[] = {"6.12.9-amd64", NULL};
	static const char *const noble[] = {"6.8.0-31-generic", NULL};
	if ((rc = make_release(root, "debian", "bookworm", "Debian GNU/Linux 12 (bookworm)", bookworm)) ||
	    (rc = make_release(root, "debian", "trixie", "Debian GNU/Linux 13 (trixie)", trixie)) ||
	    (rc = make_release(root, "ubuntu", "noble", "Ubuntu 24.04 LTS", noble)))
		return rc;
	char text[2048];
	snprintf(text, sizeof text, demo_config, dir, dir, dir);
	snprintf(cfg_path, len, "%s/config.yaml", dir);
	return write_file(cfg_path, text);
}
