--- "auto" resolution: which endpoint holds an instance's restore jobs, asked in
-- the order of the probe table and remembered per client, so that a warm route
-- costs no extra request; and the error of a probe that found nothing.
local errors = require "atlasrestore.errors"

local probe = {}

--- The first endpoint asked: a migrated instance can answer an empty list on the serverless one.
probe.FIRST = "flex"

-- Where each endpoint's "not here" answers lead, by errorCode first, then by
-- status; NOWHERE: not here, and nowhere else to ask. Any other answer (a 500,
-- a 401, GROUP_NOT_FOUND, a cluster without backup...) ends the probe as the error.
local NOWHERE = false
probe.LEADS = {
  flex = {
    -- Recorded: Flex refuses a dedicated cluster so, and the Atlas CLI then asks the dedicated endpoint.
    CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API = "dedicated",
    -- No Flex cluster of that name: maybe a serverless instance that was not migrated.
    CLUSTER_NOT_FOUND = "serverless",
  },
  serverless = {
    [404] = "dedicated", -- not found
    [410] = "dedicated", -- gone, past the sunset
    CANNOT_USE_CLUSTER_IN_SERVERLESS_INSTANCE_API = "dedicated",
  },
  dedicated = {
    [404] = NOWHERE,
    [410] = NOWHERE,
    CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API = NOWHERE,
    CANNOT_USE_SERVERLESS_INSTANCE_IN_CLUSTER_API = NOWHERE,
  },
}

-- Answers that only say "another kind of instance": they explain a failure least.
local WRONG_KIND = {
  CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API = true,
  CANNOT_USE_CLUSTER_IN_SERVERLESS_INSTANCE_API = true,
  CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API = true,
  CANNOT_USE_SERVERLESS_INSTANCE_IN_CLUSTER_API = true,
}

--- Where an endpoint's error leads: an endpoint, NOWHERE (false), or nil when it is a real failure.
local function lead(endpoint, err)
  local leads = probe.LEADS[endpoint]
  local to = leads[err.errorCode]
  if to == nil then to = leads[err.status] end
  return to
end

-- How much an answer says about the instance: a "wrong kind" answer least, then
-- a plain 404 or 410, then anything else (a refused cluster, a 500...).
local function weight(err)
  if WRONG_KIND[err.errorCode] then return 0 end
  if err.status == 404 or err.status == 410 then return 1 end
  return 2
end

-- The error of a probe: `final` when a real failure ended it, otherwise the
-- answer that says the most (the later one among equals). `errors` holds every
-- endpoint's answer; `attempts` is the most any one of them made, since one
-- request to each endpoint is not a retry.
local function failed(answers, asked, final)
  local chosen = final
  if not chosen then
    for _, endpoint in ipairs(asked) do
      local err = answers[endpoint]
      if not chosen or weight(err) >= weight(chosen) then chosen = err end
    end
  end
  local attempts = 0
  for _, err in pairs(answers) do attempts = math.max(attempts, err.attempts or 1) end
  return errors.copy(chosen, { errors = answers, attempts = attempts })
end

local function key_of(group_id, name) return group_id .. "/" .. name end

--- Records that `endpoint` serves the instance (the project listing knows it from the instance lists).
function probe.remember(memory, group_id, name, endpoint)
  memory[key_of(group_id, name)] = endpoint
end

-- Resolves "auto" for the instance `key`: returns doc, endpoint or nil, err.
-- `first_page`: an empty first page from a remembered serverless instance is
-- what a migrated one looks like, so Flex is asked once more.
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
      if not (remembered == "serverless" and first_page and #doc.results == 0) then return doc, remembered end
      local flex_doc, flex_err = ask("flex")
      if flex_doc then
        memory[key] = "flex"
        return flex_doc, "flex"
      end
      if lead("flex", flex_err) == nil then return nil, failed(answers, asked, flex_err) end
      return doc, remembered -- not a Flex cluster: the empty list stands
    end
    if lead(remembered, err) == nil then return nil, failed(answers, asked, err) end
    memory[key] = nil
  end

  local at = probe.FIRST
  while at do
    local doc, err = ask(at)
    if doc then
      memory[key] = at
      return doc, at
    end
    local to = lead(at, err)
    if to == nil then return nil, failed(answers, asked, err) end
    at = to
  end
  return nil, failed(answers, asked)
end

-- A dedicated cluster's restore jobs refused with a 400 that is not a "wrong
-- kind" answer: no recording shows what Atlas says for a Free cluster or one
-- without Cloud Backup, so the error keeps Atlas's code and gains a `hint`.
local function explain(endpoint, name, err)
  if endpoint == "dedicated" and err.status == 400 and not WRONG_KIND[err.errorCode] then
    err.hint = ("cluster %s likely cannot have restore jobs: a Free (M0) cluster or a cluster without Cloud "
      .. "Backup has none"):format(name)
  end
  return err
end

--- One request routed to `endpoint`, or through the probe table for "auto":
-- returns doc, the endpoint that served it, or nil, err. `get(endpoint)` ->
-- doc | nil, err sends it (with its retries); `memory` maps "group/name" to the
-- endpoint that last served it. `first_page`: `doc` is a listing's first page.
function probe.route(memory, group_id, name, endpoint, get, first_page)
  local function ask(where)
    local doc, err = get(where)
    if not doc then return nil, explain(where, name, err) end
    return doc
  end
  if endpoint == "auto" then return resolve(memory, key_of(group_id, name), ask, first_page) end
  local doc, err = ask(endpoint)
  if not doc then return nil, err end
  return doc, endpoint
end

return probe
