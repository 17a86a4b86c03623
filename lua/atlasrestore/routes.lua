--- Routes: the one place that turns an endpoint, a project, a name and a query
-- into a path (escaped) and the media type the endpoint speaks.
local routes = {}

local ATLAS_2023 = "application/vnd.atlas.2023-01-01+json"
local ATLAS_2024 = "application/vnd.atlas.2024-11-13+json"

-- Where each endpoint's restore jobs live. `legacy`: it also exists under v1.0.
local ENDPOINTS = {
  serverless = { path = "/groups/%s/serverless/%s/backup/restoreJobs", accept = ATLAS_2023, legacy = true },
  flex = { path = "/groups/%s/flexClusters/%s/backup/restoreJobs", accept = ATLAS_2024 },
  dedicated = { path = "/groups/%s/clusters/%s/backup/restoreJobs", accept = ATLAS_2023, legacy = true },
}

-- The lists of a project's instances, per endpoint.
local INSTANCE_LISTS = {
  flex = { path = "/groups/%s/flexClusters", accept = ATLAS_2024 },
  serverless = { path = "/groups/%s/serverless", accept = ATLAS_2023 },
  dedicated = { path = "/groups/%s/clusters", accept = ATLAS_2023 },
}

--- The endpoints that hold restore jobs, in the order the README lists them.
routes.ENDPOINTS = { "serverless", "flex", "dedicated" }
routes.MAX_ITEMS_PER_PAGE = 500

--- RFC 3986 percent-encoding of everything but the unreserved characters.
function routes.url_encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function prefix(route, api_version)
  if route.legacy and api_version == "v1.0" then return "/api/atlas/v1.0", "application/json" end
  return "/api/atlas/v2", route.accept
end

--- "?a=1&b=true" from an array of {name, value} pairs ("" when empty). Values are
-- integers or booleans, which need no escaping.
function routes.query(pairs_list)
  local parts = {}
  for i, pair in ipairs(pairs_list) do
    local value = pair[2]
    parts[i] = pair[1] .. "=" .. (type(value) == "number" and ("%d"):format(value) or tostring(value))
  end
  return #parts > 0 and "?" .. table.concat(parts, "&") or ""
end

--- The query of one page of a listing.
function routes.page_query(page_num, per_page, include_count)
  return routes.query { { "pageNum", page_num }, { "itemsPerPage", per_page }, { "includeCount", include_count } }
end

--- path_and_query, accept for the restore jobs of an instance; `job_id` names one job.
function routes.restore_jobs(endpoint, api_version, group_id, name, query, job_id)
  local route = ENDPOINTS[endpoint]
  local root, accept = prefix(route, api_version)
  local path = root .. route.path:format(routes.url_encode(group_id), routes.url_encode(name))
  if job_id then path = path .. "/" .. routes.url_encode(job_id) end
  return path .. (query or ""), accept
end

--- path_and_query, accept for one page of a project's instances of one endpoint.
function routes.instances(endpoint, group_id, query)
  local route = INSTANCE_LISTS[endpoint]
  return "/api/atlas/v2" .. route.path:format(routes.url_encode(group_id)) .. (query or ""), route.accept
end

--- path_and_query, accept for one page of the projects the credentials see, or
-- of organisation `org_id`'s projects.
function routes.projects(org_id, query)
  local path = org_id and "/orgs/" .. routes.url_encode(org_id) .. "/groups" or "/groups"
  return "/api/atlas/v2" .. path .. (query or ""), ATLAS_2023
end

function routes.token() return "/api/oauth/token" end

function routes.revoke() return "/api/oauth/revoke" end

return routes
