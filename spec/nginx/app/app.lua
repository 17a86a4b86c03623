-- The application inside the nginx under test (spec/nginx/host.conf.in): each
-- location makes a client of the module for its request, as a user would, and
-- answers JSON that the specs read. The emulator's URL and credentials come from
-- the environment (EMU_BASE_URL, EMU_PUBLIC_KEY, ...), which the `env` directives pass on.
local atlasrestore = require "atlasrestore"
local cjson = require "cjson"

local app = {}

local GROUP = "65a1b2c3d4e5f60718293a4b"

local NUMBERS = { "timeout", "connect_timeout", "stall_timeout", "max_attempts", "deadline", "max_body_size",
  "retry_base_delay", "retry_max_delay", "max_pages" }
local STRINGS = { "transport", "shared_dict", "api_version", "ca_file" }

--- The client's options from the query (or a table of the same names).
-- kind: key (default), sa (service account) or token; base: the base URL.
function app.options(args)
  local opts = { base_url = args.base or os.getenv("EMU_BASE_URL"), retry_base_delay = 0.01, retry_max_delay = 0.05 }
  local kind = args.kind or "key"
  if kind == "key" then
    opts.public_key, opts.private_key = os.getenv("EMU_PUBLIC_KEY"), os.getenv("EMU_PRIVATE_KEY")
  elseif kind == "sa" then
    opts.client_id, opts.client_secret = os.getenv("EMU_CLIENT_ID"), os.getenv("EMU_CLIENT_SECRET")
  else
    opts.access_token = args.token
  end
  for _, name in ipairs(NUMBERS) do opts[name] = tonumber(args[name]) end
  for _, name in ipairs(STRINGS) do opts[name] = args[name] end
  return opts
end

local function describe(err)
  if err == nil then return nil end
  if type(err) ~= "table" then return { text = tostring(err) } end
  return { errorCode = err.errorCode, status = err.status, kind = err.kind, message = err.message,
    attempts = err.attempts, text = tostring(err) }
end

--- One listing as the query says (call=project: project_restore_jobs; call=wait:
-- wait_restore_job of `job`); a plain table for JSON. With log=1 the client
-- logs as it does by default in nginx (debug = true, no on_warning); with revoke=1
-- it closes with { revoke = true }.
function app.run_list(args)
  args = args or ngx.req.get_uri_args()
  local started, lines, warnings = ngx.now(), {}, {}
  local opts = app.options(args)
  if args.log then
    opts.debug = true
  else
    opts.debug = function(line) lines[#lines + 1] = line end
    opts.on_warning = function(message) warnings[#warnings + 1] = message end
  end
  local out = { pid = ngx.worker.pid(), phase = ngx.get_phase(), debug = lines, warnings = warnings, wire_bytes = 0 }
  opts.on_event = function(event)
    if event.type == "response" and event.bytes then out.wire_bytes = out.wire_bytes + event.bytes end
  end
  local ok, failure = pcall(function()
    local client, err = atlasrestore.new(opts)
    if not client then
      out.err = describe(err)
      return
    end
    local jobs
    if args.call == "project" then
      local failures
      jobs, failures = client:project_restore_jobs(args.group or GROUP)
      if jobs then out.failures = #failures else err = failures end
    elseif args.call == "wait" then
      local job
      job, err = client:wait_restore_job(args.group or GROUP, args.name, args.job, { endpoint = "auto",
        interval = 0.05, timeout = 10 })
      jobs = job and { job }
    else
      -- The original endpoint unless asked otherwise: the counts of these specs are its requests.
      jobs, err = client:all_restore_jobs(args.group or GROUP, args.name or "demo", {
        endpoint = args.endpoint or "serverless", concurrency = tonumber(args.concurrency),
        items_per_page = tonumber(args.items_per_page) })
    end
    out.err = describe(err)
    if jobs then
      out.count, out.ids = #jobs, {}
      for i, job in ipairs(jobs) do out.ids[i] = job.id end
      out.first = jobs[1] and { id = jobs[1].id, status = jobs[1].status, source = jobs[1].source }
    end
    local closed, close_err = client:close(args.revoke and { revoke = true } or nil)
    out.closed, out.close_err = closed, describe(close_err)
  end)
  if not ok then out.raised = tostring(failure) end
  ngx.update_time()
  out.seconds = ngx.now() - started
  return out
end

function app.say(value)
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(value))
end

function app.list() app.say(app.run_list()) end

--- The same listing from a timer: the request waits for it (bounded).
function app.timer_list()
  local args = ngx.req.get_uri_args()
  local done = require("ngx.semaphore").new()
  local result
  local ok, err = ngx.timer.at(0, function(premature)
    if not premature then result = app.run_list(args) end
    done:post(1)
  end)
  if not ok then return app.say { raised = "ngx.timer.at: " .. tostring(err) } end
  done:wait(20)
  app.say(result or { raised = "the timer did not finish within 20 s" })
end

--- What atlasrestore.new raises in the running phase ("no error" when it does not).
function app.refused()
  local ok, err = pcall(atlasrestore.new, { access_token = "unused", base_url = "http://127.0.0.1:9" })
  if ok then return "no error" end
  return (tostring(err):gsub("[\r\n]", " "))
end

--- A result kept by another phase: ?name=init|init_worker|log|balancer.
function app.result()
  ngx.say(ngx.shared.results:get(ngx.var.arg_name) or "")
end

-- init_by_lua: a listing through libcurl (the master, before the workers fork),
-- when EMU_INIT_LIST names an instance.
function app.init()
  local name = os.getenv("EMU_INIT_LIST")
  if name then ngx.shared.results:set("init", cjson.encode(app.run_list { name = name })) end
end

function app.init_worker()
  ngx.shared.results:set("init_worker", app.refused())
end

function app.balancer(port)
  ngx.shared.results:set("balancer", app.refused())
  assert(require("ngx.balancer").set_current_peer("127.0.0.1", port))
end

--- One case of spec/support/transport_contract.lua on the cosocket transport:
-- ?case=<index>&env=<JSON of its environment>.
function app.contract()
  local contract = require "support.transport_contract"
  local args = ngx.req.get_uri_args()
  local case = contract.cases[tonumber(args.case)]
  local transport = require("atlasrestore.transport.cosocket").new()
  local ok, obs = pcall(case.run, transport, cjson.decode(args.env))
  transport:close()
  app.say(ok and obs or { raised = tostring(obs) })
end

--- /pace?pieces=: that many pieces of CPU work (3 ms each, as a page's decoding) that
-- arrive at once, each in a light thread, run through the cosocket transport's pace;
-- after each piece a zero-delay timer is set. Answers the order in which pieces and
-- timers ran: a timer set after a piece runs before the next piece when the worker's
-- event loop turns between them. exhaust=1: first every pending timer the worker may
-- have is taken (for 0.3 s), so that neither the pace nor the pieces can set one.
local function burn_cpu(seconds)
  local t0 = os.clock()
  while os.clock() - t0 < seconds do end
end

function app.pace()
  local transport = require("atlasrestore.transport.cosocket").new()
  local order, taken = {}, 0
  if ngx.var.arg_exhaust then
    while ngx.timer.at(0.3, function() end) do taken = taken + 1 end
  end
  local function piece(label)
    burn_cpu(0.003)
    order[#order + 1] = label
    if taken == 0 then assert(ngx.timer.at(0, function() order[#order + 1] = "after " .. label end)) end
    return label
  end
  local threads, results = {}, {}
  for i = 1, tonumber(ngx.var.arg_pieces) or 3 do
    threads[i] = ngx.thread.spawn(function() return transport:pace(piece, "piece " .. i) end)
  end
  for i = 1, #threads do results[i] = select(2, ngx.thread.wait(threads[i])) end
  ngx.sleep(0.01) -- the last piece's timer
  app.say { order = order, results = results, timers_taken = taken }
end

--- log_by_lua, where nothing may wait: three pieces of work through the pace, one
-- after the other; their order is kept as the result "pace_log".
function app.pace_in_log()
  local transport = require("atlasrestore.transport.cosocket").new()
  local order = {}
  for i = 1, 3 do
    order[i] = transport:pace(function(label)
      burn_cpu(0.003)
      return label
    end, "piece " .. i)
  end
  ngx.shared.results:set("pace_log", table.concat(order, ","))
end

---------------------------------------------------------------------------
-- The fixture server: answers that the emulator does not give
---------------------------------------------------------------------------

local function jobs_page(n)
  local results = {}
  for i = 1, n do
    results[i] = ('{"id":"5f0000000000000000%06x","deliveryType":"automated","targetClusterName":"c"}'):format(i)
  end
  return '{"links":[],"results":[' .. table.concat(results, ",") .. "]}"
end

-- Writes `bytes` as they are, then closes the connection.
local function raw(bytes)
  local sock = assert(ngx.req.socket(true))
  sock:send(bytes)
end

local FIXTURES = {
  -- A body in several chunks (no Content-Length: nginx chunks it for HTTP/1.1).
  ["/chunked"] = function(args)
    local body = jobs_page(tonumber(args.jobs) or 3)
    for i = 1, #body, 1000 do
      ngx.print(body:sub(i, i + 999))
      ngx.flush(true)
    end
  end,
  -- No Content-Length and no chunks: the body ends with the connection.
  ["/close-delimited"] = function(args) ngx.print(jobs_page(tonumber(args.jobs) or 3)) end,
  ["/repeat"] = function()
    raw("HTTP/1.1 200 OK\r\nX-Repeat: a\r\nWWW-Authenticate: Basic realm=\"one\"\r\nX-Repeat: b\r\n"
      .. "WWW-Authenticate: Digest realm=\"two\", nonce=\"n\"\r\nContent-Length: 2\r\n\r\n{}")
  end,
  -- Bytes that are not HTTP, and a head that breaks its rules (a space before a colon).
  ["/garbage"] = function() raw("garbage, not a status line\r\n\r\n") end,
  ["/bad-header"] = function() raw("HTTP/1.1 200 OK\r\nX-Bad : b\r\nContent-Length: 2\r\n\r\n{}") end,
  ["/ok"] = function() ngx.print("ok") end,
  -- The serial number of the connection: which requests shared one.
  ["/conn"] = function()
    ngx.header["Content-Length"] = #ngx.var.connection
    ngx.print(ngx.var.connection)
  end,
}

function app.fixture()
  local handler = FIXTURES[ngx.var.uri]
  if not handler then return ngx.exit(404) end
  handler(ngx.req.get_uri_args())
end

return app
