--- Credential strategies: HTTP Digest (nonce re-use with a counting nc), the
-- service-account token (one fetch shared by every request), a ready token.
-- Each one builds Authorization values and decides what a 401 means.
local core = require "atlasrestore.core"
local errors = require "atlasrestore.errors"
local response = require "atlasrestore.response"
local routes = require "atlasrestore.routes"

local auth = {}

--- Token and header values that Atlas could not have meant.
auth.MAX_TOKEN_SIZE = 16 * 1024

---------------------------------------------------------------------------
-- Digest
---------------------------------------------------------------------------

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
  local challenges, message, code = core.parse_digest_challenges(values)
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

---------------------------------------------------------------------------
-- The service-account token cache
---------------------------------------------------------------------------

local TokenCache = {}
TokenCache.__index = TokenCache

--- A service-account token, fetched once and re-used until shortly before it expires.
function auth.token_cache(client_id, client_secret)
  return setmetatable({ client_id = client_id, client_secret = client_secret }, TokenCache)
end

function TokenCache:basic()
  return "Basic " .. core.base64(self.client_id .. ":" .. self.client_secret)
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

-- What TokenStrategy asks of a token store: this cache (one client's), or
-- atlasrestore.tokenstore inside nginx (every client of a worker, or of all
-- workers): basic(), current(now), obtain(fetch, runner, ctx), forget_if(token),
-- refuse(now), throttled(now), accept(), revocable(revoke). `runner` is the
-- pipeline that runs the token request (its transport and settings).

--- A new token from `fetch() -> token, expires_in | nil, err`, kept: token, or nil, err.
function TokenCache:obtain(fetch, runner)
  local now = runner.transport:now()
  local token, expires_in = fetch()
  if not token then return nil, expires_in end
  self:store(token, expires_in, now)
  return token
end

--- Forgets `token` if it is still the one kept: another request may have renewed it already.
function TokenCache:forget_if(token)
  if self.token == token then self:forget() end
end

--- A renewed token was refused too: the account itself is refused.
function TokenCache:refuse() self.refused = true end

--- True while renewing waits after a refused renewal: a twelfth of a token's lifetime.
function TokenCache:throttled(now)
  return self.refused and self:age(now) < self.lifetime / 12 or false
end

function TokenCache:accept() self.refused = false end

--- The token close() revokes: the one this client fetched, if any (its own, so always).
function TokenCache:revocable() return self.token end

---------------------------------------------------------------------------
-- Strategies. A strategy never sends anything itself: it turns a request into
-- an Authorization value, says what a 401 means, and describes the requests
-- that fetch and revoke tokens, which the pipeline runs on its behalf (same
-- transport, scrubber, deadline and retry rules as any request). Each has:
--   label, secrets (for the scrubber)
--   authorize(method, uri, now) -> value, proof | nil (none yet) | nil, err |
--     false (a token is needed first: see obtain). `proof`: a secret the value
--     carries, which the scrubber must learn (a Digest response hash).
--   refused(res, exchange, now) -> "challenge" (send again: a new challenge
--     was adopted) | "renew" (send again with a new token) | false (give up) |
--     nil, err. `exchange` is a table that lives for one authenticated exchange.
--   accepted() after any answer but a 401
-- and, for strategies that fetch tokens:
--   token_request(user_agent) -> { method, path, headers, body }
--   token_answer(res) -> token, expires_in | nil, err (the answer checked before any of it is used)
--   obtain(fetch, runner, ctx) -> "Bearer ..." | nil, err, fetch() running token_request
--   retiring() -> the token replaced by the next fetch, to revoke before it is forgotten, and why
--   revocable(revoke) -> the token close() revokes, or nil (revoke: also a token that other clients share)
--   revocation(token, user_agent) -> { method, path, headers, body }; revoked(token) once it succeeded
---------------------------------------------------------------------------

local DigestStrategy = {}
DigestStrategy.__index = DigestStrategy

function DigestStrategy:authorize(method, uri)
  local value, problem = self.digest:authorization(method, uri)
  if problem then return nil, errors.new(errors.BAD_RESPONSE, { message = "Digest challenge: " .. problem }) end
  -- The response hash proves the key: scrubbed in every form, like a token.
  return value, value and value:match('response="(%x+)"')
end

function DigestStrategy:refused(res, exchange)
  local challenge, code, message = auth.parse_digest_challenge(res.headers["www-authenticate"])
  if code then return nil, errors.new(code, { status = res.status, message = "Digest challenge: " .. message }) end
  -- Answer when we had no nonce, when ours went stale, or when a re-used one
  -- was refused; never twice for a fresh challenge (that is a wrong key).
  if challenge and (not exchange.authorization or challenge.stale == "true" or not exchange.challenged) then
    exchange.challenged = true
    return self.digest:accept(challenge) and "challenge"
  end
  return false
end

function DigestStrategy.accepted() end

local TokenStrategy = {}
TokenStrategy.__index = TokenStrategy

local function basic_headers(tokens, user_agent)
  return {
    Authorization = tokens:basic(),
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["User-Agent"] = user_agent,
  }
end

function TokenStrategy:token_request(user_agent)
  local headers = basic_headers(self.tokens, user_agent)
  headers.Accept = "application/json"
  return { method = "POST", path = routes.token(), headers = headers, body = "grant_type=client_credentials" }
end

function TokenStrategy.token_answer(_, res)
  local got, err = response.token(res.status, res.headers, res.body, auth.MAX_TOKEN_SIZE)
  if not got then return nil, err end
  return got.access_token, got.expires_in
end

--- The kept token, or false: the pipeline then obtains one.
function TokenStrategy:authorize(_, _, now)
  local token = self.tokens:current(now)
  if not token then return false end
  self.held = token
  return "Bearer " .. token
end

--- A token through the store (fetched here, or by another worker inside nginx).
function TokenStrategy:obtain(fetch, runner, ctx)
  local token, err = self.tokens:obtain(fetch, runner, ctx)
  if not token then return nil, err end
  self.held = token
  return "Bearer " .. token
end

--- The token this strategy last used, which a fetch replaces: revoked first, so
-- that no token is forgotten alive (Atlas allows 100 per account).
function TokenStrategy:retiring()
  local token, why = self.held, self.held == self.refused_token and "refused" or "renewal"
  self.held, self.refused_token = nil, nil
  return token, why
end

--- One new token and one retry per 401. When a new token is refused too, the
-- account itself is refused (an access list, a role): from then on that
-- happens at most once per twelfth of a token's lifetime, so that the
-- account's 100 live tokens are never used up and a fixed account is noticed soon.
function TokenStrategy:refused(_, exchange, now)
  local tokens = self.tokens
  if exchange.renewed then
    tokens:refuse(now)
    return false
  end
  if tokens:throttled(now) then return false end
  -- Only the request that still holds the refused token forgets it: a
  -- concurrent one may already have renewed it.
  local held = exchange.authorization and exchange.authorization:match("^Bearer (.+)$")
  if held then
    tokens:forget_if(held)
    if held == self.held then self.refused_token = held end
  end
  exchange.renewed = true
  return "renew"
end

function TokenStrategy:accepted() self.tokens:accept() end

--- A token that other clients share (inside nginx) is revoked only when
-- `revoke` is true; a client's own token always, also one just refused.
function TokenStrategy:revocable(revoke)
  return self.tokens:revocable(revoke) or (self.own and self.held) or nil
end

function TokenStrategy:revocation(token, user_agent)
  return { method = "POST", path = routes.revoke(), headers = basic_headers(self.tokens, user_agent),
    body = "token=" .. routes.url_encode(token) .. "&token_type_hint=access_token" }
end

function TokenStrategy:revoked(token)
  self.tokens:forget_if(token)
  if self.held == token then self.held = nil end
end

local StaticStrategy = {}
StaticStrategy.__index = StaticStrategy

function StaticStrategy:authorize() return "Bearer " .. self.token end

function StaticStrategy.refused() return false end

function StaticStrategy.accepted() end

--- The strategy for one kind of credentials (see options.client). `tokens`: the
-- service account's token store, by default a cache of its own (auth.token_cache).
function auth.strategy(creds, random_hex, tokens)
  if creds.public_key then
    return setmetatable({
      label = "api key " .. creds.public_key,
      secrets = { creds.private_key, creds.public_key },
      digest = auth.digest(creds.public_key, creds.private_key, random_hex),
    }, DigestStrategy)
  elseif creds.client_id then
    return setmetatable({
      label = "service account " .. creds.client_id,
      secrets = { creds.client_secret, creds.client_id },
      tokens = tokens or auth.token_cache(creds.client_id, creds.client_secret),
      own = tokens == nil,
    }, TokenStrategy)
  end
  return setmetatable({ label = "access token", secrets = { creds.access_token }, token = creds.access_token },
    StaticStrategy)
end

return auth
