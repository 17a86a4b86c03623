-- The emulator starter is installed with the module: lua/atlasrestore/emulator.lua.
return require "atlasrestore.emulator"
