-- Lists the emulator's demo instance with the module installed under a prefix
-- (arg[1]): the module comes from there, the emulator from the source tree.
local prefix = assert(arg[1], "usage: lua5.4 spec/support/installed.lua PREFIX")
package.path = prefix .. "/share/lua/5.4/?.lua;" .. prefix .. "/share/lua/5.4/?/init.lua;./spec/?.lua;"
  .. package.path
package.cpath = prefix .. "/lib/lua/5.4/?.so;" .. package.cpath

local atlasrestore = require "atlasrestore"
for _, name in ipairs { "atlasrestore", "atlasrestore.core", "atlasrestore.curl" } do
  local path = package.searchpath(name, name == "atlasrestore" and package.path or package.cpath)
  assert(path and path:sub(1, #prefix) == prefix, name .. " is not loaded from " .. prefix)
end

local emulator = require "support.emulator"
local emu = emulator.start()
local ok, err = pcall(function()
  local client = assert(atlasrestore.new {
    base_url = emu.base_url, public_key = emu.public_key, private_key = emu.private_key, on_warning = function() end })
  local jobs = assert(client:all_restore_jobs(emu.group_id, "demo"))
  assert(#jobs == 7, "the demo instance has 7 jobs")
  client:close()
end)
emu:stop()
assert(ok, err)
print(("installed under %s: atlasrestore %s lists %d jobs"):format(prefix, atlasrestore._VERSION, 7))
