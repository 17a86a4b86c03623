--- Sans-IO response handling: (status, headers, body) in, a page, a token or
-- an error value out. No sockets and no clock, so every transport shares it.
local core = require "atlasrestore.core"
local dates = require "atlasrestore.dates"
local errors = require "atlasrestore.errors"

local response = {}

local array_mt, sparse_array_mt = core.array_mt, core.sparse_array_mt
-- Lua 5.1, 5.2 and LuaJIT have no integer subtype: there an integral number is an integer
-- only within +/-(2^53 - 1), where doubles are exact. Past it a wire value may already be
-- rounded (2^53 + 1 arrives as 2^53), so such a field makes the page BAD_RESPONSE.
local native_math_type = rawget(math, "type") -- Lua 5.3+
local MAX_EXACT = 2 ^ 53 - 1
local math_type = native_math_type or function(n)
  return (type(n) == "number" and n == math.floor(n) and n >= -MAX_EXACT and n <= MAX_EXACT) and "integer" or "float"
end

local function is_array(v)
  local mt = type(v) == "table" and getmetatable(v)
  return mt == array_mt or mt == sparse_array_mt
end
local function is_object(v) return type(v) == "table" and not is_array(v) end

--- Job fields that the contract types as integers (Flex jobs have none): what
-- core.check_jobs and core.check_job refuse when they hold anything else.
response.INTEGER_FIELDS = { "oplogTs", "oplogInc", "pointInTimeUTCSeconds" }

-- Every key whose number the checks below require to be an integer. The decoder gives such a
-- number as its text where Lua has no integer subtype and the text is not an integer (1e-400,
-- 1199145600.0000000000000000001), so that these checks refuse it on every Lua alike.
local INTEGER_KEYS = { increment = true, totalCount = true, status = true }
for _, name in ipairs(response.INTEGER_FIELDS) do INTEGER_KEYS[name] = true end

local function bad(status, message)
  return errors.new(errors.BAD_RESPONSE, { status = status, message = message })
end

local function is_integer(v) return type(v) == "number" and math_type(v) == "integer" end

local API_ERROR_FIELDS = { detail = "string", reason = "string", parameters = "table", badRequestDetail = "table" }

-- What an error keeps of a server's text: enough to read, bounded so that
-- scrubbing it stays cheap whatever the server sent.
response.MAX_ERROR_TEXT = 4096
local MAX_ERROR_ITEMS = 64

local function bounded(value, depth)
  if type(value) == "string" then
    if #value <= response.MAX_ERROR_TEXT then return value end
    return value:sub(1, response.MAX_ERROR_TEXT) .. " [truncated]"
  end
  if type(value) ~= "table" then return value end
  if depth == 0 then return nil end
  local out, kept = setmetatable({}, getmetatable(value)), 0
  for k, v in pairs(value) do
    kept = kept + 1
    if kept > MAX_ERROR_ITEMS then break end
    out[k] = bounded(v, depth - 1)
  end
  return out
end

-- The error of a decoded body (nil when it is not JSON).
local function error_of(status, headers, body, doc, envelope)
  local fields = { status = status }
  local code
  -- An enveloped single entity is {status, content}: the ApiError is the content.
  if envelope and is_object(doc) and is_object(doc.content) then
    if is_integer(doc.status) then fields.status = doc.status end
    doc = doc.content
  end
  if is_object(doc) then
    if type(doc.errorCode) == "string" then
      code = doc.errorCode
    elseif type(doc.error) == "string" then -- the OAuth token endpoint's shape
      code = doc.error
      if type(doc.error_description) == "string" then fields.detail = doc.error_description end
    end
    for name, kind in pairs(API_ERROR_FIELDS) do
      if type(doc[name]) == kind then fields[name] = bounded(doc[name], 3) end
    end
    if envelope and is_integer(doc.status) then fields.status = doc.status end
  elseif body and body ~= "" then
    fields.message = "the error body is not JSON"
  end
  code = code or (headers and headers["x-error-code"]) or ("HTTP_" .. tostring(fields.status))
  return errors.new(code, fields)
end

-- Decodes a 2xx body: the document, or nil, err. With `gzip` (the max_body_size)
-- the body is gzip, inflated and decoded at once: a body it cannot inflate is
-- nil, err, "gzip" (core.gunzip's error, as the pipeline gives it for any other body).
local function decode_body(status, body, max_depth, gzip)
  local doc, why, code, stage
  if gzip then
    doc, why, code, stage = core.gunzip_decode(body, gzip, max_depth, INTEGER_KEYS)
    if stage == "gzip" then return nil, errors.new(code, { status = status, message = why }), stage end
  else
    doc, why = core.decode(body, max_depth, INTEGER_KEYS)
  end
  if not why then return doc end
  local err = bad(status, why)
  -- The caller's own limit: the same answer would come back, so it is not retried.
  if why:find("too deeply nested", 1, true) then err.limit = "max_depth" end
  return nil, err
end

--- Decodes a 2xx list body into a page.
-- opts: include_count (false drops totalCount), envelope, max_depth. gzip: see decode_body.
function response.page(status, body, opts, gzip)
  opts = opts or {}
  local doc, err, stage = decode_body(status, body, opts.max_depth, gzip)
  if err then return nil, err, stage end
  -- With envelope=true a client that cannot see statuses gets HTTP 200 and
  -- reads the real status from the body.
  if opts.envelope and is_object(doc) and is_integer(doc.status) and doc.status >= 400 then
    return nil, error_of(status, nil, body, doc, true)
  end
  if not is_object(doc) then
    local what = doc == nil and "null" or is_array(doc) and "an array" or "a " .. type(doc)
    return nil, bad(status, "the body is " .. what .. ", not an object")
  end
  if not is_array(doc.results) then
    if doc.results == nil then return nil, bad(status, "the body has no results") end
    return nil, bad(status, "results is not an array")
  end
  -- A null among the results would leave a hole that hides the jobs after it.
  if getmetatable(doc.results) == sparse_array_mt then return nil, bad(status, "results holds a null") end
  -- Every job of every page: in C, a few table reads a job.
  local problem = core.check_jobs(doc.results)
  if problem then return nil, bad(status, problem) end
  if doc.totalCount ~= nil and not (is_integer(doc.totalCount) and doc.totalCount >= 0) then
    return nil, bad(status, "totalCount is not a non-negative integer")
  end
  if doc.links ~= nil and not is_array(doc.links) then return nil, bad(status, "links is not an array") end
  if opts.envelope and doc.status ~= nil and not is_integer(doc.status) then
    return nil, bad(status, "the envelope status is not an integer")
  end
  -- Real Atlas sends totalCount 0 even when asked not to count.
  if opts.include_count == false then doc.totalCount = nil end
  return doc
end

--- Decodes a 2xx body that holds one record (one restore job): the record, or nil, err.
-- opts: envelope ({status, content}: the record is the content), max_depth. gzip: see decode_body.
function response.entity(status, body, opts, gzip)
  opts = opts or {}
  local doc, err, stage = decode_body(status, body, opts.max_depth, gzip)
  if err then return nil, err, stage end
  if opts.envelope and is_object(doc) then
    if is_integer(doc.status) and doc.status >= 400 then return nil, error_of(status, nil, body, doc, true) end
    if not is_object(doc.content) then return nil, bad(status, "the envelope has no content object") end
    doc = doc.content
  end
  local problem = core.check_job(doc, "the record")
  if problem then return nil, bad(status, problem) end
  return doc
end

--- True when the page's links announce another page.
function response.has_next(page)
  for _, link in ipairs(page.links or {}) do
    if is_object(link) and link.rel == "next" then return true end
  end
  return false
end

--- Turns a non-2xx answer (or an enveloped error) into an error value.
function response.error(status, headers, body, opts)
  local doc = body and body ~= "" and core.decode(body, opts and opts.max_depth) or nil
  return error_of(status, headers, body, doc, opts and opts.envelope)
end

-- RFC 6750's b64token: what may follow "Bearer " in a header.
local B64TOKEN = "^[%w%-%._~%+/]+=*$"

--- Decodes a token endpoint answer: {access_token =, expires_in =} or nil, err.
-- A token larger than `max_size`, or one that could not be sent as a header
-- (CR, LF, a space...), is BAD_RESPONSE: it is never put into a request.
function response.token(status, headers, body, max_size)
  if status ~= 200 then return nil, response.error(status, headers, body) end
  local doc, why = core.decode(body)
  if why then return nil, bad(status, "token response: " .. why) end
  if not is_object(doc) or type(doc.access_token) ~= "string" or doc.access_token == "" then
    return nil, bad(status, "the token response has no access_token")
  end
  local token = doc.access_token
  if max_size and #token > max_size then
    return nil, bad(status, ("the access_token is %d bytes, more than the %d allowed"):format(#token, max_size))
  end
  if not token:find(B64TOKEN) then return nil, bad(status, "the access_token is not an RFC 6750 b64token") end
  local expires_in = tonumber(doc.expires_in) or 3600
  return { access_token = token, expires_in = expires_in }
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11,
  Dec = 12 }

--- Seconds to wait before retrying, from `Retry-After` (seconds or an HTTP date),
-- else from a RATE_LIMITED_TOKEN_BUCKET body. `now` is the Unix time, for dates.
function response.retry_after(headers, err, now)
  local value = headers and headers["retry-after"]
  if value then
    local seconds = tonumber(value:match("^%s*(%d+)%s*$"))
    if seconds then return seconds end
    local d, mon, y, hh, mm, ss = value:match("^%a+, (%d%d?) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
    if d and MONTHS[mon] and now then
      local at = dates.utc_epoch(tonumber(y), MONTHS[mon], tonumber(d), tonumber(hh), tonumber(mm), tonumber(ss))
      return math.max(0, at - now)
    end
  end
  if err and err.errorCode == "RATE_LIMITED_TOKEN_BUCKET" then
    local from_detail = type(err.detail) == "string" and tonumber(err.detail:match("retry after (%d+) second"))
    if from_detail then return from_detail end
    local p = err.parameters
    if type(p) == "table" and type(p[2]) == "number" and p[2] >= 0 then return p[2] end
  end
  return nil
end

return response
