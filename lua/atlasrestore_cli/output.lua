--- The command's output formats: an aligned table, a JSON array, NDJSON and RFC 4180 CSV,
-- each a writer taking one job at a time; the columns (`--fields`); failed writes raised as values.
-- JSON text is the library's (atlasrestore.encode): the same data gives the same bytes.
local atlasrestore = require "atlasrestore"
local core = require "atlasrestore.core"
local shape = require "atlasrestore.shape"

local output = {}

output.FORMATS = { "table", "json", "ndjson", "csv", "openmetrics" }

-- The columns when --fields is not given, as the Atlas CLI names them in its table.
local DEFAULT_FIELDS = { "id", "snapshotId", "targetClusterName", "deliveryType", "status", "finishedAt" }
local LABELS = {
  project = "PROJECT", instance = "INSTANCE", id = "ID", snapshotId = "SNAPSHOT", targetClusterName = "CLUSTER",
  deliveryType = "TYPE", status = "STATUS", finishedAt = "FINISHED",
}

local function field(path)
  local parts = {}
  for part in path:gmatch("[^.]+") do parts[#parts + 1] = tonumber(part) or part end
  return { path = path, parts = parts, label = LABELS[path] or path:upper() }
end

-- Letters, digits and _, with dots between nested names.
local function valid_path(path)
  for part in (path .. "."):gmatch("(.-)%.") do
    if not part:find("^[%w_]+$") then return false end
  end
  return path ~= ""
end

-- The fields a printed record may have: the documented ones, the wire fields that some
-- endpoint keeps under their own names, and `raw` (the wire record: raw.<any field>).
local WIRE_FIELDS = { "components", "createdAt", "instanceName", "projectId", "restoreScheduledDate",
  "targetDeploymentItemName", "privateDownloadDeliveryUrls", "raw" }
local KNOWN = {}
for _, list in ipairs { shape.FIELDS, WIRE_FIELDS } do
  for _, name in ipairs(list) do KNOWN[#KNOWN + 1], KNOWN[name] = name, true end
end

--- The columns of `--fields a,b.c` (nil for the default ones, `instance` first when
-- `with_instance`, `project` before it when `with_project`), or nil, message.
function output.fields(text, with_instance, with_project)
  local list = {}
  if text == nil then
    if with_project then list[1] = field("project") end
    if with_instance then list[#list + 1] = field("instance") end
    for _, path in ipairs(DEFAULT_FIELDS) do list[#list + 1] = field(path) end
    return list, false
  end
  for path in (text .. ","):gmatch("([^,]*),") do
    path = path:match("^%s*(.-)%s*$")
    if not valid_path(path) then
      return nil, ("--fields: %q is not a field name (letters, digits and _, with dots for nested fields)"):format(
        path)
    end
    if not KNOWN[path:match("^[^.]+")] then
      return nil, ("--fields: %q is not a field of a restore job (%s)"):format(path, table.concat(KNOWN, ", "))
    end
    list[#list + 1] = field(path)
  end
  return list, true
end

local function value_at(job, parts)
  local v = job
  for i = 1, #parts do
    if type(v) ~= "table" then return nil end
    v = v[parts[i]]
  end
  return v
end

-- The JSON text of a value of a job; `key_order` as for atlasrestore.encode. Jobs come from
-- the decoder, which never gives what JSON cannot hold: a failure is the command's own bug.
local function encode(value, key_order)
  local text, why = atlasrestore.encode(value, key_order)
  if not text then error("a job has no JSON text: " .. why, 0) end
  return text
end

--- The text of one value in a table cell or a CSV field: "" when absent, compact JSON for objects and arrays.
local function text_of(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" or t == "table" then return encode(v) end
  if t == "boolean" then return tostring(v) end
  return ""
end

-- The JSON text of one job: every field but `raw` (the wire record, which the unified
-- fields already carry) in the record's order, or the chosen fields under their dotted
-- names, in the order --fields gave them (null for an absent one).
local function json_of(self, job)
  local out = {}
  if not self.chosen then
    for k, v in pairs(job) do
      if k ~= "raw" then out[k] = v end
    end
    return encode(out)
  end
  for _, f in ipairs(self.columns) do
    local v = value_at(job, f.parts)
    if v == nil then v = core.null end
    out[f.path] = v
  end
  return encode(out, self.paths)
end

---------------------------------------------------------------------------
-- Writing
---------------------------------------------------------------------------

local WriteError = { __name = "atlasrestore_cli.WriteError" }
WriteError.__tostring = function(e) return "atlasrestore: cannot write the output: " .. tostring(e.message) end

output.EPIPE = 32 -- Linux and the BSDs: write() to a pipe nobody reads
local EPIPE = output.EPIPE

--- True when `e` is the error of a failed write; `e.closed` when the reader went away.
function output.is_write_error(e) return getmetatable(e) == WriteError end

local function emit(stream, text)
  local ok, message, code = stream:write(text)
  if not ok then error(setmetatable({ message = message, closed = code == EPIPE }, WriteError), 0) end
end

local function flush(stream)
  local ok, message, code = stream:flush()
  if not ok then error(setmetatable({ message = message, closed = code == EPIPE }, WriteError), 0) end
end

-- Width in characters, not bytes: UTF-8 continuation bytes do not count.
local function width(s)
  local _, continuation = s:gsub("[\128-\191]", "")
  return #s - continuation
end

local function csv_field(s)
  if s:find('[",\r\n]') then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end

local Writer = {}
Writer.__index = Writer

local ROW = {}

-- table: rows kept until the end, for the widths; control characters shown as escapes.
function ROW.table(self, job)
  local cells = {}
  for i, f in ipairs(self.columns) do
    local text = text_of(value_at(job, f.parts))
    text = text == "" and "-" or text:gsub("%c", function(c) return ("\\x%02x"):format(c:byte()) end)
    cells[i] = text
    self.widths[i] = math.max(self.widths[i], width(text))
  end
  self.rows[#self.rows + 1] = cells
end

-- json: the texts kept until the end, so that a failed listing prints no half array.
function ROW.json(self, job)
  self.rows[#self.rows + 1] = json_of(self, job)
end

function ROW.ndjson(self, job)
  emit(self.stream, json_of(self, job) .. "\n")
  flush(self.stream)
end

-- The header goes out with the first row (or at the end of an empty listing), so a
-- listing that fails before its first job leaves stdout empty.
local function csv_header(self)
  if self.header_written then return end
  self.header_written = true
  local header = {}
  for i, f in ipairs(self.columns) do header[i] = csv_field(f.path) end
  emit(self.stream, table.concat(header, ",") .. "\r\n")
end

function ROW.csv(self, job)
  csv_header(self)
  local cells = {}
  for i, f in ipairs(self.columns) do cells[i] = csv_field(text_of(value_at(job, f.parts))) end
  emit(self.stream, table.concat(cells, ",") .. "\r\n")
end

-- openmetrics: jobs counted into the collector, rendered at the end.
function ROW.openmetrics(self, job) self.collector:add(job) end

local FINISH = {}

function FINISH.openmetrics(self) emit(self.stream, self.collector:render()) end

function FINISH.table(self)
  local lines = {}
  local function line(cells)
    local out = {}
    for i, text in ipairs(cells) do
      out[i] = i < #cells and text .. (" "):rep(self.widths[i] - width(text)) or text
    end
    lines[#lines + 1] = table.concat(out, "   ")
  end
  local header = {}
  for i, f in ipairs(self.columns) do header[i] = f.label end
  line(header)
  for _, cells in ipairs(self.rows) do line(cells) end
  emit(self.stream, table.concat(lines, "\n") .. "\n")
end

function FINISH.json(self)
  if self.one then
    emit(self.stream, (self.rows[1] or "null") .. "\n")
  elseif #self.rows == 0 then
    emit(self.stream, "[]\n")
  else
    emit(self.stream, "[\n" .. table.concat(self.rows, ",\n") .. "\n]\n")
  end
end

function FINISH.ndjson() end
FINISH.csv = csv_header

--- A writer of `format` on `stream`: w:row(job) for each job, then w:finish().
-- cfg: columns (from output.fields), chosen (true when --fields named them), one
-- (a single job: JSON prints an object, not an array), before_row (called before each job),
-- collector (openmetrics: an atlasrestore.metrics collector).
function output.writer(format, stream, cfg)
  local self = setmetatable({
    format = format, stream = stream, columns = cfg.columns, chosen = cfg.chosen, one = cfg.one,
    before_row = cfg.before_row, collector = cfg.collector,
    rows = {}, widths = {},
  }, Writer)
  self.paths = {}
  for i, f in ipairs(self.columns) do
    self.widths[i] = width(f.label)
    self.paths[i] = f.path
  end
  return self
end

function Writer:row(job)
  if self.before_row then self.before_row() end
  ROW[self.format](self, job)
end

function Writer:finish()
  FINISH[self.format](self)
  flush(self.stream)
end

return output
