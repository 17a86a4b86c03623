rockspec_format = "3.0"
package = "atlasrestore"
version = "scm-1"
source = {
  url = "git+file:///atlasrestore",
}
description = {
  summary = "Lists the restore jobs of MongoDB Atlas serverless instances and their Flex and Dedicated successors",
  detailed = [[
The library: a Lua module with a C core: libcurl for HTTP (inside nginx, cosockets that
never block a worker), a C JSON decoder that builds the restore-job tables directly,
HTTP Digest and OAuth service accounts, retries, pagination, and routing to the Flex and
Dedicated successors of serverless instances. The command is atlasrestore-cli, the
bundled Atlas emulator atlasrestore-emulator.
]],
  license = "MIT",
}
-- Tested on each: PUC Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT 2.1 (which reports 5.1).  Beside Lua,
-- libcurl (HTTP) and libdeflate (gzip bodies), below.
dependencies = {
  "lua >= 5.1, < 5.5",
}
external_dependencies = {
  CURL = { library = "curl" },
  DEFLATE = { library = "deflate" },
}
-- Each of the three rockspecs builds and installs through the Makefile (type "make",
-- one target pair per package: lib/install-lib, cli/install-cli, emulator/install-emulator):
-- the products go to build/<abi>/, never beside the sources (which the builtin back end
-- would do with csrc/*.o and ./atlasrestore/*.so), with the same warnings as `make`.
build = {
  type = "make",
  build_target = "lib",
  install_target = "install-lib",
  variables = {
    CFLAGS = "$(CFLAGS)",
    LIBFLAG = "$(LIBFLAG)",
    LUA = "$(LUA)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    CURL_CFLAGS = "-I$(CURL_INCDIR)",
    CURL_LIBS = "-L$(CURL_LIBDIR) -lcurl",
    DEFLATE_LIBS = "-L$(DEFLATE_LIBDIR) -ldeflate",
    PREFIX = "$(PREFIX)",
    LIBDIR = "$(LIBDIR)",
    LUADIR = "$(LUADIR)",
  },
}
test = {
  type = "busted",
}
