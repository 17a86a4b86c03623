-- A worker's CPU work on responses is paced: pieces that arrive together (as pages
-- do under load) run in turns of the event loop, one turn each, so that whatever
-- else the worker serves moves in between. A zero-delay timer set after a piece
-- shows the turn: it runs before the next piece, never after all of them.
local nginx_host = require "support.nginx_host"
local sleep = require("socket").sleep

describe("one nginx worker pacing the work of responses", function()
  local host

  nginx_host.around(function(_, h) host = h end, { workers = 1 })

  it("turns its event loop between two pieces of work that arrived together", function()
    local status, out = host:json("/pace?pieces=4")
    assert.equal(200, status)
    assert.same({ "piece 1", "piece 2", "piece 3", "piece 4" }, out.results)
    assert.same({ "piece 1", "after piece 1", "piece 2", "after piece 2", "piece 3", "after piece 3", "piece 4",
      "after piece 4" }, out.order)
  end)

  it("runs the work at once when no timer can mark the next turn", function()
    local status, out = host:json("/pace?pieces=4&exhaust=1")
    assert.equal(200, status)
    assert.is_true(out.timers_taken > 0)
    assert.same({ "piece 1", "piece 2", "piece 3", "piece 4" }, out.results)
    assert.same({ "piece 1", "piece 2", "piece 3", "piece 4" }, out.order)
    -- The worker's timers are its own again once those taken have run.
    sleep(0.4)
    status, out = host:json("/pace?pieces=2")
    assert.equal(200, status)
    assert.same({ "piece 1", "after piece 1", "piece 2", "after piece 2" }, out.order)
  end)

  it("runs the work at once in a phase that cannot wait", function()
    assert.equal("ok\n", select(2, host:get("/pace/log")))
    assert.equal("piece 1,piece 2,piece 3\n", host:kept("pace_log"))
  end)
end)
