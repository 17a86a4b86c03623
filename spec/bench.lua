-- Benchmarks atlasrestore against peers measured in the same run:
--   lua5.4 spec/bench.lua          (from the repository root, after `make`)
--
-- Machines are noisy, so only ratios between contenders of one run mean
-- anything; nothing here asserts on time.  The exit status is 1 only when a
-- contender gives a wrong result (a decode that differs, a missing job).
--
-- 1. decoding: atlasrestore.core.decode vs lua-cjson's cjson.decode, plus the
--    "floor": the same tables built by precompiled Lua constructors, no parsing.
-- 2. listing 10,000 jobs (20 pages of 500, Digest) from the local emulator:
--    the module vs the curl CLI and Python's urllib + json.
package.path = "./lua/?.lua;./lua/?/init.lua;./spec/?.lua;" .. package.path
package.cpath = "./build/5.4/?.so;" .. package.cpath

local socket = require "socket"
local cjson = require "cjson"
local core = require "atlasrestore.core"
local atlasrestore = require "atlasrestore"
local emulator = require "support.emulator"

local now = socket.gettime
local q = emulator.sh_quote

-- Budgets: a decode batch aims at this many seconds, within these bounds.
local DECODE_BATCH_SECONDS = 0.06
local DECODE_MIN_ITERS, DECODE_MAX_ITERS = 3, 5000
local DECODE_ROUNDS = 9
local LIST_ROUNDS = 7
local LIST_JOBS = 10000
local PAGE_SIZE = 500
local ACCEPT = "application/vnd.atlas.2023-01-01+json"

local failures = {}
local function fail(msg)
  failures[#failures + 1] = msg
  io.stderr:write("bench: FAILED: ", msg, "\n")
end

local function median(xs)
  local s = table.move(xs, 1, #xs, 1, {})
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end

local function best(xs)
  return math.min(table.unpack(xs))
end

local function ms(seconds)
  if seconds < 0.01 then return string.format("%.3f ms", seconds * 1e3) end
  return string.format("%.1f ms", seconds * 1e3)
end

local function capture(cmd)
  local p = assert(io.popen(emulator.clean_env(cmd), "r"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local function have(cmd)
  local _, rc = capture("command -v " .. cmd .. " >/dev/null 2>&1")
  return rc == 0
end

---------------------------------------------------------------------------
-- Result checks

-- Compares a core.decode result with a cjson.decode one: cjson keeps
-- cjson.null and decodes every number as a float, core gives nil and integers
-- (1 == 1.0 in Lua, so plain == covers the numbers).
local function same_as_cjson(a, b, path, depth)
  if b == cjson.null then b = nil end
  if depth > 100 then return false, path .. ": too deep" end
  if type(a) ~= type(b) then
    return false, string.format("%s: %s vs %s", path, type(a), type(b))
  end
  if type(a) ~= "table" then
    if a == b then return true end
    return false, string.format("%s: %s vs %s", path, tostring(a), tostring(b))
  end
  for k, v in pairs(b) do
    local ok, why = same_as_cjson(a[k], v, path .. "." .. tostring(k), depth + 1)
    if not ok then return false, why end
  end
  for k in pairs(a) do
    if b[k] == nil then return false, path .. "." .. tostring(k) .. ": missing in cjson's" end
  end
  return true
end

-- Exact equality, metatables included: the floor must build core's tables.
local function identical(a, b, depth)
  if type(a) ~= type(b) or depth > 100 then return false end
  if type(a) ~= "table" then return a == b and math.type(a) == math.type(b) end
  if getmetatable(a) ~= getmetatable(b) then return false end
  for k, v in pairs(a) do
    if not identical(v, b[k], depth + 1) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

---------------------------------------------------------------------------
-- The floor: Lua source whose constructors rebuild a decoded value.  Compiled
-- once; running it costs the table building only (strings are constants, so
-- not even their creation counts): no parser can go below it.

local function to_lua(v, out, depth)
  assert(depth < 100, "floor: too deep")
  local t = type(v)
  if t == "string" then
    out[#out + 1] = string.format("%q", v)
  elseif t == "number" then
    out[#out + 1] = math.type(v) == "integer" and string.format("%d", v) or string.format("%.17g", v)
  elseif t == "boolean" then
    out[#out + 1] = tostring(v)
  elseif t == "table" then
    local mt = getmetatable(v)
    if mt then out[#out + 1] = "S(" end
    out[#out + 1] = "{"
    for k, x in pairs(v) do
      if math.type(k) == "integer" then
        out[#out + 1] = "[" .. k .. "]="
      else
        out[#out + 1] = "[" .. string.format("%q", k) .. "]="
      end
      to_lua(x, out, depth + 1)
      out[#out + 1] = ","
    end
    out[#out + 1] = "}"
    if mt == core.array_mt then
      out[#out + 1] = ",A)"
    elseif mt == core.sparse_array_mt then
      out[#out + 1] = ",SA)"
    elseif mt then
      error("floor: unknown metatable")
    end
  else
    error("floor: unexpected " .. t)
  end
end

local function make_floor(doc)
  local out = { "local S, A, SA = ...\nreturn function() return " }
  to_lua(doc, out, 0)
  out[#out + 1] = " end\n"
  local chunk = assert(load(table.concat(out), "=floor", "t"))
  return chunk(setmetatable, core.array_mt, core.sparse_array_mt)
end

---------------------------------------------------------------------------
-- 1. Decoding

local function time_batch(fn, body, iters)
  collectgarbage("collect")
  local last
  local t0 = now()
  for _ = 1, iters do last = fn(body) end
  local dt = (now() - t0) / iters
  -- Looking at the result keeps every iteration's work observable.
  if type(last) ~= "table" then fail("a decoder returned " .. type(last)) end
  return dt
end

local function bench_decode(label, body)
  local doc, why = core.decode(body)
  if not doc then
    fail(label .. ": core.decode failed: " .. tostring(why))
    return nil
  end
  local ref = cjson.decode(body)
  local ok
  ok, why = same_as_cjson(doc, ref, "$", 0)
  if not ok then fail(label .. ": core.decode and cjson.decode differ at " .. why) end
  local floor = make_floor(doc)
  if not identical(floor(), doc, 0) then fail(label .. ": the floor does not rebuild core's tables") end
  local jobs = type(doc.results) == "table" and #doc.results or 0

  local contenders = {
    { name = "atlasrestore", fn = core.decode },
    { name = "cjson", fn = cjson.decode },
    { name = "floor", fn = floor },
  }
  -- One untimed warm-up each, then size the batch on the slowest contender.
  local slowest = 0
  for _, c in ipairs(contenders) do
    c.fn(body)
    slowest = math.max(slowest, time_batch(c.fn, body, 3))
    c.times = {}
  end
  local iters = math.floor(DECODE_BATCH_SECONDS / math.max(slowest, 1e-7))
  iters = math.max(DECODE_MIN_ITERS, math.min(DECODE_MAX_ITERS, iters))
  -- Rounds rotate the order, so drift (frequency scaling, GC debt) hits all.
  for round = 1, DECODE_ROUNDS do
    for i = 0, #contenders - 1 do
      local c = contenders[(round + i - 1) % #contenders + 1]
      c.times[#c.times + 1] = time_batch(c.fn, body, iters)
    end
  end
  for _, c in ipairs(contenders) do
    c.best, c.median = best(c.times), median(c.times)
  end
  return { label = label, bytes = #body, jobs = jobs, iters = iters, contenders = contenders }
end

local function print_decode(r)
  print(string.format("\n%s: %d bytes, %d jobs, %d rounds x %d iterations", r.label, r.bytes, r.jobs,
    DECODE_ROUNDS, r.iters))
  print(string.format("  %-14s %11s %11s %12s %9s", "decoder", "best", "median", "jobs/s", "MB/s"))
  for _, c in ipairs(r.contenders) do
    print(string.format("  %-14s %11s %11s %12.0f %9.1f", c.name, ms(c.best), ms(c.median),
      r.jobs / c.best, r.bytes / c.best / 1e6))
  end
end

---------------------------------------------------------------------------
-- 2. Listing

local function page_urls(emu, name, pages)
  local urls = {}
  for p = 1, pages do
    urls[p] = string.format("%s%s?pageNum=%d&itemsPerPage=%d&includeCount=false", emu.base_url,
      emu:serverless_path(name), p, PAGE_SIZE)
  end
  return urls
end

-- Fetches one body with the curl CLI (not the module under test).
local function curl_get(emu, url)
  local out, rc = capture("curl -sS --max-time 20 --digest -u " .. q(emu.public_key .. ":" .. emu.private_key) ..
    " -H " .. q("Accept: " .. ACCEPT) .. " " .. q(url))
  assert(rc == 0 and out:sub(1, 1) == "{", "bench: curl could not fetch " .. url .. ": " .. out:sub(1, 200))
  return out
end

local PY_LIST = [[
import json, sys, urllib.request
user, password, urls = sys.argv[1], sys.argv[2], sys.argv[3:]
mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
mgr.add_password(None, urls[0], user, password)
opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(mgr))
n = 0
for url in urls:
    req = urllib.request.Request(url, headers={"Accept": "application/vnd.atlas.2023-01-01+json"})
    with opener.open(req, timeout=20) as r:
        n += len(json.loads(r.read())["results"])
print(n)
]]

-- The module in a fresh lua5.4 process: the same footing as the CLI peers.
local LUA_LIST = [[
package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = "./build/5.4/?.so;" .. package.cpath
local c = assert(require("atlasrestore").new { base_url = %q, public_key = %q, private_key = %q,
  on_warning = function() end })
local jobs = assert(c:all_restore_jobs(%q, %q))
c:close()
print(#jobs)
]]

local function listing_contenders(emu, name)
  local urls = page_urls(emu, name, LIST_JOBS // PAGE_SIZE)
  local list = {}

  list[#list + 1] = { name = "atlasrestore", note = "in-process, new client", run = function(debug)
    -- The child processes start with an empty heap; so does this one, nearly.
    collectgarbage("collect")
    local c = assert(atlasrestore.new { base_url = emu.base_url, public_key = emu.public_key,
      private_key = emu.private_key, on_warning = function() end, debug = debug })
    local jobs, err = c:all_restore_jobs(emu.group_id, name)
    c:close()
    if not jobs then return nil, tostring(err) end
    return #jobs
  end }

  local lua_cmd = "lua5.4 -e " .. q(string.format(LUA_LIST, emu.base_url, emu.public_key, emu.private_key,
    emu.group_id, name))
  list[#list + 1] = { name = "atlasrestore", note = "new lua5.4 process", run = function()
    local out, rc = capture(lua_cmd .. " 2>&1")
    if rc ~= 0 then return nil, out end
    return tonumber(out:match("^(%d+)")) or out
  end }

  if have("curl") then
    -- One process, one connection; --digest still costs a challenge per URL.
    local parts = { "curl -sS --max-time 60 --digest -u", q(emu.public_key .. ":" .. emu.private_key),
      "-H", q("Accept: " .. ACCEPT), "-w '%{http_code}\\n'" }
    for _, url in ipairs(urls) do
      parts[#parts + 1] = "-o /dev/null " .. q(url)
    end
    local curl_cmd = table.concat(parts, " ")
    list[#list + 1] = { name = "curl CLI", note = "bodies to /dev/null", run = function()
      local out, rc = capture(curl_cmd .. " 2>&1")
      if rc ~= 0 then return nil, out end
      local ok = 0
      for code in out:gmatch("(%d+)\n") do
        if code ~= "200" then return nil, "HTTP " .. code end
        ok = ok + 1
      end
      if ok ~= #urls then return nil, out end
      return ok * PAGE_SIZE -- what the pages hold; curl does not parse them
    end }
  end

  if have("python3") then
    local py_cmd = "python3 -c " .. q(PY_LIST) .. " " .. q(emu.public_key) .. " " .. q(emu.private_key)
    for _, url in ipairs(urls) do py_cmd = py_cmd .. " " .. q(url) end
    list[#list + 1] = { name = "python urllib", note = "+ json.loads", run = function()
      local out, rc = capture("timeout 60 " .. py_cmd .. " 2>&1")
      if rc ~= 0 then return nil, out end
      return tonumber(out:match("^(%d+)")) or out
    end }
  end
  return list
end

local function bench_listing(emu, name)
  local list = listing_contenders(emu, name)
  local function once(c, debug)
    emu:reset() -- same server state for everyone: no nonce to re-use, short log
    local t0 = now()
    local n, err = c.run(debug)
    local dt = now() - t0
    if n ~= LIST_JOBS then
      fail(string.format("listing with %s (%s): %s", c.name, c.note, tostring(err or n)))
      c.broken = true
    end
    local s = emu:stats()
    c.requests, c.challenges = s.requests, s.challenges
    return dt
  end
  -- Warm-up (caches, nginx workers, page cache for the binaries).  The
  -- module's warm-up also sums the time its HTTP transfers took, as its debug
  -- log reports them: what is left of a listing is the module's own work.
  local transfer = 0
  local function debug(line)
    local t = line:match("^atlasrestore: < .* %(attempt %d+, ([%d.]+) ms")
    if t then transfer = transfer + tonumber(t) / 1e3 end
  end
  for _, c in ipairs(list) do
    c.times = {}
    once(c, c == list[1] and debug or nil)
  end
  list[1].transfer = transfer
  for round = 1, LIST_ROUNDS do
    for i = 0, #list - 1 do
      local c = list[(round + i - 1) % #list + 1]
      if not c.broken then c.times[#c.times + 1] = once(c) end
    end
  end
  for _, c in ipairs(list) do
    if #c.times > 0 then c.best, c.median = best(c.times), median(c.times) end
  end
  return list
end

local function print_listing(list)
  print(string.format("\nlisting %d jobs of jobs-%d (%d pages of %d, Digest, wall time), %d rounds",
    LIST_JOBS, LIST_JOBS, LIST_JOBS // PAGE_SIZE, PAGE_SIZE, LIST_ROUNDS))
  print(string.format("  %-14s %-22s %10s %10s %9s %11s", "client", "", "best", "median", "requests", "challenges"))
  for _, c in ipairs(list) do
    if c.best then
      print(string.format("  %-14s %-22s %10s %10s %9d %11d", c.name, c.note, ms(c.best), ms(c.median),
        c.requests, c.challenges))
    else
      print(string.format("  %-14s %-22s %10s", c.name, c.note, "failed"))
    end
  end
  if list[1].transfer > 0 then
    print(string.format("  of a listing, atlasrestore's HTTP transfers (emulator included) took %s (its debug log)",
      ms(list[1].transfer)))
  end
end

---------------------------------------------------------------------------

local function ratio_line(what, mine, peer)
  if not (mine and mine.best and peer and peer.best) then return end
  print(string.format("%s: atlasrestore %.2fx %s (best %s vs %s; median %.2fx)", what, peer.best / mine.best,
    peer.name, ms(mine.best), ms(peer.best), peer.median / mine.median))
end

local function main()
  local t_start = now()
  local lcurl = require "atlasrestore.curl"
  print(string.format("atlasrestore bench: %s, lua-cjson %s, libcurl %s", _VERSION, cjson._VERSION or "?",
    lcurl.version()))

  local emu = emulator.start()
  local ok, err = pcall(function()
    local page = curl_get(emu, page_urls(emu, "jobs-500", 1)[1])
    local f = assert(io.open("spec/fixtures/flex_restore_jobs_list_200.json", "rb"))
    local flex = f:read("a")
    f:close()

    local decodes = {
      { short = "decode 500-job page", r = bench_decode("decode 500-job serverless page (emulator jobs-500)", page) },
      { short = "decode Flex list", r = bench_decode("decode Flex list (recorded fixture, 100 jobs)", flex) },
    }
    for _, d in ipairs(decodes) do
      if d.r then print_decode(d.r) end
    end
    print("  (floor: core's tables rebuilt by precompiled Lua constructors; no parsing, strings pre-made)")
    local listing = bench_listing(emu, "jobs-" .. LIST_JOBS)
    print_listing(listing)

    print("\nratios (Nx = peer time / atlasrestore time: above 1, atlasrestore is faster)")
    for _, d in ipairs(decodes) do
      if d.r then
        local c = d.r.contenders
        ratio_line(d.short, c[1], c[2])
        print(string.format("%s: atlasrestore takes %.2fx the floor (best %s vs %s to build the tables only)",
          d.short, c[1].best / c[3].best, ms(c[1].best), ms(c[3].best)))
      end
    end
    for i = 3, #listing do ratio_line("list 10,000 jobs (in-process client)", listing[1], listing[i]) end
    for i = 3, #listing do ratio_line("list 10,000 jobs (new lua5.4 process)", listing[2], listing[i]) end
  end)
  emu:stop()
  if not ok then
    io.stderr:write("bench: error: ", tostring(err), "\n")
    os.exit(1)
  end
  print(string.format("\ntotal %.1f s", now() - t_start))
  if #failures > 0 then
    io.stderr:write("bench: ", #failures, " functional failure(s)\n")
    os.exit(1)
  end
end

main()
