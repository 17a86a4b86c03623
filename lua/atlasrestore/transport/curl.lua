--- The libcurl transport, for scripts, cron jobs and the command line: tasks
-- are coroutines run by atlasrestore.scheduler over one curl multi handle per
-- client, so connections are re-used and pages can be fetched in parallel.
-- See transport/contract.lua.
local curl = require "atlasrestore.curl"
local errors = require "atlasrestore.errors"
local scheduler = require "atlasrestore.scheduler"

local transport = { version = "libcurl/" .. curl.version(), ERROR_CODES = curl.ERROR_CODES }
transport.__index = transport

-- The request as the C module reads it.
local function curl_request(req, ca_file, proxy)
  local lines = {}
  for name, value in pairs(req.headers) do lines[#lines + 1] = name .. ": " .. value end
  table.sort(lines) -- a stable order keeps requests reproducible
  return {
    method = req.method, url = req.url, headers = lines, body = req.body,
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
local function multi_driver(self)
  local multi = self.multi
  local driver = {}
  function driver.now() return curl.now() end
  function driver.submit(_, req) return multi:add(curl_request(req, self.ca_file, self.proxy)) end
  function driver.poll(_, max_wait)
    local out = {}
    for i, done in ipairs(multi:perform(max_wait)) do out[i] = completion(done) end
    return out
  end
  function driver.cancel(_, handle) multi:remove(handle) end
  function driver.pending() return multi:pending() end
  function driver.idle(_, seconds) curl.sleep(seconds) end
  return driver
end

-- Connections are bounded by the transfers in flight (a listing's
-- concurrency); this only caps the cache.
local MAX_CONNECTIONS = 32

--- opts: ca_file, proxy (nil lets libcurl read https_proxy/no_proxy).
function transport.new(opts)
  local self = setmetatable({ multi = curl.multi { max_connections = MAX_CONNECTIONS }, ca_file = opts.ca_file,
    proxy = opts.proxy }, transport)
  self.tasks = scheduler.new(multi_driver(self))
  return self
end

function transport:request(req) return self.tasks:request(req) end

function transport:now() return self.tasks:now() end

function transport:sleep(seconds) return self.tasks:sleep(seconds) end

function transport:spawn(fn, ...) return self.tasks:spawn(fn, ...) end

function transport:wait(task) return self.tasks:wait(task) end

function transport:cancel(task) return self.tasks:cancel(task) end

function transport:progress() return self.tasks:progress() end

function transport:close()
  self.tasks:cancel_all()
  self.multi:close()
end

return transport
