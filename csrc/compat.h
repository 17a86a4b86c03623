/* The few Lua 5.2+ names the module uses, for Lua 5.1 and LuaJIT hosts.
 * Shims carry an ar_ prefix so they never clash with a host's own symbols. */
#ifndef AR_COMPAT_H
#define AR_COMPAT_H

#include "lua.h"
#include "lauxlib.h"

#if defined(__GNUC__)
#define AR_EXPORT __attribute__((visibility("default")))
#else
#define AR_EXPORT
#endif

#if LUA_VERSION_NUM < 502
#define luaL_newlib(L, l) (lua_newtable(L), luaL_register(L, NULL, l))
#endif

#endif
