std = "max"
max_line_length = 120
include_files = { "lua", "spec", "*.rockspec", ".busted", ".luacheckrc" }
files["spec"] = { std = "+busted" }
files["spec/emulator"] = { std = "ngx_lua" }
files["lua/atlasrestore/transport/resty.lua"] = { std = "+ngx_lua" }
