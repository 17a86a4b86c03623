-- The emulator starter is installed with the module: lua/atlasrestore_emulator/init.lua.
return require "atlasrestore_emulator"
