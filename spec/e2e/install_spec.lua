-- What `make install` puts beside the command and what a shell script does with it: the bash
-- completion and the man page atlasrestore(1), the emulator as a daemon started and stopped in one
-- line each, --allow-http for a mock that is not on loopback, and a LuaJIT install beside a PUC one.
local emulator = require "support.emulator"
local compat = require "support.compat"

local q = emulator.sh_quote
local read_file = emulator.read_file

local ABI = compat.LUA
local ROOT = io.popen("pwd -P"):read("*l")
local PREFIX = ROOT .. "/build/install-spec/" .. ABI
local BIN = PREFIX .. "/bin/atlasrestore"
local WORK = PREFIX .. "-runs"
local MAKE = "cd " .. q(ROOT) .. " && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -s "
local CLEAR = "env -u MONGODB_ATLAS_PUBLIC_API_KEY -u MONGODB_ATLAS_PRIVATE_API_KEY -u MONGODB_ATLAS_CLIENT_ID "
  .. "-u MONGODB_ATLAS_CLIENT_SECRET -u MONGODB_ATLAS_ACCESS_TOKEN -u MONGODB_ATLAS_BASE_URL "
  .. "-u MONGODB_ATLAS_PROJECT_ID -u ATLASRESTORE_CA_FILE -u ATLASRESTORE_ALLOW_HTTP -u ATLASRESTORE_EMULATOR_PID_FILE "

-- Runs a bash script in WORK (bounded by timeout); returns stdout, stderr and the exit code.
local function bash(script, name)
  local base = WORK .. "/" .. name
  local f = assert(io.open(base .. ".sh", "w"))
  f:write(script)
  f:close()
  local _, _, code = compat.execute(emulator.clean_env("cd " .. q(WORK) .. " && " .. CLEAR .. "PATH="
    .. q(PREFIX .. "/bin") .. ":\"$PATH\" "
    .. "timeout 60 bash " .. q(base .. ".sh") .. " </dev/null >" .. q(base .. ".out") .. " 2>" .. q(base .. ".err")))
  return read_file(base .. ".out") or "", read_file(base .. ".err") or "", code
end

describe("make install", function()
  lazy_setup(function()
    local vars = ABI == "luajit" and "install install-cli LUAJIT=1" or "install LUA_VERSION=" .. ABI
    assert(compat.execute(emulator.clean_env("rm -rf " .. q(PREFIX) .. " && mkdir -p " .. q(WORK) .. " && " .. MAKE
      .. vars .. " PREFIX=" .. q(PREFIX) .. " >" .. q(WORK .. "/install.log") .. " 2>&1")),
      read_file(WORK .. "/install.log"))
  end)

  describe("the bash completion", function()
    local file = PREFIX .. "/share/bash-completion/completions/atlasrestore"

    it("is installed, parses, and completes the commands and their options", function()
      assert.truthy(read_file(file), "no " .. file)
      local out, err, code = bash("set -e\nbash -n " .. q(file) .. "\nsource " .. q(file) .. "\n"
        .. "COMP_WORDS=(atlasrestore li); COMP_CWORD=1; _atlasrestore; echo \"${COMPREPLY[*]}\"\n"
        .. "COMP_WORDS=(atlasrestore list --allow); COMP_CWORD=2; _atlasrestore; echo \"${COMPREPLY[*]}\"\n"
        .. "COMP_WORDS=(atlasrestore emulator st); COMP_CWORD=2; _atlasrestore; echo \"${COMPREPLY[*]}\"\n",
        "completion")
      assert.equal(0, code, err)
      assert.equal("list\n--allow-http\nstop\n", out)
    end)

    it("is what `atlasrestore completion bash` prints; zsh and fish get theirs", function()
      local out, err, code = bash("atlasrestore completion bash; atlasrestore completion zsh >zsh.out; "
        .. "atlasrestore completion fish >fish.out; atlasrestore completion tcsh; echo \"tcsh $?\"", "completions")
      assert.equal(0, code, err)
      assert.equal(read_file(file) .. "tcsh 2\n", out)
      assert.matches("#compdef atlasrestore", read_file(WORK .. "/zsh.out"), 1, true)
      assert.matches("complete -c atlasrestore", read_file(WORK .. "/fish.out"), 1, true)
    end)
  end)

  describe("the man page", function()
    local page = PREFIX .. "/share/man/man1/atlasrestore.1"

    it("renders with man -l, from the same text as --help, each command included", function()
      local out, err, code = bash("MANPAGER=cat MANWIDTH=200 man -l " .. q(page) .. " | head -n 400; "
        .. "echo '== --help'; atlasrestore --help", "man")
      assert.equal(0, code, err)
      local rendered, help = out:match("^(.-)\n== %-%-help\n(.*)$")
      assert.truthy(rendered, out)
      assert.matches("^ATLASRESTORE%(1%)", rendered)
      assert.matches("NAME%s+atlasrestore %- list the restore jobs", rendered)
      local description = assert(help:match("^Usage: [^\n]+\n\n([^\n]+)\n"), help)
      assert.matches(description:sub(1, 60), (rendered:gsub("%s+", " ")), 1, true)
      for _, command in ipairs { "list", "describe", "watch", "emulator", "completion" } do
        assert.matches("atlasrestore " .. command .. "\n", rendered, 1, true)
      end
      assert.matches("--allow-http", rendered, 1, true)
    end)

    it("is found by man under the prefix's MANPATH", function()
      local out, err, code = bash("MANPAGER=cat MANPATH=" .. q(PREFIX .. "/share/man")
        .. " man atlasrestore | head -n 3",
        "manpath")
      assert.equal(0, code, err)
      assert.matches("ATLASRESTORE(1)", out, 1, true)
    end)
  end)

  describe("the emulator as a daemon", function()
    it("starts with one line, is listed, and stops with one line, leaving no nginx and no directory", function()
      local out, err, code = bash([[
set -e
eval "$(atlasrestore emulator --daemon --jobs 3)"
echo "pid file $ATLASRESTORE_EMULATOR_PID_FILE"
pid=$(cat "$ATLASRESTORE_EMULATOR_PID_FILE")
atlasrestore list sandbox -o csv --fields id | wc -l
atlasrestore emulator stop
i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
kill -0 "$pid" 2>/dev/null && echo "nginx still runs"
[ -e "${ATLASRESTORE_EMULATOR_PID_FILE%/*}" ] && echo "its directory is still there"
set +e
atlasrestore emulator stop; echo "again $?"
]], "daemon")
      assert.equal(0, code, err)
      assert.matches("^pid file /tmp/atlas%-emu%.%w+/nginx%.pid\n%s*4\nagain 1\n$", out)
      assert.matches("no emulator runs with the pid file", err, 1, true)
    end)

    it("says how to name the emulator to stop, and refuses a file that is not an emulator's", function()
      local out, err, code = bash("atlasrestore emulator stop; echo \"no file $?\"; "
        .. "atlasrestore emulator stop --pid-file /etc/passwd; echo \"passwd $?\"", "stop-usage")
      assert.equal(0, code, err)
      assert.equal("no file 2\npasswd 1\n", out)
      assert.matches("--pid-file or set ATLASRESTORE_EMULATOR_PID_FILE", err, 1, true)
      assert.matches("/etc/passwd is not the pid file of an emulator", err, 1, true)
    end)
  end)

  describe("--allow-http", function()
    local emu
    lazy_setup(function() emu = emulator.start() end)
    lazy_teardown(function() if emu then emu:stop() end end)

    -- The emulator through an address that is not loopback by its name: the IPv4-mapped IPv6 one.
    local function list(words)
      return bash("MONGODB_ATLAS_PUBLIC_API_KEY=" .. q(emu.public_key) .. " MONGODB_ATLAS_PRIVATE_API_KEY="
        .. q(emu.private_key) .. " " .. words .. " --projectId " .. emu.group_id .. " --base-url "
        .. q("http://[::ffff:127.0.0.1]:" .. emu.port), "allow-http")
    end
    local WARNING = "warning: plain http:// to [::ffff:127.0.0.1], not a loopback host (allow_http): the "
      .. "credentials and the restore jobs cross the network unencrypted"

    it("is needed for plain http:// to a host that is not loopback", function()
      local _, err, code = list("atlasrestore list demo -o ndjson")
      assert.equal(2, code)
      assert.matches("plain http:// on a non-loopback host", err, 1, true)
      assert.equal(0, emu:stats().requests)
    end)

    for _, words in ipairs { "atlasrestore list demo -o ndjson --allow-http",
      "ATLASRESTORE_ALLOW_HTTP=1 atlasrestore list demo -o ndjson" } do
      it("lets the command list, with one warning: " .. words, function()
        local out, err, code = list(words)
        assert.equal(0, code, err)
        local _, jobs = out:gsub("\n", "")
        assert.equal(7, jobs)
        local _, warnings = err:gsub(WARNING:gsub("%p", "%%%0"), "")
        assert.equal(1, warnings, err)
      end)
    end
  end)

  describe("a LuaJIT install into the same prefix", function()
    it("leaves the command that a PUC Lua build installed", function()
      if ABI == "luajit" then return end
      local before = read_file(BIN)
      assert(compat.execute(emulator.clean_env(MAKE .. "install LUAJIT=1 PREFIX=" .. q(PREFIX) .. " >"
        .. q(WORK .. "/luajit.log") .. " 2>&1")), read_file(WORK .. "/luajit.log"))
      assert.equal(before, read_file(BIN))
      assert.equal("#!/usr/bin/env lua" .. ABI, before:match("^[^\n]*"))
      assert.truthy(read_file(PREFIX .. "/lib/lua/5.1/atlasrestore/core.so"), "the LuaJIT library is installed")
      assert.is_nil(read_file(PREFIX .. "/lib/lua/5.1/atlasrestore_cli/process.so"))
    end)
  end)
end)
