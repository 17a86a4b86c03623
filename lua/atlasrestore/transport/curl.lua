--- The libcurl transport, for scripts, cron jobs and the command line: tasks
-- are coroutines run by atlasrestore.scheduler over one curl multi handle per
-- client, so connections are re-used and pages can be fetched in parallel.
-- See transport/contract.lua.
local curl = require "atlasrestore.curl"
local errors = require "atlasrestore.errors"
local redact = require "atlasrestore.redact"
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

-- Whether no_proxy (libcurl's rule: "*", or host names that match as a suffix
-- at a dot) keeps `host` off the proxy.
local function bypassed(host, no_proxy)
  for entry in (no_proxy or ""):gmatch("[^,%s]+") do
    entry = entry:lower():gsub("^%.", "")
    if entry == "*" or host == entry or host:sub(-#entry - 1) == "." .. entry then return true end
  end
  return false
end

-- The proxy a request to `target` goes through, as libcurl picks it: the proxy
-- option, else the environment's; or nil.
local function proxy_of(target, proxy)
  if proxy then return proxy end
  local getenv = os.getenv
  local from_env = target.scheme == "https" and (getenv("https_proxy") or getenv("HTTPS_PROXY"))
    or target.scheme == "http" and getenv("http_proxy")
  from_env = from_env or getenv("all_proxy") or getenv("ALL_PROXY")
  if not from_env or from_env == "" or bypassed(target.host, getenv("no_proxy") or getenv("NO_PROXY")) then
    return nil
  end
  return from_env
end

-- A completion of the C module into the contract's response or error value.
-- A connection that failed through a proxy names the proxy: the host in
-- libcurl's message is the proxy's, not Atlas's.
local function completion(done, target, proxy)
  if done.code then
    local message, via = done.message, done.code == errors.CONNECT_FAILED and proxy_of(target, proxy)
    if via then message = ("%s (through the proxy %s)"):format(message, redact.url(via)) end
    return { handle = done.id, err = errors.new(done.code, { message = message, status = done.status,
      elapsed = done.elapsed }) }
  end
  return { handle = done.id, res = { status = done.status, headers = done.headers, body = done.body,
    elapsed = done.elapsed } }
end

-- Every transfer runs on one curl multi handle; nothing runs between calls.
local function multi_driver(multi, ca_file, proxy)
  local driver = {}
  function driver.now() return curl.now() end
  local targets = {} -- handle -> the target of a transfer in flight
  function driver.submit(_, req)
    local handle = multi:add(curl_request(req, ca_file, proxy))
    targets[handle] = req.target
    return handle
  end
  function driver.poll(_, max_wait)
    local out = {}
    for i, done in ipairs(multi:perform(max_wait)) do
      out[i] = completion(done, targets[done.id], proxy)
      targets[done.id] = nil
    end
    return out
  end
  function driver.cancel(_, handle)
    targets[handle] = nil
    multi:remove(handle)
  end
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
