-- Restore jobs of dedicated clusters (cloud backup), in the recorded
-- DiskBackupSnapshotRestoreJob shape (spec/fixtures/dedicated_restore_jobs_list_200.json):
-- alphabetical keys, `deliveryUrl: []` when there is none, `desiredTimestamp`
-- with null members on jobs that are not point-in-time (its members in the
-- recorded order increment, time, date), `targetDeploymentItemName`, and four
-- links (self, snapshot, cluster, group).  On a sharded cluster each job also
-- has `components`, one per replica set (shards, then the config server):
-- not recorded, modelled on the schema.
local data = require "atlasrestore_emulator.data"

local M = {}

local format, concat, floor = string.format, table.concat, math.floor
local iso, hash = data.iso, data.hash

local NULL_TIMESTAMP = '{"increment":null,"time":null,"date":null}'

function M.job_id(name, i)
  return hash("dedicated:" .. name) .. format("%016x", i)
end

local function snapshot_id(name, i)
  return hash("dedsnap:" .. name) .. format("%016x", floor((i + 2) / 3))
end

-- "atlas-" and six characters, as Atlas names a deployment item.
local function item_name(target)
  local h = hash("item:" .. target)
  local out = {}
  for k = 1, 6 do
    local n = tonumber(h:sub(k, k), 16) + (k * 7) % 20
    out[k] = ("abcdefghijklmnopqrstuvwxyz0123456789"):sub(n + 1, n + 1)
  end
  return "atlas-" .. concat(out)
end
M.item_name = item_name

-- The replica sets of a sharded cluster: its shards, then the config server.
function M.replica_sets(name, shards)
  local tag = hash("rs:" .. name):sub(1, 6)
  local out = {}
  for s = 0, shards - 1 do out[#out + 1] = format("atlas-%s-shard-%d", tag, s) end
  out[#out + 1] = format("atlas-%s-config-0", tag)
  return out
end

-- The four links of a job.  ctx: base (scheme://host:port), version, group, name.
function M.links(ctx, id, snap)
  local group_href = format("%s/api/atlas/%s/groups/%s", ctx.base, ctx.version, ctx.group)
  local cluster_href = group_href .. "/clusters/" .. ctx.name
  return format('[{"href":"%s/backup/restoreJobs/%s","rel":"self"},' ..
    '{"href":"%s/backup/snapshots/%s","rel":"https://cloud.mongodb.com/snapshot"},' ..
    '{"href":"%s","rel":"https://cloud.mongodb.com/cluster"},' ..
    '{"href":"%s","rel":"https://cloud.mongodb.com/group"}]',
    cluster_href, id, cluster_href, snap, cluster_href, group_href)
end

-- `components` of a sharded cluster's job: a downloadUrl per replica set on
-- a download job.
function M.components(ctx, id, download)
  local parts = {}
  for k, rs in ipairs(M.replica_sets(ctx.name, ctx.shards)) do
    local url = ""
    if download then
      url = format('"downloadUrl":"https://restore-%s.emulator.invalid:27017/backup/%s/%s.tar.gz",', id, ctx.name, rs)
    end
    parts[k] = format('{%s"privateDownloadDeliveryUrls":[],"replicaSetName":"%s"}', url, rs)
  end
  return "[" .. concat(parts, ",") .. "]"
end

local DELIVERY = { "automated", "download", "pointInTime" }

-- One generated job as compact JSON.  Newest first, ten minutes apart; every
-- 25th failed, every 35th cancelled, downloads older than the 30th expired.
local function job(name, i, ctx)
  local id = M.job_id(name, i)
  local kind = DELIVERY[(i - 1) % 3 + 1]
  local download = kind == "download"
  local t_snap = data.NEWEST - i * 600
  local t_fin = t_snap + 2700
  local cancelled = (i % 35 == 0)
  local failed = (i % 25 == 0) and not cancelled
  local expired = download and i > 30
  local snap = snapshot_id(name, i)
  local target = download and name or ("restore-target-" .. ((i - 1) % 5 + 1))
  local out = { '{"cancelled":', cancelled and "true" or "false" }
  local n = #out
  local function add(s) n = n + 1; out[n] = s end
  if ctx.shards then add(',"components":' .. M.components(ctx, id, download)) end
  add(format(',"deliveryType":"%s"', kind))
  if download then
    if ctx.shards then
      local urls = {}
      for k, rs in ipairs(M.replica_sets(name, ctx.shards)) do
        urls[k] = format('"https://restore-%s.emulator.invalid:27017/backup/%s/%s.tar.gz"', id, name, rs)
      end
      add(',"deliveryUrl":[' .. concat(urls, ",") .. "]")
    else
      add(format(',"deliveryUrl":["https://restore-%s.emulator.invalid:27017/backup/%s/restore-%s.tar.gz"]',
        id, name, id))
    end
  else
    add(',"deliveryUrl":[]')
  end
  local t_pit = t_snap + 300
  local inc = i % 7 + 1
  if kind == "pointInTime" then
    add(format(',"desiredTimestamp":{"increment":%d,"time":%d,"date":"%s"}', inc, t_pit, iso(t_pit)))
  else
    add(',"desiredTimestamp":' .. NULL_TIMESTAMP)
  end
  add(format(',"expired":%s', expired and "true" or "false"))
  if download then add(format(',"expiresAt":"%s"', iso(t_fin + 172800))) end
  add(format(',"failed":%s,"finishedAt":"%s","id":"%s","links":%s', failed and "true" or "false",
    iso(t_fin), id, M.links(ctx, id, snap)))
  if kind == "pointInTime" then
    add(format(',"oplogInc":%d,"oplogTs":%d,"pointInTimeUTCSeconds":%d', inc, t_pit, t_pit))
  end
  add(format(',"snapshotId":"%s","targetClusterName":"%s","targetDeploymentItemName":"%s",' ..
    '"targetGroupId":"%s","timestamp":"%s"}', snap, target, item_name(target), ctx.group, iso(t_snap)))
  return concat(out, "", 1, n)
end

-- Returns total, has_next, { job JSON text, ... } for page `pn` of `ipp`.
function M.page(inst, pn, ipp, ctx)
  local first, last = (pn - 1) * ipp + 1, pn * ipp
  local total = inst.count or 0
  local out = {}
  for i = first, math.min(last, total) do out[#out + 1] = job(ctx.name, i, ctx) end
  return total, last < total, out
end

-- The three hand-written jobs of dedicated-0, modelled on the recorded one:
-- an automated restore, a download and a point-in-time restore, all complete.
local FIXED = {
  { id = "6a7c1e5f2c88faeba59d0311", kind = "automated", snap = "2026-11-20T03:35:05Z",
    fin = "2026-11-20T03:40:10Z", snapshot = "6a7c1e5f2c88faeba59e0311" },
  { id = "6a7c1e5f2c88faeba59d0312", kind = "download", snap = "2026-11-18T03:35:12Z",
    fin = "2026-11-18T04:02:47Z", snapshot = "6a7c1e5f2c88faeba59e0312" },
  { id = "6a7c1e5f2c88faeba59d0313", kind = "pointInTime", snap = "2026-11-15T03:34:58Z",
    fin = "2026-11-15T05:12:31Z", snapshot = "6a7c1e5f2c88faeba59e0313", pit = "2026-11-15T04:30:00Z" },
}
M.FIXED_IDS = { FIXED[1].id, FIXED[2].id, FIXED[3].id }

local function fixed_job(j, ctx)
  local download = j.kind == "download"
  local target = download and ctx.name or "restore-target-1"
  local out = { format('{"cancelled":false,"deliveryType":"%s"', j.kind) }
  if download then
    out[#out + 1] = format(',"deliveryUrl":["https://restore-%s.emulator.invalid:27017/backup/%s/snapshot.tar.gz"]',
      j.id, ctx.name)
  else
    out[#out + 1] = ',"deliveryUrl":[]'
  end
  local pit = j.pit and data.epoch(j.pit)
  if pit then
    out[#out + 1] = format(',"desiredTimestamp":{"increment":1,"time":%d,"date":"%s"}', pit, j.pit)
  else
    out[#out + 1] = ',"desiredTimestamp":' .. NULL_TIMESTAMP
  end
  out[#out + 1] = ',"expired":false'
  if download then out[#out + 1] = format(',"expiresAt":"%s"', iso(data.epoch(j.fin) + 172800)) end
  out[#out + 1] = format(',"failed":false,"finishedAt":"%s","id":"%s","links":%s', j.fin, j.id,
    M.links(ctx, j.id, j.snapshot))
  if pit then
    out[#out + 1] = format(',"oplogInc":1,"oplogTs":%d,"pointInTimeUTCSeconds":%d', pit, pit)
  end
  out[#out + 1] = format(',"snapshotId":"%s","targetClusterName":"%s","targetDeploymentItemName":"%s",' ..
    '"targetGroupId":"%s","timestamp":"%s"}', j.snapshot, target, item_name(target), ctx.group, j.snap)
  return concat(out)
end

function M.fixed_jobs(ctx)
  local out = {}
  for k, j in ipairs(FIXED) do out[k] = fixed_job(j, ctx) end
  return out
end

function M.fixed_job(id, ctx)
  for _, j in ipairs(FIXED) do
    if j.id == id then return fixed_job(j, ctx) end
  end
  return nil
end

function M.find(inst, id, ctx)
  local i = data.index_of(M.job_id, ctx.name, id, inst.count or 0)
  return i and job(ctx.name, i, ctx)
end

return M
