--- A /metrics location inside nginx: restore-job metrics (atlasrestore.metrics)
-- served from a lua_shared_dict and refreshed in the background by ngx.timer, at
-- most once per `interval` and one refresh per key at a time across the workers;
-- while a refresh fails, the last good answer stays (and the errors are counted).
local atlasrestore = require "atlasrestore"
local errors = require "atlasrestore.errors"
local metrics = require "atlasrestore.metrics"

local exporter = {}

local ngx = rawget(_G, "ngx") -- this module runs only inside nginx

-- How often each worker looks whether a refresh is due: a lua_shared_dict add, cheap.
local TICK = 1

-- This worker's exporters, by key.
local started = {}

local CFG_TYPES = { dict = "string", key = "string", interval = "number", client = "table", projects = "table",
  all_projects = "boolean", org_id = "string", listing = "table", lock_timeout = "number" }

local function checked(cfg)
  if type(cfg) ~= "table" then errors.bad_type("exporter", 1, "table", cfg) end
  for k, v in pairs(cfg) do
    if not CFG_TYPES[k] then errors.misuse("bad argument #1 to 'exporter' (unknown option '%s')", tostring(k)) end
    if type(v) ~= CFG_TYPES[k] then errors.bad_type("exporter", 1, CFG_TYPES[k], v, k) end
  end
  local dict = ngx.shared[cfg.dict or ""]
  if not dict then errors.misuse("exporter: no lua_shared_dict is named %q in nginx.conf", tostring(cfg.dict)) end
  if not cfg.projects and not cfg.all_projects then
    errors.misuse("exporter: give projects = { group ids } or all_projects = true")
  end
  local interval = cfg.interval or 300
  if interval ~= interval or interval < 1 then errors.misuse("exporter: interval must be at least 1 second") end
  return {
    dict = dict, key = cfg.key or "default", interval = interval, client = cfg.client or {},
    projects = cfg.projects, all_projects = cfg.all_projects, org_id = cfg.org_id, listing = cfg.listing or {},
    -- A refresh that dies without unlocking (a worker killed) frees the lock after this.
    lock_timeout = cfg.lock_timeout or math.max(interval, 600),
  }
end

local function listing_opts(x, extra)
  local opts = {}
  for k, v in pairs(x.listing) do opts[k] = v end
  for k, v in pairs(extra) do opts[k] = v end
  return opts
end

-- Lists every project into `fresh`; kept[project][instance] for the instances that failed.
local function list_into(x, client, fresh, kept)
  local function failed(project, instance, err)
    fresh:failed(project, err)
    if instance then
      kept[project] = kept[project] or {}
      kept[project][instance] = true
    end
  end
  local now = ngx.time()
  if x.all_projects then
    local count, failures, projects = client:organisation_restore_jobs(listing_opts(x, { org_id = x.org_id,
      on_instance = function(_, jobs) for _, job in ipairs(jobs) do fresh:add(job) end end }))
    if not count then return fresh:failed("", failures) end
    local whole = {}
    for _, f in ipairs(failures) do
      failed(f.project, f.instance, f.error)
      if not f.instance then whole[f.project] = true end
    end
    for _, p in ipairs(projects) do
      if not whole[p.id] then fresh:succeeded(p.id, now) end
    end
    return
  end
  for _, group in ipairs(x.projects) do
    local count, failures = client:project_restore_jobs(group, listing_opts(x, {
      on_instance = function(_, jobs)
        for _, job in ipairs(jobs) do
          job.project = group
          fresh:add(job)
        end
      end }))
    if count then
      fresh:succeeded(group, now)
      for _, f in ipairs(failures) do failed(group, f.instance, f.error) end
    else
      failed(group, nil, failures)
    end
  end
end

--- One refresh of exporter `x` (checked cfg), now: the dict's state updated.
local function refresh(x)
  local fresh, kept = metrics.collector(), {}
  local client, err = atlasrestore.new(x.client)
  if not client then
    fresh:failed("", err)
  else
    local ok, why = pcall(list_into, x, client, fresh, kept)
    client:close()
    if not ok then
      ngx.log(ngx.ERR, "atlasrestore exporter ", x.key, ": the refresh raised: ", tostring(why))
      fresh:failed("", { kind = "internal" })
    end
  end
  local state = metrics.decode(x.dict:get(x.key .. ":state"))
  state:merge(fresh, kept)
  x.dict:set(x.key .. ":state", state:encode())
end

-- Runs a refresh when one is due and none is in flight, in whichever worker gets there first.
local function tick(premature, x)
  if premature then return end
  if not x.dict:add(x.key .. ":due", true, x.interval) then return end
  if not x.dict:add(x.key .. ":running", true, x.lock_timeout) then return end
  local ok, why = pcall(refresh, x)
  x.dict:delete(x.key .. ":running")
  if not ok then ngx.log(ngx.ERR, "atlasrestore exporter ", x.key, ": ", tostring(why)) end
end

--- Starts the background refresh of this worker (init_worker_by_lua, or the
-- first serve): cfg = { dict =, key = "default", interval = 300 (seconds between
-- refreshes), client = atlasrestore.new's options, projects = { group ids } or
-- all_projects = true (org_id =), listing = { concurrency =, status = ... } }.
-- Returns the checked configuration.
function exporter.start(cfg)
  local x = checked(cfg)
  if started[x.key] then return started[x.key] end
  started[x.key] = x
  local ok, err = ngx.timer.at(0, tick, x)
  if ok then ok, err = ngx.timer.every(TICK, tick, x) end
  if not ok then ngx.log(ngx.ERR, "atlasrestore exporter ", x.key, ": no timer: ", tostring(err)) end
  return x
end

--- The content handler of the /metrics location (starts this worker's refresh on
-- its first call): OpenMetrics when the scraper's Accept asks for it, else
-- Prometheus's text format.
function exporter.serve(cfg)
  local x = started[type(cfg) == "table" and (cfg.key or "default") or "default"] or exporter.start(cfg)
  local accept = ngx.var.http_accept or ""
  local om = accept:find("application/openmetrics-text", 1, true) ~= nil
  ngx.header["Content-Type"] = om and metrics.OPENMETRICS_CONTENT_TYPE or metrics.CONTENT_TYPE
  ngx.header["Cache-Control"] = "no-store"
  ngx.print(metrics.decode(x.dict:get(x.key .. ":state")):render { now = ngx.time(), openmetrics = om })
end

return exporter
