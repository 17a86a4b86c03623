--- Checks a listing of a generated emulator instance as it goes, holding
-- nothing: job i must have the id prefix .. ("%016x"):format(i), the prefix
-- being the first job's (spec/emulator/data.lua).  Used by the Lua listers.
local tally = {}
tally.__index = tally

local format = string.format

function tally.new()
  return setmetatable({ n = 0, bad = 0 }, tally)
end

function tally:add(id)
  local n = self.n + 1
  self.n = n
  if type(id) ~= "string" then
    self.bad = self.bad + 1
    return
  end
  if n == 1 then self.prefix = id:sub(1, 8) end
  if id ~= self.prefix .. format("%016x", n) then self.bad = self.bad + 1 end
end

-- The line spec/bench.lua reads; `cpu` is the CPU seconds of the listing.
function tally:report(cpu, extra)
  io.write(format("jobs=%d bad=%d prefix=%s cpu=%.6f%s\n", self.n, self.bad, self.prefix or "-", cpu,
    extra or ""))
end

return tally
