/* atlasrestore.curl: the libcurl transport's C half.
 *
 * A Multi (lmulti.c) runs every transfer, one or several at once. A
 * request is read from a Lua table into C data (request.c, transfer.h) before
 * libcurl starts, and the results are turned into Lua values after it returns: the
 * libcurl callbacks only touch C buffers, so nothing that can raise a Lua
 * error ever runs while libcurl is on the C stack. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <errno.h>
#include <time.h>

#include <curl/curl.h>

#include "lua.h"
#include "lauxlib.h"

#include "compat.h"
#include "lmulti.h"
#include "request.h"
#include "transfer.h"

static int ar_curl_version(lua_State *L) {
  lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
  return 1;
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
