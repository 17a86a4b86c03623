--- The Lua that runs the module, as the User-Agent names it.
local platform = {}

--- "Lua 5.1" .. "Lua 5.4", or "LuaJIT 2.1.0-beta3": LuaJIT's _VERSION says only "Lua 5.1".
function platform.lua_name()
  local jit = _G.jit
  if type(jit) == "table" and type(jit.version) == "string" then return jit.version end
  return _VERSION
end

return platform
