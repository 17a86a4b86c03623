--- spec/bench/nginx.lua's load: `lua5.4 spec/bench/nginx_load.lua PORT PATH N` sends N
-- GETs of PATH at once, each on a connection of its own, reads every answer and
-- prints "listed=L failed=F seconds=S" (L: answers with {"count": ...}).
local socket = require "socket"

local port, path, n = tonumber(arg[1]), arg[2], tonumber(arg[3])
local TIMEOUT = 110

local conns, started = {}, socket.gettime()
for i = 1, n do
  local c = socket.tcp()
  c:settimeout(5)
  assert(c:connect("127.0.0.1", port))
  assert(c:send("GET " .. path .. " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"))
  c:settimeout(0)
  conns[i] = { sock = c, parts = {} }
end
local open, deadline = n, started + TIMEOUT
while open > 0 and socket.gettime() < deadline do
  local socks = {}
  for _, conn in ipairs(conns) do if not conn.done then socks[#socks + 1] = conn.sock end end
  local readable = socket.select(socks, nil, 0.1)
  for _, conn in ipairs(conns) do
    if not conn.done and readable[conn.sock] then
      local data, err, partial = conn.sock:receive(65536)
      conn.parts[#conn.parts + 1] = data or partial
      if err == "closed" then
        conn.done, open = true, open - 1
        conn.sock:close()
      end
    end
  end
end
local listed = 0
for _, conn in ipairs(conns) do
  if not conn.done then conn.sock:close() end
  if table.concat(conn.parts):find('"count":%d+') then listed = listed + 1 end
end
print(("listed=%d failed=%d seconds=%.2f"):format(listed, n - listed, socket.gettime() - started))
