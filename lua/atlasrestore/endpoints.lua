--- The kinds of endpoint that hold restore jobs, each described once: its paths,
-- version, record mapper, sunset, where its "not here" answers lead for "auto",
-- which instances cannot have jobs, and the times the filters read. Routes,
-- probe, shape, project listing, options, filters and the command read this.
local endpoints = {}

--- Resolution through the probe: wherever the instance is now. The default.
endpoints.AUTO = "auto"
--- The endpoint of the original restore-jobs listing (list_restore_jobs).
endpoints.ORIGINAL = "serverless"
--- The first endpoint "auto" asks: a migrated instance can answer an empty list on the serverless one.
endpoints.FIRST = "flex"

-- A lead to NOWHERE: not here, and nowhere else to ask.
local NOWHERE = false

-- A decoded JSON array, or an empty one for anything else.
local function tables(v) return type(v) == "table" and v or {} end

-- Each kind, in the order help and messages list them. Fields:
--   name        the `endpoint` option's value, and the unified record's `source`
--   help        a few words for the command's --help
--   instance    what the instance is called (help text)
--   jobs        the restore jobs under /api/atlas/v2 (group, instance); one job appends "/{id}"
--   version     the resource version (media type application/vnd.atlas.<version>+json)
--   legacy      also served under /api/atlas/v1.0 (application/json), for api_version = "v1.0"
--   record      the shape.lua function that maps a wire record to the unified one
--   sunset      the date Atlas switched it off (deprecation warnings name it)
--   instances   the project's list of these instances: path, version, precedence (an instance named by
--               two lists is listed once, from the lower number), gone_is_empty (a 404 or 410 means none)
--   cannot_have_jobs(record)  true when the instance list's record says it has no restore jobs
--   leads       for "auto": an answer's errorCode (first) or status -> the kind to ask next, or NOWHERE
--   wrong_kind  the errorCodes that only say "another kind of instance"
--   empty_first_page  a remembered instance whose first page is empty may have moved there: ask once
--   refused     the hint for a 400 that is no wrong-kind answer (%s: the instance)
--   times       the wire fields the time filters read: `finished` for a job whose status is final,
--               else `started` (scheduled or created); `snapshot` only for a final job with neither
endpoints.KINDS = {
  {
    name = "serverless",
    help = "the original endpoint, switched off on 2026-01-22",
    instance = "serverless instance",
    jobs = "/groups/%s/serverless/%s/backup/restoreJobs",
    version = "2023-01-01",
    legacy = true,
    record = "from_booleans",
    sunset = "2026-01-22",
    instances = { path = "/groups/%s/serverless", version = "2023-01-01", precedence = 3, gone_is_empty = true },
    leads = {
      [404] = "dedicated", -- not found
      [410] = "dedicated", -- gone, past the sunset
      CANNOT_USE_CLUSTER_IN_SERVERLESS_INSTANCE_API = "dedicated",
    },
    wrong_kind = { CANNOT_USE_CLUSTER_IN_SERVERLESS_INSTANCE_API = true },
    empty_first_page = "flex",
    -- createdAt: in the legacy documentation, not in the schema; no job has a scheduled date.
    times = { finished = "finishedAt", started = "createdAt", snapshot = "timestamp" },
  },
  {
    name = "flex",
    help = "Flex clusters, and the serverless instances moved there",
    instance = "Flex cluster",
    jobs = "/groups/%s/flexClusters/%s/backup/restoreJobs",
    version = "2024-11-13",
    record = "from_flex",
    instances = { path = "/groups/%s/flexClusters", version = "2024-11-13", precedence = 1 },
    cannot_have_jobs = function(record)
      return type(record.backupSettings) == "table" and record.backupSettings.enabled == false
    end,
    leads = {
      -- Recorded: Flex refuses a dedicated cluster so, and the Atlas CLI then asks the dedicated endpoint.
      CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API = "dedicated",
      -- No Flex cluster of that name: maybe a serverless instance that was not migrated.
      CLUSTER_NOT_FOUND = "serverless",
    },
    wrong_kind = { CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API = true },
    times = { finished = "restoreFinishedDate", started = "restoreScheduledDate", snapshot = "snapshotFinishedDate" },
  },
  {
    name = "dedicated",
    help = "dedicated clusters' cloud backup",
    instance = "dedicated cluster",
    jobs = "/groups/%s/clusters/%s/backup/restoreJobs",
    version = "2023-01-01",
    legacy = true,
    record = "from_booleans",
    instances = { path = "/groups/%s/clusters", version = "2024-08-05", precedence = 2 },
    -- The 2024-08-05 cluster record: backupEnabled is Cloud Backup; a free cluster's region
    -- configurations run on the TENANT provider with instance size M0.
    cannot_have_jobs = function(record)
      if record.backupEnabled == false then return true end
      for _, spec in ipairs(tables(record.replicationSpecs)) do
        for _, region in ipairs(tables(type(spec) == "table" and spec.regionConfigs)) do
          if type(region) == "table" and (region.providerName == "TENANT"
            or type(region.electableSpecs) == "table" and region.electableSpecs.instanceSize == "M0") then
            return true
          end
        end
      end
      return false
    end,
    leads = {
      [404] = NOWHERE,
      [410] = NOWHERE,
      CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API = NOWHERE,
      CANNOT_USE_SERVERLESS_INSTANCE_IN_CLUSTER_API = NOWHERE,
    },
    wrong_kind = {
      CANNOT_USE_FLEX_CLUSTER_IN_CLUSTER_API = true,
      CANNOT_USE_SERVERLESS_INSTANCE_IN_CLUSTER_API = true,
    },
    -- No recording shows what Atlas says for a Free cluster or one without Cloud Backup.
    refused = "cluster %s likely cannot have restore jobs: a Free (M0) cluster or a cluster without Cloud Backup "
      .. "has none",
    times = { finished = "finishedAt", started = "createdAt", snapshot = "timestamp" },
  },
}

--- The description of kind `name`, or nil.
function endpoints.of(name)
  for _, kind in ipairs(endpoints.KINDS) do
    if kind.name == name then return kind end
  end
end

--- The media type of a resource version.
function endpoints.media(version) return "application/vnd.atlas." .. version .. "+json" end

--- The values the `endpoint` option takes: "auto", then each kind.
function endpoints.choices()
  local out = { endpoints.AUTO }
  for i, kind in ipairs(endpoints.KINDS) do out[i + 1] = kind.name end
  return out
end

--- True when `value` is one of endpoints.choices().
function endpoints.valid(value)
  return value == endpoints.AUTO or endpoints.of(value) ~= nil
end

--- "a, b or c": `field` of each kind, for help text.
function endpoints.listing(field)
  local words = {}
  for i, kind in ipairs(endpoints.KINDS) do words[i] = kind[field] end
  if #words < 2 then return words[1] or "" end
  return table.concat(words, ", ", 1, #words - 1) .. " or " .. words[#words]
end

--- `"auto", "serverless", ...`: the choices quoted, for messages.
function endpoints.quoted_choices()
  local quoted = {}
  for i, name in ipairs(endpoints.choices()) do quoted[i] = '"' .. name .. '"' end
  return table.concat(quoted, ", ")
end

--- The kinds with an instance list, in their lists' precedence.
function endpoints.listed()
  local out = {}
  for _, kind in ipairs(endpoints.KINDS) do
    if kind.instances then out[#out + 1] = kind end
  end
  table.sort(out, function(a, b) return a.instances.precedence < b.instances.precedence end)
  return out
end

--- True when `code` is, for any kind, an answer that only says "another kind of instance".
function endpoints.wrong_kind(code)
  for _, kind in ipairs(endpoints.KINDS) do
    if kind.wrong_kind and kind.wrong_kind[code] then return true end
  end
  return false
end

return endpoints
