--- "auto" resolution: which endpoint holds an instance's restore jobs, asked as
-- the endpoint descriptions lead and remembered per client, so that a warm route
-- costs no extra request; the error of a probe that found nothing; and the
-- deprecation warning of the answer used.
local endpoints = require "atlasrestore.endpoints"
local errors = require "atlasrestore.errors"
local flight = require "atlasrestore.flight"

local probe = {}

--- Where an endpoint's error leads (its description's `leads`, by errorCode
-- first, then by status): a kind, false for nowhere else to ask, or nil when it
-- is a real failure (a 500, a 401, GROUP_NOT_FOUND, a cluster without backup...).
local function lead(endpoint, err)
  local leads = endpoints.of(endpoint).leads or {}
  local to = leads[err.errorCode]
  if to == nil then to = leads[err.status] end
  return to
end

-- How much an answer says about the instance: a "wrong kind" answer least, then
-- a plain 404 or 410, then anything else (a refused cluster, a 500...).
local function weight(err)
  if endpoints.wrong_kind(err.errorCode) then return 0 end
  if err.status == 404 or err.status == 410 then return 1 end
  return 2
end

-- The error of a probe and the endpoint that gave it: the `final` endpoint's
-- when a real failure ended it, otherwise the answer that says the most (the
-- later one among equals). `errors` holds every endpoint's answer; `attempts` is
-- the most any one of them made, since one request to each endpoint is not a retry.
local function failed(answers, asked, final)
  local chosen = final
  if not chosen then
    for _, endpoint in ipairs(asked) do
      if not chosen or weight(answers[endpoint]) >= weight(answers[chosen]) then chosen = endpoint end
    end
  end
  local attempts = 0
  for _, err in pairs(answers) do attempts = math.max(attempts, err.attempts or 1) end
  return nil, errors.copy(answers[chosen], { errors = answers, attempts = attempts }), chosen
end

local function key_of(group_id, name) return group_id .. "/" .. name end

--- Records that `endpoint` serves the instance (the project listing knows it from the instance lists).
function probe.remember(memory, group_id, name, endpoint)
  memory[key_of(group_id, name)] = endpoint
end

-- Resolves "auto" for the instance `key`: returns doc, nil, the endpoint that
-- served it, or nil, err, the endpoint whose answer err is. `first_page`: an
-- empty first page from a remembered instance whose kind names `empty_first_page`
-- (a serverless one migrated to Flex looks so) asks that kind once more.
local function resolve(memory, key, get, first_page)
  local answers, asked = {}, {}
  local function ask(endpoint)
    if answers[endpoint] then return nil, answers[endpoint] end
    local doc, err = get(endpoint)
    if doc then return doc end
    answers[endpoint], asked[#asked + 1] = err, endpoint
    return nil, err
  end

  -- Warm: the remembered endpoint first. Instances move: a "not here" answer
  -- resolves again from the top, re-using the answers already had.
  local remembered = memory[key]
  if remembered then
    local doc, err = ask(remembered)
    if doc then
      local moved = endpoints.of(remembered).empty_first_page
      if not (moved and first_page and #doc.results == 0) then return doc, nil, remembered end
      local moved_doc, moved_err = ask(moved)
      if moved_doc then
        memory[key] = moved
        return moved_doc, nil, moved
      end
      if lead(moved, moved_err) == nil then return failed(answers, asked, moved) end
      return doc, nil, remembered -- not moved there: the empty list stands
    end
    if lead(remembered, err) == nil then return failed(answers, asked, remembered) end
    memory[key] = nil
  end

  local at = endpoints.FIRST
  while at do
    local doc, err = ask(at)
    if doc then
      memory[key] = at
      return doc, nil, at
    end
    local to = lead(at, err)
    if to == nil then return failed(answers, asked, at) end
    at = to
  end
  return failed(answers, asked)
end

-- Resolves as `resolve` does, once at a time per instance in the client (in
-- the worker, inside nginx: pipe.flights): while one request probes a cold
-- instance, the others for it wait (never past `deadline`, their call's), then
-- ask the endpoint it found. A probe that failed gives its error to those that
-- waited: the same instance, the same answers. One that raised or ended without
-- an answer (its request went away), or that may outlast a waiter, leaves it to probe alone.
local function resolve_once(pipe, memory, key, ask, first_page, deadline)
  if memory[key] then return resolve(memory, key, ask, first_page) end
  local led, ok, doc, err, used = flight.share(pipe.transport, pipe.flights, "auto " .. key, deadline, resolve,
    memory, key, ask, first_page)
  if led then
    if not ok then error(doc, 0) end
    return doc, err, used
  end
  if ok and not doc then return nil, errors.copy(err), used end
  return resolve(memory, key, ask, first_page)
end

-- Restore jobs refused with a 400 that is not a "wrong kind" answer, by an
-- endpoint whose description says what that likely means: the error keeps
-- Atlas's code and gains a `hint`.
local function explain(endpoint, name, err)
  local refused = endpoints.of(endpoint).refused
  if refused and err.status == 400 and not endpoints.wrong_kind(err.errorCode) then
    err.hint = refused:format(name)
  end
  return err
end

--- Gives the deprecation warning of `kind` for an answer's `signals` (see
-- pipeline.lua's notice_deprecation), once per client through the pipeline.
-- `routed`: the caller asked for "auto", which needs no advice to use it.
function probe.warn(pipe, kind, signals, routed)
  local desc = endpoints.of(kind)
  local sunset = desc.sunset or signals.sunset or "not announced"
  local message
  if signals.gone then
    message = ("atlasrestore: warning: the %s endpoint is past its sunset (%s): Atlas answered 410 VERSION_GONE")
      :format(kind, sunset)
  else
    message = ("atlasrestore: warning: the %s endpoint is deprecated, sunset %s (Deprecation: %s; Sunset: %s)")
      :format(kind, sunset, signals.deprecation or "-", signals.sunset or "-")
  end
  if not routed then
    message = message .. ('; endpoint "%s" follows the instances that moved'):format(endpoints.AUTO)
  end
  pipe:warn("deprecated " .. kind, message, { path = signals.path, endpoint = kind,
    deprecation = signals.deprecation, sunset = signals.sunset })
end

--- One request routed to `endpoint`, or through the probe table for "auto":
-- returns doc, the endpoint that served it, or nil, err. `get(endpoint, notice)`
-- -> doc | nil, err sends it (with its retries; notice is pipe:get's
-- decode.notice); `memory` maps "group/name" to the endpoint that last served
-- it. `first_page`: `doc` is a listing's first page. Only the answer used (the
-- doc, or the error returned) gives its deprecation warning; `chosen`: the
-- module chose the endpoint itself (a project listing), as "auto" does.
-- `deadline`: the call's, which a wait for another request's probe never passes.
function probe.route(pipe, memory, group_id, name, endpoint, get, first_page, chosen, deadline)
  local signals = {}
  local function ask(where)
    local doc, err = get(where, function(given) signals[where] = given end)
    if not doc then return nil, explain(where, name, err) end
    return doc
  end
  local routed = endpoint == endpoints.AUTO
  local doc, err, used
  if routed then
    doc, err, used = resolve_once(pipe, memory, key_of(group_id, name), ask, first_page, deadline)
  else
    doc, err = ask(endpoint)
    used = endpoint
  end
  if signals[used] then probe.warn(pipe, used, signals[used], routed or chosen) end
  if not doc then return nil, err end
  return doc, used
end

return probe
