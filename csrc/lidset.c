/* core.idset(): the listing's per-job work in one pass over a decoded page:
 * each job's id checked, looked up and remembered, the new jobs collected.
 *
 *   seen = core.idset()
 *   jobs = seen:select(results, page_num)   -- the jobs not seen before, in order
 *        | nil, message                     -- a job without a valid id, or a page of nothing new
 *   seen:count() -> ids remembered */
#include "lua.h"
#include "lauxlib.h"

#include "compat.h"
#include "idset.h"
#include "json.h"
#include "lidset.h"

#define AR_IDSET_MT "atlasrestore.core.IdSet"

static int ar_idset_select(lua_State *L) {
  ar_idset *set = (ar_idset *)luaL_checkudata(L, 1, AR_IDSET_MT);
  lua_Integer page_num = luaL_checkinteger(L, 3);
  int n, i, count = 0;
  luaL_checktype(L, 2, LUA_TTABLE);
  n = (int)lua_rawlen(L, 2);
  lua_createtable(L, n, 0);
  luaL_getmetatable(L, AR_JSON_ARRAY_MT);
  lua_setmetatable(L, -2);
  for (i = 1; i <= n; i++) {
    unsigned char id[AR_ID_BYTES];
    const char *s;
    size_t len;
    int added;
    lua_rawgeti(L, 2, i);
    if (lua_type(L, -1) != LUA_TTABLE) return luaL_error(L, "results[%d] is not a table", i);
    lua_getfield(L, -1, "id");
    if (lua_type(L, -1) != LUA_TSTRING) {
      lua_pushnil(L);
      lua_pushfstring(L, "page %d has a job without an id, which cannot be listed exactly once", (int)page_num);
      return 2;
    }
    s = lua_tolstring(L, -1, &len);
    if (ar_id_parse(s, len, id) != 0) {
      lua_pushnil(L);
      lua_pushfstring(L, "page %d: results[%d].id is not 24 lowercase hexadecimal characters", (int)page_num, i);
      return 2;
    }
    lua_pop(L, 1);
    added = ar_idset_add(set, id);
    if (added < 0) return luaL_error(L, "not enough memory");
    if (added) {
      lua_rawseti(L, -2, ++count);
    } else {
      lua_pop(L, 1);
    }
  }
  if (n > 0 && count == 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "page %d repeats only jobs already listed; the server is not paginating", (int)page_num);
    return 2;
  }
  return 1;
}

static int ar_idset_count(lua_State *L) {
  ar_idset *set = (ar_idset *)luaL_checkudata(L, 1, AR_IDSET_MT);
  lua_pushinteger(L, (lua_Integer)set->count);
  return 1;
}

static int ar_idset_gc(lua_State *L) {
  ar_idset_free((ar_idset *)luaL_checkudata(L, 1, AR_IDSET_MT));
  return 0;
}

static const luaL_Reg ar_idset_methods[] = {
  { "select", ar_idset_select },
  { "count", ar_idset_count },
  { "__gc", ar_idset_gc },
  { NULL, NULL },
};

int ar_core_idset(lua_State *L) {
  ar_idset *set = (ar_idset *)lua_newuserdata(L, sizeof *set);
  ar_idset_init(set);
  if (luaL_newmetatable(L, AR_IDSET_MT)) {
    luaL_setfuncs(L, ar_idset_methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
  }
  lua_setmetatable(L, -2);
  return 1;
}
