/* Lua values of a response head. */
#include <string.h>
#include <strings.h>

#include "lauxlib.h"

#include "compat.h"
#include "framing.h"
#include "head.h"
#include "luahead.h"

void ar_lua_push_lower(lua_State *L, const char *s, size_t len) {
  luaL_Buffer b;
  size_t i;
  luaL_buffinit(L, &b);
  for (i = 0; i < len; i++) {
    char c = s[i];
    luaL_addchar(&b, c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c);
  }
  luaL_pushresult(&b);
}

/* Pushes a field value; an obs-fold and the whitespace around it become one SP. */
static void ar_lua_push_value(lua_State *L, const ar_head_field *f) {
  const char *v = f->value, *end = f->value + f->value_len;
  luaL_Buffer b;
  if (!f->folded) {
    lua_pushlstring(L, v, f->value_len);
    return;
  }
  luaL_buffinit(L, &b);
  for (;;) {
    const char *eol = (const char *)memchr(v, '\n', (size_t)(end - v));
    const char *seg_end = eol ? eol : end;
    while (seg_end > v && (seg_end[-1] == '\r' || seg_end[-1] == ' ' || seg_end[-1] == '\t')) seg_end--;
    luaL_addlstring(&b, v, (size_t)(seg_end - v));
    if (!eol) break;
    luaL_addchar(&b, ' ');
    for (v = eol + 1; v < end && (*v == ' ' || *v == '\t'); v++) {}
  }
  luaL_pushresult(&b);
}

/* Adds one field to the headers table at the top of the stack. */
static void ar_lua_add_field(lua_State *L, const ar_head_field *f) {
  int list = f->name_len == 16 && strncasecmp(f->name, "www-authenticate", 16) == 0;
  ar_lua_push_lower(L, f->name, f->name_len);
  lua_pushvalue(L, -1);
  lua_rawget(L, -3);
  if (list) {
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_createtable(L, 1, 0);
      lua_pushvalue(L, -2);
      lua_pushvalue(L, -2);
      lua_rawset(L, -5); /* headers[name] = the new list */
    }
    ar_lua_push_value(L, f);
    lua_rawseti(L, -2, (int)lua_rawlen(L, -2) + 1);
    lua_pop(L, 2);
    return;
  }
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    ar_lua_push_value(L, f);
  } else {
    lua_pushliteral(L, ", ");
    ar_lua_push_value(L, f);
    lua_concat(L, 3);
  }
  lua_rawset(L, -3);
}

void ar_lua_push_headers(lua_State *L, const ar_head *head) {
  size_t i;
  lua_createtable(L, 0, (int)head->count);
  for (i = 0; i < head->count; i++) ar_lua_add_field(L, &head->fields[i]);
}

static const char *const ar_lua_bodies[] = { "none", "length", "chunked", "close" };

int ar_lua_head(lua_State *L, const char *data, size_t len) {
  ar_head head;
  ar_framing framing;
  const char *why = NULL;
  ar_head_result result = ar_head_parse(data, len, &head, &why);
  if (result == AR_HEAD_OK && !ar_head_interim(head.status)) why = ar_framing_of(&head, &framing);
  if (result != AR_HEAD_OK || why) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    lua_pushstring(L, result == AR_HEAD_TOO_LARGE ? "RESPONSE_TOO_LARGE" : "BAD_RESPONSE");
    return 3;
  }
  lua_pushinteger(L, head.status);
  ar_lua_push_headers(L, &head);
  if (ar_head_interim(head.status)) return 2;
  lua_createtable(L, 0, 3);
  lua_pushstring(L, ar_lua_bodies[framing.body]);
  lua_setfield(L, -2, "body");
  lua_pushinteger(L, (lua_Integer)framing.length);
  lua_setfield(L, -2, "length");
  lua_pushboolean(L, framing.persist);
  lua_setfield(L, -2, "persist");
  return 3;
}

int ar_lua_chunk_size(lua_State *L) {
  size_t len;
  uint64_t size;
  const char *line = luaL_checklstring(L, 1, &len);
  const char *why = ar_chunk_size(line, len, &size);
  if (why) {
    lua_pushnil(L);
    lua_pushstring(L, why);
    lua_pushliteral(L, "BAD_RESPONSE");
    return 3;
  }
  lua_pushinteger(L, (lua_Integer)size);
  return 1;
}
