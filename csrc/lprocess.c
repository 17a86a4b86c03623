/* atlasrestore_cli.process: the little a command line needs from the process that
 * Lua cannot do itself.
 *
 *   process.ignore_sigpipe()  a write to a closed pipe fails (EPIPE) instead of
 *                             killing the process, so that it can clean up
 *   process.trap()            SIGINT, SIGTERM and SIGHUP raise the Lua error
 *                             "atlasrestore: SIGINT" (SIGTERM, SIGHUP) in the main
 *                             thread, as lua.c does for SIGINT, so that the run
 *                             cleans up (its token revoked); a second signal of
 *                             the same kind ends the process
 *   process.hold(on)          while on, a trapped signal waits: released (on =
 *                             false), it raises as above. A second signal of the
 *                             same kind still ends the process at once
 *   process.isatty(fd)        true when file descriptor fd is a terminal
 */
#define _POSIX_C_SOURCE 200809L /* sigaction */

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "lua.h"
#include "lauxlib.h"

#include "compat.h"

static lua_State *volatile ar_trapped; /* the main thread of the state that called trap() */
static volatile sig_atomic_t ar_caught;
static volatile sig_atomic_t ar_held;    /* process.hold(true) is in force */
static volatile sig_atomic_t ar_pending; /* a signal caught while held, raised on release */

static void ar_set_handler(int sig, void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

/* Runs at the next instruction of the main thread, outside the signal handler. */
static void ar_raise(lua_State *L, lua_Debug *ar) {
  const char *name = ar_caught == SIGTERM ? "SIGTERM" : ar_caught == SIGHUP ? "SIGHUP" : "SIGINT";
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  lua_pushfstring(L, "atlasrestore: %s", name);
  lua_error(L);
}

/* Setting a hook is what lua.c's own SIGINT handler does: it is safe here. */
static void ar_arm(void) {
  lua_sethook(ar_trapped, ar_raise, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static void ar_on_signal(int sig) {
  ar_caught = sig;
  ar_set_handler(sig, SIG_DFL);
  if (ar_held)
    ar_pending = 1;
  else
    ar_arm();
}

static int ar_hold(lua_State *L) {
  sigset_t all, before;
  int on = lua_toboolean(L, 1);
  /* No signal between the test and the change of ar_held. */
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &before);
  ar_held = on;
  if (!on && ar_pending) {
    ar_pending = 0;
    ar_arm();
  }
  sigprocmask(SIG_SETMASK, &before, NULL);
  return 0;
}

static int ar_ignore_sigpipe(lua_State *L) {
  (void)L;
  ar_set_handler(SIGPIPE, SIG_IGN);
  return 0;
}

static int ar_trap(lua_State *L) {
#if LUA_VERSION_NUM >= 502
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  ar_trapped = lua_tothread(L, -1);
  lua_pop(L, 1);
#else
  ar_trapped = L; /* 5.1 and LuaJIT: the caller, the main chunk's thread */
#endif
  ar_set_handler(SIGINT, ar_on_signal);
  ar_set_handler(SIGTERM, ar_on_signal);
  ar_set_handler(SIGHUP, ar_on_signal);
  return 0;
}

static int ar_isatty(lua_State *L) {
  lua_Integer fd = luaL_checkinteger(L, 1);
  lua_pushboolean(L, fd >= 0 && fd <= 1024 && isatty((int)fd));
  return 1;
}

static const luaL_Reg ar_process_funcs[] = {
  { "ignore_sigpipe", ar_ignore_sigpipe },
  { "trap", ar_trap },
  { "hold", ar_hold },
  { "isatty", ar_isatty },
  { NULL, NULL },
};

AR_EXPORT int luaopen_atlasrestore_cli_process(lua_State *L);
AR_EXPORT int luaopen_atlasrestore_cli_process(lua_State *L) {
  luaL_newlib(L, ar_process_funcs);
  return 1;
}
