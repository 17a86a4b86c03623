# atlasrestore: build, test and install.  Variable names follow LuaRocks'.
#
# Which Lua: LUA_VERSION=5.1|5.2|5.3|5.4 (PUC Lua, interpreter lua$(LUA_VERSION)), or
# LUAJIT=1 (LuaJIT 2.1: interpreter luajit, the 5.1 ABI, its own headers).  LUA alone
# works too (LuaRocks passes its interpreter): LuaJIT is told by its name, a PUC
# version by the name lua5.x or else by asking the interpreter.  ABI names the build:
# build/$(ABI) is build/5.1 .. build/5.4 or build/luajit, so LuaJIT and 5.1 never share one.
ifdef LUAJIT
LUA            ?= luajit
endif
ifneq ($(findstring luajit,$(notdir $(LUA))),)
LUA_VERSION    ?= 5.1
ABI            ?= luajit
LUA_INCDIR     ?= /usr/include/luajit-2.1
endif
ifdef LUA
ifeq ($(origin LUA_VERSION),undefined)
LUA_VERSION    := $(or $(patsubst lua%,%,$(filter lua5.%,$(notdir $(LUA)))),$(shell $(LUA) -e 'io.write(_VERSION:sub(5))' 2>/dev/null),5.4)
endif
endif
LUA_VERSION    ?= 5.4
LUA            ?= lua$(LUA_VERSION)
ABI            ?= $(LUA_VERSION)
LUA_INCDIR     ?= /usr/include/lua$(LUA_VERSION)
CC             ?= cc
CFLAGS         ?= -O2 -g
LIBFLAG        ?= -shared
PREFIX         ?= /usr/local
LIBDIR         ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
LUADIR         ?= $(PREFIX)/share/lua/$(LUA_VERSION)
BINDIR         ?= $(PREFIX)/bin
MANDIR         ?= $(PREFIX)/share/man
BASHCOMPDIR    ?= $(PREFIX)/share/bash-completion/completions
HELP2MAN       ?= help2man
DESTDIR        ?=
CURL_CFLAGS    ?= $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS      ?= $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
# gzip bodies are inflated by libdeflate (csrc/gzip.c), for both transports.
DEFLATE_LIBS   ?= -ldeflate
BUILD          ?= build/$(ABI)
BUSTED         ?= $(LUA) /usr/bin/busted
FUZZ_SECONDS   ?= 60

# Every server the checks start listens on loopback: a proxy from the
# environment must not stand in between.
comma := ,
export no_proxy := $(if $(no_proxy),$(no_proxy)$(comma))127.0.0.1,localhost
export NO_PROXY := $(no_proxy)
# The sanitizer build: gcc, because its libasan is the one preloaded into lua5.4.
ASAN_CC        ?= gcc
ASAN_BUILD     ?= build/asan/$(ABI)
ASAN_CFLAGS    ?= -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1
VALGRIND       ?= valgrind
# Upper bounds (seconds) on each proof target, so a hang fails instead of stalling `make test`.
ASAN_TIMEOUT     ?= 600
VALGRIND_TIMEOUT ?= 600
SOAK_TIMEOUT     ?= 300
NGINX_TIMEOUT    ?= 600

WARNINGS  = -std=c99 -Wall -Wextra -pedantic -Wshadow -Wmissing-prototypes -Wstrict-prototypes
MODFLAGS  = $(CFLAGS) $(WARNINGS) -fPIC -fvisibility=hidden -I$(LUA_INCDIR)

# The response head parser, the framing rules, the table-field readers and the wipe go into both modules.
SHARED_SRC = csrc/head.c csrc/framing.c csrc/luahead.c csrc/luafield.c csrc/wipe.c
CORE_SRC  = csrc/lcore.c csrc/json.c csrc/encode.c csrc/digest.c csrc/hash.c csrc/md5.c csrc/sha256.c csrc/challenge.c csrc/base64.c csrc/gzip.c csrc/idset.c csrc/lidset.c $(SHARED_SRC)
CURL_SRC  = csrc/lcurl.c csrc/lmulti.c csrc/request.c csrc/transfer.c csrc/sockets.c csrc/buf.c $(SHARED_SRC)
PROCESS_SRC = csrc/lprocess.c
HEADERS   = $(wildcard csrc/*.h)
LUA_SRC   = $(wildcard lua/*/*.lua lua/*/*/*.lua)

CORE_SO   = $(BUILD)/atlasrestore/core.so
CURL_SO   = $(BUILD)/atlasrestore/curl.so
PROCESS_SO = $(BUILD)/atlasrestore_cli/process.so
CLI_PAGES = $(BUILD)/man/atlasrestore.1 $(BUILD)/completion/atlasrestore.bash
ASAN_SOS  = $(ASAN_BUILD)/atlasrestore/core.so $(ASAN_BUILD)/atlasrestore/curl.so

# The Luas that `make test` runs spec/unit, spec/contract and packaging on, each against
# its own build; spec/e2e, the sanitizers, fuzz and soak run on the default Lua (5.4).
LUAS      ?= 5.1 5.2 5.3 5.4 luajit
lua_of     = $(if $(filter luajit,$(1)),luajit,lua$(1))
version_of = $(if $(filter luajit,$(1)),5.1,$(1))
incdir_of  = $(if $(filter luajit,$(1)),/usr/include/luajit-2.1,/usr/include/lua$(1))
abi_vars   = LUA=$(call lua_of,$(1)) LUA_VERSION=$(call version_of,$(1)) LUA_INCDIR=$(call incdir_of,$(1)) \
  ABI=$(1) BUILD=build/$(1)

# The spec sets, named, so that each target runs a fixed subset whatever .busted's ROOT says.
UNIT_SPECS     ?= spec/unit
CONTRACT_SPECS ?= spec/contract
E2E_SPECS      ?= spec/e2e
NGINX_SPECS    ?= spec/nginx
ASAN_SPECS     ?= spec/unit spec/e2e
VALGRIND_SPECS ?= spec/unit spec/e2e/valgrind_spec.lua spec/e2e/multi_spec.lua
CONTRACT_FILES  = $(shell find $(CONTRACT_SPECS) -name '*_spec.lua' 2>/dev/null)
# The interpreter and the cpath of the chosen build, explicitly: .busted names neither.
BUSTED_HERE     = $(BUSTED) --ignore-lua --cpath='./$(BUILD)/?.so'

.PHONY: all lib cli emulator test check deps deps-run unit contract e2e nginx-specs matrix lint lint-lua lint-c run \
  install install-lib install-cli install-emulator clean asan valgrind fuzz soak rock bench packaging

# The three packages, each built and installed alone (and by its rockspec): the library
# (atlasrestore), the command (atlasrestore-cli) and the emulator (atlasrestore-emulator).
# `all` builds the modules; the command's man page and completion are built for its install.
all: lib $(PROCESS_SO)
lib: $(CORE_SO) $(CURL_SO)
cli: $(PROCESS_SO) $(CLI_PAGES)
emulator:

# The module never links liblua: the host process (lua, nginx) provides it.
# The same two rules build the sanitizer variant under $(ASAN_BUILD).
$(CORE_SO) $(ASAN_BUILD)/atlasrestore/core.so: $(CORE_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(MODFLAGS) $(LIBFLAG) -o $@ $(CORE_SRC) $(DEFLATE_LIBS)

$(CURL_SO) $(ASAN_BUILD)/atlasrestore/curl.so: $(CURL_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(MODFLAGS) $(CURL_CFLAGS) $(LIBFLAG) -o $@ $(CURL_SRC) $(CURL_LIBS)

# The command's process helpers (signals, isatty): no library beyond libc.
$(PROCESS_SO): $(PROCESS_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(MODFLAGS) $(LIBFLAG) -o $@ $(PROCESS_SRC)

$(ASAN_SOS): override CC = $(ASAN_CC)
$(ASAN_SOS): MODFLAGS += $(ASAN_CFLAGS)

deps:
	./.ci/deps

deps-run:
	./.ci/deps run

# `make test` = install what is missing, build, then every check.
test: deps
	$(MAKE) check FUZZ_SECONDS=$(FUZZ_SECONDS)

check: matrix all e2e nginx-specs lint asan valgrind fuzz soak

# spec/unit with $(LUA) against $(BUILD): `make unit LUA_VERSION=5.1`, `make unit LUAJIT=1`.
unit: all
	$(BUSTED_HERE) $(UNIT_SPECS)

# spec/contract the same way; its fixture server is a host nginx, which loads the LuaJIT build.
contract: all
	$(MAKE) all $(call abi_vars,luajit)
	$(if $(CONTRACT_FILES),$(BUSTED_HERE) $(CONTRACT_SPECS),@echo "contract: no specs in $(CONTRACT_SPECS)")

e2e: all
	$(BUSTED_HERE) $(E2E_SPECS)

# spec/nginx: the module inside Debian's nginx (its LuaJIT build, build/luajit), beside the
# emulator's nginx; busted itself runs on $(LUA), for the libcurl side of each comparison.
nginx-specs: all
	$(MAKE) all $(call abi_vars,luajit)
	timeout $(NGINX_TIMEOUT) $(BUSTED_HERE) $(NGINX_SPECS)

# unit, contract and packaging on every Lua of LUAS, each built into its own build/<abi>.
matrix: $(addprefix matrix-,$(LUAS))

matrix-%:
	@echo "== $(call lua_of,$*): spec/unit, spec/contract and packaging against build/$*"
	$(MAKE) all unit contract packaging $(call abi_vars,$*)

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
	timeout $(ASAN_TIMEOUT) env $(ASAN_ENV) $(BUSTED) --ignore-lua --cpath='./$(ASAN_BUILD)/?.so' $(ASAN_SPECS)

# Unit specs, one listing per credential kind and the multi handle, with the normal build.
# "still reachable" (libcurl's and OpenSSL's global state) is not an error;
# --keep-debuginfo names the frames of modules that lua_close has unloaded.
valgrind: all
	timeout $(VALGRIND_TIMEOUT) $(VALGRIND) -q --error-exitcode=1 \
	  --leak-check=full --errors-for-leak-kinds=definite,indirect --keep-debuginfo=yes --num-callers=30 \
	  $(BUSTED_HERE) $(VALGRIND_SPECS)

# libFuzzer on the JSON decoder, the head parser and the challenge parser,
# FUZZ_SECONDS in all; fails on any crash, sanitizer report or leak.
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) LUA_INCDIR=$(LUA_INCDIR) CORE_SRC="$(CORE_SRC)" ./spec/fuzz/run.sh

# 1,000 listings under 10% faults in one process; fails on a wrong listing or RSS growth.
soak: all
	timeout $(SOAK_TIMEOUT) $(LUA) spec/soak.lua

lint: lint-lua lint-c

# luacheck (lua/ against std "min", what every supported Lua has), then the module's
# syntax as Lua 5.1 (no goto, //, bitwise operators, <close>) and 5.2 (no \u{...}) parse it.
lint-lua:
	luacheck .
	luac5.1 -p $(LUA_SRC)
	luac5.2 -p $(LUA_SRC)

# The C in .clang-format's one style, cppcheck, then the C compiled with -Werror against every header set of LUAS.
lint-c:
	clang-format --dry-run --Werror csrc/*.c csrc/*.h
	cppcheck --quiet --error-exitcode=1 --enable=warning,style,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -I csrc csrc
	@set -e; for abi in $(LUAS); do \
	  case $$abi in luajit) inc=/usr/include/luajit-2.1;; *) inc=/usr/include/lua$$abi;; esac; \
	  echo "C warnings against $$inc"; \
	  for f in $(CORE_SRC) $(CURL_SRC) $(PROCESS_SRC); do \
	    $(CC) $(CFLAGS) $(WARNINGS) -Werror -fPIC -I$$inc $(CURL_CFLAGS) -c -o /dev/null $$f; \
	  done; \
	done

run: deps-run all
	@PROJECT="$(PROJECT)" INSTANCE="$(INSTANCE)" $(LUA) spec/support/run.lua

# The command's first line names the interpreter of this build (a bare name through
# env, a path as it is); another names where the module went, unless LAUNCHER_PATHS=no
# (luarocks: the launcher then finds the tree it was installed into from its own path).
SHEBANG = $(if $(findstring /,$(LUA)),$(LUA),/usr/bin/env $(LUA))

# The command run from this tree, for what the build derives from its --help: the
# man page (help2man) and the completion scripts (argparse).
HERE_CMD  = $(BUILD)/bin/atlasrestore
$(HERE_CMD): bin/atlasrestore
	@mkdir -p $(dir $@)
	sed -e '1s|.*|#!$(SHEBANG)|' \
	  -e 's|^local LUADIR, LIBDIR = nil, nil$$|local LUADIR, LIBDIR = "$(CURDIR)/lua", "$(CURDIR)/$(BUILD)"|' $< > $@
	chmod 755 $@

# The subcommands' --help go into the page as sections of their own (help2man's --include).
# Without help2man (Debian's package of that name) the command is installed without its page.
CLI_COMMANDS = list describe watch emulator completion
$(BUILD)/man/atlasrestore.1: $(HERE_CMD) $(LUA_SRC) $(CORE_SO) $(CURL_SO) $(PROCESS_SO)
	@mkdir -p $(dir $@)
	@set -e; { echo '[COMMANDS IN DETAIL]'; for c in $(CLI_COMMANDS); do \
	  echo ".SS atlasrestore $$c"; echo '.nf'; \
	  $(HERE_CMD) $$c --help | sed -e 's/\\/\\e/g' -e "s/^[.']/\\\\\&&/"; echo '.fi'; done; } > $@.include
	@if command -v $(HELP2MAN) >/dev/null; then \
	  $(HELP2MAN) --no-info --section=1 --include=$@.include --output=$@ \
	    --name="list the restore jobs of MongoDB Atlas serverless instances and their successors" $(HERE_CMD); \
	else echo "warning: no $(HELP2MAN): the man page atlasrestore(1) is not built" >&2; fi

$(BUILD)/completion/atlasrestore.bash: $(HERE_CMD) $(LUA_SRC) $(CORE_SO) $(CURL_SO) $(PROCESS_SO)
	@mkdir -p $(dir $@)
	$(HERE_CMD) completion bash > $@

# `make install` installs the three packages; install-lib, install-cli and install-emulator
# each alone.  A LuaJIT build (the nginx set-up) installs the library and the emulator
# only: the command in BINDIR stays the one a PUC Lua build installed.  To install a
# LuaJIT command anyway, ask for it: `make install-cli LUAJIT=1`.
install: install-lib $(if $(filter luajit,$(ABI)),,install-cli) install-emulator

install-lib: lib
	install -d $(DESTDIR)$(LUADIR)/atlasrestore/transport $(DESTDIR)$(LIBDIR)/atlasrestore
	install -m 644 lua/atlasrestore/*.lua $(DESTDIR)$(LUADIR)/atlasrestore/
	install -m 644 lua/atlasrestore/transport/*.lua $(DESTDIR)$(LUADIR)/atlasrestore/transport/
	install -m 755 $(CORE_SO) $(CURL_SO) $(DESTDIR)$(LIBDIR)/atlasrestore/

install-cli: cli
	install -d $(DESTDIR)$(LUADIR)/atlasrestore_cli $(DESTDIR)$(LIBDIR)/atlasrestore_cli $(DESTDIR)$(BINDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR)
	install -m 644 lua/atlasrestore_cli/*.lua $(DESTDIR)$(LUADIR)/atlasrestore_cli/
	install -m 755 $(PROCESS_SO) $(DESTDIR)$(LIBDIR)/atlasrestore_cli/
	sed -e '1s|.*|#!$(SHEBANG)|' $(if $(filter no,$(LAUNCHER_PATHS)),,-e 's|^local LUADIR, LIBDIR = nil, nil$$|local LUADIR, LIBDIR = "$(LUADIR)", "$(LIBDIR)"|') \
	  bin/atlasrestore > $(DESTDIR)$(BINDIR)/atlasrestore
	chmod 755 $(DESTDIR)$(BINDIR)/atlasrestore
	if [ -f $(BUILD)/man/atlasrestore.1 ]; then install -m 644 $(BUILD)/man/atlasrestore.1 $(DESTDIR)$(MANDIR)/man1/; fi
	install -m 644 $(BUILD)/completion/atlasrestore.bash $(DESTDIR)$(BASHCOMPDIR)/atlasrestore

install-emulator:
	install -d $(DESTDIR)$(LUADIR)/atlasrestore_emulator
	install -m 644 lua/atlasrestore_emulator/*.lua lua/atlasrestore_emulator/nginx.conf.in \
	  $(DESTDIR)$(LUADIR)/atlasrestore_emulator/

ROCKSPECS = atlasrestore-scm-1.rockspec atlasrestore-cli-scm-1.rockspec atlasrestore-emulator-scm-1.rockspec
rock:
	for r in $(ROCKSPECS); do luarocks --lua-version=$(LUA_VERSION) make --deps-mode=none $$r || exit 1; done

# Each package alone, both ways (make and luarocks), into a throwaway tree of its own,
# with $(LUA); then, in each tree, its modules load from that tree and its declared
# dependencies cover every require (spec/support/installed.lua), and the whole set lists
# the emulator's demo instance.  luarocks builds through this Makefile (type "make"), so
# its products land in $(BUILD) too: nothing may appear beside the sources.
PACKAGING = build/packaging/$(ABI)
PACKAGES  = lib cli emulator
packaging: all
	rm -rf $(PACKAGING)
	@set -e; for p in $(PACKAGES); do \
	  $(MAKE) -s install-$$p PREFIX=$(CURDIR)/$(PACKAGING)/make-$$p; \
	  luarocks --lua-version=$(LUA_VERSION) --tree $(CURDIR)/$(PACKAGING)/rocks-$$p make --deps-mode=none \
	    $$(case $$p in lib) echo atlasrestore-scm-1.rockspec;; *) echo atlasrestore-$$p-scm-1.rockspec;; esac) \
	    LUA=$(LUA) LUA_INCDIR=$(LUA_INCDIR) >$(CURDIR)/$(PACKAGING)/rocks-$$p.log 2>&1 \
	    || { cat $(CURDIR)/$(PACKAGING)/rocks-$$p.log >&2; exit 1; }; \
	done
	@strays="$$(find . -path ./build -prune -o -path ./.git -prune -o \( -name '*.o' -o -name '*.so' \) -print)"; \
	  if [ -n "$$strays" ] || [ -e atlasrestore ]; then \
	    echo "build products outside build/: $$strays $$(ls -d atlasrestore 2>/dev/null)" >&2; exit 1; fi
	$(LUA) spec/support/installed.lua $(foreach p,$(PACKAGES),$(p)=$(CURDIR)/$(PACKAGING)/make-$(p))
	$(LUA) spec/support/installed.lua $(foreach p,$(PACKAGES),$(p)=$(CURDIR)/$(PACKAGING)/rocks-$(p))

# This module against lua-cjson and the plain peers (curl + jq, Python's urllib,
# luasocket), every figure from one run; the tables also go to build/bench.md.
# Its nginx figures run the LuaJIT build (build/luajit) inside Debian's nginx.
# Lua 5.4: the bench's helpers are a command that times a child process and the
# decoding floor's C module.
BENCH_TOOLS = build/bench/rusage build/bench/floor.so

build/bench/rusage: spec/bench/rusage.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARNINGS) -o $@ $<

build/bench/floor.so: spec/bench/floor.c
	@mkdir -p $(dir $@)
	$(CC) $(MODFLAGS) $(LIBFLAG) -o $@ $<

bench: all $(BENCH_TOOLS)
	$(MAKE) all $(call abi_vars,luajit)
	$(LUA) spec/bench.lua

clean:
	rm -rf build
