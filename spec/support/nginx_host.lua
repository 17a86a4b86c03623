-- Starts and stops the nginx that runs the module under test (its LuaJIT build in
-- build/luajit), beside the emulator's nginx, so that a blocked worker of the one
-- cannot stall the other. Its configuration is spec/nginx/host.conf.in; the
-- application of its locations is spec/nginx/app/app.lua.
--
--   local host = nginx_host.start { workers = 1, env = { NAME = "value" }, http = "...", server = "..." }
--   -- env: the environment of nginx, and an `env` directive each, so that workers see it
--   -- http, server: configuration lines added to the http block and to the main server
--   nginx_host.around(set, host_opts, emu_opts): an emulator and a host for a describe block
--   nginx_host.emulator_env(emu, extra) -> the env that points the application at the emulator
--   nginx_host.query(args) -> "a=1&b=2"
--   host.url, host.fixture_url
--   nginx_host.run(prefix, ports, conf, env, nginx_prefix) -> a Host of an nginx.conf of your own (see below)
--   nginx_host.at(port) -> a Host of an nginx that another process started (requests only)
--   host:get(path), host:request(method, path) -> status, body, headers;  host:json(path) -> status, decoded body
--   host:burst(requests, timeout) -> one answer a request, sent on connections of their own
--   host:kept(name) -> what a phase that runs after the answer (log_by_lua) kept as /result?name=
--   host:problems(allowed) -> the error log's lines above warn that no pattern of `allowed` matches
--   host:stop()
local socket = require "socket"
local cjson = require "cjson"
local emulator = require "support.emulator"

local M = {}

--- The repository's root: this file is spec/support/nginx_host.lua.
function M.repo_root()
  local source = debug.getinfo(1, "S").source:match("^@(.*)$") or "spec/support/nginx_host.lua"
  local dir = source:match("^(.*)/spec/support/[^/]+$")
  if dir == nil or dir == "" then return "." end
  return dir
end

local REQUEST_TIMEOUT = 30

local Host = {}
Host.__index = Host

-- One HTTP/1.0 exchange (nginx then neither chunks nor keeps the connection):
-- status, body, headers (lower-case names).
local function parse(raw)
  local head, body = raw:match("^(.-)\r\n\r\n(.*)$")
  if not head then return nil, raw end
  local status = tonumber(head:match("^HTTP/%d%.%d (%d+)"))
  local headers = {}
  for name, value in head:gmatch("\r\n([^:\r\n]+):%s*([^\r\n]*)") do headers[name:lower()] = value end
  return status, body, headers
end

local function request_bytes(path, method)
  return (method or "GET") .. " " .. path .. " HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
end

--- One request without a body: status, body, headers.
function Host:request(method, path, timeout)
  local c = socket.tcp()
  c:settimeout(timeout or REQUEST_TIMEOUT)
  assert(c:connect("127.0.0.1", self.port))
  assert(c:send(request_bytes(path, method)))
  local raw, err, partial = c:receive("*a")
  c:close()
  return parse(raw or partial or err)
end

function Host:get(path, timeout) return self:request("GET", path, timeout) end

--- GETs `path` and decodes its JSON answer.
function Host:json(path, timeout)
  local status, body = self:get(path, timeout)
  local ok, doc = pcall(cjson.decode, body or "")
  if not ok then error(("host: %s answered %s: %s"):format(path, tostring(status), tostring(body)), 2) end
  return status, doc
end

--- What another phase kept under `name` (the /result location of host.conf.in); a
-- log phase runs after the answer went out, so it is asked for up to a second.
function Host:kept(name)
  local kept
  for _ = 1, 100 do
    kept = select(2, self:get("/result?name=" .. name))
    if kept ~= "\n" then break end
    socket.sleep(0.01)
  end
  return kept
end

--- Sends each request ({ path = ..., before = function() ... end }) on a connection
-- of its own, one after the other (`before` runs first, e.g. to wait for something),
-- then reads every answer as it comes. Returns, in the order of `requests`,
-- { path, status, body, order (1 = the first answer complete), seconds (since the
-- first request was sent), latency (seconds since this one was sent) }.
function Host:burst(requests, timeout)
  local conns, started = {}, socket.gettime()
  for i, r in ipairs(requests) do
    if r.before then r.before() end
    local c = socket.tcp()
    c:settimeout(5)
    assert(c:connect("127.0.0.1", self.port))
    assert(c:send(request_bytes(r.path)))
    c:settimeout(0)
    conns[i] = { sock = c, parts = {}, path = r.path, sent = socket.gettime() }
  end
  local deadline, order, open = socket.gettime() + (timeout or REQUEST_TIMEOUT), 0, #conns
  while open > 0 and socket.gettime() < deadline do
    local socks = {}
    for _, conn in ipairs(conns) do if not conn.order then socks[#socks + 1] = conn.sock end end
    local readable = socket.select(socks, nil, 0.05)
    for _, conn in ipairs(conns) do
      if not conn.order and readable[conn.sock] then
        local data, err, partial = conn.sock:receive(65536)
        conn.parts[#conn.parts + 1] = data or partial
        if err == "closed" then
          order, open = order + 1, open - 1
          conn.order, conn.seconds, conn.latency = order, socket.gettime() - started, socket.gettime() - conn.sent
          conn.sock:close()
        end
      end
    end
  end
  local out = {}
  for i, conn in ipairs(conns) do
    if not conn.order then conn.sock:close() end
    local status, body = parse(table.concat(conn.parts))
    out[i] = { path = conn.path, status = status, body = body, order = conn.order, seconds = conn.seconds,
      latency = conn.latency }
  end
  return out
end

function Host:error_log()
  return emulator.read_file(self.prefix .. "/error.log") or ""
end

-- nginx's levels above warn, and the line of a worker that died.
local SERIOUS = { "%[error%]", "%[crit%]", "%[alert%]", "%[emerg%]", "exited on signal", "worker process %d+ exited" }

--- The lines of the error log that tell of a problem (above warn, or a worker that
-- died) and match none of the Lua patterns in `allowed`.
function Host:problems(allowed)
  local out = {}
  for line in self:error_log():gmatch("[^\n]+") do
    local serious = false
    for _, p in ipairs(SERIOUS) do serious = serious or line:find(p) ~= nil end
    for _, p in ipairs(allowed or {}) do
      if line:find(p) then serious = false end
    end
    if serious then out[#out + 1] = line end
  end
  return out
end

function Host:stop()
  if self.stopped then return end
  self.stopped = true
  emulator.stop_nginx(self.pid)
  if self.prefix:match("^/tmp/atlas%-host%.[%w]+$") then
    os.execute(emulator.clean_env("rm -rf " .. emulator.sh_quote(self.prefix)))
  end
end

Host.__gc = function(self) pcall(Host.stop, self) end

--- A fresh directory for an nginx of the specs (Host:stop removes it).
function M.prefix()
  local prefix = emulator.capture("mktemp -d /tmp/atlas-host.XXXXXXXX")
  assert(prefix:match("^/tmp/atlas%-host%.[%w]+$"), "host: mktemp failed: " .. prefix)
  os.execute(emulator.clean_env("mkdir -p " .. emulator.sh_quote(prefix .. "/tmp")))
  return prefix
end

function M.at(port)
  return setmetatable({ port = port, url = "http://127.0.0.1:" .. port }, Host)
end

--- Starts nginx on prefix/nginx.conf, written by conf(ports) for the free ports it
-- is given (`ports` of them), with the environment `env` (and nginx's -p
-- `nginx_prefix`, default `prefix`): the Host, listening on the first port. A port
-- another process took first is tried again with new ones.
function M.run(prefix, ports, conf, env, nginx_prefix)
  local self = setmetatable({ prefix = prefix }, Host)
  local assignments = {}
  for name, value in pairs(env or {}) do assignments[#assignments + 1] = name .. "=" .. emulator.sh_quote(value) end
  local why
  for _ = 1, 3 do
    local free = { emulator.free_ports(ports) }
    emulator.write_file(prefix .. "/nginx.conf", conf(free))
    self.pid, why = emulator.start_nginx(prefix, free, "env " .. table.concat(assignments, " "), nginx_prefix)
    if self.pid then
      self.port, self.ports = free[1], free
      self.url = "http://127.0.0.1:" .. self.port
      return self
    end
    if not why:find("Address already in use", 1, true) then break end
  end
  self:stop()
  error("host: nginx failed to start: " .. why, 2)
end

--- opts: workers (1), env, http, server (see above).
function M.start(opts)
  opts = opts or {}
  local root, prefix = M.repo_root(), M.prefix()
  local env_lines = {}
  for name in pairs(opts.env or {}) do env_lines[#env_lines + 1] = "env " .. name .. ";" end
  local template = assert(emulator.read_file(root .. "/spec/nginx/host.conf.in"))
  local self = M.run(prefix, 2, function(ports)
    local vars = emulator.nginx_vars(prefix, root)
    vars.PORT, vars.FIXTURE_PORT = ports[1], ports[2]
    vars.WORKERS, vars.ENV_LINES = opts.workers or 1, table.concat(env_lines, "\n")
    vars.HTTP_LINES, vars.SERVER_LINES = opts.http or "", opts.server or ""
    return emulator.render(template, vars)
  end, opts.env)
  self.fixture_url = "http://127.0.0.1:" .. self.ports[2]
  return self
end

--- In a describe block: starts an emulator (`emu_opts`) and a host before its specs
-- and stops both after them; set(emu, host) receives them. `host_opts` is M.start's
-- opts, or a function of the emulator that returns them; by default the application
-- is pointed at the emulator (M.emulator_env).
function M.around(set, host_opts, emu_opts)
  local busted = require "busted"
  local emu, host
  busted.lazy_setup(function()
    emu = emulator.start(emu_opts)
    local opts = host_opts
    if type(opts) == "function" then opts = opts(emu) end
    opts = opts or {}
    opts.env = opts.env or M.emulator_env(emu)
    host = M.start(opts)
    set(emu, host)
  end)
  busted.lazy_teardown(function()
    if host then host:stop() end
    if emu then emu:stop() end
  end)
end

--- The environment that points the application at the emulator `emu`, plus `extra`.
function M.emulator_env(emu, extra)
  local env = { EMU_BASE_URL = emu.base_url, EMU_PUBLIC_KEY = emu.public_key, EMU_PRIVATE_KEY = emu.private_key,
    EMU_CLIENT_ID = emu.client_id, EMU_CLIENT_SECRET = emu.client_secret }
  for k, v in pairs(extra or {}) do env[k] = v end
  return env
end

--- A query string from a table (values URL-encoded), for the application's locations.
function M.query(args)
  local keys, parts = {}, {}
  for k in pairs(args) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = tostring(args[k]):gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end)
    parts[#parts + 1] = k .. "=" .. v
  end
  return table.concat(parts, "&")
end

return M
