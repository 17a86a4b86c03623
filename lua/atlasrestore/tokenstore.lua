--- Inside nginx, the service-account token that every client of a worker uses, or
-- of every worker through a lua_shared_dict: one token request at a time under a lock
-- taken with `add`, and a refused token marked, so that only its holder replaces it.
-- It answers TokenStrategy as auth.token_cache does (see auth.lua).
local errors = require "atlasrestore.errors"

local ngx = rawget(_G, "ngx")

local tokenstore = {}

local FAILURE_TTL = 1       -- seconds every worker gets a failed token request's answer
local MAX_FAILURE_TTL = 60  -- ... or the Retry-After of that answer, up to this
local FIRST_WAIT, MAX_WAIT = 0.005, 0.05 -- seconds between looks at another worker's request
local LOCK_MARGIN = 1       -- seconds a lock outlives its holder's token request
local SEP = "\31"
local ESRCH = 3             -- kill(2): no such process (Linux and the BSDs alike)

-- Whether process `pid` still runs. A worker that nginx's master saw die is reaped at
-- once, so it leaves no zombie behind for long. Without LuaJIT's FFI it cannot be told:
-- every holder counts as alive, and its lock's expiry alone frees the lock.
local process_alive = function() return true end
do
  local has_ffi, ffi = pcall(require, "ffi")
  if has_ffi and pcall(ffi.cdef, "int kill(int pid, int sig);") then
    process_alive = function(pid)
      return ffi.C.kill(pid, 0) == 0 or ffi.errno() ~= ESRCH
    end
  end
end

-- This worker's pid; 0 where ngx has no workers (a stand-in).
local function worker_pid()
  local worker = ngx.worker
  return worker and worker.pid and worker.pid() or 0
end

---------------------------------------------------------------------------
-- What a lua_shared_dict offers (get, set, add, delete), for one worker, in a table
---------------------------------------------------------------------------

local WorkerDict = {}
WorkerDict.__index = WorkerDict

function tokenstore.worker_dict()
  return setmetatable({ values = {}, expires = {} }, WorkerDict)
end

function WorkerDict:get(key)
  local at = self.expires[key]
  if at and at <= ngx.now() then self.values[key], self.expires[key] = nil, nil end
  return self.values[key]
end

function WorkerDict:set(key, value, ttl)
  -- Refusal marks pile up as tokens are refused: the expired ones go.
  for k, at in pairs(self.expires) do
    if at <= ngx.now() then self.values[k], self.expires[k] = nil, nil end
  end
  self.values[key], self.expires[key] = value, ngx.now() + ttl
  return true
end

function WorkerDict:add(key, value, ttl)
  if self:get(key) ~= nil then return false, "exists" end
  return self:set(key, value, ttl)
end

function WorkerDict:delete(key)
  self.values[key], self.expires[key] = nil, nil
end

---------------------------------------------------------------------------
-- The store
---------------------------------------------------------------------------

local Store = {}
Store.__index = Store

--- dict: ngx.shared[name] or tokenstore.worker_dict(); key: a digest of the base URL
-- and the credentials; view: auth.token_cache(id, secret), this worker's copy of the
-- token (Basic credentials, age, lifetime); scrubber: the one of the worker's clients.
function tokenstore.new(dict, key, view, scrubber)
  return setmetatable({ dict = dict, key = key, lock = key .. ":lock", failed = key .. ":failed",
    throttle = key .. ":throttle", view = view, scrubber = scrubber }, Store)
end

local function refused_mark(self, token) return self.key .. ":refused:" .. ngx.md5(token) end

function Store:basic() return self.view:basic() end

-- Adopts the stored value "fetched_at lifetime token" as this worker's copy.
local function adopt(self, value)
  local fetched_at, lifetime, token = value:match("^(%S+) (%S+) (.+)$")
  if not token then return nil end
  self.seen, self.mark = value, refused_mark(self, token)
  local view = self.view
  view.token, view.fetched_at, view.lifetime = token, tonumber(fetched_at), tonumber(lifetime)
  return token
end

--- The token to use: nil when there is none, it is due for renewal, or it was refused.
function Store:current()
  local value = self.dict:get(self.key)
  if not value then return nil end
  if value ~= self.seen then
    if not adopt(self, value) then return nil end
    self.scrubber:add("token", self.view.token) -- fetched by another worker: hide it from now on
  end
  if self.dict:get(self.mark) then return nil end
  return self.view.token
end

local FAILURE_FIELDS = { "errorCode", "status", "message", "detail", "reason" }

local function encode_failure(err, until_at)
  local parts = { ("%.3f"):format(until_at) }
  for i, field in ipairs(FAILURE_FIELDS) do
    parts[i + 1] = err[field] == nil and "" or (tostring(err[field]):gsub(SEP, " "))
  end
  return table.concat(parts, SEP)
end

local function decode_failure(value)
  local parts = {}
  for item in (value .. SEP):gmatch("([^" .. SEP .. "]*)" .. SEP) do parts[#parts + 1] = item end
  local fields = { retry_after = math.max(0, (tonumber(parts[1]) or 0) - ngx.now()) }
  for i, field in ipairs(FAILURE_FIELDS) do
    if parts[i + 1] ~= "" then fields[field] = parts[i + 1] end
  end
  fields.status = tonumber(fields.status)
  return errors.new(fields.errorCode, fields)
end

-- With the lock held: the token another worker stored meanwhile, or a new one.
local function fetch_locked(self, fetch)
  local token = self:current()
  if token then return token end
  local started = ngx.now()
  local got, expires_in = fetch()
  if not got then
    local err = expires_in
    -- Token requests are rate-limited: every worker takes this answer for a moment.
    local ttl = math.min(MAX_FAILURE_TTL, math.max(FAILURE_TTL, tonumber(err.retry_after) or 0))
    self.dict:set(self.failed, encode_failure(err, ngx.now() + ttl), ttl)
    return nil, err
  end
  local view = self.view
  view:store(got, expires_in, started)
  local value = ("%.3f %s %s"):format(started, tostring(view.lifetime), got)
  self.seen, self.mark = value, refused_mark(self, got)
  self.dict:set(self.key, value, view.refresh_at - started)
  return got
end

---------------------------------------------------------------------------
-- The renewal lock. Its value names its holder: "pid expires serial", where
-- `expires` ends the holder's token request (its timeout, cut at its deadline)
-- plus LOCK_MARGIN. A lock whose holder's process is gone, or whose time is up,
-- is taken over by one waiter.
---------------------------------------------------------------------------

local lock_serial = 0

local function lock_value(ttl)
  lock_serial = lock_serial + 1
  return ("%d %.3f %d"):format(worker_pid(), ngx.now() + ttl, lock_serial)
end

local function abandoned(held)
  local pid, expires = tostring(held):match("^(%d+) (%S+) ")
  if not pid then return false end -- not a lock of this kind: its TTL frees it
  if tonumber(expires) <= ngx.now() then return true end
  pid = tonumber(pid)
  return pid > 0 and pid ~= worker_pid() and not process_alive(pid)
end

-- Only one waiter wins the `add` on a key named after the abandoned value.
local function take_over(self, held, mine, ttl)
  if not self.dict:add(self.lock .. ":over:" .. held, true, ttl) then return false end
  if self.dict:get(self.lock) ~= held then return false end
  self.dict:set(self.lock, mine, ttl)
  return true
end

-- A holder slower than its lock may have been taken over: it leaves its successor's lock alone.
local function release(self, mine)
  if self.dict:get(self.lock) == mine then self.dict:delete(self.lock) end
end

local function timeout()
  return nil, errors.new(errors.TIMEOUT, { message = "another worker's token request outlasted the deadline" })
end

--- A new token through `fetch() -> token, expires_in | nil, err`, fetched by this
-- worker under the lock, or by another one that this one waits for, until the
-- call's deadline (then TIMEOUT). Returns the token, or nil, err.
function Store:obtain(fetch, pipe, ctx)
  local transport, dict, wait = pipe.transport, self.dict, FIRST_WAIT
  while true do
    local token = self:current()
    if token then return token end
    local failed = dict:get(self.failed)
    if failed then return nil, decode_failure(failed) end
    local left = ctx.deadline - transport:now()
    if left <= 0 then return timeout() end
    -- The lock lasts as long as the holder's requests may: the old token's
    -- revocation, then the new token's request (no pcall here, which a task that
    -- yields could not cross on Lua 5.1: a request that raises leaves it to expire).
    local ttl = math.min(2 * pipe.settings.timeout, left) + LOCK_MARGIN
    local mine = lock_value(ttl)
    local locked, why = dict:add(self.lock, mine, ttl)
    if not locked then
      if why ~= "exists" then
        return nil, errors.new(errors.NETWORK_ERROR, { message = "the token lock: " .. tostring(why) })
      end
      local held = dict:get(self.lock)
      locked = held ~= nil and abandoned(held) and take_over(self, held, mine, ttl)
    end
    if locked then
      local got, err = fetch_locked(self, fetch)
      release(self, mine)
      return got, err
    end
    left = ctx.deadline - transport:now()
    if left <= 0 then return timeout() end
    transport:sleep(math.min(wait, left))
    wait = math.min(MAX_WAIT, wait * 2)
  end
end

--- Marks `token` refused: whoever looks next fetches a new one (once, under the lock).
-- A token that was replaced already keeps its successor.
function Store:forget_if(token)
  self.dict:set(refused_mark(self, token), true, self.view.lifetime or 3600)
end

--- A renewed token was refused too: every worker waits before renewing again.
function Store:refuse()
  local view = self.view
  local left = view.lifetime / 12 - (ngx.now() - view.fetched_at)
  if left > 0 then self.dict:set(self.throttle, true, left) end
end

function Store:throttled() return self.dict:get(self.throttle) ~= nil end

function Store:accept()
  if self.dict:get(self.throttle) then self.dict:delete(self.throttle) end
end

--- Others use the token: close() revokes it only when asked to.
function Store:revocable(revoke)
  if not revoke then return nil end
  return self:current()
end

return tokenstore
