-- The README's nginx snippet, as a user pastes it: its two blocks into a copy of
-- Debian's stock /etc/nginx/nginx.conf (with a prefix and a port of its own), the
-- module installed with `make install LUAJIT=1` (under a throwaway /usr/local), the
-- credentials in the environment. The stock configuration loads the lua module.
local cjson = require "cjson"
local socket = require "socket"
local emulator = require "support.emulator"
local nginx_host = require "support.nginx_host"

local STOCK = "/etc/nginx/nginx.conf"
-- Debian's nginx prefix: the stock configuration loads its modules relative to it.
local DEBIAN_PREFIX = "/usr/share/nginx/"

-- The fenced block between <!-- name:begin --> and <!-- name:end --> of the README
-- (after the line that names this spec for spec/e2e/readme_spec.lua).
local function snippet(readme, name)
  local quoted = name:gsub("%p", "%%%0")
  local block = readme:match("<!%-%- " .. quoted .. ":begin %-%->\n<!%-%- example: spec/nginx/readme_spec%.lua %-%->\n"
    .. "```nginx\n(.-)```\n<!%-%- " .. quoted .. ":end %-%->")
  return assert(block, "README.md has no " .. name .. " block")
end

-- `text` with `old` replaced by `new`, which must be there exactly once.
local function replace_once(text, old, new)
  local at = text:find(old, 1, true)
  assert(at and not text:find(old, at + 1, true), STOCK .. " no longer holds one '" .. old .. "'")
  return text:sub(1, at - 1) .. new .. text:sub(at + #old)
end

describe("the README's nginx snippet in Debian's stock nginx.conf", function()
  local emu, host, main, http

  lazy_setup(function()
    emu = emulator.start()
    local readme = assert(emulator.read_file(require("support.nginx_host").repo_root() .. "/README.md"))
    main, http = snippet(readme, "nginx-main"), snippet(readme, "nginx-http")
    local prefix = nginx_host.prefix()
    -- The workers run as www-data: the installed module must be readable to them.
    -- MAKEFLAGS= : no variable of a `make` that runs these specs reaches this one.
    local q = emulator.sh_quote
    assert(os.execute(emulator.clean_env(("chmod 755 %s && MAKEFLAGS= make -s install LUAJIT=1 PREFIX=%s >%s 2>&1")
      :format(q(prefix), q(prefix .. "/usr/local"), q(prefix .. "/make.log")))))
    os.execute("mkdir -p " .. emulator.sh_quote(prefix .. "/conf.d"))
    local stock = assert(emulator.read_file(STOCK))
    host = nginx_host.run(prefix, 1, function(ports)
      local conf = replace_once(stock, "include /etc/nginx/modules-enabled/*.conf;",
        "include /etc/nginx/modules-enabled/*.conf;\n" .. main)
      conf = replace_once(conf, "pid /run/nginx.pid;", "pid " .. prefix .. "/nginx.pid;")
      conf = replace_once(conf, "error_log /var/log/nginx/error.log;", "error_log " .. prefix .. "/error.log;")
      conf = replace_once(conf, "access_log /var/log/nginx/access.log;", "access_log " .. prefix .. "/access.log;")
      conf = replace_once(conf, "include /etc/nginx/conf.d/*.conf;", "include " .. prefix .. "/conf.d/*.conf;")
      -- The stock default site listens on port 80 of every address.
      conf = replace_once(conf, "include /etc/nginx/sites-enabled/*;", "")
      local site = replace_once(http, "listen 127.0.0.1:8080;", "listen 127.0.0.1:" .. ports[1] .. ";")
      site = site:gsub("/usr/local/", prefix .. "/usr/local/")
      emulator.write_file(prefix .. "/conf.d/atlasrestore.conf", site)
      return conf
    end, { MONGODB_ATLAS_BASE_URL = emu.base_url, MONGODB_ATLAS_CLIENT_ID = emu.client_id,
      MONGODB_ATLAS_CLIENT_SECRET = emu.client_secret }, DEBIAN_PREFIX)
  end)
  lazy_teardown(function()
    if host then host:stop() end
    if emu then emu:stop() end
  end)

  it("has no load_module line, and the env, lua_* and resolver directives it needs", function()
    assert.is_nil((main .. http):find("load_module", 1, true))
    for _, directive in ipairs { "lua_package_path", "lua_package_cpath", "lua_shared_dict", "resolver",
      "lua_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt", "lua_ssl_verify_depth" } do
      assert.matches("\n" .. directive:gsub("[%p]", "%%%0"), "\n" .. http)
    end
    assert.matches("env MONGODB_ATLAS_CLIENT_SECRET;", main, 1, true)
  end)

  it("serves an instance's restore jobs as JSON", function()
    local status, body, headers = host:get("/restore-jobs/" .. emu.group_id .. "/demo")
    assert.equal(200, status)
    assert.equal("application/json", headers["content-type"])
    local jobs = cjson.decode(body)
    assert.equal(7, #jobs)
    assert.equal("6a7a1c0e5f1b2c3d4e5f6a01", jobs[1].id)
    assert.equal(1, emu:stats().tokens)
  end)

  it("answers an error as JSON", function()
    local status, body = host:get("/restore-jobs/" .. emu.group_id .. "/no-such-instance")
    assert.equal(404, status)
    assert.equal("CLUSTER_NOT_FOUND", cjson.decode(body).errorCode)
  end)

  it("lists in a timer on POST .../refresh, and serves that listing", function()
    local path = "/restore-jobs/" .. emu.group_id .. "/flex-demo"
    local before = emu:stats().list_requests
    local status, body = host:request("POST", path .. "/refresh")
    assert.equal(202, status)
    assert.same({ refreshing = true }, cjson.decode(body))
    local deadline = socket.gettime() + 5
    while emu:stats().list_requests == before and socket.gettime() < deadline do socket.sleep(0.01) end
    socket.sleep(0.2) -- the timer stores the listing after its last page
    local listed = emu:stats().list_requests
    assert.is_true(listed > before, "the timer listed")
    status, body = host:get(path)
    assert.equal(200, status)
    assert.equal(8, #cjson.decode(body))
    assert.equal(listed, emu:stats().list_requests, "served from what the timer kept")
  end)

  it("leaves no problem in nginx's error log", function()
    assert.same({}, host:problems())
  end)
end)
