-- The transport contract (lua/atlasrestore/transport/contract.lua), the same
-- cases for every transport outside nginx: success, each error code, the body
-- limit, the timeouts, tasks. The cosocket transport runs its own copy inside nginx.
local core = require "atlasrestore.core"
local errors = require "atlasrestore.errors"
local emulator = require "support.emulator"
local rawserver = require "support.rawserver"

local TRANSPORTS = {
  curl = function(opts) return require("atlasrestore.transport.curl").new(opts or {}) end,
}

local function set_of(list)
  local set = {}
  for _, v in ipairs(list) do set[v] = true end
  return set
end

for name, new in pairs(TRANSPORTS) do
  describe("the " .. name .. " transport", function()
    local emu, t

    lazy_setup(function() emu = emulator.start() end)
    lazy_teardown(function() if emu then emu:stop() end end)
    before_each(function()
      emu:reset()
      t = new()
    end)
    after_each(function() t:close() end)

    local function request(fields)
      local req = { method = "GET", headers = {}, timeout = 5, connect_timeout = 5, stall_timeout = 5,
        max_body = 1024 * 1024 }
      for k, v in pairs(fields) do req[k] = v end
      return t:request(req)
    end

    local function token_request(max_body)
      return request { method = "POST", url = emu.base_url .. "/api/oauth/token",
        body = "grant_type=client_credentials",
        headers = { Authorization = "Basic " .. core.base64(emu.client_id .. ":" .. emu.client_secret),
          ["Content-Type"] = "application/x-www-form-urlencoded" }, max_body = max_body }
    end

    -- A GET of a restore-job page with a service-account token (faults apply to it).
    local function jobs_request(fields)
      local token = core.decode(assert(token_request()).body).access_token
      emu:config(fields.emulator)
      fields.emulator = nil
      fields.url = emu.base_url .. emu:serverless_path("demo")
      fields.headers = { Authorization = "Bearer " .. token, Accept = "application/vnd.atlas.2023-01-01+json" }
      return request(fields)
    end

    local function fails(code, res, err)
      assert.is_nil(res)
      assert.is_true(errors.is(err), "an error value")
      assert.equal(code, err.errorCode)
      assert.is_string(err.message)
      return err
    end

    it("fails only with the module's documented codes, as listed by the transport itself", function()
      local documented = set_of(errors.TRANSPORT_CODES)
      local transport = require("atlasrestore.transport.curl")
      assert.is_true(#transport.ERROR_CODES >= 5)
      for _, code in ipairs(transport.ERROR_CODES) do assert.is_true(documented[code], code) end
    end)

    it("POSTs a form and answers with a status, lower-case headers and the body", function()
      local res = assert(token_request())
      assert.equal(200, res.status)
      assert.matches("^application/json", res.headers["content-type"])
      assert.is_string(core.decode(res.body).access_token)
      assert.is_number(res.elapsed)
    end)

    it("hands www-authenticate over as a list", function()
      local res = assert(request { url = emu.base_url .. emu:serverless_path("demo"),
        headers = { Accept = "application/vnd.atlas.2023-01-01+json" } })
      assert.equal(401, res.status)
      assert.is_table(res.headers["www-authenticate"])
      assert.matches("^Digest ", res.headers["www-authenticate"][1])
    end)

    it("gives CONNECT_FAILED for a port nobody listens on", function()
      fails("CONNECT_FAILED", request { url = "http://127.0.0.1:1/" })
    end)

    it("gives RESPONSE_TOO_LARGE for a body past max_body", function()
      fails("RESPONSE_TOO_LARGE", token_request(16))
    end)

    it("gives TIMEOUT when an attempt outlasts its timeout", function()
      local started = t:now()
      fails("TIMEOUT", jobs_request { emulator = { stall_seconds = 3, faults = { script = { "stall" } } },
        timeout = 0.5 })
      assert.is_true(t:now() - started < 2)
    end)

    it("gives TIMEOUT when a server trickles under 64 bytes a second", function()
      fails("TIMEOUT", jobs_request { emulator = { stall_seconds = 4, faults = { script = { "trickle" } } },
        timeout = 10, stall_timeout = 1 })
    end)

    it("gives NETWORK_ERROR for a connection closed mid-body", function()
      fails("NETWORK_ERROR", jobs_request { emulator = { faults = { script = { "close" } } } })
    end)

    it("gives BAD_RESPONSE for bytes that are not HTTP", function()
      local server = rawserver.start("not_http")
      local res, err = request { url = server.base_url .. "/" }
      server:stop()
      fails("BAD_RESPONSE", res, err)
    end)

    it("gives TLS_FAILED for a certificate it cannot verify, and verifies with the CA", function()
      local tls = emulator.start { tls = true }
      local res, err = request { url = tls.base_url .. "/api/oauth/token", method = "POST", body = "" }
      fails("TLS_FAILED", res, err)
      local trusting = new { ca_file = tls.ca_file }
      res = assert(trusting:request { method = "POST", url = tls.base_url .. "/api/oauth/token", body = "",
        headers = {}, timeout = 5, connect_timeout = 5, stall_timeout = 5, max_body = 65536 })
      assert.equal(401, res.status)
      trusting:close()
      tls:stop()
    end)

    it("runs tasks at once, and waits for each", function()
      emu:config { latency = { request = 0.3 } }
      local tasks, started = {}, t:now()
      for i = 1, 4 do
        tasks[i] = t:spawn(function() return assert(token_request()).status, i end)
      end
      for i = 4, 1, -1 do assert.same({ true, 200, i }, { t:wait(tasks[i]) }) end
      assert.is_true(t:now() - started < 1.0, "four 0.3 s requests at once")
      local slow = t:spawn(function() return token_request() end)
      t:cancel(slow)
      assert.same({ false, "cancelled" }, { t:wait(slow) })
      local before = t:now()
      t:sleep(0.2)
      assert.is_true(t:now() - before >= 0.19)
    end)
  end)
end
