--- The listing: pages requested up to `concurrency` at a time and released in
-- Atlas's order, each job once by id, the stop rules, and "auto" resolution.
local core = require "atlasrestore.core"
local errors = require "atlasrestore.errors"
local response = require "atlasrestore.response"
local routes = require "atlasrestore.routes"
local shape = require "atlasrestore.shape"

local listing = {}

-- "Not a Flex cluster": the answers on which "auto" falls back to serverless.
local NOT_FLEX = { CANNOT_USE_NON_FLEX_CLUSTER_IN_FLEX_API = true, CLUSTER_NOT_FOUND = true }

local function not_found_or_gone(err) return err.status == 404 or err.status == 410 end

--- Fetches one page of one endpoint: the page, or nil, err.
local function fetch(self, ctx, endpoint, page_num, include_count)
  local path, accept = routes.restore_jobs(endpoint, self.api_version, self.group_id, self.name,
    routes.page_query(page_num, self.per_page, include_count))
  return self.pipe:get(ctx, path, accept, { include_count = include_count })
end

-- Both endpoints failed. The serverless answer explains best unless it is
-- only "not found" or "gone", which says nothing the Flex answer does not.
local function both_failed(flex_err, serverless_err)
  local chosen = not_found_or_gone(serverless_err) and flex_err or serverless_err
  return errors.copy(chosen, {
    errors = { flex = flex_err, serverless = serverless_err },
    attempts = math.max(flex_err.attempts or 1, serverless_err.attempts or 1),
  })
end

--- The first page, resolving "auto": Flex first, then serverless on a "not a
-- Flex cluster" answer. Returns page, endpoint or nil, err.
local function first_page(self, ctx, include_count)
  local function get(where) return fetch(self, ctx, where, 1, include_count) end
  if self.endpoint ~= "auto" then
    local page, err = get(self.endpoint)
    if not page then return nil, err end
    return page, self.endpoint
  end
  local memory, key = self.memory, self.group_id .. "/" .. self.name
  local remembered = memory[key]
  local page, serverless_page, flex_err, serverless_err
  -- Instances move. A remembered serverless instance that answers an empty
  -- list, a 404 or a 410 looks like a migrated one: Flex is asked again. A
  -- remembered Flex cluster that is no longer one goes on to serverless.
  if remembered == "serverless" then
    serverless_page, serverless_err = get("serverless")
    if serverless_page and #serverless_page.results > 0 then return serverless_page, "serverless" end
    if serverless_err and not not_found_or_gone(serverless_err) then return nil, serverless_err end
  elseif remembered == "flex" then
    page, flex_err = get("flex")
    if page then return page, "flex" end
    if not NOT_FLEX[flex_err.errorCode] then return nil, flex_err end
  end
  memory[key] = nil
  if not flex_err then
    page, flex_err = get("flex")
    if page then
      memory[key] = "flex"
      return page, "flex"
    end
    if not NOT_FLEX[flex_err.errorCode] then return nil, flex_err end
  end
  if not (serverless_page or serverless_err) then serverless_page, serverless_err = get("serverless") end
  if serverless_page then
    memory[key] = "serverless"
    return serverless_page, "serverless"
  end
  return nil, both_failed(flex_err, serverless_err)
end

local Listing = {}
Listing.__index = Listing

--- cfg: pipe, memory (the "auto" routes of the client), api_version,
-- group_id, name, endpoint, per_page, concurrency, max_pages, lazy (the caller
-- sets the pace between pages, so the deadline is per page).
function listing.new(cfg)
  local self = setmetatable(cfg, Listing)
  self.budget = { paused_until = 0 }
  self.seen = core.idset()
  self.inflight = {} -- page number -> task, for the pages requested ahead
  self.released = 0  -- the last page handed out
  self.requested = 1 -- the last page requested
  self.ctx = self.pipe:context(self.budget, self.endpoint == "auto")
  return self
end

function Listing:context()
  if self.lazy then return self.pipe:context(self.budget, self.endpoint == "auto") end
  return self.ctx
end

-- Stops every request past the end, or after a failure: nothing stays in flight.
function Listing:stop()
  self.done = true
  local transport = self.pipe.transport
  for page_num, task in pairs(self.inflight) do
    transport:cancel(task)
    self.inflight[page_num] = nil
  end
end

--- Lets the pages requested ahead keep coming while the caller works.
function Listing:progress()
  local transport = self.pipe.transport
  if transport.progress and next(self.inflight) then transport:progress() end
end

function Listing:fail(err, attempts)
  self:stop()
  if attempts then return false, select(2, self.pipe:fail(err, attempts)) end
  return false, err
end

-- How many pages may be in flight: `concurrency`, fewer while Atlas says its
-- bucket holds fewer tokens, and none past the page the count announces.
function Listing:window()
  local k = self.concurrency
  local remaining = self.budget.remaining
  if remaining and remaining < k then k = math.max(1, remaining) end
  local last = self.released + k
  if self.estimated_pages and self.released < self.estimated_pages then
    last = math.min(last, self.estimated_pages)
  end
  return last
end

-- Requests the pages after the last one requested, up to the window.
function Listing:request_ahead()
  local transport = self.pipe.transport
  local last = math.min(math.max(self:window(), self.released + 1), self.max_pages)
  while self.requested < last do
    self.requested = self.requested + 1
    local page_num = self.requested
    self.inflight[page_num] = transport:spawn(fetch, self, self:context(), self.resolved, page_num, false)
  end
end

-- Jobs not listed yet, in the page's order, in the caller's shape. Jobs can
-- shift between pages while Atlas adds new ones: each is listed once by its
-- id, which must be Atlas's form; a page of nothing new means a server that loops.
function Listing:new_jobs(page, page_num)
  local jobs, problem = self.seen:select(page.results, page_num)
  if not jobs then return nil, problem end
  if self.endpoint == "auto" then
    local map = self.resolved == "flex" and shape.from_flex or shape.from_serverless
    for i = 1, #jobs do jobs[i] = map(jobs[i]) end
  end
  return jobs
end

--- The next page's new jobs: an array, nil when the listing is over, or false, err.
function Listing:next()
  if self.done then return nil end
  local page_num = self.released + 1
  if page_num > self.max_pages then
    return self:fail(errors.new(errors.TOO_MANY_PAGES, { message = ("the listing passed max_pages (%d) and "
      .. "the server still announces more; raise max_pages if this instance truly has more jobs"):format(
      self.max_pages) }), 1)
  end
  local page, err
  if page_num == 1 then
    -- With parallel pages, the count plans how many to ask for at once.
    local include_count = self.concurrency > 1
    page, err = first_page(self, self:context(), include_count)
    if page then
      self.resolved, err = err, nil
      if include_count and page.totalCount then
        self.estimated_pages = math.max(1, math.ceil(page.totalCount / self.per_page))
      end
    end
  else
    local task = self.inflight[page_num]
    self.inflight[page_num] = nil
    local ok
    ok, page, err = self.pipe.transport:wait(task)
    if not ok then
      self:stop()
      error(page, 0)
    end
  end
  self.released = page_num
  if not page then return self:fail(err) end
  local jobs, problem = self:new_jobs(page, page_num)
  if not jobs then
    return self:fail(errors.new(errors.BAD_RESPONSE, { status = 200, message = problem }), 1)
  end
  if #page.results < self.per_page or not response.has_next(page) then
    self:stop()
  else
    self:request_ahead()
  end
  return jobs
end

return listing
