std = "max"
max_line_length = 120
include_files = { "lua/**/*.lua", "spec/**/*.lua", "*.rockspec", ".busted", ".luacheckrc" }
files["spec"] = { std = "+busted" }
files["spec/emulator"] = { std = "ngx_lua" }
