--- The order statistics of the bench's samples (on every Lua: the nginx side runs on LuaJIT).
local stats = {}

local function sorted(xs)
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  return s
end

--- The median of `xs`, or nil when there is none.
function stats.median(xs)
  local s, n = sorted(xs), #xs
  if n == 0 then return nil end
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

--- The nearest-rank percentile `p` (0..1) of `xs`, or nil when there is none.
function stats.percentile(xs, p)
  local s = sorted(xs)
  if #s == 0 then return nil end
  return s[math.max(1, math.ceil(#s * p))]
end

return stats
