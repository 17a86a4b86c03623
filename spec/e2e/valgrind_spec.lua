-- One end-to-end listing per credential kind, small enough to run under
-- valgrind (`make valgrind` runs only this file of spec/e2e, tag #valgrind).
-- It covers what the unit specs cannot: libcurl handles, Digest state and the
-- token cache, created and freed through the real module.
local emulator = require "support.emulator"

describe("one listing per credential kind #valgrind", function()
  local emu

  lazy_setup(function() emu = emulator.start() end)
  lazy_teardown(function() if emu then emu:stop() end end)
  before_each(function() emu:reset() end)

  local function check_ids(jobs, name, n)
    assert.equal(n, #jobs)
    for i, job in ipairs(jobs) do
      assert.equal(i, tonumber(job.id:sub(9), 16), "jobs keep Atlas's order")
    end
    -- Same crc32 prefix on every id of one instance.
    local prefix = jobs[1] and jobs[1].id:sub(1, 8)
    for _, job in ipairs(jobs) do assert.equal(prefix, job.id:sub(1, 8), name) end
  end

  it("lists jobs-1000 through Digest", function()
    local client = emu:client()
    local jobs, err = client:all_restore_jobs(emu.group_id, "jobs-1000")
    assert(jobs, tostring(err and err.errorCode))
    check_ids(jobs, "jobs-1000", 1000)
    assert.equal(1, emu:stats().challenges)
    assert.is_true(client:close())
  end)

  it("lists jobs-501 with a service account, then revokes the token", function()
    local client = emu:client { client_id = emu.client_id, client_secret = emu.client_secret }
    local jobs, err = client:all_restore_jobs(emu.group_id, "jobs-501")
    assert(jobs, tostring(err and err.errorCode))
    check_ids(jobs, "jobs-501", 501)
    assert.is_true(client:close())
    local stats = emu:stats()
    assert.equal(1, stats.tokens)
    assert.equal(1, stats.revokes)
  end)
end)
