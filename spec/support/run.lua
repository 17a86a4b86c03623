-- `make run`: the atlasrestore command, from the source tree, lists the restore
-- jobs of one instance as a table. Without MONGODB_ATLAS_* credentials it lists the
-- demo instance of the bundled emulator; with them, PROJECT/INSTANCE from Atlas
-- (see the README). Exits with the command's exit code.
local root = arg[0]:match("^(.*)/spec/support/run%.lua$") or "."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. root .. "/spec/?.lua;" .. package.path
package.cpath = root .. "/build/5.4/?.so;" .. package.cpath

local emulator = require "support.emulator"
local compat = require "support.compat"

local q = emulator.sh_quote

local function setting(name)
  local v = os.getenv(name)
  if v ~= "" then return v end
end

local function has_credentials()
  for _, name in ipairs { "PUBLIC_API_KEY", "CLIENT_ID", "ACCESS_TOKEN" } do
    if setting("MONGODB_ATLAS_" .. name) then return true end
  end
  return false
end

-- The command, with the module of this tree and `vars` added to the environment.
local function command(vars, args)
  local env = "LUA_PATH=" .. q(root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;;")
    .. " LUA_CPATH=" .. q(root .. "/build/5.4/?.so;;")
  for name, value in pairs(vars) do env = env .. " " .. name .. "=" .. q(value) end
  local _, _, code = compat.execute(env .. " lua5.4 " .. q(root .. "/bin/atlasrestore") .. " " .. args)
  return code
end

local status
if has_credentials() then
  local project, instance = setting("PROJECT") or setting("MONGODB_ATLAS_PROJECT_ID"), setting("INSTANCE")
  if not project or not instance then
    io.stderr:write("set PROJECT (or MONGODB_ATLAS_PROJECT_ID) and INSTANCE: make run PROJECT=<id> INSTANCE=<name>\n")
    os.exit(2)
  end
  io.stderr:write(("Restore jobs of %s in project %s\n"):format(instance, project))
  status = command({}, "list " .. q(instance) .. " --projectId " .. q(project))
else
  local emu = emulator.start()
  io.stderr:write(("Restore jobs of the emulator's demo instance (%s; no MONGODB_ATLAS_* credentials set)\n"):format(
    emu.base_url))
  local ok, result = pcall(command, {
    MONGODB_ATLAS_BASE_URL = emu.base_url, MONGODB_ATLAS_PUBLIC_API_KEY = emu.public_key,
    MONGODB_ATLAS_PRIVATE_API_KEY = emu.private_key,
  }, "list demo --projectId " .. emu.group_id)
  emu:stop()
  if not ok then error(result, 0) end
  status = result
end
os.exit(status)
