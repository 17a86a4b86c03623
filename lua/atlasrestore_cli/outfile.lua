--- `--output-file`: a file replaced atomically, so that a reader (node_exporter's
-- textfile collector) never sees half of it: written to a temporary file in the
-- same directory, renamed over the path on commit, removed on abort.
local outfile = {}

local File = {}
File.__index = File

local function random_hex(n)
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(n)
  if f then f:close() end
  if not bytes or #bytes < n then
    bytes = tostring(os.time()) .. tostring(os.clock()) .. tostring({}):gsub("%W", "")
  end
  return (bytes:gsub(".", function(c) return ("%02x"):format(c:byte()) end)):sub(1, 2 * n)
end

--- The file that will replace `path`: its `stream` to write, then commit() or abort();
-- or nil, message.
function outfile.open(path)
  local dir, base = path:match("^(.*/)([^/]*)$")
  if not dir then dir, base = "", path end
  if base == "" or base == "." or base == ".." then return nil, path .. ": not a file name" end
  -- A dot first: the textfile collector reads only *.prom, and ls hides it.
  local tmp = ("%s.%s.%s.tmp"):format(dir, base, random_hex(6))
  local stream, message = io.open(tmp, "wb")
  if not stream then return nil, message end
  return setmetatable({ path = path, tmp = tmp, stream = stream }, File)
end

--- Closes the temporary file and renames it over the path: true, or nil, message
-- (the temporary file removed, the path untouched).
function File:commit()
  local ok, message = self.stream:flush()
  local closed, close_message = self.stream:close()
  ok, message = ok and closed, message or close_message
  if ok then ok, message = os.rename(self.tmp, self.path) end
  if not ok then
    os.remove(self.tmp)
    return nil, message
  end
  return true
end

--- Drops what was written: the path keeps what it had.
function File:abort()
  pcall(self.stream.close, self.stream)
  os.remove(self.tmp)
end

return outfile
