-- The emulated projects and their instances, and the records of the
-- instance lists (GET /groups/{g}/serverless, /flexClusters, /clusters).
-- Other specs depend on these exact names, ids and counts.
--
-- An instance has up to three sides, one per API:
--   serverless  the serverless restore-job endpoint answers it (`count`
--               generated jobs, or `demo`, `same`, `hostile`, `no_ids`,
--               `polling`; `gone` = 410); listed by GET /serverless
--   flex        the Flex endpoint answers it (`count`, `demo`, `polling`);
--               listed by GET /flexClusters
--   cluster     a dedicated or free cluster: the cluster restore-job endpoint
--               answers it (`count`, `shards`, `fixed`, `polling`; `tier =
--               "free"`, `backup = false` and `broken` answer errors); listed
--               by GET /clusters
-- A migrated instance has a serverless and a Flex side, so it appears in both lists.
local json = require "atlasrestore_emulator.json"
local data = require "atlasrestore_emulator.data"
local ids = require "atlasrestore_emulator.ids"

local M = {}

local format = string.format
local obj = json.obj

M.GROUP_ID = "65a1b2c3d4e5f60718293a4b"
M.MIXED_GROUP_ID = "65a1b2c3d4e5f60718293a4c"
M.EMPTY_GROUP_ID = "65a1b2c3d4e5f60718293a4d"
M.BIG_GROUP_ID = "65a1b2c3d4e5f60718293a5b"
M.ORGS = ids.orgs
local TEAM = ids.team_projects

local DEFS = {
  [M.GROUP_ID] = {
    { name = "demo", serverless = { demo = true } },
    { name = "empty", serverless = { count = 0 } },
    { name = "jobs-499", serverless = { count = 499 } },
    { name = "jobs-500", serverless = { count = 500 } },
    { name = "jobs-501", serverless = { count = 501 } },
    { name = "jobs-1000", serverless = { count = 1000 } },
    { name = "jobs-10000", serverless = { count = 10000 } },
    -- A broken server: every page is the same full page, always with `next`.
    { name = "same-jobs", serverless = { same = true, total = 100000 } },
    -- Its links point at the trap listener; a client must never follow them.
    { name = "hostile-next", serverless = { count = 3, hostile = true } },
    -- Full pages of jobs without an id, with `next`: nothing tells them apart.
    { name = "no-ids", serverless = { count = 1000, no_ids = true } },
    -- Four jobs that finish after job_polls GETs (polling.lua).
    { name = "polling", serverless = { polling = true } },
    -- Migrated to Flex: the serverless side is empty, gone or unknown.
    { name = "migrated-empty", serverless = { count = 0 }, flex = { count = 5 } },
    { name = "migrated-404", flex = { count = 5 } },
    { name = "migrated-410", serverless = { gone = true }, flex = { count = 5 } },
    { name = "flex-demo", flex = { demo = true } },
    { name = "flex-1200", flex = { count = 1200 } },
    { name = "flex-polling", flex = { polling = true } },
    -- Three hand-written jobs, then the four polling ones.
    { name = "dedicated-0", cluster = { fixed = true, polling = true } },
    { name = "dedicated-sharded", cluster = { count = 6, shards = 2 } },
    { name = "dedicated-1200", cluster = { count = 1200 } },
    { name = "free-0", cluster = { tier = "free" } },
    { name = "nobackup-0", cluster = { backup = false } },
  },
  -- Every kind side by side, for project-wide listings.
  [M.MIXED_GROUP_ID] = {
    { name = "mixed-flex", flex = { count = 4 } },
    { name = "mixed-serverless", serverless = { count = 3 } },
    { name = "mixed-migrated", serverless = { count = 0 }, flex = { count = 2 } },
    { name = "mixed-dedicated", cluster = { count = 3 } },
    { name = "mixed-sharded", cluster = { count = 2, shards = 3 } },
    { name = "mixed-free", cluster = { tier = "free" } },
    { name = "mixed-nobackup", cluster = { backup = false } },
    -- Its restore-job endpoint always answers 500 UNEXPECTED_ERROR.
    { name = "mixed-broken", cluster = { count = 2, broken = true } },
  },
  [M.EMPTY_GROUP_ID] = {},
  -- 100,000 jobs for memory measurements (make bench), in a project of their
  -- own so that no listing of the other projects meets them.  Generated a page
  -- at a time, like every `count` instance.
  [M.BIG_GROUP_ID] = {
    { name = "jobs-100000", serverless = { count = 100000 } },
  },
  -- The team organisation's two projects: every status, and an instance that fails.
  [TEAM.alpha] = {
    { name = "orders", serverless = { demo = true } },
    { name = "reports", flex = { demo = true } },
  },
  [TEAM.beta] = {
    { name = "archive", serverless = { count = 30 } },
    { name = "ledger", cluster = { count = 3 } },
    { name = "ledger-broken", cluster = { count = 2, broken = true } },
  },
}

-- Each project's organisation and name (GET /groups, /orgs/{o}/groups), in the
-- order those lists give them. `unlisted`: left out of GET /groups.
local META = {
  { group = M.GROUP_ID, org = M.ORGS.main, name = "atlasrestore-demo" },
  { group = M.MIXED_GROUP_ID, org = M.ORGS.main, name = "mixed" },
  { group = M.EMPTY_GROUP_ID, org = M.ORGS.main, name = "empty" },
  { group = TEAM.alpha, org = M.ORGS.team, name = "team-alpha" },
  { group = TEAM.beta, org = M.ORGS.team, name = "team-beta" },
  { group = M.BIG_GROUP_ID, org = M.ORGS.bench, name = "big", unlisted = true },
}

local CREATED_PROJECTS = data.epoch("2025-05-01T09:00:00Z")

local function new_project(group, list, meta)
  local p = { group = group, list = list, serverless = {}, flex = {}, clusters = {}, org = meta.org,
    name = meta.name, ordinal = meta.ordinal }
  for i, d in ipairs(list) do
    d.ordinal = i
    d.id = data.hash("instance:" .. group) .. format("%016x", i)
    if d.serverless then p.serverless[d.name] = d.serverless end
    if d.flex then p.flex[d.name] = d.flex end
    if d.cluster then p.clusters[d.name] = d.cluster end
  end
  return p
end

local projects = {}
for i, meta in ipairs(META) do
  meta.ordinal = i
  projects[meta.group] = new_project(meta.group, DEFS[meta.group], meta)
end

-- The fleet setting's projects ({ projects = n, instances = m, jobs = j }: n projects
-- of m Flex clusters of j generated jobs each), built once per setting.
local fleet = { key = nil, list = {}, by_group = {} }

local function fleet_projects(cfg)
  local f = cfg.fleet
  if not f then return fleet.list, fleet.by_group end
  local key = format("%d:%d:%d", f.projects, f.instances, f.jobs)
  if fleet.key ~= key then
    local list, by_group = {}, {}
    for i = 1, f.projects do
      local group = ids.fleet_prefix .. format("%08x", i)
      local instances = {}
      for k = 1, f.instances do instances[k] = { name = format("fleet-%d", k), flex = { count = f.jobs } } end
      list[i] = new_project(group, instances, { org = M.ORGS.fleet, name = format("fleet-%03d", i),
        ordinal = #META + i })
      by_group[group] = list[i]
    end
    fleet = { key = key, list = list, by_group = by_group }
  end
  return fleet.list, fleet.by_group
end

-- The project, or nil.
function M.get(group, cfg)
  return projects[group] or select(2, fleet_projects(cfg))[group]
end

-- True when `org` is one of the emulated organisations.
function M.org_exists(org)
  for _, id in pairs(M.ORGS) do
    if id == org then return true end
  end
  return false
end

-- The projects of GET /groups (org = nil: every listed one) or of GET
-- /orgs/{org}/groups (unlisted ones too), in a fixed order.
function M.visible(cfg, org)
  local out = {}
  for _, meta in ipairs(META) do
    if (org == nil and not meta.unlisted) or meta.org == org then out[#out + 1] = projects[meta.group] end
  end
  if org == nil or org == M.ORGS.fleet then
    for _, p in ipairs((fleet_projects(cfg))) do out[#out + 1] = p end
  end
  return out
end

-- A project record (listGroups / getOrgGroups; not recorded: atlas-api.md section 9's fields).
function M.project_record(p, base)
  local clusters = 0
  for _ in pairs(p.clusters) do clusters = clusters + 1 end
  return json.encode(obj{
    { "clusterCount", clusters },
    { "created", data.iso(CREATED_PROJECTS + p.ordinal * 86400) },
    { "id", p.group },
    { "links", { obj{ { "href", format("%s/api/atlas/v2/groups/%s", base, p.group) }, { "rel", "self" } } } },
    { "name", p.name },
    { "orgId", p.org },
  })
end

local CREATED = data.epoch("2025-06-02T10:00:00Z")

local function created(d)
  return data.iso(CREATED + d.ordinal * 86400 + 3600 * (d.ordinal % 7))
end

local function host_tag(group, name)
  return data.hash("host:" .. group .. name):sub(1, 7)
end

-- The Flex cluster `sandbox` of the first project, while `sandbox_jobs` is set.
local SANDBOX = { name = "sandbox", ordinal = #DEFS[M.GROUP_ID] + 1,
  id = data.hash("instance:" .. M.GROUP_ID) .. format("%016x", #DEFS[M.GROUP_ID] + 1) }

--- The sandbox's Flex side in project `p` ({ count = n, note = true }: its first job
-- carries a `note`, see data.lua), or nil.
function M.sandbox(p, cfg)
  if p.group == M.GROUP_ID and cfg.sandbox_jobs then return { count = cfg.sandbox_jobs, note = true } end
end

-- The records of a project's list: serverless instances (with those moved
-- to Flex now through `migrated`), Flex clusters (with the sandbox), or clusters.
function M.names(p, kind, cfg)
  local out = {}
  local moved = {}
  if p.group == M.GROUP_ID then
    for _, n in ipairs(cfg.migrated or {}) do moved[n] = true end
  end
  for _, d in ipairs(p.list) do
    if kind == "serverless" and d.serverless then
      out[#out + 1] = d
    elseif kind == "flex" and (d.flex or (moved[d.name] and d.serverless)) then
      out[#out + 1] = d
    elseif kind == "clusters" and d.cluster then
      out[#out + 1] = d
    end
  end
  if kind == "flex" and M.sandbox(p, cfg) then out[#out + 1] = SANDBOX end
  return out
end

-- A serverless instance record, modelled on the recorded list
-- (spec/fixtures/serverless_instances_list_200_deprecated.json).  A migrated
-- one shows the recorded effective* settings (FLEX on TENANT); the others only
-- the serverless provider settings (a guess: no recording before migration).
function M.serverless_record(p, d, base, moved)
  local g = p.group
  local self_href = format("%s/api/atlas/v2/groups/%s/serverless/%s", base, g, d.name)
  local migrated = d.flex or moved
  local settings = { { "backingProviderName", "AWS" } }
  if migrated then
    settings[#settings + 1] = { "effectiveDiskSizeGBLimit", 5 }
    settings[#settings + 1] = { "effectiveInstanceSizeName", "FLEX" }
    settings[#settings + 1] = { "effectiveProviderName", "TENANT" }
    settings[#settings + 1] = { "nextBackupDate", "2026-12-03T10:00:00Z" }
  end
  settings[#settings + 1] = { "providerName", "SERVERLESS" }
  settings[#settings + 1] = { "regionName", "US_EAST_1" }
  if migrated then settings[#settings + 1] = { "tenantBackupEnabled", true } end
  return json.encode(obj{
    { "connectionStrings", obj{ { "standardSrv", format("mongodb+srv://%s.%s.mongodb.emulator.invalid", d.name,
      host_tag(g, d.name)) } } },
    { "createDate", created(d) },
    { "groupId", g },
    { "id", d.id },
    { "links", {
      obj{ { "href", self_href }, { "rel", "self" } },
      obj{ { "href", self_href .. "/backup/restoreJobs" }, { "rel", "https://cloud.mongodb.com/restoreJobs" } },
      obj{ { "href", self_href .. "/backup/snapshots" }, { "rel", "https://cloud.mongodb.com/snapshots" } },
    } },
    { "mongoDBVersion", "8.0.17" },
    { "name", d.name },
    { "providerSettings", obj(settings) },
    { "serverlessBackupOptions", obj{ { "serverlessContinuousBackupEnabled", false } } },
    { "stateName", "IDLE" },
    { "tags", {} },
    { "terminationProtectionEnabled", false },
  })
end

-- A Flex cluster record (FlexClusterDescription20241113; not recorded).
function M.flex_record(p, d)
  local g = p.group
  local tag = host_tag(g, d.name)
  return json.encode(obj{
    { "backupSettings", obj{ { "enabled", true } } },
    { "clusterType", "REPLICASET" },
    { "connectionStrings", obj{
      { "standard", format("mongodb://ac-%s-shard-00-00.%s.mongodb.emulator.invalid:27017/?ssl=true", tag, tag) },
      { "standardSrv", format("mongodb+srv://%s.%s.mongodb.emulator.invalid", d.name, tag) },
    } },
    { "createDate", created(d) },
    { "groupId", g },
    { "id", d.id },
    { "mongoDBVersion", "8.0.17" },
    { "name", d.name },
    { "providerSettings", obj{
      { "backingProviderName", "AWS" }, { "diskSizeGB", 5 }, { "providerName", "FLEX" }, { "regionName", "US_EAST_1" },
    } },
    { "stateName", "IDLE" },
    { "tags", {} },
    { "terminationProtectionEnabled", false },
    { "versionReleaseSystem", "LTS" },
  })
end

-- A cluster record. Before 2024-08-05 (resource version `resource`), the
-- 2023-01-01 (legacy) shape: providerSettings.instanceSizeName is M0 for a free
-- cluster (on the TENANT provider) and M10 otherwise; backupEnabled (legacy
-- backup) is always false, providerBackupEnabled tells whether cloud backup is on.
-- From 2024-08-05 (ClusterDescription20240805): backupEnabled tells it, and each
-- shard has a replicationSpecs entry whose regionConfigs carry the provider and
-- electableSpecs.instanceSize.
function M.cluster_record(p, d, base, version, resource)
  local g = p.group
  local c = d.cluster
  local free = c.tier == "free"
  local current = resource >= "2024-08-05"
  local fields = {
    { "backupEnabled", current and not free and c.backup ~= false },
    { "clusterType", c.shards and "SHARDED" or "REPLICASET" },
    { "connectionStrings", obj{ { "standardSrv", format("mongodb+srv://%s.%s.mongodb.emulator.invalid", d.name,
      host_tag(g, d.name)) } } },
    { "createDate", created(d) },
  }
  local function add(k, v) fields[#fields + 1] = { k, v } end
  if not current then add("diskSizeGB", free and 0.5 or 10) end
  add("groupId", g)
  add("id", d.id)
  add("links", { obj{ { "href", format("%s/api/atlas/%s/groups/%s/clusters/%s", base, version, g, d.name) },
    { "rel", "self" } } })
  add("mongoDBVersion", "8.0.17")
  add("name", d.name)
  if current then
    add("paused", false)
    add("pitEnabled", false)
    local specs = {}
    for shard = 1, c.shards or 1 do
      local region
      if free then
        region = obj{ { "backingProviderName", "AWS" }, { "electableSpecs", obj{ { "instanceSize", "M0" } } },
          { "priority", 7 }, { "providerName", "TENANT" }, { "regionName", "US_EAST_1" } }
      else
        region = obj{ { "electableSpecs", obj{ { "diskSizeGB", 10 }, { "instanceSize", "M10" }, { "nodeCount", 3 } } },
          { "priority", 7 }, { "providerName", "AWS" }, { "regionName", "US_EAST_1" } }
      end
      specs[shard] = obj{ { "regionConfigs", { region } }, { "zoneName", "Zone 1" } }
    end
    add("replicationSpecs", specs)
  else
    local settings
    if free then
      settings = obj{ { "backingProviderName", "AWS" }, { "instanceSizeName", "M0" }, { "providerName", "TENANT" },
        { "regionName", "US_EAST_1" } }
    else
      settings = obj{ { "instanceSizeName", "M10" }, { "providerName", "AWS" }, { "regionName", "US_EAST_1" } }
    end
    add("numShards", c.shards or 1)
    add("paused", false)
    add("pitEnabled", false)
    add("providerBackupEnabled", not free and c.backup ~= false)
    add("providerSettings", settings)
    add("replicationFactor", 3)
  end
  add("stateName", "IDLE")
  add("terminationProtectionEnabled", false)
  return json.encode(obj(fields))
end

return M
