/* kver.c - kernel-version order (kver_cmp) used to sort a release's kernels newest first. */
#include "scan.h"

#include <string.h>

/*
 * The order, in short: a version is split into tokens, each a run of digits (NUM) or a run of
 * ASCII letters (WORD); every other byte only separates tokens. Two versions are compared token
 * by token, ranking what comes next on each side:
 *     PRE ("rc", "alpha", "beta", "pre")  <  end of string  <  WORD  <  NUM
 * so 6.2-rc3 < 6.2 < 6.2-amd64 < 6.2.1. NUMs compare by value (any length, leading zeros
 * ignored), WORDs and PREs bytewise. Strings that do not start with a digit (after separators:
 * "linux", "linux-lts", "") are older than every numeric version and order among themselves in
 * reverse byte order, so a newest-first list shows "linux" before "linux-lts" and "latest" on Arch
 * is "linux". Ties of the token order (6.1 vs 6.01 vs 6-1) are broken by strcmp, so kver_cmp
 * returns 0 only for identical strings: a total, antisymmetric, transitive order.
 */

enum kv_rank { KV_PRE = 0, KV_END = 1, KV_WORD = 2, KV_NUM = 3 };

struct kv_tok {
	enum kv_rank rank;
	const char *s;
	size_t n;
};

static int kv_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int kv_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int kv_is_pre(const char *s, size_t n)
{
	static const char *const pre[] = {"rc", "alpha", "beta", "pre"};
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
		if (strlen(pre[i]) == n && memcmp(pre[i], s, n) == 0)
			return 1;
	return 0;
}

/* Read the next token at *p and advance past it. */
static void kv_next(const char **p, struct kv_tok *t)
{
	const unsigned char *s = (const unsigned char *)*p;
	while (*s && !kv_digit(*s) && !kv_alpha(*s))
		s++;
	const unsigned char *start = s;
	if (!*s) {
		t->rank = KV_END;
	} else if (kv_digit(*s)) {
		while (kv_digit(*s))
			s++;
		t->rank = KV_NUM;
	} else {
		while (kv_alpha(*s))
			s++;
		t->rank = kv_is_pre((const char *)start, (size_t)(s - start)) ? KV_PRE : KV_WORD;
	}
	t->s = (const char *)start;
	t->n = (size_t)(s - start);
	*p = (const char *)s;
}

static int kv_sign(int v) { return (v > 0) - (v < 0); }

static int kv_num_cmp(const struct kv_tok *a, const struct kv_tok *b)
{
	const char *x = a->s, *y = b->s;
	size_t nx = a->n, ny = b->n;
	while (nx > 1 && *x == '0')
		x++, nx--;
	while (ny > 1 && *y == '0')
		y++, ny--;
	if (nx != ny)
		return nx < ny ? -1 : 1;
	return kv_sign(memcmp(x, y, nx));
}

static int kv_text_cmp(const struct kv_tok *a, const struct kv_tok *b)
{
	size_t n = a->n < b->n ? a->n : b->n;
	int c = memcmp(a->s, b->s, n);
	if (c)
		return kv_sign(c);
	return a->n == b->n ? 0 : (a->n < b->n ? -1 : 1);
}

static int kv_numeric(const char *s)
{
	struct kv_tok t;
	kv_next(&s, &t);
	return t.rank == KV_NUM;
}

int kver_cmp(const char *a, const char *b)
{
	int na = kv_numeric(a), nb = kv_numeric(b);
	if (na != nb)
		return na ? 1 : -1;
	if (!na)
		return -kv_sign(strcmp(a, b));
	const char *pa = a, *pb = b;
	for (;;) {
		struct kv_tok ta, tb;
		kv_next(&pa, &ta);
		kv_next(&pb, &tb);
		if (ta.rank != tb.rank)
			return ta.rank < tb.rank ? -1 : 1;
		if (ta.rank == KV_END)
			break;
		int c = ta.rank == KV_NUM ? kv_num_cmp(&ta, &tb) : kv_text_cmp(&ta, &tb);
		if (c)
			return c;
	}
	return kv_sign(strcmp(a, b));
}
