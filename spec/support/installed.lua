-- Lists the emulator's demo instance with the module installed under a prefix
-- (arg[1]): the module comes from there, the emulator from the source tree.
-- Runs on any supported Lua: the tree's version directory is the interpreter's.
local prefix = assert(arg[1], "usage: lua5.x spec/support/installed.lua PREFIX")
local version = _VERSION:match("%d+%.%d+") -- LuaJIT reports 5.1, as its rocks do
package.path = prefix .. "/share/lua/" .. version .. "/?.lua;" .. prefix .. "/share/lua/" .. version
  .. "/?/init.lua;./spec/?.lua;" .. package.path
package.cpath = prefix .. "/lib/lua/" .. version .. "/?.so;" .. package.cpath

-- package.searchpath is 5.2+ (and LuaJIT).
local function searchpath(name, path)
  for template in path:gmatch("[^;]+") do
    local file = template:gsub("%?", (name:gsub("%.", "/")))
    local f = io.open(file, "rb")
    if f then f:close() return file end
  end
end

local atlasrestore = require "atlasrestore"
for _, name in ipairs { "atlasrestore", "atlasrestore.core", "atlasrestore.curl" } do
  local path = searchpath(name, name == "atlasrestore" and package.path or package.cpath)
  assert(path and path:sub(1, #prefix) == prefix, name .. " is not loaded from " .. prefix)
end

local emulator = require "support.emulator"

-- The command, through the launcher the install wrote. In a luarocks tree, with the
-- tree's paths in the environment, as `luarocks path` prints them; `make install`'s
-- launcher finds the module by itself.
local function command_lists(emu)
  local q = emulator.sh_quote
  local env = "env -u MONGODB_ATLAS_CLIENT_ID -u MONGODB_ATLAS_CLIENT_SECRET -u MONGODB_ATLAS_ACCESS_TOKEN "
    .. "MONGODB_ATLAS_PUBLIC_API_KEY=" .. q(emu.public_key) .. " MONGODB_ATLAS_PRIVATE_API_KEY=" .. q(emu.private_key)
    .. " MONGODB_ATLAS_BASE_URL=" .. q(emu.base_url) .. " MONGODB_ATLAS_PROJECT_ID=" .. emu.group_id .. " "
  if io.open(prefix .. "/lib/luarocks", "rb") then
    env = env .. "LUA_PATH=" .. q(prefix .. "/share/lua/" .. version .. "/?.lua;" .. prefix .. "/share/lua/" .. version
      .. "/?/init.lua;;") .. " LUA_CPATH=" .. q(prefix .. "/lib/lua/" .. version .. "/?.so;;") .. " "
  end
  local p = assert(io.popen(emulator.clean_env(env .. q(prefix .. "/bin/atlasrestore") ..
    " list demo -o csv --fields id 2>&1")))
  local out = p:read("*a")
  p:close()
  local _, rows = out:gsub("\r\n", "")
  assert(rows == 8 and out:find("id\r\n", 1, true), "the installed command does not list the demo instance:\n" .. out)
end

local emu = emulator.start()
local ok, err = pcall(function()
  command_lists(emu)
  local client, cerr = atlasrestore.new {
    base_url = emu.base_url, public_key = emu.public_key, private_key = emu.private_key, on_warning = function() end }
  if not client then error(tostring(cerr), 0) end
  local jobs, lerr = client:all_restore_jobs(emu.group_id, "demo")
  if not jobs then error(tostring(lerr), 0) end
  assert(#jobs == 7, "the demo instance has 7 jobs")
  client:close()
end)
emu:stop()
assert(ok, err)
print(("installed under %s (%s): atlasrestore %s and its command list %d jobs"):format(prefix,
  jit and jit.version or _VERSION,
  atlasrestore._VERSION, 7))
