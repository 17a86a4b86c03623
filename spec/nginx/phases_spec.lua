-- Inside nginx: listings from every phase that may run one, libcurl in init_by_lua,
-- and the error of every phase where no transport may run.
local cjson = require "cjson"
local emulator = require "support.emulator"
local nginx_host = require "support.nginx_host"

describe("inside nginx", function()
  local emu, host, init_log

  nginx_host.around(function(e, h)
    emu, host = e, h
    init_log = emu:stats().log
  end, function(e) return { env = nginx_host.emulator_env(e, { EMU_INIT_LIST = "demo" }) } end)
  before_each(function() emu:reset() end)

  local LISTINGS = {
    { endpoint = "serverless", name = "demo", count = 7 },
    { endpoint = "flex", name = "flex-demo", count = 8 },
    { endpoint = "auto", name = "migrated-404", count = 5, source = "flex" },
  }
  local PATHS = { content = "/list", access = "/access/list", rewrite = "/rewrite/list", timer = "/timer/list" }

  for _, phase in ipairs { "content", "access", "rewrite", "timer" } do
    for _, case in ipairs(LISTINGS) do
      it(("lists %s (endpoint %s) in the %s phase, over cosockets"):format(case.name, case.endpoint, phase), function()
        local _, out = host:json(PATHS[phase] .. "?" .. nginx_host.query { name = case.name, endpoint = case.endpoint })
        assert.is_nil(out.raised)
        assert.is_nil(out.err)
        assert.equal(phase, out.phase)
        assert.equal(case.count, out.count)
        assert.equal(case.source, out.first.source)
        for _, entry in ipairs(emu:stats().log) do assert.matches("; ngx_lua/", entry.user_agent) end
      end)
    end
  end

  it("lists a whole project in light threads, one instance failing", function()
    local _, out = host:json("/list?" .. nginx_host.query { call = "project", group = emulator.MIXED_GROUP_ID })
    assert.is_nil(out.err)
    assert.is_true(out.count > 0)
    assert.equal(1, out.failures, "mixed-broken")
  end)

  it("waits for a job with non-blocking sleeps", function()
    emu:config { job_polls = 2 }
    local _, out = host:json("/timer/list?" .. nginx_host.query { call = "wait", name = "polling",
      job = emulator.POLLING_JOBS.serverless.completes })
    assert.is_nil(out.err)
    assert.equal(emulator.POLLING_JOBS.serverless.completes, out.first.id)
    assert.equal("COMPLETED", out.first.status)
    assert.equal(1 + 3, emu:stats().job_requests, "the probe of \"auto\", two polls running, the final one")
  end)

  it("lists through libcurl in init_by_lua, before the workers fork", function()
    local out = cjson.decode((select(2, host:get("/result?name=init"))))
    assert.equal("init", out.phase)
    assert.equal(7, out.count)
    assert.is_true(#init_log > 0)
    for _, entry in ipairs(init_log) do assert.matches("; libcurl/", entry.user_agent) end
  end)

  describe("refuses, naming ngx.timer.at(0, ...)", function()
    local function assert_refused(phase, message)
      assert.matches("atlasrestore.new cannot run in nginx's " .. phase .. " phase", message, 1, true)
      assert.matches("ngx.timer.at(0, ", message, 1, true)
    end

    it("set_by_lua", function()
      assert_refused("set", select(2, host:get("/refused/set")))
    end)

    it("header_filter_by_lua", function()
      local _, _, headers = host:get("/refused/header_filter")
      assert_refused("header_filter", headers["x-refused"])
    end)

    it("body_filter_by_lua", function()
      assert_refused("body_filter", select(2, host:get("/refused/body_filter")))
    end)

    it("log_by_lua", function()
      assert.equal("ok\n", select(2, host:get("/refused/log")))
      assert_refused("log", host:kept("log"))
    end)

    it("balancer_by_lua", function()
      assert.equal("ok", select(2, host:get("/refused/balancer")))
      assert_refused("balancer", select(2, host:get("/result?name=balancer")))
    end)

    it("init_worker_by_lua", function()
      assert_refused("init_worker", select(2, host:get("/result?name=init_worker")))
    end)
  end)

  it("leaves no problem in nginx's error log", function()
    assert.same({}, host:problems())
  end)
end)
