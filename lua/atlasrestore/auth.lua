--- Credentials: HTTP Digest state (nonce re-use with a counting nc) and the
-- service-account token cache. Sans-IO: the client does the requests.
local core = require "atlasrestore.core"
local redact = require "atlasrestore.redact"

local auth = {}

--- Parses `WWW-Authenticate: Digest k=v, k="v", ...` into a table, or nil.
function auth.parse_digest_challenge(header)
  if type(header) ~= "string" then return nil end
  local rest = header:match("[Dd][Ii][Gg][Ee][Ss][Tt]%s+(.*)$")
  if not rest then return nil end
  local params, pos = {}, 1
  while pos <= #rest do
    local key, after = rest:match("^[%s,]*([%w%-_]+)%s*=%s*()", pos)
    if not key then break end
    local value
    if rest:sub(after, after) == '"' then
      local buf, i = {}, after + 1
      while i <= #rest do
        local c = rest:sub(i, i)
        if c == "\\" then
          buf[#buf + 1] = rest:sub(i + 1, i + 1)
          i = i + 2
        elseif c == '"' then
          break
        else
          buf[#buf + 1] = c
          i = i + 1
        end
      end
      value, pos = table.concat(buf), i + 1
    else
      value, pos = rest:match("^([^,%s]*)()", after)
    end
    params[key:lower()] = value
  end
  if not params.nonce or not params.realm then return nil end
  return params
end

local Digest = {}
Digest.__index = Digest

--- `random_hex(n)` supplies client nonces.
function auth.digest(username, password, random_hex)
  return setmetatable({ username = username, password = password, random_hex = random_hex }, Digest)
end

--- Adopts a server challenge; the next request uses it with nc = 1.
-- Returns true when the challenge can be answered.
function Digest:accept(challenge)
  local algorithm = (challenge.algorithm or "MD5"):upper()
  if algorithm ~= "MD5" and algorithm ~= "MD5-SESS" then return false end
  local qop
  if challenge.qop then
    for token in challenge.qop:gmatch("[^,%s]+") do
      if token == "auth" then qop = "auth" end
    end
    if not qop then return false end
  end
  self.challenge = challenge
  self.qop = qop
  self.nc = 0
  self.cnonce = self.random_hex(16)
  return true
end

--- The Authorization value for the next request, or nil before any challenge.
function Digest:authorization(method, uri)
  local ch = self.challenge
  if not ch then return nil end
  self.nc = self.nc + 1
  return core.digest_authorization {
    username = self.username, password = self.password, realm = ch.realm, nonce = ch.nonce,
    method = method, uri = uri, qop = self.qop, nc = self.nc, cnonce = self.cnonce,
    algorithm = ch.algorithm, opaque = ch.opaque,
  }
end

local TokenCache = {}
TokenCache.__index = TokenCache

--- A service-account token, fetched once and re-used until shortly before it expires.
function auth.token_cache(client_id, client_secret)
  return setmetatable({ client_id = client_id, client_secret = client_secret }, TokenCache)
end

function TokenCache:basic()
  return "Basic " .. redact.base64(self.client_id .. ":" .. self.client_secret)
end

--- The cached token if it is still fresh at `now` (monotonic seconds).
function TokenCache:current(now)
  if self.token and now < self.refresh_at then return self.token end
  return nil
end

function TokenCache:store(token, expires_in, now)
  -- A lifetime of 0 (or less) would mean a token request before every request.
  expires_in = math.max(1, expires_in)
  -- Renew a minute early, or a tenth of the lifetime for short-lived tokens,
  -- so that a token never expires in the middle of a listing.
  local margin = math.min(60, expires_in / 10)
  self.token, self.refresh_at = token, now + expires_in - margin
  self.fetched_at, self.lifetime = now, expires_in
end

--- Seconds since the current token was fetched.
function TokenCache:age(now)
  return now - (self.fetched_at or now)
end

function TokenCache:forget()
  local token = self.token
  self.token = nil
  return token
end

return auth
