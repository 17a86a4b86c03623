--- The request a transport is handed (transport/contract.lua), built once per
-- send: its target already parsed, its header lines already checked and in order.
local request = {}

--- The target of a checked base URL's parts (options.lua parses it once per
-- client): scheme, host (lower case), port, authority (for Host), base path.
function request.base(scheme, authority, path)
  local host, port = authority:match("^(%[[%x:.]+%]):?(%d*)$")
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  local tls = scheme == "https"
  return {
    scheme = scheme, host = host:lower(), port = tonumber(port) or (tls and 443 or 80), authority = authority,
    path = path, server_name = tls and host:lower() or nil,
  }
end

-- A token (RFC 9110 5.6.2), and a value without CR, LF or NUL.
local function header_line(name, value)
  if type(name) ~= "string" or not name:find("^[%w!#$%%&'*+%-.^_`|~]+$") or type(value) ~= "string"
    or value:find("[%z\r\n]") then
    -- Every header is the module's own; a server's bytes were checked before they got here.
    error(("atlasrestore: header %s is not a token with a value free of CR, LF and NUL"):format(tostring(name)), 0)
  end
  return name .. ": " .. value
end

--- The request for `method` on `path` (path and query, relative to the base).
-- headers: { [Name] = value }; limits: timeout, connect_timeout, stall_timeout, max_body.
function request.new(base, method, path, headers, body, limits)
  local lines = {}
  for name, value in pairs(headers) do lines[#lines + 1] = header_line(name, value) end
  table.sort(lines) -- a stable order keeps requests reproducible
  local target = {
    scheme = base.scheme, host = base.host, port = base.port, authority = base.authority,
    server_name = base.server_name, path = base.path .. path,
  }
  return {
    method = method, target = target, url = ("%s://%s%s"):format(base.scheme, base.authority, target.path),
    headers = lines, body = body, timeout = limits.timeout, connect_timeout = limits.connect_timeout,
    stall_timeout = limits.stall_timeout, max_body = limits.max_body,
  }
end

return request
