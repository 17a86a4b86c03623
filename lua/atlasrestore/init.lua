--- atlasrestore: the restore jobs of MongoDB Atlas serverless instances and of
-- the clusters that replaced them. The public face: atlasrestore.new and the client's methods.
local auth = require "atlasrestore.auth"
local contract = require "atlasrestore.transport.contract"
local core = require "atlasrestore.core"
local endpoints = require "atlasrestore.endpoints"
local errors = require "atlasrestore.errors"
local events = require "atlasrestore.events"
local listing = require "atlasrestore.listing"
local options = require "atlasrestore.options"
local pipeline = require "atlasrestore.pipeline"
local platform = require "atlasrestore.platform"
local probe = require "atlasrestore.probe"
local random = require "atlasrestore.random"
local redact = require "atlasrestore.redact"
local routes = require "atlasrestore.routes"
local shape = require "atlasrestore.shape"
local shared = require "atlasrestore.shared"
-- single, project and organisation are required where used: a listing loads none of them.

local atlasrestore = { _VERSION = "0.2.0" }

atlasrestore.ENV = options.ENV

--- The JSON text of `value`, or nil, message (NaN, a cycle, a function...): each object's keys in the order of
-- `key_order` (default: a record's documented fields, shape.FIELDS), then the others sorted bytewise; tables marked
-- with core.array_mt, and tables keyed 1..n, are arrays; an unmarked {} is `{}`.
function atlasrestore.encode(value, key_order) return core.encode(value, key_order or shape.FIELDS) end

local Client = { __name = "atlasrestore.Client" }
Client.__index = Client

-- The client's state lives here, keyed by client, so that nothing internal
-- sits on the object a caller holds.
local state = setmetatable({}, { __mode = "k" })

-- Inside nginx, lines go to its error log: debug ones at notice, warnings at warn.
local function debug_writer(debug, ngx)
  if debug ~= true then return debug end
  if ngx then return function(line) ngx.log(ngx.NOTICE, line) end end
  return function(line) io.stderr:write(line, "\n") end
end

local function warner(on_warning, ngx)
  if on_warning then return on_warning end
  if ngx then return function(message) ngx.log(ngx.WARN, message) end end
  return function(message) io.stderr:write(message, "\n") end
end

-- The nginx phases where cosockets run. In `init` (the master, before the workers
-- fork) and outside nginx libcurl runs; in any other phase, no transport.
local COSOCKET_PHASES = { rewrite = true, access = true, content = true, timer = true }

-- The transport: the one given, the one named, or the one the nginx phase allows.
local function choose_transport(opts, phase)
  local given = opts.transport
  if type(given) == "table" then
    contract.check(given)
    return given
  end
  if given ~= nil and given ~= "curl" and given ~= "cosocket" then
    return nil, errors.invalid('transport must be "curl", "cosocket" or a transport object')
  end
  local kind = given or (phase and phase ~= "init" and "cosocket") or "curl"
  if kind == "curl" then
    return require("atlasrestore.transport.curl").new { ca_file = opts.ca_file, proxy = opts.proxy }
  end
  if not phase then return nil, errors.invalid('transport "cosocket" runs only inside nginx (ngx_lua)') end
  if not COSOCKET_PHASES[phase] then
    errors.misuse("atlasrestore.new cannot run in nginx's %s phase, where no cosocket may run and libcurl "
      .. "would block the worker: list from a timer, ngx.timer.at(0, function(premature) ... end), or in the "
      .. "rewrite, access or content phase", phase)
  end
  if opts.ca_file then
    return nil, errors.invalid("ca_file belongs to the libcurl transport: inside nginx the cosocket transport "
      .. "trusts the CAs of the lua_ssl_trusted_certificate directive")
  end
  if opts.proxy then
    return nil, errors.invalid("proxy belongs to the libcurl transport: the cosocket transport connects "
      .. "directly and supports no proxy")
  end
  return require("atlasrestore.transport.cosocket").new()
end

-- What outlives a client in an nginx worker (see shared.lua): the strategy, the
-- scrubber, the "auto" routes, the notices and the single flights (flight.lua). Elsewhere each client has its own.
local function lasting_state(opts, creds, base, ngx, phase)
  local dict
  if opts.shared_dict then
    dict = ngx and ngx.shared[opts.shared_dict]
    if not dict then
      return nil, errors.invalid(ngx and ("no lua_shared_dict is named %q in nginx.conf"):format(opts.shared_dict)
        or "shared_dict names a lua_shared_dict: it works only inside nginx")
    end
  end
  local in_worker = phase and phase ~= "init"
  local function make()
    local scrubber = redact.scrubber()
    local tokens
    if creds.client_id and (in_worker or dict) then
      local tokenstore = require "atlasrestore.tokenstore"
      tokens = tokenstore.new(dict or tokenstore.worker_dict(),
        shared.key("token", base.url, creds.client_id, creds.client_secret),
        auth.token_cache(creds.client_id, creds.client_secret), scrubber)
    end
    local strategy = auth.strategy(creds, random.hex, tokens)
    scrubber:add("key", strategy.secrets[1], strategy.secrets[2])
    return { strategy = strategy, scrubber = scrubber, memory = {}, once = {}, flights = {} }
  end
  if not in_worker then return make() end
  return shared.worker(shared.key(base.url, opts.shared_dict or "", creds.public_key or "", creds.private_key or "",
    creds.client_id or "", creds.client_secret or "", creds.access_token or ""), make)
end

--- Creates a client, or nil, err. `opts` may be nil: everything then comes from the environment.
function atlasrestore.new(opts)
  local settings, creds, base = options.client(opts)
  if not settings then return nil, creds end
  opts = opts or {}
  local ngx = rawget(_G, "ngx")
  local phase = ngx and ngx.get_phase()
  local transport, err = choose_transport(opts, phase)
  if not transport then return nil, err end
  local lasting
  lasting, err = lasting_state(opts, creds, base, ngx, phase)
  if not lasting then
    if transport ~= opts.transport then transport:close() end
    return nil, err
  end
  local on_warning = warner(opts.on_warning, ngx)
  if base.insecure then
    on_warning(("atlasrestore: warning: plain http:// to %s, not a loopback host (allow_http): "
      .. "the credentials and the restore jobs cross the network unencrypted"):format(base.insecure))
  end
  local emitter = events.emitter(lasting.scrubber, function(message) pcall(on_warning, message) end)
  if opts.on_event then emitter:subscribe(opts.on_event, "on_event") end
  if opts.debug then emitter:subscribe(events.debug_log(debug_writer(opts.debug, ngx), base.url), "debug") end
  local client = setmetatable({}, Client)
  state[client] = {
    settings = settings,
    label = lasting.strategy.label,
    memory = lasting.memory, -- "group/name" -> the endpoint that served it in "auto"
    clock = opts.clock or os.time, -- Unix seconds, for Flex's expiry rule
    pipe = pipeline.new {
      settings = settings,
      transport = transport,
      strategy = lasting.strategy,
      scrubber = lasting.scrubber,
      once = lasting.once,
      flights = lasting.flights,
      base = base,
      user_agent = ("atlasrestore/%s (%s; %s)"):format(atlasrestore._VERSION, platform.lua_name(), transport.version)
        .. (opts.user_agent and " " .. opts.user_agent or ""),
      events = emitter,
      on_warning = on_warning,
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
  return ("atlasrestore.Client (%s, %s)%s"):format(st.pipe.base.url, st.label, st.closed and " closed" or "")
end

---------------------------------------------------------------------------
-- Single pages
---------------------------------------------------------------------------

--- One page of the original (serverless) endpoint, exactly as Atlas serves it.
function Client:list_restore_jobs(group_id, cluster_name, query)
  local st = open_state(self, "list_restore_jobs")
  local err = options.path("list_restore_jobs", group_id, cluster_name)
  local query_string, qerr = options.query("list_restore_jobs", query)
  err = err or qerr
  if err then return st.pipe:fail(err, 0) end
  local endpoint = endpoints.ORIGINAL
  local path, accept = routes.restore_jobs(endpoint, st.settings.api_version, group_id, cluster_name, query_string)
  return st.pipe:get(st.pipe:context(), path, accept, { include_count = query and query.include_count,
    envelope = query and query.envelope, notice = function(signals) probe.warn(st.pipe, endpoint, signals) end })
end

--- One page routed by `query.endpoint` (default the client's), in the unified
-- shape, with the endpoint that served it; or nil, err.
function Client:restore_jobs_page(group_id, name, query)
  local st = open_state(self, "restore_jobs_page")
  local err = options.path("restore_jobs_page", group_id, name)
  local query_string, endpoint = options.routed_query("restore_jobs_page", query, st.settings)
  if not query_string then err = err or endpoint end
  if err then return st.pipe:fail(err, 0) end
  return require("atlasrestore.single").page(st, group_id, name, query_string, endpoint, query)
end

---------------------------------------------------------------------------
-- Listings
---------------------------------------------------------------------------

-- A listing of one instance, or nil, err (its arguments checked first).
local function start_listing(self, fname, group_id, name, opts, lazy)
  local st = open_state(self, fname)
  local err = options.path(fname, group_id, name)
  local plan, perr = options.listing(fname, 3, opts, st.settings)
  err = err or perr
  if err then return nil, err end
  return listing.new {
    pipe = st.pipe, memory = st.memory, api_version = st.settings.api_version, max_pages = st.settings.max_pages,
    group_id = group_id, name = name, endpoint = plan.endpoint, per_page = plan.per_page,
    concurrency = plan.concurrency, lazy = lazy, owner = st,
    unified = plan.endpoint == endpoints.AUTO, clock = st.clock, filter = plan.filter,
  }
end

-- Jobs handed out between two nudges to the transfers requested ahead.
local PROGRESS_EVERY = 64

-- An iterator over every job: one page (and the pages requested ahead) in memory.
-- A failure raises the error value at the caller's line (errors.raise).
local function iterate(self, fname, group_id, name, opts)
  local source, err = start_listing(self, fname, group_id, name, opts, true)
  if not source then errors.raise(select(2, state[self].pipe:fail(err, 0))) end
  local buffer, i = {}, 0
  return function()
    if source.owner.closed then errors.misuse("'%s' iterator used after its client was closed", fname) end
    i = i + 1
    if i % PROGRESS_EVERY == 0 then source:progress() end
    while i > #buffer do
      local jobs, page_err = listing.take(source)
      if jobs == nil then return nil end
      if jobs == false then errors.raise(page_err) end
      buffer, i = jobs, 1
    end
    return buffer[i]
  end
end

local function all(self, fname, group_id, name, opts)
  local source, err = start_listing(self, fname, group_id, name, opts, false)
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

--- Every job of every instance of a project that can have them: jobs, failures; or nil, err.
-- With opts.on_instance(name, jobs): each instance's jobs as its listing completes;
-- with opts.on_jobs(name, jobs): a page at a time, as they come; either way, the
-- number of jobs instead of the jobs.
function Client:project_restore_jobs(group_id, opts)
  local st = open_state(self, "project_restore_jobs")
  local err = options.group("project_restore_jobs", group_id)
  local plan, perr = options.listing("project_restore_jobs", 2, opts, st.settings, endpoints.AUTO,
    { on_instance = "function", on_jobs = "function" })
  err = err or perr
  if err then return st.pipe:fail(err, 0) end
  return require("atlasrestore.project").list(st, group_id, plan, opts and opts.on_instance, opts and opts.on_jobs)
end

--- The projects the credentials see (opts.org_id: one organisation's), as Atlas
-- describes them: { id, name, orgId, ... }; or nil, err.
function Client:projects(opts)
  local st = open_state(self, "projects")
  local plan, err = options.projects("projects", opts)
  if not plan then return st.pipe:fail(err, 0) end
  return require("atlasrestore.organisation").projects(st, plan.org_id, plan.per_page)
end

--- Every job of every project the credentials see (opts.org_id: of one
-- organisation), each with `project` and `projectName`: jobs, failures, the
-- project records; or nil, err. With opts.on_instance(name, jobs, project): handed out per instance, and
-- the number of jobs instead of the jobs.
function Client:organisation_restore_jobs(opts)
  local st = open_state(self, "organisation_restore_jobs")
  local plan, err = options.organisation("organisation_restore_jobs", opts, st.settings)
  if not plan then return st.pipe:fail(err, 0) end
  return require("atlasrestore.organisation").list(st, plan)
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
  return require("atlasrestore.single").job(st, group_id, name, job_id, plan.endpoint)
end

--- Polls a restore job until its status is final: the final job, or nil, err
-- (WAIT_TIMEOUT once opts.timeout has passed).
function Client:wait_restore_job(group_id, name, job_id, opts)
  local st, plan, err = job_call(self, "wait_restore_job", group_id, name, job_id, opts, true)
  if err then return st.pipe:fail(err, 0) end
  return require("atlasrestore.single").wait(st, group_id, name, job_id, plan)
end

---------------------------------------------------------------------------
-- Closing
---------------------------------------------------------------------------

--- Frees the connections and revokes a service-account token this client
-- fetched. Inside nginx, where the token serves every client of the worker (or
-- of all workers), only close { revoke = true } revokes it. Returns true, or
-- nil, err when the revocation failed: the client is closed all the same, and a
-- second close() tries the revocation again.
function Client:close(opts)
  local st = state[self]
  if not st then errors.misuse("bad self to 'close' (atlasrestore client expected, got %s)", type(self)) end
  if opts ~= nil and type(opts) ~= "table" then errors.bad_type("close", 1, "table", opts) end
  local revoke = opts and opts.revoke
  if revoke ~= nil and type(revoke) ~= "boolean" then errors.bad_type("close", 1, "boolean", revoke, "revoke") end
  if st.closed and not st.revoke_pending and not revoke then return true end
  st.closed = true
  local pipe = st.pipe
  local ok, err = pipe:close(revoke)
  st.revoke_pending = not ok
  if not ok then return nil, err end
  pipe.transport:close()
  return true
end

-- Lua 5.4's <close> passes the error being raised, which is no option table.
function Client:__close() return Client.close(self) end

atlasrestore.Client = Client

return atlasrestore
