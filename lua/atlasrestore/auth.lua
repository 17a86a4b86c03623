--- Credentials: HTTP Digest state (nonce re-use with a counting nc) and the
-- service-account token cache. Sans-IO: the client does the requests.
local core = require "atlasrestore.core"
local redact = require "atlasrestore.redact"

local auth = {}

-- The Digest algorithms this client answers (RFC 7616 3.2), by strength.
local STRENGTH = { ["SHA-256"] = 4, ["SHA-256-SESS"] = 3, MD5 = 2, ["MD5-SESS"] = 1 }

-- The qop to answer with: "auth" when offered, nil for a challenge without
-- qop (RFC 2069), false when only qops other than auth are offered.
local function pick_qop(challenge)
  if not challenge.qop then return nil end
  for token in challenge.qop:gmatch("[^,%s]+") do
    if token == "auth" then return "auth" end
  end
  return false
end

-- How strong a challenge is, or nil when this client cannot answer it.
local function strength(challenge)
  if pick_qop(challenge) == false then return nil end
  return STRENGTH[(challenge.algorithm or "MD5"):upper()]
end

--- Picks from the `www-authenticate` list (the response headers' list of
-- values) the strongest Digest challenge this client can answer: SHA-256,
-- SHA-256-sess, MD5, then MD5-sess, each with qop auth when it offers a qop;
-- the first one offered among equals. Returns the challenge (lowercase keys:
-- realm, nonce, algorithm, qop, opaque, stale, domain...), nil when there is
-- none to answer, or nil, "BAD_RESPONSE", message when a Digest challenge (or
-- the header around it) is malformed.
function auth.parse_digest_challenge(values)
  if values == nil then return nil end
  local challenges, code, message = core.parse_digest_challenges(values)
  if not challenges then return nil, code, message end
  local best, best_strength
  for _, challenge in ipairs(challenges) do
    local s = strength(challenge)
    if s and (not best or s > best_strength) then best, best_strength = challenge, s end
  end
  return best
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
  if not strength(challenge) then return false end
  self.challenge = challenge
  self.qop = pick_qop(challenge)
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
