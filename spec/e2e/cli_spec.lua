-- The atlasrestore command, installed with `make install` into a throwaway prefix
-- and run as a subprocess against the emulator: output parsed back by other
-- parsers (cjson, Python's json and csv), exit codes from real conditions,
-- revocations counted at the emulator, progress on a pseudo-terminal (script).
local emulator = require "support.emulator"
local compat = require "support.compat"
local cjson = require "cjson"
local socket = require "socket"

local q = emulator.sh_quote
local read_file = emulator.read_file

local ABI = type(rawget(_G, "jit")) == "table" and "luajit" or _VERSION:match("%d+%.%d+")
local ROOT = io.popen("pwd -P"):read("*l")
local PREFIX = ROOT .. "/build/cli/" .. ABI
local BIN = PREFIX .. "/bin/atlasrestore"
local WORK = ROOT .. "/build/cli/" .. ABI .. "-runs"

local G = emulator.GROUP_ID
local DEMO_IDS = { "6a7a1c0e5f1b2c3d4e5f6a01", "6a7a1c0e5f1b2c3d4e5f6a02", "6a7a1c0e5f1b2c3d4e5f6a03",
  "6a7a1c0e5f1b2c3d4e5f6a04", "6a7a1c0e5f1b2c3d4e5f6a05", "6a7a1c0e5f1b2c3d4e5f6a06", "6a7a1c0e5f1b2c3d4e5f6a07" }
local POLL = emulator.POLLING_JOBS

-- Every variable the command (and the module under it) reads, cleared first.
local CLEAR = "env -u MONGODB_ATLAS_PUBLIC_API_KEY -u MONGODB_ATLAS_PRIVATE_API_KEY -u MONGODB_ATLAS_CLIENT_ID "
  .. "-u MONGODB_ATLAS_CLIENT_SECRET -u MONGODB_ATLAS_ACCESS_TOKEN -u MONGODB_ATLAS_BASE_URL "
  .. "-u MONGODB_ATLAS_OPS_MANAGER_URL -u MONGODB_ATLAS_PROJECT_ID -u ATLASRESTORE_CA_FILE -u ATLASRESTORE_QUIET "

local function sh(cmd)
  local ok, _, code = compat.execute(emulator.clean_env(cmd))
  return ok, code
end

local function assignments(vars)
  local out = {}
  for name, value in pairs(vars or {}) do out[#out + 1] = name .. "=" .. q(value) end
  table.sort(out)
  return table.concat(out, " ") .. " "
end

local emu, SECRETS

-- The command with `args` (a shell word list) and `vars`; returns { out, err, code }.
-- opts.pipe: a shell command stdout goes through (`head -n 1`); opts.tty: under a
-- pseudo-terminal (script), stdout and stderr mixed in `out`.
local function run(args, vars, opts)
  opts = opts or {}
  local out, err, code = WORK .. "/out", WORK .. "/err", WORK .. "/code"
  local cmd = CLEAR .. assignments(vars) .. q(BIN) .. " " .. args
  local line
  if opts.tty then
    line = "script -qec " .. q(cmd) .. " /dev/null </dev/null >" .. q(out) .. " 2>" .. q(err)
      .. "; echo $? >" .. q(code)
  elseif opts.pipe then
    line = "{ " .. cmd .. " 2>" .. q(err) .. "; echo $? >" .. q(code) .. "; } | " .. opts.pipe .. " >" .. q(out)
  else
    line = cmd .. " </dev/null >" .. q(out) .. " 2>" .. q(err) .. "; echo $? >" .. q(code)
  end
  sh(line)
  local r = { out = read_file(out) or "", err = read_file(err) or "", code = tonumber(read_file(code) or "") }
  -- No secret in any output, whatever the run.
  for _, secret in ipairs(SECRETS) do
    assert(not r.out:find(secret, 1, true), "a secret on stdout of: " .. args)
    assert(not r.err:find(secret, 1, true), "a secret on stderr of: " .. args)
  end
  assert.is_nil(r.err:find("traceback", 1, true), r.err)
  return r
end

-- The environment of a run: the emulator's API key (or its service account with
-- `sa_env`), its URL and the project; `extra` adds or replaces variables.
local function credentials_env(names, values, extra)
  local vars = { MONGODB_ATLAS_BASE_URL = emu.base_url, MONGODB_ATLAS_PROJECT_ID = G,
    [names[1]] = values[1], [names[2]] = values[2] }
  for k, v in pairs(extra or {}) do vars[k] = v end
  return vars
end

local function key_env(extra)
  return credentials_env({ "MONGODB_ATLAS_PUBLIC_API_KEY", "MONGODB_ATLAS_PRIVATE_API_KEY" },
    { emu.public_key, emu.private_key }, extra)
end

local function sa_env(extra)
  return credentials_env({ "MONGODB_ATLAS_CLIENT_ID", "MONGODB_ATLAS_CLIENT_SECRET" },
    { emu.client_id, emu.client_secret }, extra)
end

-- Python reads the text: `script` gets the text on stdin and prints JSON for cjson.
local function python(script, text)
  local input = WORK .. "/py-in"
  local f = assert(io.open(input, "wb"))
  f:write(text)
  f:close()
  local p = assert(io.popen(emulator.clean_env("python3 -c " .. q(script) .. " <" .. q(input))))
  local result = p:read("*a")
  p:close()
  return cjson.decode(result)
end

local CSV_ROWS = "import csv, io, json, sys; print(json.dumps(list(csv.reader(io.StringIO(sys.stdin.buffer.read()"
  .. ".decode(), newline='')))))"

local function lines_of(text)
  local out = {}
  for l in text:gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

-- The command in the background: its pid in <base>.pid (the command itself: sh execs
-- it), stdout, stderr and the exit code in <base>.out, .err, .code.
local function background(name, args, vars)
  local base = WORK .. "/" .. name
  for _, ext in ipairs { ".pid", ".out", ".err", ".code" } do os.remove(base .. ext) end
  sh("( " .. CLEAR .. assignments(vars) .. "sh -c 'echo $$ >\"$0.pid\"; exec \"$@\"' " .. q(base) .. " " .. q(BIN)
    .. " " .. args .. " </dev/null >" .. q(base .. ".out") .. " 2>" .. q(base .. ".err") .. "; echo $? >"
    .. q(base .. ".code") .. " ) >/dev/null 2>&1 &")
  return base
end

-- Polls `ready` every 50 ms for at most `seconds`; its last answer.
local function wait_for(seconds, ready)
  local deadline = socket.gettime() + seconds
  while socket.gettime() < deadline do
    local v = ready()
    if v then return v end
    socket.sleep(0.05)
  end
  return ready()
end

local function signal(base, name)
  assert(sh("kill -" .. name .. " " .. assert(tonumber(read_file(base .. ".pid")))))
end

-- True while pid runs (a zombie does not count).
local function alive(pid)
  local stat = read_file("/proc/" .. pid .. "/stat")
  local st = stat and stat:match("^%d+ %b() (%a)")
  return st ~= nil and st ~= "Z" and st ~= "X"
end

-- A loopback port nothing listens on.
local function free_port()
  local s = require("socket").bind("127.0.0.1", 0)
  local _, port = s:getsockname()
  s:close()
  return port
end

describe("the atlasrestore command", function()
  lazy_setup(function()
    assert(sh("mkdir -p " .. q(WORK)))
    -- A LuaJIT install leaves the command out unless asked for (install-cli).
    local make_vars = ABI == "luajit" and "install-cli LUAJIT=1" or "LUA_VERSION=" .. ABI
    local ok = sh("cd " .. q(ROOT) .. " && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s install PREFIX=" ..
      q(PREFIX) .. " " .. make_vars .. " >" .. q(WORK .. "/install.log") .. " 2>&1")
    assert(ok, read_file(WORK .. "/install.log"))
    emu = emulator.start()
    emu:config { sandbox_jobs = 3 }
    SECRETS = { emu.private_key, emu.client_secret }
  end)
  lazy_teardown(function()
    if emu then emu:stop() end
  end)
  before_each(function()
    emu:reset()
    emu:config { sandbox_jobs = 3 }
  end)

  describe("installed", function()
    it("names the interpreter of its build on its first line", function()
      local first = read_file(BIN):match("^[^\n]*")
      assert.equal(ABI == "luajit" and "#!/usr/bin/env luajit" or "#!/usr/bin/env lua" .. ABI, first)
    end)

    it("has --help on the command and on each subcommand, and --version", function()
      local r = run("--help")
      assert.equal(0, r.code)
      assert.matches("Usage: atlasrestore", r.out, 1, true)
      for _, sub in ipairs { "list", "describe", "watch", "emulator" } do
        r = run(sub .. " --help")
        assert.equal(0, r.code, sub)
        assert.matches("Usage: atlasrestore " .. sub, r.out, 1, true)
      end
      r = run("--version")
      assert.equal(0, r.code)
      assert.equal(("atlasrestore %s (%s)\n"):format(require("atlasrestore")._VERSION,
        require("atlasrestore.platform").lua_name()), r.out)
    end)
  end)

  describe("exit code 2", function()
    local cases = {
      { "no command", "" },
      { "an unknown flag", "list demo --bogus" },
      { "a bad value", "list demo --limit 0" },
      { "an unknown status", "list demo --status DONE" },
      { "a bad time", "list demo --since yesterday" },
      { "an unknown format", "list demo -o xml" },
      { "a missing argument", "describe demo" },
      { "--page without a name", "list --page 2" },
      { "--endpoint without a name", "list --endpoint flex" },
      { "--page with a filter", "list demo --page 2 --status RUNNING" },
      { "--fields with a bad name", "list demo --fields 'id,,status'" },
      { "a misspelt option", "list demo --outptu json" },
      { "a concurrency past the bound", "list demo --concurrency 64" },
      { "an unknown command", "lsit demo" },
    }
    -- One line: the code, what is wrong, which --help to read.
    local USAGE_LINE = "^atlasrestore: USAGE: [^\n]+ %(see 'atlasrestore[%a ]* %-%-help'%)\n$"
    for _, case in ipairs(cases) do
      it("for " .. case[1] .. ", in one line", function()
        local r = run(case[2], key_env())
        assert.equal(2, r.code, r.err)
        assert.matches(USAGE_LINE, r.err)
        assert.equal("", r.out)
        assert.equal(0, emu:stats().requests)
      end)
    end

    it("names the --help of the command that was misused", function()
      assert.matches("(see 'atlasrestore list --help')", run("list demo --outptu json", key_env()).err, 1, true)
      assert.matches("(see 'atlasrestore describe --help')", run("describe demo", key_env()).err, 1, true)
      assert.matches("(see 'atlasrestore --help')", run("", key_env()).err, 1, true)
      assert.matches("did you mean '--output'", run("list demo --outptu json", key_env()).err, 1, true)
    end)

    it("for an unknown --fields name, listing the valid ones", function()
      local r = run("list demo -o json --fields id,nosuch", key_env())
      assert.equal(2, r.code, r.err)
      assert.matches(USAGE_LINE, r.err)
      assert.matches('"nosuch" is not a field', r.err, 1, true)
      for _, name in ipairs { "id", "status", "targetClusterName", "finishedAt", "raw" } do
        assert.matches("[ (]" .. name .. "[,)]", r.err)
      end
      assert.equal("", r.out)
    end)

    it("without credentials, naming the variables", function()
      local r = run("list demo", { MONGODB_ATLAS_BASE_URL = emu.base_url, MONGODB_ATLAS_PROJECT_ID = G })
      assert.equal(2, r.code)
      assert.matches(USAGE_LINE, r.err)
      assert.matches("MONGODB_ATLAS_CLIENT_ID", r.err, 1, true)
      assert.equal(0, emu:stats().requests)
    end)

    it("without a project", function()
      local vars = key_env()
      vars.MONGODB_ATLAS_PROJECT_ID = nil
      local r = run("list demo", vars)
      assert.equal(2, r.code)
      assert.matches(USAGE_LINE, r.err)
      assert.matches("--projectId", r.err, 1, true)
    end)

    it("for a format in MONGODB_ATLAS_OUTPUT that it does not have", function()
      local r = run("list demo", key_env { MONGODB_ATLAS_OUTPUT = "xml" })
      assert.equal(2, r.code)
      assert.matches(USAGE_LINE, r.err)
      assert.matches("MONGODB_ATLAS_OUTPUT", r.err, 1, true)
    end)

    it("for a secret given as an argument, which it never echoes", function()
      local r = run("list demo --private-key=hunter2-not-echoed", key_env())
      assert.equal(2, r.code)
      assert.matches("never taken as arguments", r.err, 1, true)
      assert.is_nil(r.err:find("hunter2", 1, true))
    end)
  end)

  describe("output", function()
    it("is an aligned table by default, as the Atlas CLI's", function()
      local r = run("list demo", key_env())
      assert.equal(0, r.code, r.err)
      local rows = lines_of(r.out)
      assert.equal(8, #rows)
      assert.matches("^ID%s+SNAPSHOT%s+CLUSTER%s+TYPE%s+STATUS%s+FINISHED$", rows[1])
      local at = rows[1]:find("STATUS", 1, true)
      for i, id in ipairs(DEMO_IDS) do
        assert.equal(id, rows[i + 1]:match("^(%x+)"))
        assert.matches("^[A-Z]+", rows[i + 1]:sub(at))
      end
      assert.matches("^COMPLETED", rows[3]:sub(at))
      assert.matches("^CANCELLED", rows[5]:sub(at))
    end)

    it("is one JSON array with -o json, integers exact", function()
      local r = run("list demo -o json", key_env())
      assert.equal(0, r.code, r.err)
      local jobs = cjson.decode(r.out)
      assert.equal(7, #jobs)
      for i, id in ipairs(DEMO_IDS) do assert.equal(id, jobs[i].id) end
      assert.equal("COMPLETED", jobs[2].status)
      assert.equal("serverless", jobs[2].source)
      assert.is_nil(jobs[2].raw)
      -- Python's json tells integers from floats: 1.7000352e+09 on the wire comes out an int.
      local types = python("import json, sys; j = json.load(sys.stdin)[1]; print(json.dumps([type(j[k]).__name__ "
        .. "+ ':' + str(j[k]) for k in ('oplogTs', 'oplogInc', 'pointInTimeUTCSeconds')]))", r.out)
      assert.same({ "int:1700035200", "int:1", "int:1700035200" }, types)
    end)

    it("prints [] for an empty listing, and keeps empty arrays inside jobs", function()
      local r = run("list empty -o json", key_env())
      assert.equal(0, r.code, r.err)
      assert.equal("[]\n", r.out)
      assert.same({ "list", 0 }, python("import json, sys; d = json.load(sys.stdin); "
        .. "print(json.dumps([type(d).__name__, len(d)]))", r.out))
      r = run("list dedicated-0 --endpoint dedicated -o json", key_env())
      assert.equal(0, r.code, r.err)
      assert.same({ "list", 0 }, python("import json, sys; u = [j['deliveryUrl'] for j in json.load(sys.stdin) "
        .. "if j['id'] == '" .. emulator.DEDICATED_FIXED_JOBS[1] .. "'][0]; print(json.dumps([type(u).__name__, "
        .. "len(u)]))", r.out))
      assert.matches('"deliveryUrl":[]', r.out, 1, true)
    end)

    it("is one job per line with -o ndjson", function()
      local r = run("list demo -o ndjson", key_env())
      assert.equal(0, r.code, r.err)
      local rows = lines_of(r.out)
      assert.equal(7, #rows)
      for i, id in ipairs(DEMO_IDS) do assert.equal(id, cjson.decode(rows[i]).id) end
    end)

    it("is RFC 4180 CSV with -o csv: a header, and commas, quotes, CR and LF inside values quoted", function()
      local r = run("list sandbox -o csv --fields id,raw.note,status,deliveryType", key_env())
      assert.equal(0, r.code, r.err)
      local rows = python(CSV_ROWS, r.out)
      assert.same({ "id", "raw.note", "status", "deliveryType" }, rows[1])
      assert.equal(4, #rows)
      assert.equal('Restore "before the upgrade", then check\r\nline two', rows[2][2])
      assert.equal("COMPLETED", rows[2][3])
      assert.equal("", rows[3][2])
      assert.matches("\r\n$", r.out)
    end)

    it("writes nested values as compact JSON in CSV", function()
      local r = run("list demo -o csv --fields id,deliveryUrl,desiredTimestamp", key_env())
      assert.equal(0, r.code, r.err)
      local rows = python(CSV_ROWS, r.out)
      assert.same({ "https://restore-6a7a1c0e5f1b2c3d4e5f6a03.emulator.invalid:27017/backup/demo/part-1.tar.gz",
        "https://restore-6a7a1c0e5f1b2c3d4e5f6a03.emulator.invalid:27017/backup/demo/part-2.tar.gz" },
        cjson.decode(rows[4][2]))
      assert.same({ date = "2023-11-15T08:00:00Z", increment = 1 }, cjson.decode(rows[3][3]))
    end)

    it("chooses the columns with --fields, dots for nested fields", function()
      local r = run("list demo -o json --fields id,desiredTimestamp.date,status", key_env())
      assert.equal(0, r.code, r.err)
      local jobs = python("import json, sys; print(json.dumps([sorted(j.keys()) for j in json.load(sys.stdin)] "
        .. "+ [json.load(open('" .. WORK .. "/out'))[1]['desiredTimestamp.date']]))", r.out)
      assert.same({ "desiredTimestamp.date", "id", "status" }, jobs[1])
      assert.equal("2023-11-15T08:00:00Z", jobs[8])
      r = run("list demo --fields id,desiredTimestamp.date", key_env())
      assert.matches("^ID%s+DESIREDTIMESTAMP.DATE\n", r.out)
      assert.matches("6a7a1c0e5f1b2c3d4e5f6a02%s+2023%-11%-15T08:00:00Z\n", r.out)
    end)
  end)

  describe("output a script can rely on", function()
    it("is the same bytes every run, in every format", function()
      for _, args in ipairs { "list demo -o json", "list demo -o ndjson", "list demo -o csv",
        "list demo -o json --fields status,id,desiredTimestamp,deliveryUrl", "list demo -o csv --fields links,id",
        "list flex-demo -o ndjson", "list --projectId " .. emulator.MIXED_GROUP_ID .. " -o json" } do
        local first = run(args, key_env())
        local second = run(args, key_env())
        assert.truthy(#first.out > 100, args)
        assert.equal(first.out, second.out, args)
      end
    end)

    it("writes a record's documented fields first, in their order, then the others sorted", function()
      local r = run("list demo -o ndjson", key_env())
      assert.equal(0, r.code, r.err)
      local keys = python("import json, sys; print(json.dumps(list(json.loads(sys.stdin.readlines()[1]).keys())))",
        r.out)
      assert.same({ "id", "status", "source", "deliveryType" }, { keys[1], keys[2], keys[3], keys[4] })
      local ORDER = require("atlasrestore.shape").FIELDS
      local rank = {}
      for i, name in ipairs(ORDER) do rank[name] = i end
      local last_rank, last_other = 0, nil
      for _, key in ipairs(keys) do
        if rank[key] then
          assert.is_nil(last_other, key .. " after a field outside the documented order")
          assert.truthy(rank[key] > last_rank, key)
          last_rank = rank[key]
        else
          assert.truthy(last_other == nil or key > last_other, key)
          last_other = key
        end
      end
      -- --fields: the order given.
      r = run("list demo -o ndjson --fields status,id", key_env())
      assert.matches('^{"status":"[A-Z]+","id":"6a7a1c0e5f1b2c3d4e5f6a01"}\n', r.out)
    end)

    it("prints nothing on stdout when the listing fails before its first job", function()
      for _, format in ipairs { "csv", "json", "ndjson", "table" } do
        local file = WORK .. "/nope." .. format
        os.remove(file)
        local _, code = sh(CLEAR .. assignments(key_env()) .. q(BIN) .. " list nope -o " .. format .. " >"
          .. q(file) .. " 2>/dev/null")
        assert.equal(4, code, format)
        assert.equal("", read_file(file), format)
      end
      -- An empty listing is data: the CSV header alone.
      local r = run("list empty -o csv --fields id,status", key_env())
      assert.equal(0, r.code, r.err)
      assert.equal("id,status\r\n", r.out)
    end)

    it("exits 1 with a message when stdout is closed or cannot be written", function()
      local err = WORK .. "/closed.err"
      local _, code = sh(CLEAR .. assignments(key_env()) .. q(BIN) .. " list demo -o json >&- 2>" .. q(err))
      assert.equal(1, code)
      assert.matches("standard output is closed", read_file(err), 1, true)
      assert.equal(0, emu:stats().requests)
      for _, args in ipairs { "--help", "--version", "list --help" } do
        _, code = sh(CLEAR .. q(BIN) .. " " .. args .. " >/dev/full 2>" .. q(err))
        assert.equal(1, code, args)
        assert.matches("cannot write the output", read_file(err), 1, true)
      end
    end)

    it("runs with stdin and stderr closed", function()
      local out = WORK .. "/closed.out"
      local _, code = sh(CLEAR .. assignments(key_env()) .. q(BIN) .. " list demo -o ndjson <&- 2>&- >" .. q(out))
      assert.equal(0, code)
      assert.equal(7, #lines_of(read_file(out)))
    end)

    it("takes -o=json as --output=json, and the default format from MONGODB_ATLAS_OUTPUT", function()
      local long = run("list demo --output=json", key_env())
      assert.equal(0, long.code, long.err)
      assert.equal(long.out, run("list demo -o=json", key_env()).out)
      assert.equal(long.out, run("list demo", key_env { MONGODB_ATLAS_OUTPUT = "json" }).out)
      local csv = run("list demo -o csv", key_env { MONGODB_ATLAS_OUTPUT = "json" })
      assert.matches("^id,snapshotId,", csv.out)
      assert.matches("^ID%s+SNAPSHOT", run("list demo", key_env { MONGODB_ATLAS_OUTPUT = "plaintext" }).out)
    end)

    it("writes no escape sequence for TERM=dumb or NO_COLOR", function()
      for _, vars in ipairs { { TERM = "dumb" }, { NO_COLOR = "1" } } do
        local r = run("list jobs-1000 -o csv --fields id --progress", key_env(vars), { tty = true })
        assert.equal(0, r.code, r.out)
        assert.is_nil(r.out:find("\27", 1, true))
        assert.equal(1000, select(2, r.out:gsub("\n%x+\r", "")))
      end
    end)
  end)

  describe("list", function()
    it("lists 10,000 jobs, each once", function()
      local r = run("list jobs-10000 -o csv --fields id --concurrency 4", key_env())
      assert.equal(0, r.code, r.err)
      local rows = lines_of(r.out)
      assert.equal(10001, #rows)
      local seen = {}
      for i = 2, #rows do seen[rows[i]] = true end
      local n = 0
      for _ in pairs(seen) do n = n + 1 end
      assert.equal(10000, n)
    end)

    it("keeps the jobs of the statuses --status names", function()
      local r = run("list demo -o json --status completed,FAILED", key_env())
      assert.equal(0, r.code, r.err)
      local jobs = cjson.decode(r.out)
      assert.equal(4, #jobs)
      for _, j in ipairs(jobs) do assert.truthy(j.status == "COMPLETED" or j.status == "FAILED") end
      r = run("list flex-demo --endpoint flex -o json --status RUNNING", key_env())
      assert.equal(0, r.code, r.err)
      jobs = cjson.decode(r.out)
      assert.equal(2, #jobs) -- two of flex-demo's eight jobs are running
      for _, j in ipairs(jobs) do assert.equal("RUNNING", j.status) end
    end)

    it("keeps the jobs of a window with --since and --until", function()
      -- jobs-1000: one job every ten minutes back from 2026-01-01: 144 a day.
      local r = run("list jobs-1000 -o csv --fields id --since 2025-12-31T00:00:00Z --until 2026-01-01T00:00:00Z",
        key_env())
      assert.equal(0, r.code, r.err)
      local n = #lines_of(r.out) - 1
      assert.truthy(n >= 140 and n <= 145, n)
      r = run("list jobs-1000 -o json --since 1h", key_env())
      assert.equal(0, r.code, r.err)
      assert.equal("[]\n", r.out)
      r = run("list jobs-1000 -o csv --fields id --since 36500d", key_env())
      assert.equal(1001, #lines_of(r.out))
    end)

    it("prints one page of the resolved endpoint with --page and --limit", function()
      local r = run("list jobs-1000 --page 2 --limit 100 -o csv --fields id", key_env())
      assert.equal(0, r.code, r.err)
      local rows = lines_of(r.out)
      assert.equal(101, #rows)
      assert.matches("0000000000000065\r$", rows[2]) -- job 101
      r = run("list migrated-404 --page 1 --limit 2 -o json", key_env())
      assert.equal(0, r.code, r.err)
      local jobs = cjson.decode(r.out)
      assert.equal(2, #jobs)
      assert.equal("flex", jobs[1].source)
    end)

    it("lists a whole project: the others' jobs on stdout, the failing instance on stderr, exit 12", function()
      local r = run("list --projectId " .. emulator.MIXED_GROUP_ID .. " -o json", key_env())
      assert.equal(12, r.code, r.err)
      local by_instance = {}
      for _, j in ipairs(cjson.decode(r.out)) do by_instance[j.instance] = (by_instance[j.instance] or 0) + 1 end
      assert.equal(4, by_instance["mixed-flex"])
      assert.equal(3, by_instance["mixed-serverless"])
      assert.equal(2, by_instance["mixed-migrated"])
      assert.equal(3, by_instance["mixed-dedicated"])
      assert.is_nil(by_instance["mixed-broken"])
      assert.matches("mixed%-broken.*UNEXPECTED_ERROR", r.err)
      r = run("list --projectId " .. emulator.MIXED_GROUP_ID, key_env())
      assert.matches("^INSTANCE%s+ID%s+SNAPSHOT", r.out)
      r = run("list -o json --projectId " .. emulator.EMPTY_GROUP_ID, key_env())
      assert.equal(0, r.code, r.err)
      assert.equal("[]\n", r.out)
    end)

    it("streams NDJSON: the first line is out before the last page is served", function()
      emu:config { latency = { request = 0.3 } }
      local r = run("list jobs-1000 -o ndjson", key_env(), { pipe = "python3 -c " .. q("import sys, time\n"
        .. "first = None\nn = 0\nfor line in sys.stdin:\n  n += 1\n  first = first or time.time()\n"
        .. "print(repr(first), n)") })
      assert.equal(0, r.code, r.err)
      local first, n = r.out:match("^(%S+) (%d+)")
      assert.equal("1000", n)
      local last_page
      for _, e in ipairs(emu:stats().log) do
        if e.uri:find("pageNum=2", 1, true) and e.status == 200 then last_page = e.time end
      end
      assert.truthy(tonumber(first) < last_page - 0.2, ("first line %s, last page %s"):format(first, last_page))
    end)

    it("ends quietly with exit 0 on a closed pipe", function()
      for _, format in ipairs { "ndjson", "csv", "json", "table" } do
        local r = run("list jobs-10000 --no-progress -o " .. format, key_env(), { pipe = "head -c 100" })
        assert.equal(0, r.code, format .. ": " .. r.err)
        assert.equal(100, #r.out)
        assert.is_nil(r.err:find("atlasrestore: internal", 1, true))
        assert.is_nil(r.err:find("Broken pipe", 1, true))
      end
    end)
  end)

  describe("exit codes", function()
    local cases = {
      { 3, "a wrong key", function() return "list demo", key_env { MONGODB_ATLAS_PRIVATE_API_KEY = "wrong" } end,
        "UNEXPECTED_ERROR" },
      { 4, "an unknown instance", function() return "list nowhere", key_env() end, "CLUSTER_NOT_FOUND" },
      { 4, "an unknown project", function() return "list demo --projectId ffffffffffffffffffffffff", key_env() end,
        "GROUP_NOT_FOUND" },
      { 4, "an unknown job", function() return "describe demo ffffffffffffffffffffffff", key_env() end,
        "NOT_FOUND" },
      { 5, "a 429 that never ends", function()
        emu:config { faults = { rate = 1, kinds = { "429" }, retry_after = 0 } }
        return "list demo --endpoint serverless --max-attempts 2", key_env()
      end, "HTTP 429" },
      { 6, "a dead port", function()
        return "list demo --base-url http://127.0.0.1:" .. free_port(), key_env()
      end, "CONNECT_FAILED" },
      { 7, "a broken body", function()
        emu:config { faults = { rate = 1, kinds = { "malformed" } } }
        return "list demo --endpoint serverless --max-attempts 2", key_env()
      end, "BAD_RESPONSE" },
      { 1, "a refusal of another kind", function() return "list free-0 --endpoint dedicated", key_env() end,
        "TENANT_CLUSTER_BACKUP_UNSUPPORTED" },
    }
    for _, case in ipairs(cases) do
      it(case[1] .. " for " .. case[2], function()
        local args, vars = case[3]()
        local r = run(args, vars)
        assert.equal(case[1], r.code, r.err)
        assert.equal("", r.out)
        local errors = {}
        for _, l in ipairs(lines_of(r.err)) do
          if not l:find("warning", 1, true) then errors[#errors + 1] = l end
        end
        assert.equal(1, #errors, r.err)
        assert.matches(case[4], errors[1], 1, true)
      end)
    end
  end)

  describe("deprecation warnings", function()
    local function warnings_of(err)
      local out = {}
      for _, l in ipairs(lines_of(err)) do if l:find("^atlasrestore: warning: ") then out[#out + 1] = l end end
      return out
    end

    it("name the endpoint and its sunset, once per run", function()
      local r = run("list demo -o csv --fields id --endpoint serverless --concurrency 4", key_env())
      assert.equal(0, r.code, r.err)
      local w = warnings_of(r.err)
      assert.equal(1, #w, r.err)
      assert.matches("^atlasrestore: warning: the serverless endpoint is deprecated, sunset 2026%-01%-22 ", w[1])
    end)

    it("say nothing for a probe's answer that is not used: not found, Flex, dedicated", function()
      for _, name in ipairs { "nope", "flex-demo", "dedicated-0", "migrated-410" } do
        local r = run("list " .. name .. " -o csv --fields id", key_env())
        assert.same({}, warnings_of(r.err), name)
      end
      local r = run("list nope", key_env())
      assert.equal(4, r.code)
      assert.equal(1, #lines_of(r.err), r.err)
    end)

    -- --quiet, or ATLASRESTORE_QUIET=1 for cron.
    local QUIET = { { "--quiet", key_env() }, { "-q", key_env() }, { "", key_env { ATLASRESTORE_QUIET = "1" } } }

    it("are silenced by --quiet and by ATLASRESTORE_QUIET=1: a serverless listing prints nothing on stderr", function()
      local loud = run("list demo -o csv --fields id", key_env())
      assert.equal(1, #warnings_of(loud.err), loud.err)
      for _, case in ipairs(QUIET) do
        local r = run("list demo -o csv --fields id " .. case[1], case[2])
        assert.equal(0, r.code, r.err)
        assert.equal("", r.err, case[1])
        local ids = lines_of((r.out:gsub("\r", "")))
        assert.equal("id", table.remove(ids, 1))
        assert.same(DEMO_IDS, ids)
      end
    end)

    it("go under --quiet and ATLASRESTORE_QUIET=1, and errors stay", function()
      local loud = run("list nope --endpoint serverless", key_env())
      assert.equal(4, loud.code)
      assert.equal(1, #warnings_of(loud.err), loud.err)
      assert.equal(2, #lines_of(loud.err), loud.err)
      for _, case in ipairs(QUIET) do
        local r = run("list nope --endpoint serverless " .. case[1], case[2])
        assert.equal(4, r.code, r.err)
        assert.same({}, warnings_of(r.err))
        assert.same({ lines_of(loud.err)[2] }, lines_of(r.err))
      end
    end)
  end)

  describe("describe and watch", function()
    local sources = {
      { "serverless", "polling", POLL.serverless },
      { "Flex", "flex-polling", POLL.flex },
      { "dedicated", "dedicated-0", POLL.dedicated },
    }
    for _, s in ipairs(sources) do
      it("describe prints one " .. s[1] .. " job", function()
        local r = run("describe " .. s[2] .. " " .. s[3].completes .. " -o json", key_env())
        assert.equal(0, r.code, r.err)
        local job = cjson.decode(r.out)
        assert.equal(s[3].completes, job.id)
        assert.truthy(job.status)
      end)

      it("watch waits for a " .. s[1] .. " job to complete (0) or fail (8)", function()
        local r = run("watch " .. s[2] .. " " .. s[3].completes .. " --interval 0.05 -o json", key_env())
        assert.equal(0, r.code, r.err)
        assert.equal("COMPLETED", cjson.decode(r.out).status)
        assert.matches("RUNNING.*COMPLETED", r.err:gsub("\n", " "))
        r = run("watch " .. s[2] .. " " .. s[3].fails .. " --interval 0.05", key_env())
        assert.equal(8, r.code, r.err)
        assert.matches("FAILED", r.out, 1, true)
      end)
    end

    it("describes a job of a migrated instance", function()
      local id = cjson.decode(run("list migrated-404 -o json", key_env()).out)[1].id
      local r = run("describe migrated-404 " .. id .. " -o json", key_env())
      assert.equal(0, r.code, r.err)
      assert.equal(id, cjson.decode(r.out).id)
      assert.equal("flex", cjson.decode(r.out).source)
      r = run("watch migrated-404 " .. id .. " --interval 0.05", key_env())
      assert.equal(0, r.code, r.err)
    end)

    it("watch exits 9 for a cancelled job, 10 for an expired one, 11 when the watch times out", function()
      local r = run("watch polling " .. POLL.serverless.cancelled .. " --interval 0.05", key_env())
      assert.equal(9, r.code, r.err)
      r = run("watch polling " .. POLL.serverless.expired .. " --interval 0.05", key_env())
      assert.equal(10, r.code, r.err)
      emu:config { job_polls = 1000 }
      r = run("watch polling " .. POLL.serverless.completes .. " --interval 0.1 --watch-timeout 0.5 -o json",
        key_env())
      assert.equal(11, r.code, r.err)
      assert.matches("WAIT_TIMEOUT", r.err, 1, true)
      local last = cjson.decode(r.out)
      assert.equal(POLL.serverless.completes, last.id, "the last state seen")
      assert.equal("RUNNING", last.status)
    end)

    it("watch --endpoint serverless reports the unified status: RUNNING then COMPLETED (0) or FAILED (8)", function()
      for _, case in ipairs { { POLL.serverless.completes, 0, "COMPLETED" }, { POLL.serverless.fails, 8, "FAILED" } } do
        local r = run("watch polling " .. case[1] .. " --endpoint serverless --interval 0.05 -o json", key_env())
        assert.equal(case[2], r.code, r.err)
        assert.equal(case[1], cjson.decode(r.out).id)
        assert.matches(case[1] .. " RUNNING\n.*" .. case[1] .. " " .. case[3] .. "\n$", r.err)
        assert.is_nil(r.err:find("nil", 1, true), r.err)
      end
    end)

    -- Each poll gets 2 attempts: the watch ends after the first poll, not at its hour.
    local storms = {
      { 6, "a dead host", function() return "--base-url http://127.0.0.1:" .. free_port() end, "CONNECT_FAILED" },
      { 5, "a 429 storm", function()
        emu:config { faults = { rate = 1, kinds = { "429" }, retry_after = 0 } }
        return ""
      end, "HTTP 429" },
      { 7, "a 5xx storm", function()
        emu:config { faults = { rate = 1, kinds = { "503" }, retry_after = 0 } }
        return ""
      end, "HTTP 503" },
    }
    for _, storm in ipairs(storms) do
      it("watch exits " .. storm[1] .. " for " .. storm[2] .. " within its retry budget", function()
        local started = socket.gettime()
        local r = run("watch polling " .. POLL.serverless.completes .. " --interval 0.05 --max-attempts 2 "
          .. storm[3](), key_env())
        local took = socket.gettime() - started
        assert.equal(storm[1], r.code, r.err)
        assert.matches(storm[4], r.err, 1, true)
        assert.is_nil(r.err:find("WAIT_TIMEOUT", 1, true), r.err)
        assert.is_true(took < 10, ("the watch took %.1f s"):format(took))
      end)
    end

    it("watch --tolerate-failures polls on through a 5xx storm until its timeout (11)", function()
      emu:config { faults = { rate = 1, kinds = { "503" }, retry_after = 0 } }
      -- 1.5 s leaves room for two polls of two attempts whatever the jittered backoff
      -- (up to 0.5 s before each poll's second attempt) draws.
      local r = run("watch polling " .. POLL.serverless.completes .. " --interval 0.05 --max-attempts 2 "
        .. "--watch-timeout 1.5 --tolerate-failures", key_env())
      assert.equal(11, r.code, r.err)
      assert.matches("WAIT_TIMEOUT", r.err, 1, true)
      assert.is_true(emu:stats().requests >= 4, "more than one poll")
    end)
  end)

  describe("a service account", function()
    it("revokes its token at the end: on success, on an error and on a closed pipe", function()
      local r = run("list demo", sa_env())
      assert.equal(0, r.code, r.err)
      local stats = emu:stats()
      assert.equal(1, stats.tokens)
      assert.equal(1, stats.revokes)
      r = run("list nowhere", sa_env())
      assert.equal(4, r.code, r.err)
      stats = emu:stats()
      assert.equal(2, stats.tokens)
      assert.equal(2, stats.revokes)
      r = run("list jobs-10000 -o ndjson", sa_env(), { pipe = "head -n 1" })
      assert.equal(0, r.code, r.err)
      assert.equal(1, #lines_of(r.out))
      stats = emu:stats()
      assert.equal(3, stats.tokens)
      assert.equal(3, stats.revokes)
      assert.equal(0, stats.live_tokens)
    end)

    it("revokes a refused token before it asks for another: two refused runs leave room for a third", function()
      emu:config { refuse_bearer = true, max_tokens = 2 }
      for _ = 1, 2 do
        local r = run("list demo", sa_env())
        assert.equal(3, r.code, r.err)
        assert.matches("401", r.err, 1, true)
        assert.equal(0, emu:stats().live_tokens)
      end
      emu:config { refuse_bearer = false }
      local r = run("list demo", sa_env())
      assert.equal(0, r.code, r.err)
      local stats = emu:stats()
      assert.equal(2 + 2 + 1, stats.tokens)
      assert.equal(stats.tokens, stats.revokes)
      assert.equal(0, stats.live_tokens)
    end)
  end)

  describe("a signal", function()
    it("SIGTERM during a listing ends it with 143, its token revoked", function()
      emu:config { latency = { request = 0.2 } }
      local base = background("sigterm", "list jobs-10000 -o ndjson", sa_env())
      assert.truthy(wait_for(10, function() return (read_file(base .. ".out") or "") ~= "" end))
      signal(base, "TERM")
      assert.equal("143", wait_for(10, function() return (read_file(base .. ".code") or ""):match("%d+") end))
      local stats = emu:stats()
      assert.equal(1, stats.tokens)
      assert.equal(1, stats.revokes)
      assert.equal(0, stats.live_tokens)
      assert.is_nil((read_file(base .. ".err") or ""):find("traceback", 1, true))
    end)

    for _, case in ipairs { { "HUP", "129" }, { "INT", "130" } } do
      it("SIG" .. case[1] .. " during a listing ends it with " .. case[2] .. ", no token left alive", function()
        emu:config { latency = { request = 0.2 } }
        local base = background("sig" .. case[1], "list jobs-10000 -o ndjson", sa_env())
        assert.truthy(wait_for(10, function() return (read_file(base .. ".out") or "") ~= "" end))
        assert.equal(1, emu:stats().live_tokens)
        signal(base, case[1])
        assert.equal(case[2], wait_for(10, function() return (read_file(base .. ".code") or ""):match("%d+") end))
        local stats = emu:stats()
        assert.equal(1, stats.tokens)
        assert.equal(1, stats.revokes)
        assert.equal(0, stats.live_tokens)
        assert.is_nil((read_file(base .. ".err") or ""):find("traceback", 1, true))
      end)
    end

    it("that comes while the token is being fetched waits for it, and the token is revoked", function()
      emu:config { latency = { request = 1 } } -- the token request takes a second
      local base = background("sigtoken", "list demo -o ndjson", sa_env())
      assert.truthy(wait_for(10, function() return emu:stats().in_flight > 0 end))
      signal(base, "TERM")
      assert.equal("143", wait_for(10, function() return (read_file(base .. ".code") or ""):match("%d+") end))
      local stats = emu:stats()
      assert.equal(1, stats.tokens, "the token request was answered")
      assert.equal(0, stats.list_requests, "and no listing started after the signal")
      assert.equal(1, stats.revokes)
      assert.equal(0, stats.live_tokens)
    end)
  end)

  describe("cron-like runs", function()
    it("leave no token alive after 24 runs with refusals, faults, closed pipes and signals", function()
      -- max_tokens = 2: a run that left its token alive would make a later one fail with 403.
      local SIGNALS = { TERM = true, HUP = true, INT = true }
      local EXIT = { ok = 0, refused = 3, faults = 0, pipe = 0, missing = 4 }
      local ARGS = { ok = "list demo", refused = "list demo", faults = "list demo --max-attempts 6",
        pipe = "list jobs-10000 -o ndjson", missing = "list nowhere" }
      local kinds = { "ok", "refused", "faults", "pipe", "TERM", "HUP", "INT", "missing" }
      for i = 1, 24 do
        local kind = kinds[(i - 1) % #kinds + 1]
        emu:config { max_tokens = 2, refuse_bearer = kind == "refused",
          latency = { request = SIGNALS[kind] and 0.1 or 0 },
          faults = kind == "faults" and { rate = 0.3, kinds = { "503", "close", "truncated" }, retry_after = 0,
            seed = i } or { rate = 0 } }
        if SIGNALS[kind] then
          local base = background("cron" .. i, "list jobs-10000 -o ndjson", sa_env())
          assert.truthy(wait_for(10, function() return (read_file(base .. ".out") or "") ~= "" end))
          signal(base, kind)
          assert.truthy(wait_for(10, function() return (read_file(base .. ".code") or ""):match("%d+") end))
        else
          local r = run(ARGS[kind], sa_env(), kind == "pipe" and { pipe = "head -n 1" } or nil)
          assert.equal(EXIT[kind], r.code, kind .. ": " .. r.err)
        end
        assert.equal(0, emu:stats().live_tokens, "after run " .. i .. " (" .. kind .. ")")
      end
      local stats = emu:stats()
      assert.equal(stats.tokens, stats.revokes)
    end)
  end)

  describe("progress", function()
    it("shows on a terminal and clears itself", function()
      local r = run("list jobs-10000 -o csv --fields id", key_env(), { tty = true })
      assert.equal(0, r.code, r.out)
      assert.matches("atlasrestore: %d+ pages?, %d+ jobs?, %d+ jobs/s", r.out)
      assert.matches("\r\27[K", r.out, 1, true)
      assert.matches("atlasrestore: 20 pages, %d+ jobs", r.out)
      local ids = 0
      for l in r.out:gmatch("[^\n]+") do
        l = l:gsub("^.*\27%[K", "")
        if l:match("^%x+\r*$") and #l:match("^%x+") == 24 then ids = ids + 1 end
      end
      assert.equal(10000, ids)
      r = run("list jobs-10000 -o csv --fields id --no-progress", key_env(), { tty = true })
      assert.is_nil(r.out:find("jobs/s", 1, true))
    end)

    it("is absent on a pipe unless --progress forces it", function()
      local r = run("list jobs-1000 -o csv --fields id", key_env())
      assert.equal(0, r.code)
      assert.is_nil(r.err:find("jobs/s", 1, true))
      r = run("list jobs-1000 -o csv --fields id --progress", key_env())
      assert.matches("atlasrestore: 2 pages, %d+ jobs", r.err)
      r = run("list --projectId " .. emulator.MIXED_GROUP_ID .. " -o csv --progress", key_env())
      assert.matches("atlasrestore: %d+ pages?\r", r.err)
      assert.is_nil(r.err:find("jobs/s", 1, true))
      assert.is_nil(r.out:find("jobs/s", 1, true))
    end)
  end)

  describe("emulator", function()
    -- Starts `atlasrestore emulator args`; returns its files, its settings and nginx's pid.
    local function start(name, args)
      local base = background(name, "emulator " .. args, {})
      local text = wait_for(10, function()
        local out = read_file(base .. ".out") or ""
        return out:find("# pid file: ", 1, true) and out
      end)
      assert(text, "the emulator printed no settings: " .. (read_file(base .. ".err") or ""))
      local vars = {}
      for name_, value in text:gmatch("export ([%w_]+)='([^']*)'") do vars[name_] = value end
      local pid_file = text:match("# pid file: (%S+)")
      return base, vars, assert(tonumber(read_file(pid_file))), pid_file:match("^(.*)/nginx%.pid$"), text
    end

    local function gone(pid, prefix)
      return wait_for(10, function()
        -- "[/]tmp/...": the pattern does not match the shell that runs pgrep.
        local _, code = sh("pgrep -f " .. q("[/]" .. prefix:sub(2)) .. " >/dev/null")
        return not alive(pid) and not read_file(prefix .. "/nginx.conf") and code == 1
      end)
    end

    it("starts, is listed through with the command, and stops on SIGINT leaving nothing behind", function()
      local base, vars, pid, prefix, text = start("emu-int", "--jobs 42")
      assert.matches("not secrets", text, 1, true)
      assert.equal(G, vars.MONGODB_ATLAS_PROJECT_ID)
      assert.matches("^http://127%.0%.0%.1:%d+$", vars.MONGODB_ATLAS_BASE_URL)
      local r = run("list sandbox -o json", vars)
      assert.equal(0, r.code, r.err)
      assert.equal(42, #cjson.decode(r.out))
      assert.equal(7, #lines_of(run("list demo -o ndjson", vars).out))
      signal(base, "INT")
      assert.equal("0", wait_for(10, function() return (read_file(base .. ".code") or ""):match("%d+") end))
      assert.truthy(gone(pid, prefix))
      assert.matches("emulator stopped", read_file(base .. ".err"), 1, true)
    end)

    it("serves TLS and a service account, counts its revocations, and stops on SIGTERM", function()
      local base, vars, pid, prefix, text = start("emu-term", "--tls --service-account")
      assert.matches("^https://", vars.MONGODB_ATLAS_BASE_URL)
      assert.truthy(read_file(vars.ATLASRESTORE_CA_FILE))
      assert.truthy(vars.MONGODB_ATLAS_CLIENT_ID and not vars.MONGODB_ATLAS_PUBLIC_API_KEY)
      local r = run("list flex-demo -o csv --fields id", vars)
      assert.equal(0, r.code, r.err)
      assert.equal(9, #lines_of(r.out))
      local stats_url = text:match("# stats: curl (%S+)")
      local p = io.popen(emulator.clean_env("curl -s " .. q(stats_url)))
      local stats = cjson.decode(p:read("*a"))
      p:close()
      assert.equal(1, stats.revokes)
      signal(base, "TERM")
      assert.equal("0", wait_for(10, function() return (read_file(base .. ".code") or ""):match("%d+") end))
      assert.truthy(gone(pid, prefix))
    end)

    it("runs the README's example as it is written", function()
      local readme = assert(read_file(ROOT .. "/README.md"))
      local block = assert(readme:match("<!%-%- example: spec/e2e/cli_spec%.lua %-%->\n```sh\n(.-\n)```\n"))
      local dir = WORK .. "/readme"
      assert(sh("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir)))
      local f = assert(io.open(dir .. "/example.sh", "w"))
      f:write(block)
      f:close()
      local _, code = sh("cd " .. q(dir) .. " && " .. CLEAR .. "PATH=" .. q(PREFIX .. "/bin") .. ":\"$PATH\" "
        .. "timeout 60 bash example.sh >out 2>err")
      local out, err = read_file(dir .. "/out"), read_file(dir .. "/err")
      assert.equal(0, code, err)
      assert.matches("^%s*2500\n", out)
      assert.matches("\n6a7a1c0e5f1b2c3d4e5f6a02 .* COMPLETED ", out)
      assert.matches("\nexit 0\n", out)
      local prefix = read_file(dir .. "/emulator.env"):match("# pid file: (%S+)/nginx%.pid")
      assert.truthy(prefix)
      assert.truthy(wait_for(10, function()
        local _, pgrep = sh("pgrep -f " .. q("[/]" .. prefix:sub(2)) .. " >/dev/null")
        return not read_file(prefix .. "/nginx.conf") and pgrep == 1
      end))
    end)

    it("leaves nothing behind even when killed with SIGKILL", function()
      local base, _, pid, prefix = start("emu-kill", "")
      signal(base, "KILL")
      assert.truthy(gone(pid, prefix))
    end)

    it("injects faults", function()
      local base, vars, pid, prefix = start("emu-faults", "--fault-rate 1")
      local r = run("list demo --max-attempts 1", vars)
      assert.truthy(r.code == 5 or r.code == 7, r.err)
      signal(base, "TERM")
      assert.truthy(gone(pid, prefix))
    end)

    it("adds its latency before every request", function()
      local base, vars, pid, prefix = start("emu-latency", "--latency 0.3")
      local started = socket.gettime()
      local r = run("list demo --endpoint serverless --concurrency 1 -o csv --fields id", vars)
      local elapsed = socket.gettime() - started
      assert.equal(0, r.code, r.err)
      -- Digest: the challenge, then the page; each waits 0.3 s at the emulator.
      assert.truthy(elapsed >= 0.6, elapsed)
      signal(base, "TERM")
      assert.truthy(gone(pid, prefix))
    end)
  end)

  describe("debug", function()
    it("logs each request on stderr, scrubbed, and nothing on stdout", function()
      local r = run("list demo --debug -o json", sa_env())
      assert.equal(0, r.code, r.err)
      assert.matches("atlasrestore: > GET ", r.err, 1, true)
      assert.matches("auth Bearer", r.err, 1, true)
      assert.equal(7, #cjson.decode(r.out))
    end)
  end)
end)
