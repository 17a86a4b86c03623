-- The recorded Atlas bodies in spec/fixtures (their README says where each comes from).
local fixtures = {}

--- The body of spec/fixtures/<name>.json, byte for byte.
function fixtures.read(name)
  local f = assert(io.open("spec/fixtures/" .. name .. ".json", "rb"))
  local body = f:read("*a") -- "*a": Lua 5.1 and 5.2 know no "a"
  f:close()
  return body
end

return fixtures
