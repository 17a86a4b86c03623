--- spec/bench.lua's figures inside nginx (Debian's nginx + lua module, the LuaJIT
-- build in build/luajit, the cosocket transport), against the emulator:
-- 1. A worker's CPU per 500-job page of jobs-10000 (one worker, k = 1, Digest),
--    against core.decode of that page in the same worker (spec/bench/nginx_app.lua),
--    with where the rest goes. Target: within 2x.
-- 2. A trivial location's p99 (`return 200`, a new connection each) on a host of 4
--    workers while 50 listings of jobs-10000 are in flight through it (the emulator
--    adding latency so that they stay in flight), against the same location of a
--    plain nginx (the same workers and events, no Lua module) measured alternately
--    with it. Target: within 3x.
-- Each returns rows for spec/bench.lua's tables, and the ratios.
local socket = require "socket"
local cjson = require "cjson"
local emulator = require "support.emulator"
local nginx_host = require "support.nginx_host"
local stats = require "bench.stats"

local M = {}

local fmt = string.format
local q = emulator.sh_quote

M.TARGET_PAGE_VS_DECODE = 2
M.TARGET_P99_VS_PLAIN = 3

local COST_ROUNDS = 7          -- listings a cost figure is the median of (after one that warms up)
local COST_REPEATS = 3         -- requests to /bench/cost, each on a fresh emulator state; medians of them
local LOAD_LISTINGS = 50
local LOAD_WAVES = 3           -- each wave: 50 listings at once, sampled until the last one ends
local LOAD_REQUEST_LATENCY = 0.1
local SAMPLES_MAX = 3000       -- per server and wave
local SAMPLE_PACE = 0.002      -- seconds between two pairs of samples: they spread over the whole wave
local SAMPLE_TIMEOUT = 5
local LOAD_TIMEOUT = 120

local LOCATIONS = [[
location = /bench/cost { content_by_lua_block { require("bench.nginx_app").cost() } }
location = /bench/list { content_by_lua_block { require("bench.nginx_app").list() } }
location = /trivial { return 200; }
]]

local PLAIN_CONF = [[
@USER_LINE@
daemon on;
master_process on;
worker_processes 4;
pid @PREFIX@/nginx.pid;
error_log @PREFIX@/error.log notice;
events { worker_connections 1024; }
http {
    access_log off;
    server_tokens off;
    client_body_temp_path @PREFIX@/tmp/client_body;
    proxy_temp_path       @PREFIX@/tmp/proxy;
    fastcgi_temp_path     @PREFIX@/tmp/fastcgi;
    uwsgi_temp_path       @PREFIX@/tmp/uwsgi;
    scgi_temp_path        @PREFIX@/tmp/scgi;
    server {
        listen 127.0.0.1:@PORT@ reuseport;
        location = /trivial { return 200; }
    }
}
]]

local function ms(s) return s and fmt("%.2f", s * 1000) or "-" end

---------------------------------------------------------------------------
-- 1. CPU per page

local SECTIONS = {
  { "transport", "the cosocket transport's request (connect or pool, send, head, body assembly)" },
  { "gunzip_decode", "core.gunzip_decode: inflating and decoding a page at once, inside the listing" },
  { "decode", "core.decode (a page that came without gzip), inside the listing" },
  { "check_jobs", "core.check_jobs" },
}

local function cost(host, endpoint)
  local figures = {}
  for _ = 1, COST_REPEATS do
    local status, body = host:get(fmt("/bench/cost?name=jobs-10000&endpoint=%s&rounds=%d", endpoint, COST_ROUNDS),
      120)
    local ok, doc = pcall(cjson.decode, body or "")
    if status ~= 200 or not ok or doc.err or doc.jobs ~= 10000 then
      return nil, fmt("/bench/cost (%s) answered %s: %s", endpoint, tostring(status), tostring(body):sub(1, 300))
    end
    figures[#figures + 1] = doc
  end
  local function med(get)
    local xs = {}
    for _, f in ipairs(figures) do xs[#xs + 1] = get(f) end
    return stats.median(xs)
  end
  local r = { endpoint = endpoint, page = med(function(f) return f.page end),
    decode_alone = med(function(f) return f.decode_alone end), sections = {} }
  local accounted = 0
  for _, s in ipairs(SECTIONS) do
    r.sections[s[1]] = med(function(f) return f.sections[s[1]] or 0 end)
    accounted = accounted + r.sections[s[1]]
  end
  r.rest = r.page - accounted
  r.ratio = r.page / r.decode_alone
  return r
end

local function cost_rows(costs)
  local rows = {}
  for _, r in ipairs(costs) do
    rows[#rows + 1] = { fmt('`%s`: the whole page', r.endpoint), ms(r.page), fmt("%.2f×", r.ratio) }
    for _, s in ipairs(SECTIONS) do
      rows[#rows + 1] = { "  " .. s[2], ms(r.sections[s[1]]), fmt("%.2f×", r.sections[s[1]] / r.decode_alone) }
    end
    rows[#rows + 1] = { "  the rest: the record shape, the id set, requests and Digest, the listing's Lua",
      ms(r.rest), fmt("%.2f×", r.rest / r.decode_alone) }
    rows[#rows + 1] = { "  core.decode of the page alone, in the same worker", ms(r.decode_alone), "1.00×" }
  end
  return rows
end

---------------------------------------------------------------------------
-- 2. p99 of a trivial location beside 50 listings

-- One GET on a new connection: seconds, or nil.
local function sample(port)
  local t0 = socket.gettime()
  local c = socket.tcp()
  c:settimeout(SAMPLE_TIMEOUT)
  if not c:connect("127.0.0.1", port) then c:close() return nil end
  c:send("GET /trivial HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
  local raw, _, partial = c:receive("*a")
  c:close()
  raw = raw or partial or ""
  if not raw:find("^HTTP/1%.%d 200") then return nil end
  return socket.gettime() - t0
end

local function start_plain()
  local prefix = nginx_host.prefix()
  return nginx_host.run(prefix, 1, function(ports)
    local vars = emulator.nginx_vars(prefix, nginx_host.repo_root())
    vars.PORT = ports[1]
    return emulator.render(PLAIN_CONF, vars)
  end)
end

-- One wave: the listings in a child (spec/bench/nginx_load.lua), the two servers
-- sampled alternately until it ends. Returns { host = p99, plain = p99, n, listed } or nil, why.
local function wave(host, plain, work, index)
  local done, result = fmt("%s/nginx-load-%d.done", work, index), fmt("%s/nginx-load-%d.out", work, index)
  os.remove(done)
  local cmd = fmt("(timeout %d lua5.4 spec/bench/nginx_load.lua %d %s %d >%s 2>&1; touch %s) &", LOAD_TIMEOUT,
    host.port, q("/bench/list?name=jobs-10000"), LOAD_LISTINGS, q(result), q(done))
  os.execute(emulator.clean_env(cmd))
  local mine, theirs, failed = {}, {}, 0
  local deadline = socket.gettime() + LOAD_TIMEOUT + 5
  -- The first samples wait until the listings are under way.
  socket.sleep(0.2)
  while #mine < SAMPLES_MAX and socket.gettime() < deadline and not io.open(done, "r") do
    local a, b = sample(host.port), sample(plain.port)
    if a then mine[#mine + 1] = a else failed = failed + 1 end
    if b then theirs[#theirs + 1] = b else failed = failed + 1 end
    socket.sleep(SAMPLE_PACE)
  end
  while socket.gettime() < deadline and not io.open(done, "r") do socket.sleep(0.05) end
  local listed = tonumber((emulator.read_file(result) or ""):match("listed=(%d+)")) or 0
  if #mine == 0 or #theirs == 0 then return nil, "no sample while the listings ran" end
  return { host = stats.percentile(mine, 0.99), plain = stats.percentile(theirs, 0.99),
    host_p50 = stats.percentile(mine, 0.5),
    plain_p50 = stats.percentile(theirs, 0.5), n = #mine, failed = failed, listed = listed,
    load = (emulator.read_file(result) or ""):gsub("%s+$", "") }
end

---------------------------------------------------------------------------

--- Runs both scenarios against `emu`; `work` is a scratch directory.
-- Returns { cost_rows, p99_rows, cost (the default endpoint's figures), p99 = { ratio, host, plain }, ok, problems }.
function M.run(emu, work)
  local r = { ok = true, problems = {} }
  local function problem(msg)
    r.ok = false
    r.problems[#r.problems + 1] = msg
  end
  emu:reset()
  local env = nginx_host.emulator_env(emu)
  local host = nginx_host.start { workers = 1, env = env, server = LOCATIONS }
  local ok, err = pcall(function()
    local costs = {}
    for _, endpoint in ipairs { "auto", "serverless" } do
      local c, why = cost(host, endpoint)
      if c then costs[#costs + 1] = c else problem(why) end
    end
    r.costs, r.cost_rows = costs, cost_rows(costs)
  end)
  host:stop()
  if not ok then problem(tostring(err)) end

  emu:reset()
  emu:config { latency = { request = LOAD_REQUEST_LATENCY } }
  host = nginx_host.start { workers = 4, env = env, server = LOCATIONS }
  local plain
  ok, err = pcall(function()
    plain = start_plain()
    local waves = {}
    for i = 1, LOAD_WAVES do
      local w, why = wave(host, plain, work, i)
      if not w then
        problem(why)
      else
        if w.listed ~= LOAD_LISTINGS then problem(fmt("wave %d: %d of %d listings complete (%s)", i, w.listed,
          LOAD_LISTINGS, w.load)) end
        w.ratio = w.host / w.plain
        waves[#waves + 1] = w
      end
    end
    local rows, ratios, hosts, plains = {}, {}, {}, {}
    for i, w in ipairs(waves) do
      rows[#rows + 1] = { tostring(i), tostring(w.n), ms(w.host_p50), ms(w.host), ms(w.plain_p50), ms(w.plain),
        fmt("%.2f×", w.ratio), w.load }
      ratios[#ratios + 1], hosts[#hosts + 1], plains[#plains + 1] = w.ratio, w.host, w.plain
    end
    r.p99_rows = rows
    if #ratios > 0 then
      r.p99 = { ratio = stats.median(ratios), host = stats.median(hosts), plain = stats.median(plains) }
    end
    local problems = host:problems()
    if #problems > 0 then problem("the host's error log: " .. problems[1]) end
  end)
  if plain then plain:stop() end
  host:stop()
  emu:reset()
  if not ok then problem(tostring(err)) end
  return r
end

M.ms = ms

return M
