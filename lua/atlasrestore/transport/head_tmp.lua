--- TEMPORARY stand-in for core.parse_head (branch c-core), removed when it lands: same API.
local M = {}

function M.parse_head(bytes)
  local status, headers = nil, {}
  for line in bytes:gmatch("([^\n]*)\n") do
    line = line:gsub("\r$", "")
    if line:match("^HTTP/") then
      local s = line:match("^HTTP/%d%.?%d? (%d%d%d)")
      if not s then return nil, "BAD_RESPONSE", "a bad status line" end
      status, headers = tonumber(s), {}
    elseif line ~= "" then
      if not status then return nil, "BAD_RESPONSE", "no status line" end
      local name, value = line:match("^([!#$%%&'*+%-.^_`|~%w]+):[ \t]*(.-)[ \t]*$")
      if not name then return nil, "BAD_RESPONSE", "a bad header line" end
      name = name:lower()
      if name == "www-authenticate" then
        headers[name] = headers[name] or {}
        table.insert(headers[name], value)
      elseif headers[name] then
        headers[name] = headers[name] .. ", " .. value
      else
        headers[name] = value
      end
    end
  end
  if not status then return nil, "BAD_RESPONSE", "no status line" end
  local n = 0
  for _ in pairs(headers) do n = n + 1 end
  if n > 256 then return nil, "RESPONSE_TOO_LARGE", "too many headers" end
  return status, headers
end

return M
