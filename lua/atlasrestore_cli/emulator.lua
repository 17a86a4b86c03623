--- `atlasrestore emulator`: runs the bundled Atlas emulator (the atlasrestore-emulator package), its
-- settings printed as export lines for a shell's eval: in the foreground until SIGINT or SIGTERM, or
-- as a daemon that `atlasrestore emulator stop` ends; when it stops, nothing is left behind.
local curl = require "atlasrestore.curl"

local command = {}

local PID_FILE_ENV = "ATLASRESTORE_EMULATOR_PID_FILE"

--- Declares the command's options on the argparse command `cmd`.
function command.options(cmd, values)
  cmd:require_command(false)
  cmd:option("--jobs", "Restore jobs of the emulator's `sandbox` Flex cluster (default 100).", "100", values.count)
    :argname("<n>")
  cmd:option("--latency", "Seconds added before every request (default none).", nil, values.seconds)
    :argname("<seconds>")
  cmd:option("--fault-rate", "The share of API requests that fail: a 429 with Retry-After or a 503 (0..1, "
    .. "default 0).", nil, values.fraction):argname("<rate>")
  cmd:flag("--tls", "Serves HTTPS, with a throwaway CA (its file goes to ATLASRESTORE_CA_FILE).")
  cmd:flag("--service-account", "Prints the emulator's service account instead of its API key.")
  cmd:flag("--daemon", "Returns once the emulator listens, leaving it running: eval \"$(atlasrestore emulator "
    .. "--daemon)\" in a script, and `atlasrestore emulator stop` when done. Its pid file goes to $" .. PID_FILE_ENV
    .. ".")
  local stop = cmd:command("stop", "Stops the emulator that `atlasrestore emulator --daemon` started, and removes "
    .. "its directory.")
  stop:option("--pid-file", "The emulator's pid file. Default: $" .. PID_FILE_ENV .. ".")
    :argname("<file>")
end

-- The export lines: the emulator's own fixed test credentials, which are not secrets.
local function settings(emu, emulator, args, shell_quote)
  local lines = {
    "# atlasrestore emulator: test credentials of this emulator only, not secrets",
    "export MONGODB_ATLAS_BASE_URL=" .. shell_quote(emu.base_url),
    "export MONGODB_ATLAS_PROJECT_ID=" .. shell_quote(emu.group_id),
  }
  if args.service_account then
    lines[#lines + 1] = "export MONGODB_ATLAS_CLIENT_ID=" .. shell_quote(emu.client_id)
    lines[#lines + 1] = "export MONGODB_ATLAS_CLIENT_SECRET=" .. shell_quote(emu.client_secret)
  else
    lines[#lines + 1] = "export MONGODB_ATLAS_PUBLIC_API_KEY=" .. shell_quote(emu.public_key)
    lines[#lines + 1] = "export MONGODB_ATLAS_PRIVATE_API_KEY=" .. shell_quote(emu.private_key)
  end
  if emu.ca_file then lines[#lines + 1] = "export ATLASRESTORE_CA_FILE=" .. shell_quote(emu.ca_file) end
  lines[#lines + 1] = "export " .. PID_FILE_ENV .. "=" .. shell_quote(emu.pid_file)
  lines[#lines + 1] = ("# instances: sandbox (Flex, %d jobs), demo (serverless), flex-demo, dedicated-0, "
    .. "jobs-10000, ...; a mixed project: %s"):format(args.jobs, emulator.MIXED_GROUP_ID)
  lines[#lines + 1] = "# stats: curl " .. emu.admin_url .. "/__emulator/stats"
  lines[#lines + 1] = "# pid file: " .. emu.pid_file
  return table.concat(lines, "\n") .. "\n"
end

local function is_signal(e)
  return e == "atlasrestore: SIGINT" or e == "atlasrestore: SIGTERM"
end

-- Debian's packages of the Lua modules the starter needs.
local DEBIAN = { socket = "lua-socket", cjson = "lua-cjson" }

-- The starter and its shell helpers, or nil once what is missing has been said.
local function starter()
  local loaded, emulator = pcall(require, "atlasrestore_emulator")
  -- Both through pcall: the package is optional (spec/support/installed.lua counts a plain require).
  if loaded then return emulator, select(2, pcall(require, "atlasrestore_emulator.nginx")) end
  local missing = tostring(emulator):match("module '([^']+)' not found")
  if missing == "atlasrestore_emulator" then
    io.stderr:write("atlasrestore: the emulator is the package atlasrestore-emulator, which is not installed: ",
      "luarocks install atlasrestore-emulator, or make install-emulator in atlasrestore's source tree\n")
  elseif missing and DEBIAN[missing:match("^[^.]+")] then
    io.stderr:write("atlasrestore: the emulator needs the Lua module ", missing, ": apt-get install ",
      DEBIAN[missing:match("^[^.]+")], "\n")
  else
    error(emulator, 0)
  end
end

local function stop(args)
  local emulator = starter()
  if not emulator then return 2 end
  local pid_file = args.pid_file or os.getenv(PID_FILE_ENV)
  if not pid_file or pid_file == "" then
    io.stderr:write("atlasrestore: which emulator? give --pid-file or set ", PID_FILE_ENV,
      " (atlasrestore emulator --daemon prints it)\n")
    return 2
  end
  local ok, err = emulator.stop_daemon(pid_file)
  if not ok then
    io.stderr:write("atlasrestore: ", err, "\n")
    return 1
  end
  io.stderr:write("atlasrestore: emulator stopped\n")
  return 0
end

--- Runs the emulator, or stops a daemon; returns the exit code (0 once stopped by a signal).
function command.run(args)
  if args.stop then return stop(args) end
  local emulator, nginx = starter()
  if not emulator then return 2 end
  local missing = emulator.missing_packages { tls = args.tls }
  if missing then
    io.stderr:write("atlasrestore: the emulator needs Debian's packages ", table.concat(missing, " "),
      ": apt-get install ", table.concat(missing, " "), "\n")
    return 2
  end
  local emu = emulator.start { tls = args.tls, watchdog = true, daemon = args.daemon }
  local _, e = pcall(function()
    local faults
    if args.fault_rate then
      faults = { seed = os.time(), rate = args.fault_rate, kinds = { "429", "503" }, retry_after = 1 }
    end
    emu:config { sandbox_jobs = args.jobs, latency = args.latency and { request = args.latency } or nil,
      faults = faults }
    io.stdout:write(settings(emu, emulator, args, nginx.sh_quote))
    io.stdout:flush()
    if args.daemon then
      io.stderr:write("atlasrestore: emulator listening on ", emu.base_url, "; atlasrestore emulator stop stops it\n")
      return
    end
    io.stderr:write("atlasrestore: emulator listening on ", emu.base_url, "; Ctrl-C stops it\n")
    while true do curl.sleep(0.2) end
  end)
  if args.daemon and e == nil then return 0 end
  emu:stop()
  if is_signal(e) then
    io.stderr:write("atlasrestore: emulator stopped\n")
    return 0
  end
  error(e, 0)
end

return command
