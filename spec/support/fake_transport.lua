--- An in-process transport for unit specs: scripted answers, and virtual time
-- kept as an event queue, so that retries, backoff and parallel pages run in
-- microseconds and tasks sleeping at once wake in order. It honours the whole
-- transport contract (lua/atlasrestore/transport/contract.lua), tasks included,
-- through the module's own scheduler.
--
--   local fake = require "support.fake_transport"
--   local t = fake.new(function(req, t) return fake.json(200, { results = {} }) end)
--   atlasrestore.new { transport = t, access_token = "...", base_url = "https://atlas.test" }
--   t.log        -- every request: { method, url, path, query, headers, body, at }
--   t.max_in_flight, t:now(), t:advance(seconds)
--
-- A handler returns a response { status, headers, body, latency } or a failure
-- { code = "TIMEOUT", message = ..., latency = ... }; latency is virtual seconds.
local cjson = require "cjson"
local errors = require "atlasrestore.errors"
local scheduler = require "atlasrestore.scheduler"

local fake = {}

--- A JSON response; `headers` keys are lower case, as the contract says.
function fake.json(status, doc, headers, latency)
  -- lua-cjson 2.1.0 writes an empty table as {}: an empty results array is [].
  local body = cjson.encode(doc):gsub('"results":{}', '"results":[]')
  return { status = status, headers = headers or {}, body = body, latency = latency }
end

--- An Atlas error body.
function fake.api_error(status, code, detail, headers)
  return fake.json(status, { error = status, errorCode = code, detail = detail or code,
    reason = "Error" }, headers)
end

--- A page of `ids`; with `next` when more follow.
function fake.page(ids, more, extra)
  local results = {}
  for i, id in ipairs(ids) do
    results[i] = { id = id, deliveryType = "automated", targetClusterName = "t", targetGroupId = ("a"):rep(24) }
    for k, v in pairs(extra or {}) do results[i][k] = v end
  end
  local links = { { rel = "self", href = "https://atlas.test/self" } }
  if more then links[2] = { rel = "next", href = "https://atlas.test/next" } end
  return { results = results, links = links, totalCount = 0 }
end

--- The n-th job id (24 lowercase hex).
function fake.id(n) return ("%024x"):format(n) end

local function split_url(url)
  local path, query = url:match("^https?://[^/]+([^?]*)%??(.*)$")
  local params = {}
  for k, v in (query or ""):gmatch("([^&=]+)=([^&]*)") do params[k] = v end
  return path, params
end

function fake.new(handler)
  local self = { version = "fake/1", log = {}, in_flight = 0, max_in_flight = 0, clock = 1000, closed = 0 }
  local events, seq = {}, 0

  local driver = {}
  function driver.now() return self.clock end
  function driver.submit(_, req)
    local path, query = split_url(req.url)
    local headers = {}
    for k, v in pairs(req.headers) do headers[k] = v end
    local entry = { method = req.method, url = req.url, path = path, query = query, headers = headers,
      body = req.body, at = self.clock, timeout = req.timeout }
    self.log[#self.log + 1] = entry
    self.in_flight = self.in_flight + 1
    self.max_in_flight = math.max(self.max_in_flight, self.in_flight)
    local answer = handler(entry, self)
    local latency = answer.latency or 0.01
    local res, err
    if answer.code then
      err = errors.new(answer.code, { message = answer.message or answer.code, status = answer.status })
    else
      res = { status = answer.status, headers = answer.headers or {}, body = answer.body or "", elapsed = latency }
    end
    -- An attempt that would outlast its timeout is a TIMEOUT at the timeout.
    if req.timeout and latency > req.timeout then
      latency, res = req.timeout, nil
      err = errors.new(errors.TIMEOUT, { message = "Operation timed out" })
    end
    seq = seq + 1
    local event = { at = self.clock + latency, seq = seq, handle = seq, res = res, err = err }
    local i = #events
    while i > 0 and (events[i].at > event.at) do i = i - 1 end
    table.insert(events, i + 1, event)
    return seq
  end
  function driver.poll(_, max_wait)
    local first = events[1]
    if not first or first.at > self.clock + max_wait then
      self.clock = self.clock + (max_wait == math.huge and 0 or max_wait)
      return {}
    end
    self.clock = math.max(self.clock, first.at)
    local done = {}
    while events[1] and events[1].at <= self.clock do
      local event = table.remove(events, 1)
      self.in_flight = self.in_flight - 1
      done[#done + 1] = event
    end
    return done
  end
  function driver.cancel(_, handle)
    for i, event in ipairs(events) do
      if event.handle == handle then
        table.remove(events, i)
        self.in_flight = self.in_flight - 1
        return
      end
    end
  end
  function driver.pending() return #events end
  function driver.idle(_, seconds) self.clock = self.clock + seconds end

  local tasks = scheduler.new(driver)
  function self.request(_, req) return tasks:request(req) end
  function self.now() return tasks:now() end
  function self.sleep(_, s) return tasks:sleep(s) end
  function self.spawn(_, fn, ...) return tasks:spawn(fn, ...) end
  function self.wait(_, task) return tasks:wait(task) end
  function self.cancel(_, task) return tasks:cancel(task) end
  function self.progress() return tasks:progress() end
  function self.close() self.closed = self.closed + 1 end
  --- Moves the virtual clock (a caller's pause between two calls).
  function self.advance(_, seconds) self.clock = self.clock + seconds end
  return self
end

return fake
