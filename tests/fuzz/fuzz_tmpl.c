/* fuzz_tmpl.c - libFuzzer target: template compilation (user-supplied menu templates) and cmdline expansion. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "diag.h"
#include "render.h"
#include "tmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag d;
	diag_init(&d);
	struct tmpl *t = tmpl_compile((const char *)data, size, "fuzz.tmpl", &d);
	if (!t && d.n_errors == 0)
		__builtin_trap();
	tmpl_free(t);
	diag_free(&d);

	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	struct config *c = config_new_default();
	const char *const builtins[] = {"distro", "debian", "release", "bookworm", NULL};
	sbuf out = SBUF_INIT;
	expand_vars(s, builtins, c, &out);
	sbuf_free(&out);
	config_free(c);
	free(s);
	return 0;
}
