-- Conformance of the local Atlas emulator, checked with clients this project
-- did not write: the curl CLI and Python's urllib.
local emulator = require "support.emulator"
local cjson = require "cjson"
local socket = require "socket"

local q = emulator.sh_quote
local GROUP = emulator.GROUP_ID
local PRIVATE = emulator.PRIVATE_KEY
local V2_SERVERLESS = "application/vnd.atlas.2023-01-01+json"
local V2_FLEX = "application/vnd.atlas.2024-11-13+json"

local function read_all(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

-- Headers of the last response in a curl -D dump (--digest dumps two).
local function parse_headers(dump)
  local last
  for block in (dump .. "\r\n\r\n"):gmatch("(HTTP/[^\r\n]*\r\n.-)\r\n\r\n") do last = block end
  local status, headers, raw = nil, {}, {}
  if last then
    status = tonumber(last:match("^HTTP/[%d.]+ (%d+)"))
    for name, value in last:gmatch("\r\n([^:\r\n]+):[ \t]*([^\r\n]*)") do
      headers[name:lower()] = value
      raw[#raw + 1] = name
    end
  end
  return status, headers, raw
end

-- Runs curl with `args` (already shell-quoted); every call is time-bounded.
local function curl(args, max_time)
  local hdr, body, err = os.tmpname(), os.tmpname(), os.tmpname()
  local cmd = string.format("curl -sS --max-time %d -D %s -o %s -w '%%{http_code} %%{size_download}' %s 2>%s",
    max_time or 10, q(hdr), q(body), args, q(err))
  local t0 = socket.gettime()
  local p = assert(io.popen(emulator.clean_env(cmd), "r"))
  local out = p:read("a")
  local _, _, rc = p:close()
  local r = { rc = rc, elapsed = socket.gettime() - t0, body = read_all(body), stderr = read_all(err),
    size_download = tonumber(out:match(" (%d+)$")) }
  r.status, r.headers, r.header_names = parse_headers(read_all(hdr))
  os.remove(hdr); os.remove(body); os.remove(err)
  local ok, doc = pcall(cjson.decode, r.body)
  r.json = ok and doc or nil
  return r
end

local function digest(password)
  return "--digest -u " .. q("emupublic:" .. (password or PRIVATE)) .. " "
end
local function accept(v) return "-H " .. q("Accept: " .. v) .. " " end

local function md5(s)
  local p = assert(io.popen(emulator.clean_env("printf %s " .. q(s) .. " | md5sum")))
  local out = p:read("a")
  p:close()
  return (out:match("^(%x+)"))
end

-- A Digest Authorization header computed here, independently of any client.
local function digest_header(method, uri, nonce, nc, cnonce, password)
  local ha1 = md5("emupublic:MMS Public API:" .. (password or PRIVATE))
  local ha2 = md5(method .. ":" .. uri)
  local response = md5(table.concat({ ha1, nonce, nc, cnonce, "auth", ha2 }, ":"))
  return string.format('Authorization: Digest username="emupublic", realm="MMS Public API", nonce="%s", ' ..
    'uri="%s", algorithm=MD5, qop=auth, nc=%s, cnonce="%s", response="%s"', nonce, uri, nc, cnonce, response)
end

local PY_DIGEST = [[
import json, sys, urllib.request, urllib.error
url, password = sys.argv[1], sys.argv[2]
mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
mgr.add_password(None, url, "emupublic", password)
opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(mgr))
req = urllib.request.Request(url, headers={"Accept": "application/vnd.atlas.2023-01-01+json"})
try:
    with opener.open(req, timeout=10) as r:
        print(r.status, len(json.load(r)["results"]))
except urllib.error.HTTPError as e:
    print(e.code, -1)
]]

local function python_digest(url, password)
  local cmd = "timeout 20 python3 -c " .. q(PY_DIGEST) .. " " .. q(url) .. " " .. q(password) .. " 2>&1"
  local p = assert(io.popen(emulator.clean_env(cmd)))
  local out = p:read("a")
  p:close()
  local status, n = out:match("^(%d+) (%-?%d+)")
  assert(status, "python failed: " .. out)
  return tonumber(status), tonumber(n)
end

-- Top-level keys of a compact JSON object, in order.
local function top_keys(text)
  local keys, depth, i, n = {}, 0, 1, #text
  while i <= n do
    local c = text:sub(i, i)
    if c == '"' then
      local j = i + 1
      while true do
        local k = text:find('["\\]', j)
        if text:sub(k, k) == "\\" then j = k + 2 else j = k; break end
      end
      if depth == 1 and text:sub(j + 1, j + 1) == ":" then keys[#keys + 1] = text:sub(i + 1, j - 1) end
      i = j + 1
    else
      if c == "{" or c == "[" then depth = depth + 1 elseif c == "}" or c == "]" then depth = depth - 1 end
      i = i + 1
    end
  end
  return keys
end

-- The raw text of each item of a compact list body's "results".
local function result_texts(text)
  local start = text:find('"results":[', 1, true)
  local out, depth, i, item = {}, 0, start + #'"results":[', nil
  while i <= #text do
    local c = text:sub(i, i)
    if c == '"' then
      local j = i + 1
      while true do
        local k = text:find('["\\]', j)
        if text:sub(k, k) == "\\" then j = k + 2 else j = k; break end
      end
      i = j + 1
    else
      if c == "{" then
        if depth == 0 then item = i end
        depth = depth + 1
      elseif c == "}" then
        depth = depth - 1
        if depth == 0 then out[#out + 1] = text:sub(item, i) end
      elseif c == "]" and depth == 0 then
        break
      end
      i = i + 1
    end
  end
  return out
end

local PY_GET = [[
import json, sys, urllib.request, urllib.error
url, password, accept = sys.argv[1], sys.argv[2], sys.argv[3]
mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
mgr.add_password(None, url, "emupublic", password)
opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(mgr))
req = urllib.request.Request(url, headers={"Accept": accept})
try:
    with opener.open(req, timeout=10) as r:
        print(r.status, json.dumps(json.load(r)))
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
]]

-- GET with Python's urllib Digest handler: status, decoded body.
local function python_get(target, accept_type)
  local cmd = "timeout 20 python3 -c " .. q(PY_GET) .. " " .. q(target) .. " " .. q(PRIVATE) .. " " ..
    q(accept_type) .. " 2>&1"
  local p = assert(io.popen(emulator.clean_env(cmd)))
  local out = p:read("a")
  p:close()
  local status, body = out:match("^(%d+) (.*)$")
  assert(status, "python failed: " .. out)
  return tonumber(status), cjson.decode(body)
end

-- Plain (not pattern) substitution.
local function replace(s, old, new)
  local i, j = s:find(old, 1, true)
  if not i then return s end
  return s:sub(1, i - 1) .. new .. s:sub(j + 1)
end

local function ids_of(doc)
  local ids = {}
  for _, job in ipairs(doc.results) do ids[#ids + 1] = job.id end
  return ids
end

local function link(doc, rel)
  for _, l in ipairs(doc.links or {}) do
    if l.rel == rel then return l.href end
  end
  return nil
end

describe("Atlas emulator", function()
  local emu

  lazy_setup(function() emu = emulator.start() end)
  lazy_teardown(function() if emu then emu:stop() end end)
  before_each(function() emu:reset() end)

  local function url(path, query)
    return q(emu.base_url .. path .. (query and ("?" .. query) or "")) .. " "
  end
  local function serverless(name, version, query)
    return url(emu:serverless_path(name, version), query)
  end
  local function flex(name, query)
    return url(emu:flex_path(name), query)
  end

  describe("HTTP Digest", function()
    it("lets curl --digest list the v1.0 and the v2 endpoints", function()
      local r = curl(digest() .. serverless("demo", "v1.0"))
      assert.equal(200, r.status)
      assert.equal("application/json", r.headers["content-type"])
      assert.equal(7, #r.json.results)
      r = curl(digest() .. accept(V2_SERVERLESS) .. serverless("demo"))
      assert.equal(200, r.status)
      assert.equal("application/vnd.atlas.2023-01-01+json;charset=utf-8", r.headers["content-type"])
      assert.equal(7, #r.json.results)
      assert.equal(7, r.json.totalCount)
    end)

    it("answers the challenge exactly as recorded from Atlas", function()
      local r = curl(accept(V2_SERVERLESS) .. serverless("demo"))
      assert.equal(401, r.status)
      assert.equal(read_all("spec/fixtures/digest_401_challenge.json"), r.body)
      assert.equal("application/json", r.headers["content-type"])
      assert.matches('^Digest realm="MMS Public API", domain="", nonce="[%w+/]+", ' ..
        'algorithm=MD5, qop="auth", stale=false$',
        r.headers["www-authenticate"])
    end)

    it("refuses a wrong password (curl)", function()
      local r = curl(digest("wrong") .. accept(V2_SERVERLESS) .. serverless("demo"))
      assert.equal(401, r.status)
      assert.truthy(r.headers["www-authenticate"])
      assert.equal("UNEXPECTED_ERROR", r.json.errorCode)
    end)

    it("works with Python's urllib HTTPDigestAuthHandler, and refuses its wrong password", function()
      local status, n = python_digest(emu.base_url .. emu:serverless_path("demo"), PRIVATE)
      assert.equal(200, status)
      assert.equal(7, n)
      status = python_digest(emu.base_url .. emu:serverless_path("demo"), "wrong")
      assert.equal(401, status)
    end)

    it("answers stale=true to a correct response with an expired nonce", function()
      emu:config{ nonce_ttl = 2 }
      local path = emu:serverless_path("demo", "v1.0")
      local nonce = curl(url(path)).headers["www-authenticate"]:match('nonce="([^"]+)"')
      local r = curl("-H " .. q(digest_header("GET", path, nonce, "00000001", "c1")) .. " " .. url(path))
      assert.equal(200, r.status)
      socket.sleep(3.1)
      r = curl("-H " .. q(digest_header("GET", path, nonce, "00000002", "c1")) .. " " .. url(path))
      assert.equal(401, r.status)
      assert.matches("stale=true$", r.headers["www-authenticate"])
      local fresh = r.headers["www-authenticate"]:match('nonce="([^"]+)"')
      assert.not_equal(nonce, fresh)
      -- a wrong answer to the same old nonce is not "stale"
      r = curl("-H " .. q(digest_header("GET", path, nonce, "00000003", "c1", "wrong")) .. " " .. url(path))
      assert.matches("stale=false$", r.headers["www-authenticate"])
      r = curl("-H " .. q(digest_header("GET", path, fresh, "00000001", "c2")) .. " " .. url(path))
      assert.equal(200, r.status)
    end)

    local function nc_tries()
      local path = emu:serverless_path("demo", "v1.0")
      local nonce = curl(url(path)).headers["www-authenticate"]:match('nonce="([^"]+)"')
      return nonce, function(n, nc, uri)
        return curl("-H " .. q(digest_header("GET", uri or path, n, nc, "abc")) .. " " .. url(path)).status
      end
    end

    it("accepts nc values out of order, each once per nonce (RFC 7616)", function()
      local nonce, try = nc_tries()
      assert.equal(200, try(nonce, "00000003"))
      assert.equal(200, try(nonce, "00000001"))
      assert.equal(401, try(nonce, "00000001"))
      assert.equal(200, try(nonce, "00000002"))
      assert.equal(401, try(nonce, "00000003"))
      assert.equal(200, try(nonce, "0000000a"))
      assert.equal(200, try(nonce, "00000009"))
      assert.equal(401, try(nonce, "00000009"))
      assert.equal(401, try(nonce, "00000000"))
      assert.equal(401, try("bm90LWlzc3VlZC1ieS10aGUtc2VydmVy", "00000001"))
      assert.equal(401, try(nonce, "0000000b", emu:serverless_path("empty", "v1.0")))
    end)

    it("with digest_nc_strict refuses a replayed or lower nc, an unknown nonce and a uri that is not the request's",
      function()
        emu:config { digest_nc_strict = true }
        local nonce, try = nc_tries()
        assert.equal(200, try(nonce, "00000001"))
        assert.equal(401, try(nonce, "00000001"))
        assert.equal(200, try(nonce, "00000002"))
        assert.equal(401, try(nonce, "00000002"))
        assert.equal(200, try(nonce, "0000000a"))
        assert.equal(401, try(nonce, "00000009"))
        assert.equal(401, try("bm90LWlzc3VlZC1ieS10aGUtc2VydmVy", "00000001"))
        assert.equal(401, try(nonce, "0000000b", emu:serverless_path("empty", "v1.0")))
      end)

    it("reuses keep-alive connections", function()
      local r = curl("-v " .. digest() .. serverless("demo", "v1.0") .. serverless("empty", "v1.0"))
      assert.equal(0, r.rc)
      assert.matches("Re%-using existing connection", r.stderr)
    end)
  end)

  describe("OAuth service accounts", function()
    local basic = "-u " .. q(emulator.CLIENT_ID .. ":" .. emulator.CLIENT_SECRET) .. " "
    local function get_token()
      local r = curl(basic .. "-H 'Accept: application/json' -d grant_type=client_credentials " ..
        url("/api/oauth/token"))
      assert.equal(200, r.status)
      return r
    end

    it("issues a token that works as Bearer until it is revoked", function()
      local r = get_token()
      assert.equal("Bearer", r.json.token_type)
      assert.equal(3600, r.json.expires_in)
      local bearer = "-H " .. q("Authorization: Bearer " .. r.json.access_token) .. " "
      assert.equal(200, curl(bearer .. accept(V2_SERVERLESS) .. serverless("demo")).status)
      local rv = curl(basic .. "-d token=" .. r.json.access_token .. " -d token_type_hint=access_token " ..
        url("/api/oauth/revoke"))
      assert.equal(200, rv.status)
      assert.equal("", rv.body)
      local after = curl(bearer .. accept(V2_SERVERLESS) .. serverless("demo"))
      assert.equal(401, after.status)
      assert.matches("^Digest ", after.headers["www-authenticate"])
      local s = emu:stats()
      assert.equal(1, s.tokens)
      assert.equal(1, s.revokes)
      assert.equal("Bearer", s.log[2].auth)
    end)

    it("expires tokens after token_ttl and on expire_tokens", function()
      emu:config{ token_ttl = 2 }
      local r = get_token()
      assert.equal(2, r.json.expires_in)
      local bearer = "-H " .. q("Authorization: Bearer " .. r.json.access_token) .. " "
      assert.equal(200, curl(bearer .. serverless("demo", "v1.0")).status)
      socket.sleep(2.1)
      assert.equal(401, curl(bearer .. serverless("demo", "v1.0")).status)
      emu:config{ token_ttl = 3600 }
      bearer = "-H " .. q("Authorization: Bearer " .. get_token().json.access_token) .. " "
      assert.equal(200, curl(bearer .. serverless("demo", "v1.0")).status)
      emu:expire_tokens()
      assert.equal(401, curl(bearer .. serverless("demo", "v1.0")).status)
    end)

    it("answers OAuth errors in the OAuth shape", function()
      local r = curl("-u " .. q(emulator.CLIENT_ID .. ":nope") .. " -d grant_type=client_credentials " ..
        url("/api/oauth/token"))
      assert.equal(401, r.status)
      assert.same({ error = "invalid_client", error_description = "Invalid credentials provided." }, r.json)
      r = curl(basic .. "-d grant_type=password " .. url("/api/oauth/token"))
      assert.equal(400, r.status)
      assert.equal("unsupported_grant_type", r.json.error)
      assert.equal(401, curl("-H " .. q("Authorization: Bearer made-up") .. " " .. serverless("demo", "v1.0")).status)
    end)
  end)

  describe("versions and query validation", function()
    it("needs a v2 Accept version at or after the resource's", function()
      local r = curl(digest() .. serverless("demo"))
      assert.equal(406, r.status)
      assert.equal("INVALID_VERSION_DATE", r.json.errorCode)
      assert.equal("INVALID_VERSION_DATE", r.headers["x-error-code"])
      assert.equal(406, curl(digest() .. accept("application/vnd.atlas.2022-12-31+json") .. serverless("demo")).status)
      assert.equal(406, curl(digest() .. accept(V2_SERVERLESS) .. flex("flex-demo")).status)
      -- a later date resolves to the newest version on or before it
      r = curl(digest() .. accept("application/vnd.atlas.2025-03-12+json") .. serverless("demo"))
      assert.equal(200, r.status)
      assert.equal("application/vnd.atlas.2023-01-01+json;charset=utf-8", r.headers["content-type"])
    end)

    it("rejects out-of-range or malformed paging with VALIDATION_ERROR", function()
      for _, query in ipairs{ "itemsPerPage=0", "itemsPerPage=501", "pageNum=0", "pageNum=abc", "envelope=yes" } do
        local r = curl(digest() .. accept(V2_SERVERLESS) .. serverless("demo", "v2", query))
        assert.equal(400, r.status, query)
        assert.equal("VALIDATION_ERROR", r.json.errorCode)
        assert.equal("VALIDATION_ERROR", r.headers["x-error-code"])
        assert.equal(query:match("^(%w+)="), r.json.badRequestDetail.fields[1].field)
      end
    end)

    it("checks the group id", function()
      local r = curl(digest() .. url(emu:serverless_path("demo", "v1.0", "65a1b2c3d4e5f60718293a4e")))
      assert.equal(404, r.status)
      assert.equal("GROUP_NOT_FOUND", r.json.errorCode)
      assert.equal("No group with ID 65a1b2c3d4e5f60718293a4e exists.", r.json.detail)
      assert.is_nil(r.headers["ratelimit-limit"])
      r = curl(digest() .. url(emu:serverless_path("demo", "v1.0", "NOT-A-GROUP")))
      assert.equal(400, r.status)
      assert.equal("INVALID_GROUP_ID", r.json.errorCode)
    end)
  end)

  describe("serverless listing", function()
    it("sends a next link only while more pages follow", function()
      local r = curl(digest() .. serverless("jobs-500", "v1.0", "itemsPerPage=500"))
      assert.equal(500, #r.json.results)
      assert.is_nil(link(r.json, "next"))
      r = curl(digest() .. serverless("jobs-501", "v1.0", "itemsPerPage=500&includeCount=true"))
      local self_href, next_href = link(r.json, "self"), link(r.json, "next")
      assert.equal(emu.base_url .. emu:serverless_path("jobs-501", "v1.0") ..
        "?includeCount=true&pageNum=1&itemsPerPage=500", self_href)
      assert.equal(emu.base_url .. emu:serverless_path("jobs-501", "v1.0") ..
        "?includeCount=true&itemsPerPage=500&pageNum=2", next_href)
      r = curl(digest() .. serverless("jobs-501", "v1.0", "itemsPerPage=500&pageNum=2"))
      assert.equal(1, #r.json.results)
      assert.is_nil(link(r.json, "next"))
      r = curl(digest() .. serverless("jobs-499", "v1.0", "itemsPerPage=500"))
      assert.equal(499, #r.json.results)
      assert.is_nil(link(r.json, "next"))
      r = curl(digest() .. serverless("empty", "v1.0"))
      assert.same({}, r.json.results)
      assert.equal(0, r.json.totalCount)
    end)

    it("pages through 10,000 jobs in 20 pages of 500 with unique ids", function()
      local seen, n = {}, 0
      for page = 1, 20 do
        local r = curl(digest() .. serverless("jobs-10000", "v1.0", "itemsPerPage=500&pageNum=" .. page))
        assert.equal(200, r.status)
        assert.equal(500, #r.json.results)
        assert.equal(10000, r.json.totalCount)
        for _, id in ipairs(ids_of(r.json)) do
          assert.is_nil(seen[id])
          seen[id] = true
          n = n + 1
        end
        if page < 20 then assert.truthy(link(r.json, "next")) else assert.is_nil(link(r.json, "next")) end
      end
      assert.equal(10000, n)
      local r = curl(digest() .. serverless("jobs-10000", "v1.0", "itemsPerPage=500&pageNum=21"))
      assert.same({}, r.json.results)
    end)

    it("serves jobs-100000 in a project of its own: the last of 200 pages ends with job 100,000", function()
      local path = emu:serverless_path("jobs-100000", "v1.0", emulator.BIG_GROUP_ID)
      local r = curl(digest() .. url(path, "itemsPerPage=500&pageNum=200"))
      assert.equal(200, r.status)
      assert.equal(100000, r.json.totalCount)
      local ids = ids_of(r.json)
      assert.equal(500, #ids)
      assert.equal(ids[1]:sub(1, 8) .. string.format("%016x", 100000), ids[500])
      assert.is_nil(link(r.json, "next"))
      assert.same({}, curl(digest() .. url(path, "itemsPerPage=500&pageNum=201")).json.results)
      assert.equal(404, curl(digest() .. serverless("jobs-100000", "v1.0")).status)
    end)

    it("adds status with envelope=true and keeps totalCount 0 with includeCount=false", function()
      local r = curl(digest() .. serverless("demo", "v1.0", "envelope=true"))
      assert.equal(200, r.json.status)
      assert.equal(7, r.json.totalCount)
      r = curl(digest() .. serverless("demo", "v1.0", "includeCount=false"))
      assert.equal(0, r.json.totalCount)
      assert.matches('"totalCount":0}$', r.body)
      assert.equal(7, #r.json.results)
      assert.is_nil(r.json.status)
    end)

    it("pretty-prints like Atlas with pretty=true", function()
      local compact = curl(digest() .. serverless("demo", "v1.0", "itemsPerPage=2"))
      local pretty = curl(digest() .. serverless("demo", "v1.0", "itemsPerPage=2&pretty=true"))
      assert.matches('^{\n  "links" : %[ {\n    "href" : ', pretty.body)
      assert.same(compact.json.results, pretty.json.results)
    end)

    it("serves demo jobs with every delivery type and the awkward details", function()
      local r = curl(digest() .. serverless("demo", "v1.0"))
      assert.equal("Wed, 10 Dec 2025 00:00:00 GMT", r.headers["deprecation"])
      assert.equal("Thu, 22 Jan 2026 00:00:00 GMT", r.headers["sunset"])
      assert.equal("1200", r.headers["ratelimit-limit"])
      assert.truthy(tonumber(r.headers["ratelimit-remaining"]))
      assert.matches('"pointInTimeUTCSeconds":1.7000352e%+09', r.body)
      assert.matches('"finishedAt":null', r.body)
      local types, flags, created = {}, { cancelled = 0, failed = 0, expired = 0 }, 0
      for _, job in ipairs(r.json.results) do
        types[job.deliveryType] = true
        assert.matches("^%x+$", job.id)
        assert.equal(24, #job.id)
        assert.equal("self", job.links[1].rel)
        for k in pairs(flags) do if job[k] then flags[k] = flags[k] + 1 end end
        if job.createdAt then created = created + 1 end
        assert.equal(job.deliveryType == "download", job.deliveryUrl ~= nil)
        assert.equal(job.deliveryType == "pointInTime", job.pointInTimeUTCSeconds ~= nil)
        assert.truthy(job.targetClusterName)
      end
      assert.same({ automated = true, download = true, pointInTime = true }, types)
      assert.same({ cancelled = 1, failed = 1, expired = 1 }, flags)
      assert.equal(1, created)
      emu:config{ deprecation_headers = false }
      assert.is_nil(curl(digest() .. serverless("demo", "v1.0")).headers["deprecation"])
    end)

    it("keeps generated ids unique across instances", function()
      local seen = {}
      for _, name in ipairs{ "jobs-499", "jobs-500", "jobs-501", "jobs-1000", "jobs-10000", "hostile-next" } do
        local r = curl(digest() .. serverless(name, "v1.0", "itemsPerPage=3"))
        for _, id in ipairs(ids_of(r.json)) do
          assert.is_nil(seen[id], id)
          seen[id] = true
        end
      end
    end)

    it("repeats the same page forever for same-jobs", function()
      local a = curl(digest() .. serverless("same-jobs", "v1.0", "itemsPerPage=10&pageNum=1"))
      local b = curl(digest() .. serverless("same-jobs", "v1.0", "itemsPerPage=10&pageNum=2"))
      assert.equal(10, #a.json.results)
      assert.same(ids_of(a.json), ids_of(b.json))
      assert.truthy(link(b.json, "next"))
    end)

    it("points hostile-next links at the trap, which only counts", function()
      local r = curl(digest() .. serverless("hostile-next", "v1.0", "itemsPerPage=2"))
      local next_href = link(r.json, "next")
      assert.equal(emu.trap_url, next_href:sub(1, #emu.trap_url))
      assert.equal(emu.trap_url, link(r.json, "self"):sub(1, #emu.trap_url))
      assert.equal(0, emu:stats().trap)
      assert.equal(200, curl(q(next_href)).status)
      local s = emu:stats()
      assert.equal(1, s.trap)
      assert.equal(2, s.requests) -- the trap hit is not an API request
      r = curl(digest() .. serverless("hostile-next", "v1.0", "itemsPerPage=2&pageNum=2"))
      assert.equal(1, #r.json.results)
      assert.is_nil(link(r.json, "next"))
    end)

    it("answers SERVERLESS_INSTANCE_NOT_FOUND for unknown names", function()
      local r = curl(digest() .. accept(V2_SERVERLESS) .. serverless("nope"))
      assert.equal(404, r.status)
      assert.equal("SERVERLESS_INSTANCE_NOT_FOUND", r.headers["x-error-code"])
      assert.same({ "nope", GROUP }, r.json.parameters)
      assert.equal(404, r.json.error)
      assert.equal("Not Found", r.json.reason)
    end)
  end)

  describe("Flex and migrated instances", function()
    it("lists flex-demo with the Flex record shape", function()
      local r = curl(digest() .. accept(V2_FLEX) .. flex("flex-demo"))
      assert.equal(200, r.status)
      assert.equal("application/vnd.atlas.2024-11-13+json;charset=utf-8", r.headers["content-type"])
      assert.is_nil(r.headers["deprecation"])
      local statuses, types = {}, {}
      for _, job in ipairs(r.json.results) do
        statuses[job.status] = true
        types[job.deliveryType] = true
        assert.is_nil(job.links)
        assert.equal(job.deliveryType == "DOWNLOAD", job.snapshotUrl ~= nil)
        local finished = job.status == "FAILED" or job.status == "COMPLETED"
        assert.equal(finished, job.restoreFinishedDate ~= nil)
        assert.equal("flex-demo", job.instanceName)
        assert.equal(GROUP, job.projectId)
      end
      assert.same({ PENDING = true, QUEUED = true, RUNNING = true, FAILED = true, COMPLETED = true }, statuses)
      assert.same({ RESTORE = true, DOWNLOAD = true }, types)
    end)

    it("pages flex-1200", function()
      local r = curl(digest() .. accept(V2_FLEX) .. flex("flex-1200", "itemsPerPage=500&pageNum=3"))
      assert.equal(200, #r.json.results)
      assert.equal(1200, r.json.totalCount)
      assert.is_nil(link(r.json, "next"))
    end)

    it("answers Flex errors like the recordings", function()
      local r = curl(digest() .. accept(V2_FLEX) .. flex("demo"))
      assert.equal(404, r.status)
      local rec = cjson.decode(read_all("spec/fixtures/flex_cluster_get_404_cluster_not_found.json"))
      assert.equal(rec.errorCode, r.json.errorCode)
      assert.equal(replace(replace(rec.detail, rec.parameters[1], "demo"), rec.parameters[2], GROUP), r.json.detail)
      r = curl(digest() .. accept(V2_FLEX) .. flex("dedicated-0"))
      rec = cjson.decode(read_all("spec/fixtures/flex_restore_jobs_list_400_non_flex_cluster.json"))
      assert.equal(400, r.status)
      assert.equal("CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API", r.headers["x-error-code"])
      assert.equal(replace(rec.detail, rec.parameters[1], "dedicated-0"), r.json.detail)
      assert.equal("CANNOT_USE_CLUSTER_IN_SERVERLESS_INSTANCE_API",
        curl(digest() .. serverless("dedicated-0", "v1.0")).json.errorCode)
    end)

    it("serves migrated instances on Flex while serverless is empty, unknown or gone", function()
      for _, name in ipairs{ "migrated-empty", "migrated-404", "migrated-410" } do
        local r = curl(digest() .. accept(V2_FLEX) .. flex(name))
        assert.equal(5, #r.json.results, name)
      end
      local r = curl(digest() .. serverless("migrated-empty", "v1.0"))
      assert.equal(200, r.status)
      assert.equal(0, r.json.totalCount)
      assert.equal(404, curl(digest() .. serverless("migrated-404", "v1.0")).status)
      r = curl(digest() .. accept(V2_SERVERLESS) .. serverless("migrated-410"))
      assert.equal(410, r.status)
      assert.equal("VERSION_GONE", r.json.errorCode)
    end)
  end)

  describe("faults", function()
    local function faulted(kind, extra, max_time)
      emu:config{ faults = { script = { kind } } }
      return curl(digest() .. (extra or "") .. serverless("jobs-1000", "v1.0", "itemsPerPage=20"), max_time)
    end

    it("429 with and without Retry-After", function()
      emu:config{ faults = { retry_after = 7 } }
      local r = faulted("429")
      assert.equal(429, r.status)
      assert.equal("7", r.headers["retry-after"])
      assert.equal("RATE_LIMITED_TOKEN_BUCKET", r.json.errorCode)
      assert.same(7, r.json.parameters[2])
      assert.matches("Please retry after 7 seconds", r.json.detail)
      r = faulted("429_body_only")
      assert.equal(429, r.status)
      assert.is_nil(r.headers["retry-after"])
      assert.equal("RATE_LIMITED_TOKEN_BUCKET", r.json.errorCode)
    end)

    it("503 with an HTML page", function()
      local r = faulted("503")
      assert.equal(503, r.status)
      assert.equal("text/html", r.headers["content-type"])
      assert.matches("<html>", r.body)
    end)

    it("truncated and malformed bodies in complete responses", function()
      local r = faulted("truncated")
      assert.equal(0, r.rc)
      assert.equal(200, r.status)
      assert.equal(tonumber(r.headers["content-length"]), #r.body)
      assert.is_nil(r.json)
      assert.matches('^{"links":', r.body)
      r = faulted("malformed")
      assert.equal(200, r.status)
      assert.is_nil(r.json)
    end)

    it("close: the connection drops mid-body", function()
      local r = faulted("close")
      assert.equal(18, r.rc)
      assert.matches("transfer closed with %d+ bytes remaining", r.stderr)
    end)

    it("stall and trickle delay the answer, within stall_seconds", function()
      emu:config{ stall_seconds = 1 }
      local r = faulted("stall")
      assert.equal(200, r.status)
      assert.is_true(r.elapsed >= 0.9, "elapsed " .. r.elapsed)
      assert.equal(20, #r.json.results)
      emu:config{ stall_seconds = 2 }
      r = faulted("trickle")
      assert.equal(200, r.status)
      assert.is_true(r.elapsed >= 1.5 and r.elapsed < 5, "elapsed " .. r.elapsed)
      assert.equal(20, #r.json.results)
      r = faulted("stall", nil, 1)
      assert.equal(28, r.rc) -- curl gave up: a client timeout is observable
    end)

    it("takes script entries in order, then serves normally; logs the fault", function()
      emu:config{ faults = { script = { "503", "ok", "429" } } }
      local codes = {}
      for i = 1, 4 do
        codes[i] = curl(digest() .. serverless("demo", "v1.0")).status
      end
      assert.same({ 503, 200, 429, 200 }, codes)
      local faults = {}
      for _, e in ipairs(emu:stats().log) do
        if e.status ~= 401 then faults[#faults + 1] = e.fault or "-" end
      end
      assert.same({ "503", "-", "429", "-" }, faults)
    end)

    it("is deterministic for a seed and rate", function()
      local function run()
        emu:config{ faults = { seed = 42, rate = 0.5, kinds = { "429", "503" } } }
        local codes = {}
        local bearer = curl("-u " .. q(emulator.CLIENT_ID .. ":" .. emulator.CLIENT_SECRET) ..
          " -d grant_type=client_credentials " .. url("/api/oauth/token")).json.access_token
        for i = 1, 12 do
          codes[i] = curl("-H " .. q("Authorization: Bearer " .. bearer) .. " " .. serverless("demo", "v1.0")).status
        end
        return codes
      end
      local a = run()
      local b = run()
      assert.same(a, b)
      local kinds = {}
      for _, c in ipairs(a) do kinds[c] = true end
      assert.truthy(kinds[200] and (kinds[429] or kinds[503]))
    end)

    it("rejects unknown fault kinds at config time", function()
      assert.has_error(function() emu:config{ faults = { script = { "explode" } } } end)
      assert.has_error(function() emu:config{ faults = { rate = 2 } } end)
    end)
  end)

  describe("dedicated clusters", function()
    local function dedicated(name, version, query, group)
      return url(emu:dedicated_path(name, version, group), query)
    end

    it("lists dedicated-0 in the recorded DiskBackupSnapshotRestoreJob shape", function()
      local r = curl(digest() .. accept(V2_SERVERLESS) .. dedicated("dedicated-0"))
      assert.equal(200, r.status)
      assert.equal("application/vnd.atlas.2023-01-01+json;charset=utf-8", r.headers["content-type"])
      assert.is_nil(r.headers["deprecation"])
      assert.equal("1200", r.headers["ratelimit-limit"])
      local rec_text = read_all("spec/fixtures/dedicated_restore_jobs_list_200.json")
      local rec = cjson.decode(rec_text)
      assert.same(top_keys(rec_text), top_keys(r.body))
      assert.equal(7, #r.json.results)
      assert.equal(7, r.json.totalCount)
      -- the automated, complete hand-written job has exactly the recorded fields, in the recorded order
      local texts = result_texts(r.body)
      local rec_job = result_texts(rec_text)[1]
      local fixed = texts[5]
      assert.equal(emulator.DEDICATED_FIXED_JOBS[1], cjson.decode(fixed).id)
      assert.same(top_keys(rec_job), top_keys(fixed))
      assert.matches('"deliveryUrl":%[%]', fixed)
      assert.matches('"desiredTimestamp":{"increment":null,"time":null,"date":null}', fixed)
      local job = r.json.results[5]
      local rels = {}
      for i, l in ipairs(job.links) do rels[i] = l.rel end
      local rec_rels = {}
      for i, l in ipairs(rec.results[1].links) do rec_rels[i] = l.rel end
      assert.same(rec_rels, rels)
      local cluster = emu.base_url .. "/api/atlas/v2/groups/" .. GROUP .. "/clusters/dedicated-0"
      assert.equal(cluster .. "/backup/restoreJobs/" .. job.id, job.links[1].href)
      assert.equal(cluster .. "/backup/snapshots/" .. job.snapshotId, job.links[2].href)
      assert.equal(cluster, job.links[3].href)
      assert.equal(emu.base_url .. "/api/atlas/v2/groups/" .. GROUP, job.links[4].href)
      assert.matches("^atlas%-%w+$", job.targetDeploymentItemName)
      assert.is_nil(job.components)
      -- the download and point-in-time ones
      assert.equal("download", r.json.results[6].deliveryType)
      assert.equal(1, #r.json.results[6].deliveryUrl)
      local pit = r.json.results[7]
      assert.equal("pointInTime", pit.deliveryType)
      assert.equal(pit.pointInTimeUTCSeconds, pit.desiredTimestamp.time)
      assert.equal(1, pit.desiredTimestamp.increment)
    end)

    it("answers v1.0 with application/json and v2 only with an Accept version", function()
      local r = curl(digest() .. dedicated("dedicated-0", "v1.0"))
      assert.equal(200, r.status)
      assert.equal("application/json", r.headers["content-type"])
      assert.matches("/api/atlas/v1%.0/groups/", r.json.results[1].links[1].href)
      r = curl(digest() .. dedicated("dedicated-0"))
      assert.equal(406, r.status)
      assert.equal("INVALID_VERSION_DATE", r.json.errorCode)
      assert.equal(406, curl(digest() .. accept("application/vnd.atlas.2022-12-31+json") ..
        dedicated("dedicated-0")).status)
      r = curl(digest() .. accept("application/vnd.atlas.2025-03-12+json") .. dedicated("dedicated-0"))
      assert.equal(200, r.status)
      assert.equal("application/vnd.atlas.2023-01-01+json;charset=utf-8", r.headers["content-type"])
    end)

    it("pages dedicated-1200 like the serverless endpoint, with unique ids", function()
      local seen, n = {}, 0
      for page = 1, 3 do
        local r = curl(digest() .. dedicated("dedicated-1200", "v1.0", "itemsPerPage=500&pageNum=" .. page))
        assert.equal(page < 3 and 500 or 200, #r.json.results)
        assert.equal(1200, r.json.totalCount)
        assert.equal(page < 3, link(r.json, "next") ~= nil)
        for _, id in ipairs(ids_of(r.json)) do
          assert.matches("^[0-9a-f]+$", id)
          assert.equal(24, #id)
          assert.is_nil(seen[id])
          seen[id] = true
          n = n + 1
        end
      end
      assert.equal(1200, n)
      local r = curl(digest() .. dedicated("dedicated-1200", "v1.0", "itemsPerPage=501"))
      assert.equal(400, r.status)
      assert.equal("VALIDATION_ERROR", r.json.errorCode)
      r = curl(digest() .. dedicated("dedicated-1200", "v1.0", "itemsPerPage=2&includeCount=false&envelope=true"))
      assert.equal(0, r.json.totalCount)
      assert.equal(200, r.json.status)
      local types, flags = {}, { cancelled = 0, failed = 0, expired = 0 }
      r = curl(digest() .. dedicated("dedicated-1200", "v1.0", "itemsPerPage=100"))
      for _, job in ipairs(r.json.results) do
        types[job.deliveryType] = true
        for k in pairs(flags) do if job[k] then flags[k] = flags[k] + 1 end end
        assert.equal(job.deliveryType == "download", #job.deliveryUrl > 0)
        assert.equal(job.deliveryType == "pointInTime", job.oplogTs ~= nil)
        assert.equal(4, #job.links)
      end
      assert.same({ automated = true, download = true, pointInTime = true }, types)
      assert.is_true(flags.cancelled > 0 and flags.failed > 0 and flags.expired > 0)
    end)

    it("adds components, one per replica set, on a sharded cluster", function()
      local r = curl(digest() .. dedicated("dedicated-sharded", "v1.0"))
      assert.equal(200, r.status)
      assert.equal(6, #r.json.results)
      for _, job in ipairs(r.json.results) do
        assert.equal(3, #job.components) -- two shards and the config server
        for _, c in ipairs(job.components) do
          assert.matches("^atlas%-%x+%-", c.replicaSetName)
          assert.same({}, c.privateDownloadDeliveryUrls)
          assert.equal(job.deliveryType == "download", c.downloadUrl ~= nil)
        end
      end
    end)

    it("keeps Flex and serverless answering their recorded errors for every cluster", function()
      local flex_rec = cjson.decode(read_all("spec/fixtures/flex_restore_jobs_list_400_non_flex_cluster.json"))
      for _, name in ipairs{ "dedicated-0", "dedicated-sharded", "dedicated-1200", "free-0", "nobackup-0" } do
        local r = curl(digest() .. accept(V2_FLEX) .. flex(name))
        assert.equal(400, r.status, name)
        assert.equal(flex_rec.errorCode, r.json.errorCode)
        assert.equal(replace(flex_rec.detail, flex_rec.parameters[1], name), r.json.detail)
        r = curl(digest() .. serverless(name, "v1.0"))
        assert.equal(400, r.status, name)
        assert.equal("CANNOT_USE_CLUSTER_IN_SERVERLESS_INSTANCE_API", r.json.errorCode)
      end
    end)

    it("refuses Flex and serverless instances, and unknown names, on the cluster endpoint", function()
      local rec = cjson.decode(read_all("spec/fixtures/cluster_get_400_flex_in_cluster_api_deprecated_version.json"))
      for _, name in ipairs{ "flex-demo", "migrated-404", "migrated-empty" } do
        local r = curl(digest() .. dedicated(name, "v1.0"))
        assert.equal(400, r.status, name)
        assert.equal(rec.errorCode, r.json.errorCode)
        assert.equal(replace(rec.detail, rec.parameters[1], name), r.json.detail)
        assert.same({ name }, r.json.parameters)
      end
      local r = curl(digest() .. dedicated("demo", "v1.0"))
      assert.equal(400, r.status)
      assert.equal("CANNOT_USE_SERVERLESS_INSTANCE_IN_CLUSTER_API", r.json.errorCode)
      r = curl(digest() .. dedicated("nope", "v1.0"))
      assert.equal(404, r.status)
      assert.equal("CLUSTER_NOT_FOUND", r.json.errorCode)
      assert.same({ "nope", GROUP }, r.json.parameters)
    end)

    it("answers free and no-backup clusters with an error (guessed codes)", function()
      local r = curl(digest() .. accept(V2_SERVERLESS) .. dedicated("free-0"))
      assert.equal(400, r.status)
      assert.equal("TENANT_CLUSTER_BACKUP_UNSUPPORTED", r.json.errorCode)
      assert.equal("TENANT_CLUSTER_BACKUP_UNSUPPORTED", r.headers["x-error-code"])
      assert.same({ "free-0" }, r.json.parameters)
      assert.equal("1200", r.headers["ratelimit-limit"])
      r = curl(digest() .. accept(V2_SERVERLESS) .. dedicated("nobackup-0"))
      assert.equal(400, r.status)
      assert.equal("CLUSTER_BACKUP_NOT_ENABLED", r.json.errorCode)
      assert.equal("Bad Request", r.json.reason)
    end)
  end)

  describe("one restore job", function()
    local function one(path, id, query)
      return url(path .. "/" .. id, query)
    end

    it("answers each Flex job of the list, as recorded (2024-11-13 only)", function()
      local list = curl(digest() .. accept(V2_FLEX) .. flex("flex-demo"))
      local rec_text = read_all("spec/fixtures/flex_restore_job_get_200_completed.json")
      for _, job in ipairs(list.json.results) do
        local r = curl(digest() .. accept(V2_FLEX) .. one(emu:flex_path("flex-demo"), job.id))
        assert.equal(200, r.status)
        assert.equal("application/vnd.atlas.2024-11-13+json;charset=utf-8", r.headers["content-type"])
        assert.same(job, r.json)
        if job.status == "COMPLETED" and job.deliveryType == "RESTORE" then
          assert.same(top_keys(rec_text), top_keys(r.body))
        end
      end
      assert.equal(406, curl(digest() .. accept(V2_SERVERLESS) ..
        one(emu:flex_path("flex-demo"), list.json.results[1].id)).status)
      local r = curl(digest() .. accept(V2_FLEX) .. one(emu:flex_path("flex-1200"), "0000000000000000000004b1"))
      assert.equal(404, r.status)
      r = curl(digest() .. accept(V2_FLEX) .. flex("flex-1200", "itemsPerPage=500&pageNum=3"))
      local last = r.json.results[#r.json.results]
      r = curl(digest() .. accept(V2_FLEX) .. one(emu:flex_path("flex-1200"), last.id))
      assert.same(last, r.json)
    end)

    it("answers serverless jobs on v1.0 and v2 with the deprecation headers", function()
      local list = curl(digest() .. serverless("demo", "v1.0"))
      for _, job in ipairs(list.json.results) do
        local r = curl(digest() .. one(emu:serverless_path("demo", "v1.0"), job.id))
        assert.equal(200, r.status)
        assert.equal("application/json", r.headers["content-type"])
        assert.same(job, r.json)
      end
      local id = list.json.results[2].id
      local r = curl(digest() .. accept(V2_SERVERLESS) .. one(emu:serverless_path("demo"), id))
      assert.equal(200, r.status)
      assert.equal("Wed, 10 Dec 2025 00:00:00 GMT", r.headers["deprecation"])
      assert.equal("Thu, 22 Jan 2026 00:00:00 GMT", r.headers["sunset"])
      assert.matches('"pointInTimeUTCSeconds":1.7000352e%+09', r.body)
      assert.equal(406, curl(digest() .. one(emu:serverless_path("demo"), id)).status)
      list = curl(digest() .. serverless("jobs-10000", "v1.0", "itemsPerPage=500&pageNum=20"))
      local last = list.json.results[500]
      assert.same(last, curl(digest() .. one(emu:serverless_path("jobs-10000", "v1.0"), last.id)).json)
      -- a job of another instance is not found here
      r = curl(digest() .. one(emu:serverless_path("jobs-1000", "v1.0"), last.id))
      assert.equal(404, r.status)
    end)

    it("answers dedicated jobs with the recorded shape", function()
      local list = curl(digest() .. accept(V2_SERVERLESS) .. url(emu:dedicated_path("dedicated-0")))
      local rec_text = read_all("spec/fixtures/dedicated_restore_job_get_200_completed.json")
      for _, job in ipairs(list.json.results) do
        local r = curl(digest() .. accept(V2_SERVERLESS) .. one(emu:dedicated_path("dedicated-0"), job.id))
        assert.equal(200, r.status)
        assert.same(job, r.json)
      end
      local r = curl(digest() .. accept(V2_SERVERLESS) ..
        one(emu:dedicated_path("dedicated-0"), emulator.DEDICATED_FIXED_JOBS[1]))
      assert.same(top_keys(rec_text), top_keys(r.body))
      assert.equal("1200", r.headers["ratelimit-limit"])
      list = curl(digest() .. url(emu:dedicated_path("dedicated-sharded", "v1.0"), "itemsPerPage=1&pageNum=5"))
      r = curl(digest() .. one(emu:dedicated_path("dedicated-sharded", "v1.0"), list.json.results[1].id))
      assert.same(list.json.results[1], r.json)
      assert.equal(3, #r.json.components)
    end)

    it("checks the id: 24 lowercase hex digits (400), known to the instance (404, guessed code)", function()
      local path = emu:dedicated_path("dedicated-0", "v1.0")
      for _, bad in ipairs{ "6A7C1E5F2C88FAEBA59D0311", "6a7c1e5f2c88faeba59d031", "6a7c1e5f2c88faeba59d03111",
        "not-an-id" } do
        local r = curl(digest() .. one(path, bad))
        assert.equal(400, r.status, bad)
        assert.equal("VALIDATION_ERROR", r.json.errorCode)
        assert.equal("restoreJobId", r.json.badRequestDetail.fields[1].field)
      end
      local r = curl(digest() .. one(path, "ffffffffffffffffffffffff"))
      assert.equal(404, r.status)
      assert.equal("RESTORE_JOB_NOT_FOUND", r.json.errorCode)
      assert.equal("RESTORE_JOB_NOT_FOUND", r.headers["x-error-code"])
      assert.same({ "ffffffffffffffffffffffff", "dedicated-0" }, r.json.parameters)
      -- instance errors come before the id
      assert.equal("TENANT_CLUSTER_BACKUP_UNSUPPORTED",
        curl(digest() .. one(emu:dedicated_path("free-0", "v1.0"), "ffffffffffffffffffffffff")).json.errorCode)
      assert.equal("CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API", curl(digest() .. accept(V2_FLEX) ..
        one(emu:flex_path("dedicated-0"), emulator.DEDICATED_FIXED_JOBS[1])).json.errorCode)
      assert.equal(404, curl(digest() .. one(emu:serverless_path("no-ids", "v1.0"), "ffffffffffffffffffffffff")).status)
    end)

    it("wraps one job in {content, status} with envelope=true, and pretty-prints", function()
      local id = emulator.DEDICATED_FIXED_JOBS[2]
      local plain = curl(digest() .. one(emu:dedicated_path("dedicated-0", "v1.0"), id))
      local env = curl(digest() .. one(emu:dedicated_path("dedicated-0", "v1.0"), id, "envelope=true"))
      assert.same({ content = plain.json, status = 200 }, env.json)
      local pretty = curl(digest() .. one(emu:dedicated_path("dedicated-0", "v1.0"), id, "pretty=true"))
      assert.matches('^{\n  "cancelled" : false,', pretty.body)
      assert.same(plain.json, pretty.json)
      assert.equal(400, curl(digest() .. one(emu:dedicated_path("dedicated-0", "v1.0"), id, "envelope=1")).status)
    end)

    it("works with Python's urllib Digest handler", function()
      local status, doc = python_get(emu.base_url .. emu:dedicated_path("dedicated-0") .. "/" ..
        emulator.DEDICATED_FIXED_JOBS[3], V2_SERVERLESS)
      assert.equal(200, status)
      assert.equal("pointInTime", doc.deliveryType)
      status, doc = python_get(emu.base_url .. emu:flex_path("flex-polling") .. "/" ..
        emulator.POLLING_JOBS.flex.completes, V2_FLEX)
      assert.equal(200, status)
      assert.equal("RUNNING", doc.status)
    end)
  end)

  describe("polling jobs", function()
    local IDS = emulator.POLLING_JOBS
    local SOURCES = {
      serverless = { path = function() return emu:serverless_path("polling", "v1.0") end },
      flex = { path = function() return emu:flex_path("flex-polling") end, accept = V2_FLEX },
      dedicated = { path = function() return emu:dedicated_path("dedicated-0", "v1.0") end },
    }
    local function get(kind, id)
      local s = SOURCES[kind]
      local r = curl(digest() .. (s.accept and accept(s.accept) or "") .. url(s.path() .. "/" .. id))
      assert.equal(200, r.status)
      return r.json
    end
    local function listed(kind)
      local s = SOURCES[kind]
      local r = curl(digest() .. (s.accept and accept(s.accept) or "") .. url(s.path()))
      local by_id = {}
      for _, job in ipairs(r.json.results) do by_id[job.id] = job end
      return by_id
    end
    local function running(kind, job)
      if kind == "flex" then
        return job.status ~= "COMPLETED" and job.status ~= "FAILED" and job.restoreFinishedDate == nil
      end
      return not job.cancelled and not job.failed and not job.expired and job.finishedAt == nil
    end
    local FINAL = {
      completes = function(j) return j.finishedAt ~= nil and not j.failed and not j.cancelled and not j.expired end,
      fails = function(j) return j.failed and j.finishedAt ~= nil end,
      cancelled = function(j) return j.cancelled and j.finishedAt ~= nil end,
      expired = function(j) return j.expired and j.finishedAt ~= nil and #(j.deliveryUrl or {}) == 1 end,
    }
    local FLEX_FINAL = { completes = "COMPLETED", fails = "FAILED", cancelled = "FAILED", expired = "COMPLETED" }
    local FLEX_RUNNING = { completes = "RUNNING", fails = "RUNNING", cancelled = "PENDING", expired = "QUEUED" }

    it("run for job_polls GETs, then stay final; listings show the same state", function()
      emu:config { job_polls = 2 }
      for kind in pairs(SOURCES) do
        for outcome, id in pairs(IDS[kind]) do
          for _ = 1, 2 do
            local job = get(kind, id)
            assert.is_true(running(kind, job), kind .. " " .. outcome)
            if kind == "flex" then assert.equal(FLEX_RUNNING[outcome], job.status) end
            assert.same(job, listed(kind)[id])
          end
          for _ = 1, 2 do
            local job = get(kind, id)
            if kind == "flex" then
              assert.equal(FLEX_FINAL[outcome], job.status, outcome)
              assert.truthy(job.restoreFinishedDate)
            else
              assert.is_true(FINAL[outcome](job), kind .. " " .. outcome)
            end
            assert.same(job, listed(kind)[id])
          end
        end
      end
      -- Flex has no "expired": the stand-in is a complete download whose expirationDate has passed
      local job = get("flex", IDS.flex.expired)
      assert.equal("DOWNLOAD", job.deliveryType)
      assert.truthy(job.snapshotUrl)
      assert.is_true(job.expirationDate > job.restoreFinishedDate)
      assert.is_true(job.expirationDate < os.date("!%Y-%m-%dT%H:%M:%SZ"))
      -- listings do not count as polls; reset() starts over
      emu:reset()
      emu:config { job_polls = 1 }
      for _ = 1, 3 do listed("serverless") end
      assert.is_true(running("serverless", get("serverless", IDS.serverless.completes)))
      assert.is_false(running("serverless", get("serverless", IDS.serverless.completes)))
      assert.is_true(running("serverless", listed("serverless")[IDS.serverless.fails]))
      assert.equal(2, emu:stats().job_requests)
    end)

    it("are final at once with job_polls = 0", function()
      emu:config { job_polls = 0 }
      for kind in pairs(SOURCES) do
        for _, job in pairs(listed(kind)) do assert.is_false(running(kind, job), kind) end
        assert.is_false(running(kind, get(kind, IDS[kind].completes)))
      end
      assert.has_error(function() emu:config { job_polls = -1 } end)
      assert.has_error(function() emu:config { job_polls = 1.5 } end)
    end)
  end)

  describe("instance lists", function()
    local MIXED, EMPTY = emulator.MIXED_GROUP_ID, emulator.EMPTY_GROUP_ID
    local V2_CLUSTERS = "application/vnd.atlas.2024-08-05+json"
    local function list(kind, group, query, version_accept)
      local acc = version_accept or (kind == "flexClusters" and V2_FLEX or kind == "clusters" and V2_CLUSTERS
        or V2_SERVERLESS)
      return curl(digest() .. accept(acc) .. url(emu:instances_path(kind, group), query))
    end
    local function names(doc)
      local out = {}
      for _, inst in ipairs(doc.results) do out[#out + 1] = inst.name end
      return out
    end

    it("lists the Flex clusters (2024-11-13 only)", function()
      local r = list("flexClusters")
      assert.equal(200, r.status)
      assert.equal("application/vnd.atlas.2024-11-13+json;charset=utf-8", r.headers["content-type"])
      assert.same({ "migrated-empty", "migrated-404", "migrated-410", "flex-demo", "flex-1200", "flex-polling" },
        names(r.json))
      assert.equal(6, r.json.totalCount)
      for _, inst in ipairs(r.json.results) do
        assert.equal("FLEX", inst.providerSettings.providerName)
        assert.equal(GROUP, inst.groupId)
        assert.equal(24, #inst.id)
      end
      assert.equal(406, list("flexClusters", nil, nil, V2_SERVERLESS).status)
      assert.equal(404, curl(digest() .. url(emu:instances_path("flexClusters", nil, "v1.0"))).status)
      emu:config { migrated = { "demo" } }
      assert.equal(7, list("flexClusters").json.totalCount)
    end)

    it("lists the serverless instances in the recorded shape, with Deprecation and Sunset", function()
      local r = list("serverless")
      assert.equal(200, r.status)
      assert.equal("application/vnd.atlas.2023-01-01+json;charset=utf-8", r.headers["content-type"])
      assert.equal("Wed, 10 Dec 2025 00:00:00 GMT", r.headers["deprecation"])
      assert.equal("Thu, 15 Jan 2026 00:00:00 GMT", r.headers["sunset"])
      assert.is_nil(r.headers["ratelimit-limit"]) -- as recorded
      local got = names(r.json)
      assert.equal(13, #got)
      assert.equal("demo", got[1])
      local rec_text = read_all("spec/fixtures/serverless_instances_list_200_deprecated.json")
      assert.same(top_keys(rec_text), top_keys(r.body))
      local rec_item = cjson.decode(rec_text).results[1]
      for _, inst in ipairs(r.json.results) do
        local keys, rec_keys = {}, {}
        for k in pairs(inst) do keys[#keys + 1] = k end
        for k in pairs(rec_item) do rec_keys[#rec_keys + 1] = k end
        table.sort(keys); table.sort(rec_keys)
        assert.same(rec_keys, keys)
        assert.equal("https://cloud.mongodb.com/restoreJobs", inst.links[2].rel)
        assert.equal(emu.base_url .. emu:serverless_path(inst.name), inst.links[2].href)
        if inst.name == "migrated-empty" then
          -- a migrated instance shows the recorded settings (FLEX on TENANT)
          local ps, rec_ps = {}, {}
          for k in pairs(inst.providerSettings) do ps[#ps + 1] = k end
          for k in pairs(rec_item.providerSettings) do rec_ps[#rec_ps + 1] = k end
          table.sort(ps); table.sort(rec_ps)
          assert.same(rec_ps, ps)
          assert.equal(rec_item.providerSettings.effectiveInstanceSizeName,
            inst.providerSettings.effectiveInstanceSizeName)
        end
      end
      assert.equal(200, curl(digest() .. url(emu:instances_path("serverless", nil, "v1.0"))).status)
      assert.equal(406, curl(digest() .. url(emu:instances_path("serverless"))).status)
    end)

    it("answers 404 or 410 for the whole serverless list after the sunset, as configured", function()
      emu:config { serverless_list = "410" }
      local r = list("serverless")
      assert.equal(410, r.status)
      assert.equal("VERSION_GONE", r.json.errorCode)
      emu:config { serverless_list = "404" }
      r = list("serverless", MIXED)
      assert.equal(404, r.status)
      assert.equal("RESOURCE_NOT_FOUND", r.json.errorCode)
      assert.equal(200, list("flexClusters").status)
      -- the restore-job endpoints are not affected
      assert.equal(200, curl(digest() .. serverless("demo", "v1.0")).status)
      assert.has_error(function() emu:config { serverless_list = "gone" } end)
      emu:config { serverless_list = "ok" }
      assert.equal(200, list("serverless").status)
    end)

    it("lists clusters with their tier, type and backup, and resolves the version", function()
      local r = list("clusters")
      assert.equal(200, r.status)
      assert.equal("application/vnd.atlas.2024-08-05+json;charset=utf-8", r.headers["content-type"])
      assert.is_nil(r.headers["deprecation"])
      assert.same({ "dedicated-0", "dedicated-sharded", "dedicated-1200", "free-0", "nobackup-0" }, names(r.json))
      local by = {}
      for _, c in ipairs(r.json.results) do by[c.name] = c end
      -- 2024-08-05: backupEnabled is Cloud Backup; a replication spec per shard, each with its region configs
      local function region(c, shard) return c.replicationSpecs[shard or 1].regionConfigs[1] end
      assert.equal("M0", region(by["free-0"]).electableSpecs.instanceSize)
      assert.equal("TENANT", region(by["free-0"]).providerName)
      assert.is_false(by["free-0"].backupEnabled)
      assert.is_false(by["nobackup-0"].backupEnabled)
      assert.equal("M10", region(by["nobackup-0"]).electableSpecs.instanceSize)
      assert.is_true(by["dedicated-0"].backupEnabled)
      assert.equal("SHARDED", by["dedicated-sharded"].clusterType)
      assert.equal(2, #by["dedicated-sharded"].replicationSpecs)
      assert.equal("AWS", region(by["dedicated-sharded"], 2).providerName)
      assert.equal("REPLICASET", by["dedicated-0"].clusterType)
      for _, c in pairs(by) do assert.is_nil(c.providerSettings) end
      r = list("clusters", nil, nil, V2_SERVERLESS)
      assert.equal("application/vnd.atlas.2023-01-01+json;charset=utf-8", r.headers["content-type"])
      -- a deprecated version: the headers recorded on the cluster API, and the legacy record
      assert.equal("Mon, 5 Aug 2024 00:00:00 GMT", r.headers["deprecation"])
      assert.equal("Thu, 1 Jul 2027 00:00:00 GMT", r.headers["sunset"])
      by = {}
      for _, c in ipairs(r.json.results) do by[c.name] = c end
      assert.equal("M0", by["free-0"].providerSettings.instanceSizeName)
      assert.equal("TENANT", by["free-0"].providerSettings.providerName)
      assert.is_false(by["free-0"].providerBackupEnabled)
      assert.is_false(by["nobackup-0"].providerBackupEnabled)
      assert.is_true(by["dedicated-0"].providerBackupEnabled)
      assert.equal(2, by["dedicated-sharded"].numShards)
      for _, c in pairs(by) do assert.is_false(c.backupEnabled) end
      r = list("clusters", nil, nil, "application/vnd.atlas.2023-06-30+json")
      assert.equal("application/vnd.atlas.2023-02-01+json;charset=utf-8", r.headers["content-type"])
      r = list("clusters", nil, nil, "application/vnd.atlas.2026-01-01+json")
      assert.equal("application/vnd.atlas.2024-08-05+json;charset=utf-8", r.headers["content-type"])
      assert.equal(406, list("clusters", nil, nil, "application/vnd.atlas.2022-12-31+json").status)
      r = curl(digest() .. url(emu:instances_path("clusters", nil, "v1.0")))
      assert.equal("application/json", r.headers["content-type"])
      assert.equal(5, #r.json.results)
    end)

    it("paginates like the restore-job lists", function()
      local seen = {}
      for page = 1, 4 do
        local r = list("serverless", nil, "itemsPerPage=4&pageNum=" .. page)
        assert.equal(13, r.json.totalCount)
        assert.equal(page < 4 and 4 or 1, #r.json.results)
        assert.equal(page < 4, link(r.json, "next") ~= nil)
        for _, n in ipairs(names(r.json)) do
          assert.is_nil(seen[n]); seen[n] = true
        end
      end
      local r = list("clusters", nil, "itemsPerPage=2&includeCount=true")
      assert.equal(emu.base_url .. emu:instances_path("clusters") .. "?includeCount=true&itemsPerPage=2&pageNum=2",
        link(r.json, "next"))
      assert.equal(400, list("flexClusters", nil, "itemsPerPage=0").status)
      assert.equal(0, list("flexClusters", nil, "includeCount=false").json.totalCount)
    end)

    it("has a mixed project with every kind, one of whose restore-job endpoints fails", function()
      local kinds = {}
      for _, kind in ipairs{ "flexClusters", "serverless", "clusters" } do
        local r = list(kind, MIXED)
        assert.equal(200, r.status)
        kinds[kind] = names(r.json)
      end
      assert.same({ "mixed-flex", "mixed-migrated" }, kinds.flexClusters)
      assert.same({ "mixed-serverless", "mixed-migrated" }, kinds.serverless)
      assert.same({ "mixed-dedicated", "mixed-sharded", "mixed-free", "mixed-nobackup", "mixed-broken" },
        kinds.clusters)
      local statuses = {}
      local function jobs(kind, name)
        local path = kind == "flexClusters" and emu:flex_path(name, MIXED) or kind == "serverless" and
          emu:serverless_path(name, "v1.0", MIXED) or emu:dedicated_path(name, "v1.0", MIXED)
        local r = curl(digest() .. (kind == "flexClusters" and accept(V2_FLEX) or "") .. url(path))
        statuses[#statuses + 1] = r.status
        return r
      end
      assert.equal(4, #jobs("flexClusters", "mixed-flex").json.results)
      assert.equal(2, #jobs("flexClusters", "mixed-migrated").json.results)
      assert.equal(MIXED, jobs("flexClusters", "mixed-flex").json.results[1].projectId)
      assert.equal(3, #jobs("serverless", "mixed-serverless").json.results)
      assert.equal(0, #jobs("serverless", "mixed-migrated").json.results)
      assert.equal(3, #jobs("clusters", "mixed-dedicated").json.results)
      local sharded = jobs("clusters", "mixed-sharded").json.results
      assert.equal(4, #sharded[1].components)
      assert.equal(MIXED, sharded[1].targetGroupId)
      assert.equal("TENANT_CLUSTER_BACKUP_UNSUPPORTED", jobs("clusters", "mixed-free").json.errorCode)
      assert.equal("CLUSTER_BACKUP_NOT_ENABLED", jobs("clusters", "mixed-nobackup").json.errorCode)
      local broken = jobs("clusters", "mixed-broken")
      assert.equal(500, broken.status)
      assert.equal("UNEXPECTED_ERROR", broken.json.errorCode)
      assert.equal("Internal Server Error", broken.json.reason)
      local n500 = 0
      for _, s in ipairs(statuses) do if s == 500 then n500 = n500 + 1 end end
      assert.equal(1, n500)
      assert.equal(500, curl(digest() .. url(emu:dedicated_path("mixed-broken", "v1.0", MIXED) ..
        "/ffffffffffffffffffffffff")).status)
      -- names are per project
      assert.equal(404, curl(digest() .. serverless("mixed-serverless", "v1.0")).status)
    end)

    it("has an empty project, and refuses unknown or malformed groups", function()
      for _, kind in ipairs{ "flexClusters", "serverless", "clusters" } do
        local r = list(kind, EMPTY)
        assert.equal(200, r.status, kind)
        assert.same({}, r.json.results)
        assert.equal(0, r.json.totalCount)
        assert.is_nil(link(r.json, "next"))
        r = list(kind, "65a1b2c3d4e5f60718293a4e")
        assert.equal(404, r.status)
        assert.equal("GROUP_NOT_FOUND", r.json.errorCode)
        assert.equal(400, list(kind, "nope").status)
      end
      assert.equal("CLUSTER_NOT_FOUND",
        curl(digest() .. url(emu:dedicated_path("dedicated-0", "v1.0", EMPTY))).json.errorCode)
    end)
  end)

  describe("rate limits", function()
    it("sends RateLimit-Limit and RateLimit-Remaining on every restore-job answer of a project", function()
      local answers = {
        curl(digest() .. serverless("demo", "v1.0")),
        curl(digest() .. accept(V2_FLEX) .. flex("flex-demo")),
        curl(digest() .. url(emu:dedicated_path("dedicated-0", "v1.0"))),
        curl(digest() .. url(emu:dedicated_path("dedicated-0", "v1.0") .. "/" .. emulator.DEDICATED_FIXED_JOBS[1])),
        curl(digest() .. url(emu:dedicated_path("free-0", "v1.0"))),
        curl(digest() .. url(emu:dedicated_path("dedicated-0", "v1.0") .. "/ffffffffffffffffffffffff")),
        curl(digest() .. serverless("nope", "v1.0", "itemsPerPage=5")),
      }
      local last = 1201
      for i, r in ipairs(answers) do
        assert.equal("1200", r.headers["ratelimit-limit"], i)
        local rem = tonumber(r.headers["ratelimit-remaining"])
        assert.is_true(rem < last, i)
        last = rem
      end
      -- per project
      local other = curl(digest() .. url(emu:dedicated_path("mixed-dedicated", "v1.0", emulator.MIXED_GROUP_ID)))
      assert.equal("1199", other.headers["ratelimit-remaining"])
      assert.is_nil(curl(digest() .. url(emu:serverless_path("demo", "v1.0", "65a1b2c3d4e5f60718293a4e")))
        .headers["ratelimit-limit"])
    end)

    it("refuses with 429 RATE_LIMITED_TOKEN_BUCKET when the project's bucket is empty", function()
      emu:config { rate_limit = { capacity = 3, refill = 2, per = 2 } }
      local path = emu:dedicated_path("dedicated-0", "v1.0")
      local remaining = {}
      for i = 1, 3 do
        local r = curl(digest() .. url(path))
        assert.equal(200, r.status)
        assert.equal("3", r.headers["ratelimit-limit"])
        remaining[i] = tonumber(r.headers["ratelimit-remaining"])
      end
      assert.same({ 2, 1, 0 }, remaining)
      local r = curl(digest() .. url(path .. "/" .. emulator.DEDICATED_FIXED_JOBS[1]))
      assert.equal(429, r.status)
      assert.equal("0", r.headers["ratelimit-remaining"])
      assert.equal("RATE_LIMITED_TOKEN_BUCKET", r.headers["x-error-code"])
      local wait = tonumber(r.headers["retry-after"])
      assert.is_true(wait >= 1 and wait <= 2, tostring(wait))
      local p = r.json.parameters
      assert.equal("RATE_LIMITED_TOKEN_BUCKET", r.json.errorCode)
      assert.equal("Too Many Requests", r.json.reason)
      assert.same({ path:sub(2) .. "/" .. emulator.DEDICATED_FIXED_JOBS[1], wait, 3, 2, 2 }, p)
      assert.equal(string.format("Rate limit exceeded for %s. Please retry after %d seconds. Request capacity: 3. " ..
        "Refill rate: 2 per 2 seconds.", p[1], wait), r.json.detail)
      -- another project has its own bucket; instance lists take no token
      assert.equal(200, curl(digest() .. url(emu:dedicated_path("mixed-dedicated", "v1.0",
        emulator.MIXED_GROUP_ID))).status)
      assert.equal(200, curl(digest() .. url(emu:instances_path("clusters", nil, "v1.0"))).status)
      assert.equal(1, emu:stats().rate_limited)
      socket.sleep(wait + 0.1)
      r = curl(digest() .. url(path))
      assert.equal(200, r.status)
      assert.equal("1", r.headers["ratelimit-remaining"])
      emu:config { rate_limit = false }
      for _ = 1, 4 do assert.equal(200, curl(digest() .. url(path)).status) end
      assert.has_error(function() emu:config { rate_limit = { capacity = 0 } } end)
    end)
  end)

  describe("gzip", function()
    it("compresses JSON pages for clients that ask, as nginx does", function()
      local path = emu:dedicated_path("dedicated-1200", "v1.0")
      local plain = curl(digest() .. url(path, "itemsPerPage=500"))
      local gz = curl("--compressed " .. digest() .. url(path, "itemsPerPage=500"))
      assert.equal(200, gz.status)
      assert.equal("gzip", gz.headers["content-encoding"])
      assert.equal("Accept-Encoding", gz.headers["vary"])
      assert.is_nil(plain.headers["content-encoding"])
      assert.equal(plain.body, gz.body)
      assert.equal(#plain.body, plain.size_download)
      assert.is_true(gz.size_download * 5 < plain.size_download, gz.size_download .. " vs " .. plain.size_download)
      for _, args in ipairs{
        accept(V2_SERVERLESS) .. serverless("jobs-1000", "v2", "itemsPerPage=500"),
        accept(V2_FLEX) .. flex("flex-1200", "itemsPerPage=500"),
        accept("application/vnd.atlas.2023-02-01+json") .. url(emu:instances_path("serverless"), "itemsPerPage=20"),
        url(emu:dedicated_path("dedicated-0", "v1.0")),
      } do
        local r = curl("--compressed " .. digest() .. args)
        assert.equal(200, r.status)
        assert.equal("gzip", r.headers["content-encoding"])
        assert.truthy(r.json)
      end
      -- small answers, and errors other than 403/404, go out as they are
      local small = curl("--compressed " .. digest() .. accept(V2_FLEX) ..
        url(emu:flex_path("flex-demo") .. "/6a7b0d1e2c88faeba59c0006"))
      assert.equal(200, small.status)
      assert.is_true(#small.body < 1024)
      assert.is_nil(small.headers["content-encoding"])
      local err = curl("--compressed " .. digest() .. url(emu:dedicated_path("free-0", "v1.0")))
      assert.equal(400, err.status)
      assert.is_nil(err.headers["content-encoding"])
    end)
  end)

  describe("latency and connections", function()
    local function token()
      return curl("-u " .. q(emulator.CLIENT_ID .. ":" .. emulator.CLIENT_SECRET) ..
        " -d grant_type=client_credentials " .. url("/api/oauth/token")).json.access_token
    end

    it("delays each request, and the first one of each connection, without blocking", function()
      local bearer = "-H " .. q("Authorization: Bearer " .. token()) .. " "
      emu:config { latency = { request = 0.2, connection = 0.3 } }
      -- two requests on one keep-alive connection: 0.3 + 2 x 0.2
      local r = curl("-v " .. bearer .. serverless("demo", "v1.0") .. serverless("empty", "v1.0"))
      assert.equal(0, r.rc)
      assert.matches("Re%-using existing connection", r.stderr)
      assert.is_true(r.elapsed >= 0.65, "elapsed " .. r.elapsed)
      assert.is_true(r.elapsed < 3, "elapsed " .. r.elapsed)
      local s = emu:stats()
      assert.equal(2, s.connections) -- the token request's and this one
      -- four at once on four connections: served side by side
      emu:config { latency = { request = 0.8, connection = 0 } }
      local urls = {}
      for i = 1, 4 do urls[i] = serverless("jobs-1000", "v1.0", "itemsPerPage=1&pageNum=" .. i) end
      r = curl("--parallel --parallel-immediate --parallel-max 4 " .. bearer .. table.concat(urls))
      assert.equal(0, r.rc)
      assert.is_true(r.elapsed < 2.5, "elapsed " .. r.elapsed) -- one after another: 3.2 s
      s = emu:stats()
      assert.equal(6, s.connections)
      assert.equal(4, s.max_in_flight)
      assert.equal(0, s.in_flight)
      emu:reset()
      s = emu:stats()
      assert.equal(0, s.connections)
      assert.equal(0, s.max_in_flight)
      assert.equal(0, emu:get_config().latency.request)
      assert.has_error(function() emu:config { latency = { request = -1 } } end)
    end)
  end)

  describe("faults on every endpoint", function()
    it("applies to single jobs, dedicated lists and instance lists", function()
      local targets = {
        url(emu:dedicated_path("dedicated-1200", "v1.0"), "itemsPerPage=50"),
        url(emu:dedicated_path("dedicated-0", "v1.0") .. "/" .. emulator.DEDICATED_FIXED_JOBS[1]),
        url(emu:serverless_path("demo", "v1.0") .. "/6a7a1c0e5f1b2c3d4e5f6a02"),
        accept(V2_FLEX) .. url(emu:flex_path("flex-demo") .. "/6a7b0d1e2c88faeba59c0006"),
        accept(V2_FLEX) .. url(emu:instances_path("flexClusters")),
        accept(V2_SERVERLESS) .. url(emu:instances_path("serverless")),
        accept(V2_SERVERLESS) .. url(emu:instances_path("clusters")),
      }
      for i, target in ipairs(targets) do
        emu:config { faults = { retry_after = 3, script = { "503", "429", "malformed", "truncated", "ok" } } }
        local r = curl(digest() .. target)
        assert.equal(503, r.status, i)
        assert.equal("text/html", r.headers["content-type"])
        r = curl(digest() .. target)
        assert.equal(429, r.status, i)
        assert.equal("3", r.headers["retry-after"])
        assert.equal("RATE_LIMITED_TOKEN_BUCKET", r.json.errorCode)
        r = curl(digest() .. target)
        assert.equal(200, r.status, i)
        assert.is_nil(r.json)
        r = curl(digest() .. target)
        assert.equal(200, r.status, i)
        assert.is_nil(r.json)
        assert.equal(tonumber(r.headers["content-length"]), #r.body)
        r = curl(digest() .. target)
        assert.equal(200, r.status, i)
        assert.truthy(r.json)
      end
      local s = emu:stats()
      assert.equal(7 * 4, s.faults)
      assert.equal(5, s.list_requests)
      assert.equal(15, s.job_requests)
      assert.equal(15, s.instance_list_requests)
    end)

    it("drops the connection mid-body on a single job", function()
      emu:config { faults = { script = { "close" } } }
      local r = curl(digest() .. url(emu:dedicated_path("dedicated-0", "v1.0") .. "/" ..
        emulator.DEDICATED_FIXED_JOBS[1]))
      assert.equal(18, r.rc)
    end)
  end)

  describe("counters", function()
    it("counts API requests, challenges, tokens and revokes but not admin calls", function()
      curl(digest() .. serverless("demo", "v1.0"))
      curl(digest("wrong") .. serverless("demo", "v1.0"))
      local basic = "-u " .. q(emulator.CLIENT_ID .. ":" .. emulator.CLIENT_SECRET) .. " "
      local t = curl(basic .. "-d grant_type=client_credentials " .. url("/api/oauth/token")).json.access_token
      curl(basic .. "-d token=" .. t .. " " .. url("/api/oauth/revoke"))
      emu:get_config()
      local s = emu:stats()
      assert.equal(6, s.requests)
      assert.equal(3, s.challenges)
      assert.equal(1, s.tokens)
      assert.equal(1, s.revokes)
      assert.equal(0, s.trap)
      assert.equal(6, #s.log)
      assert.is_nil(s.log[1].auth)
      assert.equal("Digest", s.log[2].auth)
      assert.equal(200, s.log[2].status)
      assert.equal("GET", s.log[2].method)
      assert.equal(emu:serverless_path("demo", "v1.0"), s.log[2].uri)
      assert.matches("^curl/", s.log[2].user_agent)
      assert.equal("Basic", s.log[5].auth)
      assert.equal("/api/oauth/token", s.log[5].uri)
      emu:reset()
      s = emu:stats()
      assert.equal(0, s.requests)
      assert.same({}, s.log)
    end)
  end)
end)

describe("Atlas emulator over TLS", function()
  local emu

  lazy_setup(function() emu = emulator.start{ tls = true } end)
  lazy_teardown(function() if emu then emu:stop() end end)

  it("is trusted with its throwaway CA and refused without it", function()
    assert.matches("^https://127%.0%.0%.1:%d+$", emu.base_url)
    local path = emu:serverless_path("demo", "v1.0")
    local r = curl("--cacert " .. q(emu.ca_file) .. " " .. digest() .. q(emu.base_url .. path))
    assert.equal(200, r.status)
    assert.equal(7, #r.json.results)
    assert.matches("^https://127%.0%.0%.1:", r.json.links[1].href)
    local port = emu.base_url:match(":(%d+)$")
    r = curl("--cacert " .. q(emu.ca_file) .. " " .. digest() .. q("https://localhost:" .. port .. path))
    assert.equal(200, r.status)
    r = curl(digest() .. q(emu.base_url .. path))
    assert.equal(60, r.rc) -- peer certificate cannot be authenticated
    assert.equal(4, emu:stats().requests) -- the refused handshake never reached HTTP
  end)
end)

describe("emulator helper", function()
  it("stops the emulator even when the caller fails", function()
    local prefix, pid
    local ok = pcall(emulator.with, {}, function(e)
      prefix, pid = e.prefix, e.pid
      error("boom")
    end)
    assert.is_false(ok)
    assert.is_nil(io.open(prefix .. "/nginx.conf"))
    local stat = read_all("/proc/" .. pid .. "/stat")
    assert.is_true(stat == "" or stat:match("^%d+ %b() (%a)") == "Z")
  end)
end)
