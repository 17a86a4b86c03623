--- The libcurl transport, for scripts, cron jobs and the command line: tasks
-- are coroutines run by atlasrestore.scheduler; each client owns one session,
-- so connections are re-used. See transport/contract.lua.
local curl = require "atlasrestore.curl"
local errors = require "atlasrestore.errors"
local scheduler = require "atlasrestore.scheduler"

local transport = { version = "libcurl/" .. curl.version() }
transport.__index = transport

-- The C module's failures are positional; the contract's are error values.
local function perform(session, req, ca_file, proxy)
  local lines = {}
  for name, value in pairs(req.headers) do lines[#lines + 1] = name .. ": " .. value end
  table.sort(lines) -- a stable order keeps requests reproducible
  local out = { session:request {
    method = req.method, url = req.url, headers = lines, body = req.body,
    timeout = req.timeout, connect_timeout = req.connect_timeout,
    -- Stall detection: under 64 bytes a second for stall_timeout seconds is dead.
    low_speed_time = req.stall_timeout, low_speed_limit = 64,
    max_body = req.max_body, ca_file = ca_file, proxy = proxy,
  } }
  if out[1] == nil then -- nil, code, message, status or nil, elapsed
    return nil, errors.new(out[2], { message = out[3], status = out[4], elapsed = out[5] })
  end
  return { status = out[1], headers = out[2], body = out[3], elapsed = out[4] }
end

-- One transfer at a time on the session: a request completes when submitted.
local function sequential_driver(self)
  local done = {}
  local driver = { seq = 0 }
  function driver.now() return curl.now() end
  function driver.submit(_, req)
    driver.seq = driver.seq + 1
    local res, err = perform(self.session, req, self.ca_file, self.proxy)
    done[#done + 1] = { handle = driver.seq, res = res, err = err }
    return driver.seq
  end
  function driver.poll()
    local out = done
    done = {}
    return out
  end
  function driver.cancel(_, handle)
    for i, entry in ipairs(done) do
      if entry.handle == handle then table.remove(done, i) break end
    end
  end
  function driver.pending() return #done end
  function driver.idle(_, seconds) curl.sleep(seconds) end
  return driver
end

--- opts: ca_file, proxy (nil lets libcurl read https_proxy/no_proxy).
function transport.new(opts)
  local self = setmetatable({ session = curl.session(), ca_file = opts.ca_file, proxy = opts.proxy }, transport)
  self.tasks = scheduler.new(sequential_driver(self))
  return self
end

function transport:request(req) return self.tasks:request(req) end

function transport:now() return self.tasks:now() end

function transport:sleep(seconds) return self.tasks:sleep(seconds) end

function transport:spawn(fn, ...) return self.tasks:spawn(fn, ...) end

function transport:wait(task) return self.tasks:wait(task) end

function transport:cancel(task) return self.tasks:cancel(task) end

function transport:close()
  self.tasks:cancel_all()
  self.session:close()
end

return transport
