-- A few lines of lua-socket standing in for what nginx cannot do: a TCP
-- reset, a lying Content-Length, a redirect, bytes after a complete response,
-- a giant header, a gzip bomb. It runs in a child lua5.4 process, on loopback,
-- and exits by itself after 30 s at most. Connections are served at once, one
-- coroutine each, and every connection and request is written to a log that
-- stats() reads.
--
--   local server = rawserver.start(mode, param) -- server.base_url, server:stats(), server:stop()
--
-- Modes ([param]):
--   reset        answers with a TCP reset
--   huge         promises 512 MB, sends a few bytes, waits 1 s
--   not_http     answers with bytes that are not an HTTP response
--   redirect     302 to [target]/elsewhere
--   stray        [status] (503 with Retry-After: 1, 304 or 204) on the first
--                connection, kept alive, then ~0.2 s later an unsolicited
--                200 listing STRAY_JOB; later connections list REAL_JOBS
--   big_header   a 200 with one header of [bytes] bytes
--   gzip_bomb    a 200 whose gzip body inflates to [bytes] zero bytes
--   jobs         REAL_JOBS on keep-alive connections; a path with /slow/ waits [seconds] first
--   hostile      the answer rawserver.HOSTILE names [name] (see there), to every request
-- stats(): { connections = n, requests = n, per_connection = { [conn] = requests } }
local socket = require "socket"
local emulator = require "support.emulator"

local rawserver = {}

rawserver.REAL_JOBS = { "5f00000000000000000000a1", "5f00000000000000000000a2", "5f00000000000000000000a3" }
rawserver.STRAY_JOB = "5f00000000000000000000ff"

local SERVER = [==[
local socket = require "socket"
local port, mode, param, log_path, real, stray = tonumber(arg[1]), arg[2], arg[3], arg[4], arg[5], arg[6]
local server = assert(socket.bind("127.0.0.1", port))
server:settimeout(0)
local log = assert(io.open(log_path, "a"))
log:setvbuf("no")
log:write("ready\n")

-- Cooperative tasks: a task yields ("read", sock), ("write", sock) or ("sleep", until).
local tasks = {}
local function wait(kind, what) coroutine.yield(kind, what) end
local function sleep(seconds) wait("sleep", socket.gettime() + seconds) end

local function receive_line(c)
  local acc = ""
  while true do
    local line, err, partial = c:receive("*l", acc)
    if line then return line end
    if err ~= "timeout" then return nil end
    acc = partial
    wait("read", c)
  end
end

local function send(c, data)
  local i = 1
  while i <= #data do
    local last, err, partial = c:send(data, i)
    if last then return true end
    if err ~= "timeout" then return false end
    i = partial + 1
    wait("write", c)
  end
  return true
end

-- Reads one request head; returns its request line, or nil when the peer is gone.
local function request(c, n)
  local first = receive_line(c)
  if not first then return nil end
  log:write("request ", n, " ", first, "\n")
  repeat local line = receive_line(c) until not line or line == ""
  return first
end

local function jobs_body(ids)
  local results = {}
  for id in ids:gmatch("[^,]+") do
    results[#results + 1] = ('{"id":"%s","deliveryType":"automated","targetClusterName":"c"}'):format(id)
  end
  return '{"links":[],"results":[' .. table.concat(results, ",") .. ']}'
end

local function response(status, headers, body)
  local lines = { "HTTP/1.1 " .. status }
  for _, h in ipairs(headers) do lines[#lines + 1] = h end
  if body then lines[#lines + 1] = "Content-Length: " .. #body end
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")
end

local function serve_jobs(c, n, delay)
  while true do
    local line = request(c, n)
    if not line then return end
    if delay and line:find("/slow/", 1, true) then sleep(delay) end
    if not send(c, response("200 OK", { "Content-Type: application/json", "Connection: keep-alive" },
      jobs_body(real))) then return end
  end
end

local FIRST = {
  ["503"] = response("503 Service Unavailable", { "Retry-After: 1", "Connection: keep-alive",
    "Content-Type: application/json" }, '{"error":503,"errorCode":"SERVICE_UNAVAILABLE"}'),
  ["304"] = response("304 Not Modified", { "Connection: keep-alive" }),
  ["204"] = response("204 No Content", { "Connection: keep-alive" }),
}

-- Hostile answers, by name: a function of the connection, after the request was read,
-- that returns true to read and answer the next request on the same connection.
local function chunked_head(extra)
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n" .. (extra or "")
    .. "\r\n"
end
local function trickle(c, bytes)
  -- A byte every 0.2 s, for at most 5 s: a line that never ends in time.
  for i = 1, 25 do
    if not send(c, bytes:sub(i, i) ~= "" and bytes:sub(i, i) or "x") then return end
    sleep(0.2)
  end
end
local JOBS = jobs_body(real)
local HOSTILE = {
  -- A 503 ended by bare LFs, then in the same write a 200 with a job the server never meant for this request.
  two_heads = function(c)
    send(c, "HTTP/1.1 503 Service Unavailable\nRetry-After: 1\n\n" .. response("200 OK",
      { "Content-Type: application/json" }, jobs_body(stray)))
  end,
  bare_lf = function(c)
    return send(c, ("HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: %d\n\n"):format(#JOBS) .. JOBS)
  end,
  bare_lf_chunked = function(c)
    return send(c, "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
      .. ("%x\n%s\n0\n\n"):format(#JOBS, JOBS))
  end,
  xchunked = function(c)
    send(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n" .. ("%x\r\n%s\r\n0\r\n\r\n"):format(#JOBS, JOBS))
  end,
  padded = function(c)
    return send(c, chunked_head() .. ("%016x\r\n%s\r\n0000000000000000\r\n\r\n"):format(#JOBS, JOBS))
  end,
  overpadded = function(c) send(c, chunked_head() .. ("%017x\r\n%s\r\n0\r\n\r\n"):format(#JOBS, JOBS)) end,
  chunk_garbage = function(c) send(c, chunked_head() .. ("%x garbage\r\n%s\r\n0\r\n\r\n"):format(#JOBS, JOBS)) end,
  last_chunk_garbage = function(c) send(c, chunked_head() .. ("%x\r\n%s\r\n0 ;=\r\n\r\n"):format(#JOBS, JOBS)) end,
  length_list = function(c)
    send(c, response("200 OK", { "Content-Type: application/json", "Content-Length: 10, 12" }, ("x"):rep(12)))
  end,
  length_sign = function(c)
    send(c, ("HTTP/1.1 200 OK\r\nContent-Length: +%d\r\n\r\n%s"):format(#JOBS, JOBS))
  end,
  -- Served again on the same connection, which the client must not re-use.
  http10 = function(c) return send(c, ("HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s"):format(#JOBS, JOBS)) end,
  http10_keep = function(c)
    return send(c, ("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: %d\r\n\r\n%s"):format(#JOBS,
      JOBS))
  end,
  chunked_and_length = function(c)
    return send(c, chunked_head("Content-Length: 3\r\n") .. ("%x\r\n%s\r\n0\r\n\r\n"):format(#JOBS, JOBS))
  end,
  slow_head = function(c) trickle(c, "HTTP/1.1 200 OK\r\nX-Slow: ") end,
  slow_chunk_size = function(c)
    if send(c, chunked_head() .. "5\r\nhello\r\n") then trickle(c, "0000000000000000") end
  end,
}

local MODES = {
  reset = function(c, n)
    request(c, n)
    c:setoption("linger", { on = true, timeout = 0 }) -- close() then sends RST
  end,
  huge = function(c, n)
    request(c, n)
    send(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 536870912\r\n\r\n{\"results\":[")
    sleep(1)
  end,
  not_http = function(c, n)
    request(c, n)
    send(c, "SSH-2.0-OpenSSH_9.2\r\nno status line here\r\n\r\n")
    sleep(0.2)
  end,
  redirect = function(c, n)
    request(c, n)
    send(c, "HTTP/1.1 302 Found\r\nLocation: " .. param .. "/elsewhere\r\nContent-Length: 0\r\n\r\n")
  end,
  stray = function(c, n)
    if n > 1 then return serve_jobs(c, n) end
    if not request(c, n) then return end
    send(c, FIRST[param])
    sleep(0.2)
    send(c, response("200 OK", { "Content-Type: application/json" }, jobs_body(stray)))
    -- Kept open and never answered again, until the client closes it.
    repeat
      local _, err = c:receive(1)
      if err == "timeout" then wait("read", c) end
    until err and err ~= "timeout"
  end,
  big_header = function(c, n)
    request(c, n)
    send(c, "HTTP/1.1 200 OK\r\nX-Big: " .. ("a"):rep(tonumber(param)) .. "\r\nContent-Length: 2\r\n\r\n{}")
  end,
  gzip_bomb = function(c, n)
    request(c, n)
    local pipe = assert(io.popen(("head -c %d /dev/zero | gzip -c"):format(tonumber(param))))
    local body = pipe:read("*a")
    pipe:close()
    send(c, response("200 OK", { "Content-Type: application/json", "Content-Encoding: gzip" }, body))
  end,
  jobs = function(c, n) serve_jobs(c, n, tonumber(param)) end,
  hostile = function(c, n)
    repeat
      if not request(c, n) then return end
    until not HOSTILE[param](c)
    sleep(0.2) -- the client reads to the close, or closes first
  end,
}

local connections = 0
local stop_at = socket.gettime() + 30
while socket.gettime() < stop_at do
  local reads, writes, soonest = { server }, {}, socket.gettime() + 0.05
  for _, t in ipairs(tasks) do
    if t.kind == "read" then reads[#reads + 1] = t.what
    elseif t.kind == "write" then writes[#writes + 1] = t.what
    elseif t.what < soonest then soonest = t.what end
  end
  local readable, writable = socket.select(reads, writes, math.max(0, soonest - socket.gettime()))
  repeat
    local c = server:accept()
    if c then
      connections = connections + 1
      log:write("connection ", connections, "\n")
      c:settimeout(0)
      local n = connections
      local co = coroutine.create(function() MODES[mode](c, n); c:close() end)
      tasks[#tasks + 1] = { co = co, kind = "sleep", what = 0 }
    end
  until not c
  local now = socket.gettime()
  for i = #tasks, 1, -1 do
    local t = tasks[i]
    if (t.kind == "read" and readable[t.what]) or (t.kind == "write" and writable[t.what])
      or (t.kind == "sleep" and now >= t.what) then
      local ok, kind, what = coroutine.resume(t.co)
      if not ok then io.stderr:write(tostring(kind), "\n") end
      if coroutine.status(t.co) == "dead" then table.remove(tasks, i) else t.kind, t.what = kind, what end
    end
  end
end
]==]

function rawserver.start(mode, param)
  local port = emulator.free_ports(1)
  local path, log_path = os.tmpname(), os.tmpname()
  emulator.write_file(path, SERVER)
  local cmd = ("lua5.4 %s %d %s %s %s %s %s >/dev/null 2>&1 & echo $!"):format(path, port, mode,
    emulator.sh_quote(param or "-"), log_path, table.concat(rawserver.REAL_JOBS, ","), rawserver.STRAY_JOB)
  local pipe = assert(io.popen(emulator.clean_env(cmd)))
  local pid = tonumber(pipe:read("*l"))
  pipe:close()
  local log = assert(io.open(log_path, "r"))
  local deadline = socket.gettime() + 5
  while log:read("*l") ~= "ready" and socket.gettime() < deadline do
    log:seek("set")
    socket.sleep(0.02)
  end
  return {
    base_url = "http://127.0.0.1:" .. port,
    stats = function()
      local stats = { connections = 0, requests = 0, per_connection = {} }
      log:seek("set")
      for line in log:lines() do
        local kind, n = line:match("^(%a+) (%d+)")
        if kind == "connection" then
          stats.connections = stats.connections + 1
        elseif kind == "request" then
          stats.requests = stats.requests + 1
          stats.per_connection[tonumber(n)] = (stats.per_connection[tonumber(n)] or 0) + 1
        end
      end
      return stats
    end,
    stop = function()
      os.execute(emulator.clean_env("kill " .. pid .. " 2>/dev/null"))
      log:close()
      os.remove(path)
      os.remove(log_path)
    end,
  }
end

return rawserver
