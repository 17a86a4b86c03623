/* atlasrestore.core: the sans-IO half of the module. Bytes in, Lua values out;
 * no sockets, no clock, no libcurl, so the nginx transport can load it alone. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lua.h"
#include "lauxlib.h"

#include "base64.h"
#include "compat.h"
#include "digest.h"
#include "json.h"

#define AR_DEFAULT_MAX_DEPTH 64

/* core.decode(body [, max_depth]) -> value | nil, message */
static int ar_core_decode(lua_State *L) {
  size_t len;
  const char *body = luaL_checklstring(L, 1, &len);
  lua_Integer max_depth = luaL_optinteger(L, 2, AR_DEFAULT_MAX_DEPTH);
  ar_json_options opts;
  ar_json_error err;
  luaL_argcheck(L, max_depth >= 1 && max_depth <= 1000, 2, "max_depth must be in 1..1000");
  lua_settop(L, 2);
  opts.max_depth = (int)max_depth;
  opts.array_mt = lua_upvalueindex(1);
  opts.sparse_array_mt = lua_upvalueindex(2);
  if (ar_json_decode(L, body, len, &opts, &err)) return 1;
  lua_pushnil(L);
  lua_pushfstring(L, "invalid JSON at byte %d: %s", (int)err.offset, err.message);
  return 2;
}

static const char *ar_core_field(lua_State *L, const char *name, int required) {
  const char *value;
  lua_getfield(L, 1, name);
  if (lua_isnil(L, -1) && !required) {
    lua_pop(L, 1);
    return NULL;
  }
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "bad field '%s' (string expected, got %s)", name, luaL_typename(L, -1));
  value = lua_tostring(L, -1);
  lua_pop(L, 1); /* still referenced by the argument table */
  return value;
}

/* Appends `name="value"` with quotes and backslashes escaped (RFC 7616 quoted-string). */
static void ar_core_add_quoted(luaL_Buffer *b, const char *name, const char *value) {
  luaL_addstring(b, name);
  luaL_addstring(b, "=\"");
  for (; *value; value++) {
    if (*value == '"' || *value == '\\') luaL_addchar(b, '\\');
    luaL_addchar(b, *value);
  }
  luaL_addchar(b, '"');
}

/* core.digest_authorization{username=, password=, realm=, nonce=, method=, uri=,
 *   qop=, nc=, cnonce=, algorithm=, opaque=} -> "Digest ..." | nil, message */
static int ar_core_digest_authorization(lua_State *L) {
  ar_digest_input in;
  const char *opaque, *problem;
  char response[33];
  luaL_Buffer b;
  luaL_checktype(L, 1, LUA_TTABLE);
  memset(&in, 0, sizeof in);
  in.username = ar_core_field(L, "username", 1);
  in.password = ar_core_field(L, "password", 1);
  in.realm = ar_core_field(L, "realm", 1);
  in.nonce = ar_core_field(L, "nonce", 1);
  in.method = ar_core_field(L, "method", 1);
  in.uri = ar_core_field(L, "uri", 1);
  in.qop = ar_core_field(L, "qop", 0);
  in.cnonce = ar_core_field(L, "cnonce", 0);
  in.algorithm = ar_core_field(L, "algorithm", 0);
  opaque = ar_core_field(L, "opaque", 0);
  lua_getfield(L, 1, "nc");
  in.nc = (unsigned long)luaL_optinteger(L, -1, 1);
  lua_pop(L, 1);
  problem = ar_digest_response(&in, response);
  if (problem) {
    lua_pushnil(L);
    lua_pushstring(L, problem);
    return 2;
  }
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "Digest ");
  ar_core_add_quoted(&b, "username", in.username);
  luaL_addstring(&b, ", ");
  ar_core_add_quoted(&b, "realm", in.realm);
  luaL_addstring(&b, ", ");
  ar_core_add_quoted(&b, "nonce", in.nonce);
  luaL_addstring(&b, ", ");
  ar_core_add_quoted(&b, "uri", in.uri);
  if (in.algorithm) {
    luaL_addstring(&b, ", algorithm=");
    luaL_addstring(&b, in.algorithm);
  }
  luaL_addstring(&b, ", ");
  ar_core_add_quoted(&b, "response", response);
  if (opaque) {
    luaL_addstring(&b, ", ");
    ar_core_add_quoted(&b, "opaque", opaque);
  }
  if (!in.qop && in.algorithm && strcasecmp(in.algorithm, "MD5-sess") == 0) { /* it hashes its cnonce */
    luaL_addstring(&b, ", ");
    ar_core_add_quoted(&b, "cnonce", in.cnonce);
  }
  if (in.qop) {
    char nc[9];
    snprintf(nc, sizeof nc, "%08lx", in.nc & 0xffffffffUL);
    luaL_addstring(&b, ", qop=auth, nc=");
    luaL_addstring(&b, nc);
    luaL_addstring(&b, ", ");
    ar_core_add_quoted(&b, "cnonce", in.cnonce);
  }
  luaL_pushresult(&b);
  return 1;
}

/* core.base64(s) -> the RFC 4648 encoding of s */
static int ar_core_base64(lua_State *L) {
  size_t len, size;
  const char *s = luaL_checklstring(L, 1, &len);
  char *out;
  luaL_argcheck(L, len < ((size_t)-1) / 2, 1, "string too long");
  size = ar_base64_size(len);
  out = (char *)lua_newuserdata(L, size ? size : 1); /* scratch space that Lua frees */
  ar_base64_encode((const unsigned char *)s, len, out);
  lua_pushlstring(L, out, size);
  return 1;
}

static const luaL_Reg ar_core_funcs[] = {
  { "base64", ar_core_base64 },
  { "decode", ar_core_decode },
  { "digest_authorization", ar_core_digest_authorization },
  { NULL, NULL }
};

/* The array metatables live in the registry, so that every load of the module
 * in one state (busted re-requires modules) marks arrays the same way. */
static void ar_core_push_marker(lua_State *L, const char *name) {
  if (luaL_newmetatable(L, name)) {
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
  }
}

AR_EXPORT int luaopen_atlasrestore_core(lua_State *L);
AR_EXPORT int luaopen_atlasrestore_core(lua_State *L) {
  lua_newtable(L);
  ar_core_push_marker(L, "atlasrestore.json.array");
  ar_core_push_marker(L, "atlasrestore.json.sparse_array");
  luaL_setfuncs(L, ar_core_funcs, 2);
  ar_core_push_marker(L, "atlasrestore.json.array");
  lua_setfield(L, -2, "array_mt");
  ar_core_push_marker(L, "atlasrestore.json.sparse_array");
  lua_setfield(L, -2, "sparse_array_mt");
  lua_pushliteral(L, "atlasrestore.core");
  lua_setfield(L, -2, "_NAME");
  return 1;
}
