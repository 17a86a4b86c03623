--- atlasrestore: the restore jobs of MongoDB Atlas serverless instances and of
-- the clusters that replaced them. The public face: atlasrestore.new and the client's methods.
local auth = require "atlasrestore.auth"
local contract = require "atlasrestore.transport.contract"
local errors = require "atlasrestore.errors"
local listing = require "atlasrestore.listing"
local options = require "atlasrestore.options"
local pipeline = require "atlasrestore.pipeline"
local platform = require "atlasrestore.platform"
local project = require "atlasrestore.project"
local redact = require "atlasrestore.redact"
local routes = require "atlasrestore.routes"
local single = require "atlasrestore.single"

local atlasrestore = { _VERSION = "0.2.0" }

atlasrestore.ENV = options.ENV

local Client = { __name = "atlasrestore.Client" }
Client.__index = Client

-- The client's state lives here, keyed by client, so that nothing internal
-- sits on the object a caller holds.
local state = setmetatable({}, { __mode = "k" })

local function random_hex(n)
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(math.ceil(n / 2))
  if f then f:close() end
  if not bytes then
    local t = {}
    for i = 1, math.ceil(n / 2) do t[i] = string.char(math.random(0, 255)) end
    bytes = table.concat(t)
  end
  return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end)):sub(1, n)
end

local function logger(debug)
  if debug == true then return function(line) io.stderr:write(line, "\n") end end
  return debug or nil
end

--- Creates a client, or nil, err. `opts` may be nil: everything then comes from the environment.
function atlasrestore.new(opts)
  local settings, creds, base = options.client(opts)
  if not settings then return nil, creds end
  opts = opts or {}
  local transport = opts.transport
  if transport then
    contract.check(transport)
  else
    transport = require("atlasrestore.transport.curl").new { ca_file = opts.ca_file, proxy = opts.proxy }
  end
  local strategy = auth.strategy(creds, random_hex)
  local scrubber = redact.scrubber()
  scrubber:add("key", strategy.secrets[1], strategy.secrets[2])
  local client = setmetatable({}, Client)
  state[client] = {
    settings = settings,
    label = strategy.label,
    memory = {}, -- "group/name" -> the endpoint that served it in "auto"
    clock = opts.clock or os.time, -- Unix seconds, for Flex's expiry rule
    pipe = pipeline.new {
      settings = settings,
      transport = transport,
      strategy = strategy,
      scrubber = scrubber,
      base_url = base.url,
      base_path = base.path,
      user_agent = ("atlasrestore/%s (%s; %s)"):format(atlasrestore._VERSION, platform.lua_name(), transport.version)
        .. (opts.user_agent and " " .. opts.user_agent or ""),
      log = logger(opts.debug),
      on_warning = opts.on_warning or function(message) io.stderr:write(message, "\n") end,
    },
  }
  return client
end

--- The client's state, after checking that `self` is an open client.
local function open_state(self, fname)
  local st = state[self]
  if not st then
    errors.misuse("bad self to '%s' (atlasrestore client expected, got %s)", fname, type(self))
  end
  if st.closed then errors.misuse("'%s' called on a closed client", fname) end
  return st
end

function Client:__tostring()
  local st = state[self]
  return ("atlasrestore.Client (%s, %s)%s"):format(st.pipe.base_url, st.label, st.closed and " closed" or "")
end

---------------------------------------------------------------------------
-- Single pages
---------------------------------------------------------------------------

local function one_page(self, fname, endpoint, group_id, name, query)
  local st = open_state(self, fname)
  local err = options.path(fname, group_id, name)
  local query_string, qerr = options.query(fname, query)
  err = err or qerr
  if err then return st.pipe:fail(err, 0) end
  local path, accept = routes.restore_jobs(endpoint, st.settings.api_version, group_id, name, query_string)
  return st.pipe:get(st.pipe:context(), path, accept,
    { include_count = query and query.include_count, envelope = query and query.envelope })
end

--- One page of the serverless endpoint, exactly as Atlas serves it.
function Client:list_restore_jobs(group_id, cluster_name, query)
  return one_page(self, "list_restore_jobs", "serverless", group_id, cluster_name, query)
end

--- One page of the Flex endpoint, Flex record shape.
function Client:list_flex_restore_jobs(group_id, name, query)
  return one_page(self, "list_flex_restore_jobs", "flex", group_id, name, query)
end

--- One page of the dedicated (cloud backup) endpoint, its wire records.
function Client:list_cluster_restore_jobs(group_id, cluster_name, query)
  return one_page(self, "list_cluster_restore_jobs", "dedicated", group_id, cluster_name, query)
end

--- One page routed by `query.endpoint` (default the client's), in the unified
-- shape, with the endpoint that served it; or nil, err.
function Client:restore_jobs_page(group_id, name, query)
  local st = open_state(self, "restore_jobs_page")
  local err = options.path("restore_jobs_page", group_id, name)
  local query_string, endpoint = options.routed_query("restore_jobs_page", query, st.settings)
  if not query_string then err = err or endpoint end
  if err then return st.pipe:fail(err, 0) end
  return single.page(st, group_id, name, query_string, endpoint, query)
end

---------------------------------------------------------------------------
-- Listings
---------------------------------------------------------------------------

-- A listing of one instance, or nil, err (its arguments checked first).
local function start_listing(self, fname, group_id, name, opts, forced, lazy)
  local st = open_state(self, fname)
  local err = options.path(fname, group_id, name)
  local plan, perr = options.listing(fname, 3, opts, st.settings, forced)
  err = err or perr
  if err then return nil, err end
  return listing.new {
    pipe = st.pipe, memory = st.memory, api_version = st.settings.api_version, max_pages = st.settings.max_pages,
    group_id = group_id, name = name, endpoint = plan.endpoint, per_page = plan.per_page,
    concurrency = plan.concurrency, lazy = lazy, owner = st,
    unified = plan.endpoint == "auto", clock = st.clock, filter = plan.filter,
  }
end

-- Jobs handed out between two nudges to the transfers requested ahead.
local PROGRESS_EVERY = 64

-- An iterator over every job: one page (and the pages requested ahead) in memory.
local function iterate(self, fname, group_id, name, opts, forced)
  local source, err = start_listing(self, fname, group_id, name, opts, forced, true)
  if not source then
    local _, failed = state[self].pipe:fail(err, 0)
    error(failed, 3)
  end
  local buffer, i = {}, 0
  return function()
    if source.owner.closed then errors.misuse("'%s' iterator used after its client was closed", fname) end
    i = i + 1
    if i % PROGRESS_EVERY == 0 then source:progress() end
    while i > #buffer do
      local jobs, page_err = listing.take(source)
      if jobs == nil then return nil end
      if jobs == false then error(page_err, 2) end
      buffer, i = jobs, 1
    end
    return buffer[i]
  end
end

local function all(self, fname, group_id, name, opts, forced)
  local source, err = start_listing(self, fname, group_id, name, opts, forced, false)
  if not source then return state[self].pipe:fail(err, 0) end
  return listing.collect(source)
end

--- Every job, lazily. Raises the error value on failure.
function Client:restore_jobs(group_id, cluster_name, opts)
  local iterator = iterate(self, "restore_jobs", group_id, cluster_name, opts)
  return iterator
end

--- Every job as an array, or nil, err.
function Client:all_restore_jobs(group_id, cluster_name, opts)
  local jobs, err = all(self, "all_restore_jobs", group_id, cluster_name, opts)
  return jobs, err
end

function Client:flex_restore_jobs(group_id, name, opts)
  local iterator = iterate(self, "flex_restore_jobs", group_id, name, opts, "flex")
  return iterator
end

function Client:all_flex_restore_jobs(group_id, name, opts)
  local jobs, err = all(self, "all_flex_restore_jobs", group_id, name, opts, "flex")
  return jobs, err
end

--- Every job of a dedicated cluster, lazily, its wire records. Raises the error value on failure.
function Client:cluster_restore_jobs(group_id, cluster_name, opts)
  local iterator = iterate(self, "cluster_restore_jobs", group_id, cluster_name, opts, "dedicated")
  return iterator
end

function Client:all_cluster_restore_jobs(group_id, cluster_name, opts)
  local jobs, err = all(self, "all_cluster_restore_jobs", group_id, cluster_name, opts, "dedicated")
  return jobs, err
end

--- Every job of every instance of a project that can have them: jobs, failures; or nil, err.
function Client:project_restore_jobs(group_id, opts)
  local st = open_state(self, "project_restore_jobs")
  local err = options.group("project_restore_jobs", group_id)
  local plan, perr = options.listing("project_restore_jobs", 2, opts, st.settings, "auto")
  err = err or perr
  if err then return st.pipe:fail(err, 0) end
  return project.list(st, group_id, plan)
end

---------------------------------------------------------------------------
-- One job
---------------------------------------------------------------------------

-- The state and the checked plan of a call about one job, or the state and nil, err.
local function job_call(self, fname, group_id, name, job_id, opts, wait)
  local st = open_state(self, fname)
  local err = options.path(fname, group_id, name) or options.job_id(fname, job_id)
  local plan, perr = options.job(fname, opts, st.settings, wait)
  return st, plan, err or perr
end

--- One restore job by id: its wire record, or the unified shape with
-- endpoint = "auto"; or nil, err.
function Client:restore_job(group_id, name, job_id, opts)
  local st, plan, err = job_call(self, "restore_job", group_id, name, job_id, opts, false)
  if err then return st.pipe:fail(err, 0) end
  return single.job(st, group_id, name, job_id, plan.endpoint)
end

--- Polls a restore job until its status is final: the final job, or nil, err
-- (WAIT_TIMEOUT once opts.timeout has passed).
function Client:wait_restore_job(group_id, name, job_id, opts)
  local st, plan, err = job_call(self, "wait_restore_job", group_id, name, job_id, opts, true)
  if err then return st.pipe:fail(err, 0) end
  return single.wait(st, group_id, name, job_id, plan)
end

---------------------------------------------------------------------------
-- Closing
---------------------------------------------------------------------------

--- Frees the connections and revokes a service-account token this client
-- fetched. Returns true, or nil, err when the revocation failed: the client
-- is closed all the same, and a second close() tries the revocation again.
function Client:close()
  local st = state[self]
  if not st then errors.misuse("bad self to 'close' (atlasrestore client expected, got %s)", type(self)) end
  if st.closed and not st.revoke_pending then return true end
  st.closed = true
  local pipe = st.pipe
  local ok, err = pipe.strategy:close(pipe)
  st.revoke_pending = not ok
  if not ok then return nil, err end
  pipe.transport:close()
  return true
end

Client.__close = Client.close

atlasrestore.Client = Client

return atlasrestore
