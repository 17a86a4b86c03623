--- atlasrestore: the restore jobs of MongoDB Atlas serverless instances and of
-- the Flex clusters that replaced them.
--
-- This layer holds the policy: options, the environment, authentication,
-- retries, pagination and routing. Decoding lives in `atlasrestore.core` (C,
-- sans-IO) and the bytes travel through a transport (`atlasrestore.transport.*`).
local errors = require "atlasrestore.errors"
local response = require "atlasrestore.response"
local auth = require "atlasrestore.auth"
local redact = require "atlasrestore.redact"
local flex = require "atlasrestore.flex"

local atlasrestore = { _VERSION = "0.1.0" }

local Client = { __name = "atlasrestore.Client" }
Client.__index = Client

local DEFAULTS = {
  base_url = "https://cloud.mongodb.com",
  timeout = 60,           -- seconds, one HTTP attempt
  connect_timeout = 10,
  stall_timeout = 30,     -- seconds under 64 bytes/s before an attempt is cut off
  max_attempts = 4,
  deadline = 600,         -- seconds for a whole call, listing included
  retry_base_delay = 0.5, -- full-jitter exponential backoff: base * 2^(n-1), capped
  retry_max_delay = 30,
  max_body_size = 64 * 1024 * 1024,
  max_depth = 64,
  api_version = "v2",
  endpoint = "serverless",
}

local MAX_ITEMS_PER_PAGE = 500

--- Environment names, as the Atlas CLI and the Terraform provider use them.
atlasrestore.ENV = {
  public_key = "MONGODB_ATLAS_PUBLIC_API_KEY",
  private_key = "MONGODB_ATLAS_PRIVATE_API_KEY",
  client_id = "MONGODB_ATLAS_CLIENT_ID",
  client_secret = "MONGODB_ATLAS_CLIENT_SECRET",
  access_token = "MONGODB_ATLAS_ACCESS_TOKEN",
  base_url = "MONGODB_ATLAS_BASE_URL",
  base_url_cli = "MONGODB_ATLAS_OPS_MANAGER_URL",
}

local OPTION_TYPES = {
  base_url = "string", public_key = "string", private_key = "string", client_id = "string",
  client_secret = "string", access_token = "string", timeout = "number", connect_timeout = "number",
  stall_timeout = "number", user_agent = "string", ca_file = "string", proxy = "string",
  debug = { boolean = true, ["function"] = true }, api_version = "string", endpoint = "string",
  on_warning = "function", max_attempts = "number", deadline = "number", max_body_size = "number",
  max_depth = "number", retry_base_delay = "number", retry_max_delay = "number", allow_http = "boolean",
  getenv = "function", transport = "table",
}

local SERVERLESS_PATH = "/groups/%s/serverless/%s/backup/restoreJobs"
local FLEX_PATH = "/api/atlas/v2/groups/%s/flexClusters/%s/backup/restoreJobs"

--- Routes: where each endpoint lives and which media type it speaks.
local ROUTES = {
  serverless = function(client)
    if client.api_version == "v1.0" then return "/api/atlas/v1.0" .. SERVERLESS_PATH, "application/json" end
    return "/api/atlas/v2" .. SERVERLESS_PATH, "application/vnd.atlas.2023-01-01+json"
  end,
  flex = function() return FLEX_PATH, "application/vnd.atlas.2024-11-13+json" end,
}

-- "Not a Flex cluster": the answers on which "auto" falls back to serverless.
local NOT_FLEX = { CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API = true, CLUSTER_NOT_FOUND = true }

local RETRY_STATUS = { [429] = true, [500] = true, [502] = true, [503] = true, [504] = true }
local RETRY_CODES = { CONNECT_FAILED = true, TIMEOUT = true, NETWORK_ERROR = true, BAD_RESPONSE = true }

---------------------------------------------------------------------------
-- Argument checks: misuse raises, a bad value returns INVALID_ARGUMENT.
---------------------------------------------------------------------------

local function raise_type(fname, argn, expected, value)
  error(("bad argument #%d to '%s' (%s expected, got %s)"):format(argn, fname, expected, type(value)), 3)
end

local function check_client(self, fname)
  if getmetatable(self) ~= Client then
    error(("bad self to '%s' (atlasrestore client expected, got %s)"):format(fname, type(self)), 3)
  end
  if self.closed then error(("'%s' called on a closed client"):format(fname), 3) end
end

local function is_integral(n) return n == math.floor(n) and n > -2 ^ 53 and n < 2 ^ 53 end

--- Validates the path parameters; returns an error value or nil.
local function check_path(fname, group_id, name)
  if type(group_id) ~= "string" then raise_type(fname, 1, "string", group_id) end
  if type(name) ~= "string" then raise_type(fname, 2, "string", name) end
  if not group_id:match("^%x+$") or #group_id ~= 24 or group_id:match("%u") then
    return errors.invalid("group_id must be 24 lowercase hexadecimal characters")
  end
  if not name:match("^[%w][%w%-]*$") then
    return errors.invalid("cluster_name must match ^[a-zA-Z0-9][a-zA-Z0-9-]*$")
  end
end

local function check_items_per_page(n)
  if not is_integral(n) or n < 1 or n > MAX_ITEMS_PER_PAGE then
    return errors.invalid("items_per_page must be an integer in 1.." .. MAX_ITEMS_PER_PAGE)
  end
end

local QUERY_PARAMS = {
  { key = "page_num", wire = "pageNum", kind = "number" },
  { key = "items_per_page", wire = "itemsPerPage", kind = "number" },
  { key = "include_count", wire = "includeCount", kind = "boolean" },
  { key = "envelope", wire = "envelope", kind = "boolean" },
  { key = "pretty", wire = "pretty", kind = "boolean" },
}

local function check_keys(fname, argn, tbl, allowed)
  for k in pairs(tbl) do
    if not allowed[k] then
      error(("bad argument #%d to '%s' (unknown option '%s')"):format(argn, fname, tostring(k)), 4)
    end
  end
end

local QUERY_KEYS = {}
for _, p in ipairs(QUERY_PARAMS) do QUERY_KEYS[p.key] = true end

--- Validates a query table; returns the wire query string, or nil, err.
local function build_query(fname, query)
  if query == nil then return "" end
  if type(query) ~= "table" then raise_type(fname, 3, "table", query) end
  check_keys(fname, 3, query, QUERY_KEYS)
  local parts = {}
  for _, p in ipairs(QUERY_PARAMS) do
    local v = query[p.key]
    if v ~= nil then
      if type(v) ~= p.kind then error(("bad argument #3 to '%s' (%s must be a %s, got %s)"):format(
        fname, p.key, p.kind, type(v)), 3) end
      if p.key == "page_num" and (not is_integral(v) or v < 1) then
        return nil, errors.invalid("page_num must be an integer >= 1")
      end
      if p.key == "items_per_page" then
        local err = check_items_per_page(v)
        if err then return nil, err end
      end
      parts[#parts + 1] = p.wire .. "=" .. (p.kind == "number" and ("%d"):format(v) or tostring(v))
    end
  end
  return #parts > 0 and "?" .. table.concat(parts, "&") or ""
end

---------------------------------------------------------------------------
-- Construction
---------------------------------------------------------------------------

local function nonempty(v) if v ~= nil and v ~= "" then return v end end

local function random_hex(n)
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(math.ceil(n / 2))
  if f then f:close() end
  if not bytes then
    local t = {}
    for i = 1, math.ceil(n / 2) do t[i] = string.char(math.random(0, 255)) end
    bytes = table.concat(t)
  end
  return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end)):sub(1, n)
end

--- Picks exactly one kind of credentials: explicit options first, else the environment.
local function resolve_credentials(opts, getenv)
  local kinds = {
    { name = "api key", fields = { "public_key", "private_key" } },
    { name = "service account", fields = { "client_id", "client_secret" } },
    { name = "access token", fields = { "access_token" } },
  }
  local explicit = {}
  for _, kind in ipairs(kinds) do
    for _, f in ipairs(kind.fields) do
      if opts[f] ~= nil then explicit[#explicit + 1] = kind; break end
    end
  end
  if #explicit > 1 then
    return nil, errors.invalid(("give one kind of credentials, not both %s and %s"):format(
      explicit[1].name, explicit[2].name))
  end
  local creds = {}
  if #explicit == 1 then
    for _, f in ipairs(explicit[1].fields) do
      creds[f] = nonempty(opts[f])
      if not creds[f] then return nil, errors.invalid(explicit[1].name .. " credentials need " .. f) end
    end
    return creds
  end
  for _, kind in ipairs(kinds) do
    local complete = true
    for _, f in ipairs(kind.fields) do
      creds[f] = nonempty(getenv(atlasrestore.ENV[f]))
      complete = complete and creds[f] ~= nil
    end
    if complete then return creds end
    creds = {}
  end
  return nil, errors.invalid("no credentials: give public_key + private_key, client_id + client_secret or "
    .. "access_token, or set MONGODB_ATLAS_PUBLIC_API_KEY + MONGODB_ATLAS_PRIVATE_API_KEY, "
    .. "MONGODB_ATLAS_CLIENT_ID + MONGODB_ATLAS_CLIENT_SECRET or MONGODB_ATLAS_ACCESS_TOKEN")
end

local LOOPBACK = { localhost = true, ["[::1]"] = true }

--- Splits and checks the base URL; plain http only for loopback or when allowed.
local function parse_base_url(url, allow_http)
  local scheme, authority, path = url:match("^(%a[%w+.-]*)://([^/?#]+)(/?[^?#]*)$")
  if not scheme then return nil, errors.invalid("base_url must look like https://host[:port][/path]") end
  scheme = scheme:lower()
  if scheme ~= "https" and scheme ~= "http" then
    return nil, errors.invalid("base_url must be https:// (or http://)")
  end
  if authority:find("@", 1, true) then
    return nil, errors.invalid("base_url must not carry credentials; use the credential options")
  end
  local host, port = authority:match("^(%[[%x:.]+%])(.*)$")
  if not host then host, port = authority:match("^([%w.-]+)(.*)$") end
  if not host or not (port == "" or port:match("^:%d+$")) then
    return nil, errors.invalid("base_url has no valid host[:port]")
  end
  if scheme == "http" and not allow_http and not LOOPBACK[host:lower()] and not host:match("^127%.%d+%.%d+%.%d+$") then
    return nil, errors.invalid("base_url uses plain http:// on a non-loopback host; use https:// or allow_http = true")
  end
  path = path:gsub("/+$", "")
  return { url = scheme .. "://" .. authority .. path, path = path }
end

--- Creates a client. `opts` may be nil: everything then comes from the environment.
function atlasrestore.new(opts)
  if opts ~= nil and type(opts) ~= "table" then raise_type("new", 1, "table", opts) end
  opts = opts or {}
  for k, v in pairs(opts) do
    local expected = OPTION_TYPES[k]
    if not expected then error(("bad argument #1 to 'new' (unknown option '%s')"):format(tostring(k)), 2) end
    if type(expected) == "table" and not expected[type(v)] or type(expected) == "string" and type(v) ~= expected then
      error(("bad argument #1 to 'new' (option '%s' has the wrong type: %s)"):format(k, type(v)), 2)
    end
  end
  local getenv = opts.getenv or os.getenv
  -- Only the tunables: credentials stay out of the settings table.
  local settings = {}
  for k, v in pairs(DEFAULTS) do settings[k] = opts[k] == nil and v or opts[k] end
  for _, k in ipairs { "timeout", "connect_timeout", "stall_timeout", "deadline", "max_body_size",
    "retry_base_delay", "retry_max_delay" } do
    local v = settings[k]
    if v ~= v or v <= 0 or v == math.huge then return nil, errors.invalid(k .. " must be a positive number") end
  end
  for k, max in pairs { max_attempts = 100, max_depth = 1000 } do
    if not is_integral(settings[k]) or settings[k] < 1 or settings[k] > max then
      return nil, errors.invalid(("%s must be an integer in 1..%d"):format(k, max))
    end
  end
  if settings.api_version ~= "v2" and settings.api_version ~= "v1.0" then
    return nil, errors.invalid('api_version must be "v2" or "v1.0"')
  end
  if settings.endpoint ~= "serverless" and settings.endpoint ~= "flex" and settings.endpoint ~= "auto" then
    return nil, errors.invalid('endpoint must be "serverless", "flex" or "auto"')
  end

  local creds, err = resolve_credentials(opts, getenv)
  if not creds then return nil, err end
  local base_url = opts.base_url or nonempty(getenv(atlasrestore.ENV.base_url))
    or nonempty(getenv(atlasrestore.ENV.base_url_cli)) or DEFAULTS.base_url
  local base
  base, err = parse_base_url(base_url, opts.allow_http)
  if not base then return nil, err end

  local transport = opts.transport or require("atlasrestore.transport.curl").new {
    ca_file = opts.ca_file, proxy = opts.proxy,
  }
  local self = setmetatable({
    settings = settings,
    api_version = settings.api_version,
    base_url = base.url,
    base_path = base.path,
    transport = transport,
    scrubber = redact.scrubber(),
    routes = {},   -- "group/name" -> the endpoint that served it in "auto"
    user_agent = ("atlasrestore/%s (%s; %s)"):format(atlasrestore._VERSION, _VERSION, transport.version)
      .. (opts.user_agent and " " .. opts.user_agent or ""),
  }, Client)
  if creds.public_key then
    self.digest = auth.digest(creds.public_key, creds.private_key, random_hex)
    self.credential_label = "api key " .. creds.public_key
    self.scrubber:add("key", creds.private_key, creds.public_key)
  elseif creds.client_id then
    self.tokens = auth.token_cache(creds.client_id, creds.client_secret)
    self.credential_label = "service account " .. creds.client_id
    self.scrubber:add("key", creds.client_secret, creds.client_id)
  else
    self.access_token = creds.access_token
    self.credential_label = "access token"
    self.scrubber:add("key", creds.access_token)
  end
  if opts.debug == true then
    self.log = function(line) io.stderr:write(line, "\n") end
  elseif opts.debug then
    self.log = opts.debug
  end
  self.on_warning = opts.on_warning or function(message) io.stderr:write(message, "\n") end
  return self
end

function Client:__tostring()
  return ("atlasrestore.Client (%s, %s)%s"):format(self.base_url, self.credential_label,
    self.closed and " closed" or "")
end

---------------------------------------------------------------------------
-- One request: transport, debug log, authentication, retries
---------------------------------------------------------------------------

-- A hook that raises must not break a listing: its error is dropped.
function Client:_debug(fmt, ...)
  if self.log then pcall(self.log, self.scrubber:scrub("atlasrestore: " .. fmt:format(...))) end
end

--- Sends one HTTP request within the call's deadline. Returns a response or nil, err.
function Client:_send(ctx, method, url, headers, body)
  local remaining = ctx.deadline - self.transport:now()
  if remaining < 0.001 then
    return nil, errors.new(errors.TIMEOUT, { message = "the call's deadline passed" })
  end
  local scheme = headers.Authorization and headers.Authorization:match("^(%a+)") or "none"
  self:_debug("> %s %s (attempt %d, auth %s)", method, url, ctx.attempt, scheme)
  local res, code, message, status, elapsed = self.transport:request {
    method = method, url = url, headers = headers, body = body,
    timeout = math.min(self.settings.timeout, remaining),
    connect_timeout = math.min(self.settings.connect_timeout, remaining),
    stall_timeout = self.settings.stall_timeout,
    max_body = self.settings.max_body_size,
  }
  if not res then
    self:_debug("< %s %s failed: %s: %s (attempt %d, %.1f ms)", method, url, code, message, ctx.attempt,
      (elapsed or 0) * 1000)
    return nil, errors.new(code, { message = message, status = status })
  end
  self:_debug("< %s %s -> %d (attempt %d, %.1f ms, %d bytes)", method, url, res.status, ctx.attempt,
    (res.elapsed or 0) * 1000, #res.body)
  return res
end

--- The service-account token, fetched when the cache has none.
function Client:_token(ctx)
  local now = self.transport:now()
  local token = self.tokens:current(now)
  if token then return token end
  local res, err = self:_send(ctx, "POST", self.base_url .. "/api/oauth/token", {
    Authorization = self.tokens:basic(),
    ["Content-Type"] = "application/x-www-form-urlencoded",
    Accept = "application/json",
    ["User-Agent"] = self.user_agent,
  }, "grant_type=client_credentials")
  if not res then return nil, err end
  local got
  got, err = response.token(res.status, res.headers, res.body)
  if not got then
    err.retry_after = response.retry_after(res.headers, err, os.time())
    return nil, err
  end
  self.scrubber:add("token", got.access_token)
  self.tokens:store(got.access_token, got.expires_in, now)
  return got.access_token
end

--- One authenticated exchange. A Digest challenge and its answer, or a token
-- renewal after a 401, belong to the same attempt. Returns the last response.
function Client:_exchange(ctx, path_and_query, accept)
  local url, uri = self.base_url .. path_and_query, self.base_path .. path_and_query
  local headers = { Accept = accept, ["User-Agent"] = self.user_agent }
  local challenge_is_new, token_renewed = false, false
  local res, err
  for _ = 1, 3 do
    if self.digest then
      headers.Authorization = self.digest:authorization("GET", uri)
    elseif self.tokens then
      local token
      token, err = self:_token(ctx)
      if not token then return nil, err end
      headers.Authorization = "Bearer " .. token
    else
      headers.Authorization = "Bearer " .. self.access_token
    end
    res, err = self:_send(ctx, "GET", url, headers)
    if not res then return nil, err end
    if res.status ~= 401 then
      if self.tokens then self.tokens.refused = false end
      return res
    end
    local answer_again = false
    if self.digest then
      local challenge = auth.parse_digest_challenge(res.headers["www-authenticate"])
      -- Answer when we had no nonce, when ours went stale, or when a re-used one
      -- was refused; never twice for a fresh challenge (that is a wrong key).
      if challenge and (not headers.Authorization or challenge.stale == "true" or not challenge_is_new) then
        answer_again = self.digest:accept(challenge)
        challenge_is_new = true
      end
    elseif self.tokens then
      -- One new token and one retry per 401. When a new token is refused too,
      -- the account itself is refused (an access list, a role): from then on
      -- that happens at most once per twelfth of a token's lifetime, so that
      -- the account's 100 live tokens are never used up and a fixed account
      -- is noticed soon.
      if token_renewed then
        self.tokens.refused = true
      elseif not self.tokens.refused or self.tokens:age(self.transport:now()) >= self.tokens.lifetime / 12 then
        self.tokens:forget()
        token_renewed, answer_again = true, true
      end
    end
    if not answer_again then return res end
  end
  return res
end

--- Reports a deprecated or sunset endpoint once per client.
function Client:_notice_deprecation(res, err)
  if self.warned then return end
  local h = res.headers
  local gone = err and err.errorCode == "VERSION_GONE"
  if not (h.deprecation or h.sunset or gone) then return end
  self.warned = true
  local message
  if gone then
    message = "atlasrestore: warning: Atlas answered 410 VERSION_GONE: this endpoint version is past its sunset"
  else
    message = ("atlasrestore: warning: this endpoint is deprecated (Deprecation: %s; Sunset: %s)"):format(
      h.deprecation or "-", h.sunset or "-")
  end
  pcall(self.on_warning, self.scrubber:scrub(message .. '; list with endpoint = "auto" or the Flex methods'))
end

--- Finishes an error on its way out: attempts, and no secret in any field.
function Client:_fail(err, attempts)
  err.attempts = attempts
  self.scrubber:deep(err)
  return nil, err
end

--- GETs one page with retries. decode: include_count, envelope.
function Client:_get_page(ctx, path_and_query, accept, decode)
  local s = self.settings
  decode.max_depth = s.max_depth
  local attempt = 0
  while true do
    attempt = attempt + 1
    ctx.attempt = attempt
    local res, err = self:_exchange(ctx, path_and_query, accept)
    local retry_after
    if res then
      if res.status >= 200 and res.status < 300 then
        self:_notice_deprecation(res)
        local page
        page, err = response.page(res.status, res.body, decode)
        if page then return page end
        -- A broken 2xx body is worth another try; an enveloped error only when its status is.
        if err.errorCode ~= errors.BAD_RESPONSE then
          self:_notice_deprecation(res, err)
          if not RETRY_STATUS[err.status] then return self:_fail(err, attempt) end
          retry_after = response.retry_after(res.headers, err, os.time())
          err.retry_after = retry_after
        end
      else
        err = response.error(res.status, res.headers, res.body, decode)
        self:_notice_deprecation(res, err)
        if not RETRY_STATUS[res.status] then return self:_fail(err, attempt) end
        retry_after = response.retry_after(res.headers, err, os.time())
        err.retry_after = retry_after
      end
    elseif RETRY_CODES[err.errorCode] or RETRY_STATUS[err.status] then
      retry_after = err.retry_after -- a failed token request can be a 429 or a 5xx too
    else
      return self:_fail(err, attempt)
    end
    if attempt >= s.max_attempts then return self:_fail(err, attempt) end
    -- Full jitter: a random wait up to the exponential bound; Retry-After is a floor.
    local wait = math.random() * math.min(s.retry_max_delay, s.retry_base_delay * 2 ^ (attempt - 1))
    if retry_after then wait = math.max(wait, retry_after) end
    if self.transport:now() + wait >= ctx.deadline then return self:_fail(err, attempt) end
    self:_debug("retrying in %.2f s after %s", wait, tostring(err.errorCode))
    self.transport:sleep(wait)
  end
end

function Client:_new_ctx()
  return { deadline = self.transport:now() + self.settings.deadline, attempt = 0 }
end

--- Fetches one page of one endpoint ("serverless" or "flex").
function Client:_fetch(ctx, endpoint, group_id, name, query_string, decode)
  local template, accept = ROUTES[endpoint](self)
  local path = template:format(redact.url_encode(group_id), redact.url_encode(name))
  return self:_get_page(ctx, path .. query_string, accept, decode)
end

---------------------------------------------------------------------------
-- Pagination and routing
---------------------------------------------------------------------------

local function page_query(page_num, per_page)
  return ("?pageNum=%d&itemsPerPage=%d&includeCount=false"):format(page_num, per_page)
end

--- Fetches the first page for `endpoint`, resolving "auto": Flex first, then
-- serverless on a "not a Flex cluster" answer. Returns page, endpoint or nil, err.
function Client:_first_page(ctx, endpoint, group_id, name, per_page)
  local decode, query = { include_count = false }, page_query(1, per_page)
  local function fetch(where) return self:_fetch(ctx, where, group_id, name, query, decode) end
  if endpoint ~= "auto" then
    local page, err = fetch(endpoint)
    if not page then return nil, err end
    return page, endpoint
  end
  local key = group_id .. "/" .. name
  local remembered = self.routes[key]
  local page, serverless_page, flex_err, serverless_err
  -- Instances move. A remembered serverless instance that answers an empty
  -- list, a 404 or a 410 looks like a migrated one: Flex is asked again. A
  -- remembered Flex cluster that is no longer one goes on to serverless.
  if remembered == "serverless" then
    serverless_page, serverless_err = fetch("serverless")
    if serverless_page and #serverless_page.results > 0 then return serverless_page, "serverless" end
    if serverless_err and serverless_err.status ~= 404 and serverless_err.status ~= 410 then
      return nil, serverless_err
    end
  elseif remembered == "flex" then
    page, flex_err = fetch("flex")
    if page then return page, "flex" end
    if not NOT_FLEX[flex_err.errorCode] then return nil, flex_err end
  end
  self.routes[key] = nil
  if not flex_err then
    page, flex_err = fetch("flex")
    if page then
      self.routes[key] = "flex"
      return page, "flex"
    end
    if not NOT_FLEX[flex_err.errorCode] then return nil, flex_err end
  end
  if not (serverless_page or serverless_err) then serverless_page, serverless_err = fetch("serverless") end
  if serverless_page then
    self.routes[key] = "serverless"
    return serverless_page, "serverless"
  end
  -- Both failed. The serverless answer explains best unless it is only "not
  -- found" or "gone", which says nothing the Flex answer does not.
  local chosen = flex_err
  if serverless_err.status ~= 404 and serverless_err.status ~= 410 then chosen = serverless_err end
  local best = errors.new(chosen.errorCode, {})
  for k, v in pairs(chosen) do best[k] = v end
  best.errors = { flex = flex_err, serverless = serverless_err }
  best.attempts = flex_err.attempts + serverless_err.attempts
  return nil, best
end

--- Validates a listing's arguments and returns a page source:
-- next_page() -> array of new jobs | nil when done | false, err.
-- `lazy`: the caller sets the pace between pages, so the deadline is per page.
function Client:_listing(fname, group_id, name, opts, forced_endpoint, lazy)
  local err = check_path(fname, group_id, name)
  if opts ~= nil and type(opts) ~= "table" then raise_type(fname, 3, "table", opts) end
  opts = opts or {}
  check_keys(fname, 3, opts, forced_endpoint and { items_per_page = true }
    or { items_per_page = true, endpoint = true })
  if err then return nil, err end
  local per_page = opts.items_per_page or MAX_ITEMS_PER_PAGE
  if type(per_page) ~= "number" then raise_type(fname, 3, "number items_per_page", per_page) end
  err = check_items_per_page(per_page)
  if err then return nil, err end
  local endpoint = forced_endpoint or opts.endpoint or self.settings.endpoint
  if endpoint ~= "serverless" and endpoint ~= "flex" and endpoint ~= "auto" then
    return nil, errors.invalid('endpoint must be "serverless", "flex" or "auto"')
  end
  local unify = endpoint == "auto"
  local ctx = self:_new_ctx()
  local page_num, done, seen, resolved = 0, false, {}, nil
  return function()
    if done then return nil end
    page_num = page_num + 1
    if lazy then ctx = self:_new_ctx() end
    local page
    if page_num == 1 then
      local second
      page, second = self:_first_page(ctx, endpoint, group_id, name, per_page)
      if page then resolved = second else err = second end
    else
      page, err = self:_fetch(ctx, resolved, group_id, name, page_query(page_num, per_page), { include_count = false })
    end
    if not page then
      done = true
      return false, err
    end
    local jobs, count, results = {}, 0, page.results
    local map = unify and (resolved == "flex" and flex.from_flex or flex.from_serverless)
    local problem
    for i = 1, #results do
      local job = results[i]
      local id = job.id
      -- Jobs can shift between pages while Atlas adds new ones: list each once.
      -- That needs an id, and a page of nothing new means a server that loops.
      if type(id) ~= "string" then
        problem = ("page %d has a job without an id, which cannot be listed exactly once"):format(page_num)
        break
      end
      if not seen[id] then
        seen[id] = true
        count = count + 1
        jobs[count] = map and map(job) or job
      end
    end
    if not problem and #results > 0 and count == 0 then
      problem = ("page %d repeats only jobs already listed; the server is not paginating"):format(page_num)
    end
    if problem then
      done = true
      local _, failed = self:_fail(errors.new(errors.BAD_RESPONSE, { status = 200, message = problem }), 1)
      return false, failed
    end
    if #results < per_page or not response.has_next(page) then done = true end
    return jobs
  end
end

---------------------------------------------------------------------------
-- Public API
---------------------------------------------------------------------------

local function list_page(self, fname, endpoint, group_id, name, query)
  check_client(self, fname)
  local err = check_path(fname, group_id, name)
  local query_string, qerr = build_query(fname, query)
  err = err or qerr
  if err then return self:_fail(err, 0) end
  local decode = { include_count = query and query.include_count, envelope = query and query.envelope }
  return self:_fetch(self:_new_ctx(), endpoint, group_id, name, query_string, decode)
end

local function iterate(self, fname, group_id, name, opts, forced_endpoint)
  check_client(self, fname)
  local next_page, err = self:_listing(fname, group_id, name, opts, forced_endpoint, true)
  if not next_page then
    local _, failed = self:_fail(err, 0)
    error(failed, 3)
  end
  local buffer, i = {}, 0
  return function()
    i = i + 1
    while i > #buffer do
      local jobs, page_err = next_page()
      if jobs == nil then return nil end
      if jobs == false then error(page_err, 2) end
      buffer, i = jobs, 1
    end
    return buffer[i]
  end
end

local function collect(self, fname, group_id, name, opts, forced_endpoint)
  check_client(self, fname)
  local next_page, err = self:_listing(fname, group_id, name, opts, forced_endpoint)
  if not next_page then return self:_fail(err, 0) end
  local all, count = {}, 0
  while true do
    local jobs, page_err = next_page()
    if jobs == nil then return all end
    if jobs == false then return nil, page_err end
    for i = 1, #jobs do all[count + i] = jobs[i] end
    count = count + #jobs
  end
end

--- One page of the serverless endpoint, exactly as Atlas serves it.
function Client:list_restore_jobs(group_id, cluster_name, query)
  return list_page(self, "list_restore_jobs", "serverless", group_id, cluster_name, query)
end

--- Every job, lazily, one page in memory at a time. Raises the error value on failure.
function Client:restore_jobs(group_id, cluster_name, opts)
  return iterate(self, "restore_jobs", group_id, cluster_name, opts)
end

--- Every job as an array, or nil, err.
function Client:all_restore_jobs(group_id, cluster_name, opts)
  return collect(self, "all_restore_jobs", group_id, cluster_name, opts)
end

--- The Flex trio: the successor endpoint, Flex record shape.
function Client:list_flex_restore_jobs(group_id, name, query)
  return list_page(self, "list_flex_restore_jobs", "flex", group_id, name, query)
end

function Client:flex_restore_jobs(group_id, name, opts)
  return iterate(self, "flex_restore_jobs", group_id, name, opts, "flex")
end

function Client:all_flex_restore_jobs(group_id, name, opts)
  return collect(self, "all_flex_restore_jobs", group_id, name, opts, "flex")
end

--- Frees the connections and revokes a service-account token this client fetched.
-- Idempotent. Returns true, or nil, err when the revocation failed.
function Client:close()
  if getmetatable(self) ~= Client then error("bad self to 'close' (atlasrestore client expected)", 2) end
  if self.closed then return true end
  local err
  local token = self.tokens and self.tokens:forget()
  if token then
    local ctx = self:_new_ctx()
    ctx.attempt = 1
    local res
    res, err = self:_send(ctx, "POST", self.base_url .. "/api/oauth/revoke", {
      Authorization = self.tokens:basic(),
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["User-Agent"] = self.user_agent,
    }, "token=" .. redact.url_encode(token) .. "&token_type_hint=access_token")
    if res and res.status ~= 200 then err = response.error(res.status, res.headers, res.body) end
  end
  self.transport:close()
  self.closed = true
  if err then return self:_fail(err, 1) end
  return true
end

Client.__close = Client.close

atlasrestore.Client = Client

return atlasrestore
