-- How max_attempts, the backoff and the deadline share a call's retry budget, in
-- virtual time: without a deadline of the caller's own, max_attempts attempts; with
-- one, retries go on (capped exponential backoff) while it leaves room. The jitter
-- is pinned (math.random) so that every request count is exact.
local fake = require "support.fake_transport"

local GROUP = "65a1b2c3d4e5f60718293a4b"
local START = 1000 -- the fake transport's clock at its start

local client_on = fake.client

-- Every request fails as `failure` until `seconds` after the start, then succeeds.
local function outage(seconds, failure)
  return function(_, t)
    if t.clock < START + seconds then return failure end
    return fake.OK
  end
end

local DOWN = { code = "CONNECT_FAILED", message = "Connection refused" }

local function list(client) return client:list_restore_jobs(GROUP, "demo") end

describe("the retry budget", function()
  local random = math.random
  local pinned
  before_each(function()
    pinned = 0.5 -- each wait is half its exponential bound: 0.25, 0.5, 1, 2, 4, 8, 15, 15, ... s
    math.random = function() return pinned end -- luacheck: ignore 122
  end)
  after_each(function() math.random = random end) -- luacheck: ignore 122

  it("is max_attempts attempts without a deadline of the caller's: a 2 s outage fails the call", function()
    local client, t = client_on(outage(2, DOWN))
    local page, err = list(client)
    assert.is_nil(page)
    assert.equal("CONNECT_FAILED", err.errorCode)
    assert.equal(4, err.attempts)
    assert.equal(4, #t.log)
  end)

  it("goes on past max_attempts within a long deadline: the same outage is ridden out", function()
    local client, t = client_on(outage(2, DOWN), { deadline = 60 })
    local page = assert(list(client))
    assert.equal(2, #page.results)
    assert.equal(5, #t.log)
    assert.is_true(t.log[5].at >= START + 2)
  end)

  it("rides out a 60 s outage of 5xx within a 120 s deadline, its waits capped at retry_max_delay", function()
    local client, t = client_on(outage(60, fake.api_error(503, "SERVICE_UNAVAILABLE")), { deadline = 120 })
    assert(list(client))
    assert.equal(10, #t.log)
    for n = 9, 10 do
      local gap = t.log[n].at - t.log[n - 1].at
      assert.is_true(math.abs(gap - 15.01) < 0.001, ("gap %d is %.3f"):format(n, gap))
    end
  end)

  it("starts no wait that would pass a short deadline, max_attempts or not", function()
    local client, t = client_on(outage(2, DOWN), { deadline = 3 })
    local _, err = list(client)
    assert.equal("CONNECT_FAILED", err.errorCode)
    assert.equal(4, #t.log, "the fifth would start 3.8 s after the first")
    client, t = client_on(outage(100, DOWN), { deadline = 3, max_attempts = 10 })
    _, err = list(client)
    assert.equal(4, err.attempts)
    assert.equal(4, #t.log)
  end)

  it("retries no failure that is not transient, whatever the deadline", function()
    local client, t = client_on(outage(100, fake.api_error(400, "INVALID_QUERY_PARAMETER")), { deadline = 600 })
    local _, err = list(client)
    assert.equal("refused", err.kind)
    assert.equal(1, #t.log)
  end)

  it("sleeps no wait of zero length", function()
    pinned = 0
    local client, t = client_on(outage(0.025, fake.api_error(503, "SERVICE_UNAVAILABLE")))
    local sleeps, sleep = {}, t.sleep
    t.sleep = function(self, seconds)
      sleeps[#sleeps + 1] = seconds
      return sleep(self, seconds)
    end
    assert(list(client))
    assert.equal(4, #t.log)
    assert.same({}, sleeps)
  end)
end)
