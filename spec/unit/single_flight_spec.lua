-- A cold start on the fake transport: concurrent listings of one client share the
-- Digest challenge and the "auto" probe of an instance (one request brings each, the
-- others wait for it), and a wait never outlasts the waiter's own deadline.
local atlasrestore = require "atlasrestore"
local fake = require "support.fake_transport"

local GROUP = "65a1b2c3d4e5f60718293a4b"
local KEY = "the-private-key"
local FLEX = "/api/atlas/v2/groups/" .. GROUP .. "/flexClusters/demo/backup/restoreJobs"
local SERVERLESS = "/api/atlas/v2/groups/" .. GROUP .. "/serverless/demo/backup/restoreJobs"

--- An Atlas with Digest where `demo` is a serverless instance (Flex does not know
-- it), or where nothing knows it (`nowhere`); `latency` of every answer.
local function atlas(opts)
  opts = opts or {}
  local digest, challenges = fake.digest_server(KEY)
  return function(req)
    local answer = digest(req)
    if answer.status == 200 then
      if req.path:match("/flexClusters/") then
        answer = fake.api_error(404, "CLUSTER_NOT_FOUND")
      elseif opts.nowhere then
        answer = fake.api_error(404, req.path:match("/serverless/") and "SERVERLESS_INSTANCE_NOT_FOUND"
          or "CLUSTER_NOT_FOUND")
      end
    end
    answer.latency = opts.latency
    return answer
  end, challenges
end

local function client_on(t, opts)
  local o = { transport = t, base_url = "https://atlas.test", public_key = "pubkey", private_key = KEY,
    on_warning = function() end }
  for k, v in pairs(opts or {}) do o[k] = v end
  if o.access_token then o.public_key, o.private_key = nil, nil end
  return assert(atlasrestore.new(o))
end

--- `k` listings of `demo` at once, each a task of the client's transport: their
-- answers, { jobs } or { nil, err }, in the order they were started.
local function concurrently(client, t, k, opts)
  local tasks, out = {}, {}
  for i = 1, k do
    tasks[i] = t:spawn(function() return client:all_restore_jobs(GROUP, "demo", opts or { endpoint = "auto" }) end)
  end
  for i = 1, k do
    local results = { t:wait(tasks[i]) }
    assert.is_true(results[1], results[2])
    out[i] = { results[2], results[3] }
  end
  return out
end

describe("concurrent listings of a cold client", function()
  it("share one Digest challenge and one 'auto' probe, then ask the endpoint it found", function()
    local handler, challenges = atlas()
    local t = fake.new(handler)
    local client = client_on(t)
    for _, answer in ipairs(concurrently(client, t, 8)) do
      assert.is_table(answer[1], tostring(answer[2]))
      assert.equal(2, #answer[1])
      assert.equal("serverless", answer[1][1].source)
    end
    assert.equal(1, challenges())
    assert.equal(2, fake.count(t.log, FLEX), "one probe sequence: the challenge, then Flex's 404")
    assert.equal(1 + 1 + 8, #t.log, "the challenge, Flex's 404, then one page a listing")
    assert.equal(8, fake.count(t.log, SERVERLESS))
    -- Warm: nothing is asked again.
    concurrently(client, t, 8)
    assert.equal(1, challenges())
    assert.equal(2, fake.count(t.log, FLEX))
    assert.equal(10 + 8, #t.log)
  end)

  it("share one Digest challenge on an endpoint named by the caller", function()
    local handler, challenges = atlas()
    local t = fake.new(handler)
    local client = client_on(t)
    for _, answer in ipairs(concurrently(client, t, 8, { endpoint = "serverless" })) do
      assert.is_table(answer[1], tostring(answer[2]))
      assert.equal(2, #answer[1])
    end
    assert.equal(1, challenges())
    assert.equal(1 + 8, #t.log)
  end)

  it("give every waiter the error of the probe that found nothing: one probe sequence", function()
    local handler, challenges = atlas { nowhere = true }
    local t = fake.new(handler)
    local client = client_on(t)
    for _, answer in ipairs(concurrently(client, t, 8)) do
      assert.is_nil(answer[1])
      assert.equal("not_found", answer[2].kind)
      assert.equal("SERVERLESS_INSTANCE_NOT_FOUND", answer[2].errors.serverless.errorCode)
    end
    assert.equal(1, challenges())
    assert.equal(1 + 3, #t.log, "the challenge, then Flex, serverless and dedicated once")
  end)

  it("give every waiter the error of a challenge request that failed on its way", function()
    local sent = 0
    local t = fake.new(function()
      sent = sent + 1
      return { code = "CONNECT_FAILED", message = "connection refused" }
    end)
    local client = client_on(t, { max_attempts = 1 })
    for _, answer in ipairs(concurrently(client, t, 8, { endpoint = "serverless" })) do
      assert.is_nil(answer[1])
      assert.equal("CONNECT_FAILED", answer[2].errorCode)
      assert.equal(1, answer[2].attempts)
    end
    assert.equal(1, sent)
  end)
end)

describe("clients of one nginx worker with different deadlines", function()
  before_each(function()
    local function same(s) return s end
    _G.ngx = { get_phase = function() return "content" end, shared = {}, sha1_bin = same, encode_base64 = same }
  end)
  after_each(function() _G.ngx = nil end)

  it("never keep a listing waiting for another's probe past its own deadline", function()
    local t = fake.new(function(req)
      if req.path:match("/flexClusters/") then
        local answer = fake.api_error(404, "CLUSTER_NOT_FOUND")
        answer.latency = 3
        return answer
      end
      return fake.json(200, fake.page { fake.id(1), fake.id(2) })
    end)
    local opts = { base_url = "https://atlas-deadlines.test", access_token = "ready-token-0001", timeout = 60 }
    opts.deadline = 60
    local patient = client_on(t, opts)
    opts.deadline = 2
    local hurried = client_on(t, opts)
    local started = t:now()
    local first = t:spawn(function() return patient:all_restore_jobs(GROUP, "demo", { endpoint = "auto" }) end)
    local second = t:spawn(function()
      local jobs, err = hurried:all_restore_jobs(GROUP, "demo", { endpoint = "auto" })
      return jobs, err, t:now()
    end)
    local ok, jobs, err, ended = t:wait(second)
    assert.is_true(ok)
    assert.is_nil(jobs)
    assert.equal("TIMEOUT", err.errorCode)
    assert.is_true(ended - started <= 2 + 1e-6, ("ended after %g s"):format(ended - started))
    -- The patient one's flights went on, and the two clients shared what they brought.
    ok, jobs = t:wait(first)
    assert.is_true(ok)
    assert.equal(2, #jobs)
    assert.equal(2, fake.count(t.log, FLEX), "the hurried listing probed alone")
    assert.equal(1, fake.count(t.log, SERVERLESS))
  end)
end)
