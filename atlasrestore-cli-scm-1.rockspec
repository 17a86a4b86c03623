rockspec_format = "3.0"
package = "atlasrestore-cli"
version = "scm-1"
source = {
  url = "git+file:///atlasrestore",
}
description = {
  summary = "atlasrestore: the command line for the restore jobs of MongoDB Atlas serverless instances and successors",
  detailed = [[
The atlasrestore command: list, describe and watch restore jobs, with exit codes that
say what went wrong, shell completion and a man page. `atlasrestore emulator` runs the
bundled Atlas emulator when atlasrestore-emulator is installed.
]],
  license = "MIT",
}
-- Every module the command requires, by its rock (spec/support/installed.lua checks it).
dependencies = {
  "lua >= 5.1, < 5.5",
  "atlasrestore",
  "argparse",
}
-- Built through the Makefile, like the library (see atlasrestore-scm-1.rockspec): process.so,
-- then the man page and the bash completion from the command's own --help, into build/<abi>/.
-- luarocks deploys bin/, lua/ and lib/ only: the page and the completion file stay in the
-- rock's directory (lib/luarocks/rocks-<v>/atlasrestore-cli/scm-1/share/).  The launcher
-- finds the tree it was installed into from its own path.  The page is made by running the
-- command from the source tree, so the library's modules are built too (into build/ only,
-- with the Makefile's own libcurl and libdeflate flags); only process.so is installed.
build = {
  type = "make",
  build_target = "cli",
  install_target = "install-cli",
  variables = {
    CFLAGS = "$(CFLAGS)",
    LIBFLAG = "$(LIBFLAG)",
    LUA = "$(LUA)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    PREFIX = "$(PREFIX)",
    LIBDIR = "$(LIBDIR)",
    LUADIR = "$(LUADIR)",
    BINDIR = "$(BINDIR)",
    LAUNCHER_PATHS = "no",
  },
}
