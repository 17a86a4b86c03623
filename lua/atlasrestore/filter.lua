--- Filters: which jobs a listing keeps, by unified status and by time. A finished
-- job counts by when it finished, an unfinished one by when it was scheduled or
-- created (each kind's fields: endpoints.lua's `times`); an unfinished job with
-- no such time is kept. Filtering never changes which pages are fetched.
local dates = require "atlasrestore.dates"
local endpoints = require "atlasrestore.endpoints"
local shape = require "atlasrestore.shape"

local filter = {}

--- The Unix time a unified job counts by, read from its wire record: the
-- kind's `started` field while its status is not final; once it is, its
-- `finished` field, else `started`, else (a job cancelled before it started)
-- its snapshot's time. Each only when it parses as ISO 8601; else nil.
function filter.job_time(job)
  local kind = endpoints.of(job.source)
  local times = kind and kind.times
  if not times then return nil end
  local wire = type(job.raw) == "table" and job.raw or job
  if not shape.FINAL[job.status] then return dates.parse(wire[times.started]) end
  return dates.parse(wire[times.finished]) or dates.parse(wire[times.started]) or dates.parse(wire[times.snapshot])
end

--- True when the unified `job` passes `f` = { status = set | nil, since = s | nil, ["until"] = s | nil }:
-- since <= time < until.
function filter.keeps(f, job)
  if f.status and not f.status[job.status] then return false end
  if f.since or f["until"] then
    local t = filter.job_time(job)
    if t and ((f.since and t < f.since) or (f["until"] and t >= f["until"])) then return false end
  end
  return true
end

--- The jobs that pass `f`, in order. `map`, for wire records: the unified view to test them on.
function filter.apply(f, jobs, map)
  local kept, n = {}, 0
  for i = 1, #jobs do
    local job = jobs[i]
    if filter.keeps(f, map and map(job) or job) then
      n = n + 1
      kept[n] = job
    end
  end
  return kept
end

return filter
