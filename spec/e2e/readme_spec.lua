-- The README's examples cannot drift: every ```lua block runs, as a user would
-- run it, against the emulator (base URL, credentials and project given
-- through the environment), and every other block names the spec that runs it
-- or says why it cannot run here, in a comment on the line before it:
--   <!-- example: spec/e2e/run_spec.lua -->   or   <!-- example: not run (why) -->
local emulator = require "support.emulator"

local function blocks(text)
  local out, pos = {}, 1
  while true do
    local start, body_start, lang = text:find("\n```(%w*)\n", pos)
    if not start then return out end
    local finish = text:find("\n```\n", body_start, true) or #text
    local before = text:sub(1, start - 1):match("([^\n]*)$")
    local _, newlines = text:sub(1, start):gsub("\n", "")
    out[#out + 1] = { lang = lang, body = text:sub(body_start + 1, finish), line = newlines + 1,
      marker = before:match("^<!%-%- example: (.-) %-%->$") }
    pos = finish + 4
  end
end

local README = assert(emulator.read_file("README.md"))
local BLOCKS = blocks(README)

describe("the README's examples", function()
  local emu

  lazy_setup(function() emu = emulator.start() end)
  lazy_teardown(function() if emu then emu:stop() end end)

  it("are found", function()
    assert.is_true(#BLOCKS >= 5)
  end)

  for _, block in ipairs(BLOCKS) do
    if block.lang == "lua" and block.marker == nil then
      it("run: the lua block at README.md:" .. block.line, function()
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
        assert.is_true(ok == true or ok == 0, "README.md:" .. block.line .. " failed:\n" .. output)
      end)
    else
      it(("name a spec or a reason: the %s block at README.md:%d"):format(block.lang ~= "" and block.lang
        or "plain", block.line), function()
        assert.is_string(block.marker, "no <!-- example: ... --> line before README.md:" .. block.line)
        local spec = block.marker:match("^(spec/%S+%.lua)$")
        if spec then
          assert.is_string(emulator.read_file(spec), spec .. " does not exist")
        else
          assert.matches("^not run %(.+%)$", block.marker)
        end
      end)
    end
  end
end)
