-- Benchmarks atlasrestore against the plain peers, every figure from one run:
--   make bench       (lua5.4 spec/bench.lua from the repository root, after
--                    `make` and the two tools of spec/bench that make builds)
-- It prints one table per scenario and writes the same tables, as Markdown,
-- to build/bench.md (for the README's "Measured").  Machines are noisy: only
-- ratios between contenders of one run mean much, and nothing here asserts
-- on time.  The exit status is 1 only when a contender gives a wrong result:
-- a decode that differs from cjson's, a listing that fails, misses, repeats
-- or reorders a job.
--
-- 1. Decoding page 1 of jobs-10000 (500 jobs), in CPU time: core.decode,
--    cjson.decode and two floors (spec/bench/floors.lua): the tables built
--    from constants, and their building replayed with every string cut from
--    the page's bytes.
-- 2. Listing jobs-10000 (20 pages of 500) with the emulator adding 20 ms, then
--    150 ms, to every request and 50 ms to every new connection: this module
--    at k = 1, the default k and k = 8, with Digest and with a service
--    account, and the peers as their users write them: curl --digest + jq,
--    Python urllib + json (Digest), luasocket + lua-cjson (a service-account
--    token: luasocket has no Digest).  Each listing is a process of its own
--    (spec/bench/*_list.*), timed by build/bench/rusage: wall, user + system
--    CPU, peak RSS; the emulator counts requests and connections.
-- 3. Iterating 1,000, 10,000 and 100,000 jobs with restore_jobs: peak RSS.
-- 4. Encoding that page back to JSON, in CPU time: core.encode (the page;
--    each job with the record's order, as the command's NDJSON does) against
--    cjson.encode of the same values.
-- 5. NDJSON of jobs-100000 (200 pages of 500), no added latency: the
--    command (`atlasrestore list -o ndjson`, default k) against curl + jq -c
--    '.results[]' over the same pages, each a process writing to a file.
-- 6. Instructions (valgrind's callgrind, user space, noise-free) of the whole
--    process of a sequential listing of jobs-10000 with a service account:
--    this module at k = 1 against luasocket + lua-cjson, over the same
--    emulator pages (skipped without valgrind).
-- 7. The targets of the speed issues, each met or missed.
-- 8. The operators' figures (spec/bench/operators.lua): a project listing's
--    peak RSS in NDJSON against one instance of the same size, and an
--    organisation listing against its critical path.
-- 9. Inside nginx (spec/bench/nginx.lua; the LuaJIT build, cosockets): a worker's
--    CPU per page against core.decode of that page, and a trivial location's p99
--    beside 50 listings in flight against a plain nginx's.
-- BENCH_ONLY=encode,ndjson (any of decode, listing, memory, encode, ndjson, instructions, operators, nginx) runs only
-- those.
package.path = "./lua/?.lua;./lua/?/init.lua;./spec/?.lua;" .. package.path
package.cpath = "./build/5.4/?.so;./build/bench/?.so;" .. package.cpath

local socket = require "socket"
local cjson = require "cjson"
local core = require "atlasrestore.core"
local options = require "atlasrestore.options"
local emulator = require "support.emulator"
local floors = require "bench.floors"
local operators = require "bench.operators"
local nginx_bench = require "bench.nginx"

local now = socket.gettime
local q = emulator.sh_quote
local read = emulator.read_file
local fmt = string.format

local RUSAGE = "build/bench/rusage"
local MARKDOWN = "build/bench.md"
local ACCEPT = "application/vnd.atlas.2023-01-01+json"
local PAGE_SIZE = 500
local LIST_NAME, LIST_JOBS = "jobs-10000", 10000
local CONNECTION_LATENCY = 0.05
-- Per-request latency, and rounds (medians of that many); the first scenario
-- also warms caches with a round that is not counted.
local SCENARIOS = {
  { request = 0.02, rounds = 5, warmup = true },
  { request = 0.15, rounds = 3 },
}
-- 10,000 jobs tell what grows with the number of jobs from what a full
-- window of k pages costs (1,000 jobs are only 2 pages).
local MEMORY_LISTINGS = {
  { name = "jobs-1000", jobs = 1000, group = emulator.GROUP_ID },
  { name = "jobs-10000", jobs = 10000, group = emulator.GROUP_ID },
  { name = "jobs-100000", jobs = 100000, group = emulator.BIG_GROUP_ID },
}
local CHILD_TIMEOUT = 120 -- seconds, any one child
-- A decode batch aims at this many seconds, within these bounds.
local DECODE_BATCH_SECONDS = 0.015
local DECODE_MIN_ITERS, DECODE_MAX_ITERS = 3, 5000
local DECODE_ROUNDS = 41

-- The targets, as ratios or differences measured in this run.
local TARGET_WALL_VS_PEER = 0.30
local TARGET_CPU_VS_LUASOCKET = 0.5
local TARGET_PROCESS_CPU_VS_LUASOCKET = 0.6
local TARGET_INSTRUCTIONS_VS_LUASOCKET = 0.5
local TARGET_DECODE_VS_FLOOR = 1.25
local TARGET_MEMORY_GROWTH_MB = 10
local TARGET_ENCODE_VS_CJSON = 1.0
local TARGET_NDJSON_VS_JQ = 1.0
local NDJSON_NAME, NDJSON_JOBS, NDJSON_ROUNDS = "jobs-100000", 100000, 3

-- The default k: what a client gets without the option, or 4 while that is 1.
local DEFAULT_K = options.DEFAULTS.concurrency
local DEFAULT_ARG = DEFAULT_K > 1 and "default" or "4"
local DEFAULT_LABEL = DEFAULT_K > 1 and fmt("%d (default)", DEFAULT_K) or "4"
local KS = { { arg = "1", label = "1" }, { arg = DEFAULT_ARG, label = DEFAULT_LABEL }, { arg = "8", label = "8" } }

local median = require("bench.stats").median

local failures = {}
local function fail(msg)
  failures[#failures + 1] = msg
  io.stderr:write("bench: FAILED: ", msg, "\n")
end

local function capture(cmd)
  local p = assert(io.popen(emulator.clean_env(cmd), "r"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local function have(cmd)
  local _, rc = capture("command -v " .. q(cmd) .. " >/dev/null 2>&1")
  return rc == 0
end

---------------------------------------------------------------------------
-- Formatting: Markdown tables, padded so that the terminal shows them too.

local report = {}

local function out(line)
  print(line)
  report[#report + 1] = line
end

local function md_table(header, rows)
  local widths = {}
  for _, row in ipairs({ header, table.unpack(rows) }) do
    for i, cell in ipairs(row) do widths[i] = math.max(widths[i] or 3, utf8.len(cell) or #cell) end
  end
  local function line(row)
    local cells = {}
    for i, w in ipairs(widths) do
      local cell = row[i] or ""
      cells[i] = cell .. (" "):rep(w - (utf8.len(cell) or #cell))
    end
    return "| " .. table.concat(cells, " | ") .. " |"
  end
  out(line(header))
  local rule = {}
  for i, w in ipairs(widths) do rule[i] = ("-"):rep(w) end
  out(line(rule))
  for _, row in ipairs(rows) do out(line(row)) end
end

local function secs(s)
  if not s then return "—" end
  if s < 0.01 then return fmt("%.2f ms", s * 1e3) end
  return fmt("%.3f s", s)
end

local function mb(kb)
  if not kb then return "—" end
  return fmt("%.1f MB", kb * 1024 / 1e6)
end

local function times(x)
  if not x then return "—" end
  return fmt("%.2f×", x)
end

local function span(xs)
  if #xs == 0 then return "—" end
  local lo, hi = math.min(table.unpack(xs)), math.max(table.unpack(xs))
  if lo == hi then return tostring(lo) end
  return lo .. "–" .. hi
end

---------------------------------------------------------------------------
-- 1. Decoding

-- Compares a core.decode result with a cjson.decode one: cjson keeps
-- cjson.null and decodes every number as a float, core gives nil and integers
-- (1 == 1.0 in Lua, so plain == covers the numbers).
local function same_as_cjson(a, b, path, depth)
  if b == cjson.null then b = nil end
  if depth > 100 then return false, path .. ": too deep" end
  if type(a) ~= type(b) then
    return false, fmt("%s: %s vs %s", path, type(a), type(b))
  end
  if type(a) ~= "table" then
    if a == b then return true end
    return false, fmt("%s: %s vs %s", path, tostring(a), tostring(b))
  end
  for k, v in pairs(b) do
    local ok, why = same_as_cjson(a[k], v, path .. "." .. tostring(k), depth + 1)
    if not ok then return false, why end
  end
  for k in pairs(a) do
    if b[k] == nil then return false, path .. "." .. tostring(k) .. ": missing in cjson's" end
  end
  return true
end

-- Exact equality, metatables and integer subtypes included: a floor must
-- build core's tables.
local function identical(a, b, depth)
  if type(a) ~= type(b) or depth > 100 then return false end
  if type(a) ~= "table" then return a == b and math.type(a) == math.type(b) end
  if getmetatable(a) ~= getmetatable(b) then return false end
  for k, v in pairs(a) do
    if not identical(v, b[k], depth + 1) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- CPU time (os.clock), which other processes of a shared machine do not add to.
local function time_batch(fn, body, iters)
  collectgarbage("collect")
  local last
  local t0 = os.clock()
  for _ = 1, iters do last = fn(body) end
  local dt = (os.clock() - t0) / iters
  -- Looking at the result keeps every iteration's work observable.
  if type(last) ~= "table" then fail("a decoder returned " .. type(last)) end
  return dt
end

-- What one decoded page holds in Lua's heap, kB.
local function decoded_kb(body)
  collectgarbage("collect")
  collectgarbage("collect")
  local before = collectgarbage("count")
  local doc = core.decode(body)
  collectgarbage("collect")
  return doc and collectgarbage("count") - before
end

local function bench_decode(body)
  local doc, why = core.decode(body)
  if not doc then
    fail("core.decode failed on the page: " .. tostring(why))
    return nil
  end
  local ok
  ok, why = same_as_cjson(doc, cjson.decode(body), "$", 0)
  if not ok then fail("core.decode and cjson.decode differ at " .. why) end
  local contenders = {
    { name = "atlasrestore `core.decode`", fn = core.decode },
    { name = "lua-cjson `cjson.decode`", fn = cjson.decode },
    { name = "floor: the tables, each string cut from the page", fn = floors.strings(body, core, require "floor") },
    { name = "floor: the tables, strings premade", fn = floors.constants(body, core) },
  }
  for i = 3, 4 do
    if not identical(contenders[i].fn(), doc, 0) then fail(contenders[i].name .. " does not build core's tables") end
  end
  -- One untimed warm-up each, then size the batch on the slowest contender.
  local slowest = 0
  for _, c in ipairs(contenders) do
    c.fn(body)
    slowest = math.max(slowest, time_batch(c.fn, body, 3))
    c.times = {}
  end
  local iters = math.floor(DECODE_BATCH_SECONDS / math.max(slowest, 1e-7))
  iters = math.max(DECODE_MIN_ITERS, math.min(DECODE_MAX_ITERS, iters))
  -- Rounds rotate the order, so drift (frequency scaling, GC debt) hits all.
  -- Other processes of a shared machine only ever add time: the best batch
  -- is the closest to a decoder's own cost.  Ratios are also taken round by
  -- round, against core.decode's batch of the same round, for their median.
  for round = 1, DECODE_ROUNDS do
    for i = 0, #contenders - 1 do
      local c = contenders[(round + i - 1) % #contenders + 1]
      c.times[round] = time_batch(c.fn, body, iters)
    end
  end
  for _, c in ipairs(contenders) do
    local ratios = {}
    for round, t in ipairs(c.times) do ratios[round] = t / contenders[1].times[round] end
    c.best, c.median, c.ratio = math.min(table.unpack(c.times)), median(c.times), median(ratios)
    c.best_ratio = c.best / contenders[1].best
  end
  return { contenders = contenders, iters = iters, jobs = #doc.results, bytes = #body, heap_kb = decoded_kb(body) }
end

local function print_decode(r, gzipped)
  out("")
  out(fmt("##### Decoding a 500-job page: %s bytes (%s gzipped) into %.0f kB of Lua objects, %d rounds of %d decodes",
    r.bytes, gzipped or "?", r.heap_kb * 1024 / 1e3, DECODE_ROUNDS, r.iters))
  out("")
  local rows = {}
  for _, c in ipairs(r.contenders) do
    rows[#rows + 1] = { c.name, secs(c.best), secs(c.median), fmt("%.0f k", r.jobs / c.best / 1e3),
      fmt("%.0f", r.bytes / c.best / 1e6), times(c.best_ratio), times(c.ratio) }
  end
  md_table({ "decoder", "best", "median", "jobs/s", "MB/s", "÷ core.decode", "÷ core.decode, rounds" }, rows)
  out("")
  out("CPU time per decode. best: the best batch; jobs/s and MB/s from it; ÷ core.decode: best against best;")
  out("rounds: the median of the ratios of the batches of each round.")
end

---------------------------------------------------------------------------
-- 4. Encoding

-- CPU time of one call of fn, the best of DECODE_ROUNDS batches of `iters`.
local function best_of(fn, iters)
  fn()
  local best = math.huge
  for _ = 1, DECODE_ROUNDS do
    collectgarbage("collect")
    local t0 = os.clock()
    for _ = 1, iters do fn() end
    best = math.min(best, (os.clock() - t0) / iters)
  end
  return best
end

local function bench_encode(body)
  local atlasrestore = require "atlasrestore"
  local doc, cdoc = assert(core.decode(body)), cjson.decode(body)
  local jobs, cjobs = doc.results, cdoc.results
  local text = assert(core.encode(doc))
  if text ~= core.encode(core.decode(text)) then fail("core.encode does not give back the page it read") end
  local page_iters = math.max(DECODE_MIN_ITERS, math.min(DECODE_MAX_ITERS,
    math.floor(DECODE_BATCH_SECONDS / math.max(best_of(function() cjson.encode(cdoc) end, 3), 1e-7))))
  local rows = {
    { name = "atlasrestore `core.encode`, the page", fn = function() return core.encode(doc) end },
    { name = "lua-cjson `cjson.encode`, the page", fn = function() return cjson.encode(cdoc) end },
    { name = "atlasrestore `atlasrestore.encode`, job by job (record order)", fn = function()
      for i = 1, #jobs do atlasrestore.encode(jobs[i]) end
    end },
    { name = "lua-cjson `cjson.encode`, job by job", fn = function()
      for i = 1, #cjobs do cjson.encode(cjobs[i]) end
    end },
  }
  for _, r in ipairs(rows) do r.best = best_of(r.fn, page_iters) end
  return { rows = rows, jobs = #jobs, bytes = #text, iters = page_iters }
end

local function print_encode(r)
  out("")
  out(fmt("##### Encoding the 500-job page back to JSON (%d bytes), best of %d batches of %d", r.bytes, DECODE_ROUNDS,
    r.iters))
  out("")
  local rows = {}
  for i, c in ipairs(r.rows) do
    local peer = r.rows[i % 2 == 1 and i + 1 or i]
    rows[#rows + 1] = { c.name, secs(c.best), fmt("%.0f k", r.jobs / c.best / 1e3), times(c.best / peer.best) }
  end
  md_table({ "encoder", "CPU per page", "jobs/s", "÷ cjson.encode" }, rows)
  out("")
  out("core.encode sorts every object's keys (the record's order, then bytewise); cjson.encode keeps lua_next's.")
end

---------------------------------------------------------------------------
-- 2 and 3. Listings, each in a child process

local work = assert(capture("mktemp -d /tmp/atlas-bench.XXXXXXXX")):gsub("%s+$", "")
assert(work:match("^/tmp/atlas%-bench%.%w+$"), "mktemp failed")

-- Every MONGODB_ATLAS_* name the module reads, and the proxies: a child
-- sees only the variables its contender is given.
local UNSET = { "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy" }
for _, name in pairs(options.ENV) do UNSET[#UNSET + 1] = name end

local function env_prefix(vars)
  local parts = { "env" }
  for _, name in ipairs(UNSET) do parts[#parts + 1] = "-u " .. name end
  local names = {}
  for name in pairs(vars) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do parts[#parts + 1] = name .. "=" .. q(vars[name]) end
  return table.concat(parts, " ")
end

-- Runs one contender's command; returns the rusage figures and its output.
local function run_child(c)
  local ru, stdout, stderr = work .. "/rusage", work .. "/stdout", work .. "/stderr"
  os.remove(ru)
  local cmd = fmt("%s timeout %d %s %s %s >%s 2>%s", env_prefix(c.env), CHILD_TIMEOUT, RUSAGE, q(ru), c.cmd,
    q(stdout), q(stderr))
  os.execute(emulator.clean_env(cmd))
  local wall, user, sys, rss, status = (read(ru) or ""):match("^(%S+) (%S+) (%S+) (%d+) (%d+)")
  local r = { stdout = read(stdout) or "", stderr = read(stderr) or "" }
  if not wall then
    r.problem = "no figures (killed after " .. CHILD_TIMEOUT .. " s?)"
  elseif status ~= "0" then
    r.problem = "exit status " .. status
  end
  r.wall, r.cpu, r.rss = tonumber(wall), (tonumber(user) or 0) + (tonumber(sys) or 0), tonumber(rss)
  return r
end

-- The listing a Lua or Python child reports:
-- jobs=N bad=B prefix=P cpu=S [decode=S] [hwm=KB].
local function parse_tally(r)
  local n, bad, prefix, cpu = r.stdout:match("jobs=(%d+) bad=(%d+) prefix=(%S+) cpu=([%d.]+)")
  if not n then return nil end
  return { jobs = tonumber(n), bad = tonumber(bad), prefix = prefix, cpu = tonumber(cpu),
    decode = tonumber(r.stdout:match("decode=([%d.]+)")), hwm = tonumber(r.stdout:match("hwm=(%d+)")) }
end

-- The jobs curl + jq printed, one object a line, checked the way tally.lua checks.
local function parse_lines(r)
  local t = { jobs = 0, bad = 0 }
  for line in r.stdout:gmatch("[^\n]+") do
    t.jobs = t.jobs + 1
    local id = line:match('"id":"(%x+)"')
    if t.jobs == 1 then t.prefix = id and id:sub(1, 8) or "-" end
    if id ~= t.prefix .. fmt("%016x", t.jobs) then t.bad = t.bad + 1 end
  end
  return t
end

local function lua_cmd(script, ...)
  local words = { "lua5.4", script }
  for _, a in ipairs{ ... } do words[#words + 1] = q(a) end
  return table.concat(words, " ")
end

local function credentials(emu, kind)
  local env = { MONGODB_ATLAS_BASE_URL = emu.base_url }
  if kind == "Digest" then
    env.MONGODB_ATLAS_PUBLIC_API_KEY, env.MONGODB_ATLAS_PRIVATE_API_KEY = emu.public_key, emu.private_key
  else
    env.MONGODB_ATLAS_CLIENT_ID, env.MONGODB_ATLAS_CLIENT_SECRET = emu.client_id, emu.client_secret
  end
  return env
end

local function module_contender(emu, mode, auth, k, group, name)
  return { client = "atlasrestore", auth = auth, k = k.label, env = credentials(emu, auth), parse = parse_tally,
    cmd = lua_cmd("spec/bench/atlasrestore_list.lua", mode, group, name, k.arg) }
end

local function listing_contenders(emu)
  local list = {}
  for _, auth in ipairs{ "Digest", "service account" } do
    for _, k in ipairs(KS) do
      list[#list + 1] = module_contender(emu, "all", auth, k, emu.group_id, LIST_NAME)
    end
  end
  local args = q(emu.base_url) .. " " .. q(emu.group_id) .. " " .. q(LIST_NAME)
  local peers = {
    { client = "curl --digest + jq", auth = "Digest", tools = { "curl", "jq" }, parse = parse_lines,
      cmd = "sh spec/bench/curl_jq_list.sh " .. args },
    { client = "Python urllib + json", auth = "Digest", tools = { "python3" }, parse = parse_tally,
      cmd = "python3 spec/bench/urllib_list.py " .. args },
    { client = "luasocket + lua-cjson", auth = "service account", tools = {}, parse = parse_tally,
      cmd = "lua5.4 spec/bench/luasocket_list.lua " .. args },
  }
  for _, p in ipairs(peers) do
    p.k, p.peer, p.env = "1", true, credentials(emu, p.auth)
    for _, tool in ipairs(p.tools) do
      if not have(tool) then p.missing = tool end
    end
    list[#list + 1] = p
  end
  return list
end

local function label(c)
  return fmt("%s, k = %s, %s", c.client, c.k, c.auth)
end

-- One run of one contender against a freshly reset emulator.
local function measure(emu, c, latency, expected_jobs, expected_prefix)
  emu:reset()
  emu:config{ latency = latency }
  local r = run_child(c)
  c.stderr = r.stderr
  local s = emu:stats()
  local t = not r.problem and c.parse(r) or nil
  local problem = r.problem
  if not problem and not t then problem = "no report: " .. r.stdout:sub(1, 200) end
  if not problem and (t.jobs ~= expected_jobs or t.bad ~= 0) then
    problem = fmt("%d jobs listed, %d out of place (expected %d, each once, in order)", t.jobs, t.bad, expected_jobs)
  end
  if not problem and expected_prefix and t.prefix ~= expected_prefix then
    problem = "jobs of another instance (id prefix " .. t.prefix .. ")"
  end
  if problem then
    fail(fmt("%s: %s %s", label(c), problem, r.stderr:sub(1, 300)))
    c.broken = true
    return
  end
  local runs = c.runs
  runs.wall[#runs.wall + 1], runs.cpu[#runs.cpu + 1], runs.rss[#runs.rss + 1] = r.wall, r.cpu, r.rss
  runs.listing_cpu[#runs.listing_cpu + 1], runs.hwm[#runs.hwm + 1] = t.cpu, t.hwm
  runs.decode[#runs.decode + 1] = t.decode
  runs.requests[#runs.requests + 1], runs.connections[#runs.connections + 1] = s.requests, s.connections
  runs.in_flight[#runs.in_flight + 1], runs.revokes[#runs.revokes + 1] = s.max_in_flight, s.revokes
end

local function summarize(c)
  local r = c.runs
  c.wall, c.cpu, c.rss = median(r.wall), median(r.cpu), median(r.rss)
  c.listing_cpu, c.hwm = c.parse == parse_tally and median(r.listing_cpu) or nil, median(r.hwm)
  c.decode_cpu = median(r.decode)
end

local function new_runs()
  return { wall = {}, cpu = {}, rss = {}, listing_cpu = {}, decode = {}, hwm = {}, requests = {}, connections = {},
    in_flight = {}, revokes = {} }
end

local function bench_listing(emu, scenario, prefix)
  local latency = { request = scenario.request, connection = CONNECTION_LATENCY }
  local list = listing_contenders(emu)
  local active = {}
  for _, c in ipairs(list) do
    c.runs = new_runs()
    if not c.missing then active[#active + 1] = c end
  end
  if scenario.warmup then
    for _, c in ipairs(active) do
      measure(emu, c, latency, LIST_JOBS, prefix)
      c.runs = new_runs()
    end
  end
  -- Rounds rotate the order, so drift hits every contender alike.
  for round = 1, scenario.rounds do
    for i = 0, #active - 1 do
      local c = active[(round + i - 1) % #active + 1]
      if not c.broken then measure(emu, c, latency, LIST_JOBS, prefix) end
    end
  end
  for _, c in ipairs(list) do summarize(c) end
  return list
end

local function find(list, client, k, auth)
  for _, c in ipairs(list) do
    if c.client == client and c.k == k and c.auth == auth and c.wall then return c end
  end
end

local function print_listing(list, scenario)
  local ref = find(list, "atlasrestore", "8", "Digest")
  out("")
  out(fmt("##### Listing %s jobs, %d ms per request and %d ms per new connection, median of %d",
    "10,000", scenario.request * 1e3, CONNECTION_LATENCY * 1e3, scenario.rounds))
  out("")
  local rows = {}
  for _, c in ipairs(list) do
    local r = c.runs
    if c.wall then
      rows[#rows + 1] = { c.client, c.auth, c.k, span(r.requests), span(r.connections), span(r.in_flight),
        secs(c.wall), secs(c.cpu), secs(c.listing_cpu), mb(c.rss), times(ref and c.wall / ref.wall),
        times(ref and c.cpu / ref.cpu) }
    else
      rows[#rows + 1] = { c.client, c.auth, c.k, c.missing and ("not run: no " .. c.missing) or "failed" }
    end
  end
  md_table({ "client", "auth", "k", "requests", "connections", "in flight", "wall", "CPU", "listing CPU",
    "peak RSS", "wall ÷ k = 8 Digest", "CPU ÷ k = 8 Digest" }, rows)
end

local LISTING_LEGEND = {
  "",
  "Each listing is a process of its own. requests, connections and in flight (the most requests at once) are",
  "the emulator's counts, token requests included; a service-account client of this module also revokes its",
  "token at close(). wall, CPU (user + system) and peak RSS are the whole process's, from start to exit (CPU",
  "includes curl's and jq's processes); listing CPU is measured inside the process (os.clock,",
  "time.process_time) from creating the client to the last page, so it leaves out start-up and loading.",
}

local function bench_memory(emu)
  local list = {}
  for _, k in ipairs(KS) do
    for _, m in ipairs(MEMORY_LISTINGS) do
      local c = module_contender(emu, "iterate", "Digest", k, m.group, m.name)
      c.runs, c.jobs = new_runs(), m.jobs
      measure(emu, c, { request = 0, connection = 0 }, m.jobs, nil)
      summarize(c)
      list[#list + 1] = c
    end
  end
  return list
end

-- MB of peak RSS that listing `jobs` adds over listing `from` jobs, at k.
local function memory_growth(list, k, from, jobs)
  local small, big
  for _, c in ipairs(list) do
    if c.k == k and c.rss then
      if c.jobs == from then small = c elseif c.jobs == jobs then big = c end
    end
  end
  return small and big and (big.rss - small.rss) * 1024 / 1e6
end

local function print_memory(list)
  out("")
  out("##### Iterating with `restore_jobs` (Digest, no added latency): peak RSS of the process")
  out("")
  local rows = {}
  for _, c in ipairs(list) do
    local r = c.runs
    if c.rss then
      local function over(from)
        local growth = c.jobs > from and memory_growth(list, c.k, from, c.jobs)
        return growth and fmt("%+.1f MB", growth) or ""
      end
      rows[#rows + 1] = { fmt("%d", c.jobs), c.k, span(r.requests), span(r.connections), secs(c.wall), secs(c.cpu),
        mb(c.rss), mb(c.hwm), over(1000), over(10000) }
    else
      rows[#rows + 1] = { fmt("%d", c.jobs), c.k, "failed" }
    end
  end
  md_table({ "jobs", "k", "requests", "connections", "wall", "CPU", "peak RSS", "VmHWM", "over 1,000 jobs",
    "over 10,000 jobs" }, rows)
end

---------------------------------------------------------------------------
-- 5. NDJSON

-- The command from this checkout, as `make install` would run it.
local COMMAND = "env LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/5.4/?.so;;' lua5.4 bin/atlasrestore"

local function bench_ndjson(emu)
  local args = q(emu.base_url) .. " " .. q(emulator.BIG_GROUP_ID) .. " " .. q(NDJSON_NAME)
  local list = {
    { client = "atlasrestore list -o ndjson", auth = "Digest", k = DEFAULT_LABEL, parse = parse_lines,
      cmd = fmt("%s list %s --projectId %s --endpoint serverless -o ndjson --no-progress", COMMAND, q(NDJSON_NAME),
        q(emulator.BIG_GROUP_ID)) },
    { client = "curl --digest + jq -c '.results[]'", auth = "Digest", k = "1", parse = parse_lines, peer = true,
      cmd = "sh spec/bench/curl_jq_list.sh " .. args },
  }
  for _, c in ipairs(list) do
    c.env, c.runs = credentials(emu, c.auth), new_runs()
    for _, tool in ipairs { "curl", "jq" } do
      if c.peer and not have(tool) then c.missing = tool end
    end
  end
  for round = 1, NDJSON_ROUNDS do
    for i = 0, #list - 1 do
      local c = list[(round + i - 1) % #list + 1]
      if not c.missing and not c.broken then measure(emu, c, { request = 0, connection = 0 }, NDJSON_JOBS, nil) end
    end
  end
  for _, c in ipairs(list) do summarize(c) end
  return list
end

local function print_ndjson(list)
  out("")
  out(fmt("##### NDJSON of %s jobs (200 pages of 500, no added latency), median of %d", "100,000", NDJSON_ROUNDS))
  out("")
  local rows = {}
  local peer = list[2].wall and list[2]
  for _, c in ipairs(list) do
    if c.wall then
      rows[#rows + 1] = { c.client, c.k, span(c.runs.requests), secs(c.wall), secs(c.cpu), mb(c.rss),
        times(peer and c.wall / peer.wall) }
    else
      rows[#rows + 1] = { c.client, c.k, c.missing and ("not run: no " .. c.missing) or "failed" }
    end
  end
  md_table({ "client", "k", "requests", "wall", "CPU", "peak RSS", "wall ÷ curl + jq" }, rows)
end

---------------------------------------------------------------------------
-- 6. Instructions

-- The contenders of the sequential listing, each run once under callgrind.
local function instruction_contenders(emu)
  local mine = module_contender(emu, "all", "service account", KS[1], emu.group_id, LIST_NAME)
  local peer
  for _, c in ipairs(listing_contenders(emu)) do
    if c.client == "luasocket + lua-cjson" then peer = c end
  end
  return { mine, peer }
end

-- Instructions counted by callgrind (no cache simulation: `Collected` is Ir).
local function bench_instructions(emu)
  if not have("valgrind") then return nil end
  local list = instruction_contenders(emu)
  for _, c in ipairs(list) do
    local counted = { cmd = fmt("valgrind --tool=callgrind --callgrind-out-file=%s %s",
      q(work .. "/callgrind.out"), c.cmd), env = c.env, parse = c.parse, client = c.client, auth = c.auth, k = c.k }
    counted.runs = new_runs()
    measure(emu, counted, { request = 0, connection = 0 }, LIST_JOBS, nil)
    c.instructions = not counted.broken and tonumber(counted.stderr:match("Collected : (%d+)")) or nil
    if not counted.broken and not c.instructions then fail(label(c) .. ": callgrind reported no count") end
  end
  return list
end

local function print_instructions(list)
  out("")
  if not list then
    out("##### Instructions: not measured (no valgrind)")
    return
  end
  out(fmt("##### Instructions of a sequential listing of %s jobs (the whole process, callgrind)", "10,000"))
  out("")
  local rows = {}
  local peer = list[2].instructions
  for _, c in ipairs(list) do
    rows[#rows + 1] = { c.client, c.auth, c.k, c.instructions and fmt("%.1f M", c.instructions / 1e6) or "failed",
      times(c.instructions and peer and c.instructions / peer) }
  end
  md_table({ "client", "auth", "k", "instructions", "÷ luasocket + lua-cjson" }, rows)
  out("")
  out("User-space instructions from exec to exit, start-up, loading and lua_close included; callgrind counts")
  out("them the same on a busy machine, so this row (unlike CPU time) can guard against regressions.")
end

---------------------------------------------------------------------------
-- 7. Targets

local function verdict(ok, how)
  return (ok and "met" or "**missed**") .. (how and (" " .. how) or "")
end

-- A ratio against its target, with the digits that tell them apart.
local function against(ratio, target)
  local digits = math.abs(ratio - target) < 0.005 and "%.3f×" or "%.2f×"
  return fmt(digits, ratio), verdict(ratio <= target, "(by " .. fmt(digits, math.abs(target - ratio)) .. ")")
end

local function print_targets(decode, listing20, memory, encode, ndjson, instructions, nginx)
  out("")
  out("##### Targets")
  out("")
  local rows = {}
  local fastest
  for _, c in ipairs(listing20) do
    if c.peer and c.wall and (not fastest or c.wall < fastest.wall) then fastest = c end
  end
  for _, auth in ipairs{ "Digest", "service account" } do
    local mine = find(listing20, "atlasrestore", "8", auth)
    if mine and fastest then
      local measured, met = against(mine.wall / fastest.wall, TARGET_WALL_VS_PEER)
      rows[#rows + 1] = { fmt("wall, k = 8 (%s), 20 ms: ≤ %.2f× the fastest peer", auth, TARGET_WALL_VS_PEER),
        fmt("%s (%s vs %s, %s)", measured, secs(mine.wall), secs(fastest.wall), fastest.client), met }
    end
  end
  local luasocket = find(listing20, "luasocket + lua-cjson", "1", "service account")
  for _, auth in ipairs{ "service account", "Digest" } do
    local mine = find(listing20, "atlasrestore", "1", auth)
    if mine and luasocket then
      local measured, met = against(mine.listing_cpu / luasocket.listing_cpu, TARGET_CPU_VS_LUASOCKET)
      rows[#rows + 1] = { fmt("listing CPU, k = 1 (%s): ≤ %.1f× luasocket + lua-cjson", auth,
        TARGET_CPU_VS_LUASOCKET),
        fmt("%s (%s vs %s, of which decoding %s vs %s; whole process %.2f×)", measured, secs(mine.listing_cpu),
          secs(luasocket.listing_cpu), secs(mine.decode_cpu), secs(luasocket.decode_cpu), mine.cpu / luasocket.cpu),
        met }
    end
  end
  if instructions and instructions[1].instructions and instructions[2].instructions then
    local mine, peer = instructions[1].instructions, instructions[2].instructions
    local measured, met = against(mine / peer, TARGET_INSTRUCTIONS_VS_LUASOCKET)
    rows[#rows + 1] = { fmt("instructions, whole process, k = 1 (service account): ≤ %.1f× luasocket + lua-cjson",
      TARGET_INSTRUCTIONS_VS_LUASOCKET), fmt("%s (%.1f M vs %.1f M)", measured, mine / 1e6, peer / 1e6), met }
  end
  local mine_k1 = find(listing20, "atlasrestore", "1", "service account")
  if mine_k1 and luasocket then
    local measured, met = against(mine_k1.cpu / luasocket.cpu, TARGET_PROCESS_CPU_VS_LUASOCKET)
    rows[#rows + 1] = { fmt("CPU, whole process, k = 1 (service account): ≤ %.1f× luasocket + lua-cjson",
      TARGET_PROCESS_CPU_VS_LUASOCKET), fmt("%s (%s vs %s)", measured, secs(mine_k1.cpu), secs(luasocket.cpu)), met }
  end
  if decode then
    local c = decode.contenders
    local measured, met = against(1 / c[3].best_ratio, TARGET_DECODE_VS_FLOOR)
    rows[#rows + 1] = { fmt("decode: ≤ %.2f× the floor with strings", TARGET_DECODE_VS_FLOOR),
      fmt("%s (best %s vs %s; median of the rounds' ratios %.2f×)", measured, secs(c[1].best), secs(c[3].best),
        1 / c[3].ratio), met }
  end
  for _, k in ipairs(KS) do
    local growth = memory_growth(memory, k.label, 1000, 100000)
    if growth then
      local gap = math.abs(TARGET_MEMORY_GROWTH_MB - growth)
      local digits = gap < 0.05 and "%.2f" or "%.1f"
      rows[#rows + 1] = { fmt("memory, k = %s: 100,000 jobs ≤ +%d MB over 1,000", k.label, TARGET_MEMORY_GROWTH_MB),
        fmt("%+" .. digits:sub(2) .. " MB (%+.1f MB over 10,000)", growth,
          memory_growth(memory, k.label, 10000, 100000) or 0 / 0),
        verdict(growth <= TARGET_MEMORY_GROWTH_MB, fmt("(by " .. digits .. " MB)", gap)) }
    end
  end
  if encode then
    local c = encode.rows
    for _, pair in ipairs { { 1, 2, "the page" }, { 3, 4, "job by job" } } do
      local measured, met = against(c[pair[1]].best / c[pair[2]].best, TARGET_ENCODE_VS_CJSON)
      rows[#rows + 1] = { fmt("encode, %s: ≤ %.1f× cjson.encode", pair[3], TARGET_ENCODE_VS_CJSON),
        fmt("%s (%s vs %s)", measured, secs(c[pair[1]].best), secs(c[pair[2]].best)), met }
    end
  end
  if ndjson and ndjson[1].wall and ndjson[2].wall then
    local measured, met = against(ndjson[1].wall / ndjson[2].wall, TARGET_NDJSON_VS_JQ)
    rows[#rows + 1] = { fmt("NDJSON, 100,000 jobs: ≤ %.1f× curl + jq (wall)", TARGET_NDJSON_VS_JQ),
      fmt("%s (%s vs %s)", measured, secs(ndjson[1].wall), secs(ndjson[2].wall)), met }
  end
  for _, c in ipairs(nginx and nginx.costs or {}) do
    if c.endpoint == "auto" then
      local measured, met = against(c.ratio, nginx_bench.TARGET_PAGE_VS_DECODE)
      rows[#rows + 1] = { fmt("nginx: a worker's CPU per page (k = 1, `auto`) ≤ %d× core.decode of it",
        nginx_bench.TARGET_PAGE_VS_DECODE), fmt("%s (%s ms vs %s ms)", measured, nginx_bench.ms(c.page),
        nginx_bench.ms(c.decode_alone)), met }
    end
  end
  if nginx and nginx.p99 then
    local p = nginx.p99
    local measured, met = against(p.ratio, nginx_bench.TARGET_P99_VS_PLAIN)
    rows[#rows + 1] = { fmt("nginx: a trivial location's p99 beside 50 listings ≤ %d× a plain nginx's",
      nginx_bench.TARGET_P99_VS_PLAIN), fmt("%s (%s ms vs %s ms, medians of the waves)", measured,
      nginx_bench.ms(p.host), nginx_bench.ms(p.plain)), met }
  end
  -- Requests: 20 pages, plus a challenge (Digest) or a token and its
  -- revocation at close() (service account).
  for _, auth in ipairs{ "Digest", "service account" } do
    for _, k in ipairs{ "1", "8" } do
      local mine = find(listing20, "atlasrestore", k, auth)
      if mine then
        local expected = LIST_JOBS // PAGE_SIZE + (auth == "Digest" and 1 or 2)
        local seen = span(mine.runs.requests)
        rows[#rows + 1] = { fmt("requests, k = %s (%s): %d", k, auth, expected), seen,
          verdict(seen == tostring(expected)) }
      end
    end
  end
  md_table({ "target", "measured", "" }, rows)
end

---------------------------------------------------------------------------

local function page_url(emu, name, page)
  return fmt("%s%s?pageNum=%d&itemsPerPage=%d&includeCount=false", emu.base_url, emu:serverless_path(name),
    page, PAGE_SIZE)
end

-- Fetches a page with the curl CLI (not the module under test): body, bytes on the wire.
local function curl_get(emu, url, compressed)
  local out_file = work .. "/page"
  local size = capture("curl -sS --max-time 20 " .. (compressed and "--compressed " or "") .. "--digest -u " ..
    q(emu.public_key .. ":" .. emu.private_key) .. " -H " .. q("Accept: " .. ACCEPT) .. " -o " .. q(out_file) ..
    " -w '%{size_download}' " .. q(url))
  local body = read(out_file) or ""
  assert(body:sub(1, 1) == "{", "bench: curl could not fetch " .. url .. ": " .. body:sub(1, 200))
  return body, tonumber(size)
end

local function print_operators(emu)
  local streaming = operators.streaming(emu, RUSAGE, work)
  out("")
  out("##### The command's NDJSON of 100,000 jobs (Digest, no added latency): peak RSS")
  out("")
  md_table({ "listing", "jobs", "wall s", "peak RSS MB" }, streaming.rows)
  out("")
  out(streaming.verdict)
  if not streaming.ok then fail("operators: an NDJSON listing failed or missed jobs") end
  local org = operators.organisation(emu)
  out("")
  out("##### An organisation, each project's bucket enforced (spec/bench/operators.lua)")
  out("")
  md_table({ "organisation", "projects", "wall s", "critical path s", "ratio", "429s", "requests" }, org.rows)
  out("")
  out(org.verdict)
  if not org.ok then fail("operators: the organisation listing failed or missed jobs") end
end

local function print_nginx(r)
  out("")
  out("##### Inside nginx: a worker's CPU per 500-job page of jobs-10000 (one worker, k = 1, Digest)")
  out("")
  md_table({ "what", "ms a page", "÷ core.decode alone" }, r.cost_rows or {})
  out("")
  out("Medians (os.clock in the worker, after a listing that warms up). The sections are the transport's")
  out("request, core.gunzip_decode (or core.decode) and core.check_jobs as the listing calls them; the rest is the")
  out("listing's own Lua. core.decode inside the listing costs more than alone: the listing keeps every job,")
  out("so the collector marks a growing heap and the pages land in new memory. `auto` less `serverless` in")
  out("the rest is the record shape (shape.lua's mapper, a new table per job).")
  out("")
  out(fmt("##### Inside nginx: a trivial location's latency beside %d listings in flight (4 workers)", 50))
  out("")
  md_table({ "wave", "samples", "host p50 ms", "host p99 ms", "plain p50 ms", "plain p99 ms", "p99 ratio",
    "the listings" }, r.p99_rows or {})
  out("")
  out("`return 200` on a new connection each, the host and a plain nginx (the same workers, no Lua module)")
  out("in turn, while 50 listings of jobs-10000 (default k and endpoint) run on the host, the emulator adding")
  out("100 ms to each request. A worker paces its page work (about 1 ms a turn of its event loop, at least")
  out("one page), so a request that lands on it waits for one page's CPU, not for every page that arrived;")
  out("a page's CPU, though, grows with the worker's heap (the listings' jobs), as the collector's work does.")
  for _, p in ipairs(r.problems) do fail("nginx: " .. p) end
end

local ONLY = os.getenv("BENCH_ONLY")
local function wanted(section)
  return ONLY == nil or ONLY == "" or ("," .. ONLY .. ","):find("," .. section .. ",", 1, true) ~= nil
end

local function main()
  local t_start = now()
  for _, tool in ipairs{ RUSAGE, "build/bench/floor.so" } do
    if not io.open(tool, "rb") then error("bench: " .. tool .. " is missing: run `make bench`", 0) end
  end
  local lcurl = require "atlasrestore.curl"
  local header = fmt("atlasrestore bench, %s: %s, lua-cjson %s, libcurl %s, %s cores; default k = %d%s",
    os.date("!%Y-%m-%d"), _VERSION, cjson._VERSION or "?", lcurl.version(), capture("nproc"):gsub("%s+", ""),
    DEFAULT_K, DEFAULT_K > 1 and "" or " (so k = 4 stands for it)")
  out(header)

  local emu = emulator.start()
  local ok, err = pcall(function()
    local page = curl_get(emu, page_url(emu, LIST_NAME, 1))
    local _, gzipped = curl_get(emu, page_url(emu, LIST_NAME, 1), true)
    local prefix = core.decode(page).results[1].id:sub(1, 8)
    local decode = wanted("decode") and bench_decode(page)
    if decode then print_decode(decode, gzipped) end
    local encode = wanted("encode") and bench_encode(page)
    if encode then print_encode(encode) end
    local listings = {}
    for i, scenario in ipairs(wanted("listing") and SCENARIOS or {}) do
      listings[i] = bench_listing(emu, scenario, prefix)
      print_listing(listings[i], scenario)
      if i == 1 then
        for _, line in ipairs(LISTING_LEGEND) do out(line) end
      end
    end
    local memory = wanted("memory") and bench_memory(emu) or {}
    if wanted("memory") then print_memory(memory) end
    local ndjson = wanted("ndjson") and bench_ndjson(emu)
    if ndjson then print_ndjson(ndjson) end
    local instructions = wanted("instructions") and bench_instructions(emu)
    if wanted("instructions") then print_instructions(instructions) end
    local nginx = wanted("nginx") and nginx_bench.run(emu, work)
    if nginx then print_nginx(nginx) end
    print_targets(decode, listings[1] or {}, memory, encode, ndjson, instructions, nginx)
    if wanted("operators") then print_operators(emu) end
  end)
  emu:stop()
  os.execute(emulator.clean_env("rm -rf " .. q(work)))
  if not ok then
    io.stderr:write("bench: error: ", tostring(err), "\n")
    os.exit(1)
  end
  out("")
  out(fmt("The whole run: %.0f s.", now() - t_start))
  local f = assert(io.open(MARKDOWN, "w"))
  f:write(table.concat(report, "\n"), "\n")
  f:close()
  print("(written to " .. MARKDOWN .. ")")
  if #failures > 0 then
    io.stderr:write("bench: ", #failures, " wrong result(s)\n")
    os.exit(1)
  end
end

main()
