/* The listing's set of ids seen: linear probing, at most 7/8 full, so that
 * 100,000 ids fit in 1.5 MB (12 bytes a slot, no flag: the all-zero id marks
 * an empty slot, and the all-zero id itself is a flag of the set). Ids are
 * random enough (a timestamp, a counter, random bytes) that FNV-1a spreads them. */
#include <stdlib.h>
#include <string.h>

#include "idset.h"

#define AR_SLOT AR_ID_BYTES

static const unsigned char ar_id_zero[AR_ID_BYTES];

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
  set->has_zero = 0;
}

/* Finds id's slot: the one holding it, or the empty one where it belongs. */
static unsigned char *ar_idset_slot(const ar_idset *set, const unsigned char id[AR_ID_BYTES]) {
  size_t i = ar_id_hash(id) & (set->cap - 1);
  for (;;) {
    unsigned char *slot = set->slots + i * AR_SLOT;
    if (memcmp(slot, id, AR_ID_BYTES) == 0 || memcmp(slot, ar_id_zero, AR_ID_BYTES) == 0) return slot;
    i = (i + 1) & (set->cap - 1);
  }
}

static int ar_idset_grow(ar_idset *set) {
  ar_idset bigger;
  size_t i;
  bigger.cap = set->cap ? set->cap * 2 : 1024;
  bigger.count = set->count;
  bigger.has_zero = set->has_zero;
  if (bigger.cap > ((size_t)-1) / AR_SLOT) return -1;
  bigger.slots = (unsigned char *)calloc(bigger.cap, AR_SLOT);
  if (!bigger.slots) return -1;
  for (i = 0; i < set->cap; i++) {
    const unsigned char *old = set->slots + i * AR_SLOT;
    if (memcmp(old, ar_id_zero, AR_ID_BYTES) != 0) memcpy(ar_idset_slot(&bigger, old), old, AR_SLOT);
  }
  free(set->slots);
  *set = bigger;
  return 0;
}

int ar_idset_add(ar_idset *set, const unsigned char id[AR_ID_BYTES]) {
  unsigned char *slot;
  if (memcmp(id, ar_id_zero, AR_ID_BYTES) == 0) {
    if (set->has_zero) return 0;
    set->has_zero = 1;
    set->count++;
    return 1;
  }
  if ((set->count + 1) * 8 > set->cap * 7 && ar_idset_grow(set) != 0) return -1;
  slot = ar_idset_slot(set, id);
  if (memcmp(slot, id, AR_ID_BYTES) == 0) return 0;
  memcpy(slot, id, AR_ID_BYTES);
  set->count++;
  return 1;
}

void ar_idset_free(ar_idset *set) {
  free(set->slots);
  ar_idset_init(set);
}
