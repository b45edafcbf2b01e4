/* check_tmpl.c - tests for the template language: compile errors with positions, sections, scopes, limits. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl.h"

/* The data every rendering case uses:
 *   title="Boot", empty="", yes=true, no=false, none=[] (empty list),
 *   items=[{name=a, n=1}, {name=b, n=2, extra=x}], words=["x","y"],
 *   obj={name=inner, deep={v=deepv}} */
static struct tmpl_data *sample(void)
{
	struct tmpl_data *d = tmpl_data_new();
	struct tmpl_val *r = tmpl_data_root(d);
	tmpl_set_str(d, r, "title", "Boot");
	tmpl_set_str(d, r, "name", "outer");
	tmpl_set_str(d, r, "empty", "");
	tmpl_set_bool(d, r, "yes", 1);
	tmpl_set_bool(d, r, "no", 0);
	tmpl_set_list(d, r, "none");
	struct tmpl_val *items = tmpl_set_list(d, r, "items");
	struct tmpl_val *a = tmpl_list_add_obj(d, items);
	tmpl_set_str(d, a, "name", "a");
	tmpl_set_fmt(d, a, "n", "%d", 1);
	struct tmpl_val *b = tmpl_list_add_obj(d, items);
	tmpl_set_str(d, b, "name", "b");
	tmpl_set_fmt(d, b, "n", "%d", 2);
	tmpl_set_strn(d, b, "extra", "xyz", 1);
	struct tmpl_val *w = tmpl_set_list(d, r, "words");
	tmpl_list_add_str(d, w, "x");
	tmpl_list_add_str(d, w, "y");
	struct tmpl_val *o = tmpl_set_obj(d, r, "obj");
	tmpl_set_str(d, o, "name", "inner");
	tmpl_set_str(d, tmpl_set_obj(d, o, "deep"), "v", "deepv");
	ck_assert_int_eq(tmpl_data_error(d), 0);
	return d;
}

static char *render_str(const char *src, const struct tmpl_partial *parts, size_t np, int *rc_out)
{
	struct diag dg;
	diag_init(&dg);
	struct tmpl *t = tmpl_compile(src, strlen(src), "t.tmpl", &dg);
	if (!t) {
		char buf[512];
		diag_format(&dg.items[0], buf, sizeof buf);
		ck_abort_msg("compile failed: %s", buf);
	}
	ck_assert_uint_eq(dg.n, 0);
	struct tmpl_data *d = sample();
	sbuf out = SBUF_INIT;
	int rc = tmpl_render(t, tmpl_data_root(d), parts, np, &out);
	if (rc_out)
		*rc_out = rc;
	else
		ck_assert_int_eq(rc, 0);
	tmpl_data_free(d);
	tmpl_free(t);
	diag_free(&dg);
	return sbuf_steal(&out);
}

START_TEST(test_render_cases)
{
	static const struct {
		const char *src, *want;
	} cases[] = {
	    {"", ""},
	    {"plain { } }} text", "plain { } }} text"},
	    {"{{title}}", "Boot"},
	    {"[{{ title }}] [{{missing}}] [{{empty}}]", "[Boot] [] []"},
	    {"{{yes}}{{items}}{{obj}}", ""}, /* only strings insert text */
	    /* loops: each element is the innermost scope, outer names stay visible */
	    {"{{#items}}{{name}}={{n}}/{{title}};{{/items}}", "a=1/Boot;b=2/Boot;"},
	    {"{{#items}}{{extra}}{{/items}}", "x"},
	    {"{{#words}}<{{.}}>{{/words}}", "<x><y>"},
	    /* true / non-empty scalars render once, false / empty / missing not at all */
	    {"{{#yes}}Y{{/yes}}{{#no}}N{{/no}}{{#title}}T{{/title}}{{#empty}}E{{/empty}}{{#missing}}M{{/missing}}"
	     "{{#none}}L{{/none}}",
	     "YT"},
	    {"{{^yes}}Y{{/yes}}{{^no}}N{{/no}}{{^title}}T{{/title}}{{^empty}}E{{/empty}}{{^missing}}M{{/missing}}"
	     "{{^none}}L{{/none}}{{^items}}I{{/items}}",
	     "NEML"},
	    /* an object section pushes a scope: inner names shadow outer ones */
	    {"{{name}} {{#obj}}{{name}} {{#deep}}{{v}} {{name}} {{title}}{{/deep}}{{/obj}} {{name}}",
	     "outer inner deepv inner Boot outer"},
	    {"{{#title}}{{.}}{{/title}}", "Boot"},
	    {"{{#items}}{{#yes}}{{name}}{{/yes}}{{/items}}", "ab"},
	    /* comments */
	    {"a{{! a comment }}b", "ab"},
	    {"a{{!multi\nline}}b", "ab"},
	    /* standalone lines vanish, newline included */
	    {"x\n{{#items}}\n- {{name}}\n{{/items}}\ny\n", "x\n- a\n- b\ny\n"},
	    {"x\n  {{#yes}}  \nin\n\t{{/yes}}\ny", "x\nin\ny"},
	    {"{{! only a comment }}\nnext\n", "next\n"},
	    {"a\n{{^missing}}\nshown\n{{/missing}}\n", "a\nshown\n"},
	    {"crlf\r\n{{#yes}}\r\nin\r\n{{/yes}}\r\nend", "crlf\r\nin\r\nend"},
	    {"{{#yes}}\nlast{{/yes}}", "last"},
	    {"end\n{{#yes}}", NULL}, /* unclosed: compile error, tested below */
	    /* not standalone: other text or another tag on the line */
	    {"a {{#yes}}\nb\n{{/yes}} c\n", "a \nb\n c\n"},
	    {"{{#yes}}{{/yes}}\nz", "\nz"},
	    {"{{title}}\n{{#yes}}\nq\n{{/yes}}\n", "Boot\nq\n"},
	    {"{{title}} {{! c }}\nq", "Boot \nq"},
	    /* variables never remove their line */
	    {"{{missing}}\nz", "\nz"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (!cases[i].want)
			continue;
		char *s = render_str(cases[i].src, NULL, 0, NULL);
		ck_assert_msg(strcmp(s, cases[i].want) == 0, "case %zu: got '%s' want '%s'", i, s, cases[i].want);
		free(s);
	}
}
END_TEST

START_TEST(test_compile_errors)
{
	static const struct {
		const char *src;
		int line, col;
		const char *msg;
	} cases[] = {
	    {"abc {{title", 1, 5, "unterminated tag"},
	    {"x\n\n  {{#items}}\nbody\n", 3, 3, "section 'items' is not closed"},
	    {"{{#a}}{{#b}}{{/a}}{{/b}}", 1, 13, "'{{/a}}' does not match the open section 'b' (line 1:7)"},
	    {"ok\n{{/a}}", 2, 1, "closes a section that is not open"},
	    {"{{{title}}}", 1, 1, "unknown tag syntax '{{{'"},
	    {"{{&title}}", 1, 1, "unknown tag syntax '{{&'"},
	    {"{{=<% %>=}}", 1, 1, "unknown tag syntax '{{='"},
	    {"line\n  {{}}", 2, 3, "empty tag name"},
	    {"{{# }}", 1, 1, "empty tag name"},
	    {"{{a b}}", 1, 5, "unexpected 'b' in tag"},
	    {"{{a.b}}", 1, 4, "unexpected '.' in tag"},
	    {"{{#.}}x{{/.}}", 1, 4, "unexpected '.' in tag"},
	    {"{{a\nb}}", 1, 4, "unexpected byte 0x0a in tag"},
	    {"{{\x01}}", 1, 3, "unexpected byte 0x01"},
	    {"{{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}}", 1, 1, "longer than 64"},
	    {"{{#a}}\n{{/b}}\n", 2, 1, "does not match"},
	    {"{{!", 1, 1, "unterminated tag"},
	    {"{", 0, 0, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct diag d;
		diag_init(&d);
		struct tmpl *t = tmpl_compile(cases[i].src, strlen(cases[i].src), "menu.tmpl", &d);
		if (!cases[i].msg) {
			ck_assert_ptr_nonnull(t);
			tmpl_free(t);
			diag_free(&d);
			continue;
		}
		ck_assert_msg(t == NULL, "case %zu compiled", i);
		ck_assert_uint_eq(d.n, 1);
		ck_assert_uint_eq(d.n_errors, 1);
		ck_assert_str_eq(d.items[0].file, "menu.tmpl");
		ck_assert_msg(d.items[0].line == cases[i].line && d.items[0].col == cases[i].col, "case %zu: at %d:%d", i,
		              d.items[0].line, d.items[0].col);
		ck_assert_msg(strstr(d.items[0].msg, cases[i].msg) != NULL, "case %zu: '%s'", i, d.items[0].msg);
		diag_free(&d);
	}
}
END_TEST

static long pow10i(int n)
{
	long v = 1;
	while (n-- > 0)
		v *= 10;
	return v;
}

static char *nested(int depth, const char *inner)
{
	sbuf b = SBUF_INIT;
	for (int i = 0; i < depth; i++)
		sbuf_printf(&b, "{{#yes}}");
	sbuf_puts(&b, inner);
	for (int i = 0; i < depth; i++)
		sbuf_printf(&b, "{{/yes}}");
	return sbuf_steal(&b);
}

START_TEST(test_nesting_limit)
{
	struct diag d;
	diag_init(&d);
	char *ok = nested(TMPL_MAX_DEPTH, "deep{{title}}");
	char *s = render_str(ok, NULL, 0, NULL);
	ck_assert_str_eq(s, "deepBoot");
	free(s);
	free(ok);
	char *bad = nested(TMPL_MAX_DEPTH + 1, "x");
	ck_assert_ptr_null(tmpl_compile(bad, strlen(bad), "n.tmpl", &d));
	ck_assert_uint_eq(d.n, 1);
	ck_assert_int_eq(d.items[0].col, 1 + TMPL_MAX_DEPTH * 8);
	ck_assert_ptr_nonnull(strstr(d.items[0].msg, "nested deeper than 16"));
	free(bad);
	diag_free(&d);
	/* deep nesting far beyond the limit fails fast, without recursion */
	bad = nested(100000, "x");
	diag_init(&d);
	ck_assert_ptr_null(tmpl_compile(bad, strlen(bad), "n.tmpl", &d));
	free(bad);
	diag_free(&d);
}
END_TEST

START_TEST(test_partials)
{
	struct diag d;
	diag_init(&d);
	const char *ps = "[{{name}}]\n";
	struct tmpl *p = tmpl_compile(ps, strlen(ps), "p", &d);
	const char *ls = "{{>loop}}";
	struct tmpl *loop = tmpl_compile(ls, strlen(ls), "loop", &d);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(loop);
	struct tmpl_partial parts[] = {{"item", p}, {"loop", loop}};
	/* a partial sees the current scopes; a standalone partial tag removes its line */
	char *s = render_str("{{#items}}\n{{>item}}\n{{/items}}\n{{>item}}\n", parts, 2, NULL);
	ck_assert_str_eq(s, "[a]\n[b]\n[outer]\n");
	free(s);
	int rc;
	s = render_str("x{{>nosuch}}", parts, 2, &rc);
	ck_assert_int_eq(rc, -ENOENT);
	free(s);
	s = render_str("{{>loop}}", parts, 2, &rc);
	ck_assert_int_eq(rc, -ELOOP);
	free(s);
	tmpl_free(p);
	tmpl_free(loop);
	diag_free(&d);
}
END_TEST

/* Nested loops multiply work: rendering stops at the budget instead of running for hours. */
START_TEST(test_render_budget)
{
	struct tmpl_data *d = tmpl_data_new();
	struct tmpl_val *l = tmpl_set_list(d, tmpl_data_root(d), "l");
	for (int i = 0; i < 10; i++)
		tmpl_list_add_str(d, l, "0123456789");
	struct diag dg;
	diag_init(&dg);
	static const struct {
		int depth;
		int rc;
	} cases[] = {{2, 0}, {5, 0}, {7, -E2BIG}, {16, -E2BIG}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		sbuf src = SBUF_INIT;
		for (int k = 0; k < cases[i].depth; k++)
			sbuf_puts(&src, "{{#l}}");
		sbuf_puts(&src, "{{.}}");
		for (int k = 0; k < cases[i].depth; k++)
			sbuf_puts(&src, "{{/l}}");
		struct tmpl *t = tmpl_compile(src.data, src.len, "b", &dg);
		ck_assert_ptr_nonnull(t);
		sbuf out = SBUF_INIT;
		ck_assert_int_eq(tmpl_render(t, tmpl_data_root(d), NULL, 0, &out), cases[i].rc);
		if (cases[i].rc == 0)
			ck_assert_uint_eq(out.len, 10 * (size_t)pow10i(cases[i].depth));
		sbuf_free(&out);
		sbuf_free(&src);
		tmpl_free(t);
	}
	/* few steps, too much output: 40 x 1 MiB */
	char *big = malloc(1u << 20);
	memset(big, 'b', (1u << 20) - 1);
	big[(1u << 20) - 1] = '\0';
	struct tmpl_val *bl = tmpl_set_list(d, tmpl_data_root(d), "big");
	for (int i = 0; i < 40; i++)
		tmpl_list_add_str(d, bl, big);
	free(big);
	const char *bs = "{{#big}}{{.}}{{/big}}";
	struct tmpl *bt = tmpl_compile(bs, strlen(bs), "b", &dg);
	sbuf bo = SBUF_INIT;
	ck_assert_int_eq(tmpl_render(bt, tmpl_data_root(d), NULL, 0, &bo), -E2BIG);
	ck_assert_uint_le(bo.len, TMPL_MAX_OUTPUT + (1u << 20));
	sbuf_free(&bo);
	tmpl_free(bt);
	/* a partial including itself inside a loop: stopped by depth or budget, never hangs */
	const char *ps = "{{#l}}{{>p}}{{>p}}{{/l}}";
	struct tmpl *p = tmpl_compile(ps, strlen(ps), "p", &dg);
	struct tmpl_partial parts[] = {{"p", p}};
	sbuf out = SBUF_INIT;
	int rc = tmpl_render(p, tmpl_data_root(d), parts, 1, &out);
	ck_assert(rc == -E2BIG || rc == -ELOOP);
	sbuf_free(&out);
	tmpl_free(p);
	diag_free(&dg);
	tmpl_data_free(d);
}
END_TEST

struct seen {
	char buf[512];
};

static void collect(void *arg, enum tmpl_tag kind, const char *name, int line, int col)
{
	struct seen *s = arg;
	static const char k[] = "vs^>";
	size_t n = strlen(s->buf);
	snprintf(s->buf + n, sizeof s->buf - n, "%c%s@%d:%d ", k[kind], name, line, col);
}

START_TEST(test_each_tag)
{
	struct diag d;
	diag_init(&d);
	const char *src = "{{a}}\n{{#b}}\n {{^c}}{{/c}}{{! x }}{{>p}}{{.}}\n{{/b}}";
	struct tmpl *t = tmpl_compile(src, strlen(src), "t", &d);
	ck_assert_ptr_nonnull(t);
	struct seen s = {""};
	tmpl_each_tag(t, collect, &s);
	ck_assert_str_eq(s.buf, "va@1:1 sb@2:1 ^c@3:2 >p@3:22 v.@3:28 ");
	tmpl_free(t);
	diag_free(&d);
}
END_TEST

START_TEST(test_data_builder)
{
	struct tmpl_data *d = tmpl_data_new();
	struct tmpl_val *r = tmpl_data_root(d);
	/* big values and many of them go through the arena */
	char *big = malloc(100000);
	memset(big, 'q', 99999);
	big[99999] = '\0';
	tmpl_set_str(d, r, "big", big);
	struct tmpl_val *l = tmpl_set_list(d, r, "l");
	for (int i = 0; i < 5000; i++)
		tmpl_set_fmt(d, tmpl_list_add_obj(d, l), "i", "%d,", i);
	ck_assert_int_eq(tmpl_data_error(d), 0);
	const char *src = "{{big}}{{#l}}{{i}}{{/l}}";
	struct diag dg;
	diag_init(&dg);
	struct tmpl *t = tmpl_compile(src, strlen(src), "t", &dg);
	sbuf out = SBUF_INIT;
	ck_assert_int_eq(tmpl_render(t, r, NULL, 0, &out), 0);
	ck_assert_int_eq(memcmp(out.data, big, 99999), 0);
	ck_assert(strstr(out.data, "q0,1,2,") != NULL);
	ck_assert(strstr(out.data, ",4999,") != NULL);
	sbuf_free(&out);
	/* misuse is reported, not crashed on: a named field in a list, an item in an object, NULL parents */
	ck_assert_ptr_null(tmpl_set_str(d, l, "x", "y"));
	ck_assert_int_eq(tmpl_data_error(d), -ENOMEM);
	tmpl_data_free(d);
	d = tmpl_data_new();
	ck_assert_ptr_null(tmpl_list_add_obj(d, tmpl_data_root(d)));
	ck_assert_int_eq(tmpl_data_error(d), -ENOMEM);
	tmpl_data_free(d);
	d = tmpl_data_new();
	ck_assert_ptr_null(tmpl_set_str(d, NULL, "x", "y"));
	ck_assert_int_eq(tmpl_data_error(d), -ENOMEM);
	tmpl_data_free(d);
	ck_assert_ptr_null(tmpl_set_str(NULL, NULL, "x", "y"));
	ck_assert_int_eq(tmpl_data_error(NULL), -ENOMEM);
	tmpl_data_free(NULL);
	tmpl_free(NULL);
	/* an empty render is an empty string, and a NULL root renders only text */
	sbuf e = SBUF_INIT;
	ck_assert_int_eq(tmpl_render(t, NULL, NULL, 0, &e), 0);
	ck_assert_str_eq(e.data, "");
	sbuf_free(&e);
	tmpl_free(t);
	diag_free(&dg);
	free(big);
}
END_TEST

/* Arbitrary bytes never crash the compiler; whatever compiles renders. A cheap in-test fuzz. */
START_TEST(test_random_sources)
{
	static const char *const pieces[] = {"{{", "}}", "{{#items}}", "{{/items}}", "{{^no}}", "{{/no}}", "{{name}}",
	                                     "{{!", "\n", " ", "x", "{{.}}", "{{#yes}}", "{{/yes}}", "{", "}", "\r\n",
	                                     "{{>p}}", "\0"};
	unsigned seed = 12345;
	struct tmpl_data *d = sample();
	const char *ps = "<{{name}}>";
	struct diag pd;
	diag_init(&pd);
	struct tmpl *p = tmpl_compile(ps, strlen(ps), "p", &pd);
	struct tmpl_partial parts[] = {{"p", p}};
	int compiled = 0;
	for (int iter = 0; iter < 3000; iter++) {
		char src[512];
		size_t len = 0;
		int n = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 24;
		for (int i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			const char *pc = pieces[(seed >> 16) % (sizeof pieces / sizeof pieces[0])];
			size_t pl = pc[0] ? strlen(pc) : 1;
			if (len + pl >= sizeof src)
				break;
			memcpy(src + len, pc, pl);
			len += pl;
		}
		struct diag dg;
		diag_init(&dg);
		struct tmpl *t = tmpl_compile(src, len, "f", &dg);
		ck_assert((t != NULL) == (dg.n_errors == 0));
		if (t) {
			sbuf out = SBUF_INIT;
			ck_assert_int_eq(tmpl_render(t, tmpl_data_root(d), parts, 1, &out), 0);
			sbuf_free(&out);
			tmpl_free(t);
			compiled++;
		}
		diag_free(&dg);
	}
	ck_assert_int_gt(compiled, 100);
	tmpl_free(p);
	diag_free(&pd);
	tmpl_data_free(d);
}
END_TEST

Suite *tmpl_suite(void)
{
	Suite *s = suite_create("tmpl");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_render_cases);
	tcase_add_test(tc, test_compile_errors);
	tcase_add_test(tc, test_nesting_limit);
	tcase_add_test(tc, test_partials);
	tcase_add_test(tc, test_render_budget);
	tcase_add_test(tc, test_each_tag);
	tcase_add_test(tc, test_data_builder);
	tcase_add_test(tc, test_random_sources);
	suite_add_tcase(s, tc);
	return s;
}
