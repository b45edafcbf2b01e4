/* it_k8s.c - integration tests of the fleet deployment files: dist/k8s manifests and compose.two.yml parsed and
 * checked, the ConfigMap's config loaded by the real server, and a ConfigMap update (kubelet's ..data swap) reloaded. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

#define MACHEX "525400001703"

static struct itest_server srv;

/* Run a shell command, require exit status want_rc, return its stdout (caller frees). */
static char *run_out(int want_rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *run_out(int want_rc, const char *fmt, ...)
{
	char cmd[8192], *out = NULL;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int rc = itest_run(&out, "%s", cmd);
	ck_assert_msg(rc == want_rc, "command exited %d, want %d: %s\n%s", rc, want_rc, cmd, out ? out : "");
	return out ? out : strdup("");
}

static void setup(void)
{
	ck_assert_int_eq(itest_prepare(&srv), 0);
}

static void teardown(void)
{
	if (srv.pid > 0)
		ck_assert_int_eq(itest_stop(&srv), 0);
	itest_cleanup(&srv);
}

START_TEST(test_manifests_fields)
{
	char *o;
	if (itest_run(NULL, "python3 -c 'import yaml'") != 0) {
		fprintf(stderr, "it_k8s: SKIPPED: python3-yaml is not installed\n");
		return;
	}
	o = run_out(0, "python3 tests/k8s_manifests.py dist/k8s");
	ck_assert_msg(strstr(o, "k8s manifests: ok"), "%s", o);
	free(o);
	/* the checker fails on what matters: each mutation of a copy is caught */
	static const char *const breaks[][2] = {
	    {"daemonset.yaml", "s/hostNetwork: true/hostNetwork: false/"},
	    {"daemonset.yaml", "s/add: \\[\"NET_BIND_SERVICE\"\\]/add: [\"NET_BIND_SERVICE\", \"NET_ADMIN\"]/"},
	    {"daemonset.yaml", "s/drop: \\[\"ALL\"\\]/drop: [\"NET_RAW\"]/"},
	    {"daemonset.yaml", "s/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/"},
	    {"daemonset.yaml", "s/allowPrivilegeEscalation: true/allowPrivilegeEscalation: false/"},
	    {"daemonset.yaml", "0,/path: \\/healthz/s//path: \\/metrics/"},
	    {"daemonset.yaml", "s/mountPath: \\/etc\\/autopxe\\/config, readOnly: true}/mountPath: \\/etc\\/autopxe\\/config, "
	                       "subPath: config.yaml, readOnly: true}/"},
	    {"configmap.yaml", "s/Watch: true/Watch: false/"},
	    {"secret.yaml", "s/state-url:/other-url:/"},
	};
	for (size_t i = 0; i < sizeof breaks / sizeof breaks[0]; i++) {
		o = run_out(0,
		           "rm -rf '%s/k' && mkdir -p '%s/k/dist' && cp -r dist/k8s '%s/k/dist/' && cp compose.two.yml '%s/k/' && "
		           "sed -i '%s' '%s/k/dist/k8s/%s' && ! cmp -s dist/k8s/%s '%s/k/dist/k8s/%s' && echo changed",
		           srv.dir, srv.dir, srv.dir, srv.dir, breaks[i][1], srv.dir, breaks[i][0], breaks[i][0], srv.dir,
		           breaks[i][0]);
		ck_assert_msg(strstr(o, "changed"), "mutation %zu did not apply", i);
		free(o);
		o = run_out(1, "python3 tests/k8s_manifests.py '%s/k/dist/k8s'", srv.dir);
		ck_assert_msg(strstr(o, "problem"), "mutation %zu (%s) not caught:\n%s", i, breaks[i][1], o);
		free(o);
	}
}
END_TEST

/* Lay out dir/cm the way kubelet mounts a ConfigMap: config.yaml -> ..data/config.yaml, ..data -> ..<ts>. */
static void configmap_write(const char *ts, const char *default_distro)
{
	char cwd[512];
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
	char *o = run_out(0,
	                 "set -e; cd '%s'; mkdir -p cm/..%s state; "
	                 "python3 - '%s' '%s' '%s' '%s/dist/k8s/configmap.yaml' <<'EOF'\n"
	                 "import sys, yaml\n"
	                 "dir, ts, dd = sys.argv[1], sys.argv[2], sys.argv[3]\n"
	                 "cm = [d for d in yaml.safe_load_all(open(sys.argv[4]))][0]\n"
	                 "c = yaml.safe_load(cm['data']['config.yaml'])\n"
	                 "c['RootfsPath'] = dir + '/rootfs'; c['CacheDir'] = dir + '/cache'; c['StateDir'] = dir + '/state'\n"
	                 "c['StateURLFile'] = dir + '/secret/state-url'; c['APITokenFile'] = dir + '/secret/api-token'\n"
	                 "c['DefaultDistro'] = dd\n"
	                 "open(dir + '/cm/..' + ts + '/config.yaml', 'w').write(yaml.safe_dump(c))\n"
	                 "EOF\n"
	                 "cd cm; ln -sfn ..%s ..data_tmp; mv -T ..data_tmp ..data; [ -L config.yaml ] || ln -s ..data/config.yaml "
	                 "config.yaml; echo ok",
	                 srv.dir, ts, srv.dir, ts, default_distro, cwd, ts);
	ck_assert_msg(strstr(o, "ok"), "%s", o);
	free(o);
}

static void menu_default(char *out, size_t len)
{
	char *m = run_out(0, "curl -s -m 10 'http://127.0.0.1:%u/autopxe-" MACHEX "'", srv.http_port);
	const char *p = strstr(m, "choose --default ");
	ck_assert_msg(p != NULL, "no default in menu:\n%s", m);
	p += strlen("choose --default ");
	snprintf(out, len, "%.*s", (int)strcspn(p, " \n"), p);
	free(m);
}

START_TEST(test_configmap_config_and_update)
{
	char def[256];
	if (itest_run(NULL, "python3 -c 'import yaml'") != 0) {
		fprintf(stderr, "it_k8s: SKIPPED: python3-yaml is not installed\n");
		return;
	}
	/* the Secret's files: a StateURL (SQLite here: no database needed) and a token */
	free(run_out(0, "mkdir -p '%s/secret' && echo 'sqlite://%s/state/fleet.db' > '%s/secret/state-url' && "
	               "echo token > '%s/secret/api-token'",
	            srv.dir, srv.dir, srv.dir, srv.dir));
	configmap_write("2026_12_03_00_00_00.1", "debian/bookworm/latest/nfs");
	snprintf(srv.config, sizeof srv.config, "%s/cm/config.yaml", srv.dir);
	char *o = run_out(0, "'%s' --config '%s' check-config 2>&1", getenv("AUTOPXE_BIN") ? getenv("AUTOPXE_BIN") : "build/autopxe-san",
	                 srv.config);
	ck_assert_msg(strstr(o, ": ok ("), "the ConfigMap's config does not load:\n%s", o);
	free(o);
	ck_assert_int_eq(itest_start(&srv, 1, 1, NULL), 0);
	menu_default(def, sizeof def);
	ck_assert_str_eq(def, "debian/bookworm/latest/nfs");
	/* StateURLFile was used: the SQLite file it names exists */
	o = run_out(0, "ls '%s/state'", srv.dir);
	ck_assert_msg(strstr(o, "fleet.db"), "StateURLFile ignored: %s", o);
	free(o);
	/* kubelet's update: a new ..<ts> directory and an atomic rename of ..data; config.yaml itself is untouched */
	configmap_write("2026_12_03_00_05_00.2", "debian/trixie/latest/nfs");
	for (int i = 0; i < 60; i++) {
		menu_default(def, sizeof def);
		if (strcmp(def, "debian/trixie/latest/nfs") == 0)
			break;
		itest_msleep(100);
	}
	ck_assert_str_eq(def, "debian/trixie/latest/nfs");
}
END_TEST

Suite *k8s_it_suite(void)
{
	Suite *s = suite_create("k8s_it");
	TCase *tc = tcase_create("k8s");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_manifests_fields);
	tcase_add_test(tc, test_configmap_config_and_update);
	suite_add_tcase(s, tc);
	return s;
}
