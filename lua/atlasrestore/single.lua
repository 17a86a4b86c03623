--- Single requests routed like listings: one page in the unified shape, one
-- restore job by id, and the wait until a job's status is final.
local core = require "atlasrestore.core"
local endpoints = require "atlasrestore.endpoints"
local errors = require "atlasrestore.errors"
local probe = require "atlasrestore.probe"
local routes = require "atlasrestore.routes"
local shape = require "atlasrestore.shape"

local single = {}

-- `st`: the client's state (pipe, memory, settings, clock).

--- One page of the instance's restore jobs, routed: { results = {unified job, ...},
-- totalCount, links, endpoint } or nil, err. `query` is the caller's (checked).
function single.page(st, group_id, name, query_string, endpoint, query)
  query = query or {}
  local pipe = st.pipe
  local ctx = pipe:context()
  local function get(where, notice)
    local path, accept = routes.restore_jobs(where, st.settings.api_version, group_id, name, query_string)
    return pipe:get(ctx, path, accept, { include_count = query.include_count, envelope = query.envelope,
      notice = notice })
  end
  local page, resolved = probe.route(pipe, st.memory, group_id, name, endpoint, get, (query.page_num or 1) == 1)
  if not page then return nil, resolved end
  local map, results = shape.mapper(resolved, st.clock), {}
  for i, job in ipairs(page.results) do results[i] = map(job) end
  return { results = setmetatable(results, core.array_mt), totalCount = page.totalCount, links = page.links,
    endpoint = resolved }
end

-- The job and the endpoint that served it (wire record), or nil, err.
local function fetch_job(st, ctx, group_id, name, job_id, endpoint)
  local function get(where, notice)
    local path, accept = routes.restore_jobs(where, st.settings.api_version, group_id, name, nil, job_id)
    return st.pipe:get(ctx, path, accept, { entity = true, notice = notice })
  end
  return probe.route(st.pipe, st.memory, group_id, name, endpoint, get, false)
end

--- One restore job: the wire record, or the unified shape with "auto"; or nil, err.
function single.job(st, group_id, name, job_id, endpoint)
  local job, resolved = fetch_job(st, st.pipe:context(), group_id, name, job_id, endpoint)
  if not job then return nil, resolved end
  if endpoint == endpoints.AUTO then return shape.mapper(resolved, st.clock)(job) end
  return job
end

-- Failures that a later poll may not meet: with tolerate_failures, the wait goes on through them.
local TRANSIENT = { network = true, rate_limited = true, server = true, bad_response = true }
local LASTING = { TLS_FAILED = true, RESPONSE_TOO_LARGE = true }

local function transient(err) return TRANSIENT[err.kind] and not LASTING[err.errorCode] end

--- Polls a job until its unified status is final: the final job (shaped as
-- single.job's), or nil, err. plan: endpoint, interval, timeout, on_change(job,
-- unified status: a wire record may have none), tolerate_failures. Each poll is a call of its own
-- (deadline, retries), cut at the wait's end. A poll that fails after its retries
-- ends the wait with its error, unless tolerate_failures lets transient failures
-- pass until the timeout (WAIT_TIMEOUT, the last of them as `cause`).
function single.wait(st, group_id, name, job_id, plan)
  local pipe, endpoint = st.pipe, plan.endpoint
  local transport = pipe.transport
  local deadline = transport:now() + plan.timeout
  local polls, last_status, last_job, cause = 0
  while true do
    local ctx = pipe:context()
    ctx.deadline = math.min(ctx.deadline, deadline)
    polls = polls + 1
    local job, resolved = fetch_job(st, ctx, group_id, name, job_id, endpoint)
    if job then
      local unified = shape.mapper(resolved, st.clock)(job)
      local shown = endpoint == endpoints.AUTO and unified or job
      last_job, cause = shown, nil
      if unified.status ~= last_status then
        last_status = unified.status
        if plan.on_change then plan.on_change(shown, unified.status) end
      end
      if shape.FINAL[unified.status] then return shown end
    elseif resolved.errorCode == errors.TIMEOUT and transport:now() >= deadline then
      -- The wait's own end cut this poll short: the wait timed out, and what the
      -- polls met before stays its cause.
      cause = cause or resolved
    elseif plan.tolerate_failures and transient(resolved) then
      cause = resolved
    else
      return nil, resolved
    end
    local now = transport:now()
    if now < deadline then
      transport:sleep(math.min(plan.interval, deadline - now))
      now = transport:now()
    end
    if now >= deadline then
      return nil, errors.new(errors.WAIT_TIMEOUT, {
        message = ("restore job %s did not reach a final status within %g s (%d polls, last status %s)"):format(
          job_id, plan.timeout, polls, last_status or "unknown"),
        job = last_job, cause = cause, polls = polls,
      })
    end
  end
end

return single
