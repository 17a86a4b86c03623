-- Which transport atlasrestore.new takes, by option and by nginx phase (a stand-in
-- `ngx` here: spec/nginx runs the real one), and the options that only nginx knows.
local atlasrestore = require "atlasrestore"

local BASE = { access_token = "unit-token", base_url = "http://127.0.0.1:9" }

local function opts(extra)
  local o = {}
  for k, v in pairs(BASE) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

describe("outside nginx", function()
  it("takes libcurl, by default or when asked", function()
    for _, o in ipairs { opts(), opts { transport = "curl" } } do
      local client = assert(atlasrestore.new(o))
      assert.matches("^atlasrestore.Client", tostring(client))
      client:close()
    end
  end)

  it("refuses the cosocket transport and shared_dict: INVALID_ARGUMENT", function()
    local client, err = atlasrestore.new(opts { transport = "cosocket" })
    assert.is_nil(client)
    assert.equal("INVALID_ARGUMENT", err.errorCode)
    assert.matches("only inside nginx", err.message)
    client, err = atlasrestore.new(opts { shared_dict = "tokens" })
    assert.is_nil(client)
    assert.equal("INVALID_ARGUMENT", err.errorCode)
    assert.matches("lua_shared_dict", err.message)
  end)

  it("refuses a transport it does not know, and raises on one of the wrong type", function()
    local _, err = atlasrestore.new(opts { transport = "carrier pigeon" })
    assert.equal("INVALID_ARGUMENT", err.errorCode)
    assert.has_error(function() atlasrestore.new(opts { transport = 7 }) end,
      "bad argument #1 to 'new' (transport: string or table expected, got number)")
  end)

  it("raises on close options of the wrong type", function()
    local client = assert(atlasrestore.new(opts()))
    assert.has_error(function() client:close(true) end)
    assert.has_error(function() client:close { revoke = "yes" } end)
    assert.is_true(client:close { revoke = true })
  end)
end)

describe("inside nginx (a stand-in ngx)", function()
  local phase
  before_each(function()
    local function same(s) return s end
    _G.ngx = { get_phase = function() return phase end, shared = {}, sha1_bin = same, encode_base64 = same }
  end)
  after_each(function() _G.ngx = nil end)

  for _, name in ipairs { "init_worker", "set", "header_filter", "body_filter", "log", "balancer", "ssl_cert" } do
    it("raises in the " .. name .. " phase, naming ngx.timer.at(0, ...)", function()
      phase = name
      local ok, message = pcall(atlasrestore.new, opts())
      assert.is_false(ok)
      assert.matches("cannot run in nginx's " .. name .. " phase", message, 1, true)
      assert.matches("ngx.timer.at(0, ", message, 1, true)
      assert.has_error(function() atlasrestore.new(opts { transport = "cosocket" }) end)
    end)
  end

  it("takes libcurl in init_by_lua, and wherever it is asked for", function()
    phase = "init"
    assert(atlasrestore.new(opts())):close()
    phase = "log"
    assert(atlasrestore.new(opts { transport = "curl" })):close()
  end)

  it("names the lua_shared_dict that is missing", function()
    phase = "init"
    local _, err = atlasrestore.new(opts { shared_dict = "nope" })
    assert.equal("INVALID_ARGUMENT", err.errorCode)
    assert.matches('no lua_shared_dict is named "nope"', err.message, 1, true)
  end)
end)
