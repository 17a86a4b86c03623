-- The token renewal lock of atlasrestore.tokenstore, in virtual time: a waiter never
-- waits past its own deadline, and a lock whose holder's time is up is taken over by
-- one waiter, which makes the one token request. Here the dict is the worker's own
-- stand-in and the holder a value planted in it; spec/nginx/outages_spec.lua kills a
-- real holder among 4 workers.
local fake = require "support.fake_transport"

local GROUP = "65a1b2c3d4e5f60718293a4b"
local SA = { client_id = "mdb_sa_id_x", client_secret = "mdb_sa_sk_secret" }

describe("the token lock", function()
  local atlasrestore, tokenstore, dict, clock_of, handler, issued, base
  local specs, stand_in = 0, nil

  -- The module keeps the `ngx` it found when loaded: one stand-in for the file, the
  -- clock that of the transport in use.
  lazy_setup(function()
    local function same(s) return s end
    stand_in = { get_phase = function() return "content" end, now = function() return clock_of.clock end,
      shared = {}, sha1_bin = same, encode_base64 = same, md5 = same, worker = { pid = function() return 100 end } }
    _G.ngx = stand_in
    atlasrestore, tokenstore = require "atlasrestore", require "atlasrestore.tokenstore"
  end)
  lazy_teardown(function() _G.ngx = nil end)

  before_each(function()
    -- The worker keeps its state by base URL and credentials: a base URL of its own per spec.
    specs = specs + 1
    base = ("https://atlas-%d.test"):format(specs)
    dict = tokenstore.worker_dict()
    stand_in.shared.tokens = dict
    clock_of = { clock = 5000 }
    handler, issued = fake.oauth_server()
  end)

  -- One listing on a transport of its own whose clock goes on from the last one's.
  local function list(opts)
    local t = fake.new(handler)
    t.clock = clock_of.clock
    clock_of = t
    local o = { transport = t, base_url = base, shared_dict = "tokens", on_warning = function() end }
    for k, v in pairs(SA) do o[k] = v end
    for k, v in pairs(opts or {}) do o[k] = v end
    local client = assert(atlasrestore.new(o))
    local started = t:now()
    local page, err = client:list_restore_jobs(GROUP, "demo")
    client:close()
    return page, err, t:now() - started
  end

  -- The key of the stored token, found by its value.
  local function token_key()
    for key, value in pairs(dict.values) do
      if type(value) == "string" and value:match("^%S+ %S+ token%-%d+$") then return key end
    end
  end

  -- A lock of a holder of another worker whose token request ends `seconds` from now;
  -- the stored token is gone. The holder's pid is this process's, which is alive
  -- wherever the store can ask the kernel (LuaJIT's FFI) and counts as alive elsewhere.
  local function plant_lock(seconds)
    assert(list())
    local key = assert(token_key())
    dict:delete(key)
    local f = assert(io.open("/proc/self/stat", "r"))
    local pid = assert(f:read("*l"):match("^%d+"))
    f:close()
    dict:add(key .. ":lock", ("%s %.3f 1"):format(pid, stand_in.now() + seconds), seconds + 1)
  end

  it("lets a waiter wait for a live holder until its own deadline, and not past it: TIMEOUT", function()
    plant_lock(30)
    local page, err, took = list { deadline = 3 }
    assert.is_nil(page)
    assert.equal("TIMEOUT", err.errorCode)
    assert.matches("another worker's token request", err.message, 1, true)
    assert.is_true(took >= 3 and took < 3.01, ("gave up after %.3f s"):format(took))
    assert.equal(1, issued(), "no token request of the waiter's own")
  end)

  it("is taken over once the holder's time is up, by the waiter, with one token request", function()
    plant_lock(5)
    local page, _, took = list { deadline = 30 }
    assert.equal(2, #page.results)
    assert.is_true(took >= 5 and took < 5.1, ("took %.3f s"):format(took))
    assert.equal(2, issued())
  end)

  -- The lock as the token request finds it: { value, ttl }.
  local function lock_during_token_request()
    local seen
    local inner = handler
    handler = function(req, t)
      if req.path == "/api/oauth/token" then
        for key, value in pairs(dict.values) do
          if key:match(":lock$") then seen = { value = value, ttl = dict.expires[key] - stand_in.now() } end
        end
      end
      return inner(req, t)
    end
    return function() return seen end
  end

  it("lasts no longer than the holder's token request may: timeout, or what is left of the deadline", function()
    local seen = lock_during_token_request()
    assert(list { timeout = 20, deadline = 8 })
    assert.matches("^100 %d+%.%d+ %d+$", seen().value)
    assert.is_true(math.abs(seen().ttl - 9) < 0.01, ("the lock lasts %.3f s"):format(seen().ttl))
    assert.is_nil(dict:get(token_key() .. ":lock"), "released")
  end)

  it("lasts for two requests of the holder, the old token's revocation and the new one's request", function()
    local seen = lock_during_token_request()
    assert(list { timeout = 3, deadline = 30 })
    assert.is_true(math.abs(seen().ttl - (2 * 3 + 1)) < 0.01, ("the lock lasts %.3f s"):format(seen().ttl))
  end)
end)
