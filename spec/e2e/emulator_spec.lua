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
  local cmd = string.format("curl -sS --max-time %d -D %s -o %s -w '%%{http_code}' %s 2>%s",
    max_time or 10, q(hdr), q(body), args, q(err))
  local t0 = socket.gettime()
  local p = assert(io.popen(emulator.clean_env(cmd), "r"))
  p:read("a")
  local _, _, rc = p:close()
  local r = { rc = rc, elapsed = socket.gettime() - t0, body = read_all(body), stderr = read_all(err) }
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

    it("refuses a replayed nc, an unknown nonce and a uri that is not the request's", function()
      local path = emu:serverless_path("demo", "v1.0")
      local nonce = curl(url(path)).headers["www-authenticate"]:match('nonce="([^"]+)"')
      local function try(n, nc, uri)
        return curl("-H " .. q(digest_header("GET", uri or path, n, nc, "abc")) .. " " .. url(path)).status
      end
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
      local r = curl(digest() .. url(emu:serverless_path("demo", "v1.0", "65a1b2c3d4e5f60718293a4c")))
      assert.equal(404, r.status)
      assert.equal("GROUP_NOT_FOUND", r.json.errorCode)
      assert.equal("No group with ID 65a1b2c3d4e5f60718293a4c exists.", r.json.detail)
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
