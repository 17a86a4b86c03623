/* atlasrestore.curl: the blocking libcurl transport.
 *
 * One Session owns one easy handle (and so one connection cache). A request is
 * configured from a Lua table, performed, then turned into Lua values. The
 * libcurl callbacks only append to C buffers: nothing that can raise a Lua
 * error ever runs while libcurl is on the C stack. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "lua.h"
#include "lauxlib.h"

#include "buf.h"
#include "compat.h"
#include "luahead.h"

#define AR_SESSION_MT "atlasrestore.curl.Session"
#define AR_HEADER_LIMIT (256 * 1024)
#define AR_DEFAULT_BODY_LIMIT (64 * 1024 * 1024)

/* Everything one transfer needs, kept together so that a multi-handle
 * transport can later own several of them. */
typedef struct ar_transfer {
  CURL *easy;
  struct curl_slist *request_headers;
  ar_buf body, headers;
  int body_overflow, headers_overflow;
  char errbuf[CURL_ERROR_SIZE];
} ar_transfer;

typedef struct ar_session {
  ar_transfer transfer;
  int closed;
} ar_session;

static size_t ar_curl_on_body(char *data, size_t size, size_t nmemb, void *userdata) {
  ar_transfer *t = (ar_transfer *)userdata;
  size_t len = size * nmemb;
  if (ar_buf_append(&t->body, data, len) != 0) {
    t->body_overflow = 1;
    return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
  }
  return len;
}

static size_t ar_curl_on_header(char *data, size_t size, size_t nmemb, void *userdata) {
  ar_transfer *t = (ar_transfer *)userdata;
  size_t len = size * nmemb;
  /* A new status line starts a new response (proxy CONNECT, 100 Continue):
   * only the final response's headers count. */
  if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) ar_buf_clear(&t->headers);
  if (ar_buf_append(&t->headers, data, len) != 0) {
    t->headers_overflow = 1;
    return 0;
  }
  return len;
}

/* Frees the request headers, wiping each value first (one is Authorization). */
static void ar_transfer_forget_headers(ar_transfer *t) {
  struct curl_slist *h;
  for (h = t->request_headers; h; h = h->next) memset(h->data, 0, strlen(h->data));
  curl_slist_free_all(t->request_headers);
  t->request_headers = NULL;
}

static void ar_transfer_release(ar_transfer *t) {
  if (t->easy) curl_easy_cleanup(t->easy);
  t->easy = NULL;
  ar_transfer_forget_headers(t);
  ar_buf_free(&t->body);
  ar_buf_free(&t->headers);
}

static ar_session *ar_check_session(lua_State *L) {
  ar_session *s = (ar_session *)luaL_checkudata(L, 1, AR_SESSION_MT);
  if (s->closed) luaL_error(L, "attempt to use a closed session");
  return s;
}

static const char *ar_opt_lstring(lua_State *L, int opts, const char *name, size_t *len) {
  const char *value = NULL;
  lua_getfield(L, opts, name);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "bad request field '%s' (string expected, got %s)", name, luaL_typename(L, -1));
    value = lua_tolstring(L, -1, len);
  }
  lua_pop(L, 1); /* the options table keeps the string alive */
  return value;
}

static const char *ar_opt_string(lua_State *L, int opts, const char *name) {
  size_t len;
  return ar_opt_lstring(L, opts, name, &len);
}

/* Seconds to whole milliseconds for libcurl: rounded up, because 0 would mean
 * "no limit", and capped (at 24 days) so that it fits a 32-bit long. */
static long ar_millis(double seconds) {
  double ms = seconds * 1000.0;
  if (!(ms >= 1.0)) return 1;
  if (ms >= 2147483647.0) return 2147483647L;
  return (long)(ms + 0.999);
}

static double ar_opt_number(lua_State *L, int opts, const char *name, double fallback) {
  double value = fallback;
  lua_getfield(L, opts, name);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TNUMBER)
      luaL_error(L, "bad request field '%s' (number expected, got %s)", name, luaL_typename(L, -1));
    value = lua_tonumber(L, -1);
    if (!(value >= 0)) luaL_error(L, "bad request field '%s' (must be >= 0)", name);
  }
  lua_pop(L, 1);
  return value;
}

/* Reads the request table and sets up the easy handle. Raises only on misuse,
 * before the transfer starts; memory it allocates is owned by the transfer. */
static void ar_transfer_configure(lua_State *L, ar_transfer *t, int opts) {
  const char *url, *method, *body, *ca_file, *proxy;
  double timeout, connect_timeout, low_speed_time, low_speed_limit, max_body;
  size_t body_len = 0;
  int i, n;

  luaL_checktype(L, opts, LUA_TTABLE);
  url = ar_opt_string(L, opts, "url");
  if (!url) luaL_error(L, "bad request field 'url' (string expected, got nil)");
  method = ar_opt_string(L, opts, "method");
  if (method && strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
    luaL_error(L, "bad request field 'method' (GET or POST expected)");
  body = ar_opt_lstring(L, opts, "body", &body_len);
  ca_file = ar_opt_string(L, opts, "ca_file");
  proxy = ar_opt_string(L, opts, "proxy");
  timeout = ar_opt_number(L, opts, "timeout", 60);
  connect_timeout = ar_opt_number(L, opts, "connect_timeout", 10);
  low_speed_time = ar_opt_number(L, opts, "low_speed_time", 0);
  low_speed_limit = ar_opt_number(L, opts, "low_speed_limit", 1);
  max_body = ar_opt_number(L, opts, "max_body", AR_DEFAULT_BODY_LIMIT);

  ar_transfer_forget_headers(t);
  lua_getfield(L, opts, "headers");
  if (!lua_isnil(L, -1)) {
    luaL_checktype(L, -1, LUA_TTABLE);
    n = (int)lua_rawlen(L, -1);
    for (i = 1; i <= n; i++) {
      struct curl_slist *grown;
      lua_rawgeti(L, -1, i);
      if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "bad request header %d (string expected)", i);
      grown = curl_slist_append(t->request_headers, lua_tostring(L, -1));
      lua_pop(L, 1);
      if (!grown) luaL_error(L, "not enough memory");
      t->request_headers = grown;
    }
  }
  lua_pop(L, 1);

  curl_easy_reset(t->easy); /* keeps the connection cache, forgets the last request */
  ar_buf_clear(&t->body);
  ar_buf_clear(&t->headers);
  /* Only the token endpoint is POSTed to, and its answer is a secret. */
  t->body.wipe = method && strcmp(method, "POST") == 0;
  t->body.limit = max_body >= (double)((size_t)-1) ? (size_t)-1 : (size_t)max_body;
  t->headers.limit = AR_HEADER_LIMIT;
  t->body_overflow = t->headers_overflow = 0;
  t->errbuf[0] = '\0';

  curl_easy_setopt(t->easy, CURLOPT_URL, url);
  curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, ar_curl_on_body);
  curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, ar_curl_on_header);
  curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->request_headers);
  curl_easy_setopt(t->easy, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, ar_millis(timeout));
  curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, ar_millis(connect_timeout));
  /* A server that stalls or trickles is cut off by the low-speed rule. */
  if (low_speed_time > 0) {
    curl_easy_setopt(t->easy, CURLOPT_LOW_SPEED_TIME, (ar_millis(low_speed_time) + 999) / 1000);
    curl_easy_setopt(t->easy, CURLOPT_LOW_SPEED_LIMIT, (long)low_speed_limit);
  }
  /* Refuses a declared Content-Length over the cap before any byte arrives. */
  curl_easy_setopt(t->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->body.limit);
  if (ca_file) curl_easy_setopt(t->easy, CURLOPT_CAINFO, ca_file);
  /* An explicit proxy beats the environment, no_proxy included. */
  if (proxy) {
    curl_easy_setopt(t->easy, CURLOPT_PROXY, proxy);
    curl_easy_setopt(t->easy, CURLOPT_NOPROXY, "");
  }
  if (method && strcmp(method, "POST") == 0) {
    /* Not copied: the request table keeps the string alive through the
     * transfer, and no copy of a revoked token stays in libcurl's memory. */
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, body ? body : "");
  }
}

static const char *ar_error_code(const ar_transfer *t, CURLcode rc) {
  if (t->body_overflow || t->headers_overflow || rc == CURLE_FILESIZE_EXCEEDED) return "RESPONSE_TOO_LARGE";
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return "TIMEOUT";
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return "CONNECT_FAILED";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED: return "TLS_FAILED";
    default: return "NETWORK_ERROR";
  }
}

/* session:request(req) -> status, headers, body, seconds
 *                      | nil, code, message, status or nil, seconds */
static int ar_session_request(lua_State *L) {
  ar_session *s = ar_check_session(L);
  ar_transfer *t = &s->transfer;
  CURLcode rc;
  long status = 0;
  curl_off_t micros = 0;

  ar_transfer_configure(L, t, 2);
  rc = curl_easy_perform(t->easy);
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &micros);
  /* The request headers hold the Authorization value: drop them now. */
  curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
  curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, (char *)NULL);
  ar_transfer_forget_headers(t);
  if (rc != CURLE_OK) {
    ar_buf_clear(&t->body);
    lua_pushnil(L);
    lua_pushstring(L, ar_error_code(t, rc));
    lua_pushstring(L, t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
    if (status > 0)
      lua_pushinteger(L, status);
    else
      lua_pushnil(L);
    lua_pushnumber(L, (lua_Number)micros / 1e6);
    return 5;
  }
  if (ar_lua_head(L, t->headers.data ? t->headers.data : "", t->headers.len) == 3) {
    ar_buf_clear(&t->body);
    lua_pushinteger(L, status);
    lua_pushnumber(L, (lua_Number)micros / 1e6);
    return 5;
  }
  lua_pushlstring(L, t->body.data ? t->body.data : "", t->body.len);
  lua_pushnumber(L, (lua_Number)micros / 1e6);
  /* A token response is a secret: no copy stays behind in C memory. */
  ar_buf_clear(&t->body);
  /* Large bodies should not stay pinned between requests. */
  if (t->body.cap > 4 * 1024 * 1024) ar_buf_free(&t->body);
  return 4;
}

/* close(), __gc and __close share this: idempotent, safe on a dead session. */
static int ar_session_close(lua_State *L) {
  ar_session *s = (ar_session *)luaL_checkudata(L, 1, AR_SESSION_MT);
  if (!s->closed) {
    ar_transfer_release(&s->transfer);
    s->closed = 1;
  }
  return 0;
}

static int ar_session_tostring(lua_State *L) {
  ar_session *s = (ar_session *)luaL_checkudata(L, 1, AR_SESSION_MT);
  lua_pushfstring(L, "atlasrestore.curl.Session: %p%s", (void *)s, s->closed ? " (closed)" : "");
  return 1;
}

/* curl.session() -> Session */
static int ar_curl_session(lua_State *L) {
  ar_session *s = (ar_session *)lua_newuserdata(L, sizeof *s);
  memset(s, 0, sizeof *s);
  s->closed = 1; /* until the handle exists, __gc has nothing to free */
  ar_buf_init(&s->transfer.body, AR_DEFAULT_BODY_LIMIT);
  ar_buf_init(&s->transfer.headers, AR_HEADER_LIMIT);
  luaL_getmetatable(L, AR_SESSION_MT);
  lua_setmetatable(L, -2);
  s->transfer.easy = curl_easy_init();
  if (!s->transfer.easy) return luaL_error(L, "curl_easy_init failed");
  s->closed = 0;
  return 1;
}

static int ar_curl_version(lua_State *L) {
  lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
  return 1;
}

/* curl.now() -> monotonic seconds: deadlines must not jump with the wall clock. */
static int ar_curl_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
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

static const luaL_Reg ar_session_methods[] = {
  { "request", ar_session_request },
  { "close", ar_session_close },
  { "__gc", ar_session_close },
  { "__close", ar_session_close },
  { "__tostring", ar_session_tostring },
  { NULL, NULL }
};

static const luaL_Reg ar_curl_funcs[] = {
  { "session", ar_curl_session },
  { "version", ar_curl_version },
  { "now", ar_curl_now },
  { "sleep", ar_curl_sleep },
  { NULL, NULL }
};

AR_EXPORT int luaopen_atlasrestore_curl(lua_State *L);
AR_EXPORT int luaopen_atlasrestore_curl(lua_State *L) {
  /* curl_global_init is not thread-safe and must run once per process. */
  static int curl_ready = 0;
  if (!curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return luaL_error(L, "curl_global_init failed");
    curl_ready = 1;
  }
  if (luaL_newmetatable(L, AR_SESSION_MT)) {
    luaL_setfuncs(L, ar_session_methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, ar_curl_funcs);
  lua_pushliteral(L, "atlasrestore.curl");
  lua_setfield(L, -2, "_NAME");
  return 1;
}
