--- Removes secrets from text before it leaves the module (errors, debug lines).
-- A secret is also looked for in its base64 and URL-encoded forms, and inside
-- the Basic credentials built from it.
local core = require "atlasrestore.core"
local routes = require "atlasrestore.routes"

local redact = {}

local function escape_pattern(s)
  return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

local Scrubber = {}
Scrubber.__index = Scrubber

--- A scrubber that learns secrets as the client meets them (keys, then tokens).
function redact.scrubber()
  return setmetatable({ slots = {}, patterns = {} }, Scrubber)
end

-- The base64 characters that depend on `value` alone, whatever precedes it:
-- at each of the three alignments it can have inside a longer encoded text
-- ("Bearer <token>" encoded whole, say), the edge groups are dropped.
local function base64_alignments(value, list)
  for shift = 0, 2 do
    local encoded = core.base64(("\0"):rep(shift) .. value)
    local first = shift == 0 and 1 or 5
    local last = 4 * math.floor((shift + #value) / 3)
    if last - first + 1 >= 8 then list[#list + 1] = encoded:sub(first, last) end
  end
end

--- Every form a secret could be written in.
local function forms(secret, user)
  local encoded = routes.url_encode(secret)
  local list = { secret, core.base64(secret), encoded, (encoded:gsub("%%%x%x", string.lower)),
    (encoded:gsub("%%20", "+")) } -- the form encoding of request bodies
  base64_alignments(secret, list)
  if user then
    list[#list + 1] = core.base64(user .. ":" .. secret)
    base64_alignments(user .. ":" .. secret, list)
  end
  return list
end

--- Registers a secret under a slot name. A slot keeps its last two secrets: a
-- renewed token pushes out the one before the last, so a long-lived client
-- scrubs a bounded list.
function Scrubber:add(slot, secret, user)
  if type(secret) ~= "string" then return end
  self.slots[slot .. " (previous)"] = self.slots[slot]
  self.slots[slot] = forms(secret, user)
  local patterns = {}
  for _, list in pairs(self.slots) do
    for _, form in ipairs(list) do
      if #form >= 4 then patterns[#patterns + 1] = escape_pattern(form) end
    end
  end
  -- Longest first, so a secret that contains another is removed whole.
  table.sort(patterns, function(a, b) return #a > #b end)
  self.patterns = patterns
end

-- Credentials by their scheme, wherever they appear: an Authorization value
-- echoed without its header name is still a secret.
-- A credential is long: "Basic authentication" is prose, not a secret.
local function credential(scheme, value)
  if #value >= 16 then return scheme .. "[REDACTED]" end
end

local SCHEMES = {
  { "([Aa]uthorization:%s*%a*)[^\r\n]*", "%1 [REDACTED]" },
  { "([Bb][Ee][Aa][Rr][Ee][Rr]%s+)([%w%-%._~%+/]+=*)", credential },
  { "([Bb][Aa][Ss][Ii][Cc]%s+)([%w%+/]+=*)", credential },
  { "([Rr]esponse%s*=%s*\"?)%x+", "%1[REDACTED]" },
}

function Scrubber:scrub(text)
  if type(text) ~= "string" then return text end
  for _, pattern in ipairs(self.patterns) do text = text:gsub(pattern, "[REDACTED]") end
  for _, scheme in ipairs(SCHEMES) do text = text:gsub(scheme[1], scheme[2]) end
  return text
end

--- Scrubs every string inside a value, keys included, in place. A cycle is
-- visited once.
function Scrubber:deep(value, seen)
  if type(value) == "string" then return self:scrub(value) end
  if type(value) ~= "table" then return value end
  seen = seen or {}
  if seen[value] then return value end
  seen[value] = true
  local renamed = {}
  for k, v in pairs(value) do
    if type(v) == "string" or type(v) == "table" then value[k] = self:deep(v, seen) end
    local scrubbed = type(k) == "string" and self:scrub(k)
    if scrubbed and scrubbed ~= k then renamed[k] = scrubbed end
  end
  for old, new in pairs(renamed) do
    value[new], value[old] = value[old], nil
  end
  return value
end

--- A URL as a message may show it: no userinfo (user:password@), no query or fragment.
function redact.url(url)
  local scheme, rest = url:match("^(%a[%w+.-]*://)(.*)$")
  if not scheme then scheme, rest = "", url end
  rest = rest:gsub("^[^/?#]*@", "***@"):gsub("[?#].*$", "?...")
  return scheme .. rest
end

return redact
