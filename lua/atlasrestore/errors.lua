--- Error values: tables with `errorCode`, `status`, Atlas's own fields, and a
-- one-line `tostring` that never carries a secret.
local errors = {}

--- The module's own codes. Atlas's codes and OAuth `error` strings pass through as they are.
errors.INVALID_ARGUMENT = "INVALID_ARGUMENT"
errors.CONNECT_FAILED = "CONNECT_FAILED"
errors.TIMEOUT = "TIMEOUT"
errors.TLS_FAILED = "TLS_FAILED"
errors.NETWORK_ERROR = "NETWORK_ERROR"
errors.BAD_RESPONSE = "BAD_RESPONSE"
errors.RESPONSE_TOO_LARGE = "RESPONSE_TOO_LARGE"

local Error = { __name = "atlasrestore.Error" }
Error.__index = Error

function Error:__tostring()
  local line = "atlasrestore: " .. tostring(self.errorCode)
  if self.status then line = line .. " (HTTP " .. tostring(self.status) .. ")" end
  local text = self.detail or self.message or self.reason
  if text then line = line .. ": " .. tostring(text) end
  if (self.attempts or 1) > 1 then line = line .. " [after " .. self.attempts .. " attempts]" end
  return (line:gsub("[\r\n]+", " "))
end

--- Builds an error. `fields` may hold status, message, detail, reason, parameters, badRequestDetail.
function errors.new(code, fields)
  local err = fields or {}
  err.errorCode = code
  return setmetatable(err, Error)
end

--- Shorthand for INVALID_ARGUMENT, the only error a caller can fix by changing
-- arguments. Nothing was sent, so no attempt was made.
function errors.invalid(message)
  return errors.new(errors.INVALID_ARGUMENT, { message = message, attempts = 0 })
end

return errors
