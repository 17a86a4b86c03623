--- The listing: pages requested up to `concurrency` at a time and released in
-- Atlas's order, each job once by id, the stop rules, and "auto" resolution.
local core = require "atlasrestore.core"
local endpoints = require "atlasrestore.endpoints"
local errors = require "atlasrestore.errors"
local filter = require "atlasrestore.filter"
local probe = require "atlasrestore.probe"
local response = require "atlasrestore.response"
local routes = require "atlasrestore.routes"
local shape = require "atlasrestore.shape"

local listing = {}

--- Fetches one page of one endpoint: the page, or nil, err. `notice`: the
-- first page's (probe.route's); a later page's answer is used, so it warns.
-- hold: a page asked for ahead comes back as nil, nil, held (Pipeline:get), for
-- fetch(..., held) to decode once it is handed out.
local function fetch(self, ctx, endpoint, page_num, include_count, notice, hold, held)
  local path, accept = routes.restore_jobs(endpoint, self.api_version, self.group_id, self.name,
    routes.page_query(page_num, self.per_page, include_count))
  return self.pipe:get(ctx, path, accept, { include_count = include_count, hold = hold,
    notice = notice or function(signals) probe.warn(self.pipe, endpoint, signals, self.routed) end }, held)
end

-- A page asked for ahead: on its way (`sending`) from the moment it is asked for.
local function fetch_ahead(self, ctx, endpoint, page_num)
  local page, err, held = fetch(self, ctx, endpoint, page_num, false, nil, true)
  self.sending = self.sending - 1
  if self.arrived then self.arrived(self) end
  return page, err, held
end

--- The first page, routed (for "auto", through the probe table): page, endpoint or nil, err.
local function first_page(self, ctx, include_count)
  local function get(endpoint, notice) return fetch(self, ctx, endpoint, 1, include_count, notice) end
  return probe.route(self.pipe, self.memory, self.group_id, self.name, self.endpoint, get, true, self.routed,
    ctx.deadline)
end

local Listing = {}
Listing.__index = Listing

--- cfg: pipe, memory (the "auto" routes of the client), api_version,
-- group_id, name, endpoint, per_page, concurrency, max_pages, lazy (the caller
-- sets the pace between pages, so the deadline is per page), unified (jobs in
-- the unified shape), clock (shape.mapper's), filter (filter.keeps's), ctx (a
-- call's context to share, budget included), routed (the module chose the
-- endpoint, as "auto" does: no advice to use "auto" in a warning); when
-- listings share their requests, pace(listing) -> how many pages it may have
-- ahead now (at most `concurrency`), and arrived(listing) after each page asked
-- for ahead came back.
function listing.new(cfg)
  local self = setmetatable(cfg, Listing)
  self.routed = cfg.routed or self.endpoint == endpoints.AUTO
  self.ctx = cfg.ctx or self.pipe:context { paused_until = 0 }
  self.budget = self.ctx.budget
  self.seen = core.idset()
  self.inflight = {} -- page number -> task, for the pages requested ahead
  self.released = 0  -- the last page handed out
  self.requested = 1 -- the last page requested
  self.listed = 0    -- new jobs released so far
  self.sending = 0   -- pages asked for and not come yet
  return self
end

function Listing:context()
  if self.lazy then return self.pipe:context(self.budget) end
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

-- How many pages may be in flight: `concurrency` (or what the pace allows), fewer
-- while Atlas says its bucket holds fewer tokens, and none past the page the count announces.
function Listing:window()
  local k = self.concurrency
  if self.pace then k = math.min(k, self.pace(self)) end
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
    self.sending = self.sending + 1
    self.inflight[page_num] = transport:spawn(fetch_ahead, self, self:context(), self.resolved, page_num)
  end
end

-- Jobs not listed yet, in the page's order, in the caller's shape. Jobs can
-- shift between pages while Atlas adds new ones: each is listed once by its
-- id, which must be Atlas's form; a page of nothing new means a server that loops.
local function new_jobs(self, page, page_num)
  local jobs, problem = self.seen:select(page.results, page_num)
  if not jobs then return nil, problem end
  if self.unified then
    local map = shape.mapper(self.resolved, self.clock)
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
    self.sending = 1
    page, err = first_page(self, self:context(), include_count)
    self.sending = 0
    if page then
      self.resolved, err = err, nil
      if include_count and page.totalCount then
        self.estimated_pages = math.max(1, math.ceil(page.totalCount / self.per_page))
      end
    end
  else
    local task = self.inflight[page_num]
    self.inflight[page_num] = nil
    local ok, held
    ok, page, err, held = self.pipe.transport:wait(task)
    if not ok then
      self:stop()
      error(page, 0)
    end
    -- Decoded now; should it not decode, asked for again within what is left of its
    -- attempts, under a deadline of its own when the caller sets the pace.
    if held then page, err = fetch(self, self:context(), self.resolved, page_num, false, nil, false, held) end
  end
  self.released = page_num
  if not page then return self:fail(err) end
  local jobs, problem = self.pipe:work(new_jobs, self, page, page_num)
  if not jobs then
    return self:fail(errors.new(errors.BAD_RESPONSE, { status = 200, message = problem }), 1)
  end
  self.listed = self.listed + #jobs
  self.pipe:emit { type = "page", page = page_num, jobs = #page.results, total = self.listed, endpoint = self.resolved }
  if #page.results < self.per_page or not response.has_next(page) then
    self:stop()
  else
    self:request_ahead()
  end
  return jobs
end

--- The next page's jobs that the listing's filter keeps, as Listing:next answers.
function listing.take(source)
  local jobs, err = source:next()
  if jobs and source.filter then
    jobs = filter.apply(source.filter, jobs, not source.unified and shape.mapper(source.resolved, source.clock))
  end
  return jobs, err
end

--- Every job the listing keeps, as an array, or nil, err.
function listing.collect(source)
  local all, count = {}, 0
  while true do
    local jobs, err = listing.take(source)
    if jobs == nil then return all end
    if jobs == false then return nil, err end
    for i = 1, #jobs do all[count + i] = jobs[i] end
    count = count + #jobs
  end
end

return listing
