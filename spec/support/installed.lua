-- The three packages, each installed alone into a tree of its own, as `make packaging` leaves
-- them:  lua5.x spec/support/installed.lua lib=TREE cli=TREE emulator=TREE
-- For each package, in a fresh interpreter: every `require` of every installed file is its own
-- module, a module of a declared dependency (its rockspec's), or the host's (nginx's ngx, LuaJIT's
-- bit); every declared dependency is required somewhere; and each module loads from its tree
-- with nothing but the trees of the declared packages and the system's Lua modules.  Then all
-- three together: the emulator starts, the library lists it, the installed command lists it,
-- and without the emulator's package the command says which package to install.
-- Runs on any supported Lua: a tree's version directory is the interpreter's.
local version = _VERSION:match("%d+%.%d+") -- LuaJIT reports 5.1, as its rocks do
local interpreter = arg[-1] or "lua"

local ROCKSPECS = { lib = "atlasrestore-scm-1.rockspec", cli = "atlasrestore-cli-scm-1.rockspec",
  emulator = "atlasrestore-emulator-scm-1.rockspec" }
local PACKAGE_OF_ROCK = { atlasrestore = "lib", ["atlasrestore-cli"] = "cli", ["atlasrestore-emulator"] = "emulator" }
-- The modules each rock a package may depend on provides: a name, or a name and its submodules.
local MODULES_OF_ROCK = {
  atlasrestore = { "atlasrestore", "atlasrestore.*" },
  ["atlasrestore-cli"] = { "atlasrestore_cli", "atlasrestore_cli.*" },
  ["atlasrestore-emulator"] = { "atlasrestore_emulator", "atlasrestore_emulator.*" },
  argparse = { "argparse" },
  ["lua-cjson"] = { "cjson", "cjson.safe" },
  luasocket = { "socket", "socket.*", "mime", "ltn12" },
}
-- What the host provides: nginx's Lua module (ngx.*, resty.*) and LuaJIT (bit, ffi, jit.*).
local HOST = { "ngx", "ngx.*", "resty.*", "bit", "ffi", "jit", "jit.*" }

local function covers(patterns, name)
  for _, p in ipairs(patterns) do
    if p == name or (p:sub(-2) == ".*" and name:sub(1, #p - 1) == p:sub(1, -2)) then return true end
  end
  return false
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function lines_of(cmd)
  local p = assert(io.popen(cmd))
  local out = {}
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

-- package.searchpath is 5.2+ (and LuaJIT).
local function searchpath(name, path)
  for template in path:gmatch("[^;]+") do
    local file = template:gsub("%?", (name:gsub("%.", "/")))
    if read_file(file) then return file end
  end
end

-- The rockspec's declared rocks, "lua" left out.
local function dependencies(pkg)
  local spec = {}
  local chunk = assert(loadfile(ROCKSPECS[pkg], "t", spec)) -- 5.2+ takes the env here
  if setfenv then setfenv(chunk, spec) end -- luacheck: ignore 113 (5.1's)
  chunk()
  local rocks = {}
  for _, dep in ipairs(spec.dependencies or {}) do
    local rock = dep:match("^%s*([%w_.-]+)")
    if rock ~= "lua" then rocks[#rocks + 1] = rock end
  end
  return rocks
end

local function lua_dir(tree) return tree .. "/share/lua/" .. version end
local function lib_dir(tree) return tree .. "/lib/lua/" .. version end
local function lua_paths(tree) return lua_dir(tree) .. "/?.lua;" .. lua_dir(tree) .. "/?/init.lua;" end

-- Every module the tree holds: name -> file.
local function modules_of(tree)
  local found = {}
  for _, dir in ipairs { lua_dir(tree), lib_dir(tree) } do
    for _, file in ipairs(lines_of("find " .. sh_quote(dir) .. " \\( -name '*.lua' -o -name '*.so' \\) 2>/dev/null")) do
      local name = file:sub(#dir + 2):gsub("%.[%a]+$", ""):gsub("/init$", ""):gsub("/", ".")
      found[name] = file
    end
  end
  return found
end

-- The modules a Lua file requires by name (require "x", require("x"), require 'x'); comments
-- left out.  A module loaded through pcall(require, name) is optional and is not counted.
local function requires_of(file)
  local src = read_file(file):gsub("%-%-%[(=*)%[.-%]%1%]", ""):gsub("%-%-[^\n]*", "")
  local names = {}
  for name in src:gmatch("require%s*%(?%s*[\"']([%w_.]+)[\"']") do names[#names + 1] = name end
  return names
end

local failures = {}
local function fail(fmt, ...) failures[#failures + 1] = fmt:format(...) end

-- One package, in this interpreter (started for it alone).
local function check(pkg, trees)
  local tree = assert(trees[pkg], "no tree for " .. pkg)
  local own = modules_of(tree)
  if not next(own) then fail("%s: nothing installed under %s", pkg, tree) end
  local declared, patterns, used = dependencies(pkg), {}, {}
  local path, cpath = lua_paths(tree), lib_dir(tree) .. "/?.so;"
  for _, rock in ipairs(declared) do
    local provides = MODULES_OF_ROCK[rock]
    if not provides then fail("%s: the dependency %s provides no module this check knows", pkg, rock) end
    for _, p in ipairs(provides or {}) do patterns[#patterns + 1] = { p, rock } end
    local other = PACKAGE_OF_ROCK[rock]
    if other then
      path, cpath = path .. lua_paths(trees[other]), cpath .. lib_dir(trees[other]) .. "/?.so;"
    end
  end
  -- The system's directories, never the current one.
  local function system(p)
    local kept = {}
    for entry in p:gmatch("[^;]+") do
      if entry:sub(1, 2) ~= "./" then kept[#kept + 1] = entry end
    end
    return table.concat(kept, ";")
  end
  package.path, package.cpath = path .. system(package.path), cpath .. system(package.cpath)

  for name, file in pairs(own) do
    if file:match("%.lua$") then
      for _, req in ipairs(requires_of(file)) do
        local rock
        for _, p in ipairs(patterns) do
          if covers({ p[1] }, req) then rock = p[2] end
        end
        if own[req] then
          used.self = true
        elseif rock then
          used[rock] = true
          if PACKAGE_OF_ROCK[rock] and not searchpath(req, package.path .. ";" .. package.cpath) then
            fail("%s: %s requires %s, which %s does not install", pkg, name, req, rock)
          end
        elseif not covers(HOST, req) then
          fail("%s: %s requires %s, which no declared dependency provides", pkg, name, req)
        end
      end
    end
  end
  for _, rock in ipairs(declared) do
    if not used[rock] then fail("%s: declares %s, which none of its modules requires", pkg, rock) end
  end

  -- Each module loads, and from this tree; those that need the host's modules (nginx's ngx,
  -- LuaJIT's bit), themselves or through another, only run there.
  local nginx_only = 0
  for name, file in pairs(own) do
    local ok, err = pcall(require, name)
    if not ok then
      -- Lua 5.1 and LuaJIT leave a sentinel (a light userdata, which LuaJIT calls a number) for
      -- a module that failed: "loop or previous error" next time.
      for other in pairs(own) do
        local v = package.loaded[other]
        if type(v) == "userdata" or type(v) == "number" then package.loaded[other] = nil end
      end
      local missing = tostring(err):match("module '([^']+)' not found")
      if (missing and covers(HOST, missing)) or tostring(err):find("global 'ngx'", 1, true) then
        nginx_only = nginx_only + 1
      else
        fail("%s: require %q failed: %s", pkg, name, tostring(err))
      end
    else
      local from = searchpath(name, file:match("%.so$") and package.cpath or package.path)
      if from ~= file then fail("%s: %s loads from %s, not from %s", pkg, name, tostring(from), file) end
    end
  end
  local count = 0
  for _ in pairs(own) do count = count + 1 end
  print(("%s under %s: %d modules (%d for nginx only), requires covered by: %s"):format(pkg, tree, count,
    nginx_only, #declared > 0 and table.concat(declared, ", ") or "lua alone"))
end

-- All three together: the emulator, a listing through the library and through the command.
local function together(trees)
  package.path = lua_paths(trees.lib) .. lua_paths(trees.emulator) .. package.path
  package.cpath = lib_dir(trees.lib) .. "/?.so;" .. package.cpath
  local atlasrestore = require "atlasrestore"
  local emulator = require "atlasrestore_emulator"
  local shell = require("atlasrestore_emulator.nginx").shell
  -- The command finds its own tree; the library's comes from LUA_PATH and LUA_CPATH.
  local function command(args, with_emulator)
    local env = "env -u MONGODB_ATLAS_CLIENT_ID -u MONGODB_ATLAS_CLIENT_SECRET -u MONGODB_ATLAS_ACCESS_TOKEN "
      .. "MONGODB_ATLAS_PUBLIC_API_KEY=" .. sh_quote(emulator.PUBLIC_KEY) .. " MONGODB_ATLAS_PRIVATE_API_KEY="
      .. sh_quote(emulator.PRIVATE_KEY) .. " LUA_PATH="
      .. sh_quote(lua_paths(trees.lib) .. (with_emulator and lua_paths(trees.emulator) or "") .. ";")
      .. " LUA_CPATH=" .. sh_quote(lib_dir(trees.lib) .. "/?.so;;") .. " "
    local p = assert(io.popen(shell(env .. sh_quote(trees.cli .. "/bin/atlasrestore") .. " " .. args
      .. " 2>&1; echo \"exit $?\"")))
    local out = p:read("*a")
    p:close()
    return out
  end
  local out = command("emulator", false)
  if not (out:find("atlasrestore-emulator", 1, true) and out:find("\nexit 2\n$")) then
    fail("without its package, `atlasrestore emulator` does not say which to install:\n%s", out)
  end
  local emu = emulator.start()
  local ok, err = pcall(function()
    out = command("list demo -o csv --fields id --projectId " .. emu.group_id .. " --base-url " .. emu.base_url,
      true)
    local _, rows = out:gsub("\r\n", "")
    if not (rows == 8 and out:find("\nid\r\n")) then fail("the installed command does not list demo:\n%s", out) end
    local client, cerr = atlasrestore.new {
      base_url = emu.base_url, public_key = emu.public_key, private_key = emu.private_key, on_warning = function() end }
    if not client then error(tostring(cerr), 0) end
    local jobs, lerr = client:all_restore_jobs(emu.group_id, "demo")
    if not jobs then error(tostring(lerr), 0) end
    if #jobs ~= 7 then fail("the library lists %d jobs of demo, not 7", #jobs) end
    client:close()
  end)
  emu:stop()
  if not ok then fail("the listing through the library failed: %s", tostring(err)) end
  print(("together (%s): the emulator, atlasrestore %s and the command list the 7 jobs of demo"):format(
    rawget(_G, "jit") and rawget(_G, "jit").version or _VERSION, atlasrestore._VERSION))
end

if arg[1] == "--check" then
  local trees = {}
  for i = 3, #arg do
    local k, v = arg[i]:match("^(%w+)=(.+)$")
    trees[k] = v
  end
  check(arg[2], trees)
else
  local trees, words = {}, {}
  for i = 1, #arg do
    local k, v = assert(arg[i]:match("^(%w+)=(.+)$"))
    trees[k] = v
    words[#words + 1] = sh_quote(arg[i])
  end
  for _, pkg in ipairs { "lib", "cli", "emulator" } do
    local p = assert(io.popen(sh_quote(interpreter) .. " " .. sh_quote(arg[0]) .. " --check " .. pkg .. " "
      .. table.concat(words, " ") .. " 2>&1; echo \"exit $?\""))
    local out = p:read("*a")
    p:close()
    io.write((out:gsub("exit 0\n$", "")))
    if not out:find("exit 0\n$") then fail("the check of %s failed", pkg) end
  end
  if #failures == 0 then together(trees) end
end
if #failures > 0 then
  io.stderr:write(table.concat(failures, "\n"), "\n")
  os.exit(1)
end
