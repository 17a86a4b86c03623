-- A cold start inside nginx, 4 workers with an API key: a burst of 50 listings with
-- endpoint "auto" on fresh workers costs each worker one Digest challenge and one
-- probe of the instance, which its other listings wait for; warm workers ask neither.
local cjson = require "cjson"
local nginx_host = require "support.nginx_host"

local FLEX = "/flexClusters/demo/backup/restoreJobs"
local SERVERLESS = "/serverless/demo/backup/restoreJobs"

describe("4 fresh nginx workers with an API key", function()
  local emu, host

  nginx_host.around(function(e, h) emu, host = e, h end, { workers = 4 })

  -- 50 listings of `demo` at once through "auto", a client each; every one lists its 7
  -- jobs from the serverless endpoint. Returns the number of workers that served them.
  local function burst()
    local requests = {}
    for i = 1, 50 do requests[i] = { path = "/list?" .. nginx_host.query { name = "demo", endpoint = "auto" } } end
    local workers, pids = 0, {}
    for _, answer in ipairs(host:burst(requests)) do
      assert.equal(200, answer.status)
      local out = cjson.decode(answer.body)
      assert.is_nil(out.raised)
      assert.is_nil(out.err)
      assert.equal(7, out.count)
      assert.equal("serverless", out.first.source)
      if not pids[out.pid] then pids[out.pid], workers = true, workers + 1 end
    end
    return workers
  end

  -- The emulator's log entries whose URI contains `path` and whose status is `status`.
  local function answered(stats, path, status)
    local n = 0
    for _, entry in ipairs(stats.log) do
      if entry.uri:find(path, 1, true) and entry.status == status then n = n + 1 end
    end
    return n
  end

  it("send one challenge and one probe per worker for a burst of 50 listings", function()
    -- Every answer takes a while: the burst is in while the first listing of each worker asks.
    emu:config { latency = { request = 0.2 } }
    local workers = burst()
    assert.is_true(workers >= 2, "the burst spread over the workers")
    local stats = emu:stats()
    assert.is_true(stats.challenges <= 4, stats.challenges)
    assert.equal(workers, stats.challenges)
    assert.equal(workers, answered(stats, FLEX, 401), "the challenge's request")
    assert.equal(workers, answered(stats, FLEX, 404), "Flex does not know demo: one probe a worker")
    assert.equal(50, answered(stats, SERVERLESS, 200))
    assert.equal(50 + 2 * workers, stats.requests)
  end)

  it("once warm, send neither a challenge nor a probe", function()
    -- (A reset would make the emulator forget the workers' nonces.)
    local before = emu:stats()
    burst()
    local stats = emu:stats()
    assert.equal(0, stats.challenges - before.challenges)
    assert.equal(0, answered(stats, FLEX, 404) - answered(before, FLEX, 404))
    assert.equal(50, stats.requests - before.requests)
  end)

  it("leaves no problem in nginx's error log", function()
    assert.same({}, host:problems())
  end)
end)
