--- Filters: which jobs a listing keeps, by unified status and by time. A job
-- counts by its finish time when it has one, else by its snapshot time; a job
-- with neither is kept. Filtering never changes which pages are fetched.
local dates = require "atlasrestore.dates"

local filter = {}

--- The Unix time a unified job counts by: `finishedAt`, else `timestamp` (each
-- only when it parses as ISO 8601), else nil.
function filter.job_time(job)
  return dates.parse(job.finishedAt) or dates.parse(job.timestamp)
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
