--- The locations of spec/bench/nginx.lua's host, inside nginx (LuaJIT, cosockets):
-- a worker's CPU per listed page, where it goes, and core.decode of the same page.
--
-- /bench/cost?name=&endpoint=&concurrency=&rounds= lists `name` `rounds` times in
-- this worker (the first round warms the JIT, the token and the probe, and is not
-- counted) and answers, per page, the median CPU (os.clock: the worker's own, as
-- nothing else runs in it meanwhile) of the whole listing and of its sections:
-- the transport's request (connect, send, read and assemble the body), the gzip
-- inflate and decode at once (core.gunzip_decode; core.decode for a page without
-- gzip), core.check_jobs; the rest is the client's own Lua (the
-- record shape, the id set, the request's building and the Digest). Then it times
-- core.decode of one page body as received, in the same worker.
-- /bench/list?name= lists `name` as a user's location would, for the load of spec/bench/nginx.lua.
local app = require "app"
local atlasrestore = require "atlasrestore"
local core = require "atlasrestore.core"
local cosocket = require "atlasrestore.transport.cosocket"
local median = require("bench.stats").median
local cjson = require "cjson"

local ngx = rawget(_G, "ngx")

local M = {}

local GROUP = "65a1b2c3d4e5f60718293a4b"
local clock = os.clock
local DECODE_SECONDS = 0.2 -- how long core.decode of the page is timed, at least

-- Replaces tbl[name] by a function that adds its CPU to sections[label]; returns the undo.
local function timed(tbl, name, label, sections, keep)
  local original = tbl[name]
  tbl[name] = function(...)
    local t0 = clock()
    local a, b, c = original(...)
    sections[label] = (sections[label] or 0) + clock() - t0
    if keep then keep(a, ...) end
    return a, b, c
  end
  return function() tbl[name] = original end
end

-- identity=1: the request without its Accept-Encoding line, so that the body comes as it is.
local function without_gzip(req)
  local headers = {}
  for _, line in ipairs(req.headers) do
    if not line:lower():find("^accept%-encoding:") then headers[#headers + 1] = line end
  end
  req.headers = headers
  return req
end

local function list_once(args, sections, last)
  local opts = app.options(args)
  opts.on_warning = function() end
  opts.transport = "cosocket"
  local undo = {
    timed(cosocket, "request", "transport", sections),
    timed(core, "gunzip_decode", "gunzip_decode", sections, function(_, body) last.gzip = body end),
    timed(core, "decode", "decode", sections, function(_, body) last.body = body end),
    timed(core, "check_jobs", "check_jobs", sections),
  }
  if args.identity then
    local request = cosocket.request
    cosocket.request = function(self, req) return request(self, without_gzip(req)) end
    undo[#undo + 1] = function() cosocket.request = request end
  end
  if args.gc == "stop" then collectgarbage("stop") end
  local t0 = clock()
  local jobs, err
  local ok, raised = pcall(function()
    local client = assert(atlasrestore.new(opts))
    jobs, err = client:all_restore_jobs(args.group or GROUP, args.name, {
      endpoint = args.endpoint or "serverless", concurrency = tonumber(args.concurrency) or 1 })
    client:close()
  end)
  local cpu = clock() - t0
  if args.gc == "stop" then collectgarbage("restart") end
  last.jobs = jobs
  for i = #undo, 1, -1 do undo[i]() end
  if not ok then return nil, tostring(raised) end
  if not jobs then return nil, tostring(err) end
  return cpu, #jobs
end

function M.cost()
  local args = ngx.req.get_uri_args()
  local rounds = tonumber(args.rounds) or 5
  local page_size = 500
  local totals, per_section, jobs_seen, last = {}, {}, nil, {}
  for round = 0, rounds do
    local sections = {}
    local cpu, jobs = list_once(args, sections, last)
    if not cpu then return app.say { err = jobs } end
    jobs_seen = jobs
    if round > 0 then
      local pages = math.ceil(jobs / page_size)
      totals[#totals + 1] = cpu / pages
      for label, seconds in pairs(sections) do
        per_section[label] = per_section[label] or {}
        table.insert(per_section[label], seconds / pages)
      end
    end
  end
  local sections = {}
  for label, xs in pairs(per_section) do sections[label] = median(xs) end
  -- core.decode of the last page (a gzip one inflated here, after the listing was timed), in this worker.
  local body, iters, t0 = last.body or assert(core.gunzip(last.gzip, 2 ^ 30)), 0, clock()
  repeat
    core.decode(body)
    iters = iters + 1
  until clock() - t0 >= DECODE_SECONDS
  local decode_alone = (clock() - t0) / iters
  if not args.keep then last.jobs = nil end
  collectgarbage()
  iters, t0 = 0, clock()
  repeat
    core.decode(body)
    iters = iters + 1
  until clock() - t0 >= DECODE_SECONDS
  local decode_held = (clock() - t0) / iters
  app.say { jobs = jobs_seen, page = median(totals), pages = totals, sections = sections,
    decode_alone = decode_alone, decode_second = decode_held, body_bytes = #body, pid = ngx.worker.pid() }
end

--- /bench/list?name=: one listing as a user's location would run it (the default
-- endpoint and k, Digest); answers its count only, so that the answer costs little.
function M.list()
  local args = ngx.req.get_uri_args()
  local opts = app.options(args)
  opts.on_warning = function() end
  local count, failure
  local ok, raised = pcall(function()
    local client = assert(atlasrestore.new(opts))
    local jobs, err = client:all_restore_jobs(args.group or GROUP, args.name)
    count, failure = jobs and #jobs, err and tostring(err)
    client:close()
  end)
  ngx.say(cjson.encode { count = count, err = failure or (not ok and tostring(raised)) or nil })
end

return M
