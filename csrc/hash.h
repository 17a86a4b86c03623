/* The two hashes HTTP Digest uses (RFC 7616): MD5 (RFC 1321) and SHA-256
 * (FIPS 180-4). Both are Merkle-Damgard hashes over 64-byte blocks, so they
 * share one context, one update and one final; each algorithm brings only
 * its initial state and its compression function. Plain C, no Lua. */
#ifndef AR_HASH_H
#define AR_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct ar_hash {
  uint32_t state[8];
  uint64_t length; /* bytes hashed so far */
  unsigned char block[64];
  void (*compress)(uint32_t *state, const unsigned char *block);
  int big_endian; /* byte order of the length and the digest words */
  int words;      /* digest size in 32-bit words: 4 (MD5) or 8 (SHA-256) */
} ar_hash;

void ar_md5_init(ar_hash *h);
void ar_sha256_init(ar_hash *h);
void ar_hash_update(ar_hash *h, const void *data, size_t len);
/* Writes 4 * h->words bytes. */
void ar_hash_final(ar_hash *h, unsigned char *digest);

#endif
