-- Inside nginx, the cosocket transport behaves as libcurl does: every case runs in the
-- same worker with each transport (libcurl forced: it blocks the worker, which only
-- the emulator, another nginx, has to bear), and the same assertions hold for both.
local cjson = require "cjson"
local emulator = require "support.emulator"
local nginx_host = require "support.nginx_host"
local rawserver = require "support.rawserver"
local socket = require "socket"

local TRANSPORTS = { "cosocket", "curl" }

-- Every string in `out` (debug lines, errors, warnings) must be free of the secrets.
local function assert_no_secret(out, secrets)
  local text = cjson.encode(out)
  for _, secret in ipairs(secrets) do assert.is_nil(text:find(secret, 1, true), "a secret left the module") end
end

local function unique(ids)
  local seen = {}
  for _, id in ipairs(ids) do
    if seen[id] then return false end
    seen[id] = true
  end
  return true
end

describe("inside nginx, both transports", function()
  local emu, host

  nginx_host.around(function(e, h) emu, host = e, h end)

  --- One listing in the host with `args` (and the transport): its answer and the
  -- emulator's stats. The worker first lists once with the same credentials, and the
  -- emulator then forgets them: each transport starts from the same worker state.
  local function list(transport, args, config)
    host:json("/list?" .. nginx_host.query { kind = args.kind or "key" })
    emu:reset()
    if config then emu:config(config) end
    local query = { transport = transport }
    for k, v in pairs(args) do query[k] = v end
    local _, out = host:json("/list?" .. nginx_host.query(query))
    assert.is_nil(out.raised)
    return out, emu:stats()
  end

  -- The same against a raw server (spec/support/rawserver.lua) in `mode`: the answer and the server's stats.
  local function against(transport, mode, param, args)
    local server = rawserver.start(mode, param)
    args.base, args.kind, args.token = server.base_url, "token", "raw-token"
    local out = list(transport, args)
    local stats = server.stats()
    server.stop()
    return out, stats
  end

  for _, transport in ipairs(TRANSPORTS) do
    describe(transport, function()
      it("lists with Digest, a challenge and then one request a page, and logs no secret", function()
        local out, stats = list(transport, { name = "jobs-1000" })
        assert.equal(1000, out.count)
        assert.is_true(unique(out.ids))
        assert.equal(2, stats.list_requests)
        assert.equal(1, stats.challenges)
        assert.equal(6, #out.debug, "a line per request and per response: 401, answer, page 2")
        assert_no_secret(out, { emu.private_key })
      end)

      it("asks for gzip and inflates each page once: 1,000 jobs in a fraction of their size on the wire", function()
        local out = list(transport, { name = "jobs-1000", items_per_page = 500 })
        assert.equal(1000, out.count)
        assert.is_true(unique(out.ids))
        -- Two pages of about 300 KB each as JSON; gzip makes them about 20 KB.
        assert.truthy(out.wire_bytes > 0 and out.wire_bytes < 100000, out.wire_bytes)
      end)

      it("lists with a service account's token, renewed once after a 401", function()
        local out, stats = list(transport, { kind = "sa" })
        assert.equal(7, out.count)
        assert.equal(1, stats.tokens)
        assert.equal(1, stats.list_requests, "the retry of the refused request")
        assert_no_secret(out, { emu.client_secret })
      end)

      it("keeps at most 4 pages in flight with concurrency = 4, and lists every job once", function()
        local out, stats = list(transport, { name = "jobs-10000", concurrency = 4 }, { latency = { request = 0.05 } })
        assert.is_nil(out.err)
        assert.equal(10000, out.count)
        assert.is_true(unique(out.ids))
        assert.equal(4, stats.max_in_flight)
      end)

      it("waits Retry-After before retrying a 429", function()
        local out, stats = list(transport, {}, { faults = { retry_after = 1, script = { "429" } } })
        assert.equal(7, out.count)
        assert.equal(2, stats.list_requests)
        assert.is_true(out.seconds >= 0.95)
      end)

      it("does not wait past the deadline", function()
        local out = list(transport, { deadline = 1 }, { faults = { retry_after = 5, script = { "429", "429" } } })
        assert.equal("RATE_LIMITED_TOKEN_BUCKET", out.err.errorCode)
        assert.equal(429, out.err.status)
        assert.is_true(out.seconds < 1.5)
      end)

      for _, kind in ipairs { "truncated", "malformed", "close", "503" } do
        it("retries a " .. kind .. " answer", function()
          local out, stats = list(transport, {}, { faults = { retry_after = 0, script = { kind } } })
          assert.equal(7, out.count)
          assert.equal(2, stats.list_requests)
        end)
      end

      it("ends a stalled attempt at timeout, each attempt", function()
        local out = list(transport, { timeout = 0.5, max_attempts = 2 },
          { stall_seconds = 3, faults = { script = { "stall", "stall" } } })
        assert.equal("TIMEOUT", out.err.errorCode)
        assert.equal(2, out.err.attempts)
        assert.is_true(out.seconds < 2)
      end)

      it("cuts off a server that trickles one byte a second", function()
        local out = list(transport, { stall_timeout = 1, max_attempts = 1 },
          { stall_seconds = 4, faults = { script = { "trickle" } } })
        assert.equal("TIMEOUT", out.err.errorCode)
        assert.is_true(out.seconds < 3)
      end)

      it("retries a connection reset, then reports NETWORK_ERROR", function()
        local out = against(transport, "reset", nil, { max_attempts = 2 })
        assert.equal("NETWORK_ERROR", out.err.errorCode)
        assert.equal(2, out.err.attempts)
        assert.is_nil(out.err.status)
      end)

      it("reports CONNECT_FAILED for a server that is gone", function()
        local out = list(transport, { base = "http://127.0.0.1:" .. emulator.free_ports(1), max_attempts = 2 })
        assert.equal("CONNECT_FAILED", out.err.errorCode)
        assert.equal(2, out.err.attempts)
      end)

      it("refuses a 512 MB body from its Content-Length, without reading it", function()
        local out = against(transport, "huge", nil, { max_attempts = 1 })
        assert.equal("RESPONSE_TOO_LARGE", out.err.errorCode)
        assert.is_true(out.seconds < 1, "nothing waited for the body")
      end)

      it("refuses a page past max_body_size", function()
        local out = list(transport, { name = "jobs-1000", max_body_size = 10000 })
        assert.equal("RESPONSE_TOO_LARGE", out.err.errorCode)
        assert.equal(1, out.err.attempts, "the same answer would come again")
      end)

      it("follows no redirect and no link from a body", function()
        local out = against(transport, "redirect", emu.trap_url, { max_attempts = 1 })
        assert.equal("HTTP_302", out.err.errorCode)
        local hostile, stats = list(transport, { name = "hostile-next", items_per_page = 1 })
        assert.equal(3, hostile.count)
        assert.equal(0, stats.trap)
      end)

      it("never takes bytes that came on an idle connection for the next answer", function()
        local out, stats = against(transport, "stray", "503", {})
        assert.same(rawserver.REAL_JOBS, out.ids, "the retry after the 503 got the real jobs")
        assert.same({ 1, 1 }, stats.per_connection, "on a connection of its own")
        for status, code in pairs { ["304"] = "HTTP_304", ["204"] = "BAD_RESPONSE" } do
          local server = rawserver.start("stray", status)
          local args = { base = server.base_url, kind = "token", token = "raw-token", max_attempts = 1 }
          assert.equal(code, list(transport, args).err.errorCode)
          socket.sleep(0.5) -- the stray bytes come 0.2 s after the answer
          assert.same(rawserver.REAL_JOBS, list(transport, args).ids)
          stats = server.stats()
          server.stop()
          assert.same({ 1, 1 }, stats.per_connection)
        end
      end)

      it("ends with BAD_RESPONSE on a server that repeats its pages, or jobs without ids", function()
        assert.equal("BAD_RESPONSE", list(transport, { name = "same-jobs", items_per_page = 10 }).err.errorCode)
        assert.equal("BAD_RESPONSE", list(transport, { name = "no-ids" }).err.errorCode)
      end)
    end)
  end

  it("re-uses the worker's Digest nonce: 5 listings, each with a client of its own, cost 5 x 2 pages + 1 challenge",
    function()
      emu:reset()
      for _ = 1, 5 do
        local _, out = host:json("/list?name=jobs-1000")
        assert.equal(1000, out.count)
      end
      local stats = emu:stats()
      assert.equal(10, stats.list_requests)
      assert.equal(1, stats.challenges)
    end)

  -- The 401s a log holds.
  local function refusals(log)
    local n = 0
    for _, entry in ipairs(log) do if entry.status == 401 then n = n + 1 end end
    return n
  end

  it("re-uses the worker's token: 5 listings, each with a client of its own, cost 1 token request", function()
    emu:reset()
    for _ = 1, 5 do
      local _, out = host:json("/list?kind=sa")
      assert.equal(7, out.count)
      assert.is_true(out.closed)
    end
    local stats = emu:stats()
    assert.equal(1, stats.tokens)
    -- A token the worker kept from before the reset is refused once, and revoked then.
    assert.equal(refusals(stats.log), stats.revokes, "close() leaves the worker's token alone")
    assert.equal(1, stats.live_tokens)
  end)

  it("revokes the worker's token on close { revoke = true }, and the next listing fetches a new one", function()
    emu:reset()
    assert.equal(7, select(2, host:json("/list?kind=sa")).count) -- the worker's token, renewed after the reset
    local _, out = host:json("/list?kind=sa&revoke=1")
    assert.is_true(out.closed)
    local before = emu:stats()
    assert.equal(1 + refusals(before.log), before.revokes, "close { revoke = true }, and a refused token")
    assert.equal(0, before.live_tokens)
    assert.equal(7, select(2, host:json("/list?kind=sa")).count)
    local stats = emu:stats()
    assert.equal(1, stats.tokens - before.tokens)
    for i = #before.log + 1, #stats.log do
      assert.are_not.equal(401, stats.log[i].status, "no request used the revoked token")
    end
  end)

  it("leaves no problem in nginx's error log", function()
    -- nginx logs a reset of a connection of its own at error; the reset server provoked it.
    assert.same({}, host:problems { "recv%(%) failed %(104: Connection reset by peer%)" })
  end)
end)

describe("inside nginx, the module's own log lines", function()
  local emu, host

  nginx_host.around(function(e, h) emu, host = e, h end)

  it("go to nginx's error log: debug lines at notice, the deprecation warning at warn, once per worker", function()
    for _ = 1, 3 do assert.equal(7, select(2, host:json("/list?log=1")).count) end
    local log = host:error_log()
    local _, warnings = log:gsub("%[warn%][^\n]*atlasrestore: warning: the serverless endpoint is deprecated, "
      .. "sunset 2026%-01%-22", "")
    assert.equal(1, warnings)
    local _, debug = log:gsub("%[notice%][^\n]*atlasrestore: [<>] GET ", "")
    assert.equal(2 * 4, debug, "3 listings: a challenge and 3 pages, a line each way")
    assert.is_nil(log:find(emu.private_key, 1, true))
    assert.same({}, host:problems())
  end)
end)

describe("inside nginx, TLS", function()
  -- `host` trusts the emulator's throwaway CA in one location; `bare` trusts nothing.
  -- (Two nginx: a worker's pool would hand the one's verified connection to the other.)
  local emu, host, bare

  lazy_setup(function()
    emu = emulator.start { tls = true }
    local env = nginx_host.emulator_env(emu, { EMU_BASE_URL = "https://localhost:" .. emu.port })
    bare = nginx_host.start { env = env }
    host = nginx_host.start {
      env = env,
      server = ([[
        location = /trusted/list {
            lua_ssl_trusted_certificate %s;
            lua_ssl_verify_depth 2;
            lua_ssl_protocols TLSv1.3;
            content_by_lua_block { require("app").list() }
        }]]):format(emu.ca_file),
    }
  end)
  lazy_teardown(function()
    if host then host:stop() end
    if bare then bare:stop() end
    if emu then emu:stop() end
  end)

  it("lists through a CA in lua_ssl_trusted_certificate, over cosockets", function()
    local _, out = host:json("/trusted/list")
    assert.is_nil(out.err)
    assert.equal(7, out.count)
  end)

  it("refuses the server without it: TLS_FAILED, every time", function()
    -- (A handshake that ends at once can answer true on a failed verification in
    -- lua-nginx-module 0.10.23, having closed the connection: still TLS_FAILED.)
    for _ = 1, 5 do
      local _, out = bare:json("/list?max_attempts=1")
      assert.equal("TLS_FAILED", out.err.errorCode)
      assert.is_nil(out.err.status)
    end
  end)

  it("refuses a certificate for another name: TLS_FAILED", function()
    local _, out = host:json("/trusted/list?" .. nginx_host.query { max_attempts = 1, base = emu.base_url })
    assert.equal("TLS_FAILED", out.err.errorCode)
    assert.matches("host name", out.err.message)
  end)

  it("gives the same outcomes as libcurl with ca_file, and without", function()
    local _, out = host:json("/list?" .. nginx_host.query { transport = "curl", ca_file = emu.ca_file })
    assert.equal(7, out.count)
    _, out = host:json("/list?transport=curl&max_attempts=1")
    assert.equal("TLS_FAILED", out.err.errorCode)
  end)

  it("refuses ca_file with the cosocket transport, naming lua_ssl_trusted_certificate", function()
    local _, out = host:json("/list?" .. nginx_host.query { ca_file = emu.ca_file })
    assert.equal("INVALID_ARGUMENT", out.err.errorCode)
    assert.matches("lua_ssl_trusted_certificate", out.err.message)
  end)

  it("leaves no problem in nginx's error log", function()
    assert.same({}, host:problems())
    assert.same({}, bare:problems())
  end)
end)
