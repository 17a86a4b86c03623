--- Options and the environment: checks what a caller passes (misuse raises at
-- the caller's line, a bad value is INVALID_ARGUMENT) and returns plain settings.
local dates = require "atlasrestore.dates"
local endpoints = require "atlasrestore.endpoints"
local errors = require "atlasrestore.errors"
local redact = require "atlasrestore.redact"
local request = require "atlasrestore.request"
local routes = require "atlasrestore.routes"
local shape = require "atlasrestore.shape"

local options = {}

options.DEFAULTS = {
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
  max_pages = 10000,      -- 5 million jobs at 500 a page
  concurrency = 4,      -- pages in flight at once; docs/performance.md says why 4
  api_version = "v2",
  endpoint = endpoints.AUTO,
}

--- Environment names, as the Atlas CLI and the Terraform provider use them.
options.ENV = {
  public_key = "MONGODB_ATLAS_PUBLIC_API_KEY",
  private_key = "MONGODB_ATLAS_PRIVATE_API_KEY",
  client_id = "MONGODB_ATLAS_CLIENT_ID",
  client_secret = "MONGODB_ATLAS_CLIENT_SECRET",
  access_token = "MONGODB_ATLAS_ACCESS_TOKEN",
  base_url = "MONGODB_ATLAS_BASE_URL",
  base_url_cli = "MONGODB_ATLAS_OPS_MANAGER_URL",
}

-- A value a caller gave, quoted for a message: control characters and quotes
-- escaped (the message stays one line), and cut after 100 characters.
local function quoted(value)
  local text = tostring(value)
  local cut = #text > 100 and text:sub(1, 100) .. "..." or text
  return '"' .. cut:gsub('[%c"\\]', function(c) return ("\\%d"):format(c:byte()) end) .. '"'
end

local function check_endpoint(endpoint)
  if not endpoints.valid(endpoint) then
    return errors.invalid(("endpoint %s is not one of %s"):format(quoted(endpoint), endpoints.quoted_choices()))
  end
end

local OPTION_TYPES = {
  base_url = "string", public_key = "string", private_key = "string", client_id = "string",
  client_secret = "string", access_token = "string", timeout = "number", connect_timeout = "number",
  stall_timeout = "number", user_agent = "string", ca_file = "string", proxy = "string",
  debug = "boolean or function", api_version = "string", endpoint = "string",
  on_warning = "function", max_attempts = "number", deadline = "number", max_body_size = "number",
  max_depth = "number", max_pages = "number", concurrency = "number", retry_base_delay = "number",
  retry_max_delay = "number", allow_http = "boolean", getenv = "function", transport = "string or table",
  shared_dict = "string", clock = "function", on_event = "function",
}

-- `expected` is a type name, or several joined by " or ".
local function matches_type(expected, value)
  local t = type(value)
  for name in expected:gmatch("%a+") do
    if name == t then return true end
  end
  return false
end

--- Raises when `tbl` has an unknown key or a value of the wrong type.
local function check_table(fname, argn, tbl, types)
  for k, v in pairs(tbl) do
    local expected = types[k]
    if not expected then errors.misuse("bad argument #%d to '%s' (unknown option '%s')", argn, fname, tostring(k)) end
    if not matches_type(expected, v) then errors.bad_type(fname, argn, expected, v, k) end
  end
end

local function is_integral(n, max)
  return n == math.floor(n) and n >= 1 and n <= (max or 2 ^ 53)
end

-- The keys of `a`, then those of `b` (nil is none), in a new table.
local function merged(a, b)
  local out = {}
  for k, v in pairs(a) do out[k] = v end
  for k, v in pairs(b or {}) do out[k] = v end
  return out
end

-- A finite number above zero (NaN and infinity are not).
local function positive(v) return v == v and v > 0 and v ~= math.huge end

local function nonempty(v) if v ~= nil and v ~= "" then return v end end

---------------------------------------------------------------------------
-- Credentials and the base URL
---------------------------------------------------------------------------

local KINDS = {
  { name = "api key", fields = { "public_key", "private_key" } },
  { name = "service account", fields = { "client_id", "client_secret" } },
  { name = "access token", fields = { "access_token" } },
}

--- Picks exactly one kind of credentials: explicit options first, else the environment.
local function credentials(opts, getenv)
  local explicit = {}
  for _, kind in ipairs(KINDS) do
    for _, f in ipairs(kind.fields) do
      if opts[f] ~= nil then explicit[#explicit + 1] = kind; break end
    end
  end
  if #explicit > 1 then
    return nil, errors.invalid(("give one kind of credentials, not both %s and %s"):format(
      explicit[1].name, explicit[2].name))
  end
  if #explicit == 1 then
    local creds = {}
    for _, f in ipairs(explicit[1].fields) do
      creds[f] = nonempty(opts[f])
      if not creds[f] then return nil, errors.invalid(explicit[1].name .. " credentials need " .. f) end
    end
    return creds
  end
  for _, kind in ipairs(KINDS) do
    local creds, set, missing = {}, 0, nil
    for _, f in ipairs(kind.fields) do
      creds[f] = nonempty(getenv(options.ENV[f]))
      if creds[f] then set = set + 1 else missing = missing or options.ENV[f] end
    end
    if not missing then return creds end
    -- Half a pair in the environment is a mistake worth naming.
    if set > 0 then
      return nil, errors.invalid(("%s is set but %s is missing"):format(
        options.ENV[kind.fields[1]] == missing and options.ENV[kind.fields[2]] or options.ENV[kind.fields[1]],
        missing))
    end
  end
  return nil, errors.invalid("no credentials: give public_key + private_key, client_id + client_secret or "
    .. "access_token, or set MONGODB_ATLAS_PUBLIC_API_KEY + MONGODB_ATLAS_PRIVATE_API_KEY, "
    .. "MONGODB_ATLAS_CLIENT_ID + MONGODB_ATLAS_CLIENT_SECRET or MONGODB_ATLAS_ACCESS_TOKEN")
end

local LOOPBACK = { localhost = true, ["[::1]"] = true }

--- Splits and checks a base URL; plain http only for loopback or when allowed.
local function parse_base_url(url, allow_http)
  if url:find("[%c%s]") then return nil, "must not contain whitespace or control characters" end
  local scheme, authority, path = url:match("^(%a[%w+.-]*)://([^/?#]+)(/?[^?#]*)$")
  if not scheme then return nil, "must look like https://host[:port][/path]" end
  scheme = scheme:lower()
  if scheme ~= "https" and scheme ~= "http" then return nil, "must be https:// (or http://)" end
  if authority:find("@", 1, true) then return nil, "must not carry credentials; use the credential options" end
  local host, port = authority:match("^(%[[%x:.]+%])(.*)$")
  if not host then host, port = authority:match("^([%w.-]+)(.*)$") end
  if not host or not (port == "" or port:match("^:%d+$")) then return nil, "has no valid host[:port]" end
  local remote_http = scheme == "http" and not LOOPBACK[host:lower()] and not host:match("^127%.%d+%.%d+%.%d+$")
  if remote_http and not allow_http then
    return nil, "uses plain http:// on a non-loopback host; use https:// or allow_http = true"
  end
  path = path:gsub("/+$", "")
  -- insecure: the host to which allow_http lets credentials travel unencrypted, for a warning.
  return { url = scheme .. "://" .. authority .. path, path = path, target = request.base(scheme, authority, path),
    insecure = remote_http and host or nil }
end

--- The base URL and where it came from, for messages.
local function base_url(opts, getenv)
  local sources = {
    { opts.base_url, "base_url" },
    { nonempty(getenv(options.ENV.base_url)), options.ENV.base_url },
    { nonempty(getenv(options.ENV.base_url_cli)), options.ENV.base_url_cli },
    { options.DEFAULTS.base_url, "the default" },
  }
  for _, source in ipairs(sources) do
    local url, from = source[1], source[2]
    if url then
      local base, problem = parse_base_url(url, opts.allow_http)
      if base then return base end
      return nil, errors.invalid(("%s %s %s"):format(from, quoted(redact.url(url)), problem))
    end
  end
end

local function check_proxy(proxy)
  if proxy == nil then return nil end
  if proxy:find("[%c%s]") or not proxy:match("^%a[%w+.-]*://[^/?#]+") then
    return errors.invalid(("proxy %s must be a URL such as http://proxy.example:3128"):format(
      quoted(redact.url(proxy))))
  end
end

local function check_ca_file(path)
  if path == nil then return nil end
  local f, why = io.open(path, "rb")
  if not f then return errors.invalid(("ca_file cannot be read: %s"):format(why)) end
  f:close()
end

---------------------------------------------------------------------------
-- atlasrestore.new
---------------------------------------------------------------------------

local POSITIVE = { "timeout", "connect_timeout", "stall_timeout", "deadline", "max_body_size",
  "retry_base_delay", "retry_max_delay" }
local BOUNDED = { max_attempts = 100, max_depth = 1000, max_pages = 1000000, concurrency = 32 }

--- Checks `atlasrestore.new`'s options. Returns the settings, the credentials and
-- the base URL ({url, path, target = request.base's}), or nil, err.
function options.client(opts)
  if opts ~= nil and type(opts) ~= "table" then errors.bad_type("new", 1, "table", opts) end
  opts = opts or {}
  check_table("new", 1, opts, OPTION_TYPES)
  local getenv = opts.getenv or os.getenv
  -- Only the tunables: credentials stay out of the settings table.
  local settings = {}
  for k, v in pairs(options.DEFAULTS) do settings[k] = opts[k] == nil and v or opts[k] end
  -- A deadline of the caller's own is the retry budget (see the pipeline's retries).
  settings.retry_until_deadline = opts.deadline ~= nil
  for _, k in ipairs(POSITIVE) do
    local v = settings[k]
    if not positive(v) then return nil, errors.invalid(k .. " must be a positive number") end
  end
  for k, max in pairs(BOUNDED) do
    if not is_integral(settings[k], max) then
      return nil, errors.invalid(("%s must be an integer in 1..%d"):format(k, max))
    end
  end
  if settings.api_version ~= "v2" and settings.api_version ~= "v1.0" then
    return nil, errors.invalid(('api_version %s is not one of "v2", "v1.0"'):format(quoted(settings.api_version)))
  end
  local err = check_endpoint(settings.endpoint) or check_proxy(opts.proxy) or check_ca_file(opts.ca_file)
  if err then return nil, err end
  local creds
  creds, err = credentials(opts, getenv)
  if not creds then return nil, err end
  local base
  base, err = base_url(opts, getenv)
  if not base then return nil, err end
  return settings, creds, base
end

---------------------------------------------------------------------------
-- The arguments of each call
---------------------------------------------------------------------------

--- True when `value` has the form of an Atlas id: 24 lowercase hexadecimal characters.
function options.is_id(value)
  return type(value) == "string" and #value == 24 and value:match("^[0-9a-f]+$") ~= nil
end

local function check_id(value, what)
  if not options.is_id(value) then
    return errors.invalid(what .. " must be 24 lowercase hexadecimal characters")
  end
end

--- Validates a project id (argument #1): raises on a wrong type, returns an error value or nil.
function options.group(fname, group_id)
  if type(group_id) ~= "string" then errors.bad_type(fname, 1, "string", group_id) end
  return check_id(group_id, "group_id")
end

--- Validates the path parameters: raises on a wrong type, returns an error value or nil.
function options.path(fname, group_id, name)
  local err = options.group(fname, group_id)
  if type(name) ~= "string" then errors.bad_type(fname, 2, "string", name) end
  if err then return err end
  if not name:match("^[%w][%w%-]*$") then
    return errors.invalid("cluster_name must match ^[a-zA-Z0-9][a-zA-Z0-9-]*$")
  end
end

--- Validates a restore job id (argument #3).
function options.job_id(fname, job_id)
  if type(job_id) ~= "string" then errors.bad_type(fname, 3, "string", job_id) end
  return check_id(job_id, "job_id")
end

local MAX_PAGE_NUM = 2147483647 -- Atlas's int32

local QUERY = {
  { key = "page_num", wire = "pageNum", kind = "number", max = MAX_PAGE_NUM },
  { key = "items_per_page", wire = "itemsPerPage", kind = "number", max = routes.MAX_ITEMS_PER_PAGE },
  { key = "include_count", wire = "includeCount", kind = "boolean" },
  { key = "envelope", wire = "envelope", kind = "boolean" },
  { key = "pretty", wire = "pretty", kind = "boolean" },
}
local QUERY_TYPES = {}
for _, p in ipairs(QUERY) do QUERY_TYPES[p.key] = p.kind end

local function check_bound(key, value, max)
  if not is_integral(value, max) then
    return errors.invalid(("%s must be an integer in 1..%d"):format(key, max))
  end
end

--- Validates a single page's query (argument #3): the wire query string, or nil, err.
function options.query(fname, query, extra_types)
  if query == nil then return "" end
  if type(query) ~= "table" then errors.bad_type(fname, 3, "table", query) end
  check_table(fname, 3, query, merged(QUERY_TYPES, extra_types))
  local pairs_list = {}
  for _, p in ipairs(QUERY) do
    local v = query[p.key]
    if v ~= nil then
      if p.max then
        local err = check_bound(p.key, v, p.max)
        if err then return nil, err end
      end
      pairs_list[#pairs_list + 1] = { p.wire, v }
    end
  end
  return routes.query(pairs_list)
end

--- Validates the query of one routed page (argument #3): the wire query string
-- and the endpoint (the query's, else the client's), or nil, err.
function options.routed_query(fname, query, settings)
  local query_string, err = options.query(fname, query, { endpoint = "string" })
  if not query_string then return nil, err end
  local endpoint = query and query.endpoint or settings.endpoint
  err = check_endpoint(endpoint)
  if err then return nil, err end
  return query_string, endpoint
end

local LISTING_TYPES = { items_per_page = "number", endpoint = "string", concurrency = "number", status = "table",
  since = "number or string", ["until"] = "number or string" }

local STATUS_SET = {}
for _, status in ipairs(shape.STATUSES) do STATUS_SET[status] = true end
local STATUS_LIST = table.concat(shape.STATUSES, ", ")

-- A listing's filter (see filter.lua): { status = set, since, until }, nil for
-- none, or nil, err.
local function listing_filter(fname, argn, opts)
  local f, any = {}, false
  if opts.status ~= nil then
    local set = {}
    for i, status in ipairs(opts.status) do
      if type(status) ~= "string" then errors.bad_type(fname, argn, "string", status, ("status[%d]"):format(i)) end
      if not STATUS_SET[status] then
        return nil, errors.invalid(("status[%d] is %q; a status is one of %s"):format(i, status, STATUS_LIST))
      end
      set[status] = true
    end
    if next(set) == nil then return nil, errors.invalid("status must list at least one of " .. STATUS_LIST) end
    f.status, any = set, true
  end
  for _, key in ipairs { "since", "until" } do
    local v = opts[key]
    if v ~= nil then
      local t = type(v) == "number" and v or dates.parse(v)
      if not t or t ~= t or t == math.huge or t == -math.huge then
        return nil, errors.invalid(key .. " must be Unix seconds or an ISO 8601 date-time such as 2026-01-22T00:00:00Z")
      end
      f[key], any = t, true
    end
  end
  if f.since and f["until"] and f.since >= f["until"] then return nil, errors.invalid("since must be before until") end
  return any and f or nil
end

--- Validates a listing's `opts` (argument `argn`) against the client's settings:
-- { per_page, endpoint, concurrency, filter } or nil, err. `forced` pins the
-- endpoint; `extra` adds option types that the caller checks itself.
function options.listing(fname, argn, opts, settings, forced, extra)
  if opts ~= nil and type(opts) ~= "table" then errors.bad_type(fname, argn, "table", opts) end
  opts = opts or {}
  local types = merged(LISTING_TYPES, extra)
  if forced then types.endpoint = nil end
  check_table(fname, argn, opts, types)
  local plan = {
    per_page = opts.items_per_page or routes.MAX_ITEMS_PER_PAGE,
    endpoint = forced or opts.endpoint or settings.endpoint,
    concurrency = opts.concurrency or settings.concurrency,
  }
  local err = check_bound("items_per_page", plan.per_page, routes.MAX_ITEMS_PER_PAGE)
    or check_bound("concurrency", plan.concurrency, BOUNDED.concurrency)
    or check_endpoint(plan.endpoint)
  if err then return nil, err end
  plan.filter, err = listing_filter(fname, argn, opts)
  if err then return nil, err end
  return plan
end

local PROJECTS_TYPES = { org_id = "string", items_per_page = "number" }

--- Validates the `opts` (argument #1) of a list of projects: { org_id, per_page } or nil, err.
function options.projects(fname, opts)
  if opts ~= nil and type(opts) ~= "table" then errors.bad_type(fname, 1, "table", opts) end
  opts = opts or {}
  check_table(fname, 1, opts, PROJECTS_TYPES)
  local plan = { org_id = opts.org_id, per_page = opts.items_per_page or routes.MAX_ITEMS_PER_PAGE }
  local err = (plan.org_id and check_id(plan.org_id, "org_id"))
    or check_bound("items_per_page", plan.per_page, routes.MAX_ITEMS_PER_PAGE)
  if err then return nil, err end
  return plan
end

local ORGANISATION_TYPES = { org_id = "string", project_concurrency = "number", on_instance = "function" }

--- Validates the `opts` (argument #1) of an organisation's listing: the listing's
-- plan plus org_id, project_concurrency (projects listed at once, default 4) and
-- on_instance; or nil, err.
function options.organisation(fname, opts, settings)
  local plan, err = options.listing(fname, 1, opts, settings, endpoints.AUTO, ORGANISATION_TYPES)
  if not plan then return nil, err end
  opts = opts or {}
  plan.org_id, plan.on_instance = opts.org_id, opts.on_instance
  plan.project_concurrency = opts.project_concurrency or 4
  err = (plan.org_id and check_id(plan.org_id, "org_id"))
    or check_bound("project_concurrency", plan.project_concurrency, BOUNDED.concurrency)
  if err then return nil, err end
  return plan
end

local JOB_TYPES = { endpoint = "string" }
local WAIT_TYPES = { endpoint = "string", interval = "number", timeout = "number", on_change = "function",
  tolerate_failures = "boolean" }
local WAIT_DEFAULTS = { interval = 10, timeout = 3600 }

--- Validates the `opts` (argument #4) of restore_job, or of wait_restore_job
-- when `wait`: { endpoint, interval, timeout, on_change, tolerate_failures } or nil, err.
function options.job(fname, opts, settings, wait)
  if opts ~= nil and type(opts) ~= "table" then errors.bad_type(fname, 4, "table", opts) end
  opts = opts or {}
  check_table(fname, 4, opts, wait and WAIT_TYPES or JOB_TYPES)
  local plan = { endpoint = opts.endpoint or settings.endpoint, on_change = opts.on_change }
  local err = check_endpoint(plan.endpoint)
  if err then return nil, err end
  if wait then
    plan.tolerate_failures = opts.tolerate_failures == true
    for key, default in pairs(WAIT_DEFAULTS) do
      local v = opts[key] or default
      if not positive(v) then return nil, errors.invalid(key .. " must be a positive number") end
      plan[key] = v
    end
  end
  return plan
end

return options
