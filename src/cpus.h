/* cpus.h - how many CPUs this process may use: the calling thread's affinity mask and its cgroup's CPU quota.
 *
 * taskset, systemd's CPUAffinity= and a container's cpuset narrow the affinity mask; `docker run --cpus=1`,
 * systemd's CPUQuota= and Kubernetes CPU limits set a CFS quota instead (cgroup v2 cpu.max, or v1
 * cpu.cfs_quota_us / cpu.cfs_period_us), which the mask does not show. The TFTP loops and the HTTP thread pool are
 * sized from both (docs/tftp.md, "CPUs and quotas"). The parsers below are pure, for the unit tests and the fuzzer;
 * cpu_budget_read() does the file reads. */
#ifndef AUTOPXE_CPUS_H
#define AUTOPXE_CPUS_H

#include <stddef.h>

struct cpu_budget {
	unsigned affinity;    /* CPUs in the calling thread's affinity mask (the online count if unreadable); >= 1 */
	unsigned quota_milli; /* the tightest CPU quota from the thread's cgroup up to the mount root, in 1/1000 CPU;
	                       * 0: no quota */
	unsigned usable;      /* affinity, or fewer when the quota rounded up is fewer; >= 1 */
};

/* Where the cpu controller's hierarchy is mounted (from /proc/self/mountinfo). */
struct cg_mount {
	int v1;          /* 1: a cgroup v1 hierarchy with the cpu controller; 0: the cgroup v2 hierarchy */
	char root[1024]; /* the cgroup directory mounted there ("/" unless a container bind-mounted a subtree) */
	char point[1024];
};

/* Reads the affinity mask and the quota of the calling thread's cgroup (and its ancestors) now. */
void cpu_budget_read(struct cpu_budget *b);

/* cpu_budget_read()'s usable count. */
unsigned usable_cpus(void);

/* CPUs online on the machine (sysconf); >= 1. */
unsigned online_cpus(void);

/* True when the quota is no more than the CPUs the mask allows: spinning threads would spend what the work needs,
 * and the kernel stops every thread of the cgroup for the rest of the period once it is spent. */
int cpu_quota_binds(const struct cpu_budget *b);

/* cgroup v2 cpu.max ("max 100000" or "<quota> <period>"): 1 and *milli (quota / period in 1/1000 CPU, rounded
 * up, >= 1), 0 for no quota, -EINVAL for anything else. */
int cpus_parse_cpu_max(const char *text, unsigned *milli);

/* cgroup v1 cpu.cfs_quota_us and cpu.cfs_period_us: the same answers; a quota of -1 is no quota. */
int cpus_parse_cfs(const char *quota_text, const char *period_text, unsigned *milli);

/* The cpu controller's mount in a /proc/self/mountinfo text: a v1 hierarchy carrying "cpu" first (a controller
 * lives in one hierarchy only), else the v2 one. 0, or -ENOENT when neither is mounted. */
int cpus_mount_find(const char *mountinfo, struct cg_mount *m);

/* The thread's cgroup in that hierarchy, from a /proc/<pid>/cgroup text ("0::/path" for v2,
 * "<id>:<controllers>:/path" for v1). 0, -ENOENT, or -ENAMETOOLONG. */
int cpus_cgroup_path(const char *proc_cgroup, int v1, char *out, size_t outlen);

/* The directory of cgroup cgpath under mount m (the mount point itself when cgpath lies outside the mounted
 * subtree, as it can inside a container). 0 or -ENAMETOOLONG. */
int cpus_cgroup_dir(const struct cg_mount *m, const char *cgpath, char *out, size_t outlen);

#endif
