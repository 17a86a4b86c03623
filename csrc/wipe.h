/* Wiping secrets: stores that no compiler may drop as dead, which a plain
 * memset before free() or at the end of a scope does not promise. Plain C. */
#ifndef AR_WIPE_H
#define AR_WIPE_H

#include <stddef.h>

/* Zeroes p[0..len); p may be NULL when len is 0. */
void ar_wipe(void *p, size_t len);

#endif
