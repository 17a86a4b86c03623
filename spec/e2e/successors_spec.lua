-- Every place a restore job lives after the sunset, end to end through the
-- emulator: "auto" across every kind of instance with its exact request
-- counts, a listing with no options, endpoint = "dedicated", one job by id, waiting for a job, a whole
-- project, the filters, and a script written against the seed's fields.
local emulator = require "support.emulator"
local socket = require "socket"
local atlasrestore = require "atlasrestore"
local core = require "atlasrestore.core"
local dates = require "atlasrestore.dates"

local G = emulator.GROUP_ID
local MIXED = emulator.MIXED_GROUP_ID
local POLLING = emulator.POLLING_JOBS
local STATUSES = { PENDING = true, QUEUED = true, RUNNING = true, COMPLETED = true, FAILED = true, CANCELLED = true,
  EXPIRED = true }
-- Flex's expiry rule reads this clock: after every expirationDate the emulator serves.
local LATER = dates.parse("2027-06-01T00:00:00Z")
local function later() return LATER end

describe("after the sunset", function()
  local emu

  lazy_setup(function() emu = emulator.start() end)
  lazy_teardown(function() if emu then emu:stop() end end)
  before_each(function() emu:reset() end)

  local function client(extra)
    local opts = { clock = later }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return emu:client(opts)
  end

  -- Requests and challenges since the last reset.
  local function counts()
    local s = emu:stats()
    return s.requests, s.challenges, s
  end

  -- The URIs of the requests answered (Digest challenges apart) that match `pattern`.
  local function uris(stats, pattern)
    local out = {}
    for _, entry in ipairs(stats.log) do
      if entry.status ~= 401 and entry.uri:find(pattern) then out[#out + 1] = entry.uri end
    end
    return out
  end

  describe("a listing with no options", function()
    it("returns the jobs of a Flex cluster, a migrated instance and a dedicated cluster, from the environment alone",
      function()
        -- atlasrestore.new() with nothing but the environment, as a newcomer's first script.
        local env = { MONGODB_ATLAS_BASE_URL = emu.base_url, MONGODB_ATLAS_PUBLIC_API_KEY = emu.public_key,
          MONGODB_ATLAS_PRIVATE_API_KEY = emu.private_key }
        local warnings = {}
        local c = assert(atlasrestore.new { getenv = function(name) return env[name] end,
          on_warning = function(m) warnings[#warnings + 1] = m end })
        for name, n in pairs { ["flex-demo"] = 8, ["migrated-410"] = 5, ["migrated-empty"] = 5, ["dedicated-0"] = 7 } do
          local jobs = assert(c:all_restore_jobs(G, name))
          assert.equal(n, #jobs, name)
          assert.is_string(jobs[1].source, "the unified shape")
          local lazily = 0
          for _ in c:restore_jobs(G, name) do lazily = lazily + 1 end
          assert.equal(n, lazily, name)
        end
        assert.same({}, warnings, "no serverless answer was used")
        c:close()
      end)
  end)

  describe('"auto" across every kind', function()
    -- cold/warm: requests of the first and the second listing on one client, the Digest challenge apart.
    local KINDS = {
      { name = "flex-demo", source = "flex", jobs = 8, cold = 1, warm = 1 },
      { name = "demo", source = "serverless", jobs = 7, cold = 2, warm = 1 },
      { name = "empty", source = "serverless", jobs = 0, cold = 2, warm = 2 },
      { name = "migrated-empty", source = "flex", jobs = 5, cold = 1, warm = 1 },
      { name = "migrated-404", source = "flex", jobs = 5, cold = 1, warm = 1 },
      { name = "migrated-410", source = "flex", jobs = 5, cold = 1, warm = 1 },
      { name = "dedicated-0", source = "dedicated", jobs = 7, cold = 2, warm = 1 },
      { name = "dedicated-sharded", source = "dedicated", jobs = 6, cold = 2, warm = 1 },
      { name = "dedicated-1200", source = "dedicated", jobs = 1200, cold = 4, warm = 3 },
    }

    for _, kind in ipairs(KINDS) do
      it(("lists %s from %s with %d cold and %d warm requests"):format(kind.name, kind.source, kind.cold, kind.warm),
        function()
          local c = client { endpoint = "auto" }
          local jobs = assert(c:all_restore_jobs(G, kind.name))
          local requests, challenges = counts()
          assert.equal(1, challenges)
          assert.equal(1 + kind.cold, requests)
          assert.equal(kind.jobs, #jobs)
          local again = assert(c:all_restore_jobs(G, kind.name))
          assert.equal(1 + kind.cold + kind.warm, (counts()))
          assert.equal(#jobs, #again)
          -- The wire records, straight from the endpoint that holds them.
          local wire = assert(c:all_restore_jobs(G, kind.name, { endpoint = kind.source }))
          for i, job in ipairs(jobs) do
            assert.equal(kind.source, job.source)
            assert.is_true(STATUSES[job.status], job.status)
            for _, flag in ipairs { "cancelled", "failed", "expired" } do assert.is_boolean(job[flag], flag) end
            if job.expired and not (job.cancelled or job.failed) then assert.equal("EXPIRED", job.status) end
            assert.same(wire[i], job.raw)
            assert.is_nil(job.raw.source)
            assert.matches("^%x+$", job.id)
            assert.is_string(job.timestamp)
            if kind.source ~= "flex" then
              for k, v in pairs(job.raw) do assert.same(v, job[k], k) end
            end
          end
          c:close()
        end)
    end

    it("keeps the components of a sharded cluster's jobs", function()
      local c = client { endpoint = "auto" }
      for _, job in ipairs(assert(c:all_restore_jobs(G, "dedicated-sharded"))) do
        assert.equal(3, #job.components) -- two shards and the config server
        assert.equal(core.array_mt, getmetatable(job.components))
        for _, part in ipairs(job.components) do assert.matches("^atlas%-%w+%-", part.replicaSetName) end
        if job.deliveryType == "download" then assert.equal(3, #job.deliveryUrl) end
      end
      c:close()
    end)

    -- Clusters that cannot have restore jobs, a name that exists nowhere, a failing cluster.
    local FAILURES = {
      { name = "free-0", code = "TENANT_CLUSTER_BACKUP_UNSUPPORTED", tried = { "dedicated", "flex" }, cold = 2,
        hint = true },
      { name = "nobackup-0", code = "CLUSTER_BACKUP_NOT_ENABLED", tried = { "dedicated", "flex" }, cold = 2,
        hint = true },
      { name = "nowhere", code = "CLUSTER_NOT_FOUND", tried = { "dedicated", "flex", "serverless" }, cold = 3 },
      { name = "mixed-broken", group = MIXED, code = "UNEXPECTED_ERROR", tried = { "dedicated", "flex" }, cold = 5,
        attempts = 4 },
    }
    for _, case in ipairs(FAILURES) do
      it(("gives a clean nil, err for %s after %d requests, naming every endpoint tried"):format(case.name,
        case.cold), function()
        local c = client { endpoint = "auto" }
        local jobs, err = c:all_restore_jobs(case.group or G, case.name)
        assert.is_nil(jobs)
        assert.equal(case.code, err.errorCode)
        local tried = {}
        for endpoint in pairs(err.errors) do tried[#tried + 1] = endpoint end
        table.sort(tried)
        assert.same(case.tried, tried)
        if err.errors.flex.status == 400 then
          assert.equal("CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API", err.errors.flex.errorCode)
        end
        assert.equal(case.attempts or 1, err.attempts)
        if case.hint then
          assert.equal(400, err.status)
          assert.matches("likely cannot have restore jobs", tostring(err), 1, true)
        else
          assert.is_nil(err.hint)
        end
        assert.equal(1 + case.cold, (counts()))
        assert.is_nil(c:all_restore_jobs(case.group or G, case.name))
        assert.equal(1 + 2 * case.cold, (counts()), "a failure is not remembered")
        c:close()
      end)
    end

    it("does not depend on the emulator's guessed codes", function()
      local guessed = { "TENANT_CLUSTER_BACKUP_UNSUPPORTED", "CLUSTER_BACKUP_NOT_ENABLED", "RESTORE_JOB_NOT_FOUND",
        "INVALID_GROUP_ID" }
      -- The module only: the emulator (lua/atlasrestore_emulator) is where those codes come from.
      local pipe = assert(io.popen("find lua/atlasrestore -name '*.lua' "
        .. "-exec cat {} +"))
      local source = pipe:read("*a")
      pipe:close()
      assert.is_true(#source > 10000)
      for _, code in ipairs(guessed) do assert.is_nil(source:find(code, 1, true), code) end
    end)

    it("goes from Flex straight to the dedicated endpoint, never through the sunset one", function()
      local c = client { endpoint = "auto" }
      assert(c:all_restore_jobs(G, "dedicated-0"))
      local _, _, stats = counts()
      assert.equal(0, #uris(stats, "/serverless/"))
      assert.equal(1, #uris(stats, "/flexClusters/dedicated%-0/"))
      c:close()
    end)
  end)

  describe("endpoint = 'dedicated'", function()
    it("lists every job and lazily, in the wire shape", function()
      local c = client()
      local page = assert(c:restore_jobs_page(G, "dedicated-1200", { endpoint = "dedicated", items_per_page = 100,
        page_num = 3, include_count = true }))
      assert.equal(100, #page.results)
      assert.equal(1200, page.totalCount)
      assert.is_nil(page.results[1].raw.source)
      assert.equal(core.array_mt, getmetatable(page.results[1].raw.deliveryUrl))
      local jobs = assert(c:all_restore_jobs(G, "dedicated-1200", { endpoint = "dedicated" }))
      assert.equal(1200, #jobs)
      assert.is_nil(jobs[1].source, "the wire record")
      assert.equal(2 + 3, (counts())) -- challenge, the page, then three pages of 500
      local n = 0
      for job in c:restore_jobs(G, "dedicated-0", { endpoint = "dedicated", items_per_page = 2 }) do
        n = n + 1
        assert.is_string(job.targetDeploymentItemName)
      end
      assert.equal(7, n)
      c:close()
    end)

    it("is taken wherever endpoint is taken, also on v1.0", function()
      local c = client { api_version = "v1.0", endpoint = "dedicated" }
      assert.equal(7, #assert(c:all_restore_jobs(G, "dedicated-0")))
      local _, _, stats = counts()
      assert.matches("^/api/atlas/v1%.0/groups/.*/clusters/dedicated%-0/backup/restoreJobs", stats.log[2].uri)
      assert.is_string(assert(c:restore_job(G, "dedicated-0", emulator.DEDICATED_FIXED_JOBS[1])).id)
      assert.equal("dedicated", assert(c:restore_jobs_page(G, "dedicated-0")).endpoint)
      c:close()
    end)

    it("says what a free cluster is, with Atlas's code", function()
      local c = client()
      for _, endpoint in ipairs { "dedicated", "auto" } do
        local jobs, err = c:all_restore_jobs(G, "free-0", { endpoint = endpoint })
        assert.is_nil(jobs)
        assert.equal("TENANT_CLUSTER_BACKUP_UNSUPPORTED", err.errorCode)
        assert.matches("free%-0 likely cannot have restore jobs", err.hint)
      end
      c:close()
    end)
  end)

  describe("restore_jobs_page", function()
    it("gives one routed page in the unified shape, with the endpoint that served it", function()
      local c = client { endpoint = "auto" }
      local page = assert(c:restore_jobs_page(G, "dedicated-1200", { page_num = 2, items_per_page = 500,
        include_count = true }))
      assert.equal("dedicated", page.endpoint)
      assert.equal(500, #page.results)
      assert.equal(core.array_mt, getmetatable(page.results))
      assert.equal(1200, page.totalCount)
      assert.equal("dedicated", page.results[1].source)
      assert.equal("next", page.links[2].rel)
      assert.equal(3, (counts())) -- challenge, Flex's 400, the page
      assert(c:restore_jobs_page(G, "dedicated-1200", { page_num = 3 }))
      assert.equal(4, (counts()))
      local stats = emu:stats()
      assert.matches("pageNum=3$", stats.log[4].uri)
      c:close()
    end)

    it("keeps the unified shape with a fixed endpoint, and the seed's list_restore_jobs unrouted", function()
      local c = client { endpoint = "auto" }
      local page = assert(c:restore_jobs_page(G, "flex-demo", { endpoint = "flex", include_count = false }))
      assert.equal("flex", page.endpoint)
      assert.is_nil(page.totalCount)
      assert.equal(8, #page.results)
      assert.is_string(page.results[1].targetClusterName)
      assert.is_nil(page.results[1].targetDeploymentItemName)
      local wire = assert(c:list_restore_jobs(G, "demo"))
      assert.is_nil(wire.results[1].source)
      assert.is_nil(wire.endpoint)
      c:close()
    end)

    it("checks its query first", function()
      local c = client()
      local page, err = c:restore_jobs_page(G, "demo", { endpoint = "everywhere" })
      assert.is_nil(page)
      assert.equal("INVALID_ARGUMENT", err.errorCode)
      assert.has_error(function() c:restore_jobs_page(G, "demo", { endpoint = 1 }) end)
      assert.has_error(function() c:restore_jobs_page(G, "demo", { status = { "FAILED" } }) end)
      assert.equal(0, (counts()))
      c:close()
    end)
  end)

  describe("restore_job", function()
    local SOURCES = {
      { source = "flex", name = "flex-polling", cold = 1 },
      { source = "serverless", name = "polling", cold = 2 },
      { source = "dedicated", name = "dedicated-0", cold = 2 },
    }
    for _, s in ipairs(SOURCES) do
      it(("gets one %s job, routed like a listing: %d cold request(s), 1 warm"):format(s.source, s.cold), function()
        local c = client { endpoint = "auto" }
        local id = POLLING[s.source].completes
        local job = assert(c:restore_job(G, s.name, id))
        assert.equal(id, job.id)
        assert.equal(s.source, job.source)
        assert.equal("RUNNING", job.status)
        assert.is_false(job.expired)
        assert.equal(1 + s.cold, (counts()))
        assert(c:restore_job(G, s.name, id))
        assert.equal(2 + s.cold, (counts()))
        local wire = assert(c:restore_job(G, s.name, id, { endpoint = s.source }))
        assert.is_nil(wire.source)
        assert.equal(id, wire.id)
        c:close()
      end)
    end

    it("serves the recorded dedicated job's shape, and remembers the route of a listing", function()
      local c = client { endpoint = "auto" }
      assert(c:all_restore_jobs(G, "dedicated-0"))
      local before = counts()
      local job = assert(c:restore_job(G, "dedicated-0", emulator.DEDICATED_FIXED_JOBS[1]))
      assert.equal(before + 1, (counts()))
      local recorded = core.decode(require("support.fixtures").read("dedicated_restore_job_get_200_completed"))
      for k in pairs(recorded) do assert.is_not_nil(job.raw[k], k) end
      for k in pairs(job.raw) do assert.is_not_nil(recorded[k], k) end
      assert.equal("COMPLETED", job.status)
      c:close()
    end)

    it("validates job_id before anything is sent", function()
      local c = client()
      for _, bad in ipairs { "6A7C1E5F2C88FAEBA59D0101", "6a7c1e5f2c88faeba59d010", "6a7c1e5f2c88faeba59d0101/x",
        "../../../../clusters" } do
        local job, err = c:restore_job(G, "polling", bad)
        assert.is_nil(job)
        assert.equal("INVALID_ARGUMENT", err.errorCode)
        assert.equal(0, err.attempts)
      end
      assert.has_error(function() c:restore_job(G, "polling", 42) end,
        "bad argument #3 to 'restore_job' (string expected, got number)")
      assert.has_error(function() c:restore_job(G, "polling", POLLING.serverless.completes, { interval = 1 }) end)
      assert.equal(0, (counts()))
      c:close()
    end)

    it("keeps Atlas's error for an unknown job id, whatever its code", function()
      local c = client { endpoint = "auto" }
      for _, name in ipairs { "flex-polling", "polling", "dedicated-0" } do
        local job, err = c:restore_job(G, name, "6a7c1e5f2c88faeba59dffff")
        assert.is_nil(job)
        assert.equal(404, err.status, name)
        assert.equal("not_found", err.kind)
        assert.is_string(err.errorCode)
      end
      c:close()
    end)
  end)

  describe("wait_restore_job", function()
    -- outcome -> the unified statuses on_change sees, per source.
    local OUTCOMES = {
      serverless = { completes = { "RUNNING", "COMPLETED" }, fails = { "RUNNING", "FAILED" },
        cancelled = { "RUNNING", "CANCELLED" }, expired = { "RUNNING", "EXPIRED" } },
      dedicated = { completes = { "RUNNING", "COMPLETED" }, fails = { "RUNNING", "FAILED" },
        cancelled = { "RUNNING", "CANCELLED" }, expired = { "RUNNING", "EXPIRED" } },
      flex = { completes = { "RUNNING", "COMPLETED" }, fails = { "RUNNING", "FAILED" },
        cancelled = { "PENDING", "FAILED" }, expired = { "QUEUED", "EXPIRED" } },
    }
    local NAMES = { serverless = "polling", dedicated = "dedicated-0", flex = "flex-polling" }
    local COLD = { serverless = 1, dedicated = 1, flex = 0 } -- probe requests before the first poll

    for _, source in ipairs { "serverless", "dedicated", "flex" } do
      for _, outcome in ipairs { "completes", "fails", "cancelled", "expired" } do
        local seen = OUTCOMES[source][outcome]
        it(("polls a %s job that %s until %s"):format(source, outcome, seen[2]), function()
          emu:config { job_polls = 2 }
          local c = client { endpoint = "auto" }
          local changes = {}
          local job = assert(c:wait_restore_job(G, NAMES[source], POLLING[source][outcome], {
            interval = 0.01, on_change = function(j) changes[#changes + 1] = j.status end }))
          assert.equal(seen[2], job.status)
          assert.equal(source, job.source)
          assert.same(seen, changes)
          local requests, _, stats = counts()
          assert.equal(1 + COLD[source] + 3, requests) -- challenge, probe, three polls
          assert.equal(COLD[source] + 3, stats.job_requests)
          c:close()
        end)
      end
    end

    it("returns the wire record with a fixed endpoint, and reads Flex's expiry from the clock", function()
      emu:config { job_polls = 0 }
      local c = client { clock = function() return dates.parse("2026-11-28T00:00:00Z") end }
      local job = assert(c:wait_restore_job(G, "flex-polling", POLLING.flex.expired, { endpoint = "flex" }))
      assert.equal("COMPLETED", job.status, "the link has not run out yet at that time")
      assert.equal("DOWNLOAD", job.deliveryType)
      local auto = assert(c:wait_restore_job(G, "flex-polling", POLLING.flex.expired, { endpoint = "auto" }))
      assert.equal("COMPLETED", auto.status)
      assert.is_false(auto.expired)
      c:close()
    end)

    it("times out with WAIT_TIMEOUT once its own timeout has passed", function()
      emu:config { job_polls = 1000 }
      local c = client()
      local changes = 0
      local t0 = socket.gettime()
      local job, err = c:wait_restore_job(G, "dedicated-0", POLLING.dedicated.completes, {
        endpoint = "dedicated", interval = 0.1, timeout = 0.35, on_change = function() changes = changes + 1 end })
      local elapsed = socket.gettime() - t0
      assert.is_nil(job)
      assert.equal("WAIT_TIMEOUT", err.errorCode)
      assert.equal("timeout", err.kind)
      assert.is_true(elapsed >= 0.35 and elapsed < 1.5, tostring(elapsed))
      assert.is_false(err.job.finishedAt ~= nil)
      assert.equal(1, changes)
      local _, _, stats = counts()
      assert.equal(err.polls, stats.job_requests)
      assert.is_true(err.polls >= 3 and err.polls <= 5, tostring(err.polls))
      assert.matches("did not reach a final status within 0.35 s", tostring(err), 1, true)
      c:close()
    end)

    it("rides out faults while polling: retried within a poll, and, tolerated, a poll that failed", function()
      emu:config { job_polls = 2, faults = { script = { "503", "truncated", "ok", "close", "ok" } } }
      local c = client()
      local changes = {}
      local job = assert(c:wait_restore_job(G, "flex-polling", POLLING.flex.completes, { endpoint = "flex",
        interval = 0.01, on_change = function(j) changes[#changes + 1] = j.status end }))
      assert.equal("COMPLETED", job.status)
      assert.same({ "RUNNING", "COMPLETED" }, changes)
      local requests, _, stats = counts()
      assert.equal(1 + 5, requests)
      assert.equal(3, stats.faults)

      emu:reset()
      emu:config { job_polls = 1, faults = { script = { "503", "503" } } }
      c:close()
      c = client { max_attempts = 2 }
      local failed, err = c:wait_restore_job(G, "polling", POLLING.serverless.fails, { endpoint = "serverless",
        interval = 0.01 })
      assert.is_nil(failed)
      assert.equal(503, err.status, "the failed poll ends the wait")
      assert.equal(1 + 2, (counts())) -- challenge, a poll that failed twice

      emu:reset()
      emu:config { job_polls = 1, faults = { script = { "503", "503" } } }
      job = assert(c:wait_restore_job(G, "polling", POLLING.serverless.fails, { endpoint = "serverless",
        interval = 0.01, tolerate_failures = true }))
      assert.equal(true, job.failed)
      requests = counts()
      assert.equal(1 + 2 + 2, requests) -- challenge (the reset forgot the nonce), a poll that failed twice, two polls
      c:close()
    end)

    it("stops at once on a failure that another poll would meet again", function()
      local c = client()
      local job, err = c:wait_restore_job(G, "dedicated-0", "6a7c1e5f2c88faeba59dffff", { endpoint = "dedicated",
        interval = 0.01 })
      assert.is_nil(job)
      assert.equal(404, err.status)
      assert.equal(2, (counts()))
      c:close()
    end)
  end)

  describe("project_restore_jobs", function()
    -- The mixed project: what each instance holds (mixed-free and mixed-nobackup cannot have jobs).
    local EXPECTED = { { "mixed-dedicated", 3, "dedicated" }, { "mixed-flex", 4, "flex" },
      { "mixed-migrated", 2, "flex" }, { "mixed-serverless", 3, "serverless" }, { "mixed-sharded", 2, "dedicated" } }
    local LISTS, LISTED = 3, 5 + 4 -- the three instance lists; a request per instance, four for mixed-broken

    local function check_jobs(jobs, expected)
      local i = 0
      for _, inst in ipairs(expected) do
        for _ = 1, inst[2] do
          i = i + 1
          assert.equal(inst[1], jobs[i].instance)
          assert.equal(inst[3], jobs[i].source)
          assert.is_true(STATUSES[jobs[i].status])
          assert.is_boolean(jobs[i].expired)
        end
      end
      assert.equal(i, #jobs)
    end

    it("lists every kind side by side, says which instance failed, and skips what cannot have jobs", function()
      local c = client { concurrency = 1 } -- one Digest challenge: exact counts
      local jobs, failures = assert(c:project_restore_jobs(MIXED))
      check_jobs(jobs, EXPECTED)
      assert.equal(1, #failures)
      assert.equal("mixed-broken", failures[1].instance)
      assert.equal("dedicated", failures[1].endpoint)
      assert.equal("UNEXPECTED_ERROR", failures[1].error.errorCode)
      assert.equal(500, failures[1].error.status)
      local requests, challenges, stats = counts()
      assert.equal(1, challenges)
      assert.equal(1 + LISTS + LISTED, requests)
      assert.equal(LISTS, stats.instance_list_requests)
      assert.equal(0, #uris(stats, "mixed%-free"))
      assert.equal(0, #uris(stats, "mixed%-nobackup"))
      assert.equal(0, #uris(stats, "/serverless/mixed%-migrated/"), "listed once, from Flex")
      -- The routes are remembered: one job of a listed instance costs one request.
      assert(c:restore_job(MIXED, "mixed-sharded", jobs[#jobs].id, { endpoint = "auto" }))
      assert.equal(requests + 1, (counts()))
      c:close()
    end)

    for _, answer in ipairs { "404", "410" } do
      it("reads a " .. answer .. " for the whole serverless list as no serverless instances", function()
        emu:config { serverless_list = answer }
        local c = client()
        local jobs, failures = assert(c:project_restore_jobs(MIXED))
        local expected = {}
        for _, inst in ipairs(EXPECTED) do
          if inst[1] ~= "mixed-serverless" then expected[#expected + 1] = inst end
        end
        check_jobs(jobs, expected)
        assert.equal(1, #failures)
        c:close()
      end)
    end

    it("gives an empty project as two empty arrays", function()
      local c = client { concurrency = 1 }
      local jobs, failures = c:project_restore_jobs(emulator.EMPTY_GROUP_ID)
      assert.same({}, jobs)
      assert.same({}, failures)
      assert.equal(1 + LISTS, (counts()))
      c:close()
    end)

    it("is nil, err when the instance lists fail", function()
      local c = client()
      local jobs, err = c:project_restore_jobs("65a1b2c3d4e5f60718293a4e")
      assert.is_nil(jobs)
      assert.equal("GROUP_NOT_FOUND", err.errorCode)
      c:close()
      emu:config { faults = { script = { "503" } } }
      c = client { max_attempts = 1 }
      jobs, err = c:project_restore_jobs(MIXED)
      assert.is_nil(jobs)
      assert.equal("HTTP_503", err.errorCode)
      c:close()
    end)

    it("checks its arguments first", function()
      local c = client()
      local jobs, err = c:project_restore_jobs("nope")
      assert.is_nil(jobs)
      assert.equal("INVALID_ARGUMENT", err.errorCode)
      assert.has_error(function() c:project_restore_jobs(MIXED, { endpoint = "auto" }) end)
      assert.has_error(function() c:project_restore_jobs(MIXED, { concurrency = "2" }) end)
      jobs, err = c:project_restore_jobs(MIXED, { concurrency = 0 })
      assert.is_nil(jobs)
      assert.equal("INVALID_ARGUMENT", err.errorCode)
      assert.equal(0, (counts()))
      c:close()
    end)

    local counting_transport = require("support.curl_spy").counting

    for _, k in ipairs { 2, 3 } do
      it(("keeps at most %d requests in flight with concurrency = %d"):format(k, k), function()
        emu:config { latency = { request = 0.02 } } -- so that requests in flight overlap at the emulator
        local transport = counting_transport()
        local c = client { transport = transport, concurrency = k }
        local jobs, failures = assert(c:project_restore_jobs(MIXED))
        check_jobs(jobs, EXPECTED)
        assert.equal(1, #failures)
        assert.equal(k, transport.most)
        local requests, challenges, stats = counts()
        assert.equal(k, stats.max_in_flight)
        assert.is_true(challenges >= 1 and challenges <= k)
        assert.equal(LISTS + LISTED, requests - challenges)
        c:close()
      end)
    end

    it("pauses every request of the call on a 429", function()
      -- Four restore-job requests pass, the fifth gets a 429 with Retry-After: 1.
      emu:config { rate_limit = { capacity = 4, refill = 100, per = 1 } }
      local k = 3
      local transport = counting_transport()
      local c = client { transport = transport, concurrency = k }
      local jobs, failures = assert(c:project_restore_jobs(MIXED))
      check_jobs(jobs, EXPECTED)
      assert.equal(1, #failures)
      local _, _, stats = counts()
      assert.is_true(stats.rate_limited >= 1 and stats.rate_limited <= 2 * k, tostring(stats.rate_limited))
      local first_429
      for _, entry in ipairs(transport.log) do
        if entry.status == 429 then first_429 = math.min(first_429 or math.huge, entry.finish) end
      end
      -- Once the first 429 is in, no request of the call starts before its Retry-After has passed.
      local started, during = 0, 0
      for _, entry in ipairs(transport.log) do
        if entry.start > first_429 then started = started + 1 end
        if entry.start > first_429 and entry.start < first_429 + 0.95 then during = during + 1 end
      end
      assert.is_true(started > 0)
      assert.equal(0, during)
      c:close()
    end)

    it("filters every instance's jobs", function()
      local c = client()
      local jobs = assert(c:project_restore_jobs(MIXED, { status = { "COMPLETED" }, concurrency = 2 }))
      assert.is_true(#jobs > 0)
      for _, job in ipairs(jobs) do assert.equal("COMPLETED", job.status) end
      local none = assert(c:project_restore_jobs(MIXED, { ["until"] = "2000-01-01" }))
      assert.same({}, none)
      c:close()
    end)
  end)

  describe("filters", function()
    -- demo's seven hand-written jobs: the time each one counts by (finishedAt; createdAt while running;
    -- the snapshot's timestamp for one cancelled with neither).
    local DEMO = {
      ["6a7a1c0e5f1b2c3d4e5f6a01"] = "2026-01-20T09:12:44Z", -- running: createdAt, not its snapshot's 03:05:11
      ["6a7a1c0e5f1b2c3d4e5f6a02"] = "2023-11-15T08:41:09Z",
      ["6a7a1c0e5f1b2c3d4e5f6a03"] = "2026-01-17T14:30:00Z",
      ["6a7a1c0e5f1b2c3d4e5f6a04"] = "2026-01-14T03:04:21Z", -- cancelled, finishedAt null
      ["6a7a1c0e5f1b2c3d4e5f6a05"] = "2026-01-12T18:52:17Z",
      ["6a7a1c0e5f1b2c3d4e5f6a06"] = "2026-01-08T07:15:00Z",
      ["6a7a1c0e5f1b2c3d4e5f6a07"] = "2026-01-05T10:02:31Z",
    }
    local function ids(jobs)
      local out = {}
      for i, job in ipairs(jobs) do out[i] = job.id end
      return out
    end
    local function expected_between(since, before)
      local out = {}
      for _, id in ipairs { "6a7a1c0e5f1b2c3d4e5f6a01", "6a7a1c0e5f1b2c3d4e5f6a02", "6a7a1c0e5f1b2c3d4e5f6a03",
        "6a7a1c0e5f1b2c3d4e5f6a04", "6a7a1c0e5f1b2c3d4e5f6a05", "6a7a1c0e5f1b2c3d4e5f6a06",
        "6a7a1c0e5f1b2c3d4e5f6a07" } do
        local t = dates.parse(DEMO[id])
        if (not since or t >= since) and (not before or t < before) then out[#out + 1] = id end
      end
      return out
    end

    it("keep the jobs of a time window, in Atlas's order", function()
      local c = client { endpoint = "auto" }
      local cases = {
        { { since = "2026-01-12T00:00:00Z" }, dates.parse("2026-01-12T00:00:00Z") },
        { { ["until"] = "2026-01-12T01:00:00+01:00" }, nil, dates.parse("2026-01-12T00:00:00Z") },
        { { since = 1767916800, ["until"] = "2026-01-17T14:30:00Z" }, 1767916800, dates.parse("2026-01-17T14:30:00Z") },
        { { since = "2026-01-14T03:04:21Z", ["until"] = "2026-01-14T03:04:22Z" }, dates.parse("2026-01-14T03:04:21Z"),
          dates.parse("2026-01-14T03:04:22Z") },
        -- a restore running since 09:12 from a snapshot of 03:05
        { { since = "2026-01-20T05:00:00Z" }, dates.parse("2026-01-20T05:00:00Z") },
      }
      for _, case in ipairs(cases) do
        local got = ids(assert(c:all_restore_jobs(G, "demo", case[1])))
        assert.same(expected_between(case[2], case[3]), got)
        assert.is_true(#got > 0)
      end
      assert.same({ "6a7a1c0e5f1b2c3d4e5f6a04" }, ids(assert(c:all_restore_jobs(G, "demo",
        { since = "2026-01-14T03:04:21Z", ["until"] = "2026-01-14T03:04:22Z" }))))
      assert.same({ "6a7a1c0e5f1b2c3d4e5f6a01" }, ids(assert(c:all_restore_jobs(G, "demo",
        { status = { "RUNNING" }, since = "2026-01-20T05:00:00Z" }))))
      -- Flex: a running job by restoreScheduledDate, a finished one by restoreFinishedDate
      local function has(jobs, id)
        for _, j in ipairs(jobs) do if j.id == id then return true end end
        return false
      end
      local wire = assert(c:all_restore_jobs(G, "flex-demo", { endpoint = "flex" }))
      assert.is_true(#wire > 0)
      for _, job in ipairs(wire) do
        local final = job.status == "COMPLETED" or job.status == "FAILED"
        local at = assert(dates.parse(final and job.restoreFinishedDate or job.restoreScheduledDate), job.id)
        assert.is_true(has(assert(c:all_restore_jobs(G, "flex-demo", { since = at, ["until"] = at + 1 })), job.id))
        assert.is_false(has(assert(c:all_restore_jobs(G, "flex-demo", { since = at + 1 })), job.id))
      end
      c:close()
    end)

    it("keep the statuses asked, on every listing, wire records included", function()
      local c = client { endpoint = "auto" }
      assert.same({ "6a7a1c0e5f1b2c3d4e5f6a05" }, ids(assert(c:all_restore_jobs(G, "demo",
        { status = { "FAILED" } }))))
      assert.same({ "6a7a1c0e5f1b2c3d4e5f6a04", "6a7a1c0e5f1b2c3d4e5f6a06" }, ids(assert(c:all_restore_jobs(G, "demo",
        { status = { "CANCELLED", "EXPIRED" } }))))
      local flex = assert(c:all_restore_jobs(G, "flex-demo", { endpoint = "flex", status = { "FAILED" } }))
      assert.same({ "6a7b0d1e2c88faeba59c0005" }, ids(flex))
      assert.equal("FAILED", flex[1].status)
      assert.is_string(flex[1].targetDeploymentItemName, "still the wire record")
      local expired = assert(c:all_restore_jobs(G, "flex-demo", { endpoint = "flex", status = { "EXPIRED" } }))
      assert.same({ "6a7b0d1e2c88faeba59c0007" }, ids(expired), "the unified status, from the clock")
      local cancelled = assert(c:all_restore_jobs(G, "dedicated-1200", { endpoint = "dedicated",
        status = { "CANCELLED" } }))
      assert.equal(34, #cancelled) -- every 35th
      for _, job in ipairs(cancelled) do assert.is_true(job.cancelled) end
      local n = 0
      for job in c:restore_jobs(G, "flex-demo", { status = { "PENDING", "QUEUED" } }) do
        n = n + 1
        assert.is_truthy(job.status == "PENDING" or job.status == "QUEUED")
      end
      assert.equal(2, n)
      n = 0
      for _ in c:restore_jobs(G, "dedicated-0", { endpoint = "dedicated", status = { "RUNNING" } }) do n = n + 1 end
      assert.equal(4, n)
      c:close()
    end)

    it("never change which pages are fetched", function()
      local c = client()
      assert(c:all_restore_jobs(G, "jobs-1000"))
      local plain, _, stats = counts()
      local plain_uris = uris(stats, "restoreJobs")
      emu:reset()
      c:close()
      c = client()
      local failed = assert(c:all_restore_jobs(G, "jobs-1000", { status = { "FAILED" }, since = "2025-12-01" }))
      assert.equal(40, #failed) -- every 25th
      local filtered, _, filtered_stats = counts()
      assert.equal(plain, filtered)
      assert.same(plain_uris, uris(filtered_stats, "restoreJobs"))
      assert.same({}, assert(c:all_restore_jobs(G, "jobs-1000", { since = "2030-01-01" })))
      c:close()
    end)

    it("refuse bad values before anything is sent", function()
      local c = client()
      for _, opts in ipairs { { status = { "DONE" } }, { since = "last night" }, { since = 2, ["until"] = 1 } } do
        local jobs, err = c:all_restore_jobs(G, "demo", opts)
        assert.is_nil(jobs)
        assert.equal("INVALID_ARGUMENT", err.errorCode)
      end
      assert.has_error(function() c:all_restore_jobs(G, "demo", { status = "FAILED" }) end)
      assert.has_error(function() c:restore_jobs(G, "demo", { since = {} }) end)
      assert.equal(0, (counts()))
      c:close()
    end)
  end)

  describe("a script written against the seed's fields", function()
    -- Only the seed's names, as a cron job of 2025 reads them; unchanged for every source.
    local function seed_report(c, group, name)
      local lines = {}
      for job in c:restore_jobs(group, name) do
        local state
        if job.cancelled then
          state = "cancelled"
        elseif job.failed then
          state = "failed"
        elseif job.expired then
          state = "expired"
        elseif job.finishedAt then
          state = "done"
        else
          state = "running"
        end
        assert(job.expired == false or job.expired == true)
        assert(job.cancelled == false or job.cancelled == true)
        local urls = 0
        if job.deliveryType == "download" then urls = #job.deliveryUrl end
        assert(job.id:match("^%x+$") and job.targetClusterName and job.targetGroupId:match("^%x+$"))
        assert(job.timestamp:match("^%d%d%d%d%-%d%d%-%d%dT"))
        lines[#lines + 1] = table.concat({ job.id:sub(-4), job.deliveryType, state, tostring(urls) }, " ")
      end
      return lines
    end

    it("runs unchanged over a Flex, a serverless and a dedicated instance", function()
      local c = client { endpoint = "auto" }
      assert.same({ "0001 automated running 0", "0002 download running 1", "0003 automated running 0",
        "0004 download running 1", "0005 automated failed 0", "0006 automated done 0", "0007 download expired 1",
        "0008 automated done 0" }, seed_report(c, G, "flex-demo"))
      assert.same({ "6a01 automated running 0", "6a02 pointInTime done 0", "6a03 download done 2",
        "6a04 automated cancelled 0", "6a05 pointInTime failed 0", "6a06 download expired 1",
        "6a07 automated done 0" }, seed_report(c, G, "demo"))
      assert.same({ "0301 automated running 0", "0302 automated running 0", "0303 automated running 0",
        "0304 download running 0", "0311 automated done 0", "0312 download done 1", "0313 pointInTime done 0" },
        seed_report(c, G, "dedicated-0"))
      c:close()
    end)
  end)
end)
