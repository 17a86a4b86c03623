-- The documents' examples cannot drift: every ```lua block of README.md and of
-- docs/*.md runs, as a user would run it, against the emulator (base URL,
-- credentials and project given through the environment), and every other block
-- names the spec that runs it or says why it cannot run here, in a comment on the
-- line before it:
--   <!-- example: spec/e2e/run_spec.lua -->   or   <!-- example: not run (why) -->
-- A ```yaml block that names this spec holds Prometheus rules: promtool must accept them.
-- The README stays short, and every link between these files leads somewhere.
local emulator = require "support.emulator"

local README_MAX_LINES = 400

-- README.md first, then docs/*.md in name order.
local function documents()
  local files = { "README.md" }
  local pipe = assert(io.popen("ls docs/*.md 2>/dev/null"))
  for path in pipe:lines() do files[#files + 1] = path end
  pipe:close()
  return files
end

-- The fenced blocks of a Markdown text, fences indented or not:
-- { lang, body, line, marker }, marker the text of the comment on the line before.
local function blocks(text)
  local out, open, previous, n = {}, nil, "", 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if open then
      if line:match("^%s*```%s*$") then
        out[#out + 1], open = open, nil
      else
        open.lines[#open.lines + 1] = line:sub(open.indent + 1)
      end
    else
      local indent, lang = line:match("^(%s*)```(%w*)%s*$")
      if indent then
        open = { lang = lang, line = n, indent = #indent, lines = {},
          marker = previous:match("^%s*<!%-%- example: (.-) %-%->%s*$") }
      end
    end
    previous = line
  end
  assert(open == nil, "a fence opened at line " .. (open and open.line or 0) .. " is never closed")
  for _, block in ipairs(out) do block.body = table.concat(block.lines, "\n") .. "\n" end
  return out
end

-- GitHub's anchor of a heading: lower case, punctuation but '-' and '_' dropped, spaces to '-'.
local function slug(heading)
  return (heading:lower():gsub("[^%w%s_%-]", ""):gsub("%s", "-"))
end

local function anchors(text)
  local set, in_block = {}, false
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("^%s*```") then in_block = not in_block end
    local heading = not in_block and line:match("^#+%s+(.-)%s*$")
    if heading then set[slug(heading)] = true end
  end
  return set
end

-- Relative links, `](path#anchor)`, outside code blocks and code spans.
local function links(text)
  local out, in_block = {}, false
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    if line:match("^%s*```") then in_block = not in_block end
    if not in_block then
      for target in line:gsub("`[^`]*`", ""):gmatch("%]%(([^)%s]+)%)") do
        if not target:match("^%a[%w+.-]*:") then out[#out + 1] = target end
      end
    end
  end
  return out
end

local function directory(path) return path:match("^(.*)/[^/]*$") or "." end

-- "docs/../README.md" -> "README.md"
local function normalize(path)
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." and #parts > 0 and parts[#parts] ~= ".." then parts[#parts] = nil
    elseif part ~= "." then parts[#parts + 1] = part end
  end
  return table.concat(parts, "/")
end

local FILES = documents()
local TEXTS = {}
for _, path in ipairs(FILES) do TEXTS[path] = assert(emulator.read_file(path)) end

describe("the documents", function()
  it("are README.md and at least the eight files of docs/", function()
    assert.is_true(#FILES >= 9, "found: " .. table.concat(FILES, " "))
  end)

  it("keep README.md within " .. README_MAX_LINES .. " lines", function()
    local _, lines = TEXTS["README.md"]:gsub("\n", "")
    assert.is_true(lines <= README_MAX_LINES, "README.md has " .. lines .. " lines")
  end)

  for _, path in ipairs(FILES) do
    it("link only to files and headings that exist: " .. path, function()
      local broken = {}
      for _, target in ipairs(links(TEXTS[path])) do
        local file, anchor = target:match("^([^#]*)#?(.*)$")
        local resolved = file == "" and path or normalize(directory(path) .. "/" .. file)
        local text = TEXTS[resolved] or emulator.read_file(resolved)
        if not text then
          broken[#broken + 1] = target .. " (no file " .. resolved .. ")"
        elseif anchor ~= "" and not (resolved:match("%.md$") and anchors(text)[anchor]) then
          broken[#broken + 1] = target .. " (no heading #" .. anchor .. " in " .. resolved .. ")"
        end
      end
      assert.same({}, broken)
    end)
  end
end)

describe("the documents' examples", function()
  local emu

  lazy_setup(function() emu = emulator.start() end)
  lazy_teardown(function() if emu then emu:stop() end end)

  local found = 0
  for _, path in ipairs(FILES) do
    for _, block in ipairs(blocks(TEXTS[path])) do
      found = found + 1
      local where = path .. ":" .. block.line
      if block.lang == "yaml" and block.marker == "spec/e2e/readme_spec.lua" then
        it("pass promtool check rules: the yaml block at " .. where, function()
          local rules = os.tmpname()
          emulator.write_file(rules, block.body)
          local p = assert(io.popen(emulator.clean_env("promtool check rules " .. emulator.sh_quote(rules)
            .. " 2>&1; echo rc=$?")))
          local output = p:read("*a")
          p:close()
          os.remove(rules)
          assert.equal("0", output:match("rc=(%d+)"), where .. ":\n" .. output)
        end)
      elseif block.lang == "lua" and block.marker == nil then
        it("run: the lua block at " .. where, function()
          local script, out = os.tmpname(), os.tmpname()
          local f = assert(io.open(script, "w"))
          f:write('package.path = "./lua/?.lua;./lua/?/init.lua;./spec/?.lua;" .. package.path\n',
            'package.cpath = "./build/5.4/?.so;" .. package.cpath\n', block.body)
          f:close()
          local env = ("MONGODB_ATLAS_BASE_URL=%s MONGODB_ATLAS_PUBLIC_API_KEY=%s MONGODB_ATLAS_PRIVATE_API_KEY=%s "
            .. "MONGODB_ATLAS_PROJECT_ID=%s"):format(emu.base_url, emu.public_key, emu.private_key, emu.group_id)
          local ok = os.execute(emulator.clean_env(("env %s lua5.4 %s >%s 2>&1"):format(env, script, out)))
          local output = emulator.read_file(out) or ""
          os.remove(script)
          os.remove(out)
          assert.is_true(ok == true or ok == 0, where .. " failed:\n" .. output)
        end)
      else
        it(("name a spec or a reason: the %s block at %s"):format(block.lang ~= "" and block.lang or "plain", where),
          function()
            assert.is_string(block.marker, "no <!-- example: ... --> line before " .. where)
            local spec = block.marker:match("^(spec/%S+%.lua)$")
            if spec then
              assert.is_string(emulator.read_file(spec), spec .. " does not exist")
            else
              assert.matches("^not run %(.+%)$", block.marker)
            end
          end)
      end
    end
  end

  it("are found", function()
    assert.is_true(found >= 20, found .. " blocks")
  end)
end)
