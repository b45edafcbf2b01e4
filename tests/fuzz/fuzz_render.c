/* fuzz_render.c - libFuzzer target: template rendering (user templates) over a fixed data tree, partials included. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "diag.h"
#include "tmpl.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The input is two templates split at the first 0xff byte: the main one and a partial "p" (which may
	 * include itself or the main one as "m": the partial depth limit must stop the recursion). */
	const uint8_t *cut = memchr(data, 0xff, size);
	size_t l1 = cut ? (size_t)(cut - data) : size;
	const char *s2 = cut ? (const char *)cut + 1 : "";
	size_t l2 = cut ? size - l1 - 1 : 0;
	struct diag d;
	diag_init(&d);
	struct tmpl *m = tmpl_compile((const char *)data, l1, "m", &d);
	struct tmpl *p = tmpl_compile(s2, l2, "p", &d);
	struct tmpl_data *td = tmpl_data_new();
	struct tmpl_val *root = tmpl_data_root(td);
	tmpl_set_str(td, root, "mac", "52:54:00:12:34:56");
	tmpl_set_str(td, root, "title", "{{evil}} ${x} \n#!ipxe");
	tmpl_set_bool(td, root, "yes", 1);
	tmpl_set_bool(td, root, "no", 0);
	tmpl_set_fmt(td, root, "n", "%d", 42);
	struct tmpl_val *list = tmpl_set_list(td, root, "items");
	for (int i = 0; i < 3; i++) {
		struct tmpl_val *o = tmpl_list_add_obj(td, list);
		tmpl_set_fmt(td, o, "name", "item%d", i);
		struct tmpl_val *inner = tmpl_set_list(td, o, "tags");
		tmpl_list_add_str(td, inner, "a");
		tmpl_list_add_str(td, inner, "b");
	}
	tmpl_set_list(td, root, "empty");
	struct tmpl_val *obj = tmpl_set_obj(td, root, "obj");
	tmpl_set_str(td, obj, "name", "inner");
	if (tmpl_data_error(td) != 0)
		__builtin_trap();
	if (m) {
		struct tmpl_partial parts[2] = {{"p", p}, {"m", m}};
		sbuf out = SBUF_INIT;
		int rc = tmpl_render(m, root, parts, p ? 2 : 1, &out);
		/* -E2BIG: the documented step/output limit that stops exponential templates (nested loops) */
		if (rc != 0 && rc != -ENOENT && rc != -ELOOP && rc != -ENOMEM && rc != -E2BIG)
			__builtin_trap();
		sbuf_free(&out);
	}
	tmpl_data_free(td);
	tmpl_free(m);
	tmpl_free(p);
	diag_free(&d);
	return 0;
}
