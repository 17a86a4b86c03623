/* A set of Atlas object ids (24 lowercase hex characters, 12 bytes), kept as
 * bytes in an open-addressing table: the listing's "seen" set, compact enough
 * for millions of jobs. Plain C, no Lua. */
#ifndef AR_IDSET_H
#define AR_IDSET_H

#include <stddef.h>

#define AR_ID_BYTES 12

typedef struct ar_idset {
  unsigned char *slots; /* cap * AR_ID_BYTES ids; an all-zero slot is empty */
  size_t cap, count;    /* count includes the all-zero id when has_zero */
  int has_zero;
} ar_idset;

/* Reads a 24-character lowercase hex id; returns 0, or -1 when it is not one. */
int ar_id_parse(const char *s, size_t len, unsigned char id[AR_ID_BYTES]);

void ar_idset_init(ar_idset *set);
/* Returns 1 when id was added, 0 when it was there already, -1 out of memory. */
int ar_idset_add(ar_idset *set, const unsigned char id[AR_ID_BYTES]);
void ar_idset_free(ar_idset *set);

#endif
