-- Rate limiting, latency and connection accounting.
local state = require "atlasrestore_emulator.state"

local M = {}

local floor, ceil, min = math.floor, math.ceil, math.min

-- Atlas's documented bucket for the restore-job endpoint sets.
M.DEFAULT = { capacity = 1200, refill = 500, per = 60 }

-- The bucket in force: the configured one, or the documented figures.
function M.bucket(cfg)
  local rl = cfg.rate_limit
  if type(rl) == "table" then return rl, true end
  return M.DEFAULT, false
end

-- Takes one token from the project's bucket.  `refill` tokens come back at
-- the end of each `per` seconds since the bucket was first used, up to
-- `capacity`.  Returns ok, limit, remaining, retry_after.  Without a
-- configured bucket the figures only feed RateLimit-Remaining: never refused.
function M.take(cfg, group)
  local b, enforced = M.bucket(cfg)
  local key = "rl:" .. (state.get("rl_epoch") or 0) .. ":" .. group
  local now = ngx.now()
  local level = state.get(key .. ":level")
  local since = state.get(key .. ":since")
  if not level then level, since = b.capacity, now end
  local periods = floor((now - since) / b.per)
  if periods > 0 then
    level = min(b.capacity, level + periods * b.refill)
    since = since + periods * b.per
  end
  local ok = true
  if level >= 1 then
    level = level - 1
  elseif enforced then
    ok = false
  end
  state.set(key .. ":level", level)
  state.set(key .. ":since", since)
  local retry = ok and 0 or ceil(since + b.per - now)
  if not ok and retry < 1 then retry = 1 end
  return ok, floor(b.capacity), floor(level), retry
end

-- Called at the start of every counted request: connection count, in-flight
-- count, then the configured latency (ngx.sleep does not block the worker).
function M.begin(cfg)
  local ctx = ngx.ctx
  local conn = ngx.var.connection
  if ngx.shared.emu_conns:add(conn, true) then state.incr("connections") end
  local n = state.incr("in_flight")
  ctx.in_flight = true
  if n > (state.get("max_in_flight") or 0) then state.set("max_in_flight", n) end
  local lat = cfg.latency
  if type(lat) == "table" then
    local delay = lat.request or 0
    if ngx.var.connection_requests == "1" then delay = delay + (lat.connection or 0) end
    if delay > 0 then ngx.sleep(delay) end
  end
end

-- Called from the log phase, which every finished or aborted request reaches.
function M.finish()
  if not ngx.ctx.in_flight then return end
  ngx.ctx.in_flight = nil
  local n = state.incr("in_flight", -1)
  if n < 0 then state.set("in_flight", 0) end
end

return M
