--- Beyond one project: the projects the credentials see (GET /groups, or one
-- organisation's, every page), and their restore jobs, `project_concurrency`
-- projects at a time, each with its own deadline and rate-limit budget (Atlas
-- keeps a bucket per project), each project's instances as project.list runs them.
local options = require "atlasrestore.options"
local project = require "atlasrestore.project"
local routes = require "atlasrestore.routes"

local organisation = {}

--- Every project record ({ id, name, orgId, ... } as Atlas sends them) of the
-- credentials, or of organisation `org_id`; or nil, err.
function organisation.projects(st, org_id, per_page)
  local pipe = st.pipe
  return project.records(pipe, pipe:context(), {
    what = "the project list", per_page = per_page, max_pages = st.settings.max_pages,
    route = function(page_num) return routes.projects(org_id, routes.page_query(page_num, per_page, false)) end,
    -- The id goes into every path that follows: only Atlas's form of one.
    valid = function(record) return options.is_id(record.id) end, invalid = "without a valid id",
  })
end

--- The restore jobs of every project, in the projects' order, each job with
-- `project` (the id) and `projectName`. plan: options.organisation's. With
-- plan.on_instance(name, jobs, project_record), each project's instances are
-- handed out as the project's listing completes (at most project_concurrency
-- projects' jobs held at once) and the call returns the number of jobs; without
-- it, every job. Either comes with failures: { project =, projectName =,
-- instance =, endpoint =, error = } (no instance when the project's instance
-- lists failed), and the project records listed. Or nil, err when the project
-- list failed.
function organisation.list(st, plan)
  local records, err = organisation.projects(st, plan.org_id, routes.MAX_ITEMS_PER_PAGE)
  if not records then return nil, err end
  local jobs, count, failures = {}, 0, {}
  local on_instance = plan.on_instance
  project.in_order(st.pipe.transport, plan.project_concurrency, #records, function(i)
    local by_instance = {}
    local found, failed = project.list(st, records[i].id, plan, function(name, list)
      by_instance[#by_instance + 1] = { name = name, jobs = list }
    end)
    return found and by_instance, failed
  end, function(i, by_instance, failed)
    local record = records[i]
    local id, name = record.id, record.name
    if not by_instance then
      failures[#failures + 1] = { project = id, projectName = name, error = failed }
      return
    end
    for _, f in ipairs(failed) do
      f.project, f.projectName = id, name
      failures[#failures + 1] = f
    end
    for _, inst in ipairs(by_instance) do
      for _, job in ipairs(inst.jobs) do job.project, job.projectName = id, name end
      if on_instance then
        count = count + #inst.jobs
        on_instance(inst.name, inst.jobs, record)
      else
        for _, job in ipairs(inst.jobs) do jobs[#jobs + 1] = job end
      end
    end
  end)
  if on_instance then return count, failures, records end
  return jobs, failures, records
end

return organisation
