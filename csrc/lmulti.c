/* atlasrestore.curl's Multi: several transfers at once on one libcurl multi
 * handle, for a scheduler (Lua coroutines) that waits on all of them.
 *
 *   m = curl.multi{ max_connections = k }   -- at most k connections, kept for re-use
 *   id = m:add(req)                         -- req: see ar_request_read (request.h), read now
 *   done = m:perform(max_wait_seconds)      -- { {id=, status=, headers=, body=, elapsed=}
 *                                           --   or {id=, code=, message=, status=, elapsed=}, ... }
 *   m:remove(id) -> true | false            -- cancels a transfer (or drops an unreported result)
 *   m:pending() -> count                    -- added and not yet reported
 *   m:close()                               -- also __gc and __close; idempotent
 *
 * Easy handles go back to a spare list when their result is out, so the next
 * transfers re-use them; every connection lives in the multi handle's cache,
 * checked by sockets.c when it is re-used. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "lua.h"
#include "lauxlib.h"

#include "compat.h"
#include "lmulti.h"
#include "request.h"
#include "luafield.h"

#define AR_MULTI_MT "atlasrestore.curl.Multi"
#define AR_MULTI_DEFAULT_CONNECTIONS 4

typedef struct ar_multi {
  CURLM *multi;
  ar_sockets sockets;
  ar_transfer *running; /* added to the multi handle */
  ar_transfer *done;    /* finished, result not yet reported */
  ar_transfer *spare;   /* easy handles for the next transfers */
  long last_id;
  int closed;
} ar_multi;

static ar_multi *ar_check_multi(lua_State *L) {
  ar_multi *m = (ar_multi *)luaL_checkudata(L, 1, AR_MULTI_MT);
  if (m->closed) luaL_error(L, "attempt to use a closed multi handle");
  return m;
}

/* Unlinks t from *list; returns whether it was there. */
static int ar_multi_unlink(ar_transfer **list, const ar_transfer *t) {
  for (; *list; list = &(*list)->next) {
    if (*list == t) {
      *list = t->next;
      return 1;
    }
  }
  return 0;
}

static ar_transfer *ar_multi_find(ar_transfer *list, long id) {
  for (; list; list = list->next)
    if (list->id == id) return list;
  return NULL;
}

/* Puts a transfer that is out of the multi handle on the spare list. */
static void ar_multi_keep(ar_multi *m, ar_transfer *t) {
  ar_request_free(&t->request);
  ar_transfer_recycle(t);
  t->next = m->spare;
  m->spare = t;
}

static void ar_multi_free_list(ar_transfer *list) {
  while (list) {
    ar_transfer *next = list->next;
    ar_transfer_release(list);
    free(list);
    list = next;
  }
}

/* m:add(req) -> id */
static int ar_multi_add(lua_State *L) {
  ar_multi *m = ar_check_multi(L);
  ar_transfer *t = m->spare;
  ar_request r;
  ar_request_read(L, 2, &r);
  if (t) {
    m->spare = t->next;
  } else {
    t = (ar_transfer *)malloc(sizeof *t);
    if (!t || ar_transfer_init(t) != 0) {
      if (t) ar_transfer_release(t);
      free(t);
      ar_request_free(&r);
      return luaL_error(L, "cannot create a libcurl easy handle");
    }
  }
  ar_transfer_start(t, &r, &m->sockets);
  curl_easy_setopt(t->easy, CURLOPT_PRIVATE, (void *)t);
  if (curl_multi_add_handle(m->multi, t->easy) != CURLM_OK) {
    ar_multi_keep(m, t);
    return luaL_error(L, "curl_multi_add_handle failed");
  }
  t->id = ++m->last_id;
  t->next = m->running;
  m->running = t;
  lua_pushinteger(L, (lua_Integer)t->id);
  return 1;
}

/* Moves every transfer libcurl reports finished from running to done. */
static void ar_multi_collect(ar_multi *m) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
    ar_transfer *t;
    char *owner = NULL;
    CURLcode rc = msg->data.result;
    if (msg->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &owner);
    t = (ar_transfer *)owner;
    curl_multi_remove_handle(m->multi, t->easy); /* msg is gone from here on */
    ar_transfer_finish(t, rc);
    ar_multi_unlink(&m->running, t);
    t->next = m->done;
    m->done = t;
  }
}

/* m:perform([max_wait_seconds]) -> array of completions (possibly empty).
 * Drives the transfers until at least one finishes, none is left running,
 * or max_wait_seconds (default 0) pass. */
static int ar_multi_perform(lua_State *L) {
  ar_multi *m = ar_check_multi(L);
  double max_wait = luaL_optnumber(L, 2, 0);
  double deadline;
  int count = 0;
  luaL_argcheck(L, max_wait >= 0, 2, "must be >= 0");
  deadline = ar_now() + max_wait;
  for (;;) {
    int running;
    double remaining;
    curl_multi_perform(m->multi, &running);
    ar_multi_collect(m);
    remaining = deadline - ar_now();
    if (m->done || !m->running || remaining <= 0) break;
    curl_multi_poll(m->multi, NULL, 0, (int)ar_millis(remaining), NULL);
  }
  lua_newtable(L);
  while (m->done) {
    ar_transfer *t = m->done;
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, (lua_Integer)t->id);
    lua_setfield(L, -2, "id");
    ar_transfer_set_result(L, t);
    lua_rawseti(L, -2, ++count);
    m->done = t->next;
    ar_multi_keep(m, t);
  }
  return 1;
}

/* m:remove(id) -> true, or false when no such transfer is pending */
static int ar_multi_remove(lua_State *L) {
  ar_multi *m = ar_check_multi(L);
  long id = (long)luaL_checkinteger(L, 2);
  ar_transfer *t = ar_multi_find(m->running, id);
  if (t) {
    curl_multi_remove_handle(m->multi, t->easy); /* closes its connection if it was in use */
    ar_multi_unlink(&m->running, t);
  } else {
    t = ar_multi_find(m->done, id);
    if (t) ar_multi_unlink(&m->done, t);
  }
  if (t) ar_multi_keep(m, t);
  lua_pushboolean(L, t != NULL);
  return 1;
}

/* m:pending() -> transfers added and not yet reported by perform() */
static int ar_multi_pending(lua_State *L) {
  ar_multi *m = ar_check_multi(L);
  const ar_transfer *t;
  lua_Integer n = 0;
  for (t = m->running; t; t = t->next) n++;
  for (t = m->done; t; t = t->next) n++;
  lua_pushinteger(L, n);
  return 1;
}

/* close(), __gc and __close share this: idempotent, safe on a dead handle. */
static int ar_multi_close(lua_State *L) {
  ar_multi *m = (ar_multi *)luaL_checkudata(L, 1, AR_MULTI_MT);
  const ar_transfer *t;
  if (m->closed) return 0;
  for (t = m->running; t; t = t->next) curl_multi_remove_handle(m->multi, t->easy);
  ar_multi_free_list(m->running);
  ar_multi_free_list(m->done);
  ar_multi_free_list(m->spare);
  m->running = m->done = m->spare = NULL;
  if (m->multi) curl_multi_cleanup(m->multi); /* closes the cached connections */
  m->multi = NULL;
  ar_sockets_free(&m->sockets);
  m->closed = 1;
  return 0;
}

static int ar_multi_tostring(lua_State *L) {
  ar_multi *m = (ar_multi *)luaL_checkudata(L, 1, AR_MULTI_MT);
  lua_pushfstring(L, "atlasrestore.curl.Multi: %p%s", (void *)m, m->closed ? " (closed)" : "");
  return 1;
}

int ar_curl_multi(lua_State *L) {
  ar_multi *m;
  double k = AR_MULTI_DEFAULT_CONNECTIONS;
  if (!lua_isnoneornil(L, 1)) {
    luaL_checktype(L, 1, LUA_TTABLE);
    k = ar_field_number(L, 1, "max_connections", k);
    if (!(k >= 1 && k <= 1000 && k == (double)(long)k))
      return luaL_error(L, "bad field 'max_connections' (an integer in 1..1000 expected)");
  }
  m = (ar_multi *)lua_newuserdata(L, sizeof *m);
  memset(m, 0, sizeof *m);
  m->closed = 1; /* until everything exists, __gc has nothing to free */
  luaL_getmetatable(L, AR_MULTI_MT);
  lua_setmetatable(L, -2);
  if (ar_sockets_init(&m->sockets) != 0) return luaL_error(L, "cannot create a libcurl multi handle");
  m->multi = curl_multi_init();
  m->closed = 0;
  if (!m->multi) return luaL_error(L, "cannot create a libcurl multi handle");
  curl_multi_setopt(m->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)k);
  curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)k);
  return 1;
}

static const luaL_Reg ar_multi_methods[] = {
  { "add", ar_multi_add },
  { "perform", ar_multi_perform },
  { "remove", ar_multi_remove },
  { "pending", ar_multi_pending },
  { "close", ar_multi_close },
  { "__gc", ar_multi_close },
  { "__close", ar_multi_close },
  { "__tostring", ar_multi_tostring },
  { NULL, NULL },
};

void ar_multi_register(lua_State *L) {
  if (luaL_newmetatable(L, AR_MULTI_MT)) {
    luaL_setfuncs(L, ar_multi_methods, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
}
