-- Parallel pages against the emulator, counted there: requests, connections,
-- requests in flight, challenges and tokens; faults and the shared 429 pause.
local atlasrestore = require "atlasrestore"
local emulator = require "support.emulator"

-- The original endpoint's page and request counts: pinned, now that the default is "auto".
local function serverless(opts)
  if opts.endpoint == nil then opts.endpoint = "serverless" end
  return opts
end

describe("parallel pages", function()
  local emu

  lazy_setup(function() emu = emulator.start() end)
  lazy_teardown(function() if emu then emu:stop() end end)
  before_each(function() emu:reset() end)

  local SIZES = { empty = 0, demo = 7, ["jobs-499"] = 499, ["jobs-500"] = 500, ["jobs-501"] = 501,
    ["jobs-10000"] = 10000 }

  local function all_once(jobs, n)
    local seen = {}
    for _, job in ipairs(jobs) do
      assert.is_nil(seen[job.id], "listed twice: " .. job.id)
      seen[job.id] = true
    end
    assert.equal(n, #jobs)
  end

  for _, k in ipairs { 1, 8 } do
    it(("cost max(1, ceil(N/500)) pages and one challenge at k = %d, on one client"):format(k), function()
      local client = emu:client(serverless { concurrency = k })
      local pages = 0
      for name, n in pairs(SIZES) do
        all_once(assert(client:all_restore_jobs(emu.group_id, name)), n)
        pages = pages + math.max(1, math.ceil(n / 500))
      end
      local stats = emu:stats()
      assert.equal(pages + 1, stats.requests)
      assert.equal(1, stats.challenges)
      assert.is_true(stats.connections <= k, stats.connections .. " connections")
      assert.is_true(stats.max_in_flight <= k)
      if k == 1 then assert.equal(1, stats.connections, "a sequential listing uses one connection") end
      client:close()
    end)
  end

  it("cost one token request with a service account, at k = 8", function()
    local client = emu:client(serverless { client_id = emu.client_id, client_secret = emu.client_secret,
      concurrency = 8 })
    all_once(assert(client:all_restore_jobs(emu.group_id, "jobs-10000")), 10000)
    local stats = emu:stats()
    assert.equal(1, stats.tokens)
    assert.equal(20 + 1, stats.requests)
    assert(client:close())
  end)

  it("keep k requests in flight on a slow server, and list in Atlas's order", function()
    emu:config { latency = { request = 0.05 } }
    local client = emu:client(serverless { concurrency = 8 })
    local jobs = assert(client:all_restore_jobs(emu.group_id, "jobs-10000"))
    local reference = assert(emu:client(serverless {}):all_restore_jobs(emu.group_id, "jobs-10000"))
    for i = 1, #reference do assert.equal(reference[i].id, jobs[i].id) end
    assert.equal(8, emu:stats().max_in_flight)
    client:close()
  end)

  it("cost at most one extra request per request in flight when the nonce goes stale", function()
    emu:config { latency = { request = 0.03 }, nonce_ttl = 0.1 }
    local client = emu:client(serverless { concurrency = 8 })
    all_once(assert(client:all_restore_jobs(emu.group_id, "jobs-10000")), 10000)
    local stats = emu:stats()
    assert.is_true(stats.challenges >= 2, "the nonce went stale during the listing")
    assert.is_true(stats.requests <= 20 + 1 + 8 * (stats.challenges - 1), stats.requests .. " requests for "
      .. stats.challenges .. " challenges")
    client:close()
  end)

  it("list every job once under 10% faults at k = 8", function()
    emu:config { faults = { seed = 11, rate = 0.1, kinds = { "429", "503", "truncated", "close" }, retry_after = 1 } }
    local client = emu:client(serverless { concurrency = 8, retry_base_delay = 0.05 })
    all_once(assert(client:all_restore_jobs(emu.group_id, "jobs-10000")), 10000)
    assert.is_true(emu:stats().faults > 0)
    client:close()
  end)

  it("fail the listing with a page's error and leave no transfer running", function()
    emu:config { latency = { request = 0.05 }, faults = { script = { "ok", "ok", "ok", "503" } } }
    local transport = require("atlasrestore.transport.curl").new {}
    local client = emu:client(serverless { concurrency = 4, max_attempts = 1, transport = transport })
    local jobs, err = client:all_restore_jobs(emu.group_id, "jobs-10000")
    assert.is_nil(jobs)
    assert.equal(503, err.status)
    assert.equal("server", err.kind)
    assert.equal(0, transport.multi:pending())
    client:close()
  end)

  it("hold every request of the listing while a 429 waits out its Retry-After", function()
    emu:config { faults = { script = { "ok", "ok", "ok", "ok", "429" }, retry_after = 1 } }
    local client = emu:client(serverless { concurrency = 4 })
    all_once(assert(client:all_restore_jobs(emu.group_id, "jobs-10000")), 10000)
    local log, limited = emu:stats().log, nil
    for _, entry in ipairs(log) do
      if entry.status == 429 then limited = entry.time end
    end
    assert.is_number(limited)
    for _, entry in ipairs(log) do
      assert.is_false(entry.time > limited + 0.15 and entry.time < limited + 0.9,
        ("a request %.2f s after the 429"):format(entry.time - limited))
    end
    client:close()
  end)

  it("keep fewer requests in flight while RateLimit-Remaining is below k", function()
    emu:config { rate_limit = { capacity = 3, refill = 500, per = 1 }, latency = { request = 0.02 } }
    local client = emu:client(serverless { concurrency = 8 })
    all_once(assert(client:all_restore_jobs(emu.group_id, "jobs-10000")), 10000)
    assert.is_true(emu:stats().max_in_flight <= 3, emu:stats().max_in_flight .. " in flight")
    client:close()
  end)

  it("take concurrency per call and as a client default, and refuse a bad one", function()
    emu:config { latency = { request = 0.05 } }
    local client = emu:client(serverless {})
    assert(client:all_restore_jobs(emu.group_id, "jobs-10000", { concurrency = 4 }))
    assert.equal(4, emu:stats().max_in_flight)
    local _, err = client:all_restore_jobs(emu.group_id, "demo", { concurrency = 0 })
    assert.equal("INVALID_ARGUMENT", err.errorCode)
    assert.is_nil(atlasrestore.new { access_token = "t", concurrency = 33 })
    client:close()
  end)
end)
