-- allow_http: plain http:// to a host that is not loopback only when asked, and then with one
-- warning at new(), naming the host; loopback needs neither.
local atlasrestore = require "atlasrestore"
local fake = require "support.fake_transport"

local function client(base_url, allow_http)
  local warnings = {}
  local c, err = atlasrestore.new { transport = fake.new(function() end), access_token = "tok", base_url = base_url,
    allow_http = allow_http, on_warning = function(message) warnings[#warnings + 1] = message end }
  if c then c:close() end
  return c, err, warnings
end

describe("allow_http", function()
  it("is needed for plain http:// to a host that is not loopback", function()
    local c, err, warnings = client("http://mock.ci.example:8080")
    assert.is_nil(c)
    assert.equal("INVALID_ARGUMENT", err.errorCode)
    assert.matches("plain http:// on a non-loopback host", err.message, 1, true)
    assert.same({}, warnings)
  end)

  it("lets it through with one warning that names the host", function()
    local c, _, warnings = client("http://mock.ci.example:8080/api", true)
    assert.truthy(c)
    assert.same({ "atlasrestore: warning: plain http:// to mock.ci.example, not a loopback host (allow_http): the "
      .. "credentials and the restore jobs cross the network unencrypted" }, warnings)
  end)

  it("warns about nothing for loopback or https", function()
    local urls = { "http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:2", "https://mock.ci.example" }
    for _, url in ipairs(urls) do
      local c, _, warnings = client(url, true)
      assert.truthy(c, url)
      assert.same({}, warnings, url)
    end
  end)
end)
