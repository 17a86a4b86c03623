-- Beyond one project, against the emulator: the projects the credentials see (every
-- page), an organisation's restore jobs with their project, each project's own rate
-- bucket, partial failures; and a project listing handed out per instance, in order.
local emulator = require "support.emulator"
local socket = require "socket"

describe("an organisation", function()
  local emu

  lazy_setup(function() emu = emulator.start() end)
  lazy_teardown(function() if emu then emu:stop() end end)
  before_each(function() emu:reset() end)

  local VISIBLE = { emulator.GROUP_ID, emulator.MIXED_GROUP_ID, emulator.EMPTY_GROUP_ID, emulator.TEAM_ALPHA_ID,
    emulator.TEAM_BETA_ID }

  local function ids(records)
    local out = {}
    for i, r in ipairs(records) do out[i] = r.id end
    return out
  end

  it("lists the projects the credentials see, one page of 500, or of two at a time", function()
    local client = emu:client()
    local all = assert(client:projects())
    assert.same(VISIBLE, ids(all))
    assert.equal("team-alpha", all[4].name)
    assert.equal(emulator.TEAM_ORG_ID, all[4].orgId)
    assert.equal(1, emu:stats().project_list_requests)
    emu:reset()
    assert.same(VISIBLE, ids(assert(client:projects { items_per_page = 2 })))
    assert.equal(3, emu:stats().project_list_requests)
    client:close()
  end)

  it("lists one organisation's projects, and says when it does not exist", function()
    local client = emu:client()
    assert.same({ emulator.TEAM_ALPHA_ID, emulator.TEAM_BETA_ID },
      ids(assert(client:projects { org_id = emulator.TEAM_ORG_ID })))
    assert.same({ emulator.BIG_GROUP_ID }, ids(assert(client:projects { org_id = emulator.BENCH_ORG_ID })))
    local none, err = client:projects { org_id = "65a1b2c3d4e5f60718293bff" }
    assert.is_nil(none)
    assert.equal("ORG_NOT_FOUND", err.errorCode)
    assert.equal("not_found", err.kind)
    local bad
    bad, err = client:projects { org_id = "nope" }
    assert.is_nil(bad)
    assert.equal("INVALID_ARGUMENT", err.errorCode)
    assert.has_error(function() client:projects { orgId = emulator.TEAM_ORG_ID } end)
    client:close()
  end)

  it("lists every job of an organisation with its project, and each failed instance", function()
    local client = emu:client()
    local jobs, failures, projects = client:organisation_restore_jobs { org_id = emulator.TEAM_ORG_ID }
    assert.is_table(jobs)
    assert.same({ emulator.TEAM_ALPHA_ID, emulator.TEAM_BETA_ID }, ids(projects))
    local per = {}
    for _, job in ipairs(jobs) do
      local key = job.projectName .. "/" .. job.instance
      per[key] = (per[key] or 0) + 1
      assert.equal(job.projectName == "team-alpha" and emulator.TEAM_ALPHA_ID or emulator.TEAM_BETA_ID, job.project)
    end
    assert.same({ ["team-alpha/orders"] = 7, ["team-alpha/reports"] = 8, ["team-beta/archive"] = 30,
      ["team-beta/ledger"] = 3 }, per)
    -- In the projects' order, then the instances' names.
    assert.equal("orders", jobs[1].instance)
    assert.equal("ledger", jobs[#jobs].instance)
    assert.equal(1, #failures)
    assert.same({ emulator.TEAM_BETA_ID, "team-beta", "ledger-broken", "dedicated", "server" },
      { failures[1].project, failures[1].projectName, failures[1].instance, failures[1].endpoint,
        failures[1].error.kind })
    client:close()
  end)

  it("reports a project whose instance lists fail, and lists the others", function()
    local client = emu:client { max_attempts = 1 }
    -- The first project's serverless list answers 410 after the sunset: not a failure.
    emu:config { serverless_list = "410" }
    local jobs, failures = client:organisation_restore_jobs { org_id = emulator.TEAM_ORG_ID, status = { "FAILED" } }
    assert.equal(1, #failures)
    local failed = {}
    for _, job in ipairs(jobs) do failed[#failed + 1] = job.projectName .. "/" .. job.instance .. "/" .. job.status end
    assert.same({ "team-alpha/reports/FAILED" }, failed, "the filter applies, and serverless instances are gone")
    client:close()
  end)

  it("hands out each instance's jobs in order, with the number of jobs", function()
    local client = emu:client()
    local seen = {}
    local count, failures = client:organisation_restore_jobs { org_id = emulator.TEAM_ORG_ID,
      on_instance = function(name, jobs, project) seen[#seen + 1] = ("%s/%s:%d"):format(project.name, name, #jobs) end }
    assert.equal(48, count)
    assert.equal(1, #failures)
    assert.same({ "team-alpha/orders:7", "team-alpha/reports:8", "team-beta/archive:30", "team-beta/ledger:3" }, seen)
    client:close()
  end)

  it("lists projects in parallel, each within its own bucket: no 429 where one bucket would refuse", function()
    -- 6 projects of 2 instances of one page; a bucket of 2 tokens a project, never refilled in time.
    emu:config { fleet = { projects = 6, instances = 2, jobs = 3 }, latency = { request = 0.05 },
      rate_limit = { capacity = 2, refill = 1, per = 3600 } }
    local client = emu:client()
    local started = socket.gettime()
    local jobs, failures = client:organisation_restore_jobs { org_id = emulator.FLEET_ORG_ID, project_concurrency = 6 }
    local seconds = socket.gettime() - started
    assert.equal(36, #jobs)
    assert.same({}, failures)
    local stats = emu:stats()
    assert.equal(0, stats.rate_limited)
    assert.equal(12, stats.list_requests)
    -- Sequential projects would take 6 x 2 rounds of 50 ms; parallel ones about 3 rounds.
    assert.is_true(stats.max_in_flight > 4, "projects in parallel: " .. stats.max_in_flight)
    assert.is_true(seconds < 0.6, seconds .. " s")
    client:close()
  end)
end)

describe("a project listing handed out per instance", function()
  local emu

  lazy_setup(function() emu = emulator.start() end)
  lazy_teardown(function() if emu then emu:stop() end end)

  -- The mixed project handed out through the option `callback` ("on_instance" or "on_jobs"): the
  -- same jobs as the whole listing, each instance's together, instances in the order of names.
  -- project_restore_jobs with `callback` raising on its first call: the listing
  -- stops there and raises what the callback raised.
  local function stops_at_the_first_raise(client, group_id, callback)
    local calls = 0
    local ok, err = pcall(client.project_restore_jobs, client, group_id, { [callback] = function()
      calls = calls + 1
      error({ stop = true }, 0)
    end })
    assert.is_false(ok)
    assert.same({ stop = true }, err)
    assert.equal(1, calls)
  end

  local function hands_out_the_whole_listing(callback)
    local client = emu:client { concurrency = 2 }
    local whole, whole_failures = client:project_restore_jobs(emulator.MIXED_GROUP_ID)
    local names, streamed, calls = {}, {}, 0
    local count, failures = client:project_restore_jobs(emulator.MIXED_GROUP_ID, {
      [callback] = function(name, jobs)
        calls = calls + 1
        if names[#names] ~= name then names[#names + 1] = name end
        for _, job in ipairs(jobs) do
          assert.equal(name, job.instance)
          streamed[#streamed + 1] = job.id
        end
      end })
    assert.same({ "mixed-dedicated", "mixed-flex", "mixed-migrated", "mixed-serverless", "mixed-sharded" }, names)
    if callback == "on_instance" then assert.equal(#names, calls) end -- whole instances, each once
    assert.equal(#whole, count)
    local whole_ids = {}
    for i, job in ipairs(whole) do whole_ids[i] = job.id end
    assert.same(whole_ids, streamed)
    assert.equal(#whole_failures, #failures)
    assert.equal("mixed-broken", failures[1].instance)
    client:close()
  end

  it("gives every instance's jobs once, in the order of names, the same jobs as the whole listing", function()
    hands_out_the_whole_listing("on_instance")
  end)

  it("hands out the first instances before the last one is listed", function()
    -- jobs-10000 is 20 pages; with two instances at a time, demo's 7 jobs come first.
    emu:config { latency = { request = 0.02 } }
    local client = emu:client { concurrency = 2 }
    local first
    local started = socket.gettime()
    client:project_restore_jobs(emulator.GROUP_ID, { status = { "RUNNING" }, on_instance = function()
      first = first or socket.gettime() - started
    end })
    local total = socket.gettime() - started
    assert.is_true(first < total / 2, ("the first instance at %.3f s of %.3f s"):format(first, total))
    client:close()
  end)

  it("stops and raises what the callback raises, with nothing left in flight", function()
    local client = emu:client { concurrency = 3 }
    stops_at_the_first_raise(client, emulator.MIXED_GROUP_ID, "on_instance")
    -- The client still works: nothing of the stopped listing comes back.
    assert.equal(7, #assert(client:all_restore_jobs(emulator.GROUP_ID, "demo")))
    client:close()
  end)

  describe("a page at a time (on_jobs)", function()
    before_each(function() emu:reset() end)

    local counting_transport = require("support.curl_spy").counting

    -- The restore-job pages that came back so far.
    local function pages_of(transport)
      local n = 0
      for _, entry in ipairs(transport.log) do
        if entry.status == 200 and entry.url:find("/backup/restoreJobs", 1, true) then n = n + 1 end
      end
      return n
    end

    it("hands out the same jobs as the whole listing, every page of an instance before the next's", function()
      hands_out_the_whole_listing("on_jobs")
    end)

    it("holds a few pages an instance, with `concurrency` requests in flight and none past the end", function()
      -- 8 Flex clusters of 4 pages of 500 jobs, 4 at a time: the head changes often.
      local INSTANCES, PAGES, K = 8, 4, 4
      emu:config { fleet = { projects = 1, instances = INSTANCES, jobs = PAGES * 500 }, latency = { request = 0.01 } }
      local transport = counting_transport()
      local client = emu:client { transport = transport, concurrency = K }
      local order, handed, most_ahead = {}, 0, 0
      local count, failures = client:project_restore_jobs(emulator.FLEET_PREFIX .. "00000001", {
        on_jobs = function(name, jobs)
          assert.equal(500, #jobs)
          if order[#order] ~= name then order[#order + 1] = name end
          handed = handed + 1
          -- Ahead of this page: the head's window (K) and two pages of each instance behind it.
          most_ahead = math.max(most_ahead, pages_of(transport) - handed)
        end })
      assert.equal(INSTANCES * PAGES * 500, count)
      assert.same({}, failures)
      assert.same({ "fleet-1", "fleet-2", "fleet-3", "fleet-4", "fleet-5", "fleet-6", "fleet-7", "fleet-8" }, order)
      assert.is_true(most_ahead <= K + 2 * (K - 1), "pages fetched ahead of those handed out: " .. most_ahead)
      assert.equal(K, transport.most)
      assert.equal(INSTANCES * PAGES, emu:stats().list_requests)
      client:close()
    end)

    it("stops and raises what the callback raises, with nothing left in flight", function()
      emu:config { fleet = { projects = 1, instances = 4, jobs = 2000 }, latency = { request = 0.01 } }
      local client = emu:client { concurrency = 3 }
      stops_at_the_first_raise(client, emulator.FLEET_PREFIX .. "00000001", "on_jobs")
      socket.sleep(0.1) -- what was cancelled on its way has reached the emulator
      local function fleet_requests()
        local n = 0
        for _, entry in ipairs(emu:stats().log) do
          if entry.uri:find("/fleet-", 1, true) then n = n + 1 end
        end
        return n
      end
      local stopped = fleet_requests()
      assert.is_true(stopped <= 3 * 2, "at most two pages an instance: " .. stopped)
      -- The client still works, and nothing of the stopped listing is asked for when it runs again.
      assert.equal(7, #assert(client:all_restore_jobs(emulator.GROUP_ID, "demo")))
      assert.equal(stopped, fleet_requests())
      client:close()
    end)
  end)
end)
