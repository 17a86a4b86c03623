-- atlasrestore.new: options, credentials and the environment. No request is sent here.
local atlasrestore = require "atlasrestore"

local function env(vars)
  return function(name) return vars[name] end
end

local KEYS = { MONGODB_ATLAS_PUBLIC_API_KEY = "envpublic", MONGODB_ATLAS_PRIVATE_API_KEY = "env-private-secret" }
local SA = { MONGODB_ATLAS_CLIENT_ID = "mdb_sa_id_env", MONGODB_ATLAS_CLIENT_SECRET = "mdb_sa_sk_env-secret" }

local function merged(...)
  local out = {}
  for _, t in ipairs { ... } do for k, v in pairs(t) do out[k] = v end end
  return out
end

describe("atlasrestore.new", function()
  it("defaults to Atlas, v2, serverless and the documented limits", function()
    local client = assert(atlasrestore.new { public_key = "p", private_key = "secret-key", getenv = env {} })
    assert.equal("https://cloud.mongodb.com", client.base_url)
    assert.equal("v2", client.api_version)
    assert.equal(60, client.settings.timeout)
    assert.equal(10, client.settings.connect_timeout)
    assert.equal("serverless", client.settings.endpoint)
    assert.is_true(client.settings.max_attempts >= 4)
    client:close()
  end)

  it("takes everything from the environment when opts is nil-like", function()
    local client = assert(atlasrestore.new { getenv = env(merged(KEYS, {
      MONGODB_ATLAS_BASE_URL = "https://cloud.mongodbgov.com/" })) })
    assert.equal("https://cloud.mongodbgov.com", client.base_url)
    assert.equal("envpublic", client.digest.username)
    client:close()
  end)

  it("falls back to MONGODB_ATLAS_OPS_MANAGER_URL for the base URL", function()
    local client = assert(atlasrestore.new { getenv = env(merged(SA, {
      MONGODB_ATLAS_OPS_MANAGER_URL = "https://ops.example.net" })) })
    assert.equal("https://ops.example.net", client.base_url)
    assert.is_table(client.tokens)
    client:close()
    client = assert(atlasrestore.new { getenv = env(merged(SA, {
      MONGODB_ATLAS_OPS_MANAGER_URL = "https://ops.example.net",
      MONGODB_ATLAS_BASE_URL = "https://base.example.net" })) })
    assert.equal("https://base.example.net", client.base_url)
    client:close()
  end)

  it("prefers explicit options to the environment, and never mixes kinds", function()
    local client = assert(atlasrestore.new { access_token = "tok-explicit-0001", getenv = env(merged(KEYS, SA)) })
    assert.equal("tok-explicit-0001", client.access_token)
    assert.is_nil(client.digest)
    assert.is_nil(client.tokens)
    client:close()
  end)

  it("picks the API key, then the service account, then the token from the environment", function()
    local client = assert(atlasrestore.new { getenv = env(merged(KEYS, SA, { MONGODB_ATLAS_ACCESS_TOKEN = "t-env" })) })
    assert.is_table(client.digest)
    client:close()
    client = assert(atlasrestore.new { getenv = env(merged(SA, { MONGODB_ATLAS_ACCESS_TOKEN = "t-env" })) })
    assert.is_table(client.tokens)
    client:close()
    client = assert(atlasrestore.new { getenv = env { MONGODB_ATLAS_ACCESS_TOKEN = "t-env" } })
    assert.equal("t-env", client.access_token)
    client:close()
  end)

  local invalid = {
    ["no credentials at all"] = { getenv = env {} },
    ["empty environment values"] = {
      getenv = env { MONGODB_ATLAS_PUBLIC_API_KEY = "", MONGODB_ATLAS_PRIVATE_API_KEY = "" },
    },
    ["two kinds given"] = { public_key = "p", private_key = "k-secret", access_token = "t", getenv = env {} },
    ["key and service account"] = { public_key = "p", private_key = "k", client_id = "i", client_secret = "s" },
    ["half an API key"] = { public_key = "p", getenv = env(KEYS) },
    ["half a service account"] = { client_secret = "s", getenv = env {} },
    ["plain http to a remote host"] = { access_token = "t", base_url = "http://cloud.mongodb.com" },
    ["credentials in the URL"] = { access_token = "t", base_url = "https://user:pw@cloud.mongodb.com" },
    ["not a URL"] = { access_token = "t", base_url = "cloud.mongodb.com" },
    ["ftp"] = { access_token = "t", base_url = "ftp://cloud.mongodb.com" },
    ["unknown api_version"] = { access_token = "t", api_version = "v3" },
    ["unknown endpoint"] = { access_token = "t", endpoint = "dedicated" },
    ["zero timeout"] = { access_token = "t", timeout = 0 },
    ["fractional max_attempts"] = { access_token = "t", max_attempts = 1.5 },
    ["an infinite timeout"] = { access_token = "t", timeout = math.huge },
    ["a NaN deadline"] = { access_token = "t", deadline = 0 / 0 },
    ["max_depth past 1000"] = { access_token = "t", max_depth = 1001 },
    ["no host"] = { access_token = "t", base_url = "http://:8080" },
    ["a space in the host"] = { access_token = "t", base_url = "https://exa mple.com" },
    ["a port that is not a number"] = { access_token = "t", base_url = "https://example.com:https" },
  }
  for name, opts in pairs(invalid) do
    it("returns INVALID_ARGUMENT for " .. name, function()
      local client, err = atlasrestore.new(opts)
      assert.is_nil(client)
      assert.equal("INVALID_ARGUMENT", err.errorCode)
      assert.equal(0, err.attempts)
      assert.matches("^atlasrestore: INVALID_ARGUMENT: ", tostring(err))
    end)
  end

  it("allows plain http on loopback, or anywhere with allow_http", function()
    for _, url in ipairs { "http://127.0.0.1:8080", "http://localhost", "http://[::1]:9" } do
      local client = assert(atlasrestore.new { access_token = "t", base_url = url })
      client:close()
    end
    local client = assert(atlasrestore.new {
      access_token = "t", base_url = "http://atlas.internal", allow_http = true })
    client:close()
  end)

  it("raises on options of the wrong type or unknown options", function()
    assert.has_error(function() atlasrestore.new(42) end)
    assert.has_error(function() atlasrestore.new { timeout = "60" } end)
    assert.has_error(function() atlasrestore.new { debug = "yes" } end)
    assert.has_error(function() atlasrestore.new { privatekey = "oops" } end)
  end)

  it("never shows a secret in tostring", function()
    local client = assert(atlasrestore.new { public_key = "pub", private_key = "very-private-key" })
    assert.is_nil(tostring(client):find("very-private-key", 1, true))
    assert.matches("pub", tostring(client))
    client:close()
  end)

  it("loads its C modules again after being unloaded (busted re-requires)", function()
    for _, name in ipairs { "atlasrestore.core", "atlasrestore.curl" } do
      package.loaded[name] = nil
      local again = require(name)
      assert.is_table(again)
    end
    local core = require "atlasrestore.core"
    assert.equal(3, core.decode("[1,2,3]")[3])
  end)
end)
