-- The Lua named in the User-Agent: LuaJIT by its own name, PUC Lua by _VERSION.
local platform = require "atlasrestore.platform"
local compat = require "support.compat"

describe("platform.lua_name", function()
  it("names the Lua running the specs", function()
    local name = platform.lua_name()
    if compat.LUA == "luajit" then
      assert.matches("^LuaJIT 2%.%d", name)
      assert.equal(jit.version, name)
    else
      assert.equal("Lua " .. compat.LUA, name)
      assert.equal(_VERSION, name)
    end
  end)
end)
