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

  it("counts only the final response, after interim ones", function()
    local status, h = core.parse_head(head { "HTTP/1.1 100 Continue", "X-Early: 1" }
      .. head { "HTTP/1.1 103 Early Hints", "Link: </a>" }
      .. head { "HTTP/2 503", "Retry-After: 1" })
    assert.equal(503, status)
    assert.same({ ["retry-after"] = "1" }, h)
  end)

  it("refuses a head after a final one: a 503 never turns into the 200 behind it", function()
    for _, first in ipairs { "HTTP/1.1 503 Service Unavailable\nRetry-After: 1\n\n",
      head { "HTTP/1.1 200 Connection established" }, head { "HTTP/1.1 101 Switching Protocols" } } do
      local status, message, code = core.parse_head(first .. head { "HTTP/1.1 200 OK", "Content-Length: 2" })
      assert.is_nil(status)
      assert.equal("a response head after a final one", message)
      assert.equal("BAD_RESPONSE", code)
    end
  end)

  it("gives an interim head without framing, a final one with it", function()
    local status, _, framing = core.parse_head(head { "HTTP/1.1 100 Continue" })
    assert.equal(100, status)
    assert.is_nil(framing)
    status, _, framing = core.parse_head(head { "HTTP/1.1 200 OK", "Content-Length: 2" })
    assert.equal(200, status)
    assert.same({ body = "length", length = 2, persist = true }, framing)
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
      local status, message, code = core.parse_head(case[2])
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
    local _, _, code = core.parse_head(head { "HTTP/1.1 200 OK", "X-Big: " .. big .. ("y"):rep(100) })
    assert.equal("RESPONSE_TOO_LARGE", code)
    local lines = { "HTTP/1.1 200 OK" }
    for i = 1, 256 do lines[#lines + 1] = "X-" .. i .. ": v" end
    assert.equal(200, (core.parse_head(head(lines))))
    lines[#lines + 1] = "X-Last: v"
    _, _, code = core.parse_head(head(lines))
    assert.equal("RESPONSE_TOO_LARGE", code)
    -- The count is per response: an interim one does not use up the final one's.
    assert.equal(200, (core.parse_head(head { "HTTP/1.1 100 Continue", "A: 1", "B: 2" } .. head(lines):gsub(
      "X%-Last: v\r\n", "", 1))))
  end)
end)

-- One rule for both transports (csrc/framing.h): how a body is delimited and
-- whether the connection may carry the next request.
describe("the framing of a final head", function()
  local function framing(lines)
    local status, h, f = core.parse_head(head(lines))
    if not status then return nil, h, f end
    return f
  end

  it("reads Content-Length as digits, a list only of one value", function()
    assert.same({ body = "length", length = 10, persist = true }, framing { "HTTP/1.1 200 OK", "Content-Length: 10" })
    assert.equal(10, framing { "HTTP/1.1 200 OK", "Content-Length: 10, 10", "Content-Length: 010" }.length)
    for _, value in ipairs { "10, 12", "+10", "-1", "1e3", "0x10", "", " , ", "10 12" } do
      local f, message, code = framing { "HTTP/1.1 200 OK", "Content-Length: " .. value }
      assert.is_nil(f, value)
      assert.equal("BAD_RESPONSE", code, value)
      assert.matches("Content%-Length", message, 1, false, value)
    end
    assert.is_nil((framing { "HTTP/1.1 200 OK", "Content-Length: 10", "Content-Length: 12" }))
  end)

  it("takes Transfer-Encoding only as exactly chunked, and drops a connection that also has a length", function()
    assert.same({ body = "chunked", length = 0, persist = true },
      framing { "HTTP/1.1 200 OK", "Transfer-Encoding: Chunked " })
    for _, value in ipairs { "xchunked", "chunkedx", "gzip, chunked", "chunked, chunked", "identity", "" } do
      local f, _, code = framing { "HTTP/1.1 200 OK", "Transfer-Encoding: " .. value }
      assert.is_nil(f, value)
      assert.equal("BAD_RESPONSE", code, value)
    end
    local both = framing { "HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Content-Length: 5" }
    assert.same({ body = "chunked", length = 0, persist = false }, both)
    assert.is_false(framing { "HTTP/1.0 200 OK", "Transfer-Encoding: chunked", "Connection: keep-alive" }.persist)
  end)

  it("keeps HTTP/1.1 unless close, HTTP/1.0 only with keep-alive; a body to the close ends it", function()
    assert.is_true(framing { "HTTP/1.1 200 OK", "Content-Length: 0", "Connection: keep-alive" }.persist)
    assert.is_false(framing { "HTTP/1.1 200 OK", "Content-Length: 0", "Connection: upgrade, Close" }.persist)
    assert.is_true(framing { "HTTP/1.1 200 OK", "Content-Length: 0", "Connection: closed" }.persist)
    assert.is_false(framing { "HTTP/1.0 200 OK", "Content-Length: 0" }.persist)
    assert.is_true(framing { "HTTP/1.0 200 OK", "Content-Length: 0", "Connection: Keep-Alive" }.persist)
    assert.is_false(framing { "HTTP/1.0 200 OK", "Content-Length: 0", "Connection: keep-alive, close" }.persist)
    assert.same({ body = "close", length = 0, persist = false }, framing { "HTTP/1.1 200 OK" })
    assert.same({ body = "none", length = 0, persist = true }, framing { "HTTP/1.1 304 Not Modified" })
    assert.equal("none", framing { "HTTP/1.1 204 No Content", "Content-Length: 7" }.body)
  end)
end)

describe("core.parse_chunk_size", function()
  it("reads up to 16 hex digits, leading zeros included, and well-formed extensions", function()
    assert.equal(26, core.parse_chunk_size("1a"))
    assert.equal(26, core.parse_chunk_size("000000000000001A"))
    assert.equal(0, core.parse_chunk_size("0"))
    assert.equal(5, core.parse_chunk_size("5 ; name=value;flag; q = \"a \\\" b\" \t"))
  end)

  it("refuses what is not a chunk size, or garbage after it", function()
    for _, line in ipairs { "", "x", " 5", "0000000000000001a", "8000000000000000", "5 garbage", "5;",
      "5;=v", "5;n=", "5;n=\"open", "5;n=a b", "5\r", "5;n=\"a\0\"", "-5", "+5", "0x5" } do
      local size, message, code = core.parse_chunk_size(line)
      assert.is_nil(size, line)
      assert.is_string(message)
      assert.equal("BAD_RESPONSE", code, line)
    end
  end)
end)
