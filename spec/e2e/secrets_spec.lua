-- No secret leaves the client: not in the debug log (a function or stderr), not
-- in any field of any error value, not in tostring(client) nor in a warning.
-- The secrets: the private key, the client secret, every token the client used
-- (fetched or given) and every Authorization value it sent (Digest, Basic,
-- Bearer), each also in its base64 and URL-encoded forms and inside the Basic
-- credentials. The public key and the client id may appear.
local atlasrestore = require "atlasrestore"
local curl_spy = require "support.curl_spy"
local emulator = require "support.emulator"
local socket = require "socket"
local cjson = require "cjson"

---------------------------------------------------------------------------
-- Encodings, written here independently of atlasrestore.redact
---------------------------------------------------------------------------

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = {}
    for j = 1, 4 do
      local idx = (n >> (6 * (4 - j))) & 63
      chars[j] = B64:sub(idx + 1, idx + 1)
    end
    if not b then chars[3], chars[4] = "=", "=" elseif not c then chars[4] = "=" end
    out[#out + 1] = table.concat(chars)
  end
  return table.concat(out)
end

local function percent(s, space)
  return (s:gsub("[^%w%-%._~ ]", function(c) return ("%%%02X"):format(c:byte()) end):gsub(" ", space))
end

local function url_decode(s)
  return (s:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- Every form in which `secret` could be written out. Base64 is matched without
-- its padding and at each of the three byte alignments (the secret inside a
-- longer base64 blob), so a form that merely ends differently is still found.
local function forms_of(secret, user)
  local forms = {
    { "raw", secret },
    { "URL-encoded", percent(secret, "%%20") },
    { "URL-encoded (lower-case hex)", (percent(secret, "%%20"):gsub("%%%x%x", string.lower)) },
    { "form-encoded", percent(secret, "+") },
    { "base64", (base64(secret):gsub("=+$", "")) },
  }
  for shift = 1, 2 do
    -- Characters 5.. of base64(shift bytes .. secret) up to the last whole group
    -- depend on the secret's bytes only.
    local b = base64(("\0"):rep(shift) .. secret)
    local whole = 4 * ((shift + #secret) // 3)
    forms[#forms + 1] = { "base64 (shifted " .. shift .. ")", b:sub(5, whole) }
  end
  if user then
    forms[#forms + 1] = { "Basic credentials", (base64(user .. ":" .. secret):gsub("=+$", "")) }
    forms[#forms + 1] = { "Basic credentials (form-encoded)",
      (base64(percent(user, "+") .. ":" .. percent(secret, "+")):gsub("=+$", "")) }
  end
  local kept = {}
  for _, f in ipairs(forms) do if #f[2] >= 6 then kept[#kept + 1] = f end end
  return kept
end

---------------------------------------------------------------------------
-- Collecting what left the client, and grepping it
---------------------------------------------------------------------------

--- Every string in an error value: keys and values of every nested table, and tostring.
local function error_texts(err)
  local out, seen = {}, {}
  local function walk(v, depth)
    local t = type(v)
    if t == "string" then
      out[#out + 1] = v
    elseif t == "number" or t == "boolean" then
      out[#out + 1] = tostring(v)
    elseif t == "table" and not seen[v] and depth < 200 then
      seen[v] = true
      for k, x in next, v do
        walk(k, depth + 1)
        walk(x, depth + 1)
      end
    end
  end
  walk(err, 0)
  if err ~= nil then out[#out + 1] = tostring(err) end
  return out
end

--- A secret set: add(name, value[, user]) registers a secret; list() the collected ones.
local function secret_set()
  local set = { list = {}, seen = {} }
  function set.add(name, value, user)
    if type(value) ~= "string" or value == "" then return end
    set.seen[name] = true
    for _, s in ipairs(set.list) do if s.value == value and s.user == user then return end end
    set.list[#set.list + 1] = { name = name, value = value, user = user }
  end
  --- An Authorization value the client sent: the value itself and what it carries.
  function set.authorization(value)
    if type(value) ~= "string" then return end
    set.add("Authorization value", value)
    local scheme, rest = value:match("^(%a+)%s+(.*)$")
    if scheme == "Digest" then
      set.add("Digest response", rest:match('response="?(%x+)"?'))
    elseif scheme == "Bearer" then
      set.add("bearer token", rest)
    elseif scheme == "Basic" then
      set.add("Basic credentials", rest)
    end
  end
  return set
end

--- Fails when any text holds any form of any secret.
local function assert_no_secret(where, texts, secrets)
  assert.is_true(#secrets.list > 0, "no secrets to look for")
  for _, text in ipairs(texts) do
    for _, s in ipairs(secrets.list) do
      for _, form in ipairs(forms_of(s.value, s.user)) do
        local at = text:find(form[2], 1, true)
        if at then
          error(("%s holds the %s (%s form %q): ...%s..."):format(where, s.name, form[1], form[2],
            text:sub(math.max(1, at - 60), at + #form[2] + 60)), 2)
        end
      end
    end
  end
end

--- A transport that hands everything to libcurl and notes what the client sent
-- and which tokens it received, so that the grep knows every value to look for.
local function recording_transport(secrets, opts)
  local spy
  spy = curl_spy.around(function(inner, req)
    spy.requests = spy.requests + 1
    for _, line in ipairs(req.headers) do
      local value = line:match("^Authorization: (.*)$")
      if value then secrets.authorization(value) end
    end
    if req.body then
      local token = req.body:match("token=([^&]+)")
      if token then secrets.add("revoked token", url_decode(token)) end
    end
    local res, err = inner:request(req)
    if res and req.url:find("/api/oauth/token", 1, true) then
      local decoded, doc = pcall(cjson.decode, res.body)
      local token = decoded and type(doc) == "table" and doc.access_token or nil
      secrets.add("fetched token", token)
      spy.tokens[#spy.tokens + 1] = token
    end
    return res, err
  end, opts)
  spy.requests, spy.tokens = 0, {}
  return spy
end

local read_file = emulator.read_file

-- The recording transport of each client, for the token it holds last.
local spies = setmetatable({}, { __mode = "k" })
local function held_token(client)
  local tokens = spies[client].tokens
  return tokens[#tokens]
end

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function escape(s) return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")) end

---------------------------------------------------------------------------
-- A hostile server: a lua-socket child process on 127.0.0.1 that answers per
-- route from a config file it re-reads on each connection, echoing the
-- Authorization it received wherever a body or header says {{AUTH}}. It
-- records every request and exits by itself after `lifetime` seconds.
---------------------------------------------------------------------------

local HOSTILE = [==[
local socket = require "socket"
local cjson = require "cjson"
local port, config_path, record_path, lifetime = tonumber(arg[1]), arg[2], arg[3], tonumber(arg[4])
local server = assert(socket.bind("127.0.0.1", port))
server:settimeout(0.2)
local CHALLENGE = 'Digest realm="hostile", domain="", nonce="aG9zdGlsZW5vbmNlaG9zdGlsZW5vbmNl", algorithm=MD5, '
  .. 'qop="auth", stale=false'
local stop_at = socket.gettime() + lifetime
while socket.gettime() < stop_at do
  local c = server:accept()
  if c then
    c:settimeout(2)
    local line = c:receive("*l") or ""
    local method, path = line:match("^(%u+) (%S+)")
    local headers = {}
    while true do
      local h = c:receive("*l")
      if not h or h == "" then break end
      local name, value = h:match("^([^:]+):%s*(.-)%s*$")
      if name then headers[name:lower()] = value end
    end
    local body = ""
    local len = tonumber(headers["content-length"] or "")
    if len and len > 0 then body = c:receive(len) or "" end
    local rf = io.open(record_path, "a")
    rf:write(cjson.encode { method = method or "", path = path or "", auth = headers.authorization or "",
      body = body }, "\n")
    rf:close()
    local config = dofile(config_path)
    path = path or ""
    local route = path:find("/api/oauth/token", 1, true) and "token"
      or path:find("/api/oauth/revoke", 1, true) and "revoke"
      or path:find("/flexClusters/", 1, true) and "flex" or "serverless"
    local answer
    if (route == "flex" or route == "serverless") and not headers.authorization then
      answer = { status = 401, headers = { ["WWW-Authenticate"] = CHALLENGE },
        body = '{"error":401,"errorCode":"UNAUTHORIZED","reason":"Unauthorized"}' }
    else
      answer = config[route] or { status = 404, body = '{"errorCode":"NO_ROUTE"}' }
    end
    local auth = headers.authorization or ""
    local in_json = cjson.encode(auth):sub(2, -2)
    local out = answer.body:gsub("{{AUTH}}", function() return in_json end)
    local lines = { ("HTTP/1.1 %d Hostile"):format(answer.status), "Content-Type: application/json",
      "Connection: close", "Content-Length: " .. #out }
    for k, v in pairs(answer.headers or {}) do
      lines[#lines + 1] = k .. ": " .. v:gsub("{{AUTH}}", function() return auth end)
    end
    c:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. out)
    c:close()
  end
end
]==]

local function serialize(v)
  if type(v) == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = "[" .. serialize(k) .. "] = " .. serialize(x) end
    return "{ " .. table.concat(parts, ", ") .. " }"
  elseif type(v) == "string" then
    return ("%q"):format(v)
  end
  return tostring(v)
end

local function start_hostile(lifetime)
  local probe = assert(socket.bind("127.0.0.1", 0))
  local _, port = probe:getsockname()
  probe:close()
  local script, config, record = os.tmpname(), os.tmpname(), os.tmpname()
  write_file(script, HOSTILE)
  write_file(config, "return {}")
  write_file(record, "")
  local pipe = assert(io.popen(emulator.clean_env(("lua5.4 %s %d %s %s %d >/dev/null 2>&1 & echo $!"):format(
    script, port, config, record, lifetime))))
  local pid = tonumber(pipe:read("l"))
  pipe:close()
  assert(pid, "the hostile server did not start")
  local deadline = socket.gettime() + 5
  repeat
    local c = socket.connect("127.0.0.1", port)
    if c then c:close() break end
    socket.sleep(0.02)
  until socket.gettime() > deadline
  local server = { base_url = "http://127.0.0.1:" .. port }
  --- Sets the answers: { serverless =, flex =, token =, revoke = }, each {status, headers, body}.
  function server.answer(routes)
    write_file(config, "return " .. serialize(routes))
    write_file(record, "")
  end
  --- The requests received since the last answer().
  function server.requests()
    local out = {}
    for line in (read_file(record) or ""):gmatch("[^\n]+") do out[#out + 1] = cjson.decode(line) end
    return out
  end
  function server.stop()
    os.execute(emulator.clean_env("kill " .. pid .. " 2>/dev/null"))
    os.remove(script)
    os.remove(config)
    os.remove(record)
  end
  return server
end

---------------------------------------------------------------------------

describe("secrets", function()
  local emu

  lazy_setup(function() emu = emulator.start() end)
  lazy_teardown(function() if emu then emu:stop() end end)
  before_each(function() emu:reset() end)

  --- A client on the emulator with a recording transport and a captured debug
  -- log; returns client, log (array of lines), secrets, warnings.
  local function new_client(extra, secrets)
    secrets = secrets or secret_set()
    local log, warnings = {}, {}
    local opts = {
      base_url = emu.base_url, on_warning = function(m) warnings[#warnings + 1] = m end,
      retry_base_delay = 0.01, debug = function(line) log[#log + 1] = line end, concurrency = 1,
      endpoint = "serverless", -- the original endpoint, whose paths the logs are checked against
    }
    for k, v in pairs(extra or {}) do opts[k] = v end
    if opts.transport == nil then opts.transport = recording_transport(secrets, { ca_file = opts.ca_file }) end
    if opts.transport == false then opts.transport = nil end
    if not (opts.client_id or opts.access_token or opts.public_key) then
      opts.public_key, opts.private_key = emu.public_key, emu.private_key
    end
    secrets.add("private key", opts.private_key, opts.public_key)
    secrets.add("client secret", opts.client_secret, opts.client_id)
    secrets.add("access token", opts.access_token)
    local client = assert(atlasrestore.new(opts))
    spies[client] = opts.transport
    return client, log, secrets, warnings
  end

  local function list_url(name) return emu.base_url .. emu:serverless_path(name) end

  --- The debug log is not empty and names the URL: an empty log cannot pass a grep.
  local function assert_logged(log, url)
    assert.is_true(#log > 0, "the debug log is empty")
    local text = table.concat(log, "\n")
    assert.is_truthy(text:find(url, 1, true), "the debug log does not name " .. url .. ":\n" .. text)
    return text
  end

  --- The one log line that matches `pattern`, or a failure listing the log.
  local function line_matching(log, pattern)
    for _, line in ipairs(log) do if line:find(pattern) then return line end end
    error("no debug line matches " .. pattern .. " in:\n" .. table.concat(log, "\n"), 2)
  end

  local function everything(log, err, warnings, extra)
    local texts = {}
    for _, l in ipairs(log) do texts[#texts + 1] = l end
    for _, t in ipairs(error_texts(err)) do texts[#texts + 1] = t end
    for _, w in ipairs(warnings or {}) do texts[#texts + 1] = w end
    for _, x in ipairs(extra or {}) do texts[#texts + 1] = x end
    return texts
  end

  describe("the debug log", function()
    it("logs method, URL, status, attempt and timing for a Digest listing", function()
      local client, log, secrets = new_client()
      assert(client:all_restore_jobs(emu.group_id, "demo"))
      client:close()
      local url = list_url("demo") .. "?pageNum=1&itemsPerPage=500&includeCount=false"
      assert_logged(log, url)
      line_matching(log, "^atlasrestore: > GET " .. escape(url) .. " %(attempt 1, auth none%)")
      line_matching(log, "^atlasrestore: > GET " .. escape(url) .. " %(attempt 1, auth Digest%)")
      line_matching(log, "< GET " .. escape(url) .. " %-> 401 %(attempt 1, %d+%.%d ms")
      line_matching(log, "< GET " .. escape(url) .. " %-> 200 %(attempt 1, %d+%.%d ms, %d+ bytes%)")
      assert.is_true(#secrets.list >= 3, "the private key and the Digest value sent were collected")
      assert_no_secret("the debug log", log, secrets)
    end)

    it("shows attempt 2 and the status of each retried 429 and 503", function()
      emu:config { faults = { retry_after = 0, script = { "429", "503" } } }
      local client, log, secrets, warnings = new_client()
      local jobs, err = client:all_restore_jobs(emu.group_id, "demo")
      client:close()
      assert(jobs, tostring(err))
      local url = list_url("demo")
      assert_logged(log, url)
      line_matching(log, "< GET " .. escape(url) .. "%S* %-> 429 %(attempt 1, %d+%.%d ms")
      line_matching(log, "^atlasrestore: retrying in [%d.]+ s after RATE_LIMITED_TOKEN_BUCKET$")
      line_matching(log, "> GET " .. escape(url) .. "%S* %(attempt 2, auth Digest%)")
      line_matching(log, "< GET " .. escape(url) .. "%S* %-> 503 %(attempt 2, %d+%.%d ms")
      line_matching(log, "< GET " .. escape(url) .. "%S* %-> 200 %(attempt 3, %d+%.%d ms")
      assert_no_secret("the debug log", everything(log, nil, warnings), secrets)
    end)

    it("logs the token request of a service account, and the revocation without its body", function()
      local client, log, secrets = new_client { client_id = emu.client_id, client_secret = emu.client_secret }
      assert(client:all_restore_jobs(emu.group_id, "demo"))
      local token = held_token(client)
      assert.is_string(token)
      secrets.add("token held by the client", token)
      assert(client:close())
      local token_url = emu.base_url .. "/api/oauth/token"
      assert_logged(log, token_url)
      line_matching(log, "> POST " .. escape(token_url) .. " %(attempt 1, auth Basic%)")
      line_matching(log, "< POST " .. escape(token_url) .. " %-> 200 %(attempt 1, %d+%.%d ms")
      line_matching(log, "> GET " .. escape(list_url("demo")) .. "%S* %(attempt 1, auth Bearer%)")
      line_matching(log, "> POST " .. escape(emu.base_url .. "/api/oauth/revoke") .. " %(attempt 1, auth Basic%)")
      line_matching(log, "< POST " .. escape(emu.base_url .. "/api/oauth/revoke") .. " %-> 200 ")
      local text = table.concat(log, "\n")
      assert.is_nil(text:find("token_type_hint", 1, true), "the revocation body is logged")
      assert.is_nil(text:find("grant_type", 1, true), "the token request body is logged")
      assert.equal(1, emu:stats().revokes)
      assert_no_secret("the debug log", log, secrets)
    end)

    it("logs a network failure with the method, URL, error and attempt", function()
      local client, log, secrets = new_client { base_url = "http://127.0.0.1:1", max_attempts = 2 }
      local jobs, err = client:all_restore_jobs(emu.group_id, "demo")
      client:close()
      assert.is_nil(jobs)
      assert.equal("CONNECT_FAILED", err.errorCode)
      local url = "http://127.0.0.1:1" .. emu:serverless_path("demo")
      assert_logged(log, url)
      line_matching(log, "> GET " .. escape(url) .. "%S* %(attempt 1, auth none%)")
      line_matching(log, "< GET " .. escape(url) .. "%S* failed: CONNECT_FAILED: .* %(attempt 1")
      line_matching(log, "< GET " .. escape(url) .. "%S* failed: CONNECT_FAILED: .* %(attempt 2")
      assert_no_secret("the debug log and the error", everything(log, err), secrets)
    end)

    it("logs the timing of a network failure too", function()
      local client, log = new_client { base_url = "http://127.0.0.1:1", max_attempts = 1 }
      local _, err = client:all_restore_jobs(emu.group_id, "demo")
      client:close()
      local line = line_matching(log, "failed: CONNECT_FAILED")
      -- libcurl's own message may say "after 0 ms": only the client's words count.
      local own = line:gsub(escape(err.message), "")
      assert.matches("%d+%.?%d* m?s", own, nil, false, "no timing in the failure line: " .. line)
    end)
  end)

  describe("the events (on_event)", function()
    -- Every event of a client, each as text (serialize): checked like the log.
    local function with_events(extra)
      local seen = {}
      extra.on_event = function(e) seen[#seen + 1] = e end
      local client, log, secrets, warnings = new_client(extra)
      return client, seen, secrets, log, warnings
    end

    local function texts(seen)
      local out = {}
      for i, e in ipairs(seen) do out[i] = serialize(e) end
      return out
    end

    local function count(seen, kind)
      local n = 0
      for _, e in ipairs(seen) do if e.type == kind then n = n + 1 end end
      return n
    end

    it("of a Digest listing hold neither the private key nor a Digest value", function()
      emu:config { faults = { retry_after = 0, script = { "ok", "429" } } }
      local client, seen, secrets = with_events {}
      assert(client:all_restore_jobs(emu.group_id, "jobs-1000", { items_per_page = 500 }))
      client:close()
      assert.equal(2, count(seen, "page"))
      assert.equal(1, count(seen, "retry"))
      assert.is_true(secrets.seen["Digest response"], "the Digest values sent were collected")
      assert_no_secret("the events", texts(seen), secrets)
    end)

    it("of a service account's listing, renewal and close hold neither the secret nor a token", function()
      local client, seen, secrets = with_events { client_id = emu.client_id, client_secret = emu.client_secret }
      assert(client:all_restore_jobs(emu.group_id, "demo"))
      emu:expire_tokens()
      assert(client:all_restore_jobs(emu.group_id, "demo"))
      assert(client:close())
      assert.equal(2, count(seen, "token"))
      assert.equal(2, count(seen, "revoke"), "the refused token and the last one")
      assert.equal(2, emu:stats().revokes)
      for _, name in ipairs { "fetched token", "revoked token", "Basic credentials", "bearer token" } do
        assert.is_true(secrets.seen[name], name .. " was collected")
      end
      assert_no_secret("the events", texts(seen), secrets)
    end)
  end)

  describe("API keys (Digest)", function()
    it("keep the private key and the Digest values out of a listing's log", function()
      local client, log, secrets, warnings = new_client()
      assert(client:all_restore_jobs(emu.group_id, "jobs-501"))
      assert(client:all_restore_jobs(emu.group_id, "demo", { endpoint = "auto" }))
      assert.is_nil(tostring(client):find(emu.private_key, 1, true))
      client:close()
      assert_logged(log, list_url("jobs-501"))
      local digests = 0
      for _, s in ipairs(secrets.list) do if s.name == "Digest response" then digests = digests + 1 end end
      assert.is_true(digests >= 3, "Digest values were collected")
      assert_no_secret("the debug log", everything(log, nil, warnings), secrets)
    end)

    it("keep a wrong private key out of the 401 error and the log", function()
      local client, log, secrets = new_client { public_key = emu.public_key, private_key = "wrong-private-key-5e1a9c" }
      local jobs, err = client:all_restore_jobs(emu.group_id, "demo")
      local ok, raised = pcall(function() for _ in client:restore_jobs(emu.group_id, "demo") do end end)
      client:close()
      assert.is_nil(jobs)
      assert.equal(401, err.status)
      assert.is_false(ok)
      assert.equal(401, raised.status)
      secrets.add("the emulator's private key", emu.private_key, emu.public_key)
      assert_logged(log, list_url("demo"))
      assert_no_secret("the log and errors", everything(log, err, nil, error_texts(raised)), secrets)
    end)
  end)

  describe("service accounts", function()
    local function sa(extra)
      local opts = { client_id = emu.client_id, client_secret = emu.client_secret }
      for k, v in pairs(extra or {}) do opts[k] = v end
      return new_client(opts)
    end

    it("keep the secret, the token and the Basic value out of a listing and its close", function()
      local client, log, secrets, warnings = sa()
      assert(client:all_restore_jobs(emu.group_id, "jobs-501"))
      assert(client:all_restore_jobs(emu.group_id, "flex-demo", { endpoint = "flex" }))
      secrets.add("token held by the client", held_token(client))
      assert.is_nil(tostring(client):find(held_token(client), 1, true))
      assert(client:close())
      assert.matches("closed", tostring(client))
      assert_logged(log, emu.base_url .. "/api/oauth/revoke")
      for _, name in ipairs { "fetched token", "revoked token", "Basic credentials", "bearer token" } do
        assert.is_true(secrets.seen[name], name .. " was collected")
      end
      assert_no_secret("the debug log", everything(log, nil, warnings, { tostring(client) }), secrets)
    end)

    it("keep a wrong secret out of the invalid_client error", function()
      local client, log, secrets = sa { client_secret = "mdb_sa_sk_wrong-0b7e44" }
      local jobs, err = client:all_restore_jobs(emu.group_id, "demo")
      assert.is_nil(jobs)
      assert.equal("invalid_client", err.errorCode)
      assert.is_string(err.detail)
      assert(client:close())
      secrets.add("the emulator's client secret", emu.client_secret, emu.client_id)
      assert_logged(log, emu.base_url .. "/api/oauth/token")
      line_matching(log, "< POST %S+/api/oauth/token %-> 401 %(attempt 1")
      assert_no_secret("the log and the error", everything(log, err), secrets)
    end)

    it("keep both tokens secret across an expiry and a refresh", function()
      local client, log, secrets = sa()
      assert(client:all_restore_jobs(emu.group_id, "demo"))
      local first = held_token(client)
      emu:expire_tokens()
      assert(client:all_restore_jobs(emu.group_id, "demo"))
      local second = held_token(client)
      assert.is_string(first)
      assert.is_string(second)
      assert.are_not.equal(first, second)
      secrets.add("first token", first)
      secrets.add("second token", second)
      assert(client:close())
      line_matching(log, "< GET %S+ %-> 401 ")
      local posts = 0
      for _, l in ipairs(log) do if l:find("> POST %S+/api/oauth/token") then posts = posts + 1 end end
      assert.equal(2, posts)
      assert_no_secret("the debug log", log, secrets)
    end)
  end)

  describe("access tokens", function()
    it("keep a ready token out of the log", function()
      local sa_client, _, secrets = new_client { client_id = emu.client_id, client_secret = emu.client_secret }
      assert(sa_client:all_restore_jobs(emu.group_id, "demo"))
      local token = held_token(sa_client)
      local client, log, _, warnings = new_client({ access_token = token }, secrets)
      assert(client:all_restore_jobs(emu.group_id, "jobs-501"))
      assert.is_nil(tostring(client):find(token, 1, true))
      client:close()
      assert(sa_client:close())
      assert_logged(log, list_url("jobs-501"))
      line_matching(log, "> GET %S+ %(attempt 1, auth Bearer%)")
      assert_no_secret("the debug log", everything(log, nil, warnings, { tostring(client) }), secrets)
    end)

    it("keep an invalid token out of the 401 error", function()
      local client, log, secrets = new_client { access_token = "emu_at_not-a-real-token-3f9d" }
      local jobs, err = client:all_restore_jobs(emu.group_id, "demo")
      client:close()
      assert.is_nil(jobs)
      assert.equal(401, err.status)
      assert_logged(log, list_url("demo"))
      assert_no_secret("the log and the error", everything(log, err), secrets)
    end)
  end)

  describe("faults and transport failures", function()
    it("keep secrets out of a listing through 429, 503, a malformed body and a cut connection", function()
      emu:config { faults = { retry_after = 0, script = { "429", "503", "malformed", "close" } } }
      local client, log, secrets, warnings = new_client { max_attempts = 5 }
      local jobs, err = client:all_restore_jobs(emu.group_id, "demo")
      client:close()
      assert(jobs, tostring(err))
      assert_logged(log, list_url("demo"))
      line_matching(log, "%-> 200 %(attempt 5, ")
      assert_no_secret("the debug log", everything(log, nil, warnings), secrets)
    end)

    it("keep secrets out of the error when the faults exhaust the attempts", function()
      emu:config { faults = { retry_after = 0, script = { "429", "503", "malformed", "429" } } }
      local client, log, secrets = new_client { client_id = emu.client_id, client_secret = emu.client_secret }
      local jobs, err = client:all_restore_jobs(emu.group_id, "demo")
      secrets.add("token held by the client", held_token(client))
      assert(client:close())
      assert.is_nil(jobs)
      assert.equal("RATE_LIMITED_TOKEN_BUCKET", err.errorCode)
      assert.equal(4, err.attempts)
      assert.is_table(err.parameters)
      assert_logged(log, list_url("demo"))
      assert_no_secret("the log and the error", everything(log, err), secrets)
    end)

    it("keep secrets out of a connection failure", function()
      for _, creds in ipairs {
        { public_key = emu.public_key, private_key = emu.private_key },
        { client_id = emu.client_id, client_secret = emu.client_secret },
        { access_token = "emu_at_ready-token-for-a-dead-port" },
      } do
        creds.base_url, creds.max_attempts = "http://127.0.0.1:1", 1
        local client, log, secrets = new_client(creds)
        local jobs, err = client:all_restore_jobs(emu.group_id, "demo")
        assert.is_nil(jobs)
        assert.equal("CONNECT_FAILED", err.errorCode)
        client:close()
        assert_logged(log, "http://127.0.0.1:1/")
        assert_no_secret("the log and the error", everything(log, err), secrets)
      end
    end)

    it("keep secrets out of a TLS failure", function()
      local tls = emulator.start { tls = true }
      local ok, why = pcall(function()
        for _, creds in ipairs {
          { public_key = emu.public_key, private_key = emu.private_key },
          { client_id = emu.client_id, client_secret = emu.client_secret },
          { access_token = "emu_at_ready-token-for-tls" },
        } do
          creds.base_url, creds.max_attempts = tls.base_url, 1
          local client, log, secrets = new_client(creds)
          local jobs, err = client:all_restore_jobs(emu.group_id, "demo")
          client:close()
          assert.is_nil(jobs)
          assert.equal("TLS_FAILED", err.errorCode)
          assert_logged(log, tls.base_url .. "/")
          assert_no_secret("the log and the error", everything(log, err), secrets)
        end
      end)
      tls:stop()
      assert(ok, why)
    end)
  end)

  describe("a server that echoes secrets", function()
    local hostile
    lazy_setup(function() hostile = start_hostile(60) end)
    lazy_teardown(function() if hostile then hostile.stop() end end)

    -- Secrets with characters that each encoding changes.
    local PUBLIC = "hostilepub"
    local PRIVATE = "hostile Priv/key+9f3e=&x"
    local CLIENT_ID = "mdb_sa_id_hostile"
    local CLIENT_SECRET = "sa secret/91+f2=&q"
    local TOKEN = "hostile-token/abc+def.xyz=="

    local function hostile_client(extra)
      local opts = { base_url = hostile.base_url, retry_base_delay = 0.01, max_attempts = 1 }
      if not (extra and (extra.client_id or extra.access_token)) then
        opts.public_key, opts.private_key = PUBLIC, PRIVATE
      end
      for k, v in pairs(extra or {}) do opts[k] = v end
      return new_client(opts)
    end

    local function json(v) return (cjson.encode(v)) end

    --- Every form a secret must never appear in, and an "Authorization: ..." echo.
    local function echo_of(secret, user)
      local b = base64(secret)
      return {
        detail = "rejected key " .. secret .. " (base64 " .. b .. ", url " .. percent(secret, "%%20") .. ")",
        reason = "Authorization: {{AUTH}}",
        parameters = { secret, b, percent(secret, "%%20"), (percent(secret, "%%20"):lower()),
          "Authorization: {{AUTH}}", user and base64(user .. ":" .. secret) or b },
        badRequestDetail = { fields = { { field = "key", description = "got " .. secret } } },
      }
    end

    --- Every Authorization value the hostile server received, and revoked tokens.
    local function collect_sent(secrets)
      local requests = hostile.requests()
      assert.is_true(#requests > 0, "the hostile server was not asked")
      for _, r in ipairs(requests) do
        if r.auth ~= "" then secrets.authorization(r.auth) end
        local token = r.body:match("token=([^&]+)")
        if token then secrets.add("revoked token", url_decode(token)) end
      end
      return requests
    end

    local function api_error(code, status, secret, user)
      local body = echo_of(secret, user)
      body.errorCode, body.error = code, status
      return { status = status, body = json(body) }
    end

    it("does not surface the private key, its encodings or the Digest value from an error body", function()
      local e = api_error("INVALID_ATTRIBUTE", 400, PRIVATE, PUBLIC)
      e.headers = { ["X-Error-Code"] = "IGNORED" }
      hostile.answer { serverless = e }
      local client, log, secrets, warnings = hostile_client()
      local jobs, err = client:all_restore_jobs(emu.group_id, "demo")
      local ok, raised = pcall(function() for _ in client:restore_jobs(emu.group_id, "demo") do end end)
      local page, page_err = client:list_restore_jobs(emu.group_id, "demo")
      client:close()
      assert.is_nil(jobs)
      assert.is_false(ok)
      assert.is_nil(page)
      local requests = collect_sent(secrets)
      assert.matches("^Digest ", requests[#requests].auth)
      -- The echo came through: the fields are there, only scrubbed.
      assert.equal("INVALID_ATTRIBUTE", err.errorCode)
      assert.equal(400, err.status)
      assert.matches("^rejected key ", err.detail)
      assert.equal(6, #err.parameters)
      assert.is_string(err.badRequestDetail.fields[1].description)
      assert.matches("^Authorization: Digest", err.reason)
      assert_logged(log, hostile.base_url)
      assert_no_secret("the error and the log", everything(log, err, warnings), secrets)
      assert_no_secret("the raised error", error_texts(raised), secrets)
      assert_no_secret("the page error", error_texts(page_err), secrets)
    end)

    it("does not surface them from errors.flex and errors.serverless of an 'auto' listing", function()
      hostile.answer {
        flex = api_error("CLUSTER_NOT_FOUND", 404, PRIVATE, PUBLIC),
        serverless = api_error("INVALID_ATTRIBUTE", 400, PRIVATE, PUBLIC),
      }
      local client, log, secrets, warnings = hostile_client { endpoint = "auto" }
      local jobs, err = client:all_restore_jobs(emu.group_id, "demo")
      client:close()
      assert.is_nil(jobs)
      collect_sent(secrets)
      assert.equal("CLUSTER_NOT_FOUND", err.errors.flex.errorCode)
      assert.equal("INVALID_ATTRIBUTE", err.errors.serverless.errorCode)
      assert.matches("^rejected key ", err.errors.flex.detail)
      assert.equal(6, #err.errors.serverless.parameters)
      assert_no_secret("the error and the log", everything(log, err, warnings), secrets)
    end)

    it("does not surface the client secret or the Basic value from a token error", function()
      local body = echo_of(CLIENT_SECRET, CLIENT_ID)
      hostile.answer { token = { status = 401, body = json {
        error = "invalid_client",
        error_description = "bad client {{AUTH}}; " .. body.detail,
        parameters = body.parameters,
      } } }
      local client, log, secrets = hostile_client { client_id = CLIENT_ID, client_secret = CLIENT_SECRET }
      local jobs, err = client:all_restore_jobs(emu.group_id, "demo")
      assert(client:close())
      assert.is_nil(jobs)
      collect_sent(secrets)
      assert.equal("invalid_client", err.errorCode)
      assert.matches("^bad client ", err.detail)
      assert_logged(log, hostile.base_url .. "/api/oauth/token")
      assert_no_secret("the error and the log", everything(log, err), secrets)
    end)

    it("does not surface a fetched token echoed by the API or by the revocation", function()
      hostile.answer {
        token = { status = 200, body = json { access_token = TOKEN, expires_in = 3600, token_type = "Bearer" } },
        serverless = api_error("INVALID_ATTRIBUTE", 400, TOKEN),
        revoke = { status = 400, body = json { error = "invalid_request",
          error_description = "cannot revoke token=" .. percent(TOKEN, "%%20") .. " ({{AUTH}})" } },
      }
      local client, log, secrets = hostile_client { client_id = CLIENT_ID, client_secret = CLIENT_SECRET }
      local jobs, err = client:all_restore_jobs(emu.group_id, "demo")
      assert.equal(TOKEN, held_token(client))
      local closed, close_err = client:close()
      assert.is_nil(jobs)
      assert.is_nil(closed)
      collect_sent(secrets)
      secrets.add("fetched token", TOKEN)
      assert.equal("INVALID_ATTRIBUTE", err.errorCode)
      assert.matches("^rejected key ", err.detail)
      assert.equal("invalid_request", close_err.errorCode)
      assert.matches("^cannot revoke token=", close_err.detail)
      assert_logged(log, hostile.base_url .. "/api/oauth/revoke")
      assert_no_secret("the errors and the log", everything(log, err, nil, error_texts(close_err)), secrets)
    end)

    it("does not surface a ready access token echoed in an error body", function()
      hostile.answer { serverless = api_error("INVALID_ATTRIBUTE", 400, TOKEN) }
      local client, log, secrets = hostile_client { access_token = TOKEN }
      local jobs, err = client:all_restore_jobs(emu.group_id, "demo")
      client:close()
      assert.is_nil(jobs)
      collect_sent(secrets)
      assert.matches("^rejected key ", err.detail)
      assert_no_secret("the error and the log", everything(log, err), secrets)
    end)

    it("does not surface the Digest value echoed without its header name", function()
      hostile.answer { serverless = { status = 400, body = json {
        errorCode = "INVALID_ATTRIBUTE", error = 400, detail = "you sent {{AUTH}}", parameters = { "{{AUTH}}" },
      } } }
      local client, log, secrets = hostile_client()
      local _, err = client:all_restore_jobs(emu.group_id, "demo")
      client:close()
      collect_sent(secrets)
      assert.matches("^you sent ", err.detail)
      assert_no_secret("the error", everything(log, err), secrets)
    end)

    it("does not surface a secret nested deep in parameters", function()
      local nested = { PRIVATE }
      for _ = 1, 20 do nested = { nested } end
      hostile.answer { serverless = { status = 400, body = json {
        errorCode = "INVALID_ATTRIBUTE", error = 400, detail = "deep", parameters = nested,
      } } }
      local client, log, secrets = hostile_client()
      local _, err = client:all_restore_jobs(emu.group_id, "demo")
      client:close()
      collect_sent(secrets)
      assert.equal("deep", err.detail)
      assert_no_secret("the error", everything(log, err), secrets)
    end)

    it("does not surface a secret used as an object key", function()
      hostile.answer { serverless = { status = 400, body = json {
        errorCode = "INVALID_ATTRIBUTE", error = 400, detail = "keys",
        parameters = { { [base64(PRIVATE)] = 1 } }, badRequestDetail = { [PRIVATE] = "x" },
      } } }
      local client, log, secrets = hostile_client()
      local _, err = client:all_restore_jobs(emu.group_id, "demo")
      client:close()
      collect_sent(secrets)
      assert.equal("keys", err.detail)
      assert_no_secret("the error", everything(log, err), secrets)
    end)

    it("does not surface a secret reflected into a deprecation warning", function()
      local e = api_error("INVALID_ATTRIBUTE", 400, PRIVATE, PUBLIC)
      e.headers = { Deprecation = PRIVATE, Sunset = "Authorization: {{AUTH}}" }
      hostile.answer { serverless = e }
      local client, log, secrets, warnings = hostile_client()
      local _, err = client:all_restore_jobs(emu.group_id, "demo")
      client:close()
      collect_sent(secrets)
      assert.equal(1, #warnings)
      assert_no_secret("the warning", everything(log, err, warnings), secrets)
    end)

    it("does not surface the form-encoded secret (space as '+')", function()
      hostile.answer { serverless = { status = 400, body = json {
        errorCode = "INVALID_ATTRIBUTE", error = 400, detail = "form " .. percent(PRIVATE, "+"),
      } } }
      local client, log, secrets = hostile_client()
      local _, err = client:all_restore_jobs(emu.group_id, "demo")
      client:close()
      collect_sent(secrets)
      assert.matches("^form ", err.detail)
      assert_no_secret("the error", everything(log, err), secrets)
    end)
  end)

  describe("tostring(client)", function()
    it("names the public key or the client id, never a secret", function()
      local cases = {
        { { public_key = emu.public_key, private_key = emu.private_key }, emu.public_key },
        { { client_id = emu.client_id, client_secret = emu.client_secret }, emu.client_id },
        { { access_token = "emu_at_ready-token-for-tostring" }, "access token" },
      }
      for _, case in ipairs(cases) do
        local client, _, secrets = new_client(case[1])
        client:all_restore_jobs(emu.group_id, "demo") -- the made-up access token gets a 401
        if held_token(client) then secrets.add("token held by the client", held_token(client)) end
        local open = tostring(client)
        client:close()
        assert.matches(case[2], open, 1, true)
        assert.matches(emu.base_url, open, 1, true)
        assert_no_secret("tostring(client)", { open, tostring(client) }, secrets)
      end
    end)
  end)

  describe("debug = true", function()
    it("writes the log to stderr, without a secret", function()
      local script, out, errf = os.tmpname(), os.tmpname(), os.tmpname()
      write_file(script, ([[
        package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
        package.cpath = "./build/5.4/?.so;" .. package.cpath
        local atlasrestore = require "atlasrestore"
        local base, group, pub, priv, id, secret = %q, %q, %q, %q, %q, %q
        -- The default transport, watched: stdout gets each Authorization value
        -- sent, and each token fetched.
        local function watched()
          local transport = require("atlasrestore.transport.curl").new {}
          local request = transport.request
          transport.request = function(t, req)
            for _, line in ipairs(req.headers) do
              if line:find("^Authorization: ") then print("AUTH " .. line:sub(16)) end
            end
            local res, err = request(t, req)
            if res and req.url:find("/api/oauth/token", 1, true) then
              print("TOKEN " .. res.body:match('"access_token"%%s*:%%s*"([^"]+)"'))
            end
            return res, err
          end
          return transport
        end
        local sa = assert(atlasrestore.new { base_url = base, client_id = id, client_secret = secret,
          debug = true, transport = watched() })
        assert(sa:all_restore_jobs(group, "demo"))
        assert(sa:close())
        local dg = assert(atlasrestore.new { base_url = base, public_key = pub, private_key = priv,
          debug = true, transport = watched() })
        assert(dg:all_restore_jobs(group, "jobs-501"))
        dg:close()
        local bad = assert(atlasrestore.new { base_url = base, public_key = pub,
          private_key = "wrong-key-in-child", debug = true, transport = watched() })
        local _, err = bad:all_restore_jobs(group, "demo")
        print("ERROR " .. tostring(err))
        bad:close()
      ]]):format(emu.base_url, emu.group_id, emu.public_key, emu.private_key, emu.client_id, emu.client_secret))
      local ok = os.execute(emulator.clean_env(("lua5.4 %s >%s 2>%s"):format(script, out, errf)))
      local stdout, stderr = read_file(out) or "", read_file(errf) or ""
      os.remove(script)
      os.remove(out)
      os.remove(errf)
      assert.is_true(ok, stdout .. stderr)
      local token = stdout:match("TOKEN (%S+)")
      assert.is_string(token, stdout)
      assert.matches("ERROR atlasrestore: ", stdout, 1, true)
      local lines = {}
      for line in stderr:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert_logged(lines, list_url("jobs-501"))
      line_matching(lines, "^atlasrestore: > POST " .. escape(emu.base_url)
        .. "/api/oauth/token %(attempt 1, auth Basic%)")
      line_matching(lines, "^atlasrestore: < GET " .. escape(list_url("demo")) .. "%S* %-> 200 %(attempt 1, %d+%.%d ms")
      line_matching(lines, "^atlasrestore: > POST " .. escape(emu.base_url) .. "/api/oauth/revoke ")
      local secrets = secret_set()
      secrets.add("private key", emu.private_key, emu.public_key)
      secrets.add("wrong private key", "wrong-key-in-child", emu.public_key)
      secrets.add("client secret", emu.client_secret, emu.client_id)
      secrets.add("token", token)
      for value in stdout:gmatch("AUTH ([^\n]+)") do secrets.authorization(value) end
      assert.is_true(secrets.seen["Digest response"] and secrets.seen["Basic credentials"]
        and secrets.seen["bearer token"], stdout)
      assert_no_secret("stderr", { stderr }, secrets)
      assert_no_secret("the printed error", { stdout:match("ERROR [^\n]*") }, secrets)
    end)
  end)
end)
