-- atlasrestore.request: the request a transport is handed, built once by the pipeline.
local request = require "atlasrestore.request"

describe("atlasrestore.request", function()
  local limits = { timeout = 5, connect_timeout = 2, stall_timeout = 3, max_body = 100 }

  it("parses a base once: scheme, host, port, Host authority, TLS name", function()
    assert.same({ scheme = "https", host = "cloud.mongodb.com", port = 443, authority = "Cloud.MongoDB.com",
      path = "/base", server_name = "cloud.mongodb.com" }, request.base("https", "Cloud.MongoDB.com", "/base"))
    assert.same({ scheme = "http", host = "[::1]", port = 8080, authority = "[::1]:8080", path = "" },
      request.base("http", "[::1]:8080", ""))
    assert.equal(80, request.base("http", "localhost", "").port)
  end)

  it("joins the base path and the path, and gives sorted, checked header lines", function()
    local req = request.new(request.base("https", "h.example:8443", "/api"), "GET", "/v2/x?a=1",
      { ["User-Agent"] = "ua", Accept = "application/json", Authorization = "Bearer t" }, nil, limits)
    assert.same({ scheme = "https", host = "h.example", port = 8443, authority = "h.example:8443",
      server_name = "h.example", path = "/api/v2/x?a=1" }, req.target)
    assert.equal("https://h.example:8443/api/v2/x?a=1", req.url)
    assert.same({ "Accept: application/json", "Authorization: Bearer t", "User-Agent: ua" }, req.headers)
    assert.equal(5, req.timeout)
    assert.equal(100, req.max_body)
  end)

  it("raises for a header that could split the request: CR, LF, NUL, or a name that is not a token", function()
    local base = request.base("https", "h", "")
    for _, headers in ipairs { { A = "x\r\nEvil: 1" }, { A = "x\ny" }, { A = "x\0" }, { ["A B"] = "x" },
      { ["A:"] = "x" }, { [""] = "x" }, { A = 1 } } do
      assert.has_error(function() request.new(base, "GET", "/", headers, nil, limits) end)
    end
  end)
end)
