local core = require "atlasrestore.core"
local redact = require "atlasrestore.redact"
local routes = require "atlasrestore.routes"

describe("redaction", function()
  it("encodes base64 (core.base64) like the RFC's test vectors", function()
    local vectors = { [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==", fooba = "Zm9vYmE=",
      foobar = "Zm9vYmFy" }
    for input, output in pairs(vectors) do assert.equal(output, core.base64(input)) end
  end)

  it("removes a secret in its raw, base64, URL-encoded and Basic forms", function()
    local s = redact.scrubber()
    s:add("key", "s3cr/t+key=", "user")
    local text = table.concat({ "raw s3cr/t+key=", "b64 " .. core.base64("s3cr/t+key="),
      "url " .. routes.url_encode("s3cr/t+key="), "basic " .. core.base64("user:s3cr/t+key=") }, " | ")
    local out = s:scrub(text)
    assert.is_nil(out:find("s3cr", 1, true))
    assert.is_nil(out:find(core.base64("s3cr/t+key="), 1, true))
    assert.is_nil(out:find(core.base64("user:s3cr/t+key="), 1, true))
    assert.matches("raw %[REDACTED%]", out)
  end)

  it("removes a URL-encoded secret whatever the case of its escapes", function()
    local s = redact.scrubber()
    s:add("key", "AbC/dEf+GhI=jKl")
    assert.equal("[REDACTED] [REDACTED]", s:scrub("AbC%2fdEf%2bGhI%3djKl AbC%2FdEf%2BGhI%3DjKl"))
    assert.equal("BEARER [REDACTED]", s:scrub("BEARER eyJhbGciOiJSUzI1NiJ9.payload"))
  end)

  it("removes every Authorization value, whatever the scheme", function()
    local s = redact.scrubber()
    assert.equal("Authorization: Bearer [REDACTED]", s:scrub("Authorization: Bearer abc.def"))
    assert.equal("authorization: Digest [REDACTED]", s:scrub('authorization: Digest username="u", response="x"'))
  end)

  it("keeps one secret per slot, so renewed tokens do not pile up", function()
    local s = redact.scrubber()
    s:add("key", "the-private-key")
    s:add("token", "first-token-0001")
    s:add("token", "second-token-0002")
    local before = #s.patterns
    s:add("token", "third-token-00003")
    assert.equal(before, #s.patterns)
    assert.equal("[REDACTED] [REDACTED] [REDACTED] first-token-0001",
      s:scrub("the-private-key third-token-00003 second-token-0002 first-token-0001"))
  end)

  it("leaves prose about authentication schemes alone", function()
    local s = redact.scrubber()
    assert.equal("Basic authentication is not supported", s:scrub("Basic authentication is not supported"))
    assert.equal("Bearer [REDACTED]", s:scrub("Bearer eyJhbGciOiJSUzI1NiJ9.payload"))
  end)

  it("scrubs nested tables in place", function()
    local s = redact.scrubber()
    s:add("key", "hunter22")
    local err = { detail = "bad hunter22", parameters = { "x", { "hunter22" } } }
    s:deep(err)
    assert.equal("bad [REDACTED]", err.detail)
    assert.equal("[REDACTED]", err.parameters[2][1])
  end)
end)

describe("redaction of whole header values", function()
  it("removes a token inside the base64 of a longer text, at every alignment", function()
    local token = "eyJhbGciOiJSUzI1NiJ9.payload-part_with.signature~1234567890"
    local s = redact.scrubber()
    s:add("token", token)
    for shift = 0, 5 do
      local blob = core.base64(("z"):rep(shift) .. "Bearer " .. token .. " trailing")
      local out = s:scrub("echo: " .. blob)
      -- Whatever is left of the blob carries no run of the token's own characters.
      assert.is_nil(out:find(blob:sub(16, #blob - 16), 1, true), "shift " .. shift)
    end
  end)
end)
