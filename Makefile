# autopxe build: out-of-tree into $(BUILD), pkg-config for every library.
# Targets: all check e2e bench bench-smoke fuzz asan install run clean format lint ipxe
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
CC       ?= cc
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

PKGS      := yaml-0.1 libarchive blkid libmicrohttpd jansson sqlite3 libpq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter
CSTD     := -std=c11 -D_GNU_SOURCE
OPT      ?= -O2 -g
CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) -Isrc -Irootfs-scanner $(PKG_CFLAGS) \
             -DAUTOPXE_VERSION='"$(VERSION)"' -DAUTOPXE_DATADIR='"$(PREFIX)/share/autopxe"' \
             -MMD -MP $(EXTRA_CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lpthread -lm

LIB_SRCS := $(filter-out src/main.c,$(wildcard src/*.c)) $(wildcard rootfs-scanner/*.c)
TEST_SRCS := $(wildcard tests/check_*.c)
IT_SRCS   := $(wildcard tests/it_*.c)

# Release objects
OBJDIR   := $(BUILD)/obj
LIB_OBJS := $(LIB_SRCS:%.c=$(OBJDIR)/%.o)
# Sanitizer objects for tests
SANDIR   := $(BUILD)/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_OBJS := $(LIB_SRCS:%.c=$(SANDIR)/%.o)
# tests/testutil.c: helpers both test binaries link; tests/itest.c: the integration suites' own.
TEST_OBJS := $(TEST_SRCS:%.c=$(SANDIR)/%.o) $(SANDIR)/tests/testutil.o
IT_OBJS   := $(IT_SRCS:%.c=$(SANDIR)/%.o) $(SANDIR)/tests/itest.o $(SANDIR)/tests/testutil.o

.PHONY: all check unit e2e bench bench-smoke fuzz fuzz-build asan install run clean format lint ipxe test integration
all: $(BUILD)/autopxe

$(OBJDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(SANDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(SANFLAGS) $(CHECK_CFLAGS) -Itests -c $< -o $@

$(BUILD)/autopxe: $(LIB_OBJS) $(OBJDIR)/src/main.o
	$(CC) $(OPT) -o $@ $^ $(LDLIBS_ALL)

# Sanitized binary: used by integration tests so server bugs surface there too.
$(BUILD)/autopxe-san: $(SAN_OBJS) $(SANDIR)/src/main.o
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS_ALL)

# The runner's suite list is generated from the check_*.c files present.
$(BUILD)/suites.h: $(TEST_SRCS)
	@mkdir -p $(BUILD)
	@sed -n 's/^Suite \*\([a-z0-9_]*_suite\)(void).*/SUITE(\1)/p' $(TEST_SRCS) > $@.tmp && mv $@.tmp $@

$(SANDIR)/tests/runner.o: tests/runner.c $(BUILD)/suites.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(SANFLAGS) $(CHECK_CFLAGS) -I$(BUILD) -Itests -c $< -o $@

$(BUILD)/check_autopxe: $(SAN_OBJS) $(TEST_OBJS) $(SANDIR)/tests/runner.o
	$(CC) $(SANFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS_ALL)

$(BUILD)/it/suites.h: $(IT_SRCS)
	@mkdir -p $(BUILD)/it
	@sed -n 's/^Suite \*\([a-z0-9_]*_suite\)(void).*/SUITE(\1)/p' $(IT_SRCS) /dev/null > $@.tmp && mv $@.tmp $@

$(SANDIR)/tests/it_runner.o: tests/runner.c $(BUILD)/it/suites.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(SANFLAGS) $(CHECK_CFLAGS) -I$(BUILD)/it -Itests -c $< -o $@

# Integration suites are black-box: they link only the shared helpers (and the pure DHCP packet builder, as a client
# library), not the server.
$(BUILD)/check_integration: $(IT_OBJS) $(SANDIR)/tests/it_runner.o $(SANDIR)/src/util.o $(SANDIR)/src/mac.o \
                           $(SANDIR)/src/dhcp_proto.o $(SANDIR)/src/cpus.o
	$(CC) $(SANFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS_ALL)

unit: $(BUILD)/check_autopxe
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  CK_FORK=no $(BUILD)/check_autopxe

integration: $(BUILD)/autopxe-san $(BUILD)/check_integration
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 CK_FORK=yes CK_DEFAULT_TIMEOUT=300 \
	  AUTOPXE_BIN=$(abspath $(BUILD)/autopxe-san) $(BUILD)/check_integration

check: unit

# The whole suite (README's test command and CI): unit, integration (real clients, faults, image build),
# the benchmarks' quick run (bench-smoke, ~1-2 minutes), e2e (QEMU + iPXE boots), then every fuzz target for
# FUZZ_CI_TIME seconds.
test:
	$(MAKE) unit
	$(MAKE) integration
	$(MAKE) bench-smoke
	$(MAKE) e2e
	$(MAKE) fuzz-ci

e2e: $(BUILD)/autopxe
	tests/e2e/run.sh $(BUILD)

BENCH_BINS := $(BUILD)/autopxe $(BUILD)/udp_limit $(BUILD)/tftp_load $(BUILD)/storm $(BUILD)/scan_bench $(BUILD)/iso_stream
bench: $(BENCH_BINS)
	bench/run.sh $(BUILD)

# The quick run of every benchmark (BENCH_QUICK=1) and a check of its final table, so the benches cannot rot.
bench-smoke: $(BENCH_BINS)
	tests/bench_smoke.sh $(BUILD)

asan: $(BUILD)/autopxe-san

# libFuzzer targets (clang): library objects built with fuzzer-no-link + ASan + UBSan.
FUZZ_TIME ?= 20
FUZZDIR   := $(BUILD)/fuzz
FUZZ_CC   ?= clang
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZDIR)/%)
FUZZ_LIB  := $(LIB_SRCS:%.c=$(FUZZDIR)/%.o)

$(FUZZDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CSTD) $(WARN) -O1 -g -Isrc -Irootfs-scanner $(PKG_CFLAGS) -DAUTOPXE_VERSION='"$(VERSION)"' \
	  -DAUTOPXE_DATADIR='"$(PREFIX)/share/autopxe"' -fsanitize=fuzzer-no-link $(FUZZ_SAN) -c $< -o $@

$(FUZZDIR)/fuzz_%: $(FUZZDIR)/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(LDLIBS_ALL)

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZDIR) $(FUZZ_TIME)

ipxe:
	embedded/build-ipxe.sh $(IPXE_ARGS)

run: $(BUILD)/autopxe
	$(BUILD)/autopxe serve $(RUN_ARGS)

install: $(BUILD)/autopxe
	install -D -m 0755 $(BUILD)/autopxe $(DESTDIR)$(PREFIX)/bin/autopxe
	install -d $(DESTDIR)$(PREFIX)/share/autopxe/templates $(DESTDIR)$(PREFIX)/share/autopxe/ipxe
	install -m 0644 templates/*.tmpl $(DESTDIR)$(PREFIX)/share/autopxe/templates/
	install -D -m 0644 config.yaml.example $(DESTDIR)/etc/autopxe/config.yaml.example
	test -e $(DESTDIR)/etc/autopxe/config.yaml || install -m 0644 config.yaml.example $(DESTDIR)/etc/autopxe/config.yaml
	if [ -f dist/autopxe.service ]; then install -D -m 0644 dist/autopxe.service $(DESTDIR)$(PREFIX)/lib/systemd/system/autopxe.service; fi
	if [ -f dist/autopxe.8 ]; then install -D -m 0644 dist/autopxe.8 $(DESTDIR)$(PREFIX)/share/man/man8/autopxe.8; fi

format:
	clang-format -i src/*.c src/*.h rootfs-scanner/*.c rootfs-scanner/*.h tests/*.c

lint:
	cppcheck --quiet --enable=warning,performance --std=c11 --error-exitcode=1 -Isrc -Irootfs-scanner src rootfs-scanner

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- hardening (issue 8): fuzzing in CI, the boot-storm tool.
# clang's -Wformat=2 also flags vsnprintf(fmt, ap) inside va_list wrappers (util.c sbuf_vprintf, libmicrohttpd's
# log callback in http_server.c), which gcc accepts: not for the fuzz objects.
$(FUZZDIR)/%.o: WARN += -Wno-format-nonliteral
FUZZ_CI_TIME ?= 60
.PHONY: fuzz-ci storm
# Every libFuzzer target for FUZZ_CI_TIME seconds (>= 60 in CI) under ASan+UBSan, seeds and regressions first.
fuzz-ci: fuzz-build
	tests/fuzz/run.sh $(FUZZDIR) $(FUZZ_CI_TIME)

# bench/storm: N simulated nodes (menu over TFTP, kernel + initrd over HTTP); see bench/storm.sh.
$(BUILD)/storm: bench/storm.c
	@mkdir -p $(BUILD)
	$(CC) $(CSTD) $(WARN) -O2 -g -o $@ $<
storm: $(BUILD)/storm

# bench/udp_limit: the loopback UDP ceiling (sendmmsg/recvmmsg pair) the TFTP rows are a fraction of.
$(BUILD)/udp_limit: bench/udp_limit.c
	@mkdir -p $(BUILD)
	$(CC) $(CSTD) $(WARN) -O2 -g -o $@ $< -lpthread

# bench/tftp_load: N TFTP downloads from one process, the client of bench/tftp.sh's "bench client" rows.
$(BUILD)/tftp_load: bench/tftp_load.c
	@mkdir -p $(BUILD)
	$(CC) $(CSTD) $(WARN) -O2 -g -o $@ $<

# bench/scan_bench, bench/iso_stream: in-process benches linked against the library objects, with the server's
# flags and libraries (bench/scan.sh, bench/iso.sh).
$(BUILD)/scan_bench: bench/scan_bench.c $(LIB_OBJS)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB_OBJS) $(LDLIBS_ALL)
$(BUILD)/iso_stream: bench/iso_stream.c $(OBJDIR)/src/util.o
	$(CC) $(CFLAGS_ALL) -o $@ $< $(OBJDIR)/src/util.o $(LDLIBS_ALL)

# The container image built with buildah and checked with buildah run (needs root; prints SKIP where buildah
# cannot run). `make integration` runs it too (tests/it_deploy.c).
.PHONY: docker-test
docker-test:
	scripts/docker-image-test.sh
.PRECIOUS: $(FUZZDIR)/%.o
