--- The client's events: typed tables handed to every subscriber (the caller's
-- `on_event`, the debug log), each string scrubbed, none holding a secret.
--
--   request   method, path (from the base URL, query included), attempt, purpose ("api", or "token" and
--             "revoke" for a service account's token requests), auth (the scheme: "Digest", "Basic", "Bearer"
--             or "none")
--   response  method, path, attempt, purpose, elapsed (seconds), then status and bytes, or error (its
--             errorCode) and message when no answer came
--   retry     why (the errorCode), wait (seconds), attempt (the one that failed)
--   page      page (its number), jobs (on it), total (new jobs listed so far), endpoint
--   token     expires_in (seconds): a service-account token was fetched
--   revoke    ok, reason ("close", "refused" or "renewal"), then error and message when it failed
--   warning   message, path, endpoint (when the caller knows it), deprecation, sunset
local events = {}

local Emitter = {}
Emitter.__index = Emitter

--- An emitter; `scrubber`: the client's (redact.scrubber); `on_misuse(message)` hears that a
-- subscriber raised.
function events.emitter(scrubber, on_misuse)
  return setmetatable({ subscribers = {}, scrubber = scrubber, on_misuse = on_misuse }, Emitter)
end

--- Adds `fn(event)`; `label` names it in the warning that it raised.
function Emitter:subscribe(fn, label)
  self.subscribers[#self.subscribers + 1] = { fn = fn, label = label }
end

--- True when someone listens: an event that nobody hears is not built.
function Emitter:active() return self.subscribers[1] ~= nil end

-- A subscriber that raises must not leave a request, a token fetch or a listing
-- half done: the event hook runs between the steps of an exchange, inside the
-- transport's tasks. Its error is caught and reported once per subscriber as a
-- warning (never through the hook that raised), and the event goes on to the others.
function Emitter:emit(event)
  local scrubber = self.scrubber
  for k, v in pairs(event) do
    if type(v) == "string" and k ~= "type" then event[k] = scrubber:scrub(v) end
  end
  for _, sub in ipairs(self.subscribers) do
    local ok, err = pcall(sub.fn, event)
    if not ok and not sub.warned then
      sub.warned = true
      self.on_misuse(("atlasrestore: warning: %s raised on a %s event (reported once): %s"):format(sub.label,
        event.type, scrubber:scrub(tostring(err))))
    end
  end
end

--- The debug log's lines, from the request, response and retry events: `write(line)`.
function events.debug_log(write, base_url)
  return function(e)
    local line
    if e.type == "request" then
      line = ("> %s %s (attempt %d, auth %s)"):format(e.method, base_url .. e.path, e.attempt, e.auth)
    elseif e.type == "response" and e.status then
      line = ("< %s %s -> %d (attempt %d, %.1f ms, %d bytes)"):format(e.method, base_url .. e.path, e.status,
        e.attempt, e.elapsed * 1000, e.bytes)
    elseif e.type == "response" then
      line = ("< %s %s failed: %s: %s (attempt %d, %.1f ms)"):format(e.method, base_url .. e.path,
        tostring(e.error), tostring(e.message), e.attempt, e.elapsed * 1000)
    elseif e.type == "retry" then
      line = ("retrying in %.2f s after %s"):format(e.wait, tostring(e.why))
    end
    -- A debug hook that raises is dropped, as it always was.
    if line then pcall(write, "atlasrestore: " .. line) end
  end
end

return events
