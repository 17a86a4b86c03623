-- atlasrestore.exporter inside nginx (4 workers) against the emulator: /metrics is
-- promtool-clean and says what the emulator's jobs say; one refresh per key across
-- the workers; the last good answer served, and the errors counted, while a refresh fails.
local emulator = require "support.emulator"
local metrics = require "atlasrestore.metrics"
local nginx_host = require "support.nginx_host"
local socket = require "socket"

local TEAM = { emulator.TEAM_ALPHA_ID, emulator.TEAM_BETA_ID }

local function location(path, key, interval, projects)
  return ([[
        location = %s {
            content_by_lua_block {
                local opts = require("app").options {}
                opts.max_attempts = 2
                require("atlasrestore.exporter").serve { dict = "atlasrestore_metrics", key = %q, interval = %d,
                  client = opts, projects = { %s } }
            }
        }
]]):format(path, key, interval, '"' .. table.concat(projects, '", "') .. '"')
end

local HOST = {
  workers = 4,
  http = "lua_shared_dict atlasrestore_metrics 1m;",
  server = location("/metrics", "team", 3600, TEAM)
    .. location("/metrics/often", "often", 1, { emulator.MIXED_GROUP_ID }),
}

local function series(name, pairs_list)
  local parts = {}
  for i, p in ipairs(pairs_list) do parts[i] = p[1] .. '="' .. metrics.label_value(p[2]) .. '"' end
  return name .. "{" .. table.concat(parts, ",") .. "}"
end

local function samples(text)
  local out = {}
  for l in (text or ""):gmatch("[^\n]+") do
    local s, value = l:match("^([%w_]+%b{}) (%S+)$")
    if s then out[s] = tonumber(value) end
  end
  return out
end

local function promtool(text)
  local path = os.tmpname()
  emulator.write_file(path, text)
  local p = io.popen(emulator.clean_env("promtool check metrics <" .. emulator.sh_quote(path) .. " 2>&1; echo rc=$?"))
  local out = p:read("*a")
  p:close()
  os.remove(path)
  return out:match("rc=(%d+)") == "0", out
end

local function refreshed(project)
  return series("atlasrestore_last_refresh_success_time_seconds", { { "project", project } })
end

describe("the /metrics location", function()
  local emu, host

  nginx_host.around(function(e, h) emu, host = e, h end, function(e)
    HOST.env = nginx_host.emulator_env(e)
    return HOST
  end)

  -- Scrapes `path` every 50 ms (at most `seconds`) until done(samples, body) holds: the last body.
  local function scrape_until(path, seconds, done)
    local deadline = socket.gettime() + seconds
    local status, body
    repeat
      status, body = host:get(path)
      assert.equal(200, status)
      if done(samples(body), body) then return body end
      socket.sleep(0.05)
    until socket.gettime() > deadline
    error("never: " .. tostring(body))
  end

  it("serves promtool-clean metrics of the emulator's jobs after one refresh across the workers", function()
    local requests = {}
    for i = 1, 20 do requests[i] = { path = "/metrics" } end
    for _, answer in ipairs(host:burst(requests)) do assert.equal(200, answer.status) end
    local body = scrape_until("/metrics", 10, function(got)
      return got[refreshed(TEAM[1])] and got[refreshed(TEAM[2])]
    end)
    local ok, complaints = promtool(body)
    assert.is_true(ok, complaints)
    socket.sleep(1.5) -- the workers' timers tick: none may refresh again within the interval
    for _ = 1, 8 do assert.equal(200, (host:get("/metrics"))) end
    local stats = emu:stats()
    assert.equal(6, stats.instance_list_requests, "one refresh: three instance lists of two projects")

    -- The values: those of the same listing made here.
    local client = emu:client()
    local jobs, failures = client:organisation_restore_jobs { org_id = emulator.TEAM_ORG_ID }
    client:close()
    local got, want = samples(body), {}
    for _, job in ipairs(jobs) do
      local key = series("atlasrestore_restore_jobs", { { "project", job.project }, { "instance", job.instance },
        { "source", job.source }, { "status", job.status } })
      want[key] = (want[key] or 0) + 1
    end
    for key, n in pairs(want) do assert.equal(n, got[key], key) end
    for key, n in pairs(got) do
      if key:find("^atlasrestore_restore_jobs{") and n > 0 then assert.equal(want[key], n, key) end
    end
    assert.equal(#failures, got[series("atlasrestore_refresh_errors_total",
      { { "project", emulator.TEAM_BETA_ID }, { "category", "server" } })])
  end)

  it("answers OpenMetrics when the scraper asks for it", function()
    local p = io.popen(emulator.clean_env("curl -s -D - -H 'Accept: application/openmetrics-text; version=1.0.0' "
      .. host.url .. "/metrics"))
    local raw = p:read("*a")
    p:close()
    assert.truthy(raw:lower():find("content-type: application/openmetrics-text; version=1.0.0", 1, true), raw)
    assert.equal("# EOF\n", raw:sub(-6))
    assert.truthy(raw:find("\n# TYPE atlasrestore_refresh_errors counter\n", 1, true))
  end)

  it("keeps the last good answer while refreshes fail, and counts their errors", function()
    local mixed = emulator.MIXED_GROUP_ID
    local good = scrape_until("/metrics/often", 10, function(got) return got[refreshed(mixed)] end)
    local good_at = samples(good)[refreshed(mixed)]
    local dedicated = series("atlasrestore_restore_jobs", { { "project", mixed }, { "instance", "mixed-dedicated" },
      { "source", "dedicated" }, { "status", "COMPLETED" } })
    assert.equal(3, samples(good)[dedicated])
    local server_errors = series("atlasrestore_refresh_errors_total",
      { { "project", mixed }, { "category", "server" } })

    emu:config { faults = { rate = 1, kinds = { "503" } } }
    socket.sleep(1.5) -- a refresh that was under way has ended; every one from now on fails
    local _, settled = host:get("/metrics/often")
    local last_good, errors_then = samples(settled)[refreshed(mixed)], samples(settled)[server_errors]
    local failing = scrape_until("/metrics/often", 10, function(got) return got[server_errors] > errors_then end)
    assert.equal(last_good, samples(failing)[refreshed(mixed)], "no refresh succeeded")
    assert.equal(3, samples(failing)[dedicated], "the last good rows stay")
    assert.is_true((promtool(failing)))

    emu:config { faults = { rate = 0 } }
    scrape_until("/metrics/often", 10, function(got) return got[refreshed(mixed)] > good_at end)
  end)

  it("leaves no problem in nginx's error log", function()
    assert.same({}, host:problems())
  end)
end)
