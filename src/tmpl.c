/* tmpl.c - compiler and renderer for the logic-less menu template language (see templates/README.md). */
#include "tmpl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- compiled form */

enum op_kind { OP_TEXT, OP_VAR, OP_SECTION, OP_INVERTED, OP_PARTIAL };

/* One instruction. Text and names are (offset, length) into the template's copy of its source. */
struct op {
	enum op_kind kind;
	uint32_t off, len; /* text, or the name */
	uint32_t end;      /* OP_SECTION/OP_INVERTED: index of the first op after the body */
	int line, col;     /* where the tag starts */
};

struct tmpl {
	char *src; /* copy of the source, NUL-terminated */
	size_t src_len;
	struct op *ops;
	size_t n_ops, cap_ops;
};

void tmpl_free(struct tmpl *t)
{
	if (!t)
		return;
	free(t->src);
	free(t->ops);
	free(t);
}

static int emit(struct tmpl *t, enum op_kind kind, size_t off, size_t len, int line, int col)
{
	if (t->n_ops == t->cap_ops) {
		size_t cap = t->cap_ops ? t->cap_ops * 2 : 32;
		struct op *p = realloc(t->ops, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		t->ops = p;
		t->cap_ops = cap;
	}
	struct op *o = &t->ops[t->n_ops++];
	o->kind = kind;
	o->off = (uint32_t)off;
	o->len = (uint32_t)len;
	o->end = 0;
	o->line = line;
	o->col = col;
	return 0;
}

/* Line/column tracking: advanced monotonically through the source, so compiling stays linear. */
struct pos {
	const char *src;
	size_t at;         /* position up to which lines were counted */
	int line;          /* line of `at` */
	size_t line_start; /* offset where that line starts */
};

static void pos_to(struct pos *p, size_t to, int *line, int *col)
{
	for (; p->at < to; p->at++) {
		if (p->src[p->at] == '\n') {
			p->line++;
			p->line_start = p->at + 1;
		}
	}
	*line = p->line;
	*col = (int)(to - p->line_start) + 1;
}

static int name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

struct open_section {
	size_t op;
	uint32_t off, len;
	int line, col;
};

static void describe(char *buf, size_t len, const char *s, size_t n)
{
	char tmp[TMPL_MAX_NAME + 8];
	if (n > TMPL_MAX_NAME)
		n = TMPL_MAX_NAME;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	snprintf(buf, len, "%s", tmp);
}

struct tmpl *tmpl_compile(const char *src, size_t len, const char *file, struct diag *d)
{
	struct tmpl *t = calloc(1, sizeof *t);
	struct open_section stack[TMPL_MAX_DEPTH];
	int depth = 0;
	struct pos pos = {src, 0, 1, 0};
	int line = 1, col = 1;
	char nm[TMPL_MAX_NAME + 8];

	if (!t)
		goto oom;
	if (len > TMPL_MAX_SOURCE) {
		diag_add(d, DIAG_ERROR, file, 0, 0, "template larger than %u bytes", TMPL_MAX_SOURCE);
		goto fail;
	}
	t->src = malloc(len + 1);
	if (!t->src)
		goto oom;
	if (len)
		memcpy(t->src, src, len);
	t->src[len] = '\0';
	t->src_len = len;
	src = t->src;
	pos.src = src;

	size_t text_start = 0, at = 0;
	for (;;) {
		const char *open = NULL;
		for (size_t i = at; i + 1 < len; i++) {
			if (src[i] == '{' && src[i + 1] == '{') {
				open = src + i;
				break;
			}
		}
		if (!open)
			break;
		size_t tag = (size_t)(open - src);
		pos_to(&pos, tag, &line, &col);

		/* find the closing braces */
		size_t close = 0;
		int found = 0;
		for (size_t i = tag + 2; i + 1 < len; i++) {
			if (src[i] == '}' && src[i + 1] == '}') {
				close = i;
				found = 1;
				break;
			}
		}
		if (!found) {
			diag_add(d, DIAG_ERROR, file, line, col, "unterminated tag: '{{' without '}}'");
			goto fail;
		}
		size_t tag_end = close + 2;

		/* classify */
		size_t p = tag + 2;
		char sigil = src[p];
		enum op_kind kind = OP_VAR;
		int is_close = 0, is_comment = 0;
		switch (sigil) {
		case '#': kind = OP_SECTION; p++; break;
		case '^': kind = OP_INVERTED; p++; break;
		case '/': is_close = 1; p++; break;
		case '>': kind = OP_PARTIAL; p++; break;
		case '!': is_comment = 1; break;
		case '{': case '&': case '=': case '<': case '$': case '%':
			diag_add(d, DIAG_ERROR, file, line, col, "unknown tag syntax '{{%c' (supported: {{name}} {{#name}} "
			         "{{^name}} {{/name}} {{!comment}} {{>partial}})", sigil);
			goto fail;
		default: break;
		}
		size_t name_off = 0, name_len = 0;
		if (!is_comment) {
			while (p < close && is_blank(src[p]))
				p++;
			name_off = p;
			while (p < close && name_char((unsigned char)src[p]))
				p++;
			name_len = p - name_off;
			/* a lone "." names the innermost value */
			if (name_len == 0 && p < close && src[p] == '.' && kind == OP_VAR && !is_close) {
				p++;
				name_len = 1;
			}
			while (p < close && is_blank(src[p]))
				p++;
			if (p != close) {
				int cl, cc;
				pos_to(&pos, p, &cl, &cc);
				unsigned char bad = (unsigned char)src[p];
				if (bad >= 0x20 && bad < 0x7f)
					diag_add(d, DIAG_ERROR, file, cl, cc, "unexpected '%c' in tag (names use A-Z a-z 0-9 _ -)",
					         bad);
				else
					diag_add(d, DIAG_ERROR, file, cl, cc, "unexpected byte 0x%02x in tag", bad);
				goto fail;
			}
			if (name_len == 0) {
				diag_add(d, DIAG_ERROR, file, line, col, "empty tag name");
				goto fail;
			}
			if (name_len > TMPL_MAX_NAME) {
				diag_add(d, DIAG_ERROR, file, line, col, "tag name longer than %d bytes", TMPL_MAX_NAME);
				goto fail;
			}
		}

		/* standalone-line rule: a line holding only one non-variable tag (and blanks) disappears */
		size_t text_end = tag, next = tag_end;
		if (kind != OP_VAR || is_close || is_comment) {
			/* scan back no further than the end of the previous tag, so compiling stays linear */
			size_t ls = tag;
			while (ls > text_start && src[ls - 1] != '\n')
				ls--;
			int standalone = ls == 0 || src[ls - 1] == '\n';
			for (size_t i = ls; standalone && i < tag; i++)
				standalone = is_blank(src[i]);
			size_t q = tag_end;
			while (q < len && is_blank(src[q]))
				q++;
			if (standalone) {
				if (q == len)
					next = q;
				else if (src[q] == '\n')
					next = q + 1;
				else if (src[q] == '\r' && q + 1 < len && src[q + 1] == '\n')
					next = q + 2;
				else
					standalone = 0;
			}
			if (standalone)
				text_end = ls;
			else
				next = tag_end;
		}
		if (text_end > text_start && emit(t, OP_TEXT, text_start, text_end - text_start, line, col))
			goto oom;
		text_start = at = next;

		if (is_comment)
			continue;
		if (is_close) {
			describe(nm, sizeof nm, src + name_off, name_len);
			if (depth == 0) {
				diag_add(d, DIAG_ERROR, file, line, col, "'{{/%s}}' closes a section that is not open", nm);
				goto fail;
			}
			struct open_section *os = &stack[depth - 1];
			if (os->len != name_len || memcmp(src + os->off, src + name_off, name_len) != 0) {
				char onm[TMPL_MAX_NAME + 8];
				describe(onm, sizeof onm, src + os->off, os->len);
				diag_add(d, DIAG_ERROR, file, line, col, "'{{/%s}}' does not match the open section '%s' (line %d:%d)",
				         nm, onm, os->line, os->col);
				goto fail;
			}
			t->ops[os->op].end = (uint32_t)t->n_ops;
			depth--;
			continue;
		}
		if (kind == OP_SECTION || kind == OP_INVERTED) {
			if (depth == TMPL_MAX_DEPTH) {
				diag_add(d, DIAG_ERROR, file, line, col, "sections nested deeper than %d", TMPL_MAX_DEPTH);
				goto fail;
			}
			stack[depth].op = t->n_ops;
			stack[depth].off = (uint32_t)name_off;
			stack[depth].len = (uint32_t)name_len;
			stack[depth].line = line;
			stack[depth].col = col;
			depth++;
		}
		if (emit(t, kind, name_off, name_len, line, col))
			goto oom;
	}
	if (depth > 0) {
		struct open_section *os = &stack[depth - 1];
		describe(nm, sizeof nm, src + os->off, os->len);
		diag_add(d, DIAG_ERROR, file, os->line, os->col, "section '%s' is not closed", nm);
		goto fail;
	}
	if (len > text_start) {
		pos_to(&pos, text_start, &line, &col);
		if (emit(t, OP_TEXT, text_start, len - text_start, line, col))
			goto oom;
	}
	return t;

oom:
	diag_add(d, DIAG_ERROR, file, 0, 0, "out of memory compiling template");
fail:
	tmpl_free(t);
	return NULL;
}

void tmpl_each_tag(const struct tmpl *t, tmpl_tag_fn fn, void *arg)
{
	static const enum tmpl_tag map[] = {
	    [OP_VAR] = TMPL_TAG_VAR,
	    [OP_SECTION] = TMPL_TAG_SECTION,
	    [OP_INVERTED] = TMPL_TAG_INVERTED,
	    [OP_PARTIAL] = TMPL_TAG_PARTIAL,
	};
	char nm[TMPL_MAX_NAME + 1];
	for (size_t i = 0; i < t->n_ops; i++) {
		const struct op *o = &t->ops[i];
		if (o->kind == OP_TEXT)
			continue;
		memcpy(nm, t->src + o->off, o->len);
		nm[o->len] = '\0';
		fn(arg, map[o->kind], nm, o->line, o->col);
	}
}

/* ---------------------------------------------------------------- data */

enum val_kind { VAL_STR, VAL_BOOL, VAL_LIST, VAL_OBJ };

struct tmpl_val {
	enum val_kind kind;
	const char *name; /* field name inside an object, NULL for list items */
	size_t name_len;
	struct tmpl_val *next; /* next field / next list item */
	const char *s;         /* VAL_STR */
	size_t len;            /* VAL_STR: bytes; VAL_LIST: items */
	int b;                 /* VAL_BOOL */
	struct tmpl_val *head, *tail; /* VAL_LIST items, VAL_OBJ fields */
};

struct chunk {
	struct chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct tmpl_data {
	struct chunk *chunks;
	struct tmpl_val *root;
	int failed;
};

#define CHUNK_MIN 16384u
#define CHUNK_MAX (1u << 20)

static void *arena_alloc(struct tmpl_data *d, size_t n)
{
	const size_t al = _Alignof(max_align_t);
	n = (n + al - 1) / al * al;
	struct chunk *c = d->chunks;
	if (!c || c->size - c->used < n) {
		/* chunks double in size so a big menu costs few allocations */
		size_t size = c ? (c->size < CHUNK_MAX ? c->size * 2 : CHUNK_MAX) : CHUNK_MIN;
		if (size < n)
			size = n;
		c = malloc(sizeof *c + size);
		if (!c) {
			d->failed = 1;
			return NULL;
		}
		c->size = size;
		c->used = 0;
		c->next = d->chunks;
		d->chunks = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static const char *arena_strn(struct tmpl_data *d, const char *s, size_t n)
{
	char *p = arena_alloc(d, n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

struct tmpl_data *tmpl_data_new(void)
{
	struct tmpl_data *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->root = arena_alloc(d, sizeof *d->root);
	if (!d->root) {
		free(d);
		return NULL;
	}
	memset(d->root, 0, sizeof *d->root);
	d->root->kind = VAL_OBJ;
	return d;
}

void tmpl_data_free(struct tmpl_data *d)
{
	if (!d)
		return;
	for (struct chunk *c = d->chunks, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	free(d);
}

struct tmpl_val *tmpl_data_root(struct tmpl_data *d) { return d ? d->root : NULL; }
int tmpl_data_error(const struct tmpl_data *d) { return !d || d->failed ? -ENOMEM : 0; }

/* New value appended to parent (an object when name != NULL, else a list). */
static struct tmpl_val *add(struct tmpl_data *d, struct tmpl_val *parent, const char *name, enum val_kind kind)
{
	if (!d)
		return NULL;
	if (!parent) {
		d->failed = 1; /* a NULL parent means an earlier call failed */
		return NULL;
	}
	if ((name != NULL) != (parent->kind == VAL_OBJ) || (parent->kind != VAL_OBJ && parent->kind != VAL_LIST)) {
		d->failed = 1; /* misuse: treated like a failure so it is noticed */
		return NULL;
	}
	struct tmpl_val *v = arena_alloc(d, sizeof *v);
	if (!v)
		return NULL;
	memset(v, 0, sizeof *v);
	v->kind = kind;
	if (name) { /* borrowed: field names are string literals */
		v->name = name;
		v->name_len = strlen(name);
	}
	if (parent->tail)
		parent->tail->next = v;
	else
		parent->head = v;
	parent->tail = v;
	if (parent->kind == VAL_LIST)
		parent->len++;
	return v;
}

struct tmpl_val *tmpl_set_strn(struct tmpl_data *d, struct tmpl_val *obj, const char *name, const char *s, size_t n)
{
	struct tmpl_val *v = add(d, obj, name, VAL_STR);
	if (!v)
		return NULL;
	v->s = arena_strn(d, s ? s : "", s ? n : 0);
	v->len = s ? n : 0;
	return v->s ? v : NULL;
}

struct tmpl_val *tmpl_set_str(struct tmpl_data *d, struct tmpl_val *obj, const char *name, const char *s)
{
	return tmpl_set_strn(d, obj, name, s, s ? strlen(s) : 0);
}

struct tmpl_val *tmpl_set_fmt(struct tmpl_data *d, struct tmpl_val *obj, const char *name, const char *fmt, ...)
{
	char buf[256];
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	struct tmpl_val *v = NULL;
	if (n < 0) {
		if (d)
			d->failed = 1;
	} else if ((size_t)n < sizeof buf) {
		v = tmpl_set_strn(d, obj, name, buf, (size_t)n);
	} else if ((v = tmpl_set_strn(d, obj, name, "", 0))) { /* long: format straight into the arena */
		char *p = d ? arena_alloc(d, (size_t)n + 1) : NULL;
		if (p) {
			vsnprintf(p, (size_t)n + 1, fmt, ap2);
			v->s = p;
			v->len = (size_t)n;
		} else {
			v = NULL;
		}
	}
	va_end(ap2);
	return v;
}

struct tmpl_val *tmpl_set_bool(struct tmpl_data *d, struct tmpl_val *obj, const char *name, int b)
{
	struct tmpl_val *v = add(d, obj, name, VAL_BOOL);
	if (v)
		v->b = b != 0;
	return v;
}

struct tmpl_val *tmpl_set_list(struct tmpl_data *d, struct tmpl_val *obj, const char *name)
{
	return add(d, obj, name, VAL_LIST);
}

struct tmpl_val *tmpl_set_obj(struct tmpl_data *d, struct tmpl_val *obj, const char *name)
{
	return add(d, obj, name, VAL_OBJ);
}

struct tmpl_val *tmpl_list_add_obj(struct tmpl_data *d, struct tmpl_val *list) { return add(d, list, NULL, VAL_OBJ); }

struct tmpl_val *tmpl_list_add_str(struct tmpl_data *d, struct tmpl_val *list, const char *s)
{
	struct tmpl_val *v = add(d, list, NULL, VAL_STR);
	if (!v)
		return NULL;
	v->len = s ? strlen(s) : 0;
	v->s = arena_strn(d, s ? s : "", v->len);
	return v->s ? v : NULL;
}

/* ---------------------------------------------------------------- rendering */

/* Scopes live on the renderer's C stack: one per open section, innermost first. */
struct scope {
	const struct tmpl_val *v;
	const struct scope *up;
};

struct rstate {
	const struct tmpl_partial *partials;
	size_t n_partials;
	sbuf *out;
	size_t start; /* out->len when rendering began */
	size_t steps; /* instructions executed */
};

static const struct tmpl_val *lookup(const struct scope *sc, const char *name, size_t len)
{
	if (len == 1 && name[0] == '.')
		return sc ? sc->v : NULL;
	for (; sc; sc = sc->up) {
		if (!sc->v || sc->v->kind != VAL_OBJ)
			continue;
		for (const struct tmpl_val *f = sc->v->head; f; f = f->next)
			if (f->name_len == len && memcmp(f->name, name, len) == 0)
				return f;
	}
	return NULL;
}

static int truthy(const struct tmpl_val *v)
{
	if (!v)
		return 0;
	switch (v->kind) {
	case VAL_STR: return v->len > 0;
	case VAL_BOOL: return v->b;
	case VAL_LIST: return v->len > 0;
	case VAL_OBJ: return 1;
	}
	return 0;
}

/* Runs ops [pc, end) of t. Recursion depth: section nesting (<= TMPL_MAX_DEPTH per template, checked
 * when compiling) times partial nesting (<= TMPL_MAX_PARTIAL_DEPTH, checked here). */
static int run(struct rstate *st, const struct tmpl *t, size_t pc, size_t end, const struct scope *sc, int pdepth)
{
	int rc;
	while (pc < end) {
		const struct op *o = &t->ops[pc];
		if (++st->steps > TMPL_MAX_STEPS || st->out->len - st->start > TMPL_MAX_OUTPUT)
			return -E2BIG;
		const char *name = t->src + o->off;
		const struct tmpl_val *v;
		switch (o->kind) {
		case OP_TEXT:
			if ((rc = sbuf_append(st->out, name, o->len)))
				return rc;
			pc++;
			break;
		case OP_VAR:
			v = lookup(sc, name, o->len);
			if (v && v->kind == VAL_STR && (rc = sbuf_append(st->out, v->s, v->len)))
				return rc;
			pc++;
			break;
		case OP_SECTION:
			v = lookup(sc, name, o->len);
			if (v && v->kind == VAL_LIST) {
				for (const struct tmpl_val *it = v->head; it; it = it->next) {
					struct scope inner = {it, sc};
					if ((rc = run(st, t, pc + 1, o->end, &inner, pdepth)))
						return rc;
				}
			} else if (truthy(v)) {
				struct scope inner = {v, sc};
				if ((rc = run(st, t, pc + 1, o->end, &inner, pdepth)))
					return rc;
			}
			pc = o->end;
			break;
		case OP_INVERTED:
			if (!truthy(lookup(sc, name, o->len)) && (rc = run(st, t, pc + 1, o->end, sc, pdepth)))
				return rc;
			pc = o->end;
			break;
		case OP_PARTIAL: {
			const struct tmpl *p = NULL;
			for (size_t i = 0; i < st->n_partials; i++) {
				const char *pn = st->partials[i].name;
				if (strlen(pn) == o->len && memcmp(pn, name, o->len) == 0) {
					p = st->partials[i].t;
					break;
				}
			}
			if (!p)
				return -ENOENT;
			if (pdepth >= TMPL_MAX_PARTIAL_DEPTH)
				return -ELOOP;
			if ((rc = run(st, p, 0, p->n_ops, sc, pdepth + 1)))
				return rc;
			pc++;
			break;
		}
		}
	}
	return 0;
}

int tmpl_render(const struct tmpl *t, const struct tmpl_val *root, const struct tmpl_partial *partials,
                size_t n_partials, sbuf *out)
{
	struct rstate st = {partials, n_partials, out, out->len, 0};
	struct scope top = {root, NULL};
	int rc = run(&st, t, 0, t->n_ops, root ? &top : NULL, 0);
	if (!rc && !out->data)
		rc = sbuf_append(out, "", 0); /* an empty result is still a valid string */
	return rc;
}
