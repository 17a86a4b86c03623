std = "max"
max_line_length = 120
include_files = { "lua/**/*.lua", "spec/**/*.lua", "bin/atlasrestore", "*.rockspec", ".busted", ".luacheckrc" }
-- The module runs on Lua 5.1-5.4 and LuaJIT: "min" holds only what all of them have, so
-- math.type, table.unpack, utf8, bit32 or jit fail lint here (detect them with rawget).
-- `make lint` also parses lua/ as Lua 5.1 and 5.2, which catches 5.2+/5.3+ syntax.
files["lua"] = { std = "min" }
files["bin/atlasrestore"] = { std = "min" }
files["spec"] = { std = "+busted" }
files["lua/atlasrestore_emulator"] = { std = "ngx_lua" }
files["spec/nginx/app"] = { std = "ngx_lua" }
