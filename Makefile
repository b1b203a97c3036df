# SPDX-License-Identifier: MIT
# shawk — build, test, run. See README.md.

PREFIX ?= /usr/local
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config

BUILD ?= build
ifeq ($(SANITIZE),1)
FLAVOR := san
else
FLAVOR := rel
endif
OBJDIR := $(BUILD)/$(FLAVOR)
BIN := $(BUILD)/shawk

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2)
endif

VERSION ?= 0.1.0
COMMIT ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wmissing-prototypes
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 $(WARN) -D_GNU_SOURCE \
	-Isrc -Ibpf -I$(OBJDIR)/gen -MMD -MP $(shell $(PKG_CONFIG) --cflags libpq)
LDLIBS := -lbpf -lelf -lz -lpq -lcurl -lcjson -lpthread -lmnl
# HTTP (src/http) and SVG drawings (src/render/svg.c): libmicrohttpd and
# Graphviz's library. The two Graphviz plugins used (dot layout, SVG output)
# are linked in, found through an rpath to Graphviz's plugin directory.
GV_PLUGIN_DIR := $(shell $(PKG_CONFIG) --variable=libdir libgvc)/graphviz
# Nothing of ours is exported: Graphviz's libgvc has its own global
# graph_init(), which core/graph.c's would otherwise interpose.
CFLAGS += -fvisibility=hidden
CFLAGS += $(patsubst -I%,-isystem %,$(filter %/graphviz,$(shell $(PKG_CONFIG) --cflags-only-I libgvc)))
LDLIBS += -lmicrohttpd -lgvc -lcgraph -lcdt -L$(GV_PLUGIN_DIR) \
	-Wl,-rpath,$(GV_PLUGIN_DIR) -lgvplugin_dot_layout -lgvplugin_core
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

SRCS := $(shell find src -name '*.c' | sort)
OBJS := $(SRCS:%.c=$(OBJDIR)/%.o)
LIB_OBJS := $(filter-out $(OBJDIR)/src/main.o,$(OBJS))

# --- BPF: CO-RE objects turned into libbpf skeletons embedded in the binary.
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(BPF_SRCS:bpf/%.bpf.c=$(OBJDIR)/gen/%.bpf.o)
BPF_SKELS := $(filter-out %/ct_lookup.skel.h,$(BPF_SRCS:bpf/%.bpf.c=$(OBJDIR)/gen/%.skel.h))
# The polling iterators also as light skeletons, one per program (built
# from bpf/iter.bpf.c with -DSHAWK_ITER_ONLY=n) so that the kernel refusing
# one costs only that one: a light skeleton's loader program has the kernel
# apply the CO-RE relocations, so user space never reads the 5.5 MB vmlinux
# BTF (libbpf's skeleton does, on every start; it is the fallback).
ITER_PROGS := tcp udp owners fdsock
BPF_LSKELS := $(ITER_PROGS:%=$(OBJDIR)/gen/iter_%.lskel.h)
# The conntrack lookup (bpf/ct_lookup.bpf.c): light skeleton only (its one
# program's CO-RE and kfunc relocations applied by the kernel's loader).
BPF_LSKELS += $(OBJDIR)/gen/ct_lookup.lskel.h
ITER_ONLY_tcp := 1
ITER_ONLY_udp := 2
ITER_ONLY_owners := 3
ITER_ONLY_fdsock := 4

# --- SQL: numbered schema files embedded at build time.
SQL_FILES := $(sort $(wildcard sql/*.sql))
SQL_GEN := $(if $(SQL_FILES),$(OBJDIR)/gen/sql_embed.c)
SQL_OBJ := $(if $(SQL_FILES),$(OBJDIR)/gen/sql_embed.o)
# The flush's statements, one string per file (src/cmdb/flush_sql.h);
# _NAME.sql are parts they include.
FLUSH_SQL_ALL := $(sort $(wildcard sql/flush/*.sql))
FLUSH_SQL_FILES := $(filter-out sql/flush/_%,$(FLUSH_SQL_ALL))
FLUSH_SQL_OBJ := $(OBJDIR)/gen/flush_sql.o
EMBED_OBJS := $(SQL_OBJ) $(FLUSH_SQL_OBJ)

# --- tests
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TEST_BINS := $(TEST_SRCS:tests/%.c=$(OBJDIR)/tests/%)

.PHONY: all deps run demo man test unit integration e2e bench install install-systemd clean vmlinux fuzz FORCE
all: $(BIN)

deps:
	$(Q)scripts/install-deps.sh

# The version lives in a generated header rewritten only when it changes, so
# a new commit rebuilds main.o and nothing else.
$(OBJDIR)/gen/version.h: FORCE
	$(Q)mkdir -p $(@D)
	$(Q)printf '#define SHAWK_VERSION "%s"\n#define SHAWK_COMMIT "%s"\n' '$(VERSION)' '$(COMMIT)' > $@.tmp
	$(Q)cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@

$(OBJDIR)/src/main.o: $(OBJDIR)/gen/version.h
# build_info of /metrics.
$(OBJDIR)/src/agent/metrics.o: $(OBJDIR)/gen/version.h

$(OBJDIR)/shawk: $(OBJS) $(EMBED_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# build/shawk is always the flavour just built.
$(BIN): $(OBJDIR)/shawk FORCE
	$(Q)cmp -s $< $@ || cp $< $@

$(OBJDIR)/%.o: %.c | $(BPF_SKELS) $(BPF_LSKELS)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OBJDIR)/gen/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) bpf/vmlinux/$(ARCH)/vmlinux.h
	$(call msg,BPF,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) \
		-Ibpf -Ibpf/vmlinux/$(ARCH) -c $< -o $@

$(OBJDIR)/gen/iter_%.bpf.o: bpf/iter.bpf.c $(wildcard bpf/*.h) bpf/vmlinux/$(ARCH)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) \
		-DSHAWK_ITER_ONLY=$(ITER_ONLY_$*) \
		-Ibpf -Ibpf/vmlinux/$(ARCH) -c $< -o $@

# Keep the generated BPF object and skeleton: as intermediates make would
# delete them, and every later build would relink for nothing.
.SECONDARY: $(BPF_OBJS) $(BPF_SKELS) $(BPF_LSKELS) \
	$(ITER_PROGS:%=$(OBJDIR)/gen/iter_%.bpf.o)

$(OBJDIR)/gen/%.skel.h: $(OBJDIR)/gen/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(OBJDIR)/gen/%.lskel.h: $(OBJDIR)/gen/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton -L $< name $*_lskel > $@.tmp && mv $@.tmp $@

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > bpf/vmlinux/$(ARCH)/vmlinux.h

# The list of SQL files is itself an input: deleting or renaming one must
# regenerate the embedded SQL too.
$(OBJDIR)/gen/sql_list: SQL_LIST = $(SQL_FILES)
$(OBJDIR)/gen/flush_sql_list: SQL_LIST = $(FLUSH_SQL_ALL)
$(OBJDIR)/gen/%_list: FORCE
	$(Q)mkdir -p $(@D)
	$(Q)echo '$(SQL_LIST)' > $@.tmp
	$(Q)cmp -s $@.tmp $@ && rm $@.tmp || mv $@.tmp $@

$(OBJDIR)/gen/sql_embed.c: $(SQL_FILES) $(OBJDIR)/gen/sql_list scripts/embed-sql.sh
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)scripts/embed-sql.sh $(SQL_FILES) > $@.tmp && mv $@.tmp $@

$(OBJDIR)/gen/flush_sql.c: $(FLUSH_SQL_ALL) $(OBJDIR)/gen/flush_sql_list scripts/embed-sql.sh
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)scripts/embed-sql.sh --symbols cmdb_flush_sql cmdb/flush_sql.h \
		$(FLUSH_SQL_FILES) > $@.tmp && mv $@.tmp $@

$(OBJDIR)/gen/%.o: $(OBJDIR)/gen/%.c
	$(call msg,CC,$<)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OBJDIR)/tests/%: tests/%.c $(LIB_OBJS) $(EMBED_OBJS)
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(EMBED_OBJS) \
		$(LDLIBS) -lcmocka

# Helpers the integration scripts run, linked with the project objects:
# flush_flows writes flows read from stdin through cmdb_store_flush()
# (tests/integration/cmdb_large_flush.sh).
TEST_TOOLS := $(OBJDIR)/tests/tools/flush_flows
$(OBJDIR)/tests/tools/flush_flows: tests/tools/flush_flows.c $(LIB_OBJS) $(EMBED_OBJS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(EMBED_OBJS) $(LDLIBS)

# --- fuzz targets (clang + libFuzzer): build/fuzz/fuzz_<name>, one per
# parser or encoder, each linked with the sources it tests
# (FUZZ_LIB_<name>). Corpora: tests/fuzz/corpus/<name>; scripts/fuzz.sh
# replays and runs them.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
FUZZ_BINS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)
FUZZ_LIB_pods := src/k8s/pods.c src/core/u64map.c src/core/addr.c src/core/utf8.c
FUZZ_LIB_sockdiag := src/probe/sockdiag.c src/core/addr.c
FUZZ_LIB_iterrec := src/probe/iterrec.c src/core/addr.c
FUZZ_LIB_procfs := src/probe/procfs.c src/core/addr.c
FUZZ_LIB_cgroup := src/k8s/cgroup.c
FUZZ_LIB_mountinfo := src/k8s/cgroupfs.c src/core/file.c src/core/u64map.c
FUZZ_LIB_duration := src/core/duration.c
FUZZ_LIB_addr := src/core/addr.c
FUZZ_LIB_utf8 := src/core/utf8.c
FUZZ_LIB_encoders := src/cmdb/sqlarray.c src/cmdb/pgcopy.c \
	src/cmdb/flush_data.c src/core/utf8.c
FUZZ_LIB_services := src/k8s/services.c src/core/u64map.c
FUZZ_LIBS_pods := -lcjson
FUZZ_LIBS_services := -lcjson
fuzz: $(FUZZ_BINS)

.SECONDEXPANSION:
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $$(FUZZ_LIB_$$*)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -g -O1 -std=gnu11 $(WARN) -D_GNU_SOURCE -Isrc -Ibpf \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ $< $(FUZZ_LIB_$*) $(FUZZ_LIBS_$*)

# README command 1: build, then the main job.
run: deps $(BIN)
	$(Q)SHAWK_BIN=$(BIN) scripts/run.sh

# A three-tier app in network namespaces recorded by the streaming probe.
demo: deps $(BIN)
	$(Q)SHAWK_BIN=$(BIN) scripts/demo.sh

# README command 2: every test this machine can run.
test: deps $(BIN) $(TEST_BINS) $(TEST_TOOLS)
	$(Q)OBJDIR=$(OBJDIR) SHAWK_BIN=$(BIN) scripts/run-tests.sh $(TEST_BINS)

unit: $(BIN) $(TEST_BINS)
	$(Q)OBJDIR=$(OBJDIR) SHAWK_BIN=$(BIN) SHAWK_TESTS=unit scripts/run-tests.sh $(TEST_BINS)

integration: $(BIN) $(TEST_TOOLS)
	$(Q)OBJDIR=$(OBJDIR) SHAWK_BIN=$(BIN) SHAWK_TESTS=integration scripts/run-tests.sh

# `make bench` runs every bench/*.sh (~40 min); `make bench BENCH="probe_scan fleet"`
# runs the named ones.  Unknown names fail before anything runs.
BENCH ?= $(patsubst bench/%.sh,%,$(filter-out bench/lib.sh,$(wildcard bench/*.sh)))
bench: $(BIN) $(OBJDIR)/bench/cmdb_bench
	$(Q)for b in $(BENCH); do [ -f bench/$$b.sh ] || { echo "make bench: no bench/$$b.sh" >&2; exit 2; }; done
	$(Q)for b in $(BENCH); do OBJDIR=$(OBJDIR) SHAWK_BIN=$(BIN) bash bench/$$b.sh || exit 1; done

# CMDB benchmark driver (bench/cmdb.sh), linked with the project objects.
$(OBJDIR)/bench/cmdb_bench: bench/cmdb_bench.c $(LIB_OBJS) $(EMBED_OBJS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJS) $(EMBED_OBJS) $(LDLIBS)

# The man page, from the binary's own --help texts.
man: $(OBJDIR)/shawk.1
$(OBJDIR)/shawk.1: $(BIN) scripts/manpage.sh
	$(Q)scripts/manpage.sh $(BIN) > $@.tmp && mv $@.tmp $@

install: $(BIN) $(OBJDIR)/shawk.1
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/shawk
	install -D -m 0644 $(OBJDIR)/shawk.1 $(DESTDIR)$(PREFIX)/share/man/man1/shawk.1

# The unit expects the binary in /usr/local/bin; the environment file is
# installed only when absent so local settings survive upgrades.
install-systemd: install
	install -D -m 0644 deploy/systemd/shawk.service $(DESTDIR)/etc/systemd/system/shawk.service
	test -e $(DESTDIR)/etc/default/shawk || \
		install -D -m 0600 deploy/systemd/shawk.env $(DESTDIR)/etc/default/shawk

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d) $(EMBED_OBJS:.o=.d) $(TEST_BINS:=.d) $(TEST_TOOLS:=.d)
