-- The serverless listing, end to end: the real module, libcurl and the nginx emulator.
local atlasrestore = require "atlasrestore"
local curl = require "atlasrestore.curl"
local emulator = require "support.emulator"

describe("atlasrestore against the emulator", function()
  local emu

  lazy_setup(function() emu = emulator.start() end)
  lazy_teardown(function() if emu then emu:stop() end end)
  before_each(function() emu:reset() end)

  -- The original endpoint's behaviour: pinned, now that the default is "auto".
  local function new_client(extra)
    local opts = { endpoint = "serverless" }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return emu:client(opts)
  end

  local function service_account(extra)
    local opts = { client_id = emu.client_id, client_secret = emu.client_secret }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return new_client(opts)
  end

  describe("listing every job", function()
    it("lists all 10,000 jobs once each, in order, with 21 requests", function()
      local client = new_client()
      local jobs = assert(client:all_restore_jobs(emu.group_id, "jobs-10000"))
      assert.equal(10000, #jobs)
      local seen = {}
      for i, job in ipairs(jobs) do
        assert.is_nil(seen[job.id], "duplicate " .. job.id)
        seen[job.id] = true
        assert.equal(i, tonumber(job.id:sub(9), 16), "jobs keep Atlas's order")
      end
      local stats = emu:stats()
      assert.equal(21, stats.requests) -- one challenge, then 20 pages of 500
      assert.equal(1, stats.challenges)
      client:close()
    end)

    for _, case in ipairs { { "empty", 0 }, { "jobs-499", 499 }, { "jobs-500", 500 }, { "jobs-501", 501 } } do
      local name, n = case[1], case[2]
      it(("costs max(1, ceil(N/500)) + 1 requests for %d jobs"):format(n), function()
        local client = new_client()
        local jobs = assert(client:all_restore_jobs(emu.group_id, name))
        assert.equal(n, #jobs)
        assert.equal(math.max(1, math.ceil(n / 500)) + 1, emu:stats().requests)
        client:close()
      end)
    end

    it("re-uses the nonce on the next listing: no new challenge, nc counts up", function()
      local client = new_client()
      assert(client:all_restore_jobs(emu.group_id, "jobs-501"))
      local before = emu:stats()
      assert(client:all_restore_jobs(emu.group_id, "jobs-1000"))
      local after = emu:stats()
      assert.equal(2, after.requests - before.requests)
      assert.equal(before.challenges, after.challenges)
      for i = #before.log + 1, #after.log do assert.equal("Digest", after.log[i].auth) end
      client:close()
    end)

    it("answers a stale nonce with one more request and goes on", function()
      emu:config { nonce_ttl = 2 }
      local client = new_client()
      assert(client:all_restore_jobs(emu.group_id, "jobs-499"))
      curl.sleep(3.2)
      local before = emu:stats().requests
      local jobs = assert(client:all_restore_jobs(emu.group_id, "jobs-499"))
      assert.equal(499, #jobs)
      local stats = emu:stats()
      assert.equal(2, stats.requests - before) -- the stale 401, then the page
      assert.equal(401, stats.log[#stats.log - 1].status)
      client:close()
    end)

    it("iterates lazily and stops at the end", function()
      local client = new_client { concurrency = 1 }
      local count, ids = 0, {}
      for job in client:restore_jobs(emu.group_id, "jobs-1000", { items_per_page = 300 }) do
        count = count + 1
        assert.is_nil(ids[job.id])
        ids[job.id] = true
        if count == 300 then
          -- the challenge, the first page, and the next one asked for ahead (k = 1)
          assert.equal(3, emu:stats().requests)
        end
      end
      assert.equal(1000, count)
      assert.equal(4 + 1, emu:stats().requests)
      client:close()
    end)

    it("never follows a next link taken from a body", function()
      local client = new_client()
      local jobs = assert(client:all_restore_jobs(emu.group_id, "hostile-next", { items_per_page = 1 }))
      assert.equal(3, #jobs)
      assert.equal(0, emu:stats().trap)
      client:close()
    end)

    it("ends with BAD_RESPONSE when a page repeats jobs already listed", function()
      local client = new_client { concurrency = 1 } -- in parallel, up to k - 1 more pages are asked
      local jobs, err = client:all_restore_jobs(emu.group_id, "same-jobs", { items_per_page = 10 })
      assert.is_nil(jobs)
      assert.equal("BAD_RESPONSE", err.errorCode)
      assert.equal(2 + 1, emu:stats().requests)
      client:close()
    end)

    it("ends with BAD_RESPONSE when jobs carry no id to tell them apart", function()
      local client = new_client()
      local jobs, err = client:all_restore_jobs(emu.group_id, "no-ids")
      assert.is_nil(jobs)
      assert.equal("BAD_RESPONSE", err.errorCode)
      assert.matches("without an id", err.message)
      client:close()
    end)
  end)

  describe("one page", function()
    it("sends only the parameters given", function()
      local client = new_client()
      assert(client:list_restore_jobs(emu.group_id, "demo"))
      assert(client:list_restore_jobs(emu.group_id, "demo", { page_num = 2, items_per_page = 3, pretty = true }))
      local log = emu:stats().log
      assert.equal("/api/atlas/v2/groups/" .. emu.group_id .. "/serverless/demo/backup/restoreJobs", log[#log - 1].uri)
      assert.equal("/api/atlas/v2/groups/" .. emu.group_id
        .. "/serverless/demo/backup/restoreJobs?pageNum=2&itemsPerPage=3&pretty=true", log[#log].uri)
      client:close()
    end)

    it("serves the seed's v1.0 path with api_version = 'v1.0'", function()
      local client = new_client { api_version = "v1.0" }
      local page = assert(client:list_restore_jobs(emu.group_id, "demo"))
      assert.equal(7, #page.results)
      local log = emu:stats().log
      assert.matches("^/api/atlas/v1%.0/groups/", log[#log].uri)
      client:close()
    end)

    it("returns the wire page: results, links, an integer totalCount", function()
      local client = new_client()
      local page = assert(client:list_restore_jobs(emu.group_id, "jobs-501", { items_per_page = 500 }))
      assert.equal(500, #page.results)
      assert.equal(501, page.totalCount)
      assert.equal("integer", math.type(page.totalCount))
      local rels = {}
      for _, link in ipairs(page.links) do rels[link.rel] = true end
      assert.is_true(rels.self and rels.next)
      client:close()
    end)

    it("drops totalCount with include_count = false, though the server sends 0", function()
      local client = new_client()
      local page = assert(client:list_restore_jobs(emu.group_id, "demo", { include_count = false }))
      assert.is_nil(page.totalCount)
      assert.equal(7, #page.results)
      client:close()
    end)

    it("keeps the envelope's status", function()
      local client = new_client()
      local page = assert(client:list_restore_jobs(emu.group_id, "demo", { envelope = true }))
      assert.equal(200, page.status)
      client:close()
    end)

    it("types integers, turns null and absent fields into nil, keeps unknown fields", function()
      local client = new_client()
      local page = assert(client:list_restore_jobs(emu.group_id, "demo"))
      local kinds, saw_exponent, saw_unknown = {}, false, false
      for _, job in ipairs(page.results) do
        kinds[job.deliveryType] = true
        assert.is_string(job.id)
        if job.deliveryType == "pointInTime" then
          for _, f in ipairs { "oplogTs", "oplogInc", "pointInTimeUTCSeconds" } do
            if job[f] ~= nil then assert.equal("integer", math.type(job[f]), f) end
          end
          if job.pointInTimeUTCSeconds == 1700035200 then saw_exponent = true end
          if job.desiredTimestamp then assert.equal("integer", math.type(job.desiredTimestamp.increment)) end
        else
          assert.is_nil(job.oplogTs)
        end
        if job.deliveryType ~= "download" then assert.is_nil(job.deliveryUrl) end
        if job.createdAt ~= nil then saw_unknown = true end
      end
      assert.is_true(kinds.automated and kinds.download and kinds.pointInTime)
      assert.is_true(saw_exponent, "1.7000352e+09 decodes to the integer 1700035200")
      assert.is_true(saw_unknown, "unknown fields are kept")
      client:close()
    end)
  end)

  describe("errors", function()
    local function fails(code, status, ...)
      local value, err = ...
      assert.is_nil(value)
      assert.equal(code, err.errorCode)
      assert.equal(status, err.status)
      assert.is_string(tostring(err))
      assert.is_nil(tostring(err):find("\n"))
      return err
    end

    it("passes Atlas's own code, detail, reason and parameters through", function()
      local client = new_client()
      local err = fails("SERVERLESS_INSTANCE_NOT_FOUND", 404, client:list_restore_jobs(emu.group_id, "nope"))
      assert.is_string(err.detail)
      assert.is_string(err.reason)
      assert.is_table(err.parameters)
      assert.matches("SERVERLESS_INSTANCE_NOT_FOUND %(HTTP 404%)", tostring(err))
      fails("GROUP_NOT_FOUND", 404, client:list_restore_jobs("ffffffffffffffffffffffff", "demo"))
      client:close()
    end)

    it("keeps badRequestDetail", function()
      -- The emulator's own validation, reached through a transport that rewrites
      -- the query on its way, since the module refuses 501 itself.
      local transport = require("atlasrestore.transport.curl").new {}
      local request = transport.request
      transport.request = function(t, req)
        req.url = req.url:gsub("itemsPerPage=100", "itemsPerPage=501")
        return request(t, req)
      end
      local client = service_account { transport = transport } -- a Bearer token does not sign the URL
      local err = fails("VALIDATION_ERROR", 400, client:list_restore_jobs(emu.group_id, "demo",
        { items_per_page = 100 }))
      assert.is_table(err.badRequestDetail.fields)
      client:close()
    end)

    it("reports a wrong private key as a 401 after one challenge", function()
      local client = new_client { private_key = "not-the-key-at-all" }
      fails("UNEXPECTED_ERROR", 401, client:list_restore_jobs(emu.group_id, "demo"))
      assert.equal(2, emu:stats().requests)
      client:close()
    end)

    it("reports a wrong client secret with the OAuth error", function()
      local client = service_account { client_secret = "mdb_sa_sk_wrong-secret" }
      local err = fails("invalid_client", 401, client:list_restore_jobs(emu.group_id, "demo"))
      assert.is_string(err.detail)
      client:close()
    end)

    it("reports a dead server as CONNECT_FAILED with no status", function()
      local client = new_client { base_url = "http://127.0.0.1:1", max_attempts = 1 }
      fails("CONNECT_FAILED", nil, client:list_restore_jobs(emu.group_id, "demo"))
      client:close()
    end)

    it("goes through the proxy it is given, and names it (without its credentials) when it cannot connect", function()
      local client = new_client { proxy = "http://proxy-user:proxy-pass@127.0.0.1:1", max_attempts = 1 }
      local err = fails("CONNECT_FAILED", nil, client:list_restore_jobs(emu.group_id, "demo"))
      assert.matches("(through the proxy http://***@127.0.0.1:1)", err.message, 1, true)
      assert.is_nil(tostring(err):find("proxy-pass", 1, true))
      assert.equal(0, emu:stats().requests, "nothing reached the emulator past the dead proxy")
      client:close()
    end)

    it("names the environment's proxy when it cannot connect, and none that no_proxy bypasses", function()
      -- A child process: the proxy variables are the environment's, which this one cannot set.
      local script = ("package.path = './lua/?.lua;./lua/?/init.lua;' .. package.path "
        .. "package.cpath = './build/5.4/?.so;' .. package.cpath "
        .. "local c = assert(require('atlasrestore').new { base_url = %q, access_token = 'mdb_token', "
        .. "max_attempts = 1 }) "
        .. "local _, err = c:list_restore_jobs(%q, 'demo') io.write(tostring(err))"):format(emu.base_url, emu.group_id)
      local function run(env)
        local p = assert(io.popen(emulator.clean_env("env -u no_proxy -u NO_PROXY " .. env .. " lua5.4 -e "
          .. emulator.sh_quote(script) .. " 2>&1")))
        local out = p:read("*a")
        p:close()
        return out
      end
      assert.matches("CONNECT_FAILED: .* %(through the proxy http://127%.0%.0%.1:1%)$",
        run("http_proxy=http://127.0.0.1:1"))
      local bypassed = run("http_proxy=http://127.0.0.1:1 no_proxy=example.org,127.0.0.1")
      assert.is_nil(bypassed:find("CONNECT_FAILED", 1, true), bypassed) -- it reached the emulator
      assert.is_nil(bypassed:find("proxy", 1, true), bypassed)
    end)

    it("keeps the status of an error asked for with envelope = true", function()
      local client = new_client()
      fails("SERVERLESS_INSTANCE_NOT_FOUND", 404, client:list_restore_jobs(emu.group_id, "nope", { envelope = true }))
      client:close()
    end)

    it("reports a stalled server as TIMEOUT", function()
      emu:config { stall_seconds = 5, faults = { script = { "stall" } } }
      local client = new_client { timeout = 1, max_attempts = 1 }
      fails("TIMEOUT", nil, client:list_restore_jobs(emu.group_id, "demo"))
      client:close()
    end)

    it("reports a body over max_body_size as RESPONSE_TOO_LARGE", function()
      local client = new_client { max_body_size = 4096 }
      fails("RESPONSE_TOO_LARGE", 200, client:list_restore_jobs(emu.group_id, "jobs-500", { items_per_page = 500 }))
      client:close()
    end)

    local faulted = {
      { "malformed", "BAD_RESPONSE", 200, "reports an unparseable 200 as BAD_RESPONSE with its status" },
      { "503", "HTTP_503", 503, "names an HTTP error without any code HTTP_<status>" },
    }
    for _, case in ipairs(faulted) do
      it(case[4], function()
        emu:config { faults = { script = { case[1] } } }
        local client = new_client { max_attempts = 1 }
        fails(case[2], case[3], client:list_restore_jobs(emu.group_id, "demo"))
        client:close()
      end)
    end

    it("refuses invalid arguments with INVALID_ARGUMENT and sends nothing", function()
      local client = new_client()
      local cases = {
        { "list_restore_jobs", "65A1B2C3D4E5F60718293A4B", "demo" },
        { "list_restore_jobs", "65a1b2c3d4e5f60718293a4", "demo" },
        { "list_restore_jobs", emu.group_id, "-demo" },
        { "list_restore_jobs", emu.group_id, "de mo" },
        { "list_restore_jobs", emu.group_id, "demo/../x" },
        { "list_restore_jobs", emu.group_id, "demo", { items_per_page = 0 } },
        { "list_restore_jobs", emu.group_id, "demo", { items_per_page = 501 } },
        { "list_restore_jobs", emu.group_id, "demo", { page_num = 0 } },
        { "list_restore_jobs", emu.group_id, "demo", { page_num = 1.5 } },
        { "all_restore_jobs", emu.group_id, "demo", { items_per_page = 501 } },
        { "all_restore_jobs", "nothex", "demo" },
      }
      for _, case in ipairs(cases) do
        local value, err = client[case[1]](client, case[2], case[3], case[4])
        assert.is_nil(value)
        assert.equal("INVALID_ARGUMENT", err.errorCode)
      end
      local ok, err = pcall(function()
        for _ in client:restore_jobs(emu.group_id, "demo", { items_per_page = 0 }) do end
      end)
      assert.is_false(ok)
      assert.equal("INVALID_ARGUMENT", err.errorCode)
      assert.equal(0, emu:stats().requests)
      client:close()
    end)

    it("raises on misuse", function()
      local client = new_client()
      assert.has_error(function() client:list_restore_jobs(42, "demo") end)
      assert.has_error(function() client:list_restore_jobs(emu.group_id, nil) end)
      assert.has_error(function() client:list_restore_jobs(emu.group_id, "demo", "pageNum=1") end)
      assert.has_error(function() client:list_restore_jobs(emu.group_id, "demo", { page_num = "1" }) end)
      assert.has_error(function() client:list_restore_jobs(emu.group_id, "demo", { pagenum = 1 }) end)
      assert.has_error(function() client.list_restore_jobs({}, emu.group_id, "demo") end)
      assert.has_error(function() atlasrestore.Client.all_restore_jobs("x", emu.group_id, "demo") end)
      assert.has_error(function() atlasrestore.new("opts") end)
      assert.has_error(function() atlasrestore.new { timeout = "60" } end)
      client:close()
      assert.has_error(function() client:list_restore_jobs(emu.group_id, "demo") end)
      assert.equal(0, emu:stats().requests)
    end)

    it("raises a failed page from restore_jobs and returns it from all_restore_jobs", function()
      local client = new_client()
      local ok, err = pcall(function()
        for _ in client:restore_jobs(emu.group_id, "nope") do end
      end)
      assert.is_false(ok)
      assert.equal("SERVERLESS_INSTANCE_NOT_FOUND", err.errorCode)
      local jobs, err2 = client:all_restore_jobs(emu.group_id, "nope")
      assert.is_nil(jobs)
      assert.equal("SERVERLESS_INSTANCE_NOT_FOUND", err2.errorCode)
      client:close()
    end)
  end)

  describe("service accounts and tokens", function()
    it("fetches one token, re-uses it, and revokes it on close", function()
      local client = service_account()
      assert(client:all_restore_jobs(emu.group_id, "jobs-501"))
      assert(client:all_restore_jobs(emu.group_id, "demo"))
      local stats = emu:stats()
      assert.equal(1, stats.tokens)
      assert.equal(1 + 2 + 1, stats.requests)
      assert.is_true(client:close())
      assert.equal(1, emu:stats().revokes)
      assert.is_true(client:close(), "close is idempotent")
      assert.equal(1, emu:stats().revokes)
    end)

    it("fetches one new token after a 401 and retries once", function()
      local client = service_account()
      assert(client:list_restore_jobs(emu.group_id, "demo"))
      emu:expire_tokens()
      local page = assert(client:list_restore_jobs(emu.group_id, "demo"))
      assert.equal(7, #page.results)
      local stats = emu:stats()
      assert.equal(2, stats.tokens)
      assert.equal(2 + 4, stats.requests, "token and page; the refused page, its token revoked, a new one, the page")
      assert.equal(1, stats.revokes, "the refused token")
      assert.is_true(client:close())
      assert.equal(2, emu:stats().revokes)
    end)

    it("stops minting tokens when the account itself is refused, and notices the fix", function()
      emu:config { refuse_bearer = true, token_ttl = 24 } -- renewals while refused: every 2 s at most
      local client = service_account()
      for _ = 1, 3 do
        local page, err = client:list_restore_jobs(emu.group_id, "demo")
        assert.is_nil(page)
        assert.equal(401, err.status)
      end
      assert.equal(2, emu:stats().tokens, "the first token, and one renewal that did not help")
      -- The account is fixed and its tokens revoked, as an administrator would.
      emu:config { refuse_bearer = false }
      emu:expire_tokens()
      curl.sleep(2.1)
      local page = assert(client:list_restore_jobs(emu.group_id, "demo"))
      assert.equal(7, #page.results)
      assert.equal(3, emu:stats().tokens)
      client:close()
    end)

    it("revokes each refused token before it fetches another: refused runs leave no live token", function()
      emu:config { refuse_bearer = true, max_tokens = 2 } -- an IP access list, and room for two tokens
      for run = 1, 2 do
        local client = service_account()
        local page, err = client:list_restore_jobs(emu.group_id, "demo")
        assert.is_nil(page)
        assert.equal(401, err.status, "run " .. run)
        assert.is_true(client:close())
        local stats = emu:stats()
        assert.equal(2 * run, stats.tokens, "the first token and one renewal, run " .. run)
        assert.equal(2 * run, stats.revokes, "both revoked, run " .. run)
        assert.equal(0, stats.live_tokens)
      end
      emu:config { refuse_bearer = false }
      local client = service_account()
      local page = assert(client:list_restore_jobs(emu.group_id, "demo"))
      assert.equal(7, #page.results)
      assert.equal(1, emu:stats().live_tokens)
      assert.is_true(client:close())
      assert.equal(0, emu:stats().live_tokens)
    end)

    it("renews a token shortly before it expires", function()
      emu:config { token_ttl = 2 }
      local client = service_account()
      assert(client:list_restore_jobs(emu.group_id, "demo"))
      curl.sleep(2.1)
      assert(client:list_restore_jobs(emu.group_id, "demo"))
      local stats = emu:stats()
      assert.equal(2, stats.tokens)
      assert.equal(0, stats.challenges)
      client:close()
    end)

    it("lists with a ready access token", function()
      local res = assert(require("atlasrestore.transport.curl").new {}:request(require("support.transport_contract")
        .request(emu.base_url .. "/api/oauth/token", { method = "POST", body = "grant_type=client_credentials",
          headers = { Authorization = "Basic " .. require("atlasrestore.core").base64(emu.client_id .. ":"
            .. emu.client_secret), ["Content-Type"] = "application/x-www-form-urlencoded" },
          timeout = 10, connect_timeout = 10, stall_timeout = 10, max_body = 65536 })))
      assert.equal(200, res.status)
      local token = require("cjson").decode(res.body).access_token
      local client = new_client { access_token = token }
      local page = assert(client:list_restore_jobs(emu.group_id, "demo"))
      assert.equal(7, #page.results)
      client:close()
    end)
  end)

  describe("the client object", function()
    it("sends its User-Agent with the caller's suffix", function()
      local client = new_client { user_agent = "nightly-backup-check/2" }
      assert(client:list_restore_jobs(emu.group_id, "demo"))
      local log = emu:stats().log
      assert.matches("^atlasrestore/%d+%.%d+%.%d+ %(Lua 5%.4; libcurl/[%d.]+%) nightly%-backup%-check/2$",
        log[#log].user_agent)
      client:close()
    end)

    it("closes with <close>", function()
      local scope = assert(load([[
        local new_client = ...
        local kept
        do
          local client <close> = new_client()
          kept = client
        end
        return kept
      ]]))
      local kept = scope(new_client)
      assert.matches(" closed$", tostring(kept))
      assert.has_error(function() kept:list_restore_jobs(emu.group_id, "demo") end,
        "'list_restore_jobs' called on a closed client")
    end)

    it("has a semver _VERSION", function()
      assert.matches("^%d+%.%d+%.%d+$", atlasrestore._VERSION)
    end)
  end)
end)
