--- A project's restore jobs: its instances from the project's instance lists (one
-- per kind of endpoint that has one), then each instance's jobs, `concurrency`
-- requests at a time under one deadline and one rate-limit budget.
local endpoints = require "atlasrestore.endpoints"
local errors = require "atlasrestore.errors"
local listing = require "atlasrestore.listing"
local probe = require "atlasrestore.probe"
local response = require "atlasrestore.response"
local routes = require "atlasrestore.routes"

local project = {}

local PER_PAGE = routes.MAX_ITEMS_PER_PAGE
-- Pages an instance behind the head may ask for ahead of its first one.
local AHEAD = 2

local unpack = rawget(table, "unpack") or rawget(_G, "unpack") -- 5.2+, or 5.1 and LuaJIT

local function pack(...) return { n = select("#", ...), ... } end

-- Runs work(i, previous) for i = 1..n as tasks, at most k at once, and hands
-- each one's results to emit(i, ...) in the order of i, as soon as it and those
-- before it are done: at most k results are held at once, whatever n is.
-- `previous` is the task of i - 1 (nil once it was handed out), for a work
-- that waits for its turn.
function project.in_order(transport, k, n, work, emit)
  local tasks, spawned = {}, 0
  local function spawn_up_to(last)
    while spawned < math.min(n, last) do
      spawned = spawned + 1
      tasks[spawned] = transport:spawn(work, spawned, tasks[spawned - 1])
    end
  end
  local function cancel_after(i)
    for rest = i + 1, spawned do transport:cancel(tasks[rest]) end
  end
  spawn_up_to(k)
  for i = 1, n do
    local results = pack(transport:wait(tasks[i]))
    tasks[i] = nil
    if not results[1] then
      cancel_after(i)
      error(results[2], 0)
    end
    spawn_up_to(i + k) -- the next instance's requests go out while the caller takes these jobs
    local ok, why = pcall(emit, i, unpack(results, 2, results.n))
    if not ok then
      cancel_after(i)
      error(why, 0)
    end
  end
end

--- True when an instance list's record of kind `kind` says the instance cannot
-- have restore jobs (the kind's description says how: a free or backup-less cluster...).
function project.cannot_have_jobs(kind, record)
  local rule = endpoints.of(kind).cannot_have_jobs
  return rule ~= nil and rule(record) == true
end

--- Every record of a paginated Atlas list, or nil, err. list: what (for messages,
-- "the project list"), route(page_num) -> path, accept; per_page; max_pages;
-- valid(record) -> true, or false with `invalid` saying what was wrong;
-- gone_is_empty: a 404 or 410 for the first page means no records.
function project.records(pipe, ctx, list)
  local records = {}
  for page_num = 1, list.max_pages do
    local path, accept = list.route(page_num)
    local page, err = pipe:get(ctx, path, accept, { include_count = false })
    if not page then
      if list.gone_is_empty and page_num == 1 and (err.status == 404 or err.status == 410) then return records end
      return nil, err
    end
    for _, record in ipairs(page.results) do
      if not list.valid(record) then
        return pipe:fail(errors.new(errors.BAD_RESPONSE, { status = 200,
          message = ("%s has a record %s"):format(list.what, list.invalid) }), 1)
      end
      records[#records + 1] = record
    end
    if #page.results < list.per_page or not response.has_next(page) then return records end
  end
  return pipe:fail(errors.new(errors.TOO_MANY_PAGES, { message = ("%s passed max_pages (%d)")
    :format(list.what, list.max_pages) }), 1)
end

local function named(record) return type(record.name) == "string" and record.name ~= "" end

-- Every record of one instance list, or nil, err. A list whose description says
-- `gone_is_empty` (the serverless one after its sunset) answers 404 or 410: none.
local function list_instances(pipe, ctx, group_id, kind, max_pages)
  return project.records(pipe, ctx, {
    what = ("the %s instance list"):format(kind), per_page = PER_PAGE, max_pages = max_pages,
    route = function(page_num)
      return routes.instances(kind, group_id, routes.page_query(page_num, PER_PAGE, false))
    end,
    valid = named, invalid = "without a name", gone_is_empty = endpoints.of(kind).instances.gone_is_empty,
  })
end

-- The instances to list, by name: { name =, endpoint = }, or nil, err.
local function instances(st, ctx, group_id, concurrency)
  local pipe = st.pipe
  -- In the lists' precedence: an instance named by two lists (a migrated one is
  -- in the serverless and the Flex lists) is listed once, from the first.
  local kinds = {}
  for i, kind in ipairs(endpoints.listed()) do kinds[i] = kind.name end
  local lists = {}
  project.in_order(pipe.transport, concurrency, #kinds, function(i)
    return list_instances(pipe, ctx, group_id, kinds[i], st.settings.max_pages)
  end, function(i, records, err) lists[i] = { records, err } end)
  local out, seen = {}, {}
  for i, kind in ipairs(kinds) do
    local records, err = lists[i][1], lists[i][2]
    if not records then return nil, err end
    for _, record in ipairs(records) do
      if not seen[record.name] then
        seen[record.name] = true
        if not project.cannot_have_jobs(kind, record) then out[#out + 1] = { name = record.name, endpoint = kind } end
      end
    end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

-- An instance's listing, in the unified shape, paced by the project's listing.
local function instance_listing(st, ctx, group_id, inst, plan, pace, arrived)
  local settings = st.settings
  return listing.new {
    pipe = st.pipe, memory = st.memory, api_version = settings.api_version, max_pages = settings.max_pages,
    group_id = group_id, name = inst.name, endpoint = inst.endpoint, per_page = plan.per_page,
    concurrency = plan.concurrency, unified = true, routed = true, clock = st.clock, filter = plan.filter, ctx = ctx,
    owner = st, pace = pace, arrived = arrived,
  }
end

--- Lists a project's instances. plan: per_page, concurrency, filter
-- (options.listing's). on_instance(name, jobs), when given, receives each
-- instance's jobs as its listing completes, in the order of instance names;
-- on_jobs(name, jobs), when given, receives them a page at a time as they come,
-- every page of an instance before the next instance's. With either, the call
-- returns the number of jobs handed out; without, every job (unified, with
-- `instance`, by instance name, then in Atlas's order). Either comes with
-- failures: { instance =, endpoint =, error = } for each instance whose listing
-- failed. Or nil, err when the instance lists failed.
--
-- The instances share `concurrency` requests. The one at the head of the order
-- is handed out as its pages come; up to concurrency - 1 behind it list their
-- first page and wait for their turn with the pages asked for ahead: up to
-- `concurrency` for the next in line, AHEAD for the others, when the requests
-- the head leaves free allow. What is held is a few pages an instance.
function project.list(st, group_id, plan, on_instance, on_jobs)
  local pipe = st.pipe
  local ctx = pipe:context()
  local todo, err = instances(st, ctx, group_id, plan.concurrency)
  if not todo then return nil, err end
  local transport, k = pipe.transport, plan.concurrency
  -- The listings not handed out yet, by instance number; the one being handed out and its number.
  local open, head, turn = {}, nil, 0
  -- The instances that start without a request coming back: when the head asks
  -- for no more pages, one as it finishes, and one more for each listing behind it
  -- that is over too (while instances remain); less the head's requests on their way.
  local function successors()
    local over = 0
    for i = turn, math.min(#todo, turn + k - 1) do
      local source = open[i]
      if not source or not (source.done or source.requested >= (source.estimated_pages or math.huge)) then break end
      over = over + 1
    end
    over = math.min(over, #todo - (turn + k - 1))
    return math.max(0, over - (head and not head.done and head.sending or 0))
  end
  -- The requests free for `source`: k, less those on their way and one for each
  -- instance about to start its first page; the head and the next one may have
  -- k pages ahead, the others AHEAD.
  local function pace(source)
    local behind, sending = 0, 0
    for _, other in pairs(open) do
      if other ~= head then behind = behind + 1 end
      if not other.done then sending = sending + other.sending end
    end
    local starting = math.max(0, math.min(k - 1, #todo - turn) - behind) + successors()
    local free = k - sending - starting
    local most = (source == head or source == open[turn + 1]) and k or AHEAD
    return math.min(most, source.requested - source.released + free)
  end
  -- A caller's callback: what it raises stops every listing, then goes on up.
  local function hand_out(callback, name, jobs)
    local ok, why = pcall(callback, name, jobs)
    if not ok then
      for _, source in pairs(open) do source:stop() end
      error(why, 0)
    end
  end
  -- When a request is done: the head asks for what it may, then those behind it, in order.
  local function share()
    for i = turn, turn + k - 1 do
      local source = open[i]
      if source and source.released > 0 and not source.done then source:request_ahead() end
    end
  end
  local keep = on_instance ~= nil or on_jobs == nil -- whole instances: for on_instance or the jobs returned
  -- Instance i: its first page, its turn, then every page; the jobs kept
  -- (or their number) and the failure, for the emit below.
  local function list_instance(i, previous)
    local inst = todo[i]
    local source = instance_listing(st, ctx, group_id, inst, plan, pace, share)
    open[i] = source
    local page, failure = listing.take(source)
    if previous and not transport:wait(previous) then -- an instance before failed: the call stops
      open[i] = nil
      source:stop()
      return nil
    end
    head, turn = source, i
    share()
    local found, handed = keep and {} or nil, 0
    while page do
      for _, job in ipairs(page) do job.instance = inst.name end
      handed = handed + #page
      if on_jobs then hand_out(on_jobs, inst.name, page) end
      if found then
        for _, job in ipairs(page) do found[#found + 1] = job end
      end
      page, failure = listing.take(source)
      share()
    end
    open[i], head = nil, nil
    if page == false then return found, handed, failure end
    probe.remember(st.memory, group_id, inst.name, inst.endpoint)
    return found, handed
  end
  local jobs, count, failures = {}, 0, {}
  project.in_order(transport, k, #todo, list_instance, function(i, found, handed, failure)
    local inst = todo[i]
    if on_jobs then count = count + handed end
    if failure then
      failures[#failures + 1] = { instance = inst.name, endpoint = inst.endpoint, error = failure }
    elseif on_instance then
      if not on_jobs then count = count + #found end
      hand_out(on_instance, inst.name, found)
    elseif not on_jobs then
      for _, job in ipairs(found) do jobs[#jobs + 1] = job end
    end
  end)
  if on_instance or on_jobs then return count, failures end
  return jobs, failures
end

return project
