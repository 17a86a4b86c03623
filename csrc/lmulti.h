/* atlasrestore.curl's Multi (lmulti.c), for the module's opener (lcurl.c). */
#ifndef AR_LMULTI_H
#define AR_LMULTI_H

#include "lua.h"

/* curl.multi([opts]) -> Multi, and the registration of its metatable. */
int ar_curl_multi(lua_State *L);
void ar_multi_register(lua_State *L);

#endif
