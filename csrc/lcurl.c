/* atlasrestore.curl: the libcurl transport's C half.
 *
 * A Multi (lmulti.c) runs every transfer, one or several at once. A
 * request is read from a Lua table into C data (transfer.h) before libcurl
 * starts, and the results are turned into Lua values after it returns: the
 * libcurl callbacks only touch C buffers, so nothing that can raise a Lua
 * error ever runs while libcurl is on the C stack. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "lua.h"
#include "lauxlib.h"

#include "compat.h"
#include "lcurl.h"
#include "luafield.h"
#include "luahead.h"

/* An optional string field that libcurl takes as a C string: no NUL inside. */
static const char *ar_request_cstring(lua_State *L, int idx, const char *name, int required, size_t *len) {
  const char *value = ar_field_lstring(L, idx, name, required, len);
  if (value && strlen(value) != *len) luaL_error(L, "bad field '%s' (holds NUL)", name);
  return value;
}

/* Copies s[0..len) and a NUL to *at and moves *at past them; NULL stays NULL. */
static const char *ar_request_copy(char **at, const char *s, size_t len) {
  char *copy = *at;
  if (!s) return NULL;
  memcpy(copy, s, len);
  copy[len] = '\0';
  *at += len + 1;
  return copy;
}

void ar_request_read(lua_State *L, int idx, ar_request *r) {
  const char *url, *method, *body, *ca_file, *proxy;
  size_t url_len, method_len, body_len, ca_len, proxy_len;
  double max_body;
  int i, n = 0;
  char *at;

  /* Every check first, so that a raise leaves nothing allocated. */
  luaL_checktype(L, idx, LUA_TTABLE);
  url = ar_request_cstring(L, idx, "url", 1, &url_len);
  method = ar_field_lstring(L, idx, "method", 0, &method_len);
  if (method && strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
    luaL_error(L, "bad field 'method' (GET or POST expected)");
  body = ar_field_lstring(L, idx, "body", 0, &body_len);
  ca_file = ar_request_cstring(L, idx, "ca_file", 0, &ca_len);
  proxy = ar_request_cstring(L, idx, "proxy", 0, &proxy_len);
  memset(r, 0, sizeof *r);
  r->timeout = ar_field_number(L, idx, "timeout", 60);
  r->connect_timeout = ar_field_number(L, idx, "connect_timeout", 10);
  r->low_speed_time = ar_field_number(L, idx, "low_speed_time", 0);
  r->low_speed_limit = ar_field_number(L, idx, "low_speed_limit", 1);
  max_body = ar_field_number(L, idx, "max_body", AR_DEFAULT_BODY_LIMIT);
  r->max_body = max_body >= (double)((size_t)-1) ? (size_t)-1 : (size_t)max_body;
  r->post = method && strcmp(method, "POST") == 0;
  lua_getfield(L, idx, "headers");
  if (!lua_isnil(L, -1)) {
    luaL_checktype(L, -1, LUA_TTABLE);
    n = (int)lua_rawlen(L, -1);
    for (i = 1; i <= n; i++) {
      size_t len;
      const char *line;
      lua_rawgeti(L, -1, i);
      if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "bad request header %d (string expected)", i);
      line = lua_tolstring(L, -1, &len);
      if (!ar_field_header_safe(line, len)) luaL_error(L, "bad request header %d (holds CR, LF or NUL)", i);
      lua_pop(L, 1);
    }
  }

  /* Then the copies: from here on, memory is freed before any raise. */
  r->strings_size = url_len + 1 + body_len + 1 + (ca_file ? ca_len + 1 : 0) + (proxy ? proxy_len + 1 : 0);
  r->strings = (char *)malloc(r->strings_size);
  at = r->strings;
  for (i = 1; at && i <= n; i++) {
    struct curl_slist *grown;
    lua_rawgeti(L, -1, i);
    grown = curl_slist_append(r->headers, lua_tostring(L, -1));
    lua_pop(L, 1);
    if (!grown) break;
    r->headers = grown;
  }
  lua_pop(L, 1);
  if (!at || i <= n) {
    ar_request_free(r);
    luaL_error(L, "not enough memory");
  }
  r->url = ar_request_copy(&at, url, url_len);
  r->body = ar_request_copy(&at, body ? body : "", body_len);
  r->body_len = body_len;
  r->ca_file = ar_request_copy(&at, ca_file, ca_len);
  r->proxy = ar_request_copy(&at, proxy, proxy_len);
}

void ar_transfer_set_result(lua_State *L, const ar_transfer *t) {
  if (t->rc == CURLE_OK) {
    if (ar_lua_head(L, t->headers.data ? t->headers.data : "", t->headers.len) == 2) {
      lua_setfield(L, -3, "headers");
      lua_setfield(L, -2, "status");
      lua_pushlstring(L, t->body.data ? t->body.data : "", t->body.len);
      lua_setfield(L, -2, "body");
      lua_pushnumber(L, (lua_Number)t->micros / 1e6);
      lua_setfield(L, -2, "elapsed");
      return;
    }
    /* nil, code, message: a head that is not HTTP */
    lua_setfield(L, -4, "message");
    lua_setfield(L, -3, "code");
    lua_pop(L, 1);
  } else {
    lua_pushstring(L, ar_transfer_error_code(t));
    lua_setfield(L, -2, "code");
    lua_pushstring(L, ar_transfer_error_message(t));
    lua_setfield(L, -2, "message");
  }
  /* A failure: also the status when a response came, and the time it took. */
  if (t->status > 0) {
    lua_pushinteger(L, t->status);
    lua_setfield(L, -2, "status");
  }
  lua_pushnumber(L, (lua_Number)t->micros / 1e6);
  lua_setfield(L, -2, "elapsed");
}

static int ar_curl_version(lua_State *L) {
  lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
  return 1;
}

double ar_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* curl.now() -> monotonic seconds: deadlines must not jump with the wall clock. */
static int ar_curl_now(lua_State *L) {
  lua_pushnumber(L, (lua_Number)ar_now());
  return 1;
}

/* curl.sleep(seconds): the blocking transport's wait between retries. */
static int ar_curl_sleep(lua_State *L) {
  lua_Number seconds = luaL_checknumber(L, 1);
  struct timespec ts;
  if (!(seconds > 0)) return 0;
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (lua_Number)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
  return 0;
}

static const luaL_Reg ar_curl_funcs[] = {
  { "multi", ar_curl_multi },
  { "version", ar_curl_version },
  { "now", ar_curl_now },
  { "sleep", ar_curl_sleep },
  { NULL, NULL },
};

AR_EXPORT int luaopen_atlasrestore_curl(lua_State *L);
AR_EXPORT int luaopen_atlasrestore_curl(lua_State *L) {
  /* curl_global_init is not thread-safe and must run once per process. */
  static int curl_ready = 0;
  int i;
  if (!curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return luaL_error(L, "curl_global_init failed");
    curl_ready = 1;
  }
  ar_multi_register(L);
  luaL_newlib(L, ar_curl_funcs);
  lua_newtable(L);
  for (i = 0; ar_transfer_codes[i]; i++) {
    lua_pushstring(L, ar_transfer_codes[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "ERROR_CODES");
  lua_pushliteral(L, "atlasrestore.curl");
  lua_setfield(L, -2, "_NAME");
  return 1;
}
