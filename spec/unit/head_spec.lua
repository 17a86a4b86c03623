-- The sans-IO response head parser (core.parse_head), the one libcurl's
-- transport uses too.
local core = require "atlasrestore.core"

local function head(lines) return table.concat(lines, "\r\n") .. "\r\n\r\n" end

describe("core.parse_head", function()
  it("lowercases names and joins repeated fields with a comma", function()
    local status, h = core.parse_head(head {
      "HTTP/1.1 200 OK", "Content-Type: application/json", "X-A: 1", "x-a:2", "X-Empty:", "Retry-After:  7 \t",
    })
    assert.equal(200, status)
    assert.same({ ["content-type"] = "application/json", ["x-a"] = "1, 2", ["x-empty"] = "", ["retry-after"] = "7" }, h)
  end)

  it("keeps www-authenticate a list, one entry per field, even for one", function()
    local _, h = core.parse_head(head { "HTTP/1.1 401 Unauthorized", 'WWW-Authenticate: Digest realm="a, b", nonce=1' })
    assert.same({ 'Digest realm="a, b", nonce=1' }, h["www-authenticate"])
    _, h = core.parse_head(head {
      "HTTP/1.1 401 Unauthorized", "WWW-Authenticate: Basic", "Www-Authenticate: Digest x=1" })
    assert.same({ "Basic", "Digest x=1" }, h["www-authenticate"])
  end)

  it("counts only the final response", function()
    local status, h = core.parse_head(head { "HTTP/1.1 100 Continue", "X-Early: 1" }
      .. head { "HTTP/1.1 200 Connection established", "Via: proxy" }
      .. head { "HTTP/2 503", "Retry-After: 1" })
    assert.equal(503, status)
    assert.same({ ["retry-after"] = "1" }, h)
  end)

  it("accepts bare LF, a missing final empty line, no reason phrase and obs-fold", function()
    local status, h = core.parse_head("HTTP/1.0 204\nX-Folded: a  \r\n \t b\r\n\tc\nX-Late:\r\n  late\r\n")
    assert.equal(204, status)
    assert.same({ ["x-folded"] = "a b c", ["x-late"] = "late" }, h)
  end)

  it("returns BAD_RESPONSE for what RFC 9112 refuses", function()
    local cases = {
      { "empty", "" },
      { "no status line", "Content-Type: x\r\n\r\n" },
      { "a bad version", "HTTP/x.1 200 OK\r\n\r\n" },
      { "a two-digit status", "HTTP/1.1 20 OK\r\n\r\n" },
      { "a status under 100", "HTTP/1.1 099 OK\r\n\r\n" },
      { "junk after the status", "HTTP/1.1 200OK\r\n\r\n" },
      { "a space before the colon", "HTTP/1.1 200 OK\r\nA : b\r\n\r\n" },
      { "no colon", "HTTP/1.1 200 OK\r\nAb\r\n\r\n" },
      { "an empty name", "HTTP/1.1 200 OK\r\n: b\r\n\r\n" },
      { "a NUL in a value", "HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n" },
      { "a bare CR in a value", "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n" },
      { "a NUL in the reason", "HTTP/1.1 200 O\0K\r\n\r\n" },
      { "a continuation first", "HTTP/1.1 200 OK\r\n folded\r\n\r\n" },
      { "a line cut short", "HTTP/1.1 200 OK\r\nA: b" },
      { "fields after the empty line", "HTTP/1.1 200 OK\r\n\r\nA: b\r\n" },
    }
    for _, case in ipairs(cases) do
      local status, code, message = core.parse_head(case[2])
      assert.is_nil(status, case[1])
      assert.equal("BAD_RESPONSE", code, case[1])
      assert.is_string(message)
    end
  end)

  it("returns RESPONSE_TOO_LARGE past 256 KiB or 256 fields, and allows one large field", function()
    local big = ("x"):rep(256 * 1024 - 64)
    local status, h = core.parse_head(head { "HTTP/1.1 200 OK", "X-Big: " .. big })
    assert.equal(200, status)
    assert.equal(#big, #h["x-big"])
    local _, code = core.parse_head(head { "HTTP/1.1 200 OK", "X-Big: " .. big .. ("y"):rep(100) })
    assert.equal("RESPONSE_TOO_LARGE", code)
    local lines = { "HTTP/1.1 200 OK" }
    for i = 1, 256 do lines[#lines + 1] = "X-" .. i .. ": v" end
    assert.equal(200, (core.parse_head(head(lines))))
    lines[#lines + 1] = "X-Last: v"
    _, code = core.parse_head(head(lines))
    assert.equal("RESPONSE_TOO_LARGE", code)
    -- The count is per response: an interim one does not use up the final one's.
    assert.equal(200, (core.parse_head(head { "HTTP/1.1 100 Continue", "A: 1", "B: 2" } .. head(lines):gsub(
      "X%-Last: v\r\n", "", 1))))
  end)
end)
