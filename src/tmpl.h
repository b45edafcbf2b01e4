/* tmpl.h - a small logic-less template language: {{name}}, {{#list}}, {{^missing}}, {{! comment }}, {{>partial}}. */
#ifndef AUTOPXE_TMPL_H
#define AUTOPXE_TMPL_H

#include <stddef.h>

#include "diag.h"
#include "util.h"

/* Limits. Section nesting inside one template is checked when compiling; partial nesting
 * (a partial including a partial ...) when rendering. Both bound the renderer's recursion. */
#define TMPL_MAX_DEPTH 16
#define TMPL_MAX_PARTIAL_DEPTH 8
#define TMPL_MAX_NAME 64
#define TMPL_MAX_SOURCE (16u << 20)
/* Rendering budget: nested loops can multiply work exponentially (a loop in a loop in ... 16 deep),
 * so one render executes at most this many instructions and produces at most this many bytes. */
#define TMPL_MAX_STEPS 4000000u
#define TMPL_MAX_OUTPUT (32u << 20)

struct tmpl; /* a compiled template (immutable, shareable between threads) */

/* Compile src[0..len) (any bytes). `file` names the template in diagnostics (may be NULL).
 * On a syntax error returns NULL with one error in d at file:line:col (1-based, columns in bytes).
 * Free with tmpl_free(). */
struct tmpl *tmpl_compile(const char *src, size_t len, const char *file, struct diag *d);
void tmpl_free(struct tmpl *t);

/* The kinds of tag tmpl_each_tag() reports. */
enum tmpl_tag { TMPL_TAG_VAR, TMPL_TAG_SECTION, TMPL_TAG_INVERTED, TMPL_TAG_PARTIAL };
typedef void (*tmpl_tag_fn)(void *arg, enum tmpl_tag kind, const char *name, int line, int col);
/* Call fn for every name tag in template order (for checking names against what a caller provides). */
void tmpl_each_tag(const struct tmpl *t, tmpl_tag_fn fn, void *arg);

/* ---- Data: a tree of values built per render, all memory in one arena. ----
 * A value is a string, a boolean, a list (of objects or strings) or an object (ordered named fields).
 * Builder calls never fail loudly: on OOM they return NULL, accept NULL parents as no-ops, and
 * tmpl_data_error() reports -ENOMEM afterwards, so building code needs one check at the end. */
struct tmpl_data;
struct tmpl_val;

/* A new, empty data tree whose root is an object. Free with tmpl_data_free() (frees every value). */
struct tmpl_data *tmpl_data_new(void);
void tmpl_data_free(struct tmpl_data *d);
/* The root object (borrowed), NULL only when tmpl_data_new() failed. */
struct tmpl_val *tmpl_data_root(struct tmpl_data *d);
/* 0, or -ENOMEM when any builder call failed. */
int tmpl_data_error(const struct tmpl_data *d);

/* Add a field to object obj. The value is copied; the name is borrowed and must outlive d (use string
 * literals). Set each name once per object. */
struct tmpl_val *tmpl_set_str(struct tmpl_data *d, struct tmpl_val *obj, const char *name, const char *s);
struct tmpl_val *tmpl_set_strn(struct tmpl_data *d, struct tmpl_val *obj, const char *name, const char *s, size_t n);
struct tmpl_val *tmpl_set_fmt(struct tmpl_data *d, struct tmpl_val *obj, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
struct tmpl_val *tmpl_set_bool(struct tmpl_data *d, struct tmpl_val *obj, const char *name, int b);
/* A new empty list / object as a field of obj (name borrowed, as above); returns it for filling. */
struct tmpl_val *tmpl_set_list(struct tmpl_data *d, struct tmpl_val *obj, const char *name);
struct tmpl_val *tmpl_set_obj(struct tmpl_data *d, struct tmpl_val *obj, const char *name);
/* Append a new empty object / a string to a list. */
struct tmpl_val *tmpl_list_add_obj(struct tmpl_data *d, struct tmpl_val *list);
struct tmpl_val *tmpl_list_add_str(struct tmpl_data *d, struct tmpl_val *list, const char *s);

/* A named template that {{>name}} may include. */
struct tmpl_partial {
	const char *name;
	const struct tmpl *t;
};

/* Render t with `root` as the outermost scope, appending to out. Partials are looked up by name
 * in partials[0..n). Returns 0, -ENOMEM, -ENOENT (a {{>name}} that is not in partials),
 * -ELOOP (partials nested deeper than TMPL_MAX_PARTIAL_DEPTH) or -E2BIG (over TMPL_MAX_STEPS or
 * TMPL_MAX_OUTPUT). On error out may hold a partial result. Pure; thread-safe for a shared t. */
int tmpl_render(const struct tmpl *t, const struct tmpl_val *root, const struct tmpl_partial *partials,
                size_t n_partials, sbuf *out);

#endif
