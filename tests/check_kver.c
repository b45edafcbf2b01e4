/* check_kver.c - unit tests for kver_cmp: the cases, order laws, sorting determinism. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

static int sgn(int v) { return (v > 0) - (v < 0); }

static const struct {
	const char *a, *b;
	int want; /* sign of kver_cmp(a, b) */
} cases[] = {
	{"6.10", "6.9", 1},
	{"6.9", "6.10", -1},
	{"6.1.0-21", "6.1.0-9", 1},
	{"6.2-rc3", "6.2", -1},
	{"6.2.0-rc3", "6.2.0", -1},
	{"6.2-rc3", "6.2-rc10", -1},
	{"6.2-rc10", "6.1.99", 1},
	{"6.2-rc1", "6.2-amd64", -1},
	{"6.1-alpha", "6.1-beta", -1},
	{"6.1-beta", "6.1-rc1", -1},
	{"5.10.0-28-amd64", "6.1.0-21-amd64", -1},
	{"6.1.0-21-amd64", "6.1.0-9-amd64", 1},
	{"6.1", "6.1.0-21-amd64", -1},
	{"6.1", "6.1", 0},
	{"6.1", "6", 1},
	{"6.1.0-21-amd64", "6.1.0-21-amd64", 0},
	{"6.1.0-21-amd64", "6.1.0-21-cloud-amd64", -1},
	{"6.1.0-21", "6.1.0-21-amd64", -1},
	{"6.8.0-31-generic", "6.8.0-101-generic", -1},
	{"5.14.0-427.el9.x86_64", "5.14.0-362.el9.x86_64", 1},
	{"999999999999999999999999999", "1", 1},
	{"1000000000000000000000000000", "999999999999999999999999999", 1},
	{"linux", "6.1", -1},
	{"linux-lts", "0", -1},
	{"linux", "linux-lts", 1}, /* newest first lists words alphabetically: latest on Arch is "linux" */
	{"linux-lts", "linux-zen", 1},
	{"linux", "linux", 0},
	{"", "", 0},
	{"", "6.1", -1},
	{"6.1", "v6.2", 1}, /* a leading word makes it non-numeric */
};

START_TEST(test_table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = sgn(kver_cmp(cases[i].a, cases[i].b));
		ck_assert_msg(got == cases[i].want, "kver_cmp(\"%s\", \"%s\") = %d, want %d", cases[i].a, cases[i].b,
			      got, cases[i].want);
		ck_assert_int_eq(sgn(kver_cmp(cases[i].b, cases[i].a)), -cases[i].want);
	}
}
END_TEST

/* Ties of the version order are broken bytewise: 0 only for identical strings. */
START_TEST(test_tie_break)
{
	static const char *const same[] = {"6.1", "6.01", "6-1", "6..1", "06.001"};
	for (size_t i = 0; i < 5; i++)
		for (size_t j = 0; j < 5; j++) {
			int c = sgn(kver_cmp(same[i], same[j]));
			ck_assert_int_eq(c, sgn(strcmp(same[i], same[j])));
		}
	/* but still above 6.0 and below 6.2 */
	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_gt(kver_cmp(same[i], "6.0"), 0);
		ck_assert_int_lt(kver_cmp(same[i], "6.2"), 0);
	}
}
END_TEST

static const char *const pool[] = {
	"6.10", "6.9", "6.1", "6.1.0", "6.01", "6-1", "6.1.0-21", "6.1.0-9", "6.1.0-21-amd64", "6.1.0-9-amd64",
	"6.2-rc3", "6.2-rc10", "6.2", "6.2.0", "6.2.0-rc3", "5.10.0-28-amd64", "linux", "linux-lts", "linux-zen", "",
	"-", "--rc", "rc", "rc1", "1rc", "1-rc", "1.rc.1", "1.a", "1.A", "1.b2", "0", "00", "0.0", "a.1", "\x01",
	"\xff",
	"6.1\xff", "6.1.0-21~bpo", "6.1.0-21+deb12u1", "2.6.32-5-686", "3.0-rc1", "3.0", "v6.2", "6.1.0-rc", "6.1-pre",
	"6.1-alpha2", "6.1-beta", "6.1.0-21-rt-amd64", "999999999999999999999", "1000000000000000000000",
};
#define NPOOL (sizeof(pool) / sizeof(pool[0]))

START_TEST(test_order_laws)
{
	for (size_t i = 0; i < NPOOL; i++) {
		ck_assert_int_eq(kver_cmp(pool[i], pool[i]), 0);
		for (size_t j = 0; j < NPOOL; j++) {
			int ab = sgn(kver_cmp(pool[i], pool[j])), ba = sgn(kver_cmp(pool[j], pool[i]));
			ck_assert_msg(ab == -ba, "antisymmetry: %zu %zu", i, j);
			ck_assert_msg((ab == 0) == (strcmp(pool[i], pool[j]) == 0), "total: %zu %zu", i, j);
			for (size_t k = 0; k < NPOOL; k++) {
				int bc = sgn(kver_cmp(pool[j], pool[k])), ac = sgn(kver_cmp(pool[i], pool[k]));
				if (ab <= 0 && bc <= 0)
					ck_assert_msg(ac <= 0, "transitivity: %zu %zu %zu", i, j, k);
			}
		}
	}
}
END_TEST

/* Random byte strings (all bytes but NUL): no crash, laws hold. Deterministic generator. */
static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

START_TEST(test_random_bytes)
{
	enum { N = 300 };
	static char buf[N][12];
	static const char alphabet[] = "0123456789.-_~+rcab\x80\xff\x01 ";
	for (int i = 0; i < N; i++) {
		int len = (int)(rnd() % 11);
		for (int j = 0; j < len; j++)
			buf[i][j] = (rnd() % 4) ? alphabet[rnd() % (sizeof(alphabet) - 1)] : (char)(1 + rnd() % 255);
		buf[i][len] = '\0';
	}
	for (int i = 0; i < N; i++)
		for (int j = 0; j < N; j++) {
			int ab = sgn(kver_cmp(buf[i], buf[j]));
			ck_assert_int_eq(ab, -sgn(kver_cmp(buf[j], buf[i])));
			ck_assert_int_eq(ab == 0, strcmp(buf[i], buf[j]) == 0);
		}
	for (int t = 0; t < 20000; t++) {
		const char *a = buf[rnd() % N], *b = buf[rnd() % N], *c = buf[rnd() % N];
		if (kver_cmp(a, b) <= 0 && kver_cmp(b, c) <= 0)
			ck_assert(kver_cmp(a, c) <= 0);
	}
}
END_TEST

static int cmp_desc(const void *a, const void *b) { return kver_cmp(*(const char *const *)b, *(const char *const *)a); }

START_TEST(test_sort_newest_first)
{
	const char *v[] = {"5.10.0-28-amd64", "linux-lts", "6.1.0-9-amd64", "6.1", "6.2-rc3", "linux",
			   "6.1.0-21-amd64", "6.10.0-1-amd64", "6.2"};
	static const char *const want[] = {"6.10.0-1-amd64", "6.2", "6.2-rc3", "6.1.0-21-amd64", "6.1.0-9-amd64",
					   "6.1", "5.10.0-28-amd64", "linux", "linux-lts"};
	qsort(v, 9, sizeof(v[0]), cmp_desc);
	for (int i = 0; i < 9; i++)
		ck_assert_str_eq(v[i], want[i]);
}
END_TEST

/* Whatever order the input comes in, the sorted result is the same. */
START_TEST(test_sort_deterministic)
{
	const char *ref[NPOOL], *tmp[NPOOL];
	memcpy(ref, pool, sizeof(ref));
	qsort(ref, NPOOL, sizeof(ref[0]), cmp_desc);
	for (int round = 0; round < 50; round++) {
		memcpy(tmp, pool, sizeof(tmp));
		for (size_t i = NPOOL - 1; i > 0; i--) {
			size_t j = rnd() % (i + 1);
			const char *x = tmp[i];
			tmp[i] = tmp[j];
			tmp[j] = x;
		}
		qsort(tmp, NPOOL, sizeof(tmp[0]), cmp_desc);
		for (size_t i = 0; i < NPOOL; i++)
			ck_assert_ptr_eq(tmp[i], ref[i]);
	}
	for (size_t i = 1; i < NPOOL; i++)
		ck_assert_int_gt(kver_cmp(ref[i - 1], ref[i]), 0);
}
END_TEST

Suite *kver_suite(void)
{
	Suite *s = suite_create("kver");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_tie_break);
	tcase_add_test(tc, test_order_laws);
	tcase_add_test(tc, test_random_bytes);
	tcase_add_test(tc, test_sort_newest_first);
	tcase_add_test(tc, test_sort_deterministic);
	suite_add_tcase(s, tc);
	return s;
}
