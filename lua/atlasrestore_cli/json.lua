--- JSON text for the command's output: lua-cjson does the encoding; numbers come out exact
-- (integers as integers, other numbers so that they read back the same) and an empty array stays `[]`.
local cjson = require("cjson").new()
local core = require "atlasrestore.core"
local random = require "atlasrestore.random"

local json = {}

cjson.encode_sparse_array(true)

local array_mt, sparse_array_mt = core.array_mt, core.sparse_array_mt

-- lua-cjson 2.1.0 writes every number with "%.14g" and an empty table as {}. Numbers and
-- empty arrays are handed to it as marker strings, replaced in its output. The markers
-- start with \1, which cjson always escapes, and carry a per-run nonce: no string
-- value a server sends can pass for one.
local NONCE = random.hex(16)
local MARK = "\1" .. NONCE
local ENCODED_MARK = "\\u0001" .. NONCE
local EMPTY_ARRAY = MARK .. "A"

--- The text of a number that reads back as the same number: integral values in
-- full (every digit of a 64-bit integer, or of a double), others in the shortest
-- of 14 or 17 significant digits that round-trips.
function json.number_text(n)
  if n ~= n or n == math.huge or n == -math.huge then return nil end
  if math.floor(n) == n then
    local text = tostring(n)
    if text:find("^%-?%d+$") then return text end -- an integer subtype (5.3+), or a small double
    if n > -2 ^ 63 and n < 2 ^ 63 then return ("%.0f"):format(n) end
  end
  local text = ("%.14g"):format(n)
  if tonumber(text) ~= n then text = ("%.17g"):format(n) end
  return text
end

local function is_array(t)
  local mt = getmetatable(t)
  return mt == array_mt or mt == sparse_array_mt
end

-- A copy of `v` with numbers and empty arrays replaced by markers; `numbers` collects the texts.
local function prepare(v, numbers)
  local t = type(v)
  if t == "number" then
    local text = json.number_text(v)
    if not text then return nil end -- NaN and infinities have no JSON form: null
    numbers[#numbers + 1] = text
    return MARK .. #numbers
  elseif t == "table" then
    if next(v) == nil and is_array(v) then return EMPTY_ARRAY end
    local out = {}
    for k, x in pairs(v) do out[k] = prepare(x, numbers) end
    return out
  end
  return v
end

--- One JSON text (no newline) for a Lua value made of tables, strings, numbers and booleans.
function json.encode(value)
  local numbers = {}
  local text = cjson.encode(prepare(value, numbers))
  text = text:gsub('"' .. ENCODED_MARK .. '(%w+)"', function(tag)
    if tag == "A" then return "[]" end
    return numbers[tonumber(tag)]
  end)
  -- cjson writes "/" as "\/": valid, but URLs read better without. A slash after an
  -- even run of backslashes (escaped backslashes) is left alone.
  return (text:gsub("(\\+)/", function(run)
    if #run % 2 == 1 then return run:sub(2) .. "/" end
  end))
end

--- JSON's null, for a field that has no value.
json.null = cjson.null

return json
