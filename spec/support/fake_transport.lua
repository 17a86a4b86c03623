--- An in-process transport for unit specs: scripted answers, and virtual time
-- kept as an event queue, so that retries, backoff and parallel pages run in
-- microseconds and tasks sleeping at once wake in order. It honours the whole
-- transport contract (lua/atlasrestore/transport/contract.lua), tasks included,
-- through the module's own scheduler.
--
--   local fake = require "support.fake_transport"
--   local t = fake.new(function(req, t) return fake.json(200, { results = {} }) end)
--   atlasrestore.new { transport = t, access_token = "...", base_url = "https://atlas.test" }
--   t.log        -- every request: { method, url, path, query, headers (a table again), body, at }
--   t.max_in_flight, t:now(), t:advance(seconds)
--   fake.digest_server(key, opts), fake.oauth_server(opts): handlers of an Atlas that authenticates
--   fake.count(log, path): the requests of a log that went to a path
--   fake.client(handler, opts): a client on a new fake transport -> client, t
--
-- A handler returns a response { status, headers, body, latency } or a failure
-- { code = "TIMEOUT", message = ..., latency = ... }; latency is virtual seconds.
local core = require "atlasrestore.core"
local errors = require "atlasrestore.errors"
local scheduler = require "atlasrestore.scheduler"

local fake = {}

--- A JSON response; `headers` keys are lower case, as the contract says.
function fake.json(status, doc, headers, latency)
  -- A page's results are an array even when empty: core.encode writes an unmarked {} as an object.
  if type(doc) == "table" and type(doc.results) == "table" and getmetatable(doc.results) == nil then
    setmetatable(doc.results, core.array_mt)
  end
  local body = assert(core.encode(doc))
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

--- How many requests of `log` went to `path`.
function fake.count(log, path)
  local n = 0
  for _, r in ipairs(log) do if r.path == path then n = n + 1 end end
  return n
end

--- The page of two jobs that fake.digest_server and fake.oauth_server answer once authorized.
fake.OK = fake.json(200, fake.page({ fake.id(1), fake.id(2) }))

--- An Atlas-like Digest server: a fresh nonce on a missing or stale answer;
-- checks every response against the key.
function fake.digest_server(key, opts)
  opts = opts or {}
  local nonce, uses, challenges = "nonce-1", 0, 0
  local function challenge(stale)
    challenges = challenges + 1
    nonce = "nonce-" .. challenges
    uses = 0
    return fake.api_error(401, "UNEXPECTED_ERROR", "You are not authorized for this resource.", {
      ["www-authenticate"] = { ('Digest realm="MMS Public API", domain="", nonce="%s", algorithm=MD5, qop="auth", '
        .. 'stale=%s'):format(nonce, stale and "true" or "false") } })
  end
  local handler = function(req)
    local auth = req.headers.Authorization
    if not auth then return challenge(false) end
    local f = {}
    for k, v in auth:gmatch('(%w+)="?([^",]*)"?') do f[k] = v end
    if f.nonce ~= nonce then return challenge(true) end
    local expected = core.digest_authorization { username = f.username, password = key, realm = f.realm,
      nonce = f.nonce, method = "GET", uri = f.uri, qop = "auth", nc = tonumber(f.nc, 16), cnonce = f.cnonce,
      algorithm = "MD5" }
    if not expected:find('response="' .. f.response .. '"', 1, true) then return challenge(false) end
    uses = uses + 1
    if opts.nonce_uses and uses > opts.nonce_uses then return challenge(true) end
    return fake.OK
  end
  return handler, function() return challenges end
end

--- A token endpoint and an API that accepts the current token only.
function fake.oauth_server(opts)
  opts = opts or {}
  local issued, current = 0, nil
  return function(req)
    if req.path == "/api/oauth/token" then
      issued = issued + 1
      current = "token-" .. issued
      return fake.json(200, { access_token = current, expires_in = opts.expires_in or 3600, token_type = "Bearer" })
    end
    if req.path == "/api/oauth/revoke" then return { status = 200, body = "" } end
    if opts.refuse or req.headers.Authorization ~= "Bearer " .. current then
      return fake.api_error(401, "NOT_AUTHORIZED")
    end
    return fake.OK
  end, function() return issued end, function() current = "revoked" end
end

-- The target's path and its query parameters.
local function split_target(target)
  local path, query = target.path:match("^([^?]*)%??(.*)$")
  local params = {}
  for k, v in query:gmatch("([^&=]+)=([^&]*)") do params[k] = v end
  return path, params
end

function fake.new(handler)
  local events, seq, self = {}, 0, nil

  local driver = {}
  function driver.now() return self.clock end
  function driver.submit(_, req)
    local path, query = split_target(req.target)
    local headers = {}
    for _, line in ipairs(req.headers) do
      local name, value = line:match("^([^:]+): (.*)$")
      headers[name] = value
    end
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
  function driver.close() self.closed = self.closed + 1 end

  -- The module's own task runner, as the libcurl transport's.
  self = scheduler.new(driver)
  self.version, self.log, self.in_flight, self.max_in_flight, self.clock, self.closed = "fake/1", {}, 0, 0, 1000, 0
  --- Moves the virtual clock (a caller's pause between two calls).
  function self.advance(_, seconds) self.clock = self.clock + seconds end
  return self
end

--- A client on a new fake transport answered by `handler`: client, transport.
-- A ready token unless `opts` gives an API key or a service account; opts win.
function fake.client(handler, opts)
  -- The retries' jitter draws the same numbers for each client, whatever ran
  -- before it: a spec's outcome never hangs on the specs before it in the process.
  math.randomseed(1)
  local t = fake.new(handler)
  local o = { transport = t, base_url = "https://atlas.test", access_token = "ready-token-0001",
    on_warning = function() end }
  for k, v in pairs(opts or {}) do o[k] = v end
  if o.public_key or o.client_id then o.access_token = nil end
  return assert(require("atlasrestore").new(o)), t
end

return fake
