-- Authentication as Atlas does it: HTTP Digest (API keys, RFC 7616 with
-- MD5 + qop=auth), OAuth 2 client credentials (service accounts) and Bearer.
local state = require "atlasrestore_emulator.state"
local credentials = require("atlasrestore_emulator.ids").credentials

local M = {}

M.REALM = "MMS Public API"

local nonces = ngx.shared.emu_nonces
local tokens = ngx.shared.emu_tokens
local md5 = ngx.md5
local format = string.format

function M.seed_random()
  local seed = ngx.now() * 1000 + ngx.worker.pid()
  local f = io.open("/dev/urandom", "rb")
  if f then
    local b = f:read(4)
    f:close()
    if b and #b == 4 then
      local b1, b2, b3, b4 = b:byte(1, 4)
      seed = seed + ((b1 * 256 + b2) * 256 + b3) * 256 + b4
    end
  end
  math.randomseed(seed)
end

local function random_bytes(n)
  local t = {}
  for i = 1, n do t[i] = string.char(math.random(0, 255)) end
  return table.concat(t)
end

-- Atlas nonces are 32 base64 characters (so they may contain + and /).
local function new_nonce(cfg)
  local nonce = ngx.encode_base64(random_bytes(24))
  nonces:set(nonce, ngx.now(), cfg.nonce_ttl + 3600)
  return nonce
end

function M.challenge(cfg, stale)
  return string.format('Digest realm="%s", domain="", nonce="%s", algorithm=MD5, qop="auth", stale=%s',
    M.REALM, new_nonce(cfg), stale and "true" or "false")
end

-- The scheme named by the Authorization header, for the request log.
function M.scheme()
  local h = ngx.var.http_authorization
  if not h then return nil end
  local s = h:match("^%s*(%a+)")
  if not s then return nil end
  local l = s:lower()
  if l == "digest" then return "Digest" elseif l == "bearer" then return "Bearer"
  elseif l == "basic" then return "Basic" end
  return s
end

-- Parses `k=v, k="quoted \" v"` auth parameters; keys are lowercased.
local function parse_params(s)
  local t = {}
  local pos = 1
  while true do
    local k, e = s:match("^[%s,]*([%w_%-]+)%s*=%s*()", pos)
    if not k then break end
    local v
    if s:sub(e, e) == '"' then
      local buf, i = {}, e + 1
      while i <= #s do
        local c = s:sub(i, i)
        if c == "\\" then
          buf[#buf + 1] = s:sub(i + 1, i + 1); i = i + 2
        elseif c == '"' then
          break
        else
          buf[#buf + 1] = c; i = i + 1
        end
      end
      v, pos = table.concat(buf), i + 1
    else
      v, pos = s:match("^([^,%s]*)()", e)
    end
    t[k:lower()] = v
  end
  return t
end

local function check_digest(cfg, header)
  local p = parse_params(header:gsub("^%s*%a+%s*", "", 1))
  if p.username ~= credentials.public_key or p.realm ~= M.REALM or not p.nonce or not p.response then
    return false, false
  end
  if p.algorithm and p.algorithm:upper() ~= "MD5" then return false, false end
  if p.qop ~= "auth" or not p.nc or not p.cnonce then return false, false end
  if p.uri ~= ngx.var.request_uri then return false, false end
  local issued = nonces:get(p.nonce)
  if not issued then return false, false end
  local ha1 = md5(p.username .. ":" .. M.REALM .. ":" .. credentials.private_key)
  local ha2 = md5(ngx.req.get_method() .. ":" .. p.uri)
  local expect = md5(table.concat({ ha1, p.nonce, p.nc, p.cnonce, p.qop, ha2 }, ":"))
  if expect ~= p.response:lower() then return false, false end
  -- A correct answer to an outdated nonce: the client should retry with a fresh one.
  if ngx.now() - issued > cfg.nonce_ttl then return false, true end
  local nc = #p.nc <= 8 and p.nc:match("^%x+$") and tonumber(p.nc, 16)
  if not nc or nc < 1 then return false, false end
  if cfg.digest_nc_strict then
    -- Each nc above the last one seen for the nonce.
    local last = nonces:get("nc:" .. p.nonce) or 0
    if nc <= last then return false, false end
    nonces:set("nc:" .. p.nonce, nc, cfg.nonce_ttl + 3600)
    return true
  end
  -- RFC 7616 3.4: a client with requests in parallel may send its nc values
  -- out of order; each value is accepted once per nonce.
  local fresh = nonces:add(format("nc:%s:%x", p.nonce, nc), true, cfg.nonce_ttl + 3600)
  if not fresh then return false, false end
  -- Keeps the strict rule's "last nc" current, should the switch be flipped.
  if nc > (nonces:get("nc:" .. p.nonce) or 0) then nonces:set("nc:" .. p.nonce, nc, cfg.nonce_ttl + 3600) end
  return true
end

local function check_bearer(token)
  local v = token and tokens:get(token)
  if not v then return false end
  local gen, expires = v:match("^(%d+):([%d%.]+)$")
  if tonumber(gen) ~= (state.get("token_gen") or 0) then return false end
  return ngx.now() < tonumber(expires)
end

-- For API requests.  Returns true, or false and whether the nonce was stale.
function M.check(cfg)
  local h = ngx.var.http_authorization
  if not h then return false, false end
  local scheme = M.scheme()
  if scheme == "Digest" then
    return check_digest(cfg, h)
  elseif scheme == "Bearer" then
    return check_bearer(h:match("^%s*%a+%s+(%S+)%s*$")), false
  end
  return false, false
end

-- Client credentials sent with Basic auth, as the token and revoke endpoints expect.
function M.check_client()
  local h = ngx.var.http_authorization
  local b64 = h and h:match("^%s*[Bb][Aa][Ss][Ii][Cc]%s+(%S+)%s*$")
  local plain = b64 and ngx.decode_base64(b64)
  if not plain then return false end
  local id, secret = plain:match("^([^:]*):(.*)$")
  -- RFC 6749 2.3.1: both parts are form-urlencoded before Base64.
  return id ~= nil and ngx.unescape_uri(id) == credentials.client_id
    and ngx.unescape_uri(secret) == credentials.client_secret
end

--- The tokens issued and neither revoked, expired nor expired by expire_tokens.
function M.live_tokens()
  local n = 0
  local gen = state.get("token_gen") or 0
  for _, k in ipairs(tokens:get_keys(0)) do
    if check_bearer(k) then n = n + 1 end
    if tonumber((tokens:get(k) or ""):match("^(%d+)")) ~= gen then tokens:delete(k) end
  end
  return n
end

-- Returns the token, or nil when the configured max_tokens are all alive.
function M.issue_token(cfg)
  if (cfg.max_tokens or 0) > 0 and M.live_tokens() >= cfg.max_tokens then return nil end
  local token = "emu_at_" .. ngx.encode_base64(random_bytes(30)):gsub("[+/=]", { ["+"] = "-", ["/"] = "_", ["="] = "" })
  local ttl = cfg.token_ttl
  tokens:set(token, string.format("%d:%.3f", state.get("token_gen") or 0, ngx.now() + ttl), ttl + 60)
  return token
end

function M.revoke(token)
  if token then tokens:delete(token) end
end

-- Invalidates every issued token at once (tests of 401 -> new token -> retry).
function M.expire_all()
  state.incr("token_gen")
end

return M
