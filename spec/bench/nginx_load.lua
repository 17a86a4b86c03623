--- spec/bench/nginx.lua's load: `lua5.4 spec/bench/nginx_load.lua PORT PATH N` sends N
-- GETs of PATH at once, each on a connection of its own, reads every answer and
-- prints "listed=L failed=F seconds=S" (L: answers with {"count": ...}).
package.path = "./lua/?.lua;./lua/?/init.lua;./spec/?.lua;" .. package.path
local socket = require "socket"
local nginx_host = require "support.nginx_host"

local port, path, n = tonumber(arg[1]), arg[2], tonumber(arg[3])
local TIMEOUT = 110

local requests, started = {}, socket.gettime()
for i = 1, n do requests[i] = { path = path } end
local listed = 0
for _, answer in ipairs(nginx_host.at(port):burst(requests, TIMEOUT)) do
  if (answer.body or ""):find('"count":%d+') then listed = listed + 1 end
end
print(("listed=%d failed=%d seconds=%.2f"):format(listed, n - listed, socket.gettime() - started))
