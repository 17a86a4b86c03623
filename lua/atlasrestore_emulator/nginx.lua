--- Runs an nginx in a directory of its own for the emulator's starter: free loopback ports, a
-- configuration rendered from a template, start and stop; shell commands without a preloaded sanitizer.
local socket = require "socket"

local M = {}

local START_TIMEOUT = 5
local STOP_TIMEOUT = 5

--- `s` as one word for /bin/sh.
function M.sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
local sh_quote = M.sh_quote

--- os.execute's 5.2+ results everywhere: true|nil, "exit"|"signal", code.
local function execute(cmd)
  local a, how, code = os.execute(cmd)
  if type(a) == "number" then -- 5.1 and LuaJIT: the raw wait status
    if a % 256 == 0 then return a == 0 or nil, "exit", a / 256 end
    return nil, "signal", a % 128
  end
  return a, how, code
end

-- A sanitizer preloaded into the Lua that runs the starter (`make asan`) is not for its
-- children (nginx, openssl, a shell): LeakSanitizer would abort on their leaks.
M.SHELL_PREFIX = "env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS -u LSAN_OPTIONS "

--- The /bin/sh command line that runs `cmd` without the sanitizer's variables.
function M.shell(cmd)
  return M.SHELL_PREFIX .. "/bin/sh -c " .. sh_quote(cmd)
end

--- Runs `cmd`: true when it exited 0, then how and the code.
function M.run(cmd)
  local ok, how, code = execute(M.shell(cmd))
  return ok == true, how, code
end
local run = M.run

--- What `cmd` printed on stdout, trailing white space removed.
function M.capture(cmd)
  local p = assert(io.popen(M.shell(cmd), "r"))
  local out = p:read("*a")
  p:close()
  return (out:gsub("%s+$", ""))
end

--- The whole file, or nil when it cannot be read.
function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end
local read_file = M.read_file

function M.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  assert(f:write(text))
  f:close()
end

--- The last `n` lines of `text`, for messages.
function M.tail(text, n)
  if not text or text == "" then return "(empty)" end
  local lines = {}
  for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
  return table.concat(lines, "\n", math.max(1, #lines - n + 1))
end
local tail = M.tail

--- `template` with each @NAME@ replaced by vars.NAME (raises on a missing one).
function M.render(template, vars)
  return (template:gsub("@([%u_]+)@", function(k)
    local v = vars[k]
    if v == nil then error("emulator: template placeholder @" .. k .. "@ has no value", 4) end
    return tostring(v)
  end))
end

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return assert(tonumber(port))
end

--- `n` distinct free loopback ports.
function M.free_ports(n)
  local ports, taken = {}, {}
  while #ports < n do
    local port = free_port()
    if not taken[port] then ports[#ports + 1], taken[port] = port, true end
  end
  return (rawget(table, "unpack") or rawget(_G, "unpack"))(ports, 1, n)
end

local function port_open(port)
  local c = socket.tcp()
  c:settimeout(0.2)
  local ok = c:connect("127.0.0.1", port)
  c:close()
  return ok ~= nil
end

--- True while `pid` exists and is not a zombie.
function M.alive(pid)
  local stat = read_file("/proc/" .. pid .. "/stat")
  if not stat then return false end
  local st = stat:match("^%d+ %b() (%a)")
  return st ~= nil and st ~= "Z" and st ~= "X"
end
local alive = M.alive

local function kill_tree(pid, sig)
  run("pkill -" .. sig .. " -P " .. pid .. " >/dev/null 2>&1")
  run("kill -" .. sig .. " " .. pid .. " >/dev/null 2>&1")
end

--- Stops the nginx whose master is `pid`, if it runs: SIGTERM (a fast shutdown,
-- which stalled requests do not delay), then SIGKILL for the master and its workers.
function M.stop(pid)
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

--- Starts nginx on prefix/nginx.conf (its error log in prefix/error.log) and waits
-- until it accepts connections on every port of `ports`. `env` is an optional
-- "NAME=value ..." prefix for nginx's environment; `nginx_prefix` nginx's own -p
-- (default `prefix`). Returns the master's pid, or nil and what nginx said.
function M.start(prefix, ports, env, nginx_prefix)
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

--- The placeholders every nginx configuration uses: USER_LINE, PREFIX, REPO, MULTIARCH.
function M.vars(prefix, root)
  return {
    USER_LINE = M.capture("id -u") == "0" and "user root;" or "",
    PREFIX = prefix,
    REPO = root,
    -- Debian's Lua 5.1 C modules (cjson, for nginx's LuaJIT) sit under the multiarch triplet.
    MULTIARCH = M.capture("dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch"),
  }
end

return M
