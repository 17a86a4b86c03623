--- The blocking transport, on libcurl: for scripts, cron jobs and the command
-- line. Each client owns one session, so connections are re-used.
local curl = require "atlasrestore.curl"

local transport = { version = "libcurl/" .. curl.version() }
transport.__index = transport

--- opts: ca_file, proxy (nil lets libcurl read https_proxy/no_proxy).
function transport.new(opts)
  return setmetatable({ session = curl.session(), ca_file = opts.ca_file, proxy = opts.proxy }, transport)
end

--- req: method, url, headers ({name = value}), body, timeout, connect_timeout,
-- stall_timeout, max_body. Returns {status, headers, body, elapsed} or
-- nil, code, message, status (nil when no response came), elapsed.
-- headers: lowercase names, repeated fields joined with ", ", except
-- www-authenticate: always a list of strings, one per field.
function transport:request(req)
  local lines = {}
  for name, value in pairs(req.headers) do lines[#lines + 1] = name .. ": " .. value end
  table.sort(lines) -- a stable order keeps requests reproducible
  local status, headers, body, elapsed, failed_elapsed = self.session:request {
    method = req.method, url = req.url, headers = lines, body = req.body,
    timeout = req.timeout, connect_timeout = req.connect_timeout,
    -- Stall detection: under 64 bytes a second for stall_timeout seconds is dead.
    low_speed_time = req.stall_timeout, low_speed_limit = 64,
    max_body = req.max_body, ca_file = self.ca_file, proxy = self.proxy,
  }
  if not status then return nil, headers, body, elapsed, failed_elapsed end
  return { status = status, headers = headers, body = body, elapsed = elapsed }
end

--- Monotonic seconds, for deadlines and the token cache.
function transport.now(_) return curl.now() end

function transport.sleep(_, seconds) curl.sleep(seconds) end

function transport:close()
  self.session:close()
end

return transport
