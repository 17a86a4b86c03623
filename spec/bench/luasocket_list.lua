--- The plain loop a Lua user writes without this module, for spec/bench.lua:
-- luasocket's socket.http and lua-cjson, a page at a time, with a service
-- account's token (luasocket has no HTTP Digest).
--   lua5.4 spec/bench/luasocket_list.lua BASE_URL GROUP NAME
-- MONGODB_ATLAS_CLIENT_ID and MONGODB_ATLAS_CLIENT_SECRET from the
-- environment.  Prints tally's line (cjson.decode clocked).
package.path = "./spec/?.lua;" .. package.path

local http = require "socket.http"
local ltn12 = require "ltn12"
local mime = require "mime"
local cjson = require "cjson"
local tally = require("bench.tally").new()
tally:clock_decode(cjson) -- measuring only: the loop below calls cjson.decode as ever

local base, group, name = arg[1], arg[2], arg[3]

local t0 = os.clock()
local form = "grant_type=client_credentials"
local chunks = {}
local _, code = http.request {
  url = base .. "/api/oauth/token",
  method = "POST",
  headers = {
    authorization = "Basic " .. mime.b64(os.getenv("MONGODB_ATLAS_CLIENT_ID") .. ":" ..
      os.getenv("MONGODB_ATLAS_CLIENT_SECRET")),
    ["content-type"] = "application/x-www-form-urlencoded",
    ["content-length"] = tostring(#form),
    accept = "application/json",
  },
  source = ltn12.source.string(form),
  sink = ltn12.sink.table(chunks),
}
assert(code == 200, "token: HTTP " .. tostring(code))
local token = cjson.decode(table.concat(chunks)).access_token

local url = ("%s/api/atlas/v2/groups/%s/serverless/%s/backup/restoreJobs"):format(base, group, name)
local jobs = {}
local page = 1
while true do
  chunks = {}
  _, code = http.request {
    url = url .. "?pageNum=" .. page .. "&itemsPerPage=500",
    headers = { authorization = "Bearer " .. token, accept = "application/vnd.atlas.2023-01-01+json" },
    sink = ltn12.sink.table(chunks),
  }
  assert(code == 200, "page " .. page .. ": HTTP " .. tostring(code))
  local doc = cjson.decode(table.concat(chunks))
  for _, job in ipairs(doc.results) do jobs[#jobs + 1] = job end
  local more = false
  for _, link in ipairs(doc.links or {}) do
    if link.rel == "next" then more = true end
  end
  if not more then break end
  page = page + 1
end
local cpu = os.clock() - t0
for i = 1, #jobs do tally:add(jobs[i].id) end
tally:report(cpu)
