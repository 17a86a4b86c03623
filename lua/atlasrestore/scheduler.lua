--- The task runner of a transport outside nginx: each task is a coroutine that
-- yields to it when it sends a request, sleeps or waits for another task; a
-- driver moves the bytes (libcurl, or the specs' fake with a virtual clock).
-- A runner is that transport's request, now, sleep, spawn, wait, cancel,
-- progress and close (transport/contract.lua): the transport adds its version.
--
-- A driver has: now() -> seconds; submit(req) -> handle; poll(max_wait) ->
-- array of { handle = h, res = response or nil, err = error or nil };
-- cancel(handle); pending() -> transfers in flight; idle(seconds), a wait
-- with nothing in flight; close(), once the runner's tasks are cancelled.
--
-- Only the caller that is not a task drives (the main thread, or a coroutine
-- of the caller's own). Tasks yield with plain coroutine.yield from Lua
-- frames: no pcall stands between a yield and this loop (Lua 5.1 cannot
-- yield across one).
local scheduler = {}

local Scheduler = {}
Scheduler.__index = Scheduler

local unpack = rawget(table, "unpack") or rawget(_G, "unpack") -- 5.2+, or 5.1 and LuaJIT

local YIELD = {} -- marks the yields that belong to this scheduler

local function pack(...) return { n = select("#", ...), ... } end

-- Whether the caller is one of this scheduler's tasks (else it drives).
local function in_task(self) return self.by_co[coroutine.running() or false] ~= nil end

function scheduler.new(driver)
  return setmetatable({
    driver = driver,
    by_co = setmetatable({}, { __mode = "k" }),
    ready = {},       -- tasks to resume, in order
    timers = {},      -- { at, seq, task }, sorted
    transfers = {},   -- handle -> task
    seq = 0,
  }, Scheduler)
end

function Scheduler:now() return self.driver:now() end

local function push_ready(self, task, ...)
  task.resume_with = pack(...)
  self.ready[#self.ready + 1] = task
end

local function finish(self, task, ok, ...)
  task.done = true
  task.results = pack(ok, ...)
  self.by_co[task.co] = nil
  for _, waiter in ipairs(task.waiters) do push_ready(self, waiter, unpack(task.results, 1, task.results.n)) end
  task.waiters = {}
end

local function add_timer(self, at, task)
  self.seq = self.seq + 1
  local timers, entry = self.timers, { at = at, seq = self.seq, task = task }
  local i = #timers
  while i > 0 and (timers[i].at > at) do i = i - 1 end
  table.insert(timers, i + 1, entry)
end

-- Resumes a task and files what it yields.
local function step(self, task)
  local args = task.resume_with or { n = 0 }
  task.resume_with = nil
  local resumed = pack(coroutine.resume(task.co, unpack(args, 1, args.n)))
  if coroutine.status(task.co) == "dead" then return finish(self, task, unpack(resumed, 1, resumed.n)) end
  local mark, what, arg = resumed[2], resumed[3], resumed[4]
  if mark ~= YIELD then
    -- A yield that is not ours: a coroutine the task's own code started went wrong.
    return finish(self, task, false, "atlasrestore: a task yielded outside the scheduler")
  end
  if what == "request" then
    local handle = self.driver:submit(arg)
    task.handle = handle
    self.transfers[handle] = task
  elseif what == "sleep" then
    add_timer(self, self.driver:now() + arg, task)
  elseif what == "wait" then
    if arg.done then
      push_ready(self, task, unpack(arg.results, 1, arg.results.n))
    else
      arg.waiters[#arg.waiters + 1] = task
    end
  end
end

local function run_ready(self)
  local ready = table.remove(self.ready, 1)
  while ready do
    if not ready.cancelled then step(self, ready) end
    ready = table.remove(self.ready, 1)
  end
end

-- Waits up to `wait` seconds for transfers (or sleeps, with none in flight),
-- then makes ready what finished and what woke.
local function advance(self, wait)
  local driver = self.driver
  if driver:pending() > 0 then
    for _, done in ipairs(driver:poll(wait)) do
      local owner = self.transfers[done.handle]
      self.transfers[done.handle] = nil
      if owner and not owner.cancelled then
        owner.handle = nil
        push_ready(self, owner, done.res, done.err)
      end
    end
  elseif wait > 0 then
    driver:idle(wait)
  end
  local now = driver:now()
  while self.timers[1] and self.timers[1].at <= now do
    local entry = table.remove(self.timers, 1)
    if not entry.task.cancelled then push_ready(self, entry.task) end
  end
end

-- Runs until `task` is done: ready tasks first, then timers and transfers.
local function drive(self, task)
  while true do
    run_ready(self)
    if task.done then return unpack(task.results, 1, task.results.n) end
    local timer = self.timers[1]
    if self.driver:pending() == 0 and not timer then
      error("atlasrestore: a task waits for something that never comes", 0)
    end
    advance(self, timer and math.max(0, timer.at - self.driver:now()) or math.huge)
  end
end

--- Lets tasks and transfers move without waiting (the lazy iterator calls it
-- between pages, so that the pages it asked for ahead keep coming).
function Scheduler:progress()
  if in_task(self) then return end
  run_ready(self)
  advance(self, 0)
  run_ready(self)
end

--- Starts fn(...) as a task. From the caller it runs at once, up to its first
-- wait (its request is then on its way, as ngx.thread.spawn does); from a
-- task it runs when the task yields.
function Scheduler:spawn(fn, ...)
  local task = { co = coroutine.create(fn), waiters = {} }
  self.by_co[task.co] = task
  push_ready(self, task, ...)
  if not in_task(self) then run_ready(self) end
  return task
end

--- Waits for a task: true, its results, or false, the error it raised.
function Scheduler:wait(task)
  if in_task(self) then
    if task.done then return unpack(task.results, 1, task.results.n) end
    return coroutine.yield(YIELD, "wait", task)
  end
  return drive(self, task)
end

--- Stops a task: its transfer is cancelled, and it never runs again.
function Scheduler:cancel(task)
  if task.done then return end
  task.cancelled = true
  if task.handle then
    self.transfers[task.handle] = nil
    self.driver:cancel(task.handle)
    task.handle = nil
  end
  for i, entry in ipairs(self.timers) do
    if entry.task == task then table.remove(self.timers, i) break end
  end
  finish(self, task, false, "cancelled")
end

--- Sends a request: from a task, yields until it is done; otherwise runs one task for it.
function Scheduler:request(req)
  if in_task(self) then return coroutine.yield(YIELD, "request", req) end
  local _, res, err = self:wait(self:spawn(function() return coroutine.yield(YIELD, "request", req) end))
  return res, err
end

function Scheduler:sleep(seconds)
  if seconds <= 0 or seconds ~= seconds then return end
  if in_task(self) then return coroutine.yield(YIELD, "sleep", seconds) end
  self:wait(self:spawn(function() return coroutine.yield(YIELD, "sleep", seconds) end))
end

--- Cancels whatever is still running, then lets the driver free its connections.
function Scheduler:close()
  for _, task in pairs(self.transfers) do self:cancel(task) end
  while self.timers[1] do self:cancel(self.timers[1].task) end
  self.ready = {}
  self.driver:close()
end

return scheduler
