-- Inside nginx with 4 workers, what a failure costs the others: a worker killed while
-- it holds the service-account token's renewal lock stalls them for no more than a
-- look at the lock (its process is gone), and a backoff shorter than nginx's
-- millisecond timers never becomes ngx.sleep(0).
local cjson = require "cjson"
local nginx_host = require "support.nginx_host"
local socket = require "socket"

-- The values of the token locks in the `tokens` dict, as JSON: each "pid expires serial".
local LOCKS = [[
location = /locks { content_by_lua_block {
  local values = {}
  for _, key in ipairs(ngx.shared.tokens:get_keys(0)) do
    if key:sub(-5) == ":lock" then values[#values + 1] = ngx.shared.tokens:get(key) end
  end
  ngx.say(require("cjson").encode({ locks = values }))
} }
]]

-- `ready()` once every 20 ms, up to `tries` times: its first true answer, or nil.
local function poll(tries, ready)
  for _ = 1, tries do
    local v = ready()
    if v then return v end
    socket.sleep(0.02)
  end
end

describe("4 nginx workers", function()
  local emu, host

  nginx_host.around(function(e, h) emu, host = e, h end, function(e)
    return { workers = 4, server = LOCKS, env = nginx_host.emulator_env(e) }
  end)

  local function token_requests(stats)
    local n = 0
    for _, entry in ipairs(stats.log) do
      if entry.uri == "/api/oauth/token" then n = n + 1 end
    end
    return n
  end

  it("take over the token lock of a worker killed while it held it, at their next look", function()
    emu:reset()
    -- The first token request is slow: its worker holds the lock when it is killed.
    emu:config { latency = { request = 2 } }
    local list = "/list?" .. nginx_host.query { kind = "sa", shared_dict = "tokens" }
    local holder, killed_at
    local requests = { { path = list } }
    requests[2] = { path = list, before = function()
      holder = poll(100, function()
        local _, out = host:json("/locks")
        return out.locks[1] and tonumber(out.locks[1]:match("^(%d+) "))
      end)
      assert(holder, "no worker took the token lock")
      assert(poll(100, function() return emu:stats().in_flight >= 1 end), "the token request is not in flight")
      emu:config { latency = { request = 0 } } -- what comes after the holder's request is fast
    end }
    for i = 3, 12 do requests[i] = { path = list } end
    -- The waiters wait; then the holder dies with its lock.
    requests[13] = { path = list, before = function()
      socket.sleep(0.3)
      assert(os.execute("kill -KILL " .. holder))
      killed_at = socket.gettime()
    end }
    local started = socket.gettime()
    local answers = host:burst(requests, 20)

    assert.is_nil(answers[1].status, "the holder's own request died with it")
    local served = 0
    for i = 2, #answers do
      local a = answers[i]
      if a.status then -- the others that the killed worker had accepted died with it
        assert.equal(200, a.status, a.body)
        local out = cjson.decode(a.body)
        assert.is_nil(out.err, a.body)
        assert.equal(7, out.count)
        assert.are_not.equal(holder, out.pid)
        local after_kill = started + a.seconds - killed_at
        assert.is_true(after_kill < 2, ("a waiter's answer came %.2f s after the kill"):format(after_kill))
        served = served + 1
      end
    end
    assert.is_true(served >= 4, served .. " answers")
    assert(poll(250, function() return emu:stats().in_flight == 0 end))
    assert.equal(2, token_requests(emu:stats()), "the dead holder's, and one after the takeover")
    assert.same({}, host:problems { "worker process " .. holder .. " exited on signal 9" })
  end)

  it("sleep no backoff shorter than a millisecond as ngx.sleep(0)", function()
    emu:reset()
    emu:config { faults = { retry_after = 0, script = { "503", "503", "503" } } }
    local _, out = host:json("/list?" .. nginx_host.query { retry_base_delay = 0.0001, retry_max_delay = 0.0005 })
    assert.is_nil(out.err)
    assert.equal(7, out.count)
    assert.equal(4, emu:stats().list_requests)
    assert.is_nil(host:error_log():find("ngx.sleep(0)", 1, true), "nginx warned of ngx.sleep(0)")
  end)
end)
