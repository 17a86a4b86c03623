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
local emu = emulator.start()
local ok, err = pcall(function()
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
print(("installed under %s (%s): atlasrestore %s lists %d jobs"):format(prefix, jit and jit.version or _VERSION,
  atlasrestore._VERSION, 7))
