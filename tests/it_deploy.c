/* it_deploy.c - integration tests of deployment: build-ipxe.sh, docker-build.sh, the buildah image, unit and man page. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "util.h"

#define BUILD_IPXE "embedded/build-ipxe.sh"

static char tmp[256]; /* per-test scratch directory */

static void setup(void)
{
	snprintf(tmp, sizeof tmp, "/tmp/it-deploy.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown(void)
{
	if (tmp[0])
		itest_run(NULL, "rm -rf '%s'", tmp);
	tmp[0] = '\0';
}

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* Write a file under tmp. */
static void put(const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", tmp, rel);
	ck_assert_int_eq(itest_run(NULL, "mkdir -p \"$(dirname '%s')\"", path), 0);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* A stand-in iPXE tree: make "builds" a goal by writing its name and the embedded script into it, logs
 * every invocation, and (FAKE_NEEDS_LEGACY=1) fails unless given the flags old trees need. */
static const char fake_makefile[] =
    "# fake iPXE Makefile for it_deploy\n"
    "bin/% bin-x86_64-efi/%:\n"
    "\t@echo \"$@ NO_WERROR=$(NO_WERROR) EXTRA_CFLAGS=$(EXTRA_CFLAGS) DEBUG=$(DEBUG)\" >> make.log\n"
    "\t@if [ \"$(FAKE_NEEDS_LEGACY)\" = 1 ] && [ \"$(EXTRA_CFLAGS)\" != -fcommon ]; then "
    "echo 'multiple definition of `foo' >&2; exit 1; fi\n"
    "\t@mkdir -p $(dir $@)\n"
    "\t@{ echo \"fake $@\"; cat $(EMBED); } > $@\n";

static void fake_tree(int modern)
{
	put("ipxe/src/Makefile", fake_makefile);
	/* the 2019 tree mentions -fno-common in a comment only; what counts is the CFLAGS line */
	put("ipxe/src/Makefile.housekeeping",
	    modern ? "ifeq ($(CCTYPE),gcc)\nCFLAGS\t\t+= -ffreestanding\nCFLAGS\t\t+= -fno-common\nendif\n"
	           : "# some older versions of gcc treat -fdata-sections as\n# implying -fno-common, which would break our build.\n"
	             "CFLAGS\t\t+= -Os\n");
}

/* ------------------------------------------------------------------ build-ipxe.sh: usage errors */

static const struct {
	const char *args;
	int status;
	const char *msg;
} bad_args[] = {
    {"--http-port 0", 2, "--http-port must be a port number 1..65535, got '0'"},
    {"--http-port 65536", 2, "--http-port must be a port number"},
    {"--http-port 080", 2, "--http-port must be a port number"},
    {"--tftp-port abc", 2, "--tftp-port must be a port number 1..65535, got 'abc'"},
    {"--tftp-port ''", 2, "--tftp-port must be a port number"},
    {"--server 'a b'", 2, "--server 'a b' is not a host name or address"},
    {"--server 'x;reboot'", 2, "is not a host name or address"},
    {"--bogus", 2, "unknown option '--bogus'"},
    {"--src", 2, "option --src needs a value"},
    {"--out", 2, "option --out needs a value"},
    {"--targets foo.bin", 2, "unknown target 'foo.bin'"},
    {"--targets ''", 2, "--targets is empty"},
    {"--jobs 0", 2, "--jobs must be a positive number"},
    {"-j x", 2, "--jobs must be a positive number"},
    {"--src /tmp --git-url file:///x", 2, "give either --src or --git-url, not both"},
    {"--src /tmp --git-ref v1", 2, "--git-ref only applies when cloning"},
    {"--script /nonexistent/s.ipxe", 2, "script '/nonexistent/s.ipxe' not found"},
    {"--out ''", 2, "--out must not be empty"},
    {"--src /nonexistent/ipxe", 4, "no iPXE source tree: '/nonexistent/ipxe' does not exist"},
};

START_TEST(test_build_ipxe_bad_args)
{
	char *out = NULL;
	int st = itest_run(&out, BUILD_IPXE " %s --work '%s/w' --dry-run 2>&1", bad_args[_i].args, tmp);
	ck_assert_msg(st == bad_args[_i].status, "%s: status %d, want %d; output:\n%s", bad_args[_i].args, st,
	              bad_args[_i].status, out);
	ck_assert_msg(out && strstr(out, bad_args[_i].msg), "%s: no '%s' in:\n%s", bad_args[_i].args, bad_args[_i].msg,
	              out);
	ck_assert_msg(strstr(out, "build-ipxe: error: "), "errors carry the tool's prefix: %s", out);
	free(out);
}
END_TEST

START_TEST(test_build_ipxe_help)
{
	char *out = NULL;
	ck_assert_int_eq(itest_run(&out, BUILD_IPXE " --help 2>&1"), 0);
	static const char *const words[] = {"--src", "--git-url", "--git-ref", "--server", "--http-port", "--tftp-port",
	                                    "--out", "--dry-run", "--print-script", "--legacy", "liblzma-dev",
	                                    "/usr/local/share/autopxe/ipxe"};
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		ck_assert_msg(strstr(out, words[i]), "--help does not mention %s", words[i]);
	free(out);
}
END_TEST

START_TEST(test_build_ipxe_not_a_tree)
{
	char *out = NULL;
	put("empty/README", "not ipxe\n");
	int st = itest_run(&out, BUILD_IPXE " --src '%s/empty' --work '%s/w' --out '%s/out' 2>&1", tmp, tmp, tmp);
	ck_assert_msg(st == 4, "status %d: %s", st, out);
	ck_assert_ptr_nonnull(strstr(out, "no iPXE source tree in"));
	ck_assert_ptr_nonnull(strstr(out, "expected"));
	free(out);
}
END_TEST

/* A PATH holding every tool of /usr/bin and /bin except the ones named: the real "tool missing" case. */
static void path_without(const char *dir, const char *missing)
{
	ck_assert_int_eq(itest_run(NULL,
	                           "mkdir -p '%s' && for d in /usr/local/bin /usr/bin /bin; do for f in \"$d\"/*; do "
	                           "n=${f##*/}; case ' %s ' in *\" $n \"*) continue;; esac; "
	                           "[ -e '%s'/\"$n\" ] || ln -s \"$f\" '%s'/\"$n\"; done; done",
	                           dir, missing, dir, dir),
	                 0);
}

static const struct {
	const char *remove;
	const char *msg;
} missing_tools[] = {
    {"gcc", "missing build tools: gcc"},
    {"make", "missing build tools: make"},
    {"perl", "missing build tools: perl"},
    {"gcc make perl", "missing build tools: gcc make perl"},
};

START_TEST(test_build_ipxe_missing_tools)
{
	char dir[300], *out = NULL;
	snprintf(dir, sizeof dir, "%s/path", tmp);
	path_without(dir, missing_tools[_i].remove);
	fake_tree(1);
	int st = itest_run(&out, "PATH='%s' " BUILD_IPXE " --src '%s/ipxe' --work '%s/w' --out '%s/out' 2>&1", dir, tmp,
	                   tmp, tmp);
	ck_assert_msg(st == 3, "without %s: status %d: %s", missing_tools[_i].remove, st, out);
	ck_assert_msg(strstr(out, missing_tools[_i].msg), "no '%s' in: %s", missing_tools[_i].msg, out);
	ck_assert_ptr_nonnull(strstr(out, "apt-get install"));
	free(out);
}
END_TEST

START_TEST(test_build_ipxe_git_missing_only_when_cloning)
{
	char dir[300], *out = NULL;
	snprintf(dir, sizeof dir, "%s/path", tmp);
	path_without(dir, "git");
	fake_tree(1);
	int st = itest_run(&out, "PATH='%s' " BUILD_IPXE " --work '%s/w' --out '%s/out' 2>&1", dir, tmp, tmp);
	ck_assert_msg(st == 3 && strstr(out, "missing build tools: git"), "clone without git: %d %s", st, out);
	free(out);
	out = NULL;
	st = itest_run(&out, "PATH='%s' " BUILD_IPXE " --src '%s/ipxe' --work '%s/w' --out '%s/out' 2>&1", dir, tmp,
	               tmp, tmp);
	ck_assert_msg(st == 0, "a local tree needs no git: %d %s", st, out);
	free(out);
}
END_TEST

/* ------------------------------------------------------------------ build-ipxe.sh: exact invocations */

START_TEST(test_build_ipxe_dry_run_modern)
{
	char *out = NULL, want[4096];
	fake_tree(1);
	ck_assert_int_eq(itest_run(&out, BUILD_IPXE " --src '%s/ipxe' --work '%s/w' --out '%s/out' -j 3 --dry-run", tmp,
	                           tmp, tmp),
	                 0);
	snprintf(want, sizeof want,
	         "make -C %s/ipxe/src -j3 bin/undionly.kpxe bin/ipxe.lkrn EMBED=%s/w/autopxe-embedded.ipxe\n"
	         "make -C %s/ipxe/src -j3 bin-x86_64-efi/ipxe.efi bin-x86_64-efi/snponly.efi "
	         "EMBED=%s/w/autopxe-embedded.ipxe\n"
	         "install -d %s/out\n"
	         "install -m 0644 %s/ipxe/src/bin/undionly.kpxe %s/out/undionly.kpxe\n"
	         "install -m 0644 %s/ipxe/src/bin/ipxe.lkrn %s/out/ipxe.lkrn\n"
	         "install -m 0644 %s/ipxe/src/bin-x86_64-efi/ipxe.efi %s/out/ipxe.efi\n"
	         "install -m 0644 %s/ipxe/src/bin-x86_64-efi/snponly.efi %s/out/snponly.efi\n",
	         tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp, tmp);
	ck_assert_str_eq(out, want);
	/* a dry run changes nothing */
	char p[400];
	snprintf(p, sizeof p, "%s/out", tmp);
	ck_assert(!exists(p));
	snprintf(p, sizeof p, "%s/ipxe/src/make.log", tmp);
	ck_assert(!exists(p));
	free(out);
}
END_TEST

static const struct {
	int modern;
	const char *extra;   /* options */
	const char *want;    /* first make line after "make -C <tmp>/ipxe/src " */
} dry_cases[] = {
    {0, "-j2", "-j2 bin/undionly.kpxe bin/ipxe.lkrn EMBED=@W@ NO_WERROR=1 EXTRA_CFLAGS=-fcommon\n"},
    {0, "-j2 --no-legacy", "-j2 bin/undionly.kpxe bin/ipxe.lkrn EMBED=@W@\n"},
    {1, "-j2 --legacy", "-j2 bin/undionly.kpxe bin/ipxe.lkrn EMBED=@W@ NO_WERROR=1 EXTRA_CFLAGS=-fcommon\n"},
    {1, "-j1 --targets ipxe.efi", "-j1 bin-x86_64-efi/ipxe.efi EMBED=@W@\n"},
    {1, "-j2 --targets snponly.efi,undionly.kpxe", "-j2 bin/undionly.kpxe EMBED=@W@\n"},
    {1, "-j2 --targets ipxe.lkrn --make-arg DEBUG=tftp", "-j2 bin/ipxe.lkrn EMBED=@W@ DEBUG=tftp\n"},
    {1, "--jobs=4 --targets=ipxe.pxe", "-j4 bin/ipxe.pxe EMBED=@W@\n"},
};

START_TEST(test_build_ipxe_dry_run_cases)
{
	char *out = NULL, want[1024], w[300];
	fake_tree(dry_cases[_i].modern);
	ck_assert_int_eq(itest_run(&out, BUILD_IPXE " --src '%s/ipxe' --work '%s/w' --out '%s/out' --dry-run %s", tmp,
	                           tmp, tmp, dry_cases[_i].extra),
	                 0);
	snprintf(w, sizeof w, "%s/w/autopxe-embedded.ipxe", tmp);
	const char *tpl = dry_cases[_i].want;
	const char *at = strstr(tpl, "@W@");
	snprintf(want, sizeof want, "make -C %s/ipxe/src %.*s%s%s", tmp, (int)(at - tpl), tpl, w, at + 3);
	ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "case %d: got\n%s\nwant first line\n%s", _i, out, want);
	free(out);
}
END_TEST

START_TEST(test_build_ipxe_dry_run_clone)
{
	char *out = NULL, want[1024];
	ck_assert_int_eq(itest_run(&out, BUILD_IPXE " --git-url https://git.example/ipxe.git --git-ref v1.21.1 "
	                                 "--work '%s/w' --out '%s/out' --targets ipxe.lkrn -j2 --dry-run",
	                           tmp, tmp),
	                 0);
	snprintf(want, sizeof want,
	         "git clone --depth 1 --branch v1.21.1 https://git.example/ipxe.git %s/w/ipxe\n"
	         "make -C %s/w/ipxe/src -j2 bin/ipxe.lkrn EMBED=%s/w/autopxe-embedded.ipxe\n",
	         tmp, tmp, tmp);
	ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "got\n%s", out);
	free(out);
	out = NULL;
	/* default URL: upstream iPXE */
	ck_assert_int_eq(itest_run(&out, BUILD_IPXE " --work '%s/w' --dry-run", tmp), 0);
	ck_assert_ptr_nonnull(strstr(out, "git clone --depth 1 https://github.com/ipxe/ipxe.git "));
	free(out);
}
END_TEST

START_TEST(test_build_ipxe_clone_fails)
{
	char *out = NULL;
	int st = itest_run(&out, BUILD_IPXE " --git-url '%s/no-such-repo' --work '%s/w' --out '%s/out' 2>&1", tmp, tmp,
	                   tmp);
	ck_assert_msg(st == 4, "status %d: %s", st, out);
	ck_assert_ptr_nonnull(strstr(out, "cannot clone iPXE from"));
	ck_assert_ptr_nonnull(strstr(out, "--src DIR"));
	free(out);
}
END_TEST

/* ------------------------------------------------------------------ build-ipxe.sh: a real run on a stand-in tree */

START_TEST(test_build_ipxe_real_run)
{
	char *out = NULL, path[400];
	fake_tree(1);
	int st = itest_run(&out, BUILD_IPXE " --src '%s/ipxe' --work '%s/w' --out '%s/out' --server 192.0.2.10 "
	                         "--http-port 8080 --tftp-port 6969 2>&1",
	                   tmp, tmp, tmp);
	ck_assert_msg(st == 0, "status %d: %s", st, out);
	ck_assert_ptr_nonnull(strstr(out, "installed into"));
	free(out);
	static const char *const files[] = {"undionly.kpxe", "ipxe.efi", "snponly.efi", "ipxe.lkrn"};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		out = NULL;
		snprintf(path, sizeof path, "%s/out/%s", tmp, files[i]);
		ck_assert_int_eq(itest_run(&out, "cat '%s'", path), 0);
		/* the binary was built with the rendered script embedded: placeholders replaced */
		ck_assert_msg(strstr(out, "set autopxe-server 192.0.2.10\n"), "%s: %s", files[i], out);
		ck_assert_ptr_nonnull(strstr(out, "set autopxe-http 8080\n"));
		ck_assert_ptr_nonnull(strstr(out, "set autopxe-tftp 6969\n"));
		ck_assert_ptr_null(strstr(out, "@SERVER@"));
		free(out);
	}
	out = NULL;
	ck_assert_int_eq(itest_run(&out, "cat '%s/out/autopxe-ipxe-build.txt'", tmp), 0);
	ck_assert_ptr_nonnull(strstr(out, "server: 192.0.2.10  http-port: 8080  tftp-port: 6969  legacy flags: no"));
	free(out);
	out = NULL;
	ck_assert_int_eq(itest_run(&out, "cat '%s/ipxe/src/make.log'", tmp), 0);
	ck_assert_ptr_nonnull(strstr(out, "bin/undionly.kpxe NO_WERROR= EXTRA_CFLAGS="));
	free(out);
}
END_TEST

START_TEST(test_build_ipxe_legacy_retry)
{
	char *out = NULL;
	fake_tree(1); /* looks modern, but its build needs the old-tree flags */
	int st = itest_run(&out, "FAKE_NEEDS_LEGACY=1 " BUILD_IPXE " --src '%s/ipxe' --work '%s/w' --out '%s/out' "
	                         "--targets ipxe.lkrn 2>&1",
	                   tmp, tmp, tmp);
	ck_assert_msg(st == 0, "status %d: %s", st, out);
	ck_assert_ptr_nonnull(strstr(out, "retrying with the flags older trees need: NO_WERROR=1 EXTRA_CFLAGS=-fcommon"));
	free(out);
	out = NULL;
	ck_assert_int_eq(itest_run(&out, "grep -c . '%s/ipxe/src/make.log'", tmp), 0);
	ck_assert_str_eq(out, "2\n");
	free(out);
	/* --no-legacy: no retry, a clear failure */
	ck_assert_int_eq(itest_run(NULL, "rm -rf '%s/ipxe/src/bin' '%s/ipxe/src/bin-x86_64-efi'", tmp, tmp), 0);
	out = NULL;
	st = itest_run(&out, "FAKE_NEEDS_LEGACY=1 " BUILD_IPXE " --src '%s/ipxe' --work '%s/w' --out '%s/out2' "
	                     "--targets ipxe.lkrn --no-legacy 2>&1",
	               tmp, tmp, tmp);
	ck_assert_msg(st == 1, "status %d: %s", st, out);
	ck_assert_ptr_nonnull(strstr(out, "iPXE build failed"));
	ck_assert_ptr_null(strstr(out, "retrying"));
	free(out);
}
END_TEST

/* ------------------------------------------------------------------ build-ipxe.sh --print-script */

START_TEST(test_print_script)
{
	char *out = NULL;
	ck_assert_int_eq(itest_run(&out, BUILD_IPXE " --print-script --server 10.0.2.2 --http-port 8080 "
	                                 "--tftp-port 6969"),
	                 0);
	ck_assert_msg(strncmp(out, "#!ipxe\n", 7) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "\nset autopxe-server 10.0.2.2\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nset autopxe-http 8080\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nset autopxe-tftp 6969\n"));
	ck_assert_ptr_nonnull(strstr(out, "prompt --key 0x02 --timeout 2000 "));
	ck_assert_ptr_nonnull(strstr(out, "http://${autopxe-server}:${autopxe-http}/autopxe-${netX/mac:hexraw}"));
	ck_assert_ptr_nonnull(strstr(out, "tftp://${autopxe-server}:${autopxe-tftp}/autopxe-${netX/mac:hexraw}"));
	ck_assert_ptr_null(strstr(out, "\n#"));   /* comments stripped */
	ck_assert_ptr_null(strstr(out, "\n\n"));  /* and blank lines */
	ck_assert_ptr_null(strstr(out, "@"));     /* every placeholder replaced */
	ck_assert_ptr_null(strstr(out, "initrd=")); /* ipxe.lkrn would cut these out of its command line */
	ck_assert_ptr_null(strstr(out, "BOOT_IMAGE="));
	ck_assert_uint_lt(strlen(out), 2047);
	free(out);
	out = NULL;
	ck_assert_int_eq(itest_run(&out, BUILD_IPXE " --print-script"), 0);
	ck_assert_ptr_nonnull(strstr(out, "\nset autopxe-server ${next-server}\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nset autopxe-http 80\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nset autopxe-tftp 69\n"));
	free(out);
	out = NULL;
	ck_assert_int_eq(itest_run(&out, BUILD_IPXE " --print-script --server '[2001:db8::1]'"), 0);
	ck_assert_ptr_nonnull(strstr(out, "\nset autopxe-server [2001:db8::1]\n"));
	free(out);
}
END_TEST

START_TEST(test_print_script_unknown_placeholder)
{
	char *out = NULL;
	put("s.ipxe", "#!ipxe\necho @SERVER@ @NOPE@\n");
	int st = itest_run(&out, BUILD_IPXE " --print-script --script '%s/s.ipxe' 2>&1", tmp);
	ck_assert_msg(st == 2 && strstr(out, "placeholders this tool does not know: @NOPE@"), "%d %s", st, out);
	free(out);
}
END_TEST

/* ------------------------------------------------------------------ docker-build.sh run directly */

START_TEST(test_docker_build_script)
{
	if (geteuid() != 0) {
		fprintf(stderr, "SKIP: it_deploy: docker-build.sh sets a file capability and needs root\n");
		return;
	}
	char *out = NULL;
	int st = itest_run(&out, "RUN_TESTS=0 scripts/docker-build.sh --no-deps --build '%s/build' --stage '%s/stage' "
	                         "2>&1",
	                   tmp, tmp);
	ck_assert_msg(st == 0, "docker-build.sh failed (%d):\n%s", st, out);
	ck_assert_ptr_nonnull(strstr(out, "make unit skipped (RUN_TESTS=0)"));
	free(out);
	static const char *const files[] = {
	    "usr/local/bin/autopxe",
	    "usr/local/share/autopxe/templates/main.ipxe.tmpl",
	    "usr/local/share/autopxe/ipxe",
	    "usr/local/lib/systemd/system/autopxe.service",
	    "usr/local/share/man/man8/autopxe.8",
	    "etc/autopxe/config.yaml.example",
	};
	char path[512];
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof path, "%s/stage/%s", tmp, files[i]);
		ck_assert_msg(exists(path), "not staged: %s", files[i]);
	}
	out = NULL;
	ck_assert_int_eq(itest_run(&out, "getcap '%s/stage/usr/local/bin/autopxe'", tmp), 0);
	ck_assert_msg(out && strstr(out, "cap_net_bind_service"), "no file capability: %s", out);
	free(out);
	out = NULL;
	ck_assert_int_eq(itest_run(&out, "'%s/stage/usr/local/bin/autopxe' --version", tmp), 0);
	ck_assert_ptr_nonnull(strstr(out, "autopxe "));
	free(out);
	/* usage errors */
	out = NULL;
	st = itest_run(&out, "scripts/docker-build.sh --frobnicate 2>&1");
	ck_assert_msg(st == 2 && strstr(out, "unknown option --frobnicate"), "%d %s", st, out);
	free(out);
	out = NULL;
	st = itest_run(&out, "scripts/docker-build.sh --deps-only --no-deps 2>&1");
	ck_assert_msg(st == 2 && strstr(out, "conflict"), "%d %s", st, out);
	free(out);
	out = NULL;
	st = itest_run(&out, "RUN_TESTS=maybe scripts/docker-build.sh --no-deps 2>&1");
	ck_assert_msg(st == 1 && strstr(out, "RUN_TESTS and BUILD_IPXE take 0 or 1"), "%d %s", st, out);
	free(out);
}
END_TEST

/* ------------------------------------------------------------------ the image, built with buildah */

START_TEST(test_docker_image)
{
	/* --keep: tests/e2e/run.sh then boots a QEMU guest from this image (scenario s9_container) */
	int st = itest_run(NULL, "scripts/docker-image-test.sh --keep >&2");
	if (st == 77) {
		fprintf(stderr, "SKIP: it_deploy: the image test could not run here (reason above)\n");
		return;
	}
	ck_assert_msg(st == 0, "scripts/docker-image-test.sh failed with status %d (output above)", st);
}
END_TEST

/* ------------------------------------------------------------------ systemd unit and man page */

START_TEST(test_systemd_unit)
{
	static const char *const lines[] = {
	    "ExecStart=/usr/local/bin/autopxe serve --config /etc/autopxe/config.yaml\n",
	    "ExecReload=/bin/kill -HUP $MAINPID\n",
	    "ProtectSystem=strict\n",
	    "NoNewPrivileges=yes\n",
	    "AmbientCapabilities=CAP_NET_BIND_SERVICE\n",
	    "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n",
	    "ReadOnlyPaths=-/pxe/rootfs\n",
	    "PrivateTmp=yes\n",
	    "ProtectHome=yes\n",
	    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n",
	    "RestartPreventExitStatus=2 3\n",
	    "WantedBy=multi-user.target\n",
	};
	char *unit = NULL;
	ck_assert_int_eq(itest_run(&unit, "cat dist/autopxe.service"), 0);
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++)
		ck_assert_msg(strstr(unit, lines[i]), "unit lacks %s", lines[i]);
	free(unit);
	if (itest_run(NULL, "command -v systemd-analyze >/dev/null") != 0) {
		fprintf(stderr, "SKIP: it_deploy: systemd-analyze not installed, unit syntax not verified\n");
		return;
	}
	/* systemd's own parser, with ExecStart pointed at a binary that exists here */
	char *out = NULL;
	int st = itest_run(&out, "sed 's#/usr/local/bin/autopxe#%s#; /^Documentation=/d' dist/autopxe.service > '%s/autopxe.service' "
	                         "&& systemd-analyze verify '%s/autopxe.service' 2>&1",
	                   getenv("AUTOPXE_BIN") ? getenv("AUTOPXE_BIN") : "/bin/true", tmp, tmp);
	ck_assert_msg(st == 0 && (!out || !*out), "systemd-analyze verify: status %d\n%s", st, out);
	free(out);
}
END_TEST

/* 1 when 127.0.0.1:port is free for both UDP and TCP (we are root: ports below 1024 too). */
static int low_port_free(unsigned port)
{
	int ok = 1;
	const int types[] = {SOCK_DGRAM, SOCK_STREAM};
	for (size_t i = 0; i < ARRAY_SIZE(types) && ok; i++) {
		int fd = socket(AF_INET, types[i], 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
		if (fd >= 0)
			close(fd);
	}
	return ok;
}

/* The unit's privilege model without systemd: an unprivileged uid whose only capability is
 * CAP_NET_BIND_SERVICE (ambient, bounding set reduced to it, no_new_privs) binds TFTP and HTTP below
 * 1024 and serves; without the capability, binding fails with exit status 1 and a clear message. */
START_TEST(test_unit_privilege_model)
{
	const char *bin = getenv("AUTOPXE_BIN");
	if (geteuid() != 0 || !bin || itest_run(NULL, "command -v setpriv >/dev/null && command -v curl >/dev/null")) {
		fprintf(stderr, "SKIP: it_deploy: privilege model test needs root, AUTOPXE_BIN, setpriv and curl\n");
		return;
	}
	unsigned port = 0;
	for (unsigned p = 1001; p < 1023 && !port; p++)
		if (low_port_free(p))
			port = p;
	ck_assert_msg(port != 0, "no free port in 1001..1022 on 127.0.0.1");
	put("rootfs/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64", "kernel");
	put("rootfs/debian/bookworm/boot/initrd.img-6.1.0-21-amd64", "initrd");
	char cfg[1024];
	snprintf(cfg, sizeof cfg,
	         "version: 1\nDefaultDistro: debian/bookworm/latest/t\nRootfsPath: %s/rootfs\n"
	         "CmdlineTemplates:\n  t: ip=dhcp\nWatch: false\nIPXEDir: %s/ipxe\nStateDir: %s/state\n",
	         tmp, tmp, tmp);
	put("config.yaml", cfg);
	/* its own StateDir, writable by the unprivileged uid: /var/lib/autopxe may not exist yet on a fresh machine, and
	 * a server that cannot keep state reports "state degraded" on /healthz */
	ck_assert_int_eq(itest_run(NULL, "mkdir -p '%s/ipxe' '%s/state' && chmod -R a+rX '%s' && chown 65534:65534 '%s/state'",
	                           tmp, tmp, tmp, tmp),
	                 0);
	const char *setpriv = "setpriv --reuid 65534 --regid 65534 --clear-groups --nnp "
	                      "--inh-caps -all,+net_bind_service --ambient-caps -all,+net_bind_service "
	                      "--bounding-set -all,+net_bind_service";
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
	         "exec %s '%s' serve --config '%s/config.yaml' --tftp-listen 127.0.0.1:%u --http-listen 127.0.0.1:%u "
	         "2>'%s/server.log'",
	         setpriv, bin, tmp, port, port, tmp);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	char *out = NULL;
	int ok = 0;
	for (int i = 0; i < 100 && !ok; i++) {
		free(out);
		out = NULL;
		ok = itest_run(&out, "curl -s --max-time 2 http://127.0.0.1:%u/healthz", port) == 0 && out &&
		     strncmp(out, "ok", 2) == 0;
		if (!ok)
			usleep(100000);
	}
	free(out);
	out = NULL;
	int tftp_ok = itest_run(&out, "grep -c 'TFTP listening on 127.0.0.1:%u' '%s/server.log'", port, tmp) == 0;
	free(out);
	kill(pid, SIGTERM);
	int status = 0;
	waitpid(pid, &status, 0);
	if (!ok || !tftp_ok)
		itest_run(NULL, "cat '%s/server.log' >&2", tmp);
	ck_assert_msg(ok, "autopxe as uid 65534 with only CAP_NET_BIND_SERVICE did not serve /healthz on port %u", port);
	ck_assert_msg(tftp_ok, "TFTP did not bind port %u", port);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "unclean stop: status 0x%x", status);

	/* the same without the capability: refused, exit status 1, and the log says why */
	out = NULL;
	int st = itest_run(&out, "setpriv --reuid 65534 --regid 65534 --clear-groups --nnp --inh-caps -all "
	                         "--bounding-set -all '%s' serve --config '%s/config.yaml' --tftp-listen 127.0.0.1:%u "
	                         "--http-listen 127.0.0.1:%u 2>&1",
	                   bin, tmp, port, port);
	ck_assert_msg(st == 1, "without CAP_NET_BIND_SERVICE: status %d, output:\n%s", st, out);
	ck_assert_msg(out && strstr(out, "ermission denied"), "no 'Permission denied' in:\n%s", out);
	free(out);
}
END_TEST

START_TEST(test_man_page_complete)
{
	const char *bin = getenv("AUTOPXE_BIN");
	if (!bin)
		bin = "build/autopxe";
	char *help = NULL, *man = NULL;
	ck_assert_msg(itest_run(&help, "'%s' --help", bin) == 0, "%s --help failed", bin);
	/* the man page as text, hyphens unescaped */
	ck_assert_int_eq(itest_run(&man, "sed 's/\\\\-/-/g' dist/autopxe.8"), 0);
	/* every long option of --help is documented */
	size_t n = 0;
	for (const char *p = help; (p = strstr(p, "--")) != NULL; p += 2) {
		char opt[40];
		size_t k = 0;
		while (k + 1 < sizeof opt && (p[k] == '-' || (p[k] >= 'a' && p[k] <= 'z')))
			opt[k] = p[k], k++;
		opt[k] = '\0';
		if (k <= 3)
			continue;
		ck_assert_msg(strstr(man, opt), "man page lacks option %s", opt);
		n++;
	}
	ck_assert_uint_ge(n, 10);
	static const char *const words[] = {"serve", "scan", "render", "check-config", "version", "SIGHUP", "SIGTERM",
	                                    "EXIT STATUS", "/etc/autopxe/config.yaml", "autoexec.ipxe", "/healthz"};
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		ck_assert_msg(strstr(man, words[i]), "man page lacks %s", words[i]);
	free(help);
	/* every config key of config.yaml.example is summarised */
	char *keys = NULL;
	ck_assert_int_eq(itest_run(&keys, "sed -n 's/^#\\{0,1\\}\\([A-Z][A-Za-z]*\\):.*/\\1/p' config.yaml.example"), 0);
	size_t nk = 0;
	for (char *save = NULL, *k = strtok_r(keys, "\n", &save); k; k = strtok_r(NULL, "\n", &save), nk++)
		ck_assert_msg(strstr(man, k), "man page lacks config key %s", k);
	ck_assert_uint_ge(nk, 20);
	free(keys);
	free(man);
	/* and it renders without warnings */
	if (itest_run(NULL, "command -v man >/dev/null") == 0) {
		char *warn = NULL;
		ck_assert_int_eq(itest_run(&warn, "LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l dist/autopxe.8 2>&1 >/dev/null"),
		                 0);
		ck_assert_msg(!warn || !*warn, "man warnings:\n%s", warn);
		free(warn);
	}
}
END_TEST

Suite *deploy_it_suite(void)
{
	Suite *s = suite_create("deploy");
	TCase *tc = tcase_create("build-ipxe");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_build_ipxe_bad_args, 0, ARRAY_SIZE(bad_args));
	tcase_add_test(tc, test_build_ipxe_help);
	tcase_add_test(tc, test_build_ipxe_not_a_tree);
	tcase_add_loop_test(tc, test_build_ipxe_missing_tools, 0, ARRAY_SIZE(missing_tools));
	tcase_add_test(tc, test_build_ipxe_git_missing_only_when_cloning);
	tcase_add_test(tc, test_build_ipxe_dry_run_modern);
	tcase_add_loop_test(tc, test_build_ipxe_dry_run_cases, 0, ARRAY_SIZE(dry_cases));
	tcase_add_test(tc, test_build_ipxe_dry_run_clone);
	tcase_add_test(tc, test_build_ipxe_clone_fails);
	tcase_add_test(tc, test_build_ipxe_real_run);
	tcase_add_test(tc, test_build_ipxe_legacy_retry);
	tcase_add_test(tc, test_print_script);
	tcase_add_test(tc, test_print_script_unknown_placeholder);
	suite_add_tcase(s, tc);

	TCase *td = tcase_create("dist");
	tcase_add_checked_fixture(td, setup, teardown);
	tcase_set_timeout(td, 600);
	tcase_add_test(td, test_systemd_unit);
	tcase_add_test(td, test_unit_privilege_model);
	tcase_add_test(td, test_man_page_complete);
	tcase_add_test(td, test_docker_build_script);
	suite_add_tcase(s, td);

	/* buildah with vfs: several minutes on a cold cache (debootstrap + apt-get in the build stage). */
	TCase *ti = tcase_create("image");
	tcase_set_timeout(ti, 1200);
	tcase_add_test(ti, test_docker_image);
	suite_add_tcase(s, ti);
	return s;
}
