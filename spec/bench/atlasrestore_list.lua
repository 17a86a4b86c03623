--- One listing with this module, as a script of its user would do it, for
-- spec/bench.lua (run from the repository root):
--   lua5.4 spec/bench/atlasrestore_list.lua all|iterate GROUP NAME CONCURRENCY
-- `all` collects every job with all_restore_jobs; `iterate` walks them with
-- the lazy restore_jobs and keeps none.  CONCURRENCY "default" leaves the
-- option out.  The base URL and the credentials (an API key or a service
-- account) come from the environment, MONGODB_ATLAS_*.  Prints tally's line
-- (core.decode clocked), plus the peak resident set (VmHWM, kB) in iterate mode.
package.path = "./lua/?.lua;./lua/?/init.lua;./spec/?.lua;" .. package.path
package.cpath = "./build/5.4/?.so;" .. package.cpath

local atlasrestore = require "atlasrestore"
local tally = require("bench.tally").new()
tally:clock_decode(require "atlasrestore.core")

local mode, group, name, k = arg[1], arg[2], arg[3], arg[4]
local opts = k ~= "default" and { concurrency = assert(tonumber(k), "CONCURRENCY: a number or default") } or nil

local function vm_hwm()
  local f = io.open("/proc/self/status", "r")
  local status = f and f:read("a") or ""
  if f then f:close() end
  return status:match("VmHWM:%s*(%d+)") or "0"
end

local t0 = os.clock()
-- The original endpoint, as the other clients measured here list it (no probe request).
local client = assert(atlasrestore.new { on_warning = function() end, endpoint = "serverless" })
if mode == "all" then
  local jobs = assert(client:all_restore_jobs(group, name, opts))
  assert(client:close())
  local cpu = os.clock() - t0
  for i = 1, #jobs do tally:add(jobs[i].id) end
  tally:report(cpu)
elseif mode == "iterate" then
  for job in client:restore_jobs(group, name, opts) do tally:add(job.id) end
  assert(client:close())
  tally:report(os.clock() - t0, " hwm=" .. vm_hwm())
else
  error("mode: all or iterate")
end
