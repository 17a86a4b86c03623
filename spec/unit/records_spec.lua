-- The paginated lists a project or an organisation listing reads first (project.records):
-- every page, and a record that cannot name what comes next refused as BAD_RESPONSE.
local fake = require "support.fake_transport"

local GROUP = "65a1b2c3d4e5f60718293a4b"

local function page(results, more)
  local doc = { results = results, links = { { rel = "self", href = "https://atlas.test/self" } } }
  if more then doc.links[2] = { rel = "next", href = "https://atlas.test/next" } end
  return fake.json(200, doc)
end

describe("the lists read before the restore jobs", function()
  it("reads the project list page after page", function()
    local client, t = fake.client(function(req)
      if req.query.pageNum == "1" then return page({ { id = GROUP, name = "a" } }, true) end
      return page({ { id = ("b"):rep(24), name = "b" } })
    end)
    local projects = assert(client:projects { items_per_page = 1 })
    assert.same({ "a", "b" }, { projects[1].name, projects[2].name })
    assert.equal(2, #t.log)
    client:close()
  end)

  it("refuses a project record whose id is not an Atlas id", function()
    local client = fake.client(function() return page({ { id = "../elsewhere", name = "x" } }) end)
    local projects, err = client:projects()
    assert.is_nil(projects)
    assert.equal("BAD_RESPONSE", err.errorCode)
    assert.equal("the project list has a record without a valid id", err.message)
    client:close()
  end)

  it("refuses an instance record without a name", function()
    local client = fake.client(function(req)
      if req.path:find("/flexClusters$") then return page({ { name = "" } }) end
      return page({})
    end)
    local jobs, err = client:project_restore_jobs(GROUP)
    assert.is_nil(jobs)
    assert.equal("BAD_RESPONSE", err.errorCode)
    assert.equal("the flex instance list has a record without a name", err.message)
    client:close()
  end)
end)
