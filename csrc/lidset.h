/* core.idset, registered by lcore.c. */
#ifndef AR_LIDSET_H
#define AR_LIDSET_H

#include "lua.h"

int ar_core_idset(lua_State *L);

#endif
