-- Flex: the successor endpoint, "auto" routing, the unified record shape and
-- the deprecation warning, end to end through the emulator.
local emulator = require "support.emulator"

local function read(path) return assert(emulator.read_file(path)) end

--- Parses the mapping table of docs/sunset.md: rows of `| Flex field | Field in "auto" | Rule |`.
local function mapping_rows()
  local readme = read("docs/sunset.md")
  local block = assert(readme:match("<!%-%- mapping:begin %-%->(.-)<!%-%- mapping:end %-%->"), "mapping table")
  local rows = {}
  for line in block:gmatch("[^\n]+") do
    local from, to, rule = line:match("^|%s*`([%w]+)`%s*|%s*`([%w]+)`%s*|%s*(.-)%s*|$")
    if from then rows[#rows + 1] = { from = from, to = to, rule = rule } end
  end
  return rows
end

local function serverless_status_order()
  local readme = read("docs/sunset.md")
  local block = assert(readme:match("<!%-%- status:begin %-%->(.-)<!%-%- status:end %-%->"), "status list")
  local order = {}
  for condition, status in block:gmatch("\n%d+%. ([^\n]-) → `(%u+)`") do order[#order + 1] = { condition, status } end
  return order
end

describe("Flex", function()
  local emu, warnings

  lazy_setup(function() emu = emulator.start() end)
  lazy_teardown(function() if emu then emu:stop() end end)
  before_each(function()
    emu:reset()
    warnings = {}
  end)

  local function new_client(extra)
    local opts = { on_warning = function(message) warnings[#warnings + 1] = message end }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return emu:client(opts)
  end

  describe("endpoint = 'flex'", function()
    it("lists one page of Flex records, with the Flex media type whatever api_version says", function()
      local client = new_client { api_version = "v1.0" }
      local page = assert(client:restore_jobs_page(emu.group_id, "flex-demo", { endpoint = "flex",
        include_count = true }))
      assert.is_true(#page.results >= 5)
      local statuses, types = {}, {}
      for _, unified in ipairs(page.results) do
        local job = unified.raw
        statuses[job.status] = true
        types[job.deliveryType] = true
        assert.is_nil(job.targetClusterName)
        if job.deliveryType == "DOWNLOAD" then assert.is_string(job.snapshotUrl) else assert.is_nil(job.snapshotUrl) end
        if job.status ~= "COMPLETED" and job.status ~= "FAILED" then assert.is_nil(job.restoreFinishedDate) end
      end
      for _, s in ipairs { "PENDING", "QUEUED", "RUNNING", "FAILED", "COMPLETED" } do assert.is_true(statuses[s], s) end
      assert.is_true(types.RESTORE and types.DOWNLOAD)
      assert.equal("integer", math.type(page.totalCount))
      local log = emu:stats().log
      assert.matches("^/api/atlas/v2/groups/.*/flexClusters/flex%-demo/backup/restoreJobs%?includeCount=true$",
        log[#log].uri)
      client:close()
    end)

    it("lists every job across pages with the same costs", function()
      local client = new_client { endpoint = "flex" }
      local jobs = assert(client:all_restore_jobs(emu.group_id, "flex-1200"))
      assert.equal(1200, #jobs)
      assert.equal(3 + 1, emu:stats().requests)
      local n = 0
      for _ in client:restore_jobs(emu.group_id, "flex-1200", { items_per_page = 400 }) do n = n + 1 end
      assert.equal(1200, n)
      client:close()
    end)

    it("reports a dedicated cluster as CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API", function()
      local client = new_client()
      local jobs, err = client:all_restore_jobs(emu.group_id, "dedicated-0", { endpoint = "flex" })
      assert.is_nil(jobs)
      assert.equal("CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API", err.errorCode)
      assert.equal(400, err.status)
      client:close()
    end)

  end)

  describe("endpoint routing", function()
    it("defaults to auto; serverless, kept for the original behaviour, misleads after the migration", function()
      local client = new_client()
      local found = assert(client:all_restore_jobs(emu.group_id, "migrated-empty"))
      assert.is_true(#found > 0)
      assert.equal("flex", found[1].source)
      local jobs = assert(client:all_restore_jobs(emu.group_id, "migrated-empty", { endpoint = "serverless" }))
      assert.equal(0, #jobs)
      client:close()
    end)

    it("gives Flex wire records with endpoint = 'flex'", function()
      local client = new_client()
      local jobs = assert(client:all_restore_jobs(emu.group_id, "flex-demo", { endpoint = "flex" }))
      assert.is_string(jobs[1].targetDeploymentItemName)
      assert.is_nil(jobs[1].source)
      client:close()
    end)

    for _, name in ipairs { "migrated-empty", "migrated-404", "migrated-410" } do
      it("finds the jobs of " .. name .. " on Flex, then remembers it", function()
        local client = new_client()
        local jobs = assert(client:all_restore_jobs(emu.group_id, name, { endpoint = "auto" }))
        assert.is_true(#jobs > 0)
        -- What a script written against the seed's fields reads.
        for _, job in ipairs(jobs) do
          assert.equal("flex", job.source)
          assert.matches("^%x+$", job.id)
          assert.is_truthy(job.deliveryType == "automated" or job.deliveryType == "download")
          assert.is_string(job.targetClusterName)
          assert.matches("^%x+$", job.targetGroupId)
          assert.matches("^%d%d%d%d%-", job.timestamp)
          assert.matches("^%d%d%d%d%-", job.expiresAt)
          assert.is_boolean(job.failed)
          if job.status == "COMPLETED" then assert.matches("^%d%d%d%d%-", job.finishedAt) end
          if job.deliveryType == "download" then assert.is_string(job.deliveryUrl[1]) end
        end
        assert.equal(2, emu:stats().requests) -- challenge + the Flex page
        assert(client:all_restore_jobs(emu.group_id, name, { endpoint = "auto" }))
        assert.equal(3, emu:stats().requests) -- warm: one request
        client:close()
      end)
    end

    it("falls back to serverless for a serverless instance, then remembers it", function()
      local client = new_client { endpoint = "auto" }
      local jobs = assert(client:all_restore_jobs(emu.group_id, "demo"))
      assert.equal(7, #jobs)
      for _, job in ipairs(jobs) do assert.equal("serverless", job.source) end
      local stats = emu:stats()
      assert.equal(3, stats.requests) -- challenge, Flex CLUSTER_NOT_FOUND, the serverless page
      assert.matches("/flexClusters/demo/", stats.log[2].uri)
      assert(client:all_restore_jobs(emu.group_id, "demo"))
      stats = emu:stats()
      assert.equal(4, stats.requests) -- warm: straight to serverless
      assert.matches("/serverless/demo/", stats.log[4].uri)
      client:close()
    end)

    it("checks an empty serverless instance on Flex again, for one request", function()
      local client = new_client { endpoint = "auto" }
      assert.equal(0, #assert(client:all_restore_jobs(emu.group_id, "empty")))
      assert.equal(3, emu:stats().requests) -- challenge, Flex CLUSTER_NOT_FOUND, the empty serverless page
      assert.equal(0, #assert(client:all_restore_jobs(emu.group_id, "empty")))
      local stats = emu:stats()
      assert.equal(5, stats.requests) -- warm: the empty serverless page, then the Flex check
      assert.matches("/serverless/empty/", stats.log[4].uri)
      assert.matches("/flexClusters/empty/", stats.log[5].uri)
      client:close()
    end)

    it("notices an instance migrated after it remembered serverless", function()
      local client = new_client { endpoint = "auto" }
      local jobs = assert(client:all_restore_jobs(emu.group_id, "demo"))
      assert.equal("serverless", jobs[1].source)
      emu:config { migrated = { "demo" } }
      jobs = assert(client:all_restore_jobs(emu.group_id, "demo"))
      assert.equal(5, #jobs)
      assert.equal("flex", jobs[1].source)
      client:close()
    end)

    it("keeps listing when a hook raises", function()
      local client = new_client {
        endpoint = "auto",
        on_warning = function() error("a broken warning hook") end,
        debug = function() error("a broken debug hook") end,
      }
      assert.equal(7, #assert(client:all_restore_jobs(emu.group_id, "demo")))
      client:close()
    end)

    it("lists a dedicated cluster from the dedicated endpoint, after Flex's 400", function()
      local client = new_client { endpoint = "auto" }
      local jobs = assert(client:all_restore_jobs(emu.group_id, "dedicated-0"))
      assert.equal(7, #jobs)
      for _, job in ipairs(jobs) do assert.equal("dedicated", job.source) end
      client:close()
    end)

    it("returns a clean error for a free cluster, every answer attached", function()
      local client = new_client { endpoint = "auto" }
      local jobs, err = client:all_restore_jobs(emu.group_id, "free-0")
      assert.is_nil(jobs)
      assert.equal(1, err.attempts, "one attempt on each endpoint is not a retry")
      assert.is_nil(tostring(err):find("[after", 1, true))
      assert.equal("CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API", err.errors.flex.errorCode)
      assert.equal(err.errorCode, err.errors.dedicated.errorCode)
      assert.is_nil(err.errors.serverless)
      client:close()
    end)

    it("returns Flex's CLUSTER_NOT_FOUND when the name exists nowhere", function()
      local client = new_client { endpoint = "auto" }
      local ok, err = pcall(function() for _ in client:restore_jobs(emu.group_id, "nowhere") do end end)
      assert.is_false(ok)
      assert.equal("CLUSTER_NOT_FOUND", err.errorCode)
      assert.equal("SERVERLESS_INSTANCE_NOT_FOUND", err.errors.serverless.errorCode)
      assert.equal("CLUSTER_NOT_FOUND", err.errors.dedicated.errorCode)
      client:close()
    end)

    it("refuses an unknown endpoint with INVALID_ARGUMENT", function()
      local client = new_client()
      local jobs, err = client:all_restore_jobs(emu.group_id, "demo", { endpoint = "everywhere" })
      assert.is_nil(jobs)
      assert.equal("INVALID_ARGUMENT", err.errorCode)
      client:close()
    end)
  end)

  describe("the unified record shape", function()
    it("maps every Flex job as the README's table says", function()
      local rows = mapping_rows()
      assert.is_true(#rows >= 13, "the README has the mapping table")
      local kept = {}
      for _, row in ipairs(rows) do kept[row.to] = true end
      -- Flex's expiry rule reads the client's clock: pinned after flex-demo's completed download's link ran out.
      local now, NOW_ISO = 1768608000, "2026-01-17T00:00:00Z"
      local client = new_client { endpoint = "auto", clock = function() return now end }
      local jobs = assert(client:all_restore_jobs(emu.group_id, "flex-demo"))
      local expired = 0
      for _, job in ipairs(jobs) do
        local raw = job.raw
        assert.equal("flex", job.source)
        for _, row in ipairs(rows) do
          local wire = raw[row.from]
          local rule = row.rule
          if rule == "same value" then
            assert.equal(wire, job[row.to], row.from .. " -> " .. row.to)
          elseif rule == "same value, but `EXPIRED` when `expired` is true" then
            assert.equal(job.expired and "EXPIRED" or wire, job[row.to])
          elseif rule == "always `false`" then
            assert.is_false(job[row.to])
          elseif rule == '`deliveryType == "DOWNLOAD"`, `status == "COMPLETED"` and `expirationDate` at or before '
            .. "`clock()`" then
            -- Atlas's UTC dates compare as strings.
            local holds = raw.deliveryType == "DOWNLOAD" and raw.status == "COMPLETED" and wire <= NOW_ISO
            assert.equal(holds, job[row.to], raw.id)
            if holds then expired = expired + 1 end
          elseif rule == "`{ snapshotUrl }`" then
            if wire == nil then assert.is_nil(job[row.to]) else assert.same({ wire }, job[row.to]) end
          elseif rule:find("→") then
            local expected = {}
            for a, b in rule:gmatch("`(%u+)` → `(%w+)`") do expected[a] = b end
            assert.equal(expected[wire], job[row.to], row.from)
          elseif rule == '`status == "FAILED"`' then
            assert.equal(wire == "FAILED", job[row.to])
          else
            error("unknown rule in the README: " .. rule)
          end
          if not kept[row.from] then assert.is_nil(job[row.from], row.from .. " is renamed") end
        end
      end
      assert.equal(1, expired, "flex-demo's completed download has run out at that time")
      client:close()
    end)

    it("derives serverless statuses in the README's order and keeps the wire record", function()
      local order = serverless_status_order()
      assert.equal(5, #order)
      local client = new_client { endpoint = "auto" }
      local jobs = assert(client:all_restore_jobs(emu.group_id, "demo"))
      local seen = {}
      for _, job in ipairs(jobs) do
        local raw = job.raw
        local expected
        for _, step in ipairs(order) do
          local field = step[1]:match("`(%w+)`")
          local holds = field == nil or (step[1]:find("is true") and raw[field] == true)
            or (step[1]:find("is present") and raw[field] ~= nil)
          if holds then expected = step[2] break end
        end
        assert.equal(expected, job.status)
        seen[job.status] = true
        assert.equal("serverless", job.source)
        for k, v in pairs(raw) do assert.equal(v, job[k]) end
      end
      assert.is_true(seen.CANCELLED and seen.FAILED and seen.EXPIRED and seen.COMPLETED and true)
      client:close()
    end)
  end)

  describe("deprecation warnings", function()
    it("warn once per client about the serverless endpoint, naming it and its sunset", function()
      local client = new_client()
      assert(client:all_restore_jobs(emu.group_id, "demo"))
      assert(client:all_restore_jobs(emu.group_id, "jobs-501", { endpoint = "serverless" }))
      assert(client:list_restore_jobs(emu.group_id, "demo"))
      assert.equal(1, #warnings)
      assert.matches("^atlasrestore: warning: the serverless endpoint is deprecated, sunset 2026%-01%-22 ", warnings[1])
      assert.matches("Sunset: Thu, 22 Jan 2026", warnings[1], 1, true)
      client:close()
    end)

    it("say nothing about a probe's answer that is not used", function()
      local client = new_client()
      local _, err = client:all_restore_jobs(emu.group_id, "nope")
      assert.equal("not_found", err.kind)
      assert(client:all_restore_jobs(emu.group_id, "flex-demo"))
      assert(client:all_restore_jobs(emu.group_id, "dedicated-0"))
      assert.same({}, warnings)
      client:close()
    end)

    it("stay silent without the headers", function()
      emu:config { deprecation_headers = false }
      local client = new_client()
      assert(client:all_restore_jobs(emu.group_id, "demo"))
      assert(client:all_restore_jobs(emu.group_id, "flex-demo", { endpoint = "flex" }))
      assert.equal(0, #warnings)
      client:close()
    end)

    it("report a 410 VERSION_GONE", function()
      emu:config { deprecation_headers = false }
      local client = new_client()
      local _, err = client:all_restore_jobs(emu.group_id, "migrated-410", { endpoint = "serverless" })
      assert.equal("VERSION_GONE", err.errorCode)
      assert.equal(1, #warnings)
      assert.matches("past its sunset (2026-01-22): Atlas answered 410 VERSION_GONE", warnings[1], 1, true)
      client:close()
    end)

    it("write one line to stderr by default", function()
      local script = os.tmpname()
      local f = assert(io.open(script, "w"))
      f:write(([[
        package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
        package.cpath = "./build/5.4/?.so;" .. package.cpath
        local client = assert(require("atlasrestore").new { base_url = %q, public_key = %q, private_key = %q })
        assert(client:all_restore_jobs(%q, "demo", { endpoint = "serverless" }))
        assert(client:all_restore_jobs(%q, "demo"))
        client:close()
      ]]):format(emu.base_url, emu.public_key, emu.private_key, emu.group_id, emu.group_id))
      f:close()
      local pipe = assert(io.popen(emulator.clean_env("lua5.4 " .. script .. " 2>&1 >/dev/null")))
      local stderr = pipe:read("a")
      pipe:close()
      os.remove(script)
      local lines = {}
      for line in stderr:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.equal(1, #lines, stderr)
      assert.matches("^atlasrestore: warning: the serverless endpoint is deprecated", lines[1])
    end)
  end)
end)
