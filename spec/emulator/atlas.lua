-- Routing and handlers of the local Atlas emulator (run by nginx's LuaJIT).
--
-- Order of checks on a restoreJobs request, first failure wins:
--   auth (401 + Digest challenge) -> route (404 RESOURCE_NOT_FOUND) -> method (405)
--   -> fault injection -> Accept version on v2 (406 INVALID_VERSION_DATE)
--   -> group id format (400 INVALID_GROUP_ID) -> group (404 GROUP_NOT_FOUND)
--   -> query parameters (400 VALIDATION_ERROR) -> instance (404/400/410) -> 200 list.
local cjson = require "cjson.safe"
local json = require "json"
local state = require "state"
local auth = require "auth"
local data = require "data"
local faults = require "faults"

local M = {}

local format, concat, floor = string.format, table.concat, math.floor

local REASONS = {
  [200] = "OK", [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden",
  [404] = "Not Found", [405] = "Method Not Allowed", [406] = "Not Acceptable", [410] = "Gone",
  [429] = "Too Many Requests", [500] = "Internal Server Error", [503] = "Service Unavailable",
}

-- Byte for byte the body of a recorded Atlas Digest challenge (pretty-printed).
local CHALLENGE_BODY = '{\n  "error" : 401,\n  "reason" : "Unauthorized",\n' ..
  '  "detail" : "You are not authorized for this resource.",\n  "errorCode" : "UNEXPECTED_ERROR"\n}'

local DEPRECATION = "Wed, 10 Dec 2025 00:00:00 GMT"
local SUNSET = "Thu, 22 Jan 2026 00:00:00 GMT"

local SERVERLESS_VERSION, FLEX_VERSION = "2023-01-01", "2024-11-13"
local SERVERLESS_TYPE = "application/vnd.atlas.2023-01-01+json;charset=utf-8"
local FLEX_TYPE = "application/vnd.atlas.2024-11-13+json;charset=utf-8"

local RATE_CAPACITY, RATE_REFILL, RATE_PERIOD = 1200, 500, 60

function M.init_worker()
  auth.seed_random()
  state.config()
end

-- An ApiError body, keys in Atlas order.
local function api_error_body(status, code, detail, params, bad_fields)
  local fields = {}
  if bad_fields then
    fields[#fields + 1] = { "badRequestDetail", json.obj{ { "fields", bad_fields } } }
  end
  fields[#fields + 1] = { "detail", detail }
  fields[#fields + 1] = { "error", status }
  fields[#fields + 1] = { "errorCode", code }
  fields[#fields + 1] = { "parameters", params or {} }
  fields[#fields + 1] = { "reason", REASONS[status] }
  return json.encode(json.obj(fields))
end

local function send(status, body, ctype, headers)
  ngx.status = status
  ngx.header["Server"] = "mdbws"
  if ctype then ngx.header["Content-Type"] = ctype end
  if headers then
    for k, v in pairs(headers) do ngx.header[k] = v end
  end
  ngx.header["Content-Length"] = #body
  ngx.print(body)
  return ngx.exit(ngx.HTTP_OK)
end

local function send_error(status, code, detail, params, headers, bad_fields)
  headers = headers or {}
  headers["X-Error-Code"] = code
  return send(status, api_error_body(status, code, detail, params, bad_fields), "application/json", headers)
end

local function resource_not_found()
  local uri = ngx.var.uri
  return send_error(404, "RESOURCE_NOT_FOUND", "Cannot find resource " .. uri .. ".", { uri })
end

local function unauthorized(cfg, stale)
  state.incr("challenges")
  return send(401, CHALLENGE_BODY, "application/json", { ["WWW-Authenticate"] = auth.challenge(cfg, stale) })
end

-- Token bucket as documented for the restore-job endpoint sets; it only
-- feeds RateLimit-Remaining, 429s come from fault injection.
local function rate_remaining()
  local now = ngx.now()
  local level = state.get("rl_level") or RATE_CAPACITY
  local t = state.get("rl_time") or now
  level = math.min(RATE_CAPACITY, level + (now - t) * RATE_REFILL / RATE_PERIOD) - 1
  if level < 0 then level = 0 end
  state.set("rl_level", level)
  state.set("rl_time", now)
  return floor(level)
end

-- Picks the version from Accept: the first application/vnd.atlas.<date>+json
-- whose date is on or after `min` (Atlas resolves a newer date to the newest
-- version it has on or before that date).  nil when none qualifies.
local function accepted_version(min)
  local accept = ngx.var.http_accept
  if not accept then return nil end
  for range in accept:gmatch("[^,]+") do
    local mt = range:match("^%s*([^;%s]+)")
    local y, m, d = (mt or ""):match("^application/vnd%.atlas%.(%d%d%d%d)%-(%d%d)%-(%d%d)%+json$")
    if y then
      local date = y .. "-" .. m .. "-" .. d
      local mn, dn = tonumber(m), tonumber(d)
      if mn >= 1 and mn <= 12 and dn >= 1 and dn <= 31 and date >= min then return date end
    end
  end
  return nil
end

-- Validated query: { pageNum, itemsPerPage, includeCount, envelope, pretty },
-- or nil and a badRequestDetail field list.
local function parse_query()
  local args = ngx.req.get_uri_args(100)
  local q, bad = {}, {}
  local function single(name)
    local v = args[name]
    if type(v) == "table" then v = v[1] end
    return v
  end
  local function int(name, default, lo, hi, desc)
    local v = single(name)
    if v == nil then q[name] = default; return end
    local n = type(v) == "string" and #v <= 10 and v:match("^%d+$") and tonumber(v)
    if not n or n < lo or n > hi then
      bad[#bad + 1] = json.obj{ { "description", desc }, { "field", name } }
    else
      q[name] = n
    end
  end
  local function bool(name, default)
    local v = single(name)
    if v == nil then q[name] = default; return end
    local l = type(v) == "string" and v:lower()
    if l == "true" then q[name] = true
    elseif l == "false" then q[name] = false
    else
      bad[#bad + 1] = json.obj{ { "description", "must be true or false" }, { "field", name } }
    end
  end
  int("pageNum", 1, 1, 2147483647, "must be greater than or equal to 1")
  int("itemsPerPage", 100, 1, 500, "must be between 1 and 500")
  bool("includeCount", true)
  bool("envelope", false)
  bool("pretty", false)
  if #bad > 0 then return nil, bad end
  return q
end

-- Query parameters other than pageNum/itemsPerPage, raw and in request order.
local function other_params()
  local out = {}
  for part in (ngx.var.args or ""):gmatch("[^&]+") do
    local k = ngx.unescape_uri(part:match("^[^=]*"))
    if k ~= "pageNum" and k ~= "itemsPerPage" then out[#out + 1] = part end
  end
  return out
end

-- self echoes the query with pageNum before itemsPerPage; next swaps them,
-- as recorded Atlas responses do.
local function page_links(base, path, pn, ipp, has_next)
  local others = other_params()
  local prefix = base .. path .. "?" .. concat(others, "&") .. (#others > 0 and "&" or "")
  local links = {
    json.obj{ { "href", prefix .. format("pageNum=%d&itemsPerPage=%d", pn, ipp) }, { "rel", "self" } },
  }
  if has_next then
    links[2] = json.obj{ { "href", prefix .. format("itemsPerPage=%d&pageNum=%d", ipp, pn + 1) }, { "rel", "next" } }
  end
  return json.encode(links)
end

-- Builds the response a list request gets without faults.
-- Returns status, body, content type, headers.
local function list_response(cfg, version, group, kind, name)
  local serverless = kind == "serverless"
  local headers = {}
  if serverless and cfg.deprecation_headers then
    headers["Deprecation"] = DEPRECATION
    headers["Sunset"] = SUNSET
  end
  local function err(status, code, detail, params, bad)
    headers["X-Error-Code"] = code
    return status, api_error_body(status, code, detail, params, bad), "application/json", headers
  end

  if not serverless and version == "v1.0" then
    local uri = ngx.var.uri
    return err(404, "RESOURCE_NOT_FOUND", "Cannot find resource " .. uri .. ".", { uri })
  end
  local ctype = "application/json"
  if version == "v2" then
    if not accepted_version(serverless and SERVERLESS_VERSION or FLEX_VERSION) then
      return err(406, "INVALID_VERSION_DATE", "Invalid accept header or version date.", {})
    end
    ctype = serverless and SERVERLESS_TYPE or FLEX_TYPE
  end
  if not ngx.re.find(group, "^[a-f0-9]{24}$", "jo") then
    return err(400, "INVALID_GROUP_ID", "An invalid group ID " .. group .. " was specified.", { group })
  end
  if group ~= data.GROUP_ID then
    -- Recorded GROUP_NOT_FOUND responses carry no rate-limit headers.
    return err(404, "GROUP_NOT_FOUND", "No group with ID " .. group .. " exists.", { group })
  end
  headers["RateLimit-Limit"] = RATE_CAPACITY
  headers["RateLimit-Remaining"] = rate_remaining()

  local q, bad = parse_query()
  if not q then
    local names = {}
    for _, f in ipairs(bad) do names[#names + 1] = f[2][2] end
    return err(400, "VALIDATION_ERROR", "Invalid query parameter(s): " .. concat(names, ", ") .. ".",
      {}, bad)
  end

  local migrated = false
  for _, n in ipairs(cfg.migrated) do migrated = migrated or n == name end
  local inst
  if serverless then
    inst = migrated and { count = 0 } or data.serverless[name]
    if not inst then
      return err(404, "SERVERLESS_INSTANCE_NOT_FOUND",
        format("Serverless instance %s in group %s not found", name, group), { name, group })
    elseif inst.dedicated then
      return err(400, "CANNOT_USE_CLUSTER_IN_SERVERLESS_INSTANCE_API",
        format("Cannot use cluster %s in the serverless instance API.", name), { name })
    elseif inst.gone then
      return err(410, "VERSION_GONE", format("Version %s of this resource was removed on %s. " ..
        "Use the Flex restore jobs resource, version %s.", SERVERLESS_VERSION, SUNSET, FLEX_VERSION),
        { SERVERLESS_VERSION })
    end
  else
    inst = migrated and { count = 5 } or data.flex[name]
    if not inst then
      return err(404, "CLUSTER_NOT_FOUND", format("No cluster named %s exists in group %s.", name, group),
        { name, group })
    elseif inst.dedicated then
      return err(400, "CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API",
        format("Cannot use non-flex cluster %s in the flex API.", name), { name })
    end
  end

  local base = ngx.var.scheme .. "://127.0.0.1:" .. ngx.var.server_port
  if inst.hostile then base = ngx.var.emu_trap_base end
  local total, has_next, items
  if serverless then
    local item_base = format("%s/api/atlas/%s/groups/%s/serverless/%s/backup/restoreJobs", base, version, group, name)
    total, has_next, items = data.serverless_page(name, inst, q.pageNum, q.itemsPerPage, { item_base = item_base })
  else
    total, has_next, items = data.flex_page(name, inst, q.pageNum, q.itemsPerPage)
  end
  -- Atlas still sends "totalCount":0 when includeCount=false.
  local body = '{"links":' .. page_links(base, ngx.var.uri, q.pageNum, q.itemsPerPage, has_next) ..
    ',"results":[' .. concat(items, ",") .. "]" .. (q.envelope and ',"status":200' or "") ..
    ',"totalCount":' .. (q.includeCount and total or 0) .. "}"
  if q.pretty then body = json.pretty(body) end
  return 200, body, ctype, headers
end

local LIST_RE = [[^/api/atlas/(v1\.0|v2)/groups/([^/]+)/(serverless|flexClusters)/([^/]+)/backup/restoreJobs/?$]]

local function api(cfg)
  local ok, stale = auth.check(cfg)
  if not ok or (cfg.refuse_bearer and auth.scheme() == "Bearer") then return unauthorized(cfg, stale) end
  local m = ngx.re.match(ngx.var.uri, LIST_RE, "jo")
  if not m then return resource_not_found() end
  local method = ngx.req.get_method()
  if method ~= "GET" then
    return send_error(405, "METHOD_NOT_ALLOWED", "Method " .. method .. " is not allowed on this resource.",
      { method }, { Allow = "GET" })
  end
  state.incr("list_requests")
  local fault = faults.pick(cfg)
  ngx.ctx.fault = fault
  if fault then state.incr("faults") end

  if fault == "429" or fault == "429_body_only" then
    local ra = floor(cfg.faults.retry_after)
    local headers = { ["X-Error-Code"] = "RATE_LIMITED_TOKEN_BUCKET", ["RateLimit-Limit"] = RATE_CAPACITY,
      ["RateLimit-Remaining"] = 0 }
    if fault == "429" then headers["Retry-After"] = ra end
    return send(429, faults.rate_limited_body(ra), "application/json", headers)
  elseif fault == "503" then
    return send(503, faults.PROXY_503, "text/html")
  end

  local status, body, ctype, headers = list_response(cfg, m[1], m[2], m[3], m[4])
  ngx.status = status
  ngx.header["Server"] = "mdbws"
  ngx.header["Content-Type"] = ctype
  for k, v in pairs(headers) do ngx.header[k] = v end
  if fault == "truncated" then
    body = body:sub(1, floor(#body / 2))
  elseif fault == "malformed" then
    body = '{"results": [}'
  end
  return faults.deliver(fault, cfg, body)
end

local function oauth_error(status, code, description, headers)
  return send(status, json.encode(json.obj{ { "error", code }, { "error_description", description } }),
    "application/json", headers)
end

local function read_form()
  local ctype = ngx.var.http_content_type or ""
  if not ctype:lower():find("^%s*application/x%-www%-form%-urlencoded") then return nil end
  ngx.req.read_body()
  return ngx.req.get_post_args(20)
end

-- What the token and revoke endpoints both check: a POST, the client's Basic
-- credentials, a form. Returns the form, or nil and the OAuth error to send.
local function oauth_form(counter)
  state.incr(counter)
  if ngx.req.get_method() ~= "POST" then
    return nil, { 405, "invalid_request", "Method not allowed.", { Allow = "POST" } }
  end
  if not auth.check_client() then
    return nil, { 401, "invalid_client", "Invalid credentials provided." }
  end
  local form = read_form()
  if not form then
    return nil, { 400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded." }
  end
  return form
end

local function token(cfg)
  local form, problem = oauth_form("tokens")
  if not form then return oauth_error(unpack(problem)) end
  if form.grant_type == nil then
    return oauth_error(400, "invalid_request", "Missing grant_type parameter.")
  elseif form.grant_type ~= "client_credentials" then
    return oauth_error(400, "unsupported_grant_type", "Unsupported grant type.")
  end
  local t = auth.issue_token(cfg)
  if not t then
    return oauth_error(403, "access_denied",
      "Access Token limit reached. Please use the existing Access Tokens or create a new Service Account.")
  end
  return send(200, json.encode(json.obj{ { "access_token", t }, { "expires_in", floor(cfg.token_ttl) },
    { "token_type", "Bearer" } }), "application/json", { ["Cache-Control"] = "no-store", Pragma = "no-cache" })
end

local function revoke()
  local form, problem = oauth_form("revokes")
  if not form then return oauth_error(unpack(problem)) end
  if type(form.token) ~= "string" or form.token == "" then
    return oauth_error(400, "invalid_request", "Missing token parameter.")
  end
  -- RFC 7009: unknown tokens are not an error.
  auth.revoke(form.token)
  return send(200, "", nil)
end

local function admin(uri)
  local method = ngx.req.get_method()
  local function reply(status, body)
    return send(status, body, "application/json", { ["Cache-Control"] = "no-store" })
  end
  if uri == "/__emulator/stats" and method == "GET" then
    return reply(200, state.stats_json())
  elseif uri == "/__emulator/config" and method == "GET" then
    return reply(200, state.config_text())
  elseif uri == "/__emulator/reset" and method == "POST" then
    state.reset()
    return reply(200, '{"ok":true}')
  elseif uri == "/__emulator/expire_tokens" and method == "POST" then
    auth.expire_all()
    return reply(200, '{"ok":true}')
  elseif uri == "/__emulator/config" and method == "POST" then
    ngx.req.read_body()
    local text = ngx.req.get_body_data() or ""
    local patch = cjson.decode(text)
    local cfg, err
    if patch == nil then
      err = "body is not valid JSON"
    else
      cfg, err = state.update_config(patch)
    end
    if not cfg then return reply(400, json.encode(json.obj{ { "error", err } })) end
    return reply(200, state.config_text())
  end
  return reply(404, json.encode(json.obj{ { "error", "unknown admin call " .. method .. " " .. uri } }))
end

-- Main listener: the Atlas API plus the admin calls.
function M.handle()
  local uri = ngx.var.uri
  if uri:sub(1, 12) == "/__emulator/" then return admin(uri) end
  local ctx = ngx.ctx
  ctx.counted = true
  ctx.auth = auth.scheme()
  state.incr("requests")
  local cfg = state.config()
  if uri == "/api/oauth/token" then return token(cfg) end
  if uri == "/api/oauth/revoke" then return revoke() end
  if uri:sub(1, 11) == "/api/atlas/" then return api(cfg) end
  return resource_not_found()
end

function M.admin_only()
  local uri = ngx.var.uri
  if uri:sub(1, 12) == "/__emulator/" then return admin(uri) end
  return send(404, '{"error":"admin listener"}', "application/json")
end

local TRAP_LOG_MAX = 1000

function M.trap()
  local n = state.incr("trap")
  if n <= TRAP_LOG_MAX then state.set("trap_uri:" .. n, ngx.var.request_uri) end
  return send(200, '{"links":[],"results":[],"totalCount":0}', "application/json")
end

function M.log()
  local ctx = ngx.ctx
  if not ctx.counted then return end
  state.append_log{
    method = ngx.req.get_method(),
    uri = ngx.var.request_uri,
    status = ngx.status,
    auth = ctx.auth,
    user_agent = ngx.var.http_user_agent,
    fault = ctx.fault,
    time = ngx.now(),
  }
end

return M
