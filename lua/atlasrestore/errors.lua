--- Error values: tables with `errorCode`, `kind`, `status`, Atlas's own fields, and a
-- one-line `tostring` that never carries a secret; and misuse, raised at the caller's line.
local errors = {}

--- The module's own codes. Atlas's codes and OAuth `error` strings pass through as they are.
errors.INVALID_ARGUMENT = "INVALID_ARGUMENT"
errors.CONNECT_FAILED = "CONNECT_FAILED"
errors.TIMEOUT = "TIMEOUT"
errors.TLS_FAILED = "TLS_FAILED"
errors.NETWORK_ERROR = "NETWORK_ERROR"
errors.BAD_RESPONSE = "BAD_RESPONSE"
errors.RESPONSE_TOO_LARGE = "RESPONSE_TOO_LARGE"
errors.TOO_MANY_PAGES = "TOO_MANY_PAGES"
errors.WAIT_TIMEOUT = "WAIT_TIMEOUT"

-- The codes a transport may fail with (the transport contract's list).
errors.TRANSPORT_CODES = { "CONNECT_FAILED", "TIMEOUT", "TLS_FAILED", "NETWORK_ERROR", "RESPONSE_TOO_LARGE",
  "BAD_RESPONSE" }

local KIND_OF_CODE = {
  INVALID_ARGUMENT = "invalid_argument",
  CONNECT_FAILED = "network", TIMEOUT = "network", TLS_FAILED = "network", NETWORK_ERROR = "network",
  BAD_RESPONSE = "bad_response", RESPONSE_TOO_LARGE = "bad_response", TOO_MANY_PAGES = "bad_response",
  WAIT_TIMEOUT = "timeout",
  -- RFC 6749's token-endpoint errors: every one means the credentials or the grant.
  invalid_client = "auth", invalid_grant = "auth", unauthorized_client = "auth", access_denied = "auth",
  invalid_request = "auth", invalid_scope = "auth", unsupported_grant_type = "auth",
}

--- The stable category of an error, the one a script branches on (docs/api.md's table of categories).
local function kind_of(code, status)
  local kind = KIND_OF_CODE[code]
  if kind then return kind end
  if type(code) == "string" and code:match("_NOT_FOUND$") then return "not_found" end
  if status == 401 or status == 403 then return "auth" end
  if status == 404 then return "not_found" end
  if status == 429 then return "rate_limited" end
  if type(status) == "number" and status >= 500 then return "server" end
  return "refused"
end

local Error = { __name = "atlasrestore.Error" }
Error.__index = Error

function Error:__tostring()
  local line = (self.where and self.where .. ": " or "") .. "atlasrestore: " .. tostring(self.errorCode)
  if self.status then line = line .. " (HTTP " .. tostring(self.status) .. ")" end
  local text = self.detail or self.message or self.reason
  if text then line = line .. ": " .. tostring(text) end
  if self.hint then line = line .. " (" .. tostring(self.hint) .. ")" end
  if (self.attempts or 1) > 1 then line = line .. " [after " .. self.attempts .. " attempts]" end
  return (line:gsub("[\r\n]+", " "))
end

--- Builds an error. `fields` may hold status, message, detail, reason, parameters, badRequestDetail.
function errors.new(code, fields)
  local err = fields or {}
  err.errorCode = code
  err.kind = kind_of(code, err.status)
  return setmetatable(err, Error)
end

--- A copy of an error under another code or with other fields, its kind recomputed.
function errors.copy(err, overrides)
  local fields = {}
  for k, v in pairs(err) do fields[k] = v end
  for k, v in pairs(overrides or {}) do fields[k] = v end
  return errors.new(fields.errorCode, fields)
end

function errors.is(value) return getmetatable(value) == Error end

--- Shorthand for INVALID_ARGUMENT, the only error a caller can fix by changing
-- arguments. Nothing was sent, so no attempt was made.
function errors.invalid(message)
  return errors.new(errors.INVALID_ARGUMENT, { message = message, attempts = 0 })
end

-- Misuse is reported at the first frame outside this package, so that the
-- message points at the caller's line whichever helper found the mistake.
local OWN_DIR = debug.getinfo(1, "S").source:match("^@(.*[/\\])")

local function caller_level()
  if not OWN_DIR then return 3 end
  local level = 3 -- 1 is errors.misuse, 2 the module function that called it
  while true do
    local info = debug.getinfo(level, "S")
    if not info then return 1 end
    local source = info.source
    local own = source:sub(1, #OWN_DIR + 1) == "@" .. OWN_DIR or source == "=(tail call)"
    if not own then return level - 1 end
    level = level + 1
  end
end

--- Raises a misuse error ("bad argument #n to 'f' (...)") at the caller's line.
function errors.misuse(fmt, ...)
  error(fmt:format(...), caller_level())
end

--- Raises the error value `err` from the caller's line, as misuse is: `err.where`
-- becomes that line ("file:line"), which tostring(err) then begins with.
function errors.raise(err)
  local info = debug.getinfo(caller_level(), "Sl")
  if info and info.currentline and info.currentline > 0 then
    err.where = info.short_src .. ":" .. info.currentline
  end
  error(err, 0)
end

--- The standard message for a wrong type: argn, function name, what, expected, value.
function errors.bad_type(fname, argn, expected, value, field)
  errors.misuse("bad argument #%d to '%s' (%s%s expected, got %s)", argn, fname,
    field and field .. ": " or "", expected, type(value))
end

return errors
