-- curl.multi: several transfers at once on one libcurl multi handle.
local cjson = require "cjson"
local curl = require "atlasrestore.curl"
local lfs = require "lfs"
local rawserver = require "support.rawserver"

--- Drives m until nothing is pending (or `limit` seconds pass); returns the
-- completions by id.
local function drain(m, limit)
  local done, deadline = {}, curl.now() + (limit or 10)
  while m:pending() > 0 and curl.now() < deadline do
    for _, c in ipairs(m:perform(0.5)) do
      assert.is_nil(done[c.id], "each transfer completes once")
      done[c.id] = c
    end
  end
  return done
end

local function job_ids(body)
  local out = {}
  for i, job in ipairs(cjson.decode(body).results) do out[i] = job.id end
  return out
end

describe("curl.multi", function()
  it("runs 8 transfers at once, each answered once", function()
    local server = rawserver.start("jobs", "0.5")
    local m = curl.multi { max_connections = 8 }
    local ids, started = {}, curl.now()
    for i = 1, 8 do ids[i] = m:add { url = server.base_url .. "/slow/" .. i } end
    assert.equal(8, m:pending())
    local done = drain(m)
    local elapsed = curl.now() - started
    local stats = server.stats()
    m:close()
    server.stop()
    for _, id in ipairs(ids) do
      local c = assert(done[id], "transfer " .. id)
      assert.equal(200, c.status)
      assert.equal("application/json", c.headers["content-type"])
      assert.same(rawserver.REAL_JOBS, job_ids(c.body))
      assert.is_number(c.elapsed)
    end
    assert.is_true(elapsed < 3, "in parallel: " .. elapsed .. " s for 8 waits of 0.5 s")
    assert.equal(8, stats.connections)
  end)

  it("returns nothing yet, not an error, while transfers are under way", function()
    local server = rawserver.start("jobs", "1")
    local m = curl.multi()
    m:add { url = server.base_url .. "/slow/x" }
    assert.same({}, m:perform(0))
    assert.same({}, m:perform(0.1))
    assert.equal(1, m:pending())
    local done = drain(m)
    assert.equal(200, done[1].status)
    m:close()
    server.stop()
  end)

  it("cancels a transfer in flight with remove()", function()
    local server = rawserver.start("jobs", "1")
    local m = curl.multi()
    local slow = m:add { url = server.base_url .. "/slow/a" }
    local kept = m:add { url = server.base_url .. "/slow/b" }
    assert.same({}, m:perform(0.2)) -- both under way
    assert.is_true(m:remove(slow))
    assert.is_false(m:remove(slow))
    assert.is_false(m:remove(12345))
    assert.equal(1, m:pending())
    local done = drain(m)
    assert.is_nil(done[slow])
    assert.equal(200, done[kept].status)
    -- The handle is re-used for the next transfer, on a kept connection.
    local again = m:add { url = server.base_url .. "/c" }
    assert.equal(200, drain(m)[again].status)
    m:close()
    server.stop()
  end)

  it("opens at most max_connections and re-uses them", function()
    local server = rawserver.start("jobs", "0.3")
    local m = curl.multi { max_connections = 2 }
    local started = curl.now()
    for i = 1, 6 do m:add { url = server.base_url .. "/slow/" .. i } end
    local done = drain(m)
    local elapsed = curl.now() - started
    for i = 1, 6 do m:add { url = server.base_url .. "/fast/" .. i } end
    for _, c in pairs(drain(m)) do done[#done + 1] = c end
    local stats = server.stats()
    m:close()
    server.stop()
    local n = 0
    for _, c in pairs(done) do
      assert.equal(200, c.status)
      n = n + 1
    end
    assert.equal(12, n)
    assert.equal(2, stats.connections)
    assert.equal(12, stats.requests)
    assert.is_true(elapsed >= 0.85, "three rounds of two: " .. elapsed .. " s")
  end)

  it("never re-uses a connection on which bytes arrived after a response", function()
    local server = rawserver.start("stray", "304")
    local m = curl.multi { max_connections = 1 }
    local first = m:add { url = server.base_url .. "/a" }
    assert.equal(304, drain(m)[first].status)
    curl.sleep(0.5)
    local second = m:add { url = server.base_url .. "/b" }
    local c = drain(m)[second]
    local stats = server.stats()
    m:close()
    server.stop()
    assert.equal(200, c.status, c.message)
    assert.same(rawserver.REAL_JOBS, job_ids(c.body))
    assert.equal(2, stats.connections)
  end)

  it("reports failures with a code, a message and no status", function()
    local server = rawserver.start("big_header", tostring(1024 * 1024))
    local m = curl.multi()
    local big = m:add { url = server.base_url .. "/x" }
    local refused = m:add { url = "http://127.0.0.1:1/", connect_timeout = 2 }
    local done = drain(m)
    m:close()
    server.stop()
    assert.equal("RESPONSE_TOO_LARGE", done[big].code)
    assert.equal("CONNECT_FAILED", done[refused].code)
    assert.is_string(done[refused].message)
    assert.is_nil(done[refused].status)
    assert.is_number(done[refused].elapsed)
  end)

  it("hands a gzip body over as it came: decoding is the pipeline's, once (a gzip bomb)", function()
    local server = rawserver.start("gzip_bomb", tostring(100 * 1024 * 1024))
    local m = curl.multi()
    local bomb = m:add { url = server.base_url .. "/x", max_body = 1024 * 1024 }
    local c = drain(m)[bomb]
    m:close()
    server.stop()
    assert.equal(200, c.status)
    assert.equal("gzip", c.headers["content-encoding"])
    assert.equal("\31\139", c.body:sub(1, 2))
    assert.truthy(#c.body < 1024 * 1024, #c.body)
  end)

  it("raises on misuse, before anything is added", function()
    local m = curl.multi()
    assert.has_error(function() m:add { url = 1 } end)
    -- Header lines come checked from atlasrestore.request (spec/unit/request_spec.lua); here only their type.
    assert.has_error(function() m:add { url = "http://127.0.0.1/", headers = { 1 } } end)
    assert.has_error(function() m:add { url = "http://127.0.0.1/", timeout = -1 } end)
    assert.has_error(function() curl.multi { max_connections = 0 } end)
    assert.equal(0, m:pending())
    m:close()
    m:close()
    assert.has_error(function() m:add { url = "http://127.0.0.1/" } end)
    assert.matches("closed", tostring(m))
  end)

  it("frees transfers still in flight when closed or collected", function()
    -- Every socket of a transfer in flight (and the handle's own) is closed with
    -- it: the process holds as many descriptors afterwards as before.
    local function open_fds()
      local n = 0
      for _ in lfs.dir("/proc/self/fd") do n = n + 1 end
      return n
    end
    local server = rawserver.start("jobs", "5")
    local before = open_fds()
    do
      local m <close> = curl.multi()
      m:add { url = server.base_url .. "/slow/a" }
      m:perform(0.1)
      assert.truthy(open_fds() > before)
    end
    assert.equal(before, open_fds())
    local m = curl.multi()
    m:add { url = server.base_url .. "/slow/b" }
    m:perform(0.1)
    assert.truthy(open_fds() > before)
    m = nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    assert.equal(before, open_fds())
    assert.equal(2, server.stats().connections)
    server.stop()
  end)
end)
