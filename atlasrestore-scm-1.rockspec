rockspec_format = "3.0"
package = "atlasrestore"
version = "scm-1"
source = {
  url = "git+file:///atlasrestore",
}
description = {
  summary = "Lists the backup restore jobs of MongoDB Atlas serverless instances and Flex clusters",
  detailed = [[
A Lua module with a C core: libcurl for HTTP, a C JSON decoder that builds the
restore-job tables directly, HTTP Digest and OAuth service accounts, retries,
pagination and Serverless-to-Flex routing.
]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
}
external_dependencies = {
  CURL = { library = "curl" },
}
build = {
  type = "builtin",
  modules = {
    ["atlasrestore"] = "lua/atlasrestore/init.lua",
    ["atlasrestore.auth"] = "lua/atlasrestore/auth.lua",
    ["atlasrestore.errors"] = "lua/atlasrestore/errors.lua",
    ["atlasrestore.flex"] = "lua/atlasrestore/flex.lua",
    ["atlasrestore.redact"] = "lua/atlasrestore/redact.lua",
    ["atlasrestore.response"] = "lua/atlasrestore/response.lua",
    ["atlasrestore.transport.curl"] = "lua/atlasrestore/transport/curl.lua",
    ["atlasrestore.core"] = {
      sources = { "csrc/lcore.c", "csrc/json.c", "csrc/digest.c", "csrc/hash.c", "csrc/md5.c", "csrc/sha256.c",
        "csrc/challenge.c", "csrc/head.c", "csrc/luahead.c", "csrc/luafield.c" },
    },
    ["atlasrestore.curl"] = {
      sources = { "csrc/lcurl.c", "csrc/lmulti.c", "csrc/transfer.c", "csrc/sockets.c", "csrc/buf.c",
        "csrc/head.c", "csrc/luahead.c", "csrc/luafield.c" },
      libraries = { "curl" },
      incdirs = { "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
    },
  },
}
test = {
  type = "busted",
}
