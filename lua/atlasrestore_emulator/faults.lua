-- Fault injection for authenticated Atlas API requests (every endpoint).
local state = require "atlasrestore_emulator.state"

local M = {}

local floor = math.floor

-- Park-Miller "minimal standard" generator: products stay below 2^53, so the
-- sequence is exact with LuaJIT doubles and reproducible from (seed, index).
local MOD = 2147483647
local function prng(seed, index)
  local x = (floor(seed) % MOD * 7919 + floor(index) * 104729) % MOD
  if x == 0 then x = 1 end
  local out = {}
  for i = 1, 4 do
    x = (x * 48271) % MOD
    out[i] = x / MOD
  end
  return out[3], out[4]
end
M.prng = prng

-- Decides the fault for this list request: a name from state.FAULT_KINDS, or nil.
-- A non-empty script is consumed first, one entry per request ("ok" = none);
-- once it runs out, or without one, `rate` applies.
function M.pick(cfg)
  local f = cfg.faults
  local script = f.script
  if #script > 0 then
    local pos = state.incr("script_pos")
    if pos <= #script then
      local k = script[pos]
      if k == "ok" then return nil end
      return k
    end
  end
  if f.rate > 0 and #f.kinds > 0 then
    local idx = state.incr("fault_index")
    local u, v = prng(f.seed, idx)
    if u < f.rate then
      return f.kinds[floor(v * #f.kinds) + 1]
    end
  end
  return nil
end

-- The documented 429 body; `bucket` = { capacity, refill, per }.
function M.rate_limited_body(retry_after, bucket)
  local path = ngx.var.uri:gsub("^/", "")
  local json = require "atlasrestore_emulator.json"
  local cap, refill, per = floor(bucket.capacity), floor(bucket.refill), bucket.per
  if per == floor(per) then per = floor(per) end
  return json.encode(json.obj{
    { "detail", string.format("Rate limit exceeded for %s. Please retry after %d seconds. " ..
      "Request capacity: %d. Refill rate: %d per %s seconds.", path, retry_after, cap, refill, tostring(per)) },
    { "error", 429 },
    { "errorCode", "RATE_LIMITED_TOKEN_BUCKET" },
    { "parameters", { path, retry_after, cap, refill, per } },
    { "reason", "Too Many Requests" },
  })
end

M.PROXY_503 = "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n" ..
  "<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n" ..
  "<hr><center>envoy</center>\r\n</body>\r\n</html>\r\n"

-- Sends `body` (already complete) with Content-Length set, per `kind`.
-- Headers other than Content-Length must already be set.
function M.deliver(kind, cfg, body)
  local stall = cfg.stall_seconds
  if kind == "stall" then
    ngx.sleep(stall)
  end
  if kind == "close" then
    -- Promise the whole body, send half, then drop the connection.
    ngx.header["Content-Length"] = #body
    ngx.send_headers()
    ngx.print(body:sub(1, floor(#body / 2)))
    ngx.flush(true)
    return ngx.exit(444)
  end
  if kind == "trickle" then
    ngx.header["Content-Length"] = #body
    ngx.send_headers()
    ngx.flush(true)
    local started = ngx.now()
    local i = 1
    while i <= #body and ngx.now() - started < stall do
      local ok = ngx.print(body:sub(i, i))
      if not ok then return ngx.exit(444) end
      ngx.flush(true)
      i = i + 1
      ngx.sleep(math.min(1, math.max(0, stall - (ngx.now() - started))))
      ngx.update_time()
    end
    -- The time budget is spent: finish at once so the response stays bounded.
    if i <= #body then ngx.print(body:sub(i)) end
    return ngx.exit(ngx.HTTP_OK)
  end
  ngx.header["Content-Length"] = #body
  ngx.print(body)
  return ngx.exit(ngx.HTTP_OK)
end

return M
