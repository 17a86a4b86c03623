-- The transport contract on the cosocket transport, inside nginx, where
-- spec/nginx/app/app.lua runs each case of spec/support/transport_contract.lua.
local cjson = require "cjson"
local contract = require "support.transport_contract"
local emulator = require "support.emulator"
local nginx_host = require "support.nginx_host"
local rawserver = require "support.rawserver"

describe("the transport contract", function()
  local emu, host, env

  nginx_host.around(function(e, h)
    emu, host = e, h
    env = { emu = emu.base_url, fixture = host.fixture_url, closed = "http://127.0.0.1:" .. emulator.free_ports(1) }
  end)

  -- libcurl runs the same cases in spec/contract/transport_spec.lua, on every Lua.
  describe("cosocket, inside nginx", function()
    for i, case in ipairs(contract.cases) do
      it(case.name, function()
        emu:reset()
        if case.config then emu:config(case.config) end
        local redirect = case.redirect and rawserver.start("redirect", emu.trap_url)
        local hostile = case.hostile and rawserver.start("hostile", case.hostile)
        env.redirect, env.hostile = redirect and redirect.base_url, hostile and hostile.base_url
        local ok, status, obs = pcall(host.json, host, "/contract?" .. nginx_host.query { case = i,
          env = cjson.encode(env) })
        local hostile_stats = hostile and hostile.stats()
        if redirect then redirect.stop() end
        if hostile then hostile.stop() end
        assert(ok, status)
        assert.is_nil(obs.raised)
        case.check(obs, emu:stats(), hostile_stats)
      end)
    end
  end)

  it("leaves no problem in nginx's error log", function()
    assert.same({}, host:problems())
  end)
end)
