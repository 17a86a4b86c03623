--- The libcurl transport, for scripts, cron jobs and the command line: tasks
-- are coroutines run by atlasrestore.scheduler over one curl multi handle per
-- client, so connections are re-used and pages can be fetched in parallel.
-- See transport/contract.lua.
local curl = require "atlasrestore.curl"
local errors = require "atlasrestore.errors"
local scheduler = require "atlasrestore.scheduler"

local transport = { version = "libcurl/" .. curl.version(), ERROR_CODES = curl.ERROR_CODES }

-- The request as the C module reads it: the contract's, with libcurl's names.
local function curl_request(req, ca_file, proxy)
  return {
    method = req.method, url = req.url, headers = req.headers, body = req.body,
    timeout = req.timeout, connect_timeout = req.connect_timeout,
    -- Stall detection: under 64 bytes a second for stall_timeout seconds is dead.
    low_speed_time = req.stall_timeout, low_speed_limit = 64,
    max_body = req.max_body, ca_file = ca_file, proxy = proxy,
  }
end

-- A completion of the C module into the contract's response or error value.
local function completion(done)
  if done.code then
    return { handle = done.id, err = errors.new(done.code, { message = done.message, status = done.status,
      elapsed = done.elapsed }) }
  end
  return { handle = done.id, res = { status = done.status, headers = done.headers, body = done.body,
    elapsed = done.elapsed } }
end

-- Every transfer runs on one curl multi handle; nothing runs between calls.
local function multi_driver(multi, ca_file, proxy)
  local driver = {}
  function driver.now() return curl.now() end
  function driver.submit(_, req) return multi:add(curl_request(req, ca_file, proxy)) end
  function driver.poll(_, max_wait)
    local out = {}
    for i, done in ipairs(multi:perform(max_wait)) do out[i] = completion(done) end
    return out
  end
  function driver.cancel(_, handle) multi:remove(handle) end
  function driver.pending() return multi:pending() end
  function driver.idle(_, seconds) curl.sleep(seconds) end
  function driver.close() multi:close() end
  return driver
end

-- Connections are bounded by the transfers in flight (a listing's
-- concurrency); this only caps the cache.
local MAX_CONNECTIONS = 32

--- opts: ca_file, proxy (nil lets libcurl read https_proxy/no_proxy).
function transport.new(opts)
  local multi = curl.multi { max_connections = MAX_CONNECTIONS }
  local runner = scheduler.new(multi_driver(multi, opts.ca_file, opts.proxy))
  runner.version = transport.version
  return runner
end

return transport
