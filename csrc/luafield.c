/* Typed fields of an argument table. */
#include <string.h>

#include "lauxlib.h"

#include "luafield.h"

/* Pushes t[name] and returns 1, or pushes nothing and returns 0 when it is nil
 * and optional. Raises when it is neither nil nor of the expected type. */
static int ar_field_push(lua_State *L, int t, const char *name, int type, int required) {
  lua_getfield(L, t, name);
  if (lua_isnil(L, -1) && !required) {
    lua_pop(L, 1);
    return 0;
  }
  if (lua_type(L, -1) != type)
    luaL_error(L, "bad field '%s' (%s expected, got %s)", name, lua_typename(L, type), luaL_typename(L, -1));
  return 1;
}

const char *ar_field_lstring(lua_State *L, int t, const char *name, int required, size_t *len) {
  const char *value;
  *len = 0;
  if (!ar_field_push(L, t, name, LUA_TSTRING, required)) return NULL;
  value = lua_tolstring(L, -1, len);
  lua_pop(L, 1); /* still referenced by the table */
  return value;
}

double ar_field_number(lua_State *L, int t, const char *name, double fallback) {
  double value;
  if (!ar_field_push(L, t, name, LUA_TNUMBER, 0)) return fallback;
  value = (double)lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (!(value >= 0)) luaL_error(L, "bad field '%s' (must be >= 0)", name);
  return value;
}

int ar_field_header_safe(const char *s, size_t len) {
  return strlen(s) == len && strpbrk(s, "\r\n") == NULL;
}
