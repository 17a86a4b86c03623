/* Preloaded by `make asan` into the lua5.4 under test: lua_close() unloads
 * C modules with dlclose(), after which LeakSanitizer, reporting at exit,
 * can no longer name the functions that allocated a leaked block.  Keeping
 * every module mapped keeps leak stacks symbolized.  (Preloading the modules
 * themselves would do the same, but loading libcurl at startup under ASan
 * deadlocks glibc's setlocale() on its second failing call.) */
#include <dlfcn.h>

int dlclose(void *handle)
{
    (void)handle;
    return 0;
}
