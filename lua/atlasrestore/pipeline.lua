--- The request pipeline: one authenticated GET with retries and backoff,
-- within a call's deadline, returning a decoded document or an error value.
local errors = require "atlasrestore.errors"
local response = require "atlasrestore.response"

local pipeline = {}

local Pipeline = {}
Pipeline.__index = Pipeline

local RETRY_STATUS = { [429] = true, [500] = true, [502] = true, [503] = true, [504] = true }
local RETRY_CODES = { CONNECT_FAILED = true, TIMEOUT = true, NETWORK_ERROR = true, BAD_RESPONSE = true }

--- cfg: settings, transport, strategy (auth.strategy), scrubber, once (a table
-- for the notices given once: per client, or per nginx worker), base_url,
-- base_path, user_agent, log (function or nil), on_warning.
function pipeline.new(cfg)
  return setmetatable(cfg, Pipeline)
end

--- A call's state: its deadline, and the rate-limit budget that every request
-- of the call obeys (a 429 pauses them all), shared when given.
function Pipeline:context(budget)
  return { deadline = self.transport:now() + self.settings.deadline, budget = budget or { paused_until = 0 } }
end

-- A hook that raises must not break a listing: its error is dropped.
function Pipeline:debug(fmt, ...)
  if self.log then pcall(self.log, self.scrubber:scrub("atlasrestore: " .. fmt:format(...))) end
end

--- Finishes an error on its way out: attempts, and no secret in any field.
function Pipeline:fail(err, attempts)
  err.attempts = attempts
  self.scrubber:deep(err)
  return nil, err
end

--- Sends one HTTP request (path relative to the base URL) within the call's
-- deadline. Returns a response or nil, err.
function Pipeline:send(ctx, attempt, method, path, headers, body)
  local remaining = ctx.deadline - self.transport:now()
  if remaining < 0.001 then
    return nil, errors.new(errors.TIMEOUT, { message = "the call's deadline passed" })
  end
  local url = self.base_url .. path
  local scheme = headers.Authorization and headers.Authorization:match("^(%a+)") or "none"
  self:debug("> %s %s (attempt %d, auth %s)", method, url, attempt, scheme)
  local s = self.settings
  local res, err = self.transport:request {
    method = method, url = url, headers = headers, body = body,
    timeout = math.min(s.timeout, remaining),
    connect_timeout = math.min(s.connect_timeout, remaining),
    stall_timeout = s.stall_timeout,
    max_body = s.max_body_size,
  }
  if not res then
    self:debug("< %s %s failed: %s: %s (attempt %d, %.1f ms)", method, url, tostring(err.errorCode),
      tostring(err.message), attempt, (err.elapsed or 0) * 1000)
    err.elapsed = nil
    return nil, err
  end
  self:debug("< %s %s -> %d (attempt %d, %.1f ms, %d bytes)", method, url, res.status, attempt,
    (res.elapsed or 0) * 1000, #res.body)
  return res
end

--- One authenticated exchange. A Digest challenge and its answer, or a token
-- renewal after a 401, belong to the same attempt. Returns the last response.
function Pipeline:exchange(ctx, attempt, path, accept)
  local headers = { Accept = accept, ["User-Agent"] = self.user_agent }
  local strategy, exchange = self.strategy, {}
  local res, err
  for _ = 1, 3 do
    local authorization
    authorization, err = strategy:authorize(self, ctx, "GET", self.base_path .. path)
    if err then return nil, err end
    headers.Authorization, exchange.authorization = authorization, authorization
    res, err = self:send(ctx, attempt, "GET", path, headers)
    if not res then return nil, err end
    if res.status ~= 401 then
      strategy:accepted()
      return res
    end
    local again
    again, err = strategy:refused(self, res, exchange)
    if err then return nil, err end
    if not again then return res end
  end
  return res
end

--- Gives a warning through on_warning, once per client (per worker in nginx) for each `key`.
function Pipeline:warn(key, message)
  if self.once[key] then return end
  self.once[key] = true
  pcall(self.on_warning, self.scrubber:scrub(message))
end

-- Hands an answer's deprecation signals (its Deprecation and Sunset headers, a
-- 410 VERSION_GONE) to the request's `decode.notice`: the caller knows which
-- endpoint it asked and whether the answer is used, so it decides the warning.
local function notice_deprecation(decode, res, err)
  local h = res.headers
  local gone = err and err.errorCode == "VERSION_GONE" or nil
  if decode.notice and (h.deprecation or h.sunset or gone) then
    decode.notice { deprecation = h.deprecation, sunset = h.sunset, gone = gone }
  end
end

-- Waits out a pause that another request of the call started.
local function obey_pause(self, ctx)
  local now = self.transport:now()
  if ctx.budget.paused_until > now then self.transport:sleep(ctx.budget.paused_until - now) end
end

--- GETs one page with retries. decode: include_count, envelope; entity = true
-- for one record instead of a page; notice, function(signals) (see notice_deprecation).
function Pipeline:get(ctx, path, accept, decode)
  local s = self.settings
  decode.max_depth = s.max_depth
  local parse = decode.entity and response.entity or response.page
  local attempt = 0
  while true do
    attempt = attempt + 1
    obey_pause(self, ctx)
    local res, err = self:exchange(ctx, attempt, path, accept)
    local retry_after
    if res then
      local remaining = tonumber(res.headers["ratelimit-remaining"])
      if remaining then ctx.budget.remaining = remaining end
      if res.status >= 200 and res.status < 300 then
        notice_deprecation(decode, res)
        local doc
        doc, err = parse(res.status, res.body, decode)
        if doc then return doc end
        if err.limit then return self:fail(err, attempt) end
        -- A broken 2xx body is worth another try; an enveloped error only when its status is.
        if err.errorCode ~= errors.BAD_RESPONSE then
          notice_deprecation(decode, res, err)
          if not RETRY_STATUS[err.status] then return self:fail(err, attempt) end
          retry_after = response.retry_after(res.headers, err, os.time())
          err.retry_after = retry_after
        end
      else
        err = response.error(res.status, res.headers, res.body, decode)
        notice_deprecation(decode, res, err)
        if not RETRY_STATUS[res.status] then return self:fail(err, attempt) end
        retry_after = response.retry_after(res.headers, err, os.time())
        err.retry_after = retry_after
      end
    elseif RETRY_CODES[err.errorCode] or RETRY_STATUS[err.status] then
      retry_after = err.retry_after -- a failed token request can be a 429 or a 5xx too
    else
      return self:fail(err, attempt)
    end
    if attempt >= s.max_attempts then return self:fail(err, attempt) end
    -- Full jitter: a random wait up to the exponential bound; Retry-After is a floor.
    local wait = math.random() * math.min(s.retry_max_delay, s.retry_base_delay * 2 ^ (attempt - 1))
    local now = self.transport:now()
    if retry_after then
      wait = math.max(wait, retry_after)
      -- A 429 empties the bucket for every request of the call, not just this one.
      if err.status == 429 then ctx.budget.paused_until = math.max(ctx.budget.paused_until, now + retry_after) end
    end
    if now + wait >= ctx.deadline then return self:fail(err, attempt) end
    self:debug("retrying in %.2f s after %s", wait, tostring(err.errorCode))
    self.transport:sleep(wait)
  end
end

--- POSTs a form with Basic credentials (token revocation). Returns true or nil, err.
function Pipeline:post(path, headers, body)
  local res, err = self:send(self:context(), 1, "POST", path, headers, body)
  if res and res.status ~= 200 then err = response.error(res.status, res.headers, res.body) end
  if err then return self:fail(err, 1) end
  return true
end

return pipeline
