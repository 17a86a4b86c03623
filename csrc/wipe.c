/* ar_wipe: explicit_bzero where the C library has it (glibc 2.25, musl 1.1.20,
 * the BSDs), else stores through a volatile pointer, which the compiler must keep. */
#define _DEFAULT_SOURCE /* explicit_bzero in glibc's and musl's <string.h> */

#include <string.h>

#include "wipe.h"

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 25))
#define AR_HAVE_EXPLICIT_BZERO 1
#elif defined(__OpenBSD__) || defined(__FreeBSD__) || defined(__NetBSD__)
#define AR_HAVE_EXPLICIT_BZERO 1
#endif

void ar_wipe(void *p, size_t len) {
  if (!p || len == 0) return;
#ifdef AR_HAVE_EXPLICIT_BZERO
  explicit_bzero(p, len);
#else
  {
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (len--) *v++ = 0;
  }
#endif
}
