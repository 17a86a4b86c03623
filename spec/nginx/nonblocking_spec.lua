-- One nginx worker lists while it goes on answering: 20 listings wait on an Atlas
-- that answers each request after 1 s, and a trivial location of the same worker
-- answers before any of them. With libcurl forced, the worker answers nothing while
-- a listing runs. The order of completion is asserted; the times are printed.
local cjson = require "cjson"
local socket = require "socket"
local nginx_host = require "support.nginx_host"

describe("one nginx worker (worker_processes 1)", function()
  local emu, host

  nginx_host.around(function(e, h)
    emu, host = e, h
    -- The worker's Digest nonce first, so that each listing below is one request.
    local _, out = host:json("/list?name=demo")
    assert.equal(7, out.count)
  end, { workers = 1 })

  -- Waits (up to 10 s) until the emulator serves `n` requests at once.
  local function in_flight(n)
    return function()
      local deadline = socket.gettime() + 10
      while emu:stats().in_flight < n and socket.gettime() < deadline do socket.sleep(0.01) end
      assert.equal(n, emu:stats().in_flight)
    end
  end

  -- `n` listings with `transport`, then /ping once `waiting` requests are in flight at the emulator.
  local function run(n, transport, waiting)
    emu:config { latency = { request = 1 } }
    local requests = {}
    for i = 1, n do requests[i] = { path = "/list?" .. nginx_host.query { name = "demo", transport = transport } } end
    requests[n + 1] = { path = "/ping", before = in_flight(waiting) }
    local out = host:burst(requests)
    emu:config { latency = { request = 0 } }
    for i = 1, n do
      assert.equal(200, out[i].status)
      local doc = cjson.decode(out[i].body)
      assert.is_nil(doc.err)
      assert.equal(7, doc.count)
    end
    assert.equal("pong\n", out[n + 1].body)
    local last = 0
    for i = 1, n do last = math.max(last, out[i].seconds) end
    return out[n + 1], last
  end

  it("answers /ping while 20 listings are in flight over cosockets", function()
    local ping, last = run(20, "cosocket", 20)
    assert.equal(1, ping.order, "/ping answered before any listing ended")
    print(("\ncosocket: /ping answered in %.1f ms with 20 listings in flight; the 20 listings took %.2f s"):format(
      ping.latency * 1000, last))
  end)

  it("answers nothing while a listing runs when libcurl is forced", function()
    local ping, last = run(5, "curl", 1)
    assert.is_true(ping.order > 1, "/ping waited for the listing that blocked the worker")
    print(("\nlibcurl:  /ping answered in %.2f s (answer %d of 6); the 5 listings took %.2f s"):format(
      ping.latency, ping.order, last))
  end)

  it("leaves no problem in nginx's error log", function()
    assert.same({}, host:problems())
  end)
end)
