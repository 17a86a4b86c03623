-- Misuse raises at the caller's line, whichever public method and argument,
-- with one message pattern; nothing is sent.
local atlasrestore = require "atlasrestore"
local fake = require "support.fake_transport"

local GROUP = "65a1b2c3d4e5f60718293a4b"
local t = fake.new(function() error("misuse must not send anything") end)
local client = assert(atlasrestore.new { transport = t, access_token = "tok", base_url = "https://atlas.test" })
local closed = assert(atlasrestore.new { transport = fake.new(function() end), access_token = "tok" })
closed:close()

-- Each case is one line, so that the line it was defined on is the line of the call.
-- luacheck: push no max line length
local CASES = {
  { "bad argument #1 to 'new' (table expected, got number)", function() atlasrestore.new(42) end },
  { "bad argument #1 to 'new' (timeout: number expected, got string)", function() atlasrestore.new { timeout = "60" } end },
  { "bad argument #1 to 'new' (unknown option 'privatekey')", function() atlasrestore.new { privatekey = "x" } end },
  { "bad argument #1 to 'new' (transport: method 'now' missing)", function() atlasrestore.new { access_token = "t", transport = { version = "x", request = print } } end },
  { "bad argument #1 to 'list_restore_jobs' (string expected, got nil)", function() client:list_restore_jobs(nil, "demo") end },
  { "bad argument #2 to 'list_restore_jobs' (string expected, got number)", function() client:list_restore_jobs(GROUP, 7) end },
  { "bad argument #3 to 'list_restore_jobs' (table expected, got string)", function() client:list_restore_jobs(GROUP, "demo", "x") end },
  { "bad argument #3 to 'list_restore_jobs' (items_per_page: number expected, got string)", function() client:list_restore_jobs(GROUP, "demo", { items_per_page = "100" }) end },
  { "bad argument #3 to 'list_restore_jobs' (unknown option 'page')", function() client:list_restore_jobs(GROUP, "demo", { page = 1 }) end },
  { "bad argument #1 to 'all_restore_jobs' (string expected, got nil)", function() client:all_restore_jobs(nil, "demo") end },
  { "bad argument #3 to 'all_restore_jobs' (endpoint: string expected, got number)", function() client:all_restore_jobs(GROUP, "demo", { endpoint = 1 }) end },
  { "bad argument #3 to 'all_restore_jobs' (concurrency: number expected, got boolean)", function() client:all_restore_jobs(GROUP, "demo", { concurrency = true }) end },
  { "bad argument #1 to 'restore_jobs' (string expected, got table)", function() client:restore_jobs({}, "demo") end },
  { "bad argument #2 to 'restore_jobs' (string expected, got nil)", function() client:restore_jobs(GROUP) end },
  { "bad argument #3 to 'restore_jobs' (items_per_page: number expected, got string)", function() client:restore_jobs(GROUP, "demo", { items_per_page = "500" }) end },
  { "bad argument #3 to 'restore_jobs' (endpoint: string expected, got boolean)", function() client:restore_jobs(GROUP, "demo", { endpoint = true }) end },
  { "bad argument #3 to 'restore_jobs_page' (endpoint: string expected, got number)", function() client:restore_jobs_page(GROUP, "demo", { endpoint = 2 }) end },
  { "bad argument #3 to 'restore_jobs_page' (table expected, got number)", function() client:restore_jobs_page(GROUP, "demo", 2) end },
  { "bad argument #1 to 'project_restore_jobs' (string expected, got nil)", function() client:project_restore_jobs() end },
  { "bad argument #2 to 'project_restore_jobs' (status: table expected, got string)", function() client:project_restore_jobs(GROUP, { status = "FAILED" }) end },
  { "bad argument #2 to 'project_restore_jobs' (on_instance: function expected, got table)", function() client:project_restore_jobs(GROUP, { on_instance = {} }) end },
  { "bad argument #1 to 'projects' (unknown option 'orgId')", function() client:projects { orgId = GROUP } end },
  { "bad argument #1 to 'projects' (table expected, got string)", function() client:projects(GROUP) end },
  { "bad argument #1 to 'organisation_restore_jobs' (project_concurrency: number expected, got string)", function() client:organisation_restore_jobs { project_concurrency = "4" } end },
  { "bad argument #1 to 'organisation_restore_jobs' (unknown option 'endpoint')", function() client:organisation_restore_jobs { endpoint = "auto" } end },
  { "bad argument #3 to 'restore_job' (string expected, got number)", function() client:restore_job(GROUP, "demo", 42) end },
  { "bad argument #4 to 'restore_job' (table expected, got string)", function() client:restore_job(GROUP, "demo", ("a"):rep(24), "auto") end },
  { "bad argument #4 to 'wait_restore_job' (on_change: function expected, got string)", function() client:wait_restore_job(GROUP, "demo", ("a"):rep(24), { on_change = "print" }) end },
  { "bad self to 'all_restore_jobs' (atlasrestore client expected, got table)", function() client.all_restore_jobs({}, GROUP, "demo") end },
  { "bad self to 'close' (atlasrestore client expected, got string)", function() client.close("x") end },
  { "'all_restore_jobs' called on a closed client", function() closed:all_restore_jobs(GROUP, "demo") end },
}
-- luacheck: pop

describe("misuse", function()
  for _, case in ipairs(CASES) do
    local message, call = case[1], case[2]
    it("raises at the caller's line: " .. message, function()
      local ok, err = pcall(call)
      assert.is_false(ok)
      assert.is_string(err)
      local info = debug.getinfo(call, "S")
      assert.equal(info.short_src .. ":" .. info.linedefined .. ": " .. message, err)
    end)
  end

  it("sends nothing", function()
    assert.equal(0, #t.log)
  end)

  -- The stack walk skips the library's own files only: the command's modules, whose directory
  -- (atlasrestore_cli/) shares the library's name as a prefix, are callers like any other.
  it("blames a misuse made inside the command on the command's line", function()
    local function dir_of(module)
      for template in package.path:gmatch("[^;]+") do
        local file = template:gsub("%?", (module:gsub("%.", "/")))
        local f = io.open(file, "rb")
        if f then
          f:close()
          return file:match("^(.*)/[^/]+$")
        end
      end
    end
    local library, command = assert(dir_of("atlasrestore.errors")), assert(dir_of("atlasrestore_cli.exits"))
    local load_named = rawget(_G, "loadstring") or load
    for _, where in ipairs { { command, true }, { library, false } } do
      local file = where[1] .. "/misuse_probe.lua"
      local chunk = assert(load_named("local atlasrestore = ...\natlasrestore.new { timeout = '60' }", "@" .. file))
      local ok, err = pcall(chunk, atlasrestore)
      assert.is_false(ok)
      if where[2] then
        assert.equal(file .. ":2: bad argument #1 to 'new' (timeout: number expected, got string)", err)
      else -- a file of the library's own is not the caller: the blame goes past it, to this spec
        assert.is_nil(err:find(file, 1, true), err)
      end
    end
  end)

  it("returns INVALID_ARGUMENT for a bad value of the right type, with the true bounds", function()
    local _, err = client:list_restore_jobs(GROUP, "demo", { page_num = 2 ^ 53 })
    assert.equal("INVALID_ARGUMENT", err.errorCode)
    assert.equal("invalid_argument", err.kind)
    assert.equal("page_num must be an integer in 1..2147483647", err.message)
    _, err = client:all_restore_jobs(GROUP, "demo", { items_per_page = 501 })
    assert.equal("items_per_page must be an integer in 1..500", err.message)
    _, err = client:all_restore_jobs("65A1B2C3D4E5F60718293A4B", "demo")
    assert.equal("group_id must be 24 lowercase hexadecimal characters", err.message)
  end)
end)
