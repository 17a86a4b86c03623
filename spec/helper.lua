-- Loaded by busted before every spec file (see .busted).
-- Collecting after each test surfaces __gc bugs early.
local busted = require "busted"
busted.after_each(function() collectgarbage() collectgarbage() end)
