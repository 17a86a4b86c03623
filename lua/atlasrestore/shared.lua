--- Inside nginx a client lives for one request: what must outlive it (the credential
-- strategy with its Digest nonce or token, the scrubber that knows the secrets, the
-- "auto" route memory, the once-per-worker notices, the single flights its requests
-- share) lives here, per worker, keyed by a digest of the base URL and the credentials.
local shared = {}

local MAX_ENTRIES = 64 -- credentials a worker keeps state for; past it, the least recently used goes

local entries, count, clock = {}, 0, 0

--- The worker's entry for `key`, made by make() the first time.
function shared.worker(key, make)
  clock = clock + 1
  local entry = entries[key]
  if not entry then
    if count >= MAX_ENTRIES then
      local oldest
      for k, e in pairs(entries) do
        if not oldest or e.used < entries[oldest].used then oldest = k end
      end
      entries[oldest], count = nil, count - 1
    end
    entry = make()
    entries[key], count = entry, count + 1
  end
  entry.used = clock
  return entry
end

--- A key for the strings given, none of which it keeps (they hold secrets).
function shared.key(...)
  local ngx = rawget(_G, "ngx")
  return ngx.encode_base64(ngx.sha1_bin(table.concat({ ... }, "\0")))
end

return shared
