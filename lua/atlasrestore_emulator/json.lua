--- The emulator's JSON output: one small encoder of its own, not the module's core.encode.
-- It plays Atlas, so it writes Atlas's bytes: each record's keys in the recorded order
-- (ordered objects) and numbers in a chosen notation (raw "1.7000352e+09"), which a
-- canonical encoder must not do; it runs in Debian's nginx (LuaJIT), where the module's
-- C core is found only if a LuaJIT build was installed too; and the server a client is
-- tested against should not share that client's encoder, whose bugs would hide on both sides.
local M = {}

local concat, format, byte = table.concat, string.format, string.byte
local floor = math.floor

-- A value wrapped by raw() is copied verbatim (e.g. "1.7000352e+09").
local raw_mt = {}
function M.raw(text)
  return setmetatable({ text }, raw_mt)
end

M.null = M.raw("null")

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

function M.quote(s)
  s = tostring(s)
  if not s:find('[%c"\\]') then
    return '"' .. s .. '"'
  end
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or format("\\u%04x", byte(c))
  end) .. '"'
end

local quote = M.quote

local function is_ordered(v)
  return v.__object or (type(v[1]) == "table" and v[1].__pair)
end

-- Values: ordered objects (obj{...}) keep their pairs' order; a plain table with v[1]
-- (or none at all) is an array; any other plain table (decoded config, stats) is an
-- object with sorted keys; userdata (cjson.null) and nil are null.
local function encode(v, out)
  local t = type(v)
  if t == "string" then
    out[#out + 1] = quote(v)
  elseif t == "number" then
    if v == floor(v) and v > -2^53 and v < 2^53 then
      out[#out + 1] = format("%d", v)
    else
      out[#out + 1] = format("%.17g", v)
    end
  elseif t == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif t ~= "table" then
    out[#out + 1] = "null"
  elseif getmetatable(v) == raw_mt then
    out[#out + 1] = v[1]
  elseif is_ordered(v) then
    out[#out + 1] = "{"
    for i, p in ipairs(v) do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = quote(p[1])
      out[#out + 1] = ":"
      encode(p[2], out)
    end
    out[#out + 1] = "}"
  elseif next(v) == nil or v[1] ~= nil then
    out[#out + 1] = "["
    for i, item in ipairs(v) do
      if i > 1 then out[#out + 1] = "," end
      encode(item, out)
    end
    out[#out + 1] = "]"
  else
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    out[#out + 1] = "{"
    for i, k in ipairs(keys) do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = quote(k)
      out[#out + 1] = ":"
      local item = v[k]
      if item == nil then item = v[tonumber(k)] end
      encode(item, out)
    end
    out[#out + 1] = "}"
  end
end

-- obj{ {"a", 1}, {"b", 2} } marks the pairs so encode() can tell objects from arrays.
function M.obj(pairs_list)
  for _, p in ipairs(pairs_list) do p.__pair = true end
  pairs_list.__object = true
  return pairs_list
end

function M.encode(v)
  local out = {}
  encode(v, out)
  return concat(out)
end

-- Re-indents compact JSON the way Atlas (Jackson's default pretty printer)
-- does: objects one field per line with two-space indent and " : ", arrays
-- inline as "[ a, b ]".
function M.pretty(s)
  local out, n = {}, 0
  local stack, counts = {}, {}
  local depth = 0 -- object nesting only: inline arrays do not indent
  local pos, len = 1, #s
  local function emit(x) n = n + 1; out[n] = x end
  local function before_value()
    local top = #stack
    if top == 0 then return end
    if stack[top] == "[" then
      emit(counts[top] == 0 and " " or ", ")
      counts[top] = counts[top] + 1
    end
  end
  local expecting_key = false
  while pos <= len do
    local c = s:sub(pos, pos)
    if c == '"' then
      local i = pos + 1
      while true do
        local j = s:find('["\\]', i)
        if not j then i = len; break end
        if s:sub(j, j) == "\\" then
          i = j + 2
        else
          i = j; break
        end
      end
      local str = s:sub(pos, i)
      local top = #stack
      if expecting_key then
        emit(counts[top] == 0 and "\n" or ",\n")
        counts[top] = counts[top] + 1
        emit(("  "):rep(depth))
        emit(str)
        emit(" : ")
        expecting_key = false
        pos = i + 1
        if s:sub(pos, pos) == ":" then pos = pos + 1 end
      else
        before_value()
        emit(str)
        pos = i + 1
      end
    elseif c == "{" then
      if not expecting_key then before_value() end
      stack[#stack + 1] = "{"
      counts[#stack] = 0
      depth = depth + 1
      emit("{")
      expecting_key = true
      pos = pos + 1
    elseif c == "[" then
      before_value()
      stack[#stack + 1] = "["
      counts[#stack] = 0
      emit("[")
      pos = pos + 1
    elseif c == "}" then
      depth = depth - 1
      if counts[#stack] == 0 then
        emit(" }")
      else
        emit("\n" .. ("  "):rep(depth) .. "}")
      end
      stack[#stack] = nil
      expecting_key = false
      pos = pos + 1
    elseif c == "]" then
      emit(" ]") -- "[ ]" when empty, "[ a, b ]" otherwise
      stack[#stack] = nil
      pos = pos + 1
    elseif c == "," then
      if stack[#stack] == "{" then expecting_key = true end
      pos = pos + 1
    else
      -- a scalar: number, true, false, null
      local j = s:find("[,%]}]", pos) or (len + 1)
      before_value()
      emit(s:sub(pos, j - 1))
      pos = j
    end
  end
  return concat(out, "", 1, n)
end

return M
