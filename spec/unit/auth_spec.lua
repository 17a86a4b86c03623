-- Digest and token state, without any server.
local auth = require "atlasrestore.auth"
local core = require "atlasrestore.core"

describe("HTTP Digest", function()
  it("computes RFC 2617's own example", function()
    local header = assert(core.digest_authorization {
      username = "Mufasa", password = "Circle Of Life", realm = "testrealm@host.com",
      nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093", uri = "/dir/index.html", method = "GET",
      qop = "auth", nc = 1, cnonce = "0a4f113b", opaque = "5ccc069c403ebaf9f0171e9517f40e41",
    })
    assert.matches('response="6629fae49393a05397450978507c4ef1"', header, 1, true)
    assert.matches("nc=00000001", header, 1, true)
  end)

  it("supports MD5-sess and the RFC 2069 form, refuses other algorithms", function()
    local base = { username = "u", password = "p", realm = "r", nonce = "n", uri = "/", method = "GET" }
    assert.matches('^Digest username="u"', assert(core.digest_authorization(base)))
    base.algorithm, base.qop, base.cnonce = "MD5-sess", "auth", "c"
    assert.matches("algorithm=MD5%-sess", assert(core.digest_authorization(base)))
    base.algorithm = "SHA-256"
    local header, err = core.digest_authorization(base)
    assert.is_nil(header)
    assert.matches("unsupported algorithm", err)
  end)

  it("escapes quotes in quoted values", function()
    local header = assert(core.digest_authorization {
      username = 'a"b\\c', password = "p", realm = "r", nonce = "n", uri = "/", method = "GET" })
    assert.matches('username="a\\"b\\\\c"', header, 1, true)
  end)

  it("raises on a missing required field", function()
    assert.has_error(function() core.digest_authorization { username = "u" } end)
  end)

  it("parses Atlas's challenge", function()
    local header = 'Digest realm="MMS Public API", domain="", nonce="OMj0aVEw3aGvJVQK/EfUTbExJV1vS5Y9", '
      .. 'algorithm=MD5, qop="auth", stale=false'
    local ch = assert(auth.parse_digest_challenge(header))
    assert.equal("MMS Public API", ch.realm)
    assert.equal("OMj0aVEw3aGvJVQK/EfUTbExJV1vS5Y9", ch.nonce)
    assert.equal("MD5", ch.algorithm)
    assert.equal("auth", ch.qop)
    assert.equal("false", ch.stale)
    assert.equal("", ch.domain)
    assert.is_nil(auth.parse_digest_challenge('Bearer realm="x"'))
    assert.is_nil(auth.parse_digest_challenge('Digest realm="x"'), "no nonce, no challenge")
  end)

  it("counts nc up from 1 on one nonce and restarts on a new one", function()
    local d = auth.digest("user", "secret", function(n) return ("c"):rep(n) end)
    assert.is_nil(d:authorization("GET", "/x"))
    assert.is_true(d:accept { realm = "r", nonce = "n1", qop = "auth" })
    assert.matches("nc=00000001", d:authorization("GET", "/x"))
    assert.matches("nc=00000002", d:authorization("GET", "/x"))
    d:accept { realm = "r", nonce = "n2", qop = "auth,auth-int" }
    assert.matches("nc=00000001", d:authorization("GET", "/x"))
    assert.is_false(d:accept { realm = "r", nonce = "n3", qop = "auth-int" })
    assert.is_false(d:accept { realm = "r", nonce = "n4", qop = "auth", algorithm = "SHA-256" })
    assert.is_true(d:accept { realm = "r", nonce = "n5", qop = "auth", algorithm = "md5-sess" })
  end)
end)

describe("the token cache", function()
  it("serves a token until shortly before it expires", function()
    local cache = auth.token_cache("id", "secret")
    assert.is_nil(cache:current(0))
    cache:store("tok", 3600, 100)
    assert.equal("tok", cache:current(100))
    assert.equal("tok", cache:current(100 + 3539))
    assert.is_nil(cache:current(100 + 3541))
    cache:store("short", 2, 0)
    assert.equal("short", cache:current(1.7))
    assert.is_nil(cache:current(1.9))
    assert.equal("short", cache:forget())
    assert.is_nil(cache:current(0))
  end)

  it("builds the Basic header from the raw id and secret", function()
    assert.equal("Basic aWQ6c2VjcmV0", auth.token_cache("id", "secret"):basic())
  end)
end)
