--- The real libcurl transport with a spec's hook around each request, for the e2e
-- specs that watch what the module sends.
--
--   local curl_spy = require "support.curl_spy"
--   local t = curl_spy.around(function(inner, req) ...; return inner:request(req) end, curl_opts)
--   -- every other method of the contract is the libcurl transport's own
--   local c = curl_spy.counting()
--   c.most       -- the most requests in flight at once
--   c.log        -- each request as its answer came: { url, start, finish, status } (transport seconds)
local M = {}

function M.around(hook, opts)
  local inner = require("atlasrestore.transport.curl").new(opts or {})
  local t = { version = inner.version }
  function t.request(_, req) return hook(inner, req) end
  for _, method in ipairs { "now", "sleep", "spawn", "wait", "cancel", "close", "progress" } do
    if inner[method] then t[method] = function(_, ...) return inner[method](inner, ...) end end
  end
  return t
end

function M.counting()
  local t
  t = M.around(function(inner, req)
    t.in_flight = t.in_flight + 1
    t.most = math.max(t.most, t.in_flight)
    local start = inner:now()
    local res, err = inner:request(req)
    t.in_flight = t.in_flight - 1
    t.log[#t.log + 1] = { url = req.url, start = start, finish = inner:now(), status = res and res.status }
    return res, err
  end)
  t.in_flight, t.most, t.log = 0, 0, {}
  return t
end

return M
