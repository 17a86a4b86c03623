-- Emulator state kept in ngx.shared dicts: configuration, counters and the
-- request log.  Everything here is forgotten by reset().
local cjson = require "cjson.safe"
local json = require "atlasrestore_emulator.json"

local M = {}

local state = ngx.shared.emu_state
local logd = ngx.shared.emu_log

-- The log keeps the newest LOG_MAX entries; counters keep counting past it.
local LOG_MAX = 20000

M.FAULT_KINDS = {
  ["429"] = true, ["429_body_only"] = true, ["503"] = true, truncated = true,
  malformed = true, close = true, stall = true, trickle = true,
}

local function defaults()
  return {
    nonce_ttl = 300,
    token_ttl = 3600,
    deprecation_headers = true,
    stall_seconds = 30,
    -- 0 or absent = no limit; Atlas itself caps a service account at 100.
    max_tokens = 0,
    -- Serverless instances migrated while the emulator runs: their serverless
    -- side answers an empty list and their Flex side has 5 jobs.
    migrated = {},
    -- Refuses every Bearer token, as an IP access list refuses a service account.
    refuse_bearer = false,
    -- RFC 7616 lets nc values arrive in any order; true = each one must be
    -- above the last seen for the nonce (the emulator's old rule).
    digest_nc_strict = false,
    -- GETs of a polling job answered in its running state (polling.lua).
    job_polls = 3,
    -- Fixed delays (seconds): every API request, plus the first request of
    -- each connection.
    latency = { request = 0, connection = 0 },
    -- false = RateLimit-* headers only; an object = a token bucket per
    -- project that answers 429 when empty.
    rate_limit = false,
    -- "ok", or "404" / "410": GET /groups/{g}/serverless after the sunset.
    serverless_list = "ok",
    -- false, or a number of jobs: the first project gets a Flex cluster `sandbox`
    -- with that many generated jobs (`atlasrestore emulator --jobs`).
    sandbox_jobs = false,
    -- false, or { projects = n, instances = m, jobs = j }: n more projects in the
    -- fleet organisation, each with m Flex clusters of j generated jobs (make bench).
    fleet = false,
    faults = {
      seed = 0,
      rate = 0,
      kinds = { "429", "503" },
      retry_after = 1,
      script = {},
    },
  }
end
M.defaults = defaults

local function is_array(t)
  if type(t) ~= "table" then return false end
  if next(t) == nil then return true end
  return t[1] ~= nil
end

-- JSON merge: objects merge recursively, arrays and scalars replace, null
-- restores the default.
local function merge(dst, src, dflt)
  for k, v in pairs(src) do
    if v == cjson.null then
      dst[k] = dflt and dflt[k]
    elseif type(v) == "table" and not is_array(v) and type(dst[k]) == "table" and not is_array(dst[k]) then
      merge(dst[k], v, dflt and dflt[k])
    else
      dst[k] = v
    end
  end
end

-- Rejects values the handlers could not use, so a typo fails at config time.
local function validate(cfg)
  local function num(name, v, lo, hi)
    if type(v) ~= "number" or v ~= v or v < lo or (hi and v > hi) then
      return nil, name .. " must be a number in [" .. lo .. ", " .. (hi or "inf") .. "]"
    end
    return true
  end
  local ok, err = num("nonce_ttl", cfg.nonce_ttl, 0)
  if ok then ok, err = num("token_ttl", cfg.token_ttl, 0) end
  if ok then ok, err = num("stall_seconds", cfg.stall_seconds, 0, 3600) end
  if ok then ok, err = num("max_tokens", cfg.max_tokens or 0, 0) end
  if not ok then return nil, err end
  if type(cfg.deprecation_headers) ~= "boolean" then
    return nil, "deprecation_headers must be a boolean"
  end
  if type(cfg.refuse_bearer) ~= "boolean" then return nil, "refuse_bearer must be a boolean" end
  if type(cfg.digest_nc_strict) ~= "boolean" then return nil, "digest_nc_strict must be a boolean" end
  ok, err = num("job_polls", cfg.job_polls, 0, 1000000)
  if ok and cfg.job_polls ~= math.floor(cfg.job_polls) then ok, err = nil, "job_polls must be an integer" end
  if not ok then return nil, err end
  local lat = cfg.latency
  if type(lat) ~= "table" or is_array(lat) then return nil, "latency must be an object" end
  ok, err = num("latency.request", lat.request, 0, 60)
  if ok then ok, err = num("latency.connection", lat.connection, 0, 60) end
  if not ok then return nil, err end
  local rl = cfg.rate_limit
  if rl ~= false then
    if type(rl) ~= "table" or is_array(rl) then return nil, "rate_limit must be false or an object" end
    ok, err = num("rate_limit.capacity", rl.capacity, 1, 1e9)
    if ok then ok, err = num("rate_limit.refill", rl.refill, 1, 1e9) end
    if ok then ok, err = num("rate_limit.per", rl.per, 0.001, 86400) end
    if not ok then return nil, err end
  end
  local sl = tostring(cfg.serverless_list)
  if sl ~= "ok" and sl ~= "404" and sl ~= "410" then
    return nil, 'serverless_list must be "ok", "404" or "410"'
  end
  if not is_array(cfg.migrated) then return nil, "migrated must be an array of names" end
  if cfg.sandbox_jobs ~= false then
    ok, err = num("sandbox_jobs", cfg.sandbox_jobs, 0, 1000000)
    if ok and cfg.sandbox_jobs ~= math.floor(cfg.sandbox_jobs) then ok, err = nil, "sandbox_jobs must be an integer" end
    if not ok then return nil, err end
  end
  local fl = cfg.fleet
  if fl ~= false then
    if type(fl) ~= "table" or is_array(fl) then return nil, "fleet must be false or an object" end
    for _, key in ipairs { "projects", "instances", "jobs" } do
      ok, err = num("fleet." .. key, fl[key], key == "jobs" and 0 or 1, 100000)
      if ok and fl[key] ~= math.floor(fl[key]) then ok, err = nil, "fleet." .. key .. " must be an integer" end
      if not ok then return nil, err end
    end
  end
  local f = cfg.faults
  if type(f) ~= "table" then return nil, "faults must be an object" end
  ok, err = num("faults.seed", f.seed, -2^31, 2^31)
  if ok then ok, err = num("faults.rate", f.rate, 0, 1) end
  if ok then ok, err = num("faults.retry_after", f.retry_after, 0, 86400) end
  if not ok then return nil, err end
  if not is_array(f.kinds) then return nil, "faults.kinds must be an array" end
  for _, k in ipairs(f.kinds) do
    if not M.FAULT_KINDS[k] then return nil, "unknown fault kind " .. tostring(k) end
  end
  if f.rate > 0 and #f.kinds == 0 then return nil, "faults.rate > 0 needs faults.kinds" end
  if not is_array(f.script) then return nil, "faults.script must be an array" end
  for _, k in ipairs(f.script) do
    if k ~= "ok" and not M.FAULT_KINDS[k] then return nil, "unknown fault kind in script: " .. tostring(k) end
  end
  return true
end

local cached_text, cached_cfg

function M.config()
  local text = state:get("config")
  if not text then
    text = json.encode(defaults())
    state:set("config", text)
  end
  if text ~= cached_text then
    cached_cfg = cjson.decode(text)
    cached_text = text
  end
  return cached_cfg
end

function M.config_text()
  M.config()
  return cached_text
end

-- Returns the new config, or nil and a message.
function M.update_config(patch)
  if type(patch) ~= "table" or is_array(patch) and next(patch) ~= nil then
    return nil, "config must be a JSON object"
  end
  local cfg = cjson.decode(M.config_text())
  merge(cfg, patch, defaults())
  -- A bucket given in part takes Atlas's documented figures for the rest.
  if type(cfg.rate_limit) == "table" and not is_array(cfg.rate_limit) then
    local rl = cfg.rate_limit
    rl.capacity, rl.refill, rl.per = rl.capacity or 1200, rl.refill or 500, rl.per or 60
  end
  if type(cfg.latency) == "table" and not is_array(cfg.latency) then
    cfg.latency.request, cfg.latency.connection = cfg.latency.request or 0, cfg.latency.connection or 0
  end
  local ok, err = validate(cfg)
  if not ok then return nil, err end
  state:set("config", json.encode(cfg))
  if patch.faults ~= nil then
    -- A new fault plan starts its script and PRNG sequence from the beginning.
    state:set("script_pos", 0)
    state:set("fault_index", 0)
  end
  -- New bucket figures start full.
  if patch.rate_limit ~= nil then state:incr("rl_epoch", 1, 0) end
  return cfg
end

function M.incr(name, by)
  return state:incr(name, by or 1, 0)
end

function M.get(name)
  return state:get(name)
end

function M.set(name, value, ttl)
  return state:set(name, value, ttl)
end

function M.append_log(entry)
  local n = logd:incr("n", 1, 0)
  logd:set(n, json.encode(entry))
  if n > LOG_MAX then logd:delete(n - LOG_MAX) end
end

-- Returns the stats document as JSON text; log entries are stored encoded
-- and are spliced in as they are.
--- `extra`: counters kept elsewhere (the live tokens, from auth.lua).
function M.stats_json(extra)
  local entries = {}
  local n = logd:get("n") or 0
  for i = math.max(1, n - LOG_MAX + 1), n do
    local e = logd:get(i)
    if e then entries[#entries + 1] = e end
  end
  local trap_log = {}
  for i = 1, state:get("trap") or 0 do
    local uri = state:get("trap_uri:" .. i)
    if uri then trap_log[#trap_log + 1] = uri end
  end
  local counters = {
    requests = state:get("requests") or 0,
    challenges = state:get("challenges") or 0,
    tokens = state:get("tokens") or 0,
    revokes = state:get("revokes") or 0,
    trap = state:get("trap") or 0,
    faults = state:get("faults") or 0,
    list_requests = state:get("list_requests") or 0,
    job_requests = state:get("job_requests") or 0,
    instance_list_requests = state:get("instance_list_requests") or 0,
    project_list_requests = state:get("project_list_requests") or 0,
    rate_limited = state:get("rate_limited") or 0,
    connections = state:get("connections") or 0,
    in_flight = state:get("in_flight") or 0,
    max_in_flight = state:get("max_in_flight") or 0,
    trap_log = trap_log,
  }
  for k, v in pairs(extra or {}) do counters[k] = v end
  local head = json.encode(counters)
  return head:sub(1, -2) .. ',"log":[' .. table.concat(entries, ",") .. "]}"
end

function M.reset()
  -- Requests still being served decrement in_flight when they end.
  local in_flight = state:get("in_flight") or 0
  state:flush_all()
  logd:flush_all()
  ngx.shared.emu_nonces:flush_all()
  ngx.shared.emu_tokens:flush_all()
  ngx.shared.emu_conns:flush_all()
  -- flush_all only marks entries expired; free the memory too.
  state:flush_expired()
  logd:flush_expired()
  ngx.shared.emu_nonces:flush_expired()
  ngx.shared.emu_tokens:flush_expired()
  ngx.shared.emu_conns:flush_expired()
  if in_flight > 0 then state:set("in_flight", in_flight) end
  M.config()
end

return M
