-- Routing and handlers of the local Atlas emulator (run by nginx's LuaJIT).
--
-- Routes (GET only; v1.0 = resource version 2023-01-01 with application/json):
--   /api/atlas/{v1.0|v2}/groups/{g}/serverless/{name}/backup/restoreJobs[/{id}]  2023-01-01, deprecated
--   /api/atlas/v2/groups/{g}/flexClusters/{name}/backup/restoreJobs[/{id}]       2024-11-13
--   /api/atlas/{v1.0|v2}/groups/{g}/clusters/{name}/backup/restoreJobs[/{id}]    2023-01-01
--   /api/atlas/{v1.0|v2}/groups/{g}/serverless     2023-01-01, deprecated (serverless_list: 404/410)
--   /api/atlas/v2/groups/{g}/flexClusters          2024-11-13
--   /api/atlas/{v1.0|v2}/groups/{g}/clusters       2023-01-01, 2023-02-01 (legacy record), 2024-08-05
--   /api/atlas/v2/groups                           2023-01-01, the projects (projects.visible)
--   /api/atlas/v2/orgs/{o}/groups                  2023-01-01, one organisation's projects
--
-- Order of checks, first failure wins:
--   auth (401 + Digest challenge) -> route (404 RESOURCE_NOT_FOUND) -> method (405)
--   -> fault injection -> version: v1.0 of a v2-only resource (404 RESOURCE_NOT_FOUND),
--      the Accept version on v2 (406 INVALID_VERSION_DATE)
--   -> group id format (400 INVALID_GROUP_ID) -> group (404 GROUP_NOT_FOUND)
--   restore jobs: -> token bucket (429 RATE_LIMITED_TOKEN_BUCKET, with rate_limit only)
--     -> query parameters (400 VALIDATION_ERROR) -> restoreJobId format (400 VALIDATION_ERROR)
--     -> instance (404 / 400 / 410 / 500) -> job (404 RESTORE_JOB_NOT_FOUND) -> 200
--   instance lists: -> serverless_list (404 / 410) -> query parameters -> 200
--   project lists: -> org id format (400 INVALID_ORG_ID) -> org (404 ORG_NOT_FOUND) -> query parameters -> 200
-- Codes no recording shows, so guessed: INVALID_GROUP_ID, VALIDATION_ERROR for a
-- restoreJobId, RESTORE_JOB_NOT_FOUND, TENANT_CLUSTER_BACKUP_UNSUPPORTED (free
-- cluster), CLUSTER_BACKUP_NOT_ENABLED (no cloud backup),
-- CANNOT_USE_SERVERLESS_INSTANCE_IN_CLUSTER_API's detail.
local cjson = require "cjson.safe"
local json = require "atlasrestore_emulator.json"
local state = require "atlasrestore_emulator.state"
local auth = require "atlasrestore_emulator.auth"
local data = require "atlasrestore_emulator.data"
local dedicated = require "atlasrestore_emulator.dedicated"
local polling = require "atlasrestore_emulator.polling"
local projects = require "atlasrestore_emulator.projects"
local faults = require "atlasrestore_emulator.faults"
local limits = require "atlasrestore_emulator.limits"

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
-- As recorded on GET /serverless (serverless_instances_list_200_deprecated).
local LIST_SUNSET = "Thu, 15 Jan 2026 00:00:00 GMT"
-- As recorded on the cluster API under a deprecated version (cluster_get_400_...).
local CLUSTER_DEPRECATION, CLUSTER_SUNSET = "Mon, 5 Aug 2024 00:00:00 GMT", "Thu, 1 Jul 2027 00:00:00 GMT"

local SERVERLESS_VERSION, FLEX_VERSION = "2023-01-01", "2024-11-13"

-- Resource versions each kind of route has, oldest first.
local VERSIONS = {
  serverless = { "2023-01-01" }, flex = { "2024-11-13" }, dedicated = { "2023-01-01" },
  clusters = { "2023-01-01", "2023-02-01", "2024-08-05" }, groups = { "2023-01-01" },
}

local KIND_OF = { serverless = "serverless", flexClusters = "flex", clusters = "dedicated" }

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

-- A response: { status, body, content type, headers }.
local function error_response(headers, status, code, detail, params, bad)
  headers["X-Error-Code"] = code
  return { status, api_error_body(status, code, detail, params, bad), "application/json", headers }
end

-- The date of the first application/vnd.atlas.<date>+json in Accept that is
-- on or after `min`, or nil.
local function accepted_date(min)
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

-- Resolves the version: Atlas serves the newest version on or before the
-- date asked.  Returns version, content type; or nil and an error response.
local function negotiate(kind, version, headers)
  local list = VERSIONS[kind]
  if version == "v1.0" then
    if kind == "flex" then
      local uri = ngx.var.uri
      return nil, error_response(headers, 404, "RESOURCE_NOT_FOUND", "Cannot find resource " .. uri .. ".", { uri })
    end
    return list[1], "application/json"
  end
  local asked = accepted_date(list[1])
  if not asked then
    return nil, error_response(headers, 406, "INVALID_VERSION_DATE", "Invalid accept header or version date.", {})
  end
  local chosen = list[1]
  for _, v in ipairs(list) do
    if v <= asked then chosen = v end
  end
  return chosen, "application/vnd.atlas." .. chosen .. "+json;charset=utf-8"
end

-- The project, or nil and an error response.
local function project(cfg, group, headers)
  if not ngx.re.find(group, "^[a-f0-9]{24}$", "jo") then
    return nil, error_response(headers, 400, "INVALID_GROUP_ID", "An invalid group ID " .. group .. " was specified.",
      { group })
  end
  local p = projects.get(group, cfg)
  if not p then
    -- Recorded GROUP_NOT_FOUND responses carry no rate-limit headers.
    return nil, error_response(headers, 404, "GROUP_NOT_FOUND", "No group with ID " .. group .. " exists.", { group })
  end
  return p
end

-- Validated query: { pageNum, itemsPerPage, includeCount, envelope, pretty },
-- or nil and a badRequestDetail field list.  `single`: only envelope and pretty.
local function parse_query(single)
  local args = ngx.req.get_uri_args(100)
  local q, bad = {}, {}
  local function one(name)
    local v = args[name]
    if type(v) == "table" then v = v[1] end
    return v
  end
  local function int(name, default, lo, hi, desc)
    local v = one(name)
    if v == nil then q[name] = default; return end
    local n = type(v) == "string" and #v <= 10 and v:match("^%d+$") and tonumber(v)
    if not n or n < lo or n > hi then
      bad[#bad + 1] = json.obj{ { "description", desc }, { "field", name } }
    else
      q[name] = n
    end
  end
  local function bool(name, default)
    local v = one(name)
    if v == nil then q[name] = default; return end
    local l = type(v) == "string" and v:lower()
    if l == "true" then q[name] = true
    elseif l == "false" then q[name] = false
    else
      bad[#bad + 1] = json.obj{ { "description", "must be true or false" }, { "field", name } }
    end
  end
  if not single then
    int("pageNum", 1, 1, 2147483647, "must be greater than or equal to 1")
    int("itemsPerPage", 100, 1, 500, "must be between 1 and 500")
    bool("includeCount", true)
  end
  bool("envelope", false)
  bool("pretty", false)
  if #bad > 0 then return nil, bad end
  return q
end

local function query_error(headers, bad)
  local names = {}
  for _, f in ipairs(bad) do names[#names + 1] = f[2][2] end
  return error_response(headers, 400, "VALIDATION_ERROR", "Invalid query parameter(s): " .. concat(names, ", ") .. ".",
    {}, bad)
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

-- A list page body; Atlas still sends "totalCount":0 when includeCount=false.
local function list_body(q, base, total, has_next, items)
  local body = '{"links":' .. page_links(base, ngx.var.uri, q.pageNum, q.itemsPerPage, has_next) ..
    ',"results":[' .. concat(items, ",") .. "]" .. (q.envelope and ',"status":200' or "") ..
    ',"totalCount":' .. (q.includeCount and total or 0) .. "}"
  if q.pretty then body = json.pretty(body) end
  return body
end

local function slice(list, pn, ipp)
  local first, last = (pn - 1) * ipp + 1, pn * ipp
  local out = {}
  for i = first, math.min(last, #list) do out[#out + 1] = list[i] end
  return #list, last < #list, out
end

local function is_migrated(cfg, p, name)
  if p.group ~= projects.GROUP_ID then return false end
  for _, n in ipairs(cfg.migrated) do
    if n == name then return true end
  end
  return false
end

-- The instance behind a restore-job route, or nil and an error response.
local function instance(cfg, p, kind, name, headers)
  local function err(...) return nil, error_response(headers, ...) end
  local migrated = is_migrated(cfg, p, name)
  local sandbox = name == "sandbox" and projects.sandbox(p, cfg)
  local group = p.group
  if kind == "serverless" then
    local inst = migrated and { count = 0 } or p.serverless[name]
    if not inst then
      if p.clusters[name] then
        return err(400, "CANNOT_USE_CLUSTER_IN_SERVERLESS_INSTANCE_API",
          format("Cannot use cluster %s in the serverless instance API.", name), { name })
      end
      return err(404, "SERVERLESS_INSTANCE_NOT_FOUND",
        format("Serverless instance %s in group %s not found", name, group), { name, group })
    elseif inst.gone then
      return err(410, "VERSION_GONE", format("Version %s of this resource was removed on %s. " ..
        "Use the Flex restore jobs resource, version %s.", SERVERLESS_VERSION, SUNSET, FLEX_VERSION),
        { SERVERLESS_VERSION })
    end
    return inst
  elseif kind == "flex" then
    local inst = migrated and { count = 5 } or p.flex[name] or sandbox
    if not inst then
      if p.clusters[name] then
        return err(400, "CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API",
          format("Cannot use non-flex cluster %s in the flex API.", name), { name })
      end
      return err(404, "CLUSTER_NOT_FOUND", format("No cluster named %s exists in group %s.", name, group),
        { name, group })
    end
    return inst
  end
  local inst = p.clusters[name]
  if not inst then
    if p.flex[name] or migrated or sandbox then
      return err(400, "CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API",
        format("Flex cluster %s cannot be used in the Cluster API.", name), { name })
    elseif p.serverless[name] then
      return err(400, "CANNOT_USE_SERVERLESS_INSTANCE_IN_CLUSTER_API",
        format("Serverless instance %s cannot be used in the Cluster API.", name), { name })
    end
    return err(404, "CLUSTER_NOT_FOUND", format("No cluster named %s exists in group %s.", name, group),
      { name, group })
  elseif inst.tier == "free" then
    return err(400, "TENANT_CLUSTER_BACKUP_UNSUPPORTED",
      format("Cloud Backup is not supported for the free cluster %s.", name), { name })
  elseif inst.backup == false then
    return err(400, "CLUSTER_BACKUP_NOT_ENABLED", format("Cloud Backup is not enabled for cluster %s.", name),
      { name })
  elseif inst.broken then
    return err(500, "UNEXPECTED_ERROR", "Unexpected error.", {})
  end
  return inst
end

-- Jobs kept as a fixed list (polling ones, dedicated-0's hand-written ones).
local function listed_jobs(cfg, kind, inst, ctx)
  local out = {}
  if inst.polling then out = polling.jobs(kind, ctx, cfg) end
  if inst.fixed then
    for _, j in ipairs(dedicated.fixed_jobs(ctx)) do out[#out + 1] = j end
  end
  return out
end

local function jobs_page(cfg, kind, inst, q, ctx)
  if inst.polling or inst.fixed then
    return slice(listed_jobs(cfg, kind, inst, ctx), q.pageNum, q.itemsPerPage)
  elseif kind == "serverless" then
    return data.serverless_page(ctx.name, inst, q.pageNum, q.itemsPerPage, ctx)
  elseif kind == "flex" then
    return data.flex_page(ctx.name, inst, q.pageNum, q.itemsPerPage, ctx)
  end
  return dedicated.page(inst, q.pageNum, q.itemsPerPage, ctx)
end

-- One job as JSON text, or nil.  A GET of a polling job counts as a poll.
local function find_job(cfg, kind, inst, id, ctx)
  local job
  if inst.polling then job = polling.get(kind, id, ctx, cfg) end
  if not job and inst.fixed then job = dedicated.fixed_job(id, ctx) end
  if job or not (inst.count or inst.demo or inst.same) then return job end
  if kind == "serverless" then
    return data.serverless_job(ctx.name, inst, id, ctx)
  elseif kind == "flex" then
    return data.flex_job(ctx.name, inst, id, ctx)
  end
  return dedicated.find(inst, id, ctx)
end

local function base_url()
  return ngx.var.scheme .. "://127.0.0.1:" .. ngx.var.server_port
end

-- A restore-job list, or one job when r.job_id is set.
local function restore_jobs(cfg, r)
  local kind = r.kind
  local headers = {}
  if kind == "serverless" and cfg.deprecation_headers then
    headers["Deprecation"] = DEPRECATION
    headers["Sunset"] = SUNSET
  end
  local version, ctype = negotiate(kind, r.version, headers)
  if not version then return ctype end
  local p, perr = project(cfg, r.group, headers)
  if not p then return perr end

  local ok, limit, remaining, retry = limits.take(cfg, r.group)
  headers["RateLimit-Limit"] = limit
  headers["RateLimit-Remaining"] = remaining
  if not ok then
    state.incr("rate_limited")
    headers["Retry-After"] = retry
    headers["X-Error-Code"] = "RATE_LIMITED_TOKEN_BUCKET"
    return { 429, faults.rate_limited_body(retry, limits.bucket(cfg)), "application/json", headers }
  end

  local q, bad = parse_query(r.job_id ~= nil)
  if not q then return query_error(headers, bad) end
  if r.job_id and not ngx.re.find(r.job_id, "^[a-f0-9]{24}$", "jo") then
    return error_response(headers, 400, "VALIDATION_ERROR", "Invalid path parameter(s): restoreJobId.", {},
      { json.obj{ { "description", "must match ^([a-f0-9]{24})$" }, { "field", "restoreJobId" } } })
  end
  local inst, ierr = instance(cfg, p, kind, r.name, headers)
  if not inst then return ierr end

  local base = base_url()
  if inst.hostile then base = ngx.var.emu_trap_base end
  local ctx = { name = r.name, group = r.group, base = base, version = r.version, shards = inst.shards }
  if kind == "serverless" then
    ctx.item_base = format("%s/api/atlas/%s/groups/%s/serverless/%s/backup/restoreJobs", base, r.version, r.group,
      r.name)
  end
  if r.job_id then
    local job = find_job(cfg, kind, inst, r.job_id, ctx)
    if not job then
      return error_response(headers, 404, "RESTORE_JOB_NOT_FOUND",
        format("No restore job with ID %s exists for %s.", r.job_id, r.name), { r.job_id, r.name })
    end
    local body = q.envelope and ('{"content":' .. job .. ',"status":200}') or job
    if q.pretty then body = json.pretty(body) end
    return { 200, body, ctype, headers }
  end
  local total, has_next, items = jobs_page(cfg, kind, inst, q, ctx)
  return { 200, list_body(q, base, total, has_next, items), ctype, headers }
end

-- GET /groups/{g}/serverless, /flexClusters or /clusters.
local function instance_list(cfg, r)
  local kind = r.list_kind
  local headers = {}
  if kind == "serverless" and cfg.deprecation_headers then
    headers["Deprecation"] = DEPRECATION
    headers["Sunset"] = LIST_SUNSET
  end
  local version, ctype = negotiate(kind, r.version, headers)
  if not version then return ctype end
  if kind == "clusters" and version < "2024-08-05" and cfg.deprecation_headers then
    headers["Deprecation"] = CLUSTER_DEPRECATION
    headers["Sunset"] = CLUSTER_SUNSET
  end
  local p, perr = project(cfg, r.group, headers)
  if not p then return perr end
  if kind == "serverless" then
    local gone = tostring(cfg.serverless_list)
    if gone == "404" then
      local uri = ngx.var.uri
      return error_response(headers, 404, "RESOURCE_NOT_FOUND", "Cannot find resource " .. uri .. ".", { uri })
    elseif gone == "410" then
      return error_response(headers, 410, "VERSION_GONE", format("Version %s of this resource was removed on %s. " ..
        "Use the Flex clusters resource, version %s.", SERVERLESS_VERSION, LIST_SUNSET, FLEX_VERSION),
        { SERVERLESS_VERSION })
    end
  end
  local q, bad = parse_query(false)
  if not q then return query_error(headers, bad) end
  local base = base_url()
  local defs = projects.names(p, kind, cfg)
  local total, has_next, page = slice(defs, q.pageNum, q.itemsPerPage)
  local items = {}
  for i, d in ipairs(page) do
    if kind == "serverless" then
      items[i] = projects.serverless_record(p, d, base, is_migrated(cfg, p, d.name))
    elseif kind == "flex" then
      items[i] = projects.flex_record(p, d)
    else
      items[i] = projects.cluster_record(p, d, base, r.version, version)
    end
  end
  return { 200, list_body(q, base, total, has_next, items), ctype, headers }
end

-- GET /groups or /orgs/{o}/groups: the projects the credentials see.
local function project_list(cfg, r)
  local headers = {}
  local version, ctype = negotiate("groups", r.version, headers)
  if not version then return ctype end
  local org = r.org
  if org then
    if not ngx.re.find(org, "^[a-f0-9]{24}$", "jo") then
      return error_response(headers, 400, "INVALID_ORG_ID", "An invalid organization ID " .. org .. " was specified.",
        { org })
    elseif not projects.org_exists(org) then
      return error_response(headers, 404, "ORG_NOT_FOUND", "No organization with ID " .. org .. " exists.", { org })
    end
  end
  local q, bad = parse_query(false)
  if not q then return query_error(headers, bad) end
  local base = base_url()
  local total, has_next, page = slice(projects.visible(cfg, org), q.pageNum, q.itemsPerPage)
  local items = {}
  for i, p in ipairs(page) do items[i] = projects.project_record(p, base) end
  return { 200, list_body(q, base, total, has_next, items), ctype, headers }
end

local ROUTES = {
  { re = [[^/api/atlas/(v1\.0|v2)/groups/([^/]+)/(serverless|flexClusters|clusters)/([^/]+)/backup/restoreJobs/?$]],
    counter = "list_requests", handler = restore_jobs },
  { re = [[^/api/atlas/(v1\.0|v2)/groups/([^/]+)/(serverless|flexClusters|clusters)/([^/]+)/backup/restoreJobs/]] ..
    [[([^/]+)$]],
    counter = "job_requests", handler = restore_jobs },
  { re = [[^/api/atlas/(v1\.0|v2)/groups/([^/]+)/(serverless|flexClusters|clusters)/?$]],
    counter = "instance_list_requests", handler = instance_list },
  { re = [[^/api/atlas/(v2)/groups/?$]], counter = "project_list_requests", handler = project_list },
  { re = [[^/api/atlas/(v2)/orgs/([^/]+)/groups/?$]], counter = "project_list_requests", handler = project_list,
    org = true },
}

local LIST_KIND = { serverless = "serverless", flexClusters = "flex", clusters = "clusters" }

local function route(uri)
  for _, rt in ipairs(ROUTES) do
    local m = ngx.re.match(uri, rt.re, "jo")
    if m and rt.org then
      return rt, { version = m[1], org = m[2] }
    elseif m then
      return rt, { version = m[1], group = m[2], kind = KIND_OF[m[3]], list_kind = LIST_KIND[m[3]], name = m[4],
        job_id = m[5] or nil }
    end
  end
  return nil
end

local function api(cfg)
  local ok, stale = auth.check(cfg)
  if not ok or (cfg.refuse_bearer and auth.scheme() == "Bearer") then return unauthorized(cfg, stale) end
  local rt, r = route(ngx.var.uri)
  if not rt then return resource_not_found() end
  local method = ngx.req.get_method()
  if method ~= "GET" then
    return send_error(405, "METHOD_NOT_ALLOWED", "Method " .. method .. " is not allowed on this resource.",
      { method }, { Allow = "GET" })
  end
  state.incr(rt.counter)
  local fault = faults.pick(cfg)
  ngx.ctx.fault = fault
  if fault then state.incr("faults") end

  if fault == "429" or fault == "429_body_only" then
    local ra = floor(cfg.faults.retry_after)
    local bucket = limits.bucket(cfg)
    local headers = { ["X-Error-Code"] = "RATE_LIMITED_TOKEN_BUCKET", ["RateLimit-Limit"] = floor(bucket.capacity),
      ["RateLimit-Remaining"] = 0 }
    if fault == "429" then headers["Retry-After"] = ra end
    return send(429, faults.rate_limited_body(ra, bucket), "application/json", headers)
  elseif fault == "503" then
    return send(503, faults.PROXY_503, "text/html")
  end

  local res = rt.handler(cfg, r)
  local body = res[2]
  ngx.status = res[1]
  ngx.header["Server"] = "mdbws"
  ngx.header["Content-Type"] = res[3]
  for k, v in pairs(res[4]) do ngx.header[k] = v end
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
    return reply(200, state.stats_json { live_tokens = auth.live_tokens() })
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
  limits.begin(cfg)
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
  limits.finish()
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
