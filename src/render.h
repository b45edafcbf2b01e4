/* render.h - the menu renderer (iPXE, GRUB 2, PXELINUX dialects): boot ids, ${var} cmdline expansion, templates. */
#ifndef AUTOPXE_RENDER_H
#define AUTOPXE_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "diag.h"
#include "scan.h"
#include "util.h"

struct menu_templates; /* compiled menu templates (opaque) */

/* Load and compile the menu templates of every dialect from dir (main.ipxe.tmpl, main.grub.tmpl, ...; see
 * templates/README.md). dir == NULL: use the copies compiled into the binary.
 * Errors (with file:line:col) go to d; returns NULL on error. Free with menu_templates_free(). */
struct menu_templates *menu_templates_load(const char *dir, struct diag *d);
void menu_templates_free(struct menu_templates *t);

/* The default templates compiled into the binary (src/templates_builtin.c, byte-identical to the
 * files in templates/; a unit test keeps them in sync). */
struct menu_template_src {
	const char *file; /* "main.ipxe.tmpl", ... */
	const char *text;
};
extern const struct menu_template_src menu_templates_builtin[];
extern const size_t menu_templates_builtin_n;

/* A resolved boot id distro/release/kernel/template. Borrowed pointers into cfg/cat. */
struct boot_target {
	const struct scan_distro *distro;
	const struct scan_release *release;
	const struct scan_kernel *kernel;
	const struct cfg_kv *tmpl;
	const char *kernel_word; /* the kernel part as written ("latest", "default" or a version) */
};
/* Resolve "distro/release/kernel/template". 0, or -ENOENT with a reason in why. */
int boot_id_resolve(const struct config *cfg, const struct catalog *cat, const char *id, struct boot_target *out,
                    char *why, size_t whylen);

/* Warn (into d, with the config's file:line:col) about DefaultDistro/HostDefaults targets
 * that do not resolve in cat. */
void render_check_targets(const struct config *cfg, const struct catalog *cat, struct diag *d);

/* Expand ${name} in tmpl: first from `builtins` (NULL-terminated name/value pairs), then cfg Env,
 * then the process environment; unknown names are copied through untouched for iPXE.
 * Returns 0 or -ENOMEM. Pure apart from getenv(). */
int expand_vars(const char *tmpl, const char *const *builtins, const struct config *cfg, sbuf *out);

/* True (1) when s is safe to place in an iPXE script line: no control bytes, no newline. */
int ipxe_safe_value(const char *s);

enum render_proto { RENDER_TFTP, RENDER_HTTP };

struct render_client {
	uint8_t mac[6];
	const char *ip;        /* client IP as text, "" if unknown */
	enum render_proto via; /* protocol the menu was fetched over */
	const char *file_base; /* NULL: kernel/initrd paths relative to the script; else an absolute
	                          prefix ending in '/', e.g. "http://192.0.2.1:80/" (iPXE menus only: GRUB and
	                          PXELINUX load kernels from the server and protocol their config came from) */
	int menu_c32;          /* PXELINUX: menu.c32 is in BootDir (then `UI menu.c32`, else `PROMPT 1`) */
};

/* The menu dialects and what a request name asks for (see menu_name_parse). */
enum menu_kind {
	MENU_IPXE = 1, /* autopxe-<mac>[/<distro>] */
	MENU_GRUB,     /* grub/grub.cfg-01-<mac>, grub/grub.cfg-<hex IP> (generic) */
	MENU_GRUB_LOADER, /* grub/grub.cfg: configfile on $net_default_mac, then the generic menu */
	MENU_PXELINUX, /* pxelinux.cfg/01-<mac>, pxelinux.cfg/<hex IP> and pxelinux.cfg/default (generic) */
};
enum menu_format { MENU_FORMAT_IPXE, MENU_FORMAT_GRUB, MENU_FORMAT_PXELINUX };

struct menu_request {
	enum menu_kind kind;
	int has_mac;       /* 0: a generic config (no MAC in the name): DefaultDistro is the default */
	uint8_t mac[6];    /* when has_mac */
	char submenu[128]; /* iPXE only: "" = the main menu */
};

/* Recognise any menu request name (a leading '/' or '\' is tolerated; GRUB names also under boot/grub/):
 *   autopxe-<mac>[/<distro>], autopxe/<mac>[/<distro>]                  iPXE
 *   grub/grub.cfg-01-<mac>, grub/grub.cfg-<1..8 hex digits>, grub/grub.cfg   GRUB 2
 *   pxelinux.cfg/01-<mac>, pxelinux.cfg/<1..8 hex digits>, pxelinux.cfg/default   PXELINUX
 * Any MAC spelling of mac_parse(). 1 (filled), 0 (not a menu name: a file), -EINVAL (a menu name with a bad
 * MAC or submenu). Pure. */
int menu_name_parse(const char *name, size_t len, struct menu_request *rq);

/* Render what rq names for client cl (cl->mac is ignored: rq's MAC counts). Deterministic.
 * 0, -ENOENT (unknown submenu), -ENOMEM, -E2BIG. Appends to out (left as it was on error). */
int render_request(const struct config *cfg, const struct catalog *cat, const struct menu_templates *t,
                   const struct render_client *cl, const struct menu_request *rq, sbuf *out);

/* The per-MAC menu of one dialect (iPXE: the main menu), as `autopxe render --format` prints it. */
int render_format(const struct config *cfg, const struct catalog *cat, const struct menu_templates *t,
                  const struct render_client *cl, enum menu_format f, sbuf *out);

/* True (1) when s can be one GRUB kernel argument inside single quotes and one PXELINUX APPEND word exactly:
 * printable ASCII without ', " and \. */
int plain_value(const char *s);

/* The expanded command line of a resolved boot target for client cl, exactly as its menu entry has it
 * (every ${...} the renderer provides, ISO and image variables included). Appends to out; 0, -EINVAL,
 * -ENOMEM. Used by the JSON API. */
int render_boot_cmdline(const struct config *cfg, const struct catalog *cat, const struct boot_target *bt,
                        const struct render_client *cl, sbuf *out);

/* Recognise a menu request name: "autopxe-<mac>", "autopxe/<mac>", each optionally followed by
 * "/<distro>" (a submenu). A leading '/' or '\' is tolerated. Any MAC spelling of mac_parse().
 * Returns 1 (menu request; mac and submenu filled, submenu "" for the main menu), 0 (not a menu
 * name), -EINVAL (menu prefix but bad MAC or submenu). Pure. */
int menu_request_parse(const char *name, size_t len, uint8_t mac[6], char *submenu, size_t sublen);

/* Pins beside the snapshot (src/store.c): when a hook is set, render_menu calls it once per menu with the client
 * (so the store also learns which MAC is behind the client's IP before the menu is even sent) and takes the
 * client's pinned boot id from it. Precedence of a menu's default: API pin > HostDefaults > DefaultDistro. A pin
 * that does not resolve in the catalog is shown as an `echo` warning in the menu and ignored. The hook copies the
 * id into boot (len bytes) and returns 1, or returns 0 (no pin); it must be thread-safe. NULL removes it. */
struct render_client;
typedef int (*render_pin_fn)(const struct render_client *cl, char *boot, size_t len);
void render_set_pin_hook(render_pin_fn fn);

/* Render the script for a client: submenu NULL/"" = main menu, else one distro's submenu.
 * Deterministic: identical inputs give identical bytes. 0, -ENOENT (unknown submenu), -ENOMEM. */
int render_menu(const struct config *cfg, const struct catalog *cat, const struct menu_templates *t,
                const struct render_client *cl, const char *submenu, sbuf *out);

#endif
