# wardgate build. `make demo` and `make test` are what a newcomer needs;
# both install their Debian packages first (tools/deps.sh, only what is missing).

PREFIX      ?= /usr
SBINDIR     ?= $(PREFIX)/sbin
LIBDIR      ?= $(PREFIX)/lib/wardgate
PLUGINDIR   ?= $(LIBDIR)/plugins
DATADIR     ?= $(PREFIX)/share/wardgate
WEBDIR      ?= $(DATADIR)/web
SYSCONFDIR  ?= /etc/wardgate
STATEDIR    ?= /var/lib/wardgate
UNITDIR     ?= /lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DOCDIR      ?= $(PREFIX)/share/doc/wardgate
DESTDIR     ?=

VERSION     := 0.1.0
SANITIZE    ?= 0
ifeq ($(SANITIZE),1)
BUILD       ?= build/san
SANFLAGS    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD       ?= build
SANFLAGS    :=
endif

CC          ?= cc
PKGS        := libmodbus libgpiod libwebsockets sqlite3 libsystemd yaml-0.1 jansson libsodium libqrencode
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN        := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CFLAGS      ?= -O2 -g
ALL_CFLAGS  := -std=gnu11 $(WARN) $(CFLAGS) $(SANFLAGS) -fPIC -D_GNU_SOURCE -Igateway \
               -DWG_VERSION='"$(VERSION)"' -DWG_PLUGIN_DIR='"$(PLUGINDIR)"' \
               -DWG_DB_PATH='"$(STATEDIR)/wardgate.db"' -DWG_WEB_ROOT='"$(WEBDIR)"' \
               $(PKG_CFLAGS)
LDLIBS      := -Wl,--as-needed $(PKG_LIBS) -lpaho-mqtt3as -lpthread -ldl -lm

CORE_SRC    := $(wildcard gateway/*/*.c)
GATEWAY_H   := $(wildcard gateway/*/*.h)
CORE_OBJ    := $(CORE_SRC:%.c=$(BUILD)/%.o)
PLUGINS     := $(notdir $(wildcard plugins/*))
# A plugins/<name>/plugin.mk may set PLUGIN_LIBS_<name> (the libraries it
# needs) and PLUGIN_VARIANTS_<name> (several plugins built from one source
# tree, each compiled with -DWG_PLUGIN_VARIANT='"<variant>"').
-include $(wildcard plugins/*/plugin.mk)
plugin_outputs = $(or $(PLUGIN_VARIANTS_$(1)),$(1))
PLUGIN_SO   := $(foreach p,$(PLUGINS),$(foreach v,$(call plugin_outputs,$(p)),$(BUILD)/plugins/$(v).so))
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TEST_PLUGIN_SRC := $(wildcard tests/plugins/*.c)
TEST_PLUGINS := $(TEST_PLUGIN_SRC:tests/plugins/%.c=$(BUILD)/test-plugins/%.so)

.PHONY: all deps demo test bench install clean format check-unit fuzz fuzz-build
all: $(BUILD)/wardgated $(PLUGIN_SO)

deps:
	@tools/deps.sh

$(BUILD)/%.o: %.c $(GATEWAY_H) $(wildcard plugins/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libwgcore.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/wardgated: $(BUILD)/gateway/main.o $(BUILD)/libwgcore.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# Each plugin is every .c file in plugins/<name>/, linked into <name>.so, or
# into one .so per variant.
define plugin_rule
$(BUILD)/plugins/$(1).so: $(patsubst %.c,$(BUILD)/%.o,$(wildcard plugins/$(1)/*.c))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) -shared -o $$@ $$^ $$(PLUGIN_LIBS_$(1)) -lpthread -lm
endef
define variant_rule
$(BUILD)/plugins/$(2)/%.o: plugins/$(1)/%.c $(GATEWAY_H) $(wildcard plugins/$(1)/*.h)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) -DWG_PLUGIN_VARIANT='"$(2)"' -c -o $$@ $$<
$(BUILD)/plugins/$(2).so: $(patsubst plugins/$(1)/%.c,$(BUILD)/plugins/$(2)/%.o,$(wildcard plugins/$(1)/*.c))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) -shared -o $$@ $$^ $$(PLUGIN_LIBS_$(1)) -lpthread -lm
endef
$(foreach p,$(PLUGINS),$(if $(PLUGIN_VARIANTS_$(p)),\
  $(foreach v,$(PLUGIN_VARIANTS_$(p)),$(eval $(call variant_rule,$(p),$(v)))),\
  $(eval $(call plugin_rule,$(p)))))

# Unit tests of a plugin's pure parts link those sources directly.
MODBUS_UNIT_SRC := plugins/modbus/mb_point.c plugins/modbus/mb_plan.c plugins/modbus/mb_health.c \
                   plugins/modbus/mb_profiles.c \
                   plugins/modbus/mb_device.c plugins/modbus/mb_link.c plugins/modbus/mb_frame.c
$(BUILD)/tests/test_modbus: tests/unit/test_modbus.c $(MODBUS_UNIT_SRC) $(wildcard plugins/modbus/*.h) $(BUILD)/libwgcore.a $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -Iplugins/modbus -o $@ $< $(MODBUS_UNIT_SRC) $(BUILD)/libwgcore.a $(LDLIBS) -lcmocka

# The Modbus TCP frame codec (plugins/modbus/mb_frame.c), pure, on its own.
$(BUILD)/tests/test_modbus_frame: tests/unit/test_modbus_frame.c plugins/modbus/mb_frame.c plugins/modbus/mb_frame.h $(BUILD)/libwgcore.a $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -Iplugins/modbus -o $@ $< plugins/modbus/mb_frame.c $(BUILD)/libwgcore.a $(LDLIBS) -lcmocka

$(BUILD)/test-plugins/%.so: tests/plugins/%.c gateway/drivers/plugin.h gateway/drivers/plugin_abi1.h $(wildcard tests/plugins/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -shared -o $@ $<

# A unit test of driver code links the driver's objects it tests.
$(BUILD)/tests/test_gpio: $(BUILD)/plugins/gpio/gpio_logic.o $(BUILD)/plugins/gpio/simulated_lines.o

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libwgcore.a $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(filter %.o,$^) $(BUILD)/libwgcore.a $(LDLIBS) -lcmocka

# libFuzzer targets: tests/fuzz/<target>/fuzz.c with seeds in
# tests/fuzz/<target>/corpus/, built with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer into build/fuzz/. `make fuzz SECONDS=N` runs
# each for N seconds (CI: 60) and fails on a crash, whose input is kept in
# build/fuzz/<target>/crashes/ (docs/fuzzing.md).
FUZZ_CC      ?= clang
SECONDS      ?= 60
FUZZ_BUILD   := build/fuzz
FUZZ_TARGETS := $(sort $(notdir $(patsubst %/fuzz.c,%,$(wildcard tests/fuzz/*/fuzz.c))))
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# (clang, unlike gcc, warns of vsnprintf in a variadic function that lacks a
# format attribute; the plugin host's callbacks have theirs in plugin.h.)
FUZZ_CFLAGS  := $(filter-out -fPIC,$(ALL_CFLAGS)) -Wno-format-nonliteral -O1 -g $(FUZZ_SAN) \
                -fsanitize=fuzzer-no-link
FUZZ_OBJ     := $(CORE_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
# What a target needs beyond the core library.
FUZZ_EXTRA_mb_point := plugins/modbus/mb_point.c
FUZZ_EXTRA_mb_frame := plugins/modbus/mb_frame.c

$(FUZZ_BUILD)/obj/%.o: %.c $(GATEWAY_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/libwgcore.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/%/fuzz: tests/fuzz/%/fuzz.c tests/fuzz/fuzz_util.h $(FUZZ_BUILD)/libwgcore.a $(wildcard plugins/modbus/*.[ch])
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests/fuzz -Iplugins/modbus \
	    -DWG_SOURCE_ROOT='"$(CURDIR)"' -o $@ $< $(FUZZ_EXTRA_$*) $(FUZZ_BUILD)/libwgcore.a $(LDLIBS)

fuzz-build: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%/fuzz)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) tools/fuzz.sh $(SECONDS) $(FUZZ_TARGETS)

check-unit: $(UNIT_BIN) $(TEST_PLUGINS) all

test: deps
	@$(MAKE) --no-print-directory check-unit
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) tools/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) tools/bench.sh

# Files only; owners come from wardgate-setup (a package's postinst), which
# runs here when DESTDIR is empty: it needs the user `wardgate`, and an image
# built with DESTDIR runs it at its first boot. A site's wardgate.yaml is never
# overwritten (the manager UI edits it; a .deb would not make it a conffile).
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(SYSCONFDIR)/profiles \
	    $(DESTDIR)$(STATEDIR) $(DESTDIR)$(WEBDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(DOCDIR)/docs
	install -m 0755 $(BUILD)/wardgated $(DESTDIR)$(SBINDIR)/wardgated
	install -m 0755 tools/facility-ca.sh $(DESTDIR)$(SBINDIR)/wardgate-facility-ca
	install -m 0644 $(PLUGIN_SO) $(DESTDIR)$(PLUGINDIR)/
	chmod 1770 $(DESTDIR)$(SYSCONFDIR)
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/wardgate.yaml ]; then \
	  echo "install: $(DESTDIR)$(SYSCONFDIR)/wardgate.yaml exists; kept as it is"; \
	else \
	  echo "install -m 0640 config/facility.yaml $(DESTDIR)$(SYSCONFDIR)/wardgate.yaml"; \
	  install -m 0640 config/facility.yaml $(DESTDIR)$(SYSCONFDIR)/wardgate.yaml; \
	fi
	install -m 0644 config/profiles/*.yaml $(DESTDIR)$(SYSCONFDIR)/profiles/
	chmod 0750 $(DESTDIR)$(SYSCONFDIR)/profiles
	[ ! -d web ] || cp -R web/. $(DESTDIR)$(WEBDIR)/
	install -m 0644 systemd/wardgated.service $(DESTDIR)$(UNITDIR)/wardgated.service
	install -m 0644 systemd/wardgate.sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/wardgate.conf
	sed -e 's#@SYSCONFDIR@#$(SYSCONFDIR)#g' -e 's#@STATEDIR@#$(STATEDIR)#g' \
	    -e 's#@SYSUSERSDIR@#$(SYSUSERSDIR)#g' systemd/wardgate-setup.in >$(BUILD)/wardgate-setup
	install -m 0755 $(BUILD)/wardgate-setup $(DESTDIR)$(LIBDIR)/wardgate-setup
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	cp -R docs/. $(DESTDIR)$(DOCDIR)/docs/
	chmod 0750 $(DESTDIR)$(STATEDIR)
ifeq ($(DESTDIR),)
	@if command -v systemd-sysusers >/dev/null; then $(LIBDIR)/wardgate-setup; else \
	  echo "install: no systemd-sysusers here: create the user wardgate, then run $(LIBDIR)/wardgate-setup"; fi
endif

clean:
	rm -rf build

format:
	clang-format -i gateway/*.c gateway/*/*.[ch] plugins/*/*.[ch] tests/unit/*.[ch] tests/plugins/*.c tests/fuzz/*.h tests/fuzz/*/fuzz.c
