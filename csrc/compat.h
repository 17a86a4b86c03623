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
#define lua_rawlen(L, i) lua_objlen(L, (i))
#ifndef luaL_newlib /* LuaJIT 2.1 has it */
#define luaL_newlib(L, l) (lua_newtable(L), luaL_register(L, NULL, l))
#endif

/* luaL_setfuncs of 5.2: registers `l` into the table below `nup` upvalues. */
static inline void ar_compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  int i;
  luaL_checkstack(L, nup, "too many upvalues");
  for (; l->name != NULL; l++) {
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}
#define luaL_setfuncs ar_compat_setfuncs
#endif

#endif
