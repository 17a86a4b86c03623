-- The nginx set-up of docs/nginx.md, as a user follows it: its two blocks saved
-- as atlasrestore-env.conf and atlasrestore.conf, then its recipe run as written
-- (Debian's stock /etc/nginx/nginx.conf edited into a directory of its own, nginx
-- started with Debian's prefix), with the module installed with
-- `make install LUAJIT=1` (under a throwaway /usr/local), a free port for 8080 and
-- the emulator's service account in the environment.
local cjson = require "cjson"
local socket = require "socket"
local emulator = require "support.emulator"
local nginx_host = require "support.nginx_host"

local DOC = "docs/nginx.md"
local PLACEHOLDER_PROJECT = "5f1b2c3d4e5f60718293a4b5"
local q = emulator.sh_quote

-- The fenced block between <!-- name:begin --> and <!-- name:end --> of the
-- document (after the line that names this spec for spec/e2e/readme_spec.lua).
local function snippet(doc, name, lang)
  local quoted = name:gsub("%p", "%%%0")
  local block = doc:match("<!%-%- " .. quoted .. ":begin %-%->\n<!%-%- example: spec/nginx/readme_spec%.lua %-%->\n"
    .. "```" .. lang .. "\n(.-)```\n<!%-%- " .. quoted .. ":end %-%->")
  return assert(block, DOC .. " has no " .. name .. " block")
end

-- `text` with `old` replaced by `new`, which must be there exactly once.
local function replace_once(text, old, new)
  local at = text:find(old, 1, true)
  assert(at and not text:find(old, at + 1, true), "no single '" .. old .. "' in:\n" .. text)
  return text:sub(1, at - 1) .. new .. text:sub(at + #old)
end

-- One HTTP/1.0 request: status, body, headers (lower-case names).
local function request(port, method, path)
  local c = socket.tcp()
  c:settimeout(30)
  assert(c:connect("127.0.0.1", port))
  assert(c:send(method .. " " .. path .. " HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"))
  local raw, err, partial = c:receive("*a")
  c:close()
  raw = raw or partial or err
  local head, body = raw:match("^(.-)\r\n\r\n(.*)$")
  local headers = {}
  for name, value in (head or ""):gmatch("\r\n([^:\r\n]+):%s*([^\r\n]*)") do headers[name:lower()] = value end
  return tonumber((head or ""):match("^HTTP/%d%.%d (%d+)")), body or raw, headers
end

local function alive(pid)
  if pid == nil then return false end
  local ok = os.execute("kill -0 " .. pid .. " 2>/dev/null")
  return ok == true or ok == 0
end

-- The error log's lines that tell of a problem: above warn, or a worker that died.
local SERIOUS = { "%[error%]", "%[crit%]", "%[alert%]", "%[emerg%]", "exited on signal", "worker process %d+ exited" }
local function problems(log)
  local out = {}
  for line in (log or ""):gmatch("[^\n]+") do
    for _, p in ipairs(SERIOUS) do
      if line:find(p) then out[#out + 1] = line; break end
    end
  end
  return out
end

describe("docs/nginx.md's set-up in Debian's stock nginx.conf, in a directory of its own", function()
  local emu, work, port, main, http, listed, dir

  local function run(script, out)
    local env = ("MONGODB_ATLAS_BASE_URL=%s MONGODB_ATLAS_CLIENT_ID=%s MONGODB_ATLAS_CLIENT_SECRET=%s "
      .. "MONGODB_ATLAS_PROJECT_ID=%s"):format(q(emu.base_url), q(emu.client_id), q(emu.client_secret), q(emu.group_id))
    local ok = os.execute(emulator.clean_env(("cd %s && env %s timeout 60 sh -e %s >%s 2>%s.err")
      :format(q(work), env, q(script), q(out), q(out))))
    return ok == true or ok == 0, (emulator.read_file(work .. "/" .. out) or "")
      .. (emulator.read_file(work .. "/" .. out .. ".err") or "")
  end

  local function pid() return tonumber(emulator.read_file(dir .. "/nginx.pid") or "") end

  lazy_setup(function()
    emu = emulator.start()
    local doc = assert(emulator.read_file(nginx_host.repo_root() .. "/" .. DOC))
    main, http = snippet(doc, "nginx-main", "nginx"), snippet(doc, "nginx-http", "nginx")
    local recipe = snippet(doc, "nginx-try", "sh")
    work = nginx_host.prefix()
    dir = work .. "/nginx-try"
    -- The workers run as www-data: the installed module must be readable to them.
    -- MAKEFLAGS= : no variable of a `make` that runs these specs reaches this one.
    assert(os.execute(emulator.clean_env(("chmod 755 %s && MAKEFLAGS= make -s install LUAJIT=1 PREFIX=%s >%s 2>&1")
      :format(q(work), q(work .. "/usr/local"), q(work .. "/make.log")))))
    port = emulator.free_ports(1)
    local site = replace_once(http, "listen 127.0.0.1:8080;", "listen 127.0.0.1:" .. port .. ";")
    -- The placeholder project of /metrics: the emulator's small team project.
    site = replace_once(site, '"' .. PLACEHOLDER_PROJECT .. '"', '"' .. emulator.TEAM_ALPHA_ID .. '"')
    site = site:gsub("/usr/local/", work .. "/usr/local/")
    emulator.write_file(work .. "/atlasrestore-env.conf", main)
    emulator.write_file(work .. "/atlasrestore.conf", site)
    local script = replace_once(recipe, "127.0.0.1:8080", "127.0.0.1:" .. port)
    -- Up to its last line, which stops nginx: the last spec runs that.
    local start, stop = script:match("^(.*\n)(nginx [^\n]* %-s quit[^\n]*\n)$")
    assert(start, DOC .. "'s recipe ends with the line that stops nginx")
    emulator.write_file(work .. "/try.sh", start)
    local dir_line = assert(script:match("^(dir=[^\n]*\n)"), DOC .. "'s recipe starts with dir=")
    emulator.write_file(work .. "/stop.sh", dir_line .. stop)
    local ok, output = run("try.sh", "try.out")
    assert(ok, "the recipe failed:\n" .. output .. "\n" .. (emulator.read_file(dir .. "/error.log") or ""))
    listed = emulator.read_file(work .. "/try.out")
  end)
  lazy_teardown(function()
    if dir and pid() then emulator.stop_nginx(pid()) end
    if emu then emu:stop() end
    if work then os.execute(emulator.clean_env("rm -rf " .. q(work))) end
  end)

  it("has no load_module line, and the env, lua_* and resolver directives it needs", function()
    assert.is_nil((main .. http):find("load_module", 1, true))
    for _, directive in ipairs { "lua_package_path", "lua_package_cpath", "lua_shared_dict", "resolver",
      "lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt", "lua_ssl_verify_depth" } do
      assert.matches("\n" .. directive:gsub("[%p]", "%%%0"), "\n" .. http)
    end
    assert.matches("env MONGODB_ATLAS_CLIENT_SECRET;", main, 1, true)
  end)

  it("lists an instance's restore jobs with the recipe's curl", function()
    local jobs = cjson.decode(listed)
    assert.equal(7, #jobs)
    assert.equal("6a7a1c0e5f1b2c3d4e5f6a01", jobs[1].id)
    assert.equal(1, emu:stats().tokens)
  end)

  it("serves them again from its cache, as JSON", function()
    local before = emu:stats().list_requests
    local status, body, headers = request(port, "GET", "/restore-jobs/" .. emu.group_id .. "/demo")
    assert.equal(200, status)
    assert.equal("application/json", headers["content-type"])
    assert.equal(7, #cjson.decode(body))
    assert.equal(before, emu:stats().list_requests)
  end)

  it("answers an error as JSON", function()
    local status, body = request(port, "GET", "/restore-jobs/" .. emu.group_id .. "/no-such-instance")
    assert.equal(404, status)
    assert.equal("CLUSTER_NOT_FOUND", cjson.decode(body).errorCode)
  end)

  it("lists in a timer on POST .../refresh, and serves that listing", function()
    local path = "/restore-jobs/" .. emu.group_id .. "/flex-demo"
    local before = emu:stats().list_requests
    local status, body = request(port, "POST", path .. "/refresh")
    assert.equal(202, status)
    assert.same({ refreshing = true }, cjson.decode(body))
    local deadline = socket.gettime() + 5
    while emu:stats().list_requests == before and socket.gettime() < deadline do socket.sleep(0.01) end
    socket.sleep(0.2) -- the timer stores the listing after its last page
    local count = emu:stats().list_requests
    assert.is_true(count > before, "the timer listed")
    status, body = request(port, "GET", path)
    assert.equal(200, status)
    assert.equal(8, #cjson.decode(body))
    assert.equal(count, emu:stats().list_requests, "served from what the timer kept")
  end)

  it("serves the project's restore jobs as metrics on /metrics, refreshed in the background", function()
    local alpha = emulator.TEAM_ALPHA_ID
    local refreshed = 'atlasrestore_last_refresh_success_time_seconds{project="' .. alpha .. '"}'
    local deadline, status, body, headers = socket.gettime() + 10
    repeat
      status, body, headers = request(port, "GET", "/metrics")
      assert.equal(200, status)
      if body:find(refreshed, 1, true) then break end
      socket.sleep(0.05)
    until socket.gettime() > deadline
    assert.matches("^text/plain; version=0.0.4", headers["content-type"])
    assert.truthy(body:find(refreshed, 1, true), body)
    -- orders: the emulator's hand-written serverless jobs; reports: its Flex ones.
    for _, series in ipairs {
      'atlasrestore_restore_jobs{project="' .. alpha .. '",instance="orders",source="serverless",status="COMPLETED"}',
      'atlasrestore_restore_jobs{project="' .. alpha .. '",instance="reports",source="flex",status="FAILED"}',
    } do
      assert.truthy(body:find(series, 1, true), series .. " in:\n" .. body)
    end
    assert.is_nil(body:find("atlasrestore_refresh_errors_total{", 1, true), body)
  end)

  it("writes its pid and logs into its own directory, with no problem in the error log", function()
    assert.is_true(alive(pid()), "nginx runs, with its pid file in " .. dir)
    assert.truthy((emulator.read_file(dir .. "/access.log") or ""):find("/restore-jobs/", 1, true))
    assert.same({}, problems(emulator.read_file(dir .. "/error.log")))
  end)

  it("stops with the recipe's last line", function()
    local master = pid()
    local ok, output = run("stop.sh", "stop.out")
    assert(ok, output)
    local deadline = socket.gettime() + 10
    while alive(master) and socket.gettime() < deadline do socket.sleep(0.05) end
    assert.is_false(alive(master), "nginx stopped")
  end)
end)
