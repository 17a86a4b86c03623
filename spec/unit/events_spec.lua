-- The on_event hook, on the fake transport: the typed events of a listing, of
-- retries, tokens, revocations and warnings, none with a secret, and a hook that
-- raises, which breaks nothing.
local atlasrestore = require "atlasrestore"
local core = require "atlasrestore.core"
local fake = require "support.fake_transport"

local GROUP = "65a1b2c3d4e5f60718293a4b"
local PAGE = "/api/atlas/v2/groups/" .. GROUP .. "/serverless/demo/backup/restoreJobs"
local QUERY = "?pageNum=1&itemsPerPage=500&includeCount=false"

local function client_on(handler, opts)
  local t = fake.new(handler)
  local seen = {}
  -- The original endpoint, whose paths these events are checked against.
  local o = { transport = t, base_url = "https://atlas.test", on_warning = function() end,
    on_event = function(e) seen[#seen + 1] = e end, endpoint = "serverless" }
  for k, v in pairs(opts or {}) do o[k] = v end
  return assert(atlasrestore.new(o)), seen, t
end

local function types(seen)
  local out = {}
  for i, e in ipairs(seen) do out[i] = e.type end
  return out
end

local function of_type(seen, kind)
  local out = {}
  for _, e in ipairs(seen) do if e.type == kind then out[#out + 1] = e end end
  return out
end

-- Every string of every event, keys included.
local function strings(seen)
  local out = {}
  for _, e in ipairs(seen) do
    for k, v in pairs(e) do
      out[#out + 1] = tostring(k)
      if type(v) == "string" then out[#out + 1] = v end
      assert(type(v) ~= "table" and type(v) ~= "function", "an event holds a " .. type(v) .. " in " .. k)
    end
  end
  return out
end

local function assert_free_of(seen, secrets)
  for _, text in ipairs(strings(seen)) do
    for _, secret in ipairs(secrets) do
      assert.is_nil(text:find(secret, 1, true), "a secret in an event: " .. text)
    end
  end
end

describe("on_event", function()
  it("tells a Digest listing as request, response and page events", function()
    local handler = fake.digest_server("the-private-key")
    local authorizations = {}
    local client, seen, t = client_on(function(req)
      authorizations[#authorizations + 1] = req.headers.Authorization
      return handler(req)
    end, { public_key = "pubkey", private_key = "the-private-key" })
    assert(client:all_restore_jobs(GROUP, "demo", { concurrency = 1 }))
    assert.same({ "request", "response", "request", "response", "page" }, types(seen))
    assert.same({ type = "request", method = "GET", path = PAGE .. QUERY, attempt = 1, purpose = "api", auth = "none" },
      seen[1])
    assert.equal(401, seen[2].status)
    assert.equal("Digest", seen[3].auth)
    local ok = seen[4]
    assert.equal(200, ok.status)
    assert.equal(#fake.OK.body, ok.bytes)
    assert.equal(1, ok.attempt)
    assert.is_true(ok.elapsed > 0 and ok.elapsed < 1)
    assert.same({ type = "page", page = 1, jobs = 2, total = 2, endpoint = "serverless" }, seen[5])
    assert.equal(2, #t.log)
    local secrets = { "the-private-key" }
    for _, value in ipairs(authorizations) do
      secrets[#secrets + 1] = value
      secrets[#secrets + 1] = value:match('response="(%x+)"')
    end
    assert_free_of(seen, secrets)
  end)

  it("counts the jobs of each page and the total so far", function()
    local client, seen = client_on(function(req)
      local n = tonumber(req.query.pageNum)
      local ids = n == 1 and { fake.id(1), fake.id(2) } or { fake.id(3) }
      return fake.json(200, fake.page(ids, n == 1))
    end, { access_token = "ready-token-0001" })
    assert(client:all_restore_jobs(GROUP, "demo", { items_per_page = 2, concurrency = 1 }))
    local pages = of_type(seen, "page")
    assert.same({ type = "page", page = 1, jobs = 2, total = 2, endpoint = "serverless" }, pages[1])
    assert.same({ type = "page", page = 2, jobs = 1, total = 3, endpoint = "serverless" }, pages[2])
    assert.equal(2, #pages)
  end)

  it("tells a retry: why, the wait and the attempt that failed", function()
    local n = 0
    local client, seen = client_on(function()
      n = n + 1
      if n == 1 then return fake.api_error(429, "RATE_LIMITED", nil, { ["retry-after"] = "7" }) end
      if n == 2 then return { code = "CONNECT_FAILED", message = "connection refused" } end
      return fake.OK
    end, { access_token = "ready-token-0001" })
    assert(client:list_restore_jobs(GROUP, "demo"))
    local retries = of_type(seen, "retry")
    assert.equal(2, #retries)
    assert.equal("RATE_LIMITED", retries[1].why)
    assert.is_true(retries[1].wait >= 7)
    assert.equal(1, retries[1].attempt)
    assert.equal("CONNECT_FAILED", retries[2].why)
    assert.equal(2, retries[2].attempt)
    local failed = of_type(seen, "response")[2]
    assert.same({ "CONNECT_FAILED", "connection refused", 2 }, { failed.error, failed.message, failed.attempt })
    assert.is_nil(failed.status)
    assert.equal(3, of_type(seen, "request")[3].attempt)
  end)

  it("tells a service account's token and its revocation, never the secret, the token or the Basic value", function()
    local handler, issued, revoke = fake.oauth_server { expires_in = 1800 }
    local client, seen = client_on(handler, { client_id = "mdb_sa_id_x", client_secret = "mdb_sa_sk_secret" })
    assert(client:list_restore_jobs(GROUP, "demo"))
    revoke() -- the token is refused from now on
    assert(client:list_restore_jobs(GROUP, "demo"))
    assert.is_true(client:close())
    assert.equal(2, issued())
    assert.same({ { type = "token", expires_in = 1800 }, { type = "token", expires_in = 1800 } },
      of_type(seen, "token"))
    assert.same({ { type = "revoke", ok = true, reason = "refused" },
      { type = "revoke", ok = true, reason = "close" } }, of_type(seen, "revoke"))
    local posts = {}
    for _, e in ipairs(of_type(seen, "request")) do
      if e.method == "POST" then posts[#posts + 1] = ("%s %s %s"):format(e.purpose, e.path, e.auth) end
    end
    assert.same({ "token /api/oauth/token Basic", "revoke /api/oauth/revoke Basic", "token /api/oauth/token Basic",
      "revoke /api/oauth/revoke Basic" }, posts)
    assert_free_of(seen, { "mdb_sa_sk_secret", "token-1", "token-2", core.base64("mdb_sa_id_x:mdb_sa_sk_secret") })
  end)

  it("tells the deprecation warning once, with its path, endpoint and dates", function()
    local deprecated = fake.json(200, fake.page({ fake.id(1) }), { deprecation = "Wed, 10 Dec 2025",
      sunset = "Thu, 15 Jan 2026" })
    local warned = {}
    local client, seen = client_on(function() return deprecated end, { access_token = "ready-token-0001",
      on_warning = function(m) warned[#warned + 1] = m end })
    assert(client:all_restore_jobs(GROUP, "demo"))
    assert(client:all_restore_jobs(GROUP, "demo"))
    local warnings = of_type(seen, "warning")
    assert.equal(1, #warnings)
    assert.same({ type = "warning", message = warned[1], path = PAGE, endpoint = "serverless",
      deprecation = "Wed, 10 Dec 2025", sunset = "Thu, 15 Jan 2026" }, warnings[1])
  end)

  it("is the debug log's source: the same requests, in its words", function()
    local lines = {}
    local client, seen = client_on(fake.digest_server("the-private-key"), { public_key = "pubkey",
      private_key = "the-private-key", debug = function(line) lines[#lines + 1] = line end })
    assert(client:list_restore_jobs(GROUP, "demo"))
    assert.equal(4, #lines)
    assert.equal(4, #seen)
    assert.equal("atlasrestore: > GET https://atlas.test" .. PAGE .. " (attempt 1, auth none)", lines[1])
    assert.matches("^atlasrestore: < GET https://atlas%.test" .. PAGE:gsub("%p", "%%%0")
      .. " %-> 200 %(attempt 1, %d+%.%d ms, %d+ bytes%)$", lines[4])
  end)

  it("cannot break a listing, a token fetch or a revocation from a hook that raises: one warning says so", function()
    local handler, issued = fake.oauth_server()
    local warned, calls = {}, 0
    local client = assert(atlasrestore.new { transport = fake.new(handler), base_url = "https://atlas.test",
      client_id = "mdb_sa_id_x", client_secret = "mdb_sa_sk_secret",
      on_warning = function(m) warned[#warned + 1] = m end,
      on_event = function(e)
        calls = calls + 1
        error("broken hook saw a " .. e.type .. " with mdb_sa_sk_secret")
      end })
    local jobs = assert(client:all_restore_jobs(GROUP, "demo"))
    assert.equal(2, #jobs)
    assert.equal(1, issued())
    assert.is_true(client:close())
    assert.equal(3 + 3 + 3, calls, "every event was still delivered: the token, the page, the revocation")
    assert.equal(1, #warned)
    assert.matches("^atlasrestore: warning: on_event raised on a request event %(reported once%): .*broken hook",
      warned[1])
    assert.is_nil(warned[1]:find("mdb_sa_sk_secret", 1, true))
  end)

  it("must be a function", function()
    assert.has_error(function() atlasrestore.new { access_token = "x", on_event = true } end)
  end)
end)
