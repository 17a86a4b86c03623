--- Routes: the one place that turns an endpoint (endpoints.lua), a project, a name
-- and a query into a path (escaped) and the media type the endpoint speaks.
local endpoints = require "atlasrestore.endpoints"

local routes = {}

routes.MAX_ITEMS_PER_PAGE = 500

-- The resource version of the project lists (GET /groups, /orgs/{id}/groups).
local PROJECTS_VERSION = "2023-01-01"

--- RFC 3986 percent-encoding of everything but the unreserved characters.
function routes.url_encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function prefix(kind, api_version)
  if kind.legacy and api_version == "v1.0" then return "/api/atlas/v1.0", "application/json" end
  return "/api/atlas/v2", endpoints.media(kind.version)
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
  local kind = endpoints.of(endpoint)
  local root, accept = prefix(kind, api_version)
  local path = root .. kind.jobs:format(routes.url_encode(group_id), routes.url_encode(name))
  if job_id then path = path .. "/" .. routes.url_encode(job_id) end
  return path .. (query or ""), accept
end

--- path_and_query, accept for one page of a project's instances of one endpoint.
function routes.instances(endpoint, group_id, query)
  local list = endpoints.of(endpoint).instances
  return "/api/atlas/v2" .. list.path:format(routes.url_encode(group_id)) .. (query or ""),
    endpoints.media(list.version)
end

--- path_and_query, accept for one page of the projects the credentials see, or
-- of organisation `org_id`'s projects.
function routes.projects(org_id, query)
  local path = org_id and "/orgs/" .. routes.url_encode(org_id) .. "/groups" or "/groups"
  return "/api/atlas/v2" .. path .. (query or ""), endpoints.media(PROJECTS_VERSION)
end

function routes.token() return "/api/oauth/token" end

function routes.revoke() return "/api/oauth/revoke" end

return routes
