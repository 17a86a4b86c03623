/* The Lua side of a transfer: the request table read into C data before
 * libcurl starts, the results set into a table after it returns, and the
 * monotonic clock. The multi handle (lmulti.c) uses them. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "lua.h"
#include "lauxlib.h"

#include "compat.h"
#include "luafield.h"
#include "luahead.h"
#include "request.h"

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
      lua_rawgeti(L, -1, i);
      if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "bad request header %d (string expected)", i);
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

void ar_transfer_set_result(lua_State *L, ar_transfer *t) {
  if (!ar_transfer_failed(t)) {
    lua_pushinteger(L, ar_transfer_head(t)->status);
    lua_setfield(L, -2, "status");
    ar_lua_push_headers(L, ar_transfer_head(t));
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, t->body.data ? t->body.data : "", t->body.len);
    lua_setfield(L, -2, "body");
  } else {
    lua_pushstring(L, ar_transfer_error_code(t));
    lua_setfield(L, -2, "code");
    lua_pushstring(L, ar_transfer_error_message(t));
    lua_setfield(L, -2, "message");
    /* Also the status when a response came. */
    if (t->status > 0) {
      lua_pushinteger(L, t->status);
      lua_setfield(L, -2, "status");
    }
  }
  lua_pushnumber(L, (lua_Number)t->micros / 1e6);
  lua_setfield(L, -2, "elapsed");
}

double ar_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
