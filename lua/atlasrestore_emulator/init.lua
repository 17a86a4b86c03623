--- Starts and stops the local Atlas emulator (nginx running emulator/*.lua) for specs, scripts and
-- `atlasrestore emulator`; installed with the module.
-- Any supported Lua (5.1-5.4, LuaJIT) with lua-socket and lua-cjson; the
-- emulator itself needs Debian's nginx, libnginx-mod-http-lua (with its LuaJIT,
-- lua-resty-core and the Lua 5.1 cjson module from lua-cjson) and openssl (tls
-- only), all installed by `.ci/deps run`.  Its credentials are fixed test
-- values, not secrets.
--
--   local emulator = require "atlasrestore_emulator"   -- specs: "support.emulator"
--   local emu = emulator.start{ tls = false }
--   -- emu.base_url, emu.admin_url, emu.trap_url, emu.ca_file (tls only),
--   -- emu.group_id, emu.public_key, emu.private_key, emu.client_id, emu.client_secret
--   emu:stats(); emu:reset(); emu:config{ nonce_ttl = 1 }; emu:get_config(); emu:expire_tokens()
--   emu:serverless_path(name, version, group); emu:flex_path(name, group)
--   emu:dedicated_path(name, version, group); emu:instances_path(kind, group, version)
--   emu:client(opts); emu:url(path); emu:error_log()
--   emu:stop()
--   emulator.start{ watchdog = true }: a process that dies without stop() still
--   leaves no nginx and no directory behind (`atlasrestore emulator` uses it)
--   emulator.missing_packages{ tls = ... }: nil, or the Debian packages to install
-- Constants: GROUP_ID, MIXED_GROUP_ID, EMPTY_GROUP_ID, BIG_GROUP_ID, ORG_ID (the first
-- three projects' organisation), TEAM_ORG_ID with TEAM_ALPHA_ID and TEAM_BETA_ID,
-- BENCH_ORG_ID (BIG_GROUP_ID's), FLEET_ORG_ID and FLEET_PREFIX, POLLING_JOBS,
-- DEDICATED_FIXED_JOBS, PUBLIC_KEY, PRIVATE_KEY, CLIENT_ID, CLIENT_SECRET.
--
-- Admin HTTP API, on emu.admin_url (plain HTTP) and on base_url; never counted:
--   GET  /__emulator/stats          counters + log (see stats() below)
--   GET  /__emulator/config         the current configuration
--   POST /__emulator/config         JSON merge: objects merge, arrays/scalars
--                                   replace, null restores the default; 400
--                                   {"error": ...} for an invalid value
--   POST /__emulator/reset          counters, log, faults, config, tokens, nonces,
--                                   polls, rate-limit buckets, connections
--   POST /__emulator/expire_tokens  every issued OAuth token stops working
--
-- Config keys (defaults):
--   nonce_ttl 300            seconds a Digest nonce lives; then a right answer gets stale=true
--   token_ttl 3600           seconds an OAuth token lives (expires_in)
--   max_tokens 0             live tokens per account, then 403 access_denied; 0 = unlimited
--   refuse_bearer false      every Bearer token refused (an IP access list)
--   digest_nc_strict false   true: each nc must be above the last seen for its
--                            nonce; false: any order, each value once (RFC 7616)
--   deprecation_headers true Deprecation/Sunset on serverless answers and on the
--                            cluster list under a deprecated version
--   migrated {}              serverless names of the first project moved to Flex now:
--                            serverless side empty, Flex side 5 jobs, both lists
--   job_polls 3              GETs of a polling job answered running; final after
--   latency { request = 0, connection = 0 }
--                            seconds of ngx.sleep (non-blocking) before each
--                            request on the API listener (OAuth and 401s too),
--                            plus on the first request of each connection
--   rate_limit false         or { capacity = 1200, refill = 500, per = 60 } (missing
--                            fields take these): a token bucket per project for
--                            the restore-job endpoints, 429 when empty
--   serverless_list "ok"     "404" or "410": GET /groups/{g}/serverless after the sunset
--   fleet false              or { projects = n, instances = m, jobs = j }: n more
--                            projects (FLEET_ORG_ID, ids FLEET_PREFIX .. 8 hex digits)
--                            of m Flex clusters fleet-1..m with j generated jobs each
--   sandbox_jobs false       or n: the first project gets a Flex cluster `sandbox`
--                            with n generated jobs (atlasrestore emulator --jobs)
--   stall_seconds 30         how long a stall or trickle fault lasts
--   faults = { seed 0, rate 0, kinds {"429","503"}, retry_after 1, script {} }
--                            on every API endpoint; kinds: 429, 429_body_only,
--                            503, truncated, malformed, close, stall, trickle.
--                            A script is consumed first, one entry per request
--                            ("ok" = none); posting `faults` restarts it and the
--                            PRNG sequence.
-- stats(): { requests, challenges, tokens, revokes, trap, faults,
--   list_requests (restore-job lists), job_requests (one job),
--   instance_list_requests, project_list_requests (GET /groups and
--   /orgs/{o}/groups), rate_limited (429s from rate_limit),
--   connections (distinct connections), in_flight, max_in_flight (most
--   requests served at once, latency included), trap_log = {uri...},
--   log = { {method, uri, status, auth, user_agent, fault, time}, ... } }
--   (the newest 20,000 log entries).  Admin calls and the trap are not counted.
--
-- Projects, instances and job ids: README.md, "The local Atlas emulator".
--
-- Scripts: the emulator is a daemon, so the caller must make sure stop() runs.
-- Use emulator.with(opts, fn), which stops it even if fn raises, or
-- `local emu <close> = emulator.start()`, or pcall around the work.  As a
-- last resort the emulator object also stops nginx when it is collected
-- (lua.c collects everything at exit, also after an uncaught error).
local socket = require "socket"
local cjson = require "cjson"

-- What Lua 5.1 and LuaJIT lack, for the few places that need it.
local tointeger = rawget(math, "tointeger") or function(v) return v end
local unpack = rawget(table, "unpack") or rawget(_G, "unpack")
local function pack(...) return { n = select("#", ...), ... } end

--- os.execute's 5.2+ results everywhere: true|nil, "exit"|"signal", code.
local function execute(cmd)
  local a, how, code = os.execute(cmd)
  if type(a) == "number" then -- 5.1 and LuaJIT: the raw wait status
    if a % 256 == 0 then return a == 0 or nil, "exit", a / 256 end
    return nil, "signal", a % 128
  end
  return a, how, code
end

local M = {}

M.GROUP_ID = "65a1b2c3d4e5f60718293a4b"
M.MIXED_GROUP_ID = "65a1b2c3d4e5f60718293a4c"
M.EMPTY_GROUP_ID = "65a1b2c3d4e5f60718293a4d"
M.BIG_GROUP_ID = "65a1b2c3d4e5f60718293a5b"

local ids = require "atlasrestore_emulator.ids"
M.ORG_ID, M.TEAM_ORG_ID, M.BENCH_ORG_ID, M.FLEET_ORG_ID = ids.orgs.main, ids.orgs.team, ids.orgs.bench, ids.orgs.fleet
M.TEAM_ALPHA_ID, M.TEAM_BETA_ID = ids.team_projects.alpha, ids.team_projects.beta
M.FLEET_PREFIX = ids.fleet_prefix

-- The jobs that finish after job_polls GETs (emulator/polling.lua), by source and outcome.
M.POLLING_JOBS = ids.polling
-- dedicated-0's three hand-written, complete jobs: automated, download, pointInTime.
M.DEDICATED_FIXED_JOBS = { "6a7c1e5f2c88faeba59d0311", "6a7c1e5f2c88faeba59d0312", "6a7c1e5f2c88faeba59d0313" }
M.PUBLIC_KEY = "emupublic"
M.PRIVATE_KEY = "emu-private-7d0c2e6b-secret"
M.CLIENT_ID = "mdb_sa_id_emu0001"
M.CLIENT_SECRET = "mdb_sa_sk_emu-secret-91f2"

local START_TIMEOUT = 5
local STOP_TIMEOUT = 5
local ADMIN_TIMEOUT = 10

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.sh_quote = sh_quote

-- `make asan` preloads the sanitizer runtime into the lua5.4 under test only.
-- Child commands (nginx, openssl, curl, python3, coreutils, another lua5.4)
-- must not inherit it: they are not ours and LeakSanitizer aborts on their
-- leaks.  Every command a spec spawns goes through clean_env().
M.clean_env_prefix = "env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS -u LSAN_OPTIONS "
function M.clean_env(cmd)
  return M.clean_env_prefix .. "/bin/sh -c " .. sh_quote(cmd)
end

local function run(cmd)
  local ok, how, code = execute(M.clean_env(cmd))
  return ok == true, how, code
end

--- The whole file, or nil when it cannot be read.
local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end
M.read_file = read_file

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  assert(f:write(text))
  f:close()
end
M.write_file = write_file

local function capture(cmd)
  local p = assert(io.popen(M.clean_env(cmd), "r"))
  local out = p:read("*a")
  p:close()
  return (out:gsub("%s+$", ""))
end

local function tail(text, n)
  if not text or text == "" then return "(empty)" end
  local lines = {}
  for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
  return table.concat(lines, "\n", math.max(1, #lines - n + 1))
end

-- The directory of nginx.conf.in and the emulator's Lua files (this file's own),
-- as an absolute path (nginx runs elsewhere).
local function emulator_dir()
  local src = debug.getinfo(1, "S").source
  local dir = src:match("^@(.*)/[^/]+$") or "."
  return capture("cd " .. sh_quote(dir) .. " && pwd -P")
end

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return assert(tonumber(port))
end

local function port_open(port)
  local c = socket.tcp()
  c:settimeout(0.2)
  local ok = c:connect("127.0.0.1", port)
  c:close()
  return ok ~= nil
end

-- True while `pid` exists and is not a zombie.
local function alive(pid)
  local stat = read_file("/proc/" .. pid .. "/stat")
  if not stat then return false end
  local st = stat:match("^%d+ %b() (%a)")
  return st ~= nil and st ~= "Z" and st ~= "X"
end

local function gen_tls(dir)
  local q = sh_quote
  local ext = dir .. "/server.ext"
  write_file(ext, "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n" ..
    "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n")
  local log = q(dir .. "/openssl.log")
  local ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
  local cmds = {
    "openssl req -x509 " .. ec .. " -keyout " .. q(dir .. "/ca.key") .. " -out " .. q(dir .. "/ca.crt") ..
      " -days 2 -subj '/CN=atlasrestore emulator throwaway CA'" ..
      " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
    "openssl req " .. ec .. " -keyout " .. q(dir .. "/server.key") .. " -out " .. q(dir .. "/server.csr") ..
      " -subj /CN=localhost",
    "openssl x509 -req -in " .. q(dir .. "/server.csr") .. " -CA " .. q(dir .. "/ca.crt") ..
      " -CAkey " .. q(dir .. "/ca.key") .. " -CAcreateserial -out " .. q(dir .. "/server.crt") ..
      " -days 2 -extfile " .. q(ext),
  }
  for _, cmd in ipairs(cmds) do
    if not run(cmd .. " </dev/null >>" .. log .. " 2>&1") then
      error("emulator: openssl failed: " .. cmd .. "\n" .. tail(read_file(dir .. "/openssl.log"), 20), 3)
    end
  end
end

--- `template` with each @NAME@ replaced by vars.NAME (raises on a missing one).
local function render(template, vars)
  return (template:gsub("@([%u_]+)@", function(k)
    local v = vars[k]
    if v == nil then error("emulator: template placeholder @" .. k .. "@ has no value", 4) end
    return tostring(v)
  end))
end

-- Minimal HTTP/1.0 client for the admin listener: bounded and independent
-- of socket.http's global settings.
local function admin_request(self, method, path, body)
  local c = socket.tcp()
  c:settimeout(ADMIN_TIMEOUT)
  local ok, err = c:connect("127.0.0.1", self.admin_port)
  if not ok then
    c:close()
    error("emulator: admin connect failed: " .. tostring(err), 3)
  end
  body = body or ""
  local req = method .. " " .. path .. " HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" ..
    "Content-Length: " .. #body .. "\r\n\r\n" .. body
  ok, err = c:send(req)
  local resp, rerr, partial
  if ok then resp, rerr, partial = c:receive("*a") end
  c:close()
  resp = resp or partial
  if not ok or not resp or resp == "" then
    error("emulator: admin " .. method .. " " .. path .. " failed: " .. tostring(err or rerr), 3)
  end
  local status = tonumber(resp:match("^HTTP/%d%.%d (%d+)"))
  local payload = resp:match("\r\n\r\n(.*)$") or ""
  return status, payload
end

-- lua-cjson decodes every number as a float; counters read better as integers.
local function integers(v)
  if type(v) == "number" then
    return tointeger(v) or v
  elseif type(v) == "table" then
    for k, x in pairs(v) do v[k] = integers(x) end
  end
  return v
end

M.render, M.capture = render, capture

local Emulator = {}
Emulator.__index = Emulator

function Emulator:stats()
  local status, body = admin_request(self, "GET", "/__emulator/stats")
  assert(status == 200, "emulator: stats failed: " .. body)
  return integers(cjson.decode(body))
end

function Emulator:reset()
  local status, body = admin_request(self, "POST", "/__emulator/reset")
  assert(status == 200, "emulator: reset failed: " .. body)
  return true
end

-- Merges `tbl` into the configuration; returns the resulting configuration.
-- Raises with the emulator's message when a value is rejected.
function Emulator:config(tbl)
  local status, body = admin_request(self, "POST", "/__emulator/config", cjson.encode(tbl or {}))
  if status ~= 200 then error("emulator: config rejected: " .. body, 2) end
  return integers(cjson.decode(body))
end

function Emulator:get_config()
  local _, body = admin_request(self, "GET", "/__emulator/config")
  return integers(cjson.decode(body))
end

--- A client of the module pointed at this emulator: its API key, quick
-- retries, warnings silenced. `extra` overrides; a service account or an
-- access token in `extra` replaces the key.
function Emulator:client(extra)
  local opts = {
    base_url = self.base_url, public_key = self.public_key, private_key = self.private_key,
    on_warning = function() end, retry_base_delay = 0.01, retry_max_delay = 0.05,
  }
  for k, v in pairs(extra or {}) do opts[k] = v end
  if opts.client_id or opts.access_token then opts.public_key, opts.private_key = nil, nil end
  -- Not assert(new(...)): Lua 5.1's assert refuses an error table as its message.
  local client, err = require("atlasrestore").new(opts)
  if not client then error(tostring(err), 2) end
  return client
end

function Emulator:expire_tokens()
  local status, body = admin_request(self, "POST", "/__emulator/expire_tokens")
  assert(status == 200, "emulator: expire_tokens failed: " .. body)
  return true
end

-- Path of a restore-job list; version "v2" (default) or "v1.0".
function Emulator:serverless_path(name, version, group)
  return string.format("/api/atlas/%s/groups/%s/serverless/%s/backup/restoreJobs",
    version or "v2", group or self.group_id, name)
end

function Emulator:flex_path(name, group)
  return string.format("/api/atlas/v2/groups/%s/flexClusters/%s/backup/restoreJobs", group or self.group_id, name)
end

-- Restore jobs of a dedicated cluster; version "v2" (default) or "v1.0".
function Emulator:dedicated_path(name, version, group)
  return string.format("/api/atlas/%s/groups/%s/clusters/%s/backup/restoreJobs",
    version or "v2", group or self.group_id, name)
end

-- An instance list: kind "serverless", "flexClusters" or "clusters".
function Emulator:instances_path(kind, group, version)
  return string.format("/api/atlas/%s/groups/%s/%s", version or "v2", group or self.group_id, kind)
end

function Emulator:url(path)
  return self.base_url .. path
end

function Emulator:error_log()
  return read_file(self.prefix .. "/error.log") or ""
end

local function kill_tree(pid, sig)
  run("pkill -" .. sig .. " -P " .. pid .. " >/dev/null 2>&1")
  run("kill -" .. sig .. " " .. pid .. " >/dev/null 2>&1")
end

-- The watchdog: a shell in its own session that reads a pipe from this process. When
-- the pipe closes without "done" (the process died: SIGTERM, SIGKILL, a crash), it
-- stops nginx and removes the directory.  $1 = nginx's pid, $2 = the directory.
local WATCHDOG = [[
alive() { [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) [ZX] ' "/proc/$1/stat"; }
read line; [ "$line" = done ] && exit 0
kill -TERM "$1" 2>/dev/null
i=0; while alive "$1" && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
if alive "$1"; then pkill -KILL -P "$1"; kill -KILL "$1"; fi 2>/dev/null
rm -rf "$2"
]]

local function start_watchdog(self)
  self.watchdog = assert(io.popen(M.clean_env("exec setsid sh -c " .. sh_quote(WATCHDOG) ..
    " atlasrestore-emulator-watchdog " .. self.pid .. " " .. sh_quote(self.prefix) .. " >/dev/null 2>&1"), "w"))
end

--- Stops the nginx whose master is `pid`, if it runs: SIGTERM (a fast shutdown,
-- which stalled requests do not delay), then SIGKILL for the master and its workers.
function M.stop_nginx(pid)
  if not (pid and alive(pid)) then return end
  run("kill -TERM " .. pid .. " >/dev/null 2>&1")
  local deadline = socket.gettime() + STOP_TIMEOUT
  while alive(pid) and socket.gettime() < deadline do socket.sleep(0.02) end
  if alive(pid) then
    kill_tree(pid, "KILL")
    deadline = socket.gettime() + 1
    while alive(pid) and socket.gettime() < deadline do socket.sleep(0.02) end
  end
end

function Emulator:stop()
  if self.stopped then return true end
  self.stopped = true
  M.stop_nginx(self.pid or tonumber(read_file(self.prefix .. "/nginx.pid") or ""))
  if self.prefix and self.prefix:match("^/tmp/atlas%-emu%.[%w]+$") then
    run("rm -rf " .. sh_quote(self.prefix))
  end
  if self.watchdog then
    self.watchdog:write("done\n")
    self.watchdog:close()
    self.watchdog = nil
  end
  return true
end

Emulator.__gc = function(self) pcall(Emulator.stop, self) end
Emulator.__close = function(self) Emulator.stop(self) end

--- `n` distinct free loopback ports.
function M.free_ports(n)
  local ports, taken = {}, {}
  while #ports < n do
    local port = free_port()
    if not taken[port] then ports[#ports + 1], taken[port] = port, true end
  end
  return unpack(ports, 1, n)
end

--- Starts nginx on prefix/nginx.conf (its error log in prefix/error.log) and waits
-- until it accepts connections on every port of `ports`. `env` is an optional
-- "NAME=value ..." prefix for nginx's environment; `nginx_prefix` nginx's own -p
-- (default `prefix`). Returns the master's pid, or nil and what nginx said.
function M.start_nginx(prefix, ports, env, nginx_prefix)
  local q = sh_quote
  local ok = run((env or "") .. " nginx -p " .. q(nginx_prefix or prefix) .. " -c " .. q(prefix .. "/nginx.conf") ..
    " -e " .. q(prefix .. "/error.log") .. " </dev/null >" .. q(prefix .. "/start.log") .. " 2>&1")
  local function failure()
    return (read_file(prefix .. "/start.log") or "") .. "\n" .. tail(read_file(prefix .. "/error.log"), 30)
  end
  if not ok then return nil, failure() end
  local deadline = socket.gettime() + START_TIMEOUT
  local pid
  while socket.gettime() < deadline do
    pid = pid or tonumber(read_file(prefix .. "/nginx.pid") or "")
    local open = pid ~= nil
    for _, port in ipairs(ports) do open = open and port_open(port) end
    if open then return pid end
    if pid and not alive(pid) then break end
    socket.sleep(0.02)
  end
  if pid and alive(pid) then kill_tree(pid, "KILL") end
  return nil, "did not accept connections within " .. START_TIMEOUT .. " s\n" .. failure()
end

--- The placeholders every nginx configuration of the specs uses: USER_LINE, PREFIX, REPO, MULTIARCH.
function M.nginx_vars(prefix, root)
  return {
    USER_LINE = capture("id -u") == "0" and "user root;" or "",
    PREFIX = prefix,
    REPO = root,
    -- Debian's Lua 5.1 C modules (cjson, for nginx's LuaJIT) sit under the multiarch triplet.
    MULTIARCH = capture("dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch"),
  }
end

local function try_start(prefix, dir, opts)
  local port, admin_port, trap_port = M.free_ports(3)
  local ssl_lines = ""
  if opts.tls then
    ssl_lines = "        ssl_certificate " .. prefix .. "/server.crt;\n" ..
      "        ssl_certificate_key " .. prefix .. "/server.key;\n" ..
      "        ssl_protocols TLSv1.2 TLSv1.3;\n" ..
      "        ssl_session_cache shared:emu_ssl:1m;"
  end
  local template = read_file(dir .. "/nginx.conf.in")
  if not template then error("emulator: cannot read " .. dir .. "/nginx.conf.in", 3) end
  local vars = M.nginx_vars(prefix)
  -- nginx loads the modules by their installed names, atlasrestore_emulator.*, from the tree above dir.
  vars.LUA_ROOT = dir:match("^(.*)/[^/]+$")
  vars.EMULATOR, vars.PORT, vars.ADMIN_PORT, vars.TRAP_PORT = dir, port, admin_port, trap_port
  vars.SSL_FLAG, vars.SSL_LINES = opts.tls and " ssl" or "", ssl_lines
  write_file(prefix .. "/nginx.conf", render(template, vars))
  local pid, why = M.start_nginx(prefix, { port, admin_port, trap_port })
  if not pid then return nil, why end
  return { pid = pid, port = port, admin_port = admin_port, trap_port = trap_port }
end

--- The Debian packages the emulator needs that are missing (nginx, its lua module,
-- openssl with opts.tls), or nil when nothing is.
function M.missing_packages(opts)
  local missing = {}
  if not run("command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx") then missing[#missing + 1] = "nginx" end
  local module = io.open("/usr/lib/nginx/modules/ngx_http_lua_module.so", "rb")
  if module then module:close() else missing[#missing + 1] = "libnginx-mod-http-lua" end
  if opts and opts.tls and not run("command -v openssl >/dev/null 2>&1") then missing[#missing + 1] = "openssl" end
  if #missing > 0 then return missing end
end

-- opts.tls: serve HTTPS with a throwaway CA (emu.ca_file).  opts.watchdog: nginx is
-- stopped and the directory removed even if this process dies without stop().
function M.start(opts)
  opts = opts or {}
  local dir = emulator_dir()
  local prefix = capture("mktemp -d /tmp/atlas-emu.XXXXXXXX")
  if not prefix:match("^/tmp/atlas%-emu%.[%w]+$") then error("emulator: mktemp failed: " .. prefix, 2) end
  local self = setmetatable({ prefix = prefix, stopped = false }, Emulator)
  local ok, err = pcall(function()
    assert(run("mkdir -p " .. sh_quote(prefix .. "/tmp")), "mkdir failed")
    if opts.tls then gen_tls(prefix) end
    local info, why
    -- Free ports are only probed, so another process may grab one first: retry.
    for _ = 1, 3 do
      info, why = try_start(prefix, dir, opts)
      if info then break end
      if not why:find("Address already in use", 1, true) then break end
    end
    if not info then error("emulator: nginx failed to start: " .. why, 0) end
    for k, v in pairs(info) do self[k] = v end
    if opts.watchdog then start_watchdog(self) end
  end)
  if not ok then
    self.pid = nil
    self:stop()
    error(err, 2)
  end
  local scheme = opts.tls and "https" or "http"
  self.tls = opts.tls and true or false
  self.base_url = scheme .. "://127.0.0.1:" .. self.port
  self.admin_url = "http://127.0.0.1:" .. self.admin_port
  self.trap_url = "http://127.0.0.1:" .. self.trap_port
  self.ca_file = opts.tls and (prefix .. "/ca.crt") or nil
  self.group_id = M.GROUP_ID
  self.public_key = M.PUBLIC_KEY
  self.private_key = M.PRIVATE_KEY
  self.client_id = M.CLIENT_ID
  self.client_secret = M.CLIENT_SECRET
  return self
end

-- Runs fn(emu) with a fresh emulator and always stops it; re-raises fn's error.
function M.with(opts, fn)
  local emu = M.start(opts)
  local res = pack(pcall(fn, emu))
  emu:stop()
  if not res[1] then error(res[2], 0) end
  return unpack(res, 2, res.n)
end

return M
