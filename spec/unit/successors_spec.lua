-- The pieces behind dedicated successors, single jobs and filters, without a
-- network: dates, the probe table, the unified shape of dedicated and Flex
-- records (recorded bodies), one-record decoding, filters and their options.
local core = require "atlasrestore.core"
local dates = require "atlasrestore.dates"
local errors = require "atlasrestore.errors"
local filter = require "atlasrestore.filter"
local options = require "atlasrestore.options"
local probe = require "atlasrestore.probe"
local response = require "atlasrestore.response"
local shape = require "atlasrestore.shape"

local fake = require "support.fake_transport"
local fixture = require("support.fixtures").read

describe("dates.parse", function()
  it("reads Atlas's dates and a caller's ISO 8601 forms as Unix seconds", function()
    local cases = {
      { "1970-01-01T00:00:00Z", 0 },
      { "2026-01-22T00:00:00Z", 1769040000 },
      { "2026-01-22", 1769040000 },
      { "2026-01-22T01:00:00+01:00", 1769040000 },
      { "2026-01-21T19:00:00-0500", 1769040000 },
      { "2026-01-22T03:00+03", 1769040000 },
      { "2026-01-22 00:00:00", 1769040000 },
      { "2026-01-22T00:00:00.250Z", 1769040000.25 },
      { "2024-02-29T12:00:00Z", 1709208000 },
      { "2000-03-01T00:00:00Z", 951868800 },
    }
    for _, case in ipairs(cases) do assert.equal(case[2], dates.parse(case[1]), case[1]) end
  end)

  it("refuses what is not a date", function()
    for _, bad in ipairs { "", "yesterday", "2026-13-01", "2026-02-30", "2025-02-29", "2026-01-22T24:00:00Z",
      "2026-01-22T00:60:00Z", "2026-01-22T00:00:00+25:00", "2026-01-22T00:00:00 UTC", "26-01-22", "2026-1-22",
      "2026-01-22T", "2026-01-22Z" } do
      assert.is_nil(dates.parse(bad), bad)
    end
    assert.is_nil(dates.parse(1769040000))
    assert.is_nil(dates.parse(nil))
  end)
end)

describe("the probe table", function()
  local function err(status, code, attempts)
    return errors.new(code, { status = status, attempts = attempts or 1 })
  end
  local NOT_FLEX = err(400, "CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API")
  local FLEX_404 = err(404, "CLUSTER_NOT_FOUND")
  local SERVERLESS_404 = err(404, "SERVERLESS_INSTANCE_NOT_FOUND")
  local GONE = err(410, "VERSION_GONE")
  local CLUSTER_IN_SERVERLESS = err(400, "CANNOT_USE_CLUSTER_IN_SERVERLESS_INSTANCE_API")
  local DEDICATED_404 = err(404, "CLUSTER_NOT_FOUND")
  local PAGE = { results = { { id = "a" } } }
  local EMPTY = { results = {} }

  -- Routes through `answers` (endpoint -> doc or error): doc, endpoint or nil, err, and the endpoints asked.
  local function route(memory, answers, endpoint, first_page)
    local asked = {}
    local pipe = { warn = function() end, transport = fake.new(function() error("no request here") end), flights = {} }
    local doc, where = probe.route(pipe, memory, "g", "n", endpoint or "auto", function(at)
      asked[#asked + 1] = at
      local answer = answers[at]
      if errors.is(answer) then return nil, errors.copy(answer) end
      return answer
    end, first_page ~= false)
    return doc, where, asked
  end

  it("asks Flex first, and follows each 'not here' answer to the next endpoint", function()
    local cases = {
      { "Flex", { flex = PAGE }, "flex", { "flex" } },
      { "dedicated", { flex = NOT_FLEX, dedicated = PAGE }, "dedicated", { "flex", "dedicated" } },
      { "serverless", { flex = FLEX_404, serverless = PAGE }, "serverless", { "flex", "serverless" } },
      { "dedicated after a serverless 404", { flex = FLEX_404, serverless = SERVERLESS_404, dedicated = PAGE },
        "dedicated", { "flex", "serverless", "dedicated" } },
      { "dedicated after a 410", { flex = FLEX_404, serverless = GONE, dedicated = PAGE }, "dedicated",
        { "flex", "serverless", "dedicated" } },
      { "dedicated after 'a cluster'", { flex = FLEX_404, serverless = CLUSTER_IN_SERVERLESS, dedicated = PAGE },
        "dedicated", { "flex", "serverless", "dedicated" } },
    }
    for _, case in ipairs(cases) do
      local memory = {}
      local doc, where, asked = route(memory, case[2])
      assert.equal(PAGE, doc, case[1])
      assert.equal(case[3], where, case[1])
      assert.same(case[4], asked, case[1])
      assert.equal(case[3], memory["g/n"], case[1])
    end
  end)

  it("stops at a real failure, with every answer in err.errors and the most attempts of any", function()
    local memory = {}
    local doc, e, asked = route(memory, { flex = NOT_FLEX, dedicated = err(500, "UNEXPECTED_ERROR", 4) })
    assert.is_nil(doc)
    assert.equal("UNEXPECTED_ERROR", e.errorCode)
    assert.equal(4, e.attempts)
    assert.same({ "flex", "dedicated" }, asked)
    assert.equal("CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API", e.errors.flex.errorCode)
    assert.equal("UNEXPECTED_ERROR", e.errors.dedicated.errorCode)
    assert.is_nil(e.errors.serverless)
    assert.is_nil(memory["g/n"])
    doc, e, asked = route({}, { flex = err(404, "GROUP_NOT_FOUND") })
    assert.is_nil(doc)
    assert.equal("GROUP_NOT_FOUND", e.errorCode)
    assert.same({ "flex" }, asked)
    assert.equal("GROUP_NOT_FOUND", e.errors.flex.errorCode)
  end)

  it("returns the answer that says the most when every endpoint said 'not here'", function()
    local _, e = route({}, { flex = FLEX_404, serverless = SERVERLESS_404, dedicated = DEDICATED_404 })
    assert.equal(DEDICATED_404.errorCode, e.errorCode)
    assert.equal(1, e.attempts, "one request to each endpoint is not a retry")
    -- A plain 404 says more than "another kind of instance" (an unknown job id of a serverless instance).
    local job_404 = err(404, "SOME_JOB_NOT_FOUND")
    _, e = route({}, { flex = FLEX_404, serverless = job_404,
      dedicated = err(400, "CANNOT_USE_SERVERLESS_INSTANCE_IN_CLUSTER_API") })
    assert.equal("SOME_JOB_NOT_FOUND", e.errorCode)
  end)

  it("adds a hint, keeping Atlas's code, when the dedicated endpoint refuses a cluster with a 400", function()
    local _, e = route({}, { flex = NOT_FLEX, dedicated = err(400, "WHATEVER_ATLAS_SAYS") })
    assert.equal("WHATEVER_ATLAS_SAYS", e.errorCode)
    assert.matches("likely cannot have restore jobs", e.hint)
    assert.matches("(cluster n likely cannot have restore jobs", tostring(e), 1, true)
    _, e = route({}, { dedicated = err(400, "ANOTHER_CODE") }, "dedicated")
    assert.equal("ANOTHER_CODE", e.errorCode)
    assert.is_string(e.hint)
    assert.is_nil(e.errors, "a fixed endpoint has one answer")
    _, e = route({}, { dedicated = err(500, "UNEXPECTED_ERROR") }, "dedicated")
    assert.is_nil(e.hint)
  end)

  it("costs nothing extra on a warm route, and resolves again when the instance moved", function()
    local memory = { ["g/n"] = "dedicated" }
    local _, where, asked = route(memory, { dedicated = PAGE })
    assert.equal("dedicated", where)
    assert.same({ "dedicated" }, asked)
    -- Deleted and created again as a Flex cluster: the dedicated 404 starts the probe again, Flex first.
    _, where, asked = route(memory, { dedicated = DEDICATED_404, flex = PAGE })
    assert.equal("flex", where)
    assert.same({ "dedicated", "flex" }, asked)
    assert.equal("flex", memory["g/n"])
    -- A remembered serverless instance gone: its answer is re-used, not asked twice.
    memory["g/n"] = "serverless"
    _, where, asked = route(memory, { serverless = GONE, flex = FLEX_404, dedicated = PAGE })
    assert.equal("dedicated", where)
    assert.same({ "serverless", "flex", "dedicated" }, asked)
    -- A real failure on the warm route is the error; the route is kept.
    local doc, e = route(memory, { dedicated = err(503, "HTTP_503", 4) })
    assert.is_nil(doc)
    assert.equal("HTTP_503", e.errorCode)
    assert.equal("dedicated", memory["g/n"])
  end)

  it("asks Flex once more for an empty first page of a remembered serverless instance", function()
    local memory = { ["g/n"] = "serverless" }
    local doc, where, asked = route(memory, { serverless = EMPTY, flex = PAGE })
    assert.equal(PAGE, doc)
    assert.equal("flex", where)
    assert.same({ "serverless", "flex" }, asked)
    memory["g/n"] = "serverless"
    doc, where, asked = route(memory, { serverless = EMPTY, flex = FLEX_404 })
    assert.equal(EMPTY, doc)
    assert.equal("serverless", where)
    assert.same({ "serverless", "flex" }, asked)
    -- Not for a later page, nor for one job.
    doc, where, asked = route(memory, { serverless = EMPTY }, "auto", false)
    assert.equal(EMPTY, doc)
    assert.equal("serverless", where)
    assert.same({ "serverless" }, asked)
    -- An empty Flex or dedicated page stands.
    memory["g/n"] = "flex"
    doc, where, asked = route(memory, { flex = EMPTY })
    assert.equal(EMPTY, doc)
    assert.equal("flex", where)
    assert.same({ "flex" }, asked)
  end)
end)

describe("the unified shape", function()
  local BEFORE = function() return dates.parse("2026-08-10T04:00:00Z") end
  local AFTER = function() return dates.parse("2026-08-10T09:03:29Z") end

  it("maps the recorded dedicated jobs with source dedicated and the serverless status rules", function()
    local page = assert(response.page(200, fixture("dedicated_restore_jobs_list_200"), {}))
    local wire = page.results[1]
    local job = shape.mapper("dedicated")(wire)
    assert.equal("dedicated", job.source)
    assert.equal("COMPLETED", job.status)
    assert.equal(wire, job.raw)
    for k, v in pairs(wire) do assert.equal(v, job[k], k) end
    assert.is_false(job.cancelled)
    assert.is_false(job.expired)
    assert.is_false(job.failed)
    assert.equal(core.array_mt, getmetatable(job.deliveryUrl))
    local one = assert(response.entity(200, fixture("dedicated_restore_job_get_200_completed"), {}))
    assert.same(wire, one)
  end)

  it("keeps components, and gives booleans to a record that lacks them", function()
    local wire = { id = "x", components = { { replicaSetName = "rs0" } }, finishedAt = "2026-01-01T00:00:00Z" }
    local job = shape.mapper("dedicated")(wire)
    assert.equal(wire.components, job.components)
    assert.equal("COMPLETED", job.status)
    assert.is_false(job.cancelled)
    assert.is_false(job.failed)
    assert.is_false(job.expired)
    assert.is_nil(wire.cancelled, "raw untouched")
    job = shape.mapper("serverless") { id = "y", expired = true }
    assert.equal("EXPIRED", job.status)
    assert.is_true(job.expired)
  end)

  it("derives Flex's booleans: never cancelled, expired once a completed download's link ran out", function()
    local wire = core.decode(fixture("flex_restore_job_get_200_completed"))
    for _, clock in ipairs { BEFORE, AFTER } do
      local job = shape.mapper("flex", clock)(wire)
      assert.is_false(job.cancelled)
      assert.is_false(job.expired, "a RESTORE job has no link to expire")
      assert.is_false(job.failed)
      assert.equal("COMPLETED", job.status)
    end
    local download = { id = "d", deliveryType = "DOWNLOAD", status = "COMPLETED",
      expirationDate = wire.expirationDate, snapshotUrl = "https://d/1" }
    local job = shape.mapper("flex", BEFORE)(download)
    assert.is_false(job.expired)
    assert.equal("COMPLETED", job.status)
    job = shape.mapper("flex", AFTER)(download)
    assert.is_true(job.expired)
    assert.equal("EXPIRED", job.status)
    assert.equal("COMPLETED", job.raw.status, "raw keeps the wire status")
    assert.equal(core.array_mt, getmetatable(job.deliveryUrl))
    assert.same({ "https://d/1" }, job.deliveryUrl)
    download.status = "FAILED"
    job = shape.mapper("flex", AFTER)(download)
    assert.is_false(job.expired)
    assert.equal("FAILED", job.status)
    assert.is_false(shape.mapper("flex")(download).expired, "no clock, no expiry")
  end)

  it("refuses a clock that returns something else than a number", function()
    assert.has_error(function() shape.mapper("flex", function() return "now" end) end,
      "the clock option returned a string, not a number")
  end)
end)

describe("response.entity", function()
  it("decodes the recorded Flex jobs", function()
    local job = assert(response.entity(200, fixture("flex_restore_job_get_200_running"), {}))
    assert.equal("RUNNING", job.status)
  end)

  it("unwraps an envelope and reads an enveloped error", function()
    local job = assert(response.entity(200, '{"content":{"id":"a","oplogTs":5},"status":200}', { envelope = true }))
    assert.equal("a", job.id)
    local _, err = response.entity(200, '{"content":{"errorCode":"RESTORE_JOB_NOT_FOUND","error":404},'
      .. '"status":404}', { envelope = true })
    assert.equal("RESTORE_JOB_NOT_FOUND", err.errorCode)
    assert.equal(404, err.status)
  end)

  it("gives BAD_RESPONSE for what is not one job", function()
    for _, body in ipairs { "[]", "null", "3", '{"oplogTs":1.5}', '{"desiredTimestamp":[]}', "{", "" } do
      local job, err = response.entity(200, body, {})
      assert.is_nil(job, body)
      assert.equal("BAD_RESPONSE", err.errorCode, body)
    end
    local _, err = response.entity(200, '{"status":200}', { envelope = true })
    assert.equal("BAD_RESPONSE", err.errorCode)
  end)
end)

describe("filters", function()
  local function keeps(f, job) return filter.keeps(f, job) end
  local T = dates.parse

  -- The unified view of a wire record of `kind`, as a listing filters it.
  local function as(kind, wire) return shape.mapper(kind)(wire) end

  it("count a finished job by when it finished, an unfinished one by when it was scheduled or created", function()
    local f = { since = T("2026-01-10T00:00:00Z"), ["until"] = T("2026-01-20T00:00:00Z") }
    for _, kind in ipairs { "serverless", "dedicated" } do
      -- finished: finishedAt, never the snapshot's timestamp
      assert.is_true(keeps(f, as(kind, { finishedAt = "2026-01-15T00:00:00Z", timestamp = "2025-01-01T00:00:00Z" })))
      assert.is_false(keeps(f, as(kind, { finishedAt = "2026-01-25T00:00:00Z", timestamp = "2026-01-15T00:00:00Z" })))
      -- running, created in the window from an old snapshot: kept; created before it: not
      assert.is_true(keeps(f, as(kind, { createdAt = "2026-01-12T00:00:00Z", timestamp = "2025-12-01T00:00:00Z" })),
        kind)
      assert.is_false(keeps(f, as(kind, { createdAt = "2026-01-05T00:00:00Z", timestamp = "2026-01-15T00:00:00Z" })),
        kind)
      -- a running job with no creation time: kept; a cancelled one without finishedAt: its snapshot's time
      assert.is_true(keeps(f, as(kind, { timestamp = "2026-01-05T00:00:00Z" })), kind)
      assert.is_false(keeps(f, as(kind, { cancelled = true, timestamp = "2025-01-05T00:00:00Z" })))
      assert.is_true(keeps(f, as(kind, { cancelled = true, timestamp = "2026-01-15T00:00:00Z" })))
      assert.is_false(keeps(f, as(kind, { failed = true, createdAt = "2026-01-25T00:00:00Z" })),
        "a final job without its finish time counts by its creation")
      assert.is_true(keeps(f, as(kind, { finishedAt = "2026-01-10T00:00:00Z" })), "since is inclusive")
      assert.is_false(keeps(f, as(kind, { finishedAt = "2026-01-20T00:00:00Z" })), "until is exclusive")
    end
    -- Flex: restoreFinishedDate when finished, restoreScheduledDate before
    assert.is_true(keeps(f, as("flex", { status = "RUNNING", restoreScheduledDate = "2026-01-12T00:00:00Z",
      snapshotFinishedDate = "2025-12-01T00:00:00Z" })))
    assert.is_false(keeps(f, as("flex", { status = "QUEUED", restoreScheduledDate = "2026-01-21T00:00:00Z" })))
    assert.is_true(keeps(f, as("flex", { status = "COMPLETED", restoreScheduledDate = "2026-01-05T00:00:00Z",
      restoreFinishedDate = "2026-01-11T00:00:00Z" })))
    assert.is_false(keeps(f, as("flex", { status = "FAILED", restoreScheduledDate = "2026-01-12T00:00:00Z",
      restoreFinishedDate = "2026-01-21T00:00:00Z" })))
    assert.is_true(keeps(f, as("flex", { status = "PENDING" })), "no time: kept")
    assert.is_false(keeps(f, as("flex", { status = "FAILED", snapshotFinishedDate = "2026-01-21T00:00:00Z" })))
    assert.is_true(keeps(f, as("flex", { status = "RUNNING", restoreScheduledDate = "garbled" })))
  end)

  it("match the unified status, and test wire records through their unified view", function()
    local f = { status = { FAILED = true, EXPIRED = true } }
    assert.is_true(keeps(f, { status = "FAILED" }))
    assert.is_false(keeps(f, { status = "COMPLETED" }))
    local wire = { { id = "1", status = "FAILED" }, { id = "2", status = "COMPLETED" } }
    local kept = filter.apply(f, wire, shape.mapper("flex"))
    assert.equal(1, #kept)
    assert.equal(wire[1], kept[1])
  end)

  describe("in options.listing", function()
    local settings = { endpoint = "serverless", concurrency = 1 }
    local function plan(opts) return options.listing("all_restore_jobs", 3, opts, settings) end

    it("read status, since and until", function()
      local p = assert(plan { status = { "FAILED", "CANCELLED" }, since = "2026-01-22", ["until"] = 1769126400 })
      assert.same({ FAILED = true, CANCELLED = true }, p.filter.status)
      assert.equal(1769040000, p.filter.since)
      assert.equal(1769126400, p.filter["until"])
      assert.is_nil(assert(plan {}).filter)
    end)

    it("give INVALID_ARGUMENT for bad values", function()
      for _, opts in ipairs {
        { status = { "DONE" } }, { status = { "failed" } }, { status = {} }, { since = "last night" },
        { ["until"] = 0 / 0 }, { since = math.huge }, { since = 10, ["until"] = 10 },
        { since = "2026-02-01", ["until"] = "2026-01-01" },
      } do
        local p, err = plan(opts)
        assert.is_nil(p)
        assert.equal("INVALID_ARGUMENT", err.errorCode)
        assert.equal(0, err.attempts)
      end
    end)

    it("raise on wrong types", function()
      assert.has_error(function() plan { status = "FAILED" } end,
        "bad argument #3 to 'all_restore_jobs' (status: table expected, got string)")
      assert.has_error(function() plan { status = { 1 } } end,
        "bad argument #3 to 'all_restore_jobs' (status[1]: string expected, got number)")
      assert.has_error(function() plan { since = true } end,
        "bad argument #3 to 'all_restore_jobs' (since: number or string expected, got boolean)")
    end)
  end)
end)

describe("options.job", function()
  local settings = { endpoint = "auto" }

  it("takes the client's endpoint, and the wait's defaults", function()
    assert.same({ endpoint = "auto" }, options.job("restore_job", nil, settings))
    local p = assert(options.job("wait_restore_job", { endpoint = "dedicated", interval = 0.5 }, settings, true))
    assert.equal("dedicated", p.endpoint)
    assert.equal(0.5, p.interval)
    assert.equal(3600, p.timeout)
  end)

  it("refuses bad values and raises on unknown keys or wrong types", function()
    for _, opts in ipairs { { endpoint = "everywhere" }, { interval = 0 }, { timeout = -1 }, { timeout = 1 / 0 } } do
      local p, err = options.job("wait_restore_job", opts, settings, true)
      assert.is_nil(p)
      assert.equal("INVALID_ARGUMENT", err.errorCode)
    end
    assert.has_error(function() options.job("restore_job", { interval = 1 }, settings) end,
      "bad argument #4 to 'restore_job' (unknown option 'interval')")
    assert.has_error(function() options.job("wait_restore_job", { on_change = true }, settings, true) end,
      "bad argument #4 to 'wait_restore_job' (on_change: function expected, got boolean)")
    assert.has_error(function() options.job_id("restore_job", 42) end,
      "bad argument #3 to 'restore_job' (string expected, got number)")
    assert.equal("INVALID_ARGUMENT", options.job_id("restore_job", "6A7C1E5F2C88FAEBA59D0101").errorCode)
    assert.is_nil(options.job_id("restore_job", "6a7c1e5f2c88faeba59d0101"))
  end)
end)
