--- Restore jobs as metrics: a collector of per-instance aggregates of unified jobs,
-- refresh times and errors, rendered in Prometheus's text format (0.0.4, which
-- node_exporter's textfile collector and promtool read) or in OpenMetrics 1.0.
local dates = require "atlasrestore.dates"
local errors = require "atlasrestore.errors"
local shape = require "atlasrestore.shape"

local metrics = {}

metrics.CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
metrics.OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

--- The metric families, in the order they are rendered. docs/metrics.md's table mirrors this.
metrics.FAMILIES = {
  { name = "atlasrestore_restore_jobs", type = "gauge", labels = "project, instance, source, status",
    help = "Restore jobs by unified status." },
  { name = "atlasrestore_oldest_unfinished_restore_age_seconds", type = "gauge", labels = "project, instance, source",
    unit = "seconds",
    help = "Age of the oldest restore job that has not finished, from its creation or scheduling." },
  { name = "atlasrestore_last_failed_restore_finish_time_seconds", type = "gauge",
    labels = "project, instance, source", unit = "seconds",
    help = "Unix time at which the latest failed restore job finished." },
  { name = "atlasrestore_last_refresh_success_time_seconds", type = "gauge", labels = "project", unit = "seconds",
    help = "Unix time of the last listing of the project that succeeded." },
  { name = "atlasrestore_refresh_errors_total", type = "counter", labels = "project, category",
    help = "Listings that failed, by error category (the error's kind)." },
}

--- When an unfinished job began (Unix seconds), or nil: created, else scheduled
-- (Flex), else its snapshot's time.
function metrics.started_at(job)
  return dates.parse(job.createdAt) or dates.parse(job.restoreScheduledDate) or dates.parse(job.timestamp)
end

local Collector = {}
Collector.__index = Collector

--- A collector: c:add(job), c:succeeded(project, time), c:failed(project, err), c:render(opts).
-- `project` and `instance` label the jobs that carry no such field (one project's
-- or one instance's listing).
function metrics.collector(project, instance)
  return setmetatable({ project = project, instance = instance, rows = {}, refreshed = {}, errors = {} }, Collector)
end

local SEP = "\0"

-- The aggregate of one instance, made on first use.
local function row(self, project, instance, source)
  local key = project .. SEP .. instance .. SEP .. source
  local r = self.rows[key]
  if not r then
    r = { project = project, instance = instance, source = source, counts = {} }
    for _, status in ipairs(shape.STATUSES) do r.counts[status] = 0 end
    self.rows[key] = r
  end
  return r
end

--- Counts one unified job (with `project` and `instance` unless the collector has them).
function Collector:add(job)
  local project, instance = job.project or self.project, job.instance or self.instance
  if type(project) ~= "string" or type(instance) ~= "string" then
    errors.misuse("metrics: a job needs its project and instance (strings), got %s and %s", type(project),
      type(instance))
  end
  local r = row(self, project, instance, tostring(job.source or ""))
  local status = job.status
  if r.counts[status] then r.counts[status] = r.counts[status] + 1 end
  if not shape.FINAL[status] then
    local started = metrics.started_at(job)
    if started and (not r.oldest or started < r.oldest) then r.oldest = started end
  elseif status == "FAILED" then
    local finished = dates.parse(job.finishedAt)
    if finished and (not r.failed_at or finished > r.failed_at) then r.failed_at = finished end
  end
end

--- Records that the listing of `project` succeeded at `time` (Unix seconds).
function Collector:succeeded(project, time)
  self.refreshed[project] = time
end

--- Counts one failed listing of `project` (or of the project list: project "")
-- under its error's kind.
function Collector:failed(project, err)
  local category = type(err) == "table" and err.kind or "internal"
  local by = self.errors[project] or {}
  self.errors[project] = by
  by[category] = (by[category] or 0) + 1
end

--- Takes over what `fresh` (a newer collector) says: its rows replace those of each
-- project it listed, except `kept` ones (kept[project][instance] = true: instances
-- that failed this time, whose last good rows stay); its refresh times replace
-- these; its errors add up.
function Collector:merge(fresh, kept)
  for key, r in pairs(self.rows) do
    local stays = kept[r.project] and kept[r.project][r.instance]
    if fresh.refreshed[r.project] and not stays then self.rows[key] = nil end
  end
  for key, r in pairs(fresh.rows) do self.rows[key] = r end
  for project, time in pairs(fresh.refreshed) do self.refreshed[project] = time end
  for project, by in pairs(fresh.errors) do
    for category, n in pairs(by) do
      local mine = self.errors[project] or {}
      self.errors[project] = mine
      mine[category] = (mine[category] or 0) + n
    end
  end
end

---------------------------------------------------------------------------
-- The text
---------------------------------------------------------------------------

local ESCAPES = { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }

--- A label value as the exposition formats write it: backslash, quote and newline escaped.
function metrics.label_value(v)
  return (tostring(v):gsub('[\\"\n]', ESCAPES))
end

local function number_text(v)
  if v == math.floor(v) and v > -2 ^ 53 and v < 2 ^ 53 then return ("%d"):format(v) end
  return ("%.17g"):format(v)
end

local function labels(pairs_list)
  local parts = {}
  for i, pair in ipairs(pairs_list) do parts[i] = pair[1] .. '="' .. metrics.label_value(pair[2]) .. '"' end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function sorted_rows(self)
  local list = {}
  for _, r in pairs(self.rows) do list[#list + 1] = r end
  table.sort(list, function(a, b)
    if a.project ~= b.project then return a.project < b.project end
    if a.instance ~= b.instance then return a.instance < b.instance end
    return a.source < b.source
  end)
  return list
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- The samples of each family, as { name suffix, labels, value } lists.
local function samples(self, now)
  local jobs, ages, failed, refreshed, errs = {}, {}, {}, {}, {}
  for _, r in ipairs(sorted_rows(self)) do
    local where = { { "project", r.project }, { "instance", r.instance }, { "source", r.source } }
    for _, status in ipairs(shape.STATUSES) do
      jobs[#jobs + 1] = { { where[1], where[2], where[3], { "status", status } }, r.counts[status] }
    end
    if r.oldest then ages[#ages + 1] = { where, math.max(0, now - r.oldest) } end
    if r.failed_at then failed[#failed + 1] = { where, r.failed_at } end
  end
  for _, project in ipairs(sorted_keys(self.refreshed)) do
    refreshed[#refreshed + 1] = { { { "project", project } }, self.refreshed[project] }
  end
  for _, project in ipairs(sorted_keys(self.errors)) do
    local by = self.errors[project]
    for _, category in ipairs(sorted_keys(by)) do
      errs[#errs + 1] = { { { "project", project }, { "category", category } }, by[category] }
    end
  end
  return { jobs, ages, failed, refreshed, errs }
end

--- The text of every family. opts: now (Unix seconds the ages are measured at,
-- default os.time()), openmetrics (true: OpenMetrics 1.0, ending in # EOF).
function Collector:render(opts)
  opts = opts or {}
  local now = opts.now or os.time()
  local om = opts.openmetrics
  local lines = {}
  for i, list in ipairs(samples(self, now)) do
    local family = metrics.FAMILIES[i]
    local name = family.name
    -- OpenMetrics names a counter's family without the _total of its samples.
    local family_name = om and family.type == "counter" and name:gsub("_total$", "") or name
    lines[#lines + 1] = ("# HELP %s %s"):format(family_name, family.help)
    lines[#lines + 1] = ("# TYPE %s %s"):format(family_name, family.type)
    if om and family.unit then lines[#lines + 1] = ("# UNIT %s %s"):format(family_name, family.unit) end
    for _, sample in ipairs(list) do
      lines[#lines + 1] = name .. labels(sample[1]) .. " " .. number_text(sample[2])
    end
  end
  if om then lines[#lines + 1] = "# EOF" end
  return table.concat(lines, "\n") .. "\n"
end

---------------------------------------------------------------------------
-- A collector as one string (for a lua_shared_dict), and back
---------------------------------------------------------------------------

local function escape(v) return (tostring(v):gsub("[%c%%]", function(c) return ("%%%02X"):format(c:byte()) end)) end
local function unescape(v) return (v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)) end

local function line(...)
  local fields = { ... }
  for i = 1, #fields do fields[i] = escape(fields[i]) end
  return table.concat(fields, "\t")
end

--- The collector as text: one tab-separated line per aggregate, refresh time and error count.
function Collector:encode()
  local lines = {}
  for _, r in ipairs(sorted_rows(self)) do
    local counts = {}
    for i, status in ipairs(shape.STATUSES) do counts[i] = r.counts[status] end
    lines[#lines + 1] = line("R", r.project, r.instance, r.source, table.concat(counts, ","), r.oldest or "",
      r.failed_at or "")
  end
  for project, time in pairs(self.refreshed) do lines[#lines + 1] = line("T", project, time) end
  for project, by in pairs(self.errors) do
    for category, n in pairs(by) do lines[#lines + 1] = line("E", project, category, n) end
  end
  return table.concat(lines, "\n")
end

--- A collector from Collector:encode's text (nil or "" gives an empty one).
function metrics.decode(text)
  local self = metrics.collector()
  for l in (text or ""):gmatch("[^\n]+") do
    local f = {}
    for field in (l .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = unescape(field) end
    if f[1] == "R" then
      local r = row(self, f[2], f[3], f[4])
      local i = 0
      for n in f[5]:gmatch("%d+") do
        i = i + 1
        r.counts[shape.STATUSES[i]] = tonumber(n)
      end
      r.oldest, r.failed_at = tonumber(f[6]), tonumber(f[7])
    elseif f[1] == "T" then
      self.refreshed[f[2]] = tonumber(f[3])
    elseif f[1] == "E" then
      local by = self.errors[f[2]] or {}
      self.errors[f[2]] = by
      by[f[3]] = tonumber(f[4])
    end
  end
  return self
end

return metrics
