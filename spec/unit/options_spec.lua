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

describe("options.client (what atlasrestore.new checks)", function()
  local options = require "atlasrestore.options"

  it("defaults to Atlas, v2, endpoint auto and the documented limits", function()
    local settings, creds, base = options.client { public_key = "p", private_key = "secret-key", getenv = env {} }
    assert.equal("https://cloud.mongodb.com", base.url)
    assert.equal("v2", settings.api_version)
    assert.equal(60, settings.timeout)
    assert.equal(10, settings.connect_timeout)
    assert.equal("auto", settings.endpoint)
    assert.is_true(settings.max_attempts >= 4)
    assert.same({ public_key = "p", private_key = "secret-key" }, creds)
    assert.is_nil(settings.private_key, "credentials stay out of the settings")
  end)

  it("takes everything from the environment when opts is nil-like", function()
    local _, creds, base = options.client { getenv = env(merged(KEYS, {
      MONGODB_ATLAS_BASE_URL = "https://cloud.mongodbgov.com/" })) }
    assert.equal("https://cloud.mongodbgov.com", base.url)
    assert.equal("envpublic", creds.public_key)
  end)

  it("falls back to MONGODB_ATLAS_OPS_MANAGER_URL for the base URL", function()
    local _, creds, base = options.client { getenv = env(merged(SA, {
      MONGODB_ATLAS_OPS_MANAGER_URL = "https://ops.example.net" })) }
    assert.equal("https://ops.example.net", base.url)
    assert.equal("mdb_sa_id_env", creds.client_id)
    _, _, base = options.client { getenv = env(merged(SA, {
      MONGODB_ATLAS_OPS_MANAGER_URL = "https://ops.example.net",
      MONGODB_ATLAS_BASE_URL = "https://base.example.net" })) }
    assert.equal("https://base.example.net", base.url)
  end)

  it("prefers explicit options to the environment, and never mixes kinds", function()
    local _, creds = options.client { access_token = "tok-explicit-0001", getenv = env(merged(KEYS, SA)) }
    assert.same({ access_token = "tok-explicit-0001" }, creds)
  end)

  it("picks the API key, then the service account, then the token from the environment", function()
    local _, creds = options.client { getenv = env(merged(KEYS, SA, { MONGODB_ATLAS_ACCESS_TOKEN = "t-env" })) }
    assert.equal("envpublic", creds.public_key)
    _, creds = options.client { getenv = env(merged(SA, { MONGODB_ATLAS_ACCESS_TOKEN = "t-env" })) }
    assert.equal("mdb_sa_id_env", creds.client_id)
    _, creds = options.client { getenv = env { MONGODB_ATLAS_ACCESS_TOKEN = "t-env" } }
    assert.same({ access_token = "t-env" }, creds)
  end)
end)

describe("atlasrestore.new", function()
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
    ["unknown endpoint"] = { access_token = "t", endpoint = "everywhere" },
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
    local warnings = {}
    local client = assert(atlasrestore.new { access_token = "t", base_url = "http://atlas.internal", allow_http = true,
      on_warning = function(message) warnings[#warnings + 1] = message end })
    client:close()
    assert.equal(1, #warnings)
    assert.matches("plain http:// to atlas.internal", warnings[1], 1, true)
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

describe("configuration mistakes at new", function()
  local function refused(opts)
    local client, err = atlasrestore.new(opts)
    assert.is_nil(client)
    assert.equal("INVALID_ARGUMENT", err.errorCode)
    return err.message
  end

  it("names the missing half of a pair in the environment", function()
    assert.equal("MONGODB_ATLAS_PUBLIC_API_KEY is set but MONGODB_ATLAS_PRIVATE_API_KEY is missing",
      refused { getenv = env { MONGODB_ATLAS_PUBLIC_API_KEY = "pub" } })
    assert.equal("MONGODB_ATLAS_CLIENT_SECRET is set but MONGODB_ATLAS_CLIENT_ID is missing",
      refused { getenv = env { MONGODB_ATLAS_CLIENT_SECRET = "s" } })
  end)

  it("says which variable or option a bad base URL came from, with its value", function()
    assert.equal('MONGODB_ATLAS_BASE_URL "cloud.mongodb.com" must look like https://host[:port][/path]',
      refused { access_token = "t", getenv = env { MONGODB_ATLAS_BASE_URL = "cloud.mongodb.com" } })
    assert.equal('base_url "https://cloud.mongodb.com\\10" must not contain whitespace or control characters',
      refused { access_token = "t", base_url = "https://cloud.mongodb.com\n" })
    assert.equal('base_url "ftp://cloud.mongodb.com" must be https:// (or http://)',
      refused { access_token = "t", base_url = "ftp://cloud.mongodb.com" })
  end)

  it("never echoes the credentials or the query of a URL", function()
    local cases = {
      { "https://pub:secret-pw@cloud.mongodb.com", 'base_url "https://***@cloud.mongodb.com" must not carry' },
      { "https://pub:secret-pw@cloud.mongodb.com/a b", 'base_url "https://***@cloud.mongodb.com/a b" must not' },
      { "pub:secret-pw@cloud.mongodb.com", 'base_url "***@cloud.mongodb.com" must look like' },
      { "https://cloud.mongodb.com/?key=secret-pw", 'base_url "https://cloud.mongodb.com/?..." must look like' },
    }
    for _, case in ipairs(cases) do
      local message = refused { access_token = "t", base_url = case[1] }
      assert.equal(case[2], message:sub(1, #case[2]))
      assert.is_nil(message:find("secret", 1, true), message)
    end
    local message = refused { access_token = "t", proxy = "user:secret-pw@proxy example" }
    assert.equal('proxy "***@proxy example" must be a URL such as http://proxy.example:3128', message)
  end)

  it("echoes a bad endpoint or api_version with the values it may take", function()
    assert.equal('endpoint "flexx" is not one of "auto", "serverless", "flex", "dedicated"',
      refused { access_token = "t", endpoint = "flexx" })
    assert.equal('endpoint "a\\34b" is not one of "auto", "serverless", "flex", "dedicated"',
      refused { access_token = "t", endpoint = 'a"b' })
    assert.equal('api_version "v3" is not one of "v2", "v1.0"', refused { access_token = "t", api_version = "v3" })
  end)

  it("refuses a proxy that is not a URL and a ca_file that cannot be read", function()
    assert.matches('^proxy "not a proxy" must be a URL', refused { access_token = "t", proxy = "not a proxy" })
    assert.matches("^ca_file cannot be read: ", refused { access_token = "t", ca_file = "/nonexistent/ca.pem" })
  end)
end)
