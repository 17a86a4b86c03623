--- `atlasrestore emulator`: runs the bundled Atlas emulator until SIGINT or SIGTERM, its
-- settings printed as export lines for a shell's eval; when it stops, nothing is left behind.
local curl = require "atlasrestore.curl"

local command = {}

--- Declares the command's options on the argparse command `cmd`.
function command.options(cmd, values)
  cmd:option("--jobs", "Restore jobs of the emulator's `sandbox` Flex cluster (default 100).", "100", values.count)
    :argname("<n>")
  cmd:option("--latency", "Seconds added before every request (default none).", nil, values.seconds)
    :argname("<seconds>")
  cmd:option("--fault-rate", "The share of API requests that fail: a 429 with Retry-After or a 503 (0..1, "
    .. "default 0).", nil, values.fraction):argname("<rate>")
  cmd:flag("--tls", "Serves HTTPS, with a throwaway CA (its file goes to ATLASRESTORE_CA_FILE).")
  cmd:flag("--service-account", "Prints the emulator's service account instead of its API key.")
end

-- The export lines: the emulator's own fixed test credentials, which are not secrets.
local function settings(emu, emulator, args)
  local shell_quote = emulator.sh_quote
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
  lines[#lines + 1] = ("# instances: sandbox (Flex, %d jobs), demo (serverless), flex-demo, dedicated-0, "
    .. "jobs-10000, ...; a mixed project: %s"):format(args.jobs, emulator.MIXED_GROUP_ID)
  lines[#lines + 1] = "# stats: curl " .. emu.admin_url .. "/__emulator/stats"
  lines[#lines + 1] = "# pid file: " .. emu.prefix .. "/nginx.pid"
  return table.concat(lines, "\n") .. "\n"
end

local function is_signal(e)
  return e == "atlasrestore: SIGINT" or e == "atlasrestore: SIGTERM"
end

--- Runs the emulator; returns the exit code (0 once stopped by a signal).
function command.run(args)
  local loaded, emulator = pcall(require, "atlasrestore_emulator")
  local missing = { "lua-socket" }
  if loaded then missing = emulator.missing_packages { tls = args.tls } end
  if missing then
    io.stderr:write("atlasrestore: the emulator needs Debian's packages ", table.concat(missing, " "),
      ": apt-get install ", table.concat(missing, " "), "\n")
    return 2
  end
  local emu = emulator.start { tls = args.tls, watchdog = true }
  local _, e = pcall(function()
    local faults
    if args.fault_rate then
      faults = { seed = os.time(), rate = args.fault_rate, kinds = { "429", "503" }, retry_after = 1 }
    end
    emu:config { sandbox_jobs = args.jobs, latency = args.latency and { request = args.latency } or nil,
      faults = faults }
    io.stdout:write(settings(emu, emulator, args))
    io.stdout:flush()
    io.stderr:write("atlasrestore: emulator listening on ", emu.base_url, "; Ctrl-C stops it\n")
    while true do curl.sleep(0.2) end
  end)
  emu:stop()
  if is_signal(e) then
    io.stderr:write("atlasrestore: emulator stopped\n")
    return 0
  end
  error(e, 0)
end

return command
