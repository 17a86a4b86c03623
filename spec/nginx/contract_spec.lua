-- The transport contract on every transport: libcurl here, in busted, and the
-- cosocket transport inside nginx, where spec/nginx/app/app.lua runs each case.
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

  local transports = {
    { "libcurl", function(case)
      local transport = require("atlasrestore.transport.curl").new {}
      local obs = case.run(transport, env)
      transport:close()
      return obs
    end },
    { "cosocket, inside nginx", function(_, i)
      local _, obs = host:json("/contract?" .. nginx_host.query { case = i, env = cjson.encode(env) })
      return obs
    end },
  }

  for _, transport in ipairs(transports) do
    describe(transport[1], function()
      for i, case in ipairs(contract.cases) do
        it(case.name, function()
          emu:reset()
          if case.config then emu:config(case.config) end
          local redirect = case.redirect and rawserver.start("redirect", emu.trap_url)
          env.redirect = redirect and redirect.base_url
          local ok, obs = pcall(transport[2], case, i)
          if redirect then redirect.stop() end
          assert(ok, obs)
          assert.is_nil(obs.raised)
          case.check(obs, emu:stats())
        end)
      end
    end)
  end

  it("leaves no problem in nginx's error log", function()
    assert.same({}, host:problems())
  end)
end)
