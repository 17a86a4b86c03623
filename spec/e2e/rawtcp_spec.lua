-- What only a raw TCP server can show: bytes that arrive on an idle
-- connection after a complete response, response heads past the limits, and
-- a gzip bomb.
local atlasrestore = require "atlasrestore"
local curl = require "atlasrestore.curl"
local rawserver = require "support.rawserver"

local GROUP = "65a1b2c3d4e5f60718293a4b"

--- Runs fn(client) against a fresh raw server; returns the server's stats
-- and what fn returned. The server and the client are gone afterwards, even
-- when fn raises.
local function against(mode, param, client_opts, fn)
  local server = rawserver.start(mode, param)
  local opts = { access_token = "raw-token", base_url = server.base_url }
  for k, v in pairs(client_opts) do opts[k] = v end
  local client = assert(atlasrestore.new(opts))
  local results = table.pack(pcall(fn, client))
  local stats = server.stats()
  client:close()
  server.stop()
  if not results[1] then error(results[2], 0) end
  return stats, table.unpack(results, 2, results.n)
end

local function list(client) return client:all_restore_jobs(GROUP, "demo") end

--- Asserts that jobs are exactly the server's real ones.
local function real(jobs, err)
  assert(jobs, err and err.errorCode)
  local ids = {}
  for i, job in ipairs(jobs) do ids[i] = job.id end
  assert.same(rawserver.REAL_JOBS, ids)
end

describe("an idle connection with bytes pending is never re-used", function()
  it("a second, unsolicited response after a 503 is not the retry's answer", function()
    local started = curl.now()
    local stats, jobs, err = against("stray", "503", {}, list)
    real(jobs, err)
    assert.is_true(curl.now() - started >= 0.95, "Retry-After was honoured")
    assert.equal(2, stats.connections, "the retry went out on a fresh connection")
    assert.same({ 1, 1 }, stats.per_connection)
  end)

  for status, code in pairs { ["304"] = "HTTP_304", ["204"] = "BAD_RESPONSE" } do
    it("bytes after a " .. status .. " (which has no body) are not the next request's answer", function()
      local stats, jobs, err = against("stray", status, { max_attempts = 1 }, function(client)
        local first, first_err = list(client)
        assert.is_nil(first)
        assert.equal(code, first_err.errorCode)
        curl.sleep(0.5) -- the stray bytes come 0.2 s after the response
        return list(client)
      end)
      real(jobs, err)
      assert.equal(2, stats.connections)
      assert.same({ 1, 1 }, stats.per_connection)
    end)
  end

  it("a healthy idle connection is still re-used", function()
    local stats = against("jobs", nil, {}, function(client)
      for _ = 1, 3 do real(list(client)) end
    end)
    assert.equal(1, stats.connections)
    assert.same({ 3 }, stats.per_connection)
  end)
end)

describe("a response head past the limits", function()
  for _, mb in ipairs { 1, 10 } do
    it(("is RESPONSE_TOO_LARGE for one %d MB header, asked once"):format(mb), function()
      local started = curl.now()
      local stats, jobs, err = against("big_header", tostring(mb * 1024 * 1024), {}, list)
      local elapsed = curl.now() - started
      assert.is_nil(jobs)
      assert.equal("RESPONSE_TOO_LARGE", err.errorCode)
      assert.equal(1, err.attempts)
      assert.equal(1, stats.requests)
      assert.is_true(elapsed < 3, "took " .. elapsed .. " s")
    end)
  end
end)

-- Resets the peak resident size (Linux clear_refs 5); false where it cannot.
local function reset_peak()
  local f = io.open("/proc/self/clear_refs", "w")
  return f ~= nil and f:write("5") ~= nil and f:close() == true
end

-- The peak and the current resident size, KiB.
local function memory()
  local f = assert(io.open("/proc/self/status"))
  local text = f:read("a")
  f:close()
  return tonumber(text:match("VmHWM:%s*(%d+)")), tonumber(text:match("VmRSS:%s*(%d+)"))
end

describe("a gzip bomb", function()
  it("is RESPONSE_TOO_LARGE once inflated past max_body_size, in bounded memory", function()
    collectgarbage()
    local can_measure = reset_peak()
    local _, before = memory()
    local stats, jobs, err = against("gzip_bomb", tostring(200 * 1024 * 1024), { max_body_size = 4 * 1024 * 1024 },
      list)
    local peak = memory()
    assert.is_nil(jobs)
    assert.equal("RESPONSE_TOO_LARGE", err.errorCode)
    assert.equal(1, stats.requests)
    if can_measure then
      assert.is_true(peak - before < 32 * 1024, ("200 MB inflated: the peak grew by %d KiB"):format(peak - before))
    end
  end)
end)
