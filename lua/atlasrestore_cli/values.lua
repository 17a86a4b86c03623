--- The command's argument values, as lua-argparse converters: each returns the value, or
-- nil and the message argparse shows (a usage error).
local shape = require "atlasrestore.shape"

local values = {}

--- The unified statuses, the vocabulary of --status.
values.STATUSES = shape.STATUSES

local UNITS = { s = 1, m = 60, h = 3600, d = 86400, w = 604800 }

--- "90", "90s", "15m", "24h", "7d", "2w" -> seconds (a number), or nil, message.
function values.seconds(text)
  local n, unit = text:match("^(%d+%.?%d*)([smhdw]?)$")
  n = tonumber(n)
  if not n or n <= 0 then
    return nil, ("%q is not a duration (a number of seconds, or with a unit: 30s, 15m, 24h, 7d, 2w)"):format(text)
  end
  return n * UNITS[unit ~= "" and unit or "s"]
end

--- A positive integer (--page, --limit, --concurrency, --max-attempts, --jobs).
function values.count(text)
  local n = text:match("^%d+$") and tonumber(text)
  if not n or n < 1 then return nil, ("%q is not a positive integer"):format(text) end
  return n
end

--- A number in [0, 1] (--fault-rate).
function values.fraction(text)
  local n = tonumber(text)
  if not n or n < 0 or n > 1 then return nil, ("%q is not a number from 0 to 1"):format(text) end
  return n
end

--- The bound of --since / --until: a duration back from `now` (24h, 7d) -> Unix seconds;
-- Unix seconds as they are; an ISO 8601 date or time, passed on to the module, which
-- reads it. Returns a converter for argparse.
function values.moment(now)
  return function(text)
    local n, unit = text:match("^(%d+%.?%d*)([smhdw])$")
    if n then return math.floor(now() - tonumber(n) * UNITS[unit]) end
    if text:find("^%d+$") then return tonumber(text) end
    if text:find("^%d%d%d%d%-%d%d%-%d%d") then return text end
    return nil, ("%q is neither an ISO 8601 date or time (2026-01-22, 2026-01-22T10:00:00Z) nor a duration "
      .. "back from now (90m, 24h, 7d)"):format(text)
  end
end

--- "running,failed" -> { "RUNNING", "FAILED" }.
function values.statuses(text)
  local known = {}
  for _, s in ipairs(values.STATUSES) do known[s] = true end
  local list = {}
  for s in (text .. ","):gmatch("([^,]*),") do
    s = s:match("^%s*(.-)%s*$"):upper()
    if not known[s] then
      return nil, ("%q is not a status (%s)"):format(s, table.concat(values.STATUSES, ", "))
    end
    list[#list + 1] = s
  end
  return list
end

return values
