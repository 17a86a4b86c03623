-- Restore jobs that reach a final state after a number of GETs of the job.
--
-- Each source has four, with fixed ids.  A job answers its running state to
-- its first `job_polls` GETs (config, default 3) and its final state from
-- then on: GET k is final when k > job_polls, so job_polls = 0 means final at
-- once.  Only GETs of the job itself count (a faulted 429/503 does not); a
-- listing shows the current state without counting.  reset() starts over.
--
--   outcome     serverless / dedicated (booleans)            Flex (status)
--   completes   running -> finishedAt set                    RUNNING -> COMPLETED
--   fails       running -> failed, finishedAt                RUNNING -> FAILED
--   cancelled   running -> cancelled, finishedAt             PENDING -> FAILED (Flex has no cancelled)
--   expired     download, running -> expired, finishedAt,    DOWNLOAD, QUEUED -> COMPLETED with an
--               deliveryUrl                                  expirationDate in the past (no expired)
--
-- "running" for serverless/dedicated = cancelled, failed and expired false and
-- no finishedAt.  The Flex mappings of cancelled and expired are guesses.
local json = require "atlasrestore_emulator.json"
local state = require "atlasrestore_emulator.state"
local data = require "atlasrestore_emulator.data"
local dedicated = require "atlasrestore_emulator.dedicated"

local M = {}

local obj, iso, epoch = json.obj, data.iso, data.epoch

local OUTCOMES = { "completes", "fails", "cancelled", "expired" }

M.IDS = require("atlasrestore_emulator.ids").polling

local BY_ID = {}
for kind, ids in pairs(M.IDS) do
  for outcome, id in pairs(ids) do BY_ID[id] = { kind = kind, outcome = outcome } end
end

local SNAP_BASE = epoch("2026-11-28T03:05:00Z")

-- Times of the k-th job: snapshot, restore start, finish.
local function times(k)
  local snap = SNAP_BASE - (k - 1) * 3600
  local start = snap + 7200
  return snap, start, start + 1500
end

local function polls(id)
  return state.get("polls:" .. id) or 0
end

-- Final once more than job_polls GETs have been served (at once with 0).
local function is_final(cfg, counted)
  local n = cfg.job_polls or 3
  return n == 0 or counted > n
end

local function snapshot_of(kind, k)
  return data.hash("pollsnap:" .. kind) .. string.format("%016x", k)
end

local function serverless_job(k, outcome, final, ctx)
  local id = M.IDS.serverless[outcome]
  local snap, _, fin = times(k)
  local download = outcome == "expired"
  local f = {
    { "cancelled", final and outcome == "cancelled" }, { "deliveryType", download and "download" or "automated" },
  }
  if download and final then
    f[#f + 1] = { "deliveryUrl", { "https://restore-" .. id .. ".emulator.invalid:27017/backup/" .. ctx.name ..
      "/restore.tar.gz" } }
  end
  f[#f + 1] = { "expired", final and download }
  f[#f + 1] = { "expiresAt", download and iso(fin + 3600) or iso(fin + 60 * 86400) }
  f[#f + 1] = { "failed", final and outcome == "fails" }
  if final then f[#f + 1] = { "finishedAt", iso(fin) } end
  f[#f + 1] = { "id", id }
  f[#f + 1] = { "links", { obj{ { "href", ctx.item_base .. "/" .. id }, { "rel", "self" } } } }
  f[#f + 1] = { "snapshotId", snapshot_of("serverless", k) }
  f[#f + 1] = { "targetClusterName", download and ctx.name or "restore-target-" .. k }
  f[#f + 1] = { "targetGroupId", ctx.group }
  f[#f + 1] = { "timestamp", iso(snap) }
  return json.encode(obj(f))
end

local FLEX_STATES = {
  completes = { "RESTORE", "RUNNING", "COMPLETED" },
  fails = { "RESTORE", "RUNNING", "FAILED" },
  cancelled = { "RESTORE", "PENDING", "FAILED" },
  expired = { "DOWNLOAD", "QUEUED", "COMPLETED" },
}

local function flex_job(k, outcome, final, ctx)
  local id = M.IDS.flex[outcome]
  local snap, start, fin = times(k)
  local delivery, running, done = FLEX_STATES[outcome][1], FLEX_STATES[outcome][2], FLEX_STATES[outcome][3]
  local snap_id = snapshot_of("flex", k)
  -- The expired one's link has run out (past); the others expire in six hours, as recorded.
  local expiry = outcome == "expired" and fin + 60 or start + 21600
  local f = {
    { "deliveryType", delivery }, { "expirationDate", iso(expiry) }, { "id", id },
    { "instanceName", ctx.name }, { "projectId", ctx.group },
  }
  if final then f[#f + 1] = { "restoreFinishedDate", iso(fin) } end
  f[#f + 1] = { "restoreScheduledDate", iso(start) }
  f[#f + 1] = { "snapshotFinishedDate", iso(snap) }
  f[#f + 1] = { "snapshotId", snap_id }
  if delivery == "DOWNLOAD" then
    f[#f + 1] = { "snapshotUrl", "https://flex-backups.emulator.invalid/" .. ctx.group .. "/" .. ctx.name .. "/" ..
      snap_id .. ".tar.gz?X-Amz-Expires=21600" }
  end
  f[#f + 1] = { "status", final and done or running }
  f[#f + 1] = { "targetDeploymentItemName", delivery == "DOWNLOAD" and ctx.name or "flex-target-" .. k }
  f[#f + 1] = { "targetProjectId", ctx.group }
  return json.encode(obj(f))
end

local function dedicated_job(k, outcome, final, ctx)
  local id = M.IDS.dedicated[outcome]
  local snap, _, fin = times(k)
  local download = outcome == "expired"
  local snap_id = snapshot_of("dedicated", k)
  local target = download and ctx.name or "restore-target-" .. k
  local f = { { "cancelled", final and outcome == "cancelled" } }
  if ctx.shards then f[#f + 1] = { "components", json.raw(dedicated.components(ctx, id, download and final)) } end
  f[#f + 1] = { "deliveryType", download and "download" or "automated" }
  local urls = {}
  if download and final then
    urls[1] = "https://restore-" .. id .. ".emulator.invalid:27017/backup/" .. ctx.name .. "/restore.tar.gz"
  end
  f[#f + 1] = { "deliveryUrl", urls }
  f[#f + 1] = { "desiredTimestamp", json.raw('{"increment":null,"time":null,"date":null}') }
  f[#f + 1] = { "expired", final and download }
  if download then f[#f + 1] = { "expiresAt", iso(fin + 3600) } end
  f[#f + 1] = { "failed", final and outcome == "fails" }
  if final then f[#f + 1] = { "finishedAt", iso(fin) } end
  f[#f + 1] = { "id", id }
  f[#f + 1] = { "links", json.raw(dedicated.links(ctx, id, snap_id)) }
  f[#f + 1] = { "snapshotId", snap_id }
  f[#f + 1] = { "targetClusterName", target }
  f[#f + 1] = { "targetDeploymentItemName", dedicated.item_name(target) }
  f[#f + 1] = { "targetGroupId", ctx.group }
  f[#f + 1] = { "timestamp", iso(snap) }
  return json.encode(obj(f))
end

local BUILD = { serverless = serverless_job, flex = flex_job, dedicated = dedicated_job }

-- The four jobs of `kind` as JSON texts, in their current state (a listing: no count).
function M.jobs(kind, ctx, cfg)
  local out = {}
  for k, outcome in ipairs(OUTCOMES) do
    local id = M.IDS[kind][outcome]
    out[k] = BUILD[kind](k, outcome, is_final(cfg, polls(id)), ctx)
  end
  return out
end

-- One job of `kind` by id, counting this GET; nil when the id is not one of them.
function M.get(kind, id, ctx, cfg)
  local def = BY_ID[id]
  if not def or def.kind ~= kind then return nil end
  local n = state.incr("polls:" .. id)
  local k
  for i, o in ipairs(OUTCOMES) do if o == def.outcome then k = i end end
  return BUILD[kind](k, def.outcome, is_final(cfg, n), ctx)
end

return M
