-- core.decode: the C JSON decoder (csrc/json.c) as seen from Lua.
local decode = require("atlasrestore.core").decode

local read_fixture = require("support.fixtures").read
local compat = require "support.compat"
local it_int64, it_doubles = compat.it_for("int64"), compat.it_for("doubles")
local U, X = compat.utf8, compat.bytes -- no "\u{...}" before 5.3, no "\x.." in 5.1

local function count_keys(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

-- Every outcome of decode must be either a value, or nil plus this message shape.
local function assert_rejected(json, max_depth)
  local ok, value, msg = pcall(decode, json, max_depth)
  assert(ok, ("decode raised for %q: %s"):format(json, tostring(value)))
  assert(value == nil, ("accepted %q"):format(json))
  assert(type(msg) == "string" and msg:match("^invalid JSON at byte %d+: .+"),
    ("bad message for %q: %s"):format(json, tostring(msg)))
  return msg
end

describe("core.decode", function()
  describe("integers (pushed as Lua integers whatever the notation)", function()
    -- Exact on every Lua: within 2^53 a double holds every integer.
    local cases = {
      { "0", 0 },
      { "-0", 0 },
      { "-0.0", 0 },
      { "0.000e-5", 0 },
      { "0e999999999", 0 },
      { "1", 1 },
      { "-1", -1 },
      { "1199145600", 1199145600 },
      { "1.1991456e+09", 1199145600 },
      { "1.1991456E9", 1199145600 },
      { "11991456E2", 1199145600 },
      { "119914560000e-2", 1199145600 },
      { "1.0", 1 },
      { "1.000000000000000000000000000000", 1 },
      { "1.5e1", 15 },
      { "100e-2", 1 },
      { "0.1e1", 1 },
      { "1e15", 1000000000000000 },
      { "9007199254740991", 9007199254740991 },        -- 2^53 - 1
      { "-9007199254740991", -9007199254740991 },
      { "900719925474099.1e1", 9007199254740991 },
      { "1" .. ("0"):rep(1000) .. "e-1000", 1 },
      { "0." .. ("0"):rep(1000) .. "1e1001", 1 },
    }
    for _, case in ipairs(cases) do
      local json, expected = case[1], case[2]
      it(json:sub(1, 40), function()
        local v = decode(json)
        assert.are.equal("integer", compat.math_type(v))
        assert.are.equal(expected, v)
      end)
    end

    -- Past 2^53 only a 64-bit integer is exact.
    local int64 = {
      { "1e18", "1000000000000000000" },
      { "9007199254740993", "9007199254740993" },        -- 2^53 + 1 stays exact
      { "9007199254740993.0", "9007199254740993" },
      { "900719925474099.3e1", "9007199254740993" },
      { "123456789012345678", "123456789012345678" },    -- 18 digits
      { "1234567890123456789", "1234567890123456789" },  -- 19 digits
      { "12345678901234567890e-1", "1234567890123456789" },
      { "9223372036854775807", "9223372036854775807" },  -- math.maxinteger
      { "9.223372036854775807e18", "9223372036854775807" },
      { "-9223372036854775807", "-9223372036854775807" },
      { "-9223372036854775808", "-9223372036854775808" }, -- math.mininteger
      { "-9.223372036854775808e18", "-9223372036854775808" },
    }
    for _, case in ipairs(int64) do
      local json, digits = case[1], case[2]
      it_int64(json, function()
        local v = decode(json)
        assert.are.equal("integer", math.type(v))
        assert.are.equal(digits, ("%d"):format(v))
      end)
    end

    it_doubles("past 2^53 they are the nearest double (no integer subtype here)", function()
      for _, case in ipairs(int64) do
        local v = decode(case[1])
        assert.are.equal("number", type(v))
        assert.are.equal(tonumber(case[2]), v, case[1])
        assert.are.equal("float", compat.math_type(v), case[1])
      end
      assert.are.equal(2 ^ 53, decode("9007199254740992"))
      assert.are.equal(2 ^ 53, decode("9007199254740993"), "rounds to even")
    end)
  end)

  describe("floats (correctly rounded, same as Lua's own conversion)", function()
    local cases = {
      "1.5", "-1.5", "0.1", "-0.1", "1e-2", "3.14159", "2.5e-3", "1.7976931348623157e308",
      "2.2250738585072014e-308", "4.9e-324", "2.2250738585072011e-308", "1e-400", "-1e-400",
      "9223372036854775808", "-9223372036854775809", "9.223372036854775808e18", "18446744073709551616",
      "12345678901234567890", "1e19", "123456789012345678901234567890e-20", "0.30000000000000004",
      "1.00000000000000011102230246251565404236316680908203125",
      "1.00000000000000011102230246251565404236316680908203124",
      "1.00000000000000011102230246251565404236316680908203126",
      "7.038531e-26", "1.5e300", "123.456e-7",
    }
    for _, json in ipairs(cases) do
      it(json, function()
        local v, expected = decode(json), tonumber(json) + 0.0
        -- A float on 5.3+; where numbers are only doubles, the same kind of number as Lua's.
        assert.are.equal(compat.math_type(expected), compat.math_type(v))
        assert.are.equal(expected, v)
      end)
    end

    it("very long mantissas round correctly", function()
      -- 0.1 followed by 2000 more digits: still the double nearest to 0.1.
      local json = "0.1" .. ("0"):rep(2000) .. "1"
      assert.are.equal(0.1, decode(json))
      local halfway = "9007199254740993" .. ("0"):rep(1000) .. "1e-1001"  -- just above 2^53 + 1
      assert.are.equal(9007199254740994.0, decode(halfway))
      assert.are.equal("float", compat.math_type(decode(halfway)))
    end)

    it("huge exponents are refused (JSON has no infinity) and tiny ones give zero, without hanging", function()
      local core = require "atlasrestore.core"
      for _, text in ipairs { "1e400", "-1e400", "1e999999999", "1e99999999999999999999999999",
        "1" .. ("0"):rep(400) } do
        local value, why = core.decode(text)
        assert.is_nil(value, text)
        assert.matches("number out of range", why)
      end
      assert.are.equal(0.0, decode("1e-99999999999999999999999999"))
      assert.are.equal(compat.math_type(0.0), compat.math_type(decode("1e-99999999999999999999999999")))
      assert.are.equal(1e300, decode("1" .. ("0"):rep(100000) .. "e-99700"))
    end)

    it("does not depend on the C locale's decimal point", function()
      local previous = os.setlocale(nil, "numeric")
      for _, loc in ipairs({ "de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "fr_FR" }) do
        if os.setlocale(loc, "numeric") then break end
      end
      local ok, v = pcall(decode, "[1.5, 1234.5678e-2, 0.1" .. ("0"):rep(30) .. "1]")
      os.setlocale(previous, "numeric")
      assert.is_true(ok)
      assert.are.same({ 1.5, 12.345678, 0.1 }, v)
    end)
  end)

  describe("literals and top-level values", function()
    it("decodes scalars and containers at top level (shape checks are the Lua layer's job)", function()
      assert.are.equal(true, decode("true"))
      assert.are.equal(false, decode("false"))
      assert.are.equal("x", decode('"x"'))
      assert.are.equal(42, decode(" \t\r\n42 \t\r\n"))
      assert.are.same({ 1, 2, 3 }, decode("[1,2,3]"))
      assert.are.same({}, decode("[]"))
      assert.are.same({}, decode("{}"))
      assert.are.same({ a = { b = { "c" } } }, decode(' { "a" : { "b" : [ "c" ] } } '))
    end)

    it("top-level null is a successful nil, not an error", function()
      assert.are.equal(1, select("#", decode("null")))
      assert.is_nil(decode("null"))
      assert.are.equal(1, select("#", decode(" null ")))
    end)
  end)

  describe("null", function()
    it("leaves object keys absent", function()
      local t = decode('{"a":null,"b":1,"c":null}')
      assert.is_nil(t.a)
      assert.is_nil(t.c)
      assert.are.equal(1, t.b)
      assert.are.equal(1, count_keys(t))
      assert.are.same({}, decode('{"parameters":null}'))
    end)

    it("leaves a hole in arrays and keeps the positions of later elements", function()
      local t = decode("[1,null,3]")
      assert.are.equal(1, t[1])
      assert.is_nil(t[2])
      assert.are.equal(3, t[3])
      assert.are.equal(2, count_keys(t))
      assert.are.same({}, decode("[null]"))
      local u = decode('[null,null,"x"]')
      assert.are.equal("x", u[3])
      assert.are.equal(1, count_keys(u))
    end)
  end)

  describe("duplicate keys", function()
    it("the last one wins", function()
      assert.are.same({ a = 2 }, decode('{"a":1,"a":2}'))
      assert.are.same({ a = { 2 } }, decode('{"a":{"x":1},"a":[2]}'))
    end)

    it("a later null removes an earlier value", function()
      assert.are.same({}, decode('{"a":1,"a":null}'))
      assert.are.same({ a = 3 }, decode('{"a":1,"a":null,"a":3}'))
    end)
  end)

  describe("strings", function()
    local cases = {
      { [["plain"]], "plain" },
      { [[""]], "" },
      { [["\"\\\/\b\f\n\r\t"]], "\"\\/\b\f\n\r\t" },
      { [["a\u0041b"]], "aAb" },
      { [["\u00e9\u00E9"]], U(0xe9, 0xe9) },
      { [["\u20ac"]], U(0x20ac) },
      { [["\u0000"]], "\0" },
      { [["x\u0000y"]], "x\0y" },
      { [["\u007f\u0080\u07ff\u0800\uffff"]], U(0x7f, 0x80, 0x7ff, 0x800, 0xffff) },
      { [["\ud83d\ude00"]], U(0x1f600) },
      { [["\uD800\uDC00"]], U(0x10000) },
      { [["\udbff\udfff"]], U(0x10ffff) },
      { [["\ud7ff\ue000"]], U(0xd7ff, 0xe000) },
      { [["mixed \u00e9 é \n end"]], "mixed " .. U(0xe9) .. " " .. U(0xe9) .. " \n end" },
      { '"' .. ("ab\\n"):rep(1000) .. '"', ("ab\n"):rep(1000) },
    }
    for i, case in ipairs(cases) do
      it(("unescapes case %d"):format(i), function()
        assert.are.equal(case[2], decode(case[1]))
      end)
    end

    local utf8_ok = {
      { X"c3 a9", "U+00E9" },
      { X"c2 80", "U+0080" },
      { X"df bf", "U+07FF" },
      { X"e0 a0 80", "U+0800" },
      { X"e2 82 ac", "U+20AC" },
      { X"ed 9f bf", "U+D7FF" },
      { X"ee 80 80", "U+E000" },
      { X"ef bf bf", "U+FFFF" },
      { X"f0 90 80 80", "U+10000" },
      { X"f0 9d 84 9e", "U+1D11E" },
      { X"f4 8f bf bf", "U+10FFFF" },
    }
    for _, case in ipairs(utf8_ok) do
      it("accepts UTF-8 " .. case[2], function()
        assert.are.equal("a" .. case[1] .. "z", decode('"a' .. case[1] .. 'z"'))
      end)
    end

    local utf8_bad = {
      { X"80", "lone continuation byte" },
      { X"bf", "lone continuation byte" },
      { X"c0 80", "overlong NUL" },
      { X"c1 bf", "overlong 2-byte" },
      { X"e0 80 80", "overlong 3-byte" },
      { X"e0 9f bf", "overlong 3-byte" },
      { X"f0 80 80 80", "overlong 4-byte" },
      { X"f0 8f bf bf", "overlong 4-byte" },
      { X"ed a0 80", "UTF-16 surrogate U+D800" },
      { X"ed bf bf", "UTF-16 surrogate U+DFFF" },
      { X"ed a0 bd ed b8 80", "CESU-8 surrogate pair" },
      { X"f4 90 80 80", "above U+10FFFF" },
      { X"f5 80 80 80", "lead byte F5" },
      { X"f8 88 80 80 80", "5-byte form" },
      { X"fe", "byte FE" },
      { X"ff", "byte FF" },
      { X"c3", "truncated 2-byte" },
      { X"e2 82", "truncated 3-byte" },
      { X"f0 9d 84", "truncated 4-byte" },
      { X"c3 28", "bad continuation" },
      { X"e2 28 a1", "bad continuation" },
    }
    for _, case in ipairs(utf8_bad) do
      it("rejects invalid UTF-8: " .. case[2], function()
        local msg = assert_rejected('"a' .. case[1] .. 'z"')
        assert.matches("at byte 2: invalid UTF%-8", msg)
        assert_rejected('{"k' .. case[1] .. '":1}')
        -- also after an escape, which takes the other code path
        assert_rejected('"\\n' .. case[1] .. '"')
      end)
    end

    local bad_strings = {
      { '"a\tb"', "raw tab" },
      { '"a\nb"', "raw newline" },
      { '"\0"', "raw NUL" },
      { '"\31"', "raw 0x1F" },
      { '"\\n\1"', "raw control char after an escape" },
      { '"\\x41"', "unknown escape" },
      { '"\\a"', "unknown escape" },
      { '"\\U0041"', "uppercase U" },
      { '"\\u12G4"', "bad hex" },
      { '"\\u123"', "short \\u" },
      { '"\\ud800"', "lone high surrogate" },
      { '"\\udc00"', "lone low surrogate" },
      { '"\\ud800\\u0041"', "high surrogate then non-surrogate" },
      { '"\\ud800\\ud800"', "two high surrogates" },
      { '"\\ud800x"', "high surrogate then text" },
      { '"\\ud800\\n"', "high surrogate then other escape" },
      { '"abc', "unterminated" },
      { "'abc'", "single quotes" },
    }
    for _, case in ipairs(bad_strings) do
      it("rejects " .. case[2], function()
        assert_rejected(case[1])
      end)
    end

    it("does not treat DEL as a control character", function()
      assert.are.equal("\127", decode('"\127"'))
    end)

    it("decodes a 10 MB string (plain and escaped)", function()
      local big = ("0123456789abcdef"):rep(10 * 1024 * 1024 / 16)
      assert.are.equal(big, decode('"' .. big .. '"'))
      local t = decode('{"k":"' .. big .. '\\n"}')
      assert.are.equal(#big + 1, #t.k)
      assert.are.equal("\n", t.k:sub(-1))
    end)
  end)

  describe("rejects what RFC 8259 does not allow", function()
    local cases = {
      "", " ", "\n\t\r ", "nul", "tru", "fals", "True", "NULL", "nulls", "truex",
      "NaN", "-NaN", "Infinity", "-Infinity", "inf",
      "01", "-01", "00", "+1", "0x10", "0X1F", ".5", "-.5", "1.", "1.e3", "1e", "1e+", "1E-", "-", "--1", "1..2",
      "1 2", "{}x", "[] []", '"a" "b"', "1,", "[1,]", "[,1]", "[1,,2]", "[1 2]", "[", "]", "{", "}",
      '{"a":1,}', '{,"a":1}', '{"a" 1}', '{"a":}', '{"a"}', "{a:1}", "{'a':1}", '{1:2}', '{"a":1 "b":2}',
      '{"a",1}', '["a":1]',
      "/* c */ 1", "1 // c", "# c\n1", "[1 /* c */]",
      "\f1", "\v1", "1\f", X"c2 a0" .. "1", X"ef bb bf" .. "{}",
      "undefined", "'x'", "\0", "1\0",
    }
    for _, json in ipairs(cases) do
      it(("%q"):format(json), function()
        assert_rejected(json)
      end)
    end
  end)

  describe("error messages", function()
    local cases = {
      { "", 0, "unexpected end of input" },
      { "[1,]", 3, "unexpected character ']'" },
      { "[1,2", 4, "unexpected end of input" },
      { '{"a":1 x}', 7, "unexpected character 'x'" },
      { '{"a" 1}', 5, "expected ':'" },
      { "1 2", 2, "after the JSON value" },
      { "01", 0, "leading zero" },
      { '"ab\1"', 3, "control character" },
      { '["\\ud800"]', 2, "lone surrogate" },
      { '"\\q"', 1, "invalid escape" },
      { '["a' .. X"ff" .. 'b"]', 3, "invalid UTF%-8" },
      { "tx", 0, "invalid literal" },
      { "\1", 0, "unexpected byte 0x01" },
    }
    for _, case in ipairs(cases) do
      it(("%q fails at byte %d"):format(case[1], case[2]), function()
        local msg = assert_rejected(case[1])
        assert.matches("^invalid JSON at byte " .. case[2] .. ": ", msg)
        assert.matches(case[3], msg)
      end)
    end
  end)

  describe("nesting depth", function()
    local function nested(n, open, close)
      return (open):rep(n) .. (close):rep(n)
    end

    it("defaults to 64 levels", function()
      assert.is_table(decode(nested(64, "[", "]")))
      local msg = assert_rejected(nested(65, "[", "]"))
      assert.matches("too deeply nested", msg)
      assert.matches("at byte 64:", msg)
      assert.is_table(decode(('{"a":'):rep(64) .. "1" .. ("}"):rep(64)))
      assert.matches("too deeply nested", assert_rejected(('{"a":'):rep(65) .. "1" .. ("}"):rep(65)))
    end)

    it("counts arrays and objects together", function()
      local ok = ('[{"a":'):rep(32) .. "1" .. ("}]"):rep(32)
      assert.is_table(decode(ok))
      assert.matches("too deeply nested", assert_rejected("[" .. ok .. "]"))
    end)

    it("honours a custom max_depth", function()
      assert.are.same({ { { 1 } } }, decode("[[[1]]]", 3))
      assert.matches("too deeply nested", assert_rejected("[[[[1]]]]", 3))
      assert.are.same({ 1 }, decode("[1]", 1))
      assert.matches("too deeply nested", assert_rejected("[[]]", 1))
      assert.are.equal(5, decode("5", 1))
      -- deeper than the frames kept on the C stack
      assert.is_table(decode(nested(1000, "[", "]"), 1000))
      assert.is_table(decode(('[{"k":'):rep(500) .. "1" .. ("}]"):rep(500), 1000))
    end)

    it("fails cleanly on absurd nesting", function()
      assert_rejected(("["):rep(1000000))
      assert_rejected(("["):rep(100000), 1000)
      assert_rejected(('{"a":'):rep(100000), 1000)
    end)

    it("sibling containers of different sizes decode exactly (size hints are only hints)", function()
      local t = decode('[{"a":1,"b":2,"c":3},{},{"x":1},[1,2,3,4,5],[],[6],{"a":1,"b":2,"c":3,"d":4,"e":5}]')
      assert.are.same({ { a = 1, b = 2, c = 3 }, {}, { x = 1 }, { 1, 2, 3, 4, 5 }, {}, { 6 },
        { a = 1, b = 2, c = 3, d = 4, e = 5 } }, t)
    end)
  end)

  describe("truncated input", function()
    local body = read_fixture("flex_restore_job_get_200_running"):gsub("}$",
      ',"n":[0,-12,3.5e-2,1.1991456e+09,true,false,null,{},[]],' ..
      '"s":"esc \\" \\\\ \\/ \\u00e9 \\ud83d\\ude00 ' .. X"c3 a9" .. " " .. X"f0 9f 98 80" ..
      '","o":{ "k" : [ 1 , { } ] }}')

    it("the extended body itself is valid", function()
      local t = assert(decode(body))
      assert.are.equal("RUNNING", t.status)
      assert.are.equal(1199145600, t.n[4])
      assert.are.equal('esc " \\ / ' .. U(0xe9, 0x20, 0x1f600, 0x20, 0xe9, 0x20, 0x1f600), t.s)
    end)

    it("fails cleanly when cut at every byte offset", function()
      for cut = 0, #body - 1 do
        local prefix = body:sub(1, cut)
        local ok, value, msg = pcall(decode, prefix)
        assert(ok, ("raised at cut %d: %s"):format(cut, tostring(value)))
        assert(value == nil, ("accepted a %d-byte prefix"):format(cut))
        assert(type(msg) == "string" and msg:match("^invalid JSON at byte %d+: "),
          ("cut %d: %s"):format(cut, tostring(msg)))
        local at = tonumber(msg:match("byte (%d+)"))
        assert(at <= cut, ("cut %d reported byte %d"):format(cut, at))
      end
    end)

    it("a pretty-printed body fails cleanly at every cut", function()
      local pretty = read_fixture("digest_401_challenge")
      for cut = 0, #pretty - 1 do
        assert_rejected(pretty:sub(1, cut))
      end
    end)
  end)

  describe("fixture bodies", function()
    local function fixture(name)
      return assert(decode(read_fixture(name)))
    end

    -- Fixtures named as deliberately broken are left to the specs that use them.
    it("every spec/fixtures/*.json decodes", function()
      local p = assert(io.popen("ls spec/fixtures"))
      local n = 0
      for file in p:lines() do
        local name = file:match("^(.*)%.json$")
        if name and not name:match("invalid") and not name:match("malformed") and not name:match("truncated") then
          local v, msg = decode(read_fixture(name))
          assert(v ~= nil, name .. ": " .. tostring(msg))
          n = n + 1
        end
      end
      p:close()
      assert.is_true(n >= 1)
    end)

    it("Flex restore jobs list page", function()
      local page = fixture("flex_restore_jobs_list_200")
      assert.are.equal("integer", compat.math_type(page.totalCount))
      assert.are.equal(2160, page.totalCount)
      assert.are.equal(100, #page.results)
      assert.are.equal(2, #page.links)
      assert.are.equal("self", page.links[1].rel)
      assert.are.equal("next", page.links[2].rel)
      assert.matches("pageNum=2", page.links[2].href, 1, true)
      local job = page.results[1]
      assert.are.equal("6a793f812c88faeba59bc399", job.id)
      assert.are.equal("COMPLETED", job.status)
      assert.are.equal("RESTORE", job.deliveryType)
      assert.are.equal("2026-08-10T03:04:32Z", job.restoreFinishedDate)
      assert.is_nil(job.links)
      for _, j in ipairs(page.results) do
        assert.are.equal("string", type(j.id))
        assert.are.equal(24, #j.id)
        assert.are.equal("string", type(j.status))
      end
    end)

    it("running job has no restoreFinishedDate", function()
      local job = fixture("flex_restore_job_get_200_running")
      assert.are.equal("RUNNING", job.status)
      assert.is_nil(job.restoreFinishedDate)
      assert.are.equal("2026-08-10T03:04:50Z", job.restoreScheduledDate)
    end)

    it("error body with parameters null", function()
      local e = fixture("unexpected_error_404_parameters_null")
      assert.are.equal("integer", compat.math_type(e.error))
      assert.are.equal(404, e.error)
      assert.are.equal("UNEXPECTED_ERROR", e.errorCode)
      assert.is_nil(e.parameters)
    end)

    it("pretty-printed 401 body", function()
      local e = fixture("digest_401_challenge")
      assert.are.equal(401, e.error)
      assert.are.equal("integer", compat.math_type(e.error))
      assert.are.equal("Unauthorized", e.reason)
    end)
  end)

  describe("array metatable", function()
    local core = require("atlasrestore.core")

    it("marks every array, including empty ones, and never objects", function()
      local mt = core.array_mt
      assert.are.equal(mt, getmetatable(decode("[]")))
      assert.is_nil(getmetatable(decode("{}")))
      local t = decode('{"a":[[1],{},[]],"b":{"c":[null]}}')
      assert.is_nil(getmetatable(t))
      assert.are.equal(mt, getmetatable(t.a))
      assert.are.equal(mt, getmetatable(t.a[1]))
      assert.is_nil(getmetatable(t.a[2]))
      assert.are.equal(mt, getmetatable(t.a[3]))
      assert.is_nil(getmetatable(t.b))
      assert.are.equal(core.sparse_array_mt, getmetatable(t.b.c), "an array with a null is marked sparse")
      assert.are.equal(core.sparse_array_mt, getmetatable(decode('[1,null,3]')))
      assert.are.equal(3, decode('[1,null,3]')[3])
      local deep = decode(("["):rep(200) .. ("]"):rep(200), 1000)
      for _ = 1, 199 do
        assert.are.equal(mt, getmetatable(deep))
        deep = deep[1]
      end
    end)
  end)

  describe("robustness", function()
    it("works inside coroutines and keeps states independent", function()
      local co = coroutine.wrap(function(s)
        coroutine.yield(decode(s))
        return decode("[2]")
      end)
      assert.are.same({ 1 }, co("[1]"))
      assert.are.same({ 2 }, co())
    end)

    it("many small decodes and failures interleave without leaking stack slots", function()
      for i = 1, 10000 do
        if i % 2 == 0 then
          assert.are.equal(i, decode(tostring(i)))
        else
          assert.is_nil((decode("[" .. i .. ",")))
        end
      end
    end)
  end)
end)

describe("core.decode numbers no double can hold", function()
  local core = require "atlasrestore.core"
  it("refuses them instead of decoding infinity, and keeps the largest doubles", function()
    for _, text in ipairs { "1E400", "-1e999", "[1,2,1e309]", '{"totalCount": 123456789e400}' } do
      local value, why = core.decode(text)
      assert.is_nil(value, text)
      assert.matches("number out of range", why)
    end
    assert.equal(1.7e308, core.decode("[1.7e308]")[1])
    assert.equal(0, core.decode("[1e-400]")[1])
  end)
end)

-- core.encode: the C JSON encoder (csrc/encode.c), and atlasrestore.encode, which passes the record's order.
describe("core.encode", function()
  local core = require "atlasrestore.core"
  local encode = core.encode
  local array = function(t) return setmetatable(t, core.array_mt) end

  -- Every refusal is nil, a message and a code, as core.decode's, never a raised error.
  local function refused(value, pattern, ...)
    local ok, text, why, code = pcall(encode, value, ...)
    assert(ok, "encode raised: " .. tostring(text))
    assert.is_nil(text)
    assert.is_string(why)
    assert.equal("INVALID_ARGUMENT", code)
    assert.matches(pattern, why)
    return why
  end

  describe("numbers", function()
    it("writes integers exactly, without exponent or fraction", function()
      assert.equal("[0,1,-1,1199145600,9007199254740991,-9007199254740991,1000000000000000]",
        encode({ 0, 1, -1, 1199145600, 2 ^ 53 - 1, -(2 ^ 53 - 1), 1e15 }))
      assert.equal("1700035200", encode(1.7000352e+09))
      assert.equal("9007199254740992", encode(2 ^ 53))
      -- Integral doubles below 2^63 in full: a decoder with 64-bit integers reads the same value.
      assert.equal("1152921504606846976", encode(2 ^ 60))
      assert.equal("-73438841771396368", encode(-73438841771396368))
    end)

    it_int64("writes every 64-bit integer exactly", function()
      assert.equal("[9223372036854775807,-9223372036854775808,1234567890123456789]",
        encode({ math.maxinteger, math.mininteger, 1234567890123456789 }))
      assert.equal("3", encode(3.0))
    end)

    it("writes other numbers so that they read back the same, as short as 15 to 17 digits allow", function()
      local cases = { { 0.1, "0.1" }, { 1.5, "1.5" }, { -2.25, "-2.25" }, { 1 / 3, "0.3333333333333333" },
        { 1e300, "1e+300" }, { 5e-324, "4.94065645841247e-324" }, { 2 ^ 63, "9.223372036854776e+18" } }
      for _, case in ipairs(cases) do
        assert.equal(case[2], encode(case[1]))
        assert.equal(case[1], core.decode(encode(case[1])))
      end
      for _ = 1, 2000 do
        local x = (math.random() - 0.5) * 10 ^ math.random(-300, 300)
        -- == and not equal(): past 2^53 the decoder gives an integral number back as an integer.
        assert.truthy(x == core.decode(encode(x)), encode(x))
      end
    end)

    it("refuses NaN and the infinities", function()
      refused(0 / 0, "^NaN has no JSON text$")
      refused(math.huge, "^inf has no JSON text$")
      refused({ results = array { { size = -math.huge } } }, "^%-inf has no JSON text at results%[1%]%.size$")
    end)
  end)

  describe("arrays and objects", function()
    it("keeps marked arrays arrays, empty ones included, and {} an object", function()
      assert.equal("[]", encode(array {}))
      assert.equal("{}", encode({}))
      assert.equal('{"deliveryUrl":[],"links":{}}', encode({ deliveryUrl = array {}, links = {} }))
      assert.equal('[1,"a",true]', encode({ 1, "a", true }))
      assert.equal('[[],[{}]]', encode(array { array {}, array { {} } }))
    end)

    it("gives back what the decoder read: [] and {} apart, arrays with holes as null", function()
      for _, text in ipairs { '{"a":[],"b":{},"c":[[]],"d":[1,null,3],"e":"x"}', "[]", "{}", "[null,1]" } do
        assert.equal(text, encode(core.decode(text)))
      end
    end)

    it("writes a table keyed 1..n as an array, any other as an object with its integer keys as text", function()
      assert.equal('{"1":"a","3":"c"}', encode({ [1] = "a", [3] = "c" }))
      assert.equal('{"1":"a","x":"b"}', encode({ "a", x = "b" }))
      refused({ [1] = "a", ["1"] = "b" }, "same text")
    end)

    it("refuses keys JSON cannot have, and arrays with other keys", function()
      refused({ [true] = 1 }, "a boolean key")
      refused({ [1.5] = 1 }, "not an integer")
      refused(array { 1, x = 2 }, "an array holds a string key")
    end)
  end)

  describe("key order", function()
    it("sorts keys bytewise, whatever order the table was filled in", function()
      local texts = {}
      for round = 1, 20 do
        local t = {}
        local keys = { "b", "a", "B", "ab", "_", "aa", "a1", "é", "z" }
        for i = 1, #keys do
          local k = keys[(i + round) % #keys + 1]
          t[k] = i
        end
        for k in pairs(t) do t[k] = #k end
        texts[#texts + 1] = encode(t)
      end
      for i = 2, #texts do assert.equal(texts[1], texts[i]) end
      assert.equal('{"B":1,"_":1,"a":1,"a1":2,"aa":2,"ab":2,"b":1,"z":1,"' .. U(0xe9) .. '":2}', texts[1])
    end)

    it("writes the keys of key_order first, in that order, in every object", function()
      local order = { "id", "status", "links" }
      assert.equal('{"id":"x","status":"S","links":[{"rel":"self","href":"h"}],"a":1,"z":2}',
        encode({ z = 2, a = 1, links = array { { href = "h", rel = "self" } }, status = "S", id = "x" },
          { "id", "status", "links", "rel" }))
      assert.equal('{"status":"S","a":1}', encode({ a = 1, status = "S" }, order))
    end)

    it("raises at the caller for a key_order that is not an array of strings", function()
      assert.has_error(function() encode({}, { 1 }) end)
      assert.has_error(function() encode({}, "id") end)
    end)

    it("is the record's documented order in atlasrestore.encode", function()
      local atlasrestore = require "atlasrestore"
      local shape = require "atlasrestore.shape"
      local job = { zeta = 1, finishedAt = "f", id = "i", status = "COMPLETED", cancelled = false }
      assert.equal('{"id":"i","status":"COMPLETED","finishedAt":"f","cancelled":false,"zeta":1}',
        atlasrestore.encode(job))
      assert.equal("id", shape.FIELDS[4])
      assert.equal('{"zeta":1,"id":"i"}', atlasrestore.encode({ id = "i", zeta = 1 }, { "zeta" }))
    end)
  end)

  describe("strings", function()
    it("escapes quote, backslash and control characters, and passes UTF-8 and / through", function()
      assert.equal([["a\"b\\c/d"]], encode('a"b\\c/d'))
      assert.equal([["\b\f\n\r\t\u0000\u0001\u001f"]], encode("\b\f\n\r\t\0" .. X("01 1f")))
      assert.equal('"' .. U(0xe9, 0x20ac, 0x1f600, 0x2028) .. X("7f") .. '"', encode(U(0xe9, 0x20ac, 0x1f600, 0x2028)
        .. X("7f")))
      local long = ("x"):rep(100000) .. "\n" .. ("y"):rep(100000)
      assert.equal('"' .. long:gsub("\n", "\\n") .. '"', encode(long))
    end)

    it("refuses invalid UTF-8, in values and in keys", function()
      for _, bad in ipairs { X("ff"), X("c0 80"), X("ed a0 80"), "ok" .. X("e2 82"), X("f4 90 80 80") } do
        refused(bad, "invalid UTF%-8")
        refused({ [bad] = 1 }, "invalid UTF%-8 at byte %d+ of a key")
      end
    end)
  end)

  describe("what has no JSON text", function()
    it("writes nil, and core.null (a NULL light userdata, as cjson.null), as null", function()
      assert.equal("null", encode(nil))
      assert.equal('{"a":null}', encode({ a = core.null }))
      assert.equal("[true,false]", encode({ true, false }))
    end)

    it("refuses functions, coroutines and full userdata, naming where", function()
      refused(print, "^a function has no JSON text$")
      refused({ a = { b = array { 1, coroutine.create(function() end) } } }, "^a thread has no JSON text at a%.b%[2%]$")
      refused({ [("k"):rep(40)] = io.stdout }, '^a userdata has no JSON text at %["k+%.%.%."%]$')
    end)

    it("refuses a table that contains itself, and nesting past max_depth", function()
      local t = { list = array {} }
      t.list[1] = t
      refused(t, "^a table that contains itself at list%[1%]$")
      local deep = {}
      for _ = 1, 64 do deep = array { deep } end
      refused(deep, "^nested deeper than 64")
      assert.is_string(encode(deep, nil, 100))
      assert.has_error(function() encode({}, nil, 0) end)
    end)

    it("leaves the stack as it was, after thousands of refusals and successes", function()
      for i = 1, 5000 do
        if i % 2 == 0 then
          assert.equal(tostring(i), encode(i))
        else
          assert.is_nil((encode({ 0 / 0 })))
        end
      end
    end)
  end)

  it("gives the same bytes for the same page, and the page the decoder read", function()
    local body = read_fixture("dedicated_restore_jobs_list_200")
    local doc = assert(core.decode(body))
    local text = assert(encode(doc))
    assert.equal(text, encode(core.decode(text)))
    assert.equal(text, encode(assert(core.decode(body))))
    assert.matches('"deliveryUrl":[]', text, 1, true)
  end)
end)

describe("core.decode of many same-shaped objects", function()
  -- Values that repeat under a key, change under another, come escaped, empty,
  -- under keys that share a cache slot, and under a key that appears twice.
  local keys = { "p", "q", "pq", "qp", "x1", "y1", "delivery", "deliveryType", "" }
  local function object(i)
    local fields = {
      p = "same", q = "v" .. i, pq = ({ "a", "b", "c" })[i % 3 + 1], qp = i % 7 == 0 and "same" or "Same",
      x1 = i % 2 == 0 and "" or "e\\u0301", y1 = "same", delivery = ("d"):rep(i % 50), deliveryType = "RESTORE",
      [""] = i < 300 and "early" or "late",
    }
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = ('"%s":"%s"'):format(k, fields[k]) end
    parts[#parts + 1] = '"p":"again"'
    return "{" .. table.concat(parts, ",") .. "}", fields
  end

  it("gives every object its own values", function()
    local texts, expected = {}, {}
    for i = 1, 600 do
      local text, fields = object(i)
      texts[i] = text
      fields.p = "again"
      fields.x1 = i % 2 == 0 and "" or "e" .. U(0x301)
      expected[i] = fields
    end
    local doc = assert(decode("[" .. table.concat(texts, ",") .. "]"))
    assert.equal(600, #doc)
    for i = 1, 600 do assert.same(expected[i], setmetatable(doc[i], nil)) end
  end)
end)
