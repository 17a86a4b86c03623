-- The cases of the transport contract (lua/atlasrestore/transport/contract.lua) that
-- every transport passes: spec/nginx/contract_spec.lua runs them on libcurl in busted
-- and on the cosocket transport inside nginx (spec/nginx/app/app.lua).
--
-- A case is { name, config = emulator configuration or nil, redirect = true when it
-- needs env.redirect, hostile = the name of a rawserver.HOSTILE answer when it needs
-- env.hostile, run(transport, env) -> observations (plain data, JSON-able),
-- check(obs, stats, hostile_stats) } where env holds emu (the emulator's base URL),
-- fixture (the host nginx's fixture server), closed (a URL nothing listens on),
-- redirect (a raw server that answers 302 to the emulator's trap) and hostile (a raw
-- server that gives that answer to every request); check runs in busted, with the
-- emulator's stats and the hostile server's (rawserver's stats()) after the case.
local build = require "atlasrestore.request"

local contract = {}

-- The checks run in busted, with luassert; the runs, also inside nginx, need none.
local assert = package.loaded.luassert or assert

local DEMO = "/api/atlas/v2/groups/65a1b2c3d4e5f60718293a4b/serverless/demo/backup/restoreJobs"
local ACCEPT = "application/vnd.atlas.2023-01-01+json"
-- The first of rawserver.REAL_JOBS (spec/support/rawserver.lua), which runs outside nginx.
local REAL_JOB = "5f00000000000000000000a1"
-- base64("mdb_sa_id_emu0001:mdb_sa_sk_emu-secret-91f2"): the emulator's service account.
local BASIC = "Basic bWRiX3NhX2lkX2VtdTAwMDE6bWRiX3NhX3NrX2VtdS1zZWNyZXQtOTFmMg=="

--- The request for an absolute URL, as the pipeline builds one (atlasrestore.request):
-- over sets method, headers ({ [Name] = value }), body and the limits.
function contract.request(url, over)
  over = over or {}
  local scheme, authority, path = url:match("^(%a+)://([^/]+)(.*)$")
  local limits = { timeout = 10, connect_timeout = 5, stall_timeout = 10, max_body = 64 * 1024 * 1024 }
  for k in pairs(limits) do limits[k] = over[k] or limits[k] end
  return build.new(build.base(scheme, authority, ""), over.method or "GET", path,
    over.headers or { Accept = ACCEPT, ["User-Agent"] = "contract" }, over.body, limits)
end
local request = contract.request

-- The observations of one request: status, headers, body size, or the error.
local function observe(res, err)
  if not res then return { code = err.errorCode, status = err.status, message = err.message, kind = err.kind } end
  local lower = true
  for name in pairs(res.headers) do lower = lower and name == name:lower() end
  return { status = res.status, headers = res.headers, lower = lower, bytes = #res.body, body = res.body,
    elapsed = res.elapsed }
end

local function get(t, url, over) return observe(t:request(request(url, over))) end

local function token_request(env)
  return request(env.emu .. "/api/oauth/token", { method = "POST", body = "grant_type=client_credentials",
    headers = { Authorization = BASIC, ["Content-Type"] = "application/x-www-form-urlencoded",
      Accept = "application/json" } })
end

-- The demo listing with a token of the emulator's service account (faults come after the auth check).
local function listing(t, env, over)
  local res = t:request(token_request(env))
  local token = res and res.body:match('"access_token"%s*:%s*"([^"]+)"')
  over = over or {}
  over.headers = { Accept = ACCEPT, Authorization = "Bearer " .. tostring(token) }
  return get(t, env.emu .. DEMO, over)
end

-- A listing through the emulator's trickle (a byte a second) that `over` must end in 2.5 s.
local function trickle(name, over)
  return {
    name = name,
    config = { stall_seconds = 3, faults = { script = { "trickle" } } },
    run = function(t, env)
      local started = t:now()
      local obs = listing(t, env, over)
      obs.waited = t:now() - started
      return obs
    end,
    check = function(obs)
      assert.equal("TIMEOUT", obs.code)
      assert.is_true(obs.waited < 2.5)
    end,
  }
end

-- A raw server's answer, which the contract refuses: BAD_RESPONSE.
local function refused(name, hostile)
  return {
    name = name,
    hostile = hostile,
    run = function(t, env) return get(t, env.hostile .. "/x") end,
    check = function(obs) assert.equal("BAD_RESPONSE", obs.code, obs.message) end,
  }
end

-- A raw server's answer, read whole, and then whether the next request came on
-- the same connection (`again`) or on a new one.
local function persistence(name, hostile, again)
  return {
    name = name,
    hostile = hostile,
    run = function(t, env) return { get(t, env.hostile .. "/x"), get(t, env.hostile .. "/x") } end,
    check = function(obs, _, raw)
      for i = 1, 2 do
        assert.equal(200, obs[i].status, obs[i].message)
        assert.matches(REAL_JOB, obs[i].body)
      end
      assert.equal(2, raw.requests)
      assert.equal(again and 1 or 2, raw.connections)
    end,
  }
end

-- A raw server that trickles a line (a byte each 0.2 s) that never ends: the attempt
-- ends by `over`'s timeout or stall rule all the same, within `bound` seconds.
local function slow_line(name, hostile, over, low, bound)
  return {
    name = name,
    hostile = hostile,
    run = function(t, env)
      local started = t:now()
      local obs = get(t, env.hostile .. "/x", over)
      obs.waited = t:now() - started
      return obs
    end,
    check = function(obs)
      assert.equal("TIMEOUT", obs.code, obs.message)
      assert.is_true(obs.waited >= low and obs.waited < bound, ("ended after %.2f s"):format(obs.waited))
    end,
  }
end

contract.cases = {
  {
    name = "answers a GET: status, lower-case headers, the body, elapsed; www-authenticate is a list",
    run = function(t, env) return get(t, env.emu .. DEMO) end,
    check = function(obs)
      assert.equal(401, obs.status)
      assert.is_true(obs.lower)
      assert.equal("table", type(obs.headers["www-authenticate"]))
      assert.matches("^Digest ", obs.headers["www-authenticate"][1])
      assert.equal(obs.bytes, tonumber(obs.headers["content-length"]))
      assert.is_true(obs.elapsed >= 0 and obs.elapsed < 5)
    end,
  },
  {
    name = "sends a POST's body (the token endpoint)",
    run = function(t, env) return observe(t:request(token_request(env))) end,
    check = function(obs, stats)
      assert.equal(200, obs.status)
      assert.matches('"access_token"', obs.body)
      assert.equal(1, stats.tokens)
    end,
  },
  {
    name = "joins repeated headers with a comma, and keeps each www-authenticate apart",
    run = function(t, env) return get(t, env.fixture .. "/repeat") end,
    check = function(obs)
      assert.equal("a, b", obs.headers["x-repeat"])
      assert.same({ 'Basic realm="one"', 'Digest realm="two", nonce="n"' }, obs.headers["www-authenticate"])
    end,
  },
  {
    name = "reads a chunked body",
    run = function(t, env) return get(t, env.fixture .. "/chunked?jobs=200") end,
    check = function(obs)
      assert.equal(200, obs.status)
      assert.equal("chunked", obs.headers["transfer-encoding"])
      assert.equal(200, select(2, obs.body:gsub('"id":', "")))
      assert.matches("%]}$", obs.body)
    end,
  },
  {
    name = "reads a body without length or chunks to the close",
    run = function(t, env) return get(t, env.fixture .. "/close-delimited?jobs=200") end,
    check = function(obs)
      assert.equal(200, obs.status)
      assert.is_nil(obs.headers["content-length"])
      assert.is_nil(obs.headers["transfer-encoding"])
      assert.equal(200, select(2, obs.body:gsub('"id":', "")))
    end,
  },
  {
    name = "refuses a Content-Length past max_body before reading the body",
    run = function(t, env) return get(t, env.emu .. DEMO, { max_body = 100 }) end,
    check = function(obs)
      assert.equal("RESPONSE_TOO_LARGE", obs.code)
      assert.equal("bad_response", obs.kind)
    end,
  },
  {
    name = "stops a chunked body at max_body",
    run = function(t, env) return get(t, env.fixture .. "/chunked?jobs=200", { max_body = 5000 }) end,
    check = function(obs) assert.equal("RESPONSE_TOO_LARGE", obs.code) end,
  },
  {
    name = "keeps a connection alive for the next request",
    run = function(t, env) return { get(t, env.emu .. DEMO), get(t, env.emu .. DEMO) } end,
    check = function(obs, stats)
      assert.equal(401, obs[1].status)
      assert.equal(401, obs[2].status)
      assert.equal(1, stats.connections)
    end,
  },
  {
    name = "pools no connection whose body was not read to the end",
    run = function(t, env)
      return { get(t, env.fixture .. "/conn"), get(t, env.fixture .. "/chunked?jobs=200", { max_body = 5000 }),
        get(t, env.fixture .. "/conn"), get(t, env.fixture .. "/conn") }
    end,
    check = function(obs)
      assert.equal("RESPONSE_TOO_LARGE", obs[2].code)
      assert.are_not.equal(obs[1].body, obs[3].body, "a new connection after the cut body")
      assert.equal(obs[3].body, obs[4].body, "then one connection again")
    end,
  },
  {
    name = "follows no redirect",
    redirect = true,
    run = function(t, env) return get(t, env.redirect .. "/start") end,
    check = function(obs, stats)
      assert.equal(302, obs.status)
      assert.equal(0, stats.trap)
    end,
  },
  {
    name = "CONNECT_FAILED where nothing listens",
    run = function(t, env) return get(t, env.closed .. DEMO) end,
    check = function(obs)
      assert.equal("CONNECT_FAILED", obs.code)
      assert.is_nil(obs.status)
      assert.equal("network", obs.kind)
    end,
  },
  {
    name = "TIMEOUT when the server says nothing within timeout",
    config = { stall_seconds = 3, faults = { script = { "stall" } } },
    run = function(t, env) return listing(t, env, { timeout = 0.5 }) end,
    check = function(obs) assert.equal("TIMEOUT", obs.code) end,
  },
  trickle("TIMEOUT when a trickle outlasts timeout, though bytes keep coming", { timeout = 1.5 }),
  trickle("TIMEOUT when under 64 bytes/s for stall_timeout", { stall_timeout = 1 }),
  {
    name = "NETWORK_ERROR when the connection closes in the middle of the body",
    config = { faults = { script = { "close" } } },
    run = function(t, env) return listing(t, env) end,
    check = function(obs) assert.equal("NETWORK_ERROR", obs.code) end,
  },
  {
    name = "BAD_RESPONSE for a head that breaks HTTP's rules",
    run = function(t, env) return { get(t, env.fixture .. "/bad-header"), get(t, env.fixture .. "/garbage") } end,
    check = function(obs)
      assert.equal("BAD_RESPONSE", obs[1].code)
      assert.equal("BAD_RESPONSE", obs[2].code)
    end,
  },
  {
    name = "only 1xx heads come before the final one: a 503 ended by bare LFs stays the 503",
    hostile = "two_heads",
    run = function(t, env) return get(t, env.hostile .. "/x") end,
    check = function(obs)
      assert.equal(503, obs.status, obs.message)
      assert.equal("1", obs.headers["retry-after"])
    end,
  },
  {
    name = "takes a bare LF as a line end, in a head and in a chunked body",
    hostile = "bare_lf",
    run = function(t, env)
      local plain = get(t, env.hostile .. "/x")
      return plain
    end,
    check = function(obs)
      assert.equal(200, obs.status, obs.message)
      assert.equal("application/json", obs.headers["content-type"])
      assert.matches(REAL_JOB, obs.body)
    end,
  },
  {
    name = "reads a chunked body whose lines end in bare LFs",
    hostile = "bare_lf_chunked",
    run = function(t, env) return get(t, env.hostile .. "/x") end,
    check = function(obs)
      assert.equal(200, obs.status, obs.message)
      assert.matches('"results":%[.*%]}$', obs.body)
    end,
  },
  {
    name = "counts a padded chunk size by its significant digits (16 hex digits at most)",
    hostile = "padded",
    run = function(t, env) return get(t, env.hostile .. "/x", { max_body = 4096 }) end,
    check = function(obs)
      assert.equal(200, obs.status, obs.message)
      assert.matches(REAL_JOB, obs.body)
    end,
  },
  refused("BAD_RESPONSE for Transfer-Encoding: xchunked (no suffix match)", "xchunked"),
  refused("BAD_RESPONSE for a chunk size of 17 hex digits", "overpadded"),
  refused("BAD_RESPONSE for garbage in a chunk extension", "chunk_garbage"),
  refused("BAD_RESPONSE for garbage in the last chunk's extension", "last_chunk_garbage"),
  refused("BAD_RESPONSE for Content-Length: 10, 12", "length_list"),
  refused("BAD_RESPONSE for Content-Length: +N", "length_sign"),
  persistence("does not re-use an HTTP/1.0 connection without keep-alive", "http10", false),
  persistence("re-uses an HTTP/1.0 connection with keep-alive", "http10_keep", true),
  persistence("does not re-use a connection after both Transfer-Encoding and Content-Length", "chunked_and_length",
    false),
  slow_line("TIMEOUT at timeout while a head line trickles", "slow_head", { timeout = 1 }, 0.9, 1.5),
  slow_line("TIMEOUT under 64 bytes/s for stall_timeout while a head line trickles", "slow_head",
    { stall_timeout = 1 }, 0.9, 2.5),
  slow_line("TIMEOUT at timeout while a chunk-size line trickles", "slow_chunk_size", { timeout = 1 }, 0.9, 1.5),
  slow_line("TIMEOUT under 64 bytes/s for stall_timeout while a chunk-size line trickles", "slow_chunk_size",
    { stall_timeout = 1 }, 0.9, 2.5),
  {
    name = "now() moves on with sleep()",
    run = function(t)
      local a = t:now()
      t:sleep(0.2)
      return { slept = t:now() - a }
    end,
    check = function(obs) assert.is_true(obs.slept >= 0.19 and obs.slept < 1) end,
  },
  {
    name = "runs tasks at once: three requests in flight",
    config = { latency = { request = 0.3 } },
    run = function(t, env)
      local tasks, out = {}, {}
      for i = 1, 3 do tasks[i] = t:spawn(get, t, env.emu .. DEMO) end
      for i = 1, 3 do
        local ok, obs = t:wait(tasks[i])
        out[i] = ok and obs.status or "failed"
      end
      return out
    end,
    check = function(obs, stats)
      assert.same({ 401, 401, 401 }, obs)
      assert.equal(3, stats.max_in_flight)
    end,
  },
  {
    name = "wait gives a task's results, or false and the error it raised; any task may wait",
    run = function(t)
      local a = t:spawn(function(x, y)
        t:sleep(0.05)
        return x + y, "two"
      end, 1, 2)
      local b = t:spawn(function() error("boom", 0) end)
      -- Another task waits for `a` too.
      local c = t:spawn(function() return select(2, t:wait(a)) end)
      local ok_a, sum, two = t:wait(a)
      local ok_b, why = t:wait(b)
      local ok_c, from_c = t:wait(c)
      return { ok_a = ok_a, sum = sum, two = two, ok_b = ok_b, why = why, ok_c = ok_c, from_c = from_c }
    end,
    check = function(obs)
      assert.same({ ok_a = true, sum = 3, two = "two", ok_b = false, why = "boom", ok_c = true, from_c = 3 }, obs)
    end,
  },
  {
    name = "cancel stops a task, which never runs again",
    run = function(t)
      local ran_on = false
      local task = t:spawn(function()
        t:sleep(0.3)
        ran_on = true
      end)
      local started = t:now()
      t:sleep(0.01)
      t:cancel(task)
      local ok = t:wait(task)
      t:sleep(0.4)
      return { ok = ok, ran_on = ran_on, waited = t:now() - started }
    end,
    check = function(obs)
      assert.is_false(obs.ok)
      assert.is_false(obs.ran_on)
    end,
  },
}

return contract
