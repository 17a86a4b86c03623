-- `make run`: prints the restore jobs of one instance as a table.
-- Without MONGODB_ATLAS_* credentials it lists the demo instance of the bundled
-- emulator; with them, it lists PROJECT/INSTANCE from Atlas (see the README).
local root = arg[0]:match("^(.*)/spec/support/run%.lua$") or "."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. root .. "/spec/?.lua;" .. package.path
package.cpath = root .. "/build/5.4/?.so;" .. package.cpath

local atlasrestore = require "atlasrestore"

local COLUMNS = {
  { "ID", function(j) return j.id end },
  { "TYPE", function(j) return j.deliveryType end },
  { "STATUS", function(j) return j.status end },
  { "SOURCE", function(j) return j.source end },
  { "TARGET", function(j) return j.targetClusterName end },
  { "SNAPSHOT TAKEN", function(j) return j.timestamp end },
  { "FINISHED", function(j) return j.finishedAt end },
}

local function print_table(jobs)
  local rows, widths = {}, {}
  for c, col in ipairs(COLUMNS) do widths[c] = #col[1] end
  for r, job in ipairs(jobs) do
    rows[r] = {}
    for c, col in ipairs(COLUMNS) do
      local v = col[2](job)
      rows[r][c] = v == nil and "-" or tostring(v)
      widths[c] = math.max(widths[c], #rows[r][c])
    end
  end
  local function line(cells)
    local out = {}
    for c, cell in ipairs(cells) do out[c] = cell .. string.rep(" ", widths[c] - #cell) end
    print((table.concat(out, "  "):gsub("%s+$", "")))
  end
  local header = {}
  for c, col in ipairs(COLUMNS) do header[c] = col[1] end
  line(header)
  for _, row in ipairs(rows) do line(row) end
  print(("%d restore job(s)"):format(#jobs))
end

local function has_credentials()
  for _, name in ipairs { "PUBLIC_API_KEY", "CLIENT_ID", "ACCESS_TOKEN" } do
    local v = os.getenv("MONGODB_ATLAS_" .. name)
    if v and v ~= "" then return true end
  end
  return false
end

local function list(client, project, instance)
  local jobs, err = client:all_restore_jobs(project, instance, { endpoint = "auto" })
  if not jobs then
    io.stderr:write(tostring(err), "\n")
    return 1
  end
  print_table(jobs)
  return 0
end

local status
if has_credentials() then
  local function setting(name)
    local v = os.getenv(name)
    if v ~= "" then return v end
  end
  local project, instance = setting("PROJECT") or setting("MONGODB_ATLAS_PROJECT_ID"), setting("INSTANCE")
  if not project or not instance then
    io.stderr:write("set PROJECT (or MONGODB_ATLAS_PROJECT_ID) and INSTANCE: make run PROJECT=<id> INSTANCE=<name>\n")
    os.exit(2)
  end
  local client = assert(atlasrestore.new())
  print(("Restore jobs of %s in project %s (%s)"):format(instance, project, client.base_url))
  status = list(client, project, instance)
  client:close()
else
  local emulator = require "support.emulator"
  local emu = emulator.start()
  local ok, result = pcall(function()
    local client = assert(atlasrestore.new {
      base_url = emu.base_url, public_key = emu.public_key, private_key = emu.private_key,
      on_warning = function() end,
    })
    print(("Restore jobs of the emulator's demo instance (%s; no MONGODB_ATLAS_* credentials set)"):format(
      emu.base_url))
    local code = list(client, emu.group_id, "demo")
    client:close()
    return code
  end)
  emu:stop()
  if not ok then error(result, 0) end
  status = result
end
os.exit(status)
