/* it_tftp.c - integration tests of the TFTP front end: the real server driven by curl, tftp-hpa, atftp and raw UDP. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpus.h"
#include "itest.h"
#include "testutil.h"
#include "util.h"

#define SECRET "SECRET-SHADOW-CONTENT"
#define KERNEL "boot/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64" /* 300000 bytes */
#define KERNEL_SRC "debian/bookworm/boot/vmlinuz-6.1.0-21-amd64"
#define MAC_RAW "bc2411b01ade"

static struct itest_server srv;
static char static_dir[400];

/* Files served from StaticDir (made before the server starts). */
static const struct {
	const char *name;
	unsigned long long size;
} small_files[] = {
	{"zero.bin", 0},       {"one-block.bin", 512}, {"two-blocks.bin", 1024}, {"odd.bin", 1469},
	{"mb.bin", 1000000},   {"sub/dir/deep.bin", 7777},
};

/* Write the config with `extra` keys appended; timeouts short so the vanish test is quick. */
static void write_config(const char *extra)
{
	char yaml[4096];
	snprintf(yaml, sizeof yaml,
	         "version: 1\n"
	         "DefaultDistro: debian/bookworm/latest/overlayfs\n"
	         "RootfsPath: @ROOTFS@\n"
	         "StaticDir: %s\n"
	         "Env:\n"
	         "  nfs-server: 192.0.2.10\n"
	         "CmdlineTemplates:\n"
	         "  overlayfs: root=/dev/nfs nfsroot=${nfs-server}:${rootfs-path} ip=dhcp rootovl\n"
	         "HostDefaults:\n"
	         "  " MAC_RAW ": debian/bookworm/latest/overlayfs\n"
	         "Watch: false\n"
	         "TFTPMaxBlockSize: 65464\n"
	         "TFTPTimeout: 300\n"
	         "TFTPRetries: 3\n"
	         "%s",
	         static_dir, extra ? extra : "TFTPMaxPerClient: 1000\n");
	ck_assert_int_eq(itest_write_config(&srv, yaml), 0);
}

static void prepare(const char *extra, int http, int big)
{
	ck_assert_int_eq(itest_prepare(&srv), 0);
	snprintf(static_dir, sizeof static_dir, "%s/static", srv.dir);
	char p[600];
	for (size_t i = 0; i < ARRAY_SIZE(small_files); i++) {
		snprintf(p, sizeof p, "%s/%s", static_dir, small_files[i].name);
		ck_assert_int_eq(itest_make_file(p, small_files[i].size, 100 + (unsigned)i), 0);
	}
	snprintf(p, sizeof p, "%s/text.txt", static_dir);
	FILE *f = fopen(p, "wb");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 300; i++) /* LF, CR LF and lone CR, crossing block boundaries */
		fprintf(f, "line %d\n%s", i, i % 7 == 0 ? "cr\r\n" : (i % 11 == 0 ? "lone\rcr" : ""));
	fclose(f);
	if (big) {
		snprintf(p, sizeof p, "%s/rollover.bin", static_dir);
		ck_assert_int_eq(itest_make_file(p, 65536ULL * 512 + 1, 7), 0);
		snprintf(p, sizeof p, "%s/big.bin", static_dir);
		ck_assert_int_eq(itest_make_file(p, 100ULL << 20, 8), 0);
	}
	write_config(extra);
	ck_assert_msg(itest_start(&srv, 1, http, NULL) == 0, "server did not start (log %s)", srv.log);
}

static void setup(void) { prepare(NULL, 0, 0); }
static void setup_http(void) { prepare(NULL, 1, 0); }
static void setup_big(void) { prepare(NULL, 0, 1); }
/* four loops: a client's requests from different ports land on different loops, the cap is still per client */
static void setup_caps(void) { prepare("TFTPMaxPerClient: 2\nTFTPThreads: 4\n", 0, 0); }

static void teardown(void) { itest_stop_clean(&srv); }

/* ------------------------------------------------------------------ helpers */

static void src_path(const char *name, char *out, size_t len)
{
	if (strncmp(name, "boot/", 5) == 0)
		snprintf(out, len, "%s/%s", srv.rootfs, name + 5);
	else
		snprintf(out, len, "%s/%s", static_dir, name);
}

static void assert_same_file(const char *got, const char *name)
{
	char want[600], a[65], b[65];
	src_path(name, want, sizeof want);
	ck_assert_msg(itest_sha256(got, a) == 0, "no download %s", got);
	ck_assert_int_eq(itest_sha256(want, b), 0);
	ck_assert_msg(strcmp(a, b) == 0, "%s: sha256 differs from the source", name);
}

static int curl_get(const char *name, const char *out, const char *opts)
{
	return itest_run(NULL, "curl -sS --path-as-is %s -o '%s' 'tftp://127.0.0.1:%u/%s' 2>/dev/null", opts ? opts : "",
	                 out, srv.tftp_port, name);
}

static void out_path(const char *tag, char *out, size_t len) { snprintf(out, len, "%s/dl-%s", srv.dir, tag); }

/* A new raw client (its own socket, so its own port) that has sent the RRQ `parts` (name, mode, option, value,
 * ...; NULL-terminated) to the server. The caller closes it. */
static int raw_rrq(const char *const *parts)
{
	int fd = itest_udp_open(NULL);
	itest_tftp_send(fd, srv.tftp_port, 1, parts);
	return fd;
}

/* Send a raw request and return the opcode of the first reply (ERROR code in *code), -1 on silence. */
static int raw_first_reply(const uint8_t *req, size_t n, unsigned *code, char *msg, size_t msglen)
{
	int fd = itest_udp_open(NULL);
	itest_udp_send(fd, srv.tftp_port, req, n);
	uint8_t buf[2048];
	ssize_t r = itest_udp_recv(fd, buf, sizeof buf - 1, NULL, 3000);
	close(fd);
	if (r < 4)
		return -1;
	buf[r] = 0;
	if (code)
		*code = itest_get16(buf + 2);
	if (msg && msglen) {
		size_t ml = itest_get16(buf) == 5 ? strnlen((const char *)buf + 4, (size_t)r - 4) : 0;
		if (ml >= msglen)
			ml = msglen - 1;
		memcpy(msg, buf + 4, ml);
		msg[ml] = '\0';
	}
	return (int)itest_get16(buf);
}

/* A complete download with a raw client. opts: NULL-terminated name/value list. Returns 0 and the data,
 * the OACK's tsize (-1 if none) and blksize; or -(ERROR code) - 1000 / -1 on silence. */
struct raw_result {
	uint8_t *data;
	size_t len;
	long long tsize;
	unsigned blksize;
	int got_oack;
};

static int raw_get_fd(int fd, const char *name, const char *const *opts, struct raw_result *res);

static int raw_get(const char *name, const char *const *opts, struct raw_result *res)
{
	int fd = itest_udp_open(NULL);
	int rc = raw_get_fd(fd, name, opts, res);
	close(fd);
	return rc;
}

/* The same on a socket of the caller's (a client that reuses its port). */
static int raw_get_fd(int fd, const char *name, const char *const *opts, struct raw_result *res)
{
	memset(res, 0, sizeof *res);
	res->tsize = -1;
	res->blksize = 512;
	const char *parts[32] = {name, "octet"};
	size_t np = 2;
	for (size_t i = 0; opts && opts[i] && np < 30; i++)
		parts[np++] = opts[i];
	parts[np] = NULL;
	uint8_t *buf = malloc(70000);
	unsigned tid = 0, from;
	itest_tftp_send(fd, srv.tftp_port, 1, parts);
	unsigned expect = 1;
	int have_tid = 0, rc = -1;
	size_t cap = 1 << 20;
	res->data = malloc(cap);
	for (;;) {
		ssize_t r = itest_udp_recv(fd, buf, 70000, &from, 3000);
		if (r < 4)
			break;
		if (!have_tid) {
			tid = from;
			have_tid = 1;
		} else if (from != tid) {
			continue;
		}
		unsigned op = itest_get16(buf);
		if (op == 5) {
			rc = -1000 - (int)itest_get16(buf + 2);
			break;
		}
		if (op == 6) {
			res->got_oack = 1;
			for (size_t i = 2; i < (size_t)r;) {
				const char *k = (const char *)buf + i;
				size_t kl = strnlen(k, (size_t)r - i);
				const char *v = k + kl + 1;
				if (i + kl + 1 >= (size_t)r)
					break;
				size_t vl = strnlen(v, (size_t)r - i - kl - 1);
				if (strcasecmp(k, "tsize") == 0)
					res->tsize = atoll(v);
				if (strcasecmp(k, "blksize") == 0)
					res->blksize = (unsigned)atoi(v);
				i += kl + 1 + vl + 1;
			}
			itest_tftp_ack(fd, tid, 0);
			continue;
		}
		if (op != 3)
			break;
		unsigned blk = itest_get16(buf + 2);
		if (blk != (expect & 0xffff)) {
			if (blk == ((expect - 1) & 0xffff))
				itest_tftp_ack(fd, tid, blk); /* our ACK was lost: say it again */
			continue;
		}
		size_t dl = (size_t)r - 4;
		if (res->len + dl > cap) {
			cap *= 2;
			res->data = realloc(res->data, cap);
		}
		memcpy(res->data + res->len, buf + 4, dl);
		res->len += dl;
		itest_tftp_ack(fd, tid, blk);
		expect++;
		if (dl < res->blksize) {
			rc = 0;
			break;
		}
	}
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------ real clients */

START_TEST(test_curl_files)
{
	static const char *const opts[] = {"", "--tftp-blksize 1468", "--tftp-blksize 8", "--tftp-blksize 65464",
	                                   "--tftp-no-options"};
	for (size_t o = 0; o < ARRAY_SIZE(opts); o++) {
		for (size_t i = 0; i < ARRAY_SIZE(small_files); i++) {
			if (strcmp(opts[o], "--tftp-blksize 8") == 0 && small_files[i].size > 20000)
				continue; /* 125000 round trips: covered by larger blocks */
			char out[400];
			out_path("curl", out, sizeof out);
			unlink(out);
			int rc = curl_get(small_files[i].name, out, opts[o]);
			ck_assert_msg(rc == 0, "curl %s %s: exit %d", opts[o], small_files[i].name, rc);
			assert_same_file(out, small_files[i].name);
		}
	}
	char out[400];
	out_path("kernel", out, sizeof out);
	ck_assert_int_eq(curl_get(KERNEL, out, "--tftp-blksize 1468"), 0);
	assert_same_file(out, KERNEL);
	ck_assert(itest_log_wait(&srv, "file=\"mb.bin\" bytes=1000000 blksize=1468 windowsize=1", 2000));
	ck_assert(itest_log_wait(&srv, "blksize=65464", 2000));
}
END_TEST

START_TEST(test_tftp_hpa)
{
	static const char *const names[] = {"zero.bin", "one-block.bin", "odd.bin", "mb.bin", KERNEL};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char out[400];
		out_path("hpa", out, sizeof out);
		unlink(out);
		int rc = itest_run(NULL, "tftp 127.0.0.1 %u -m binary -c get '%s' '%s' 2>&1", srv.tftp_port, names[i], out);
		ck_assert_msg(rc == 0, "tftp-hpa get %s: exit %d", names[i], rc);
		assert_same_file(out, names[i]);
	}
}
END_TEST

/* netascii: the server converts LF -> CR LF and CR -> CR NUL, tftp-hpa converts back. */
START_TEST(test_netascii)
{
	char out[400];
	out_path("ascii", out, sizeof out);
	int rc = itest_run(NULL, "tftp 127.0.0.1 %u -m netascii -c get text.txt '%s' 2>&1", srv.tftp_port, out);
	ck_assert_int_eq(rc, 0);
	assert_same_file(out, "text.txt");
	/* the wire form, with an exact tsize */
	char src[600];
	src_path("text.txt", src, sizeof src);
	size_t sl;
	char *s = tu_slurp(src, &sl);
	ck_assert_ptr_nonnull(s);
	sbuf want = SBUF_INIT;
	for (size_t i = 0; i < sl; i++) {
		if (s[i] == '\n')
			sbuf_append(&want, "\r\n", 2);
		else if (s[i] == '\r')
			sbuf_append(&want, "\r\0", 2);
		else
			sbuf_putc(&want, s[i]);
	}
	const char *parts[] = {"text.txt", "NETASCII", "tsize", "0", "blksize", "100", NULL};
	/* raw_get always asks octet: netascii by hand */
	int fd = raw_rrq(parts);
	unsigned tid;
	uint8_t buf[2048];
	ssize_t k = itest_udp_recv(fd, buf, sizeof buf, &tid, 3000);
	ck_assert_int_gt(k, 2);
	ck_assert_uint_eq(itest_get16(buf), 6);
	char *ts = memmem(buf, (size_t)k, "tsize", 6);
	ck_assert_ptr_nonnull(ts);
	ck_assert_uint_eq((unsigned long long)atoll(ts + 6), want.len);
	sbuf got = SBUF_INIT;
	itest_tftp_ack(fd, tid, 0);
	for (unsigned expect = 1;; expect++) {
		k = itest_udp_recv(fd, buf, sizeof buf, NULL, 3000);
		ck_assert_int_ge(k, 4);
		ck_assert_uint_eq(itest_get16(buf), 3);
		ck_assert_uint_eq(itest_get16(buf + 2), expect);
		sbuf_append(&got, buf + 4, (size_t)k - 4);
		itest_tftp_ack(fd, tid, expect);
		if (k - 4 < 100)
			break;
	}
	close(fd);
	ck_assert_uint_eq(got.len, want.len);
	ck_assert_int_eq(memcmp(got.data, want.data, want.len), 0);
	sbuf_free(&got);
	sbuf_free(&want);
	free(s);
}
END_TEST

START_TEST(test_atftp)
{
	static const char *const opts[] = {"--option \"windowsize 8\" --option \"blksize 1468\"",
	                                   "--option \"windowsize 4\" --option \"blksize 512\" --option \"tsize 0\"",
	                                   "--option \"windowsize 64\" --option \"blksize 1468\"", ""};
	static const char *const names[] = {"zero.bin", "one-block.bin", "two-blocks.bin", "mb.bin", KERNEL};
	for (size_t o = 0; o < ARRAY_SIZE(opts); o++) {
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			char out[400];
			out_path("atftp", out, sizeof out);
			unlink(out);
			int rc = itest_run(NULL, "atftp %s -g -r '%s' -l '%s' 127.0.0.1 %u 2>&1", opts[o], names[i], out,
			                   srv.tftp_port);
			ck_assert_msg(rc == 0, "atftp %s %s: exit %d", opts[o], names[i], rc);
			assert_same_file(out, names[i]);
		}
	}
	ck_assert(itest_log_wait(&srv, "blksize=1468 windowsize=8", 2000));
	ck_assert(itest_log_wait(&srv, "blksize=1468 windowsize=64", 2000));
}
END_TEST

/* 65536 blocks + 1 byte at 512: block numbers wrap to 0 (tftp-hpa, curl and atftp expect it). */
START_TEST(test_rollover)
{
	char out[400];
	out_path("roll", out, sizeof out);
	ck_assert_int_eq(curl_get("rollover.bin", out, NULL), 0);
	assert_same_file(out, "rollover.bin");
	unlink(out);
	ck_assert_int_eq(itest_run(NULL, "tftp 127.0.0.1 %u -m binary -c get rollover.bin '%s' 2>&1", srv.tftp_port, out),
	                 0);
	assert_same_file(out, "rollover.bin");
	unlink(out);
	ck_assert_int_eq(itest_run(NULL, "atftp --option 'windowsize 16' --option 'blksize 512' -g -r rollover.bin -l '%s' "
	                                 "127.0.0.1 %u 2>&1",
	                           out, srv.tftp_port),
	                 0);
	assert_same_file(out, "rollover.bin");
	ck_assert(itest_log_wait(&srv, "file=\"rollover.bin\" bytes=33554433 blksize=512 windowsize=1", 2000));
}
END_TEST

START_TEST(test_100mib)
{
	char out[400];
	out_path("big", out, sizeof out);
	ck_assert_int_eq(curl_get("big.bin", out, "--tftp-blksize 65464"), 0);
	assert_same_file(out, "big.bin");
	unlink(out);
	ck_assert_int_eq(itest_run(NULL, "atftp --option 'windowsize 16' --option 'blksize 8192' -g -r big.bin -l '%s' "
	                                 "127.0.0.1 %u 2>&1",
	                           out, srv.tftp_port),
	                 0);
	assert_same_file(out, "big.bin");
	ck_assert(itest_log_wait(&srv, "file=\"big.bin\" bytes=104857600 blksize=65464", 2000));
	/* windowsize cut to what fits a default Linux receive buffer: 200000 / (2 * 8192 + 1400) */
	ck_assert(itest_log_wait(&srv, "file=\"big.bin\" bytes=104857600 blksize=8192 windowsize=11", 2000));
}
END_TEST

/* ------------------------------------------------------------------ menus */

START_TEST(test_menu_spellings)
{
	static const char *const spellings[] = {"autopxe-bc2411b01ade",       "autopxe-BC2411B01ADE",
	                                        "autopxe-bc:24:11:b0:1a:de",  "autopxe-BC-24-11-B0-1A-DE",
	                                        "autopxe-01-bc-24-11-b0-1a-de", "autopxe-bc24.11b0.1ade",
	                                        "/autopxe-bc2411b01ade"};
	char first[400], out[400];
	out_path("menu0", first, sizeof first);
	ck_assert_int_eq(curl_get(spellings[0], first, NULL), 0);
	size_t l0;
	char *m0 = tu_slurp(first, &l0);
	ck_assert_ptr_nonnull(m0);
	ck_assert_msg(strncmp(m0, "#!ipxe", 6) == 0, "menu does not start with #!ipxe");
	ck_assert_ptr_nonnull(strstr(m0, "bc:24:11:b0:1a:de"));
	for (size_t i = 1; i < ARRAY_SIZE(spellings); i++) {
		out_path("menu", out, sizeof out);
		unlink(out);
		ck_assert_msg(curl_get(spellings[i], out, "--tftp-blksize 1468") == 0, "%s", spellings[i]);
		size_t l;
		char *m = tu_slurp(out, &l);
		ck_assert_ptr_nonnull(m);
		ck_assert_msg(l == l0 && memcmp(m, m0, l) == 0, "%s: different bytes", spellings[i]);
		free(m);
	}
	/* the same as `autopxe render` for this client (TFTP, HTTP off: relative paths) */
	char *r = NULL;
	const char *bin = getenv("AUTOPXE_BIN") ? getenv("AUTOPXE_BIN") : "build/autopxe-san";
	ck_assert_int_eq(itest_run(&r, "'%s' --config '%s' --http-listen off render --mac " MAC_RAW
	                               " --via tftp --ip 127.0.0.1 --server-ip 127.0.0.1 2>/dev/null",
	                           bin, srv.config),
	                 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(strlen(r), l0);
	ck_assert_int_eq(memcmp(r, m0, l0), 0);
	free(r);
	ck_assert(itest_log_wait(&srv, "mac=bc:24:11:b0:1a:de", 2000));
	free(m0);

	/* a submenu, an unknown submenu, a bad MAC */
	out_path("sub", out, sizeof out);
	ck_assert_int_eq(curl_get("autopxe-" MAC_RAW "/debian", out, NULL), 0);
	size_t l;
	char *m = tu_slurp(out, &l);
	ck_assert_ptr_nonnull(m);
	ck_assert(strncmp(m, "#!ipxe", 6) == 0);
	free(m);
	unsigned code = 0;
	uint8_t req[128];
	const char *p1[] = {"autopxe-" MAC_RAW "/nosuchdistro", "octet", NULL};
	ck_assert_int_eq(raw_first_reply(req, itest_tftp_req(req, sizeof req, 1, p1), &code, NULL, 0), 5);
	ck_assert_uint_eq(code, 1);
	const char *p2[] = {"autopxe-bc2411b01adz", "octet", NULL};
	ck_assert_int_eq(raw_first_reply(req, itest_tftp_req(req, sizeof req, 1, p2), &code, NULL, 0), 5);
	ck_assert_uint_eq(code, 1);
}
END_TEST

START_TEST(test_menu_tsize)
{
	static const char *const opts[] = {"tsize", "0", "blksize", "1468", NULL};
	struct raw_result r;
	ck_assert_int_eq(raw_get("autopxe-" MAC_RAW, opts, &r), 0);
	ck_assert(r.got_oack);
	ck_assert_int_gt(r.tsize, 100);
	ck_assert_uint_eq((size_t)r.tsize, r.len);
	ck_assert_uint_eq(r.blksize, 1468);
	ck_assert(memcmp(r.data, "#!ipxe", 6) == 0);
	free(r.data);
	/* a file's tsize is its size; options are case-insensitive */
	static const char *const opts2[] = {"TSIZE", "0", "BlkSize", "1024", "x-unknown", "1", NULL};
	ck_assert_int_eq(raw_get("mb.bin", opts2, &r), 0);
	ck_assert_int_eq(r.tsize, 1000000);
	ck_assert_uint_eq(r.blksize, 1024);
	ck_assert_uint_eq(r.len, 1000000);
	free(r.data);
	/* only unknown options: no OACK, DATA 1 directly */
	static const char *const opts3[] = {"multicast", "", "x-foo", "bar", NULL};
	ck_assert_int_eq(raw_get("two-blocks.bin", opts3, &r), 0);
	ck_assert(!r.got_oack);
	ck_assert_uint_eq(r.len, 1024);
	free(r.data);
	/* an empty file: no "tsize 0" (curl refuses it), so no OACK */
	static const char *const opts4[] = {"tsize", "0", NULL};
	ck_assert_int_eq(raw_get("zero.bin", opts4, &r), 0);
	ck_assert(!r.got_oack);
	ck_assert_uint_eq(r.len, 0);
	free(r.data);
}
END_TEST

/* ------------------------------------------------------------------ concurrency */

START_TEST(test_200_concurrent)
{
	char dir[400];
	snprintf(dir, sizeof dir, "%s/par", srv.dir);
	mkdir(dir, 0755);
	/* kernels, menus and static files at once, all from 127.0.0.1 */
	int rc = itest_run(NULL,
	                   "cd '%s' && for i in $(seq 1 200); do "
	                   "case $((i %% 4)) in 0) f=mb.bin;; 1) f=" KERNEL ";; 2) f=autopxe-" MAC_RAW ";; 3) f=odd.bin;; "
	                   "esac; "
	                   "( curl -sS --tftp-blksize 1468 -o f$i \"tftp://127.0.0.1:%u/$f\" || echo FAIL $i >> failed ) & "
	                   "done; wait; test ! -e failed",
	                   dir, srv.tftp_port);
	ck_assert_msg(rc == 0, "some concurrent downloads failed");
	char menu_ref[400];
	out_path("menuref", menu_ref, sizeof menu_ref);
	ck_assert_int_eq(curl_get("autopxe-" MAC_RAW, menu_ref, NULL), 0);
	char ref_menu[65];
	ck_assert_int_eq(itest_sha256(menu_ref, ref_menu), 0);
	for (int i = 1; i <= 200; i++) {
		char p[500];
		snprintf(p, sizeof p, "%s/f%d", dir, i);
		switch (i % 4) {
		case 0: assert_same_file(p, "mb.bin"); break;
		case 1: assert_same_file(p, KERNEL); break;
		case 3: assert_same_file(p, "odd.bin"); break;
		default: {
			char h[65];
			ck_assert_int_eq(itest_sha256(p, h), 0);
			ck_assert_str_eq(h, ref_menu);
		}
		}
	}
}
END_TEST

/* Past TFTPMaxPerClient the client hears ERROR 0 "server busy, retry", not silence. */
START_TEST(test_per_client_cap)
{
	uint8_t req[128], buf[1024];
	const char *parts[] = {"mb.bin", "octet", NULL};
	size_t n = itest_tftp_req(req, sizeof req, 1, parts);
	int a = raw_rrq(parts), b = raw_rrq(parts);
	ck_assert_int_ge(itest_udp_recv(a, buf, sizeof buf, NULL, 2000), 4);
	ck_assert_uint_eq(itest_get16(buf), 3);
	ck_assert_int_ge(itest_udp_recv(b, buf, sizeof buf, NULL, 2000), 4);
	ck_assert_uint_eq(itest_get16(buf), 3);
	unsigned code = 99;
	char msg[128];
	ck_assert_int_eq(raw_first_reply(req, n, &code, msg, sizeof msg), 5);
	ck_assert_uint_eq(code, 0);
	ck_assert_ptr_nonnull(strstr(msg, "busy"));
	ck_assert(itest_log_wait(&srv, "outcome=busy", 2000));
	close(a);
	close(b);
}
END_TEST

/* The retransmission timer adapts to the round trip: before any ACK the first wait is TFTPTimeout (300 ms
 * here); after 50 prompt ACKs a withheld ACK gets the block again within tens of ms (10 ms floor), then
 * 2x, 4x ... (backoff); the short waits do not count against TFTPRetries (3): the transfer survives many
 * more retransmissions than that, and completes once the client ACKs again. */
START_TEST(test_adaptive_timeout)
{
	uint8_t buf[1024];
	const char *parts[] = {"mb.bin", "octet", NULL};
	int fd = raw_rrq(parts);
	unsigned tid;
	/* before any sample: DATA 1, withheld, comes again after ~TFTPTimeout */
	ck_assert_int_eq(itest_udp_recv(fd, buf, sizeof buf, &tid, 2000), 516);
	uint64_t t0 = now_ms();
	ck_assert_int_eq(itest_udp_recv(fd, buf, sizeof buf, &tid, 2000), 516);
	ck_assert_uint_eq(itest_get16(buf + 2), 1);
	uint64_t first_wait = now_ms() - t0;
	ck_assert_msg(first_wait >= 250, "first retransmission after %llu ms, TFTPTimeout is 300",
	              (unsigned long long)first_wait);
	unsigned blk = 1;
	itest_tftp_ack(fd, tid, blk);
	for (blk = 2; blk <= 50; blk++) { /* prompt ACKs: round-trip samples of well under a ms */
		ck_assert_int_eq(itest_udp_recv(fd, buf, sizeof buf, &tid, 2000), 516);
		ck_assert_uint_eq(itest_get16(buf + 2), blk);
		itest_tftp_ack(fd, tid, blk);
	}
	/* DATA 51 arrives; withhold its ACK and time the retransmissions */
	ck_assert_int_eq(itest_udp_recv(fd, buf, sizeof buf, &tid, 2000), 516);
	ck_assert_uint_eq(itest_get16(buf + 2), 51);
	uint64_t prev = now_ms(), waits[6];
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(itest_udp_recv(fd, buf, sizeof buf, &tid, 3000), 516);
		ck_assert_uint_eq(itest_get16(buf + 2), 51);
		uint64_t now = now_ms();
		waits[i] = now - prev;
		prev = now;
	}
	ck_assert_msg(waits[0] < 150, "adaptive first wait %llu ms (TFTPTimeout 300)", (unsigned long long)waits[0]);
	ck_assert_msg(waits[3] > waits[0] * 3, "no backoff: %llu then %llu ms", (unsigned long long)waits[0],
	              (unsigned long long)waits[3]);
	/* 7 retransmissions of block 51 so far, more than TFTPRetries (3): the transfer is still alive */
	itest_tftp_ack(fd, tid, 51);
	ck_assert_int_eq(itest_udp_recv(fd, buf, sizeof buf, &tid, 2000), 516);
	ck_assert_uint_eq(itest_get16(buf + 2), 52);
	/* the log line carries the round-trip estimate once the client goes away */
	close(fd);
	int found = 0;
	for (int i = 0; i < 100 && !found; i++) {
		found = itest_run(NULL, "grep -q 'file=\"mb.bin\" bytes=26112 .*rtt_us=[0-9][0-9]* .*outcome=timeout' '%s'",
		                  srv.log) == 0;
		if (!found)
			usleep(100000);
	}
	ck_assert_msg(found, "no timeout line with rtt_us for the abandoned transfer");
}
END_TEST

/* With four loops (SO_REUSEPORT), 16 requests from 16 ports of one address, sent at once: exactly
 * TFTPMaxPerClient (2) get DATA, the other 14 get ERROR 0 busy, whichever loops they reach; a repeated RRQ
 * from a port that has a transfer reaches the same loop and is answered by that transfer, not a second one. */
START_TEST(test_cap_across_loops)
{
	uint8_t req[128], buf[1024];
	const char *parts[] = {"mb.bin", "octet", NULL};
	size_t n = itest_tftp_req(req, sizeof req, 1, parts);
	enum { N = 16 };
	int fd[N], data = 0, busy = 0, first_data = -1;
	for (int i = 0; i < N; i++)
		fd[i] = itest_udp_open(NULL);
	for (int i = 0; i < N; i++)
		itest_udp_send(fd[i], srv.tftp_port, req, n);
	for (int i = 0; i < N; i++) {
		ck_assert_int_ge(itest_udp_recv(fd[i], buf, sizeof buf, NULL, 3000), 4);
		if (itest_get16(buf) == 3) {
			data++;
			if (first_data < 0)
				first_data = i;
		} else if (itest_get16(buf) == 5 && itest_get16(buf + 2) == 0) {
			busy++;
		}
	}
	ck_assert_int_eq(data, 2);
	ck_assert_int_eq(busy, N - 2);
	/* the same RRQ again from a port with a transfer: no new session, no busy error */
	itest_udp_send(fd[first_data], srv.tftp_port, req, n);
	usleep(200000);
	ck_assert_int_eq(itest_run(NULL, "grep -c 'refused file=\"mb.bin\"' '%s' | grep -qx %d", srv.log, N - 2), 0);
	for (int i = 0; i < N; i++)
		close(fd[i]);
}
END_TEST

/* A second server on the same TFTP port is refused with "Address already in use" even though the loops'
 * sockets use SO_REUSEPORT (the plain probe bind sees the port taken). */
START_TEST(test_port_in_use)
{
	char *out = NULL;
	const char *bin = getenv("AUTOPXE_BIN") ? getenv("AUTOPXE_BIN") : "build/autopxe-san";
	int rc = itest_run(&out, "'%s' --config '%s' --tftp-listen 127.0.0.1:%u --http-listen off serve 2>&1", bin,
	                   srv.config, srv.tftp_port);
	ck_assert_msg(rc != 0, "a second server bound the same port:\n%s", out ? out : "");
	ck_assert_msg(out && strstr(out, "Address already in use"), "no clear error:\n%s", out ? out : "");
	free(out);
}
END_TEST

/* ------------------------------------------------------------------ refusals */

START_TEST(test_path_escapes)
{
	static const char *const names[] = {
	    "../etc/passwd",
	    "boot/../../etc/shadow",
	    "boot/debian/bookworm/etc/shadow",
	    "boot/debian/bookworm/../bookworm/etc/shadow",
	    "/etc/passwd",
	    "//etc/shadow",
	    "boot\\..\\..\\etc\\shadow",
	    "..\\..\\etc\\passwd",
	    "boot/debian/bookworm/boot/../etc/shadow",
	    "debian/bookworm/etc/shadow",
	    "sub/../../rootfs/debian/bookworm/etc/shadow",
	    "boot/debian/bookworm/boot/",
	    "sub/dir",
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		uint8_t req[512];
		const char *parts[] = {names[i], "octet", NULL};
		unsigned code = 99;
		int op = raw_first_reply(req, itest_tftp_req(req, sizeof req, 1, parts), &code, NULL, 0);
		ck_assert_msg(op == 5 && (code == 1 || code == 2), "%s: reply opcode %d code %u", names[i], op, code);
		char out[400];
		out_path("esc", out, sizeof out);
		unlink(out);
		ck_assert_msg(curl_get(names[i], out, NULL) != 0, "curl got %s", names[i]);
		size_t l = 0;
		char *got = tu_slurp(out, &l);
		ck_assert_msg(!got || !memmem(got, l, SECRET, strlen(SECRET)), "secret leaked via %s", names[i]);
		free(got);
	}
	/* a NUL inside the name: the rest becomes the mode, which is refused */
	static const uint8_t nul1[] = "\0\1boot/debian/bookworm/boot/vmlinuz-6.1.0-21-amd64\0/../../etc/shadow\0octet\0";
	unsigned code = 99;
	ck_assert_int_eq(raw_first_reply(nul1, sizeof nul1 - 1, &code, NULL, 0), 5);
	ck_assert_uint_eq(code, 4);
	static const uint8_t nul2[] = "\0\1etc\0\0octet\0";
	ck_assert_int_eq(raw_first_reply(nul2, sizeof nul2 - 1, &code, NULL, 0), 5);
	ck_assert_uint_eq(code, 4);
	/* control bytes in the name */
	static const uint8_t ctl[] = "\0\1boot/\x01\x7f\xff/x\0octet\0";
	ck_assert_int_eq(raw_first_reply(ctl, sizeof ctl - 1, &code, NULL, 0), 5);
	ck_assert(code == 1 || code == 2);
	ck_assert(itest_log_wait(&srv, "refused file=\"boot/\\x01\\x7f\\xff/x\"", 2000));
	ck_assert(!itest_log_contains(&srv, SECRET));
}
END_TEST

START_TEST(test_wrq_refused)
{
	uint8_t req[128];
	const char *parts[] = {"upload.bin", "octet", NULL};
	unsigned code = 99;
	ck_assert_int_eq(raw_first_reply(req, itest_tftp_req(req, sizeof req, 2, parts), &code, NULL, 0), 5);
	ck_assert_uint_eq(code, 2);
	const char *parts2[] = {"mb.bin", "octet", "blksize", "1468", NULL};
	ck_assert_int_eq(raw_first_reply(req, itest_tftp_req(req, sizeof req, 2, parts2), &code, NULL, 0), 5);
	ck_assert_uint_eq(code, 2);
	char p[600];
	snprintf(p, sizeof p, "%s/upload.bin", static_dir);
	struct stat st;
	ck_assert_int_ne(stat(p, &st), 0);
	ck_assert(itest_log_wait(&srv, "reason=\"write request\"", 2000));
}
END_TEST

START_TEST(test_malformed)
{
#define P(s) s, sizeof(s) - 1
	static const struct {
		const char *pkt;
		size_t len;
		int answered; /* 1: ERROR 4 expected; 0: silence */
	} cases[] = {
	    {P("\0\1"), 1},                    /* RRQ without a name */
	    {P("\0\1\0octet\0"), 1},           /* empty name */
	    {P("\0\1mb.bin"), 1},              /* no NUL after the name */
	    {P("\0\1mb.bin\0octet"), 1},       /* no NUL after the mode */
	    {P("\0\1mb.bin\0mail\0"), 1},      /* obsolete mode */
	    {P("\0\0mb.bin\0octet\0"), 1},     /* opcode 0 */
	    {P("\0\11mb.bin\0octet\0"), 1},    /* opcode 9 */
	    {P("\377\377mb.bin\0octet\0"), 1}, /* opcode 65535 */
	    {P("\0\4\0\1"), 1},                /* ACK to the request port */
	    {P("\0\3\0\1data"), 1},            /* DATA to the request port */
	    {P("\0\5\0\1oops\0"), 0},          /* ERROR is never answered */
	    {P("\0"), 1},
	};
#undef P
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned code = 99;
		int op = raw_first_reply((const uint8_t *)cases[i].pkt, cases[i].len, &code, NULL, 0);
		if (cases[i].answered) {
			ck_assert_msg(op == 5 && code == 4, "case %zu: opcode %d code %u", i, op, code);
		} else {
			ck_assert_msg(op == -1, "case %zu answered", i);
		}
	}
	/* the server still works */
	struct raw_result r;
	ck_assert_int_eq(raw_get("odd.bin", NULL, &r), 0);
	ck_assert_uint_eq(r.len, 1469);
	free(r.data);
}
END_TEST

/* A packet from another port gets ERROR 5 and does not disturb the transfer. */
START_TEST(test_wrong_tid)
{
	uint8_t buf[2048];
	const char *parts[] = {KERNEL, "octet", NULL};
	int fd = raw_rrq(parts), intruder = itest_udp_open(NULL);
	unsigned tid, from;
	ssize_t k = itest_udp_recv(fd, buf, sizeof buf, &tid, 2000);
	ck_assert_int_eq(k, 4 + 512);
	ck_assert_uint_eq(itest_get16(buf), 3);
	ck_assert_uint_eq(itest_get16(buf + 2), 1);
	sbuf got = SBUF_INIT;
	sbuf_append(&got, buf + 4, 512);
	/* the intruder ACKs block 1 and then sends garbage */
	itest_tftp_ack(intruder, tid, 1);
	k = itest_udp_recv(intruder, buf, sizeof buf, &from, 2000);
	ck_assert_int_ge(k, 4);
	ck_assert_uint_eq(itest_get16(buf), 5);
	ck_assert_uint_eq(itest_get16(buf + 2), 5);
	ck_assert_uint_eq(from, tid);
	itest_udp_send(intruder, tid, "\0\5\0\0stop\0", 10);
	k = itest_udp_recv(intruder, buf, sizeof buf, &from, 2000);
	ck_assert_int_ge(k, 4);
	ck_assert_uint_eq(itest_get16(buf + 2), 5);
	/* the intruder's ACK moved nothing: block 2 has not been sent */
	ck_assert_int_eq(itest_udp_recv(fd, buf, sizeof buf, &from, 100), -1);
	itest_tftp_ack(fd, tid, 1);
	for (unsigned expect = 2;; expect++) {
		k = itest_udp_recv(fd, buf, sizeof buf, &from, 2000);
		ck_assert_int_ge(k, 4);
		ck_assert_uint_eq(from, tid);
		ck_assert_uint_eq(itest_get16(buf), 3);
		if (itest_get16(buf + 2) != expect) /* a retransmission after a slow ACK */
			continue;
		sbuf_append(&got, buf + 4, (size_t)k - 4);
		itest_tftp_ack(fd, tid, expect);
		if (k < 4 + 512)
			break;
	}
	close(fd);
	close(intruder);
	char src[600];
	src_path(KERNEL, src, sizeof src);
	size_t sl;
	char *s = tu_slurp(src, &sl);
	ck_assert_uint_eq(got.len, sl);
	ck_assert_int_eq(memcmp(got.data, s, sl), 0);
	free(s);
	sbuf_free(&got);
}
END_TEST

/* Duplicate ACKs never cause duplicate bursts (Sorcerer's Apprentice); a partial ACK in a window
 * resends from there once (RFC 7440). The client asks for a fixed 1 s timeout (RFC 2349) so that the
 * server's adaptive timer (10 ms on loopback) cannot send anything within the windows watched here. */
START_TEST(test_duplicate_acks)
{
	uint8_t buf[2048];
	const char *parts[] = {"mb.bin", "octet", "timeout", "1", NULL};
	int fd = raw_rrq(parts);
	unsigned tid;
	ck_assert_int_gt(itest_udp_recv(fd, buf, sizeof buf, &tid, 2000), 2);
	ck_assert_uint_eq(itest_get16(buf), 6);
	itest_tftp_ack(fd, tid, 0);
	ck_assert_int_eq(itest_udp_recv(fd, buf, sizeof buf, &tid, 2000), 516);
	itest_tftp_ack(fd, tid, 1);
	itest_tftp_ack(fd, tid, 1);
	itest_tftp_ack(fd, tid, 1);
	int data2 = 0;
	while (itest_udp_recv(fd, buf, sizeof buf, NULL, 100) > 0)
		data2 += itest_get16(buf) == 3 && itest_get16(buf + 2) == 2;
	ck_assert_int_eq(data2, 1);
	close(fd);

	const char *wparts[] = {"mb.bin", "octet", "windowsize", "4", "blksize", "512", "timeout", "1", NULL};
	fd = raw_rrq(wparts);
	ssize_t k = itest_udp_recv(fd, buf, sizeof buf, &tid, 2000);
	ck_assert_int_gt(k, 2);
	ck_assert_uint_eq(itest_get16(buf), 6);
	ck_assert_ptr_nonnull(memmem(buf, (size_t)k, "windowsize\0" "4", 13));
	itest_tftp_ack(fd, tid, 0);
	unsigned seen[16] = {0}, ns = 0;
	while (ns < 16 && itest_udp_recv(fd, buf, sizeof buf, NULL, 60) > 0)
		seen[ns++] = itest_get16(buf + 2);
	ck_assert_uint_eq(ns, 4);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_uint_eq(seen[i], i + 1);
	itest_tftp_ack(fd, tid, 2); /* "got 1..2, resend from 3" */
	ns = 0;
	while (ns < 16 && itest_udp_recv(fd, buf, sizeof buf, NULL, 60) > 0)
		seen[ns++] = itest_get16(buf + 2);
	ck_assert_uint_eq(ns, 4);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_uint_eq(seen[i], i + 3);
	itest_tftp_ack(fd, tid, 2); /* the same ACK again: ignored (the timeout is 1 s) */
	ck_assert_int_eq(itest_udp_recv(fd, buf, sizeof buf, NULL, 100), -1);
	itest_udp_send(fd, tid, "\0\5\0\0done\0", 10); /* ERROR from the client ends the session */
	close(fd);
	ck_assert(itest_log_wait(&srv, "outcome=aborted client_error=0:\"done\"", 2000));
}
END_TEST

/* The PXE ROM pattern: RRQ with tsize, ERROR 8 after the OACK, a new RRQ from the same port at once
 * (the loop may read the new request before the abort). The new request is served, not taken for a
 * retransmission; an identical RRQ is; a different one replaces a transfer the client gave up on. */
START_TEST(test_pxe_tsize_probe)
{
	uint8_t req[128], buf[2048];
	const char *probe[] = {KERNEL, "octet", "tsize", "0", NULL};
	const char *again[] = {KERNEL, "octet", "blksize", "1456", NULL};
	int fd = itest_udp_open(NULL);
	unsigned tid, tid2, from;
	size_t n = itest_tftp_req(req, sizeof req, 1, probe);
	itest_udp_send(fd, srv.tftp_port, req, n);
	itest_udp_send(fd, srv.tftp_port, req, n); /* a retransmitted RRQ: ignored */
	ssize_t k = itest_udp_recv(fd, buf, sizeof buf, &tid, 2000);
	ck_assert_int_gt(k, 2);
	ck_assert_uint_eq(itest_get16(buf), 6);
	ck_assert_ptr_nonnull(memmem(buf, (size_t)k, "tsize\0" "300000", 12));
	itest_tftp_send(fd, srv.tftp_port, 1, again);
	itest_udp_send(fd, tid, "\0\5\0\10tsize probe\0", 16);
	do { /* a second OACK for the repeated probe would come from the same TID: there is none */
		k = itest_udp_recv(fd, buf, sizeof buf, &tid2, 2000);
		ck_assert_int_gt(k, 2);
	} while (tid2 == tid && itest_get16(buf) == 6 && memmem(buf, (size_t)k, "tsize", 5));
	ck_assert_uint_ne(tid2, tid);
	ck_assert_uint_eq(itest_get16(buf), 6);
	ck_assert_ptr_nonnull(memmem(buf, (size_t)k, "blksize\0" "1456", 12));
	itest_tftp_ack(fd, tid2, 0);
	sbuf got = SBUF_INIT;
	for (unsigned expect = 1;; expect++) {
		k = itest_udp_recv(fd, buf, sizeof buf, &from, 2000);
		ck_assert_int_ge(k, 4);
		if (from != tid2 || itest_get16(buf + 2) != expect) {
			expect--; /* late packets of the probe, or a retransmission */
			continue;
		}
		ck_assert_uint_eq(itest_get16(buf), 3);
		sbuf_append(&got, buf + 4, (size_t)k - 4);
		itest_tftp_ack(fd, tid2, expect);
		if (k < 4 + 1456)
			break;
	}
	ck_assert_uint_eq(got.len, 300000);
	sbuf_free(&got);
	ck_assert_int_eq(itest_run(NULL, "grep -c 'file=\"" KERNEL "\" bytes=0 .*outcome=aborted' '%s' | grep -qx 1",
	                           srv.log),
	                 0);

	/* a transfer left hanging, then another file from the same port: the first is superseded */
	const char *mb[] = {"mb.bin", "octet", NULL};
	itest_tftp_send(fd, srv.tftp_port, 1, mb);
	ck_assert_int_eq(itest_udp_recv(fd, buf, sizeof buf, &from, 2000), 516);
	struct raw_result r;
	ck_assert_int_eq(raw_get_fd(fd, "odd.bin", NULL, &r), 0);
	ck_assert_uint_eq(r.len, 1469);
	free(r.data);
	close(fd);
	ck_assert(itest_log_wait(&srv, "file=\"mb.bin\" bytes=0 blksize=512", 2000));
	ck_assert(itest_log_wait(&srv, "reason=\"superseded by a new request\"", 2000));
}
END_TEST

/* Download `name` with a raw client, calling mid() after DATA 1: the bytes received, or -(ERROR code) - 1. */
static long raw_get_mid(const char *name, void (*mid)(void), sbuf *got)
{
	uint8_t buf[2048];
	const char *parts[] = {name, "octet", NULL};
	int fd = raw_rrq(parts);
	unsigned tid;
	ssize_t k = itest_udp_recv(fd, buf, sizeof buf, &tid, 2000);
	ck_assert_int_eq(k, 516);
	sbuf_append(got, buf + 4, 512);
	mid();
	itest_tftp_ack(fd, tid, 1);
	long rc = -1;
	for (unsigned expect = 2;; expect++) {
		k = itest_udp_recv(fd, buf, sizeof buf, NULL, 2000);
		ck_assert_int_ge(k, 4);
		if (itest_get16(buf) == 5) {
			rc = -(long)itest_get16(buf + 2) - 1;
			break;
		}
		ck_assert_uint_eq(itest_get16(buf + 2), expect);
		sbuf_append(got, buf + 4, (size_t)k - 4);
		itest_tftp_ack(fd, tid, expect);
		if (k < 516) {
			rc = (long)got->len;
			break;
		}
	}
	close(fd);
	return rc;
}

static char change_path[600];
static void shrink_it(void) { ck_assert_int_eq(truncate(change_path, 1000), 0); }
static void replace_it(void)
{
	char tmp[700];
	snprintf(tmp, sizeof tmp, "%s.new", change_path);
	ck_assert_int_eq(itest_make_file(tmp, 5000, 99), 0);
	ck_assert_int_eq(rename(tmp, change_path), 0);
}

/* A file replaced by rename keeps serving the old version; one that shrinks under a transfer fails it with an
 * ERROR before its final block. */
START_TEST(test_file_changes)
{
	src_path("mb.bin", change_path, sizeof change_path);
	size_t ol;
	char *old = tu_slurp(change_path, &ol);
	ck_assert_ptr_nonnull(old);
	sbuf got = SBUF_INIT;
	ck_assert_int_eq(raw_get_mid("mb.bin", replace_it, &got), 1000000);
	ck_assert_int_eq(memcmp(got.data, old, ol), 0);
	sbuf_reset(&got);
	free(old);
	/* now mb.bin is the 5000-byte replacement: shrink it under a transfer. Lock-step transfers read ahead, so
	 * some more blocks of what was read before the shrink may come first, but never the final block: the
	 * transfer ends with an ERROR, and what did arrive is a prefix of the file as it was. */
	old = tu_slurp(change_path, &ol);
	ck_assert_ptr_nonnull(old);
	ck_assert_uint_eq(ol, 5000);
	ck_assert_int_eq(raw_get_mid("mb.bin", shrink_it, &got), -1); /* ERROR 0 */
	ck_assert_uint_ge(got.len, 512);
	ck_assert_uint_lt(got.len, 5000);
	ck_assert_uint_eq(got.len % 512, 0);
	ck_assert_int_eq(memcmp(got.data, old, got.len), 0);
	free(old);
	sbuf_free(&got);
	ck_assert(itest_log_wait(&srv, "outcome=io_error", 2000));
}
END_TEST

/* A client that sends RRQ and vanishes: after the retries its session is gone. */
START_TEST(test_vanishing_client)
{
	uint8_t buf[2048];
	const char *parts[] = {"two-blocks.bin", "octet", NULL};
	int fd = raw_rrq(parts);
	ck_assert_int_eq(itest_udp_recv(fd, buf, sizeof buf, NULL, 2000), 516);
	ck_assert_int_eq(itest_metric(&srv, "autopxe_tftp_active_sessions"), 1);
	close(fd);
	/* 300 + 600 + 1200 + 2400 ms of retransmissions, then the session ends */
	int found = 0;
	for (int i = 0; i < 150 && !found; i++) {
		found = itest_run(NULL, "grep -q 'file=\"two-blocks.bin\" bytes=0 .*retransmits=3 outcome=timeout' '%s'",
		                  srv.log) == 0;
		if (!found)
			usleep(100000);
	}
	ck_assert_msg(found, "no outcome=timeout line");
	ck_assert_int_eq(itest_metric(&srv, "autopxe_tftp_active_sessions"), 0);
}
END_TEST

/* TFTPBusyPoll: a lock-step loopback client answers within the budget, so the loop catches its ACKs polling instead
 * of sleeping; with TFTPBusyPoll: 0 it never polls. The file is the same either way. */
static void busy_poll_download(const char *extra, long long *caught, long long *slept)
{
	prepare(extra, 1, 0);
	char out[400];
	out_path("spin", out, sizeof out);
	ck_assert_int_eq(curl_get("mb.bin", out, "--tftp-blksize 1468"), 0);
	assert_same_file(out, "mb.bin");
	*caught = itest_metric(&srv, "autopxe_tftp_busy_polls_total{result=\"caught\"}");
	*slept = itest_metric(&srv, "autopxe_tftp_busy_polls_total{result=\"slept\"}");
	itest_stop_clean(&srv);
}

START_TEST(test_busy_poll)
{
	long long caught, slept;
	busy_poll_download("TFTPMaxPerClient: 1000\nTFTPBusyPoll: 1000\n", &caught, &slept);
	/* 682 ACKs; the first comes before any RTT sample, and a loaded machine may miss a few budgets */
	ck_assert_msg(caught > 100, "busy-poll caught %lld ACKs of 682 (slept %lld)", caught, slept);
	busy_poll_download("TFTPMaxPerClient: 1000\nTFTPBusyPoll: 0\n", &caught, &slept);
	ck_assert_int_eq(caught, 0);
	ck_assert_int_eq(slept, 0);
}
END_TEST

/* Set the affinity of every thread of the server to CPUs 0..n-1. */
static void pin_server(unsigned n)
{
	char d[64];
	snprintf(d, sizeof d, "/proc/%d/task", (int)srv.pid);
	DIR *dir = opendir(d);
	ck_assert_ptr_nonnull(dir);
	cpu_set_t set;
	CPU_ZERO(&set);
	for (unsigned i = 0; i < n; i++)
		CPU_SET(i, &set);
	struct dirent *e;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			ck_assert_int_eq(sched_setaffinity(atoi(e->d_name), sizeof set, &set), 0);
	closedir(dir);
}

/* Downloads (each wakes a loop, which then re-reads its CPU set) until autopxe_tftp_loops is want; 0 or -1 after
 * 5 s. */
static int wait_loops(long long want)
{
	char out[400];
	out_path("cpus", out, sizeof out);
	for (int i = 0; i < 50; i++) {
		if (curl_get(KERNEL, out, "") != 0)
			return -1;
		if (itest_metric(&srv, "autopxe_tftp_loops") == want)
			return 0;
		usleep(100000);
	}
	return -1;
}

/* TFTPThreads auto starts a loop per usable CPU and follows the CPU set afterwards: pinned to one CPU, new
 * requests go to one loop (the log says so), and back to all of them when the CPUs come back. */
START_TEST(test_loops_follow_cpus)
{
	cpu_set_t set;
	ck_assert_int_eq(sched_getaffinity(srv.pid, sizeof set, &set), 0);
	int n = CPU_COUNT(&set);
	ck_assert_int_eq(itest_metric(&srv, "autopxe_tftp_loops"), n);
	if (n < 2 || !CPU_ISSET(0, &set) || !CPU_ISSET(1, &set))
		return; /* one loop: nothing to follow (this machine has fewer than two CPUs 0 and 1) */
	pin_server(1);
	ck_assert_msg(wait_loops(1) == 0, "autopxe_tftp_loops stayed at %lld after pinning to one CPU",
	              itest_metric(&srv, "autopxe_tftp_loops"));
	ck_assert(itest_log_wait(&srv, "tftp: 1 usable CPU: new requests go to 1 of ", 2000));
	/* and served by it */
	char out[400];
	out_path("pinned", out, sizeof out);
	ck_assert_int_eq(curl_get("mb.bin", out, "--tftp-blksize 1468"), 0);
	assert_same_file(out, "mb.bin");
	pin_server(2);
	ck_assert_msg(wait_loops(2) == 0, "autopxe_tftp_loops stayed at %lld after unpinning",
	              itest_metric(&srv, "autopxe_tftp_loops"));
	ck_assert(itest_log_wait(&srv, "tftp: 2 usable CPUs: new requests go to 2 of ", 2000));
}
END_TEST

/* TFTPThreads auto starts a loop per online CPU even when the process may use fewer, so the loops can grow back:
 * a server started on one CPU sends new requests to one loop, and to both once its threads may use two. */
START_TEST(test_loops_grow)
{
	cpu_set_t mine, one;
	ck_assert_int_eq(sched_getaffinity(0, sizeof mine, &mine), 0);
	if (!CPU_ISSET(0, &mine) || !CPU_ISSET(1, &mine))
		return; /* needs CPUs 0 and 1 */
	ck_assert_int_eq(itest_stop(&srv), 0);
	ck_assert_int_eq(truncate(srv.log, 0), 0);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0); /* the server inherits it */
	int rc = itest_start(&srv, 1, 1, NULL);
	ck_assert_int_eq(sched_setaffinity(0, sizeof mine, &mine), 0);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(itest_metric(&srv, "autopxe_tftp_loops"), 1);
	ck_assert(itest_log_wait(&srv, "tftp: 1 usable CPU: new requests go to 1 of ", 2000));
	pin_server(2);
	ck_assert_msg(wait_loops(2) == 0, "autopxe_tftp_loops stayed at %lld with two CPUs",
	              itest_metric(&srv, "autopxe_tftp_loops"));
	ck_assert(itest_log_wait(&srv, "tftp: 2 usable CPUs: new requests go to 2 of ", 2000));
}
END_TEST

/* A cgroup of our own for the server, under the cpu controller's hierarchy (v1 or v2). */
struct quota_cg {
	struct cg_mount m;
	char dir[1200];
};

static int write_text(const char *dir, const char *file, const char *text)
{
	char p[1300];
	snprintf(p, sizeof p, "%s/%s", dir, file);
	FILE *f = fopen(p, "w");
	if (!f)
		return -1;
	int ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* 0, or -1 (with the reason in why) when this machine gives us no cgroup with a CPU quota to set. */
static int quota_cg_make(struct quota_cg *q, char *why, size_t whylen)
{
	size_t size = 1 << 16;
	char *mi = malloc(size);
	ck_assert_ptr_nonnull(mi);
	FILE *f = fopen("/proc/self/mountinfo", "r");
	size_t n = f ? fread(mi, 1, size - 1, f) : 0;
	if (f)
		fclose(f);
	mi[n] = '\0';
	int rc = cpus_mount_find(mi, &q->m);
	free(mi);
	if (geteuid() != 0 || rc != 0) {
		snprintf(why, whylen, "%s", geteuid() != 0 ? "not root" : "no cpu controller mounted");
		return -1;
	}
	if (!q->m.v1 && write_text(q->m.point, "cgroup.subtree_control", "+cpu\n") != 0) {
		snprintf(why, whylen, "cannot enable the cpu controller under %s: %s", q->m.point, strerror(errno));
		return -1;
	}
	snprintf(q->dir, sizeof q->dir, "%s/autopxe-it-%d", q->m.point, (int)getpid());
	if (mkdir(q->dir, 0755) != 0 && errno != EEXIST) {
		snprintf(why, whylen, "mkdir %s: %s", q->dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Set the quota in milli-CPUs (0: none) of the cgroup. */
static void quota_cg_set(const struct quota_cg *q, unsigned milli)
{
	char t[64];
	if (q->m.v1) {
		ck_assert_int_eq(write_text(q->dir, "cpu.cfs_period_us", "100000\n"), 0);
		snprintf(t, sizeof t, milli ? "%u\n" : "-1\n", milli * 100u);
		ck_assert_int_eq(write_text(q->dir, "cpu.cfs_quota_us", t), 0);
	} else {
		if (milli)
			snprintf(t, sizeof t, "%u 100000\n", milli * 100u);
		else
			snprintf(t, sizeof t, "max 100000\n");
		ck_assert_int_eq(write_text(q->dir, "cpu.max", t), 0);
	}
}

/* Move process pid into the cgroup (into = 1) or back to the hierarchy's root. */
static int quota_cg_move(const struct quota_cg *q, pid_t pid, int into)
{
	char t[32];
	snprintf(t, sizeof t, "%d\n", (int)pid);
	return write_text(into ? q->dir : q->m.point, "cgroup.procs", t);
}

/* A CPU quota (docker run --cpus, systemd CPUQuota=) is followed like the affinity mask: with half a CPU, new
 * requests go to one loop and busy-poll is off (a poll would spend the quota); without it, both come back. */
START_TEST(test_loops_follow_quota)
{
	cpu_set_t set;
	ck_assert_int_eq(sched_getaffinity(srv.pid, sizeof set, &set), 0);
	if (CPU_COUNT(&set) < 2)
		return; /* one loop: nothing to follow */
	struct quota_cg q;
	char why[2600];
	if (quota_cg_make(&q, why, sizeof why) != 0) {
		fprintf(stderr, "test_loops_follow_quota: not run: %s\n", why);
		return;
	}
	/* TFTPBusyPoll 1000: without the quota this loopback download is caught polling (test_busy_poll) */
	ck_assert_int_eq(itest_stop(&srv), 0);
	ck_assert_int_eq(truncate(srv.log, 0), 0);
	write_config("TFTPMaxPerClient: 1000\nTFTPBusyPoll: 1000\n");
	ck_assert_int_eq(itest_start(&srv, 1, 1, NULL), 0);
	quota_cg_set(&q, 500);
	ck_assert_int_eq(quota_cg_move(&q, srv.pid, 1), 0);
	int ok = wait_loops(1) == 0;
	long long caught0 = itest_metric(&srv, "autopxe_tftp_busy_polls_total{result=\"caught\"}");
	char out[400];
	out_path("quota", out, sizeof out);
	int got = curl_get("mb.bin", out, "--tftp-blksize 1468");
	long long caught1 = itest_metric(&srv, "autopxe_tftp_busy_polls_total{result=\"caught\"}");
	quota_cg_set(&q, 0);
	int back = wait_loops(2) == 0;
	long long caught2 = itest_metric(&srv, "autopxe_tftp_busy_polls_total{result=\"caught\"}");
	int got2 = curl_get("mb.bin", out, "--tftp-blksize 1468");
	long long caught3 = itest_metric(&srv, "autopxe_tftp_busy_polls_total{result=\"caught\"}");
	/* out of the cgroup before any assertion, so that it can go */
	ck_assert_int_eq(quota_cg_move(&q, srv.pid, 0), 0);
	ck_assert_msg(rmdir(q.dir) == 0, "rmdir %s: %s", q.dir, strerror(errno));
	ck_assert_msg(ok, "autopxe_tftp_loops stayed at 2 under a quota of 0.5 CPU");
	ck_assert(itest_log_wait(&srv, "tftp: busy-poll off under the CPU quota (2 CPUs in the affinity mask, "
	                               "cgroup CPU quota 0.50)", 2000));
	ck_assert(itest_log_wait(&srv, "tftp: 1 usable CPU: new requests go to 1 of 2 loops (2 CPUs in the "
	                               "affinity mask, cgroup CPU quota 0.50)", 2000));
	ck_assert_int_eq(got, 0);
	assert_same_file(out, "mb.bin");
	ck_assert_msg(caught1 == caught0, "busy-poll caught %lld ACKs under the quota", caught1 - caught0);
	ck_assert_msg(back, "autopxe_tftp_loops stayed at %lld without the quota",
	              itest_metric(&srv, "autopxe_tftp_loops"));
	ck_assert(itest_log_wait(&srv, "tftp: no CPU quota binds: busy-poll as configured", 2000));
	ck_assert_int_eq(got2, 0);
	ck_assert_msg(caught3 - caught2 > 100, "busy-poll caught %lld ACKs of 682 once the quota was gone",
	              caught3 - caught2);
}
END_TEST

/* Dual stack: [::]:port serves IPv4 and IPv6 clients, each answered from the address it asked. */
START_TEST(test_ipv6_dual_stack)
{
	unsigned port = itest_free_port(SOCK_DGRAM);
	char out[400];
	out_path("v6", out, sizeof out);
	ck_assert_int_eq(itest_stop(&srv), 0);
	ck_assert_int_eq(truncate(srv.log, 0), 0); /* itest_start waits for a fresh "serving" line */
	char lst[64];
	snprintf(lst, sizeof lst, "[::]:%u", port);
	const char *extra[] = {"--tftp-listen", lst, NULL};
	ck_assert_int_eq(itest_start(&srv, 0, 0, extra), 0);
	int rc = itest_run(NULL, "curl -sS -o '%s' 'tftp://[::1]:%u/mb.bin'", out, port);
	ck_assert_int_eq(rc, 0);
	assert_same_file(out, "mb.bin");
	unlink(out);
	rc = itest_run(NULL, "curl -sS -o '%s' 'tftp://127.0.0.1:%u/" KERNEL "'", out, port);
	ck_assert_int_eq(rc, 0);
	assert_same_file(out, KERNEL);
	ck_assert(itest_log_wait(&srv, "tftp: [::1]:", 2000));
	ck_assert(itest_log_wait(&srv, "tftp: 127.0.0.1:", 2000));
	/* a menu over IPv6 */
	unlink(out);
	rc = itest_run(NULL, "curl -sS -o '%s' 'tftp://[::1]:%u/autopxe-" MAC_RAW "'", out, port);
	ck_assert_int_eq(rc, 0);
	size_t l;
	char *m = tu_slurp(out, &l);
	ck_assert(m && strncmp(m, "#!ipxe", 6) == 0);
	free(m);
}
END_TEST

Suite *tftp_it_suite(void)
{
	Suite *s = suite_create("tftp_it");
	TCase *tc = tcase_create("clients");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_curl_files);
	tcase_add_test(tc, test_tftp_hpa);
	tcase_add_test(tc, test_netascii);
	tcase_add_test(tc, test_atftp);
	tcase_add_test(tc, test_menu_spellings);
	tcase_add_test(tc, test_menu_tsize);
	tcase_add_test(tc, test_200_concurrent);
	tcase_add_test(tc, test_path_escapes);
	tcase_add_test(tc, test_wrq_refused);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_wrong_tid);
	tcase_add_test(tc, test_duplicate_acks);
	tcase_add_test(tc, test_pxe_tsize_probe);
	tcase_add_test(tc, test_file_changes);
	tcase_add_test(tc, test_ipv6_dual_stack);
	suite_add_tcase(s, tc);

	tc = tcase_create("big");
	tcase_add_checked_fixture(tc, setup_big, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_rollover);
	tcase_add_test(tc, test_100mib);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup_caps, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_per_client_cap);
	tcase_add_test(tc, test_cap_across_loops);
	tcase_add_test(tc, test_port_in_use);
	suite_add_tcase(s, tc);

	tc = tcase_create("vanish");
	tcase_add_checked_fixture(tc, setup_http, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_vanishing_client);
	tcase_add_test(tc, test_adaptive_timeout);
	tcase_add_test(tc, test_loops_follow_cpus);
	tcase_add_test(tc, test_loops_grow);
	tcase_add_test(tc, test_loops_follow_quota);
	suite_add_tcase(s, tc);

	tc = tcase_create("busy_poll"); /* the test starts its own two servers */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_busy_poll);
	suite_add_tcase(s, tc);
	return s;
}
