/* The listing's set of ids seen. Linear probing at most half full; ids are
 * random enough (a timestamp, a counter, random bytes) that FNV-1a spreads them. */
#include <stdlib.h>
#include <string.h>

#include "idset.h"

#define AR_SLOT (1 + AR_ID_BYTES)

static int ar_hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int ar_id_parse(const char *s, size_t len, unsigned char id[AR_ID_BYTES]) {
  size_t i;
  if (len != 2 * AR_ID_BYTES) return -1;
  for (i = 0; i < AR_ID_BYTES; i++) {
    int hi = ar_hex_value(s[2 * i]), lo = ar_hex_value(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    id[i] = (unsigned char)(hi << 4 | lo);
  }
  return 0;
}

static size_t ar_id_hash(const unsigned char id[AR_ID_BYTES]) {
  unsigned long h = 2166136261UL;
  size_t i;
  for (i = 0; i < AR_ID_BYTES; i++) h = (h ^ id[i]) * 16777619UL;
  return (size_t)h;
}

void ar_idset_init(ar_idset *set) {
  set->slots = NULL;
  set->cap = set->count = 0;
}

/* Finds id's slot: the one holding it, or the empty one where it belongs. */
static unsigned char *ar_idset_slot(const ar_idset *set, const unsigned char id[AR_ID_BYTES]) {
  size_t i = ar_id_hash(id) & (set->cap - 1);
  for (;;) {
    unsigned char *slot = set->slots + i * AR_SLOT;
    if (!slot[0] || memcmp(slot + 1, id, AR_ID_BYTES) == 0) return slot;
    i = (i + 1) & (set->cap - 1);
  }
}

static int ar_idset_grow(ar_idset *set) {
  ar_idset bigger;
  size_t i;
  bigger.cap = set->cap ? set->cap * 2 : 1024;
  bigger.count = set->count;
  if (bigger.cap > ((size_t)-1) / AR_SLOT) return -1;
  bigger.slots = (unsigned char *)calloc(bigger.cap, AR_SLOT);
  if (!bigger.slots) return -1;
  for (i = 0; i < set->cap; i++) {
    const unsigned char *old = set->slots + i * AR_SLOT;
    if (old[0]) memcpy(ar_idset_slot(&bigger, old + 1), old, AR_SLOT);
  }
  free(set->slots);
  *set = bigger;
  return 0;
}

int ar_idset_add(ar_idset *set, const unsigned char id[AR_ID_BYTES]) {
  unsigned char *slot;
  if ((set->count + 1) * 2 > set->cap && ar_idset_grow(set) != 0) return -1;
  slot = ar_idset_slot(set, id);
  if (slot[0]) return 0;
  slot[0] = 1;
  memcpy(slot + 1, id, AR_ID_BYTES);
  set->count++;
  return 1;
}

void ar_idset_free(ar_idset *set) {
  free(set->slots);
  ar_idset_init(set);
}
