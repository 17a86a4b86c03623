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

  -- RFC 7616 3.9.1: the same request answered with MD5 and with SHA-256.
  for alg, response in pairs {
    MD5 = "8ca523f5e9506fed4657c9700eebdbec",
    ["SHA-256"] = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
  } do
    it("computes RFC 7616's example with " .. alg, function()
      local header = assert(core.digest_authorization {
        username = "Mufasa", password = "Circle of Life", realm = "http-auth@example.org",
        nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", uri = "/dir/index.html", method = "GET",
        qop = "auth", nc = 1, cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        opaque = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", algorithm = alg,
      })
      assert.matches(('response="%s"'):format(response), header, 1, true)
      assert.matches("algorithm=" .. alg .. ",", header, 1, true)
    end)
  end

  it("computes SHA-256-sess over several blocks and SHA-256 without qop", function()
    local base = { username = "u", password = ("p"):rep(200), realm = "r", nonce = "n", uri = "/x", method = "GET",
      algorithm = "SHA-256-sess", qop = "auth", nc = 7, cnonce = "c" }
    assert.matches('response="cd17696eb14c45f7e43327ea619c5f2695bc4cd78cdc86bd1a42a6b8d44bccc8"',
      assert(core.digest_authorization(base)), 1, true)
    base.algorithm, base.qop, base.password = "sha-256", nil, "p"
    assert.matches('response="45faa729272fd053d1613312879f475c70df90971a17a60fe11e7cf2003c4f62"',
      assert(core.digest_authorization(base)), 1, true)
  end)

  it("supports MD5-sess and the RFC 2069 form, refuses other algorithms", function()
    local base = { username = "u", password = "p", realm = "r", nonce = "n", uri = "/", method = "GET" }
    assert.matches('^Digest username="u"', assert(core.digest_authorization(base)))
    base.algorithm, base.qop, base.cnonce = "MD5-sess", "auth", "c"
    assert.matches("algorithm=MD5%-sess", assert(core.digest_authorization(base)))
    base.algorithm = "SHA-512-256"
    local header, err = core.digest_authorization(base)
    assert.is_nil(header)
    assert.matches("unsupported algorithm", err)
  end)

  it("refuses CR, LF and NUL in every input, so that nothing becomes a second header", function()
    local fields = { "username", "password", "realm", "nonce", "method", "uri", "qop", "cnonce", "algorithm", "opaque" }
    for _, field in ipairs(fields) do
      for _, bad in ipairs { "\r", "\n", "\0" } do
        local input = { username = "u", password = "p", realm = "r", nonce = "n", uri = "/", method = "GET",
          qop = "auth", cnonce = "c", algorithm = "MD5", opaque = "o" }
        input[field] = input[field] .. bad .. "X-Injected: 1"
        local header, err = core.digest_authorization(input)
        assert.is_nil(header, field)
        assert.matches(field .. " holds CR, LF or NUL", err, 1, true)
      end
    end
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
    local ch = assert(auth.parse_digest_challenge { header })
    assert.equal("MMS Public API", ch.realm)
    assert.equal("OMj0aVEw3aGvJVQK/EfUTbExJV1vS5Y9", ch.nonce)
    assert.equal("MD5", ch.algorithm)
    assert.equal("auth", ch.qop)
    assert.equal("false", ch.stale)
    assert.equal("", ch.domain)
    assert.is_nil(auth.parse_digest_challenge { 'Bearer realm="x"' })
    assert.is_nil(auth.parse_digest_challenge(nil))
    assert.is_nil(auth.parse_digest_challenge {})
  end)

  describe("with several challenges", function()
    local SHA = 'Digest realm="r", nonce="sha", algorithm=SHA-256, qop="auth"'
    local MD5 = 'Digest realm="r", nonce="md5", algorithm=MD5, qop="auth"'
    local function pick(values) return assert(auth.parse_digest_challenge(values)).nonce end

    it("prefers SHA-256 in either order, one header each or both in one", function()
      assert.equal("sha", pick { SHA, MD5 })
      assert.equal("sha", pick { MD5, SHA })
      assert.equal("sha", pick { MD5 .. ", " .. SHA })
      assert.equal("sha", pick { SHA .. ", " .. MD5 })
    end)

    it("ranks SHA-256, SHA-256-sess, MD5, MD5-sess, the first offered among equals", function()
      local function ch(nonce, alg) return ('Digest realm="r", nonce=%s, algorithm=%s'):format(nonce, alg) end
      assert.equal("b", pick { ch("a", "SHA-256-sess"), ch("b", "SHA-256") })
      assert.equal("b", pick { ch("a", "MD5-sess"), ch("b", "SHA-256-sess") .. ", " .. ch("c", "md5-sess") })
      assert.equal("b", pick { ch("a", "MD5-sess"), 'Digest realm="r", nonce=b' })
      assert.equal("a", pick { ch("a", "MD5"), ch("b", "MD5") })
    end)

    it("skips what it cannot answer: other schemes, other algorithms, qop without auth", function()
      assert.equal("md5", pick {
        'Basic realm="a, b", charset="UTF-8"',
        'Bearer abc==, Digest realm="r", nonce="x", algorithm=SHA-256, qop="auth-int"',
        'Digest realm="r", nonce="y", algorithm=SHA-512-256, qop="auth"',
        MD5,
      })
      assert.is_nil(auth.parse_digest_challenge { 'Digest realm="r", nonce="y", algorithm=SHA-512-256' })
    end)

    it("gets every Digest challenge from the C parser, parameters unquoted", function()
      local list = assert(core.parse_digest_challenges {
        'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Digest realm="a\\"b", nonce=n1',
        MD5,
      })
      assert.equal(2, #list)
      assert.equal('a"b', list[1].realm)
      assert.equal("n1", list[1].nonce)
      assert.equal("md5", list[2].nonce)
    end)
  end)

  describe("refuses a malformed challenge as BAD_RESPONSE", function()
    local function refused(values, why)
      local ch, code, message = auth.parse_digest_challenge(values)
      assert.is_nil(ch, why)
      assert.equal("BAD_RESPONSE", code, why)
      assert.is_string(message)
    end

    it("with CR, LF or NUL in any parameter, quoted, escaped or bare", function()
      local params = { realm = '"r"', nonce = '"n"', opaque = '"o"', algorithm = "MD5", qop = '"auth"',
        stale = "false", domain = '"/"' }
      for name in pairs(params) do
        for _, bad in ipairs { "\r", "\n", "\0" } do
          for _, form in ipairs { '"a%sb"', '"a\\%sb"', "a%sb" } do
            local parts = {}
            for other, value in pairs(params) do
              -- gsub, not format: Lua 5.1's %s stops at a NUL.
              parts[#parts + 1] = other .. "=" .. (other == name and form:gsub("%%s", bad) or value)
            end
            local hostile = "Digest " .. table.concat(parts, ", ")
            refused({ hostile }, name .. " " .. form)
            refused({ 'Digest realm="r", nonce="md5", qop="auth"', hostile }, name .. " after a good challenge")
          end
        end
      end
    end)

    it("without realm or nonce, with a repeated parameter, or with broken syntax", function()
      refused({ 'Digest realm="x"' }, "no nonce")
      refused({ 'Digest nonce="x"' }, "no realm")
      refused({ 'Digest realm="x", nonce="a", nonce="b"' }, "nonce twice")
      refused({ 'Digest realm="x", nonce="a' }, "unterminated quoted-string")
      refused({ 'Digest realm="x" nonce="a"' }, "no comma")
      refused({ 'Digest realm=, nonce="a"' }, "empty value")
      refused({ 'Digest abc==' }, "token68")
      refused({ 'Basic realm="a\nb", Digest realm="x", nonce="y"' }, "a broken Basic before it")
    end)
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
    assert.is_false(d:accept { realm = "r", nonce = "n4", qop = "auth", algorithm = "SHA-512-256" })
    assert.is_true(d:accept { realm = "r", nonce = "n5", qop = "auth", algorithm = "md5-sess" })
    assert.is_true(d:accept { realm = "r", nonce = "n6", qop = "auth", algorithm = "SHA-256" })
    assert.matches('algorithm=SHA%-256, response="%x+"', d:authorization("GET", "/x"))
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
