/* check_cpus.c - unit tests for cpus.c: cgroup quota files, mountinfo and /proc/<pid>/cgroup as the kernel writes
 * them (v1, v2, a container's bind-mounted subtree), and the budget read from this process's own state. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "cpus.h"

START_TEST(test_cpu_max)
{
	unsigned m = 7;
	ck_assert_int_eq(cpus_parse_cpu_max("max 100000\n", &m), 0);
	ck_assert_uint_eq(m, 7); /* untouched without a quota */
	ck_assert_int_eq(cpus_parse_cpu_max("50000 100000\n", &m), 1);
	ck_assert_uint_eq(m, 500);
	ck_assert_int_eq(cpus_parse_cpu_max("200000 100000", &m), 1);
	ck_assert_uint_eq(m, 2000);
	ck_assert_int_eq(cpus_parse_cpu_max("150000 100000\n", &m), 1);
	ck_assert_uint_eq(m, 1500);
	ck_assert_int_eq(cpus_parse_cpu_max("1 100000\n", &m), 1); /* rounded up, never 0 */
	ck_assert_uint_eq(m, 1);
	ck_assert_int_eq(cpus_parse_cpu_max("0 100000\n", &m), 1);
	ck_assert_uint_eq(m, 1);
	ck_assert_int_eq(cpus_parse_cpu_max("33334 100000\n", &m), 1);
	ck_assert_uint_eq(m, 334);
	ck_assert_int_eq(cpus_parse_cpu_max("18446744073709551615 1\n", &m), 1); /* saturates */
	ck_assert_uint_eq(m, UINT_MAX);
	const char *bad[] = {"", "\n", "max", "max\n", "50000", "50000\n", "50000 0\n", "-1 100000\n", "5e4 100000\n",
	                     "50000 100000 7\n", "maximum 100000\n", "50000  x\n", "18446744073709551616 100000\n",
	                     " 50000 100000\n"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(cpus_parse_cpu_max(bad[i], &m) == -EINVAL, "'%s' was taken", bad[i]);
}
END_TEST

START_TEST(test_cfs)
{
	unsigned m = 7;
	ck_assert_int_eq(cpus_parse_cfs("-1\n", "100000\n", &m), 0);
	ck_assert_uint_eq(m, 7);
	ck_assert_int_eq(cpus_parse_cfs("50000\n", "100000\n", &m), 1);
	ck_assert_uint_eq(m, 500);
	ck_assert_int_eq(cpus_parse_cfs("250000", "100000", &m), 1);
	ck_assert_uint_eq(m, 2500);
	ck_assert_int_eq(cpus_parse_cfs("1000", "1000000\n", &m), 1);
	ck_assert_uint_eq(m, 1);
	ck_assert_int_eq(cpus_parse_cfs("50000\n", "0\n", &m), -EINVAL);
	ck_assert_int_eq(cpus_parse_cfs("50000\n", "\n", &m), -EINVAL);
	ck_assert_int_eq(cpus_parse_cfs("\n", "100000\n", &m), -EINVAL);
	ck_assert_int_eq(cpus_parse_cfs("-2\n", "100000\n", &m), -EINVAL);
	ck_assert_int_eq(cpus_parse_cfs("-1x\n", "100000\n", &m), -EINVAL);
	ck_assert_int_eq(cpus_parse_cfs("50000 1\n", "100000\n", &m), -EINVAL);
}
END_TEST

/* Debian 12 (cgroup v2 only) */
static const char *mi_v2 = "22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
                           "24 22 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
                           "rw,nsdelegate,memory_recursiveprot\n";
/* a hybrid host: v1 controllers, v2 for systemd only; the cpu controller is in v1 */
static const char *mi_hybrid =
	"25 22 0:23 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
	"26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid shared:5 - cgroup2 cgroup2 rw\n"
	"29 25 0:27 / /sys/fs/cgroup/cpuset rw,nosuid shared:10 - cgroup cgroup rw,cpuset\n"
	"30 25 0:28 / /sys/fs/cgroup/cpuacct rw,nosuid shared:11 - cgroup cgroup rw,cpuacct\n"
	"31 25 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:12 master:3 - cgroup cgroup rw,cpu,cpuacct\n";
/* inside a container without a cgroup namespace: its own cgroup bind-mounted, a space in a path */
static const char *mi_docker = "612 600 0:29 /docker/ab\\040c /sys/fs/cgroup/cpu ro,nosuid - cgroup cgroup rw,cpu\n";

START_TEST(test_mounts)
{
	struct cg_mount m;
	ck_assert_int_eq(cpus_mount_find(mi_v2, &m), 0);
	ck_assert_int_eq(m.v1, 0);
	ck_assert_str_eq(m.point, "/sys/fs/cgroup");
	ck_assert_str_eq(m.root, "/");
	ck_assert_int_eq(cpus_mount_find(mi_hybrid, &m), 0);
	ck_assert_int_eq(m.v1, 1); /* not the unified mount listed first, nor cpuset or cpuacct */
	ck_assert_str_eq(m.point, "/sys/fs/cgroup/cpu,cpuacct");
	ck_assert_int_eq(cpus_mount_find(mi_docker, &m), 0);
	ck_assert_int_eq(m.v1, 1);
	ck_assert_str_eq(m.root, "/docker/ab c");
	ck_assert_str_eq(m.point, "/sys/fs/cgroup/cpu");
	ck_assert_int_eq(cpus_mount_find("", &m), -ENOENT);
	ck_assert_int_eq(cpus_mount_find("29 25 0:27 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n", &m),
	                 -ENOENT);
	ck_assert_int_eq(cpus_mount_find("29 25 0:27 / /x rw\n30 25 0:27 /\n31\n - cgroup2\n", &m), -ENOENT);
}
END_TEST

START_TEST(test_cgroup_path)
{
	char p[64];
	const char *v1 = "12:cpuset:/\n4:cpu,cpuacct:/system.slice/autopxe.service\n0::/system.slice/autopxe.service\n";
	ck_assert_int_eq(cpus_cgroup_path(v1, 1, p, sizeof p), 0);
	ck_assert_str_eq(p, "/system.slice/autopxe.service");
	ck_assert_int_eq(cpus_cgroup_path("3:cpuacct:/a\n1:cpu:/b\n", 1, p, sizeof p), 0);
	ck_assert_str_eq(p, "/b");
	ck_assert_int_eq(cpus_cgroup_path("0::/user.slice/x:y\n", 0, p, sizeof p), 0);
	ck_assert_str_eq(p, "/user.slice/x:y"); /* a colon inside the path */
	ck_assert_int_eq(cpus_cgroup_path("0::/\n", 0, p, sizeof p), 0);
	ck_assert_str_eq(p, "/");
	ck_assert_int_eq(cpus_cgroup_path("3:cpuacct:/a\n", 1, p, sizeof p), -ENOENT);
	ck_assert_int_eq(cpus_cgroup_path("1:name=systemd:/\n", 0, p, sizeof p), -ENOENT);
	ck_assert_int_eq(cpus_cgroup_path("0::\n", 0, p, sizeof p), -ENOENT);
	ck_assert_int_eq(cpus_cgroup_path("garbage", 0, p, sizeof p), -ENOENT);
	ck_assert_int_eq(cpus_cgroup_path("0::/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 0, p,
	                                  sizeof p),
	                 -ENAMETOOLONG);
}
END_TEST

START_TEST(test_cgroup_dir)
{
	char d[128];
	struct cg_mount m = {.v1 = 0};
	strcpy(m.root, "/");
	strcpy(m.point, "/sys/fs/cgroup");
	ck_assert_int_eq(cpus_cgroup_dir(&m, "/system.slice/autopxe.service", d, sizeof d), 0);
	ck_assert_str_eq(d, "/sys/fs/cgroup/system.slice/autopxe.service");
	ck_assert_int_eq(cpus_cgroup_dir(&m, "/", d, sizeof d), 0);
	ck_assert_str_eq(d, "/sys/fs/cgroup");
	strcpy(m.root, "/docker/abc");
	ck_assert_int_eq(cpus_cgroup_dir(&m, "/docker/abc", d, sizeof d), 0);
	ck_assert_str_eq(d, "/sys/fs/cgroup");
	ck_assert_int_eq(cpus_cgroup_dir(&m, "/docker/abc/sub", d, sizeof d), 0);
	ck_assert_str_eq(d, "/sys/fs/cgroup/sub");
	ck_assert_int_eq(cpus_cgroup_dir(&m, "/docker/abcd", d, sizeof d), 0); /* not under /docker/abc */
	ck_assert_str_eq(d, "/sys/fs/cgroup");
	ck_assert_int_eq(cpus_cgroup_dir(&m, "/elsewhere", d, sizeof d), 0);
	ck_assert_str_eq(d, "/sys/fs/cgroup");
	ck_assert_int_eq(cpus_cgroup_dir(&m, "/docker/abc/sub", d, 10), -ENAMETOOLONG);
}
END_TEST

/* The budget of this process follows its own affinity mask; the quota can only lower the usable count. */
START_TEST(test_budget_affinity)
{
	cpu_set_t was, one;
	ck_assert_int_eq(sched_getaffinity(0, sizeof was, &was), 0);
	struct cpu_budget b;
	cpu_budget_read(&b);
	ck_assert_uint_eq(b.affinity, (unsigned)CPU_COUNT(&was));
	ck_assert_uint_ge(b.usable, 1);
	ck_assert_uint_le(b.usable, b.affinity);
	if (b.quota_milli == 0)
		ck_assert_uint_eq(b.usable, b.affinity);
	else /* the quota rounded up, when that is fewer */
		ck_assert_uint_eq(b.usable, (b.quota_milli + 999u) / 1000u < b.affinity ? (b.quota_milli + 999u) / 1000u
		                                                                         : b.affinity);
	ck_assert_uint_eq(usable_cpus(), b.usable);
	ck_assert_uint_ge(online_cpus(), b.affinity);
	int first = -1;
	for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
		if (CPU_ISSET(i, &was))
			first = i;
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
	cpu_budget_read(&b);
	ck_assert_int_eq(sched_setaffinity(0, sizeof was, &was), 0);
	ck_assert_uint_eq(b.affinity, 1);
	ck_assert_uint_eq(b.usable, 1);
}
END_TEST

START_TEST(test_quota_binds)
{
	struct cpu_budget b = {.affinity = 2, .quota_milli = 0, .usable = 2};
	ck_assert(!cpu_quota_binds(&b));
	b.quota_milli = 500;
	ck_assert(cpu_quota_binds(&b));
	b.quota_milli = 2000; /* all the mask allows: the HTTP threads' share would go to polling */
	ck_assert(cpu_quota_binds(&b));
	b.quota_milli = 2001;
	ck_assert(!cpu_quota_binds(&b));
}
END_TEST

Suite *cpus_suite(void)
{
	Suite *s = suite_create("cpus");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_cpu_max);
	tcase_add_test(tc, test_cfs);
	tcase_add_test(tc, test_mounts);
	tcase_add_test(tc, test_cgroup_path);
	tcase_add_test(tc, test_cgroup_dir);
	tcase_add_test(tc, test_budget_affinity);
	tcase_add_test(tc, test_quota_binds);
	suite_add_tcase(s, tc);
	return s;
}
