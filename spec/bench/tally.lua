--- Checks a listing of a generated emulator instance as it goes, holding
-- nothing: job i must have the id prefix .. ("%016x"):format(i), the prefix
-- being the first job's (lua/atlasrestore_emulator/data.lua); and clocks the listing's
-- JSON decoding.  Used by the Lua listers.
local tally = {}
tally.__index = tally

local format, find, clock = string.format, string.find, os.clock
local WRAPS = math.type ~= nil -- integers that wrap: tonumber(id, 16) is exact in its low 64 bits

function tally.new()
  return setmetatable({ n = 0, bad = 0, decode_cpu = 0 }, tally)
end

--- From now on, counts the CPU seconds spent in lib.decode (cjson's, core's),
-- and in lib.gunzip_decode (core's, gzip pages: inflating counts as decoding).
function tally:clock_decode(lib)
  for _, name in ipairs{ "decode", "gunzip_decode" } do
    local decode = lib[name]
    if decode then
      lib[name] = function(...)
        local t0 = clock()
        local doc, err, code, stage = decode(...)
        self.decode_cpu = self.decode_cpu + clock() - t0
        return doc, err, code, stage
      end
    end
  end
end

function tally:add(id)
  local n = self.n + 1
  self.n = n
  if type(id) ~= "string" then
    self.bad = self.bad + 1
    return
  end
  if n == 1 then self.prefix = id:sub(1, 8) end
  -- Without a new string a job, as the check runs inside the processes that
  -- bench.lua measures: the last 16 hex digits are the low 64 bits of the id's
  -- value, which Lua 5.3+ integers wrap to, and the first 8 are the prefix.
  if not (#id == 24 and find(id, self.prefix, 1, true) == 1
    and (WRAPS and tonumber(id, 16) == n or id == self.prefix .. format("%016x", n))) then
    self.bad = self.bad + 1
  end
end

-- The line spec/bench.lua reads; `cpu` is the CPU seconds of the listing.
function tally:report(cpu, extra)
  io.write(format("jobs=%d bad=%d prefix=%s cpu=%.6f decode=%.6f%s\n", self.n, self.bad, self.prefix or "-", cpu,
    self.decode_cpu, extra or ""))
end

return tally
