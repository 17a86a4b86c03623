-- atlasrestore.metrics: what a Prometheus server reads from a listing's jobs, and
-- that promtool accepts it.
local metrics = require "atlasrestore.metrics"
local dates = require "atlasrestore.dates"

local G = "65a1b2c3d4e5f60718293a4b"
local NOW = dates.parse("2026-01-20T12:00:00Z")

-- promtool's verdict on `text`: true, or false and its complaints.
local function promtool(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  local p = assert(io.popen("promtool check metrics <" .. path .. " 2>&1; echo \"rc=$?\""))
  local out = p:read("*a")
  p:close()
  os.remove(path)
  return out:match("rc=(%d+)") == "0", out
end

-- The value of the sample whose name and label text are given, or nil.
local function sample(text, name, label_text)
  for l in text:gmatch("[^\n]+") do
    local value = l:match("^" .. name:gsub("%p", "%%%0") .. label_text:gsub("%p", "%%%0") .. " (%S+)$")
    if value then return tonumber(value) end
  end
end

local function jobs_collector()
  local c = metrics.collector(G)
  c:add { instance = "demo", source = "serverless", status = "RUNNING", createdAt = "2026-01-20T09:00:00Z" }
  c:add { instance = "demo", source = "serverless", status = "RUNNING", timestamp = "2026-01-20T11:00:00Z" }
  c:add { instance = "demo", source = "serverless", status = "FAILED", finishedAt = "2026-01-12T18:52:17Z" }
  c:add { instance = "demo", source = "serverless", status = "FAILED", finishedAt = "2026-01-14T00:00:00Z" }
  c:add { instance = "demo", source = "serverless", status = "COMPLETED", finishedAt = "2026-01-15T00:00:00Z" }
  c:add { instance = "flexy", source = "flex", status = "PENDING", restoreScheduledDate = "2026-01-20T11:30:00Z" }
  return c
end

describe("metrics", function()
  it("counts jobs by unified status, every status of an instance with jobs", function()
    local text = jobs_collector():render { now = NOW }
    local demo = '{project="' .. G .. '",instance="demo",source="serverless",status="%s"}'
    assert.equal(2, sample(text, "atlasrestore_restore_jobs", demo:format("RUNNING")))
    assert.equal(2, sample(text, "atlasrestore_restore_jobs", demo:format("FAILED")))
    assert.equal(1, sample(text, "atlasrestore_restore_jobs", demo:format("COMPLETED")))
    assert.equal(0, sample(text, "atlasrestore_restore_jobs", demo:format("EXPIRED")))
    assert.equal(1, sample(text, "atlasrestore_restore_jobs",
      '{project="' .. G .. '",instance="flexy",source="flex",status="PENDING"}'))
  end)

  it("gives the age of the oldest unfinished restore and the finish time of the latest failed one", function()
    local text = jobs_collector():render { now = NOW }
    local demo = '{project="' .. G .. '",instance="demo",source="serverless"}'
    assert.equal(3 * 3600, sample(text, "atlasrestore_oldest_unfinished_restore_age_seconds", demo))
    assert.equal(dates.parse("2026-01-14T00:00:00Z"),
      sample(text, "atlasrestore_last_failed_restore_finish_time_seconds", demo))
    -- Flex's scheduled date starts its age; an instance without a failed job has no finish time.
    local flexy = '{project="' .. G .. '",instance="flexy",source="flex"}'
    assert.equal(1800, sample(text, "atlasrestore_oldest_unfinished_restore_age_seconds", flexy))
    assert.is_nil(sample(text, "atlasrestore_last_failed_restore_finish_time_seconds", flexy))
  end)

  it("gives the refresh time and counts errors by category", function()
    local c = jobs_collector()
    c:succeeded(G, NOW - 60)
    c:failed(G, { kind = "server" })
    c:failed(G, { kind = "server" })
    c:failed("", { kind = "auth" })
    local text = c:render { now = NOW }
    assert.equal(NOW - 60, sample(text, "atlasrestore_last_refresh_success_time_seconds", '{project="' .. G .. '"}'))
    assert.equal(2, sample(text, "atlasrestore_refresh_errors_total", '{project="' .. G .. '",category="server"}'))
    assert.equal(1, sample(text, "atlasrestore_refresh_errors_total", '{project="",category="auth"}'))
  end)

  it("escapes label values as the exposition format says, and promtool accepts the text", function()
    local c = jobs_collector()
    c:add { instance = 'a"b\\c\nd', source = "serverless", status = "FAILED", finishedAt = "2026-01-19T00:00:00Z" }
    c:succeeded(G, NOW)
    c:failed(G, { kind = "network" })
    local text = c:render { now = NOW }
    assert.truthy(text:find('instance="a\\"b\\\\c\\nd"', 1, true))
    local ok, complaints = promtool(text)
    assert.is_true(ok, complaints)
  end)

  it("renders an empty collector that promtool accepts", function()
    local ok, complaints = promtool(metrics.collector():render { now = NOW })
    assert.is_true(ok, complaints)
  end)

  it("renders the same bytes for the same jobs in any order", function()
    local a, b = metrics.collector(G), metrics.collector(G)
    local jobs = {
      { instance = "b", source = "flex", status = "COMPLETED" },
      { instance = "a", source = "serverless", status = "FAILED", finishedAt = "2026-01-19T00:00:00Z" },
      { instance = "c", project = ("f"):rep(24), source = "dedicated", status = "RUNNING",
        createdAt = "2026-01-19T00:00:00Z" },
    }
    for i = 1, #jobs do a:add(jobs[i]) end
    for i = #jobs, 1, -1 do b:add(jobs[i]) end
    assert.equal(a:render { now = NOW }, b:render { now = NOW })
  end)

  it("names a counter's family without _total in OpenMetrics, with units and # EOF", function()
    local c = jobs_collector()
    c:failed(G, { kind = "server" })
    local text = c:render { now = NOW, openmetrics = true }
    assert.truthy(text:find("\n# TYPE atlasrestore_refresh_errors counter\n", 1, true))
    local sample_line = '\natlasrestore_refresh_errors_total{project="' .. G .. '",category="server"} 1\n'
    assert.truthy(text:find(sample_line, 1, true))
    assert.truthy(text:find("\n# UNIT atlasrestore_last_refresh_success_time_seconds seconds\n", 1, true))
    assert.equal("# EOF\n", text:sub(-6))
  end)

  it("survives encode and decode unchanged, escapes included", function()
    local c = jobs_collector()
    c:add { instance = "tab\there%", source = "flex", status = "QUEUED", createdAt = "2026-01-20T10:00:00Z" }
    c:succeeded(G, NOW)
    c:failed(G, { kind = "rate_limited" })
    assert.equal(c:render { now = NOW }, metrics.decode(c:encode()):render { now = NOW })
    assert.equal(metrics.collector():render { now = NOW }, metrics.decode(nil):render { now = NOW })
  end)

  it("merges a refresh: listed projects replaced except the instances that failed, errors added", function()
    local other = "ffffffffffffffffffffffff"
    local old = jobs_collector()
    old:add { project = other, instance = "kept", source = "flex", status = "COMPLETED" }
    old:succeeded(G, NOW - 600)
    old:succeeded(other, NOW - 600)
    old:failed(G, { kind = "server" })
    local fresh = metrics.collector(G)
    fresh:add { instance = "flexy", source = "flex", status = "COMPLETED" }
    fresh:succeeded(G, NOW)
    fresh:failed(G, { kind = "server" })
    fresh:failed(other, { kind = "network" })
    old:merge(fresh, { [G] = { demo = true } })
    local text = old:render { now = NOW }
    local function jobs(project, instance, source, status)
      return sample(text, "atlasrestore_restore_jobs", ('{project="%s",instance="%s",source="%s",status="%s"}')
        :format(project, instance, source, status))
    end
    assert.equal(2, jobs(G, "demo", "serverless", "RUNNING"), "a failed instance keeps its last good rows")
    assert.equal(0, jobs(G, "flexy", "flex", "PENDING"), "a listed instance is replaced")
    assert.equal(1, jobs(G, "flexy", "flex", "COMPLETED"))
    assert.equal(1, jobs(other, "kept", "flex", "COMPLETED"), "a project that failed keeps its rows")
    assert.equal(NOW, sample(text, "atlasrestore_last_refresh_success_time_seconds", '{project="' .. G .. '"}'))
    assert.equal(NOW - 600, sample(text, "atlasrestore_last_refresh_success_time_seconds",
      '{project="' .. other .. '"}'))
    assert.equal(2, sample(text, "atlasrestore_refresh_errors_total", '{project="' .. G .. '",category="server"}'))
  end)

  it("raises at the caller's line for a job without its project or instance", function()
    assert.has_error(function() metrics.collector():add { instance = "x", status = "FAILED" } end)
    assert.has_error(function() metrics.collector(G):add { status = "FAILED" } end)
  end)
end)
