--- The atlasrestore command: its arguments (lua-argparse), one client per run that is always
-- closed (a service-account token revoked, also after an error, a closed pipe or a signal), the exit codes.
local argparse = require "argparse"
local atlasrestore = require "atlasrestore"
local curl = require "atlasrestore.curl"
local endpoints = require "atlasrestore.endpoints"
local metrics = require "atlasrestore.metrics"
local platform = require "atlasrestore.platform"
local process = require "atlasrestore_cli.process"
local exits = require "atlasrestore_cli.exits"
local output = require "atlasrestore_cli.output"
local outfile = require "atlasrestore_cli.outfile"
local progress = require "atlasrestore_cli.progress"
local values = require "atlasrestore_cli.values"

local cli = {}

local PROJECT_ENV = "MONGODB_ATLAS_PROJECT_ID"
local CA_FILE_ENV = "ATLASRESTORE_CA_FILE"
local OUTPUT_ENV = "MONGODB_ATLAS_OUTPUT"
local EBADF = 9 -- Linux and the BSDs: a file descriptor that is not open
local ALLOW_HTTP_ENV = "ATLASRESTORE_ALLOW_HTTP"
local QUIET_ENV = "ATLASRESTORE_QUIET"

local function nonempty(v) if v ~= nil and v ~= "" then return v end end

-- The command line of each parser ("atlasrestore list"), for the `--help` a usage error points to.
local NAMES = setmetatable({}, { __mode = "k" })

-- A usage error, found by argparse or after parsing: one line, exit 2.
local Usage = {}
local function usage_error(cmd, message)
  local name = NAMES[cmd] or "atlasrestore"
  message = tostring(message):gsub("%s*\n%s*Did you mean (.-)$", " (did you mean %1)"):gsub("%s*\n%s*", "; ")
  error(setmetatable({ text = ("atlasrestore: USAGE: %s (see '%s --help')\n"):format(message, name) }, Usage), 0)
end

-- --help and --version: the text written and flushed, or exit 1 (a full disk, a closed pipe).
local function print_and_exit(text)
  local ok, why = io.stdout:write(text)
  if ok then ok, why = io.stdout:flush() end
  if not ok then
    io.stderr:write("atlasrestore: cannot write the output: ", tostring(why), "\n")
    os.exit(exits.FAILURE)
  end
  os.exit(exits.OK)
end

local function with_help(cmd, name)
  NAMES[cmd] = name
  cmd:add_help { action = function() print_and_exit(cmd:get_help() .. "\n") end }
  return cmd
end

-- The default format: $MONGODB_ATLAS_OUTPUT (the Atlas CLI's variable; its "plaintext" is the table), else table.
local function default_format()
  local value = nonempty(os.getenv(OUTPUT_ENV))
  if value == nil or value == "plaintext" then return "table" end
  for _, f in ipairs(output.FORMATS) do
    if f == value then return f end
  end
  usage_error(nil, ("%s=%q is not a format (%s)"):format(OUTPUT_ENV, value, table.concat(output.FORMATS, ", ")))
end

---------------------------------------------------------------------------
-- The arguments
---------------------------------------------------------------------------

-- --endpoint's help: "auto" and each kind of endpoint, with a few words each.
local function endpoint_help()
  local parts = { endpoints.AUTO .. " (wherever the instance is now)" }
  for _, kind in ipairs(endpoints.KINDS) do parts[#parts + 1] = ("%s (%s)"):format(kind.name, kind.help) end
  return "Where the jobs are: " .. table.concat(parts, ", ") .. "."
end

-- The options of every command that talks to Atlas.
local function connection_options(cmd)
  cmd:option("--projectId", "The project (group) id. Default: $" .. PROJECT_ENV .. "."):argname("<id>")
  cmd:option("--endpoint", endpoint_help(), endpoints.AUTO):choices(endpoints.choices())
  cmd:option("-o --output", "The format: table, json, ndjson, csv or openmetrics (list only: Prometheus's text "
    .. "format, for node_exporter's textfile collector). Default: $" .. OUTPUT_ENV .. ", else table.",
    default_format()):choices(output.FORMATS):argname("<format>")
  cmd:option("--base-url", "Atlas's URL. Default: $MONGODB_ATLAS_BASE_URL, else https://cloud.mongodb.com.")
    :argname("<url>")
  cmd:option("--ca-file", "A PEM bundle to verify the server with. Default: $" .. CA_FILE_ENV
    .. ", else the system's CAs."):argname("<file>")
  cmd:flag("--allow-http", "Allows a plain http:// base URL on a host other than loopback (a mock in CI), with a "
    .. "warning: the credentials then cross the network unencrypted. Also $" .. ALLOW_HTTP_ENV .. "=1.")
  cmd:option("--timeout", "Seconds for one HTTP attempt (default 60).", nil, values.seconds):argname("<seconds>")
  cmd:option("--max-attempts", "Attempts per request, the first included (default 4).", nil, values.count)
    :argname("<n>")
  cmd:flag("--debug", "Logs every request and response on stderr, secrets scrubbed.")
  cmd:flag("-q --quiet", "Prints no warning (a deprecated endpoint, plain http://, a token left unrevoked); errors "
    .. "are always printed. Also $" .. QUIET_ENV .. "=1, for cron.")
end

local function build_parser()
  local parser = argparse("atlasrestore",
    "Lists, describes and watches the backup restore jobs of MongoDB Atlas serverless instances, and of the "
    .. "Flex and dedicated clusters that replaced them.",
    "Credentials come from the environment only: MONGODB_ATLAS_PUBLIC_API_KEY + MONGODB_ATLAS_PRIVATE_API_KEY, "
    .. "MONGODB_ATLAS_CLIENT_ID + MONGODB_ATLAS_CLIENT_SECRET, or MONGODB_ATLAS_ACCESS_TOKEN. Exit codes: 0 ok, "
    .. "1 other failure, 2 usage, 3 auth, 4 not found, 5 rate-limited, 6 network, 7 bad response, 8-11 watch "
    .. "(failed, cancelled, expired, timed out), 12 some instances of a project failed.")
  with_help(parser, "atlasrestore")
  parser:command_target("command")
  parser:flag("--version", "Shows the version and exits."):action(function()
    print_and_exit(("atlasrestore %s (%s)\n"):format(atlasrestore._VERSION, platform.lua_name()))
  end)

  local list = with_help(parser:command("list", "Lists the restore jobs of an instance, or of every instance of the "
    .. "project."), "atlasrestore list")
  list:argument("name", "The instance (" .. endpoints.listing("instance") .. "). Without it: the whole "
    .. "project, with an INSTANCE column."):args("?")
  connection_options(list)
  list:flag("--all-projects", "Lists every project the credentials can see (with --orgId, one organisation's), "
    .. "with a PROJECT column.")
  list:option("--orgId", "With --all-projects: the organisation whose projects to list."):argname("<id>")
  list:option("--output-file", "Writes the output to this file instead of stdout, replacing it at once when the "
    .. "listing is done (and not at all when it failed)."):argname("<path>")
  list:option("--page", "Prints only this page (Atlas's pageNum) of the endpoint the instance resolves to.", nil,
    values.count):argname("<n>")
  list:option("--limit", "Jobs per page with --page (Atlas's itemsPerPage, 1..500; default 100).", nil,
    values.count):argname("<n>")
  list:option("--status", "Keeps the jobs with one of these statuses: " .. table.concat(values.STATUSES, ",")
    .. ".", nil, values.statuses):argname("<s,...>")
  list:option("--since", "Keeps the jobs from this time on: an ISO 8601 date or time, Unix seconds, or a "
    .. "duration back from now (90m, 24h, 7d).", nil, values.moment(os.time)):argname("<when>")
  list:option("--until", "Keeps the jobs up to this time, the same way.", nil, values.moment(os.time))
    :argname("<when>")
  list:option("--fields", "The columns, comma-separated, with dots for nested fields (desiredTimestamp.date).")
    :argname("<a,b,...>")
  list:option("--concurrency", "Pages requested at once (default 4, at most 32).", nil, values.count)
    :argname("<n>")
  list:mutex(
    list:flag("--progress", "Shows the progress on stderr even when it is not a terminal."),
    list:flag("--no-progress", "Never shows the progress."))

  local describe = with_help(parser:command("describe", "Prints one restore job."), "atlasrestore describe")
  describe:argument("name", "The instance.")
  describe:argument("job_id", "The restore job's id.")
  connection_options(describe)
  describe:option("--fields", "The columns, as for list."):argname("<a,b,...>")

  local watch = with_help(parser:command("watch", "Waits for a restore job to end: each status change on stderr, "
    .. "the final job on stdout, and an exit code that says how it ended (0 completed, 8 failed, 9 cancelled, "
    .. "10 expired, 11 the watch timed out, the last state seen on stdout). A poll that still fails after its "
    .. "retries ends the watch with that failure's code (5 rate-limited, 6 network, 7 bad response...)."),
    "atlasrestore watch")
  watch:argument("name", "The instance.")
  watch:argument("job_id", "The restore job's id.")
  connection_options(watch)
  watch:option("--fields", "The columns, as for list."):argname("<a,b,...>")
  watch:option("--interval", "Time between two polls (default 10s).", "10s", values.seconds):argname("<duration>")
  watch:option("--watch-timeout", "How long to wait for the job to end (default 1h).", "1h", values.seconds)
    :argname("<duration>")
  watch:flag("--tolerate-failures", "Polls on through network failures, rate limits, 5xx and broken answers "
    .. "until the watch times out (11), instead of ending at the first poll that fails.")

  local emulator = with_help(parser:command("emulator", "Runs the bundled Atlas emulator (the atlasrestore-emulator "
    .. "package) on a loopback port and prints its settings as export lines: in the foreground until Ctrl-C or "
    .. "SIGTERM, or with --daemon in the background, for a script's eval \"$(atlasrestore emulator --daemon)\" and a "
    .. "later `atlasrestore emulator stop`. Needs nginx and libnginx-mod-http-lua."), "atlasrestore emulator")
  require("atlasrestore_cli.emulator").options(emulator, values)

  local completion = with_help(parser:command("completion", "Prints the shell completion script for bash, zsh or "
    .. "fish, e.g. source <(atlasrestore completion bash)."), "atlasrestore completion")
  completion:argument("shell", "The shell."):choices { "bash", "zsh", "fish" }

  parser.error = usage_error
  return parser, { list = list, describe = describe, watch = watch, emulator = emulator, completion = completion }
end

-- Secrets are never taken as arguments, where ps would show them. An argument that looks
-- like one is refused without being echoed.
local SECRET_WORDS = { "key", "secret", "token", "password" }
local function refuse_secret_arguments(parser, argv)
  for _, a in ipairs(argv) do
    local name = a:match("^%-%-?([%w-]+)")
    if name then
      for _, word in ipairs(SECRET_WORDS) do
        if name:lower():find(word, 1, true) then
          usage_error(parser, "credentials are never taken as arguments (ps would show them): set "
            .. "MONGODB_ATLAS_PUBLIC_API_KEY and MONGODB_ATLAS_PRIVATE_API_KEY, MONGODB_ATLAS_CLIENT_ID and "
            .. "MONGODB_ATLAS_CLIENT_SECRET, or MONGODB_ATLAS_ACCESS_TOKEN in the environment")
        end
      end
    end
  end
end

---------------------------------------------------------------------------
-- A run
---------------------------------------------------------------------------

local Run = {}
Run.__index = Run

-- The client of this run, or nil, err. Every line the module logs goes through the
-- progress line, which counts the pages as the module's page events arrive.
function Run:connect()
  local args, prog = self.args, self.progress
  self.quiet = args.quiet or os.getenv(QUIET_ENV) == "1"
  local opts = {
    base_url = args.base_url, timeout = args.timeout, max_attempts = args.max_attempts,
    ca_file = args.ca_file or nonempty(os.getenv(CA_FILE_ENV)), endpoint = args.endpoint,
    allow_http = args.allow_http or os.getenv(ALLOW_HTTP_ENV) == "1" or nil,
    user_agent = "cli",
    on_warning = function(message) if not self.quiet then prog:message(message) end end,
  }
  -- A signal waits while a token request or a revocation is on the wire: a
  -- token that Atlas issued is always one this run holds, and then revokes.
  opts.on_event = function(event)
    if (event.purpose == "token" or event.purpose == "revoke") and not self.closing then
      process.hold(event.type == "request")
    end
    if event.type == "page" then prog:page() end
  end
  if args.debug then opts.debug = function(line) prog:message(line) end end
  local client, err = atlasrestore.new(opts)
  self.client = client
  return client, err
end

function Run:project()
  local id = self.args.projectId or nonempty(os.getenv(PROJECT_ENV))
  if not id then usage_error(self.cmd, "no project: give --projectId or set " .. PROJECT_ENV) end
  return id
end

function Run:writer(one, with_instance, with_project)
  local columns, chosen = output.fields(self.args.fields, with_instance, with_project)
  if not columns then usage_error(self.cmd, chosen) end
  local stream = self.sink and self.sink.stream or io.stdout
  -- Rows and the progress line on one terminal: the line steps aside for each row.
  local prog = self.progress
  local before_row = prog.enabled and process.isatty(1) and function() prog:hide() end or nil
  return output.writer(self.args.output, stream, { columns = columns, chosen = chosen, one = one,
    before_row = before_row, collector = self.collector })
end

-- Prints an error value: one line, never a secret (the module scrubs them). An invalid
-- argument is a usage error, in that format.
function Run:report(err)
  self.progress:clear()
  if type(err) == "table" and err.kind == "invalid_argument" then
    usage_error(self.cmd, (tostring(err):gsub("^atlasrestore: [%w_]+: ", "")))
  end
  io.stderr:write(tostring(err), "\n")
  return exits.of_error(err)
end

local function filters(args, opts)
  opts.status, opts.since, opts["until"] = args.status, args.since, args["until"]
  return opts
end

-- One instance, every page: jobs written as they arrive.
function Run:list_instance(group, name, writer)
  local args = self.args
  local opts = filters(args, { endpoint = args.endpoint, concurrency = args.concurrency })
  local ok, err = pcall(function()
    for job in self.client:restore_jobs(group, name, opts) do
      writer:row(job)
      self.progress:add(1)
    end
  end)
  if not ok then
    if type(err) == "table" and err.kind then return self:report(err) end
    error(err, 0)
  end
  self.progress:clear()
  if self.collector then self.collector:succeeded(group, os.time()) end
  writer:finish()
  return exits.OK
end

-- One page of the endpoint the instance resolves to, as Atlas serves it.
function Run:list_page(group, name, writer)
  local args = self.args
  local page, err = self.client:restore_jobs_page(group, name, { page_num = args.page or 1,
    items_per_page = args.limit or 100, endpoint = args.endpoint })
  if not page then return self:report(err) end
  for _, job in ipairs(page.results) do writer:row(job) end
  writer:finish()
  return exits.OK
end

-- Each instance's jobs, or a page of them, written.
local function instance_writer(writer)
  return function(_, jobs)
    for _, job in ipairs(jobs) do writer:row(job) end
  end
end

-- What failed, on stderr, after the rest was printed (and counted in the metrics):
-- exit 12 when anything did.
function Run:partial(writer, failures, project_of)
  if self.collector then
    for _, f in ipairs(failures) do self.collector:failed(project_of or f.project, f.error) end
  end
  writer:finish()
  for _, f in ipairs(failures) do
    local where = f.instance and ("instance %s (%s)"):format(tostring(f.instance), tostring(f.endpoint)) or nil
    if f.project then
      local project = ("project %s (%s)"):format(tostring(f.projectName), f.project)
      where = where and project .. " " .. where or project
    end
    io.stderr:write(("atlasrestore: %s: %s\n"):format(where, (tostring(f.error):gsub("^atlasrestore: ", ""))))
  end
  return #failures > 0 and exits.PARTIAL or exits.OK
end

-- The formats printed as the jobs come, a page at a time; the others take whole
-- instances, so that an instance that fails midway leaves none of its jobs.
local STREAMED = { ndjson = true, csv = true }

-- Every instance of the project, in the order of names: the jobs of those that
-- answered, then each failure on stderr.
function Run:list_project(group, writer)
  local args = self.args
  self.progress:pages_only()
  local opts = filters(args, { concurrency = args.concurrency })
  opts[STREAMED[args.output] and "on_jobs" or "on_instance"] = instance_writer(writer)
  local count, failures = self.client:project_restore_jobs(group, opts)
  self.progress:clear()
  if not count then return self:report(failures) end
  if self.collector then self.collector:succeeded(group, os.time()) end
  return self:partial(writer, failures, group)
end

-- Every project the credentials see (or one organisation's), with a PROJECT column.
function Run:list_organisation(writer)
  local args = self.args
  self.progress:pages_only()
  local count, failures, projects = self.client:organisation_restore_jobs(filters(args, {
    concurrency = args.concurrency, org_id = args.orgId, on_instance = instance_writer(writer) }))
  self.progress:clear()
  if not count then return self:report(failures) end
  if self.collector then
    local failed = {}
    for _, f in ipairs(failures) do
      if not f.instance then failed[f.project] = true end
    end
    for _, p in ipairs(projects) do
      if not failed[p.id] then self.collector:succeeded(p.id, os.time()) end
    end
  end
  return self:partial(writer, failures)
end

local COMMANDS = {}

-- The checks of --all-projects, --orgId, -o openmetrics and --output-file.
function Run:check_list_scope()
  local args = self.args
  if args.all_projects and (args.name or args.projectId) then
    usage_error(self.cmd, "--all-projects lists every project: it takes neither an instance NAME nor --projectId")
  end
  if args.orgId and not args.all_projects then usage_error(self.cmd, "--orgId needs --all-projects") end
  if args.output == "openmetrics" then
    if args.page or args.limit then
      usage_error(self.cmd, "-o openmetrics counts whole listings: --page and --limit print one page")
    end
    if args.fields then usage_error(self.cmd, "-o openmetrics has fixed metrics: --fields is for the other formats") end
    if args.endpoint ~= endpoints.AUTO then
      usage_error(self.cmd, "-o openmetrics counts unified statuses, which --endpoint auto gives: drop --endpoint")
    end
    self.collector = metrics.collector(not args.all_projects and self:project() or nil, args.name)
  end
end

function COMMANDS.list(self)
  local args = self.args
  self:check_list_scope()
  local paged = args.page or args.limit
  if paged and not args.name then usage_error(self.cmd, "--page and --limit need an instance NAME") end
  if not args.name and args.endpoint ~= endpoints.AUTO then
    usage_error(self.cmd, "a project listing finds each instance's endpoint itself: --endpoint needs an instance NAME")
  end
  if paged and (args.status or args.since or args["until"]) then
    usage_error(self.cmd, "--page and --limit print one page as Atlas serves it: --status, --since and --until "
      .. "filter whole listings")
  end
  local group = not args.all_projects and self:project()
  if args.output_file then
    local sink, message = outfile.open(args.output_file)
    if not sink then
      io.stderr:write("atlasrestore: cannot write --output-file: ", tostring(message), "\n")
      return exits.FAILURE
    end
    self.sink = sink
  end
  local writer = self:writer(false, not args.name, args.all_projects)
  local client, err = self:connect()
  if not client then return self:report(err) end
  if args.all_projects then return self:list_organisation(writer) end
  if paged then return self:list_page(group, args.name, writer) end
  if args.name then return self:list_instance(group, args.name, writer) end
  return self:list_project(group, writer)
end

-- describe and watch: one job, printed as an object. `fetch(client, group, args)` -> job | nil, err;
-- `code_of(job)` -> the exit code. An error that carries the last job seen (a watch that timed
-- out) prints it too.
function Run:one_job(fetch, code_of)
  if self.args.output == "openmetrics" then usage_error(self.cmd, "-o openmetrics is for list") end
  local group = self:project()
  local writer = self:writer(true)
  local client, err = self:connect()
  if not client then return self:report(err) end
  local job
  job, err = fetch(client, group, self.args)
  if not job then
    if err.job then
      writer:row(err.job)
      writer:finish()
    end
    return self:report(err)
  end
  writer:row(job)
  writer:finish()
  return code_of(job)
end

function COMMANDS.describe(self)
  return self:one_job(function(client, group, args)
    return client:restore_job(group, args.name, args.job_id, { endpoint = args.endpoint })
  end, function() return exits.OK end)
end

-- Each status change goes to stderr; the exit code says how the job ended (its unified
-- status: a serverless or dedicated wire record has none of its own).
function COMMANDS.watch(self)
  local last_status -- the final job's, once the wait is over
  return self:one_job(function(client, group, args)
    return client:wait_restore_job(group, args.name, args.job_id, {
      endpoint = args.endpoint, interval = args.interval, timeout = args.watch_timeout,
      tolerate_failures = args.tolerate_failures,
      on_change = function(changed, status)
        last_status = status
        io.stderr:write(("atlasrestore: %s %s %s\n"):format(os.date("!%Y-%m-%dT%H:%M:%SZ"), tostring(changed.id),
          status))
      end,
    })
  end, function() return exits.of_status(last_status) end)
end

function COMMANDS.emulator(self)
  return require("atlasrestore_cli.emulator").run(self.args)
end

-- The --output-file of a run that printed its data (exit 0 or 12) replaces the
-- path; any other run leaves the path as it was. Returns the exit code.
function Run:settle(code)
  local sink = self.sink
  if not sink then return code end
  self.sink = nil
  if code ~= exits.OK and code ~= exits.PARTIAL then
    sink:abort()
    return code
  end
  local ok, message = sink:commit()
  if ok then return code end
  io.stderr:write("atlasrestore: cannot write --output-file: ", tostring(message), "\n")
  return exits.FAILURE
end

-- argparse writes the script from the parser itself: every command and option as --help shows them.
function COMMANDS.completion(self)
  io.stdout:write(self.parser["get_" .. self.args.shell .. "_complete"](self.parser))
  return exits.OK
end

-- Ends the run: the client closed (its token revoked) whatever happened; a
-- signal meanwhile waits for the revocation.
function Run:close()
  if not self.client then return end
  local client = self.client
  self.client = nil
  self.closing = true
  process.hold(true)
  local ok, err = client:close()
  process.hold(false)
  if not ok and not self.quiet then
    io.stderr:write("atlasrestore: warning: the token was not revoked: ", tostring(err), "\n")
  end
end

local SIGNALS = { ["atlasrestore: SIGINT"] = exits.SIGINT, ["atlasrestore: SIGTERM"] = exits.SIGTERM,
  ["atlasrestore: SIGHUP"] = exits.SIGHUP }

-- An error that ended the run -> its exit code.
local function ending(e, run)
  if getmetatable(e) == Usage then
    io.stderr:write(e.text)
    return exits.USAGE
  end
  if run then run.progress:clear() end
  if output.is_write_error(e) then
    if e.closed then return exits.OK end -- the reader has what it wanted (| head)
    io.stderr:write(tostring(e), "\n")
    return exits.FAILURE
  end
  if SIGNALS[e] then return SIGNALS[e] end
  local line = tostring(e):gsub("[\r\n].*", "")
  io.stderr:write("atlasrestore: internal error: ", line, "\n")
  return exits.FAILURE
end

-- Standard input, output and error must be open before anything opens a file or a socket,
-- which would take their numbers: a closed stdout would then receive another file's bytes.
-- A closed stdin or stderr gets /dev/null; a closed stdout is an error. The handles stay
-- open for the run.
local placeholders = {}
local function check_standard_fds()
  local _, _, stdin_errno = io.stdin:seek("cur")
  if stdin_errno == EBADF then placeholders[#placeholders + 1] = io.open("/dev/null", "r") end
  local _, _, stdout_errno = io.stdout:seek("cur")
  local _, _, stderr_errno = io.stderr:seek("cur")
  if stdout_errno == EBADF then
    if stderr_errno ~= EBADF then io.stderr:write("atlasrestore: standard output is closed: nothing to print to\n") end
    return false
  end
  if stderr_errno == EBADF then placeholders[#placeholders + 1] = io.open("/dev/null", "w") end
  return true
end

-- `-o=json` as `--output=json` works: argparse reads `-o=json` as the value "=json".
local function split_short_equals(argv)
  local list = {}
  for i = 1, #argv do
    local flag, value = argv[i]:match("^(%-%a)=(.*)$")
    if flag then
      list[#list + 1], list[#list + 2] = flag, value
    else
      list[#list + 1] = argv[i]
    end
  end
  return list
end

-- The progress line redraws itself with escape sequences: never on a dumb terminal or with NO_COLOR.
local function escapes_allowed()
  return os.getenv("TERM") ~= "dumb" and nonempty(os.getenv("NO_COLOR")) == nil
end

--- Runs the command with `argv` (the launcher's `arg`); returns the exit code.
function cli.main(argv)
  if not check_standard_fds() then return exits.FAILURE end
  process.ignore_sigpipe()
  process.trap()
  local list = split_short_equals(argv)
  local run
  local ok, code = pcall(function()
    local parser, commands = build_parser()
    refuse_secret_arguments(parser, list)
    local args = parser:parse(list)
    local cmd = commands[args.command]
    local shown = escapes_allowed() and (args.progress or not args.no_progress and process.isatty(2))
    run = setmetatable({ args = args, cmd = cmd, parser = parser,
      progress = progress.new(io.stderr, curl.now, shown and args.command == "list" and not args.page
        and not args.limit) }, Run)
    return COMMANDS[args.command](run)
  end)
  if not ok then code = ending(code, run) end
  if run then code = run:settle(code) end
  if run then
    local closed, e = pcall(run.close, run)
    if not closed then
      local ended = ending(e, nil)
      if SIGNALS[e] then code = ended end -- a signal that waited for the revocation
    end
  end
  -- What is still buffered: a reader gone away is not a failure, a full disk is.
  local flushed, message, errno = io.stdout:flush()
  if not flushed and errno ~= output.EPIPE then
    io.stderr:write("atlasrestore: cannot write the output: ", tostring(message), "\n")
    if code == exits.OK then code = exits.FAILURE end
  end
  return code
end

return cli
