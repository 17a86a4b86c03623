--- The transport contract: what the policy layer asks of a transport, and the
-- check that `atlasrestore.new` runs on one given through `opts.transport`.
--
-- A transport moves bytes and runs tasks; every rule about authentication,
-- retries, pages and errors lives above it, in Lua, once.
--
--   transport.version                  string for the User-Agent, e.g. "libcurl/7.88.1"
--   transport:request(req) -> res | nil, err
--     req (atlasrestore.request builds it once; a transport neither parses nor checks again):
--       method = "GET" | "POST",
--       target = { scheme = "https" | "http", host = lower case, port = integer,
--                  authority = host[:port] as the base URL has it (the Host header),
--                  path = path and query, server_name = the TLS name (https only) },
--       url = the same target as one absolute URL (for a transport that takes URLs),
--       headers = { "Name: value", ... }: names are tokens, values hold no CR, LF or
--                 NUL, in a stable order; sent as they are,
--       body = string | nil, timeout = seconds for the whole attempt,
--       connect_timeout = seconds, stall_timeout = seconds under 64 bytes/s,
--       max_body = bytes of the body as it came (the pipeline inflates gzip itself,
--                  so a transport never decodes a Content-Encoding)
--     res = { status = integer, headers = { [lower-case name] = value }, body = string,
--             elapsed = seconds }
--       Repeated headers are joined with ", ", except "www-authenticate", whose
--       values cannot be joined safely: it is always an array of strings.
--     err = an error value (atlasrestore.errors.new) whose errorCode is one of
--       errors.TRANSPORT_CODES: CONNECT_FAILED, TIMEOUT, TLS_FAILED, NETWORK_ERROR,
--       RESPONSE_TOO_LARGE (body past max_body, or a head past the transport's
--       limits), BAD_RESPONSE (a head that is not HTTP, or framing the rules
--       refuse); `message` says what happened, `status` is set when a status
--       line was read, `elapsed` too.
--     Every wait for a byte, the head's and the chunk sizes' included, ends by
--     `timeout` after the attempt began, and under 64 bytes/s for stall_timeout
--     is a TIMEOUT too.
--     Framing is csrc/framing.h's, on every transport: lines end in CRLF or a
--     bare LF; only 1xx heads come before the final one; Transfer-Encoding is
--     chunked or refused; Content-Length is digits, a list only of one value;
--     chunk sizes have at most 16 hex digits and only well-formed extensions.
--     No redirect is followed and no URL from a response is ever requested.
--     A connection goes back to a pool only after its body was read to the end,
--     and never when unread bytes wait on it, when the response said close,
--     was HTTP/1.0 without keep-alive, or carried both Transfer-Encoding and
--     Content-Length.
--     A request never raises for a network condition; it raises only on misuse.
--   transport:now() -> monotonic seconds          (deadlines, token ages)
--   transport:sleep(seconds)                     (a retry's wait; yields inside a task)
--   transport:spawn(fn, ...) -> task             (runs fn(...) as a task, concurrently)
--   transport:wait(task) -> true, results... | false, error
--     Waits for a task. From a task, only that task waits; from the caller,
--     the transport runs every task until this one is done (libcurl: coroutines
--     driven by a curl multi handle; nginx: ngx.thread). Tasks yield only to
--     their scheduler, never across a pcall (Lua 5.1 cannot). Outside nginx one
--     task runner, atlasrestore.scheduler, is the whole task half (and request)
--     of a transport: libcurl's and the specs' fake give it only a driver.
--   transport:cancel(task)                       (stops a task and its transfer)
--   transport:progress()                         optional: lets tasks and transfers move
--     without waiting, for a transport where nothing runs between calls (libcurl);
--     the lazy iterator calls it as the caller consumes a page.
--   transport:pace(fn, ...) -> fn(...)            optional: runs a response's CPU work (decoding,
--     shaping) when it suits the host: inside nginx, a worker's event loop turns in between
--     (transport/cosocket.lua); without it, fn runs at once.
--   transport:close()                            (frees connections; idempotent)
local errors = require "atlasrestore.errors"

local contract = {}

contract.METHODS = { "request", "now", "sleep", "spawn", "wait", "cancel", "close" }

--- Raises (at the caller's line) when `transport` lacks part of the contract.
function contract.check(transport)
  for _, name in ipairs(contract.METHODS) do
    if type(transport[name]) ~= "function" then
      errors.misuse("bad argument #1 to 'new' (transport: method '%s' missing)", name)
    end
  end
  if type(transport.version) ~= "string" then
    errors.misuse("bad argument #1 to 'new' (transport: version string missing)")
  end
end

return contract
