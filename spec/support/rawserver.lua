-- A few lines of lua-socket standing in for what nginx cannot do: a TCP
-- reset, a lying Content-Length, a redirect. It runs in a child lua5.4 process,
-- on loopback, and exits by itself after 30 s at most.
local socket = require "socket"
local emulator = require "support.emulator"

local rawserver = {}

local SERVER = [==[
local socket = require "socket"
local port, mode, target = tonumber(arg[1]), arg[2], arg[3]
local server = assert(socket.bind("127.0.0.1", port))
server:settimeout(0.5)
local stop_at = socket.gettime() + 30
while socket.gettime() < stop_at do
  local c = server:accept()
  if c then
    c:settimeout(2)
    repeat local line = c:receive("*l") until not line or line == ""
    if mode == "reset" then
      c:setoption("linger", { on = true, timeout = 0 }) -- close() then sends RST
    elseif mode == "huge" then
      c:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 536870912\r\n\r\n{\"results\":[")
      socket.sleep(1)
    elseif mode == "redirect" then
      c:send("HTTP/1.1 302 Found\r\nLocation: " .. target .. "/elsewhere\r\nContent-Length: 0\r\n\r\n")
    end
    c:close()
  end
end
]==]

function rawserver.start(mode, target)
  local probe = assert(socket.bind("127.0.0.1", 0))
  local _, port = probe:getsockname()
  probe:close()
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(SERVER)
  f:close()
  local cmd = ("lua5.4 %s %d %s %s >/dev/null 2>&1 & echo $!"):format(path, port, mode, target or "-")
  local pipe = assert(io.popen(emulator.clean_env(cmd)))
  local pid = tonumber(pipe:read("l"))
  pipe:close()
  local deadline = socket.gettime() + 5
  repeat
    local c = socket.connect("127.0.0.1", port)
    if c then c:close() break end
    socket.sleep(0.05)
  until socket.gettime() > deadline
  return {
    base_url = "http://127.0.0.1:" .. port,
    stop = function()
      os.execute(emulator.clean_env("kill " .. pid .. " 2>/dev/null"))
      os.remove(path)
    end,
  }
end

return rawserver
