-- The transport contract (lua/atlasrestore/transport/contract.lua) on the libcurl
-- transport, on every Lua: the shared cases of spec/support/transport_contract.lua
-- (spec/nginx/contract_spec.lua runs the same ones inside nginx on the cosocket
-- transport), the list of codes the transport can fail with, and TLS.
local contract = require "support.transport_contract"
local emulator = require "support.emulator"
local errors = require "atlasrestore.errors"
local nginx_host = require "support.nginx_host"
local rawserver = require "support.rawserver"
local curl_transport = require "atlasrestore.transport.curl"

describe("the libcurl transport", function()
  local emu, env

  nginx_host.around(function(e, host)
    emu = e
    env = { emu = emu.base_url, fixture = host.fixture_url, closed = "http://127.0.0.1:" .. emulator.free_ports(1) }
  end)

  for _, case in ipairs(contract.cases) do
    it(case.name, function()
      emu:reset()
      if case.config then emu:config(case.config) end
      local redirect = case.redirect and rawserver.start("redirect", emu.trap_url)
      local hostile = case.hostile and rawserver.start("hostile", case.hostile)
      env.redirect, env.hostile = redirect and redirect.base_url, hostile and hostile.base_url
      local transport = curl_transport.new {}
      local ok, obs = pcall(case.run, transport, env)
      transport:close()
      local hostile_stats = hostile and hostile.stats()
      if redirect then redirect.stop() end
      if hostile then hostile.stop() end
      assert(ok, obs)
      case.check(obs, emu:stats(), hostile_stats)
    end)
  end

  it("fails only with the module's documented codes, as listed by the transport itself", function()
    local documented = {}
    for _, code in ipairs(errors.TRANSPORT_CODES) do documented[code] = true end
    assert.is_true(#curl_transport.ERROR_CODES >= 5)
    for _, code in ipairs(curl_transport.ERROR_CODES) do assert.is_true(documented[code], code) end
  end)

  it("gives TLS_FAILED for a certificate it cannot verify, and verifies with the CA", function()
    local tls = emulator.start { tls = true }
    local function token(t)
      return t:request(contract.request(tls.base_url .. "/api/oauth/token", { method = "POST", body = "",
        headers = {}, timeout = 5, connect_timeout = 5, stall_timeout = 5, max_body = 65536 }))
    end
    local plain, trusting = curl_transport.new {}, curl_transport.new { ca_file = tls.ca_file }
    local res, err = token(plain)
    local trusted = token(trusting)
    plain:close()
    trusting:close()
    tls:stop()
    assert.is_nil(res)
    assert.equal("TLS_FAILED", err.errorCode)
    assert.equal("network", err.kind)
    assert.equal(401, assert(trusted).status)
  end)
end)
