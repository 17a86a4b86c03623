-- core.decode's key cache: object keys that repeat are pushed from a per-decode
-- cache, which must never give a key another key's bytes.
local core = require "atlasrestore.core"

local function keys_of(t)
  local list = {}
  for k in pairs(t) do list[#list + 1] = k end
  table.sort(list)
  return table.concat(list, ",")
end

describe("core.decode's repeated keys", function()
  it("keeps keys that share a length, a first and a last byte apart", function()
    -- "ab" and "bb"... share lengths; "axb", "ayb" share first and last bytes too.
    local doc = assert(core.decode('[{"axb":1,"ayb":2,"azb":3},{"ayb":4,"axb":5,"azb":6},{"azb":7}]'))
    assert.same({ axb = 1, ayb = 2, azb = 3 }, doc[1])
    assert.same({ axb = 5, ayb = 4, azb = 6 }, doc[2])
    assert.same({ azb = 7 }, doc[3])
  end)

  it("decodes every key of many same-shaped records, and keys that only start alike", function()
    local parts, n = {}, 300
    for i = 1, n do
      parts[i] = ('{"id":"%d","k%d":%d,"kk":%d,"":true,"id2":0}'):format(i, i % 7, i, -i)
    end
    local doc = assert(core.decode("[" .. table.concat(parts, ",") .. "]"))
    assert.equal(n, #doc)
    for i = 1, n do
      local job = doc[i]
      assert.equal(tostring(i), job.id)
      assert.equal(i, job["k" .. (i % 7)])
      assert.equal(-i, job.kk)
      assert.is_true(job[""])
      assert.equal(",id,id2,k" .. (i % 7) .. ",kk", keys_of(job))
    end
  end)

  it("gives an escaped key the same string as its plain spelling", function()
    local doc = assert(core.decode('[{"ab":1},{"a\\u0062":2},{"ab":3,"a\\u0062":4}]'))
    assert.same({ ab = 1 }, doc[1])
    assert.same({ ab = 2 }, doc[2])
    assert.same({ ab = 4 }, doc[3])
  end)

  it("leaves the stack as it was after a document that fails past its first keys", function()
    for _ = 1, 3 do
      local doc, err = core.decode('[{"id":"a","x":1},{"id":"b","x":')
      assert.is_nil(doc)
      assert.matches("^invalid JSON at byte %d+", err)
    end
    assert.same({ { id = "c" } }, assert(core.decode('[{"id":"c"}]')))
  end)
end)
