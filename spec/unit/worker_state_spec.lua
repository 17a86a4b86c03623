-- Inside nginx a client lives for one request, and what makes a listing cheap lives
-- per worker (atlasrestore.shared, atlasrestore.tokenstore). Here: a client and a fake
-- transport per "request", and a stand-in `ngx` whose clock the specs move; the real
-- nginx runs in spec/nginx.
local atlasrestore = require "atlasrestore"
local fake = require "support.fake_transport"

local GROUP = "65a1b2c3d4e5f60718293a4b"
local KEY = { public_key = "pubkey", private_key = "the-private-key" }
local SA = { client_id = "mdb_sa_id_x", client_secret = "mdb_sa_sk_secret" }

describe("clients of one nginx worker", function()
  local clock, specs, base = 0, 0, nil

  before_each(function()
    clock, specs = 5000, specs + 1
    -- The worker keeps its state by base URL and credentials: a base URL of its own per spec.
    base = ("https://atlas-%d.test"):format(specs)
    local function same(s) return s end
    _G.ngx = { get_phase = function() return "content" end, now = function() return clock end, shared = {},
      sha1_bin = same, encode_base64 = same, md5 = same }
  end)
  after_each(function() _G.ngx = nil end)

  -- One request: a client on a transport of its own, one page, close(close_opts).
  -- Returns the page or nil, err, and every request that went out so far.
  local log = {}
  local function request(handler, creds, close_opts)
    local t = fake.new(handler)
    local o = { transport = t, base_url = base, on_warning = function() end }
    for k, v in pairs(creds) do o[k] = v end
    local client = assert(atlasrestore.new(o))
    local page, err = client:list_restore_jobs(GROUP, "demo")
    assert.is_true(client:close(close_opts))
    for _, r in ipairs(t.log) do log[#log + 1] = r end
    return page, err
  end
  before_each(function() log = {} end)

  it("share the Digest nonce: one challenge for three clients", function()
    local handler, challenges = fake.digest_server("the-private-key")
    for _ = 1, 3 do assert(request(handler, KEY)) end
    assert.equal(1, challenges())
    assert.equal(4, #log)
  end)

  it("share the token, which close() does not revoke", function()
    local handler, issued = fake.oauth_server()
    for _ = 1, 3 do assert(request(handler, SA)) end
    assert.equal(1, issued())
    assert.equal(0, fake.count(log, "/api/oauth/revoke"))
  end)

  it("revoke it on close { revoke = true }; the next client fetches a new one", function()
    local handler, issued = fake.oauth_server()
    assert(request(handler, SA, { revoke = true }))
    assert.equal(1, fake.count(log, "/api/oauth/revoke"))
    assert(request(handler, SA))
    assert.equal(2, issued())
  end)

  it("take a failed token request's answer for a second, without asking again", function()
    local failures = 0
    local function refusing(req)
      if req.path == "/api/oauth/token" then
        failures = failures + 1
        return fake.json(401, { error = "invalid_client", error_description = "no such client" })
      end
      return fake.OK
    end
    local _, err = request(refusing, SA)
    assert.equal("invalid_client", err.errorCode)
    _, err = request(refusing, SA)
    assert.equal("invalid_client", err.errorCode)
    assert.equal("no such client", err.detail)
    assert.equal(1, failures)
    clock = clock + 1.5
    request(refusing, SA)
    assert.equal(2, failures)
  end)

  it("do not renew for a twelfth of a lifetime once a renewed token was refused", function()
    local handler, issued = fake.oauth_server { refuse = true }
    local _, err = request(handler, SA)
    assert.equal("auth", err.kind)
    assert.equal(2, issued(), "the token and one renewal")
    _, err = request(handler, SA)
    assert.equal("auth", err.kind)
    assert.equal(2, issued(), "another client waits too")
    clock = clock + 3600 / 12 + 1
    request(handler, SA)
    assert.equal(3, issued())
  end)

  it("renew a token before it expires, for every client", function()
    local handler, issued = fake.oauth_server { expires_in = 100 }
    assert(request(handler, SA))
    clock = clock + 80
    assert(request(handler, SA))
    assert.equal(1, issued())
    clock = clock + 15 -- past expires_in minus a tenth of it
    assert(request(handler, SA))
    assert.equal(2, issued())
  end)
end)
