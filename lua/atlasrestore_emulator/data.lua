-- Restore jobs of the serverless and Flex instances (generated and
-- hand-written).  Other specs depend on these exact ids and counts; the
-- instances themselves are declared in projects.lua.
local json = require "atlasrestore_emulator.json"
local bit = require "bit"

local M = {}

local format, concat = string.format, table.concat
local obj, raw = json.obj, json.raw

M.GROUP_ID = "65a1b2c3d4e5f60718293a4b"

local function iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end
M.iso = iso

-- ISO 8601 UTC -> epoch seconds, independent of the process time zone.
local function epoch(s)
  local y, mo, d, h, mi, sec = s:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)Z$")
  y, mo = tonumber(y), tonumber(mo)
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (mo + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + tonumber(d) - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
end
M.epoch = epoch

local hash_cache = {}
local function hash(name)
  local h = hash_cache[name]
  if not h then
    h = bit.tohex(ngx.crc32_short(name), 8)
    hash_cache[name] = h
  end
  return h
end
M.hash = hash

-- Generated ids: crc32(name) as 8 hex digits, then the 1-based index as 16.
-- The Flex and snapshot id spaces hash a prefixed name so no id repeats.
function M.job_id(name, i)
  return hash(name) .. format("%016x", i)
end
function M.flex_job_id(name, i)
  return hash("flex:" .. name) .. format("%016x", i)
end
local function snapshot_id(name, i)
  return hash("snapshot:" .. name) .. format("%016x", math.floor((i + 2) / 3))
end

-- Generated jobs are listed newest first, ten minutes apart.
local NEWEST = 1767225600 -- 2026-01-01T00:00:00Z
M.NEWEST = NEWEST

-- The 1-based index of a generated id of `name` (made by `idfn`), or nil.
function M.index_of(idfn, name, id, total)
  local prefix = idfn(name, 0):sub(1, 8)
  if id:sub(1, 8) ~= prefix then return nil end
  local i = tonumber(id:sub(9), 16)
  if not i or i < 1 or i > total or idfn(name, i) ~= id then return nil end
  return i
end

local DELIVERY = { "automated", "download", "pointInTime" }

-- One generated serverless job as compact JSON, keys in Atlas order.
local function serverless_job(name, i, ctx)
  local id = M.job_id(name, i)
  local kind = DELIVERY[(i - 1) % 3 + 1]
  local t_snap = NEWEST - i * 600
  local t_fin = t_snap + 5400
  local failed = (i % 25 == 0)
  local out = { '{"cancelled":false,"deliveryType":"', kind, '"' }
  local n = #out
  local function add(s) n = n + 1; out[n] = s end
  if kind == "download" then
    add(format(',"deliveryUrl":["https://restore-%s.emulator.invalid:27017/backup/%s/restore-%s.tar.gz"]',
      id, name, id))
  end
  local t_pit = t_snap + 300
  local inc = i % 7 + 1
  if kind == "pointInTime" then
    add(format(',"desiredTimestamp":{"date":"%s","increment":%d}', iso(t_pit), inc))
  end
  add(format(',"expired":false,"expiresAt":"%s","failed":%s,"finishedAt":"%s","id":"%s"',
    iso(t_fin + 172800), failed and "true" or "false", iso(t_fin), id))
  add(format(',"links":[{"href":"%s/%s","rel":"self"}]', ctx.item_base, id))
  if kind == "pointInTime" then
    add(format(',"oplogInc":%d,"oplogTs":%d,"pointInTimeUTCSeconds":%d', inc, t_pit, t_pit))
  end
  add(format(',"snapshotId":"%s","targetClusterName":"%s","targetGroupId":"%s","timestamp":"%s"}',
    snapshot_id(name, i), kind == "download" and name or ("restore-target-" .. ((i - 1) % 5 + 1)),
    ctx.group or M.GROUP_ID, iso(t_snap)))
  return concat(out, "", 1, n)
end

-- One generated Flex job: COMPLETED, every 4th a DOWNLOAD, every 50th FAILED.
local function flex_job(name, i, group)
  local id = M.flex_job_id(name, i)
  local download = (i % 4 == 0)
  local t_snap = NEWEST - i * 600
  local t_sched = t_snap + 3600
  local t_fin = t_sched + 90
  local snap = hash("flexsnap:" .. name) .. format("%016x", math.floor((i + 3) / 4))
  local url = ""
  if download then
    url = format(',"snapshotUrl":"https://flex-backups.emulator.invalid/%s/%s/%s.tar.gz?X-Amz-Expires=21600"',
      group, name, snap)
  end
  return format('{"deliveryType":"%s","expirationDate":"%s","id":"%s","instanceName":"%s","projectId":"%s",' ..
    '"restoreFinishedDate":"%s","restoreScheduledDate":"%s","snapshotFinishedDate":"%s","snapshotId":"%s"%s,' ..
    '"status":"%s","targetDeploymentItemName":"%s","targetProjectId":"%s"}',
    download and "DOWNLOAD" or "RESTORE", iso(t_sched + 21600), id, name, group,
    iso(t_fin), iso(t_sched), iso(t_snap), snap, url,
    (i % 50 == 0) and "FAILED" or "COMPLETED", download and name or ("flex-target-" .. ((i - 1) % 3 + 1)),
    group)
end

-- The seven hand-written serverless jobs of `demo`, newest first.
local function demo_jobs(ctx)
  local g = M.GROUP_ID
  local function links(id)
    return { obj{ { "href", ctx.item_base .. "/" .. id }, { "rel", "self" } } }
  end
  return {
    -- running automated restore: no finishedAt yet, plus a field the schema lacks
    obj{
      { "cancelled", false }, { "createdAt", "2026-01-20T09:12:44Z" }, { "deliveryType", "automated" },
      { "expired", false }, { "expiresAt", "2026-01-22T09:12:44Z" }, { "failed", false },
      { "id", "6a7a1c0e5f1b2c3d4e5f6a01" }, { "links", links("6a7a1c0e5f1b2c3d4e5f6a01") },
      { "snapshotId", "6a79e2b05f1b2c3d4e5f5b01" }, { "targetClusterName", "restore-target-1" },
      { "targetGroupId", g }, { "timestamp", "2026-01-20T03:05:11Z" },
    },
    -- point-in-time restore whose pointInTimeUTCSeconds is written in exponent notation
    obj{
      { "cancelled", false }, { "deliveryType", "pointInTime" },
      { "desiredTimestamp", obj{ { "date", "2023-11-15T08:00:00Z" }, { "increment", 1 } } },
      { "expired", false }, { "expiresAt", "2023-11-17T08:41:09Z" }, { "failed", false },
      { "finishedAt", "2023-11-15T08:41:09Z" }, { "id", "6a7a1c0e5f1b2c3d4e5f6a02" },
      { "links", links("6a7a1c0e5f1b2c3d4e5f6a02") }, { "oplogInc", 1 }, { "oplogTs", 1700035200 },
      { "pointInTimeUTCSeconds", raw("1.7000352e+09") }, { "snapshotId", "6a79e2b05f1b2c3d4e5f5b02" },
      { "targetClusterName", "restore-target-2" }, { "targetGroupId", g },
      { "timestamp", "2023-11-15T03:04:58Z" },
    },
    -- completed download with two URLs
    obj{
      { "cancelled", false }, { "deliveryType", "download" },
      { "deliveryUrl", {
        "https://restore-6a7a1c0e5f1b2c3d4e5f6a03.emulator.invalid:27017/backup/demo/part-1.tar.gz",
        "https://restore-6a7a1c0e5f1b2c3d4e5f6a03.emulator.invalid:27017/backup/demo/part-2.tar.gz",
      } },
      { "expired", false }, { "expiresAt", "2026-01-19T14:30:00Z" }, { "failed", false },
      { "finishedAt", "2026-01-17T14:30:00Z" }, { "id", "6a7a1c0e5f1b2c3d4e5f6a03" },
      { "links", links("6a7a1c0e5f1b2c3d4e5f6a03") }, { "snapshotId", "6a79e2b05f1b2c3d4e5f5b03" },
      { "targetClusterName", "demo" }, { "targetGroupId", g }, { "timestamp", "2026-01-17T03:05:40Z" },
    },
    -- cancelled before it finished: finishedAt is present but null
    obj{
      { "cancelled", true }, { "deliveryType", "automated" }, { "expired", false },
      { "expiresAt", "2026-01-16T11:00:00Z" }, { "failed", false }, { "finishedAt", json.null },
      { "id", "6a7a1c0e5f1b2c3d4e5f6a04" }, { "links", links("6a7a1c0e5f1b2c3d4e5f6a04") },
      { "snapshotId", "6a79e2b05f1b2c3d4e5f5b04" }, { "targetClusterName", "restore-target-1" },
      { "targetGroupId", g }, { "timestamp", "2026-01-14T03:04:21Z" },
    },
    -- failed point-in-time restore
    obj{
      { "cancelled", false }, { "deliveryType", "pointInTime" },
      { "desiredTimestamp", obj{ { "date", "2026-01-12T18:30:00Z" }, { "increment", 3 } } },
      { "expired", false }, { "expiresAt", "2026-01-14T18:52:17Z" }, { "failed", true },
      { "finishedAt", "2026-01-12T18:52:17Z" }, { "id", "6a7a1c0e5f1b2c3d4e5f6a05" },
      { "links", links("6a7a1c0e5f1b2c3d4e5f6a05") }, { "oplogInc", 3 }, { "oplogTs", 1768242600 },
      { "pointInTimeUTCSeconds", 1768242600 }, { "snapshotId", "6a79e2b05f1b2c3d4e5f5b05" },
      { "targetClusterName", "restore-target-3" }, { "targetGroupId", g },
      { "timestamp", "2026-01-12T03:05:02Z" },
    },
    -- expired download with one URL
    obj{
      { "cancelled", false }, { "deliveryType", "download" },
      { "deliveryUrl", {
        "https://restore-6a7a1c0e5f1b2c3d4e5f6a06.emulator.invalid:27017/backup/demo/snapshot.tar.gz",
      } },
      { "expired", true }, { "expiresAt", "2026-01-10T07:15:00Z" }, { "failed", false },
      { "finishedAt", "2026-01-08T07:15:00Z" }, { "id", "6a7a1c0e5f1b2c3d4e5f6a06" },
      { "links", links("6a7a1c0e5f1b2c3d4e5f6a06") }, { "snapshotId", "6a79e2b05f1b2c3d4e5f5b06" },
      { "targetClusterName", "demo" }, { "targetGroupId", g }, { "timestamp", "2026-01-08T03:04:47Z" },
    },
    -- completed automated restore into another cluster
    obj{
      { "cancelled", false }, { "deliveryType", "automated" }, { "expired", false },
      { "expiresAt", "2026-01-07T10:02:31Z" }, { "failed", false }, { "finishedAt", "2026-01-05T10:02:31Z" },
      { "id", "6a7a1c0e5f1b2c3d4e5f6a07" }, { "links", links("6a7a1c0e5f1b2c3d4e5f6a07") },
      { "snapshotId", "6a79e2b05f1b2c3d4e5f5b07" }, { "targetClusterName", "restore-target-2" },
      { "targetGroupId", g }, { "timestamp", "2026-01-05T03:05:33Z" },
    },
  }
end

-- The eight hand-written Flex jobs of `flex-demo`: every status, both delivery types.
local function flex_demo_jobs()
  local g = M.GROUP_ID
  local other = "65a1b2c3d4e5f60718293a4c"
  local function job(id, delivery, status, sched, fin, snap_fin, snap_id, target, target_project)
    local url
    if delivery == "DOWNLOAD" then
      url = "https://flex-backups.emulator.invalid/" .. g .. "/flex-demo/" .. snap_id .. ".tar.gz?X-Amz-Expires=21600"
    end
    local fields = {
      { "deliveryType", delivery }, { "expirationDate", iso(epoch(sched) + 21600) },
      { "id", id }, { "instanceName", "flex-demo" }, { "projectId", g },
    }
    if fin then fields[#fields + 1] = { "restoreFinishedDate", fin } end
    fields[#fields + 1] = { "restoreScheduledDate", sched }
    fields[#fields + 1] = { "snapshotFinishedDate", snap_fin }
    fields[#fields + 1] = { "snapshotId", snap_id }
    if url then fields[#fields + 1] = { "snapshotUrl", url } end
    fields[#fields + 1] = { "status", status }
    fields[#fields + 1] = { "targetDeploymentItemName", target }
    fields[#fields + 1] = { "targetProjectId", target_project or g }
    return obj(fields)
  end
  return {
    job("6a7b0d1e2c88faeba59c0001", "RESTORE", "PENDING", "2026-01-20T10:04:50Z", nil,
      "2026-01-20T03:06:56Z", "6a7b0c112c88faeba59b0001", "flex-target-1"),
    job("6a7b0d1e2c88faeba59c0002", "DOWNLOAD", "QUEUED", "2026-01-20T09:58:12Z", nil,
      "2026-01-20T03:06:56Z", "6a7b0c112c88faeba59b0001", "flex-demo"),
    job("6a7b0d1e2c88faeba59c0003", "RESTORE", "RUNNING", "2026-01-20T09:40:03Z", nil,
      "2026-01-19T03:07:01Z", "6a7b0c112c88faeba59b0002", "flex-target-2"),
    job("6a7b0d1e2c88faeba59c0004", "DOWNLOAD", "RUNNING", "2026-01-20T09:31:47Z", nil,
      "2026-01-19T03:07:01Z", "6a7b0c112c88faeba59b0002", "flex-demo"),
    job("6a7b0d1e2c88faeba59c0005", "RESTORE", "FAILED", "2026-01-18T16:20:00Z", "2026-01-18T16:23:41Z",
      "2026-01-18T03:06:49Z", "6a7b0c112c88faeba59b0003", "flex-target-1"),
    job("6a7b0d1e2c88faeba59c0006", "RESTORE", "COMPLETED", "2026-01-17T12:03:29Z", "2026-01-17T12:04:32Z",
      "2026-01-17T03:06:56Z", "6a7b0c112c88faeba59b0004", "flex-target-3"),
    job("6a7b0d1e2c88faeba59c0007", "DOWNLOAD", "COMPLETED", "2026-01-16T08:49:52Z", "2026-01-16T08:50:56Z",
      "2026-01-16T03:07:17Z", "6a7b0c112c88faeba59b0005", "flex-demo"),
    job("6a7b0d1e2c88faeba59c0008", "RESTORE", "COMPLETED", "2026-01-15T10:59:12Z", "2026-01-15T11:00:38Z",
      "2026-01-15T03:06:53Z", "6a7b0c112c88faeba59b0006", "flex-target-2", other),
  }
end

local function slice(list, first, last)
  local out = {}
  for i = first, math.min(last, #list) do
    out[#out + 1] = json.encode(list[i])
  end
  return out
end

-- Returns total, has_next, { job JSON text, ... } for page `pn` of `ipp`.
-- ctx.item_base is the href prefix of an item's self link.
function M.serverless_page(name, inst, pn, ipp, ctx)
  local first, last = (pn - 1) * ipp + 1, pn * ipp
  if inst.same then
    local out = {}
    for i = 1, ipp do out[i] = serverless_job(name, i, ctx) end
    return inst.total, true, out
  end
  if inst.demo then
    local jobs = demo_jobs(ctx)
    return #jobs, last < #jobs, slice(jobs, first, last)
  end
  local total = inst.count
  local out = {}
  for i = first, math.min(last, total) do
    out[#out + 1] = serverless_job(name, i, ctx)
    if inst.no_ids then out[#out] = out[#out]:gsub('"id":"%x+",?', "") end
  end
  return total, last < total, out
end

-- The sandbox's first job carries a field Atlas does not send, whose value holds a
-- comma, quotes, CR and LF: what output formats must quote (atlasrestore's CSV).
-- Its value: Restore "before the upgrade", then check<CR><LF>line two
local function flex_job_of(name, i, group, inst)
  local job = flex_job(name, i, group)
  if inst.note and i == 1 then
    job = job:sub(1, -2) .. ',"note":"Restore \\"before the upgrade\\", then check\\r\\nline two"}'
  end
  return job
end

function M.flex_page(name, inst, pn, ipp, ctx)
  local first, last = (pn - 1) * ipp + 1, pn * ipp
  if inst.demo then
    local jobs = flex_demo_jobs()
    return #jobs, last < #jobs, slice(jobs, first, last)
  end
  local total = inst.count
  local out = {}
  local group = ctx and ctx.group or M.GROUP_ID
  for i = first, math.min(last, total) do
    out[#out + 1] = flex_job_of(name, i, group, inst)
  end
  return total, last < total, out
end

-- One job by id as JSON text, or nil.  A job of no-ids cannot be named.
function M.serverless_job(name, inst, id, ctx)
  if inst.demo then
    for _, job in ipairs(demo_jobs(ctx)) do
      for _, p in ipairs(job) do
        if p[1] == "id" and p[2] == id then return json.encode(job) end
      end
    end
    return nil
  end
  if inst.no_ids then return nil end
  local i = M.index_of(M.job_id, name, id, inst.same and inst.total or inst.count)
  return i and serverless_job(name, i, ctx)
end

function M.flex_job(name, inst, id, ctx)
  if inst.demo then
    for _, job in ipairs(flex_demo_jobs()) do
      for _, p in ipairs(job) do
        if p[1] == "id" and p[2] == id then return json.encode(job) end
      end
    end
    return nil
  end
  local i = M.index_of(M.flex_job_id, name, id, inst.count)
  return i and flex_job_of(name, i, ctx and ctx.group or M.GROUP_ID, inst)
end

return M
