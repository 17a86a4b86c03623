-- The request pipeline and the credential strategies, on the fake transport:
-- every retry rule, the Digest and token exchanges, in virtual time.
local core = require "atlasrestore.core"
local fake = require "support.fake_transport"

local GROUP = "65a1b2c3d4e5f60718293a4b"
local PAGE = "/api/atlas/v2/groups/" .. GROUP .. "/serverless/demo/backup/restoreJobs"

local client_on = fake.client

--- A handler that plays `answers` in order, then repeats the last one.
local function script(answers)
  local i = 0
  return function()
    i = math.min(i + 1, #answers)
    local a = answers[i]
    return type(a) == "function" and a() or a
  end
end

local OK = fake.OK

local function list(client) return client:list_restore_jobs(GROUP, "demo") end

describe("the pipeline's retries", function()
  it("waits out Retry-After on a 429, then succeeds", function()
    local client, t = client_on(script { fake.api_error(429, "RATE_LIMITED", nil, { ["retry-after"] = "7" }), OK })
    local page = assert(list(client))
    assert.equal(2, #page.results)
    assert.equal(2, #t.log)
    assert.is_true(t.log[2].at - t.log[1].at >= 7)
  end)

  it("reads the wait from a RATE_LIMITED_TOKEN_BUCKET body when Retry-After is missing", function()
    local client, t = client_on(script {
      fake.api_error(429, "RATE_LIMITED_TOKEN_BUCKET", "Please retry after 55 seconds."), OK })
    assert(list(client))
    assert.is_true(t.log[2].at - t.log[1].at >= 55)
  end)

  it("backs off with full jitter under the exponential bound when nothing says how long", function()
    local client, t = client_on(script { fake.api_error(429, "RATE_LIMITED"), fake.api_error(503, "X"),
      fake.api_error(502, "X"), OK }, { retry_base_delay = 1 })
    assert(list(client))
    assert.equal(4, #t.log)
    for n = 2, 4 do
      local gap = t.log[n].at - t.log[n - 1].at
      assert.is_true(gap <= 2 ^ (n - 2) + 0.011, ("gap %d is %.3f"):format(n, gap))
    end
  end)

  it("gives up on a 5xx after max_attempts, as a server error", function()
    local client, t = client_on(script { fake.api_error(500, "UNEXPECTED_ERROR") }, { max_attempts = 3 })
    local page, err = list(client)
    assert.is_nil(page)
    assert.equal(3, #t.log)
    assert.equal("server", err.kind)
    assert.equal(3, err.attempts)
    assert.matches("%[after 3 attempts%]$", tostring(err))
  end)

  it("retries connection failures and timeouts, not TLS failures", function()
    local client, t = client_on(script { { code = "CONNECT_FAILED" }, { code = "TIMEOUT" }, OK })
    assert(list(client))
    assert.equal(3, #t.log)
    client, t = client_on(script { { code = "TLS_FAILED", message = "certificate verify failed" } })
    local _, err = list(client)
    assert.equal(1, #t.log)
    assert.equal("network", err.kind)
  end)

  it("retries a broken 2xx body, not a 4xx, and not a body past a limit", function()
    local client, t = client_on(script { { status = 200, body = '{"results": [' }, OK })
    assert(list(client))
    assert.equal(2, #t.log)
    client, t = client_on(script { fake.api_error(400, "INVALID_QUERY_PARAMETER") })
    local _, err = list(client)
    assert.equal(1, #t.log)
    assert.equal("refused", err.kind)
    client, t = client_on(script { { code = "RESPONSE_TOO_LARGE", message = "body past max_body_size" } })
    _, err = list(client)
    assert.equal(1, #t.log, "the same answer would come back")
    assert.equal("bad_response", err.kind)
  end)

  it("starts no wait that would pass the deadline", function()
    local client, t = client_on(script { fake.api_error(429, "RATE_LIMITED", nil, { ["retry-after"] = "30" }), OK },
      { deadline = 10 })
    local _, err = list(client)
    assert.equal(1, #t.log)
    assert.equal("rate_limited", err.kind)
    assert.is_true(t:now() - t.log[1].at < 1)
  end)

  it("cuts an attempt at what is left of the deadline", function()
    local slow = { status = 200, body = "{}", latency = 100 }
    local client, t = client_on(script { slow }, { deadline = 5, timeout = 60 })
    local _, err = list(client)
    assert.equal("TIMEOUT", err.errorCode)
    assert.is_true(t.log[1].timeout <= 5)
    assert.is_true(t:now() - t.log[1].at <= 5.01)
  end)
end)

describe("the Digest exchange", function()
  local KEY = { public_key = "pubkey", private_key = "the-private-key" }

  it("answers one challenge, then re-uses the nonce with nc counting up", function()
    local handler, challenges = fake.digest_server("the-private-key")
    local client, t = client_on(handler, KEY)
    for _ = 1, 3 do assert(list(client)) end
    assert.equal(4, #t.log, "one challenge, then one request per call")
    assert.equal(1, challenges())
    assert.is_nil(t.log[1].headers.Authorization)
    assert.matches("nc=00000001", t.log[2].headers.Authorization)
    assert.matches("nc=00000003", t.log[4].headers.Authorization)
  end)

  it("costs one more request when the nonce goes stale", function()
    local handler, challenges = fake.digest_server("the-private-key", { nonce_uses = 2 })
    local client, t = client_on(handler, KEY)
    for _ = 1, 3 do assert(list(client)) end
    assert.equal(5, #t.log)
    assert.equal(2, challenges())
  end)

  it("answers a fresh challenge once: a wrong key is a 401, an auth error", function()
    local handler = fake.digest_server("another-key")
    local client, t = client_on(handler, KEY)
    local _, err = list(client)
    assert.equal(2, #t.log)
    assert.equal(401, err.status)
    assert.equal("auth", err.kind)
    assert.equal(1, err.attempts)
  end)
end)

describe("the service-account exchange", function()
  local SA = { client_id = "mdb_sa_id_x", client_secret = "mdb_sa_sk_secret" }

  -- The paths of a log, the revocations named by the token they revoke.
  local function trail(log)
    local out = {}
    for i, r in ipairs(log) do
      out[i] = r.path == "/api/oauth/revoke" and "revoke " .. r.body:match("^token=([^&]+)")
        or r.path == PAGE and "page" or r.path
    end
    return out
  end

  it("fetches one token, re-uses it until shortly before it expires, and revokes it when it renews it", function()
    local handler, issued = fake.oauth_server { expires_in = 100 }
    local client, t = client_on(handler, SA)
    assert(list(client))
    t:advance(80)
    assert(list(client))
    assert.equal(1, issued())
    t:advance(15) -- past expires_in minus a tenth of it
    assert(list(client))
    assert.equal(2, issued())
    assert.matches("^Basic ", t.log[1].headers.Authorization)
    assert.same({ "/api/oauth/token", "page", "page", "revoke token-1", "/api/oauth/token", "page" }, trail(t.log))
    assert.is_true(client:close())
    assert.equal("revoke token-2", trail(t.log)[7])
    assert.equal(7, #t.log)
  end)

  it("revokes a refused token before it fetches another, and retries", function()
    local handler, issued, revoke = fake.oauth_server()
    local client, t = client_on(handler, SA)
    assert(list(client))
    revoke()
    assert(list(client))
    assert.equal(2, issued())
    assert.same({ "/api/oauth/token", "page", "page", "revoke token-1", "/api/oauth/token", "page" }, trail(t.log))
    assert.matches("^Basic ", t.log[4].headers.Authorization)
    assert.is_true(client:close())
    assert.same({ "revoke token-2" }, { trail(t.log)[7] })
    assert.equal(7, #t.log)
  end)

  it("stops renewing for an account that is refused whatever its token, and leaves no token alive", function()
    local handler, issued = fake.oauth_server { refuse = true }
    local client, t = client_on(handler, SA)
    local _, err = list(client)
    assert.equal("auth", err.kind)
    assert.equal(2, issued(), "one renewal")
    list(client)
    assert.equal(2, issued(), "no new token within a twelfth of its lifetime")
    assert.is_true(client:close())
    assert.same({ "/api/oauth/token", "page", "revoke token-1", "/api/oauth/token", "page", "page",
      "revoke token-2" }, trail(t.log))
  end)

  it("lists all the same when the revocation of a refused token fails, and says so in an event", function()
    local issued, revokes, seen = 0, 0, {}
    local client, t = client_on(function(req)
      if req.path == "/api/oauth/token" then
        issued = issued + 1
        return fake.json(200, { access_token = "token-" .. issued, expires_in = 3600 })
      elseif req.path == "/api/oauth/revoke" then
        revokes = revokes + 1
        return revokes == 1 and { code = "CONNECT_FAILED" } or { status = 200, body = "" }
      end
      if req.headers.Authorization ~= "Bearer token-2" then return fake.api_error(401, "NOT_AUTHORIZED") end
      return fake.OK
    end, { client_id = SA.client_id, client_secret = SA.client_secret,
      on_event = function(e) if e.type == "revoke" then seen[#seen + 1] = e end end })
    local page = assert(list(client))
    assert.equal(2, #page.results)
    assert.same({ "/api/oauth/token", "page", "revoke token-1", "/api/oauth/token", "page" }, trail(t.log))
    assert.same({ type = "revoke", ok = false, reason = "refused", error = "CONNECT_FAILED",
      message = "CONNECT_FAILED" }, seen[1])
    assert.is_true(client:close())
    assert.same({ type = "revoke", ok = true, reason = "close" }, seen[2])
    assert.equal(6, #t.log, "one revocation each: the failed one is not tried again")
  end)

  it("revokes a token refused on parallel pages once", function()
    local issued, pages = 0, 0
    local client, t = client_on(function(req)
      if req.path == "/api/oauth/token" then
        issued = issued + 1
        return fake.json(200, { access_token = "token-" .. issued, expires_in = 3600 }, nil, 0.5)
      elseif req.path == "/api/oauth/revoke" then
        return { status = 200, body = "" }
      end
      pages = pages + 1
      -- Page 1 with token-1; pages 2-5 are sent at once with it and all refused.
      if req.query.pageNum ~= "1" and req.headers.Authorization ~= "Bearer token-2" then
        return fake.api_error(401, "NOT_AUTHORIZED")
      end
      local n = tonumber(req.query.pageNum)
      local ids = {}
      for i = 1, n < 5 and 2 or 1 do ids[i] = fake.id(n * 10 + i) end
      local doc = fake.page(ids, n < 5)
      doc.totalCount = 9
      return fake.json(200, doc)
    end, { client_id = SA.client_id, client_secret = SA.client_secret })
    local jobs = assert(client:all_restore_jobs(GROUP, "demo", { items_per_page = 2, concurrency = 4 }))
    assert.equal(9, #jobs)
    assert.equal(2, issued)
    assert.equal(1, fake.count(t.log, "/api/oauth/revoke"))
    assert.equal(1 + 4 + 4, pages, "page 1, four refused, four sent again")
    client:close()
    assert.equal(2, fake.count(t.log, "/api/oauth/revoke"))
  end)

  it("refuses a token it could not send: BAD_RESPONSE, and the request is never made", function()
    for _, bad in ipairs { "tok\r\nX-Injected: 1", "tok en", ("t"):rep(20000) } do
      local client, t = client_on(script { fake.json(200, { access_token = bad, expires_in = 3600 }) },
        { client_id = "mdb_sa_id_x", client_secret = "mdb_sa_sk_secret", max_attempts = 2 })
      local _, err = list(client)
      assert.equal("BAD_RESPONSE", err.errorCode)
      assert.equal(2, fake.count(t.log, "/api/oauth/token"), "retried like a broken body")
      assert.equal(0, fake.count(t.log, PAGE))
    end
  end)

  it("revokes its token on close, and a failed revocation can be retried", function()
    local answers = { fake.json(200, { access_token = "tok-1", expires_in = 3600 }), OK,
      fake.json(503, { error = "server_error" }), { status = 200, body = "" } }
    local client, t = client_on(script(answers), SA)
    assert(list(client))
    local ok, err = client:close()
    assert.is_nil(ok)
    assert.equal("server", err.kind)
    assert.has_error(function() list(client) end, "'list_restore_jobs' called on a closed client")
    assert.is_true(client:close())
    assert.equal(2, fake.count(t.log, "/api/oauth/revoke"))
    assert.is_true(client:close())
    assert.equal(2, fake.count(t.log, "/api/oauth/revoke"))
    assert.equal(1, t.closed)
  end)
end)

describe("the caller's own limits", function()
  it("does not retry a body past max_depth: the same answer would come back", function()
    local deep = { status = 200, body = '{"results": [' .. ("["):rep(20) .. ("]"):rep(20) .. "]}" }
    local client, t = client_on(script { deep }, { max_depth = 8 })
    local _, err = list(client)
    assert.equal("BAD_RESPONSE", err.errorCode)
    assert.equal("max_depth", err.limit)
    assert.equal(1, #t.log)
  end)
end)

describe("secrets echoed by a server", function()
  local routes = require "atlasrestore.routes"

  it("never surface a Digest response, raw or URL-encoded, nor a Bearer value in base64", function()
    local handler = fake.digest_server("the-private-key")
    local seen
    local client = client_on(function(req)
      local answer = handler(req)
      if answer.status == 200 then
        seen = req.headers.Authorization
        return fake.api_error(400, "INVALID_QUERY_PARAMETER", "got " .. routes.url_encode(seen) .. " and "
          .. core.base64("x" .. seen))
      end
      return answer
    end, { public_key = "pubkey", private_key = "the-private-key" })
    local _, err = list(client)
    local hash = seen:match('response="(%x+)"')
    assert.is_string(hash)
    assert.is_nil(err.detail:find(hash, 1, true))
    assert.is_nil(tostring(err):find(hash, 1, true))
    assert.matches("REDACTED", err.detail)
  end)

  it("keep at most 4 KiB of a server's error text", function()
    local client = client_on(script { fake.api_error(400, "INVALID_QUERY_PARAMETER", ("x"):rep(1000000)) })
    local _, err = list(client)
    assert.is_true(#err.detail <= 4096 + 20)
    assert.matches("%[truncated%]$", err.detail)
  end)
end)

describe("hostile sizes", function()
  it("refuse a 10 MB token from its size, before any work on its bytes", function()
    local big = ("t"):rep(10 * 1024 * 1024)
    local client, t = client_on(script { fake.json(200, { access_token = big, expires_in = 3600 }) },
      { client_id = "mdb_sa_id_x", client_secret = "mdb_sa_sk_secret", max_attempts = 2 })
    local _, err = list(client)
    assert.equal("BAD_RESPONSE", err.errorCode)
    assert.matches("more than the 16384 allowed", err.message, 1, true)
    assert.equal(0, fake.count(t.log, PAGE))
  end)

  it("never send a Digest answer built from a challenge with CR, LF or NUL", function()
    local client, t = client_on(script {
      fake.api_error(401, "UNEXPECTED_ERROR", nil, { ["www-authenticate"] = {
        'Digest realm="MMS Public API", nonce="abc", algorithm=MD5, qop="auth", opaque="x\ry"' } }) },
      { public_key = "pubkey", private_key = "the-private-key", max_attempts = 2 })
    local _, err = list(client)
    assert.equal("BAD_RESPONSE", err.errorCode)
    assert.equal(2, #t.log, "retried like a broken body")
    for _, r in ipairs(t.log) do assert.is_nil(r.headers.Authorization) end
  end)
end)

describe("the deprecation warning", function()
  local DEPRECATED = fake.json(200, fake.page({ fake.id(1) }), { deprecation = "Wed, 10 Dec 2025",
    sunset = "Thu, 15 Jan 2026" })

  it("comes once per client, and advises \"auto\" only to callers who do not use it", function()
    local warnings = {}
    local client = client_on(script { DEPRECATED }, { on_warning = function(m) warnings[#warnings + 1] = m end })
    assert(list(client))
    assert(list(client))
    assert.equal(1, #warnings)
    assert.equal('atlasrestore: warning: the serverless endpoint is deprecated, sunset 2026-01-22 (Deprecation: '
      .. 'Wed, 10 Dec 2025; Sunset: Thu, 15 Jan 2026); endpoint "auto" follows the instances that moved', warnings[1])
    warnings = {}
    client = client_on(script { fake.api_error(404, "CLUSTER_NOT_FOUND"), DEPRECATED },
      { on_warning = function(m) warnings[#warnings + 1] = m end })
    assert(client:all_restore_jobs(GROUP, "demo", { endpoint = "auto" }))
    assert.equal(1, #warnings)
    assert.is_nil(warnings[1]:find("auto", 1, true))
  end)

  it("cannot break a listing, even from a hook that raises", function()
    local client = client_on(script { DEPRECATED }, { on_warning = function() error("hook failed") end })
    assert.equal(1, #assert(list(client)).results)
  end)
end)
