--- spec/bench.lua's operator scenarios, against the emulator's fleet setting:
-- 1. Peak RSS of the command printing 100,000 jobs as NDJSON: a project of 20
--    Flex clusters of 5,000 jobs (listed per instance as each completes) against
--    one instance of 100,000 (jobs-100000, lazily iterated). Target: within 2x.
-- 2. An organisation of 50 projects of 4 Flex clusters (150 jobs: 2 pages of 100)
--    at 100 ms a request, each project's bucket enforced by the emulator and just
--    big enough for its own listing (8 requests), against the critical path of
--    the same bounds: the challenge, the project list, then ceil(50 / project_concurrency) waves of
--    (instance lists + 2 pages). Target: within 1.3x, and no 429.
-- Each returns rows for spec/bench.lua's tables and the verdicts.
local emulator = require "support.emulator"
local socket = require "socket"

local M = {}

local fmt = string.format
local q = emulator.sh_quote

local ROOT = io.popen("pwd -P"):read("*l")
local COMMAND = "env LUA_PATH=" .. q(ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;") .. " LUA_CPATH="
  .. q(ROOT .. "/build/5.4/?.so;;") .. " lua5.4 " .. q(ROOT .. "/bin/atlasrestore")

M.TARGET_RSS_RATIO = 2
M.TARGET_ORGANISATION_RATIO = 1.3

-- Peak RSS (kB) and exit status of the command with `args`, its stdout counted in lines.
local function command_rss(emu, rusage, work, args)
  local ru = work .. "/rusage-operators"
  os.remove(ru)
  local env = ("MONGODB_ATLAS_BASE_URL=%s MONGODB_ATLAS_PUBLIC_API_KEY=%s MONGODB_ATLAS_PRIVATE_API_KEY=%s")
    :format(q(emu.base_url), q(emu.public_key), q(emu.private_key))
  local lines = work .. "/lines-operators"
  os.execute(emulator.clean_env(("env %s timeout 300 %s %s %s %s 2>/dev/null | wc -l >%s"):format(env, rusage,
    q(ru), COMMAND, args, q(lines))))
  local wall, _, _, rss, status = (emulator.read_file(ru) or ""):match("^(%S+) (%S+) (%S+) (%d+) (%d+)")
  return tonumber(rss), tonumber(status), tonumber(emulator.read_file(lines) or ""), tonumber(wall)
end

function M.streaming(emu, rusage, work)
  emu:reset()
  emu:config { fleet = { projects = 1, instances = 20, jobs = 5000 } }
  local project_rss, project_status, project_jobs, project_wall = command_rss(emu, rusage, work,
    "list -o ndjson --no-progress --projectId " .. emulator.FLEET_PREFIX .. "00000001")
  local serial_rss, serial_status, serial_jobs, serial_wall = command_rss(emu, rusage, work,
    "list -o ndjson --no-progress --concurrency 1 --projectId " .. emulator.FLEET_PREFIX .. "00000001")
  local one_rss, one_status, one_jobs, one_wall = command_rss(emu, rusage, work,
    "list jobs-100000 -o ndjson --no-progress --projectId " .. emulator.BIG_GROUP_ID)
  emu:reset()
  local ok = project_status == 0 and one_status == 0 and serial_status == 0 and project_jobs == 100000
    and one_jobs == 100000 and serial_jobs == 100000
  local ratio = project_rss and one_rss and project_rss / one_rss
  return {
    rows = {
      { "a project: 20 instances x 5,000 jobs", fmt("%d", project_jobs or 0), fmt("%.1f", project_wall or 0),
        fmt("%.1f", (project_rss or 0) / 1024) },
      { "the same, --concurrency 1", fmt("%d", serial_jobs or 0), fmt("%.1f", serial_wall or 0),
        fmt("%.1f", (serial_rss or 0) / 1024) },
      { "one instance of 100,000 jobs", fmt("%d", one_jobs or 0), fmt("%.1f", one_wall or 0),
        fmt("%.1f", (one_rss or 0) / 1024) },
    },
    ok = ok, ratio = ratio,
    verdict = ratio and fmt("project / one instance: %.2fx (target %.1fx)%s", ratio, M.TARGET_RSS_RATIO,
      ratio <= M.TARGET_RSS_RATIO and "" or ": missed") or "no figures",
  }
end

function M.organisation(emu)
  -- Two pages of 100 per instance: the figure is about waiting, not decoding.
  local PROJECTS, INSTANCES, JOBS, PER_PAGE, RTT, BOUND, K = 50, 4, 150, 100, 0.1, 8, 4
  emu:reset()
  emu:config { fleet = { projects = PROJECTS, instances = INSTANCES, jobs = JOBS }, latency = { request = RTT },
    rate_limit = { capacity = INSTANCES * 2, refill = 1, per = 3600 } }
  local client = emu:client { concurrency = K }
  local started = socket.gettime()
  local jobs, failures = client:organisation_restore_jobs { org_id = emulator.FLEET_ORG_ID, project_concurrency = BOUND,
    items_per_page = PER_PAGE, on_instance = function() end }
  local seconds = socket.gettime() - started
  client:close()
  local stats = emu:stats()
  emu:reset()
  -- The Digest challenge, the project list, then per wave the three instance lists (at once) and two pages.
  local critical = RTT * (2 + math.ceil(PROJECTS / BOUND) * 3)
  local ratio = seconds / critical
  local ok = jobs == PROJECTS * INSTANCES * JOBS and failures and #failures == 0
  return {
    rows = { { fmt("%d projects x %d instances x %d jobs, %d ms a request", PROJECTS, INSTANCES, JOBS, RTT * 1000),
      fmt("%d (%d at a time, k = %d)", PROJECTS, BOUND, K), fmt("%.2f", seconds), fmt("%.2f", critical),
      fmt("%.2fx", ratio), fmt("%d", stats.rate_limited), fmt("%d", stats.requests) } },
    ok = ok, ratio = ratio, rate_limited = stats.rate_limited,
    verdict = fmt("organisation / critical path: %.2fx (target %.1fx)%s; 429s: %d (target 0)", ratio,
      M.TARGET_ORGANISATION_RATIO, ratio <= M.TARGET_ORGANISATION_RATIO and "" or ": missed", stats.rate_limited),
  }
end

return M
