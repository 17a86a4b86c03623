--- The command's exit codes: fixed, because scripts branch on them (docs/command.md, "Exit codes").
local exits = {
  OK = 0,
  FAILURE = 1,
  USAGE = 2,
  AUTH = 3,
  NOT_FOUND = 4,
  RATE_LIMITED = 5,
  NETWORK = 6,
  BAD_RESPONSE = 7,
  JOB_FAILED = 8,
  JOB_CANCELLED = 9,
  JOB_EXPIRED = 10,
  WATCH_TIMEOUT = 11,
  PARTIAL = 12,
  -- A run ended by a signal, as a shell reports it: 128 + the signal's number.
  SIGHUP = 129,
  SIGINT = 130,
  SIGTERM = 143,
}

-- An error's category (err.kind) -> its exit code.
local BY_KIND = {
  invalid_argument = exits.USAGE,
  auth = exits.AUTH,
  not_found = exits.NOT_FOUND,
  rate_limited = exits.RATE_LIMITED,
  network = exits.NETWORK,
  bad_response = exits.BAD_RESPONSE,
  server = exits.BAD_RESPONSE,
  timeout = exits.WATCH_TIMEOUT,
  refused = exits.FAILURE,
}

--- The exit code of an error value.
function exits.of_error(err)
  return type(err) == "table" and BY_KIND[err.kind] or exits.FAILURE
end

-- How a watched job ended (its unified status) -> the exit code.
local BY_STATUS = {
  COMPLETED = exits.OK,
  FAILED = exits.JOB_FAILED,
  CANCELLED = exits.JOB_CANCELLED,
  EXPIRED = exits.JOB_EXPIRED,
}

--- The exit code of `watch` for the unified status the job ended with.
function exits.of_status(status)
  return BY_STATUS[status] or exits.FAILURE
end

return exits
