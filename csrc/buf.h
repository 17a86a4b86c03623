/* A growable byte buffer with a hard cap. Plain C, never calls Lua, so libcurl
 * callbacks can use it without any risk of a longjmp through libcurl. */
#ifndef AR_BUF_H
#define AR_BUF_H

#include <stddef.h>

typedef struct ar_buf {
  char *data;
  size_t len, cap;
  size_t limit; /* appends past this many bytes fail */
  int wipe;     /* zero memory before it goes back to the heap (secrets) */
} ar_buf;

void ar_buf_init(ar_buf *b, size_t limit);
/* Returns 0, or -1 when the limit would be passed or memory runs out. */
int ar_buf_append(ar_buf *b, const char *data, size_t len);
void ar_buf_clear(ar_buf *b); /* empties (wiping if asked), keeps the allocation for reuse */
void ar_buf_free(ar_buf *b);

#endif
