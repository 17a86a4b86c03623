/* Growable byte buffer with a hard cap. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "wipe.h"

void ar_buf_init(ar_buf *b, size_t limit) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->limit = limit;
  b->wipe = 0;
}

int ar_buf_append(ar_buf *b, const char *data, size_t len) {
  if (len > b->limit - b->len) return -1;
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap : 16384;
    char *grown;
    while (cap < b->len + len) cap = cap > ((size_t)-1) / 2 ? b->len + len : cap * 2;
    /* Not realloc when wiping: the old block must be zeroed before it is freed. */
    grown = (char *)(b->wipe ? malloc(cap) : realloc(b->data, cap));
    if (!grown) return -1;
    if (b->wipe && b->data) {
      memcpy(grown, b->data, b->len);
      ar_wipe(b->data, b->cap);
      free(b->data);
    }
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
  return 0;
}

void ar_buf_clear(ar_buf *b) {
  if (b->wipe && b->data) ar_wipe(b->data, b->len);
  b->len = 0;
}

void ar_buf_free(ar_buf *b) {
  if (b->wipe && b->data) ar_wipe(b->data, b->cap);
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
