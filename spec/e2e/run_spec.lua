-- `make run`'s script (the atlasrestore command from the tree), both ways: the
-- bundled emulator without credentials, and "Atlas" (here a second emulator)
-- with MONGODB_ATLAS_* credentials.
local emulator = require "support.emulator"

local CLEAR = "env -u MONGODB_ATLAS_PUBLIC_API_KEY -u MONGODB_ATLAS_PRIVATE_API_KEY -u MONGODB_ATLAS_CLIENT_ID "
  .. "-u MONGODB_ATLAS_CLIENT_SECRET -u MONGODB_ATLAS_ACCESS_TOKEN -u MONGODB_ATLAS_BASE_URL "
  .. "-u MONGODB_ATLAS_OPS_MANAGER_URL -u MONGODB_ATLAS_PROJECT_ID -u PROJECT -u INSTANCE "

local function run(vars)
  local cmd = CLEAR
  for name, value in pairs(vars) do cmd = cmd .. name .. "=" .. emulator.sh_quote(value) .. " " end
  local pipe = assert(io.popen(emulator.clean_env(cmd .. "lua5.4 spec/support/run.lua 2>&1; echo \"exit=$?\"")))
  local out = pipe:read("a")
  pipe:close()
  return out, tonumber(out:match("exit=(%d+)%s*$"))
end

-- The table's rows: lines that start with a job id.
local function rows(out)
  local n = 0
  for id in out:gmatch("\n(%x+) ") do
    if #id == 24 then n = n + 1 end
  end
  return n
end

describe("make run", function()
  it("lists the emulator's demo instance without credentials", function()
    local out, code = run {}
    assert.equal(0, code, out)
    assert.matches("demo instance", out)
    assert.matches("ID%s+SNAPSHOT%s+CLUSTER%s+TYPE%s+STATUS%s+FINISHED", out)
    assert.equal(7, rows(out))
  end)

  describe("with credentials", function()
    local emu
    lazy_setup(function() emu = emulator.start() end)
    lazy_teardown(function() if emu then emu:stop() end end)

    it("lists PROJECT/INSTANCE from the configured Atlas", function()
      local out, code = run {
        MONGODB_ATLAS_CLIENT_ID = emu.client_id, MONGODB_ATLAS_CLIENT_SECRET = emu.client_secret,
        MONGODB_ATLAS_BASE_URL = emu.base_url, MONGODB_ATLAS_PROJECT_ID = emu.group_id, INSTANCE = "migrated-404",
      }
      assert.equal(0, code, out)
      assert.matches("Restore jobs of migrated%-404 in project " .. emu.group_id, out)
      assert.equal(5, rows(out))
      assert.matches("flex%-target%-1", out)
      assert.is_nil(out:find(emu.client_secret, 1, true))
    end)

    it("says how to name the instance when INSTANCE is missing", function()
      local out, code = run { MONGODB_ATLAS_PUBLIC_API_KEY = emu.public_key,
        MONGODB_ATLAS_PRIVATE_API_KEY = emu.private_key, MONGODB_ATLAS_BASE_URL = emu.base_url, PROJECT = "" }
      assert.equal(2, code, out)
      assert.matches("make run PROJECT=<id> INSTANCE=<name>", out, 1, true)
    end)

    it("prints the error and exits 4 for an unknown instance", function()
      local out, code = run { MONGODB_ATLAS_PUBLIC_API_KEY = emu.public_key,
        MONGODB_ATLAS_PRIVATE_API_KEY = emu.private_key, MONGODB_ATLAS_BASE_URL = emu.base_url,
        PROJECT = emu.group_id, INSTANCE = "nowhere" }
      assert.equal(4, code, out)
      assert.matches("CLUSTER_NOT_FOUND", out)
    end)
  end)
end)
