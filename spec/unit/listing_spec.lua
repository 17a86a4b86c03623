-- The listing on the fake transport: page order, exactly-once, the stop rules,
-- the page bound, "auto" routing, parallel pages and the shared 429 pause.
local fake = require "support.fake_transport"

local GROUP = "65a1b2c3d4e5f60718293a4b"

local client_on = fake.client

local function core_array_mt() return require("atlasrestore.core").array_mt end

--- A server of `total` jobs, `per_page` of them on a page; `count` is the
-- totalCount it announces (the truth by default); `latency(page)` in seconds.
local function paged_server(total, opts)
  opts = opts or {}
  return function(req)
    local page, per = tonumber(req.query.pageNum), tonumber(req.query.itemsPerPage)
    local ids = {}
    for n = (page - 1) * per + 1 - (opts.overlap or 0) * (page > 1 and 1 or 0), math.min(total, page * per) do
      if n >= 1 then ids[#ids + 1] = fake.id(n) end
    end
    local doc = fake.page(ids, page * per < total)
    if req.query.includeCount == "true" then doc.totalCount = opts.count or total end
    return fake.json(200, doc, opts.headers, opts.latency and opts.latency(page))
  end
end

local function ids_of(jobs)
  local out = {}
  for i, job in ipairs(jobs) do out[i] = job.id end
  return out
end

local function expected_ids(n)
  local out = {}
  for i = 1, n do out[i] = fake.id(i) end
  return out
end

describe("a listing", function()
  for _, n in ipairs { 0, 1, 499, 500, 501, 1200 } do
    it(("of %d jobs costs max(1, ceil(N/500)) requests, one at a time"):format(n), function()
      local client, t = client_on(paged_server(n), { concurrency = 1 })
      local jobs = assert(client:all_restore_jobs(GROUP, "demo"))
      assert.same(expected_ids(n), ids_of(jobs))
      assert.equal(math.max(1, math.ceil(n / 500)), #t.log)
      assert.equal("false", t.log[1].query.includeCount)
    end)
  end

  it("lists jobs that shift between pages once each", function()
    local client = client_on(paged_server(250, { overlap = 3 }))
    local jobs = assert(client:all_restore_jobs(GROUP, "demo", { items_per_page = 100 }))
    assert.same(expected_ids(250), ids_of(jobs))
  end)

  it("refuses a server that repeats its page, and a job without an id", function()
    local client = client_on(function() return fake.json(200, fake.page({ fake.id(1) }, true)) end,
      { concurrency = 1 })
    local _, err = client:all_restore_jobs(GROUP, "demo", { items_per_page = 1 })
    assert.equal("BAD_RESPONSE", err.errorCode)
    assert.matches("page 2 repeats only jobs already listed", err.message)
    client = client_on(function() return fake.json(200, { results = { { deliveryType = "automated" } } }) end)
    _, err = client:all_restore_jobs(GROUP, "demo")
    assert.matches("without an id", err.message)
  end)

  it("refuses a page whose ids are not Atlas's 24 lowercase hex, whatever their size", function()
    for _, id in ipairs { "ABCDEF0123456789ABCDEF01", "short", ("a"):rep(10 * 1024 * 1024) } do
      local client, t = client_on(function() return fake.json(200, { results = { { id = id } } }) end,
        { max_attempts = 1 })
      local jobs, err = client:all_restore_jobs(GROUP, "demo")
      assert.is_nil(jobs)
      assert.equal("BAD_RESPONSE", err.errorCode)
      assert.equal("page 1: results[1].id is not 24 lowercase hexadecimal characters", err.message)
      assert.equal(1, #t.log)
    end
  end)

  it("stops at max_pages on a server that pages forever", function()
    local n = 0
    local client, t = client_on(function()
      n = n + 1
      return fake.json(200, fake.page({ fake.id(n) }, true))
    end, { max_pages = 5, concurrency = 1 })
    local _, err = client:all_restore_jobs(GROUP, "demo", { items_per_page = 1 })
    assert.equal("TOO_MANY_PAGES", err.errorCode)
    assert.equal("bad_response", err.kind)
    assert.equal(5, #t.log)
  end)

  it("iterates lazily, with k pages requested ahead of the caller", function()
    local client, t = client_on(paged_server(1000), { concurrency = 1 })
    local next_job = client:restore_jobs(GROUP, "demo", { items_per_page = 100 })
    assert.equal(0, #t.log, "nothing before the first call")
    assert.equal(fake.id(1), next_job().id)
    assert.equal(2, #t.log, "page 1, and page 2 on its way")
    for _ = 2, 101 do next_job() end
    assert.equal(3, #t.log)
    next_job = client:restore_jobs(GROUP, "demo", { items_per_page = 100, concurrency = 3 })
    next_job()
    assert.equal(3 + 4, #t.log, "page 1, and pages 2..4 on their way")
    assert.is_true(t.in_flight <= 3)
    client:close()
    assert.has_error(function() next_job() end, "'restore_jobs' iterator used after its client was closed")
  end)
end)

describe("parallel pages", function()
  it("release pages in Atlas's order whatever order they arrive in", function()
    -- Later pages answer first.
    local client, t = client_on(paged_server(5000, { latency = function(page) return 1 / page end }))
    local jobs = assert(client:all_restore_jobs(GROUP, "demo", { concurrency = 4 }))
    assert.same(expected_ids(5000), ids_of(jobs))
    assert.equal(10, #t.log, "an honest count: not one page past the end")
    assert.equal(4, t.max_in_flight)
    assert.equal("true", t.log[1].query.includeCount)
  end)

  it("keep on past a count that is too low, and waste at most k - 1 pages on one too high", function()
    local client, t = client_on(paged_server(3000, { count = 700 }))
    local jobs = assert(client:all_restore_jobs(GROUP, "demo", { concurrency = 8 }))
    assert.equal(3000, #jobs)
    assert.is_true(#t.log <= 6 + 7, #t.log .. " requests")
    client, t = client_on(paged_server(1500, { count = 10000 }))
    jobs = assert(client:all_restore_jobs(GROUP, "demo", { concurrency = 8 }))
    assert.equal(1500, #jobs)
    assert.is_true(#t.log <= 3 + 7, #t.log .. " requests")
  end)

  it("keep fewer requests in flight while RateLimit-Remaining is below k", function()
    local client, t = client_on(paged_server(5000, { headers = { ["ratelimit-remaining"] = "2" } }))
    assert(client:all_restore_jobs(GROUP, "demo", { concurrency = 8 }))
    assert.equal(2, t.max_in_flight)
  end)

  it("pause every request of the listing on a 429 until its Retry-After", function()
    local serve, limited_at = paged_server(5000), nil
    local client, t = client_on(function(req)
      if req.query.pageNum == "3" and not limited_at then
        limited_at = req.at
        return fake.api_error(429, "RATE_LIMITED_TOKEN_BUCKET", nil, { ["retry-after"] = "20" })
      end
      return serve(req)
    end)
    local jobs = assert(client:all_restore_jobs(GROUP, "demo", { concurrency = 4 }))
    assert.same(expected_ids(5000), ids_of(jobs))
    for _, r in ipairs(t.log) do
      assert.is_false(r.at > limited_at + 0.05 and r.at < limited_at + 20, ("a request at +%.2f s"):format(
        r.at - limited_at))
    end
  end)

  it("fail the listing with the page's error and leave nothing in flight", function()
    local serve = paged_server(5000, { latency = function(page) return page end })
    local client, t = client_on(function(req)
      if req.query.pageNum == "4" then return fake.api_error(404, "SERVERLESS_INSTANCE_NOT_FOUND") end
      return serve(req)
    end)
    local jobs, err = client:all_restore_jobs(GROUP, "demo", { concurrency = 4 })
    assert.is_nil(jobs)
    assert.equal("SERVERLESS_INSTANCE_NOT_FOUND", err.errorCode)
    assert.equal(0, t.in_flight)
  end)

  it("hold the pages they ask for ahead undecoded until each is handed out", function()
    local core = require "atlasrestore.core"
    local decode, decoded = core.decode, 0
    core.decode = function(...)
      decoded = decoded + 1
      return decode(...)
    end
    local ok, err = pcall(function()
      local client, t = client_on(paged_server(1000), { concurrency = 4 })
      local next_job = client:restore_jobs(GROUP, "demo", { items_per_page = 100 })
      for _ = 1, 101 do next_job() end
      assert.equal(1 + 4 + 1, #t.log, "page 1, pages 2..5 asked for at once, then page 6")
      assert.equal(2, decoded, "only the pages handed out were decoded")
      client:close()
    end)
    core.decode = decode
    assert(ok, err)
  end)

  it("ask again for a page asked ahead whose body does not decode, within max_attempts", function()
    for _, max_attempts in ipairs { 1, 3 } do
      local serve, broken = paged_server(1000), false
      local client, t = client_on(function(req)
        if req.query.pageNum == "3" and not broken then
          broken = true
          return { status = 200, headers = {}, body = '{"results": [' }
        end
        return serve(req)
      end, { concurrency = 4, max_attempts = max_attempts })
      local jobs, err = client:all_restore_jobs(GROUP, "demo", { items_per_page = 100 })
      local page3 = 0
      for _, r in ipairs(t.log) do if r.query.pageNum == "3" then page3 = page3 + 1 end end
      if max_attempts == 1 then
        assert.is_nil(jobs)
        assert.equal("BAD_RESPONSE", err.errorCode)
        assert.equal(1, err.attempts)
        assert.equal(1, page3)
      else
        assert.same(expected_ids(1000), ids_of(jobs))
        assert.equal(2, page3)
      end
      assert.equal(0, t.in_flight)
    end
  end)

  it("give no warning for a gzip page asked ahead that does not inflate, and ask for it again", function()
    local serve, broken = paged_server(1000), false
    local warnings = {}
    local client, t = client_on(function(req)
      if req.query.pageNum == "3" and not broken then
        broken = true
        return { status = 200, body = "not gzip", headers = { ["content-encoding"] = "gzip",
          deprecation = "Wed, 10 Dec 2025", sunset = "Thu, 22 Jan 2026" } }
      end
      return serve(req)
    end, { concurrency = 4, on_warning = function(message) warnings[#warnings + 1] = message end })
    local jobs = assert(client:all_restore_jobs(GROUP, "demo", { items_per_page = 100, endpoint = "serverless" }))
    assert.same(expected_ids(1000), ids_of(jobs))
    local page3 = 0
    for _, r in ipairs(t.log) do if r.query.pageNum == "3" then page3 = page3 + 1 end end
    assert.equal(2, page3)
    assert.same({}, warnings)
  end)

  it("ask once more for a project's page that came ahead and does not decode, beside at most k others", function()
    local endpoints = require "atlasrestore.endpoints"
    local lists = {}
    for _, kind in ipairs(endpoints.listed()) do lists["/api/atlas/v2" .. kind.instances.path:format(GROUP)] = {} end
    lists["/api/atlas/v2" .. endpoints.of("serverless").instances.path:format(GROUP)] =
      { { name = "a" }, { name = "b" }, { name = "c" } }
    local serve, broken = paged_server(600, { latency = function(page) return 0.01 * page end }), false
    local client, t = client_on(function(req)
      if lists[req.path] then return fake.json(200, { results = setmetatable(lists[req.path], core_array_mt()) }) end
      if req.path:find("/serverless/a/", 1, true) and req.query.pageNum == "3" and not broken then
        broken = true
        return { status = 200, headers = {}, body = '{"results": [' }
      end
      return serve(req)
    end, { concurrency = 2 })
    local jobs = assert(client:project_restore_jobs(GROUP, { items_per_page = 100 }))
    assert.equal(1800, #jobs)
    local asked = 0
    for _, r in ipairs(t.log) do
      if r.path:find("/serverless/a/", 1, true) and r.query.pageNum == "3" then asked = asked + 1 end
    end
    assert.equal(2, asked)
    -- The second request may go out while k others are in flight, as the first one's place was given on.
    assert.is_true(t.max_in_flight <= 2 + 1, t.max_in_flight .. " requests in flight")
  end)

  it("share one token fetch between concurrent 401s", function()
    local issued, accepted = 0, nil
    local serve = paged_server(5000)
    local client, t = client_on(function(req)
      if req.path == "/api/oauth/token" then
        issued = issued + 1
        accepted = "tok-" .. issued
        return fake.json(200, { access_token = accepted, expires_in = 3600 })
      end
      if req.headers.Authorization ~= "Bearer " .. accepted then return fake.api_error(401, "NOT_AUTHORIZED") end
      -- The first token stops working after page 1: pages 2..5 are refused at once.
      if req.query.pageNum == "1" then accepted = "expired-now" end
      return serve(req)
    end, { client_id = "mdb_sa_id_x", client_secret = "mdb_sa_sk_y" })
    local jobs = assert(client:all_restore_jobs(GROUP, "demo", { concurrency = 4 }))
    assert.equal(5000, #jobs)
    assert.equal(2, issued)
    assert.is_true(#t.log >= 13)
  end)
end)

describe('endpoint = "auto"', function()
  local function router(answers)
    return function(req)
      local where = req.path:match("/flexClusters/") and "flex" or req.path:match("/serverless/") and "serverless"
        or "dedicated"
      local answer = answers[where]
      return type(answer) == "function" and answer(req) or answer
    end
  end

  it("lists a Flex cluster with one request, and remembers it", function()
    local client, t = client_on(router { flex = fake.json(200, fake.page({ fake.id(1) }, false, {
      status = "COMPLETED", deliveryType = "RESTORE" })) })
    local jobs = assert(client:all_restore_jobs(GROUP, "demo", { endpoint = "auto" }))
    assert.equal("flex", jobs[1].source)
    assert.equal("automated", jobs[1].deliveryType)
    assert(client:all_restore_jobs(GROUP, "demo", { endpoint = "auto" }))
    assert.equal(2, #t.log)
  end)

  it("goes on to serverless when Flex does not know the name, and remembers that", function()
    local client, t = client_on(router {
      flex = fake.api_error(404, "CLUSTER_NOT_FOUND"),
      serverless = fake.json(200, fake.page({ fake.id(1) }, false, { finishedAt = "2026-01-01T00:00:00Z" })),
    })
    local jobs = assert(client:all_restore_jobs(GROUP, "demo", { endpoint = "auto" }))
    assert.equal("serverless", jobs[1].source)
    assert.equal("COMPLETED", jobs[1].status)
    assert.equal(2, #t.log)
    assert(client:all_restore_jobs(GROUP, "demo", { endpoint = "auto" }))
    assert.equal(3, #t.log, "warm: one request")
  end)

  it("says not_found with every endpoint's answer when nothing knows the name", function()
    local client = client_on(router {
      flex = fake.api_error(404, "CLUSTER_NOT_FOUND"),
      serverless = fake.api_error(404, "SERVERLESS_INSTANCE_NOT_FOUND"),
      dedicated = fake.api_error(404, "CLUSTER_NOT_FOUND"),
    })
    local _, err = client:all_restore_jobs(GROUP, "nowhere", { endpoint = "auto" })
    assert.equal("not_found", err.kind)
    assert.equal("CLUSTER_NOT_FOUND", err.errors.flex.errorCode)
    assert.equal("SERVERLESS_INSTANCE_NOT_FOUND", err.errors.serverless.errorCode)
    assert.is_nil(tostring(err):find("[after", 1, true))
  end)
end)

describe("the scheduler under the fake clock", function()
  it("wakes tasks that sleep at once in the order of their wake times, in no real time", function()
    local t = fake.new(function() return { status = 200 } end)
    local woke = {}
    local tasks = {}
    for _, s in ipairs { 3, 1, 2 } do
      tasks[#tasks + 1] = t:spawn(function()
        t:sleep(s)
        woke[#woke + 1] = s
        return s * 10
      end)
    end
    local started = require("socket").gettime()
    assert.same({ true, 30 }, { t:wait(tasks[1]) })
    assert.same({ 1, 2, 3 }, woke)
    assert.equal(1003, t:now())
    -- Three seconds of sleeping, none of them real (not a speed check: any sleep would take 3 s).
    assert.is_true(require("socket").gettime() - started < 2.9)
    local ok, err = t:wait(t:spawn(function() error("boom", 0) end))
    assert.is_false(ok)
    assert.equal("boom", err)
  end)
end)

describe("core.idset", function()
  local core = require "atlasrestore.core"

  it("remembers ids compactly and hands out each job once", function()
    local seen = core.idset()
    local page = {}
    for i = 1, 200000 do page[i] = { id = fake.id(i) } end
    local jobs = assert(seen:select(page, 1))
    assert.equal(200000, #jobs)
    assert.equal(core.array_mt, getmetatable(jobs))
    local again = { { id = fake.id(5) }, { id = fake.id(200001) }, { id = fake.id(7) } }
    jobs = assert(seen:select(again, 2))
    assert.equal(1, #jobs)
    assert.equal(fake.id(200001), jobs[1].id)
    assert.equal(200001, seen:count())
    assert.same({ n = 0 }, { n = #assert(seen:select({}, 3)) })
  end)

  it("tells the all-zero id (which marks its empty slots) from the others, once", function()
    local zero = ("0"):rep(24)
    local seen = core.idset()
    local jobs = assert(seen:select({ { id = fake.id(1) }, { id = zero }, { id = fake.id(2) } }, 1))
    assert.equal(3, #jobs)
    jobs = assert(seen:select({ { id = zero }, { id = fake.id(3) } }, 2))
    assert.equal(1, #jobs)
    assert.equal(fake.id(3), jobs[1].id)
    assert.equal(4, seen:count())
    assert.is_nil(seen:select({ { id = zero } }, 3))
  end)

  it("refuses an id that is not 24 lowercase hexadecimal characters", function()
    for _, id in ipairs{ ("0"):rep(23), ("A"):rep(24), ("0"):rep(25), ("g"):rep(24) } do
      local jobs, err = core.idset():select({ { id = id } }, 4)
      assert.is_nil(jobs, id)
      assert.matches("page 4: results%[1%]%.id is not 24 lowercase", err)
    end
  end)
end)
