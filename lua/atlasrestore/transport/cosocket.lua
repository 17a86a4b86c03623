--- The nginx transport: HTTP/1.1 over ngx.socket.tcp (cosockets, never blocking a
-- worker), tasks on ngx.thread, waits on ngx.sleep. See transport/contract.lua.
--
-- Connections are pooled by nginx (setkeepalive), per host, port and TLS server name;
-- lua_socket_keepalive_timeout and lua_socket_pool_size size the pool. TLS is verified
-- against lua_ssl_trusted_certificate, with the host name sent and checked. It runs
-- where nginx's lua module does, on LuaJIT, whose pcall a light thread may yield across.
local core = require "atlasrestore.core"
local errors = require "atlasrestore.errors"
local semaphore = require "ngx.semaphore"

local ngx = rawget(_G, "ngx")
local tcp, spawn, kill, sleep, timer_at = ngx.socket.tcp, ngx.thread.spawn, ngx.thread.kill, ngx.sleep, ngx.timer.at
local clock = os.clock
local unpack = rawget(table, "unpack") or rawget(_G, "unpack")

local transport = {}
transport.__index = transport

local function dotted(n) -- 10023 -> "0.10.23", 1022001 -> "1.22.1"
  local major, rest = math.floor(n / 1000000), n % 1000000
  return ("%d.%d.%d"):format(major, math.floor(rest / 1000), rest % 1000)
end
transport.version = ("ngx_lua/%s nginx/%s"):format(dotted(ngx.config.ngx_lua_version),
  dotted(ngx.config.nginx_version))

local HEAD_MAX_BYTES = 256 * 1024   -- all the heads of one response, as core.parse_head counts
local LINE_MAX_BYTES = 4096         -- a chunk-size line, a trailer line (csrc/framing.h)
local TRAILER_MAX_LINES = 64
local READ_CHUNK = 64 * 1024
local STALL_SPEED = 64              -- bytes per second, as libcurl's low-speed limit
local WAIT_SLICE = 0.5              -- seconds a waiter sleeps before looking at a task again

local function now()
  ngx.update_time()
  return ngx.now()
end

local function millis(seconds) return math.max(1, math.floor(seconds * 1000 + 0.5)) end

---------------------------------------------------------------------------
-- Where to connect, and the request bytes
---------------------------------------------------------------------------

-- The socket's address, port and pool of a request's target.
local function endpoint(t)
  -- nginx's resolver reads no /etc/hosts: localhost is the loopback address (RFC 6761).
  local addr = t.host == "localhost" and "127.0.0.1" or t.host
  return { tls = t.scheme == "https", addr = addr, port = t.port, server_name = t.server_name,
    pool = ("atlasrestore/%s:%d:%s"):format(addr, t.port, t.server_name or "-") }
end

-- The header lines come checked and in order (atlasrestore.request).
local function request_bytes(req)
  local t = req.target
  local lines = { ("%s %s HTTP/1.1"):format(req.method, t.path), "Host: " .. t.authority }
  for _, line in ipairs(req.headers) do lines[#lines + 1] = line end
  if req.body then lines[#lines + 1] = "Content-Length: " .. #req.body end
  lines[#lines + 1] = "\r\n"
  return table.concat(lines, "\r\n") .. (req.body or "")
end

---------------------------------------------------------------------------
-- One attempt: the socket, its deadline and its speed
---------------------------------------------------------------------------

local Attempt = {}
Attempt.__index = Attempt

local function fail(self, code, message, status)
  return nil, errors.new(code, { message = message, status = status, elapsed = now() - self.started })
end

-- Arms the socket's read timeout for one read: what is left of the attempt,
-- and no longer than stall_timeout without a byte.
function Attempt:arm()
  local left = self.deadline - now()
  if left <= 0 then return false end
  self.sock:settimeout(millis(math.min(left, self.req.stall_timeout)))
  return true
end

-- The error for a failed read or send.
function Attempt:io_error(err, what)
  if err == "timeout" then
    if now() >= self.deadline - 0.001 then
      return fail(self, errors.TIMEOUT, ("the attempt's timeout (%g s) passed while %s"):format(self.req.timeout, what),
        self.status)
    end
    return fail(self, errors.TIMEOUT, ("no byte for stall_timeout (%g s) while %s"):format(
      self.req.stall_timeout, what), self.status)
  end
  return fail(self, errors.NETWORK_ERROR, ("%s while %s"):format(tostring(err), what), self.status)
end

-- libcurl's low-speed rule: under STALL_SPEED bytes/s for stall_timeout seconds is dead.
function Attempt:count(n)
  local t = now()
  self.received = self.received + n
  self.window_bytes = self.window_bytes + n
  local span = t - self.window_start
  if span >= self.req.stall_timeout then
    if self.window_bytes < STALL_SPEED * span then
      return fail(self, errors.TIMEOUT, ("under %d bytes/s for stall_timeout (%g s)"):format(STALL_SPEED,
        self.req.stall_timeout), self.status)
    end
    self.window_start, self.window_bytes = t, 0
  end
  return true
end

-- The bytes read and not yet used are self.buf from self.pos on: one string and
-- an index, so that taking a line or a chunk from it copies only what is taken.

-- Unused bytes in the buffer, else one bounded read (receiveany returns as soon as
-- any byte is there, so neither a slow line nor a slow body can hold it past the
-- attempt or the stall rule): true, or nil, err, and whether the peer closed.
function Attempt:fill(what)
  if self.pos <= #self.buf then return true end
  if not self:arm() then return self:io_error("timeout", what) end
  local data, err = self.sock:receiveany(READ_CHUNK)
  if not data then
    local _, failure = self:io_error(err, what)
    return nil, failure, err == "closed"
  end
  local ok, cerr = self:count(#data)
  if not ok then return nil, cerr end
  self.buf, self.pos = data, 1
  return true
end

-- The buffer's bytes from self.pos through `stop`, used.
function Attempt:take(stop)
  local buf, pos = self.buf, self.pos
  self.pos = stop + 1
  if pos == 1 and stop == #buf then return buf end
  return buf:sub(pos, stop)
end

-- What has arrived, at most `max` bytes: data, or nil, err, and whether the peer closed.
function Attempt:some(max, what)
  local ok, err, closed = self:fill(what)
  if not ok then return nil, err, closed end
  return self:take(math.min(#self.buf, self.pos + max - 1))
end

-- Exactly n bytes into `parts`: true, or nil, err.
function Attempt:exactly(n, parts, what)
  while n > 0 do
    local data, err = self:some(n, what)
    if not data then return nil, err end
    parts[#parts + 1] = data
    n = n - #data
  end
  return true
end

-- Bytes through the first match of `ending` (a head's empty line, or a line
-- end; three bytes at most), at most `limit` of them: data, or nil, err.
-- `too_long` is the error code past the limit. Only the new bytes (and the
-- two before them) are searched.
function Attempt:through(ending, limit, too_long, what)
  local parts, size, tail = {}, 0, ""
  while true do
    local ok, err = self:fill(what)
    if not ok then return nil, err end
    local buf, pos, stop = self.buf, self.pos, nil
    if tail ~= "" then -- a match that begins in the two bytes before these
      local _, joined_stop = (tail .. buf:sub(pos, pos + 1)):find(ending)
      if joined_stop then stop = pos + joined_stop - #tail - 1 end
    end
    if not stop then stop = select(2, buf:find(ending, pos)) end
    local data = self:take(stop or #buf)
    size = size + #data
    if size > limit then return fail(self, too_long, ("%s passed %d bytes"):format(what, limit), self.status) end
    if stop and not parts[1] then return data end
    parts[#parts + 1] = data
    if stop then return table.concat(parts) end
    tail = (tail .. data):sub(-2)
  end
end

-- A line without its end (CRLF or a bare LF, as everywhere in the framing).
function Attempt:line(what)
  local line, err = self:through("\n", LINE_MAX_BYTES + 1, errors.BAD_RESPONSE, what)
  if not line then return nil, err end
  return (line:gsub("\r?\n$", ""))
end

-- Connects, or takes a connection from nginx's pool: true, or nil, err. An idle
-- pooled connection on which bytes arrive, or that the server closes, nginx closes
-- and drops at once; so a pooled connection has no byte waiting on it.
function Attempt:connect()
  local t, req = self.endpoint, self.req
  local sock = tcp()
  self.sock = sock
  local left = self.deadline - now()
  sock:settimeouts(millis(math.min(req.connect_timeout, left)), millis(left), millis(left))
  local ok, err = sock:connect(t.addr, t.port, { pool = t.pool })
  if not ok then
    if err == "timeout" then
      return fail(self, errors.TIMEOUT, ("connecting to %s:%d timed out"):format(t.addr, t.port))
    end
    return fail(self, errors.CONNECT_FAILED, ("connecting to %s:%d: %s"):format(t.addr, t.port, tostring(err)))
  end
  self.fresh = (sock:getreusedtimes() or 0) == 0
  if not (self.fresh and t.tls) then return true end
  ok, err = sock:sslhandshake(false, t.server_name, true)
  -- A handshake that ends at once may fail verification and still answer true (lua-nginx-module
  -- 0.10.23): the socket is closed then, and getreusedtimes() says so.
  if ok and sock:getreusedtimes() then return true end
  if ok then err = "the certificate did not verify (nginx gave no reason)" end
  if err == "timeout" then return fail(self, errors.TIMEOUT, "the TLS handshake timed out") end
  local hint = ""
  if t.server_name:find("^[%d.]+$") or t.server_name:find(":", 1, true) then
    hint = " (nginx checks a certificate against a host name only: use a name, not an address, in base_url)"
  end
  return fail(self, errors.TLS_FAILED, ("TLS with %s: %s%s"):format(t.server_name, tostring(err), hint))
end

-- The status, headers and framing of the final response, skipping 1xx ones:
-- true, or nil, err.
function Attempt:head()
  local size = 0
  while true do
    -- A head ends with an empty line; lines end in CRLF or a bare LF.
    local bytes, err = self:through("\n\r?\n", HEAD_MAX_BYTES - size, errors.RESPONSE_TOO_LARGE,
      "reading the response head")
    if not bytes then return nil, err end
    size = size + #bytes
    local status, headers, framing = core.parse_head(bytes)
    if not status then
      local message, code = headers, framing
      return fail(self, code, "the response head: " .. message)
    end
    if framing then -- a final head; an interim (1xx) one has none
      self.status, self.headers, self.framing = status, headers, framing
      return true
    end
  end
end

function Attempt:too_large(max)
  return fail(self, errors.RESPONSE_TOO_LARGE, ("the body passed max_body_size (%d bytes)"):format(max), self.status)
end

-- A chunked body into `parts`: true, or nil, err.
function Attempt:chunked(parts, max)
  local total = 0
  while true do
    local line, err = self:line("reading a chunk size")
    if not line then return nil, err end
    local size, why = core.parse_chunk_size(line)
    if not size then return fail(self, errors.BAD_RESPONSE, why, self.status) end
    if size == 0 then break end
    total = total + size
    if total > max then return self:too_large(max) end
    local ok
    ok, err = self:exactly(size, parts, "reading the body")
    if not ok then return nil, err end
    line, err = self:line("reading the body")
    if not line then return nil, err end
    if line ~= "" then return fail(self, errors.BAD_RESPONSE, "a chunk not followed by its line end", self.status) end
  end
  for _ = 1, TRAILER_MAX_LINES + 1 do
    local line, err = self:line("reading the trailers")
    if not line then return nil, err end
    if line == "" then return true end
  end
  return fail(self, errors.BAD_RESPONSE, "more trailer lines than allowed", self.status)
end

-- The body, read as the framing says: body, reusable, or nil, err.
function Attempt:body()
  local framing, max, parts = self.framing, self.req.max_body, {}
  if framing.body == "none" then return "", framing.persist end
  if framing.body == "chunked" then
    local ok, err = self:chunked(parts, max)
    if not ok then return nil, err end
    return table.concat(parts), framing.persist
  elseif framing.body == "length" then
    if framing.length > max then
      return fail(self, errors.RESPONSE_TOO_LARGE, ("Content-Length %d is past max_body_size (%d bytes)"):format(
        framing.length, max), self.status)
    end
    local ok, err = self:exactly(framing.length, parts, "reading the body")
    if not ok then return nil, err end
    return table.concat(parts), framing.persist
  end
  -- No framing: the body ends when the server closes, and so does the connection.
  local total = 0
  while true do
    local data, err, closed = self:some(READ_CHUNK, "reading the body")
    if not data then
      if closed then return table.concat(parts), false end
      return nil, err
    end
    total = total + #data
    if total > max then return self:too_large(max) end
    parts[#parts + 1] = data
  end
end

-- One exchange on one connection: res, or nil, err, and whether a new connection may try again.
function Attempt:exchange(bytes)
  local ok, err = self:connect()
  if not ok then return nil, err end
  self.window_start, self.window_bytes, self.received, self.buf, self.pos = now(), 0, 0, "", 1
  self.sock:settimeout(millis(math.max(0.001, self.deadline - now())))
  local sent, serr = self.sock:send(bytes)
  if not sent then return nil, select(2, self:io_error(serr, "sending the request")), not self.fresh end
  ok, err = self:head()
  if not ok then return nil, err, not self.fresh and self.received == 0 and err.errorCode == errors.NETWORK_ERROR end
  local body, keep = self:body()
  if not body then return nil, keep end
  -- Bytes read past the response are not the next one's: that connection goes.
  if not (keep and self.pos > #self.buf and self.sock:setkeepalive()) then self.sock:close() end
  self.sock = nil
  return { status = self.status, headers = self.headers, body = body, elapsed = now() - self.started }
end

local function perform(attempt, bytes)
  local res, err, again = attempt:exchange(bytes)
  if not res and again then
    -- A pooled connection that the server closed as we took it: once more, on another.
    if attempt.sock then attempt.sock:close() end
    attempt.status = nil
    res, err = attempt:exchange(bytes)
  end
  return res, err
end

--- See transport/contract.lua. Never raises for what the network or the server does.
function transport.request(_, req)
  local started = now()
  local attempt = setmetatable({ req = req, endpoint = endpoint(req.target), started = started,
    deadline = started + req.timeout }, Attempt)
  local ok, res, err = pcall(perform, attempt, request_bytes(req))
  if attempt.sock then attempt.sock:close() end
  if not ok then
    return nil, errors.new(errors.NETWORK_ERROR, { message = "the cosocket transport failed: " .. tostring(res),
      elapsed = now() - started })
  end
  return res, err
end

---------------------------------------------------------------------------
-- Tasks: light threads. Any thread may wait for a task (ngx.thread.wait
-- would allow only its parent), through a semaphore the task posts.
---------------------------------------------------------------------------

local function finish(task, ...)
  if task.done then return end
  task.done = true
  task.results = { n = select("#", ...), ... }
  if task.sema and task.waiters > 0 then task.sema:post(task.waiters) end
end

local function run(task, fn, ...)
  finish(task, pcall(fn, ...))
end

function transport:spawn(fn, ...)
  local task = { waiters = 0, parent = coroutine.running() }
  self.tasks[task] = true
  local co, err = spawn(run, task, fn, ...)
  if not co then finish(task, false, "atlasrestore: ngx.thread.spawn failed: " .. tostring(err)) end
  task.co = co
  return task
end

function transport.wait(_, task)
  while not task.done do
    local status = task.co and coroutine.status(task.co)
    if status == "dead" or status == "zombie" then
      finish(task, false, "atlasrestore: the task's light thread was killed")
    else
      task.sema = task.sema or semaphore.new()
      task.waiters = task.waiters + 1
      task.sema:wait(WAIT_SLICE)
      task.waiters = task.waiters - 1
    end
  end
  return unpack(task.results, 1, task.results.n)
end

function transport:cancel(task)
  self.tasks[task] = nil
  if task.done then return end
  -- Only the thread that spawned a task may kill it; another's runs on, unheard.
  if task.co and task.parent == coroutine.running() then kill(task.co) end
  finish(task, false, "cancelled")
end

function transport.now() return now() end

---------------------------------------------------------------------------
-- Pacing: a response's CPU work (decoding a page, shaping its jobs) waits in
-- no socket, so a worker that ran every page that arrived in one turn of its
-- event loop would keep every other request of the worker waiting that long.
-- A turn runs at most TURN_BUDGET seconds of it (at least one piece); the rest
-- waits for the next turn, which a zero-delay timer marks: timers expire after
-- the turn's I/O events, so the worker's other requests move in between.
---------------------------------------------------------------------------

local TURN_BUDGET = 0.001
local pacer = { spent = 0, ticking = false } -- the worker's, shared by every client

local function next_turn()
  pacer.ticking, pacer.spent = false, 0
  -- count() is minus the threads waiting: the semaphore forgets one whose request ended.
  local waiting = -pacer.sema:count()
  if waiting > 0 then pacer.sema:post(waiting) end
end

-- Waits until this turn of the event loop has budget left. Without a timer
-- (the worker exits, or lua_max_pending_timers is reached), the work runs now;
-- so it does when no turn came within WAIT_SLICE (a timer accepted but not run,
-- as past lua_max_running_timers) or when this phase cannot wait: the next
-- piece of work sets a timer of its own.
local function turn_with_budget()
  while pacer.spent >= TURN_BUDGET do
    pacer.sema = pacer.sema or semaphore.new()
    if not pacer.ticking then
      pacer.ticking = timer_at(0, next_turn) ~= nil
      if not pacer.ticking then return end
    end
    if not pacer.sema:wait(WAIT_SLICE) then
      pacer.ticking, pacer.spent = false, 0
      return
    end
  end
end

local function spent_since(t0, ...)
  pacer.spent = pacer.spent + clock() - t0
  return ...
end

--- See transport/contract.lua: fn(...) in a turn of the worker's event loop that has budget left.
function transport.pace(_, fn, ...)
  turn_with_budget()
  return spent_since(clock(), fn(...))
end

-- ngx.sleep counts whole milliseconds: less than one would be ngx.sleep(0), which
-- logs a warning in an nginx without the delayed-events patch (Debian's).
local MIN_SLEEP = 0.001

function transport.sleep(_, seconds)
  if seconds > 0 and seconds == seconds then sleep(math.max(MIN_SLEEP, seconds)) end
end

--- Stops what the client still runs; the pool belongs to the worker and stays.
function transport:close()
  for task in pairs(self.tasks) do self:cancel(task) end
end

function transport.new()
  return setmetatable({ tasks = setmetatable({}, { __mode = "k" }) }, transport)
end

return transport
