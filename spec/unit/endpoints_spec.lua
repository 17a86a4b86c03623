-- The descriptions of the kinds of endpoint, and what reads them: a kind added to
-- the table alone is routed, probed, listed, accepted and shown in --help; the
-- deprecation warnings; the iterator's error at the caller's line.
local atlasrestore = require "atlasrestore"
local endpoints = require "atlasrestore.endpoints"
local fake = require "support.fake_transport"
local routes = require "atlasrestore.routes"

local GROUP = "65a1b2c3d4e5f60718293a4b"

local client_on = fake.client

-- A server answering by path: `answers[path]` (a response), else a plain 404.
local function by_path(answers)
  return function(req)
    return answers[req.path] or fake.api_error(404, "RESOURCE_NOT_FOUND")
  end
end

local function jobs_path(kind, name) return "/api/atlas/v2" .. endpoints.of(kind).jobs:format(GROUP, name) end

local function paths_of(log)
  local out = {}
  for i, r in ipairs(log) do out[i] = r.path end
  return out
end

describe("the endpoint descriptions", function()
  it("describe every kind with its paths, version, mapper, leads and times", function()
    assert.same({ "auto", "serverless", "flex", "dedicated" }, endpoints.choices())
    for _, kind in ipairs(endpoints.KINDS) do
      assert.is_string(kind.help, kind.name)
      assert.is_string(kind.instance, kind.name)
      assert.matches("^/groups/%%s/[%w]+/%%s/backup/restoreJobs$", kind.jobs, nil, kind.name)
      assert.matches("^%d%d%d%d%-%d%d%-%d%d$", kind.version, nil, kind.name)
      assert.is_function(require("atlasrestore.shape")[kind.record], kind.name)
      assert.is_string(kind.times.finished, kind.name)
      assert.is_string(kind.times.started, kind.name)
      for _, to in pairs(kind.leads) do assert.is_true(to == false or endpoints.of(to) ~= nil, kind.name) end
    end
    assert.equal("2026-01-22", endpoints.of("serverless").sunset)
    assert.equal("auto", require("atlasrestore.options").DEFAULTS.endpoint)
  end)

  it("give the routes: v2 with each kind's version, v1.0 only where the kind has it", function()
    assert.same({ "/api/atlas/v2/groups/g/flexClusters/n/backup/restoreJobs?x",
      "application/vnd.atlas.2024-11-13+json" }, { routes.restore_jobs("flex", "v1.0", "g", "n", "?x") })
    assert.same({ "/api/atlas/v1.0/groups/g/serverless/n/backup/restoreJobs/j", "application/json" },
      { routes.restore_jobs("serverless", "v1.0", "g", "n", nil, "j") })
    assert.same({ "/api/atlas/v2/groups/g/clusters?p", "application/vnd.atlas.2024-08-05+json" },
      { routes.instances("dedicated", "g", "?p") })
  end)

  it("say which instance-list records cannot have jobs (the 2024-08-05 cluster record)", function()
    local project = require "atlasrestore.project"
    local function cluster(provider, size, backup)
      return { name = "c", backupEnabled = backup, replicationSpecs = { { regionConfigs = {
        { providerName = provider, electableSpecs = { instanceSize = size } } } } } }
    end
    assert.is_false(project.cannot_have_jobs("dedicated", cluster("AWS", "M10", true)))
    assert.is_true(project.cannot_have_jobs("dedicated", cluster("TENANT", "M0", false)))
    assert.is_true(project.cannot_have_jobs("dedicated", cluster("TENANT", "M0", nil)), "free: TENANT")
    assert.is_true(project.cannot_have_jobs("dedicated", cluster("AWS", "M0", nil)), "free: M0")
    assert.is_true(project.cannot_have_jobs("dedicated", cluster("AWS", "M10", false)), "Cloud Backup off")
    assert.is_false(project.cannot_have_jobs("dedicated", { name = "c", replicationSpecs = "odd" }))
    assert.is_true(project.cannot_have_jobs("flex", { backupSettings = { enabled = false } }))
    assert.is_false(project.cannot_have_jobs("flex", { backupSettings = { enabled = true } }))
    assert.is_false(project.cannot_have_jobs("serverless", { name = "s" }))
  end)
end)

describe("a fourth kind of endpoint, added to the description table alone", function()
  local EDGE = {
    name = "edge", help = "edge clusters, a kind made up here", instance = "edge cluster",
    jobs = "/groups/%s/edgeClusters/%s/backup/restoreJobs",
    version = "2027-01-01", record = "from_booleans",
    instances = { path = "/groups/%s/edgeClusters", version = "2027-01-01", precedence = 4 },
    leads = { [404] = false }, times = { finished = "finishedAt", started = "createdAt" },
  }
  local dedicated_leads = endpoints.of("dedicated").leads

  before_each(function()
    endpoints.KINDS[#endpoints.KINDS + 1] = EDGE
    dedicated_leads[404] = "edge" -- the dedicated endpoint's 404 now leads there
  end)
  after_each(function()
    table.remove(endpoints.KINDS)
    dedicated_leads[404] = false
  end)

  it("is routed, and accepted as an endpoint", function()
    assert.same({ "/api/atlas/v2/groups/g/edgeClusters/n/backup/restoreJobs", "application/vnd.atlas.2027-01-01+json" },
      { routes.restore_jobs("edge", "v1.0", "g", "n") })
    local client, t = client_on(by_path { [jobs_path("edge", "n")] = fake.json(200, fake.page { fake.id(1) }) },
      { endpoint = "edge" })
    assert.equal(1, #assert(client:all_restore_jobs(GROUP, "n")))
    assert.same({ jobs_path("edge", "n") }, paths_of(t.log))
    local _, err = atlasrestore.new { access_token = "t", endpoint = "edgy" }
    assert.equal('endpoint "edgy" is not one of "auto", "serverless", "flex", "dedicated", "edge"', err.message)
  end)

  it("is reached by the probe where a description leads, and maps its records", function()
    local client, t = client_on(by_path {
      [jobs_path("flex", "n")] = fake.api_error(404, "CLUSTER_NOT_FOUND"),
      [jobs_path("edge", "n")] = fake.json(200, fake.page { fake.id(1) }),
    })
    local jobs = assert(client:all_restore_jobs(GROUP, "n"))
    assert.equal("edge", jobs[1].source)
    assert.equal("RUNNING", jobs[1].status)
    assert.same({ jobs_path("flex", "n"), jobs_path("serverless", "n"), jobs_path("dedicated", "n"),
      jobs_path("edge", "n") }, paths_of(t.log))
  end)

  it("has its instance list read by the project listing", function()
    local client = client_on(by_path {
      ["/api/atlas/v2/groups/" .. GROUP .. "/edgeClusters"] = fake.json(200, { results = { { name = "e1" } } }),
      ["/api/atlas/v2/groups/" .. GROUP .. "/flexClusters"] = fake.json(200, { results = {} }),
      ["/api/atlas/v2/groups/" .. GROUP .. "/clusters"] = fake.json(200, { results = {} }),
      [jobs_path("edge", "e1")] = fake.json(200, fake.page { fake.id(7) }),
    })
    local jobs, failures = assert(client:project_restore_jobs(GROUP))
    assert.same({}, failures)
    assert.equal(1, #jobs)
    assert.equal("e1", jobs[1].instance)
    assert.equal("edge", jobs[1].source)
  end)

  it("is shown by the command's --help and accepted by --endpoint", function()
    local abi = type(rawget(_G, "jit")) == "table" and "luajit" or _VERSION:match("%d+%.%d+")
    local lua = abi == "luajit" and "luajit" or "lua" .. abi
    local add = "local e = require 'atlasrestore.endpoints'; e.KINDS[#e.KINDS + 1] = { name = 'edge', "
      .. "help = 'edge clusters, a kind made up here', instance = 'edge cluster' }"
    local function run(args)
      local p = io.popen(("LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/%s/?.so;;' %s -e %q "
        .. "bin/atlasrestore %s 2>&1"):format(abi, lua, add, args))
      local out = p:read("*a")
      p:close()
      return out
    end
    local help = run("list --help"):gsub("%s+", " ")
    assert.matches("auto (wherever the instance is now), serverless (the original endpoint, switched off on "
      .. "2026-01-22), flex (", help, 1, true)
    assert.matches("edge (edge clusters, a kind made up here).", help, 1, true)
    assert.matches("The instance (serverless instance, Flex cluster, dedicated cluster or edge cluster).", help, 1,
      true)
    local refused = run("list demo --endpoint edgy"):gsub("%s+", " ")
    assert.matches("must be one of 'auto', 'serverless', 'flex', 'dedicated', 'edge'", refused, 1, true)
  end)
end)

describe("deprecation warnings", function()
  local HEADERS = { deprecation = "Wed, 10 Dec 2025", sunset = "Thu, 22 Jan 2026" }
  local function deprecated_page() return fake.json(200, fake.page { fake.id(1) }, HEADERS) end

  local function collecting(handler, opts)
    local warnings = {}
    opts = opts or {}
    opts.on_warning = function(message) warnings[#warnings + 1] = message end
    local client, t = client_on(handler, opts)
    return client, warnings, t
  end

  it("are not given for a probe's answer that is not used (not found everywhere)", function()
    local client, warnings = collecting(by_path {
      [jobs_path("flex", "nope")] = fake.api_error(404, "CLUSTER_NOT_FOUND"),
      [jobs_path("serverless", "nope")] = fake.api_error(404, "SERVERLESS_INSTANCE_NOT_FOUND", nil, HEADERS),
    })
    local jobs, err = client:all_restore_jobs(GROUP, "nope")
    assert.is_nil(jobs)
    assert.equal("RESOURCE_NOT_FOUND", err.errorCode)
    assert.same({}, warnings)
  end)

  it("name the endpoint and its sunset, once per client, without advice when the probe chose it", function()
    local client, warnings = collecting(by_path {
      [jobs_path("flex", "s")] = fake.api_error(404, "CLUSTER_NOT_FOUND"),
      [jobs_path("serverless", "s")] = deprecated_page(),
    })
    assert(client:all_restore_jobs(GROUP, "s"))
    assert(client:all_restore_jobs(GROUP, "s"))
    for _ in client:restore_jobs(GROUP, "s", { endpoint = "serverless" }) do end
    assert.same({ "atlasrestore: warning: the serverless endpoint is deprecated, sunset 2026-01-22 "
      .. "(Deprecation: Wed, 10 Dec 2025; Sunset: Thu, 22 Jan 2026)" }, warnings)
    local other, again = collecting(by_path { [jobs_path("serverless", "s")] = deprecated_page() })
    assert(other:list_restore_jobs(GROUP, "s"))
    assert.equal(1, #again, "each client warns once")
    assert.matches('; endpoint "auto" follows the instances that moved$', again[1])
  end)

  it("say when an endpoint is past its sunset, for the answer returned", function()
    local client, warnings = collecting(by_path {
      [jobs_path("serverless", "s")] = fake.api_error(410, "VERSION_GONE"),
    }, { endpoint = "serverless" })
    local _, err = client:all_restore_jobs(GROUP, "s")
    assert.equal("VERSION_GONE", err.errorCode)
    assert.same({ "atlasrestore: warning: the serverless endpoint is past its sunset (2026-01-22): Atlas answered "
      .. '410 VERSION_GONE; endpoint "auto" follows the instances that moved' }, warnings)
  end)

  it("take Atlas's Sunset for a kind whose description has none", function()
    local client, warnings = collecting(by_path {
      [jobs_path("flex", "d")] = fake.api_error(400, "CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API", nil, HEADERS),
      [jobs_path("dedicated", "d")] = deprecated_page(),
    })
    assert(client:all_restore_jobs(GROUP, "d"))
    assert.same({ "atlasrestore: warning: the dedicated endpoint is deprecated, sunset Thu, 22 Jan 2026 "
      .. "(Deprecation: Wed, 10 Dec 2025; Sunset: Thu, 22 Jan 2026)" }, warnings)
  end)

  it("are not given for the module's own instance lists", function()
    local lists = {}
    for _, kind in ipairs(endpoints.listed()) do
      lists["/api/atlas/v2" .. kind.instances.path:format(GROUP)] = fake.json(200, { results = {} }, HEADERS)
    end
    local client, warnings = collecting(by_path(lists))
    assert.same({}, assert(client:project_restore_jobs(GROUP)))
    assert.same({}, warnings)
  end)
end)

describe("the restore_jobs iterator", function()
  it("raises a failed listing's error at the caller's for line", function()
    local client = client_on(by_path {})
    local line
    local ok, err = pcall(function()
      line = debug.getinfo(1, "l").currentline + 1
      for _ in client:restore_jobs(GROUP, "nope", { endpoint = "flex" }) do end
    end)
    assert.is_false(ok)
    local where = debug.getinfo(1, "S").short_src .. ":" .. line
    assert.equal(where, err.where)
    assert.equal(where .. ": atlasrestore: RESOURCE_NOT_FOUND (HTTP 404): RESOURCE_NOT_FOUND", tostring(err))
  end)

  it("raises a bad option's error at the caller's line too, echoing the value", function()
    local client = client_on(by_path {})
    local ok, err = pcall(function() for _ in client:restore_jobs(GROUP, "n", { endpoint = "flexx" }) do end end)
    local line = debug.getinfo(1, "l").currentline - 1
    assert.is_false(ok)
    assert.equal(debug.getinfo(1, "S").short_src .. ":" .. line, err.where)
    assert.equal("INVALID_ARGUMENT", err.errorCode)
    assert.matches('endpoint "flexx" is not one of "auto", ', tostring(err), 1, true)
  end)
end)
