-- What the specs need to run unchanged on Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT 2.1,
-- and the one list of specs that cannot run on some of them (compat.SKIP).
--
--   local compat = require "support.compat"
--   compat.math_type(v)          -- math.type, or its stand-in where numbers are only doubles
--   compat.utf8(0xe9, 0x20ac)    -- the UTF-8 bytes of code points (no "\u{...}" before 5.3)
--   compat.bytes("c3 a9")        -- bytes from hex (no "\x.." in Lua 5.1)
--   compat.it_for("int64")("name", function() ... end)  -- pending, with the reason, where SKIP says so
local compat = {}

--- "5.1", "5.2", "5.3", "5.4" or "luajit": the Lua running the specs.
compat.LUA = type(rawget(_G, "jit")) == "table" and "luajit" or _VERSION:match("%d+%.%d+")

--- Lua 5.3+ has an integer subtype (64 bits here); 5.1, 5.2 and LuaJIT have only doubles.
compat.has_integers = rawget(math, "type") ~= nil

--- Below 2^53 every integer is exact as a double; from there on not every one is. The module
-- counts an integral double as an integer only below it (lua/atlasrestore/response.lua).
compat.MAX_EXACT = 2 ^ 53 - 1

--- math.type where it exists; elsewhere "integer" for integral numbers within +/-(2^53 - 1).
compat.math_type = rawget(math, "type") or function(v)
  if type(v) ~= "number" then return nil end
  if v == math.floor(v) and v >= -compat.MAX_EXACT and v <= compat.MAX_EXACT then return "integer" end
  return "float"
end

compat.maxinteger = rawget(math, "maxinteger")  -- nil without integers
compat.mininteger = rawget(math, "mininteger")
compat.unpack = rawget(table, "unpack") or rawget(_G, "unpack")

function compat.pack(...)
  return { n = select("#", ...), ... }
end

--- The UTF-8 encoding of each code point given.
function compat.utf8(...)
  local out = {}
  for i = 1, select("#", ...) do
    local cp = select(i, ...)
    local floor = math.floor
    if cp < 0x80 then
      out[#out + 1] = string.char(cp)
    elseif cp < 0x800 then
      out[#out + 1] = string.char(0xC0 + floor(cp / 0x40), 0x80 + cp % 0x40)
    elseif cp < 0x10000 then
      out[#out + 1] = string.char(0xE0 + floor(cp / 0x1000), 0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
    else
      out[#out + 1] = string.char(0xF0 + floor(cp / 0x40000), 0x80 + floor(cp / 0x1000) % 0x40,
        0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
    end
  end
  return table.concat(out)
end

--- Bytes from pairs of hex digits; spaces are ignored.
function compat.bytes(hex)
  return (hex:gsub("%s", ""):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

--- os.execute's 5.2+ results everywhere: true|nil, "exit"|"signal", code.
function compat.execute(cmd)
  local a, how, code = os.execute(cmd)
  if type(a) == "number" then -- 5.1 and LuaJIT: the raw wait status
    if a % 256 == 0 then
      code = a / 256
      return code == 0 or nil, "exit", code
    end
    return nil, "signal", a % 128
  end
  return a, how, code
end

--- math.tointeger where it exists; elsewhere the number itself when it is an exact integer.
function compat.tointeger(v)
  if rawget(math, "tointeger") then return math.tointeger(v) end
  if compat.math_type(v) == "integer" then return v end
  return nil
end

--- The specs that cannot run on some Luas, and why. The README lists the same.
compat.SKIP = {
  int64 = {
    on = { ["5.1"] = true, ["5.2"] = true, luajit = true },
    reason = "needs 64-bit integers; numbers here are doubles, exact only up to 2^53",
  },
  doubles = {
    on = { ["5.3"] = true, ["5.4"] = true },
    reason = "about Luas whose numbers are only doubles; here the int64 specs run instead",
  },
}

--- busted's `it` for the specs that compat.SKIP[tag] names, or, on the Luas it covers, a
-- stand-in that records them as pending with the reason. The caller calls it, so that
-- busted places each spec at its own line:  local it_int64 = compat.it_for("int64")
function compat.it_for(tag)
  local busted = require "busted"
  local skip = assert(compat.SKIP[tag], "unknown skip tag " .. tostring(tag))
  if not skip.on[compat.LUA] then return busted.it end
  return function(name)
    busted.pending(("%s [skipped on %s: %s]"):format(name, compat.LUA, skip.reason))
  end
end

return compat
