local redact = require "atlasrestore.redact"

describe("redaction", function()
  it("encodes base64 like the RFC's test vectors", function()
    local vectors = { [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==", fooba = "Zm9vYmE=",
      foobar = "Zm9vYmFy" }
    for input, output in pairs(vectors) do assert.equal(output, redact.base64(input)) end
  end)

  it("removes a secret in its raw, base64, URL-encoded and Basic forms", function()
    local s = redact.scrubber()
    s:add("s3cr/t+key=", "user")
    local text = table.concat({ "raw s3cr/t+key=", "b64 " .. redact.base64("s3cr/t+key="),
      "url " .. redact.url_encode("s3cr/t+key="), "basic " .. redact.base64("user:s3cr/t+key=") }, " | ")
    local out = s:scrub(text)
    assert.is_nil(out:find("s3cr", 1, true))
    assert.is_nil(out:find(redact.base64("s3cr/t+key="), 1, true))
    assert.is_nil(out:find(redact.base64("user:s3cr/t+key="), 1, true))
    assert.matches("raw %[REDACTED%]", out)
  end)

  it("removes every Authorization value, whatever the scheme", function()
    local s = redact.scrubber()
    assert.equal("Authorization: Bearer [REDACTED]", s:scrub("Authorization: Bearer abc.def"))
    assert.equal("authorization: Digest [REDACTED]", s:scrub('authorization: Digest username="u", response="x"'))
  end)

  it("scrubs nested tables in place", function()
    local s = redact.scrubber()
    s:add("hunter22")
    local err = { detail = "bad hunter22", parameters = { "x", { "hunter22" } } }
    s:deep(err)
    assert.equal("bad [REDACTED]", err.detail)
    assert.equal("[REDACTED]", err.parameters[2][1])
  end)
end)
