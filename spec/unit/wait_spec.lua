-- wait_restore_job in virtual time: a poll that still fails after its retries ends
-- the wait at once with its own error (not WAIT_TIMEOUT an hour later), unless the
-- caller tolerates failing polls; on_change gets the unified status of every job, the
-- wire records of serverless instances included.
local fake = require "support.fake_transport"

local GROUP = "65a1b2c3d4e5f60718293a4b"
local JOB = ("6a"):rep(12)
local JOB_PATH = "/api/atlas/v2/groups/" .. GROUP .. "/serverless/demo/backup/restoreJobs/" .. JOB

local client_on = fake.client

local RUNNING = fake.json(200, { id = JOB, deliveryType = "RESTORE", targetClusterName = "t" })
local function finished(fields)
  local job = { id = JOB, deliveryType = "RESTORE", targetClusterName = "t", finishedAt = "2026-01-02T03:04:05Z" }
  for k, v in pairs(fields or {}) do job[k] = v end
  return fake.json(200, job)
end

--- A handler that plays `answers` in order, then repeats the last one.
local function script(answers)
  local i = 0
  return function()
    i = math.min(i + 1, #answers)
    return answers[i]
  end
end

local function wait(client, opts)
  local plan = { endpoint = "serverless", interval = 10 }
  for k, v in pairs(opts or {}) do plan[k] = v end
  return client:wait_restore_job(GROUP, "demo", JOB, plan)
end

local STORMS = {
  { "an unreachable host", { code = "CONNECT_FAILED", message = "Connection refused" }, "CONNECT_FAILED", "network" },
  { "a DNS failure", { code = "CONNECT_FAILED", message = "Could not resolve host: atlas.test" }, "CONNECT_FAILED",
    "network" },
  { "a 429 storm", fake.api_error(429, "RATE_LIMITED", nil, { ["retry-after"] = "1" }), "RATE_LIMITED",
    "rate_limited" },
  { "persistent 5xx", fake.api_error(503, "SERVICE_UNAVAILABLE"), "SERVICE_UNAVAILABLE", "server" },
  { "malformed bodies", { status = 200, body = '{"id": "' }, "BAD_RESPONSE", "bad_response" },
}

describe("wait_restore_job", function()
  for _, storm in ipairs(STORMS) do
    it("ends at the first poll that fails after its retries, with its error, for " .. storm[1], function()
      local client, t = client_on(script { RUNNING, storm[2] })
      local started = t:now()
      local job, err = wait(client, { timeout = 3600 })
      assert.is_nil(job)
      assert.equal(storm[3], err.errorCode)
      assert.equal(storm[4], err.kind)
      assert.equal(4, err.attempts)
      assert.equal(1 + 4, #t.log, "one poll that answered, then one poll of 4 attempts")
      assert.is_true(t:now() - started < 10 + 4 * 1.01 + 3.5, "within the retry budget")
    end)
  end

  it("polls on through failures with tolerate_failures, to the final job", function()
    local down = { code = "CONNECT_FAILED", message = "Connection refused" }
    local answers = { RUNNING }
    for i = 2, 9 do answers[i] = down end -- two failed polls of 4 attempts
    answers[10] = finished()
    local client, t = client_on(script(answers))
    local job = wait(client, { timeout = 3600, tolerate_failures = true })
    assert.equal(JOB, job.id)
    assert.equal("2026-01-02T03:04:05Z", job.finishedAt)
    assert.equal(10, #t.log)
  end)

  it("times out with tolerate_failures as WAIT_TIMEOUT, the last failure its cause and the last job kept", function()
    local client, t = client_on(script { RUNNING, fake.api_error(503, "SERVICE_UNAVAILABLE") })
    local job, err = wait(client, { timeout = 60, tolerate_failures = true })
    assert.is_nil(job)
    assert.equal("WAIT_TIMEOUT", err.errorCode)
    assert.equal("timeout", err.kind)
    assert.equal("SERVICE_UNAVAILABLE", err.cause.errorCode)
    assert.equal(JOB, err.job.id)
    assert.matches("last status RUNNING", err.message, 1, true)
    assert.is_true(err.polls >= 2)
    assert.is_true(#t.log > 4)
  end)

  it("times out as WAIT_TIMEOUT when the wait's end cuts a slow poll short", function()
    local polls = 0
    local client = client_on(function()
      polls = polls + 1
      if polls == 1 then return RUNNING end
      -- Every later answer would come after the wait's end.
      return { status = 200, headers = RUNNING.headers, body = RUNNING.body, latency = 100 }
    end)
    local job, err = wait(client, { timeout = 30, interval = 5 })
    assert.is_nil(job)
    assert.equal("WAIT_TIMEOUT", err.errorCode)
    assert.equal(JOB, err.job.id)
  end)

  it("ends at a lasting failure even with tolerate_failures", function()
    local client, t = client_on(script { RUNNING, fake.api_error(401, "NOT_AUTHORIZED") },
      { access_token = "ready-token-0001" })
    local _, err = wait(client, { timeout = 3600, tolerate_failures = true })
    assert.equal("auth", err.kind)
    assert.equal(2, #t.log)
  end)

  it("gives on_change the unified status of a serverless wire record, which has none", function()
    for _, case in ipairs { { finished(), "COMPLETED" }, { finished { failed = true }, "FAILED" } } do
      local changes = {}
      local client = client_on(script { RUNNING, case[1] })
      local job, second = wait(client, { timeout = 3600, on_change = function(j, s)
        changes[#changes + 1] = { id = j.id, status = s, wire = j.status }
      end })
      assert.is_nil(job.status, "the wire record as Atlas sent it")
      assert.is_nil(second, "nothing that `local job, err =` would take for an error")
      assert.same({ { id = JOB, status = "RUNNING" }, { id = JOB, status = case[2] } }, changes)
    end
  end)

  it("rejects a tolerate_failures that is not a boolean at the caller's line", function()
    local client = client_on(script { RUNNING })
    assert.has_error(function() wait(client, { tolerate_failures = "yes" }) end,
      "bad argument #4 to 'wait_restore_job' (tolerate_failures: boolean expected, got string)")
  end)
end)

-- The request the first poll went to, so that a changed route fails here first.
describe("the wait's requests", function()
  it("go to the job's own path", function()
    local client, t = client_on(script { finished() })
    assert(wait(client, { timeout = 60 }))
    assert.equal(JOB_PATH, t.log[1].path)
  end)
end)
