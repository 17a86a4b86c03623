/* atlasrestore.core: the sans-IO half of the module. Bytes in, Lua values out;
 * no sockets, no clock, no libcurl, so the nginx transport can load it alone. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lua.h"
#include "lauxlib.h"

#include "base64.h"
#include "challenge.h"
#include "compat.h"
#include "digest.h"
#include "encode.h"
#include "gzip.h"
#include "json.h"
#include "lidset.h"
#include "luafield.h"
#include "luahead.h"

#define AR_DEFAULT_MAX_DEPTH 64

/* Every function here that can fail on its input gives nil, message, code: code
 * "BAD_RESPONSE" (the input came from a server), "RESPONSE_TOO_LARGE", or for
 * core.encode "INVALID_ARGUMENT" (a value of the caller's that has no JSON text). */

/* The decoder's options from the arguments at `first` (max_depth) and first + 1
 * (integer_keys: a set {name = true} of the keys whose numbers must be integers,
 * see json.h); the stack is cut to first + 1. */
static void ar_core_json_options(lua_State *L, int first, ar_json_options *opts) {
  lua_Integer max_depth = luaL_optinteger(L, first, AR_DEFAULT_MAX_DEPTH);
  luaL_argcheck(L, max_depth >= 1 && max_depth <= 1000, first, "max_depth must be in 1..1000");
  if (!lua_isnoneornil(L, first + 1)) luaL_checktype(L, first + 1, LUA_TTABLE);
  lua_settop(L, first + 1);
  opts->max_depth = (int)max_depth;
  opts->array_mt = lua_upvalueindex(1);
  opts->sparse_array_mt = lua_upvalueindex(2);
  opts->integer_keys = lua_isnil(L, first + 1) ? 0 : first + 1;
}

/* Decodes json[0..len) with opts: pushes the value (returns 1), or nil, message, "BAD_RESPONSE" (returns 3). */
static int ar_core_push_decoded(lua_State *L, const char *json, size_t len, const ar_json_options *opts) {
  ar_json_error err;
  if (ar_json_decode(L, json, len, opts, &err)) return 1;
  lua_pushnil(L);
  lua_pushfstring(L, "invalid JSON at byte %d: %s", (int)err.offset, err.message);
  lua_pushliteral(L, "BAD_RESPONSE");
  return 3;
}

/* core.decode(body [, max_depth [, integer_keys]]) -> value | nil, message, "BAD_RESPONSE" */
static int ar_core_decode(lua_State *L) {
  size_t len;
  const char *body = luaL_checklstring(L, 1, &len);
  ar_json_options opts;
  ar_core_json_options(L, 2, &opts);
  return ar_core_push_decoded(L, body, len, &opts);
}

/* core.encode(value [, key_order [, max_depth]]) -> text | nil, message, "INVALID_ARGUMENT"
 * key_order: an array of keys that every object writes first, in that order;
 * the other keys follow, sorted bytewise. */
static int ar_core_encode(lua_State *L) {
  lua_Integer max_depth = luaL_optinteger(L, 3, AR_DEFAULT_MAX_DEPTH);
  ar_encode_options opts;
  char message[AR_ENCODE_MESSAGE_SIZE];
  int rc;
  luaL_argcheck(L, max_depth >= 1 && max_depth <= AR_ENCODE_MAX_DEPTH, 3, "max_depth must be in 1..1000");
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 3);
  opts.max_depth = (int)max_depth;
  opts.array_mt = lua_upvalueindex(1);
  opts.sparse_array_mt = lua_upvalueindex(2);
  opts.key_order = lua_isnil(L, 2) ? 0 : 2;
  rc = ar_encode(L, 1, &opts, message);
  if (rc > 0) return 1;
  if (rc < 0) return luaL_argerror(L, 2, message);
  lua_pushnil(L);
  lua_pushstring(L, message);
  lua_pushliteral(L, "INVALID_ARGUMENT");
  return 3;
}

/* A string field of the digest_authorization table. Nothing a server sent may
 * end up as a second header: CR, LF and NUL are refused (*bad is set). */
static const char *ar_core_field(lua_State *L, const char *name, int required, const char **bad) {
  size_t len;
  const char *value = ar_field_lstring(L, 1, name, required, &len);
  if (value && !ar_field_header_safe(value, len) && !*bad) *bad = name;
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
 *   qop=, nc=, cnonce=, algorithm=, opaque=} -> "Digest ..." | nil, message, "BAD_RESPONSE" */
static int ar_core_digest_authorization(lua_State *L) {
  ar_digest_input in;
  const char *opaque, *problem, *bad = NULL;
  char response[AR_DIGEST_HEX_SIZE];
  luaL_Buffer b;
  luaL_checktype(L, 1, LUA_TTABLE);
  memset(&in, 0, sizeof in);
  in.username = ar_core_field(L, "username", 1, &bad);
  in.password = ar_core_field(L, "password", 1, &bad);
  in.realm = ar_core_field(L, "realm", 1, &bad);
  in.nonce = ar_core_field(L, "nonce", 1, &bad);
  in.method = ar_core_field(L, "method", 1, &bad);
  in.uri = ar_core_field(L, "uri", 1, &bad);
  in.qop = ar_core_field(L, "qop", 0, &bad);
  in.cnonce = ar_core_field(L, "cnonce", 0, &bad);
  in.algorithm = ar_core_field(L, "algorithm", 0, &bad);
  opaque = ar_core_field(L, "opaque", 0, &bad);
  in.nc = (unsigned long)ar_field_number(L, 1, "nc", 1);
  if (bad) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s holds CR, LF or NUL", bad);
    lua_pushliteral(L, "BAD_RESPONSE");
    return 3;
  }
  problem = ar_digest_response(&in, response);
  if (problem) {
    lua_pushnil(L);
    lua_pushstring(L, problem);
    lua_pushliteral(L, "BAD_RESPONSE");
    return 3;
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
  if (!in.qop && ar_digest_is_sess(in.algorithm)) { /* it hashes its cnonce */
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

/* core.parse_head(bytes) -> status, headers, framing | nil, message, code (see luahead.h) */
static int ar_core_parse_head(lua_State *L) {
  size_t len;
  const char *bytes = luaL_checklstring(L, 1, &len);
  return ar_lua_head(L, bytes, len);
}

/* Sets challenge[name] = value for the table at the top; NULL, or why it cannot. */
static const char *ar_core_digest_param(lua_State *L, const ar_auth_item *item) {
  ar_lua_push_lower(L, item->name, item->name_len);
  lua_pushvalue(L, -1);
  lua_rawget(L, -3);
  if (!lua_isnil(L, -1)) {
    lua_pop(L, 2);
    return "a parameter appears twice in one challenge";
  }
  lua_pop(L, 1);
  if (item->quoted) {
    char *scratch = (char *)lua_newuserdata(L, item->value_len + 1);
    size_t n = ar_auth_unquote(item->value, item->value_len, scratch);
    lua_pushlstring(L, scratch, n);
    lua_remove(L, -2);
  } else {
    lua_pushlstring(L, item->value, item->value_len);
  }
  lua_rawset(L, -3);
  return NULL;
}

/* Appends the Digest challenge at the top to the result at index 2; NULL, or
 * why it cannot be (RFC 7616 makes realm and nonce mandatory). */
static const char *ar_core_digest_done(lua_State *L) {
  int complete;
  lua_getfield(L, -1, "realm");
  lua_getfield(L, -2, "nonce");
  complete = lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING;
  lua_pop(L, 2);
  if (!complete) return "a Digest challenge without realm or nonce";
  lua_rawseti(L, 2, (int)lua_rawlen(L, 2) + 1);
  return NULL;
}

/* Collects the Digest challenges of one header value into the result at index
 * 2; NULL, or why the value is malformed (and where, in *offset). */
static const char *ar_core_digest_value(lua_State *L, const char *value, size_t len, size_t *offset) {
  ar_auth_parser ps;
  ar_auth_item item;
  ar_auth_kind kind;
  const char *problem = NULL;
  int digest = 0; /* a Digest challenge table is at the top */
  ar_auth_init(&ps, value, len);
  do {
    kind = ar_auth_next(&ps, &item);
    if (kind == AR_AUTH_ERROR) {
      problem = ps.error;
    } else if (kind == AR_AUTH_SCHEME || kind == AR_AUTH_END) {
      if (digest) problem = ar_core_digest_done(L);
      digest = kind == AR_AUTH_SCHEME && item.name_len == 6 && strncasecmp(item.name, "Digest", 6) == 0;
      if (digest) lua_newtable(L);
    } else if (digest && kind == AR_AUTH_PARAM) {
      problem = ar_core_digest_param(L, &item);
    } else if (digest) {
      problem = "a Digest challenge with a token68";
    }
  } while (kind != AR_AUTH_END && !problem);
  *offset = ar_auth_offset(&ps);
  return problem;
}

/* core.parse_digest_challenges{www-authenticate values} -> { challenge... }
 *   | nil, message, "BAD_RESPONSE"
 * Each challenge: its parameters, lowercase names, values unquoted. Other
 * schemes (Basic, Bearer...) are skipped but must be well-formed too. */
static int ar_core_parse_digest_challenges(lua_State *L) {
  int i, n;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_newtable(L);
  n = (int)lua_rawlen(L, 1);
  for (i = 1; i <= n; i++) {
    size_t len, offset;
    const char *value, *problem;
    lua_rawgeti(L, 1, i);
    if (lua_type(L, -1) != LUA_TSTRING) return luaL_error(L, "bad header value %d (string expected)", i);
    value = lua_tolstring(L, -1, &len);
    problem = ar_core_digest_value(L, value, len, &offset);
    if (problem) {
      lua_pushnil(L);
      lua_pushfstring(L, "WWW-Authenticate header %d, byte %d: %s", i, (int)offset + 1, problem);
      lua_pushliteral(L, "BAD_RESPONSE");
      return 3;
    }
    lua_settop(L, 2);
  }
  return 1;
}

/* The size that the gzip body in[0..len) inflates to, checked against `max`:
 * 0 with *size set, or nil, message, code pushed (returns 3). */
static int ar_core_gzip_size(lua_State *L, const unsigned char *in, size_t len, lua_Number max, size_t *size) {
  *size = ar_gzip_promised_size(in, len);
  if (*size == (size_t)-1) {
    lua_pushnil(L);
    lua_pushliteral(L, "the gzip body is too short or has no gzip header");
    lua_pushliteral(L, "BAD_RESPONSE");
    return 3;
  }
  if ((lua_Number)*size > max) {
    lua_pushnil(L);
    lua_pushfstring(
      L, "the gzip body inflates to %d bytes, past max_body_size", (int)(*size > 0x7fffffff ? 0x7fffffff : *size));
    lua_pushliteral(L, "RESPONSE_TOO_LARGE");
    return 3;
  }
  return 0;
}

/* Inflates in[0..len) into out[0..size): 0, or nil, message, code pushed (returns 3). */
static int ar_core_inflate(lua_State *L, const unsigned char *in, size_t len, unsigned char *out, size_t size) {
  ar_gzip_status rc = ar_gzip_inflate(in, len, out, size);
  if (rc == AR_GZIP_OK) return 0;
  if (rc == AR_GZIP_NO_MEMORY) return luaL_error(L, "not enough memory");
  lua_pushnil(L);
  lua_pushstring(L, rc == AR_GZIP_TOO_LARGE ? "the gzip body inflates to more than its trailer says"
                                            : "the gzip body is corrupt (bad data, CRC-32 or length)");
  lua_pushstring(L, rc == AR_GZIP_TOO_LARGE ? "RESPONSE_TOO_LARGE" : "BAD_RESPONSE");
  return 3;
}

/* core.gunzip(body, max_size) -> string | nil, message, code
 * code: "BAD_RESPONSE" (not gzip, corrupt, a CRC or size mismatch, bytes after
 * the member) or "RESPONSE_TOO_LARGE" (the trailer promises more than max_size
 * bytes, or more than it said). The output is a userdata until it is complete,
 * so an allocation error cannot leak it. */
static int ar_core_gunzip(lua_State *L) {
  size_t len, size;
  const unsigned char *in = (const unsigned char *)luaL_checklstring(L, 1, &len);
  lua_Number max = luaL_checknumber(L, 2);
  unsigned char *out;
  if (ar_core_gzip_size(L, in, len, max, &size)) return 3;
  out = (unsigned char *)lua_newuserdata(L, size ? size : 1);
  if (ar_core_inflate(L, in, len, out, size)) return 3;
  lua_pushlstring(L, (const char *)out, size);
  return 1;
}

/* gunzip_decode inflates into one buffer that the state keeps between calls (in
 * the registry, taken out while in use so that a nested call gets its own), so a
 * page costs no string of its text and no new block; a body past this size gets
 * a buffer of its own, so the one kept stays small. */
#define AR_SCRATCH_KEY "atlasrestore.core.scratch"
#define AR_SCRATCH_KEPT ((size_t)1 << 20)
#define AR_SCRATCH_STEP ((size_t)1 << 16)

/* Pushes a buffer of at least `size` bytes (the kept one when it fits) and returns it. */
static unsigned char *ar_core_scratch(lua_State *L, size_t size) {
  void *kept;
  lua_getfield(L, LUA_REGISTRYINDEX, AR_SCRATCH_KEY);
  kept = lua_touserdata(L, -1);
  if (kept && lua_rawlen(L, -1) >= size) {
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, AR_SCRATCH_KEY);
    return (unsigned char *)kept;
  }
  lua_pop(L, 1);
  if (size <= AR_SCRATCH_KEPT) size = (size / AR_SCRATCH_STEP + 1) * AR_SCRATCH_STEP;
  return (unsigned char *)lua_newuserdata(L, size ? size : 1);
}

/* Keeps the buffer at idx for the next call, unless it is one of its own. */
static void ar_core_keep_scratch(lua_State *L, int idx) {
  if (lua_rawlen(L, idx) > AR_SCRATCH_KEPT) return;
  lua_pushvalue(L, idx);
  lua_setfield(L, LUA_REGISTRYINDEX, AR_SCRATCH_KEY);
}

/* core.gunzip_decode(body, max_size [, max_depth [, integer_keys]]) -> value
 *   | nil, message, code, stage
 * core.decode of core.gunzip's text, without that text as a string. stage: "gzip"
 * (core.gunzip's refusals) or "json" (core.decode's). */
static int ar_core_gunzip_decode(lua_State *L) {
  size_t len, size;
  const unsigned char *in = (const unsigned char *)luaL_checklstring(L, 1, &len);
  lua_Number max = luaL_checknumber(L, 2);
  ar_json_options opts;
  unsigned char *out;
  int pushed, buffer;
  ar_core_json_options(L, 3, &opts);
  if (ar_core_gzip_size(L, in, len, max, &size)) {
    lua_pushliteral(L, "gzip");
    return 4;
  }
  out = ar_core_scratch(L, size);
  buffer = lua_gettop(L);
  if (ar_core_inflate(L, in, len, out, size)) {
    ar_core_keep_scratch(L, buffer);
    lua_pushliteral(L, "gzip");
    return 4;
  }
  pushed = ar_core_push_decoded(L, (const char *)out, size, &opts);
  ar_core_keep_scratch(L, buffer);
  if (pushed == 1) return 1;
  lua_pushliteral(L, "json");
  return 4;
}

static const luaL_Reg ar_core_funcs[] = {
  { "base64", ar_core_base64 },
  { "idset", ar_core_idset },
  { "check_jobs", ar_core_check_jobs },
  { "check_job", ar_core_check_job },
  { "decode", ar_core_decode },
  { "encode", ar_core_encode },
  { "gunzip", ar_core_gunzip },
  { "gunzip_decode", ar_core_gunzip_decode },
  { "digest_authorization", ar_core_digest_authorization },
  { "parse_head", ar_core_parse_head },
  { "parse_chunk_size", ar_lua_chunk_size },
  { "parse_digest_challenges", ar_core_parse_digest_challenges },
  { NULL, NULL },
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
  ar_core_push_marker(L, AR_JSON_ARRAY_MT);
  ar_core_push_marker(L, AR_JSON_SPARSE_ARRAY_MT);
  luaL_setfuncs(L, ar_core_funcs, 2);
  ar_core_push_marker(L, AR_JSON_ARRAY_MT);
  lua_setfield(L, -2, "array_mt");
  ar_core_push_marker(L, AR_JSON_SPARSE_ARRAY_MT);
  lua_setfield(L, -2, "sparse_array_mt");
  lua_pushlightuserdata(L, NULL); /* what core.encode writes as null, like cjson.null and ngx.null */
  lua_setfield(L, -2, "null");
  lua_pushliteral(L, "atlasrestore.core");
  lua_setfield(L, -2, "_NAME");
  return 1;
}
