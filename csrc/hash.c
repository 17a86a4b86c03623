/* The block buffering and padding that MD5 and SHA-256 share. */
#include <string.h>

#include "hash.h"

void ar_hash_update(ar_hash *h, const void *data, size_t len) {
  const unsigned char *p = (const unsigned char *)data;
  size_t used = (size_t)(h->length % 64);
  h->length += len;
  if (used) {
    size_t take = 64 - used < len ? 64 - used : len;
    memcpy(h->block + used, p, take);
    p += take;
    len -= take;
    used += take;
    if (used < 64) return;
    h->compress(h->state, h->block);
  }
  for (; len >= 64; p += 64, len -= 64) h->compress(h->state, p);
  memcpy(h->block, p, len);
}

/* Byte i (0-based) of a 32- or 64-bit value in the hash's byte order. */
static unsigned char ar_hash_byte(uint64_t value, int size, int i, int big_endian) {
  return (unsigned char)(value >> (8 * (big_endian ? size - 1 - i : i)));
}

void ar_hash_final(ar_hash *h, unsigned char *digest) {
  static const unsigned char pad[64] = { 0x80 };
  unsigned char bits[8];
  uint64_t nbits = h->length * 8;
  size_t used = (size_t)(h->length % 64);
  int i;
  for (i = 0; i < 8; i++) bits[i] = ar_hash_byte(nbits, 8, i, h->big_endian);
  ar_hash_update(h, pad, used < 56 ? 56 - used : 120 - used);
  ar_hash_update(h, bits, 8);
  for (i = 0; i < 4 * h->words; i++) digest[i] = ar_hash_byte(h->state[i / 4], 4, i % 4, h->big_endian);
}
