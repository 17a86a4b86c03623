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
--   emu:error_log(); emu.prefix (its directory), emu.pid_file
--   emu:stop()
--   emulator.start{ watchdog = true }: a process that dies without stop() still
--   leaves no nginx and no directory behind (`atlasrestore emulator` uses it)
--   emulator.start{ daemon = true }: it outlives this process (`atlasrestore emulator
--   --daemon`); emulator.stop_daemon(emu.pid_file) stops it from any process
--   emulator.missing_packages{ tls = ... }: nil, or the Debian packages to install
-- The specs' helpers around it (a client of the module, paths, clean_env): spec/support/emulator.lua.
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
-- stats(): { requests, challenges, tokens, revokes, live_tokens (issued, not revoked nor expired), trap, faults,
--   list_requests (restore-job lists), job_requests (one job),
--   instance_list_requests, project_list_requests (GET /groups and
--   /orgs/{o}/groups), rate_limited (429s from rate_limit),
--   connections (distinct connections), in_flight, max_in_flight (most
--   requests served at once, latency included), trap_log = {uri...},
--   log = { {method, uri, status, auth, user_agent, fault, time}, ... } }
--   (the newest 20,000 log entries).  Admin calls and the trap are not counted.
--
-- Projects, instances and job ids: docs/emulator.md, "Projects and instances".
--
-- Scripts: the emulator is a daemon, so the caller must make sure stop() runs.
-- Use emulator.with(opts, fn), which stops it even if fn raises, or
-- `local emu <close> = emulator.start()`, or pcall around the work.  As a
-- last resort the emulator object also stops nginx when it is collected
-- (lua.c collects everything at exit, also after an uncaught error).
local socket = require "socket"
local cjson = require "cjson"
local json = require "atlasrestore_emulator.json"
local nginx = require "atlasrestore_emulator.nginx"
local ids = require "atlasrestore_emulator.ids"

local sh_quote, run, read_file, write_file, capture = nginx.sh_quote, nginx.run, nginx.read_file, nginx.write_file,
  nginx.capture

-- What Lua 5.1 and LuaJIT lack, for the few places that need it.
local tointeger = rawget(math, "tointeger") or function(v) return v end
local unpack = rawget(table, "unpack") or rawget(_G, "unpack")
local function pack(...) return { n = select("#", ...), ... } end

local M = {}

M.GROUP_ID = "65a1b2c3d4e5f60718293a4b"
M.MIXED_GROUP_ID = "65a1b2c3d4e5f60718293a4c"
M.EMPTY_GROUP_ID = "65a1b2c3d4e5f60718293a4d"
M.BIG_GROUP_ID = "65a1b2c3d4e5f60718293a5b"
M.ORG_ID, M.TEAM_ORG_ID, M.BENCH_ORG_ID, M.FLEET_ORG_ID = ids.orgs.main, ids.orgs.team, ids.orgs.bench, ids.orgs.fleet
M.TEAM_ALPHA_ID, M.TEAM_BETA_ID = ids.team_projects.alpha, ids.team_projects.beta
M.FLEET_PREFIX = ids.fleet_prefix

-- The jobs that finish after job_polls GETs (emulator/polling.lua), by source and outcome.
M.POLLING_JOBS = ids.polling
-- dedicated-0's three hand-written, complete jobs: automated, download, pointInTime.
M.DEDICATED_FIXED_JOBS = { "6a7c1e5f2c88faeba59d0311", "6a7c1e5f2c88faeba59d0312", "6a7c1e5f2c88faeba59d0313" }
-- The fixed test credentials (not secrets), which the nginx side checks.
M.PUBLIC_KEY, M.PRIVATE_KEY = ids.credentials.public_key, ids.credentials.private_key
M.CLIENT_ID, M.CLIENT_SECRET = ids.credentials.client_id, ids.credentials.client_secret

local ADMIN_TIMEOUT = 10
-- Each emulator's directory, from mktemp; nothing else is ever removed.
local PREFIX_PATTERN = "^/tmp/atlas%-emu%.[%w]+$"
local PID_FILE_LOOKS = "/tmp/atlas-emu.XXXXXXXX/nginx.pid"

-- The directory of nginx.conf.in and the emulator's Lua files (this file's own),
-- as an absolute path (nginx runs elsewhere).
local function emulator_dir()
  local src = debug.getinfo(1, "S").source
  local dir = src:match("^@(.*)/[^/]+$") or "."
  return capture("cd " .. sh_quote(dir) .. " && pwd -P")
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
      error("emulator: openssl failed: " .. cmd .. "\n" .. nginx.tail(read_file(dir .. "/openssl.log"), 20), 3)
    end
  end
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
  -- The emulator's one encoder writes an empty table as an array: the merge takes an object.
  local text = next(tbl or {}) == nil and "{}" or json.encode(tbl)
  local status, body = admin_request(self, "POST", "/__emulator/config", text)
  if status ~= 200 then error("emulator: config rejected: " .. body, 2) end
  return integers(cjson.decode(body))
end

function Emulator:get_config()
  local _, body = admin_request(self, "GET", "/__emulator/config")
  return integers(cjson.decode(body))
end

function Emulator:expire_tokens()
  local status, body = admin_request(self, "POST", "/__emulator/expire_tokens")
  assert(status == 200, "emulator: expire_tokens failed: " .. body)
  return true
end

function Emulator:error_log()
  return read_file(self.prefix .. "/error.log") or ""
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
  self.watchdog = assert(io.popen(nginx.shell("exec setsid sh -c " .. sh_quote(WATCHDOG) ..
    " atlasrestore-emulator-watchdog " .. self.pid .. " " .. sh_quote(self.prefix) .. " >/dev/null 2>&1"), "w"))
end

function Emulator:stop()
  if self.stopped then return true end
  self.stopped = true
  nginx.stop(self.pid or tonumber(read_file(self.prefix .. "/nginx.pid") or ""))
  if self.prefix and self.prefix:match(PREFIX_PATTERN) then
    run("rm -rf " .. sh_quote(self.prefix))
  end
  if self.watchdog then
    self.watchdog:write("done\n")
    self.watchdog:close()
    self.watchdog = nil
  end
  return true
end

-- A daemon is stopped only when asked: it outlives the process that started it.
Emulator.__gc = function(self) if not self.daemon then pcall(Emulator.stop, self) end end
Emulator.__close = function(self) Emulator.stop(self) end

local function try_start(prefix, dir, opts)
  local port, admin_port, trap_port = nginx.free_ports(3)
  local ssl_lines = ""
  if opts.tls then
    ssl_lines = "        ssl_certificate " .. prefix .. "/server.crt;\n" ..
      "        ssl_certificate_key " .. prefix .. "/server.key;\n" ..
      "        ssl_protocols TLSv1.2 TLSv1.3;\n" ..
      "        ssl_session_cache shared:emu_ssl:1m;"
  end
  local template = read_file(dir .. "/nginx.conf.in")
  if not template then error("emulator: cannot read " .. dir .. "/nginx.conf.in", 3) end
  local vars = nginx.vars(prefix)
  -- nginx loads the modules by their installed names, atlasrestore_emulator.*, from the tree above dir.
  vars.LUA_ROOT = dir:match("^(.*)/[^/]+$")
  vars.EMULATOR, vars.PORT, vars.ADMIN_PORT, vars.TRAP_PORT = dir, port, admin_port, trap_port
  vars.SSL_FLAG, vars.SSL_LINES = opts.tls and " ssl" or "", ssl_lines
  write_file(prefix .. "/nginx.conf", nginx.render(template, vars))
  local pid, why = nginx.start(prefix, { port, admin_port, trap_port })
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
-- opts.daemon: nginx runs on after this process, until stop_daemon(emu.pid_file).
function M.start(opts)
  opts = opts or {}
  local dir = emulator_dir()
  local prefix = capture("mktemp -d /tmp/atlas-emu.XXXXXXXX")
  if not prefix:match(PREFIX_PATTERN) then error("emulator: mktemp failed: " .. prefix, 2) end
  local self = setmetatable({ prefix = prefix, stopped = false, daemon = opts.daemon and true or false,
    pid_file = prefix .. "/nginx.pid" }, Emulator)
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
    if opts.watchdog and not opts.daemon then start_watchdog(self) end
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

--- Stops the daemon whose nginx wrote `pid_file` (emu.pid_file) and removes its directory:
-- true, or nil and why not (no such emulator, or the file is not an emulator's).
function M.stop_daemon(pid_file)
  local prefix = type(pid_file) == "string" and pid_file:match("^(.*)/nginx%.pid$")
  if not (prefix and prefix:match(PREFIX_PATTERN)) then
    return nil, ("%s is not the pid file of an emulator (%s)"):format(tostring(pid_file), PID_FILE_LOOKS)
  end
  local pid = tonumber(read_file(pid_file) or "")
  if not pid then return nil, ("no emulator runs with the pid file %s"):format(pid_file) end
  -- The pid is nginx's only while its command line names the directory (pids are reused).
  local cmdline = read_file("/proc/" .. pid .. "/cmdline") or ""
  if cmdline:find(prefix, 1, true) then nginx.stop(pid) end
  run("rm -rf " .. sh_quote(prefix))
  return true
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
