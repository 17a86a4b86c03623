--- Single flight: concurrent calls that need the same thing (a token, a Digest
-- challenge, an "auto" route) wait for the one task that fetches it.
local flight = {}

local unpack = rawget(table, "unpack") or rawget(_G, "unpack") -- 5.2+, or 5.1 and LuaJIT

local function pack(...) return { n = select("#", ...), ... } end

--- Waits for the flight `slots[key]`, first starting fn(...) as its task
-- (transport:spawn) when none is in flight. Returns led (true: this call started
-- it, false: it joined another's), then what transport:wait does: true, fn's
-- results, or false, what fn raised or why its task ended. A flight is bounded
-- by the `deadline` of the call that starts it (none: unbounded): a call whose
-- own deadline comes sooner does not wait for it and gets nil alone.
function flight.share(transport, slots, key, deadline, fn, ...)
  local current, led = slots[key], false
  if not current then
    current, led = { bound = deadline or math.huge, task = transport:spawn(fn, ...) }, true
    slots[key] = current
  elseif deadline and current.bound > deadline then
    return nil
  end
  local results = pack(transport:wait(current.task))
  if slots[key] == current then slots[key] = nil end
  return led, unpack(results, 1, results.n)
end

return flight
