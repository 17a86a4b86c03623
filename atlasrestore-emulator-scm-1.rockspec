rockspec_format = "3.0"
package = "atlasrestore-emulator"
version = "scm-1"
source = {
  url = "git+file:///atlasrestore",
}
description = {
  summary = "A local emulator of the MongoDB Atlas restore-job endpoints, on nginx with its Lua module",
  detailed = [[
The Atlas emulator the atlasrestore specs run against: the Lua it runs in Debian's nginx
(libnginx-mod-http-lua), its nginx.conf.in and its data, and a starter for Lua scripts
and `atlasrestore emulator`.
]],
  license = "MIT",
}
-- The starter needs luasocket and lua-cjson; the modules nginx runs need lua-cjson
-- (nginx's own Lua provides ngx and bit).  spec/support/installed.lua checks it.
dependencies = {
  "lua >= 5.1, < 5.5",
  "luasocket",
  "lua-cjson",
}
-- Nothing to compile: the Makefile installs the Lua and nginx.conf.in side by side, as the
-- starter expects them (see atlasrestore-scm-1.rockspec).
build = {
  type = "make",
  build_target = "emulator",
  install_target = "install-emulator",
  variables = {
    LUA = "$(LUA)",
    PREFIX = "$(PREFIX)",
    LUADIR = "$(LUADIR)",
  },
}
