-- Soak: 1,000 listings of the 1,000-job instance back to back, in one process,
-- with one client, against the emulator with 10% faulty requests.  Every
-- listing must be exactly right or a clean error table; resident memory must
-- not grow by more than 10% between listing 100 and the end.
--   lua5.4 spec/soak.lua        (from the repository root; `make soak`)
--   SOAK_LISTINGS (1000), SOAK_SEED (20240), SOAK_MAX_SECONDS (240)
local root = (arg and arg[0] or "spec/soak.lua"):match("^(.*)/spec/[^/]+$") or "."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. root .. "/spec/?.lua;" .. package.path
package.cpath = root .. "/build/5.4/?.so;" .. package.cpath

local atlasrestore = require "atlasrestore"
local emulator = require "support.emulator"
local socket = require "socket"

local LISTINGS = math.tointeger(tonumber(os.getenv("SOAK_LISTINGS") or "1000"))
local SEED = math.tointeger(tonumber(os.getenv("SOAK_SEED") or "20240"))
local MAX_SECONDS = tonumber(os.getenv("SOAK_MAX_SECONDS") or "240")
local INSTANCE, JOBS = "jobs-1000", 1000
local RSS_AT = 100
local RSS_GROWTH = 0.10
assert(LISTINGS and LISTINGS > RSS_AT, "SOAK_LISTINGS must be an integer above " .. RSS_AT)
assert(SEED, "SOAK_SEED must be an integer")

local function rss_kb()
  collectgarbage()
  collectgarbage()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmRSS:%s*(%d+)%s*kB")
    if kb then return tonumber(kb) end
  end
  error("soak: no VmRSS in /proc/self/status")
end

-- The emulator's ids: crc32(name) as 8 hex digits, then the index as 16.
local function crc32(s)
  local crc = 0xFFFFFFFF
  for i = 1, #s do
    crc = crc ~ s:byte(i)
    for _ = 1, 8 do
      crc = (crc & 1) ~= 0 and (crc >> 1) ~ 0xEDB88320 or crc >> 1
    end
  end
  return crc ~ 0xFFFFFFFF
end

local expected = {}
for i = 1, JOBS do expected[i] = string.format("%08x%016x", crc32(INSTANCE), i) end

-- nil when `jobs` is exactly the expected listing, else what is wrong.
local function wrong(jobs)
  if type(jobs) ~= "table" then return "result is a " .. type(jobs) end
  if #jobs ~= JOBS then return ("%d jobs instead of %d"):format(#jobs, JOBS) end
  local seen = {}
  for i = 1, JOBS do
    local id = type(jobs[i]) == "table" and jobs[i].id
    if seen[id] then return "duplicate id " .. tostring(id) .. " at " .. i end
    if id ~= expected[i] then return ("id %s at %d, expected %s"):format(tostring(id), i, expected[i]) end
    seen[id] = true
  end
end

local function soak(emu)
  local client = assert(atlasrestore.new {
    base_url = emu.base_url, public_key = emu.public_key, private_key = emu.private_key,
    retry_base_delay = 0.01, retry_max_delay = 0.05, on_warning = function() end, endpoint = "serverless",
  })

  -- A fault-free listing first: the ids must match before faults are on.
  local first, first_err = client:all_restore_jobs(emu.group_id, INSTANCE)
  local problem = first_err and "error " .. tostring(first_err.errorCode) or wrong(first)
  if problem then error("soak: the fault-free listing is wrong: " .. problem, 0) end
  first = nil -- luacheck: ignore 311

  emu:config { stall_seconds = 2, faults = {
    seed = SEED, rate = 0.1, retry_after = 0,
    kinds = { "429", "429_body_only", "503", "truncated", "malformed", "close" },
  } }

  local right, errors, failures = 0, {}, {}
  -- One listing in its own function, so no result is live when RSS is read.
  local function listing(n)
    local ok, jobs, err = pcall(client.all_restore_jobs, client, emu.group_id, INSTANCE)
    if not ok then
      failures[#failures + 1] = ("listing %d raised: %s"):format(n, tostring(jobs))
    elseif jobs == nil then
      if type(err) == "table" and type(err.errorCode) == "string" then
        errors[err.errorCode] = (errors[err.errorCode] or 0) + 1
      else
        failures[#failures + 1] = ("listing %d: error without an errorCode: %s"):format(n, tostring(err))
      end
    else
      local why = wrong(jobs)
      if why then
        failures[#failures + 1] = ("listing %d: %s"):format(n, why)
      else
        right = right + 1
      end
    end
  end

  local started = socket.gettime()
  local rss_100
  for n = 1, LISTINGS do
    listing(n)
    if n == RSS_AT then rss_100 = rss_kb() end
    -- Stop early rather than drag on: enough evidence, or a stall.
    if #failures >= 10 then break end
    if socket.gettime() - started > MAX_SECONDS then
      failures[#failures + 1] = ("stopped after %d listings: over %d s"):format(n, MAX_SECONDS)
      break
    end
  end
  local elapsed = socket.gettime() - started
  -- Measured with the client still open, as at listing 100.
  local rss_end = rss_kb()
  client:close()
  local stats = emu:stats()
  return {
    right = right, errors = errors, failures = failures, elapsed = elapsed,
    rss_100 = rss_100, rss_end = rss_end, faults = stats.faults, list_requests = stats.list_requests,
  }
end

local r = emulator.with({}, soak)

local by_code = {}
local n_errors = 0
for code, n in pairs(r.errors) do
  by_code[#by_code + 1] = code .. "=" .. n
  n_errors = n_errors + n
end
table.sort(by_code)
if r.rss_100 and r.rss_end > r.rss_100 * (1 + RSS_GROWTH) then
  r.failures[#r.failures + 1] = ("RSS grew from %d kB at listing %d to %d kB (> %d%%)")
    :format(r.rss_100, RSS_AT, r.rss_end, RSS_GROWTH * 100)
end
print(("soak: %d/%d listings right, %d clean errors (%s), %d faults injected in %d list requests, " ..
  "RSS %s kB at %d and %d kB at the end, %.1f s")
  :format(r.right, LISTINGS, n_errors, #by_code > 0 and table.concat(by_code, " ") or "none",
    r.faults or -1, r.list_requests or -1, tostring(r.rss_100), RSS_AT, r.rss_end, r.elapsed))
for _, f in ipairs(r.failures) do io.stderr:write("soak: FAIL ", f, "\n") end
os.exit(#r.failures == 0 and 0 or 1, true)
