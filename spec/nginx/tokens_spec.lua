-- A service account's token inside nginx, with 4 workers: through a lua_shared_dict
-- one token serves them all, one worker fetches it while the others wait, and after
-- a 401 only one request replaces it. Without the dict each worker has its own.
local cjson = require "cjson"
local nginx_host = require "support.nginx_host"

describe("4 nginx workers with a service account", function()
  local emu, host

  nginx_host.around(function(e, h) emu, host = e, h end, { workers = 4 })

  -- 50 listings at once, a client each; every one lists the 7 jobs. Returns the
  -- number of workers that served them.
  local function burst(args)
    local requests = {}
    for i = 1, 50 do requests[i] = { path = "/list?" .. nginx_host.query(args) } end
    local workers, pids = 0, {}
    for _, answer in ipairs(host:burst(requests)) do
      assert.equal(200, answer.status)
      local out = cjson.decode(answer.body)
      assert.is_nil(out.err)
      assert.equal(7, out.count)
      if not pids[out.pid] then pids[out.pid], workers = true, workers + 1 end
    end
    return workers
  end

  local function refused(stats)
    local n = 0
    for _, entry in ipairs(stats.log) do
      if entry.status == 401 then n = n + 1 end
    end
    return n
  end

  describe("and a lua_shared_dict", function()
    local SHARED = { kind = "sa", shared_dict = "tokens" }

    it("makes one token request for a burst of 50 on a cold cache", function()
      emu:config { latency = { request = 0.2 } } -- the others are waiting while the first one asks
      local workers = burst(SHARED)
      assert.is_true(workers >= 2, "the burst spread over the workers")
      local stats = emu:stats()
      assert.equal(1, stats.tokens)
      assert.equal(0, refused(stats))
    end)

    it("renews the token once for 50 simultaneous 401s", function()
      emu:expire_tokens()
      local before = emu:stats()
      local workers = burst(SHARED)
      assert.is_true(workers >= 2)
      local stats = emu:stats()
      assert.equal(1, stats.tokens - before.tokens)
      assert.equal(1, stats.revokes - before.revokes, "the refused token, revoked once by the worker that renewed it")
      assert.equal(50, refused(stats) - refused(before), "every request held the expired token")
    end)
  end)

  it("without the dict, makes one token request per worker", function()
    emu:reset()
    emu:config { latency = { request = 0.2 } }
    local workers = burst { kind = "sa" }
    assert.equal(workers, emu:stats().tokens)
  end)

  it("leaves no problem in nginx's error log", function()
    assert.same({}, host:problems())
  end)
end)
