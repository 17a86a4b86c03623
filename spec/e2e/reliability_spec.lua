-- Reliability: retries, timeouts, limits, TLS and faults, through real sockets.
local curl = require "atlasrestore.curl"
local emulator = require "support.emulator"
local rawserver = require "support.rawserver"

describe("reliability", function()
  local emu

  lazy_setup(function() emu = emulator.start() end)
  lazy_teardown(function() if emu then emu:stop() end end)
  before_each(function() emu:reset() end)

  -- The original endpoint's request counts: pinned, now that the default is "auto".
  local function new_client(extra)
    local opts = { endpoint = "serverless" }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return emu:client(opts)
  end

  local function list_requests(stats)
    local n = 0
    for _, entry in ipairs(stats.log) do
      if entry.uri:find("/restoreJobs", 1, true) and entry.status ~= 401 then n = n + 1 end
    end
    return n
  end

  describe("each fault kind on its own is retried", function()
    local kinds = { "429", "429_body_only", "503", "truncated", "malformed", "close", "stall", "trickle" }
    for _, kind in ipairs(kinds) do
      it(kind, function()
        emu:config { stall_seconds = 4, faults = { retry_after = 0, script = { kind } } }
        local client = new_client { timeout = 2, stall_timeout = 1 }
        local jobs = assert(client:all_restore_jobs(emu.group_id, "demo"))
        assert.equal(7, #jobs)
        local stats = emu:stats()
        assert.equal(2, list_requests(stats), "one faulted attempt, then one good one")
        local faulted = false
        for _, entry in ipairs(stats.log) do if entry.fault == kind then faulted = true end end
        assert.is_true(faulted)
        client:close()
      end)
    end
  end)

  local waits = {
    ["429"] = "waits Retry-After seconds before retrying a 429",
    ["429_body_only"] = "waits the time a RATE_LIMITED_TOKEN_BUCKET body states when the header is missing",
  }
  for kind, title in pairs(waits) do
    it(title, function()
      emu:config { faults = { retry_after = 1, script = { kind } } }
      local client = new_client()
      local started = curl.now()
      assert(client:list_restore_jobs(emu.group_id, "demo"))
      assert.is_true(curl.now() - started >= 0.95)
      client:close()
    end)
  end

  it("gives up after max_attempts with the last error and err.attempts", function()
    emu:config { faults = { script = { "503", "503", "503", "503", "503" } } }
    local client = new_client { max_attempts = 3 }
    local page, err = client:list_restore_jobs(emu.group_id, "demo")
    assert.is_nil(page)
    assert.equal("HTTP_503", err.errorCode)
    assert.equal(503, err.status)
    assert.equal(3, err.attempts)
    assert.equal(3, list_requests(emu:stats()))
    client:close()
  end)

  it("never retries another 4xx", function()
    local client = new_client()
    local _, err = client:list_restore_jobs(emu.group_id, "no-such-instance")
    assert.equal(1, err.attempts)
    assert.equal(1, list_requests(emu:stats()))
    client:close()
  end)

  it("does not wait past the deadline", function()
    emu:config { faults = { retry_after = 5, script = { "429", "429" } } }
    local client = new_client { deadline = 1 }
    local started = curl.now()
    local _, err = client:list_restore_jobs(emu.group_id, "demo")
    assert.equal("RATE_LIMITED_TOKEN_BUCKET", err.errorCode)
    assert.equal(429, err.status)
    assert.is_true(curl.now() - started < 1.5)
    client:close()
  end)

  it("ends a stalled listing within the deadline", function()
    emu:config { stall_seconds = 6, faults = { script = { "stall", "stall", "stall" } } }
    local client = new_client { timeout = 1, deadline = 2.5 }
    local started = curl.now()
    local _, err = client:list_restore_jobs(emu.group_id, "demo")
    assert.equal("TIMEOUT", err.errorCode)
    assert.is_true(curl.now() - started < 6)
    client:close()
  end)

  it("cuts off a server that trickles one byte a second", function()
    emu:config { stall_seconds = 20, faults = { script = { "trickle" } } }
    local client = new_client { stall_timeout = 2, max_attempts = 1 }
    local started = curl.now()
    local _, err = client:list_restore_jobs(emu.group_id, "demo")
    assert.equal("TIMEOUT", err.errorCode)
    assert.is_true(curl.now() - started < 6)
    client:close()
  end)

  describe("pagination under faults", function()
    for _, seed in ipairs { 1, 7, 42 } do
      it("returns every job exactly once with 10% faulty requests (seed " .. seed .. ")", function()
        emu:config { stall_seconds = 3, faults = {
          seed = seed, rate = 0.1, retry_after = 0,
          kinds = { "429", "429_body_only", "503", "truncated", "malformed", "close" },
        } }
        local client = new_client { max_attempts = 6 }
        local jobs, err = client:all_restore_jobs(emu.group_id, "jobs-10000", { items_per_page = 100 })
        assert(jobs, tostring(err))
        assert.equal(10000, #jobs)
        local seen = {}
        for _, job in ipairs(jobs) do
          assert.is_nil(seen[job.id])
          seen[job.id] = true
        end
        local faults = 0
        for _, entry in ipairs(emu:stats().log) do if entry.fault then faults = faults + 1 end end
        assert.is_true(faults >= 3, "the fault mode was active")
        client:close()
      end)
    end

    it("fails cleanly, never with a partial list, when retries run out", function()
      emu:config { faults = { seed = 3, rate = 0.6, retry_after = 0, kinds = { "503", "malformed" } } }
      local client = new_client { max_attempts = 2 }
      local jobs, err = client:all_restore_jobs(emu.group_id, "jobs-10000", { items_per_page = 100 })
      assert.is_nil(jobs)
      assert.is_truthy(err.errorCode == "HTTP_503" or err.errorCode == "BAD_RESPONSE")
      assert.equal(2, err.attempts)
      client:close()
    end)
  end)

  describe("raw TCP misbehaviour", function()
    it("retries a connection reset, then reports NETWORK_ERROR", function()
      local server = rawserver.start("reset")
      local client = new_client { base_url = server.base_url, max_attempts = 2 }
      local _, err = client:list_restore_jobs(emu.group_id, "demo")
      server:stop()
      assert.equal("NETWORK_ERROR", err.errorCode)
      assert.equal(2, err.attempts)
      assert.is_nil(err.status)
      client:close()
    end)

    it("refuses a 512 MB body from its Content-Length, without reading it", function()
      local server = rawserver.start("huge")
      local client = new_client { base_url = server.base_url, max_attempts = 1 }
      local _, err = client:list_restore_jobs(emu.group_id, "demo")
      server:stop()
      assert.equal("RESPONSE_TOO_LARGE", err.errorCode)
      client:close()
    end)

    it("does not follow redirects", function()
      local server = rawserver.start("redirect", emu.trap_url)
      local client = new_client { base_url = server.base_url, max_attempts = 1 }
      local _, err = client:list_restore_jobs(emu.group_id, "demo")
      server:stop()
      assert.equal("HTTP_302", err.errorCode)
      assert.equal(0, emu:stats().trap)
      client:close()
    end)
  end)
end)

describe("TLS", function()
  local emu

  lazy_setup(function() emu = emulator.start { tls = true } end)
  lazy_teardown(function() if emu then emu:stop() end end)

  local function new_client(extra)
    local opts = { max_attempts = 1 }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return emu:client(opts)
  end

  it("refuses a certificate from an unknown CA", function()
    local client = new_client()
    local _, err = client:list_restore_jobs(emu.group_id, "demo")
    assert.equal("TLS_FAILED", err.errorCode)
    assert.is_nil(err.status)
    client:close()
  end)

  it("accepts it with ca_file", function()
    local client = new_client { ca_file = emu.ca_file }
    local page = assert(client:list_restore_jobs(emu.group_id, "demo"))
    assert.equal(7, #page.results)
    client:close()
  end)
end)
