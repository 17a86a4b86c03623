-- The command's -o openmetrics, --output-file and --all-projects, run from this tree
-- as a subprocess against the emulator: promtool accepts the text, and its values
-- are those of the same listing in NDJSON.
local emulator = require "support.emulator"
local compat = require "support.compat"
local dates = require "atlasrestore.dates"
local metrics = require "atlasrestore.metrics"
local cjson = require "cjson"

local q = emulator.sh_quote
local ROOT = io.popen("pwd -P"):read("*l")
local WORK = ROOT .. "/build/metrics-runs"
local COMMAND = "env LUA_PATH=" .. q(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;") .. " LUA_CPATH="
  .. q(ROOT .. "/build/5.4/?.so;;") .. " lua5.4 " .. q(ROOT .. "/bin/atlasrestore")

local emu

-- The command with `args`: { out, err, code }.
local function run(args)
  local out, err, code = WORK .. "/out", WORK .. "/err", WORK .. "/code"
  local env = ("MONGODB_ATLAS_BASE_URL=%s MONGODB_ATLAS_PUBLIC_API_KEY=%s MONGODB_ATLAS_PRIVATE_API_KEY=%s ")
    :format(q(emu.base_url), q(emu.public_key), q(emu.private_key))
  compat.execute(emulator.clean_env("env -u MONGODB_ATLAS_PROJECT_ID " .. env .. COMMAND .. " " .. args
    .. " </dev/null >" .. q(out) .. " 2>" .. q(err) .. "; echo $? >" .. q(code)))
  return { out = emulator.read_file(out) or "", err = emulator.read_file(err) or "",
    code = tonumber(emulator.read_file(code) or "") }
end

local function promtool(path)
  local p = io.popen(emulator.clean_env("promtool check metrics <" .. q(path) .. " 2>&1; echo rc=$?"))
  local out = p:read("*a")
  p:close()
  return out:match("rc=(%d+)") == "0", out
end

-- Every sample: "name{labels}" -> value.
local function samples(text)
  local out = {}
  for l in text:gmatch("[^\n]+") do
    local series, value = l:match("^([%w_]+%b{}) (%S+)$")
    if series then out[series] = tonumber(value) end
  end
  return out
end

local function series(name, pairs_list)
  local parts = {}
  for i, p in ipairs(pairs_list) do parts[i] = p[1] .. '="' .. metrics.label_value(p[2]) .. '"' end
  return name .. "{" .. table.concat(parts, ",") .. "}"
end

local function files_in(dir)
  local p = io.popen("ls -A " .. q(dir))
  local out = {}
  for name in p:lines() do out[#out + 1] = name end
  p:close()
  return out
end

-- What the metrics must say about `jobs` (decoded NDJSON records) at `now`.
local function expected(jobs, now)
  local out = {}
  local oldest, failed = {}, {}
  for _, job in ipairs(jobs) do
    local where = { { "project", job.project }, { "instance", job.instance }, { "source", job.source } }
    local key = series("atlasrestore_restore_jobs", { where[1], where[2], where[3], { "status", job.status } })
    out[key] = (out[key] or 0) + 1
    local id = series("", where)
    if job.status == "FAILED" then
      failed[id] = math.max(failed[id] or 0, dates.parse(job.finishedAt))
    elseif job.status ~= "COMPLETED" and job.status ~= "CANCELLED" and job.status ~= "EXPIRED" then
      local t = dates.parse(job.createdAt) or dates.parse(job.restoreScheduledDate) or dates.parse(job.timestamp)
      oldest[id] = math.min(oldest[id] or math.huge, t)
    end
  end
  for id, t in pairs(failed) do out["atlasrestore_last_failed_restore_finish_time_seconds" .. id] = t end
  for id, t in pairs(oldest) do out["atlasrestore_oldest_unfinished_restore_age_seconds" .. id] = now - t end
  return out
end

describe("the command's metrics", function()
  lazy_setup(function()
    emu = emulator.start()
    os.execute("mkdir -p " .. q(WORK .. "/textfile"))
  end)
  lazy_teardown(function() if emu then emu:stop() end end)

  local TEAM = "list --all-projects --orgId " .. emulator.TEAM_ORG_ID

  it("writes an organisation's metrics to --output-file, promtool-clean, the values of its jobs", function()
    local path = WORK .. "/textfile/atlasrestore.prom"
    os.remove(path)
    local before = os.time()
    local r = run(TEAM .. " -o openmetrics --output-file " .. q(path))
    local after = os.time()
    assert.equal(12, r.code, r.err)
    assert.equal("", r.out)
    assert.same({ "atlasrestore.prom" }, files_in(WORK .. "/textfile"), "no temporary file left")
    local ok, complaints = promtool(path)
    assert.is_true(ok, complaints)
    local got = samples(emulator.read_file(path))

    local listed = run(TEAM .. " -o ndjson")
    assert.equal(12, listed.code)
    local jobs = {}
    for l in listed.out:gmatch("[^\n]+") do jobs[#jobs + 1] = cjson.decode(l) end
    assert.equal(48, #jobs)
    for key, value in pairs(expected(jobs, after)) do
      assert.is_not_nil(got[key], key)
      if key:find("_age_seconds", 1, true) then
        assert.is_true(math.abs(got[key] - value) <= after - before + 1, key)
      else
        assert.equal(value, got[key], key)
      end
    end
    for key, value in pairs(got) do
      if key:find("^atlasrestore_restore_jobs") and value > 0 then
        assert.equal(value, expected(jobs, after)[key], key)
      end
    end
    for _, group in ipairs { emulator.TEAM_ALPHA_ID, emulator.TEAM_BETA_ID } do
      local t = got[series("atlasrestore_last_refresh_success_time_seconds", { { "project", group } })]
      assert.is_true(t >= before and t <= after)
    end
    assert.equal(1, got[series("atlasrestore_refresh_errors_total",
      { { "project", emulator.TEAM_BETA_ID }, { "category", "server" } })])
    assert.truthy(r.err:find("project team-beta (" .. emulator.TEAM_BETA_ID .. ") instance ledger-broken (dedicated)",
      1, true), r.err)
  end)

  it("leaves --output-file as it was when the listing fails, and no temporary file", function()
    local path = WORK .. "/textfile/atlasrestore.prom"
    emulator.write_file(path, "# the last good run\n")
    local r = run("list --projectId 65a1b2c3d4e5f60718293aff -o openmetrics --output-file " .. q(path))
    assert.equal(4, r.code)
    assert.equal("# the last good run\n", emulator.read_file(path))
    assert.same({ "atlasrestore.prom" }, files_in(WORK .. "/textfile"))
    r = run("list --projectId " .. emulator.GROUP_ID .. " demo -o openmetrics --output-file "
      .. q(WORK .. "/no-such-dir/x.prom"))
    assert.equal(1, r.code)
    assert.truthy(r.err:find("--output-file", 1, true))
  end)

  it("prints one instance's and one project's metrics on stdout", function()
    local r = run("list --projectId " .. emulator.GROUP_ID .. " demo -o openmetrics")
    assert.equal(0, r.code, r.err)
    emulator.write_file(WORK .. "/one.prom", r.out)
    assert.is_true((promtool(WORK .. "/one.prom")))
    local got = samples(r.out)
    local where = { { "project", emulator.GROUP_ID }, { "instance", "demo" }, { "source", "serverless" } }
    for status, n in pairs { RUNNING = 1, COMPLETED = 3, FAILED = 1, CANCELLED = 1, EXPIRED = 1, PENDING = 0 } do
      assert.equal(n, got[series("atlasrestore_restore_jobs", { where[1], where[2], where[3], { "status", status } })])
    end
    assert.equal(dates.parse("2026-01-12T18:52:17Z"),
      got[series("atlasrestore_last_failed_restore_finish_time_seconds", where)])

    r = run("list --projectId " .. emulator.MIXED_GROUP_ID .. " -o openmetrics")
    assert.equal(12, r.code)
    got = samples(r.out)
    assert.equal(1, got[series("atlasrestore_refresh_errors_total",
      { { "project", emulator.MIXED_GROUP_ID }, { "category", "server" } })])
    -- Flex's fourth job is a download whose link has expired.
    for status, n in pairs { COMPLETED = 3, EXPIRED = 1 } do
      assert.equal(n, got[series("atlasrestore_restore_jobs", { { "project", emulator.MIXED_GROUP_ID },
        { "instance", "mixed-flex" }, { "source", "flex" }, { "status", status } })])
    end
  end)

  it("refuses what does not fit, in one usage error each", function()
    for _, args in ipairs {
      "list --orgId " .. emulator.TEAM_ORG_ID .. " --projectId " .. emulator.GROUP_ID,
      "list --all-projects demo",
      "list --all-projects --projectId " .. emulator.GROUP_ID,
      "list --projectId " .. emulator.GROUP_ID .. " demo -o openmetrics --page 1",
      "list --projectId " .. emulator.GROUP_ID .. " demo -o openmetrics --fields id",
      "describe --projectId " .. emulator.GROUP_ID .. " demo 6a7a1c0e5f1b2c3d4e5f6a01 -o openmetrics",
      "list --projectId " .. emulator.GROUP_ID .. " demo -o openmetrics --endpoint serverless",
    } do
      local r = run(args)
      assert.equal(2, r.code, args .. ": " .. r.err)
      assert.equal("", r.out, args)
    end
  end)
end)

describe("the command's --all-projects", function()
  lazy_setup(function()
    emu = emulator.start()
    os.execute("mkdir -p " .. q(WORK))
  end)
  lazy_teardown(function() if emu then emu:stop() end end)

  it("lists every project the credentials see with a PROJECT column, then what failed, exit 12", function()
    local r = run("list --all-projects -o csv")
    assert.equal(12, r.code)
    local header, projects = nil, {}
    for l in r.out:gmatch("[^\r\n]+") do
      if not header then
        header = l
      else
        projects[l:match("^([^,]*)")] = true
      end
    end
    assert.equal("project,instance,id,snapshotId,targetClusterName,deliveryType,status,finishedAt", header)
    assert.same({ [emulator.GROUP_ID] = true, [emulator.MIXED_GROUP_ID] = true, [emulator.TEAM_ALPHA_ID] = true,
      [emulator.TEAM_BETA_ID] = true }, projects, "every project with jobs")
    for _, line in ipairs {
      "atlasrestore: project mixed (" .. emulator.MIXED_GROUP_ID .. ") instance mixed-broken (dedicated): ",
      "atlasrestore: project team-beta (" .. emulator.TEAM_BETA_ID .. ") instance ledger-broken (dedicated): ",
    } do
      assert.truthy(r.err:find(line, 1, true), r.err)
    end
  end)

  it("takes projectName among --fields, the name the project list gave", function()
    local r = run("list --all-projects --orgId " .. emulator.TEAM_ORG_ID .. " -o csv --fields projectName,id")
    assert.equal(12, r.code, r.err) -- team-beta's ledger-broken fails
    local names = {}
    for l in r.out:gmatch("[^\r\n]+") do names[l:match("^([^,]*)")] = true end
    assert.same({ projectName = true, ["team-alpha"] = true, ["team-beta"] = true }, names)
  end)

  it("prints a project's NDJSON per instance, in the order of names", function()
    local r = run("list --projectId " .. emulator.MIXED_GROUP_ID .. " -o ndjson")
    assert.equal(12, r.code)
    local names, last = {}, ""
    for l in r.out:gmatch("[^\n]+") do
      local job = cjson.decode(l)
      assert.is_true(job.instance >= last)
      if job.instance ~= last then names[#names + 1] = job.instance end
      last = job.instance
    end
    assert.same({ "mixed-dedicated", "mixed-flex", "mixed-migrated", "mixed-serverless", "mixed-sharded" }, names)
  end)

  it("exits with the error's code when the project list itself fails", function()
    local r = run("list --all-projects --orgId 65a1b2c3d4e5f60718293bff -o ndjson")
    assert.equal(4, r.code)
    assert.equal("", r.out)
    assert.truthy(r.err:find("ORG_NOT_FOUND", 1, true))
  end)
end)
