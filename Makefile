# atlasrestore: build, test and install.  Variable names follow LuaRocks'.
LUA            ?= lua5.4
LUA_VERSION    ?= 5.4
LUA_INCDIR     ?= /usr/include/lua$(LUA_VERSION)
CC             ?= cc
CFLAGS         ?= -O2 -g
LIBFLAG        ?= -shared
PREFIX         ?= /usr/local
LIBDIR         ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
LUADIR         ?= $(PREFIX)/share/lua/$(LUA_VERSION)
DESTDIR        ?=
CURL_CFLAGS    ?= $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS      ?= $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
BUILD          ?= build/$(LUA_VERSION)
BUSTED         ?= $(LUA) /usr/bin/busted
FUZZ_SECONDS   ?= 60

# Every server the checks start listens on loopback: a proxy from the
# environment must not stand in between.
comma := ,
export no_proxy := $(if $(no_proxy),$(no_proxy)$(comma))127.0.0.1,localhost
export NO_PROXY := $(no_proxy)
# The sanitizer build: gcc, because its libasan is the one preloaded into lua5.4.
ASAN_CC        ?= gcc
ASAN_BUILD     ?= build/asan/$(LUA_VERSION)
ASAN_CFLAGS    ?= -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1
VALGRIND       ?= valgrind
# Upper bounds (seconds) on each proof target, so a hang fails instead of stalling `make test`.
ASAN_TIMEOUT     ?= 600
VALGRIND_TIMEOUT ?= 600
SOAK_TIMEOUT     ?= 300

WARNINGS  = -std=c99 -Wall -Wextra -pedantic -Wshadow -Wmissing-prototypes -Wstrict-prototypes
MODFLAGS  = $(CFLAGS) $(WARNINGS) -fPIC -fvisibility=hidden -I$(LUA_INCDIR)

# The response head parser and the table-field readers go into both modules.
SHARED_SRC = csrc/head.c csrc/luahead.c csrc/luafield.c
CORE_SRC  = csrc/lcore.c csrc/json.c csrc/digest.c csrc/hash.c csrc/md5.c csrc/sha256.c csrc/challenge.c $(SHARED_SRC)
CURL_SRC  = csrc/lcurl.c csrc/lmulti.c csrc/transfer.c csrc/sockets.c csrc/buf.c $(SHARED_SRC)
HEADERS   = $(wildcard csrc/*.h)
LUA_SRC   = $(wildcard lua/atlasrestore/*.lua lua/atlasrestore/*/*.lua)

CORE_SO   = $(BUILD)/atlasrestore/core.so
CURL_SO   = $(BUILD)/atlasrestore/curl.so
ASAN_SOS  = $(ASAN_BUILD)/atlasrestore/core.so $(ASAN_BUILD)/atlasrestore/curl.so

.PHONY: all test check deps deps-run unit lint run install clean asan valgrind fuzz soak rock bench packaging

all: $(CORE_SO) $(CURL_SO)

# The module never links liblua: the host process (lua, nginx) provides it.
# The same two rules build the sanitizer variant under $(ASAN_BUILD).
$(CORE_SO) $(ASAN_BUILD)/atlasrestore/core.so: $(CORE_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(MODFLAGS) $(LIBFLAG) -o $@ $(CORE_SRC)

$(CURL_SO) $(ASAN_BUILD)/atlasrestore/curl.so: $(CURL_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(MODFLAGS) $(CURL_CFLAGS) $(LIBFLAG) -o $@ $(CURL_SRC) $(CURL_LIBS)

$(ASAN_SOS): override CC = $(ASAN_CC)
$(ASAN_SOS): MODFLAGS += $(ASAN_CFLAGS)

deps:
	./.ci/deps

deps-run:
	./.ci/deps run

# `make test` = install what is missing, build, then every check.
test: deps
	$(MAKE) check FUZZ_SECONDS=$(FUZZ_SECONDS)

check: all unit lint packaging asan valgrind fuzz soak

unit: all
	$(BUSTED)

# The whole suite with the sanitizer build.  libasan is preloaded into the
# lua5.4 under test only (spec/support/emulator.lua's clean_env() strips it from
# every child), with a shim that keeps modules mapped after lua_close so leak
# stacks keep their symbols.  --ignore-lua stops busted re-executing itself
# through /bin/sh.  Leaks are checked at exit: busted ends with
# os.exit(code, true), so lua_close runs every __gc first.  timeout comes
# before env so that it does not get the preload itself.
ASAN_LIB  = $(shell $(ASAN_CC) -print-file-name=libasan.so)
ASAN_SHIM = $(ASAN_BUILD)/nodlclose.so
ASAN_ENV  = LD_PRELOAD="$(ASAN_LIB) $(abspath $(ASAN_SHIM))" \
  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=1:strict_init_order=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

$(ASAN_SHIM): spec/support/nodlclose.c
	@mkdir -p $(dir $@)
	$(ASAN_CC) -O1 -fPIC $(LIBFLAG) -o $@ $<

asan: all $(ASAN_SOS) $(ASAN_SHIM)
	timeout $(ASAN_TIMEOUT) env $(ASAN_ENV) $(BUSTED) --ignore-lua --cpath='./$(ASAN_BUILD)/?.so'

# Unit specs, one listing per credential kind and the multi handle, with the normal build.
# "still reachable" (libcurl's and OpenSSL's global state) is not an error;
# --keep-debuginfo names the frames of modules that lua_close has unloaded.
valgrind: all
	timeout $(VALGRIND_TIMEOUT) $(VALGRIND) -q --error-exitcode=1 \
	  --leak-check=full --errors-for-leak-kinds=definite,indirect --keep-debuginfo=yes --num-callers=30 \
	  $(BUSTED) --ignore-lua spec/unit spec/e2e/valgrind_spec.lua spec/e2e/multi_spec.lua

# libFuzzer on the JSON decoder, the head parser and the challenge parser,
# FUZZ_SECONDS in all; fails on any crash, sanitizer report or leak.
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) LUA_INCDIR=$(LUA_INCDIR) ./spec/fuzz/run.sh

# 1,000 listings under 10% faults in one process; fails on a wrong listing or RSS growth.
soak: all
	timeout $(SOAK_TIMEOUT) $(LUA) spec/soak.lua

lint:
	luacheck .
	cppcheck --quiet --error-exitcode=1 --enable=warning,style,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -I csrc csrc

run: deps-run all
	@PROJECT="$(PROJECT)" INSTANCE="$(INSTANCE)" $(LUA) spec/support/run.lua

install: all
	install -d $(DESTDIR)$(LUADIR)/atlasrestore/transport $(DESTDIR)$(LIBDIR)/atlasrestore
	install -m 644 lua/atlasrestore/*.lua $(DESTDIR)$(LUADIR)/atlasrestore/
	install -m 644 lua/atlasrestore/transport/*.lua $(DESTDIR)$(LUADIR)/atlasrestore/transport/
	install -m 755 $(CORE_SO) $(CURL_SO) $(DESTDIR)$(LIBDIR)/atlasrestore/

rock:
	luarocks --lua-version=$(LUA_VERSION) make --deps-mode=none atlasrestore-scm-1.rockspec

# Both ways of installing, into throwaway trees, then a listing through each.
packaging: all
	rm -rf build/packaging
	$(MAKE) install PREFIX=$(CURDIR)/build/packaging/make
	luarocks --lua-version=$(LUA_VERSION) --tree $(CURDIR)/build/packaging/rocks make --deps-mode=none \
	  atlasrestore-scm-1.rockspec
	rm -rf atlasrestore # luarocks builds the C modules here; ./?.so must not find them
	$(LUA) spec/support/installed.lua $(CURDIR)/build/packaging/make
	$(LUA) spec/support/installed.lua $(CURDIR)/build/packaging/rocks

# Ratios against lua-cjson, the curl CLI and Python's urllib, measured in one run.
bench: all
	$(LUA) spec/bench.lua

clean:
	rm -rf build
