local core = require "atlasrestore.core"

-- `text` through gzip(1): what a server's Content-Encoding: gzip carries.
local function gzip(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  local p = assert(io.popen("gzip -c < " .. path))
  local out = p:read("*a")
  p:close()
  os.remove(path)
  return out
end

-- `s` with its last four bytes (the trailer's ISIZE) replaced by `size`.
local function with_isize(s, size)
  local b = {}
  for i = 0, 3 do b[#b + 1] = string.char(math.floor(size / 256 ^ i) % 256) end
  return s:sub(1, -5) .. table.concat(b)
end

describe("core.gunzip", function()
  local page = ('{"results":[' .. ('{"id":"5f00000000000000000000a1","status":"COMPLETED"},'):rep(999)
    .. '{"id":"5f00000000000000000000a2"}],"totalCount":1000}')

  it("inflates a gzip body to its bytes", function()
    assert.equal(page, core.gunzip(gzip(page), #page))
    assert.equal("", core.gunzip(gzip(""), 0))
  end)

  it("refuses a body whose trailer promises more than max_size, before inflating", function()
    local bomb = gzip(("\0"):rep(8 * 1024 * 1024))
    assert.truthy(#bomb < 20000)
    local ok, message, code = core.gunzip(bomb, 1024 * 1024)
    assert.is_nil(ok)
    assert.equal("RESPONSE_TOO_LARGE", code)
    assert.matches("8388608 bytes, past max_body_size", message, 1, true)
  end)

  it("never inflates past the size its trailer gave", function()
    local ok, _, code = core.gunzip(with_isize(gzip(page), 100), #page)
    assert.is_nil(ok)
    assert.equal("RESPONSE_TOO_LARGE", code)
  end)

  it("refuses corrupt, truncated and padded bodies and bodies that are not gzip", function()
    local gz = gzip(page)
    local crc_at = #gz - 7
    local corrupt = gz:sub(1, crc_at - 1) .. string.char((gz:byte(crc_at) + 1) % 256) .. gz:sub(crc_at + 1)
    for _, body in ipairs {
      corrupt,                           -- a CRC-32 that does not match
      with_isize(gz, #page + 1),         -- a trailer that promises one byte more
      gz:sub(1, 20) .. gz:sub(-8),       -- the middle of the stream cut out
      page,                              -- plain JSON
      "\31\139",                         -- a header only
    } do
      local ok, _, code = core.gunzip(body, #page + 10)
      assert.is_nil(ok)
      assert.equal("BAD_RESPONSE", code)
    end
    assert.is_nil((core.gunzip(gz .. gz, 2 * #page))) -- two members: not what a server sends
  end)
end)

describe("core.gunzip_decode", function()
  local function page_of(n, id)
    local jobs = {}
    for i = 1, n do jobs[i] = ('{"id":"%s%016x","oplogTs":%d}'):format(id, i, i) end
    return '{"results":[' .. table.concat(jobs, ",") .. '],"totalCount":' .. n .. '}'
  end

  it("gives what core.decode gives for the inflated text, call after call", function()
    local small, large = page_of(3, "5f000001"), page_of(30000, "5f000002") -- large: past the buffer kept
    local docs = {}
    for i, text in ipairs { small, large, small, page_of(2, "5f000003") } do
      docs[i] = { text = text, doc = assert(core.gunzip_decode(gzip(text), #text)) }
    end
    for _, d in ipairs(docs) do assert.same(core.decode(d.text), d.doc) end
    assert.equal(30000, #docs[2].doc.results)
    assert.equal("5f0000030000000000000002", docs[4].doc.results[2].id)
    assert.equal(getmetatable(core.decode("[]")), getmetatable(docs[1].doc.results))
  end)

  it("refuses what core.gunzip refuses, stage gzip, and what core.decode refuses, stage json", function()
    local text = page_of(2, "5f000001")
    local ok, message, code, stage = core.gunzip_decode(gzip(("\0"):rep(4096)), 1024)
    assert.same({ nil, "RESPONSE_TOO_LARGE", "gzip" }, { ok, code, stage })
    assert.matches("past max_body_size", message, 1, true)
    ok, message, code, stage = core.gunzip_decode(text, 1e6)
    assert.same({ nil, "the gzip body is too short or has no gzip header", "BAD_RESPONSE", "gzip" },
      { ok, message, code, stage })
    ok, message, code, stage = core.gunzip_decode(gzip(text .. "]"), 1e6)
    assert.same({ nil, select(2, core.decode(text .. "]")), "BAD_RESPONSE", "json" },
      { ok, message, code, stage })
    ok, message, code, stage = core.gunzip_decode(gzip("[[[1]]]"), 1e6, 2)
    assert.same({ nil, select(2, core.decode("[[[1]]]", 2)), "BAD_RESPONSE", "json" }, { ok, message, code, stage })
  end)

  it("refuses a non-integer under an integer key as core.decode does", function()
    local text = '{"results":[{"oplogTs":1.5}]}'
    assert.same(core.decode(text, 64, { oplogTs = true }), core.gunzip_decode(gzip(text), 1e6, 64, { oplogTs = true }))
  end)
end)
