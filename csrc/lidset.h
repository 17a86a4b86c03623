/* core.idset, core.check_jobs and core.check_job, registered by lcore.c. */
#ifndef AR_LIDSET_H
#define AR_LIDSET_H

#include "lua.h"

int ar_core_idset(lua_State *L);
int ar_core_check_jobs(lua_State *L);
int ar_core_check_job(lua_State *L);

#endif
