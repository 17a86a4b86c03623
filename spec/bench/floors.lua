--- The floors of decoding, for spec/bench.lua: functions that build the very
-- tables core.decode builds from a JSON text, without parsing it.
--   floors.constants(body, core) -> function() -> value: compiled Lua table
--     constructors whose strings are constants: building the tables, only.
--   floors.strings(body, core, floor) -> function() -> value: the Lua API calls
--     of the building replayed by C (spec/bench/floor.c, the `floor` module)
--     from a tape, every string cut from the body at each call, as a parser
--     must cut them.
-- Arrays get core's array metatables; null members are left out, as core does.
local floors = {}

local format, concat = string.format, table.concat

-- The JSON text as a tree in document order: { kind, ... } nodes; a string
-- node holds its byte range in the body, and its value when it has escapes.
local function parse(body, core)
  local pos = 1

  local function fail(what)
    error(format("floor: %s at byte %d", what, pos), 0)
  end

  local function skip_ws()
    pos = body:find("[^ \t\r\n]", pos) or #body + 1
  end

  local function str()
    local first, from, escaped = pos + 1, pos + 1, false
    while true do
      local at = body:find('["\\]', from)
      if not at then fail("unterminated string") end
      if body:byte(at) == 34 then
        pos = at + 1
        local node = { kind = "string", first = first, last = at - 1 }
        if escaped then node.value = core.decode(body:sub(first - 1, at)) end
        return node
      end
      escaped, from = true, at + 2
    end
  end

  local value

  local function members(close, item)
    local list = {}
    pos = pos + 1
    skip_ws()
    if body:sub(pos, pos) == close then
      pos = pos + 1
      return list
    end
    while true do
      list[#list + 1] = item()
      skip_ws()
      local c = body:sub(pos, pos)
      pos = pos + 1
      if c == close then return list end
      if c ~= "," then fail("expected , or " .. close) end
      skip_ws()
    end
  end

  local function member()
    if body:sub(pos, pos) ~= '"' then fail("expected a key") end
    local key = str()
    skip_ws()
    if body:sub(pos, pos) ~= ":" then fail("expected :") end
    pos = pos + 1
    skip_ws()
    return { key, value() }
  end

  function value()
    local c = body:sub(pos, pos)
    if c == "{" then
      local kept = {}
      for _, m in ipairs(members("}", member)) do
        if m[2].kind ~= "null" then kept[#kept + 1] = m end
      end
      return { kind = "object", members = kept }
    elseif c == "[" then
      return { kind = "array", items = members("]", value) }
    elseif c == '"' then
      return str()
    end
    for _, literal in ipairs{ "true", "false", "null" } do
      if body:sub(pos, pos + #literal - 1) == literal then
        pos = pos + #literal
        return { kind = literal }
      end
    end
    local text = body:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if not text then fail("unexpected " .. c) end
    pos = pos + #text
    return { kind = "number", value = core.decode(text) }
  end

  skip_ws()
  local root = value()
  skip_ws()
  if pos <= #body then fail("trailing bytes") end
  return root
end

local function sparse(node)
  for _, item in ipairs(node.items) do
    if item.kind == "null" then return true end
  end
  return false
end

local function number_source(v)
  if math.type(v) == "integer" then return format("%d", v) end
  return format("%.17g", v)
end

local function lua_source(node, body, out)
  local kind = node.kind
  if kind == "object" then
    out[#out + 1] = "{"
    for _, m in ipairs(node.members) do
      out[#out + 1] = "["
      lua_source(m[1], body, out)
      out[#out + 1] = "]="
      lua_source(m[2], body, out)
      out[#out + 1] = ","
    end
    out[#out + 1] = "}"
  elseif kind == "array" then
    out[#out + 1] = "S({"
    for _, item in ipairs(node.items) do
      lua_source(item, body, out)
      out[#out + 1] = ","
    end
    out[#out + 1] = sparse(node) and "},SA)" or "},A)"
  elseif kind == "string" then
    out[#out + 1] = format("%q", node.value or body:sub(node.first, node.last))
  elseif kind == "number" then
    out[#out + 1] = number_source(node.value)
  else
    out[#out + 1] = kind == "null" and "nil" or kind
  end
end

function floors.constants(body, core)
  local out = { "local S, A, SA = ...\nreturn function() return " }
  lua_source(parse(body, core), body, out)
  out[#out + 1] = " end\n"
  local chunk = assert(load(concat(out), "=floor(constants)", "t"))
  return chunk(setmetatable, core.array_mt, core.sparse_array_mt)
end

-- Operation codes of spec/bench/floor.c.
local OP = { object = 1, array = 2, string = 3, constant = 4, integer = 5, ["true"] = 6, ["false"] = 7,
  set = 8, seti = 9, close = 10 }

local function tape(node, ops, constants)
  local kind = node.kind
  local function emit(...)
    for i = 1, select("#", ...) do ops[#ops + 1] = select(i, ...) end
  end
  if kind == "object" then
    emit(OP.object, #node.members)
    for _, m in ipairs(node.members) do
      tape(m[1], ops, constants)
      tape(m[2], ops, constants)
      emit(OP.set)
    end
  elseif kind == "array" then
    emit(OP.array, #node.items)
    for i, item in ipairs(node.items) do
      if item.kind ~= "null" then
        tape(item, ops, constants)
        emit(OP.seti, i)
      end
    end
    emit(OP.close, sparse(node) and 1 or 0)
  elseif kind == "string" and not node.value then
    emit(OP.string, node.first - 1, node.last - node.first + 1)
  elseif kind == "number" and math.type(node.value) == "integer" then
    emit(OP.integer, node.value)
  elseif kind == "string" or kind == "number" then
    constants[#constants + 1] = node.value
    emit(OP.constant, #constants)
  elseif kind == "true" or kind == "false" then
    emit(OP[kind])
  else
    error("floor: a null outside an object or an array has no tape")
  end
end

function floors.strings(body, core, floor)
  local ops, constants = {}, {}
  tape(parse(body, core), ops, constants)
  local compiled = floor.compile(ops)
  local run, array_mt, sparse_array_mt = floor.run, core.array_mt, core.sparse_array_mt
  return function()
    return run(compiled, body, constants, array_mt, sparse_array_mt)
  end
end

return floors
