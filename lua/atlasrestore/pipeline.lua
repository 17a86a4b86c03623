--- The request pipeline: one authenticated GET with retries and backoff,
-- within a call's deadline, returning a decoded document or an error value.
local core = require "atlasrestore.core"
local errors = require "atlasrestore.errors"
local flight = require "atlasrestore.flight"
local request = require "atlasrestore.request"
local response = require "atlasrestore.response"

local pipeline = {}

local Pipeline = {}
Pipeline.__index = Pipeline

local RETRY_STATUS = { [429] = true, [500] = true, [502] = true, [503] = true, [504] = true }
local RETRY_CODES = { CONNECT_FAILED = true, TIMEOUT = true, NETWORK_ERROR = true, BAD_RESPONSE = true }

--- cfg: settings, transport, strategy (auth.strategy), scrubber, once (a table
-- for the notices given once: per client, or per nginx worker), flights (the
-- single flights of the same scope, flight.lua's slots; default the pipeline's
-- own), base (the checked base URL: url, path, target), user_agent, events
-- (events.emitter), on_warning.
function pipeline.new(cfg)
  cfg.flights = cfg.flights or {}
  return setmetatable(cfg, Pipeline)
end

--- A call's state: its deadline, and the rate-limit budget that every request
-- of the call obeys (a 429 pauses them all), shared when given.
function Pipeline:context(budget)
  return { deadline = self.transport:now() + self.settings.deadline, budget = budget or { paused_until = 0 } }
end

--- Hands `event` to the subscribers, if there are any.
function Pipeline:emit(event)
  if self.events:active() then self.events:emit(event) end
end

--- Finishes an error on its way out: attempts, and no secret in any field.
function Pipeline:fail(err, attempts)
  err.attempts = attempts
  self.scrubber:deep(err)
  return nil, err
end

-- Bodies are inflated here, once, whichever transport carried them: both ask
-- for gzip and hand over the bytes as they came (core.gunzip refuses a bomb
-- from its trailer, before inflating). Returns res, or nil, err. With `later`,
-- a 2xx gzip body stays as it came, res.gzip set: Pipeline:get inflates and
-- decodes it in one step, without its text as a string.
local function inflated(res, max_body, later)
  local coding = res.headers["content-encoding"]
  coding = coding and coding:lower():match("^%s*(.-)%s*$")
  if coding == nil or coding == "identity" or res.body == "" then return res end
  if later and coding == "gzip" and res.status >= 200 and res.status < 300 then
    res.gzip = true
    return res
  end
  if coding ~= "gzip" then
    return nil, errors.new(errors.BAD_RESPONSE, { status = res.status,
      message = ("a body in Content-Encoding %q, which was not asked for"):format(coding:sub(1, 40)) })
  end
  local body, message, code = core.gunzip(res.body, max_body)
  if not body then return nil, errors.new(code, { status = res.status, message = message }) end
  res.body = body
  return res
end

--- Sends one HTTP request (path relative to the base URL) within the call's
-- deadline. `purpose`: "token" or "revoke" for a strategy's request (see run).
-- Returns a response or nil, err. `later`: see inflated.
function Pipeline:send(ctx, attempt, method, path, headers, body, purpose, later)
  local remaining = ctx.deadline - self.transport:now()
  if remaining < 0.001 then
    return nil, errors.new(errors.TIMEOUT, { message = "the call's deadline passed" })
  end
  local listened = self.events:active()
  if listened then
    purpose = purpose or "api"
    self:emit { type = "request", method = method, path = path, attempt = attempt, purpose = purpose,
      auth = headers.Authorization and headers.Authorization:match("^(%a+)") or "none" }
  end
  local s = self.settings
  local res, err = self.transport:request(request.new(self.base.target, method, path, headers, body, {
    timeout = math.min(s.timeout, remaining), connect_timeout = math.min(s.connect_timeout, remaining),
    stall_timeout = s.stall_timeout, max_body = s.max_body_size,
  }))
  if not res then
    if listened then
      self:emit { type = "response", method = method, path = path, attempt = attempt, purpose = purpose,
        elapsed = err.elapsed or 0, error = err.errorCode, message = err.message }
    end
    err.elapsed = nil
    return nil, err
  end
  if listened then
    self:emit { type = "response", method = method, path = path, attempt = attempt, purpose = purpose,
      elapsed = res.elapsed or 0, status = res.status, bytes = #res.body }
  end
  return inflated(res, s.max_body_size, later)
end

--- Sends a request that a strategy described ({ method, path, headers, body }), once.
function Pipeline:run(ctx, req, purpose)
  return self:send(ctx, 1, req.method, req.path, req.headers, req.body, purpose)
end

--- Revokes `token` with the strategy's revocation request: true, or nil, err.
-- `why`: "close", "refused" or "renewal", for the revoke event.
function Pipeline:revoke(ctx, token, why)
  local strategy = self.strategy
  local res, err = self:run(ctx, strategy:revocation(token, self.user_agent), "revoke")
  if res and res.status ~= 200 then err = response.error(res.status, res.headers, res.body) end
  if err then
    self:fail(err, 1)
    self:emit { type = "revoke", ok = false, reason = why, error = err.errorCode, message = err.message }
    return nil, err
  end
  strategy:revoked(token)
  self:emit { type = "revoke", ok = true, reason = why }
  return true
end

-- One token request: the token it replaces revoked first (best effort: that
-- answer never stands for the fetch's), then the new one checked and scrubbed.
local function fetch_token(self, ctx)
  local strategy = self.strategy
  local function fetch()
    local old, why = strategy:retiring()
    if old then self:revoke(ctx, old, why) end
    local res, err = self:run(ctx, strategy:token_request(self.user_agent), "token")
    if not res then return nil, err end
    local token, expires_in = strategy:token_answer(res)
    if not token then
      err = expires_in
      err.retry_after = response.retry_after(res.headers, err, os.time())
      return nil, err
    end
    self.scrubber:add("token", token)
    self:emit { type = "token", expires_in = expires_in }
    return token, expires_in
  end
  return strategy:obtain(fetch, self, ctx)
end

--- The Authorization value for one request, or nil, err. A token is fetched
-- once for every concurrent request of the transport: they all wait for it.
function Pipeline:authorization(ctx, method, uri)
  local strategy, transport = self.strategy, self.transport
  local value, proof = strategy:authorize(method, uri, transport:now())
  if value ~= false then
    if not value then return nil, proof end -- none yet, or an error
    if proof then self.scrubber:add("digest response", proof) end
    return value
  end
  local _, ok, got, err = flight.share(transport, self, "pending", nil, fetch_token, self, ctx)
  if not ok then error(got, 0) end
  return got, err
end

--- Revokes what close() must: true, or nil, err (see Client:close).
function Pipeline:close(revoke)
  local strategy = self.strategy
  local token = strategy.revocable and strategy:revocable(revoke)
  if not token then return true end
  return self:revoke(self:context(), token, "close")
end

-- Sends one request of an exchange and, after a 401, asks the strategy what it
-- means: res, verdict (strategy:refused's; nil for any other answer) | nil, err.
local function send_once(self, ctx, attempt, path, headers, exchange)
  local strategy = self.strategy
  local res, err = self:send(ctx, attempt, "GET", path, headers, nil, nil, true)
  if not res then return nil, err end
  if res.status ~= 401 then
    strategy:accepted()
    return res
  end
  local verdict
  verdict, err = strategy:refused(res, exchange, self.transport:now())
  if err then return nil, err end
  return res, verdict
end

-- A request while no Digest challenge is adopted yet: one of the concurrent
-- requests (of the client; of the worker, inside nginx) goes without credentials
-- for the challenge its 401 brings, and the others wait for it, then authorize
-- with that challenge. A waiter gets the error of a request that failed on its way
-- (its own retries then apply, as for any failed attempt); it goes on its own when
-- the request brought no challenge, or its task ended, or when it may outlast the
-- waiter's deadline. Returns send_once's answer, or false: authorize again.
local function unchallenged(self, ctx, attempt, path, headers, exchange)
  local led, ok, res, verdict
  if not exchange.waited then
    led, ok, res, verdict = flight.share(self.transport, self.flights, "challenge", ctx.deadline, send_once, self,
      ctx, attempt, path, headers, exchange)
  end
  if led == nil then return send_once(self, ctx, attempt, path, headers, exchange) end
  if led then
    if not ok then error(res, 0) end
    return res, verdict
  end
  exchange.waited = true
  if ok and not res then return nil, errors.copy(verdict) end
  -- The challenge is as fresh for this request as for the one that brought it.
  exchange.challenged = ok and verdict == "challenge"
  return false
end

--- One authenticated exchange. A Digest challenge and its answer, or a token
-- renewal after a 401, belong to the same attempt. Returns the last response.
function Pipeline:exchange(ctx, attempt, path, accept)
  local headers = { Accept = accept, ["Accept-Encoding"] = "gzip", ["User-Agent"] = self.user_agent }
  local exchange = {}
  local res, verdict
  for _ = 1, 3 do
    local authorization, err = self:authorization(ctx, "GET", self.base.path .. path)
    if err then return nil, err end
    headers.Authorization, exchange.authorization = authorization, authorization
    if authorization then
      res, verdict = send_once(self, ctx, attempt, path, headers, exchange)
    else
      res, verdict = unchallenged(self, ctx, attempt, path, headers, exchange)
    end
    if not res then
      if res == nil then return nil, verdict end
    elseif not verdict then
      return res
    end
  end
  return res
end

--- Gives a warning once per client (per worker in nginx) for each `key`: to
-- on_warning, and as a warning event with `fields` (path, endpoint, deprecation, sunset).
function Pipeline:warn(key, message, fields)
  if self.once[key] then return end
  self.once[key] = true
  message = self.scrubber:scrub(message)
  pcall(self.on_warning, message)
  local event = { type = "warning", message = message }
  for k, v in pairs(fields or {}) do event[k] = v end
  self:emit(event)
end

-- Hands an answer's deprecation signals (its Deprecation and Sunset headers, a
-- 410 VERSION_GONE) to the request's `decode.notice`: the caller knows which
-- endpoint it asked and whether the answer is used, so it decides the warning.
local function notice_deprecation(decode, res, err, path)
  local h = res.headers
  local gone = err and err.errorCode == "VERSION_GONE" or nil
  if decode.notice and (h.deprecation or h.sunset or gone) then
    decode.notice { deprecation = h.deprecation, sunset = h.sunset, gone = gone, path = path:match("^[^?]*") }
  end
end

-- Waits out a pause that another request of the call started.
local function obey_pause(self, ctx)
  local now = self.transport:now()
  if ctx.budget.paused_until > now then self.transport:sleep(ctx.budget.paused_until - now) end
end

--- fn(...): a response's CPU work, as the transport paces it (transport/contract.lua).
function Pipeline:work(fn, ...)
  local pace = self.transport.pace
  if pace then return pace(self.transport, fn, ...) end
  return fn(...)
end

-- Atlas's count of the requests its bucket still holds, for the call's window.
local function note_remaining(ctx, res)
  local remaining = tonumber(res.headers["ratelimit-remaining"])
  if remaining then ctx.budget.remaining = remaining end
end

-- A 2xx answer that a get with decode.hold hands back undecoded. Its headers
-- are read now, except a gzip one's: those count once its body inflates, as for
-- any answer (one that does not inflate fails like a broken connection).
local function holding(ctx, decode, res, path, attempt)
  local read = not res.gzip
  if read then
    note_remaining(ctx, res)
    notice_deprecation(decode, res, nil, path)
  end
  return nil, nil, { response = res, attempt = attempt, read = read }
end

--- GETs one page with retries. decode: include_count, envelope; entity = true
-- for one record instead of a page; notice, function(signals) (see notice_deprecation);
-- hold = true: a 2xx answer comes back undecoded, as nil, nil, held, and
-- get(ctx, path, accept, decode, held) decodes it when it is needed, with the
-- attempts left should it not decode (a page held while others are handed out
-- costs its body's bytes, not its decoded tables).
function Pipeline:get(ctx, path, accept, decode, held)
  local s = self.settings
  decode.max_depth = s.max_depth
  local parse = decode.entity and response.entity or response.page
  local attempt = held and held.attempt or 0
  while true do
    local res, err, read -- read: a held answer whose headers were read when it came (see holding)
    if held then
      res, read, held = held.response, held.read, nil
    else
      attempt = attempt + 1
      obey_pause(self, ctx)
      res, err = self:exchange(ctx, attempt, path, accept)
      if res and decode.hold and res.status >= 200 and res.status < 300 then
        return holding(ctx, decode, res, path, attempt)
      end
    end
    local retry_after, doc, stage
    -- A gzip body that does not inflate fails as it would have before decoding.
    if res and res.gzip then
      doc, err, stage = self:work(parse, res.status, res.body, decode, s.max_body_size)
      if stage == "gzip" then res = nil end
    end
    if res then
      if not read then note_remaining(ctx, res) end
      if res.status >= 200 and res.status < 300 then
        if not read then notice_deprecation(decode, res, nil, path) end
        if not res.gzip then doc, err = self:work(parse, res.status, res.body, decode) end
        if doc then return doc end
        if err.limit then return self:fail(err, attempt) end
        -- A broken 2xx body is worth another try; an enveloped error only when its status is.
        if err.errorCode ~= errors.BAD_RESPONSE then
          notice_deprecation(decode, res, err, path)
          if not RETRY_STATUS[err.status] then return self:fail(err, attempt) end
          retry_after = response.retry_after(res.headers, err, os.time())
          err.retry_after = retry_after
        end
      else
        err = response.error(res.status, res.headers, res.body, decode)
        notice_deprecation(decode, res, err, path)
        if not RETRY_STATUS[res.status] then return self:fail(err, attempt) end
        retry_after = response.retry_after(res.headers, err, os.time())
        err.retry_after = retry_after
      end
    elseif RETRY_CODES[err.errorCode] or RETRY_STATUS[err.status] then
      retry_after = err.retry_after -- a failed token request can be a 429 or a 5xx too
    else
      return self:fail(err, attempt)
    end
    -- The retry budget: max_attempts attempts, or, when the caller gave a deadline, as
    -- many as it leaves room for (an outage shorter than the deadline is ridden out).
    if attempt >= s.max_attempts and not s.retry_until_deadline then return self:fail(err, attempt) end
    -- Full jitter: a random wait up to the exponential bound; Retry-After is a floor.
    local wait = math.random() * math.min(s.retry_max_delay, s.retry_base_delay * 2 ^ (attempt - 1))
    local now = self.transport:now()
    if retry_after then
      wait = math.max(wait, retry_after)
      -- A 429 empties the bucket for every request of the call, not just this one.
      if err.status == 429 then ctx.budget.paused_until = math.max(ctx.budget.paused_until, now + retry_after) end
    end
    if now + wait >= ctx.deadline then return self:fail(err, attempt) end
    self:emit { type = "retry", why = err.errorCode, wait = wait, attempt = attempt }
    -- A wait of nothing is no wait (inside nginx, ngx.sleep(0) logs a warning).
    if wait > 0 then self.transport:sleep(wait) end
  end
end

return pipeline
